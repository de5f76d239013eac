package devtrust_test

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"errors"
	"math/big"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"hashsign/hashsvc/devtrust"
	"hashsign/internal/devpki"
	"hashsign/internal/testenv"
)

// ocspRequestASN1 is the part of OCSPRequest (RFC 6960) that the tests
// build: a list of CertIDs and request extensions.
type ocspRequestASN1 struct {
	TBSRequest tbsRequestASN1
}

type tbsRequestASN1 struct {
	RequestList       []singleRequestASN1
	RequestExtensions []pkix.Extension `asn1:"optional,explicit,tag:2"`
}

type singleRequestASN1 struct {
	ReqCert asn1.RawValue
}

// ocspResponseASN1 is OCSPResponse (RFC 6960).
type ocspResponseASN1 struct {
	Status        asn1.Enumerated
	ResponseBytes struct {
		ResponseType asn1.ObjectIdentifier
		Response     []byte
	} `asn1:"optional,explicit,tag:0"`
}

// basicResponseASN1 is BasicOCSPResponse (RFC 6960).
type basicResponseASN1 struct {
	TBSResponseData struct {
		Version            int `asn1:"optional,explicit,tag:0,default:0"`
		ResponderID        asn1.RawValue
		ProducedAt         time.Time `asn1:"generalized"`
		Responses          []asn1.RawValue
		ResponseExtensions []pkix.Extension `asn1:"optional,explicit,tag:1"`
	}
	SignatureAlgorithm pkix.AlgorithmIdentifier
	Signature          asn1.BitString
	Certs              []asn1.RawValue `asn1:"optional,explicit,tag:0"`
}

func oidOCSPNonce() asn1.ObjectIdentifier {
	return asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 2}
}

// certID returns the DER CertID of cert for hash h.
func certID(t *testing.T, cert, issuer *x509.Certificate, h crypto.Hash) asn1.RawValue {
	t.Helper()
	der, err := ocsp.CreateRequest(cert, issuer, &ocsp.RequestOptions{Hash: h})
	if err != nil {
		t.Fatal(err)
	}
	var req ocspRequestASN1
	if _, err := asn1.Unmarshal(der, &req); err != nil {
		t.Fatal(err)
	}
	return req.TBSRequest.RequestList[0].ReqCert
}

// ocspRequest returns an OCSP request for ids with a nonce extension, if
// nonce is not nil.
func ocspRequest(t *testing.T, nonce []byte, ids ...asn1.RawValue) []byte {
	t.Helper()
	var req ocspRequestASN1
	for _, id := range ids {
		req.TBSRequest.RequestList = append(req.TBSRequest.RequestList, singleRequestASN1{ReqCert: id})
	}
	if nonce != nil {
		req.TBSRequest.RequestExtensions = []pkix.Extension{{Id: oidOCSPNonce(), Value: marshal(t, nonce)}}
	}
	return marshal(t, req)
}

// responseNonce returns the value of the nonce extension of a successful
// OCSP response, or nil.
func responseNonce(t *testing.T, resp []byte) []byte {
	t.Helper()
	var r ocspResponseASN1
	if _, err := asn1.Unmarshal(resp, &r); err != nil {
		t.Fatal(err)
	}
	var basic basicResponseASN1
	if _, err := asn1.Unmarshal(r.ResponseBytes.Response, &basic); err != nil {
		t.Fatal(err)
	}
	for _, ext := range basic.TBSResponseData.ResponseExtensions {
		if ext.Id.Equal(oidOCSPNonce()) {
			var nonce []byte
			if _, err := asn1.Unmarshal(ext.Value, &nonce); err != nil {
				t.Fatal(err)
			}
			return nonce
		}
	}
	return nil
}

