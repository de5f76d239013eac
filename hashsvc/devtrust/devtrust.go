// Package devtrust serves the trust services of a test PKI over HTTP, for
// development and tests: an RFC 3161 time-stamping authority, an RFC 6960
// OCSP responder, certificate revocation lists and the CA certificates.
//
// The services answer for a [devpki.PKI]. The time-stamping authority signs
// with PKI.TSA; github.com/digitorus/timestamp builds its tokens, which have
// random 160-bit serial numbers. The OCSP responder is PKI.OCSP, delegated by the intermediate
// CA, and the CRLs are signed by the root and intermediate CAs. The handler
// returned by [Services.Handler] serves the paths that the certificates of a
// PKI generated with devpki.Options.BaseURL refer to, so it must be mounted
// at the root of that base URL.
//
// The OCSP responder answers "good" for the certificates of the PKI that the
// intermediate CA issued, "revoked" for the certificates passed to
// [Services.Revoke], "unknown" for other serial numbers, and
// "unauthorized" for certificates of other issuers, such as the
// intermediate CA certificate itself, whose status the root CRL gives.
//
// The services hold no secrets worth protecting: they are meant for a
// loopback listener and for tests, never for production use.
package devtrust

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"mime"
	"net/http"
	"strconv"
	"sync"
	"time"

	"hashsign/internal/devpki"
)

// TSAPath is the URL path of the time-stamping authority. The other paths
// are those of package devpki: [devpki.OCSPPath], [devpki.RootCRLPath],
// [devpki.IntermediateCRLPath], [devpki.RootCertPath] and
// [devpki.IntermediateCertPath].
const TSAPath = "/tsa"

// Defaults used when the corresponding [Options] field is zero.
const (
	DefaultOCSPValidity = 24 * time.Hour
	DefaultCRLValidity  = 7 * 24 * time.Hour
)

// MaxRequestSize is the largest request body, in bytes, that the
// time-stamping authority and the OCSP responder accept. Larger requests get
// the status 413 (Request Entity Too Large).
const MaxRequestSize = 64 << 10

// DefaultPolicy returns the time-stamping policy used when Options.Policy is
// nil: 1.3.6.1.4.1.32473.1.1. It lies under the private enterprise number
// 32473, which RFC 5612 reserves for documentation and examples, so it
// cannot be mistaken for the policy of a real authority.
func DefaultPolicy() asn1.ObjectIdentifier {
	return asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 32473, 1, 1}
}

// Options configures [New]. The zero value is usable.
type Options struct {
	// Now returns the current time. If nil, time.Now is used. It sets the
	// genTime of time-stamps, the times of OCSP responses, the update
	// times of CRLs and the default revocation time of Services.Revoke.
	Now func() time.Time

	// OCSPValidity is how long OCSP responses remain valid: their
	// nextUpdate is their producedAt time plus OCSPValidity. Their
	// thisUpdate is one minute before producedAt, for clients whose
	// clocks are slightly behind. If zero, DefaultOCSPValidity is used.
	OCSPValidity time.Duration

	// CRLValidity is the interval between the thisUpdate and nextUpdate
	// times of CRLs. If zero, DefaultCRLValidity is used.
	CRLValidity time.Duration

	// Policy is the time-stamping policy of the time-stamping authority,
	// copied into every token. Requests that name another policy are
	// rejected. If nil, DefaultPolicy() is used.
	Policy asn1.ObjectIdentifier

	// Logger receives a record for every request served. If nil, nothing
	// is logged.
	Logger *slog.Logger
}

// Services serves the trust services of one test PKI. Its methods are safe
// for concurrent use.
type Services struct {
	pki          *devpki.PKI
	now          func() time.Time
	ocspValidity time.Duration
	crlValidity  time.Duration
	policy       asn1.ObjectIdentifier
	log          *slog.Logger
	handler      http.Handler

	// root and inter are the two certification authorities.
	root, inter *authority

	// leaves holds the serial numbers, in hexadecimal, of the
	// certificates of the PKI that the intermediate CA issued.
	leaves map[string]bool

	mu sync.Mutex
}

