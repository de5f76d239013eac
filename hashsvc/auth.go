package hashsvc

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
)

// APIKeyPrefix starts every API key that NewAPIKey makes, so that keys are
// easy to recognize (and to find in places they should not be).
const APIKeyPrefix = "hsk_"

// NewAPIKey returns a new random API key (256 bits) and the hex SHA-256
// that the configuration stores in its place.
func NewAPIKey() (key, sha256Hex string, err error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", "", fmt.Errorf("generating an API key: %w", err)
	}
	key = APIKeyPrefix + base64.RawURLEncoding.EncodeToString(b)
	return key, HashAPIKey(key), nil
}

// HashAPIKey returns the hex SHA-256 of an API key. API keys carry 256
// random bits, so a fast hash protects them as well as a password hash
// would.
func HashAPIKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// apiKey is a configured API key.
type apiKey struct {
	cfg        APIKeyConfig
	hash       [32]byte
	clientCert []byte // SHA-256 of the bound client certificate, or nil
}

// keyring authenticates API keys.
type keyring struct {
	keys []*apiKey
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
	h := r.Header.Get("Authorization")
	if h == "" {
		return nil, &authError{"unauthorized", "an API key is required: Authorization: Bearer KEY"}
	}
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return nil, &authError{"invalid_token", "the Authorization header must be: Bearer KEY"}
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(token)))
	var found *apiKey
	for _, k := range kr.keys {
		if subtle.ConstantTimeCompare(sum[:], k.hash[:]) == 1 {
			found = k
		}
	}
	if found == nil {
		return nil, &authError{"invalid_token", "the API key is not valid"}
	}
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
