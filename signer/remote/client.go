// Package remote signs through a remote hash-signing service that speaks
// the Cloud Signature Consortium API v2, such as hashsvc. Only hashes cross
// the wire: the hash of the CMS signed attributes, never the document nor
// its byte-range digest.
//
// A Client talks to the service, retrying with backoff on connection
// errors, 5xx answers and 429 (too many requests) but never on other 4xx
// ones. Every call carries an idempotency key, the same on each retry, so
// that a service that signed but whose answer was lost answers
// the retry with the same signatures instead of signing again. A Signer is a signer.Signer
// for one credential; it checks every signature the service returns against
// the credential's certificate before handing it on, and signs many hashes
// per request with SignBatch. A Batcher gathers the signatures that many
// goroutines ask for at the same time into few signHash requests.
package remote

import (
	"bytes"
	"context"
	cryptorand "crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"hashsign/csc"
)

// Errors that the errors of this package wrap, for errors.Is.
var (
	// ErrUnavailable: the service could not be reached, or kept answering
	// 5xx or 429, after all attempts.
	ErrUnavailable = errors.New("signing service unavailable")
	// ErrUnauthorized: the service refused the API key (401).
	ErrUnauthorized = errors.New("the signing service refused the API key")
	// ErrForbidden: the API key may not use the credential (403).
	ErrForbidden = errors.New("the API key may not use this credential")
	// ErrNotFound: no such credential (404).
	ErrNotFound = errors.New("no such credential")
	// ErrCertificateMismatch: the service's certificate for the
	// credential is not the one the caller pinned (NewPinnedSigner).
	ErrCertificateMismatch = errors.New("the signing service's certificate for the credential is not the expected one")
	// ErrBadSignature: a returned signature does not verify with the
	// credential's certificate.
	ErrBadSignature = errors.New("the signing service returned a signature that does not verify with the credential's certificate")
)

// IdempotencyKeyHeader carries the idempotency key of a request: the
// same on each retry of one call.
const IdempotencyKeyHeader = "Idempotency-Key"

// maxResponse bounds the size of a response body.
const maxResponse = 16 << 20

// RetryPolicy controls retries of failed requests. Requests are retried on
// connection errors, on 5xx answers and on 429, never on other 4xx answers.
type RetryPolicy struct {
	// Attempts is the total number of attempts (default 4; 1 disables
	// retries).
	Attempts int
	// MinBackoff is the wait before the first retry (default 200ms); it
	// doubles with each retry, up to MaxBackoff (default 5s), with up to
	// 25% random jitter. A Retry-After header lengthens a wait.
	MinBackoff, MaxBackoff time.Duration
}

// Defaults of RetryPolicy.
const (
	defaultAttempts   = 4
	defaultMinBackoff = 200 * time.Millisecond
	defaultMaxBackoff = 5 * time.Second
)

// Options configures NewClient.
type Options struct {
	// APIKey is the bearer API key.
	APIKey string
	// HTTPClient, if not nil, sends the requests. Otherwise a client with
	// connect, TLS handshake and response timeouts is used, with
	// TLSConfig (for a private CA or a client certificate).
	HTTPClient *http.Client
	TLSConfig  *tls.Config
	// Timeout bounds one attempt when HTTPClient is nil (default 60s).
	Timeout time.Duration
	// Retry is the retry policy; zero fields take their defaults.
	Retry RetryPolicy
	// AllowInsecureHTTP permits plain http:// URLs to hosts other than
	// loopback addresses. The API key would cross the network in clear,
	// so it is refused by default.
	AllowInsecureHTTP bool
	// Logger receives a record per retry. If nil, nothing is logged.
	Logger *slog.Logger
}

// Client is a client of a CSC API v2 signing service. It is safe for
// concurrent use.
type Client struct {
	base   string
	apiKey string
	http   *http.Client
	retry  RetryPolicy
	log    *slog.Logger
}

