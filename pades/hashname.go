package pades

import (
	"crypto"
	"fmt"
	"strings"
)

// HashName returns the name of a digest algorithm that signatures use, as
// flags, journals, reports and the gateway's answers write it: sha256,
// sha384 or sha512 (crypto.Hash's String for others).
func HashName(h crypto.Hash) string {
	switch h {
	case crypto.SHA256:
		return "sha256"
	case crypto.SHA384:
		return "sha384"
	case crypto.SHA512:
		return "sha512"
	}
	return h.String()
}

// ParseHash parses the name of a digest algorithm for signatures: sha256,
// sha384 or sha512, in any case, with or without a hyphen (SHA-256).
func ParseHash(s string) (crypto.Hash, error) {
	for _, h := range []crypto.Hash{crypto.SHA256, crypto.SHA384, crypto.SHA512} {
		if strings.ToLower(strings.ReplaceAll(s, "-", "")) == HashName(h) {
			return h, nil
		}
	}
	return 0, fmt.Errorf("digest algorithm %q: use sha256, sha384 or sha512", s)
}
