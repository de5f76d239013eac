package hashsvc

import (
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"hashsign/internal/listen"
	"hashsign/internal/yamlconfig"
)

// ExampleConfig is a commented example of the configuration file
// (config.example.yaml), which `hashsvc example-config` prints.
//
//go:embed config.example.yaml
var ExampleConfig []byte

// Defaults used when the corresponding Config fields are zero.
const (
	DefaultListen          = "127.0.0.1:8443"
	DefaultMaxBodyBytes    = 256 << 10
	DefaultMaxBatch        = 256
	DefaultRequestTimeout  = 30 * time.Second
	DefaultShutdownTimeout = 30 * time.Second

	DefaultMaxConnections    = 512
	DefaultMaxSigning        = 64
	DefaultRatePerKey        = 100
	DefaultBurstPerKey       = 200
	DefaultIdempotencyWindow = 10 * time.Minute
	DefaultIdempotencyBytes  = 16 << 20
)

// AllCredentials in an API key's credential list allows every credential.
const AllCredentials = "*"

// Config is the service configuration, read from one YAML file by
// LoadConfig. See config.example.yaml for a commented example.
type Config struct {
	// Listen is the TCP address to listen on (default DefaultListen).
	Listen string `yaml:"listen"`

	// TLS, when set, serves HTTPS, and with ClientCA requires client
	// certificates (mTLS).
	TLS *TLSConfig `yaml:"tls"`

	// Audit configures the audit log.
	Audit AuditConfig `yaml:"audit"`

	// APIKeys are the bearer API keys, stored as SHA-256 hashes.
	APIKeys []APIKeyConfig `yaml:"api_keys"`

	// Credentials are the signing keys offered.
	Credentials []CredentialConfig `yaml:"credentials"`

	// TSA is the time-stamping authority used by /v1/cades/sign.
	TSA TSAConfig `yaml:"tsa"`

	// Limits bounds requests.
	Limits LimitsConfig `yaml:"limits"`

	// Verify configures POST /v1/verify.
	Verify VerifyConfig `yaml:"verify"`

	// Info is what /csc/v2/info reports.
	Info InfoConfig `yaml:"info"`

	// Consent configures explicit credentials: codes, SADs, lockout,
	// one-time certificates.
	Consent ConsentConfig `yaml:"consent"`

	// Metrics configures /metrics.
	Metrics MetricsConfig `yaml:"metrics"`

	// InsecurePlainHTTP lets the service serve plain HTTP on an address
	// that is not loopback, where API keys and hashes cross the network
	// in clear. Without it, Serve refuses to.
	InsecurePlainHTTP bool `yaml:"insecure_plain_http"`

	// Requests configures signature requests (/v1/requests).
	Requests RequestsConfig `yaml:"requests"`

	// dir is the directory of the configuration file; relative paths in
	// the file are relative to it.
	dir string
}

// TLSConfig enables HTTPS: the server's certificate chain and key, and
// optionally the CAs of client certificates (mutual TLS).
type TLSConfig = listen.TLSFiles

// AuditConfig configures the audit log.
type AuditConfig struct {
	// Path is the SQLite database file. It is required.
	Path string `yaml:"path"`
}

// APIKeyConfig is one API key.
type APIKeyConfig struct {
	// ID names the key in logs and in the audit log.
	ID string `yaml:"id"`
	// SHA256 is the hex SHA-256 of the key, as `hashsvc apikey new`
	// prints it. The key itself is never stored.
	SHA256 string `yaml:"sha256"`
	// Credentials lists the credential IDs the key may use; "*" allows
	// every credential.
	Credentials []string `yaml:"credentials"`
	// ClientCertSHA256, when set with mTLS, binds the key to a client
	// certificate: the hex SHA-256 of its DER.
	ClientCertSHA256 string `yaml:"client_cert_sha256"`
	// Operations, when set, limits the key to these operations: OpCAdES
	// ("cades", where the service builds the signed attributes itself)
	// and/or OpSignHash ("signHash", any hash).
	Operations []string `yaml:"operations"`
}

