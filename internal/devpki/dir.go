package devpki

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// File names used by [WriteDir] and [LoadDir]. Certificates are PEM
// "CERTIFICATE" blocks, keys PEM "PRIVATE KEY" blocks holding PKCS #8.
const (
	RootCertFile          = "root.pem"
	RootKeyFile           = "root.key"
	IntermediateCertFile  = "inter.pem"
	IntermediateKeyFile   = "inter.key"
	ChainFile             = "chain.pem" // intermediate, then root
	SignerRSACertFile     = "signer-rsa.pem"
	SignerRSAKeyFile      = "signer-rsa.key"
	SignerRSA3072CertFile = "signer-rsa3072.pem"
	SignerRSA3072KeyFile  = "signer-rsa3072.key"
	SignerP256CertFile    = "signer-p256.pem"
	SignerP256KeyFile     = "signer-p256.key"
	SignerP384CertFile    = "signer-p384.pem"
	SignerP384KeyFile     = "signer-p384.key"
	TSACertFile           = "tsa.pem"
	TSAKeyFile            = "tsa.key"
	OCSPCertFile          = "ocsp.pem"
	OCSPKeyFile           = "ocsp.key"
)

// identityFile ties a PKI field to its certificate and key files.
type identityFile struct {
	id       **Identity
	cert     string
	key      string
	optional bool
}

func (p *PKI) files() []identityFile {
	return []identityFile{
		{&p.Root, RootCertFile, RootKeyFile, false},
		{&p.Intermediate, IntermediateCertFile, IntermediateKeyFile, false},
		{&p.SignerRSA, SignerRSACertFile, SignerRSAKeyFile, false},
		{&p.SignerRSA3072, SignerRSA3072CertFile, SignerRSA3072KeyFile, true},
		{&p.SignerP256, SignerP256CertFile, SignerP256KeyFile, false},
		{&p.SignerP384, SignerP384CertFile, SignerP384KeyFile, false},
		{&p.TSA, TSACertFile, TSAKeyFile, false},
		{&p.OCSP, OCSPCertFile, OCSPKeyFile, false},
	}
}

// DefaultDir returns a per-user directory under os.TempDir in which tests
// can share a PKI generated with default [Options] through
// [LoadOrGenerate]. Its name includes [Version].
func DefaultDir() string {
	name := "hashsign-testpki-" + Version
	if uid := os.Getuid(); uid >= 0 {
		name += "-" + strconv.Itoa(uid)
	}
	return filepath.Join(os.TempDir(), name)
}

// WriteDir writes the certificates and private keys of p to dir as PEM
// files named by the *File constants, creating dir if needed. Private keys
// are written unencrypted, readable only by the owner.
func WriteDir(p *PKI, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("devpki: creating directory: %w", err)
	}
	for _, f := range p.files() {
		id := *f.id
		if id == nil {
			if f.optional {
				continue
			}
			return fmt.Errorf("devpki: writing %s: missing identity", f.cert)
		}
		if err := writeFile(filepath.Join(dir, f.cert), 0o644, certPEM(id.Cert)); err != nil {
			return err
		}
		der, err := x509.MarshalPKCS8PrivateKey(id.Key)
		if err != nil {
			return fmt.Errorf("devpki: encoding %s: %w", f.key, err)
		}
		keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
		if err := writeFile(filepath.Join(dir, f.key), 0o600, keyPEM); err != nil {
			return err
		}
	}
	chain := append(certPEM(p.Intermediate.Cert), certPEM(p.Root.Cert)...)
	return writeFile(filepath.Join(dir, ChainFile), 0o644, chain)
}