func TestOCSP(t *testing.T) {
	p, _ := sharedPKI(t)
	clk := newClock()
	_, srv := newServer(t, p, devtrust.Options{Now: clk.Now, OCSPValidity: 6 * time.Hour})
	post := func(der []byte) (*http.Response, []byte) {
		t.Helper()
		return do(t, srv, "POST", devpki.OCSPPath, "application/ocsp-request", der)
	}
	inter := p.Intermediate.Cert

	for _, h := range []crypto.Hash{crypto.SHA1, crypto.SHA256, crypto.SHA384, crypto.SHA512} {
		for _, id := range p.Leaves() {
			req, err := ocsp.CreateRequest(id.Cert, inter, &ocsp.RequestOptions{Hash: h})
			if err != nil {
				t.Fatal(err)
			}
			resp, body := post(req)
			name := id.Cert.Subject.CommonName + " " + h.String()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%s: status %d", name, resp.StatusCode)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/ocsp-response" {
				t.Errorf("%s: Content-Type %q", name, ct)
			}
			r, err := ocsp.ParseResponseForCert(body, id.Cert, inter)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			now := clk.Now()
			switch {
			case r.Status != ocsp.Good:
				t.Errorf("%s: status %d, want good", name, r.Status)
			case r.SerialNumber.Cmp(id.Cert.SerialNumber) != 0:
				t.Errorf("%s: serial %x", name, r.SerialNumber)
			case r.IssuerHash != h:
				t.Errorf("%s: CertID hash %v", name, r.IssuerHash)
			case !r.ProducedAt.Equal(now):
				t.Errorf("%s: producedAt %v, want %v", name, r.ProducedAt, now)
			case !r.ThisUpdate.Equal(now.Add(-time.Minute)):
				t.Errorf("%s: thisUpdate %v, want %v", name, r.ThisUpdate, now.Add(-time.Minute))
			case !r.NextUpdate.Equal(now.Add(6 * time.Hour)):
				t.Errorf("%s: nextUpdate %v, want %v", name, r.NextUpdate, now.Add(6*time.Hour))
			case r.Certificate == nil || !r.Certificate.Equal(p.OCSP.Cert):
				t.Errorf("%s: response lacks the responder certificate", name)
			case !bytes.Equal(r.RawResponderName, p.OCSP.Cert.RawSubject):
				t.Errorf("%s: responder ID is not the responder's name", name)
			}
			if nonce := responseNonce(t, body); nonce != nil {
				t.Errorf("%s: nonce %x in the response to a request without one", name, nonce)
			}
		}
	}

	t.Run("unknown-serial", func(t *testing.T) {
		req, err := ocsp.CreateRequest(p.SignerRSA.Cert, inter, nil)
		if err != nil {
			t.Fatal(err)
		}
		parsed, err := ocsp.ParseRequest(req)
		if err != nil {
			t.Fatal(err)
		}
		parsed.SerialNumber = big.NewInt(12345)
		if req, err = parsed.Marshal(); err != nil {
			t.Fatal(err)
		}
		_, body := post(req)
		r, err := ocsp.ParseResponse(body, inter)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != ocsp.Unknown || r.SerialNumber.Int64() != 12345 {
			t.Errorf("status %d for serial %v, want unknown for 12345", r.Status, r.SerialNumber)
		}
	})

	t.Run("other-issuer", func(t *testing.T) {
		// The intermediate CA certificate, issued by the root.
		req, err := ocsp.CreateRequest(inter, p.Root.Cert, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, body := post(req)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("status %d", resp.StatusCode)
		}
		_, err = ocsp.ParseResponse(body, p.Root.Cert)
		var rerr ocsp.ResponseError
		if !errors.As(err, &rerr) || rerr.Status != ocsp.Unauthorized {
			t.Errorf("ParseResponse: %v, want unauthorized", err)
		}
	})

	t.Run("malformed", func(t *testing.T) {
		good, err := ocsp.CreateRequest(p.SignerRSA.Cert, inter, nil)
		if err != nil {
			t.Fatal(err)
		}
		noRequests := ocspRequest(t, []byte("nonce"))
		for _, der := range [][]byte{nil, []byte("junk"), append(good, 0), noRequests} {
			resp, body := post(der)
			if resp.StatusCode != http.StatusBadRequest {
				t.Errorf("status %d, want 400", resp.StatusCode)
			}
			if !bytes.Equal(body, ocsp.MalformedRequestErrorResponse) {
				t.Errorf("body %x, want malformedRequest", body)
			}
		}
	})

	t.Run("nonce-and-several-certificates", func(t *testing.T) {
		nonce := []byte("0123456789abcdef")
		req := ocspRequest(t, nonce,
			certID(t, p.SignerRSA.Cert, inter, crypto.SHA1),
			certID(t, p.TSA.Cert, inter, crypto.SHA256))
		resp, body := post(req)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d", resp.StatusCode)
		}
		if got := responseNonce(t, body); !bytes.Equal(got, nonce) {
			t.Errorf("nonce %q, want %q", got, nonce)
		}
		for _, cert := range []*x509.Certificate{p.SignerRSA.Cert, p.TSA.Cert} {
			r, err := ocsp.ParseResponseForCert(body, cert, inter)
			if err != nil {
				t.Fatalf("%q: %v", cert.Subject.CommonName, err)
			}
			if r.Status != ocsp.Good || r.SerialNumber.Cmp(cert.SerialNumber) != 0 {
				t.Errorf("%q: status %d for serial %x", cert.Subject.CommonName, r.Status, r.SerialNumber)
			}
		}
	})
}

