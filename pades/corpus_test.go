// Some corpus files hold certificates with negative serial numbers, which
// crypto/x509 refuses by default; cmd/pades accepts them too.
//
//go:debug x509negativeserial=1
package pades_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"hashsign/internal/corpustest"
	"hashsign/internal/testenv"
	"hashsign/ltv"
	"hashsign/pades"
	"hashsign/signer"
)

// corpusFile is one row of ../shared/corpus/manifest.tsv, with the errors
// that the file may be refused with, decided from the manifest (see
// legitimateRefusals): any other refusal is a failure.
type corpusFile struct {
	corpustest.File
	refusals []error
}

func readManifest(t *testing.T, dir string) []corpusFile {
	var out []corpusFile
	for _, f := range corpustest.ReadManifest(t, dir) {
		out = append(out, corpusFile{File: f})
	}
	return out
}

// corpusResult is one line of the results table.
type corpusResult struct {
	file, outcome, detail string
}

// TestCorpus signs every PDF of ../shared/corpus with the RSA-2048 key and
// chain of ../shared/validate/trust-services at every level, B-T and above
// against its OpenSSL TSA, OCSP responder and CRLs. Each output is judged
// by check-signed-pdf at the level asked. Each file must be signed and
// pass, or be refused for a reason that manifest.tsv gives (see
// legitimateRefusals): any other refusal fails, and so does signing a file
// that must be refused. Failures that the original file already has (older
// signatures that were broken before we touched the file) are told apart
// from ours.
func TestCorpus(t *testing.T) {
	if testing.Short() {
		t.Skip("corpus test skipped in -short mode")
	}
	shared := sharedDir(t)
	corpus := filepath.Join(shared, "corpus")
	qpdf := testenv.Need(t, "qpdf", "")
	ts := startTrustServices(t)
	s, err := signer.LoadKeyFile(ts.SignerKey, ts.SignerCert, ts.Inter)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	rootCerts, err := readPEMCerts(ts.Root)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range rootCerts {
		roots.AddCert(c)
	}
	files := readManifest(t, corpus)
	for i := range files {
		files[i].refusals = legitimateRefusals(t, qpdf, corpus, files[i])
	}
	var report strings.Builder
	for _, level := range []pades.Level{pades.LevelBB, pades.LevelBT, pades.LevelBLT, pades.LevelBLTA} {
		t.Run(level.String(), func(t *testing.T) {
			results := signCorpus(t, shared, corpus, ts.Root, s, files, func() *pades.SignOptions {
				o := &pades.SignOptions{Level: level, Info: pades.SignatureInfo{Reason: "corpus test"}}
				if level >= pades.LevelBT {
					o.TSA = &ltv.TSAClient{URLs: []string{ts.TSAURL}}
				}
				if level >= pades.LevelBLT {
					o.Validation = &ltv.Fetcher{Roots: roots, Extra: rootCerts}
				}
				return o
			})
			signed, passed, encSigned := 0, 0, 0
			enc := map[string]bool{}
			for _, cf := range files {
				enc[cf.Name] = cf.Encrypted
			}
			fmt.Fprintf(&report, "\n### %v\n\n| file | outcome | detail |\n|---|---|---|\n", level)
			for _, r := range results {
				fmt.Fprintf(&report, "| %s | %s | %s |\n", r.file, r.outcome, strings.ReplaceAll(r.detail, "|", "/"))
				if strings.HasPrefix(r.outcome, "signed") {
					signed++
					if enc[r.file] {
						encSigned++
					}
				}
				if strings.HasPrefix(r.outcome, "signed, passes") {
					passed++
				}
			}
			summary := fmt.Sprintf("%v: %d files, %d signed (%d pass, %d encrypted), %d refused", level, len(results), signed, passed, encSigned, len(results)-signed)
			fmt.Fprintf(&report, "\n%s\n", summary)
			t.Log(summary)
		})
	}
	if path := os.Getenv("CORPUS_REPORT"); path != "" {
		os.WriteFile(path, []byte(report.String()), 0o644)
	}
}

