package devpki

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"hashsign/internal/testenv"
)

const testBaseURL = "http://127.0.0.1:8080"

// sharedPKI is generated once per test binary: RSA key generation is slow.
var sharedPKI = sync.OnceValues(func() (*PKI, error) {
	return Generate(Options{BaseURL: testBaseURL, RSA3072: true})
})

func testPKI(t *testing.T) *PKI {
	t.Helper()
	p, err := sharedPKI()
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	return p
}

func TestVerifyChains(t *testing.T) {
	p := testPKI(t)
	for _, id := range p.Leaves() {
		t.Run(id.Cert.Subject.CommonName, func(t *testing.T) {
			chains, err := id.Cert.Verify(x509.VerifyOptions{
				Roots:         p.RootPool(),
				Intermediates: p.IntermediatePool(),
				KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
			})
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			want := append(p.Chain(id), p.Root.Cert)
			if len(chains) != 1 || !slices.EqualFunc(chains[0], want, (*x509.Certificate).Equal) {
				t.Errorf("Verify returned %d chains, want exactly leaf, intermediate, root", len(chains))
			}
			if id.Cert.IsCA {
				t.Error("leaf is a CA")
			}
			if !bytes.Equal(id.Cert.AuthorityKeyId, p.Intermediate.Cert.SubjectKeyId) {
				t.Error("AuthorityKeyId does not match the intermediate's SubjectKeyId")
			}
		})
	}
}

func TestCertificateFields(t *testing.T) {
	p := testPKI(t)
	all := append([]*Identity{p.Root, p.Intermediate}, p.Leaves()...)
	serials := make(map[string]bool)
	for _, id := range all {
		c := id.Cert
		if c.Subject.Organization[0] != Organization {
			t.Errorf("%s: O = %q", c.Subject.CommonName, c.Subject.Organization)
		}
		if c.SerialNumber.Sign() <= 0 || c.SerialNumber.BitLen() > 128 {
			t.Errorf("%s: serial number %v is not positive 128-bit", c.Subject.CommonName, c.SerialNumber)
		}
		if serials[c.SerialNumber.String()] {
			t.Errorf("%s: duplicate serial number", c.Subject.CommonName)
		}
		serials[c.SerialNumber.String()] = true
		if len(c.SubjectKeyId) != 20 || len(c.AuthorityKeyId) == 0 {
			t.Errorf("%s: SubjectKeyId %x, AuthorityKeyId %x", c.Subject.CommonName, c.SubjectKeyId, c.AuthorityKeyId)
		}
		if !publicKeysEqual(id.Key.Public(), c.PublicKey) {
			t.Errorf("%s: key does not match certificate", c.Subject.CommonName)
		}
	}

	root := p.Root.Cert
	if !root.IsCA || root.MaxPathLen != -1 || root.Subject.CommonName != RootCN ||
		!bytes.Equal(root.RawSubject, root.RawIssuer) || root.KeyUsage != x509.KeyUsageCertSign|x509.KeyUsageCRLSign {
		t.Errorf("root: IsCA %v, MaxPathLen %d, KeyUsage %v", root.IsCA, root.MaxPathLen, root.KeyUsage)
	}
	inter := p.Intermediate.Cert
	if !inter.IsCA || inter.MaxPathLen != 0 || !inter.MaxPathLenZero {
		t.Errorf("intermediate: IsCA %v, MaxPathLen %d, MaxPathLenZero %v", inter.IsCA, inter.MaxPathLen, inter.MaxPathLenZero)
	}
	if !bytes.Equal(root.AuthorityKeyId, root.SubjectKeyId) || !bytes.Equal(inter.AuthorityKeyId, root.SubjectKeyId) {
		t.Error("root and intermediate AuthorityKeyId differ from the root's SubjectKeyId")
	}
	if err := inter.CheckSignatureFrom(root); err != nil {
		t.Errorf("intermediate: %v", err)
	}

	signerUsage := x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment
	for _, tc := range []struct {
		id   *Identity
		cn   string
		algo x509.PublicKeyAlgorithm
		size int
	}{
		{p.SignerRSA, SignerRSACN, x509.RSA, 2048},
		{p.SignerRSA3072, SignerRSA3072CN, x509.RSA, 3072},
		{p.SignerP256, SignerP256CN, x509.ECDSA, 256},
		{p.SignerP384, SignerP384CN, x509.ECDSA, 384},
	} {
		c := tc.id.Cert
		if c.Subject.CommonName != tc.cn || c.KeyUsage != signerUsage || c.PublicKeyAlgorithm != tc.algo {
			t.Errorf("%s: CN %q, KeyUsage %v, algorithm %v", tc.cn, c.Subject.CommonName, c.KeyUsage, c.PublicKeyAlgorithm)
		}
		if len(c.UnknownExtKeyUsage) != 1 || !c.UnknownExtKeyUsage[0].Equal(oidKeyPurposeDocumentSigning()) || len(c.ExtKeyUsage) != 0 {
			t.Errorf("%s: extended key usage %v %v, want id-kp-documentSigning alone", tc.cn, c.ExtKeyUsage, c.UnknownExtKeyUsage)
		}
		var size int
		switch k := c.PublicKey.(type) {
		case *rsa.PublicKey:
			size = k.N.BitLen()
		case *ecdsa.PublicKey:
			size = k.Curve.Params().BitSize
			want := map[int]elliptic.Curve{256: elliptic.P256(), 384: elliptic.P384()}[tc.size]
			if k.Curve != want {
				t.Errorf("%s: curve %s", tc.cn, k.Curve.Params().Name)
			}
		}
		if size != tc.size {
			t.Errorf("%s: key size %d, want %d", tc.cn, size, tc.size)
		}
	}
}

