package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"hashsign/csc"
	"hashsign/hashsvc/hashsvctest"
	"hashsign/internal/atomicfile"
	"hashsign/internal/devpki"
	"hashsign/pades"
	"hashsign/signer/remote"
	"hashsign/testdata/pdfgen"
)

func writeKey(t *testing.T, key string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "api-key")
	if err := os.WriteFile(p, []byte(key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func writeInputs(t *testing.T, dir string, n int) []string {
	t.Helper()
	src, err := pdfgen.Bytes(pdfgen.Table, pdfgen.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var ins []string
	for i := range n {
		p := filepath.Join(dir, fmt.Sprintf("doc%03d.pdf", i))
		os.WriteFile(p, src, 0o644)
		ins = append(ins, p)
	}
	return ins
}

// intact fails unless the PDF at path has intact signatures only.
func intact(t *testing.T, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := pades.Inspect(context.Background(), bytes.NewReader(data), int64(len(data)), nil)
	if err != nil || len(rep.Fields) == 0 {
		t.Fatalf("%s: %v", path, err)
	}
	for _, f := range rep.Fields {
		if f.Intact == nil || !*f.Intact {
			t.Fatalf("%s: signature %s not intact: %s", path, f.Field, f.Problem)
		}
	}
}

// validated fails unless check-signed-pdf passes the PDF at path at level
// with the test PKI's root as the trust anchor; extra are more flags of
// check-signed-pdf (--password PW).
func validated(t *testing.T, path, level string, extra ...string) {
	t.Helper()
	hashsvctest.Validate(t, hashsvctest.Validator(t), filepath.Join(testPKIDir(t), devpki.RootCertFile), level, path, extra...)
}

// remoteSigner returns the signer of -remote url -credential credential
// -api-key-file apiKeyFile.
func remoteSigner(ctx context.Context, url, credential, apiKeyFile string) (*remote.Signer, error) {
	f := remoteFlags{url: url, credential: credential, apiKeyFile: apiKeyFile, timeout: time.Minute, retries: 4}
	return f.signer(ctx, slog.New(slog.DiscardHandler), "")
}

func TestRemoteSigner(t *testing.T) {
	s := hashsvctest.NewServer(t, hashsvctest.Options{})
	ctx := context.Background()
	sg, err := remoteSigner(ctx, s.URL, hashsvctest.CredRSA, writeKey(t, s.Keys[hashsvctest.KeyAll]))
	if err != nil {
		t.Fatal(err)
	}
	src, _ := pdfgen.Bytes(pdfgen.Stream, pdfgen.Options{})
	out := filepath.Join(t.TempDir(), "out.pdf")
	f, err := atomicfile.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Abort()
	if _, err := pades.Sign(ctx, bytes.NewReader(src), int64(len(src)), f, sg, nil); err != nil {
		t.Fatal(err)
	}
	f.Commit()
	validated(t, out, "B-B")

	_, err = remoteSigner(ctx, s.URL, hashsvctest.CredRSA, writeKey(t, "hsk_wrong"))
	if err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("wrong key: %v", err)
	}
	_, err = remoteSigner(ctx, s.URL, hashsvctest.CredRSA, writeKey(t, s.Keys[hashsvctest.KeyP256]))
	if err == nil || !strings.Contains(err.Error(), "403") {
		t.Errorf("credential not allowed: %v", err)
	}
}

// TestRetriesLoggedWithV: a retried signHash request is logged with -v
// only; without it, a signature that succeeds leaves standard error empty.
func TestRetriesLoggedWithV(t *testing.T) {
	s := hashsvctest.NewServer(t, hashsvctest.Options{})
	var failNext atomic.Bool
	u, err := url.Parse(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == csc.PathSignHash && failNext.CompareAndSwap(true, false) {
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte(`{"error":"temporarily_unavailable","error_description":"try again"}`))
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	dir := t.TempDir()
	in := writeInputs(t, dir, 1)[0]
	key := writeKey(t, s.Keys[hashsvctest.KeyAll])
	for _, verbose := range []bool{false, true} {
		t.Run(fmt.Sprintf("v=%v", verbose), func(t *testing.T) {
			failNext.Store(true)
			out := filepath.Join(dir, fmt.Sprintf("out-%v.pdf", verbose))
			args := []string{"sign", "-remote", front.URL, "-credential", hashsvctest.CredRSA, "-api-key-file", key}
			if verbose {
				args = append(args, "-v")
			}
			code, _, stderr := runCLI(append(args, in, out)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			if failNext.Load() {
				t.Fatal("the front did not fail the first signHash request")
			}
			validated(t, out, "B-B")
			if retried := strings.Contains(stderr, "retrying"); retried != verbose || (!verbose && stderr != "") {
				t.Errorf("-v=%v: standard error %q", verbose, stderr)
			}
		})
	}
}

// TestRemoteCertPinned: with -remote, -cert names the certificate the
// service must have for the credential; another one stops the signature
// before any hash is sent.
func TestRemoteCertPinned(t *testing.T) {
	s := hashsvctest.NewServer(t, hashsvctest.Options{})
	pki := testPKIDir(t)
	dir := t.TempDir()
	in := writeInputs(t, dir, 1)[0]
	key := writeKey(t, s.Keys[hashsvctest.KeyAll])
	sign := func(cert, out string) (int, string) {
		code, _, stderr := runCLI("sign", "-remote", s.URL, "-credential", hashsvctest.CredP256, "-api-key-file", key, "-cert", cert, in, out)
		return code, stderr
	}
	code, stderr := sign(filepath.Join(pki, devpki.SignerP384CertFile), filepath.Join(dir, "wrong.pdf"))
	if code != 1 || !strings.Contains(stderr, "not the expected one") || strings.Count(stderr, "\n") != 1 {
		t.Errorf("another certificate: exit %d %q, want 1 and one line", code, stderr)
	}
	noOutput(t, dir, in)
	if req, sigs := signHashMetrics(t, s.URL, hashsvctest.CredP256); req != 0 || sigs != 0 {
		t.Errorf("with another certificate, %d signHash requests made %d signatures, want none", req, sigs)
	}
	out := filepath.Join(dir, "right.pdf")
	if code, stderr := sign(filepath.Join(pki, devpki.SignerP256CertFile), out); code != 0 {
		t.Fatalf("the credential's certificate: exit %d %s", code, stderr)
	}
	validated(t, out, "B-B")
}
