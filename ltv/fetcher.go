package ltv

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"hashsign/internal/certpath"
)

// maxPathLen bounds the certification paths that Collect builds.
const maxPathLen = 10

// Fetcher collects the validation data of certificates: their issuers,
// OCSP responses and CRLs. Its zero value is usable. A Fetcher remembers
// each OCSP response, CRL and issuer certificate it fetched, successful or
// not, so that it asks each server only once; use a new Fetcher for each
// run. An OCSP response or CRL is reused until its nextUpdate (or five
// minutes after its thisUpdate, when it names none), then fetched again:
// the documents of a batch signed with one Fetcher share them. A Fetcher
// is safe for concurrent use once its fields are set, and must not be
// copied after first use.
type Fetcher struct {
	// HTTP is the client used for requests. If nil, a client with
	// DefaultTimeout is used.
	HTTP *http.Client

	// Extra holds certificates given by hand: issuers that cannot be
	// fetched, trust anchors.
	Extra []*x509.Certificate

	// Roots holds the trust anchors: certificates that need no revocation
	// data. Self-signed certificates are treated as anchors too.
	Roots *x509.CertPool

	// Now returns the current time, against which OCSP responses and CRLs
	// are checked. If nil, time.Now is used.
	Now func() time.Time

	mu    sync.Mutex
	cache map[string]*cacheEntry
}

// ValidationData is the content of a PDF's document security store (/DSS).
type ValidationData struct {
	// Certs holds every certificate of every path, the OCSP responders'
	// chains included, trust anchors too.
	Certs []*x509.Certificate

	// OCSPs holds DER OCSPResponse structures (the whole response, as
	// the /DSS /OCSPs entries hold).
	OCSPs [][]byte

	// CRLs holds DER CRLs.
	CRLs [][]byte
}

// RevokedError reports a revoked certificate.
type RevokedError struct {
	Cert   *x509.Certificate
	At     time.Time // revocation time
	Reason int       // CRLReason of RFC 5280; 0 is unspecified
	Source string    // the OCSP responder or CRL that reported the revocation
}

func (e *RevokedError) Error() string {
	s := fmt.Sprintf("ltv: certificate %s was revoked at %s (reason: %s)",
		certName(e.Cert), e.At.UTC().Format(time.RFC3339), reasonName(e.Reason))
	if e.Source != "" {
		s += " according to " + e.Source
	}
	return s
}

// reasonName returns the name of a CRLReason.
func reasonName(r int) string {
	names := []string{"unspecified", "keyCompromise", "cACompromise", "affiliationChanged", "superseded",
		"cessationOfOperation", "certificateHold", "", "removeFromCRL", "privilegeWithdrawn", "aACompromise"}
	if r >= 0 && r < len(names) && names[r] != "" {
		return names[r]
	}
	return fmt.Sprintf("%d", r)
}

// UnavailableError reports that no revocation data could be obtained for a
// certificate. Errs holds one error per OCSP responder and CRL distribution
// point tried.
type UnavailableError struct {
	Cert *x509.Certificate
	Errs []error
}

func (e *UnavailableError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "ltv: no revocation data for certificate %s", certName(e.Cert))
	for i, err := range e.Errs {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(err.Error())
	}
	return b.String()
}

func (e *UnavailableError) Unwrap() []error { return e.Errs }

