package pkcs11

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"slices"

	"hashsign/signer"
)

// Signer is a private key on a PKCS #11 token with its certificate chain.
// It implements signer.Signer and signer.ContextSigner and is safe for
// concurrent use: each signature takes one of the token's sessions for
// its duration. Signers are made by Pool.Open and stop working when the
// Pool is closed.
type Signer struct {
	tok   *token
	key   crypto.Signer // the crypto11 key
	pub   crypto.PublicKey
	chain []*x509.Certificate
	label string
	id    []byte
	name  string // `key "signer" (id 01) on token "hashsign"`, for messages
}

var (
	_ signer.Signer        = (*Signer)(nil)
	_ signer.ContextSigner = (*Signer)(nil)
)

// Public returns the public key, read from the token when the Signer was
// opened.
func (s *Signer) Public() crypto.PublicKey { return s.pub }

// Chain returns the signer certificate followed by the intermediate CA
// certificates. The slice is a copy.
func (s *Signer) Chain() []*x509.Certificate { return slices.Clone(s.chain) }

// Label returns the key's CKA_LABEL.
func (s *Signer) Label() string { return s.label }

// ID returns a copy of the key's CKA_ID.
func (s *Signer) ID() []byte { return slices.Clone(s.id) }

// String describes the key and its token, such as
// `key "signer" (id 01) on token "hashsign"`.
func (s *Signer) String() string { return s.name }

// Sign is SignContext with a background context. rand is not used: the
// token has its own random number generator.
func (s *Signer) Sign(rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return s.SignContext(context.Background(), digest, opts)
}

// SignContext signs digest, the opts.HashFunc() hash of the data, on the
// token.
//
// For RSA keys, opts is a crypto.Hash (SHA-256, SHA-384 or SHA-512) for
// PKCS #1 v1.5, for which the token signs the DigestInfo of digest
// (CKM_RSA_PKCS), or an *rsa.PSSOptions for RSASSA-PSS (CKM_RSA_PKCS_PSS,
// MGF1 with the same hash) with rsa.PSSSaltLengthEqualsHash or an explicit
// salt length. For ECDSA keys (CKM_ECDSA) the signature is returned ASN.1
// DER encoded.
//
// SignContext waits for a free session of the token until ctx is done; the
// token operation itself cannot be interrupted.
func (s *Signer) SignContext(ctx context.Context, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if err := s.checkOpts(digest, opts); err != nil {
		return nil, fmt.Errorf("pkcs11: signing with %s: %w", s.name, err)
	}
	select {
	case s.tok.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("pkcs11: waiting for a session of %s: %w", s.tok.name, ctx.Err())
	}
	defer func() { <-s.tok.sem }()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("pkcs11: signing with %s: %w", s.name, err)
	}
	s.tok.mu.RLock()
	defer s.tok.mu.RUnlock()
	if s.tok.closed {
		return nil, fmt.Errorf("pkcs11: signing with %s: %w", s.name, ErrClosed)
	}
	sig, err := s.key.Sign(nil, digest, opts)
	if err != nil {
		return nil, fmt.Errorf("pkcs11: signing with %s: %w", s.name, err)
	}
	return sig, nil
}

// checkOpts refuses what the token would sign wrongly or not at all: a
// PKCS #1 v1.5 signature without a known hash would lack the DigestInfo.
func (s *Signer) checkOpts(digest []byte, opts crypto.SignerOpts) error {
	if opts == nil {
		return errors.New("no signer options: give the hash")
	}
	h := opts.HashFunc()
	switch s.pub.(type) {
	case *rsa.PublicKey:
		switch h {
		case crypto.SHA256, crypto.SHA384, crypto.SHA512:
		default:
			return fmt.Errorf("hash %v is not supported for RSA (want SHA-256, SHA-384 or SHA-512)", hashName(h))
		}
		if pss, ok := opts.(*rsa.PSSOptions); ok {
			if pss.SaltLength == rsa.PSSSaltLengthAuto {
				return errors.New("RSA-PSS salt length auto is not supported; use rsa.PSSSaltLengthEqualsHash")
			}
			if pss.SaltLength < rsa.PSSSaltLengthEqualsHash {
				return fmt.Errorf("invalid RSA-PSS salt length %d", pss.SaltLength)
			}
		}
	case *ecdsa.PublicKey:
		switch h {
		case 0:
			return nil // a digest of any length, as crypto/ecdsa takes
		case crypto.SHA256, crypto.SHA384, crypto.SHA512:
		default:
			return fmt.Errorf("hash %v is not supported for ECDSA (want SHA-256, SHA-384 or SHA-512)", hashName(h))
		}
	default:
		return fmt.Errorf("unsupported public key type %T", s.pub)
	}
	if len(digest) != h.Size() {
		return fmt.Errorf("digest is %d bytes; %v needs %d", len(digest), hashName(h), h.Size())
	}
	return nil
}

// hashName names h, including the zero Hash.
func hashName(h crypto.Hash) string {
	if h == 0 {
		return "none"
	}
	return h.String()
}
