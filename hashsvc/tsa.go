package hashsvc

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"math/big"
	"mime"
	"net/http"
	"slices"

	"github.com/digitorus/timestamp"
)

// maxTSAReply bounds the size of a time-stamp reply.
const maxTSAReply = 1 << 20

// tsaClient asks an RFC 3161 time-stamping authority for tokens.
type tsaClient struct {
	url   string
	http  *http.Client
	roots *x509.CertPool // nil: the TSA's chain is not checked
}

var (
	oidExtKeyUsage        = asn1.ObjectIdentifier{2, 5, 29, 37}
	oidSignatureTimeStamp = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 14}
)

// timestamp returns a TimeStampToken (DER ContentInfo) whose imprint is
// h(data). It checks the reply's status, nonce and imprint, the token's
// signature, the TSA certificate's critical timeStamping extended key
// usage and, when roots are configured, its chain.
func (c *tsaClient) timestamp(ctx context.Context, data []byte, h crypto.Hash) ([]byte, error) {
	d := h.New()
	d.Write(data)
	imprint := d.Sum(nil)
	nonce, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		return nil, fmt.Errorf("tsa: nonce: %w", err)
	}
	req, err := (&timestamp.Request{HashAlgorithm: h, HashedMessage: imprint, Certificates: true, Nonce: nonce}).Marshal()
	if err != nil {
		return nil, fmt.Errorf("tsa: encoding the request: %w", err)
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(req))
	if err != nil {
		return nil, fmt.Errorf("tsa: %w", err)
	}
	hr.Header.Set("Content-Type", "application/timestamp-query")
	resp, err := c.http.Do(hr)
	if err != nil {
		return nil, fmt.Errorf("tsa: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxTSAReply+1))
	if err != nil {
		return nil, fmt.Errorf("tsa: reading the reply: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("tsa: %s answered %s", c.url, resp.Status)
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "application/timestamp-reply" {
		return nil, fmt.Errorf("tsa: reply of type %q, want application/timestamp-reply", mt)
	}
	if len(body) > maxTSAReply {
		return nil, errors.New("tsa: reply too large")
	}
	ts, err := timestamp.ParseResponse(body)
	if err != nil {
		return nil, fmt.Errorf("tsa: %w", err)
	}
	if ts.Nonce == nil || ts.Nonce.Cmp(nonce) != 0 {
		return nil, errors.New("tsa: the token's nonce does not match the request")
	}
	if ts.HashAlgorithm != h || !bytes.Equal(ts.HashedMessage, imprint) {
		return nil, errors.New("tsa: the token's message imprint does not match the request")
	}
	cert := tsaCertificate(ts.Certificates)
	if cert == nil {
		return nil, errors.New("tsa: the token carries no certificate with a critical timeStamping extended key usage")
	}
	if c.roots != nil {
		inter := x509.NewCertPool()
		for _, ic := range ts.Certificates {
			inter.AddCert(ic)
		}
		if _, err := cert.Verify(x509.VerifyOptions{
			Roots: c.roots, Intermediates: inter, CurrentTime: ts.Time,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping},
		}); err != nil {
			return nil, fmt.Errorf("tsa: the TSA certificate is not trusted: %w", err)
		}
	}
	return ts.RawToken, nil
}

// tsaCertificate returns the certificate among certs whose extended key
// usage extension is critical and names only id-kp-timeStamping, as RFC
// 3161 requires of a TSA.
func tsaCertificate(certs []*x509.Certificate) *x509.Certificate {
	for _, c := range certs {
		if !slices.Equal(c.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping}) || len(c.UnknownExtKeyUsage) > 0 {
			continue
		}
		for _, e := range c.Extensions {
			if e.Id.Equal(oidExtKeyUsage) && e.Critical {
				return c
			}
		}
	}
	return nil
}