// Collect builds the certification path of each leaf and returns the
// validation data of every certificate on those paths.
//
// The issuer of a certificate is looked for in pool, in f.Extra, in f.Roots
// and among the certificates fetched so far, then at the URLs of its
// Authority Information Access caIssuers entries (a DER certificate or a
// certs-only PKCS #7). A path ends at a trust anchor: a certificate of
// f.Roots or a self-signed certificate.
//
// Every certificate of a path except the anchor needs revocation data. Each
// OCSP responder of the certificate is asked in turn (RFC 6960: POST, or GET
// when POST fails); the response must be signed by the issuer or by a
// responder that the issuer delegated with the OCSPSigning extended key
// usage, hold the status of the certificate, be current, and echo the nonce
// when it holds one. When no responder gives an answer, the CRLs of the
// certificate's distribution points are tried; a CRL must be signed by the
// issuer and be current. The OCSP responders' chains are collected too; a
// responder certificate with id-pkix-ocsp-nocheck needs no revocation data.
//
// A revoked certificate is a *RevokedError. A certificate for which no
// revocation data can be had is an *UnavailableError that names each
// responder and CRL that failed, and why.
func (f *Fetcher) Collect(ctx context.Context, leaves []*x509.Certificate, pool []*x509.Certificate) (*ValidationData, error) {
	now := time.Now
	if f.Now != nil {
		now = f.Now
	}
	c := &collector{
		f:     f,
		now:   now(),
		vd:    new(ValidationData),
		done:  make(map[string]bool),
		known: append(append([]*x509.Certificate(nil), pool...), f.Extra...),
	}
	for _, leaf := range leaves {
		if leaf == nil {
			return nil, errors.New("ltv: nil certificate")
		}
		if err := c.collect(ctx, leaf, true); err != nil {
			return nil, err
		}
	}
	return c.vd, nil
}

// collector holds the state of one Collect call.
type collector struct {
	f     *Fetcher
	now   time.Time
	vd    *ValidationData
	done  map[string]bool     // certificates (by DER) whose revocation data is collected or being collected
	known []*x509.Certificate // candidate issuers
}

// collect adds the path of leaf and the revocation data of its
// certificates, leaf's own only when checkLeaf is set.
func (c *collector) collect(ctx context.Context, leaf *x509.Certificate, checkLeaf bool) error {
	path, err := c.path(ctx, leaf)
	if err != nil {
		return err
	}
	for _, cert := range path {
		c.vd.addCert(cert)
	}
	for i, cert := range path[:len(path)-1] {
		if i == 0 && !checkLeaf || c.done[string(cert.Raw)] {
			continue
		}
		c.done[string(cert.Raw)] = true
		if err := c.revocation(ctx, cert, path[i+1]); err != nil {
			return err
		}
	}
	return nil
}

// path returns the certification path of leaf: leaf, its issuer, and so
// on up to a trust anchor.
func (c *collector) path(ctx context.Context, leaf *x509.Certificate) ([]*x509.Certificate, error) {
	path := []*x509.Certificate{leaf}
	for cur := leaf; ; {
		if certpath.SelfSigned(cur) {
			return path, nil
		}
		issuer, anchor, err := c.issuer(ctx, cur)
		if err != nil {
			return nil, err
		}
		if anchor {
			return path, nil
		}
		for _, p := range path {
			if p.Equal(issuer) {
				return nil, fmt.Errorf("ltv: certification path of %s loops at %s", certName(leaf), certName(issuer))
			}
		}
		if path = append(path, issuer); len(path) > maxPathLen {
			return nil, fmt.Errorf("ltv: certification path of %s is longer than %d certificates", certName(leaf), maxPathLen)
		}
		cur = issuer
	}
}

// issuer returns the issuer of cur, or anchor set when cur is itself a
// trust anchor of the Roots pool.
func (c *collector) issuer(ctx context.Context, cur *x509.Certificate) (issuer *x509.Certificate, anchor bool, err error) {
	if c.f.Roots != nil {
		if chain := c.verifyWithRoots(cur); len(chain) == 1 {
			return nil, true, nil
		} else if len(chain) > 1 {
			return chain[1], false, nil
		}
	}
	if is := c.findIssuer(cur); is != nil {
		return is, false, nil
	}
	var errs []error
	for _, u := range cur.IssuingCertificateURL {
		certs, err := c.f.caIssuers(ctx, u)
		if err != nil {
			errs = append(errs, fmt.Errorf("caIssuers %s: %w", u, err))
			continue
		}
		c.known = append(c.known, certs...)
		if is := c.findIssuer(cur); is != nil {
			return is, false, nil
		}
		errs = append(errs, fmt.Errorf("caIssuers %s: the certificates it serves did not issue it", u))
	}
	if len(cur.IssuingCertificateURL) == 0 {
		errs = append(errs, errors.New("no caIssuers URL to fetch it from"))
	}
	return nil, false, &failures{
		what: fmt.Sprintf("no issuer certificate for %s (issuer %q)", certName(cur), cur.Issuer.String()),
		errs: errs,
	}
}

