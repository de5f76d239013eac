// Package devpki generates a small public key infrastructure for tests:
// a root CA, an intermediate CA, signing certificates with RSA and ECDSA
// keys, a time-stamping authority and an OCSP responder.
//
// The certificates are meant for tests and development servers only. Their
// private keys are generated fresh and are written to disk unencrypted by
// [WriteDir].
//
// RSA key generation is slow, so tests that need a PKI should share one
// through [LoadOrGenerate] and a directory such as [DefaultDir], which lets
// test binaries of several packages reuse the same keys.
package devpki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strings"
	"sync"
	"time"
)

// Version identifies the layout and contents of generated PKIs. It changes
// whenever a change to this package makes previously written directories
// unsuitable, and is part of the name returned by [DefaultDir].
const Version = "2"

// Default validity settings used when the corresponding [Options] field is
// zero.
const (
	// DefaultValidity is the lifetime of every generated certificate.
	DefaultValidity = 20 * 365 * 24 * time.Hour

	// DefaultBackdate is how long before the current time certificates
	// become valid when Options.NotBefore is zero, so that signing times
	// slightly in the past still fall inside the validity period.
	DefaultBackdate = 24 * time.Hour
)

// Subject names of the generated certificates.
const (
	Organization    = "hashsign tests"
	RootCN          = "hashsign Test Root CA"
	IntermediateCN  = "hashsign Test Intermediate CA"
	SignerRSACN     = "hashsign Test Signer RSA"
	SignerRSA3072CN = "hashsign Test Signer RSA-3072"
	SignerP256CN    = "hashsign Test Signer P-256"
	SignerP384CN    = "hashsign Test Signer P-384"
	TSACN           = "hashsign Test TSA"
	OCSPResponderCN = "hashsign Test OCSP Responder"
)

const (
	rsaKeyBits       = 2048
	rsa3072KeyBits   = 3072
	serialNumberBits = 128
)

// URL paths, relative to Options.BaseURL, that generated certificates refer
// to. A server that wants to answer for the PKI serves these paths.
const (
	OCSPPath             = "/ocsp"
	RootCertPath         = "/ca/root.cer"
	IntermediateCertPath = "/ca/inter.cer"
	RootCRLPath          = "/crl/root.crl"
	IntermediateCRLPath  = "/crl/inter.crl"
)

// oidExtensionExtendedKeyUsage returns id-ce-extKeyUsage (RFC 5280).
func oidExtensionExtendedKeyUsage() asn1.ObjectIdentifier {
	return asn1.ObjectIdentifier{2, 5, 29, 37}
}

// oidKeyPurposeTimeStamping returns id-kp-timeStamping (RFC 5280).
func oidKeyPurposeTimeStamping() asn1.ObjectIdentifier {
	return asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 8}
}

// oidKeyPurposeDocumentSigning returns id-kp-documentSigning (RFC 9336),
// which the signer certificates carry.
func oidKeyPurposeDocumentSigning() asn1.ObjectIdentifier {
	return asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 36}
}

// oidOCSPNoCheck returns id-pkix-ocsp-nocheck (RFC 6960, section
// 4.2.2.2.1).
func oidOCSPNoCheck() asn1.ObjectIdentifier {
	return asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 5}
}

// Options controls [Generate]. The zero value is usable.
type Options struct {
	// BaseURL, when not empty, is the URL of a server answering for the
	// PKI, such as "http://127.0.0.1:8080"; a trailing slash is ignored.
	// Certificates issued by the intermediate CA then carry an
	// Authority Information Access extension naming BaseURL+OCSPPath as
	// OCSP responder and BaseURL+IntermediateCertPath as CA issuer, and a
	// CRL distribution point BaseURL+IntermediateCRLPath. The
	// intermediate certificate names BaseURL+RootCertPath and
	// BaseURL+RootCRLPath; it has no OCSP responder, since the responder
	// is delegated by the intermediate CA. The OCSP responder certificate
	// names no OCSP responder either, as it carries id-pkix-ocsp-nocheck.
	BaseURL string

	// NotBefore is the start of the validity period of every certificate.
	// If zero, it is the current time, truncated to the second, less
	// DefaultBackdate.
	NotBefore time.Time

	// Validity is the lifetime of every certificate. If zero,
	// DefaultValidity is used.
	Validity time.Duration

	// RSA3072 requests the optional PKI.SignerRSA3072.
	RSA3072 bool

	// Rand is the source of serial numbers. If nil, crypto/rand.Reader is
	// used. Key generation and certificate signatures always use a secure
	// source of randomness, whatever Rand is (see crypto/rsa.GenerateKey),
	// so a deterministic Rand does not make the output reproducible.
	Rand io.Reader
}

