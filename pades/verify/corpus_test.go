// Some corpus files hold certificates with negative serial numbers, which
// crypto/x509 refuses by default; cmd/pades accepts them too.
//
//go:debug x509negativeserial=1
package verify_test

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"hashsign/pades/verify"
)

// corpusSigned lists the files of the corpus manifest that pdfsig finds
// signed, with their passwords.
func corpusSigned(t *testing.T, dir string) map[string]string {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "manifest.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]string{}
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
		if n, _ := strconv.Atoi(rec[cols["existing_signatures"]]); n == 0 {
			continue
		}
		pw := ""
		if enc := rec[cols["encrypted"]]; strings.HasPrefix(enc, "y") && !strings.Contains(enc, "empty user password") {
			if m := quoted.FindStringSubmatch(enc); m != nil {
				pw = m[1]
			}
		}
		out[rec[cols["file"]]] = pw
	}
	return out
}

// pdfsigVerdicts reads the output of pdfsig -nocert: for each signature
// field it judged, whether the signature is valid.
func pdfsigVerdicts(out string) map[string]bool {
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

// TestCorpus verifies the signed files of ../shared/corpus with no trust
// anchor: the integrity of every signature that pdfsig -nocert judges
// agrees with it, and no chain is trusted. The table of verdicts is
// logged (and written to $HASHSIGN_VERIFY_TABLE when set).
func TestCorpus(t *testing.T) {
	dir := corpusDir(t)
	pdfsig := needTool(t, "pdfsig")
	var table strings.Builder
	table.WriteString("| file | signature | pdfsig -nocert | integrity | path | indication | level | modifications |\n|---|---|---|---|---|---|---|---|\n")
	compared := 0
	files := corpusSigned(t, dir)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, name := range names {
		pw := files[name]
		path := filepath.Join(dir, name)
		args := []string{"-nocert"}
		if pw != "" {
			args = append(args, "-upw", pw)
		}
		out, _ := exec.Command(pdfsig, append(args, path)...).CombinedOutput()
		verdicts := pdfsigVerdicts(string(out))
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		rep := check(t, data, &verify.Options{Password: []byte(pw)})
		if len(rep.Signatures) == 0 {
			t.Errorf("%s: no signature found", name)
		}
		for _, s := range rep.Signatures {
			ps := "not judged"
			if v, ok := verdicts[s.Field]; ok {
				ps = map[bool]string{true: "valid", false: "invalid"}[v]
				if (s.Integrity.Status == verify.Passed) != v {
					t.Errorf("%s: %q: pdfsig -nocert says valid=%v, integrity %s", name, s.Field, v, s.Integrity.Status)
				}
				compared++
			}
			if s.CertificatePath.Status == verify.PathTrusted {
				t.Errorf("%s: %q: a chain is trusted without anchors", name, s.Field)
			}
			if s.Integrity.Status == verify.Passed && s.SubIndication != verify.NoCertificateChainFound && s.Indication != verify.TotalFailed {
				t.Errorf("%s: %q: %s/%s, want NO_CERTIFICATE_CHAIN_FOUND", name, s.Field, s.Indication, s.SubIndication)
			}
			level := "-"
			if s.Level != nil {
				level = s.Level.Reached
			}
			fmt.Fprintf(&table, "| %s | %s (%s) | %s | %s | %s | %s/%s | %s | %s |\n", name, s.Field, s.SubFilter, ps,
				s.Integrity.Status, s.CertificatePath.Status, s.Indication, s.SubIndication, level, s.Modifications.Verdict)
		}
	}
	t.Logf("%d signatures compared with pdfsig -nocert\n%s", compared, table.String())
	if p := os.Getenv("HASHSIGN_VERIFY_TABLE"); p != "" {
		os.WriteFile(p, []byte(table.String()), 0o644)
	}
	if compared == 0 {
		t.Fatal("no signature compared: the corpus or pdfsig's output changed")
	}
}