// verifyWithRoots returns the shortest chain from cur to f.Roots without
// intermediates: cur alone when it is a root, cur and its issuer when that
// is a root, or nil. Only finding the issuer matters here, so cur is also
// tried at the end of its validity when it has expired, and without its
// critical extensions that crypto/x509 does not handle.
func (c *collector) verifyWithRoots(cur *x509.Certificate) []*x509.Certificate {
	cc := *cur
	cc.UnhandledCriticalExtensions = nil
	times := []time.Time{c.now}
	if c.now.Before(cur.NotBefore) || c.now.After(cur.NotAfter) {
		times = append(times, cur.NotAfter.Add(-time.Second))
	}
	for _, at := range times {
		chains, err := cc.Verify(x509.VerifyOptions{
			Roots:         c.f.Roots,
			Intermediates: x509.NewCertPool(),
			CurrentTime:   at,
			KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
		})
		if err != nil || len(chains) == 0 {
			continue
		}
		shortest := chains[0]
		for _, ch := range chains {
			if len(ch) < len(shortest) {
				shortest = ch
			}
		}
		shortest[0] = cur
		return shortest
	}
	return nil
}

// findIssuer returns the certificate among the known ones that signed cur.
func (c *collector) findIssuer(cur *x509.Certificate) *x509.Certificate {
	for _, cand := range c.known {
		if !bytes.Equal(cand.RawSubject, cur.RawIssuer) {
			continue
		}
		err := cur.CheckSignatureFrom(cand)
		if _, insecure := errors.AsType[x509.InsecureAlgorithmError](err); err == nil || insecure {
			// Old SHA-1 certificates still need validation data.
			return cand
		}
	}
	return nil
}

// revocation adds revocation data for cert, issued by issuer.
func (c *collector) revocation(ctx context.Context, cert, issuer *x509.Certificate) error {
	var errs []error
	for _, u := range cert.OCSPServer {
		res, err := c.f.ocsp(ctx, u, cert, issuer, c.now)
		if rev, ok := errors.AsType[*RevokedError](err); ok {
			return rev
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("OCSP responder %s: %w", u, err))
			if ctx.Err() != nil {
				return &UnavailableError{Cert: cert, Errs: errs}
			}
			continue
		}
		c.vd.addOCSP(res.der)
		c.known = append(c.known, res.certs...)
		if res.responder != nil {
			if err := c.collect(ctx, res.responder, !hasNoCheck(res.responder)); err != nil {
				return fmt.Errorf("%w (certificate of the OCSP responder for %s)", err, certName(cert))
			}
		}
		return nil
	}
	for _, u := range cert.CRLDistributionPoints {
		der, err := c.f.crl(ctx, u, cert, issuer, c.now)
		if rev, ok := errors.AsType[*RevokedError](err); ok {
			return rev
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("CRL %s: %w", u, err))
			if ctx.Err() != nil {
				break
			}
			continue
		}
		c.vd.addCRL(der)
		return nil
	}
	if len(errs) == 0 {
		errs = append(errs, errors.New("it names no OCSP responder and no CRL distribution point"))
	}
	return &UnavailableError{Cert: cert, Errs: errs}
}

