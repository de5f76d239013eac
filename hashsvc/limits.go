package hashsvc

import (
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/netutil"

	"hashsign/csc"
	"hashsign/internal/listen"
)

// checkLimits fills in the defaults of the limits and checks the metrics
// key.
func (c *Config) checkLimits() error {
	l := &c.Limits
	if l.MaxConnections <= 0 {
		l.MaxConnections = DefaultMaxConnections
	}
	if l.MaxSigning <= 0 {
		l.MaxSigning = DefaultMaxSigning
	}
	if l.RatePerKey <= 0 || math.IsNaN(l.RatePerKey) || math.IsInf(l.RatePerKey, 0) {
		l.RatePerKey = DefaultRatePerKey
	}
	if l.BurstPerKey <= 0 {
		l.BurstPerKey = DefaultBurstPerKey
	}
	if l.IdempotencyWindow <= 0 {
		l.IdempotencyWindow = DefaultIdempotencyWindow
	}
	if l.IdempotencyBytes <= 0 {
		l.IdempotencyBytes = DefaultIdempotencyBytes
	}
	if c.Metrics.Listen != "" {
		if _, _, err := net.SplitHostPort(c.Metrics.Listen); err != nil {
			return fmt.Errorf("metrics.listen %q: %w", c.Metrics.Listen, err)
		}
	}
	if c.Metrics.SHA256 != "" {
		if h, err := hex.DecodeString(c.Metrics.SHA256); err != nil || len(h) != 32 {
			return errors.New("metrics.sha256 must be 64 hex digits (see `hashsvc apikey new`)")
		}
	}
	return nil
}

// guards holds the server's limits on its callers: the per-key rate, the
// signatures in flight, and the key of /metrics.
type guards struct {
	rate    *rateLimiter
	signing chan struct{} // a slot per request signing
	// metricsKey is the SHA-256 of the key /metrics requires, or nil.
	metricsKey []byte
}

func newGuards(c *Config) *guards {
	g := &guards{
		rate:    newRateLimiter(c.Limits.RatePerKey, c.Limits.BurstPerKey, time.Now),
		signing: make(chan struct{}, c.Limits.MaxSigning),
	}
	if c.Metrics.SHA256 != "" {
		g.metricsKey, _ = hex.DecodeString(c.Metrics.SHA256) // checked by Config.Check
	}
	return g
}

// tooMany is the answer to r past a limit: 429, with a Retry-After of
// wait rounded up to whole seconds.
func tooMany(r *http.Request, wait time.Duration, format string, args ...any) *apiError {
	info(r).retryAfter = max(1, int((wait+time.Second-1)/time.Second))
	return &apiError{http.StatusTooManyRequests, csc.ErrUnavailable, fmt.Sprintf(format, args...)}
}

// allow charges r to its API key keyID, or returns the 429 to answer.
func (g *guards) allow(r *http.Request, keyID string) *apiError {
	if ok, wait := g.rate.take(keyID); !ok {
		return tooMany(r, wait, "API key %q is over its rate limit; retry later", keyID)
	}
	return nil
}

// startSigning takes a signing slot for r, or returns the 429 to answer
// when all are taken. The caller calls done when its signatures are made.
func (g *guards) startSigning(r *http.Request) (done func(), ae *apiError) {
	select {
	case g.signing <- struct{}{}:
		return func() { <-g.signing }, nil
	default:
		return nil, tooMany(r, time.Second, "%d signing requests are already in flight; retry later", cap(g.signing))
	}
}

// metricsHandler is h, requiring the metrics key when one is configured.
func (g *guards) metricsHandler(h http.Handler) http.Handler {
	if g.metricsKey == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		sum := sha256.Sum256([]byte(strings.TrimSpace(token)))
		if !strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare(sum[:], g.metricsKey) != 1 {
			writeError(w, r, &apiError{http.StatusUnauthorized, csc.ErrInvalidToken, "/metrics requires its key: Authorization: Bearer KEY"})
			return
		}
		h.ServeHTTP(w, r)
	})
}

// CheckPlainHTTP refuses to serve plain HTTP on addr when it is not
// loopback, unless InsecurePlainHTTP is set. Serve checks it; a caller may
// check it before it announces the address.
func (c *Config) CheckPlainHTTP(addr net.Addr) error {
	if c.TLS != nil || listen.OnLoopback(addr) || c.InsecurePlainHTTP {
		return nil
	}
	return fmt.Errorf("refusing to serve plain HTTP on %s, which is not loopback: API keys and hashes would cross the network in clear; configure tls, or set insecure_plain_http (hashsvc serve -insecure-plain-http) if the network is private", addr)
}

// listener wraps ln for serving: at most MaxConnections connections, TLS
// when configured, and plain HTTP on an address that is not loopback only
// when the configuration allows it (then with a warning).
func (s *Server) listener(ln net.Listener, what string) (net.Listener, error) {
	if err := s.cfg.CheckPlainHTTP(ln.Addr()); err != nil {
		return nil, err
	}
	tc, err := s.cfg.TLSConfig()
	if err != nil {
		return nil, err
	}
	if tc == nil && !listen.OnLoopback(ln.Addr()) {
		s.log.Warn("serving plain HTTP on an address that is not loopback: API keys and hashes cross the network in clear; configure tls (see config.example.yaml)", "addr", ln.Addr().String(), "serving", what)
	}
	ln = netutil.LimitListener(ln, s.cfg.Limits.MaxConnections)
	if tc != nil {
		ln = tls.NewListener(ln, tc)
	}
	return ln, nil
}

// rateLimiter is a token bucket per API key: each holds up to burst
// tokens and gains rate tokens a second; a request takes one.
type rateLimiter struct {
	rate  float64
	burst float64
	now   func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket // by API key id: as many as configured keys
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newRateLimiter(rate float64, burst int, now func() time.Time) *rateLimiter {
	return &rateLimiter{rate: rate, burst: float64(burst), now: now, buckets: map[string]*bucket{}}
}

// take takes a token of key's bucket, or reports how long until one is
// there.
func (l *rateLimiter) take(key string) (ok bool, wait time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b := l.buckets[key]
	if b == nil {
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[key] = b
	}
	if d := now.Sub(b.last); d > 0 {
		b.tokens = min(l.burst, b.tokens+d.Seconds()*l.rate)
	}
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
}
