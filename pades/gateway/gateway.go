// Package gateway is the local signing gateway of `pades serve`: business
// systems on the gateway's network post a PDF and get it back signed, in
// any language, without holding a key. Only hashes leave the gateway's
// machine: the hash of each signature's signed attributes goes to the
// signer (a key file, a PKCS #11 token, or a remote CSC API v2 service such
// as hashsvc), and at B-T and above the hash of the signature value to the
// time-stamping authority; the documents stay on its disk.
//
// POST /v1/sign takes the PDF as the request body, which is streamed to a
// temporary file (never held in memory), signs it there with the options
// of its query parameters or headers, and answers with the signed PDF,
// streamed from that file. POST /v1/batches signs files that the gateway
// can read, below its configured roots, as `pades batch` does (package
// pades/batch, with its journal), and answers with a job whose progress
// GET /v1/batches/{id} shows; a callback URL is posted to when it ends.
// Both share one batch.Engine: its CPU slots and, with a remote signer,
// its signHash batches.
//
// Callers authenticate with bearer API keys, which the configuration
// stores hashed. The gateway also serves /healthz, /readyz, Prometheus
// metrics at /metrics, and its OpenAPI 3 description at /openapi.yaml. On
// shutdown it stops accepting requests and finishes those that are
// running, and the batches.
package gateway

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
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/netutil"

	"hashsign/internal/apikey"
	"hashsign/internal/httplog"
	"hashsign/internal/listen"
	"hashsign/ltv"
	"hashsign/pades"
	"hashsign/pades/batch"
	"hashsign/signer"
)

// OpenAPI is the OpenAPI 3 description of the gateway, served at
// /openapi.yaml.
//
//go:embed openapi.yaml
var OpenAPI []byte

// The paths of the API.
const (
	PathSign    = "/v1/sign"
	PathBatches = "/v1/batches"
)

// Options configures New.
type Options struct {
	// Config is the gateway's configuration. It is required.
	Config *Config
	// Signer signs every document: the signer that Config.Signer
	// describes, which the caller opens (and closes after Serve). It is
	// required.
	Signer signer.Signer
	// Logger receives structured logs. If nil, logs are discarded.
	Logger *slog.Logger
	// Transport, if not nil, carries the requests to the TSA, the OCSP
	// responders, CRL servers and CA issuers, and the callbacks.
	Transport http.RoundTripper
}

// Server is the signing gateway.
type Server struct {
	cfg      *Config
	log      *slog.Logger
	engine   *batch.Engine
	defaults pades.SignOptions // the configured options of every signature
	keys     []APIKeyConfig
	hashes   [][32]byte // of keys, in order
	metKey   *[32]byte  // the key of /metrics, or nil
	metrics  *metrics
	tempDir  string
	roots    []string // resolved, absolute
	signing  chan struct{}
	batches  *batches
	handler  http.Handler
	draining atomic.Bool
}

// New checks the configuration, loads the certificates it names and
// returns a gateway ready to Serve. It completes the signer's chain once
// (see batch.New).
func New(ctx context.Context, opts Options) (*Server, error) {
	cfg := opts.Config
	if cfg == nil {
		return nil, errors.New("gateway: no configuration (Options.Config)")
	}
	if opts.Signer == nil {
		return nil, errors.New("gateway: no signer (Options.Signer)")
	}
	if err := cfg.Check(); err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, log: log, metrics: newMetrics(), signing: make(chan struct{}, cfg.Limits.MaxSigning)}
	for _, k := range cfg.APIKeys {
		h, _ := apikey.ParseHash(k.SHA256) // checked by Check
		s.keys, s.hashes = append(s.keys, k), append(s.hashes, h)
	}
	if cfg.Metrics.SHA256 != "" {
		h, _ := apikey.ParseHash(cfg.Metrics.SHA256)
		s.metKey = &h
	}
	if err := s.setDefaults(opts.Transport); err != nil {
		return nil, err
	}
	if err := s.setStorage(); err != nil {
		return nil, err
	}
	b, err := newBatches(s, opts.Transport)
	if err != nil {
		return nil, err
	}
	s.batches = b
	bo := &batch.Options{Sign: s.defaults, Workers: cfg.Limits.Workers}
	if cfg.Signer.Remote != nil {
		bo.BatchSize = cfg.Signer.Remote.BatchSize
	}
	if s.engine, err = batch.New(ctx, tagSigner(opts.Signer), bo); err != nil {
		return nil, fmt.Errorf("the signer: %w", err)
	}
	chain := opts.Signer.Chain()
	if len(chain) > 0 {
		log.Info("signer ready", "subject", chain[0].Subject.String(), "batch_size", s.engine.BatchSize())
	}
	s.handler = s.routes()
	return s, nil
}