// CredentialConfig is one signing credential.
type CredentialConfig struct {
	// ID is the credentialID clients name.
	ID string `yaml:"id"`
	// Description is reported by credentials/info.
	Description string `yaml:"description"`
	// Key is the private key: a PEM key file path, a PKCS #12 file path
	// (.p12, .pfx), or a URI whose scheme selects a key opener, such as
	// pkcs11:token=...;object=...
	Key string `yaml:"key"`
	// Cert is the PEM signer certificate file (optional when the key
	// source provides it).
	Cert string `yaml:"cert"`
	// Chain lists PEM files of intermediate CA certificates.
	Chain []string `yaml:"chain"`
	// PasswordFile holds the password of a PKCS #12 file, and
	// PasswordEnv names an environment variable holding it.
	PasswordFile string `yaml:"password_file"`
	PasswordEnv  string `yaml:"password_env"`
	// AuthMode is "implicit" (the default: a seal, which the API key
	// alone may use) or "explicit" (a person: each signHash needs a SAD
	// from credentials/authorize, which takes the Signer's code or PIN).
	AuthMode string `yaml:"auth_mode"`
	// Signer is the person of an explicit credential.
	Signer *SignerConfig `yaml:"signer"`

	// SignOutsideValidity lets the credential sign before its
	// certificate's notBefore and after its notAfter. By default such
	// requests are refused.
	SignOutsideValidity bool `yaml:"sign_outside_validity"`
}

// TSAConfig names the time-stamping authority.
type TSAConfig struct {
	// URL is the RFC 3161 endpoint.
	URL string `yaml:"url"`
	// Roots is an optional PEM file of trust anchors that the TSA's
	// certificate must chain to.
	Roots string `yaml:"roots"`
	// Timeout bounds one time-stamp request (default 10s).
	Timeout time.Duration `yaml:"timeout"`
}

// LimitsConfig bounds requests.
type LimitsConfig struct {
	// MaxBodyBytes is the largest request body (default 256 KiB).
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// MaxBatch is the most hashes one signHash call may carry, reported
	// as multisign (default 256).
	MaxBatch int `yaml:"max_batch"`
	// RequestTimeout bounds the handling of one request (default 30s).
	RequestTimeout time.Duration `yaml:"request_timeout"`
	// ShutdownTimeout bounds the wait for requests in flight on shutdown
	// (default 30s).
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	// MaxConnections bounds the connections open at once; more wait to
	// be accepted (default 512).
	MaxConnections int `yaml:"max_connections"`
	// MaxSigning bounds the signHash and cades/sign requests that sign
	// at once; more are answered 429 (default 64).
	MaxSigning int `yaml:"max_signing"`
	// RatePerKey is the sustained rate of authenticated requests each
	// API key may make, per second, and BurstPerKey how many it may make
	// at once (defaults 100 and 200). More are answered 429 with
	// Retry-After.
	RatePerKey  float64 `yaml:"rate_per_key"`
	BurstPerKey int     `yaml:"burst_per_key"`
	// IdempotencyWindow is how long the answer to a signing request
	// with an Idempotency-Key is kept, so that a retry of it gets the
	// same answer instead of a second signature (default 10m), and
	// IdempotencyBytes bounds the memory of the answers kept (default
	// 16 MiB; the oldest go first).
	IdempotencyWindow time.Duration `yaml:"idempotency_window"`
	IdempotencyBytes  int           `yaml:"idempotency_bytes"`
}

// MetricsConfig configures /metrics.
type MetricsConfig struct {
	// Listen, when set, serves /metrics on this address only (see
	// Server.ServeMetrics), not on the service's address.
	Listen string `yaml:"listen"`
	// SHA256, when set, is the hex SHA-256 of a bearer key that
	// /metrics requires (`hashsvc apikey new` makes one).
	SHA256 string `yaml:"sha256"`
}

// InfoConfig is reported by /csc/v2/info.
type InfoConfig struct {
	Name        string `yaml:"name"`
	Region      string `yaml:"region"`
	Lang        string `yaml:"lang"`
	Description string `yaml:"description"`
	Logo        string `yaml:"logo"`
}

// LoadConfig reads and checks a YAML configuration file. Relative paths in
// it are relative to the file's directory. Unknown fields are errors.
func LoadConfig(path string) (*Config, error) {
	var c Config
	dir, err := yamlconfig.Load(path, &c)
	if err != nil {
		return nil, err
	}
	c.dir = dir
	if err := c.Check(); err != nil {
		return nil, fmt.Errorf("configuration %s: %w", path, err)
	}
	return &c, nil
}

