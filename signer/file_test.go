package signer

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io/fs"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"software.sslmate.com/src/go-pkcs12"

	"hashsign/internal/testenv"
)

// testCA is a root and an intermediate that issue leaf certificates.
type testCA struct {
	root, inter       *x509.Certificate
	rootKey, interKey *ecdsa.PrivateKey
	serial            int64
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	rootKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	interKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca := &testCA{rootKey: rootKey, interKey: interKey, serial: 10}
	tmpl := func(serial int64, cn string) *x509.Certificate {
		return &x509.Certificate{
			SerialNumber:          big.NewInt(serial),
			Subject:               pkix.Name{CommonName: cn},
			NotBefore:             time.Now().Add(-time.Hour),
			NotAfter:              time.Now().Add(24 * time.Hour),
			KeyUsage:              x509.KeyUsageCertSign,
			BasicConstraintsValid: true,
			IsCA:                  true,
		}
	}
	ca.root = createCert(t, tmpl(1, "Test Root"), tmpl(1, "Test Root"), rootKey.Public(), rootKey)
	ca.inter = createCert(t, tmpl(2, "Test Intermediate"), ca.root, interKey.Public(), rootKey)
	return ca
}

// issue returns a leaf certificate for pub.
func (ca *testCA) issue(t *testing.T, cn string, pub crypto.PublicKey) *x509.Certificate {
	t.Helper()
	ca.serial++
	return createCert(t, &x509.Certificate{
		SerialNumber: big.NewInt(ca.serial),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
	}, ca.inter, pub, ca.interKey)
}

func createCert(t *testing.T, tmpl, parent *x509.Certificate, pub crypto.PublicKey, priv crypto.Signer) *x509.Certificate {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, priv)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// rsaKey returns a 2048-bit RSA key generated once per test binary.
var rsaKey = sync.OnceValues(func() (*rsa.PrivateKey, error) { return rsa.GenerateKey(rand.Reader, 2048) })

func mustRSAKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	k, err := rsaKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func pemBytes(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func certsPEM(certs ...*x509.Certificate) []byte {
	var out []byte
	for _, c := range certs {
		out = append(out, pemBytes("CERTIFICATE", c.Raw)...)
	}
	return out
}

func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func runOpenSSL(t *testing.T, openssl string, args ...string) string {
	t.Helper()
	out, err := exec.Command(openssl, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// checkSigner checks that s signs verifiably and has chain want.
func checkSigner(t *testing.T, s Signer, want ...*x509.Certificate) {
	t.Helper()
	chain := s.Chain()
	if len(chain) != len(want) {
		t.Fatalf("chain has %d certificates, want %d", len(chain), len(want))
	}
	for i := range chain {
		if !chain[i].Equal(want[i]) {
			t.Errorf("chain[%d] = %s, want %s", i, chain[i].Subject, want[i].Subject)
		}
	}
	digest := sha256.Sum256([]byte("signed attributes"))
	for _, opts := range []crypto.SignerOpts{crypto.SHA256, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256}} {
		_, isRSA := s.Public().(*rsa.PublicKey)
		if _, pss := opts.(*rsa.PSSOptions); pss && !isRSA {
			continue
		}
		sig, err := Sign(context.Background(), s, rand.Reader, digest[:], opts)
		if err != nil {
			t.Fatalf("Sign: %v", err)
		}
		alg := map[string]x509.SignatureAlgorithm{"rsa": x509.SHA256WithRSA, "pss": x509.SHA256WithRSAPSS, "ecdsa": x509.ECDSAWithSHA256}
		name := "ecdsa"
		if isRSA {
			name = "rsa"
			if _, pss := opts.(*rsa.PSSOptions); pss {
				name = "pss"
			}
		}
		if err := chain[0].CheckSignature(alg[name], []byte("signed attributes"), sig); err != nil {
			t.Errorf("%s signature does not verify: %v", name, err)
		}
	}
}

func TestLoadKeyFileGo(t *testing.T) {
	ca := newTestCA(t)
	rsaK := mustRSAKey(t)
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p521, _ := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	pkcs8 := func(k any) []byte {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return pemBytes("PRIVATE KEY", der)
	}
	sec1 := func(k *ecdsa.PrivateKey) []byte {
		der, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return pemBytes("EC PRIVATE KEY", der)
	}
	tests := []struct {
		name    string
		key     crypto.Signer
		keyPEM  []byte
		layout  string // how certificates are spread over files
		wantLen int
	}{
		{"rsa pkcs8", rsaK, pkcs8(rsaK), "leaf+chain", 2},
		{"rsa pkcs1", rsaK, pemBytes("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaK)), "bundle", 2},
		{"p256 sec1", p256, sec1(p256), "leaf+chain", 2},
		{"p256 pkcs8", p256, pkcs8(p256), "in key file", 2},
		{"p384 sec1", p384, sec1(p384), "bundle", 2},
		{"p384 pkcs8", p384, pkcs8(p384), "leaf+chain", 2},
		{"p521 sec1", p521, sec1(p521), "leaf+chain", 2},
		{"p521 pkcs8", p521, pkcs8(p521), "leaf only", 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			leaf := ca.issue(t, "Signer "+tc.name, tc.key.Public())
			keyPath := writeFile(t, dir, "key.pem", tc.keyPEM)
			var s Signer
			var err error
			switch tc.layout {
			case "leaf+chain":
				s, err = LoadKeyFile(keyPath, writeFile(t, dir, "cert.pem", certsPEM(leaf)),
					writeFile(t, dir, "inter.pem", certsPEM(ca.inter)), writeFile(t, dir, "root.pem", certsPEM(ca.root)))
			case "bundle":
				// Reverse order, root included, a duplicate: all sorted out.
				s, err = LoadKeyFile(keyPath, writeFile(t, dir, "bundle.pem", certsPEM(ca.root, ca.inter, leaf, ca.inter)))
			case "in key file":
				keyPath = writeFile(t, dir, "key.pem", append(append(certsPEM(ca.inter), tc.keyPEM...), certsPEM(leaf)...))
				s, err = LoadKeyFile(keyPath, "")
			case "leaf only":
				s, err = LoadKeyFile(keyPath, writeFile(t, dir, "cert.pem", certsPEM(leaf)))
			}
			if err != nil {
				t.Fatal(err)
			}
			checkSigner(t, s, []*x509.Certificate{leaf, ca.inter}[:tc.wantLen]...)
		})
	}
}

func TestLoadKeyFileOpenSSL(t *testing.T) {
	openssl := testenv.Need(t, "openssl", "")
	ca := newTestCA(t)
	dir := t.TempDir()
	caKeyDER, _ := x509.MarshalPKCS8PrivateKey(ca.interKey)
	caKey := writeFile(t, dir, "ca.key", pemBytes("PRIVATE KEY", caKeyDER))
	caCert := writeFile(t, dir, "ca.pem", certsPEM(ca.inter))
	chain := writeFile(t, dir, "chain.pem", certsPEM(ca.inter, ca.root))

	tests := []struct {
		name      string
		gen       [][]string // openssl commands; OUT is the key file
		pemHeader string
	}{
		{"rsa pkcs8", [][]string{{"genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "OUT"}}, "-----BEGIN PRIVATE KEY-----"},
		{"rsa pkcs1", [][]string{
			{"genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:3072", "-out", "OUT.tmp"},
			{"rsa", "-in", "OUT.tmp", "-traditional", "-out", "OUT"},
		}, "-----BEGIN RSA PRIVATE KEY-----"},
		{"p256 pkcs8", [][]string{{"genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "OUT"}}, "-----BEGIN PRIVATE KEY-----"},
		{"p384 sec1 with parameters", [][]string{{"ecparam", "-name", "secp384r1", "-genkey", "-out", "OUT"}}, "-----BEGIN EC PARAMETERS-----"},
		{"p521 sec1", [][]string{
			{"genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-521", "-out", "OUT.tmp"},
			{"ec", "-in", "OUT.tmp", "-out", "OUT"},
		}, "-----BEGIN EC PRIVATE KEY-----"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			keyPath := filepath.Join(dir, tc.name+".key")
			for _, cmd := range tc.gen {
				args := make([]string, len(cmd))
				for j, a := range cmd {
					args[j] = strings.Replace(a, "OUT", keyPath, 1)
				}
				runOpenSSL(t, openssl, args...)
			}
			data, _ := os.ReadFile(keyPath)
			if !bytes.HasPrefix(data, []byte(tc.pemHeader)) {
				t.Fatalf("openssl wrote %.40q, want %s", data, tc.pemHeader)
			}
			// OpenSSL issues the leaf certificate from the Go CA.
			csr := filepath.Join(dir, tc.name+".csr")
			certPath := filepath.Join(dir, tc.name+".pem")
			runOpenSSL(t, openssl, "req", "-new", "-key", keyPath, "-subj", "/CN=OpenSSL Signer "+tc.name, "-out", csr)
			runOpenSSL(t, openssl, "x509", "-req", "-in", csr, "-CA", caCert, "-CAkey", caKey,
				"-set_serial", big.NewInt(int64(1000+i)).String(), "-days", "1", "-out", certPath)

			s, err := LoadKeyFile(keyPath, certPath, chain)
			if err != nil {
				t.Fatal(err)
			}
			leaf := s.Chain()[0]
			if leaf.Subject.CommonName != "OpenSSL Signer "+tc.name {
				t.Errorf("signer certificate CN = %q", leaf.Subject.CommonName)
			}
			checkSigner(t, s, leaf, ca.inter)

			// The same key and chain in an OpenSSL 3 PKCS#12 file.
			p12 := filepath.Join(dir, tc.name+".p12")
			runOpenSSL(t, openssl, "pkcs12", "-export", "-inkey", keyPath, "-in", certPath, "-certfile", chain,
				"-passout", "pass:s3cret", "-out", p12)
			s, err = LoadPKCS12(p12, "s3cret")
			if err != nil {
				t.Fatal(err)
			}
			checkSigner(t, s, leaf, ca.inter)
		})
	}
}

func TestLoadPKCS12(t *testing.T) {
	openssl := testenv.Need(t, "openssl", "")
	ca := newTestCA(t)
	dir := t.TempDir()
	key := mustRSAKey(t)
	leaf := ca.issue(t, "P12 Signer", key.Public())
	keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
	keyPath := writeFile(t, dir, "key.pem", pemBytes("PRIVATE KEY", keyDER))
	certPath := writeFile(t, dir, "cert.pem", certsPEM(leaf))
	chain := writeFile(t, dir, "chain.pem", certsPEM(ca.root, ca.inter))

	// OpenSSL 3 defaults: PBES2 with AES-256-CBC and PBKDF2, SHA-256 MAC.
	modern := filepath.Join(dir, "modern.p12")
	runOpenSSL(t, openssl, "pkcs12", "-export", "-inkey", keyPath, "-in", certPath, "-certfile", chain,
		"-passout", "pass:correct horse", "-out", modern)
	info := runOpenSSL(t, openssl, "pkcs12", "-info", "-noout", "-in", modern, "-passin", "pass:correct horse")
	if !strings.Contains(info, "PBES2") || !strings.Contains(info, "AES-256-CBC") {
		t.Fatalf("openssl did not write a PBES2/AES file:\n%s", info)
	}
	emptyPass := filepath.Join(dir, "empty.p12")
	runOpenSSL(t, openssl, "pkcs12", "-export", "-inkey", keyPath, "-in", certPath, "-certfile", chain,
		"-passout", "pass:", "-out", emptyPass)

	tripleDES := filepath.Join(dir, "3des.p12")
	runOpenSSL(t, openssl, "pkcs12", "-export", "-inkey", keyPath, "-in", certPath, "-certfile", chain,
		"-keypbe", "PBE-SHA1-3DES", "-certpbe", "PBE-SHA1-3DES", "-macalg", "sha1",
		"-passout", "pass:old style", "-out", tripleDES)

	// Written with Go.
	goP12, err := pkcs12.Modern.Encode(key, leaf, []*x509.Certificate{ca.inter, ca.root}, "go password")
	if err != nil {
		t.Fatal(err)
	}
	goPath := writeFile(t, dir, "go.p12", goP12)

	for _, tc := range []struct{ name, path, password string }{
		{"openssl 3 default", modern, "correct horse"},
		{"openssl empty password", emptyPass, ""},
		{"openssl 3des", tripleDES, "old style"},
		{"go-pkcs12 modern", goPath, "go password"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := LoadPKCS12(tc.path, tc.password)
			if err != nil {
				t.Fatal(err)
			}
			checkSigner(t, s, leaf, ca.inter)

			_, err = LoadPKCS12(tc.path, tc.password+"x")
			if want := "signer: pkcs12 " + tc.path + ": wrong password"; err == nil || err.Error() != want {
				t.Errorf("wrong password: err = %v, want %q", err, want)
			}
			if !errors.Is(err, ErrWrongPassword) {
				t.Errorf("wrong password: err does not wrap ErrWrongPassword")
			}
		})
	}

	// A PKCS#12 holding a key for another certificate.
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	mismatch, err := pkcs12.Modern.Encode(other, leaf, nil, "pw")
	if err != nil {
		t.Fatal(err)
	}
	path := writeFile(t, dir, "mismatch.p12", mismatch)
	_, err = LoadPKCS12(path, "pw")
	if want := "signer: pkcs12 " + path + ": private key does not match the signer certificate (CN=P12 Signer)"; err == nil || err.Error() != want {
		t.Errorf("mismatch: err = %v, want %q", err, want)
	}
	_, err = LoadPKCS12(filepath.Join(dir, "missing.p12"), "pw")
	if !errors.Is(err, fs.ErrNotExist) || !strings.HasPrefix(err.Error(), "signer: read pkcs12 file: open ") {
		t.Errorf("missing file: err = %v", err)
	}
	_, err = LoadPKCS12(certPath, "pw")
	if err == nil || !strings.HasPrefix(err.Error(), "signer: pkcs12 "+certPath+": ") {
		t.Errorf("not a PKCS#12 file: err = %v", err)
	}
}

func TestLoadKeyFileErrors(t *testing.T) {
	openssl := testenv.Need(t, "openssl", "")
	ca := newTestCA(t)
	dir := t.TempDir()
	key := mustRSAKey(t)
	leaf := ca.issue(t, "Error Signer", key.Public())
	keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
	keyPath := writeFile(t, dir, "key.pem", pemBytes("PRIVATE KEY", keyDER))
	certPath := writeFile(t, dir, "cert.pem", certsPEM(leaf))

	otherKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	otherDER, _ := x509.MarshalPKCS8PrivateKey(otherKey)
	otherPath := writeFile(t, dir, "other.pem", pemBytes("PRIVATE KEY", otherDER))

	encPKCS8 := filepath.Join(dir, "enc8.pem")
	runOpenSSL(t, openssl, "pkey", "-in", keyPath, "-aes256", "-passout", "pass:x", "-out", encPKCS8)
	encLegacy := filepath.Join(dir, "enc1.pem")
	runOpenSSL(t, openssl, "rsa", "-in", keyPath, "-aes256", "-traditional", "-passout", "pass:x", "-out", encLegacy)
	edPath := filepath.Join(dir, "ed.pem")
	runOpenSSL(t, openssl, "genpkey", "-algorithm", "ED25519", "-out", edPath)

	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	smallPath := writeFile(t, dir, "small.pem", pemBytes("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(small)))
	p224, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	p224DER, _ := x509.MarshalECPrivateKey(p224)
	p224Path := writeFile(t, dir, "p224.pem", pemBytes("EC PRIVATE KEY", p224DER))

	notPEM := writeFile(t, dir, "not.pem", []byte("this is not PEM\n"))
	missing := filepath.Join(dir, "missing.pem")

	const encrypted = "encrypted private keys are not supported; decrypt the key first (openssl pkey -in KEY -out PLAIN)"
	tests := []struct {
		name      string
		key, cert string
		chain     []string
		want      string
	}{
		{"encrypted pkcs8", encPKCS8, certPath, nil, "signer: key file " + encPKCS8 + ": " + encrypted},
		{"encrypted legacy pem", encLegacy, certPath, nil, "signer: key file " + encLegacy + ": " + encrypted},
		{"mismatched key", otherPath, certPath, nil, "signer: key file " + otherPath + ": private key does not match the signer certificate (CN=Error Signer)"},
		{"key file not PEM", notPEM, certPath, nil, "signer: key file " + notPEM + ": no PEM data found"},
		{"cert file not PEM", keyPath, notPEM, nil, "signer: certificate file " + notPEM + ": no PEM data found"},
		{"chain file not PEM", keyPath, certPath, []string{notPEM}, "signer: certificate file " + notPEM + ": no PEM data found"},
		{"key file without key", certPath, certPath, nil, "signer: key file " + certPath + ": no private key PEM block found"},
		{"cert file without cert", keyPath, keyPath, nil, "signer: certificate file " + keyPath + ": no CERTIFICATE PEM block found"},
		{"no certificate", keyPath, "", nil, "signer: key file " + keyPath + ": no certificate"},
		{"ed25519", edPath, certPath, nil, "signer: key file " + edPath + ": unsupported key type Ed25519 (Ed25519 in PAdES/CMS is out of scope)"},
		{"rsa 1024", smallPath, certPath, nil, "signer: key file " + smallPath + ": RSA key of 1024 bits is too small; at least 2048 bits are required"},
		{"p224", p224Path, certPath, nil, "signer: key file " + p224Path + ": unsupported ECDSA curve P-224 (want P-256, P-384 or P-521)"},
		{"missing key file", missing, certPath, nil, "signer: read key file: open " + missing + ": no such file or directory"},
		{"missing cert file", keyPath, missing, nil, "signer: read certificate file: open " + missing + ": no such file or directory"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := LoadKeyFile(tc.key, tc.cert, tc.chain...)
			if err == nil {
				t.Fatalf("got a signer for %s", s.Chain()[0].Subject)
			}
			if err.Error() != tc.want {
				t.Errorf("err = %q\nwant  %q", err, tc.want)
			}
		})
	}
	_, err = LoadKeyFile(missing, certPath)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file error %v does not wrap fs.ErrNotExist", err)
	}
	_, err = LoadKeyFile(otherPath, certPath)
	if !errors.Is(err, ErrKeyMismatch) {
		t.Errorf("mismatch error %v does not wrap ErrKeyMismatch", err)
	}
}

func TestNew(t *testing.T) {
	ca := newTestCA(t)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leaf := ca.issue(t, "New Signer", key.Public())
	stranger := ca.issue(t, "Someone Else", ca.rootKey.Public())
	otherCA := newTestCA(t)

	// Any order; the root, duplicates and certificates off the path are
	// dropped.
	s, err := New(key, []*x509.Certificate{stranger, ca.root, ca.inter, otherCA.inter, leaf, ca.inter, nil})
	if err != nil {
		t.Fatal(err)
	}
	checkSigner(t, s, leaf, ca.inter)
	// Chain returns a copy.
	s.Chain()[0] = nil
	if s.Chain()[0] == nil {
		t.Error("Chain shares its slice")
	}

	// A self-signed signer certificate is kept.
	selfSigned := createCert(t, &x509.Certificate{
		SerialNumber: big.NewInt(7),
		Subject:      pkix.Name{CommonName: "Self"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}, &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "Self"}}, key.Public(), key)
	s, err = New(key, []*x509.Certificate{selfSigned})
	if err != nil {
		t.Fatal(err)
	}
	checkSigner(t, s, selfSigned)

	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	tests := []struct {
		name  string
		key   crypto.Signer
		certs []*x509.Certificate
		want  string
	}{
		{"mismatch", key, []*x509.Certificate{stranger, ca.inter}, "signer: private key does not match the signer certificate (CN=Someone Else)"},
		{"no certificate", key, nil, "signer: no certificate"},
		{"no key", nil, []*x509.Certificate{leaf}, "signer: no private key"},
		{"ed25519", edKey, []*x509.Certificate{leaf}, "signer: unsupported key type Ed25519 (Ed25519 in PAdES/CMS is out of scope)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.key, tc.certs)
			if err == nil || err.Error() != tc.want {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}

	// SignContext honours cancellation.
	s, _ = New(key, []*x509.Certificate{leaf})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	digest := sha256.Sum256(nil)
	if _, err := Sign(ctx, s, rand.Reader, digest[:], crypto.SHA256); !errors.Is(err, context.Canceled) {
		t.Errorf("Sign with a cancelled context: err = %v", err)
	}
}
