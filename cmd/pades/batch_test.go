package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"hashsign/csc"
	"hashsign/hashsvc"
	"hashsign/hashsvc/hashsvctest"
	"hashsign/internal/devpki"
	"hashsign/pades/batch"
	"hashsign/testdata/pdfgen"
)

// batchInputs writes good PDFs of several kinds and one file that is not
// a PDF (broken.pdf) into a new directory, which it returns with the
// names of the good ones.
func batchInputs(t *testing.T, good int) (string, []string) {
	t.Helper()
	dir := t.TempDir()
	kinds := []pdfgen.Kind{pdfgen.Table, pdfgen.Stream, pdfgen.Hybrid, pdfgen.TableIncremental, pdfgen.StreamIncremental}
	var names []string
	for i := range good {
		b, err := pdfgen.Bytes(kinds[i%len(kinds)], pdfgen.Options{Pages: 1 + i%3})
		if err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("doc%02d.pdf", i)
		writeFile(t, dir, name, b)
		names = append(names, name)
	}
	writeFile(t, dir, "broken.pdf", []byte("%PDF-1.7\nthis file ends before any object\n"))
	writeFile(t, dir, "notes.txt", []byte("not a PDF name: skipped by -in\n"))
	return dir, names
}

// outputs lists the files of the output directory dir, without the
// journal.
func outputs(t *testing.T, dir string) []os.DirEntry {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []os.DirEntry
	for _, e := range entries {
		if e.Name() != batch.JournalName {
			out = append(out, e)
		}
	}
	return out
}

// runBin runs a built command and returns its exit code and output.
func runBin(t *testing.T, bin string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, stdout.String(), stderr.String()
	case errors.As(err, &ee):
		return ee.ExitCode(), stdout.String(), stderr.String()
	}
	t.Fatalf("%s: %v", bin, err)
	return 0, "", ""
}

// signHashMetrics returns the number of signHash requests that the
// service at base answered with 200 and the signatures it made for
// credential, from its /metrics.
func signHashMetrics(t *testing.T, base, credential string) (requests, signatures int) {
	t.Helper()
	return hashsvctest.Metric(t, base, `hashsvc_requests_total{route="`+csc.PathSignHash+`",code="200"}`),
		hashsvctest.Metric(t, base, `hashsvc_signatures_total{credential="`+credential+`",operation="signHash"}`)
}

// TestBatch runs the built `pades batch` with a key file and with `hashsvc
// serve -dev` as the remote signer, at B-B and B-LTA, on a folder holding
// one broken file: that one fails alone, with one line, the exit status is
// 1, and every other output passes check-signed-pdf at its level. Through
// the remote signer the documents take fewer signHash calls than there are
// documents, as the service's metrics count them.
func TestBatch(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs pades and hashsvc")
	}
	validator := hashsvctest.Validator(t)
	pades := hashsvctest.Build(t, "./cmd/pades")
	dev := hashsvctest.StartDev(t, hashsvctest.Build(t, "./cmd/hashsvc"), filepath.Join(t.TempDir(), "dev"), "127.0.0.1:0")
	root := filepath.Join(dev.Dir, hashsvc.DevRootFile)
	pki := filepath.Join(dev.Dir, hashsvc.DevPKIDir)
	apiKey := filepath.Join(dev.Dir, hashsvc.DevAPIKeyFile)
	keyFile := []string{"-key", filepath.Join(pki, devpki.SignerRSAKeyFile), "-cert", filepath.Join(pki, devpki.SignerRSACertFile),
		"-chain", filepath.Join(dev.Dir, hashsvc.DevChainFile)}
	remoteRSA := []string{"-remote", dev.URL, "-credential", hashsvc.DevCredentialRSA, "-api-key-file", apiKey}
	ltaFlags := []string{"-level", "B-LTA", "-tsa", dev.URL + "/tsa", "-trust", root}

	for _, tc := range []struct {
		name   string
		signer []string
		level  []string
		want   string
	}{
		{"key file B-B", keyFile, nil, "B-B"},
		{"key file B-LTA", keyFile, ltaFlags, "B-LTA"},
		{"remote B-B", remoteRSA, nil, "B-B"},
		{"remote B-LTA", remoteRSA, ltaFlags, "B-LTA"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const good = 5
			in, names := batchInputs(t, good)
			out := filepath.Join(t.TempDir(), "not", "yet")
			reqs0, sigs0 := signHashMetrics(t, dev.URL, hashsvc.DevCredentialRSA)
			args := append(append(append([]string{"batch"}, tc.signer...), tc.level...), "-workers", "2", "-in", in, "-out", out)
			code, stdout, stderr := runBin(t, pades, args...)
			if code != 1 {
				t.Fatalf("exit %d, want 1 (one document failed)\n%s%s", code, stdout, stderr)
			}
			lines := strings.Split(strings.TrimSpace(stderr), "\n")
			if len(lines) != 2 || !strings.Contains(lines[0], "broken.pdf") || lines[1] != "pades batch: 1 of 6 documents not signed" {
				t.Errorf("standard error, want one line for broken.pdf and the count:\n%s", stderr)
			}
			if !strings.Contains(stdout, fmt.Sprintf("signed %d of 6 documents", good)) {
				t.Errorf("standard output:\n%s", stdout)
			}
			entries := outputs(t, out)
			if len(entries) != good {
				t.Errorf("%d files in the output directory, want the %d signed documents", len(entries), good)
			}
			for _, name := range names {
				hashsvctest.Validate(t, validator, root, tc.want, filepath.Join(out, name))
			}
			if tc.signer[0] == "-remote" {
				reqs, sigs := signHashMetrics(t, dev.URL, hashsvc.DevCredentialRSA)
				t.Logf("%d documents: %d signHash requests", sigs-sigs0, reqs-reqs0)
				if sigs-sigs0 != good || reqs-reqs0 >= good {
					t.Errorf("%d signatures in %d signHash requests; want %d in fewer requests", sigs-sigs0, reqs-reqs0, good)
				}
			}
		})
	}

	t.Run("many documents", func(t *testing.T) {
		const n = 40
		in, _ := batchInputs(t, n)
		os.Remove(filepath.Join(in, "broken.pdf"))
		out := t.TempDir()
		reqs0, sigs0 := signHashMetrics(t, dev.URL, hashsvc.DevCredentialP256)
		args := append(append([]string{"batch"}, remoteRSA...), "-credential", hashsvc.DevCredentialP256, "-batch-size", "16", "-workers", "2", "-in", in, "-out", out)
		if code, stdout, stderr := runBin(t, pades, args...); code != 0 {
			t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
		}
		reqs, sigs := signHashMetrics(t, dev.URL, hashsvc.DevCredentialP256)
		t.Logf("%d documents, batches of up to 16: %d signHash requests", sigs-sigs0, reqs-reqs0)
		// The first 34 documents (2 workers + 2 batches of 16) are
		// announced before any starts: the first two requests hold 16
		// hashes each whatever the timing, and no request holds more.
		if lo, hi := (n+15)/16, 2+n-32; sigs-sigs0 != n || reqs-reqs0 < lo || reqs-reqs0 > hi {
			t.Errorf("%d signatures in %d signHash requests; want %d in %d to %d requests", sigs-sigs0, reqs-reqs0, n, lo, hi)
		}
		for i := range n {
			intact(t, filepath.Join(out, fmt.Sprintf("doc%02d.pdf", i)))
		}
	})
}

