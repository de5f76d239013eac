package remote

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"slices"

	"hashsign/csc"
	"hashsign/signer"
)

// DefaultBatchSize is the most hashes a Signer sends in one signHash call,
// unless the credential's multisign is smaller.
const DefaultBatchSize = 64

// Signer is a signer.Signer for one credential of a remote service. Sign
// sends only the digest it is given (for CMS, the hash of the signed
// attributes), and returns a signature only after verifying it with the
// credential certificate's public key. ECDSA signatures are returned in
// ASN.1 DER even if the service sends raw r||s. A Signer is safe for
// concurrent use.
type Signer struct {
	client    *Client
	id        string
	chain     []*x509.Certificate
	batchSize int
}

var (
	_ signer.Signer        = (*Signer)(nil)
	_ signer.ContextSigner = (*Signer)(nil)
)

// NewSigner returns a Signer for credential id, whose certificate chain it
// fetches with credentials/info.
func NewSigner(ctx context.Context, c *Client, id string) (*Signer, error) {
	if id == "" {
		return nil, errors.New("remote: no credential ID")
	}
	info, err := c.credentialInfo(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("remote: credential %q: %w", id, err)
	}
	if len(info.Cert.Certificates) == 0 {
		return nil, fmt.Errorf("remote: credential %q: the service sent no certificate", id)
	}
	var chain []*x509.Certificate
	for i, b64 := range info.Cert.Certificates {
		der, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			return nil, fmt.Errorf("remote: credential %q: certificate %d is not base64", id, i)
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("remote: credential %q: certificate %d: %w", id, i, err)
		}
		chain = append(chain, cert)
	}
	switch pub := chain[0].PublicKey.(type) {
	case *rsa.PublicKey:
		if pub.N.BitLen() < signer.MinRSABits {
			return nil, fmt.Errorf("remote: credential %q: RSA key of %d bits is too small", id, pub.N.BitLen())
		}
	case *ecdsa.PublicKey:
	default:
		return nil, fmt.Errorf("remote: credential %q: unsupported key type %T", id, pub)
	}
	if info.Key.Status != "" && info.Key.Status != "enabled" {
		return nil, fmt.Errorf("remote: credential %q: key status %q", id, info.Key.Status)
	}
	bs := DefaultBatchSize
	if info.Multisign > 0 {
		bs = min(bs, info.Multisign)
	}
	// Drop a self-signed root the service may have included: Chain
	// excludes it.
	if n := len(chain); n > 1 && chain[n-1].CheckSignatureFrom(chain[n-1]) == nil {
		chain = chain[:n-1]
	}
	return &Signer{client: c, id: id, chain: chain, batchSize: bs}, nil
}

// NewPinnedSigner is NewSigner for a credential whose certificate the
// caller knows: it fails with an error wrapping ErrCertificateMismatch
// unless the service's certificate for the credential is cert, so that
// signatures are never made for another signer than the one expected.
func NewPinnedSigner(ctx context.Context, c *Client, id string, cert *x509.Certificate) (*Signer, error) {
	if cert == nil {
		return nil, errors.New("remote: no certificate to pin")
	}
	s, err := NewSigner(ctx, c, id)
	if err != nil {
		return nil, err
	}
	if got := s.chain[0]; !bytes.Equal(got.Raw, cert.Raw) {
		return nil, fmt.Errorf("remote: credential %q: %w: the service has %q (serial %s), expected %q (serial %s)", id, ErrCertificateMismatch,
			got.Subject.String(), got.SerialNumber.Text(16), cert.Subject.String(), cert.SerialNumber.Text(16))
	}
	return s, nil
}

// CredentialID returns the credential's ID.
func (s *Signer) CredentialID() string { return s.id }

// BatchSize returns the most hashes SignBatch sends per signHash call.
func (s *Signer) BatchSize() int { return s.batchSize }

// Public returns the public key of the credential's certificate.
func (s *Signer) Public() crypto.PublicKey { return s.chain[0].PublicKey }

