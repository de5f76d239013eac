package ltv

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/digitorus/timestamp"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"hashsign/cms"
	"hashsign/hashsvc/devtrust"
	"hashsign/internal/devpki"
	"hashsign/internal/testenv"
	"hashsign/signer"
)

// tsaService is a time-stamping authority to test against.
type tsaService struct {
	url      string
	root     *x509.Certificate
	inter    *x509.Certificate
	signerCN string
}

// openSSLTSA returns the OpenSSL TSA of the trust services.
func openSSLTSA(t *testing.T) tsaService {
	env := openSSLEnv(t)
	return tsaService{
		url:      env["TSA_URL"],
		root:     readCert(t, env["ROOT"]),
		inter:    readCert(t, env["INTER"]),
		signerCN: "Test tsa",
	}
}

// devtrustTSA returns the TSA of the shared devtrust environment.
func devtrustTSA(t *testing.T) tsaService {
	e := sharedDevEnv(t)
	return tsaService{
		url:      e.url + devtrust.TSAPath,
		root:     e.pki.Root.Cert,
		inter:    e.pki.Intermediate.Cert,
		signerCN: devpki.TSACN,
	}
}

func TestTimestamp(t *testing.T) {
	for _, svc := range []struct {
		name string
		get  func(*testing.T) tsaService
	}{
		{"openssl", openSSLTSA},
		{"devtrust", devtrustTSA},
	} {
		for _, h := range []crypto.Hash{crypto.SHA256, crypto.SHA384, crypto.SHA512} {
			t.Run(svc.name+"/"+h.String(), func(t *testing.T) {
				s := svc.get(t)
				roots := x509.NewCertPool()
				roots.AddCert(s.root)
				client := &TSAClient{URLs: []string{s.url}, Roots: roots}
				digest := cms.Digest(h, []byte("hashsign ltv test "+t.Name()))
				before := time.Now().Add(-2 * time.Second)
				tok, err := client.Timestamp(context.Background(), digest, h)
				if err != nil {
					t.Fatalf("Timestamp: %v", err)
				}
				checkToken(t, tok, s, h, digest, before)
				if tok.TSAURL != s.url {
					t.Errorf("TSAURL = %q, want %q", tok.TSAURL, s.url)
				}
				if tok.Nonce == nil || tok.Nonce.Sign() <= 0 || tok.Nonce.BitLen() > 64 {
					t.Errorf("Nonce = %v, want a positive 64-bit number", tok.Nonce)
				}

				parsed, err := ParseToken(tok.DER)
				if err != nil {
					t.Fatalf("ParseToken: %v", err)
				}
				checkToken(t, parsed, s, h, digest, before)
				if parsed.Serial.Cmp(tok.Serial) != 0 || !parsed.GenTime.Equal(tok.GenTime) || parsed.Nonce.Cmp(tok.Nonce) != 0 {
					t.Errorf("ParseToken: serial %v, time %v, nonce %v; Timestamp gave %v, %v, %v",
						parsed.Serial, parsed.GenTime, parsed.Nonce, tok.Serial, tok.GenTime, tok.Nonce)
				}
				if parsed.TSAURL != "" {
					t.Errorf("ParseToken: TSAURL = %q, want empty", parsed.TSAURL)
				}
				opensslVerifyToken(t, tok.DER, digest, s.root, s.inter)
			})
		}
	}
}

// checkToken checks the fields of a token from s over digest.
func checkToken(t *testing.T, tok *Token, s tsaService, h crypto.Hash, digest []byte, before time.Time) {
	t.Helper()
	if tok.Hash != h || !bytes.Equal(tok.Imprint, digest) {
		t.Errorf("imprint = %v %x, want %v %x", tok.Hash, tok.Imprint, h, digest)
	}
	if tok.Signer == nil || tok.Signer.Subject.CommonName != s.signerCN {
		t.Fatalf("Signer = %v, want CN %q", tok.Signer, s.signerCN)
	}
	if !slices.ContainsFunc(tok.Certificates, s.inter.Equal) || !slices.Contains(tok.Certificates, tok.Signer) {
		t.Errorf("Certificates lack the TSA or intermediate certificate")
	}
	if tok.GenTime.Before(before.Truncate(time.Second)) || tok.GenTime.After(time.Now().Add(2*time.Second)) {
		t.Errorf("GenTime = %v, want about %v", tok.GenTime, time.Now())
	}
	if tok.Serial == nil || tok.Serial.Sign() <= 0 {
		t.Errorf("Serial = %v", tok.Serial)
	}
	if len(tok.Policy) == 0 {
		t.Errorf("no Policy")
	}
}