// TestBatchServiceKilled kills the service (SIGKILL) when the second
// signHash request reaches it: the documents of the first request are
// signed, the batch stops with the signer's error, and no other output
// appears.
func TestBatchServiceKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs hashsvc")
	}
	dev := hashsvctest.StartDev(t, hashsvctest.Build(t, "./cmd/hashsvc"), t.TempDir(), "127.0.0.1:0")
	u, err := url.Parse(dev.URL)
	if err != nil {
		t.Fatal(err)
	}
	var signHashes atomic.Int64
	firstAnswered := make(chan struct{})
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ErrorLog = log.New(io.Discard, "", 0) // the service is down on purpose
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != csc.PathSignHash {
			rp.ServeHTTP(w, r)
			return
		}
		switch signHashes.Add(1) {
		case 1:
			rp.ServeHTTP(w, r)
			close(firstAnswered)
			return
		case 2:
			<-firstAnswered
			dev.Kill()
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	in, _ := batchInputs(t, 30)
	os.Remove(filepath.Join(in, "broken.pdf"))
	out := t.TempDir()
	code, stdout, stderr := runCLI("batch", "-remote", front.URL, "-credential", hashsvc.DevCredentialP256, "-api-key-file", writeKey(t, dev.APIKey),
		"-remote-attempts", "2", "-batch-size", "4", "-workers", "2", "-in", in, "-out", out)
	t.Logf("stderr:\n%s", stderr)
	if code != 1 || !strings.Contains(stderr, "pades batch: stopped, 26 of 30 documents not signed") {
		t.Fatalf("exit %d, want 1 and the batch stopped after the first 4 documents\n%s", code, stdout)
	}
	entries := outputs(t, out)
	if len(entries) != 4 {
		t.Errorf("%d files in the output directory, want the 4 of the first request", len(entries))
	}
	for _, e := range entries {
		intact(t, filepath.Join(out, e.Name()))
	}
}

// TestBatchUsage checks the command line of batch: each mistake is one
// line and exit status 2, before anything is written.
func TestBatchUsage(t *testing.T) {
	pki := testPKIDir(t)
	key := []string{"-key", filepath.Join(pki, devpki.SignerRSAKeyFile), "-cert", filepath.Join(pki, devpki.SignerRSACertFile)}
	in, _ := batchInputs(t, 1)
	other := t.TempDir()
	twin := writeFile(t, other, "doc00.pdf", samplePDF(t))
	out := filepath.Join(t.TempDir(), "out")
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no output directory", append(key, "-in", in), 2, "-out DIR"},
		{"no input", append(key, "-out", out), 2, "no input"},
		{"no signer", []string{"-in", in, "-out", out}, 2, "no signer"},
		{"two signers", append(key, "-p12", "x.p12", "-in", in, "-out", out), 2, "either -key or -p12"},
		{"batch size without remote", append(key, "-batch-size", "8", "-in", in, "-out", out), 2, "-batch-size goes with -remote"},
		{"no workers", append(key, "-workers", "0", "-in", in, "-out", out), 2, "-workers must be at least 1"},
		{"two inputs, one output", append(key, "-in", in, "-out", out, twin), 2, "would both be written to"},
		{"output is the input", append(key, "-in", in, "-out", in), 2, "must not be the input file"},
		{"level without TSA", append(key, "-level", "B-T", "-in", in, "-out", out), 2, "needs -tsa"},
		{"empty input directory", append(key, "-in", t.TempDir(), "-out", out), 1, "holds no .pdf file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runCLI(append([]string{"batch"}, tc.args...)...)
			if code != tc.code || !strings.Contains(stderr, tc.want) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
				t.Errorf("exit %d, stderr %q; want exit %d and one line saying %q", code, stderr, tc.code, tc.want)
			}
			if _, err := os.Stat(out); err == nil {
				t.Error("the output directory was created")
			}
		})
	}
}
