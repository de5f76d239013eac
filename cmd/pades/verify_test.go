package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"hashsign/hashsvc/devtrust"
	"hashsign/hashsvc/hashsvctest"
	"hashsign/internal/devpki"
	"hashsign/internal/testenv"
	"hashsign/ltv"
	"hashsign/pades"
	"hashsign/pades/verify"
	"hashsign/signer"
)

// signedLT returns a file signed at B-LT against dev trust services on
// 127.0.0.1, and the PEM file of its root.
func signedLT(t *testing.T) (string, string) {
	t.Helper()
	in := samplePDF(t)
	return signedAt(t, bytes.NewReader(in), int64(len(in)), pades.LevelBLT)
}

// signedAt signs in at level against dev trust services on 127.0.0.1 and
// returns the signed file and the PEM file of its root.
func signedAt(t *testing.T, in io.ReaderAt, size int64, level pades.Level) (string, string) {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	srv.Start()
	t.Cleanup(srv.Close)
	p, err := devpki.Generate(devpki.Options{BaseURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := devtrust.New(p, devtrust.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = svc.Handler()
	s, err := signer.New(p.SignerP256.Key, p.Chain(p.SignerP256))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	root := writeFile(t, dir, "root.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.Root.Cert.Raw}))
	out := filepath.Join(dir, "signed.pdf")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	_, err = pades.Sign(context.Background(), in, size, f, s, &pades.SignOptions{
		Level:      level,
		TSA:        &ltv.TSAClient{URLs: []string{srv.URL + devtrust.TSAPath}},
		Validation: &ltv.Fetcher{Roots: p.RootPool(), Extra: []*x509.Certificate{p.Root.Cert}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return out, root
}

// TestVerifyExitCodes: 0 when every signature passed, 1 when one failed,
// 2 when one is indeterminate, 3 on usage errors.
func TestVerifyExitCodes(t *testing.T) {
	signed, root := signedLT(t)
	data, err := os.ReadFile(signed)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	flipped := bytes.Clone(data)
	flipped[100] ^= 1
	broken := writeFile(t, dir, "broken.pdf", flipped)
	notPDF := writeFile(t, dir, "not.pdf", []byte("hello"))
	cases := []struct {
		name string
		args []string
		code int
		want string // in stdout, or in stderr for errors
	}{
		{"passed", []string{"-trust", root, signed}, 0, "verdict: TOTAL-PASSED"},
		{"no anchor", []string{signed}, 2, "NO_CERTIFICATE_CHAIN_FOUND"},
		{"byte flipped", []string{"-trust", root, broken}, 1, "TOTAL-FAILED/HASH_FAILURE"},
		{"not a PDF", []string{notPDF}, 1, "not a PDF file"},
		{"unknown flag", []string{"-frobnicate", signed}, 3, "flag provided but not defined"},
		{"two files", []string{signed, signed}, 3, "want 1 arguments"},
		{"missing file", []string{filepath.Join(dir, "none.pdf")}, 3, "no such file"},
		{"bad -at", []string{"-at", "tomorrow", signed}, 3, "-at \"tomorrow\""},
		{"bad -report", []string{"-report", filepath.Join(dir, "r.txt"), signed}, 3, "must end in .pdf or .html"},
		{"bad -trust", []string{"-trust", notPDF, signed}, 3, "no PEM certificate"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(append([]string{"verify"}, c.args...)...)
			if code != c.code || !strings.Contains(stdout+stderr, c.want) {
				t.Errorf("exit %d, want %d, with %q in:\n%s%s", code, c.code, c.want, stdout, stderr)
			}
			if c.code == 3 && strings.Count(stderr, "\n") != 1 {
				t.Errorf("usage error: want one line on stderr, got %q", stderr)
			}
		})
	}
}

// TestVerifyOutputs: -json follows the documented schema, and -report
// writes a one-page PDF (judged by qpdf) or an HTML page with the verdict,
// the signer and the modifications.
func TestVerifyOutputs(t *testing.T) {
	signed, root := signedLT(t)
	code, stdout, stderr := runCLI("verify", "-json", "-trust", root, signed)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var rep verify.Report
	dec := json.NewDecoder(strings.NewReader(stdout))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rep); err != nil {
		t.Fatal(err)
	}
	if rep.Schema != verify.SchemaVersion || rep.Indication != verify.TotalPassed || len(rep.Signatures) != 1 ||
		rep.Signatures[0].Level == nil || rep.Signatures[0].Level.Reached != "B-LT" {
		t.Errorf("JSON report: %+v", rep)
	}
	var raw map[string]any
	json.Unmarshal([]byte(stdout), &raw)
	for _, key := range []string{"schema", "validationTime", "indication", "revisions", "signatures", "trust"} {
		if _, ok := raw[key]; !ok {
			t.Errorf("JSON report lacks %q", key)
		}
	}

	dir := t.TempDir()
	html := filepath.Join(dir, "report.html")
	pdfReport := filepath.Join(dir, "report.pdf")
	for _, out := range []string{html, pdfReport} {
		if code, _, stderr := runCLI("verify", "-report", out, "-trust", root, signed); code != 0 {
			t.Fatalf("-report %s: exit %d: %s", out, code, stderr)
		}
	}
	page, err := os.ReadFile(html)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Verdict: TOTAL-PASSED", devpki.SignerP256CN, "PAdES level: B-LT", "Modifications after signing: allowed", "the document security store"} {
		if !bytes.Contains(page, []byte(want)) {
			t.Errorf("HTML report lacks %q", want)
		}
	}
	qpdf := testenv.Need(t, "qpdf", "apt-get install qpdf")
	if out, err := exec.Command(qpdf, "--check", pdfReport).CombinedOutput(); err != nil {
		t.Errorf("qpdf --check on the PDF report: %v\n%s", err, out)
	}
	if out, err := exec.Command(qpdf, "--show-npages", pdfReport).Output(); err != nil || strings.TrimSpace(string(out)) != "1" {
		t.Errorf("the PDF report has %q pages (%v), want 1", out, err)
	}
	text, err := exec.Command("pdftotext", pdfReport, "-").Output()
	if err == nil && !bytes.Contains(text, []byte("Verdict: TOTAL-PASSED")) {
		t.Errorf("the PDF report's text lacks the verdict:\n%s", text)
	}
}

// TestVerifyMemory: verifying a 1 GiB B-LTA file (a signature and a
// document timestamp, two byte ranges) keeps the pades process under
// 64 MiB of peak RSS. -short uses 256 MiB.
func TestVerifyMemory(t *testing.T) {
	size := "1GiB"
	if testing.Short() {
		size = "256MiB"
	}
	dir := t.TempDir()
	big := filepath.Join(dir, "big.pdf")
	hashsvctest.GenPDF(t, size, big)
	in, err := os.Open(big)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := in.Stat()
	signed, root := signedAt(t, in, st.Size(), pades.LevelBLTA)
	in.Close()
	os.Remove(big)
	bin := hashsvctest.Build(t, "./cmd/pades")
	// The peak RSS that wait4 reports for a child that Go starts with
	// vfork includes the parent's own RSS at exec (the kernel records the
	// old address space's peak, and it is the parent's): the test binary
	// starts itself as a small helper, which starts pades and reports its
	// rusage.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, "-test.run=^$")
	cmd.Env = append(os.Environ(), rusageHelperEnv+"="+strings.Join([]string{bin, "verify", "-trust", root, signed}, "\t"))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("pades verify: %v\n%s", err, out)
	}
	report, rssLine, _ := strings.Cut(string(out), "\nmaxrss ")
	if !strings.Contains(report, "verdict: TOTAL-PASSED (2 signature(s)") {
		t.Fatalf("unexpected verdict:\n%s", out)
	}
	var rss int64
	if _, err := fmt.Sscan(rssLine, &rss); err != nil {
		t.Fatalf("no rusage from the helper: %q", rssLine)
	}
	t.Logf("%s B-LTA file: peak RSS %d KiB", size, rss)
	if rss >= 64<<10 {
		t.Errorf("peak RSS %d KiB, want under 64 MiB", rss)
	}
}

// rusageHelperEnv, when set, makes the test binary run the command it
// names (tab-separated) and print its output, then "maxrss N" with the
// child's peak RSS in KiB.
const rusageHelperEnv = "PADES_TEST_RUSAGE_HELPER"

func TestMain(m *testing.M) {
	if args := os.Getenv(rusageHelperEnv); args != "" {
		argv := strings.Split(args, "\t")
		cmd := exec.Command(argv[0], argv[1:]...)
		out, err := cmd.CombinedOutput()
		if cmd.ProcessState == nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Printf("%s\nmaxrss %d\n", out, cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss)
		os.Exit(0)
	}
	os.Exit(m.Run())
}