// opensslVerifyToken verifies a token with `openssl ts -verify`, when
// openssl is installed.
func opensslVerifyToken(t *testing.T, token, digest []byte, root, inter *x509.Certificate) {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil && !testenv.InCI() {
		t.Log("openssl is not installed: token not verified with it")
		return
	}
	testenv.Need(t, "openssl", "")
	dir := t.TempDir()
	files := map[string][]byte{
		"token.der": token,
		"root.pem":  pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: root.Raw}),
		"inter.pem": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: inter.Raw}),
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	out, err := exec.Command("openssl", "ts", "-verify", "-digest", hex.EncodeToString(digest), "-token_in",
		"-in", filepath.Join(dir, "token.der"), "-CAfile", filepath.Join(dir, "root.pem"),
		"-untrusted", filepath.Join(dir, "inter.pem")).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Verification: OK") {
		t.Errorf("openssl ts -verify: %v\n%s", err, out)
	}
}

// tsaFront starts a TSA that forwards each request to the TSA at target,
// after editReq changed it, and answers with the reply, after editResp
// changed it. It returns the front's URL.
func tsaFront(t *testing.T, target string, editReq func(*timestamp.Request), editResp func([]byte) []byte) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if editReq != nil {
			req, err := timestamp.ParseRequest(body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			editReq(req)
			if body, err = req.Marshal(); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
		}
		resp, err := http.Post(target, r.Header.Get("Content-Type"), bytes.NewReader(body))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		out, err := io.ReadAll(resp.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		if editResp != nil {
			out = editResp(bytes.Clone(out))
		}
		w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
		w.WriteHeader(resp.StatusCode)
		w.Write(out)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/"
}

// staticServer starts a server that answers every request with status,
// Content-Type ctype and body.
func staticServer(t *testing.T, status int, ctype, body string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", ctype)
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/"
}

func TestTimestampFailures(t *testing.T) {
	e := sharedDevEnv(t)
	tsaURL := e.url + devtrust.TSAPath
	tsaName := q(fmt.Sprintf("%q", "CN="+devpki.TSACN+",O="+devpki.Organization))
	digest := sha256.Sum256([]byte("hashsign ltv failures"))

	tests := []struct {
		name  string
		setup func(t *testing.T) (c *TSAClient, want string)
		check func(t *testing.T, tok *Token, err error)
	}{{
		name: "TSA down",
		setup: func(t *testing.T) (*TSAClient, string) {
			down := closedURL(t) + "/"
			return &TSAClient{URLs: []string{down}}, q("ltv: TSA "+down+": POST: ") + refused(down)
		},
	}, {
		name: "first TSA down, second works",
		setup: func(t *testing.T) (*TSAClient, string) {
			return &TSAClient{URLs: []string{closedURL(t), tsaURL}}, ""
		},
		check: func(t *testing.T, tok *Token, err error) {
			if tok.TSAURL != tsaURL {
				t.Errorf("TSAURL = %q, want the second TSA %q", tok.TSAURL, tsaURL)
			}
		},
	}, {
		name: "every TSA down",
		setup: func(t *testing.T) (*TSAClient, string) {
			a, b := closedURL(t), closedURL(t)
			return &TSAClient{URLs: []string{a, b}},
				q("ltv: no time-stamp from 2 TSAs: TSA "+a+": POST: ") + refused(a) + q("; TSA "+b+": POST: ") + refused(b)
		},
	}, {
		name: "wrong nonce",
		setup: func(t *testing.T) (*TSAClient, string) {
			u := tsaFront(t, tsaURL, func(r *timestamp.Request) { r.Nonce.Add(r.Nonce, big.NewInt(1)) }, nil)
			return &TSAClient{URLs: []string{u}},
				q("ltv: TSA "+u+": time-stamp token nonce ") + "0x[0-9a-f]+" + q(" does not match the request's ") + "0x[0-9a-f]+"
		},
	}, {
		name: "nonce left out",
		setup: func(t *testing.T) (*TSAClient, string) {
			u := tsaFront(t, tsaURL, func(r *timestamp.Request) { r.Nonce = nil }, nil)
			return &TSAClient{URLs: []string{u}}, q("ltv: TSA " + u + ": time-stamp token has no nonce; the request had one")
		},
	}, {
		name: "wrong imprint",
		setup: func(t *testing.T) (*TSAClient, string) {
			u := tsaFront(t, tsaURL, func(r *timestamp.Request) { r.HashedMessage[0] ^= 1 }, nil)
			wrong := bytes.Clone(digest[:])
			wrong[0] ^= 1
			return &TSAClient{URLs: []string{u}},
				q(fmt.Sprintf("ltv: TSA %s: time-stamp token imprint (SHA-256 %x) does not match the request (SHA-256 %x)", u, wrong, digest))
		},
	}, {
		name: "wrong imprint algorithm",
		setup: func(t *testing.T) (*TSAClient, string) {
			u := tsaFront(t, tsaURL, func(r *timestamp.Request) {
				r.HashAlgorithm = crypto.SHA512
				r.HashedMessage = cms.Digest(crypto.SHA512, r.HashedMessage)
			}, nil)
			return &TSAClient{URLs: []string{u}},
				q("ltv: TSA "+u+": time-stamp token imprint (SHA-512 ") + "[0-9a-f]{128}" + q(fmt.Sprintf(") does not match the request (SHA-256 %x)", digest))
		},
	}, {
		name: "token signature altered",
		setup: func(t *testing.T) (*TSAClient, string) {
			// The signature value ends the token, which ends the reply.
			u := tsaFront(t, tsaURL, nil, func(b []byte) []byte { b[len(b)-1] ^= 1; return b })
			return &TSAClient{URLs: []string{u}},
				q("ltv: TSA "+u+": time-stamp token: signed by ") + tsaName + q(": cms: signature verification failed: crypto/rsa: verification error")
		},
	}, {
		name: "no certificate in the token",
		setup: func(t *testing.T) (*TSAClient, string) {
			u := tsaFront(t, tsaURL, func(r *timestamp.Request) { r.Certificates = false }, nil)
			return &TSAClient{URLs: []string{u}}, q("ltv: TSA " + u + ": time-stamp token: the TSA certificate is not included in the token")
		},
	}, {
		name: "TSA certificate without critical timeStamping EKU",
		setup: func(t *testing.T) (*TSAClient, string) {
			p := *e.pki
			p.TSA = issueWithKey(t, e.pki.Intermediate, &x509.Certificate{
				Subject:     testName(devpki.TSACN),
				KeyUsage:    x509.KeyUsageDigitalSignature,
				ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping}, // not critical
			}, e.pki.TSA.Key)
			svc, err := devtrust.New(&p, devtrust.Options{})
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(svc.Handler())
			t.Cleanup(srv.Close)
			u := srv.URL + devtrust.TSAPath
			return &TSAClient{URLs: []string{u}},
				q("ltv: TSA "+u+": TSA certificate ") + tsaName + q(": the timeStamping extended key usage extension is not marked critical")
		},
	}, {
		name: "TSA certificate with another EKU",
		setup: func(t *testing.T) (*TSAClient, string) {
			p := *e.pki
			p.TSA = issueWithKey(t, e.pki.Intermediate, &x509.Certificate{
				Subject:     testName(devpki.TSACN),
				KeyUsage:    x509.KeyUsageDigitalSignature,
				ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping, x509.ExtKeyUsageCodeSigning},
			}, e.pki.TSA.Key)
			svc, err := devtrust.New(&p, devtrust.Options{})
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(svc.Handler())
			t.Cleanup(srv.Close)
			u := srv.URL + devtrust.TSAPath
			return &TSAClient{URLs: []string{u}},
				q("ltv: TSA "+u+": TSA certificate ") + tsaName + q(" has extended key usages [1.3.6.1.5.5.7.3.8 1.3.6.1.5.5.7.3.3], want id-kp-timeStamping alone")
		},
	}, {
		name: "TSA certificate from another root",
		setup: func(t *testing.T) (*TSAClient, string) {
			other := issue(t, nil, &x509.Certificate{Subject: testName("Other Root"), IsCA: true, KeyUsage: x509.KeyUsageCertSign})
			roots := x509.NewCertPool()
			roots.AddCert(other.Cert)
			return &TSAClient{URLs: []string{tsaURL}, Roots: roots},
				q("ltv: TSA "+tsaURL+": TSA certificate ") + tsaName + q(": x509: certificate signed by unknown authority") + ".*"
		},
	}, {
		name: "request refused",
		setup: func(t *testing.T) (*TSAClient, string) {
			return &TSAClient{URLs: []string{tsaURL}, Policy: asn1.ObjectIdentifier{1, 2, 3, 4}},
				q(fmt.Sprintf(`ltv: TSA %s: time-stamp request refused with status rejection (unacceptedPolicy): "unsupported policy 1.2.3.4; this TSA uses %v"`,
					tsaURL, devtrust.DefaultPolicy()))
		},
		check: func(t *testing.T, tok *Token, err error) {
			te, ok := errors.AsType[*TSAError](err)
			if !ok || te.Status != 2 || !slices.Equal(te.FailInfo, []string{"unacceptedPolicy"}) {
				t.Errorf("error %#v, want a *TSAError with status 2 and failure unacceptedPolicy", err)
			}
		},
	}, {
		name: "requested policy",
		setup: func(t *testing.T) (*TSAClient, string) {
			return &TSAClient{URLs: []string{tsaURL}, Policy: devtrust.DefaultPolicy()}, ""
		},
		check: func(t *testing.T, tok *Token, err error) {
			if !tok.Policy.Equal(devtrust.DefaultPolicy()) {
				t.Errorf("Policy = %v, want %v", tok.Policy, devtrust.DefaultPolicy())
			}
		},
	}, {
		name: "HTTP error",
		setup: func(t *testing.T) (*TSAClient, string) {
			u := staticServer(t, http.StatusServiceUnavailable, "text/plain; charset=utf-8", "TSA overloaded\n")
			return &TSAClient{URLs: []string{u}}, q(`ltv: TSA ` + u + `: POST: HTTP status 503 Service Unavailable ("TSA overloaded")`)
		},
	}, {
		name: "wrong Content-Type",
		setup: func(t *testing.T) (*TSAClient, string) {
			u := staticServer(t, http.StatusOK, "text/html; charset=utf-8", "<html></html>")
			return &TSAClient{URLs: []string{u}},
				q(`ltv: TSA ` + u + `: POST: response Content-Type is "text/html; charset=utf-8", want application/timestamp-reply`)
		},
	}, {
		name: "malformed reply",
		setup: func(t *testing.T) (*TSAClient, string) {
			u := staticServer(t, http.StatusOK, timestampReplyType, "\x30\x03\x02\x01")
			return &TSAClient{URLs: []string{u}}, q(`ltv: TSA `+u+`: malformed TimeStampResp: asn1: `) + ".*"
		},
	}, {
		name: "basic authentication",
		setup: func(t *testing.T) (*TSAClient, string) {
			return &TSAClient{URLs: []string{basicAuthFront(t, tsaURL)}, Username: "alice", Password: "s3cret"}, ""
		},
	}, {
		name: "basic authentication missing",
		setup: func(t *testing.T) (*TSAClient, string) {
			u := basicAuthFront(t, tsaURL)
			return &TSAClient{URLs: []string{u}}, q(`ltv: TSA ` + u + `: POST: HTTP status 401 Unauthorized ("bad credentials")`)
		},
	}, {
		name: "no URL",
		setup: func(t *testing.T) (*TSAClient, string) {
			return &TSAClient{}, q("ltv: no time-stamping authority URL")
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, want := tt.setup(t)
			tok, err := c.Timestamp(context.Background(), digest[:], crypto.SHA256)
			checkErr(t, err, want)
			if err == nil && (tok.Hash != crypto.SHA256 || !bytes.Equal(tok.Imprint, digest[:])) {
				t.Errorf("token imprint %v %x, want SHA-256 %x", tok.Hash, tok.Imprint, digest)
			}
			if tt.check != nil {
				tt.check(t, tok, err)
			}
		})
	}
}

