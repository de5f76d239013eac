package ocspasn1

import (
	"bytes"
	"crypto"
	"crypto/x509/pkix"
	"encoding/asn1"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"hashsign/internal/devpki"
)

// TestAgainstXCryptoOCSP reads requests that golang.org/x/crypto/ocsp
// builds, and has it read the responses built here.
func TestAgainstXCryptoOCSP(t *testing.T) {
	p, err := devpki.LoadOrGenerate(devpki.DefaultDir(), devpki.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []crypto.Hash{crypto.SHA1, crypto.SHA256, crypto.SHA384, crypto.SHA512} {
		t.Run(h.String(), func(t *testing.T) {
			der, err := ocsp.CreateRequest(p.SignerRSA.Cert, p.Intermediate.Cert, &ocsp.RequestOptions{Hash: h})
			if err != nil {
				t.Fatal(err)
			}
			var req Request
			if err := Unmarshal(der, &req, "OCSP request"); err != nil {
				t.Fatal(err)
			}
			id := req.TBSRequest.RequestList[0].ReqCert
			if !id.IssuedBy(p.Intermediate.Cert) || id.IssuedBy(p.Root.Cert) || id.SerialNumber.Cmp(p.SignerRSA.Cert.SerialNumber) != 0 {
				t.Errorf("CertID: issued by the intermediate %v, by the root %v, serial %v",
					id.IssuedBy(p.Intermediate.Cert), id.IssuedBy(p.Root.Cert), id.SerialNumber)
			}

			now := time.Now().UTC().Truncate(time.Second)
			nonce := []byte{0x04, 0x02, 0xca, 0xfe}
			resp, err := SignResponse(ResponseData{
				ResponderID:        asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 1, IsCompound: true, Bytes: p.OCSP.Cert.RawSubject},
				ProducedAt:         now,
				Responses:          []SingleResponse{{CertID: id, Revoked: RevokedInfo{RevocationTime: now.Add(-time.Hour), RevocationReason: ocsp.KeyCompromise}, ThisUpdate: now}},
				ResponseExtensions: []pkix.Extension{{Id: OIDNonce(), Value: nonce}},
			}, p.OCSP.Key, p.OCSP.Cert)
			if err != nil {
				t.Fatal(err)
			}
			// The CertID is echoed byte for byte.
			if !bytes.Contains(resp, id.Raw) {
				t.Error("the response does not hold the request's CertID as received")
			}
			r, err := ocsp.ParseResponseForCert(resp, p.SignerRSA.Cert, p.Intermediate.Cert)
			if err != nil {
				t.Fatalf("ocsp.ParseResponseForCert: %v", err)
			}
			if r.Status != ocsp.Revoked || r.RevocationReason != ocsp.KeyCompromise || r.IssuerHash != h || !r.RevokedAt.Equal(now.Add(-time.Hour)) {
				t.Errorf("status %d, reason %d, hash %v, revoked at %v", r.Status, r.RevocationReason, r.IssuerHash, r.RevokedAt)
			}
			var outer Response
			var basic BasicResponse
			var data ResponseData
			if Unmarshal(resp, &outer, "response") != nil || Unmarshal(outer.Bytes.Response, &basic, "basic") != nil ||
				Unmarshal(basic.TBSResponseData.FullBytes, &data, "data") != nil {
				t.Fatal("our own types do not read the response back")
			}
			if ext := Nonce(data.ResponseExtensions); ext == nil || !bytes.Equal(ext.Value, nonce) {
				t.Errorf("nonce extension %v, want %x", ext, nonce)
			}
		})
	}
}
