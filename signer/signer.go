// Package signer defines the Signer interface that every hashsign key source
// implements (key files, PKCS#11 tokens, remote hash-signing services), and
// the key-file signer.
//
// A Signer is a crypto.Signer that also knows its certificate chain. Its Sign
// method receives the digest of the CMS signed attributes, never the document.
package signer

import (
	"context"
	"crypto"
	"crypto/x509"
	"io"
)

// Signer is a private key together with its certificate chain.
//
// Sign follows crypto.Signer: digest is the hash of the data to be signed and
// opts names the hash (or is an *rsa.PSSOptions for RSA-PSS). ECDSA signatures
// are returned ASN.1 DER encoded, RSA signatures as the raw big-endian value.
type Signer interface {
	crypto.Signer

	// Chain returns the signer's certificate first, followed by the
	// intermediate CA certificates that lead to a root. The root itself is
	// not included.
	Chain() []*x509.Certificate
}

// ContextSigner is implemented by signers whose Sign may block on the network
// or on a device and can be cancelled through a context.
type ContextSigner interface {
	SignContext(ctx context.Context, digest []byte, opts crypto.SignerOpts) ([]byte, error)
}

// Sign signs digest with s. It calls SignContext when s implements
// ContextSigner and Sign otherwise, after checking that ctx is still live.
func Sign(ctx context.Context, s crypto.Signer, rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if cs, ok := s.(ContextSigner); ok {
		return cs.SignContext(ctx, digest, opts)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return s.Sign(rand, digest, opts)
}
