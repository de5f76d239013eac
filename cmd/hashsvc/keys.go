package main

import (
	"context"

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