func TestOCSPGet(t *testing.T) {
	p, _ := sharedPKI(t)
	_, srv := newServer(t, p, devtrust.Options{})
	inter := p.Intermediate.Cert
	id := certID(t, p.SignerP256.Cert, inter, crypto.SHA1)

	// Find a nonce that puts "+", "/" and "//" in the base64 text.
	var nonce []byte
	var b64 string
	for i := 0; ; i++ {
		if i == 1_000_000 {
			t.Fatal("no request with '+' and '//' in its base64 encoding")
		}
		sum := sha256.Sum256([]byte{byte(i), byte(i >> 8), byte(i >> 16)})
		nonce = sum[:16]
		b64 = base64.StdEncoding.EncodeToString(ocspRequest(t, nonce, id))
		if strings.Contains(b64, "+") && strings.Contains(b64, "//") {
			break
		}
	}
	t.Logf("request: %s", b64)

	for _, tt := range []struct {
		name    string
		escaped string
		ok      bool
	}{
		{"query-escape", url.QueryEscape(b64), true}, // %2B %2F %3D
		{"path-escape", url.PathEscape(b64), true},   // + and = literal, %2F
		{"lowercase", strings.ReplaceAll(url.QueryEscape(b64), "%2F", "%2f"), true},
		{"not-escaped", b64, false},
		{"bad-base64", url.QueryEscape(b64[1:]), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := do(t, srv, "GET", devpki.OCSPPath+"/"+tt.escaped, "", nil)
			if !tt.ok {
				if resp.StatusCode != http.StatusBadRequest || !bytes.Equal(body, ocsp.MalformedRequestErrorResponse) {
					t.Errorf("status %d, body %x; want 400 and malformedRequest", resp.StatusCode, body)
				}
				return
			}
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d", resp.StatusCode)
			}
			r, err := ocsp.ParseResponseForCert(body, p.SignerP256.Cert, inter)
			if err != nil {
				t.Fatal(err)
			}
			if r.Status != ocsp.Good {
				t.Errorf("status %d, want good", r.Status)
			}
			if got := responseNonce(t, body); !bytes.Equal(got, nonce) {
				t.Errorf("nonce %x, want %x", got, nonce)
			}
		})
	}
}

func TestOCSPOpenSSL(t *testing.T) {
	testenv.Need(t, "openssl", "")
	p, dir := sharedPKI(t)
	s, srv := newServer(t, p, devtrust.Options{})
	inter := filepath.Join(dir, devpki.IntermediateCertFile)
	root := filepath.Join(dir, devpki.RootCertFile)
	query := func(certFile string) string {
		t.Helper()
		out, err := openssl(t, "ocsp", "-issuer", inter, "-cert", filepath.Join(dir, certFile),
			"-url", srv.URL+devpki.OCSPPath, "-CAfile", root, "-resp_text")
		if err != nil {
			t.Fatalf("openssl ocsp: %v\n%s", err, out)
		}
		for _, want := range []string{"Response verify OK", "OCSP Nonce"} {
			if !strings.Contains(out, want) {
				t.Errorf("openssl ocsp output lacks %q:\n%s", want, out)
			}
		}
		if strings.Contains(out, "WARNING") {
			t.Errorf("openssl ocsp warns:\n%s", out)
		}
		return out
	}

	for _, f := range []string{devpki.SignerRSACertFile, devpki.SignerP256CertFile, devpki.SignerP384CertFile, devpki.TSACertFile, devpki.OCSPCertFile} {
		if out := query(f); !strings.Contains(out, f+": good") {
			t.Errorf("%s: openssl ocsp does not say good:\n%s", f, out)
		}
	}

	if err := s.Revoke(p.SignerRSA.Cert, time.Time{}, ocsp.KeyCompromise); err != nil {
		t.Fatal(err)
	}
	out := query(devpki.SignerRSACertFile)
	for _, want := range []string{devpki.SignerRSACertFile + ": revoked", "Reason: keyCompromise"} {
		if !strings.Contains(out, want) {
			t.Errorf("openssl ocsp output lacks %q:\n%s", want, out)
		}
	}
	if out := query(devpki.SignerP256CertFile); !strings.Contains(out, devpki.SignerP256CertFile+": good") {
		t.Errorf("revoking one certificate changed another:\n%s", out)
	}
}
