package gateway

import (
	_ "embed"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"hashsign/internal/apikey"
	"hashsign/internal/listen"
	"hashsign/internal/yamlconfig"
	"hashsign/pades"
)

// ExampleConfig is a commented example of the configuration file
// (config.example.yaml), which `pades serve example-config` prints.
//
//go:embed config.example.yaml
var ExampleConfig []byte

// Defaults used when the corresponding Config fields are zero.
const (
	DefaultListen           = "127.0.0.1:8480"
	DefaultMaxBodyBytes     = 1 << 30
	DefaultMaxSigning       = 16
	DefaultMaxBatches       = 2
	DefaultMaxBatchDocs     = 100_000
	DefaultRequestTimeout   = 10 * time.Minute
	DefaultShutdownTimeout  = 5 * time.Minute
	DefaultMaxConnections   = 256
	DefaultKeepBatches      = 256
	DefaultCallbackAttempts = 8
	DefaultCallbackTimeout  = 10 * time.Second
	DefaultCallbackBackoff  = time.Second
	DefaultCallbackMaxWait  = 5 * time.Minute
	DefaultServiceTimeout   = 30 * time.Second
)

// The operations an API key may be limited to.
const (
	OpSign    = "sign"    // POST /v1/sign
	OpBatches = "batches" // POST /v1/batches and GET /v1/batches/{id}
)

// Config is the gateway's configuration, read from one YAML file by
// LoadConfig. See config.example.yaml for a commented example. Relative
// paths in it are relative to the file's directory (see Config.Path).
type Config struct {
	// Listen is the TCP address to listen on (default DefaultListen).
	Listen string `yaml:"listen"`
	// TLS, when set, serves HTTPS, and with ClientCA requires client
	// certificates (mTLS).
	TLS *TLSConfig `yaml:"tls"`
	// InsecurePlainHTTP lets the gateway serve plain HTTP on an address
	// that is not loopback, where API keys and documents cross the
	// network in clear. Without it, Serve refuses to.
	InsecurePlainHTTP bool `yaml:"insecure_plain_http"`

	// APIKeys are the callers' bearer API keys, stored as SHA-256 hashes.
	APIKeys []APIKeyConfig `yaml:"api_keys"`

	// Signer is the one signer of every document. The gateway package
	// does not open it: `pades serve` does (Options.Signer).
	Signer SignerConfig `yaml:"signer"`

	// Signature holds the defaults of the signatures and what levels
	// above B-B need: the TSA and the trust anchors.
	Signature SignatureConfig `yaml:"signature"`

	// Storage names the directories that /v1/batches may read and write,
	// and where uploads are kept while they are signed.
	Storage StorageConfig `yaml:"storage"`

	// Callbacks configures the posts to a batch's callback URL.
	Callbacks CallbackConfig `yaml:"callbacks"`

	// Limits bounds requests.
	Limits LimitsConfig `yaml:"limits"`

	// Metrics configures /metrics.
	Metrics MetricsConfig `yaml:"metrics"`

	// dir is the directory of the configuration file.
	dir string
}

// TLSConfig enables HTTPS: the server's certificate chain and key, and
// optionally the CAs of client certificates (mutual TLS).
type TLSConfig = listen.TLSFiles

// APIKeyConfig is one caller's API key.
type APIKeyConfig struct {
	// ID names the key in logs, and owns the batches it starts.
	ID string `yaml:"id"`
	// SHA256 is the hex SHA-256 of the key, as `pades serve apikey`
	// prints it. The key itself is never stored.
	SHA256 string `yaml:"sha256"`
	// Operations, when set, limits the key to these operations: OpSign
	// and/or OpBatches.
	Operations []string `yaml:"operations"`
}

