package signer

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"software.sslmate.com/src/go-pkcs12"

	"hashsign/internal/certpath"
)

// MinRSABits is the smallest RSA modulus size, in bits, that New accepts.
const MinRSABits = 2048

// ErrKeyMismatch is wrapped by the errors returned when a private key does
// not belong to the signer certificate.
var ErrKeyMismatch = errors.New("private key does not match the signer certificate")

// ErrWrongPassword is wrapped by the error LoadPKCS12 returns when the
// password does not decrypt the file.
var ErrWrongPassword = errors.New("wrong password")

// New returns a Signer that signs with key and presents a chain built from
// certs.
//
// certs holds the signer certificate and, optionally, its CA certificates,
// in any order. The signer certificate is the first one whose public key
// equals key.Public(); if none does, New returns an error wrapping
// ErrKeyMismatch that names certs[0]. The chain is the signer certificate
// followed by its issuers, found by name and key identifier, up to but not
// including a self-signed root. Duplicates, roots and certificates that are
// not on that path are left out.
//
// key must be an RSA key of at least MinRSABits bits or an ECDSA key on
// P-256, P-384 or P-521.
func New(key crypto.Signer, certs []*x509.Certificate) (Signer, error) {
	s, err := newSigner(key, certs)
	if err != nil {
		return nil, fmt.Errorf("signer: %w", err)
	}
	return s, nil
}

// newSigner is New with errors that do not name the package, so that the
// loaders can prefix them with the file.
func newSigner(key crypto.Signer, certs []*x509.Certificate) (Signer, error) {
	if key == nil {
		return nil, errors.New("no private key")
	}
	pub := key.Public()
	if err := checkPublicKey(pub); err != nil {
		return nil, err
	}
	var uniq []*x509.Certificate
	for _, c := range certs {
		if c != nil && !slices.ContainsFunc(uniq, c.Equal) {
			uniq = append(uniq, c)
		}
	}
	if len(uniq) == 0 {
		return nil, errors.New("no certificate")
	}
	i := slices.IndexFunc(uniq, func(c *x509.Certificate) bool {
		k, ok := pub.(interface{ Equal(crypto.PublicKey) bool })
		return ok && k.Equal(c.PublicKey)
	})
	if i < 0 {
		return nil, fmt.Errorf("%w (CN=%s)", ErrKeyMismatch, uniq[0].Subject.CommonName)
	}
	return &keySigner{key: key, chain: buildChain(uniq[i], uniq)}, nil
}

// checkPublicKey reports whether pub is of a supported type and size.
func checkPublicKey(pub crypto.PublicKey) error {
	switch pub := pub.(type) {
	case *rsa.PublicKey:
		if bits := pub.N.BitLen(); bits < MinRSABits {
			return fmt.Errorf("RSA key of %d bits is too small; at least %d bits are required", bits, MinRSABits)
		}
		return nil
	case *ecdsa.PublicKey:
		switch pub.Curve {
		case elliptic.P256(), elliptic.P384(), elliptic.P521():
			return nil
		}
		return fmt.Errorf("unsupported ECDSA curve %s (want P-256, P-384 or P-521)", pub.Curve.Params().Name)
	case ed25519.PublicKey:
		return errors.New("unsupported key type Ed25519 (Ed25519 in PAdES/CMS is out of scope)")
	}
	return fmt.Errorf("unsupported key type %T (want RSA or ECDSA)", pub)
}

// buildChain returns leaf followed by its issuers from certs, stopping
// before a self-signed certificate or when no issuer is found.
func buildChain(leaf *x509.Certificate, certs []*x509.Certificate) []*x509.Certificate {
	chain := []*x509.Certificate{leaf}
	used := make([]bool, len(certs))
	for cur := leaf; !certpath.SelfSigned(cur); {
		next := -1
		for i, c := range certs {
			if used[i] || c.Equal(leaf) || !certpath.IssuedBy(cur, c) {
				continue
			}
			if next < 0 || cur.CheckSignatureFrom(c) == nil {
				next = i
			}
		}
		if next < 0 {
			break
		}
		used[next] = true
		cur = certs[next]
		if certpath.SelfSigned(cur) {
			break
		}
		chain = append(chain, cur)
	}
	return chain
}

// keySigner is the Signer returned by New.
type keySigner struct {
	key   crypto.Signer
	chain []*x509.Certificate
}

func (s *keySigner) Public() crypto.PublicKey { return s.key.Public() }

func (s *keySigner) Sign(rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return s.key.Sign(rand, digest, opts)
}

// SignContext signs with the wrapped key, passing ctx on when the key
// implements ContextSigner.
func (s *keySigner) SignContext(ctx context.Context, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return Sign(ctx, s.key, rand.Reader, digest, opts)
}

// Chain returns a copy of the chain.
func (s *keySigner) Chain() []*x509.Certificate { return slices.Clone(s.chain) }

