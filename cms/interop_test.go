package cms_test

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"math/big"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/digitorus/pkcs7"
	"github.com/digitorus/timestamp"

	"hashsign/cms"
	"hashsign/hashsvc/devtrust"
	"hashsign/internal/devpki"
	"hashsign/internal/testenv"
	"hashsign/ltv"
)

// interopEnv holds what the signatures of TestInterop are made with.
type interopEnv struct {
	pki     *devpki.PKI
	pkiDir  string // PEM files of pki
	openssl string
	tmp     string
	content []byte
	file    string // content, as a file

	edKey  ed25519.PrivateKey
	edCert *x509.Certificate

	tsa *httptest.Server // the dev TSA of hashsvc/devtrust
}

func newInteropEnv(t *testing.T) *interopEnv {
	t.Helper()
	e := &interopEnv{openssl: testenv.Need(t, "openssl", ""), pkiDir: devpki.DefaultDir(), tmp: t.TempDir()}
	var err error
	if e.pki, err = devpki.LoadOrGenerate(e.pkiDir, devpki.Options{}); err != nil {
		t.Fatal(err)
	}
	e.content = []byte("hashsign cms interoperability test\n")
	e.file = filepath.Join(e.tmp, "content.txt")
	if err := os.WriteFile(e.file, e.content, 0o600); err != nil {
		t.Fatal(err)
	}

	// An Ed25519 signer certificate from the intermediate CA.
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
		SerialNumber: big.NewInt(now.UnixNano()),
		Subject:      pkix.Name{CommonName: "hashsign Test Signer Ed25519", Organization: []string{devpki.Organization}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}, e.pki.Intermediate.Cert, pub, e.pki.Intermediate.Key)
	if err != nil {
		t.Fatal(err)
	}
	e.edKey = key
	if e.edCert, err = x509.ParseCertificate(der); err != nil {
		t.Fatal(err)
	}

	svc, err := devtrust.New(e.pki, devtrust.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e.tsa = httptest.NewServer(svc.Handler())
	t.Cleanup(e.tsa.Close)
	return e
}

