// Package corpustest helps tests that use ../shared: it reads the corpus
// manifest and the verdicts of poppler's pdfsig. (Package testenv finds the
// tools they need.)
package corpustest

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// File is one row of the corpus manifest.
type File struct {
	Name       string
	Encrypted  bool
	Password   string // the user password, when it is not empty
	Signatures int    // signed signature fields, as pdfsig counts them
	OwnerKnown bool   // the manifest gives the owner password
	Certified  bool   // the notes say DocMDP (certified)
	Truncated  bool   // the notes say the file is cut short
	// EmptyFields counts the signature fields without a value (the
	// empty_signature_field column, "y (2)").
	EmptyFields int
}

// emptyCount reads the empty_signature_field column.
var emptyCount = regexp.MustCompile(`^y \((\d+)\)`)

// ReadManifest reads dir/manifest.tsv.
func ReadManifest(t testing.TB, dir string) []File {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "manifest.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []File
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var cols map[string]int
	quoted := regexp.MustCompile(`password[s()]* '([^']*)'`)
	for sc.Scan() {
		rec := strings.Split(sc.Text(), "\t")
		if cols == nil {
			cols = map[string]int{}
			for i, c := range rec {
				cols[c] = i
			}
			continue
		}
		if len(rec) < len(cols) {
			continue
		}
		cf := File{Name: rec[cols["file"]]}
		enc := rec[cols["encrypted"]]
		if strings.HasPrefix(enc, "y") {
			cf.Encrypted = true
			if !strings.Contains(enc, "empty user password") {
				if m := quoted.FindStringSubmatch(enc); m != nil {
					cf.Password = m[1]
				}
			}
		}
		cf.OwnerKnown = strings.Contains(enc, "owner password '") || strings.Contains(enc, "user and owner")
		notes := strings.ToLower(rec[cols["notes"]])
		cf.Certified = strings.Contains(notes, "docmdp (certified)")
		cf.Truncated = strings.Contains(notes, "truncated") || strings.Contains(notes, "cut short")
		cf.Signatures, _ = strconv.Atoi(rec[cols["existing_signatures"]])
		if m := emptyCount.FindStringSubmatch(rec[cols["empty_signature_field"]]); m != nil {
			cf.EmptyFields, _ = strconv.Atoi(m[1])
		}
		out = append(out, cf)
	}
	if len(out) == 0 {
		t.Fatal("manifest.tsv lists no files")
	}
	return out
}

// PdfsigVerdicts reads the output of pdfsig: for each signature field that
// it judged, whether its signature is valid.
func PdfsigVerdicts(out string) map[string]bool {
	verdicts := map[string]bool{}
	for _, block := range regexp.MustCompile(`(?m)^Signature #\d+:`).Split(out, -1)[1:] {
		name := regexp.MustCompile(`(?m)^\s*- Signature Field Name: (.*)$`).FindStringSubmatch(block)
		status := regexp.MustCompile(`(?m)^\s*- Signature Validation: (.*)$`).FindStringSubmatch(block)
		if name == nil || status == nil {
			continue
		}
		switch strings.TrimSpace(status[1]) {
		case "Signature is Valid.":
			verdicts[name[1]] = true
		case "Signature is Invalid.", "Digest Mismatch.", "Document isn't signed or corrupted data.":
			verdicts[name[1]] = false
		}
	}
	return verdicts
}
