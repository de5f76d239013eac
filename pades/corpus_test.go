package pades_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"hashsign/pades"
)

// corpusFile is one row of ../shared/corpus/manifest.tsv.
type corpusFile struct {
	name      string
	encrypted bool
	password  string
	sigs      int
}

func readManifest(t *testing.T, dir string) []corpusFile {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "manifest.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []corpusFile
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
		cf := corpusFile{name: rec[cols["file"]]}
		enc := rec[cols["encrypted"]]
		if strings.HasPrefix(enc, "y") {
			cf.encrypted = true
			if !strings.Contains(enc, "empty user password") {
				if m := quoted.FindStringSubmatch(enc); m != nil {
					cf.password = m[1]
				}
			}
		}
		cf.sigs, _ = strconv.Atoi(rec[cols["existing_signatures"]])
		out = append(out, cf)
	}
	if len(out) == 0 {
		t.Fatal("manifest.tsv lists no files")
	}
	return out
}

// corpusResult is one line of the results table.
type corpusResult struct {
	file, outcome, detail string
}

// TestCorpus signs every PDF of ../shared/corpus at B-B and has each
// output judged by ../shared/validate/check-signed-pdf. Each file must be
// signed and pass, or be refused with an error that names the reason.
// Failures that the original file already has (older signatures that were
// broken before we touched the file) are told apart from ours.
func TestCorpus(t *testing.T) {
	if testing.Short() {
		t.Skip("corpus test skipped in -short mode")
	}
	shared := sharedDir(t)
	corpus := filepath.Join(shared, "corpus")
	p := testPKI(t)
	s := newSigner(t, p.SignerRSA)
	files := readManifest(t, corpus)
	dir := t.TempDir()

	var mu sync.Mutex
	var results []corpusResult
	record := func(r corpusResult) {
		mu.Lock()
		results = append(results, r)
		mu.Unlock()
	}
	t.Run("files", func(t *testing.T) {
		for _, cf := range files {
			t.Run(cf.name, func(t *testing.T) {
				t.Parallel()
				in, err := os.ReadFile(filepath.Join(corpus, cf.name))
				if err != nil {
					t.Fatal(err)
				}
				opts := &pades.SignOptions{Password: []byte(cf.password), Info: pades.SignatureInfo{Reason: "corpus test"}}
				out := filepath.Join(dir, cf.name)
				f, err := os.Create(out)
				if err != nil {
					t.Fatal(err)
				}
				_, err = pades.Sign(context.Background(), bytes.NewReader(in), int64(len(in)), f, s, opts)
				f.Close()
				if err != nil {
					msg := err.Error()
					if !refusalNamesReason(msg) {
						t.Errorf("refused without a clear reason: %v", err)
					}
					record(corpusResult{cf.name, "refused", msg})
					return
				}
				// Empty signature fields left in the file count as
				// failed signatures for pdfsig: fill each of them, the
				// way co-signers would, before judging the file.
				for i := 0; i < 4; i++ {
					rep := inspectFile(t, out, cf.password)
					if !hasEmptyField(rep) {
						break
					}
					in2, _ := os.ReadFile(out)
					out2 := out + ".next.pdf"
					f2, err := os.Create(out2)
					if err != nil {
						t.Fatal(err)
					}
					_, err = pades.Sign(context.Background(), bytes.NewReader(in2), int64(len(in2)), f2, s, opts)
					f2.Close()
					if err != nil {
						t.Fatalf("signing the next empty field: %v", err)
					}
					os.Rename(out2, out)
				}
				ok, report := checkSignedPDF(t, shared, out, "B-B", cf.password, 1)
				if ok {
					record(corpusResult{cf.name, "signed, passes", summary(report)})
					return
				}
				// Judge the original the same way: failures it already has
				// are not ours.
				if cf.sigs > 0 {
					_, orig := checkSignedPDF(t, shared, filepath.Join(corpus, cf.name), "B-B", cf.password, 0)
					if pre := preexisting(report, orig); pre != "" {
						record(corpusResult{cf.name, "signed, passes but for pre-existing failures", pre})
						return
					}
				}
				record(corpusResult{cf.name, "signed, FAILS", summary(report)})
				t.Errorf("check-signed-pdf:\n%s", report)
			})
		}
	})

	sort.Slice(results, func(i, j int) bool { return results[i].file < results[j].file })
	var tbl strings.Builder
	signed, unencrypted, unencSigned := 0, 0, 0
	enc := map[string]bool{}
	for _, cf := range files {
		enc[cf.name] = cf.encrypted
		if !cf.encrypted {
			unencrypted++
		}
	}
	for _, r := range results {
		fmt.Fprintf(&tbl, "| %s | %s | %s |\n", r.file, r.outcome, strings.ReplaceAll(r.detail, "|", "/"))
		if strings.HasPrefix(r.outcome, "signed") {
			signed++
			if !enc[r.file] {
				unencSigned++
			}
		}
	}
	t.Logf("corpus: %d files, %d signed, %d refused; unencrypted signed %d of %d\n%s", len(results), signed, len(results)-signed, unencSigned, unencrypted, tbl.String())
	if path := os.Getenv("CORPUS_REPORT"); path != "" {
		os.WriteFile(path, []byte(tbl.String()), 0o644)
	}
	if len(results) == len(files) && unencSigned*10 < unencrypted*9 {
		t.Errorf("only %d of %d unencrypted files signed; at least 90%% must be", unencSigned, unencrypted)
	}
}