// NewClient returns a client for the service at baseURL, such as
// https://sign.example.com or http://127.0.0.1:8443 (a trailing /csc/v2 is
// accepted).
func NewClient(baseURL string, opts Options) (*Client, error) {
	u, err := url.Parse(strings.TrimSpace(baseURL))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("remote: service URL %q: want http(s)://HOST[:PORT]", baseURL)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("remote: service URL %q: no query, fragment or user info allowed", baseURL)
	}
	if u.Scheme == "http" && !opts.AllowInsecureHTTP && !isLoopback(u.Hostname()) {
		return nil, fmt.Errorf("remote: service URL %q: plain http would send the API key in clear to a host that is not loopback; use https", baseURL)
	}
	if opts.APIKey == "" {
		return nil, errors.New("remote: no API key")
	}
	u.Path = strings.TrimSuffix(strings.TrimSuffix(u.Path, "/"), "/csc/v2")
	c := &Client{base: strings.TrimSuffix(u.String(), "/"), apiKey: opts.APIKey, http: opts.HTTPClient, retry: opts.Retry, log: opts.Logger}
	if c.http == nil {
		timeout := opts.Timeout
		if timeout <= 0 {
			timeout = 60 * time.Second
		}
		tr := &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			TLSClientConfig:       opts.TLSConfig,
			TLSHandshakeTimeout:   10 * time.Second,
			ResponseHeaderTimeout: timeout,
			IdleConnTimeout:       90 * time.Second,
			MaxIdleConnsPerHost:   16,
			ForceAttemptHTTP2:     true,
		}
		c.http = &http.Client{
			Transport: tr,
			Timeout:   timeout,
			// A redirect of a POST would lose its body, and could carry
			// the API key elsewhere: refuse them.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	if c.retry.Attempts <= 0 {
		c.retry.Attempts = defaultAttempts
	}
	if c.retry.MinBackoff <= 0 {
		c.retry.MinBackoff = defaultMinBackoff
	}
	if c.retry.MaxBackoff <= 0 {
		c.retry.MaxBackoff = defaultMaxBackoff
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// URL returns the service's base URL.
func (c *Client) URL() string { return c.base }

// Error is an error answer of the service.
type Error struct {
	StatusCode  int    // HTTP status
	Code        string // the CSC "error" field
	Description string // the CSC "error_description" field
	RequestID   string // X-Request-Id, for the service's logs and audit log
	Endpoint    string // the path of the request
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: the service answered %d", e.Endpoint, e.StatusCode)
	if e.Code != "" {
		fmt.Fprintf(&b, " %s", e.Code)
	}
	if e.Description != "" {
		fmt.Fprintf(&b, ": %s", e.Description)
	}
	if e.RequestID != "" {
		fmt.Fprintf(&b, " (request %s)", e.RequestID)
	}
	return b.String()
}

// Is makes 401, 403 and 404 answers match ErrUnauthorized, ErrForbidden
// and ErrNotFound, and 5xx and 429 answers ErrUnavailable.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrUnauthorized:
		return e.StatusCode == http.StatusUnauthorized
	case ErrForbidden:
		return e.StatusCode == http.StatusForbidden
	case ErrNotFound:
		return e.StatusCode == http.StatusNotFound
	case ErrUnavailable:
		return e.StatusCode >= 500 || e.StatusCode == http.StatusTooManyRequests
	}
	return false
}

// attemptError is a failed attempt: whether it may be retried, and the
// wait the server asked for.
type attemptError struct {
	err        error
	retry      bool
	retryAfter time.Duration
}

// call POSTs req as JSON to path and decodes the answer into resp,
// retrying as the policy allows. Its errors do not name the package; the
// exported methods add "remote: ".
func (c *Client) call(ctx context.Context, path string, req, resp any) error {
	return c.do(ctx, http.MethodPost, path, req, resp)
}