// Identity is a certificate together with its private key.
type Identity struct {
	Cert *x509.Certificate
	Key  crypto.Signer // an *rsa.PrivateKey or *ecdsa.PrivateKey
}

// PKI is a generated public key infrastructure. Every certificate except
// Root is issued by Intermediate, which is issued by Root.
type PKI struct {
	// Root is a self-signed RSA-2048 CA.
	Root *Identity

	// Intermediate is an RSA-2048 CA with a path length constraint of 0.
	Intermediate *Identity

	// SignerRSA, SignerRSA3072, SignerP256 and SignerP384 are end-entity
	// certificates with key usage digitalSignature and contentCommitment
	// (nonRepudiation), extended key usage id-kp-documentSigning (RFC
	// 9336), and RSA-2048, RSA-3072, ECDSA P-256 and ECDSA P-384 keys. SignerRSA3072 is nil unless Options.RSA3072 was set.
	SignerRSA     *Identity
	SignerRSA3072 *Identity
	SignerP256    *Identity
	SignerP384    *Identity

	// TSA is an RSA-2048 time-stamping authority: key usage
	// digitalSignature and a critical extended key usage extension that
	// names only id-kp-timeStamping, as RFC 3161 requires.
	TSA *Identity

	// OCSP is an RSA-2048 delegated OCSP responder for Intermediate: extended
	// key usage OCSPSigning and the id-pkix-ocsp-nocheck extension.
	OCSP *Identity
}

// Chain returns the certificate chain of leaf, an identity issued by the
// intermediate CA: leaf's certificate followed by the intermediate CA
// certificate. The root is not included. If leaf is p.Intermediate, the
// chain is the intermediate certificate alone; if leaf is p.Root, it is the
// root certificate alone.
func (p *PKI) Chain(leaf *Identity) []*x509.Certificate {
	switch leaf {
	case p.Root, p.Intermediate:
		return []*x509.Certificate{leaf.Cert}
	}
	return []*x509.Certificate{leaf.Cert, p.Intermediate.Cert}
}

// RootPool returns a new certificate pool holding only the root CA
// certificate, for use as x509.VerifyOptions.Roots.
func (p *PKI) RootPool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(p.Root.Cert)
	return pool
}

// IntermediatePool returns a new certificate pool holding only the
// intermediate CA certificate, for use as x509.VerifyOptions.Intermediates.
func (p *PKI) IntermediatePool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(p.Intermediate.Cert)
	return pool
}

// Leaves returns the end-entity identities of p, in a fixed order: the
// signers, then the TSA and the OCSP responder. SignerRSA3072 is included
// only when present.
func (p *PKI) Leaves() []*Identity {
	ids := []*Identity{p.SignerRSA}
	if p.SignerRSA3072 != nil {
		ids = append(ids, p.SignerRSA3072)
	}
	return append(ids, p.SignerP256, p.SignerP384, p.TSA, p.OCSP)
}

// keyKind names a kind of key to generate.
type keyKind int

const (
	keyRSA2048 keyKind = iota
	keyRSA3072
	keyP256
	keyP384
)

// lockedReader serializes reads from a reader shared by goroutines.
type lockedReader struct {
	mu sync.Mutex
	r  io.Reader
}

func (l *lockedReader) Read(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.Read(b)
}