// caIssuers fetches the certificates served at a caIssuers URL.
func (f *Fetcher) caIssuers(ctx context.Context, url string) ([]*x509.Certificate, error) {
	return cached(f, ctx, "aia\x00"+url, time.Time{}, func() ([]*x509.Certificate, time.Time, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return nil, time.Time{}, err
		}
		body, err := do(httpClient(f.HTTP), req, maxCertResponse)
		if err != nil {
			return nil, time.Time{}, err
		}
		certs, err := parseCertificates(body)
		return certs, time.Time{}, err
	})
}

// reuseWithoutNextUpdate is how long an OCSP response or CRL that names
// no next update is reused after its thisUpdate: RFC 6960 reads a missing
// nextUpdate as "newer information is always available".
const reuseWithoutNextUpdate = 5 * time.Minute

// cacheEntry is one remembered fetch.
type cacheEntry struct {
	ready     chan struct{} // closed when val and err are set
	val       any
	err       error
	expires   time.Time // when val is stale; zero: never
	abandoned bool      // the fetch failed because its caller's context ended
}

// cached returns the result of fetch for key, calling fetch only once per
// Fetcher for each key, unless a call fails because ctx ended or the value
// it returned has expired at now (fetch returns with its value the time it
// expires, or zero for never). Concurrent callers for the same key wait for
// the first one.
func cached[T any](f *Fetcher, ctx context.Context, key string, now time.Time, fetch func() (T, time.Time, error)) (T, error) {
	var zero T
	for {
		f.mu.Lock()
		if f.cache == nil {
			f.cache = make(map[string]*cacheEntry)
		}
		e, ok := f.cache[key]
		if ok && isClosed(e.ready) && !e.expires.IsZero() && !now.Before(e.expires) {
			delete(f.cache, key) // stale: fetch it again
			ok = false
		}
		if !ok {
			e = &cacheEntry{ready: make(chan struct{})}
			f.cache[key] = e
			f.mu.Unlock()
			v, expires, err := fetch()
			e.val, e.err, e.expires = v, err, expires
			if err != nil && ctx.Err() != nil {
				e.abandoned = true
				f.mu.Lock()
				delete(f.cache, key)
				f.mu.Unlock()
			}
			close(e.ready)
			return v, err
		}
		f.mu.Unlock()
		select {
		case <-e.ready:
		case <-ctx.Done():
			return zero, ctx.Err()
		}
		if e.abandoned {
			continue
		}
		if e.err != nil {
			return zero, e.err
		}
		return e.val.(T), nil
	}
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// expiry returns when revocation data issued at thisUpdate and naming
// nextUpdate (zero when absent) stops being reused.
func expiry(thisUpdate, nextUpdate time.Time) time.Time {
	if nextUpdate.IsZero() {
		return thisUpdate.Add(reuseWithoutNextUpdate)
	}
	return nextUpdate
}

// Merge adds the certificates, OCSP responses and CRLs of b that v does not
// hold yet, compared by their DER encodings.
func (v *ValidationData) Merge(b *ValidationData) {
	if b == nil {
		return
	}
	for _, c := range b.Certs {
		v.addCert(c)
	}
	for _, o := range b.OCSPs {
		v.addOCSP(o)
	}
	for _, c := range b.CRLs {
		v.addCRL(c)
	}
}

func (v *ValidationData) addCert(c *x509.Certificate) {
	for _, have := range v.Certs {
		if bytes.Equal(have.Raw, c.Raw) {
			return
		}
	}
	v.Certs = append(v.Certs, c)
}

func (v *ValidationData) addOCSP(der []byte) {
	v.OCSPs = addDER(v.OCSPs, der)
}

func (v *ValidationData) addCRL(der []byte) {
	v.CRLs = addDER(v.CRLs, der)
}

// addDER appends der to list unless list holds it already.
func addDER(list [][]byte, der []byte) [][]byte {
	for _, have := range list {
		if bytes.Equal(have, der) {
			return list
		}
	}
	return append(list, der)
}
