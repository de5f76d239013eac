package hashsvc

import (
	"errors"
	"fmt"
	"net/mail"
	"slices"
	"strings"
	"time"
)

// Defaults of ConsentConfig.
const (
	DefaultCodeLength      = 6
	DefaultCodeLifetime    = 5 * time.Minute
	DefaultResendInterval  = 30 * time.Second
	DefaultMaxAttempts     = 5
	DefaultLockout         = 15 * time.Minute
	DefaultSADLifetime     = 5 * time.Minute
	DefaultOneTimeLifetime = time.Hour
	DefaultOneTimeBackdate = 5 * time.Minute
)

// ConsentConfig configures how people consent to signatures with explicit
// credentials: one-time codes, PINs, SADs, lockout, and the one-time
// certificates issued to signers without a credential of their own.
type ConsentConfig struct {
	// SecretFile holds at least 32 random bytes (hex or raw). It keys the
	// hashes under which codes are stored and derives the TOTP secrets, so
	// that the database alone reveals neither. It is required for TOTP,
	// whose enrolments must outlive a restart; without it a random secret
	// is made at each start.
	SecretFile string `yaml:"secret_file"`
	// CodeLength is the number of digits of a one-time code (default 6).
	CodeLength int `yaml:"code_length"`
	// CodeLifetime is how long a sent code is valid (default 5m).
	CodeLifetime time.Duration `yaml:"code_lifetime"`
	// ResendInterval is the least time between two codes sent to one
	// signer (default 30s).
	ResendInterval time.Duration `yaml:"resend_interval"`
	// MaxAttempts wrong codes or PINs in a row lock the signer out for
	// Lockout (defaults 5 and 15m).
	MaxAttempts int           `yaml:"max_attempts"`
	Lockout     time.Duration `yaml:"lockout"`
	// SADLifetime is how long a SAD from credentials/authorize is valid
	// (default 5m). A SAD serves one signHash call.
	SADLifetime time.Duration `yaml:"sad_lifetime"`
	// TOTPIssuer names the service in authenticator apps (default
	// "hashsvc").
	TOTPIssuer string `yaml:"totp_issuer"`
	// SMTP sends codes by e-mail.
	SMTP *SMTPConfig `yaml:"smtp"`
	// SMS posts codes to a webhook, such as an SMS gateway.
	SMS *WebhookConfig `yaml:"sms_webhook"`
	// OneTime issues one-time certificates.
	OneTime *OneTimeConfig `yaml:"one_time"`
}

// SMTPConfig is the mail server that e-mails codes.
type SMTPConfig struct {
	// Addr is host:port of the submission server.
	Addr string `yaml:"addr"`
	// From is the sender address.
	From string `yaml:"from"`
	// Username and a password from PasswordFile or PasswordEnv
	// authenticate (PLAIN) when set; PLAIN needs TLS except on loopback.
	Username     string `yaml:"username"`
	PasswordFile string `yaml:"password_file"`
	PasswordEnv  string `yaml:"password_env"`
	// TLS is "starttls" (the default: the server must offer it), "tls"
	// (TLS from the start, port 465) or "none" (plain, for a relay on
	// loopback or a trusted network).
	TLS string `yaml:"tls"`
	// Timeout bounds one delivery (default 30s).
	Timeout time.Duration `yaml:"timeout"`
}

// WebhookConfig is an HTTP endpoint that receives codes as JSON, such as an
// SMS gateway.
type WebhookConfig struct {
	// URL receives POST requests.
	URL string `yaml:"url"`
	// SecretFile, when set, keys an HMAC-SHA256 of the timestamp and the
	// body, sent in the Hashsvc-Signature header.
	SecretFile string `yaml:"secret_file"`
	// Timeout bounds one delivery (default 30s).
	Timeout time.Duration `yaml:"timeout"`
}

// OneTimeConfig configures one-time certificates: for a signer without a
// credential, the service generates a key, issues a short-lived
// certificate naming the signer from its issuing CA, and destroys the key
// when the signer's request ends.
type OneTimeConfig struct {
	// CAKey is the issuing CA's key: a PEM key file, or a URI of a key
	// opener (pkcs11:...). CACert is its PEM certificate and CAChain the
	// PEM files of the CAs above it (without the root).
	CAKey   string   `yaml:"ca_key"`
	CACert  string   `yaml:"ca_cert"`
	CAChain []string `yaml:"ca_chain"`
	// KeyToken, when set, is a PKCS#11 URI (module, token, PIN source)
	// of the token in which one-time keys are generated; otherwise they
	// live in memory only.
	KeyToken string `yaml:"key_token"`
	// Lifetime is how long a one-time certificate and its key live at
	// most (default 1h); the certificate starts DefaultOneTimeBackdate
	// earlier.
	Lifetime time.Duration `yaml:"lifetime"`
	// OCSP, CAIssuers and CRL are the URLs that the certificates name
	// (AIA and CRL distribution points), for validators.
	OCSP      string `yaml:"ocsp_url"`
	CAIssuers string `yaml:"ca_issuers_url"`
	CRL       string `yaml:"crl_url"`
}

