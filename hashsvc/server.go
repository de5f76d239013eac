// Package hashsvc is a remote hash-signing service: it signs hashes, never
// documents, for clients that keep their documents to themselves.
//
// It speaks the Cloud Signature Consortium API v2 (info, credentials/list,
// credentials/info, signatures/signHash with batches of hashes), and
// offers /v1/cades/sign, which returns a complete detached CAdES signature
// for PAdES from a document digest. Clients authenticate with bearer API
// keys, stored hashed, each allowed a set of credentials, and optionally
// with client certificates (mTLS). Every signature is appended to a
// hash-chained audit log before it is returned; if the record cannot be
// written, no signature is returned.
//
// The service also serves /healthz, /readyz, Prometheus metrics at
// /metrics and its OpenAPI 3 description at /openapi.yaml. Command
// hashsvc runs it; see [NewDev] for the development mode that also serves
// a test PKI's trust services.
package hashsvc

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"hashsign/csc"
	"hashsign/internal/httplog"
	"hashsign/internal/listen"
	"hashsign/ltv"
	"hashsign/signer"
)

// OpenAPI is the OpenAPI 3 description of the service, served at
// /openapi.yaml.
//
//go:embed openapi.yaml
var OpenAPI []byte

// Options configures New.
type Options struct {
	// Config is the service configuration. It is required.
	Config *Config

	// Logger receives structured logs. If nil, logs are discarded.
	Logger *slog.Logger

	// KeyOpeners open credentials whose key is a URI, by lower-case URI
	// scheme (such as "pkcs11"). Key files need no opener.
	KeyOpeners map[string]KeyOpener

	// Audit is the audit log. If nil, New opens the SQLite database named
	// by Config.Audit.Path. The server closes it in Close either way.
	Audit AuditLog

	// Mount adds handlers to the server's mux, by ServeMux pattern. The
	// development mode mounts the test PKI's trust services here.
	Mount map[string]http.Handler

	// TSATransport, if not nil, carries the requests to the
	// time-stamping authority, and those to the OCSP responders, CRL
	// servers and CA issuers when /v1/cades/sign collects validation data.
	TSATransport http.RoundTripper

	// Now, if not nil, is the clock of consent: codes, SADs, lockouts
	// and one-time credentials (tests move it).
	Now func() time.Time
	// CA, if not nil, issues one-time certificates instead of the CA of
	// Config.Consent.OneTime; OneTimeKeys, if not nil, makes their keys
	// (else they are made in memory).
	CA          *CA
	OneTimeKeys KeyGenerator
}

// Server is the hash-signing service.
type Server struct {
	cfg     *Config
	log     *slog.Logger
	creds   map[string]*credential
	credIDs []string // in configuration order
	keys    *keyring
	audit   AuditLog
	metrics *metrics
	tsa     *ltv.TSAClient
	// trustHTTP and trustRoots fetch validation data for /v1/cades/sign.
	trustHTTP  *http.Client
	trustRoots *x509.CertPool
	handler    http.Handler
	// consent: codes, SADs, one-time credentials (consent.go, onetime.go)
	consent  *consent
	clock    func() time.Time
	onetime  *oneTimes
	ca       *CA
	caCloser signer.Signer
	keygen   KeyGenerator
	issued   []*x509.Certificate
	guards   *guards
	idem     *idemCache
	// signature requests and their webhooks (requests.go, webhooks.go)
	reqs     *requests
	draining atomic.Bool
	closed   atomic.Bool
}

