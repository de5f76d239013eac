package cms

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/digitorus/pkcs7"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"hashsign/internal/testenv"
	"hashsign/signer"
)

// testPKI is a root -> intermediate -> leaf hierarchy.
type testPKI struct {
	root, inter, leaf *x509.Certificate
	leafKey           crypto.Signer
}

// chain returns what a signer.Signer's Chain would: leaf and intermediate.
func (p *testPKI) chain() []*x509.Certificate { return []*x509.Certificate{p.leaf, p.inter} }

func (p *testPKI) roots() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(p.root)
	return pool
}

// testSigner implements signer.Signer over a crypto.Signer.
type testSigner struct {
	crypto.Signer
	certs []*x509.Certificate
}

func (s testSigner) Chain() []*x509.Certificate { return s.certs }

func (p *testPKI) signer() testSigner { return testSigner{p.leafKey, p.chain()} }

func mustCert(t testing.TB, tmpl, parent *x509.Certificate, pub crypto.PublicKey, priv crypto.Signer) *x509.Certificate {
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

func newPKI(t testing.TB, leafKey crypto.Signer) *testPKI {
	t.Helper()
	now := time.Now()
	rootKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	interKey, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	ca := func(serial int64, cn string) *x509.Certificate {
		return &x509.Certificate{
			SerialNumber:          big.NewInt(serial),
			Subject:               pkix.Name{CommonName: cn, Organization: []string{"hashsign test"}},
			NotBefore:             now.Add(-time.Hour),
			NotAfter:              now.Add(24 * time.Hour),
			KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
			BasicConstraintsValid: true,
			IsCA:                  true,
		}
	}
	root := mustCert(t, ca(1, "Test Root"), ca(1, "Test Root"), rootKey.Public(), rootKey)
	inter := mustCert(t, ca(2, "Test Intermediate"), root, interKey.Public(), rootKey)
	leafTmpl := &x509.Certificate{
		// A large serial exercises multi-byte INTEGER encodings.
		SerialNumber: new(big.Int).Lsh(big.NewInt(0x7abcdef), 100),
		Subject:      pkix.Name{CommonName: "Test Signer", Organization: []string{"hashsign test"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
	}
	leaf := mustCert(t, leafTmpl, inter, leafKey.Public(), interKey)
	return &testPKI{root: root, inter: inter, leaf: leaf, leafKey: leafKey}
}

// testKeys generates each key type once per test binary.
var testKeys = sync.OnceValue(func() map[string]crypto.Signer {
	m := make(map[string]crypto.Signer)
	r, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	m["rsa"] = r
	r2, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	m["rsa-other"] = r2
	for name, c := range map[string]elliptic.Curve{"p256": elliptic.P256(), "p384": elliptic.P384(), "p521": elliptic.P521()} {
		k, err := ecdsa.GenerateKey(c, rand.Reader)
		if err != nil {
			panic(err)
		}
		m[name] = k
	}
	return m
})

func digestOf(h crypto.Hash, content []byte) []byte {
	d := h.New()
	d.Write(content)
	return d.Sum(nil)
}

func testContent(t testing.TB) []byte {
	content := make([]byte, 4096)
	if _, err := io.ReadFull(rand.Reader, content); err != nil {
		t.Fatal(err)
	}
	return append([]byte("%PDF-1.7\n"), content...)
}

type signCase struct {
	name   string
	key    string
	opts   Options
	sigAlg x509.SignatureAlgorithm
}

func signCases() []signCase {
	var cases []signCase
	for _, k := range []struct {
		key string
		pss bool
		alg [3]x509.SignatureAlgorithm
	}{
		{"rsa", false, [3]x509.SignatureAlgorithm{x509.SHA256WithRSA, x509.SHA384WithRSA, x509.SHA512WithRSA}},
		{"rsa", true, [3]x509.SignatureAlgorithm{x509.SHA256WithRSAPSS, x509.SHA384WithRSAPSS, x509.SHA512WithRSAPSS}},
		{"p256", false, [3]x509.SignatureAlgorithm{x509.ECDSAWithSHA256, x509.ECDSAWithSHA384, x509.ECDSAWithSHA512}},
		{"p384", false, [3]x509.SignatureAlgorithm{x509.ECDSAWithSHA256, x509.ECDSAWithSHA384, x509.ECDSAWithSHA512}},
		{"p521", false, [3]x509.SignatureAlgorithm{x509.ECDSAWithSHA256, x509.ECDSAWithSHA384, x509.ECDSAWithSHA512}},
	} {
		for i, h := range []crypto.Hash{crypto.SHA256, crypto.SHA384, crypto.SHA512} {
			name := k.key
			if k.pss {
				name += "-pss"
			}
			name += "/" + h.String()
			cases = append(cases, signCase{name, k.key, Options{Hash: h, PSS: k.pss}, k.alg[i]})
		}
	}
	return cases
}

func writePEM(t *testing.T, path string, certs ...*x509.Certificate) {
	t.Helper()
	var buf bytes.Buffer
	for _, c := range certs {
		pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}

// opensslVerify verifies a detached CMS with openssl cms -verify.
func opensslVerify(t *testing.T, openssl string, der, content []byte, root *x509.Certificate) {
	t.Helper()
	dir := t.TempDir()
	sig, data, ca := filepath.Join(dir, "sig.der"), filepath.Join(dir, "content.bin"), filepath.Join(dir, "root.pem")
	if err := os.WriteFile(sig, der, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(data, content, 0o600); err != nil {
		t.Fatal(err)
	}
	writePEM(t, ca, root)
	cmd := exec.Command(openssl, "cms", "-verify", "-binary", "-inform", "DER", "-in", sig,
		"-content", data, "-CAfile", ca, "-purpose", "any", "-out", os.DevNull)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Verification successful") {
		t.Fatalf("openssl cms -verify: %v\n%s", err, out)
	}
}

// checkESSWithEncodingASN1 decodes a SigningCertificateV2 value with
// encoding/asn1, independently of the package's own parser, and checks that
// it identifies cert with hash h.
func checkESSWithEncodingASN1(t *testing.T, v []byte, h crypto.Hash, cert *x509.Certificate) {
	t.Helper()
	type issuerSerial struct {
		Issuer []asn1.RawValue // GeneralNames
		Serial *big.Int
	}
	type essCertIDv2 struct {
		HashAlgorithm pkix.AlgorithmIdentifier `asn1:"optional"`
		CertHash      []byte
		IssuerSerial  issuerSerial
	}
	var sc struct {
		Certs []essCertIDv2
	}
	rest, err := asn1.Unmarshal(v, &sc)
	if err != nil || len(rest) != 0 {
		t.Fatalf("SigningCertificateV2: %v (%d trailing bytes)", err, len(rest))
	}
	if len(sc.Certs) != 1 {
		t.Fatalf("SigningCertificateV2 has %d ESSCertIDv2, want 1", len(sc.Certs))
	}
	id := sc.Certs[0]
	wantOID := map[crypto.Hash]asn1.ObjectIdentifier{
		crypto.SHA256: nil, // DEFAULT, omitted
		crypto.SHA384: {2, 16, 840, 1, 101, 3, 4, 2, 2},
		crypto.SHA512: {2, 16, 840, 1, 101, 3, 4, 2, 3},
	}[h]
	if !id.HashAlgorithm.Algorithm.Equal(wantOID) || len(id.HashAlgorithm.Parameters.FullBytes) != 0 {
		t.Errorf("ESSCertIDv2 hashAlgorithm = %v %x, want %v without parameters", id.HashAlgorithm.Algorithm, id.HashAlgorithm.Parameters.FullBytes, wantOID)
	}
	if !bytes.Equal(id.CertHash, digestOf(h, cert.Raw)) {
		t.Error("ESSCertIDv2 certHash is not the signer certificate's hash")
	}
	is := id.IssuerSerial
	if len(is.Issuer) != 1 || is.Issuer[0].Class != asn1.ClassContextSpecific || is.Issuer[0].Tag != 4 ||
		!bytes.Equal(is.Issuer[0].Bytes, cert.RawIssuer) || is.Serial.Cmp(cert.SerialNumber) != 0 {
		t.Error("ESSCertIDv2 issuerSerial does not identify the signer certificate")
	}
}

func TestSign(t *testing.T) {
	openssl := testenv.Need(t, "openssl", "")
	keys := testKeys()
	pkis := make(map[string]*testPKI)
	for _, tc := range signCases() {
		t.Run(tc.name, func(t *testing.T) {
			pki := pkis[tc.key]
			if pki == nil {
				pki = newPKI(t, keys[tc.key])
				pkis[tc.key] = pki
			}
			h := tc.opts.Hash
			content := testContent(t)
			digest := digestOf(h, content)

			der, err := Sign(context.Background(), pki.signer(), digest, tc.opts)
			if err != nil {
				t.Fatalf("Sign: %v", err)
			}

			// (a) our own parser and verifier.
			sd, err := Parse(der)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if err := sd.Verify(digest); err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if _, err := sd.VerifyChain(x509.VerifyOptions{Roots: pki.roots()}); err != nil {
				t.Fatalf("VerifyChain: %v", err)
			}
			if sd.DigestAlgorithm != h || sd.SignatureAlgorithm != tc.sigAlg {
				t.Errorf("algorithms = %v, %v; want %v, %v", sd.DigestAlgorithm, sd.SignatureAlgorithm, h, tc.sigAlg)
			}
			if !sd.Signer.Equal(pki.leaf) {
				t.Errorf("Signer = %v, want the leaf", sd.Signer.Subject)
			}
			if len(sd.Certificates) != 2 || !sd.Certificates[0].Equal(pki.leaf) || !sd.Certificates[1].Equal(pki.inter) {
				t.Errorf("certificates = %d certs, want leaf then intermediate", len(sd.Certificates))
			}
			for _, c := range sd.Certificates {
				if c.Equal(pki.root) {
					t.Error("root certificate included")
				}
			}
			if !bytes.Equal(sd.MessageDigest, digest) {
				t.Error("message digest differs from the content digest")
			}
			wantTypes := []asn1.ObjectIdentifier{oidAttrContentType, oidAttrMessageDigest, oidAttrSigningCertificateV2}
			if len(sd.SignedAttributes) != len(wantTypes) {
				t.Fatalf("%d signed attributes, want %d", len(sd.SignedAttributes), len(wantTypes))
			}
			var ess [][]byte
			for i, a := range sd.SignedAttributes {
				if a.Type.Equal(oidAttrSigningTime) {
					t.Error("signing-time attribute present")
				}
				if !a.Type.Equal(wantTypes[i]) {
					t.Errorf("signed attribute %d = %v, want %v (DER order)", i, a.Type, wantTypes[i])
				}
				if a.Type.Equal(oidAttrSigningCertificateV2) {
					ess = append(ess, a.Values...)
				}
			}
			if len(ess) != 1 {
				t.Fatalf("%d signing-certificate-v2 values, want 1", len(ess))
			}
			checkESSWithEncodingASN1(t, ess[0], h, pki.leaf)
			if len(sd.UnsignedAttributes) != 0 {
				t.Errorf("%d unsigned attributes, want 0", len(sd.UnsignedAttributes))
			}
			if !bytes.HasPrefix(sd.RawSignedAttributes, []byte{0x31}) {
				t.Error("raw signed attributes are not tagged SET")
			}
			if attrs, err := SignedAttributes(digest, h, pki.leaf); err != nil || !bytes.Equal(attrs, sd.RawSignedAttributes) {
				t.Errorf("SignedAttributes differs from the signed attributes in the SignedData (err %v)", err)
			}

			// (b) github.com/digitorus/pkcs7, which lacks RSASSA-PSS.
			if !tc.opts.PSS {
				p7, err := pkcs7.Parse(der)
				if err != nil {
					t.Fatalf("pkcs7.Parse: %v", err)
				}
				p7.Content = content
				if err := p7.VerifyWithChain(pki.roots()); err != nil {
					t.Errorf("pkcs7 VerifyWithChain: %v", err)
				}
				p7.Content = append(bytes.Clone(content), 'x')
				if err := p7.Verify(); err == nil {
					t.Error("pkcs7 Verify accepted altered content")
				}
			}

			// (c) OpenSSL.
			opensslVerify(t, openssl, der, content, pki.root)

			// MaxSize bounds the length closely.
			maxLen, err := MaxSize(pki.chain(), pki.leafKey.Public(), tc.opts)
			if err != nil {
				t.Fatalf("MaxSize: %v", err)
			}
			slack := 0
			if _, ok := pki.leafKey.(*ecdsa.PrivateKey); ok {
				slack = 8
			}
			if len(der) > maxLen || maxLen-len(der) > slack {
				t.Errorf("len = %d, MaxSize = %d, want len <= MaxSize <= len+%d", len(der), maxLen, slack)
			}

			// Altered content must fail.
			if err := sd.Verify(digestOf(h, append(content, 'x'))); err == nil {
				t.Error("Verify accepted a different content digest")
			}
		})
	}
}

func TestPSSParametersEncoding(t *testing.T) {
	// RSASSA-PSS-params for SHA-256 as RFC 4055 lists them, with absent
	// SHA-256 parameters; DER leaves out the default trailer field.
	want, _ := hex.DecodeString("303d" + "06092a864886f70d01010a" + "3030" +
		"a00d300b0609608648016503040201" +
		"a11a301806092a864886f70d010108300b0609608648016503040201" +
		"a203020120")
	var b cryptobyte.Builder
	addSignatureAlgorithm(&b, x509.SHA256WithRSAPSS)
	got, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("PSS AlgorithmIdentifier = %x\nwant %x", got, want)
	}
	for _, h := range []crypto.Hash{crypto.SHA256, crypto.SHA384, crypto.SHA512} {
		var b cryptobyte.Builder
		addSignatureAlgorithm(&b, byHash(h, x509.SHA256WithRSAPSS, x509.SHA384WithRSAPSS, x509.SHA512WithRSAPSS))
		der := b.BytesOrPanic()
		s := cryptobyte.String(der)
		oid, params, err := readAlgorithmIdentifier(&s)
		if err != nil || !oid.Equal(oidRSASSAPSS) {
			t.Fatal(err)
		}
		if ph, salt, err := ParsePSSParams(params); err != nil || ph != h || salt != h.Size() {
			t.Errorf("ParsePSSParams(%v) = %v, %d, %v", h, ph, salt, err)
		}
	}
}

func TestSignChainFiltering(t *testing.T) {
	pki := newPKI(t, testKeys()["p256"])
	s := testSigner{pki.leafKey, []*x509.Certificate{pki.leaf, pki.inter, pki.root, pki.inter, nil}}
	digest := digestOf(crypto.SHA256, []byte("content"))
	der, err := Sign(context.Background(), s, digest, Options{})
	if err != nil {
		t.Fatal(err)
	}
	sd, err := Parse(der)
	if err != nil {
		t.Fatal(err)
	}
	if len(sd.Certificates) != 2 || !sd.Certificates[0].Equal(pki.leaf) || !sd.Certificates[1].Equal(pki.inter) {
		t.Errorf("got %d certificates, want leaf and intermediate", len(sd.Certificates))
	}
}

// otherKeySigner claims the certificate's public key but signs with another
// key, so only the check after signing can catch it.
type otherKeySigner struct {
	testSigner
	pub crypto.PublicKey
}

func (s otherKeySigner) Public() crypto.PublicKey { return s.pub }

func TestSignWrongKey(t *testing.T) {
	keys := testKeys()
	pki := newPKI(t, keys["rsa"])
	digest := digestOf(crypto.SHA256, []byte("content"))
	wrong := testSigner{keys["rsa-other"], pki.chain()}
	tests := []struct {
		name string
		s    signer.Signer
	}{
		{"public key differs", wrong},
		{"signature differs", otherKeySigner{wrong, pki.leaf.PublicKey}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Sign(context.Background(), tc.s, digest, Options{})
			const want = "cms: private key does not match the signer certificate (CN=Test Signer)"
			if err == nil || !strings.HasPrefix(err.Error(), want) || !errors.Is(err, ErrKeyMismatch) {
				t.Fatalf("err = %v, want prefix %q", err, want)
			}
		})
	}
}

// rawECDSASigner returns r||s signatures, as PKCS#11 tokens do.
type rawECDSASigner struct {
	testSigner
	key *ecdsa.PrivateKey
}

func (s rawECDSASigner) Sign(rand io.Reader, digest []byte, _ crypto.SignerOpts) ([]byte, error) {
	r, ss, err := ecdsa.Sign(rand, s.key, digest)
	if err != nil {
		return nil, err
	}
	size := (s.key.Curve.Params().N.BitLen() + 7) / 8
	out := make([]byte, 2*size)
	r.FillBytes(out[:size])
	ss.FillBytes(out[size:])
	return out, nil
}

func TestSignRawECDSA(t *testing.T) {
	for _, name := range []string{"p256", "p384", "p521"} {
		t.Run(name, func(t *testing.T) {
			key := testKeys()[name].(*ecdsa.PrivateKey)
			pki := newPKI(t, key)
			s := rawECDSASigner{pki.signer(), key}
			digest := digestOf(crypto.SHA384, []byte("content"))
			der, err := Sign(context.Background(), s, digest, Options{Hash: crypto.SHA384})
			if err != nil {
				t.Fatal(err)
			}
			sd, err := Parse(der)
			if err != nil {
				t.Fatal(err)
			}
			if err := sd.Verify(digest); err != nil {
				t.Fatal(err)
			}
			if !ecdsa.VerifyASN1(&key.PublicKey, digestOf(crypto.SHA384, sd.RawSignedAttributes), sd.Signature) {
				t.Error("signature in the SignedData is not DER")
			}
		})
	}
}

func TestAssembleTwoStep(t *testing.T) {
	openssl := testenv.Need(t, "openssl", "")
	key := testKeys()["rsa"].(*rsa.PrivateKey)
	pki := newPKI(t, key)
	opts := Options{Hash: crypto.SHA512, PSS: true}
	content := testContent(t)
	contentDigest := digestOf(opts.DigestAlgorithm(), content)

	attrs, err := SignedAttributes(contentDigest, opts.DigestAlgorithm(), pki.leaf)
	if err != nil {
		t.Fatal(err)
	}
	// The "remote service" sees only this hash.
	toSign := digestOf(opts.DigestAlgorithm(), attrs)
	sig, err := rsa.SignPSS(rand.Reader, key, crypto.SHA512, toSign, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	if err != nil {
		t.Fatal(err)
	}
	der, err := Assemble(pki.chain(), attrs, sig, opts)
	if err != nil {
		t.Fatal(err)
	}
	sd, err := Parse(der)
	if err != nil {
		t.Fatal(err)
	}
	if err := sd.Verify(contentDigest); err != nil {
		t.Fatal(err)
	}
	opensslVerify(t, openssl, der, content, pki.root)

	// A PKCS #1 v1.5 signature assembled as PSS does not verify.
	sig15, _ := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA512, toSign)
	if _, err := Assemble(pki.chain(), attrs, sig15, opts); err == nil || !strings.Contains(err.Error(), ErrKeyMismatch.Error()) {
		t.Errorf("Assemble with wrong padding: err = %v", err)
	}
	// A digest of the wrong size is refused.
	if _, err := SignedAttributes(contentDigest[:32], crypto.SHA512, pki.leaf); err == nil {
		t.Error("SignedAttributes accepted a short digest")
	}
	// PSS with ECDSA is refused.
	if _, err := MaxSize(newPKI(t, testKeys()["p256"]).chain(), nil, Options{PSS: true}); err == nil {
		t.Error("MaxSize accepted PSS with an ECDSA key")
	}
}

func TestAddUnsignedAttribute(t *testing.T) {
	openssl := testenv.Need(t, "openssl", "")
	pki := newPKI(t, testKeys()["p256"])
	content := testContent(t)
	digest := digestOf(crypto.SHA256, content)
	der, err := Sign(context.Background(), pki.signer(), digest, Options{})
	if err != nil {
		t.Fatal(err)
	}
	// A stand-in for a TimeStampToken: any DER value will do here.
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oidSignedData)
		b.AddASN1OctetString(bytes.Repeat([]byte{0xAB}, 300))
	})
	token := b.BytesOrPanic()
	other := encodeOctetString([]byte("second"))
	otherOID := asn1.ObjectIdentifier{1, 2, 3, 4}

	withTS, err := AddUnsignedAttribute(append(bytes.Clone(der), 0, 0, 0), oidAttrTimeStampToken, token)
	if err != nil {
		t.Fatal(err)
	}
	both, err := AddUnsignedAttribute(withTS, otherOID, other)
	if err != nil {
		t.Fatal(err)
	}
	for name, der := range map[string][]byte{"one": withTS, "two": both} {
		sd, err := Parse(der)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := sd.Verify(digest); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		want := 1
		if name == "two" {
			want = 2
		}
		if len(sd.UnsignedAttributes) != want {
			t.Fatalf("%s: %d unsigned attributes, want %d", name, len(sd.UnsignedAttributes), want)
		}
		var ts []Attribute
		for _, a := range sd.UnsignedAttributes {
			if a.Type.Equal(oidAttrTimeStampToken) {
				ts = append(ts, a)
			}
		}
		if len(ts) != 1 || len(ts[0].Values) != 1 || !bytes.Equal(ts[0].Values[0], token) {
			t.Errorf("%s: time-stamp attribute not found intact", name)
		}
		opensslVerify(t, openssl, der, content, pki.root)
	}
	// DER order: the shorter attribute (OID 1.2.3.4) sorts first.
	sd, _ := Parse(both)
	if !sd.UnsignedAttributes[0].Type.Equal(otherOID) {
		t.Error("unsigned attributes are not in DER order")
	}
	if _, err := AddUnsignedAttribute(der, otherOID, []byte{0x04, 0x05}); err == nil {
		t.Error("AddUnsignedAttribute accepted a truncated value")
	}
	if _, err := AddUnsignedAttribute(der[:len(der)-1], otherOID, other); err == nil {
		t.Error("AddUnsignedAttribute accepted a truncated SignedData")
	}
}