func inspectFile(t *testing.T, path, password string) *pades.Report {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := pades.Inspect(context.Background(), bytes.NewReader(b), int64(len(b)), []byte(password))
	if err != nil {
		t.Fatalf("inspecting %s: %v", path, err)
	}
	return rep
}

func hasEmptyField(r *pades.Report) bool {
	for _, f := range r.Fields {
		if !f.Signed {
			return true
		}
	}
	return false
}

// refusalNamesReason reports whether a refusal says why.
func refusalNamesReason(msg string) bool {
	for _, w := range []string{"DocMDP", "password", "permissions", "damaged", "not a PDF", "encrypted", "unsupported"} {
		if strings.Contains(msg, w) {
			return true
		}
	}
	return false
}

func summary(report string) string {
	lines := strings.Split(strings.TrimSpace(report), "\n")
	var fails []string
	for _, l := range lines {
		if strings.HasPrefix(strings.TrimSpace(l), "FAIL") {
			fails = append(fails, strings.TrimSpace(l))
		}
	}
	last := lines[len(lines)-1]
	if len(fails) > 0 {
		return last + ": " + strings.Join(fails, "; ")
	}
	return last
}

var (
	pdfsigLine = regexp.MustCompile(`pdfsig: (\d+) of (\d+) signatures valid`)
	mutoolLine = regexp.MustCompile(`mutool: (\d+) of (\d+) signatures with a digest error`)
	padesLine  = regexp.MustCompile(`FAIL PadesCheck [^:]*: (\d+) of \d+ checks failed`)
)

// preexisting explains the failures of report (our output) by those of
// orig (the input judged with all its signatures as older ones). It returns
// "" when some failure is new.
func preexisting(report, orig string) string {
	var why []string
	olderFails := 0
	for _, l := range strings.Split(report, "\n") {
		l = strings.TrimSpace(l)
		if !strings.HasPrefix(l, "FAIL") {
			continue
		}
		switch {
		case strings.HasPrefix(l, "FAIL older signature"):
			if !strings.Contains(orig, l) {
				return ""
			}
			olderFails++
			why = append(why, "original already fails: "+strings.TrimPrefix(l, "FAIL "))
		case pdfsigLine.MatchString(l):
			m := pdfsigLine.FindStringSubmatch(l)
			o := pdfsigLine.FindStringSubmatch(orig)
			if o == nil {
				return ""
			}
			bad, _ := strconv.Atoi(m[2])
			v, _ := strconv.Atoi(m[1])
			ob, _ := strconv.Atoi(o[2])
			ov, _ := strconv.Atoi(o[1])
			if bad-v != ob-ov {
				return ""
			}
			why = append(why, fmt.Sprintf("pdfsig: %d older signature(s) invalid in the original too", ob-ov))
		case mutoolLine.MatchString(l):
			m := mutoolLine.FindStringSubmatch(l)
			o := mutoolLine.FindStringSubmatch(orig)
			if o == nil || m[1] != o[1] {
				return ""
			}
			why = append(why, "mutool: digest errors in the original too")
		case padesLine.MatchString(l):
		default:
			return ""
		}
	}
	if m := padesLine.FindStringSubmatch(report); m != nil {
		if n, _ := strconv.Atoi(m[1]); n != olderFails {
			return ""
		}
	}
	return strings.Join(why, "; ")
}