// New loads the credentials and the audit log and returns a server ready to
// Serve. The caller must Close it.
func New(ctx context.Context, opts Options) (*Server, error) {
	if opts.Config == nil {
		return nil, errors.New("no configuration (Options.Config)")
	}
	cfg := opts.Config
	if err := cfg.Check(); err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, log: log, creds: map[string]*credential{}, keys: newKeyring(cfg.APIKeys), metrics: newMetrics(),
		guards: newGuards(cfg), idem: newIdemCache(cfg.Limits.IdempotencyWindow, cfg.Limits.IdempotencyBytes, time.Now)}
	for _, cc := range cfg.Credentials {
		cr, err := openCredential(ctx, cfg, cc, opts.KeyOpeners)
		if err != nil {
			s.closeCredentials()
			return nil, err
		}
		s.creds[cc.ID] = cr
		s.credIDs = append(s.credIDs, cc.ID)
		log.Info("credential loaded", "credential", cc.ID, "subject", cr.chain[0].Subject.String(), "key_bits", cr.keyLen)
		warnValidity(log, cr, time.Now())
	}
	if cfg.TSA.URL != "" {
		tc := &ltv.TSAClient{URLs: []string{cfg.TSA.URL}, HTTP: &http.Client{Timeout: cfg.TSA.Timeout, Transport: opts.TSATransport}}
		if cfg.TSA.Roots != "" {
			pem, err := os.ReadFile(cfg.path(cfg.TSA.Roots))
			if err != nil {
				s.closeCredentials()
				return nil, fmt.Errorf("tsa.roots: %w", err)
			}
			tc.Roots = x509.NewCertPool()
			if !tc.Roots.AppendCertsFromPEM(pem) {
				s.closeCredentials()
				return nil, fmt.Errorf("tsa.roots %s: no PEM certificate", cfg.TSA.Roots)
			}
		}
		s.tsa = tc
		s.trustRoots = tc.Roots
	}
	s.trustHTTP = &http.Client{Timeout: cfg.TSA.Timeout, Transport: opts.TSATransport}
	s.audit = opts.Audit
	if s.audit == nil {
		a, err := OpenAudit(ctx, cfg.path(cfg.Audit.Path))
		if err != nil {
			s.closeCredentials()
			return nil, err
		}
		s.audit = a
	} else if err := s.audit.Ping(ctx); err != nil {
		s.closeCredentials()
		return nil, fmt.Errorf("the audit log cannot be written: %w", err)
	}
	if err := s.initConsent(ctx, opts); err != nil {
		s.closeCredentials()
		if opts.Audit == nil {
			s.audit.Close()
		}
		return nil, err
	}
	s.handler = s.routes(opts.Mount)
	return s, nil
}

func (s *Server) closeCredentials() {
	for _, cr := range s.creds {
		closeSigner(cr.signer)
	}
}

// Close closes the audit log and the credentials' keys. Call it after
// Serve has returned.
func (s *Server) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return nil
	}
	s.closeCredentials()
	if err := s.closeConsent(); err != nil {
		s.log.Error("closing the consent state", "err", err)
	}
	if err := s.audit.Close(); err != nil {
		return fmt.Errorf("closing the audit log: %w", err)
	}
	return nil
}

// Handler returns the service's HTTP handler.
func (s *Server) Handler() http.Handler { return s.handler }

// TLSConfig returns the TLS configuration of Config.TLS, or nil when the
// service serves plain HTTP. With a client CA, clients must present a
// certificate that it issued.
func (c *Config) TLSConfig() (*tls.Config, error) {
	if c.TLS == nil {
		return nil, nil
	}
	if err := checkKeyFile("tls.key", c.path(c.TLS.Key)); err != nil {
		return nil, err
	}
	return listen.ServerTLS(c.path(c.TLS.Cert), c.path(c.TLS.Key), c.path(c.TLS.ClientCA))
}

// Serve accepts connections on ln (wrapping it in TLS when configured)
// until ctx is done. It then stops accepting, reports not ready, and waits
// up to Config.Limits.ShutdownTimeout for the requests in flight to finish
// before returning. It keeps at most Config.Limits.MaxConnections
// connections open, and refuses to serve plain HTTP on an address that is
// not loopback unless Config.InsecurePlainHTTP is set.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	return s.serve(ctx, ln, s.handler, "the service")
}

// ServeMetrics serves /metrics alone on ln, as Serve serves the service,
// for a configuration with Metrics.Listen.
func (s *Server) ServeMetrics(ctx context.Context, ln net.Listener) error {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", s.guards.metricsHandler(s.metrics))
	return s.serve(ctx, ln, mux, "/metrics")
}

