package pades_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"hashsign/pades"
	"hashsign/signer"
	"hashsign/testdata/testpki"
)

// inCI reports whether the tests run in CI, where a missing tool or
// ../shared is a failure rather than a reason to skip.
func inCI() bool { return os.Getenv("CI") == "true" }

// needTool returns the path of an external tool, skipping the test when it
// is missing outside CI and failing it in CI.
func needTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if inCI() {
			t.Fatalf("%s is missing: the README test command installs it", name)
		}
		t.Skipf("%s is missing", name)
	}
	return p
}

// sharedDir returns ../shared, which holds the corpus and the validators.
func sharedDir(t testing.TB) string {
	t.Helper()
	d, _ := filepath.Abs("../../shared")
	if _, err := os.Stat(filepath.Join(d, "validate", "check-signed-pdf")); err != nil {
		if inCI() {
			t.Fatalf("../shared is missing (%v): CI runs with shared/ beside the project", err)
		}
		t.Skip("../shared is not present")
	}
	return d
}

var (
	pkiOnce sync.Once
	pkiVal  *testpki.PKI
	pkiErr  error
)

// testPKI returns the test PKI shared by the tests of this process.
func testPKI(t testing.TB) *testpki.PKI {
	t.Helper()
	pkiOnce.Do(func() { pkiVal, pkiErr = testpki.LoadOrGenerate(testpki.DefaultDir(), testpki.Options{}) })
	if pkiErr != nil {
		t.Fatal(pkiErr)
	}
	return pkiVal
}

// rootPEM writes the test root certificate to a file and returns its path.
func rootPEM(t testing.TB) string {
	t.Helper()
	testPKI(t)
	return filepath.Join(testpki.DefaultDir(), testpki.RootCertFile)
}

func newSigner(t testing.TB, id *testpki.Identity) signer.Signer {
	t.Helper()
	p := testPKI(t)
	s, err := signer.New(id.Key, p.Chain(id))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// signBytes signs in with s into a file in dir and returns its path.
func signBytes(t testing.TB, in []byte, s signer.Signer, opts *pades.SignOptions, dir, name string) (string, *pades.Prepared) {
	t.Helper()
	out := filepath.Join(dir, name)
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p, err := pades.Sign(context.Background(), bytes.NewReader(in), int64(len(in)), f, s, opts)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return out, p
}

// checkSignedPDF runs ../shared/validate/check-signed-pdf on file. newest
// is passed as --newest unless it is negative.
func checkSignedPDF(t testing.TB, shared, file, level, password string, newest int) (bool, string) {
	t.Helper()
	args := []string{"--trust", rootPEM(t), "--level", level}
	if newest >= 0 {
		args = append(args, "--newest", strconv.Itoa(newest))
	}
	if password != "" {
		args = append(args, "--password", password)
	}
	args = append(args, file)
	out, err := exec.Command(filepath.Join(shared, "validate", "check-signed-pdf"), args...).CombinedOutput()
	return err == nil, string(out)
}
