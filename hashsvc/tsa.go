package hashsvc

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/asn1"
	"net/http"

	"hashsign/ltv"
)

// tsaClient asks the service's RFC 3161 time-stamping authority for tokens,
// through the ltv client (which checks the status, nonce, imprint, token
// signature, the critical timeStamping extended key usage and, when roots
// are configured, the TSA's chain).
type tsaClient struct {
	url   string
	http  *http.Client
	roots *x509.CertPool // nil: the TSA's chain is not checked
}

var oidSignatureTimeStamp = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 14}

// timestamp returns a time-stamp token whose imprint is h(data).
func (c *tsaClient) timestamp(ctx context.Context, data []byte, h crypto.Hash) (*ltv.Token, error) {
	d := h.New()
	d.Write(data)
	return (&ltv.TSAClient{URLs: []string{c.url}, HTTP: c.http, Roots: c.roots}).Timestamp(ctx, d.Sum(nil), h)
}
