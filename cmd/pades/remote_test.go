package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"hashsign/hashsvc/hashsvctest"
	"hashsign/internal/atomicfile"
	"hashsign/pades"
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
	intact(t, out)

	_, err = remoteSigner(ctx, s.URL, hashsvctest.CredRSA, writeKey(t, "hsk_wrong"))
	if err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("wrong key: %v", err)
	}
	_, err = remoteSigner(ctx, s.URL, hashsvctest.CredRSA, writeKey(t, s.Keys[hashsvctest.KeyP256]))
	if err == nil || !strings.Contains(err.Error(), "403") {
		t.Errorf("credential not allowed: %v", err)
	}
}

func TestSignBatchCommand(t *testing.T) {
	s := hashsvctest.NewServer(t, hashsvctest.Options{})
	dir := t.TempDir()
	outDir := filepath.Join(dir, "out")
	os.Mkdir(outDir, 0o755)
	ins := writeInputs(t, dir, 5)
	args := append([]string{"-remote", s.URL, "-credential", hashsvctest.CredP256, "-api-key-file", writeKey(t, s.Keys[hashsvctest.KeyAll]),
		"-batch", "-out-dir", outDir, "-batch-size", "2", "-reason", "batch test"}, ins...)
	if !isBatchSign(args) {
		t.Fatal("isBatchSign = false")
	}
	var stdout, stderr bytes.Buffer
	if err := cmdSignBatch(context.Background(), args, &stdout, &stderr); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	for _, in := range ins {
		intact(t, filepath.Join(outDir, filepath.Base(in)))
	}
	if !strings.Contains(stdout.String(), "signed 5 documents") {
		t.Errorf("stdout:\n%s", stdout.String())
	}
	for _, bad := range [][]string{
		{"-batch", "-out-dir", outDir, ins[0]},                                  // no -remote
		{"-batch", "-remote", s.URL, "-credential", "p256", ins[0]},             // no -out-dir
		{"-batch", "-remote", s.URL, "-out-dir", outDir, ins[0]},                // no -credential
		{"-batch", "-remote", s.URL, "-credential", "p256", "-out-dir", outDir}, // no input
	} {
		err := cmdSignBatch(context.Background(), bad, &stdout, &stderr)
		if _, ok := err.(*usageError); !ok {
			t.Errorf("%q: %v, want a usage error", bad, err)
		}
	}
}

func TestIsBatchSign(t *testing.T) {
	for args, want := range map[string]bool{
		"-batch a.pdf":        true,
		"--batch a.pdf":       true,
		"-batch=true a.pdf":   true,
		"a.pdf b.pdf":         false,
		"-key k -- -batch":    false,
		"-reason batch a.pdf": false,
	} {
		if got := isBatchSign(strings.Fields(args)); got != want {
			t.Errorf("isBatchSign(%q) = %v", args, got)
		}
	}
}

// TestSignBatchServiceKilled kills the service (SIGKILL) while a batch
// runs: the command fails, and every file in the output directory is a
// complete signed PDF.
func TestSignBatchServiceKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs hashsvc")
	}
	bin := hashsvctest.Build(t, "./cmd/hashsvc")
	dev := hashsvctest.StartDev(t, bin, t.TempDir(), "127.0.0.1:0")
	dir := t.TempDir()
	outDir := filepath.Join(dir, "out")
	os.Mkdir(outDir, 0o755)
	ins := writeInputs(t, dir, 200)
	go func() { // kill -9 the service once the first output appears
		for {
			if e, _ := os.ReadDir(outDir); len(e) > 0 {
				for _, x := range e {
					if !strings.HasPrefix(x.Name(), ".") {
						dev.Kill()
						return
					}
				}
			}
			time.Sleep(time.Millisecond)
		}
	}()
	args := append([]string{"-remote", dev.URL, "-credential", "dev-p256", "-api-key-file", writeKey(t, dev.APIKey),
		"-batch", "-out-dir", outDir, "-batch-size", "4", "-remote-attempts", "2"}, ins...)
	var stdout, stderr bytes.Buffer
	err := cmdSignBatch(context.Background(), args, &stdout, &stderr)
	if err == nil {
		t.Fatal("the command succeeded although the service was killed")
	}
	t.Logf("pades sign: %s", oneLine(err.Error()))
	entries, _ := os.ReadDir(outDir)
	if len(entries) == 0 || len(entries) >= len(ins) {
		t.Errorf("%d output files", len(entries))
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("temporary file left: %s", e.Name())
			continue
		}
		intact(t, filepath.Join(outDir, e.Name()))
	}
}