func (s *Server) serve(ctx context.Context, ln net.Listener, handler http.Handler, what string) error {
	ln, err := s.listener(ln, what)
	if err != nil {
		return err
	}
	hs := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       s.cfg.Limits.RequestTimeout,
		WriteTimeout:      s.cfg.Limits.RequestTimeout + 10*time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	s.draining.Store(true)
	s.log.Info("shutting down: finishing requests in flight", "timeout", s.cfg.Limits.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.Limits.ShutdownTimeout)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		hs.Close()
		return fmt.Errorf("shutting down: %w", err)
	}
	<-errc
	s.log.Info("shut down")
	return nil
}

// routes builds the mux and its middleware.
func (s *Server) routes(mount map[string]http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc(csc.PathInfo, s.post(s.handleInfo, false))
	mux.HandleFunc(csc.PathCredentialsList, s.post(s.handleCredentialsList, true))
	mux.HandleFunc(csc.PathCredentialsInfo, s.post(s.handleCredentialsInfo, true))
	mux.HandleFunc(csc.PathSignHash, s.post(s.idempotent(s.handleSignHash), true))
	mux.HandleFunc(csc.PathCAdESSign, s.post(s.idempotent(s.handleCAdESSign), true))
	s.cscRoutes(mux)
	mux.HandleFunc(PathVerify, s.handleVerify)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", s.handleReady)
	if s.cfg.Metrics.Listen == "" {
		mux.Handle("GET /metrics", s.guards.metricsHandler(s.metrics))
	}
	mux.HandleFunc("GET /openapi.yaml", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/yaml")
		w.Write(OpenAPI)
	})
	for pattern, h := range mount {
		mux.Handle(pattern, h)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, &apiError{http.StatusNotFound, csc.ErrNotFound, "no such endpoint: " + r.URL.Path})
	})
	return s.middleware(mux)
}

func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if s.draining.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte("shutting down\n"))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.audit.Ping(ctx); err != nil {
		s.log.Warn("not ready", "err", err)
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte("audit log unavailable\n"))
		return
	}
	w.Write([]byte("ready\n"))
}

// reqInfo carries what a handler learned for the request log line.
type reqInfo struct {
	id         string
	keyID      string
	credential string
	hashes     int
	errCode    string
	errDesc    string
	// retryAfter, when positive, is the Retry-After of an error answer,
	// in seconds.
	retryAfter int
}

type ctxKey struct{}

func info(r *http.Request) *reqInfo {
	if ri, ok := r.Context().Value(ctxKey{}).(*reqInfo); ok {
		return ri
	}
	return &reqInfo{}
}

// middleware assigns request IDs, bounds request time, recovers panics,
// counts and logs every request. It never logs headers or bodies.
func (s *Server) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ri := &reqInfo{id: httplog.RequestID(r)}
		w.Header().Set(httplog.RequestIDHeader, ri.id)
		ctx, cancel := context.WithTimeout(context.WithValue(r.Context(), ctxKey{}, ri), s.cfg.Limits.RequestTimeout)
		defer cancel()
		r = r.WithContext(ctx)
		sw := &httplog.StatusWriter{ResponseWriter: w}
		s.metrics.begin()
		defer func() {
			if p := recover(); p != nil {
				s.log.Error("panic", "request_id", ri.id, "panic", fmt.Sprint(p))
				if sw.Code == 0 {
					writeError(sw, r, &apiError{http.StatusInternalServerError, csc.ErrServer, "internal error"})
				}
			}
			route := httplog.Route(r)
			d := time.Since(start)
			s.metrics.observe(route, sw.Code, d)
			if ri.errCode != "" {
				s.metrics.failed(route, ri.errCode)
			}
			var attrs []any
			if ri.keyID != "" {
				attrs = append(attrs, "key_id", ri.keyID)
			}
			if ri.credential != "" {
				attrs = append(attrs, "credential", ri.credential)
			}
			if ri.hashes > 0 {
				attrs = append(attrs, "hashes", ri.hashes)
			}
			if ri.errCode != "" {
				attrs = append(attrs, "error", ri.errCode, "error_description", ri.errDesc)
			}
			httplog.Log(ctx, s.log, r, ri.id, sw.Code, d, attrs...)
		}()
		next.ServeHTTP(sw, r)
	})
}