func TestParseErrors(t *testing.T) {
	pki := newPKI(t, testKeys()["p256"])
	digest := digestOf(crypto.SHA256, []byte("content"))
	der, err := Sign(context.Background(), pki.signer(), digest, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Parse(append(bytes.Clone(der), make([]byte, 100)...)); err != nil {
		t.Errorf("Parse with zero padding: %v", err)
	}
	tests := []struct {
		name string
		der  []byte
		want string
	}{
		{"empty", nil, "cms: malformed ContentInfo"},
		{"truncated", der[:len(der)-1], "cms: malformed ContentInfo"},
		{"trailing data", append(bytes.Clone(der), 1), "cms: trailing data after ContentInfo"},
		{"not signedData", contentInfoOf(t, oidData), "cms: content type 1.2.840.113549.1.7.1 is not signedData"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.der)
			if err == nil || err.Error() != tc.want {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}

	// A signing-certificate-v2 naming another certificate is rejected even
	// though the signature itself is good.
	alg, _ := newAlgorithm(pki.leaf.PublicKey, Options{})
	attrs, _ := SignedAttributes(digest, crypto.SHA256, pki.inter)
	sig, _ := pki.leafKey.Sign(rand.Reader, digestOf(crypto.SHA256, attrs), crypto.SHA256)
	badESS, err := build(pki.chain(), attrs, sig, alg)
	if err != nil {
		t.Fatal(err)
	}
	if sd, err := Parse(badESS); err != nil {
		t.Error(err)
	} else if err := sd.Verify(digest); err == nil || err.Error() != "cms: signing-certificate-v2 hash does not match the signer certificate" {
		t.Errorf("Verify with a foreign signing-certificate-v2: err = %v", err)
	}

	// A flipped signature byte parses but does not verify.
	sd, _ := Parse(der)
	sd.Signature[len(sd.Signature)/2] ^= 1
	if err := sd.Verify(digest); err == nil || !strings.HasPrefix(err.Error(), "cms: signature verification failed") {
		t.Errorf("Verify of a damaged signature: err = %v", err)
	}
}

// contentInfoOf encodes a ContentInfo of content type oid with an empty
// content.
func contentInfoOf(t *testing.T, oid asn1.ObjectIdentifier) []byte {
	t.Helper()
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oid)
		b.AddASN1(tagExplicit0, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {})
		})
	})
	return b.BytesOrPanic()
}