func certPEM(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

func writeFile(name string, perm fs.FileMode, data []byte) error {
	if err := os.WriteFile(name, data, perm); err != nil {
		return fmt.Errorf("devpki: %w", err)
	}
	return nil
}

// LoadDir reads a PKI written by [WriteDir]. It checks that every private
// key matches its certificate, but not that the certificates form a valid
// chain. A missing SignerRSA3072 is not an error.
func LoadDir(dir string) (*PKI, error) {
	p := new(PKI)
	for _, f := range p.files() {
		id, err := loadIdentity(filepath.Join(dir, f.cert), filepath.Join(dir, f.key))
		if err != nil {
			if f.optional && errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return nil, err
		}
		*f.id = id
	}
	return p, nil
}

func loadIdentity(certFile, keyFile string) (*Identity, error) {
	certData, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("devpki: %w", err)
	}
	block, _ := pem.Decode(certData)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("devpki: %s: no PEM CERTIFICATE block", certFile)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("devpki: parsing %s: %w", certFile, err)
	}

	keyData, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("devpki: %w", err)
	}
	block, _ = pem.Decode(keyData)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("devpki: %s: no PEM PRIVATE KEY block", keyFile)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("devpki: parsing %s: %w", keyFile, err)
	}
	key, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("devpki: %s: key of type %T is not a crypto.Signer", keyFile, k)
	}
	if !publicKeysEqual(key.Public(), cert.PublicKey) {
		return nil, fmt.Errorf("devpki: %s does not match %s", keyFile, certFile)
	}
	return &Identity{Cert: cert, Key: key}, nil
}

// LoadOrGenerate returns the PKI stored in dir, generating it with opts and
// writing it there first if dir does not exist.
//
// It is safe for concurrent use by several processes, such as the test
// binaries of different packages: the PKI is written to a temporary
// directory next to dir that is then renamed to dir, so dir is either absent
// or complete. When two processes race, both generate a PKI and the one that
// renames first wins; the other uses the winner's PKI.
//
// A PKI found in dir must fit opts: it must have the same BaseURL, include
// SignerRSA3072 if opts.RSA3072 is set and be valid at the current time.
// Otherwise LoadOrGenerate returns an error rather than replacing a
// directory that other processes may be reading; the caller should remove it
// or use a directory whose name reflects opts.
func LoadOrGenerate(dir string, opts Options) (*PKI, error) {
	p, err := LoadDir(dir)
	if err == nil {
		if err := fits(p, opts, time.Now()); err != nil {
			return nil, fmt.Errorf("devpki: PKI in %s: %w", dir, err)
		}
		return p, nil
	}
	if _, statErr := os.Stat(dir); !errors.Is(statErr, fs.ErrNotExist) {
		return nil, err
	}

	p, err = Generate(opts)
	if err != nil {
		return nil, err
	}
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, fmt.Errorf("devpki: creating directory: %w", err)
	}
	tmp, err := os.MkdirTemp(parent, filepath.Base(dir)+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("devpki: creating temporary directory: %w", err)
	}
	if err := WriteDir(p, tmp); err != nil {
		os.RemoveAll(tmp)
		return nil, err
	}
	if err := os.Rename(tmp, dir); err != nil {
		os.RemoveAll(tmp)
		// Another process may have created dir first.
		if q, loadErr := LoadDir(dir); loadErr == nil {
			if err := fits(q, opts, time.Now()); err != nil {
				return nil, fmt.Errorf("devpki: PKI in %s: %w", dir, err)
			}
			return q, nil
		}
		return nil, fmt.Errorf("devpki: %w", err)
	}
	return p, nil
}

// fits reports, as an error, why p does not match opts at time now.
func fits(p *PKI, opts Options, now time.Time) error {
	var base string
	if urls := p.SignerRSA.Cert.CRLDistributionPoints; len(urls) > 0 {
		base, _ = strings.CutSuffix(urls[0], IntermediateCRLPath)
	}
	if base != strings.TrimSuffix(opts.BaseURL, "/") {
		return fmt.Errorf("generated for base URL %q, want %q", base, opts.BaseURL)
	}
	if opts.RSA3072 && p.SignerRSA3072 == nil {
		return errors.New("has no RSA-3072 signer")
	}
	for _, f := range p.files() {
		id := *f.id
		if id == nil {
			continue
		}
		if now.Before(id.Cert.NotBefore) || now.After(id.Cert.NotAfter) {
			return fmt.Errorf("certificate %q is not valid at %v", id.Cert.Subject.CommonName, now.Format(time.RFC3339))
		}
	}
	return nil
}
