package ltv

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"io"
	"net/http"
	"slices"
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

// FuzzCRL checks that reading a CRL as a distribution point serves it (DER
// or PEM) and checking it for a certificate never panics, and that a CRL
// that lists the signer says it is revoked, and only then.
func FuzzCRL(f *testing.F) {
	e, err := newDevEnv(nil, nil)
	if err != nil {
		f.Fatal(err)
	}
	defer e.srv.Close()
	p := e.pki
	get := func(path string) []byte {
		resp, err := http.Get(e.url + path)
		if err != nil {
			f.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != http.StatusOK {
			f.Fatalf("GET %s: %d %v", path, resp.StatusCode, err)
		}
		return b
	}
	f.Add(get(devpki.IntermediateCRLPath))
	f.Add(get(devpki.RootCRLPath))
	if err := e.svc.Revoke(p.SignerRSA.Cert, time.Now().Add(-time.Hour), 1); err != nil {
		f.Fatal(err)
	}
	revoking := get(devpki.IntermediateCRLPath)
	f.Add(revoking)
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: revoking}))
	f.Add([]byte{0x30, 0x03, 0x02, 0x01, 0x00})
	f.Fuzz(func(t *testing.T, body []byte) {
		fc, err := parseCRL(body)
		if err != nil {
			return
		}
		cert := p.SignerRSA.Cert
		st, err := checkCRL(fc.rl, cert, p.Intermediate.Cert)
		if err != nil {
			return
		}
		listed := slices.ContainsFunc(fc.rl.RevokedCertificateEntries, func(r x509.RevocationListEntry) bool {
			return r.SerialNumber != nil && r.SerialNumber.Cmp(cert.SerialNumber) == 0
		})
		switch {
		case listed && st.Revoked == nil:
			t.Fatal("a CRL that lists the certificate says it is not revoked")
		case st.Revoked != nil && (st.Revoked.Cert != cert || !listed):
			t.Fatalf("revoked %v by a CRL that lists it: %v", st.Revoked.Cert.Subject, listed)
		}
		if !bytes.Equal(fc.rl.Raw, fc.der) {
			t.Fatal("the CRL kept is not the one parsed")
		}
	})
}

// FuzzParseCertificates checks that reading what an AIA caIssuers URL
// serves (a DER or PEM certificate, a certs-only PKCS #7, DER or PEM)
// never panics and gives certificates only when it gives no error.
func FuzzParseCertificates(f *testing.F) {
	p, err := devpki.Generate(devpki.Options{BaseURL: "http://127.0.0.1:1"})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(p.Intermediate.Cert.Raw)
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.Root.Cert.Raw}))
	f.Add([]byte("-----BEGIN PKCS7-----\nMAA=\n-----END PKCS7-----\n"))
	f.Add([]byte{0x30, 0x80, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02, 0x00, 0x00})
	f.Fuzz(func(t *testing.T, body []byte) {
		certs, err := parseCertificates(body)
		if err == nil && len(certs) == 0 {
			t.Fatal("no error and no certificate")
		}
		for _, c := range certs {
			if c == nil {
				t.Fatal("a nil certificate")
			}
		}
	})
}
