package hashsvc

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"net/http"

	"hashsign/internal/apikey"
)

// APIKeyPrefix starts every API key that NewAPIKey makes, so that keys are
// easy to recognize (and to find in places they should not be).
const APIKeyPrefix = "hsk_"

// NewAPIKey returns a new random API key (256 bits) and the hex SHA-256
// that the configuration stores in its place.
func NewAPIKey() (key, sha256Hex string, err error) {
	return apikey.New(APIKeyPrefix)
}

// HashAPIKey returns the hex SHA-256 of an API key. API keys carry 256
// random bits, so a fast hash protects them as well as a password hash
// would.
func HashAPIKey(key string) string { return apikey.Hash(key) }

// apiKey is a configured API key.
type apiKey struct {
	cfg        APIKeyConfig
	hash       [32]byte
	clientCert []byte // SHA-256 of the bound client certificate, or nil
}

// keyring authenticates API keys.
type keyring struct {
	keys   []*apiKey
	hashes [][32]byte // of keys, in order
}

func newKeyring(cfgs []APIKeyConfig) *keyring {
	kr := &keyring{}
	for _, c := range cfgs {
		k := &apiKey{cfg: c}
		h, _ := hex.DecodeString(c.SHA256) // checked by Config.Check
		copy(k.hash[:], h)
		if c.ClientCertSHA256 != "" {
			k.clientCert, _ = hex.DecodeString(c.ClientCertSHA256)
		}
		kr.keys = append(kr.keys, k)
		kr.hashes = append(kr.hashes, k.hash)
	}
	return kr
}

// authError is an authentication failure.
type authError struct {
	code, desc string
}

// authenticate returns the API key of r's bearer token. It compares the
// token's hash with every configured hash in constant time.
func (kr *keyring) authenticate(r *http.Request) (*apiKey, *authError) {
	token, err := apikey.Bearer(r.Header.Get("Authorization"))
	switch {
	case errors.Is(err, apikey.ErrMissing):
		return nil, &authError{"unauthorized", err.Error()}
	case err != nil:
		return nil, &authError{"invalid_token", err.Error()}
	}
	i := apikey.Match(token, kr.hashes)
	if i < 0 {
		return nil, &authError{"invalid_token", "the API key is not valid"}
	}
	found := kr.keys[i]
	if found.clientCert != nil {
		if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 {
			return nil, &authError{"invalid_token", "the API key requires a client certificate"}
		}
		cs := sha256.Sum256(r.TLS.VerifiedChains[0][0].Raw)
		if subtle.ConstantTimeCompare(cs[:], found.clientCert) != 1 {
			return nil, &authError{"invalid_token", "the API key is bound to another client certificate"}
		}
	}
	return found, nil
}