// basicAuthFront starts a TSA front that requires the user alice with the
// password s3cret.
func basicAuthFront(t *testing.T, target string) string {
	t.Helper()
	front := tsaFront(t, target, nil, nil)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "alice" || p != "s3cret" {
			http.Error(w, "bad credentials", http.StatusUnauthorized)
			return
		}
		r2, err := http.NewRequestWithContext(r.Context(), http.MethodPost, front, r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		r2.Header.Set("Content-Type", r.Header.Get("Content-Type"))
		resp, err := http.DefaultClient.Do(r2)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestTimestampArguments(t *testing.T) {
	c := &TSAClient{URLs: []string{"http://127.0.0.1:1/"}}
	for _, tt := range []struct {
		name   string
		digest []byte
		h      crypto.Hash
		want   string
	}{
		{"short digest", []byte{1, 2, 3}, crypto.SHA256, "ltv: time-stamping a 3-byte digest, want 32 bytes for SHA-256"},
		{"SHA-1", make([]byte, 20), crypto.SHA1, "ltv: time-stamping with unsupported hash SHA-1; use SHA-256, SHA-384 or SHA-512"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.Timestamp(context.Background(), tt.digest, tt.h)
			checkErr(t, err, q(tt.want))
		})
	}

	t.Run("canceled context", func(t *testing.T) {
		e := sharedDevEnv(t)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		u := e.url + devtrust.TSAPath
		c := &TSAClient{URLs: []string{u, u}}
		_, err := c.Timestamp(ctx, make([]byte, 32), crypto.SHA256)
		checkErr(t, err, q("ltv: TSA "+u+": POST: context canceled"))
		if !errors.Is(err, context.Canceled) {
			t.Errorf("error does not wrap context.Canceled")
		}
	})
}

func TestParseTokenEncodings(t *testing.T) {
	e := sharedDevEnv(t)
	digest := sha256.Sum256([]byte("ParseToken encodings"))
	tok, err := (&TSAClient{URLs: []string{e.url + devtrust.TSAPath}}).Timestamp(context.Background(), digest[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	// The same token in BER: indefinite lengths and long OCTET STRINGs
	// split in two segments.
	ber := toBER(t, tok.DER)
	if bytes.Equal(ber, tok.DER) || ber[1] != 0x80 {
		t.Fatal("toBER did not change the encoding")
	}

	for _, tt := range []struct {
		name string
		der  []byte
	}{
		{"DER", tok.DER},
		{"DER with placeholder padding", append(bytes.Clone(tok.DER), make([]byte, 100)...)},
		{"BER", ber},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseToken(tt.der)
			if err != nil {
				t.Fatalf("ParseToken: %v", err)
			}
			if got.Serial.Cmp(tok.Serial) != 0 || !bytes.Equal(got.Imprint, digest[:]) {
				t.Errorf("serial %v, imprint %x; want %v, %x", got.Serial, got.Imprint, tok.Serial, digest)
			}
			if !bytes.Equal(got.DER, tok.DER) {
				t.Errorf("DER is not the DER token")
			}
		})
	}
}

// toBER re-encodes DER with indefinite lengths for every constructed
// element and constructed OCTET STRINGs of two segments for those longer
// than 16 bytes.
func toBER(t *testing.T, der []byte) []byte {
	t.Helper()
	var out []byte
	in := cryptobyte.String(der)
	for !in.Empty() {
		var elem, content cryptobyte.String
		var tag cbasn1.Tag
		if !in.ReadAnyASN1Element(&elem, &tag) || !elem.ReadAnyASN1(&content, &tag) {
			t.Fatal("toBER: malformed DER")
		}
		switch {
		case tag&0x20 != 0:
			out = append(out, byte(tag), 0x80)
			out = append(out, toBER(t, content)...)
			out = append(out, 0, 0)
		case tag == cbasn1.OCTET_STRING && len(content) > 16:
			out = append(out, 0x24, 0x80)
			out = append(out, derTLV(0x04, content[:16])...)
			out = append(out, derTLV(0x04, content[16:])...)
			out = append(out, 0, 0)
		default:
			out = append(out, derTLV(byte(tag), content)...)
		}
	}
	return out
}

// derTLV encodes a DER element with a definite length.
func derTLV(tag byte, content []byte) []byte {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.Tag(tag), func(b *cryptobyte.Builder) { b.AddBytes(content) })
	return b.BytesOrPanic()
}

