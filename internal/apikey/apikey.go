// Package apikey makes and checks bearer API keys, which services store
// only as their SHA-256: hashsvc and the signing gateway of `pades serve`.
package apikey

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// New returns a new random API key (256 bits, base64url after prefix) and
// the hex SHA-256 that a configuration stores in its place.
func New(prefix string) (key, sha256Hex string, err error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", "", fmt.Errorf("generating an API key: %w", err)
	}
	key = prefix + base64.RawURLEncoding.EncodeToString(b)
	return key, Hash(key), nil
}

// Hash returns the hex SHA-256 of an API key. API keys carry 256 random
// bits, so a fast hash protects them as well as a password hash would.
func Hash(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// ParseHash decodes the hex SHA-256 of a key as a configuration holds it.
func ParseHash(s string) ([32]byte, error) {
	var h [32]byte
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(h) {
		return h, errors.New("an API key's sha256 must be 64 hex digits")
	}
	copy(h[:], b)
	return h, nil
}

// Errors of Bearer.
var (
	ErrMissing   = errors.New("an API key is required: Authorization: Bearer KEY")
	ErrMalformed = errors.New("the Authorization header must be: Bearer KEY")
)

// Bearer returns the key of an Authorization header value "Bearer KEY".
func Bearer(header string) (string, error) {
	if header == "" {
		return "", ErrMissing
	}
	scheme, token, ok := strings.Cut(header, " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", ErrMalformed
	}
	return token, nil
}

// Match returns the index in hashes of the SHA-256 of key, or -1. It
// compares with every hash in constant time, so that the time it takes
// does not tell how much of a hash a guess got right.
func Match(key string, hashes [][32]byte) int {
	sum := sha256.Sum256([]byte(key))
	found := -1
	for i := range hashes {
		if subtle.ConstantTimeCompare(sum[:], hashes[i][:]) == 1 {
			found = i
		}
	}
	return found
}