// apiError is an error answer.
type apiError struct {
	status int
	code   string
	desc   string
}

func (e *apiError) Error() string { return e.code + ": " + e.desc }

func badRequest(format string, args ...any) *apiError {
	return &apiError{http.StatusBadRequest, csc.ErrInvalidRequest, fmt.Sprintf(format, args...)}
}

// writeError writes e as a CSC error body.
func writeError(w http.ResponseWriter, r *http.Request, e *apiError) {
	ri := info(r)
	ri.errCode, ri.errDesc = e.code, e.desc
	if ri.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(ri.retryAfter))
	}
	if e.status == http.StatusUnauthorized {
		v := `Bearer realm="hashsvc"`
		if e.code == csc.ErrInvalidToken {
			v += `, error="invalid_token"`
		}
		w.Header().Set("WWW-Authenticate", v)
	}
	writeJSON(w, e.status, csc.ErrorResponse{Error: e.code, Description: e.desc})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.Encode(v)
}

// handlerFunc is a JSON endpoint: it decodes its request into its own
// type and returns the response value or an error.
type handlerFunc func(w http.ResponseWriter, r *http.Request, key *apiKey) (any, *apiError)

// post wraps an endpoint: POST only, authentication when auth is set,
// refusal while shutting down.
func (s *Server) post(h handlerFunc, auth bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		key, ok := s.admitPost(w, r, auth)
		if !ok {
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, s.cfg.Limits.MaxBodyBytes)
		v, ae := h(w, r, key)
		if ae != nil {
			writeError(w, r, ae)
			return
		}
		writeJSON(w, http.StatusOK, v)
	}
}

// admitPost admits a POST request, or answers it with the error that
// refuses it and returns false: another method, a service shutting down,
// and, when auth is set, a missing or wrong API key or a key over its rate.
// It returns the request's API key (nil without auth).
func (s *Server) admitPost(w http.ResponseWriter, r *http.Request, auth bool) (*apiKey, bool) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeError(w, r, &apiError{http.StatusMethodNotAllowed, csc.ErrMethod, "use POST"})
		return nil, false
	}
	if s.draining.Load() {
		w.Header().Set("Retry-After", "1")
		w.Header().Set("Connection", "close")
		writeError(w, r, &apiError{http.StatusServiceUnavailable, csc.ErrUnavailable, "the service is shutting down"})
		return nil, false
	}
	if !auth {
		return nil, true
	}
	k, ae := s.keys.authenticate(r)
	if ae != nil {
		writeError(w, r, &apiError{http.StatusUnauthorized, ae.code, ae.desc})
		return nil, false
	}
	info(r).keyID = k.cfg.ID
	if ae := s.guards.allow(r, k.cfg.ID); ae != nil {
		writeError(w, r, ae)
		return nil, false
	}
	return k, true
}

// decode reads the JSON body of r into v.
func (s *Server) decode(r *http.Request, v any) *apiError {
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return &apiError{http.StatusRequestEntityTooLarge, csc.ErrTooLarge,
				fmt.Sprintf("the request body exceeds %d bytes", mbe.Limit)}
		}
		return badRequest("the body is not valid JSON for this endpoint: %v", err)
	}
	if dec.More() {
		return badRequest("trailing data after the JSON body")
	}
	return nil
}

// credential returns the credential id for key, or the error to answer:
// 403 when key may not use it, 404 when it does not exist.
func (s *Server) credential(r *http.Request, key *apiKey, id string) (*credential, *apiError) {
	if id == "" {
		return nil, badRequest("credentialID is required")
	}
	info(r).credential = id
	if cr, ae, ok := s.oneTimeCredential(r.Context(), key, id); ok {
		return cr, ae
	}
	if !key.cfg.allows(id) {
		return nil, &apiError{http.StatusForbidden, csc.ErrAccessDenied,
			fmt.Sprintf("API key %q may not use credential %q", key.cfg.ID, id)}
	}
	cr, ok := s.creds[id]
	if !ok {
		return nil, &apiError{http.StatusNotFound, csc.ErrNotFound, fmt.Sprintf("no credential %q", id)}
	}
	return cr, nil
}