// Chain returns the credential's certificate followed by its intermediate
// CA certificates.
func (s *Signer) Chain() []*x509.Certificate { return slices.Clone(s.chain) }

// Sign is SignContext with a background context. rand is not used.
func (s *Signer) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return s.SignContext(context.Background(), digest, opts)
}

// SignContext has the service sign digest, which must be a hash of the
// algorithm opts names, and returns the verified signature.
func (s *Signer) SignContext(ctx context.Context, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	sigs, err := s.SignBatch(ctx, [][]byte{digest}, opts)
	if err != nil {
		return nil, err
	}
	return sigs[0], nil
}

// SignBatch has the service sign every digest with the same options, in
// signHash calls of up to BatchSize hashes, and returns the signatures in
// the order of digests. Each signature is verified with the credential
// certificate's public key; if one does not verify, SignBatch returns an
// error wrapping ErrBadSignature and no signatures.
func (s *Signer) SignBatch(ctx context.Context, digests [][]byte, opts crypto.SignerOpts) ([][]byte, error) {
	if len(digests) == 0 {
		return nil, nil
	}
	if opts == nil {
		return nil, errors.New("remote: no signer options (hash)")
	}
	h := opts.HashFunc()
	hashOID, err := csc.HashOID(h)
	if err != nil {
		return nil, fmt.Errorf("remote: %w", err)
	}
	for i, d := range digests {
		if len(d) != h.Size() {
			return nil, fmt.Errorf("remote: digest %d is %d bytes, want %d for %v", i, len(d), h.Size(), h)
		}
	}
	algo, params, err := csc.SignAlgo(s.Public(), opts)
	if err != nil {
		return nil, fmt.Errorf("remote: %w", err)
	}
	req := csc.SignHashRequest{CredentialID: s.id, HashAlgorithmOID: hashOID, SignAlgo: algo, OperationMode: "S"}
	if params != nil {
		req.SignAlgoParams = base64.StdEncoding.EncodeToString(params)
	}
	out := make([][]byte, 0, len(digests))
	for start := 0; start < len(digests); start += s.batchSize {
		batch := digests[start:min(start+s.batchSize, len(digests))]
		req.Hashes = make([]string, len(batch))
		for i, d := range batch {
			req.Hashes[i] = base64.StdEncoding.EncodeToString(d)
		}
		sigs, err := s.client.signHash(ctx, &req)
		if err != nil {
			return nil, fmt.Errorf("remote: credential %q: %w", s.id, err)
		}
		for i, sig := range sigs {
			v, err := verify(s.chain[0], batch[i], sig, opts)
			if err != nil {
				return nil, fmt.Errorf("remote: credential %q, hash %d: %w (CN=%s): %v", s.id, start+i, ErrBadSignature, s.chain[0].Subject.CommonName, err)
			}
			out = append(out, v)
		}
	}
	return out, nil
}

// verify checks sig over digest with cert's public key and returns it in
// the form CMS needs: DER for ECDSA (converting raw r||s), modulus-sized
// for RSA.
func verify(cert *x509.Certificate, digest, sig []byte, opts crypto.SignerOpts) ([]byte, error) {
	h := opts.HashFunc()
	switch pub := cert.PublicKey.(type) {
	case *rsa.PublicKey:
		if k := pub.Size(); len(sig) < k {
			sig = append(make([]byte, k-len(sig), k), sig...)
		}
		if pss, ok := opts.(*rsa.PSSOptions); ok {
			return sig, rsa.VerifyPSS(pub, h, digest, sig, pss)
		}
		return sig, rsa.VerifyPKCS1v15(pub, h, digest, sig)
	case *ecdsa.PublicKey:
		if ecdsa.VerifyASN1(pub, digest, sig) {
			return sig, nil
		}
		if der := signer.ECDSARawToDER(pub, sig); der != nil && ecdsa.VerifyASN1(pub, digest, der) {
			return der, nil
		}
		return nil, errors.New("ECDSA verification failed")
	}
	return nil, fmt.Errorf("unsupported key type %T", cert.PublicKey)
}