// SignerConfig chooses the signer: exactly one of Key, P12, PKCS11 and
// Remote. Its fields are those of the signer flags of `pades sign`.
type SignerConfig struct {
	// Key is a PEM private key file, with Cert and Chain.
	Key   string   `yaml:"key"`
	Cert  string   `yaml:"cert"`
	Chain []string `yaml:"chain"`
	// P12 is a PKCS #12 file; its password comes from PasswordFile, else
	// from $PADES_P12_PASSWORD.
	P12          string `yaml:"p12"`
	PasswordFile string `yaml:"password_file"`
	// PKCS11 is the RFC 7512 URI of a key on a token (its PIN from
	// pin-source or $PKCS11_PIN; Cert optional), and PKCS11Sessions the
	// number of sessions, signatures made at once (default 8).
	PKCS11         string `yaml:"pkcs11"`
	PKCS11Sessions int    `yaml:"pkcs11_sessions"`
	// Remote is a CSC API v2 service, such as hashsvc, that signs hashes.
	Remote *RemoteConfig `yaml:"remote"`
}

// RemoteConfig is a remote CSC API v2 signing service.
type RemoteConfig struct {
	// URL is the service's base URL; Credential the credential ID.
	URL        string `yaml:"url"`
	Credential string `yaml:"credential"`
	// APIKeyFile holds the service's API key (default $HASHSVC_API_KEY).
	APIKeyFile string `yaml:"api_key_file"`
	// CA is a PEM file of the CAs that the service's TLS certificate
	// must chain to (default: the system's roots); ClientCert and
	// ClientKey authenticate the gateway with mutual TLS.
	CA         string `yaml:"ca"`
	ClientCert string `yaml:"client_cert"`
	ClientKey  string `yaml:"client_key"`
	// Timeout bounds one request (default 1m), and Attempts is the
	// number of tries on connection errors and 5xx answers (default 4).
	Timeout  time.Duration `yaml:"timeout"`
	Attempts int           `yaml:"attempts"`
	// BatchSize is the most hashes per signHash call (default 64; the
	// credential's multisign caps it).
	BatchSize int `yaml:"batch_size"`
}

// SignatureConfig holds the defaults of the signatures, which a request
// may change, and the services that levels above B-B use.
type SignatureConfig struct {
	// Level is the default PAdES level (default B-B). B-T and above need
	// TSA.
	Level string `yaml:"level"`
	// Hash is the default digest algorithm: sha256 (default), sha384 or
	// sha512. PSS signs with RSASSA-PSS (RSA keys).
	Hash string `yaml:"hash"`
	PSS  bool   `yaml:"pss"`
	// Name, Reason, Location and Contact are the defaults of /Name,
	// /Reason, /Location and /ContactInfo.
	Name     string `yaml:"name"`
	Reason   string `yaml:"reason"`
	Location string `yaml:"location"`
	Contact  string `yaml:"contact"`
	// TSA lists RFC 3161 time-stamping authorities, tried in order;
	// TSAUser and the environment variable TSAPasswordEnv give HTTP
	// basic authentication.
	TSA            []string `yaml:"tsa"`
	TSAUser        string   `yaml:"tsa_user"`
	TSAPasswordEnv string   `yaml:"tsa_password_env"`
	// Trust lists PEM files of trust anchors (roots that need no
	// revocation data); Certs PEM files of issuers that cannot be
	// fetched.
	Trust []string `yaml:"trust"`
	Certs []string `yaml:"certs"`
	// Timeout bounds each TSA, OCSP, CRL and issuer request (default
	// 30s).
	Timeout time.Duration `yaml:"timeout"`
	// Appearance is the default layout template of visible signatures
	// (a request's appearance option replaces it); Image (PNG or JPEG)
	// and Font (TrueType or OpenType) are files that every visible
	// signature uses.
	Appearance string `yaml:"appearance"`
	Image      string `yaml:"image"`
	Font       string `yaml:"font"`
}

// StorageConfig names the directories the gateway uses.
type StorageConfig struct {
	// Roots are the directories below which /v1/batches reads its
	// inputs and writes its outputs. A path outside them (after symbolic
	// links are resolved) is refused. Without roots, /v1/batches is off.
	Roots []string `yaml:"roots"`
	// TempDir holds the documents of /v1/sign while they are signed
	// (default: the system's temporary directory). Each takes its size
	// and that of the signature; nothing is left there, even by a
	// gateway that is killed (the files have no name on Linux).
	TempDir string `yaml:"temp_dir"`
}

