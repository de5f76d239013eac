package pkcs11

import (
	"bytes"
	"crypto"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ThalesIgnite/crypto11"

	"hashsign/internal/devpki"
	"hashsign/internal/testenv"
)

const (
	softhsmModule = testenv.SoftHSMModule
	testLabel     = "hashsign"
	testPIN       = "1234"
	testSOPIN     = "5678"
	// validator is shared/validate/check-signed-pdf, seen from this
	// package's directory.
	validator = "../../../shared/validate/check-signed-pdf"
	// installHint says how to get the tools these tests need.
	installHint = "install softhsm2 and opensc (apt-get install -y softhsm2 opensc) and run shared/validate/check-signed-pdf --install"
)

var (
	pkiOnce sync.Once
	pki     *devpki.PKI
	pkiErr  error
)

// testPKI returns the shared test PKI.
func testPKI(t testing.TB) *devpki.PKI {
	t.Helper()
	pkiOnce.Do(func() { pki, pkiErr = devpki.LoadOrGenerate(devpki.DefaultDir(), devpki.Options{}) })
	if pkiErr != nil {
		t.Fatal(pkiErr)
	}
	return pki
}

// testToken is a throw-away SoftHSM2 token.
type testToken struct {
	dir   string
	conf  string
	label string
	pin   string
	pki   *devpki.PKI
	certs map[string]*x509.Certificate // by key label
	pubs  map[string]crypto.PublicKey  // by key label
}

// keySpec describes a key that newTestToken generates on the token.
type keySpec struct {
	label string
	id    byte
	// kind is "rsa2048", "rsa1024", "p256", "p384", "aes" (crypto11), or
	// "ed25519" or "secp256k1" (pkcs11-tool).
	kind string
	// cert says which certificate to store with the key: "" issues one
	// for it, "none" stores none and "other" stores one for another key.
	cert string
}

// Keys that most tests use.
var (
	rsaKey  = keySpec{label: "rsa", id: 0x01, kind: "rsa2048"}
	p256Key = keySpec{label: "p256", id: 0x02, kind: "p256"}
	p384Key = keySpec{label: "p384", id: 0x03, kind: "p384"}
)

// newTestToken creates a SoftHSM2 token labelled "hashsign" with user PIN
// 1234 in a temporary directory, with SOFTHSM2_CONF pointing at its own
// configuration for the rest of the test, and generates keys on it. Each
// key whose spec asks for it gets a certificate issued by the test PKI's
// intermediate CA, stored with the key's id and label; the intermediate
// CA certificate is stored too.
func newTestToken(t testing.TB, keys ...keySpec) *testToken {
	t.Helper()
	util, conf := testenv.SoftHSM(t, installHint)
	t.Setenv("SOFTHSM2_CONF", conf)
	t.Setenv(PINEnv, "")
	os.Unsetenv(PINEnv)

	tt := &testToken{dir: filepath.Dir(conf), conf: conf, label: testLabel, pin: testPIN, pki: testPKI(t), certs: map[string]*x509.Certificate{}, pubs: map[string]crypto.PublicKey{}}
	tt.initToken(t, util, testLabel, testPIN)
	tt.addKeys(t, keys...)
	return tt
}

// initToken initializes a further token in the free slot.
func (tt *testToken) initToken(t testing.TB, util, label, pin string) {
	t.Helper()
	out, err := exec.Command(util, "--init-token", "--free", "--label", label, "--pin", pin, "--so-pin", testSOPIN).CombinedOutput()
	if err != nil {
		t.Fatalf("softhsm2-util --init-token: %v\n%s", err, out)
	}
}

// addKeys generates keys on the token and stores their certificates.
func (tt *testToken) addKeys(t testing.TB, keys ...keySpec) {
	t.Helper()
	if len(keys) == 0 {
		return
	}
	c, err := crypto11.Configure(&crypto11.Config{Path: softhsmModule, TokenLabel: tt.label, Pin: tt.pin})
	if err != nil {
		t.Fatalf("crypto11.Configure: %v", err)
	}
	inter := tt.pki.Intermediate.Cert
	if old, _ := c.FindCertificate([]byte{0xCA}, nil, nil); old == nil {
		if err := c.ImportCertificateWithLabel([]byte{0xCA}, []byte("intermediate"), inter); err != nil {
			t.Fatalf("importing the intermediate certificate: %v", err)
		}
	}
	var external []keySpec
	for _, k := range keys {
		id, label := []byte{k.id}, []byte(k.label)
		var key crypto.Signer
		switch k.kind {
		case "rsa2048":
			key, err = c.GenerateRSAKeyPairWithLabel(id, label, 2048)
		case "rsa1024":
			key, err = c.GenerateRSAKeyPairWithLabel(id, label, 1024)
		case "p256":
			key, err = c.GenerateECDSAKeyPairWithLabel(id, label, elliptic.P256())
		case "p384":
			key, err = c.GenerateECDSAKeyPairWithLabel(id, label, elliptic.P384())
		case "aes":
			_, err = c.GenerateSecretKeyWithLabel(id, label, 256, crypto11.CipherAES)
		default:
			external = append(external, k)
			continue
		}
		if err != nil {
			c.Close()
			t.Fatalf("generating %s key %q on the token: %v", k.kind, k.label, err)
		}
		if key == nil {
			continue
		}
		pub := key.Public()
		tt.pubs[k.label] = pub
		if k.cert == "none" {
			continue
		}
		if k.cert == "other" {
			pub = tt.pki.SignerP256.Cert.PublicKey
		}
		cert := tt.issue(t, "hashsign PKCS#11 "+k.label, pub)
		if err := c.ImportCertificateWithLabel(id, label, cert); err != nil {
			c.Close()
			t.Fatalf("importing the certificate of %q: %v", k.label, err)
		}
		tt.certs[k.label] = cert
	}
	if err := c.Close(); err != nil {
		t.Fatalf("closing the crypto11 context: %v", err)
	}
	for _, k := range external {
		tt.pkcs11Tool(t, k)
	}
}

