package gateway

import (
	"context"
	"crypto"
	"crypto/x509"
	"io"

	"hashsign/ltv"
	"hashsign/pades"
	"hashsign/signer"
	"hashsign/signer/remote"
)

// The services a document's signature depends on, as upstreamError names
// them.
const (
	svcSigner     = "signer"
	svcTSA        = "time-stamping authority"
	svcValidation = "source of validation data"
)

// upstreamError is a failure of a service that the gateway depends on,
// rather than of the document: the answer is 502 or 503, not 400.
type upstreamError struct {
	service string
	err     error
}

func (e *upstreamError) Error() string { return e.err.Error() }
func (e *upstreamError) Unwrap() error { return e.err }

func tag(service string, err error) error {
	if err == nil {
		return nil
	}
	return &upstreamError{service, err}
}

// taggedSigner marks the errors of a signer as upstream errors.
type taggedSigner struct{ signer.Signer }

func (t taggedSigner) Sign(rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	sig, err := t.Signer.Sign(rand, digest, opts)
	return sig, tag(svcSigner, err)
}

func (t taggedSigner) SignContext(ctx context.Context, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	sig, err := signer.Sign(ctx, t.Signer, nil, digest, opts)
	return sig, tag(svcSigner, err)
}

// taggedBatchSigner is a taggedSigner that keeps the batches of a
// remote.BatchSigner.
type taggedBatchSigner struct {
	taggedSigner
	bs remote.BatchSigner
}

func (t taggedBatchSigner) SignBatch(ctx context.Context, digests [][]byte, opts crypto.SignerOpts) ([][]byte, error) {
	sigs, err := t.bs.SignBatch(ctx, digests, opts)
	return sigs, tag(svcSigner, err)
}

// BatchSize is the most hashes per call that the signer takes (0: no
// limit of its own).
func (t taggedBatchSigner) BatchSize() int {
	if b, ok := t.bs.(interface{ BatchSize() int }); ok {
		return b.BatchSize()
	}
	return 0
}

// tagSigner returns s, its errors marked as upstream errors.
func tagSigner(s signer.Signer) signer.Signer {
	if bs, ok := s.(remote.BatchSigner); ok {
		return taggedBatchSigner{taggedSigner{s}, bs}
	}
	return taggedSigner{s}
}

// taggedTSA marks the errors of a time-stamping authority.
type taggedTSA struct{ tsa pades.Timestamper }

func (t taggedTSA) Timestamp(ctx context.Context, digest []byte, h crypto.Hash) (*ltv.Token, error) {
	tok, err := t.tsa.Timestamp(ctx, digest, h)
	return tok, tag(svcTSA, err)
}

// validationSource is what the fetcher of validation data does.
type validationSource interface {
	pades.ValidationSource
	pades.IssuerSource
}

// taggedValidation marks the errors of the source of validation data and
// issuers.
type taggedValidation struct{ src validationSource }

func (t taggedValidation) Collect(ctx context.Context, leaves, pool []*x509.Certificate) (*ltv.ValidationData, error) {
	vd, err := t.src.Collect(ctx, leaves, pool)
	return vd, tag(svcValidation, err)
}

func (t taggedValidation) CompleteChain(ctx context.Context, chain []*x509.Certificate) ([]*x509.Certificate, error) {
	c, err := t.src.CompleteChain(ctx, chain)
	return c, tag(svcValidation, err)
}