// run runs openssl with args and returns its combined output.
func (e *interopEnv) run(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(e.openssl, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// opensslCMS returns a CMS signature of e.content by the devpki signer
// whose files are name.pem and name.key, made by openssl cms -sign with the
// extra args (detached unless they say -nodetach).
func (e *interopEnv) opensslCMS(t *testing.T, name string, args ...string) []byte {
	t.Helper()
	out := filepath.Join(e.tmp, "sig.der")
	e.run(t, append([]string{"cms", "-sign", "-binary", "-in", e.file, "-outform", "DER", "-out", out,
		"-signer", filepath.Join(e.pkiDir, name+".pem"), "-inkey", filepath.Join(e.pkiDir, name+".key"),
		"-certfile", filepath.Join(e.pkiDir, devpki.IntermediateCertFile)}, args...)...)
	der, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// pkcs7CMS returns a detached CMS signature of e.content made by
// github.com/digitorus/pkcs7 with digest algorithm digest and the extra
// signed attributes.
func (e *interopEnv) pkcs7CMS(t *testing.T, cert *x509.Certificate, key crypto.Signer, digest asn1.ObjectIdentifier, attrs ...pkcs7.Attribute) []byte {
	t.Helper()
	sd, err := pkcs7.NewSignedData(e.content)
	if err != nil {
		t.Fatal(err)
	}
	sd.SetDigestAlgorithm(digest)
	if err := sd.AddSigner(cert, key, pkcs7.SignerInfoConfig{ExtraSignedAttributes: attrs}); err != nil {
		t.Fatal(err)
	}
	sd.Detach()
	der, err := sd.Finish()
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// essV1 returns an ESS signing-certificate attribute (RFC 2634) naming
// cert by its SHA-1 hash.
func essV1(cert *x509.Certificate) pkcs7.Attribute {
	sum := sha1.Sum(cert.Raw)
	type essCertID struct{ CertHash []byte }
	return pkcs7.Attribute{
		Type:  oidESSv1,
		Value: struct{ Certs []essCertID }{[]essCertID{{sum[:]}}},
	}
}

// devtrustToken returns a time-stamp token of the dev TSA over the h hash
// of e.content, fetched by the ltv client.
func (e *interopEnv) devtrustToken(t *testing.T, h crypto.Hash) []byte {
	t.Helper()
	tok, err := (&ltv.TSAClient{URLs: []string{e.tsa.URL + devtrust.TSAPath}}).Timestamp(t.Context(), cms.Digest(h, e.content), h)
	if err != nil {
		t.Fatal(err)
	}
	return tok.DER
}

// opensslToken returns a time-stamp token over the SHA-256 hash of
// e.content made by openssl ts -reply with the dev PKI's TSA, whose ESS
// attribute uses essHash: sha1 gives signing-certificate (v1), others
// signing-certificate-v2.
func (e *interopEnv) opensslToken(t *testing.T, essHash string) []byte {
	t.Helper()
	dir := t.TempDir()
	conf := fmt.Sprintf(`[tsa]
default_tsa = tsa1
[tsa1]
serial = %s
crypto_device = builtin
signer_cert = %s
signer_key = %s
certs = %s
signer_digest = sha256
default_policy = 1.3.6.1.4.1.32473.1.2
digests = sha256, sha384, sha512
accuracy = secs:1
ess_cert_id_alg = %s
`, filepath.Join(dir, "serial"), filepath.Join(e.pkiDir, devpki.TSACertFile), filepath.Join(e.pkiDir, devpki.TSAKeyFile),
		filepath.Join(e.pkiDir, devpki.IntermediateCertFile), essHash)
	if err := os.WriteFile(filepath.Join(dir, "serial"), []byte("01\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ts.cnf"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	query, token := filepath.Join(dir, "q.tsq"), filepath.Join(dir, "token.der")
	e.run(t, "ts", "-query", "-data", e.file, "-sha256", "-cert", "-out", query)
	e.run(t, "ts", "-reply", "-config", filepath.Join(dir, "ts.cnf"), "-queryfile", query, "-token_out", "-out", token)
	der, err := os.ReadFile(token)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestInterop(t *testing.T) {
	e := newInteropEnv(t)
	sha256Of := func(*interopEnv) []byte { return cms.Digest(crypto.SHA256, e.content) }
	sha512Of := func(*interopEnv) []byte { return cms.Digest(crypto.SHA512, e.content) }
	sha1Of := func(*interopEnv) []byte { return cms.Digest(crypto.SHA1, e.content) }
	encapsulated := func(*interopEnv) []byte { return nil }
	noESS := "cms: no ESS signing-certificate-v2 or signing-certificate attribute"
	token := func(t *testing.T, sd *cms.SignedData) {
		if !sd.ContentType.Equal(cms.OIDTSTInfo()) || len(sd.Content) == 0 {
			t.Errorf("content type %v with %d bytes of content, want a TSTInfo", sd.ContentType, len(sd.Content))
		}
		if err := sd.CheckContentType(); err != nil {
			t.Errorf("CheckContentType: %v", err)
		}
		if err := sd.CheckSigningCertificate(); err != nil {
			t.Errorf("CheckSigningCertificate: %v", err)
		}
		ts, err := timestamp.Parse(sd.Raw) // an independent reading of the TSTInfo
		if err != nil {
			t.Fatalf("timestamp.Parse: %v", err)
		}
		if !bytes.Equal(ts.HashedMessage, cms.Digest(ts.HashAlgorithm, e.content)) {
			t.Errorf("the token's imprint is not the hash of the content")
		}
	}

	type row struct {
		name   string
		make   func(*testing.T) []byte
		digest func(*interopEnv) []byte // nil result: the encapsulated content's
		check  func(*testing.T, *cms.SignedData)
		// the errors VerifyIntegrity and CheckPAdES must return, "" for none
		integrity, pades string
	}
	// pssRow is a signature by openssl cms with RSASSA-PSS, hash h and
	// salt length salt.
	pssRow := func(h crypto.Hash, salt int) row {
		md := map[crypto.Hash]string{crypto.SHA256: "sha256", crypto.SHA512: "sha512"}[h]
		return row{
			name: fmt.Sprintf("openssl cms RSASSA-PSS %s salt %d", md, salt),
			make: func(t *testing.T) []byte {
				return e.opensslCMS(t, "signer-rsa", "-md", md, "-keyopt", "rsa_padding_mode:pss", "-keyopt", fmt.Sprintf("rsa_pss_saltlen:%d", salt))
			},
			digest: func(*interopEnv) []byte { return cms.Digest(h, e.content) },
			check:  algorithms(h, map[crypto.Hash]x509.SignatureAlgorithm{crypto.SHA256: x509.SHA256WithRSAPSS, crypto.SHA512: x509.SHA512WithRSAPSS}[h], salt),
			pades:  noESS,
		}
	}
	for _, tt := range []row{
		pssRow(crypto.SHA256, 0), pssRow(crypto.SHA256, 20), pssRow(crypto.SHA256, 32), pssRow(crypto.SHA512, 64), {
			name:   "openssl cms RSA without signed attributes",
			make:   func(t *testing.T) []byte { return e.opensslCMS(t, "signer-rsa", "-md", "sha256", "-noattr") },
			digest: sha256Of,
			check: func(t *testing.T, sd *cms.SignedData) {
				if sd.RawSignedAttributes != nil || sd.MessageDigest != nil {
					t.Error("signed attributes found")
				}
			},
			pades: "cms: the SignerInfo has no signed attributes",
		}, {
			name:   "openssl cms P-256 without signed attributes",
			make:   func(t *testing.T) []byte { return e.opensslCMS(t, "signer-p256", "-md", "sha384", "-noattr") },
			digest: func(*interopEnv) []byte { return cms.Digest(crypto.SHA384, e.content) },
			pades:  "cms: the SignerInfo has no signed attributes",
		}, {
			name:   "openssl cms RSA SHA-1",
			make:   func(t *testing.T) []byte { return e.opensslCMS(t, "signer-rsa", "-md", "sha1") },
			digest: sha1Of,
			check:  algorithms(crypto.SHA1, x509.SHA1WithRSA, 0),
			pades:  noESS,
		}, {
			// adbe.pkcs7.sha1: the SignedData encapsulates the SHA-1 hash of
			// the byte range.
			name: "openssl cms adbe.pkcs7.sha1",
			make: func(t *testing.T) []byte {
				sum := sha1.Sum(e.content)
				e2 := *e
				e2.content, e2.file = sum[:], filepath.Join(t.TempDir(), "sha1.bin")
				if err := os.WriteFile(e2.file, sum[:], 0o600); err != nil {
					t.Fatal(err)
				}
				return e2.opensslCMS(t, "signer-p256", "-md", "sha1", "-nodetach")
			},
			digest: encapsulated,
			check: func(t *testing.T, sd *cms.SignedData) {
				if sum := sha1.Sum(e.content); !bytes.Equal(sd.Content, sum[:]) || !sd.ContentType.Equal(cms.OIDData()) {
					t.Errorf("content %x of type %v, want the SHA-1 hash of the document as id-data", sd.Content, sd.ContentType)
				}
			},
			pades: "cms: the SignedData encapsulates its content; a PDF signature must be detached",
		}, {
			name:   "openssl cms P-256 streamed (BER)",
			make:   func(t *testing.T) []byte { return e.opensslCMS(t, "signer-p256", "-md", "sha256", "-stream") },
			digest: encapsulated,
			check: func(t *testing.T, sd *cms.SignedData) {
				if !bytes.Equal(sd.Content, e.content) {
					t.Errorf("content %q, want %q", sd.Content, e.content)
				}
				if again, err := cms.Parse(sd.Raw); err != nil || !bytes.Equal(again.Raw, sd.Raw) || again.VerifyIntegrity(nil) != nil {
					t.Errorf("Raw, the DER re-encoding, does not parse as itself and verify: %v", err)
				}
			},
			pades: "cms: the SignedData encapsulates its content",
		}, {
			name: "pkcs7 Ed25519",
			make: func(t *testing.T) []byte {
				return e.pkcs7CMS(t, e.edCert, e.edKey, pkcs7.OIDDigestAlgorithmSHA512)
			},
			digest: sha512Of,
			check:  algorithms(crypto.SHA512, x509.PureEd25519, 0),
			pades:  noESS,
		}, {
			// ESS v1 passes; the next requirement, no signing-time, fails.
			name: "pkcs7 RSA with ESS signing-certificate v1",
			make: func(t *testing.T) []byte {
				return e.pkcs7CMS(t, e.pki.SignerRSA.Cert, e.pki.SignerRSA.Key, pkcs7.OIDDigestAlgorithmSHA256, essV1(e.pki.SignerRSA.Cert))
			},
			digest: sha256Of,
			check: func(t *testing.T, sd *cms.SignedData) {
				if !hasAttribute(sd, oidESSv1) || hasAttribute(sd, oidESSv2) {
					t.Error("not signing-certificate v1 alone")
				}
				if err := sd.CheckSigningCertificate(); err != nil {
					t.Errorf("CheckSigningCertificate: %v", err)
				}
			},
			pades: "cms: signing-time attribute present",
		}, {
			name: "pkcs7 RSA with ESS signing-certificate v1 of another certificate",
			make: func(t *testing.T) []byte {
				return e.pkcs7CMS(t, e.pki.SignerRSA.Cert, e.pki.SignerRSA.Key, pkcs7.OIDDigestAlgorithmSHA256, essV1(e.pki.Intermediate.Cert))
			},
			digest: sha256Of,
			pades:  "cms: signing-certificate hash does not match the signer certificate",
		}, {
			name:   "dev TSA token SHA-256",
			make:   func(t *testing.T) []byte { return e.devtrustToken(t, crypto.SHA256) },
			digest: encapsulated, check: token,
			pades: "cms: the encapsulated content type is 1.2.840.113549.1.9.16.1.4, not id-data",
		}, {
			name:   "dev TSA token SHA-512",
			make:   func(t *testing.T) []byte { return e.devtrustToken(t, crypto.SHA512) },
			digest: encapsulated, check: token,
			pades: "cms: the encapsulated content type is 1.2.840.113549.1.9.16.1.4, not id-data",
		}, {
			name:   "openssl ts token with ESS signing-certificate v1",
			make:   func(t *testing.T) []byte { return e.opensslToken(t, "sha1") },
			digest: encapsulated,
			check: func(t *testing.T, sd *cms.SignedData) {
				if !hasAttribute(sd, oidESSv1) || hasAttribute(sd, oidESSv2) {
					t.Error("not signing-certificate v1 alone")
				}
				token(t, sd)
			},
			pades: "cms: the encapsulated content type is 1.2.840.113549.1.9.16.1.4, not id-data",
		}, {
			name:   "openssl ts token with ESS signing-certificate-v2",
			make:   func(t *testing.T) []byte { return e.opensslToken(t, "sha256") },
			digest: encapsulated,
			check: func(t *testing.T, sd *cms.SignedData) {
				if hasAttribute(sd, oidESSv1) || !hasAttribute(sd, oidESSv2) {
					t.Error("not signing-certificate-v2 alone")
				}
				token(t, sd)
			},
			pades: "cms: the encapsulated content type is 1.2.840.113549.1.9.16.1.4, not id-data",
		}} {
		t.Run(tt.name, func(t *testing.T) {
			der := tt.make(t)
			if strings.Contains(tt.name, "BER") && (len(der) < 2 || der[1] != 0x80) {
				t.Fatalf("the input is not BER with an indefinite length: %x", der[:min(len(der), 8)])
			}
			sd, err := cms.Parse(der)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if tt.check != nil {
				tt.check(t, sd)
			}
			digest := tt.digest(e)
			checkErr(t, "VerifyIntegrity", sd.VerifyIntegrity(digest), tt.integrity)
			checkErr(t, "CheckPAdES", sd.CheckPAdES(), tt.pades)
			verifyErr := sd.Verify(digest)
			if (verifyErr == nil) != (tt.integrity == "" && tt.pades == "") {
				t.Errorf("Verify: %v", verifyErr)
			}

			// What integrity guards: the content and the signature value.
			if digest != nil {
				other := bytes.Clone(digest)
				other[0] ^= 1
				if sd.VerifyIntegrity(other) == nil {
					t.Error("VerifyIntegrity accepted another content digest")
				}
			} else {
				changed, _ := cms.Parse(der)
				changed.Content[len(changed.Content)-1] ^= 1
				if changed.VerifyIntegrity(nil) == nil {
					t.Error("VerifyIntegrity accepted altered encapsulated content")
				}
			}
			sd.Signature[len(sd.Signature)/2] ^= 1
			if sd.VerifyIntegrity(digest) == nil {
				t.Error("VerifyIntegrity accepted an altered signature value")
			}
		})
	}
}

// algorithms returns a check that a SignedData has digest algorithm h,
// signature algorithm alg and, for RSASSA-PSS, salt length salt.
func algorithms(h crypto.Hash, alg x509.SignatureAlgorithm, salt int) func(*testing.T, *cms.SignedData) {
	return func(t *testing.T, sd *cms.SignedData) {
		if sd.DigestAlgorithm != h || sd.SignatureAlgorithm != alg || sd.PSSSaltLength != salt {
			t.Errorf("algorithms %v, %v, salt %d; want %v, %v, salt %d", sd.DigestAlgorithm, sd.SignatureAlgorithm, sd.PSSSaltLength, h, alg, salt)
		}
	}
}

// The ESS signing-certificate attributes, v1 (RFC 2634) and v2 (RFC 5035).
var (
	oidESSv1 = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 12}
	oidESSv2 = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 47}
)

// hasAttribute reports whether sd has a signed attribute of type oid.
func hasAttribute(sd *cms.SignedData, oid asn1.ObjectIdentifier) bool {
	for _, a := range sd.SignedAttributes {
		if a.Type.Equal(oid) {
			return true
		}
	}
	return false
}

// checkErr checks that err is nil when want is empty, and otherwise that
// its text starts with want.
func checkErr(t *testing.T, what string, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Errorf("%s: %v", what, err)
	case want != "" && (err == nil || !strings.HasPrefix(err.Error(), want)):
		t.Errorf("%s: %v, want %q", what, err, want)
	}
}