func FuzzParse(f *testing.F) {
	keys := testKeys()
	digest := digestOf(crypto.SHA256, []byte("fuzz"))
	for _, c := range []struct {
		key  string
		opts Options
	}{
		{"rsa", Options{}},
		{"rsa", Options{PSS: true}},
		{"p256", Options{}},
		{"p384", Options{Hash: crypto.SHA384}},
	} {
		pki := newPKI(f, keys[c.key])
		d := digestOf(c.opts.DigestAlgorithm(), []byte("fuzz"))
		der, err := Sign(context.Background(), pki.signer(), d, c.opts)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(der)
		ts, err := AddUnsignedAttribute(der, oidAttrTimeStampToken, encodeOctetString([]byte("token")))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(ts)
	}
	// Encapsulated content, with and without signed attributes, made by
	// github.com/digitorus/pkcs7.
	pki := newPKI(f, keys["p256"])
	for _, withAttrs := range []bool{true, false} {
		p7, err := pkcs7.NewSignedData([]byte("fuzz"))
		if err != nil {
			f.Fatal(err)
		}
		if withAttrs {
			err = p7.AddSigner(pki.leaf, pki.leafKey, pkcs7.SignerInfoConfig{})
		} else {
			err = p7.SignWithoutAttr(pki.leaf, pki.leafKey, pkcs7.SignerInfoConfig{})
		}
		if err != nil {
			f.Fatal(err)
		}
		der, err := p7.Finish()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(der)
	}
	f.Fuzz(func(t *testing.T, der []byte) {
		out, addErr := AddUnsignedAttribute(der, oidAttrTimeStampToken, encodeOctetString([]byte("x")))
		sd, err := Parse(der)
		if err != nil {
			return
		}
		_ = sd.Verify(digest)
		_ = sd.VerifyIntegrity(nil)
		_ = sd.CheckSigningCertificate()
		_ = sd.CheckContentType()
		_ = sd.SignatureTimeStampTokens()
		_, _ = sd.RevocationInfo()
		certs, err := ParseCertificates(der)
		if err != nil || len(certs) != len(sd.Certificates) {
			t.Fatalf("Parse accepts the input but ParseCertificates gives %d certificates, %v", len(certs), err)
		}
		if again, err := Parse(sd.Raw); err != nil || !bytes.Equal(again.Raw, sd.Raw) {
			t.Fatalf("Raw does not parse as itself: %v", err)
		}
		if addErr != nil {
			if !bytes.Equal(sd.Raw, der[:len(sd.Raw)]) {
				return // BER: AddUnsignedAttribute takes DER
			}
			t.Fatalf("Parse accepts the input but AddUnsignedAttribute fails: %v", addErr)
		}
		sd2, err := Parse(out)
		if err != nil {
			t.Fatalf("Parse after AddUnsignedAttribute: %v", err)
		}
		if len(sd2.UnsignedAttributes) != len(sd.UnsignedAttributes)+1 {
			t.Fatalf("AddUnsignedAttribute: %d unsigned attributes, want %d", len(sd2.UnsignedAttributes), len(sd.UnsignedAttributes)+1)
		}
	})
}

func FuzzParsePSSParams(f *testing.F) {
	for _, h := range []crypto.Hash{crypto.SHA256, crypto.SHA384, crypto.SHA512} {
		for _, salt := range []int{0, 20, h.Size()} {
			der, err := MarshalPSSParams(h, salt)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(der)
		}
	}
	f.Add([]byte{0x30, 0x00}) // the SHA-1 defaults
	f.Fuzz(func(t *testing.T, der []byte) {
		h, salt, err := ParsePSSParams(der)
		if err != nil {
			return
		}
		if salt < 0 || salt > 1024 || !h.Available() {
			t.Fatalf("ParsePSSParams gave %v, salt %d", h, salt)
		}
		if checkSigningHash(h) != nil {
			return
		}
		again, err := MarshalPSSParams(h, salt)
		if err != nil {
			t.Fatal(err)
		}
		if h2, salt2, err := ParsePSSParams(again); err != nil || h2 != h || salt2 != salt {
			t.Fatalf("round trip: %v %d %v, want %v %d", h2, salt2, err, h, salt)
		}
	})
}
