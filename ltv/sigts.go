package ltv

import (
	"context"
	"crypto"
	"fmt"

	"hashsign/cms"
)

// SignatureTimestamp adds a signature time-stamp (PAdES level B-T) to the
// CMS signature cmsDER, a ContentInfo as cms.Sign returns it. The token's
// imprint is the hash of the SignerInfo's signature value, with the
// SignerInfo's digest algorithm (RFC 3161, appendix A); the token goes into
// the unsigned attribute id-aa-signatureTimeStampToken. It returns the new
// CMS and the token.
//
// tsa is a *TSAClient, or anything else that gets tokens the same way.
func SignatureTimestamp(ctx context.Context, tsa interface {
	Timestamp(ctx context.Context, digest []byte, h crypto.Hash) (*Token, error)
}, cmsDER []byte) ([]byte, *Token, error) {
	sd, err := cms.Parse(cmsDER)
	if err != nil {
		return nil, nil, fmt.Errorf("ltv: signature time-stamp: %w", err)
	}
	tok, err := tsa.Timestamp(ctx, cms.Digest(sd.DigestAlgorithm, sd.Signature), sd.DigestAlgorithm)
	if err != nil {
		return nil, nil, err
	}
	out, err := cms.AddUnsignedAttribute(cmsDER, cms.OIDSignatureTimeStampToken(), tok.DER)
	if err != nil {
		return nil, nil, fmt.Errorf("ltv: adding the signature time-stamp: %w", err)
	}
	return out, tok, nil
}