// SignerConfig is the person behind an explicit credential.
type SignerConfig struct {
	// ID identifies the person: their lockout and TOTP enrolment. The
	// default is the credential's id.
	ID    string `yaml:"id"`
	Name  string `yaml:"name"`
	Email string `yaml:"email"`
	Phone string `yaml:"phone"`
	// OTP is the channel of their one-time codes: "email", "sms" (the
	// SMS webhook), "totp" (an authenticator app), or empty for a PIN
	// alone.
	OTP string `yaml:"otp"`
	// PINBcrypt is the bcrypt hash of their PIN (`hashsvc pin hash`),
	// when a PIN is required.
	PINBcrypt string `yaml:"pin_bcrypt"`
}

// Operations an API key may be limited to (APIKeyConfig.Operations).
const (
	OpSignHash = "signHash" // signatures/signHash: any hash
	OpCAdES    = "cades"    // /v1/cades/sign: the service builds the signed attributes
)

// checkConsent checks the consent settings and fills in defaults.
func (c *Config) checkConsent() error {
	cc := &c.Consent
	defaults := []struct {
		d   *time.Duration
		def time.Duration
	}{
		{&cc.CodeLifetime, DefaultCodeLifetime}, {&cc.ResendInterval, DefaultResendInterval},
		{&cc.Lockout, DefaultLockout}, {&cc.SADLifetime, DefaultSADLifetime},
	}
	for _, d := range defaults {
		if *d.d <= 0 {
			*d.d = d.def
		}
	}
	if cc.CodeLength == 0 {
		cc.CodeLength = DefaultCodeLength
	}
	if cc.CodeLength < 6 || cc.CodeLength > 10 {
		return fmt.Errorf("consent.code_length %d: use 6 to 10 digits", cc.CodeLength)
	}
	if cc.MaxAttempts <= 0 {
		cc.MaxAttempts = DefaultMaxAttempts
	}
	if cc.TOTPIssuer == "" {
		cc.TOTPIssuer = "hashsvc"
	}
	if s := cc.SMTP; s != nil {
		if s.Addr == "" || s.From == "" {
			return errors.New("consent.smtp: addr and from are required")
		}
		if _, err := mail.ParseAddress(s.From); err != nil {
			return fmt.Errorf("consent.smtp.from %q: %w", s.From, err)
		}
		switch s.TLS {
		case "":
			s.TLS = "starttls"
		case "starttls", "tls", "none":
		default:
			return fmt.Errorf("consent.smtp.tls %q: use starttls, tls or none", s.TLS)
		}
		if s.Timeout <= 0 {
			s.Timeout = 30 * time.Second
		}
	}
	if w := cc.SMS; w != nil {
		if !strings.HasPrefix(w.URL, "http://") && !strings.HasPrefix(w.URL, "https://") {
			return fmt.Errorf("consent.sms_webhook.url %q: want an http or https URL", w.URL)
		}
		if w.Timeout <= 0 {
			w.Timeout = 30 * time.Second
		}
	}
	if o := cc.OneTime; o != nil {
		if o.Lifetime <= 0 {
			o.Lifetime = DefaultOneTimeLifetime
		}
		if (o.CAKey == "") != (o.CACert == "") {
			return errors.New("consent.one_time: ca_key and ca_cert go together")
		}
	}
	for _, cr := range c.Credentials {
		if strings.HasPrefix(cr.ID, OneTimePrefix) {
			return fmt.Errorf("credential %q: ids starting %q are for one-time credentials", cr.ID, OneTimePrefix)
		}
		if err := cr.checkAuth(cc); err != nil {
			return fmt.Errorf("credential %q: %w", cr.ID, err)
		}
	}
	for _, k := range c.APIKeys {
		for _, op := range k.Operations {
			if op != OpSignHash && op != OpCAdES {
				return fmt.Errorf("api key %q: unknown operation %q (use %s or %s)", k.ID, op, OpSignHash, OpCAdES)
			}
		}
	}
	return c.checkRequests()
}

// checkAuth checks a credential's authorization settings.
func (cr *CredentialConfig) checkAuth(cc *ConsentConfig) error {
	switch cr.AuthMode {
	case "", "implicit":
		if cr.Signer != nil {
			return errors.New("signer is for explicit credentials (auth_mode: explicit)")
		}
		return nil
	case "explicit":
	default:
		return fmt.Errorf("auth_mode %q: use implicit or explicit", cr.AuthMode)
	}
	s := cr.Signer
	if s == nil {
		return errors.New("an explicit credential needs a signer (who consents, and how)")
	}
	return checkChannel(Channel(s.OTP), s.Email, s.Phone, s.PINBcrypt != "", cc)
}

// checkChannel reports why codes cannot reach a signer on channel ch.
func checkChannel(ch Channel, email, phone string, pin bool, cc *ConsentConfig) error {
	switch ch {
	case ChannelEmail:
		if cc.SMTP == nil {
			return errors.New("codes by e-mail need consent.smtp")
		}
		if _, err := mail.ParseAddress(email); err != nil {
			return fmt.Errorf("e-mail address %q: %w", email, err)
		}
	case ChannelSMS:
		if cc.SMS == nil {
			return errors.New("codes by SMS need consent.sms_webhook")
		}
		if phone == "" {
			return errors.New("codes by SMS need a phone number")
		}
	case ChannelTOTP:
	case ChannelNone:
		if !pin {
			return errors.New("an explicit signer needs an otp channel (email, sms, totp) or a pin")
		}
	default:
		return fmt.Errorf("otp %q: use email, sms or totp", ch)
	}
	return nil
}

// mayDo reports whether the API key k may call operation op.
func (k *APIKeyConfig) mayDo(op string) bool {
	return len(k.Operations) == 0 || slices.Contains(k.Operations, op)
}
