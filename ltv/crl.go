package ltv

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"time"

	"hashsign/cms"
)

// fetchedCRL is a downloaded and parsed CRL.
type fetchedCRL struct {
	der []byte
	rl  *x509.RevocationList
}

// crl downloads the CRL at url and checks that it is a current CRL of
// issuer that does not list cert. A listed certificate is a *RevokedError.
func (f *Fetcher) crl(ctx context.Context, url string, cert, issuer *x509.Certificate, now time.Time) ([]byte, error) {
	fc, err := cached(f, ctx, "crl\x00"+url, now, func() (*fetchedCRL, time.Time, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return nil, time.Time{}, err
		}
		body, err := do(httpClient(f.HTTP), req, maxCRLResponse)
		if err != nil {
			return nil, time.Time{}, err
		}
		fc, err := parseCRL(body)
		if err != nil {
			return nil, time.Time{}, err
		}
		return fc, expiry(fc.rl.ThisUpdate, fc.rl.NextUpdate), nil
	})
	if err != nil {
		return nil, err
	}
	st, err := checkCRL(fc.rl, cert, issuer)
	if err != nil {
		return nil, err
	}
	if st.ThisUpdate.After(now.Add(ClockSkew)) {
		return nil, fmt.Errorf("the CRL thisUpdate %s is in the future", st.ThisUpdate.UTC().Format(time.RFC3339))
	}
	if !st.NextUpdate.IsZero() && st.NextUpdate.Before(now.Add(-ClockSkew)) {
		return nil, fmt.Errorf("the CRL expired: nextUpdate %s", st.NextUpdate.UTC().Format(time.RFC3339))
	}
	if st.Revoked != nil {
		st.Revoked.Source = "CRL " + url
		return nil, st.Revoked
	}
	return fc.der, nil
}

// parseCRL parses a CRL as a distribution point serves it: DER or PEM.
func parseCRL(body []byte) (*fetchedCRL, error) {
	if block, _ := pem.Decode(body); block != nil && block.Type == "X509 CRL" {
		body = block.Bytes
	}
	rl, err := x509.ParseRevocationList(body)
	if err != nil {
		return nil, fmt.Errorf("parsing the CRL: %w", err)
	}
	return &fetchedCRL{der: body, rl: rl}, nil
}

// CheckCRL reads a stored DER CRL (from a PDF's document security store
// or a CMS) and checks that issuer issued and signed it. The status says
// whether it lists cert; whether the CRL is current enough for a given
// time is the caller's judgement, from ThisUpdate and NextUpdate.
func CheckCRL(der []byte, cert, issuer *x509.Certificate) (*RevocationStatus, error) {
	rl, err := x509.ParseRevocationList(der)
	if err != nil {
		return nil, fmt.Errorf("ltv: parsing the CRL: %w", err)
	}
	st, err := checkCRL(rl, cert, issuer)
	if err != nil {
		return nil, fmt.Errorf("ltv: %w", err)
	}
	return st, nil
}

// checkCRL checks that issuer signed rl and says whether it lists cert.
func checkCRL(rl *x509.RevocationList, cert, issuer *x509.Certificate) (*RevocationStatus, error) {
	if !bytes.Equal(rl.RawIssuer, issuer.RawSubject) {
		return nil, fmt.Errorf("the CRL is issued by %q, not by %s", rl.Issuer.String(), certName(issuer))
	}
	if err := rl.CheckSignatureFrom(issuer); err != nil {
		return nil, fmt.Errorf("the CRL signature does not verify with the key of %s: %w", certName(issuer), err)
	}
	st := &RevocationStatus{ThisUpdate: rl.ThisUpdate, NextUpdate: rl.NextUpdate}
	for _, e := range rl.RevokedCertificateEntries {
		if e.SerialNumber != nil && e.SerialNumber.Cmp(cert.SerialNumber) == 0 {
			st.Revoked = &RevokedError{Cert: cert, At: e.RevocationTime, Reason: e.ReasonCode}
			break
		}
	}
	return st, nil
}

// parseCertificates parses the body of a caIssuers response: a DER or PEM
// certificate, or a certs-only CMS SignedData (PKCS #7), DER or PEM.
func parseCertificates(body []byte) ([]*x509.Certificate, error) {
	if bytes.HasPrefix(bytes.TrimSpace(body), []byte("-----BEGIN")) {
		var certs []*x509.Certificate
		rest := body
		for {
			var block *pem.Block
			block, rest = pem.Decode(rest)
			if block == nil {
				break
			}
			switch block.Type {
			case "CERTIFICATE":
				c, err := x509.ParseCertificate(block.Bytes)
				if err != nil {
					return nil, err
				}
				certs = append(certs, c)
			case "PKCS7", "CMS":
				cs, err := cms.ParseCertificates(block.Bytes)
				if err != nil {
					return nil, fmt.Errorf("PKCS #7: %w", err)
				}
				certs = append(certs, cs...)
			}
		}
		if len(certs) == 0 {
			return nil, errors.New("no certificate in the PEM response")
		}
		return certs, nil
	}
	c, certErr := x509.ParseCertificate(body)
	if certErr == nil {
		return []*x509.Certificate{c}, nil
	}
	certs, err := cms.ParseCertificates(body)
	if err != nil {
		return nil, fmt.Errorf("neither a certificate (%w) nor a PKCS #7 certificate bundle (%w)", certErr, err)
	}
	if len(certs) == 0 {
		return nil, errors.New("the PKCS #7 bundle holds no certificate")
	}
	return certs, nil
}