// setDefaults builds the options of every signature from the
// configuration: its defaults, the TSA, and the source of issuers and
// validation data.
func (s *Server) setDefaults(transport http.RoundTripper) error {
	sc := &s.cfg.Signature
	h, _ := pades.ParseHash(sc.Hash)       // checked by Check
	level, _ := pades.ParseLevel(sc.Level) // checked by Check
	client := &http.Client{Timeout: sc.Timeout, Transport: transport}
	fetcher := &ltv.Fetcher{HTTP: client}
	for _, p := range sc.Trust {
		certs, err := signer.LoadCertificates(s.cfg.Path(p))
		if err != nil {
			return fmt.Errorf("signature.trust: %w", err)
		}
		if fetcher.Roots == nil {
			fetcher.Roots = x509.NewCertPool()
		}
		for _, c := range certs {
			fetcher.Roots.AddCert(c)
		}
		fetcher.Extra = append(fetcher.Extra, certs...)
	}
	for _, p := range sc.Certs {
		certs, err := signer.LoadCertificates(s.cfg.Path(p))
		if err != nil {
			return fmt.Errorf("signature.certs: %w", err)
		}
		fetcher.Extra = append(fetcher.Extra, certs...)
	}
	s.defaults = pades.SignOptions{
		Hash: h, PSS: sc.PSS, Level: level, Validation: taggedValidation{fetcher},
		Info:         pades.SignatureInfo{Name: sc.Name, Reason: sc.Reason, Location: sc.Location, ContactInfo: sc.Contact},
		MemoryBudget: s.cfg.Limits.DocumentMemory,
	}
	if sc.Appearance != "" || sc.Image != "" || sc.Font != "" {
		a := &pades.Appearance{Template: sc.Appearance}
		var err error
		if sc.Image != "" {
			if a.Image, err = os.ReadFile(s.cfg.Path(sc.Image)); err != nil {
				return fmt.Errorf("signature.image: %w", err)
			}
		}
		if sc.Font != "" {
			if a.Font, err = os.ReadFile(s.cfg.Path(sc.Font)); err != nil {
				return fmt.Errorf("signature.font: %w", err)
			}
		}
		if err := a.Check(); err != nil {
			return fmt.Errorf("signature: %w", err)
		}
		s.defaults.Appearance = a
	}
	if len(sc.TSA) > 0 {
		tsa := &ltv.TSAClient{URLs: sc.TSA, HTTP: client, Username: sc.TSAUser}
		if sc.TSAPasswordEnv != "" {
			tsa.Password = os.Getenv(sc.TSAPasswordEnv)
		}
		s.defaults.TSA = taggedTSA{tsa}
	}
	return nil
}

// setStorage checks the temporary directory and resolves the roots.
func (s *Server) setStorage() error {
	st := &s.cfg.Storage
	s.tempDir = os.TempDir()
	if st.TempDir != "" {
		s.tempDir = s.cfg.Path(st.TempDir)
	}
	f, err := os.CreateTemp(s.tempDir, "pades-gateway-check-*")
	if err != nil {
		return fmt.Errorf("storage.temp_dir: %w", err)
	}
	f.Close()
	os.Remove(f.Name())
	for _, r := range st.Roots {
		abs, err := filepath.Abs(s.cfg.Path(r))
		if err != nil {
			return fmt.Errorf("storage.roots %s: %w", r, err)
		}
		real, err := filepath.EvalSymlinks(abs)
		if err != nil {
			return fmt.Errorf("storage.roots %s: %w", r, err)
		}
		if fi, err := os.Stat(real); err != nil || !fi.IsDir() {
			return fmt.Errorf("storage.roots %s: not a directory", r)
		}
		s.roots = append(s.roots, real)
	}
	return nil
}