func TestTSAExtendedKeyUsageCritical(t *testing.T) {
	c := testPKI(t).TSA.Cert
	var found int
	for _, ext := range c.Extensions {
		if !ext.Id.Equal(oidExtensionExtendedKeyUsage()) {
			continue
		}
		found++
		if !ext.Critical {
			t.Error("extended key usage extension is not critical")
		}
		var purposes []asn1.ObjectIdentifier
		if rest, err := asn1.Unmarshal(ext.Value, &purposes); err != nil || len(rest) != 0 {
			t.Fatalf("decoding extended key usage: %v (%d trailing bytes)", err, len(rest))
		}
		if len(purposes) != 1 || !purposes[0].Equal(oidKeyPurposeTimeStamping()) {
			t.Errorf("extended key usage = %v, want only id-kp-timeStamping", purposes)
		}
	}
	if found != 1 {
		t.Errorf("found %d extended key usage extensions, want 1", found)
	}
	if !slices.Equal(c.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping}) {
		t.Errorf("ExtKeyUsage = %v", c.ExtKeyUsage)
	}
	if c.KeyUsage != x509.KeyUsageDigitalSignature {
		t.Errorf("KeyUsage = %v, want digitalSignature", c.KeyUsage)
	}
	p := testPKI(t)
	if _, err := c.Verify(x509.VerifyOptions{
		Roots:         p.RootPool(),
		Intermediates: p.IntermediatePool(),
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping},
	}); err != nil {
		t.Errorf("Verify for time stamping: %v", err)
	}
}

func TestOCSPResponder(t *testing.T) {
	p := testPKI(t)
	c := p.OCSP.Cert
	var found bool
	for _, ext := range c.Extensions {
		if ext.Id.Equal(oidOCSPNoCheck()) {
			found = true
			if ext.Critical || !bytes.Equal(ext.Value, asn1.NullBytes) {
				t.Errorf("id-pkix-ocsp-nocheck: critical %v, value %x", ext.Critical, ext.Value)
			}
		}
	}
	if !found {
		t.Error("no id-pkix-ocsp-nocheck extension")
	}
	if !slices.Equal(c.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning}) {
		t.Errorf("ExtKeyUsage = %v", c.ExtKeyUsage)
	}
	if len(c.OCSPServer) != 0 {
		t.Errorf("OCSP responder names an OCSP server: %v", c.OCSPServer)
	}
	if _, err := c.Verify(x509.VerifyOptions{
		Roots:         p.RootPool(),
		Intermediates: p.IntermediatePool(),
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning},
	}); err != nil {
		t.Errorf("Verify for OCSP signing: %v", err)
	}
}