// pkcs11Tool generates a key pair that crypto11 cannot make.
func (tt *testToken) pkcs11Tool(t testing.TB, k keySpec) {
	t.Helper()
	tool := testenv.Need(t, "pkcs11-tool", installHint)
	var keyType string
	switch k.kind {
	case "ed25519":
		keyType = "EC:edwards25519"
	case "secp256k1":
		keyType = "EC:secp256k1"
	default:
		t.Fatalf("unknown key kind %q", k.kind)
	}
	cmd := exec.Command(tool, "--module", softhsmModule, "--token-label", tt.label, "--login", "--pin", tt.pin,
		"--keypairgen", "--key-type", keyType, "--label", k.label, "--id", fmt.Sprintf("%02x", k.id))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("pkcs11-tool --keypairgen %s: %v\n%s", keyType, err, out)
	}
}

// issue returns a signing certificate for pub issued by the test PKI's
// intermediate CA.
func (tt *testToken) issue(t testing.TB, cn string, pub crypto.PublicKey) *x509.Certificate {
	t.Helper()
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		t.Fatal(err)
	}
	spki, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	skid := sha1.Sum(spki)
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{Organization: []string{devpki.Organization}, CommonName: cn},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
		BasicConstraintsValid: true,
		SubjectKeyId:          skid[:],
	}
	inter := tt.pki.Intermediate
	der, err := x509.CreateCertificate(rand.Reader, tmpl, inter.Cert, pub, inter.Key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// uri returns a URI for the key labelled object on the token, with the
// PIN in the URI, followed by extra query attributes.
func (tt *testToken) uri(object string, extra ...string) string {
	u := "pkcs11:token=" + tt.label + ";object=" + object + "?module-path=" + softhsmModule + "&pin-value=" + tt.pin
	for _, e := range extra {
		u += "&" + e
	}
	return u
}

// writeRoot writes the test PKI's root certificate to a PEM file.
func (tt *testToken) writeRoot(t testing.TB) string {
	t.Helper()
	name := filepath.Join(tt.dir, "root.pem")
	data := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tt.pki.Root.Cert.Raw})
	if err := os.WriteFile(name, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return name
}

// checkSignedPDF runs shared/validate/check-signed-pdf on a PDF at level
// B-B, failing the test unless it passes. Outside CI it is skipped when
// the validator is missing.
//
// With pss set, a failure of the MuPDF check alone is tolerated and
// logged: MuPDF 1.21 verifies through OpenSSL's PKCS7 API, which has no
// RSASSA-PSS, and reports a "digest error" for every PSS signature, those
// of the key-file signer included. The other verifiers must pass.
func checkSignedPDF(t *testing.T, root string, pdf []byte, pss bool) {
	t.Helper()
	if _, err := os.Stat(validator); err != nil {
		if testenv.InCI() {
			t.Fatalf("%s is missing: %v", validator, err)
		}
		t.Logf("skipping the external validation: %s is missing", validator)
		return
	}
	f := filepath.Join(t.TempDir(), "signed.pdf")
	if err := os.WriteFile(f, pdf, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(validator, "--trust", root, "--level", "B-B", f).CombinedOutput()
	if err == nil {
		t.Logf("check-signed-pdf: %s", lastLine(out))
		return
	}
	var ee *exec.ExitError
	if pss && errors.As(err, &ee) && ee.ExitCode() == 1 && testenv.OnlyMuPDFFails(string(out)) {
		t.Logf("check-signed-pdf: %s; MuPDF's failure tolerated for RSASSA-PSS", lastLine(out))
		return
	}
	t.Fatalf("check-signed-pdf --level B-B: %v\n%s", err, out)
}

func lastLine(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return lines[len(lines)-1]
}

// memOutput is an in-memory pades.Output.
type memOutput struct {
	buf []byte
	off int64
}

func (m *memOutput) Write(p []byte) (int, error) {
	n, err := m.WriteAt(p, m.off)
	m.off += int64(n)
	return n, err
}

func (m *memOutput) WriteAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("memOutput: negative offset")
	}
	if end := off + int64(len(p)); end > int64(len(m.buf)) {
		m.buf = append(m.buf, make([]byte, end-int64(len(m.buf)))...)
	}
	return copy(m.buf[off:], p), nil
}

func (m *memOutput) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += m.off
	case io.SeekEnd:
		offset += int64(len(m.buf))
	}
	if offset < 0 {
		return 0, errors.New("memOutput: negative position")
	}
	m.off = offset
	return offset, nil
}

func (m *memOutput) Truncate(size int64) error {
	if size < int64(len(m.buf)) {
		m.buf = m.buf[:size]
	}
	return nil
}

func (m *memOutput) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("memOutput: negative offset")
	}
	if off >= int64(len(m.buf)) {
		return 0, io.EOF
	}
	n := copy(p, m.buf[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (m *memOutput) Bytes() []byte { return bytes.Clone(m.buf) }