// legitimateRefusals returns the errors that the corpus file cf may be
// refused with, from what manifest.tsv says of it, checked with qpdf where
// the manifest leaves a detail out:
//   - certified (DocMDP) with /P 1, which allows no change: ErrCertified;
//     with /P 2 or 3 and no empty signature field, which allows no new
//     one: ErrCertifiedNewField;
//   - signed with a FieldMDP lock whose /P is 1 (ISO 32000-2), or 2 or 3
//     with no empty signature field: ErrLocked;
//   - encrypted, the owner password unknown, and permissions that forbid
//     adding a signature field (qpdf: neither both "modify annotations"
//     and "modify other", bits 6 and 4, nor, from revision 3, "modify
//     forms", bit 9): ErrPermission;
//   - cut short: ErrTruncated.
func legitimateRefusals(t *testing.T, qpdf, corpus string, cf corpusFile) []error {
	t.Helper()
	path := filepath.Join(corpus, cf.Name)
	var out []error
	if cf.Signatures > 0 || cf.Certified {
		docMDP, lockP, err := qpdfMDP(qpdf, path, cf.Password)
		if err != nil {
			t.Fatalf("%s: %v", cf.Name, err)
		}
		switch {
		case docMDP == 1:
			out = append(out, pades.ErrCertified)
		case docMDP != 0 && cf.EmptyFields == 0:
			out = append(out, pades.ErrCertifiedNewField)
		}
		if lockP == 1 || lockP != 0 && cf.EmptyFields == 0 {
			out = append(out, pades.ErrLocked)
		}
	}
	if cf.Encrypted && !cf.OwnerKnown {
		b, err := exec.Command(qpdf, "--show-encryption", "--password="+cf.Password, path).CombinedOutput()
		if err != nil && !strings.Contains(string(b), "modify forms:") {
			t.Fatalf("%s: qpdf --show-encryption: %v\n%s", cf.Name, err, b)
		}
		allowed := func(what string) bool { return strings.Contains(string(b), what+": allowed") }
		// qpdf's "modify forms" is bit 9 from revision 3, bit 6 before
		r3 := !strings.Contains(string(b), "R = 2\n")
		if !(allowed("modify annotations") && allowed("modify other")) && !(r3 && allowed("modify forms")) {
			out = append(out, pades.ErrPermission)
		}
	}
	if cf.Truncated {
		out = append(out, pades.ErrTruncated)
	}
	return out
}

