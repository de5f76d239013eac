package ltv

import (
	"context"
	"crypto/x509"
	"errors"
	"time"

	"hashsign/internal/certpath"
)

// CompleteChain returns the certification path of chain[0]: chain[0]
// followed by its issuer, that issuer's issuer, and so on up to a trust
// anchor (a certificate of f.Roots or a self-signed certificate). The
// issuers are looked for in chain, f.Extra and f.Roots, and then fetched
// from the Authority Information Access caIssuers URLs of the
// certificates, as Collect does. Certificates of chain that are not on
// the path are dropped.
//
// When the issuer of a certificate cannot be found, CompleteChain returns
// the path up to that certificate and an error that names it, its issuer,
// and each caIssuers URL that failed.
func (f *Fetcher) CompleteChain(ctx context.Context, chain []*x509.Certificate) ([]*x509.Certificate, error) {
	if len(chain) == 0 || chain[0] == nil {
		return nil, errors.New("ltv: no certificate to complete the chain of")
	}
	now := time.Now
	if f.Now != nil {
		now = f.Now
	}
	c := &collector{f: f, now: now(), vd: new(ValidationData), known: append(append([]*x509.Certificate(nil), chain[1:]...), f.Extra...)}
	path := chain[:1:1]
	for cur := chain[0]; !certpath.SelfSigned(cur) && len(path) < maxPathLen; {
		issuer, anchor, err := c.issuer(ctx, cur)
		if err != nil {
			return path, err
		}
		if anchor {
			break
		}
		for _, p := range path {
			if p.Equal(issuer) {
				return path, nil // a loop: the path ends where it starts again
			}
		}
		path = append(path, issuer)
		cur = issuer
	}
	return path, nil
}