// authority is a certification authority of the PKI with its revocation
// state. The fields after mu are guarded by Services.mu.
type authority struct {
	id      *devpki.Identity
	crlPath string

	revoked   map[string]revocation // by serial number in hexadecimal
	crl       []byte                // last CRL, nil after a change
	crlUpdate time.Time             // thisUpdate of crl
	crlNumber *big.Int              // number of the last CRL
}

// revocation records the revocation of one certificate.
type revocation struct {
	serial *big.Int
	at     time.Time
	reason int
}

// New returns the services of p. p must have its Root, Intermediate, TSA and
// OCSP identities; the signers are optional. The TSA and OCSP keys must be
// RSA or ECDSA keys.
func New(p *devpki.PKI, opts Options) (*Services, error) {
	if p == nil {
		return nil, errors.New("devtrust: nil PKI")
	}
	for _, id := range []struct {
		name string
		id   *devpki.Identity
	}{
		{"root CA", p.Root},
		{"intermediate CA", p.Intermediate},
		{"TSA", p.TSA},
		{"OCSP responder", p.OCSP},
	} {
		if id.id == nil || id.id.Cert == nil || id.id.Key == nil {
			return nil, fmt.Errorf("devtrust: PKI has no %s identity", id.name)
		}
	}
	for _, id := range []*devpki.Identity{p.TSA, p.OCSP} {
		switch k := id.Key.Public().(type) {
		case *rsa.PublicKey, *ecdsa.PublicKey:
		default:
			return nil, fmt.Errorf("devtrust: %q: unsupported key type %T", id.Cert.Subject.CommonName, k)
		}
	}
	if err := p.OCSP.Cert.CheckSignatureFrom(p.Intermediate.Cert); err != nil {
		return nil, fmt.Errorf("devtrust: OCSP responder not issued by the intermediate CA: %w", err)
	}
	if opts.OCSPValidity < 0 || opts.CRLValidity < 0 {
		return nil, errors.New("devtrust: negative validity")
	}

	s := &Services{
		pki:          p,
		now:          opts.Now,
		ocspValidity: opts.OCSPValidity,
		crlValidity:  opts.CRLValidity,
		policy:       append(asn1.ObjectIdentifier(nil), opts.Policy...),
		log:          opts.Logger,
		leaves:       make(map[string]bool),
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.ocspValidity == 0 {
		s.ocspValidity = DefaultOCSPValidity
	}
	if s.crlValidity == 0 {
		s.crlValidity = DefaultCRLValidity
	}
	if len(s.policy) == 0 {
		s.policy = DefaultPolicy()
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}

	// CRL numbers start from the wall clock, so that they keep increasing
	// across restarts of a server that loads the same PKI.
	start := big.NewInt(time.Now().Unix())
	s.root = &authority{id: p.Root, crlPath: devpki.RootCRLPath, revoked: make(map[string]revocation), crlNumber: new(big.Int).Set(start)}
	s.inter = &authority{id: p.Intermediate, crlPath: devpki.IntermediateCRLPath, revoked: make(map[string]revocation), crlNumber: new(big.Int).Set(start)}

	for _, id := range p.Leaves() {
		if id != nil && id.Cert != nil && id.Cert.CheckSignatureFrom(p.Intermediate.Cert) == nil {
			s.leaves[serialKey(id.Cert.SerialNumber)] = true
		}
	}

	mux := http.NewServeMux()
	mux.HandleFunc("POST "+TSAPath, s.serveTSA)
	mux.HandleFunc("POST "+devpki.OCSPPath, s.serveOCSPPost)
	mux.HandleFunc("GET "+devpki.OCSPPath, s.serveOCSPGet)
	mux.HandleFunc("GET "+devpki.OCSPPath+"/{request...}", s.serveOCSPGet)
	mux.HandleFunc("GET "+devpki.RootCRLPath, s.crlHandler(s.root))
	mux.HandleFunc("GET "+devpki.IntermediateCRLPath, s.crlHandler(s.inter))
	mux.HandleFunc("GET "+devpki.RootCertPath, s.certHandler(p.Root.Cert))
	mux.HandleFunc("GET "+devpki.IntermediateCertPath, s.certHandler(p.Intermediate.Cert))
	s.handler = mux
	return s, nil
}

// Handler returns the HTTP handler of the services. It serves:
//
//	POST TSAPath                       time-stamp requests (application/timestamp-query)
//	POST devpki.OCSPPath              OCSP requests (application/ocsp-request)
//	GET  devpki.OCSPPath/{request}    OCSP requests, URL-escaped base64 of the DER
//	GET  devpki.RootCRLPath           CRL of the root CA (DER)
//	GET  devpki.IntermediateCRLPath   CRL of the intermediate CA (DER)
//	GET  devpki.RootCertPath          root CA certificate (DER)
//	GET  devpki.IntermediateCertPath  intermediate CA certificate (DER)
//
// In GET requests for OCSP, every "/" of the base64 text must be escaped as
// "%2F" (RFC 6960, appendix A.1); "+" and "=" may be escaped or not, as path
// syntax allows. A literal "/" gets the status 400.
//
// Other methods get the status 405 (Method Not Allowed), other paths 404.
// Requests that cannot be decoded get the status 400 with, for the
// time-stamping authority and the OCSP responder, an error response of the
// protocol as body. Requests that are well formed but refused, such as a
// time-stamp request for an unsupported hash algorithm or an OCSP request
// for a certificate of another CA, get the status 200 and an error response
// of the protocol.
func (s *Services) Handler() http.Handler {
	return s.handler
}

// Revoke records the revocation of cert, which must have been issued by the
// root or the intermediate CA of the PKI, at time at for reason, a CRLReason
// of RFC 5280 (such as ocsp.KeyCompromise of golang.org/x/crypto/ocsp): 0
// to 6, 9 or 10; 0 (unspecified) is encoded as an absent reason. If at is
// the zero time, the current time is used. Times are truncated to the
// second.
//
// From then on, the OCSP responder answers "revoked" for cert and the CRL of
// its issuer lists it. Revoking a certificate again replaces its revocation
// time and reason.
func (s *Services) Revoke(cert *x509.Certificate, at time.Time, reason int) error {
	if cert == nil {
		return errors.New("devtrust: revoking a nil certificate")
	}
	if reason < 0 || reason > 10 || reason == 7 || reason == 8 {
		return fmt.Errorf("devtrust: invalid revocation reason %d", reason)
	}
	var a *authority
	switch {
	case cert.Equal(s.root.id.Cert):
		return errors.New("devtrust: cannot revoke the root CA certificate")
	case cert.CheckSignatureFrom(s.inter.id.Cert) == nil:
		a = s.inter
	case cert.CheckSignatureFrom(s.root.id.Cert) == nil:
		a = s.root
	default:
		return fmt.Errorf("devtrust: certificate %q was not issued by the test PKI", cert.Subject.CommonName)
	}
	if at.IsZero() {
		at = s.now()
	}
	at = at.UTC().Truncate(time.Second)

	s.mu.Lock()
	a.revoked[serialKey(cert.SerialNumber)] = revocation{
		serial: new(big.Int).Set(cert.SerialNumber),
		at:     at,
		reason: reason,
	}
	a.crl = nil
	s.mu.Unlock()

	s.log.Info("devtrust: certificate revoked",
		slog.String("subject", cert.Subject.CommonName),
		slog.String("serial", serialKey(cert.SerialNumber)),
		slog.Time("at", at),
		slog.Int("reason", reason))
	return nil
}

// serialKey returns the map key of a serial number.
func serialKey(n *big.Int) string {
	return n.Text(16)
}

// readRequest reads the body of a POST request of the given media type. If
// it fails, it writes an HTTP error to w and returns false.
func readRequest(w http.ResponseWriter, r *http.Request, mediaType string) ([]byte, bool) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != mediaType {
		http.Error(w, "Content-Type must be "+mediaType, http.StatusUnsupportedMediaType)
		return nil, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxRequestSize))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			http.Error(w, "request larger than "+strconv.Itoa(MaxRequestSize)+" bytes", http.StatusRequestEntityTooLarge)
		} else {
			http.Error(w, "reading request: "+err.Error(), http.StatusBadRequest)
		}
		return nil, false
	}
	return body, true
}

// writeBody writes a response with the given status, media type and body.
func writeBody(w http.ResponseWriter, status int, mediaType string, body []byte) {
	h := w.Header()
	h.Set("Content-Type", mediaType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write(body)
}