func TestURLs(t *testing.T) {
	p := testPKI(t)
	for _, id := range []*Identity{p.SignerRSA, p.SignerP256, p.TSA} {
		c := id.Cert
		if !slices.Equal(c.OCSPServer, []string{testBaseURL + "/ocsp"}) ||
			!slices.Equal(c.IssuingCertificateURL, []string{testBaseURL + "/ca/inter.cer"}) ||
			!slices.Equal(c.CRLDistributionPoints, []string{testBaseURL + "/crl/inter.crl"}) {
			t.Errorf("%s: OCSP %v, CA issuers %v, CRL %v", c.Subject.CommonName, c.OCSPServer, c.IssuingCertificateURL, c.CRLDistributionPoints)
		}
	}
	c := p.Intermediate.Cert
	if len(c.OCSPServer) != 0 ||
		!slices.Equal(c.IssuingCertificateURL, []string{testBaseURL + "/ca/root.cer"}) ||
		!slices.Equal(c.CRLDistributionPoints, []string{testBaseURL + "/crl/root.crl"}) {
		t.Errorf("intermediate: OCSP %v, CA issuers %v, CRL %v", c.OCSPServer, c.IssuingCertificateURL, c.CRLDistributionPoints)
	}
	if c := p.Root.Cert; len(c.OCSPServer)+len(c.IssuingCertificateURL)+len(c.CRLDistributionPoints) != 0 {
		t.Error("root certificate carries URLs")
	}
}

