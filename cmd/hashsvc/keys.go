package main

import (
	"context"
	"crypto"
	"encoding/hex"
	"fmt"

	"hashsign/hashsvc"
	"hashsign/signer"
	"hashsign/signer/pkcs11"
)

// keyOpeners returns the openers of key URIs that this build supports, by
// URI scheme: "pkcs11" keys are opened through pool, which the caller
// closes at shutdown. Key files (PEM, PKCS #12) need no opener.
func keyOpeners(pool *pkcs11.Pool) map[string]hashsvc.KeyOpener {
	return map[string]hashsvc.KeyOpener{
		"pkcs11": func(ctx context.Context, cc hashsvc.CredentialConfig) (signer.Signer, error) {
			var opts pkcs11.OpenOptions
			if cc.Cert != "" {
				certs, err := hashsvc.LoadCertificates(cc.Cert)
				if err != nil {
					return nil, err
				}
				opts.Certificates = certs
			}
			chain, err := hashsvc.LoadCertificates(cc.Chain...)
			if err != nil {
				return nil, err
			}
			opts.Chain = chain
			return pool.Open(ctx, cc.Key, &opts)
		},
	}
}

// tokenKeys makes the keys of one-time credentials on the PKCS #11 token
// that uri selects, through pool.
type tokenKeys struct {
	pool *pkcs11.Pool
	uri  string
}

func (k tokenKeys) GenerateKey(ctx context.Context, label string) (crypto.Signer, string, error) {
	s, id, err := k.pool.GenerateKey(ctx, k.uri, label)
	if err != nil {
		return nil, "", err
	}
	return s, hex.EncodeToString(id), nil
}

func (k tokenKeys) DestroyKey(ctx context.Context, ref string) error {
	id, err := hex.DecodeString(ref)
	if err != nil || len(id) == 0 {
		return fmt.Errorf("one-time key reference %q is not a PKCS#11 id", ref)
	}
	return k.pool.DestroyKey(ctx, k.uri, id)
}

// oneTimeKeys returns the generator of one-time keys that cfg asks for,
// or nil for keys in memory.
func oneTimeKeys(cfg *hashsvc.Config, pool *pkcs11.Pool) hashsvc.KeyGenerator {
	if ot := cfg.Consent.OneTime; ot != nil && ot.KeyToken != "" {
		return tokenKeys{pool: pool, uri: ot.KeyToken}
	}
	return nil
}