// generateKeys generates one key per element of kinds, concurrently.
func generateKeys(random io.Reader, kinds []keyKind) ([]crypto.Signer, error) {
	keys := make([]crypto.Signer, len(kinds))
	errs := make([]error, len(kinds))
	var wg sync.WaitGroup
	for i, kind := range kinds {
		wg.Go(func() {
			switch kind {
			case keyRSA2048:
				keys[i], errs[i] = rsa.GenerateKey(random, rsaKeyBits)
			case keyRSA3072:
				keys[i], errs[i] = rsa.GenerateKey(random, rsa3072KeyBits)
			case keyP256:
				keys[i], errs[i] = ecdsa.GenerateKey(elliptic.P256(), random)
			case keyP384:
				keys[i], errs[i] = ecdsa.GenerateKey(elliptic.P384(), random)
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("devpki: generating key %d: %w", i, err)
		}
	}
	return keys, nil
}

// Generate creates a new PKI. The keys are generated concurrently.
func Generate(opts Options) (*PKI, error) {
	random := opts.Rand
	if random == nil {
		random = rand.Reader
	} else {
		random = &lockedReader{r: random}
	}
	notBefore := opts.NotBefore
	if notBefore.IsZero() {
		notBefore = time.Now().Truncate(time.Second).Add(-DefaultBackdate)
	}
	validity := opts.Validity
	if validity == 0 {
		validity = DefaultValidity
	}
	if validity < 0 {
		return nil, errors.New("devpki: negative validity")
	}
	notAfter := notBefore.Add(validity)

	kinds := []keyKind{keyRSA2048, keyRSA2048, keyRSA2048, keyP256, keyP384, keyRSA2048, keyRSA2048}
	if opts.RSA3072 {
		kinds = append(kinds, keyRSA3072)
	}
	keys, err := generateKeys(random, kinds)
	if err != nil {
		return nil, err
	}

	g := &generator{
		random:    random,
		notBefore: notBefore,
		notAfter:  notAfter,
		baseURL:   strings.TrimSuffix(opts.BaseURL, "/"),
	}
	p := new(PKI)

	if p.Root, err = g.issue(keys[0], nil, &x509.Certificate{
		Subject:               name(RootCN),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            -1,
	}); err != nil {
		return nil, fmt.Errorf("devpki: creating root CA certificate: %w", err)
	}

	inter := &x509.Certificate{
		Subject:               name(IntermediateCN),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            0,
		MaxPathLenZero:        true,
	}
	if g.baseURL != "" {
		inter.IssuingCertificateURL = []string{g.baseURL + RootCertPath}
		inter.CRLDistributionPoints = []string{g.baseURL + RootCRLPath}
	}
	if p.Intermediate, err = g.issue(keys[1], p.Root, inter); err != nil {
		return nil, fmt.Errorf("devpki: creating intermediate CA certificate: %w", err)
	}

	signerUsage := x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment
	docSigning := func(t *x509.Certificate) {
		t.UnknownExtKeyUsage = []asn1.ObjectIdentifier{oidKeyPurposeDocumentSigning()}
	}
	if p.SignerRSA, err = g.issueLeaf(keys[2], p.Intermediate, SignerRSACN, signerUsage, true, docSigning); err != nil {
		return nil, err
	}
	if p.SignerP256, err = g.issueLeaf(keys[3], p.Intermediate, SignerP256CN, signerUsage, true, docSigning); err != nil {
		return nil, err
	}
	if p.SignerP384, err = g.issueLeaf(keys[4], p.Intermediate, SignerP384CN, signerUsage, true, docSigning); err != nil {
		return nil, err
	}
	if opts.RSA3072 {
		if p.SignerRSA3072, err = g.issueLeaf(keys[7], p.Intermediate, SignerRSA3072CN, signerUsage, true, docSigning); err != nil {
			return nil, err
		}
	}

	// crypto/x509 never marks the extended key usage extension critical,
	// but RFC 3161, section 2.3, requires it for a TSA, so it is built here.
	eku, err := asn1.Marshal([]asn1.ObjectIdentifier{oidKeyPurposeTimeStamping()})
	if err != nil {
		return nil, fmt.Errorf("devpki: encoding TSA extended key usage: %w", err)
	}
	if p.TSA, err = g.issueLeaf(keys[5], p.Intermediate, TSACN, x509.KeyUsageDigitalSignature, true, func(t *x509.Certificate) {
		t.ExtraExtensions = append(t.ExtraExtensions, pkix.Extension{
			Id:       oidExtensionExtendedKeyUsage(),
			Critical: true,
			Value:    eku,
		})
	}); err != nil {
		return nil, err
	}

	if p.OCSP, err = g.issueLeaf(keys[6], p.Intermediate, OCSPResponderCN, x509.KeyUsageDigitalSignature, false, func(t *x509.Certificate) {
		t.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning}
		t.ExtraExtensions = append(t.ExtraExtensions, pkix.Extension{
			Id:    oidOCSPNoCheck(),
			Value: asn1.NullBytes,
		})
	}); err != nil {
		return nil, err
	}
	return p, nil
}

// generator holds the settings shared by every certificate of a PKI.
type generator struct {
	random    io.Reader
	notBefore time.Time
	notAfter  time.Time
	baseURL   string
}

func name(cn string) pkix.Name {
	return pkix.Name{CommonName: cn, Organization: []string{Organization}}
}

// issueLeaf issues an end-entity certificate named cn for key. If withOCSP
// is set and the PKI has a base URL, the certificate names the OCSP
// responder. edit, if not nil, adjusts the template before it is signed.
func (g *generator) issueLeaf(key crypto.Signer, issuer *Identity, cn string, usage x509.KeyUsage, withOCSP bool, edit func(*x509.Certificate)) (*Identity, error) {
	t := &x509.Certificate{
		Subject:               name(cn),
		KeyUsage:              usage,
		BasicConstraintsValid: true,
	}
	if g.baseURL != "" {
		if withOCSP {
			t.OCSPServer = []string{g.baseURL + OCSPPath}
		}
		t.IssuingCertificateURL = []string{g.baseURL + IntermediateCertPath}
		t.CRLDistributionPoints = []string{g.baseURL + IntermediateCRLPath}
	}
	if edit != nil {
		edit(t)
	}
	id, err := g.issue(key, issuer, t)
	if err != nil {
		return nil, fmt.Errorf("devpki: creating %q certificate: %w", cn, err)
	}
	return id, nil
}

// issue completes template with a serial number, validity period and
// subject key identifier, and signs it with issuer's key, or with key itself
// when issuer is nil.
func (g *generator) issue(key crypto.Signer, issuer *Identity, template *x509.Certificate) (*Identity, error) {
	serial, err := g.serialNumber()
	if err != nil {
		return nil, err
	}
	skid, err := subjectKeyID(key.Public())
	if err != nil {
		return nil, err
	}
	template.SerialNumber = serial
	template.NotBefore = g.notBefore
	template.NotAfter = g.notAfter
	template.SubjectKeyId = skid

	parent, signingKey := template, key
	if issuer == nil {
		// crypto/x509 only fills in the authority key identifier from
		// the issuer when subject and issuer differ.
		template.AuthorityKeyId = skid
	} else {
		parent, signingKey = issuer.Cert, issuer.Key
	}
	der, err := x509.CreateCertificate(g.random, template, parent, key.Public(), signingKey)
	if err != nil {
		return nil, fmt.Errorf("signing certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parsing generated certificate: %w", err)
	}
	return &Identity{Cert: cert, Key: key}, nil
}

// serialNumber returns a random positive serial number of at most
// serialNumberBits bits.
func (g *generator) serialNumber() (*big.Int, error) {
	limit := new(big.Int).Lsh(big.NewInt(1), serialNumberBits)
	for {
		n, err := rand.Int(g.random, limit)
		if err != nil {
			return nil, fmt.Errorf("generating serial number: %w", err)
		}
		if n.Sign() > 0 {
			return n, nil
		}
	}
}

// subjectKeyID returns the SHA-1 hash of the subjectPublicKey bit string of
// pub, method (1) of RFC 5280, section 4.2.1.2.
func subjectKeyID(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("encoding public key: %w", err)
	}
	var spki struct {
		Algorithm        pkix.AlgorithmIdentifier
		SubjectPublicKey asn1.BitString
	}
	if rest, err := asn1.Unmarshal(der, &spki); err != nil {
		return nil, fmt.Errorf("decoding public key: %w", err)
	} else if len(rest) != 0 {
		return nil, errors.New("decoding public key: trailing data")
	}
	sum := sha1.Sum(spki.SubjectPublicKey.Bytes)
	return sum[:], nil
}

// publicKeysEqual reports whether a and b are the same public key.
func publicKeysEqual(a, b crypto.PublicKey) bool {
	ak, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && ak.Equal(b)
}