func TestGenerateOptions(t *testing.T) {
	if testing.Short() {
		t.Skip("generates RSA keys")
	}
	notBefore := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	p, err := Generate(Options{NotBefore: notBefore, Validity: 48 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if p.SignerRSA3072 != nil {
		t.Error("SignerRSA3072 generated without Options.RSA3072")
	}
	for _, id := range append([]*Identity{p.Root, p.Intermediate}, p.Leaves()...) {
		c := id.Cert
		if !c.NotBefore.Equal(notBefore) || !c.NotAfter.Equal(notBefore.Add(48*time.Hour)) {
			t.Errorf("%s: valid %v to %v", c.Subject.CommonName, c.NotBefore, c.NotAfter)
		}
		if len(c.OCSPServer)+len(c.IssuingCertificateURL)+len(c.CRLDistributionPoints) != 0 {
			t.Errorf("%s: URLs without a base URL", c.Subject.CommonName)
		}
	}
	if err := fits(p, Options{}, time.Now()); err == nil {
		t.Error("fits accepted an expired PKI")
	}
}

func samePKI(t *testing.T, got, want *PKI) {
	t.Helper()
	gotFiles, wantFiles := got.files(), want.files()
	for i := range gotFiles {
		g, w := *gotFiles[i].id, *wantFiles[i].id
		if g == nil || w == nil {
			if g != w {
				t.Errorf("%s: got %v, want %v", gotFiles[i].cert, g, w)
			}
			continue
		}
		if !g.Cert.Equal(w.Cert) {
			t.Errorf("%s: certificate differs", gotFiles[i].cert)
		}
		if !g.Key.(interface{ Equal(crypto.PrivateKey) bool }).Equal(w.Key) {
			t.Errorf("%s: key differs", gotFiles[i].key)
		}
	}
}

func TestWriteLoadDir(t *testing.T) {
	p := testPKI(t)
	dir := filepath.Join(t.TempDir(), "pki")
	if err := WriteDir(p, dir); err != nil {
		t.Fatal(err)
	}
	q, err := LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	samePKI(t, q, p)

	fi, err := os.Stat(filepath.Join(dir, SignerRSAKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		t.Errorf("key file mode %v, want no group or other access", perm)
	}
	chain, err := os.ReadFile(filepath.Join(dir, ChainFile))
	if err != nil {
		t.Fatal(err)
	}
	if want := append(certPEM(p.Intermediate.Cert), certPEM(p.Root.Cert)...); !bytes.Equal(chain, want) {
		t.Error("chain.pem is not the intermediate followed by the root")
	}

	// A key that does not belong to its certificate is rejected.
	key, err := os.ReadFile(filepath.Join(dir, SignerP384KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, SignerP256KeyFile), key, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadDir(dir); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Errorf("LoadDir with mismatched key: err = %v", err)
	}
}

func TestLoadOrGenerate(t *testing.T) {
	if testing.Short() {
		t.Skip("generates RSA keys")
	}
	dir := filepath.Join(t.TempDir(), "cache", "pki")
	opts := Options{BaseURL: testBaseURL}

	// Concurrent callers must end up with the same PKI.
	const n = 2
	var (
		wg   sync.WaitGroup
		pkis [n]*PKI
		errs [n]error
	)
	for i := range n {
		wg.Go(func() { pkis[i], errs[i] = LoadOrGenerate(dir, opts) })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("LoadOrGenerate %d: %v", i, errs[i])
		}
	}
	onDisk, err := LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		samePKI(t, pkis[i], onDisk)
	}
	if leftovers, _ := filepath.Glob(dir + ".tmp-*"); len(leftovers) != 0 {
		t.Errorf("temporary directories left behind: %v", leftovers)
	}

	again, err := LoadOrGenerate(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	samePKI(t, again, onDisk)

	if _, err := LoadOrGenerate(dir, Options{BaseURL: "http://example.com"}); err == nil {
		t.Error("LoadOrGenerate accepted a PKI with a different base URL")
	}
	if _, err := LoadOrGenerate(dir, Options{BaseURL: testBaseURL, RSA3072: true}); err == nil {
		t.Error("LoadOrGenerate accepted a PKI without the RSA-3072 signer")
	}
}

func TestOpenSSL(t *testing.T) {
	openssl := testenv.Need(t, "openssl", "")
	p := testPKI(t)
	dir := t.TempDir()
	if err := WriteDir(p, dir); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(openssl, args...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}

	for _, leaf := range []string{SignerRSACertFile, SignerRSA3072CertFile, SignerP256CertFile, SignerP384CertFile, TSACertFile, OCSPCertFile} {
		if out := run("verify", "-CAfile", RootCertFile, "-untrusted", IntermediateCertFile, leaf); !strings.Contains(out, ": OK") {
			t.Errorf("openssl verify %s: %s", leaf, out)
		}
	}
	// OpenSSL's timestampsign purpose requires a critical extended key
	// usage extension naming only id-kp-timeStamping.
	run("verify", "-purpose", "timestampsign", "-CAfile", RootCertFile, "-untrusted", IntermediateCertFile, TSACertFile)
	run("verify", "-purpose", "any", "-CAfile", RootCertFile, "-untrusted", IntermediateCertFile, "-untrusted", ChainFile, SignerRSACertFile)

	if out := run("x509", "-noout", "-text", "-in", TSACertFile); !strings.Contains(out, "X509v3 Extended Key Usage: critical") {
		t.Errorf("openssl x509 -text of the TSA does not show a critical EKU:\n%s", out)
	}
	out := run("x509", "-noout", "-text", "-in", OCSPCertFile)
	if !strings.Contains(out, "OCSP No Check") || !strings.Contains(out, "OCSP Signing") {
		t.Errorf("openssl x509 -text of the OCSP responder lacks OCSP No Check or OCSP Signing:\n%s", out)
	}
	out = run("x509", "-noout", "-text", "-in", SignerRSACertFile)
	for _, want := range []string{"Digital Signature, Non Repudiation", "Subject Key Identifier", "Authority Key Identifier", "OCSP - URI:" + testBaseURL + "/ocsp"} {
		if !strings.Contains(out, want) {
			t.Errorf("openssl x509 -text of the RSA signer lacks %q:\n%s", want, out)
		}
	}
	for _, key := range []string{SignerRSAKeyFile, SignerP256KeyFile, TSAKeyFile} {
		run("pkey", "-noout", "-in", key)
	}
}