// LoadKeyFile returns a Signer for an unencrypted PEM private key file and
// PEM certificate files, through New.
//
// The key file holds one private key in PKCS #8 ("PRIVATE KEY"), PKCS #1
// ("RSA PRIVATE KEY") or SEC 1 ("EC PRIVATE KEY") form; other PEM blocks,
// such as "EC PARAMETERS", are ignored except for certificates, which are
// used as if they were in certPEMPath. Encrypted keys are refused. Each of
// certPEMPath, which may be empty when the key file holds the certificate,
// and chainPEMPaths holds one or more "CERTIFICATE" blocks, in any order.
func LoadKeyFile(keyPEMPath, certPEMPath string, chainPEMPaths ...string) (Signer, error) {
	data, err := os.ReadFile(keyPEMPath)
	if err != nil {
		return nil, fmt.Errorf("signer: read key file: %w", err)
	}
	key, certs, err := parseKeyPEM(data)
	if err != nil {
		return nil, fmt.Errorf("signer: key file %s: %w", keyPEMPath, err)
	}
	paths := chainPEMPaths
	if certPEMPath != "" {
		paths = append([]string{certPEMPath}, chainPEMPaths...)
	}
	for _, p := range paths {
		cs, err := LoadCertificates(p)
		if err != nil {
			return nil, err
		}
		certs = append(certs, cs...)
	}
	s, err := newSigner(key, certs)
	if err != nil {
		return nil, fmt.Errorf("signer: key file %s: %w", keyPEMPath, err)
	}
	return s, nil
}

// parseKeyPEM returns the private key and the certificates in a PEM key
// file.
func parseKeyPEM(data []byte) (crypto.Signer, []*x509.Certificate, error) {
	var (
		key   crypto.Signer
		certs []*x509.Certificate
		found bool
	)
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		found = true
		switch block.Type {
		case "ENCRYPTED PRIVATE KEY":
			return nil, nil, errors.New("encrypted private keys are not supported; decrypt the key first (openssl pkey -in KEY -out PLAIN)")
		case "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY":
			if strings.Contains(block.Headers["Proc-Type"], "ENCRYPTED") || block.Headers["DEK-Info"] != "" {
				return nil, nil, errors.New("encrypted private keys are not supported; decrypt the key first (openssl pkey -in KEY -out PLAIN)")
			}
			if key != nil {
				return nil, nil, errors.New("more than one private key")
			}
			k, err := parsePrivateKey(block)
			if err != nil {
				return nil, nil, err
			}
			key = k
		case "CERTIFICATE":
			c, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return nil, nil, fmt.Errorf("certificate: %w", err)
			}
			certs = append(certs, c)
		}
	}
	if !found {
		return nil, nil, errors.New("no PEM data found")
	}
	if key == nil {
		return nil, nil, errors.New("no private key PEM block found")
	}
	return key, certs, nil
}

// parsePrivateKey parses a PEM private key block according to its type.
func parsePrivateKey(block *pem.Block) (crypto.Signer, error) {
	var (
		key any
		err error
	)
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	}
	if err != nil {
		return nil, fmt.Errorf("parsing %s: %w", block.Type, err)
	}
	s, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("unsupported key type %T (want RSA or ECDSA)", key)
	}
	return s, nil
}

// LoadCertificates returns the certificates of a PEM file, in order; blocks
// of other types are skipped.
func LoadCertificates(path string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("signer: read certificate file: %w", err)
	}
	var (
		certs []*x509.Certificate
		found bool
	)
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		found = true
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("signer: certificate file %s: certificate %d: %w", path, len(certs)+1, err)
		}
		certs = append(certs, c)
	}
	if !found {
		return nil, fmt.Errorf("signer: certificate file %s: no PEM data found", path)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("signer: certificate file %s: no CERTIFICATE PEM block found", path)
	}
	return certs, nil
}

// LoadPKCS12 returns a Signer for the private key and certificates of a
// PKCS #12 (.p12, .pfx) file, through New. It reads the PBES2/AES files
// that OpenSSL 3 writes by default as well as older 3DES ones. A wrong
// password gives an error wrapping ErrWrongPassword.
func LoadPKCS12(path, password string) (Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("signer: read pkcs12 file: %w", err)
	}
	key, cert, caCerts, err := pkcs12.DecodeChain(data, password)
	if errors.Is(err, pkcs12.ErrIncorrectPassword) {
		return nil, fmt.Errorf("signer: pkcs12 %s: %w", path, ErrWrongPassword)
	}
	if err != nil {
		return nil, fmt.Errorf("signer: pkcs12 %s: %w", path, err)
	}
	k, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("signer: pkcs12 %s: unsupported key type %T (want RSA or ECDSA)", path, key)
	}
	s, err := newSigner(k, append([]*x509.Certificate{cert}, caCerts...))
	if err != nil {
		return nil, fmt.Errorf("signer: pkcs12 %s: %w", path, err)
	}
	return s, nil
}
