package devtrust_test

import (
	"bytes"
	"crypto"
	"encoding/asn1"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/digitorus/timestamp"
	"golang.org/x/crypto/ocsp"

	"hashsign/cms"
	"hashsign/hashsvc/devtrust"
	"hashsign/internal/devpki"
)

// FuzzRequests sends the same body to the time-stamping authority and to
// the OCSP responder: each must answer 200 or 400 with a response of its
// protocol, never panic, and a granted time-stamp must verify.
func FuzzRequests(f *testing.F) {
	p, err := devpki.LoadOrGenerate(devpki.DefaultDir(), devpki.Options{})
	if err != nil {
		f.Fatal(err)
	}
	svc, err := devtrust.New(p, devtrust.Options{})
	if err != nil {
		f.Fatal(err)
	}
	h := svc.Handler()
	tsq, err := timestamp.CreateRequest(bytes.NewReader([]byte("fuzz")), &timestamp.RequestOptions{Hash: crypto.SHA384, Certificates: true})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(tsq)
	ocspReq, err := ocsp.CreateRequest(p.SignerP256.Cert, p.Intermediate.Cert, &ocsp.RequestOptions{Hash: crypto.SHA256})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(ocspReq)
	f.Add([]byte{0x30, 0x00})

	f.Fuzz(func(t *testing.T, body []byte) {
		for _, ep := range []struct{ path, ctype string }{
			{devtrust.TSAPath, "application/timestamp-query"},
			{devpki.OCSPPath, "application/ocsp-request"},
		} {
			req := httptest.NewRequest(http.MethodPost, ep.path, bytes.NewReader(body))
			req.Header.Set("Content-Type", ep.ctype)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK && rec.Code != http.StatusBadRequest {
				t.Fatalf("%s: HTTP status %d", ep.path, rec.Code)
			}
			var resp struct {
				Status asn1.RawValue
				Rest   asn1.RawValue `asn1:"optional"`
			}
			if rest, err := asn1.Unmarshal(rec.Body.Bytes(), &resp); err != nil || len(rest) != 0 {
				t.Fatalf("%s: the answer is not DER: %v", ep.path, err)
			}
			if ep.path != devtrust.TSAPath || len(resp.Rest.FullBytes) == 0 {
				continue
			}
			sd, err := cms.Parse(resp.Rest.FullBytes)
			if err != nil {
				t.Fatalf("granted token does not parse: %v", err)
			}
			if sd.Signer == nil && sd.IsSigner(p.TSA.Cert) { // certReq was false
				sd.Signer = p.TSA.Cert
			}
			if err := sd.VerifyIntegrity(nil); err != nil {
				t.Fatalf("granted token does not verify: %v", err)
			}
		}
	})
}