// do is call with a method: a GET sends no body (req is nil).
func (c *Client) do(ctx context.Context, method, path string, req, resp any) error {
	var body []byte
	if method != http.MethodGet {
		var err error
		if body, err = json.Marshal(req); err != nil {
			return fmt.Errorf("encoding the %s request: %w", path, err)
		}
	}
	// One request ID and one idempotency key for every attempt: a
	// retry of a signing request whose answer was lost gets that answer.
	reqID, idemKey := newRequestID(), newRequestID()
	var last *attemptError
	for attempt := 1; ; attempt++ {
		last = c.attempt(ctx, method, path, reqID, idemKey, body, resp)
		if last == nil {
			return nil
		}
		if !last.retry {
			return last.err
		}
		if attempt >= c.retry.Attempts {
			break
		}
		wait := c.backoff(attempt, last.retryAfter)
		c.log.Warn("remote signer: retrying", "url", c.base, "endpoint", path, "attempt", attempt, "wait", wait, "err", last.err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%s: %w (while retrying after: %v)", path, ctx.Err(), last.err)
		case <-t.C:
		}
	}
	var se *Error
	if errors.As(last.err, &se) {
		return fmt.Errorf("%s still failing after %d attempts: %w", c.base, c.retry.Attempts, last.err)
	}
	return fmt.Errorf("%w: %s unreachable after %d attempts: %w", ErrUnavailable, c.base, c.retry.Attempts, last.err)
}

// backoff returns the wait before retry number n (1-based).
func (c *Client) backoff(n int, retryAfter time.Duration) time.Duration {
	d := c.retry.MinBackoff << (n - 1)
	if d <= 0 || d > c.retry.MaxBackoff {
		d = c.retry.MaxBackoff
	}
	d += time.Duration(rand.Int64N(int64(d)/4 + 1))
	if retryAfter > d {
		d = min(retryAfter, c.retry.MaxBackoff)
	}
	return d
}

// attempt makes one request. Its errors are not prefixed with the
// package name; call adds it.
func (c *Client) attempt(ctx context.Context, method, path, reqID, idemKey string, body []byte, resp any) *attemptError {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	hr, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return &attemptError{err: err}
	}
	if body != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	hr.Header.Set("Accept", "application/json")
	hr.Header.Set("Authorization", "Bearer "+c.apiKey)
	hr.Header.Set("X-Request-Id", reqID)
	if body != nil {
		hr.Header.Set(IdempotencyKeyHeader, idemKey)
	}
	hresp, err := c.http.Do(hr)
	if err != nil {
		if ctx.Err() != nil {
			return &attemptError{err: fmt.Errorf("%s: %w", path, ctx.Err())}
		}
		return &attemptError{err: unwrapURLError(err), retry: true}
	}
	defer hresp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(hresp.Body, maxResponse+1))
	if err != nil {
		if ctx.Err() != nil {
			return &attemptError{err: fmt.Errorf("%s: %w", path, ctx.Err())}
		}
		return &attemptError{err: fmt.Errorf("%s: reading the answer: %w", path, err), retry: true}
	}
	if len(data) > maxResponse {
		return &attemptError{err: fmt.Errorf("%s: answer larger than %d bytes", path, maxResponse)}
	}
	if hresp.StatusCode != http.StatusOK {
		e := &Error{StatusCode: hresp.StatusCode, Endpoint: path, RequestID: hresp.Header.Get("X-Request-Id")}
		var eb csc.ErrorResponse
		if json.Unmarshal(data, &eb) == nil {
			e.Code, e.Description = eb.Error, eb.Description
		}
		if e.Code == "" {
			e.Description = http.StatusText(hresp.StatusCode)
		}
		ae := &attemptError{err: e, retry: hresp.StatusCode >= 500 || hresp.StatusCode == http.StatusTooManyRequests}
		if s, err := strconv.Atoi(hresp.Header.Get("Retry-After")); err == nil && s > 0 {
			ae.retryAfter = time.Duration(s) * time.Second
		}
		return ae
	}
	if err := json.Unmarshal(data, resp); err != nil {
		return &attemptError{err: fmt.Errorf("%s: the answer is not the expected JSON: %w", path, err)}
	}
	return nil
}