// qpdfMDP returns the /P of the DocMDP transform of the file and the
// smallest /P of the FieldMDP transforms of its signatures (their locks),
// as qpdf reads them (0 when there is none).
func qpdfMDP(qpdf, path, password string) (docMDP, lockP int, err error) {
	b, err := exec.Command(qpdf, "--json=2", "--json-key=qpdf", "--password="+password, path).Output()
	if err != nil && len(b) == 0 {
		return 0, 0, fmt.Errorf("qpdf --json: %v", err)
	}
	var doc struct {
		QPDF []json.RawMessage `json:"qpdf"`
	}
	if err := json.Unmarshal(b, &doc); err != nil || len(doc.QPDF) != 2 {
		return 0, 0, fmt.Errorf("qpdf --json: %v", err)
	}
	var objs map[string]struct {
		Value any `json:"value"`
	}
	if err := json.Unmarshal(doc.QPDF[1], &objs); err != nil {
		return 0, 0, fmt.Errorf("qpdf --json objects: %v", err)
	}
	resolve := func(v any) any {
		if ref, ok := v.(string); ok && strings.HasSuffix(ref, " R") {
			return objs["obj:"+ref].Value
		}
		return v
	}
	// the /P of a transform's parameters, 0 when it has none
	paramP := func(v map[string]any) int {
		if params, ok := resolve(v["/TransformParams"]).(map[string]any); ok {
			if n, ok := resolve(params["/P"]).(float64); ok {
				return int(n)
			}
		}
		return 0
	}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			switch v["/TransformMethod"] {
			case "/DocMDP":
				if docMDP = paramP(v); docMDP == 0 {
					docMDP = 2 // the default of /P
				}
			case "/FieldMDP":
				if p := paramP(v); p != 0 && (lockP == 0 || p < lockP) {
					lockP = p
				}
			}
			for _, e := range v {
				walk(e)
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	for _, o := range objs {
		walk(o.Value)
	}
	return docMDP, lockP, nil
}

// TestCorpusIntegrity: for every signature of every corpus file, Inspect
// agrees with pdfsig -nocert on its integrity (the digest over the byte
// range and the signature value), whatever its profile. Signatures that
// pdfsig does not judge (document timestamps, which poppler 22.12 cannot
// validate) are checked to be intact: those of the corpus are.
func TestCorpusIntegrity(t *testing.T) {
	shared := sharedDir(t)
	pdfsig := testenv.Need(t, "pdfsig", "")
	corpus := filepath.Join(shared, "corpus")
	compared := 0
	for _, cf := range readManifest(t, corpus) {
		path := filepath.Join(corpus, cf.Name)
		args := []string{"-nocert"}
		if cf.Password != "" {
			args = append(args, "-upw", cf.Password)
		}
		out, _ := exec.Command(pdfsig, append(args, path)...).CombinedOutput()
		verdicts := pdfsigVerdicts(string(out))
		if len(verdicts) == 0 {
			continue
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		rep, err := pades.Inspect(context.Background(), bytes.NewReader(data), int64(len(data)), []byte(cf.Password))
		if err != nil {
			t.Errorf("%s: inspect: %v", cf.Name, err)
			continue
		}
		// poppler cannot judge document timestamps; those of the corpus
		// are intact, one of them without its TSA certificate (the DSS
		// holds it)
		for _, f := range rep.Fields {
			if f.Type == "DocTimeStamp" && (f.Intact == nil || !*f.Intact) {
				t.Errorf("%s: document timestamp %q: inspect says %s", cf.Name, f.Field, describeIntegrity(f))
			}
		}
		for field, valid := range verdicts {
			i := slices.IndexFunc(rep.Fields, func(f pades.SignatureReport) bool { return f.Field == field })
			if i < 0 {
				t.Errorf("%s: signature %q: pdfsig judges it, inspect does not list it", cf.Name, field)
				continue
			}
			f := rep.Fields[i]
			if f.Intact == nil || *f.Intact != valid {
				t.Errorf("%s: signature %q: pdfsig -nocert says valid=%v, inspect says %s", cf.Name, field, valid, describeIntegrity(f))
			}
			compared++
		}
	}
	t.Logf("%d signatures compared with pdfsig -nocert", compared)
	if compared == 0 {
		t.Fatal("no signature compared: the corpus or pdfsig's output changed")
	}
}

func pdfsigVerdicts(out string) map[string]bool { return corpustest.PdfsigVerdicts(out) }

func describeIntegrity(f pades.SignatureReport) string {
	switch {
	case f.Intact == nil:
		return "not checked: " + f.Problem
	case *f.Intact:
		return "intact"
	}
	return "broken: " + f.Problem
}

// signCorpus signs each file with the options newOpts gives and judges the
// output at the level asked.
func signCorpus(t *testing.T, shared, corpus, root string, s signer.Signer, files []corpusFile, newOpts func() *pades.SignOptions) []corpusResult {
	dir := t.TempDir()
	var mu sync.Mutex
	var results []corpusResult
	record := func(r corpusResult) {
		mu.Lock()
		results = append(results, r)
		mu.Unlock()
	}
	s0 := newOpts()
	var signMu sync.Mutex
	t.Run("files", func(t *testing.T) {
		for _, cf := range files {
			t.Run(cf.Name, func(t *testing.T) {
				t.Parallel()
				in, err := os.ReadFile(filepath.Join(corpus, cf.Name))
				if err != nil {
					t.Fatal(err)
				}
				opts := newOpts()
				opts.Password = []byte(cf.Password)
				out := filepath.Join(dir, cf.Name)
				// The OpenSSL TSA of trust-services keeps its serial number
				// in a file and fails requests that arrive together, so the
				// signing itself runs one file at a time; the validators run
				// in parallel.
				signMu.Lock()
				err = signFile(in, out, s, opts)
				signMu.Unlock()
				legitimate := func(e error) bool { return errors.Is(err, e) }
				if err != nil {
					record(corpusResult{cf.Name, "refused", err.Error()})
					if !slices.ContainsFunc(cf.refusals, legitimate) {
						t.Errorf("refused, for no reason that manifest.tsv gives: %v", err)
					}
					return
				}
				if len(cf.refusals) > 0 {
					t.Errorf("signed, though manifest.tsv says it must be refused: %v", cf.refusals)
				}
				// Empty signature fields left in the file count as
				// failed signatures for pdfsig: fill each of them, the
				// way co-signers would, before judging the file.
				for i := 0; i < 4; i++ {
					rep := inspectFile(t, out, cf.Password)
					if !hasEmptyField(rep) {
						break
					}
					in2, _ := os.ReadFile(out)
					signMu.Lock()
					err := signFile(in2, out+".next.pdf", s, opts)
					signMu.Unlock()
					if err != nil {
						t.Fatalf("signing the next empty field: %v", err)
					}
					os.Rename(out+".next.pdf", out)
				}
				ok, report := checkSignedPDFRoot(t, shared, root, out, s0.Level.String(), cf.Password, 1)
				if ok {
					record(corpusResult{cf.Name, "signed, passes", summary(report)})
					return
				}
				// Judge the original the same way: failures it already has
				// are not ours.
				if cf.Signatures > 0 {
					_, orig := checkSignedPDFRoot(t, shared, root, filepath.Join(corpus, cf.Name), "B-B", cf.Password, 0)
					if pre := preexisting(report, orig); pre != "" {
						record(corpusResult{cf.Name, "signed, passes but for pre-existing failures", pre})
						return
					}
				}
				record(corpusResult{cf.Name, "signed, FAILS", summary(report)})
				t.Errorf("check-signed-pdf:\n%s", report)
			})
		}
	})
	sort.Slice(results, func(i, j int) bool { return results[i].file < results[j].file })
	return results
}

// signFile signs in into the file out with the signer of the options.
func signFile(in []byte, out string, s signer.Signer, opts *pades.SignOptions) error {
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	_, err = pades.Sign(context.Background(), bytes.NewReader(in), int64(len(in)), f, s, opts)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(out)
	}
	return err
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

func readPEMCerts(path string) ([]*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []*x509.Certificate
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return out, nil
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
}
