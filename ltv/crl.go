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
	fc, err := cached(f, ctx, "crl\x00"+url, func() (*fetchedCRL, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return nil, err
		}
		body, err := do(httpClient(f.HTTP), req, maxCRLResponse)
		if err != nil {
			return nil, err
		}
		if block, _ := pem.Decode(body); block != nil && block.Type == "X509 CRL" {
			body = block.Bytes
		}
		rl, err := x509.ParseRevocationList(body)
		if err != nil {
			return nil, fmt.Errorf("parsing the CRL: %w", err)
		}
		return &fetchedCRL{der: body, rl: rl}, nil
	})
	if err != nil {
		return nil, err
	}
	rl := fc.rl
	if !bytes.Equal(rl.RawIssuer, issuer.RawSubject) {
		return nil, fmt.Errorf("the CRL is issued by %q, not by %s", rl.Issuer.String(), certName(issuer))
	}
	if err := rl.CheckSignatureFrom(issuer); err != nil {
		return nil, fmt.Errorf("the CRL signature does not verify with the key of %s: %w", certName(issuer), err)
	}
	if rl.ThisUpdate.After(now.Add(ClockSkew)) {
		return nil, fmt.Errorf("the CRL thisUpdate %s is in the future", rl.ThisUpdate.UTC().Format(time.RFC3339))
	}
	if !rl.NextUpdate.IsZero() && rl.NextUpdate.Before(now.Add(-ClockSkew)) {
		return nil, fmt.Errorf("the CRL expired: nextUpdate %s", rl.NextUpdate.UTC().Format(time.RFC3339))
	}
	for _, e := range rl.RevokedCertificateEntries {
		if e.SerialNumber != nil && e.SerialNumber.Cmp(cert.SerialNumber) == 0 {
			return nil, &RevokedError{
				Cert:   cert,
				At:     e.RevocationTime,
				Reason: e.ReasonCode,
				Source: "CRL " + url,
			}
		}
	}
	return fc.der, nil
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