func TestParseTokenErrors(t *testing.T) {
	e := sharedDevEnv(t)
	digest := sha256.Sum256([]byte("ParseToken"))
	tok, err := (&TSAClient{URLs: []string{e.url + devtrust.TSAPath}}).Timestamp(context.Background(), digest[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	sd, err := cms.Parse(tok.DER)
	if err != nil {
		t.Fatal(err)
	}
	at := bytes.Index(tok.DER, sd.Content)
	tamperedInfo := bytes.Clone(tok.DER)
	tamperedInfo[at+len(sd.Content)-1] ^= 1 // in the last TSTInfo field

	for _, tt := range []struct {
		name string
		der  []byte
		want string
	}{
		{"empty", nil, "ltv: time-stamp token: cms: malformed ContentInfo"},
		{"trailing data", append(bytes.Clone(tok.DER), 0, 1), "ltv: time-stamp token: cms: trailing data after ContentInfo"},
		{"TSTInfo altered", tamperedInfo, `ltv: time-stamp token: signed by "CN=` + devpki.TSACN + `,O=` + devpki.Organization + `": cms: message-digest attribute does not match the content digest`},
		{"a CMS signature", signedCMS(t, e.pki.SignerRSA, cms.Options{}), "ltv: time-stamp token: encapsulated content type 1.2.840.113549.1.7.1 is not id-ct-TSTInfo"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseToken(tt.der)
			checkErr(t, err, q(tt.want))
		})
	}
}

// signedCMS returns a detached CMS signature by id over a fixed digest.
func signedCMS(t *testing.T, id *devpki.Identity, opts cms.Options) []byte {
	t.Helper()
	s, err := signer.New(id.Key, []*x509.Certificate{id.Cert})
	if err != nil {
		t.Fatal(err)
	}
	der, err := cms.Sign(context.Background(), s, cms.Digest(opts.DigestAlgorithm(), []byte("document")), opts)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestSignatureTimestamp(t *testing.T) {
	for _, tt := range []struct {
		name string
		tsa  func(*testing.T) tsaService
		id   func(*devpki.PKI) *devpki.Identity
		opts cms.Options
	}{
		{"devtrust/RSA/SHA-256", devtrustTSA, func(p *devpki.PKI) *devpki.Identity { return p.SignerRSA }, cms.Options{}},
		{"devtrust/P-384/SHA-384", devtrustTSA, func(p *devpki.PKI) *devpki.Identity { return p.SignerP384 }, cms.Options{Hash: crypto.SHA384}},
		{"openssl/P-256/SHA-512", openSSLTSA, func(p *devpki.PKI) *devpki.Identity { return p.SignerP256 }, cms.Options{Hash: crypto.SHA512}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.tsa(t)
			e := sharedDevEnv(t)
			in := signedCMS(t, tt.id(e.pki), tt.opts)
			out, tok, err := SignatureTimestamp(context.Background(), &TSAClient{URLs: []string{s.url}}, in)
			if err != nil {
				t.Fatalf("SignatureTimestamp: %v", err)
			}
			before, err := cms.Parse(in)
			if err != nil {
				t.Fatal(err)
			}
			after, err := cms.Parse(out)
			if err != nil {
				t.Fatalf("parsing the time-stamped CMS: %v", err)
			}
			h := tt.opts.DigestAlgorithm()
			if tok.Hash != h || !bytes.Equal(tok.Imprint, cms.Digest(h, before.Signature)) {
				t.Errorf("token imprint %v %x, want the %v hash of the signature value", tok.Hash, tok.Imprint, h)
			}
			if !bytes.Equal(after.Signature, before.Signature) || !bytes.Equal(after.RawSignedAttributes, before.RawSignedAttributes) {
				t.Errorf("the signature or the signed attributes changed")
			}
			if err := after.Verify(cms.Digest(h, []byte("document"))); err != nil {
				t.Errorf("the time-stamped signature does not verify: %v", err)
			}
			if len(after.UnsignedAttributes) != 1 {
				t.Fatalf("%d unsigned attributes, want 1", len(after.UnsignedAttributes))
			}
			a := after.UnsignedAttributes[0]
			if !a.Type.Equal(cms.OIDSignatureTimeStampToken()) || len(a.Values) != 1 || !bytes.Equal(a.Values[0], tok.DER) {
				t.Errorf("unsigned attribute %v does not hold the token", a.Type)
			}
			opensslVerifyToken(t, tok.DER, cms.Digest(h, before.Signature), s.root, s.inter)
		})
	}

	t.Run("not a CMS", func(t *testing.T) {
		_, _, err := SignatureTimestamp(context.Background(), &TSAClient{URLs: []string{"http://127.0.0.1:1"}}, []byte("junk"))
		checkErr(t, err, q("ltv: signature time-stamp: cms: malformed ContentInfo"))
	})
}

func TestParseTokenWithCertificates(t *testing.T) {
	e := sharedDevEnv(t)
	// A front that asks the dev TSA for no certificates and keeps the reply.
	var reply []byte
	u := tsaFront(t, e.url+devtrust.TSAPath, func(r *timestamp.Request) { r.Certificates = false },
		func(b []byte) []byte { reply = bytes.Clone(b); return b })
	digest := cms.Digest(crypto.SHA256, []byte("no certificates"))
	if _, err := (&TSAClient{URLs: []string{u}}).Timestamp(context.Background(), digest, crypto.SHA256); err == nil {
		t.Fatal("Timestamp accepted a token without the TSA certificate")
	}
	der, err := parseTimeStampResp(reply)
	if err != nil {
		t.Fatal(err)
	}
	p := e.pki
	for _, tt := range []struct {
		name  string
		certs []*x509.Certificate
		want  string
	}{
		{"none", nil, "ltv: time-stamp token: the TSA certificate is not included in the token"},
		{"others", []*x509.Certificate{p.Intermediate.Cert, p.SignerRSA.Cert}, "ltv: time-stamp token: the TSA certificate is not included in the token"},
		{"with the TSA's", []*x509.Certificate{p.Intermediate.Cert, p.TSA.Cert}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := ParseTokenWithCertificates(der, tt.certs)
			if tt.want != "" {
				checkErr(t, err, q(tt.want))
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tok.Signer.Equal(p.TSA.Cert) || len(tok.Certificates) != 0 || !bytes.Equal(tok.Imprint, digest) {
				t.Errorf("signer %v, %d certificates, imprint %x", tok.Signer.Subject, len(tok.Certificates), tok.Imprint)
			}
		})
	}
	if _, err := ParseToken(der); err == nil {
		t.Error("ParseToken accepted a token without the TSA certificate")
	}
}
