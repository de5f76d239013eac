package hashsvc

import (
	"context"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"hashsign/csc"
	"hashsign/signer"
)

// KeyOpener opens the signing key of a credential whose key is a URI of
// the scheme it is registered for in Options.KeyOpeners, such as "pkcs11".
// cred is the credential's configuration, with its certificate and chain
// paths already resolved. The Signer may also implement io.Closer; the
// server closes it on shutdown.
type KeyOpener func(ctx context.Context, cred CredentialConfig) (signer.Signer, error)

// uriScheme matches the scheme of a key URI. A single letter is a Windows
// drive, not a scheme.
var uriScheme = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9+.-]+):`)

// credential is a loaded credential.
type credential struct {
	id          string
	description string
	// outsideValidity lets the credential sign outside its
	// certificate's validity period.
	outsideValidity bool
	signer          signer.Signer
	chain           []*x509.Certificate
	algos           []string // signAlgo OIDs the key supports
	keyLen          int
	curve           string
}

// openCredential loads one credential's key through the file loaders or
// the opener of its URI scheme.
func openCredential(ctx context.Context, c *Config, cc CredentialConfig, openers map[string]KeyOpener) (*credential, error) {
	cc.Cert = c.path(cc.Cert)
	for i := range cc.Chain {
		cc.Chain[i] = c.path(cc.Chain[i])
	}
	cc.PasswordFile = c.path(cc.PasswordFile)
	var (
		s   signer.Signer
		err error
	)
	if m := uriScheme.FindStringSubmatch(cc.Key); m != nil && m[1] != "file" {
		scheme := strings.ToLower(m[1])
		open, ok := openers[scheme]
		if !ok {
			return nil, fmt.Errorf("credential %q: no key opener for %q keys in this build", cc.ID, scheme)
		}
		s, err = open(ctx, cc)
	} else {
		cc.Key = c.path(strings.TrimPrefix(cc.Key, "file:"))
		s, err = openKeyFile(cc)
	}
	if err != nil {
		return nil, fmt.Errorf("credential %q: %w", cc.ID, err)
	}
	chain := s.Chain()
	if len(chain) == 0 {
		closeSigner(s)
		return nil, fmt.Errorf("credential %q: the key has no certificate", cc.ID)
	}
	cr := &credential{id: cc.ID, description: cc.Description, signer: s, chain: chain, outsideValidity: cc.SignOutsideValidity}
	switch pub := chain[0].PublicKey.(type) {
	case *rsa.PublicKey:
		cr.keyLen = pub.N.BitLen()
		cr.algos = []string{csc.OIDRSAEncryption, csc.OIDRSASSAPSS, csc.OIDSHA256WithRSA, csc.OIDSHA384WithRSA, csc.OIDSHA512WithRSA}
	case *ecdsa.PublicKey:
		cr.keyLen = pub.Curve.Params().BitSize
		cr.curve = csc.CurveOID(pub.Curve)
		cr.algos = []string{csc.OIDECPublicKey, csc.OIDECDSAWithSHA256, csc.OIDECDSAWithSHA384, csc.OIDECDSAWithSHA512}
	default:
		closeSigner(s)
		return nil, fmt.Errorf("credential %q: unsupported key type %T", cc.ID, pub)
	}
	return cr, nil
}

// openKeyFile opens a PEM key file or a PKCS #12 file.
func openKeyFile(cc CredentialConfig) (signer.Signer, error) {
	if err := checkKeyFile("key", cc.Key); err != nil {
		return nil, err
	}
	switch strings.ToLower(filepath.Ext(cc.Key)) {
	case ".p12", ".pfx":
		pass, err := credentialPassword(cc)
		if err != nil {
			return nil, err
		}
		if cc.Cert != "" || len(cc.Chain) > 0 {
			return nil, errors.New("a PKCS #12 file carries its own certificates; remove cert and chain")
		}
		return signer.LoadPKCS12(cc.Key, pass)
	}
	return signer.LoadKeyFile(cc.Key, cc.Cert, cc.Chain...)
}

// credentialPassword returns the PKCS #12 password of cc.
func credentialPassword(cc CredentialConfig) (string, error) {
	switch {
	case cc.PasswordFile != "":
		if err := checkKeyFile("password_file", cc.PasswordFile); err != nil {
			return "", err
		}
		b, err := os.ReadFile(cc.PasswordFile)
		if err != nil {
			return "", fmt.Errorf("reading password_file: %w", err)
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	case cc.PasswordEnv != "":
		p, ok := os.LookupEnv(cc.PasswordEnv)
		if !ok {
			return "", fmt.Errorf("password_env: %s is not set", cc.PasswordEnv)
		}
		return p, nil
	}
	return "", nil
}

// LoadCertificates reads the PEM "CERTIFICATE" blocks of the files at
// paths, for key openers that take certificates from files.
func LoadCertificates(paths ...string) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("reading certificates: %w", err)
		}
		n := 0
		for rest := data; ; {
			var b *pem.Block
			b, rest = pem.Decode(rest)
			if b == nil {
				break
			}
			if b.Type != "CERTIFICATE" {
				continue
			}
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("%s: certificate %d: %w", p, n+1, err)
			}
			out = append(out, c)
			n++
		}
		if n == 0 {
			return nil, fmt.Errorf("%s: no PEM certificate", p)
		}
	}
	return out, nil
}

// closeSigner closes s if it holds resources (a token session).
func closeSigner(s signer.Signer) {
	if c, ok := s.(io.Closer); ok {
		c.Close()
	}
}
