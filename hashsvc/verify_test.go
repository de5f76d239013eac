package hashsvc_test

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"hashsign/hashsvc"
	"hashsign/hashsvc/hashsvctest"
	"hashsign/pades"
	"hashsign/signer"
	"hashsign/testdata/pdfgen"
)

// signedPDF signs a test document with the shared test PKI's P-256 key.
func signedPDF(t *testing.T) string {
	t.Helper()
	p := hashsvctest.PKI(t)
	src, err := pdfgen.Bytes(pdfgen.Table, pdfgen.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := signer.New(p.SignerP256.Key, p.Chain(p.SignerP256))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "signed.pdf")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := pades.Sign(context.Background(), bytes.NewReader(src), int64(len(src)), f, s, nil); err != nil {
		t.Fatal(err)
	}
	return path
}

// postPDF posts body to /v1/verify with key and returns the status and
// the body of the answer.
func postPDF(t *testing.T, url, key string, body io.Reader) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+hashsvc.PathVerify+"?at=2030-01-02T03:04:05Z", body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/pdf")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

// TestVerifyEndpoint: POST /v1/verify needs an API key, answers the JSON
// of pades verify -json for the same file, anchors and time, and refuses
// bodies over verify.max_body_bytes, with or without a Content-Length.
func TestVerifyEndpoint(t *testing.T) {
	signed := signedPDF(t)
	data, err := os.ReadFile(signed)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	root := filepath.Join(dir, "root.pem")
	p := hashsvctest.PKI(t)
	os.WriteFile(root, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.Root.Cert.Raw}), 0o644)
	limit := int64(len(data))
	s := hashsvctest.NewServer(t, hashsvctest.Options{Edit: func(c *hashsvc.Config) {
		c.Verify.Trust = []string{root}
		c.Verify.MaxBodyBytes = limit
		c.Verify.TempDir = dir
	}})
	key := s.Keys[hashsvctest.KeyAll]

	if code, body := postPDF(t, s.URL, "", bytes.NewReader(data)); code != http.StatusUnauthorized {
		t.Errorf("without an API key: %d %s, want 401", code, body)
	}
	code, got := postPDF(t, s.URL, key, bytes.NewReader(data))
	if code != http.StatusOK {
		t.Fatalf("%d %s", code, got)
	}
	pdes := hashsvctest.Build(t, "./cmd/pades")
	want, _ := exec.Command(pdes, "verify", "-json", "-at", "2030-01-02T03:04:05Z", "-trust", root, signed).Output()
	if !bytes.Equal(got, want) {
		t.Errorf("POST /v1/verify and pades verify -json differ:\n%s\n---\n%s", got, want)
	}
	var rep map[string]any
	if err := json.Unmarshal(got, &rep); err != nil || rep["schema"] != float64(1) {
		t.Errorf("answer is not a schema 1 report: %v %s", err, got)
	}

	big := append(bytes.Clone(data), '\n')
	if code, body := postPDF(t, s.URL, key, bytes.NewReader(big)); code != http.StatusRequestEntityTooLarge {
		t.Errorf("%d bytes with Content-Length: %d %s, want 413", len(big), code, body)
	}
	// no Content-Length: the limit stops the copy
	if code, body := postPDF(t, s.URL, key, io.MultiReader(bytes.NewReader(big))); code != http.StatusRequestEntityTooLarge {
		t.Errorf("%d bytes chunked: %d %s, want 413", len(big), code, body)
	}
	if code, body := postPDF(t, s.URL, key, bytes.NewReader([]byte("not a pdf"))); code != http.StatusBadRequest {
		t.Errorf("not a PDF: %d %s, want 400", code, body)
	}
	left, _ := filepath.Glob(filepath.Join(dir, "hashsvc-verify-*"))
	if len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}
