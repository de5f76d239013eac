package ltv

import (
	"context"
	"crypto"
	"crypto/sha256"
	"encoding/asn1"
	"testing"
	"time"

	"hashsign/hashsvc/devtrust"
	"hashsign/internal/devpki"
)

// FuzzParseTimeStampResp checks that parsing a TimeStampResp, and the
// token inside it, never panics.
func FuzzParseTimeStampResp(f *testing.F) {
	// A real response, fetched through the TSA client's own request, and
	// a refusal.
	e, err := newDevEnv(nil, nil)
	if err != nil {
		f.Fatal(err)
	}
	defer e.srv.Close()
	digest := sha256.Sum256([]byte("fuzz"))
	tok, err := (&TSAClient{URLs: []string{e.url + devtrust.TSAPath}}).Timestamp(context.Background(), digest[:], crypto.SHA256)
	if err != nil {
		f.Fatal(err)
	}
	granted, err := asn1.Marshal(timeStampResp{TimeStampToken: asn1.RawValue{FullBytes: tok.DER}})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(granted)
	refused, err := asn1.Marshal(timeStampResp{Status: pkiStatusInfo{
		Status:       2,
		StatusString: []asn1.RawValue{{Tag: asn1.TagUTF8String, Bytes: []byte("no")}},
		FailInfo:     asn1.BitString{Bytes: []byte{0x80, 0x01}, BitLength: 16},
	}})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(refused)
	f.Add([]byte{0x30, 0x03, 0x02, 0x01, 0x00})
	f.Add([]byte{})

	f.Fuzz(func(t *testing.T, der []byte) {
		token, err := parseTimeStampResp(der)
		if err != nil {
			return
		}
		if tok, err := parseToken(token, nil); err == nil && (tok.Signer == nil || tok.Serial == nil || len(tok.Imprint) != tok.Hash.Size()) {
			t.Fatalf("parseToken accepted a token without signer, serial or a well-sized imprint")
		}
	})
}

// FuzzVerifyOCSP checks that parsing and verifying an OCSP response never
// panics.
func FuzzVerifyOCSP(f *testing.F) {
	e, err := newDevEnv(nil, nil)
	if err != nil {
		f.Fatal(err)
	}
	defer e.srv.Close()
	p := e.pki
	now := time.Now()
	res, err := new(Fetcher).ocsp(context.Background(), e.url+devpki.OCSPPath, p.SignerRSA.Cert, p.Intermediate.Cert, now)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(res.der)
	f.Add([]byte{0x30, 0x03, 0x0a, 0x01, 0x06}) // unauthorized
	f.Add([]byte{})

	f.Fuzz(func(t *testing.T, der []byte) {
		res, err := verifyOCSP(der, p.SignerRSA.Cert, p.Intermediate.Cert, nil, now)
		if err == nil && len(res.der) == 0 {
			t.Fatal("verifyOCSP accepted an empty response")
		}
	})
}