// Handler returns the gateway's HTTP handler.
func (s *Server) Handler() http.Handler { return s.handler }

// TLSConfig returns the TLS configuration of Config.TLS, or nil for plain
// HTTP.
func (c *Config) TLSConfig() (*tls.Config, error) {
	if c.TLS == nil {
		return nil, nil
	}
	return listen.ServerTLS(c.Path(c.TLS.Cert), c.Path(c.TLS.Key), c.Path(c.TLS.ClientCA))
}

// CheckPlainHTTP refuses to serve plain HTTP on addr when it is not
// loopback, unless InsecurePlainHTTP is set.
func (c *Config) CheckPlainHTTP(addr net.Addr) error {
	if c.TLS != nil || listen.OnLoopback(addr) || c.InsecurePlainHTTP {
		return nil
	}
	return fmt.Errorf("refusing to serve plain HTTP on %s, which is not loopback: API keys and documents would cross the network in clear; configure tls, or set insecure_plain_http if the network is private", addr)
}

// Serve accepts connections on ln (in TLS when configured, at most
// Limits.MaxConnections at once) until ctx is done. It then stops
// accepting, reports not ready, and waits up to Limits.ShutdownTimeout for
// the requests and batches running to finish; batches still running then
// are stopped (posting one again resumes it from its journal). It refuses
// to serve plain HTTP on an address that is not loopback unless
// Config.InsecurePlainHTTP is set.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	if err := s.cfg.CheckPlainHTTP(ln.Addr()); err != nil {
		return err
	}
	tc, err := s.cfg.TLSConfig()
	if err != nil {
		return err
	}
	ln = netutil.LimitListener(ln, s.cfg.Limits.MaxConnections)
	if tc != nil {
		ln = tls.NewListener(ln, tc)
	}
	hs := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		// the requests in flight outlive the end of ctx: shutting down
		// finishes them
		BaseContext: func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		s.batches.stop(0)
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	s.draining.Store(true)
	timeout := s.cfg.Limits.ShutdownTimeout
	s.log.Info("shutting down: finishing the requests and batches running", "timeout", timeout)
	sctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var wg sync.WaitGroup
	var herr error
	wg.Go(func() {
		if herr = hs.Shutdown(sctx); herr != nil {
			hs.Close()
			herr = fmt.Errorf("shutting down: %w", herr)
		}
	})
	wg.Go(func() { s.batches.stop(time.Until(deadlineOf(sctx))) })
	wg.Wait()
	<-errc
	s.log.Info("shut down")
	return herr
}

func deadlineOf(ctx context.Context) time.Time {
	d, _ := ctx.Deadline()
	return d
}

// routes builds the mux and its middleware.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc(PathSign, s.handleSign)
	mux.HandleFunc(PathBatches, s.handleBatches)
	mux.HandleFunc(PathBatches+"/{id}", s.handleBatch)
	mux.HandleFunc(PathBatches+"/{id}/report", s.handleBatchReport)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", s.handleReady)
	mux.HandleFunc("GET /metrics", s.handleMetrics)
	mux.HandleFunc("GET /openapi.yaml", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/yaml")
		w.Write(OpenAPI)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, &apiError{http.StatusNotFound, "not_found", "no such endpoint: " + r.URL.Path})
	})
	return s.middleware(mux)
}

// handleReady answers 200 while the gateway takes requests, 503 once it is
// shutting down.
func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if s.draining.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte("shutting down\n"))
		return
	}
	w.Write([]byte("ready\n"))
}

// reqInfo carries what a handler learned for the request's log line.
type reqInfo struct {
	id      string
	keyID   string
	bytes   int64 // of the document received
	errCode string
	errMsg  string
}

type ctxKey struct{}

func info(r *http.Request) *reqInfo {
	if ri, ok := r.Context().Value(ctxKey{}).(*reqInfo); ok {
		return ri
	}
	return &reqInfo{}
}