// CallbackConfig configures the posts to the callback URL of a batch,
// made when the batch ends.
type CallbackConfig struct {
	// Allow lists the URL prefixes that a callback URL must start with,
	// such as "https://erp.example.com/hooks/". Without it, batches take
	// no callback URL.
	Allow []string `yaml:"allow"`
	// SecretFile holds the secret of the HMAC-SHA256 in each post's
	// Pades-Signature header (see internal/webhook): "t=UNIX,v1=HEX".
	SecretFile string `yaml:"secret_file"`
	// Attempts is the number of tries (default 8); the wait between them
	// doubles from MinBackoff (default 1s) up to MaxBackoff (default 5m).
	// Timeout bounds one post (default 10s).
	Attempts   int           `yaml:"attempts"`
	MinBackoff time.Duration `yaml:"min_backoff"`
	MaxBackoff time.Duration `yaml:"max_backoff"`
	Timeout    time.Duration `yaml:"timeout"`
}

// LimitsConfig bounds requests.
type LimitsConfig struct {
	// MaxBodyBytes is the largest PDF that /v1/sign takes (default
	// 1 GiB); larger ones get 413.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// MaxSigning bounds the /v1/sign requests handled at once, uploads
	// included (default 16); more get 429 with Retry-After.
	MaxSigning int `yaml:"max_signing"`
	// MaxBatches bounds the batches running at once (default 2); more
	// get 429. MaxBatchDocuments bounds the documents of one batch
	// (default 100,000).
	MaxBatches        int `yaml:"max_batches"`
	MaxBatchDocuments int `yaml:"max_batch_documents"`
	// Workers is the number of documents hashed and signed at once, by
	// /v1/sign and the batches together (default: the number of CPUs).
	Workers int `yaml:"workers"`
	// DocumentMemory bounds what the PDF reader holds for one document
	// (default that of package pades, 64 MiB); a document that needs more
	// is refused with 422.
	DocumentMemory int64 `yaml:"document_memory"`
	// RequestTimeout bounds one /v1/sign request, upload and answer
	// included (default 10m).
	RequestTimeout time.Duration `yaml:"request_timeout"`
	// ShutdownTimeout bounds the wait, on shutdown, for the requests and
	// batches running (default 5m); a batch cut short resumes from its
	// journal when it is posted again.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	// MaxConnections bounds the connections open at once (default 256).
	MaxConnections int `yaml:"max_connections"`
	// KeepBatches is the number of ended batches whose status is kept
	// (default 256); the oldest are forgotten first.
	KeepBatches int `yaml:"keep_batches"`
}

// MetricsConfig configures /metrics.
type MetricsConfig struct {
	// SHA256, when set, is the hex SHA-256 of a bearer key that /metrics
	// requires (`pades serve apikey` makes one).
	SHA256 string `yaml:"sha256"`
}

// LoadConfig reads and checks a YAML configuration file. Unknown fields
// are errors.
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

// SetDir sets the directory that relative paths are relative to (that of
// the file for LoadConfig; the working directory when not set).
func (c *Config) SetDir(dir string) { c.dir = dir }

// Path resolves a path of the configuration: relative paths are relative
// to the configuration file's directory.
func (c *Config) Path(p string) string {
	return yamlconfig.Path(c.dir, p)
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
	if err := c.checkKeys(); err != nil {
		return err
	}
	if err := c.Signer.check(); err != nil {
		return err
	}
	if err := c.Signature.check(); err != nil {
		return err
	}
	for i, r := range c.Storage.Roots {
		if r == "" {
			return fmt.Errorf("storage.roots[%d] is empty", i)
		}
	}
	if err := c.Callbacks.check(); err != nil {
		return err
	}
	c.Limits.defaults()
	if c.Metrics.SHA256 != "" {
		if _, err := apikey.ParseHash(c.Metrics.SHA256); err != nil {
			return fmt.Errorf("metrics.sha256: %w", err)
		}
	}
	return nil
}

func (c *Config) checkKeys() error {
	if len(c.APIKeys) == 0 {
		return errors.New("no api_keys: nobody could sign (`pades serve apikey` makes one)")
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
		if _, err := apikey.ParseHash(k.SHA256); err != nil {
			return fmt.Errorf("api key %q: %w", k.ID, err)
		}
		if h := strings.ToLower(k.SHA256); hashes[h] {
			return fmt.Errorf("api key %q: the same key hash is configured twice", k.ID)
		} else {
			hashes[h] = true
		}
		for _, op := range k.Operations {
			if op != OpSign && op != OpBatches {
				return fmt.Errorf("api key %q: unknown operation %q (use %s or %s)", k.ID, op, OpSign, OpBatches)
			}
		}
	}
	return nil
}

