package pades_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"hashsign/internal/devpki"
	"hashsign/internal/testenv"
	"hashsign/pades"
	"hashsign/signer"
)

// sharedDir returns ../shared, which holds the corpus and the validators.
func sharedDir(t testing.TB) string {
	t.Helper()
	d, _ := filepath.Abs("../../shared")
	testenv.Need(t, filepath.Join(d, "validate", "check-signed-pdf"), "CI runs with shared/ beside the project")
	return d
}

var (
	pkiOnce sync.Once
	pkiVal  *devpki.PKI
	pkiErr  error
)

// testPKI returns the test PKI shared by the tests of this process.
func testPKI(t testing.TB) *devpki.PKI {
	t.Helper()
	pkiOnce.Do(func() { pkiVal, pkiErr = devpki.LoadOrGenerate(devpki.DefaultDir(), devpki.Options{}) })
	if pkiErr != nil {
		t.Fatal(pkiErr)
	}
	return pkiVal
}

// rootPEM writes the test root certificate to a file and returns its path.
func rootPEM(t testing.TB) string {
	t.Helper()
	testPKI(t)
	return filepath.Join(devpki.DefaultDir(), devpki.RootCertFile)
}

func newSigner(t testing.TB, id *devpki.Identity) signer.Signer {
	t.Helper()
	p := testPKI(t)
	s, err := signer.New(id.Key, p.Chain(id))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// signBytes signs in with s into a file in dir and returns its path.
func signBytes(t testing.TB, in []byte, s signer.Signer, opts *pades.SignOptions, dir, name string) (string, *pades.Result) {
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
	return checkSignedPDFRoot(t, shared, rootPEM(t), file, level, password, newest)
}

// checkSignedPDFRoot is checkSignedPDF with the trust anchor given.
func checkSignedPDFRoot(t testing.TB, shared, root, file, level, password string, newest int) (bool, string) {
	t.Helper()
	args := []string{"--trust", root, "--level", level}
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

// trustServices are ../shared/validate/trust-services, started once for the
// test process (TestMain stops them).
type trustServices struct {
	dir                                  string
	TSAURL, Root, Inter, Chain           string
	SignerCert, SignerKey, ECCert, ECKey string
}

var (
	tsOnce sync.Once
	tsVal  *trustServices
	tsErr  error
)

// startTrustServices starts the OpenSSL TSA, OCSP responder and CRL server
// of ../shared on 127.0.0.1.
func startTrustServices(t testing.TB) *trustServices {
	t.Helper()
	shared := sharedDir(t)
	tsOnce.Do(func() {
		dir, err := os.MkdirTemp("", "hashsign-trust-services-")
		if err != nil {
			tsErr = err
			return
		}
		out, err := exec.Command(filepath.Join(shared, "validate", "trust-services"), "start", dir).CombinedOutput()
		if err != nil {
			tsErr = fmt.Errorf("trust-services start: %v\n%s", err, out)
			return
		}
		env, err := os.ReadFile(filepath.Join(dir, "env"))
		if err != nil {
			tsErr = err
			return
		}
		v := map[string]string{}
		for _, line := range strings.Split(string(env), "\n") {
			k, val, ok := strings.Cut(strings.TrimPrefix(line, "export "), "=")
			if ok {
				v[k] = val
			}
		}
		tsVal = &trustServices{dir: dir, TSAURL: v["TSA_URL"], Root: v["ROOT"], Inter: v["INTER"], Chain: v["CHAIN"],
			SignerCert: v["SIGNER_CERT"], SignerKey: v["SIGNER_KEY"], ECCert: v["EC_SIGNER_CERT"], ECKey: v["EC_SIGNER_KEY"]}
	})
	if tsErr != nil {
		t.Fatal(tsErr)
	}
	return tsVal
}

func stopTrustServices() {
	if tsVal != nil {
		d, _ := filepath.Abs("../../shared/validate/trust-services")
		exec.Command(d, "stop", tsVal.dir).Run()
		os.RemoveAll(tsVal.dir)
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	stopTrustServices()
	os.Exit(code)
}