// middleware assigns request IDs, recovers panics, counts and logs every
// request. It never logs headers or bodies.
func (s *Server) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ri := &reqInfo{id: httplog.RequestID(r)}
		w.Header().Set(httplog.RequestIDHeader, ri.id)
		r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, ri))
		sw := &httplog.StatusWriter{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.log.Error("panic", "request_id", ri.id, "panic", fmt.Sprint(p))
				if sw.Code == 0 {
					writeError(sw, r, &apiError{http.StatusInternalServerError, "internal", "internal error"})
				}
			}
			d := time.Since(start)
			s.metrics.request(httplog.Route(r), sw.Code, d)
			var attrs []any
			if ri.keyID != "" {
				attrs = append(attrs, "key_id", ri.keyID)
			}
			if ri.bytes > 0 {
				attrs = append(attrs, "bytes", ri.bytes)
			}
			if ri.errCode != "" {
				attrs = append(attrs, "error", ri.errCode, "message", ri.errMsg)
			}
			httplog.Log(r.Context(), s.log, r, ri.id, sw.Code, d, attrs...)
		}()
		next.ServeHTTP(sw, r)
	})
}

// apiError is an error answer: its status, a short code and a message.
type apiError struct {
	status int
	code   string
	msg    string
}

func (e *apiError) Error() string { return e.code + ": " + e.msg }

func badRequest(format string, args ...any) *apiError {
	return &apiError{http.StatusBadRequest, "bad_request", fmt.Sprintf(format, args...)}
}

// ErrorBody is the JSON body of every error answer.
type ErrorBody struct {
	// Error is a short code, such as bad_pdf or too_large.
	Error string `json:"error"`
	// Message says what went wrong, in one line.
	Message string `json:"message"`
	// RequestID is the request's X-Request-Id, as the gateway logs it.
	RequestID string `json:"request_id"`
}

// writeError answers e as an ErrorBody.
func writeError(w http.ResponseWriter, r *http.Request, e *apiError) {
	ri := info(r)
	ri.errCode, ri.errMsg = e.code, e.msg
	switch e.status {
	case http.StatusUnauthorized:
		w.Header().Set("WWW-Authenticate", `Bearer realm="pades"`)
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, e.status, ErrorBody{Error: e.code, Message: e.msg, RequestID: ri.id})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// authenticate returns the API key of r's bearer token, when it may do
// op, or the error to answer.
func (s *Server) authenticate(r *http.Request, op string) (*APIKeyConfig, *apiError) {
	token, err := apikey.Bearer(r.Header.Get("Authorization"))
	if err != nil {
		return nil, &apiError{http.StatusUnauthorized, "unauthorized", err.Error()}
	}
	i := apikey.Match(token, s.hashes)
	if i < 0 {
		return nil, &apiError{http.StatusUnauthorized, "unauthorized", "the API key is not valid"}
	}
	k := &s.keys[i]
	info(r).keyID = k.ID
	if !k.allows(op) {
		return nil, &apiError{http.StatusForbidden, "forbidden", fmt.Sprintf("API key %q may not use %s", k.ID, op)}
	}
	return k, nil
}

// refuseWhileDraining answers 503 once the gateway is shutting down, and
// reports whether it did.
func (s *Server) refuseWhileDraining(w http.ResponseWriter, r *http.Request) bool {
	if !s.draining.Load() {
		return false
	}
	w.Header().Set("Connection", "close")
	writeError(w, r, &apiError{http.StatusServiceUnavailable, "shutting_down", "the gateway is shutting down"})
	return true
}

// allowMethods answers 405 unless r's method is one of methods.
func allowMethods(w http.ResponseWriter, r *http.Request, methods ...string) bool {
	for _, m := range methods {
		if r.Method == m {
			return true
		}
	}
	w.Header().Set("Allow", strings.Join(methods, ", "))
	writeError(w, r, &apiError{http.StatusMethodNotAllowed, "method_not_allowed", "use " + strings.Join(methods, " or ")})
	return false
}

func (s *Server) handleMetrics(w http.ResponseWriter, r *http.Request) {
	if s.metKey != nil {
		token, err := apikey.Bearer(r.Header.Get("Authorization"))
		if err != nil || apikey.Match(token, [][32]byte{*s.metKey}) != 0 {
			writeError(w, r, &apiError{http.StatusUnauthorized, "unauthorized", "/metrics requires its key: Authorization: Bearer KEY"})
			return
		}
	}
	s.metrics.write(w, len(s.signing), s.batches.running())
}

// itoa is strconv.Itoa, for headers.
func itoa(n int64) string { return strconv.FormatInt(n, 10) }