// Check reports the first problem of c, and fills in defaults.
func (c *Config) Check() error {
	if c.Listen == "" {
		c.Listen = DefaultListen
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return fmt.Errorf("listen %q: %w", c.Listen, err)
	}
	if c.TLS != nil && (c.TLS.Cert == "" || c.TLS.Key == "") {
		return errors.New("tls: cert and key are both required")
	}
	if c.Audit.Path == "" {
		return errors.New("audit.path is required: every signature is recorded")
	}
	if c.Audit.Path == ":memory:" || strings.HasPrefix(c.Audit.Path, "file:") {
		return fmt.Errorf("audit.path %q: give the path of a database file (not an SQLite URI nor an in-memory database)", c.Audit.Path)
	}
	if c.Limits.MaxBodyBytes <= 0 {
		c.Limits.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.Limits.MaxBatch <= 0 {
		c.Limits.MaxBatch = DefaultMaxBatch
	}
	if c.Limits.RequestTimeout <= 0 {
		c.Limits.RequestTimeout = DefaultRequestTimeout
	}
	if c.Limits.ShutdownTimeout <= 0 {
		c.Limits.ShutdownTimeout = DefaultShutdownTimeout
	}
	if c.TSA.Timeout <= 0 {
		c.TSA.Timeout = 10 * time.Second
	}
	if err := c.checkLimits(); err != nil {
		return err
	}
	if len(c.Credentials) == 0 {
		return errors.New("no credentials")
	}
	creds := map[string]bool{}
	for i, cr := range c.Credentials {
		switch {
		case cr.ID == "":
			return fmt.Errorf("credentials[%d]: id is required", i)
		case creds[cr.ID]:
			return fmt.Errorf("credentials[%d]: duplicate id %q", i, cr.ID)
		case cr.Key == "":
			return fmt.Errorf("credential %q: key is required", cr.ID)
		}
		creds[cr.ID] = true
	}
	if len(c.APIKeys) == 0 {
		return errors.New("no api_keys: nobody could sign")
	}
	ids, hashes := map[string]bool{}, map[string]bool{}
	for i, k := range c.APIKeys {
		switch {
		case k.ID == "":
			return fmt.Errorf("api_keys[%d]: id is required", i)
		case ids[k.ID]:
			return fmt.Errorf("api_keys[%d]: duplicate id %q", i, k.ID)
		}
		ids[k.ID] = true
		h, err := hex.DecodeString(k.SHA256)
		if err != nil || len(h) != 32 {
			return fmt.Errorf("api key %q: sha256 must be 64 hex digits (see `hashsvc apikey new`)", k.ID)
		}
		if hashes[strings.ToLower(k.SHA256)] {
			return fmt.Errorf("api key %q: the same key hash is configured twice", k.ID)
		}
		hashes[strings.ToLower(k.SHA256)] = true
		if len(k.Credentials) == 0 {
			return fmt.Errorf("api key %q: no credentials allowed", k.ID)
		}
		for _, id := range k.Credentials {
			if id != AllCredentials && !creds[id] {
				return fmt.Errorf("api key %q: unknown credential %q", k.ID, id)
			}
		}
		if k.ClientCertSHA256 != "" {
			if c.TLS == nil || c.TLS.ClientCA == "" {
				return fmt.Errorf("api key %q: client_cert_sha256 needs tls.client_ca (mTLS)", k.ID)
			}
			if h, err := hex.DecodeString(k.ClientCertSHA256); err != nil || len(h) != 32 {
				return fmt.Errorf("api key %q: client_cert_sha256 must be 64 hex digits", k.ID)
			}
		}
	}
	return c.checkConsent()
}

// path resolves a path from the configuration file.
func (c *Config) path(p string) string {
	return yamlconfig.Path(c.dir, p)
}

// allows reports whether the API key k may use credential id.
func (k *APIKeyConfig) allows(id string) bool {
	return slices.Contains(k.Credentials, AllCredentials) || slices.Contains(k.Credentials, id)
}