// allows reports whether the key may do op.
func (k *APIKeyConfig) allows(op string) bool {
	return len(k.Operations) == 0 || slices.Contains(k.Operations, op)
}

func (s *SignerConfig) check() error {
	n := 0
	for _, set := range []bool{s.Key != "", s.P12 != "", s.PKCS11 != "", s.Remote != nil} {
		if set {
			n++
		}
	}
	switch {
	case n == 0:
		return errors.New("signer: give one of key (with cert), p12, pkcs11 and remote")
	case n > 1:
		return errors.New("signer: give only one of key, p12, pkcs11 and remote")
	case s.Key != "" && s.Cert == "":
		return errors.New("signer: key needs cert")
	case s.P12 != "" && (s.Cert != "" || len(s.Chain) > 0):
		return errors.New("signer: a PKCS #12 file carries its own certificates; remove cert and chain")
	case s.PKCS11Sessions < 0:
		return fmt.Errorf("signer.pkcs11_sessions %d", s.PKCS11Sessions)
	}
	if r := s.Remote; r != nil {
		switch {
		case r.URL == "" || r.Credential == "":
			return errors.New("signer.remote: url and credential are required")
		case (r.ClientCert == "") != (r.ClientKey == ""):
			return errors.New("signer.remote: client_cert and client_key go together")
		case r.Attempts < 0 || r.BatchSize < 0 || r.Timeout < 0:
			return errors.New("signer.remote: attempts, batch_size and timeout must not be negative")
		}
		if u, err := url.Parse(r.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("signer.remote.url %q: want an http or https URL", r.URL)
		}
	}
	return nil
}

func (s *SignatureConfig) check() error {
	if s.Level == "" {
		s.Level = pades.LevelBB.String()
	}
	level, err := pades.ParseLevel(s.Level)
	if err != nil {
		return fmt.Errorf("signature.level: %w", err)
	}
	if level >= pades.LevelBT && len(s.TSA) == 0 {
		return fmt.Errorf("signature.level %v needs signature.tsa", level)
	}
	if s.Hash == "" {
		s.Hash = "sha256"
	}
	if _, err := pades.ParseHash(s.Hash); err != nil {
		return fmt.Errorf("signature.hash: %w", err)
	}
	for _, u := range s.TSA {
		if p, err := url.Parse(u); err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			return fmt.Errorf("signature.tsa %q: want an http or https URL", u)
		}
	}
	if s.Timeout <= 0 {
		s.Timeout = DefaultServiceTimeout
	}
	return nil
}

func (c *CallbackConfig) check() error {
	for _, p := range c.Allow {
		u, err := url.Parse(p)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("callbacks.allow %q: want the start of an http or https URL, host included", p)
		}
	}
	if len(c.Allow) > 0 && c.SecretFile == "" {
		return errors.New("callbacks.allow needs callbacks.secret_file: receivers check each post's signature")
	}
	if c.Attempts <= 0 {
		c.Attempts = DefaultCallbackAttempts
	}
	if c.MinBackoff <= 0 {
		c.MinBackoff = DefaultCallbackBackoff
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = DefaultCallbackMaxWait
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultCallbackTimeout
	}
	return nil
}

func (l *LimitsConfig) defaults() {
	set := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	setDuration := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	if l.MaxBodyBytes <= 0 {
		l.MaxBodyBytes = DefaultMaxBodyBytes
	}
	set(&l.MaxSigning, DefaultMaxSigning)
	set(&l.MaxBatches, DefaultMaxBatches)
	set(&l.MaxBatchDocuments, DefaultMaxBatchDocs)
	set(&l.MaxConnections, DefaultMaxConnections)
	set(&l.KeepBatches, DefaultKeepBatches)
	setDuration(&l.RequestTimeout, DefaultRequestTimeout)
	setDuration(&l.ShutdownTimeout, DefaultShutdownTimeout)
}
