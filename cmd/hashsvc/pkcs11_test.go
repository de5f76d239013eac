package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"hashsign/hashsvc"
	"hashsign/hashsvc/hashsvctest"
	"hashsign/internal/atomicfile"
	"hashsign/internal/devpki"
	"hashsign/internal/testenv"
	"hashsign/pades"
	"hashsign/signer/remote"
	"hashsign/testdata/pdfgen"
)

const softhsmModule = testenv.SoftHSMModule

// installHint says how to get the tools of the PKCS #11 tests.
const installHint = "apt-get install softhsm2"

// TestPKCS11Credential serves a credential whose key is on a SoftHSM token,
// named by a pkcs11: URI in the YAML configuration, and signs through it.
func TestPKCS11Credential(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs hashsvc")
	}
	util, conf := testenv.SoftHSM(t, installHint)
	p := hashsvctest.PKI(t)
	pkiDir := devpki.DefaultDir()
	dir := t.TempDir()
	bin := hashsvctest.Build(t, "./cmd/hashsvc") // before os.Environ: see Build
	env := append(os.Environ(), "SOFTHSM2_CONF="+conf, "GOTOOLCHAIN=local")
	for _, args := range [][]string{
		{"--init-token", "--free", "--label", "hashsvc", "--pin", "1234", "--so-pin", "5678"},
		{"--import", filepath.Join(pkiDir, devpki.SignerP256KeyFile), "--token", "hashsvc", "--label", "signer", "--id", "01", "--pin", "1234"},
	} {
		cmd := exec.Command(util, args...)
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("softhsm2-util %s: %v\n%s", args[0], err, out)
		}
	}
	key, sum, _ := hashsvc.NewAPIKey()
	cfg := fmt.Sprintf(`listen: "127.0.0.1:0"
audit:
  path: audit.db
api_keys:
  - id: test
    sha256: %q
    credentials: [hsm]
credentials:
  - id: hsm
    key: "pkcs11:token=hashsvc;object=signer?module-path=%s&pin-value=1234"
    cert: %q
    chain: [%q]
`, sum, softhsmModule, filepath.Join(pkiDir, devpki.SignerP256CertFile), filepath.Join(pkiDir, devpki.IntermediateCertFile))
	cfgPath := filepath.Join(dir, "config.yaml")
	os.WriteFile(cfgPath, []byte(cfg), 0o600)

	cmd := exec.Command(bin, "serve", "-config", cfgPath)
	cmd.Env = env
	stderr := &hashsvctest.SyncBuffer{}
	cmd.Stderr = stderr
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
	}()
	sc := bufio.NewScanner(stdout)
	if !sc.Scan() {
		t.Fatalf("no output; stderr:\n%s", stderr)
	}
	url, ok := strings.CutPrefix(sc.Text(), "listening on ")
	if !ok {
		t.Fatalf("first line %q; stderr:\n%s", sc.Text(), stderr)
	}

	ctx := t.Context()
	c, err := remote.NewClient(url, remote.Options{APIKey: key})
	if err != nil {
		t.Fatal(err)
	}
	s, err := remote.NewSigner(ctx, c, "hsm")
	if err != nil {
		t.Fatal(err)
	}
	if !s.Chain()[0].Equal(p.SignerP256.Cert) {
		t.Fatal("the credential's certificate is not the one configured")
	}
	src, _ := pdfgen.Bytes(pdfgen.Table, pdfgen.Options{})
	out := filepath.Join(dir, "hsm.pdf")
	f, err := atomicfile.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Abort()
	if _, err := pades.Sign(ctx, bytes.NewReader(src), int64(len(src)), f, s, nil); err != nil {
		t.Fatal(err)
	}
	if err := f.Commit(); err != nil {
		t.Fatal(err)
	}
	hashsvctest.Validate(t, hashsvctest.Validator(t), filepath.Join(pkiDir, devpki.RootCertFile), "B-B", out)
}
