package csc

// Paths of the consent endpoints (CSC API v2, section 11.6 and 11.7).
const (
	PathCredentialsAuthorize = "/csc/v2/credentials/authorize"
	PathCredentialsSendOTP   = "/csc/v2/credentials/sendOTP"
)

// Authorization modes of CredentialInfo.AuthMode.
const (
	// AuthImplicit: the API key alone authorizes signing (a seal).
	AuthImplicit = "implicit"
	// AuthExplicit: each signature needs a SAD from credentials/authorize,
	// which takes the signer's PIN and/or one-time code.
	AuthExplicit = "explicit"
)

// Error codes of the consent endpoints.
const (
	ErrInvalidOTP = "invalid_otp" // 400: the one-time code is wrong, expired or already used
	ErrInvalidPIN = "invalid_pin" // 400: the PIN is wrong
	ErrInvalidSAD = "invalid_sad" // 400: the SAD is missing, unknown, expired, used, or for other hashes
	ErrLocked     = "locked"      // 403: too many wrong codes; the signer is locked out for a while
	ErrRateLimit  = "rate_limit"  // 429: a code was sent too recently
)

// AuthorizeRequest is the body of POST /csc/v2/credentials/authorize. For
// an explicit credential, Hashes (base64, of the HashAlgorithmOID hash,
// SHA-256 when empty) are the exact hashes the SAD will sign, at most
// NumSignatures of them (SCAL2), and PIN and/or OTP prove the signer's
// consent. Hash and HashAlgo are the CSC v1 names of Hashes and
// HashAlgorithmOID.
type AuthorizeRequest struct {
	CredentialID     string   `json:"credentialID"`
	NumSignatures    int      `json:"numSignatures"`
	Hashes           []string `json:"hashes,omitempty"`
	Hash             []string `json:"hash,omitempty"`
	HashAlgorithmOID string   `json:"hashAlgorithmOID,omitempty"`
	HashAlgo         string   `json:"hashAlgo,omitempty"`
	PIN              string   `json:"PIN,omitempty"`
	OTP              string   `json:"OTP,omitempty"`
	Description      string   `json:"description,omitempty"`
	ClientData       string   `json:"clientData,omitempty"`
}

// AuthorizeResponse answers credentials/authorize: the Signature Activation
// Data, valid ExpiresIn seconds and for one signHash call.
type AuthorizeResponse struct {
	SAD       string `json:"SAD"`
	ExpiresIn int    `json:"expiresIn"`
}

// SendOTPRequest is the body of POST /csc/v2/credentials/sendOTP: it sends
// a one-time code to the signer of an explicit credential (by e-mail or
// SMS gateway, as the credential is configured).
type SendOTPRequest struct {
	CredentialID string `json:"credentialID"`
	ClientData   string `json:"clientData,omitempty"`
}

// PINInfo describes the PIN of an explicit credential in CredentialInfo:
// Presence is "true", "false" or "optional".
type PINInfo struct {
	Presence    string `json:"presence"`
	Format      string `json:"format,omitempty"`
	Label       string `json:"label,omitempty"`
	Description string `json:"description,omitempty"`
}

// OTPInfo describes the one-time code of an explicit credential in
// CredentialInfo: Type is "online" (sent by credentials/sendOTP) or
// "offline" (TOTP from an authenticator app).
type OTPInfo struct {
	Presence    string `json:"presence"`
	Type        string `json:"type,omitempty"`
	Format      string `json:"format,omitempty"`
	Label       string `json:"label,omitempty"`
	Description string `json:"description,omitempty"`
	ID          string `json:"ID,omitempty"`
	Provider    string `json:"provider,omitempty"`
}