// unwrapURLError drops the *url.Error wrapper, whose text repeats the
// method and URL.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func newRequestID() string {
	b := make([]byte, 12)
	if _, err := cryptorand.Read(b); err != nil {
		return "r" + strconv.FormatInt(time.Now().UnixNano(), 36)
	}
	return hex.EncodeToString(b)
}

// Info returns the service's info (no API key is needed, but it is sent).
func (c *Client) Info(ctx context.Context) (*csc.InfoResponse, error) {
	var resp csc.InfoResponse
	if err := c.call(ctx, csc.PathInfo, csc.InfoRequest{}, &resp); err != nil {
		return nil, fmt.Errorf("remote: %w", err)
	}
	return &resp, nil
}

// Credentials returns the IDs of the credentials the API key may use.
func (c *Client) Credentials(ctx context.Context) ([]string, error) {
	var resp csc.CredentialsListResponse
	if err := c.call(ctx, csc.PathCredentialsList, csc.CredentialsListRequest{}, &resp); err != nil {
		return nil, fmt.Errorf("remote: %w", err)
	}
	return resp.CredentialIDs, nil
}

// CredentialInfo returns the description of credential id with its whole
// certificate chain.
func (c *Client) CredentialInfo(ctx context.Context, id string) (*csc.CredentialInfo, error) {
	ci, err := c.credentialInfo(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("remote: %w", err)
	}
	return ci, nil
}

func (c *Client) credentialInfo(ctx context.Context, id string) (*csc.CredentialInfo, error) {
	var resp csc.CredentialInfo
	if err := c.call(ctx, csc.PathCredentialsInfo, csc.CredentialsInfoRequest{CredentialID: id, Certificates: "chain", CertInfo: true}, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}

// SignHash sends one signHash request and returns the decoded signatures,
// one per hash, unverified. Use a Signer for verified signatures.
func (c *Client) SignHash(ctx context.Context, req *csc.SignHashRequest) ([][]byte, error) {
	sigs, err := c.signHash(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("remote: %w", err)
	}
	return sigs, nil
}

func (c *Client) signHash(ctx context.Context, req *csc.SignHashRequest) ([][]byte, error) {
	var resp csc.SignHashResponse
	if err := c.call(ctx, csc.PathSignHash, req, &resp); err != nil {
		return nil, err
	}
	if len(resp.Signatures) != len(req.Hashes) {
		return nil, fmt.Errorf("signHash returned %d signatures for %d hashes", len(resp.Signatures), len(req.Hashes))
	}
	sigs := make([][]byte, len(resp.Signatures))
	for i, s := range resp.Signatures {
		sig, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("signHash: signature %d is not base64", i)
		}
		sigs[i] = sig
	}
	return sigs, nil
}

// CAdESSign asks the service for a complete detached CAdES signature over
// a PDF byte-range digest (hashsvc's /v1/cades/sign). Unlike signHash, this
// sends the byte-range digest. With req.ValidationData set, the answer also
// carries the certificates, OCSP responses and CRLs of the signer's and
// the TSA's paths, as DER, for the document's /DSS: a client reaches B-LT
// with one round trip.
func (c *Client) CAdESSign(ctx context.Context, req *csc.CAdESSignRequest) (*csc.CAdESSignature, error) {
	var resp csc.CAdESSignResponse
	if err := c.call(ctx, csc.PathCAdESSign, req, &resp); err != nil {
		return nil, fmt.Errorf("remote: %w", err)
	}
	sig, err := resp.Decode()
	if err != nil {
		return nil, fmt.Errorf("remote: %w", err)
	}
	return sig, nil
}
