package hashsvc

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"hashsign/csc"
	"hashsign/signer"
)

// OIDDocumentSigning is id-kp-documentSigning (RFC 9336), the extended key
// usage of one-time certificates.
var OIDDocumentSigning = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 36}

// OneTimePrefix starts the credential IDs of one-time credentials.
const OneTimePrefix = "ot-"

// CA is the certification authority that issues one-time certificates.
type CA struct {
	// Signer is the CA's key and Chain its certificate followed by the
	// CAs above it, without the root.
	Signer crypto.Signer
	Chain  []*x509.Certificate
	// OCSP, CAIssuers and CRL are the URLs the certificates name.
	OCSP, CAIssuers, CRL string
	// Issued, if not nil, is told of every certificate issued, such as
	// the development OCSP responder, which then answers for it.
	Issued func(*x509.Certificate)
}

// KeyGenerator makes and destroys the keys of one-time credentials.
type KeyGenerator interface {
	// GenerateKey makes a new signing key (ECDSA P-256); ref names it for
	// DestroyKey, also after a restart.
	GenerateKey(ctx context.Context, label string) (key crypto.Signer, ref string, err error)
	// DestroyKey destroys the key named ref.
	DestroyKey(ctx context.Context, ref string) error
}

// memoryKeys makes one-time keys in memory. Destroying one drops the
// service's only reference to it.
type memoryKeys struct{}

func (memoryKeys) GenerateKey(ctx context.Context, _ string) (crypto.Signer, string, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	return k, "memory", err
}

func (memoryKeys) DestroyKey(context.Context, string) error { return nil }

// OneTimeRequest asks IssueOneTime for a one-time credential.
type OneTimeRequest struct {
	// KeyID is the API key that may use the credential.
	KeyID string
	// RequestID goes into the audit records.
	RequestID string
	// Person is the signer: Name is required and goes into the subject.
	Person Person
	// Channel is how the signer receives codes, and PINBcrypt an optional
	// bcrypt hash of a PIN.
	Channel   Channel
	PINBcrypt string
	// Lifetime bounds the credential (default OneTimeConfig.Lifetime).
	Lifetime time.Duration
}

// OneTimeCredential is a credential made for one signer and one request.
type OneTimeCredential struct {
	ID string
	// Chain is the one-time certificate followed by the issuing CAs.
	Chain   []*x509.Certificate
	Expires time.Time
}

// oneTimeCred is a live one-time credential.
type oneTimeCred struct {
	cred    *credential
	auth    *authSpec
	keyID   string
	ref     string
	expires time.Time
}

// oneTimes holds the live one-time credentials.
type oneTimes struct {
	mu    sync.Mutex
	creds map[string]*oneTimeCred
}

func (o *oneTimes) get(id string) *oneTimeCred {
	if o == nil {
		return nil
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.creds[id]
}

// IssueOneTime makes a credential for a signer who has none: a new key
// (in the PKCS#11 token of OneTimeConfig.KeyToken, else in memory) and a
// certificate from the issuing CA with the signer's identity in the
// subject, key usage digitalSignature and nonRepudiation, and extended key
// usage id-kp-documentSigning, valid until the credential ends. The
// credential is explicit (each signature needs the signer's consent) and
// only r.KeyID may use it. DestroyOneTime ends it; so does its lifetime.
func (s *Server) IssueOneTime(ctx context.Context, r OneTimeRequest) (*OneTimeCredential, error) {
	if s.ca == nil {
		return nil, errors.New("one-time certificates need an issuing CA (consent.one_time)")
	}
	p := r.Person
	if strings.TrimSpace(p.Name) == "" {
		return nil, errors.New("one-time certificate: the signer's name is required")
	}
	if p.ID == "" {
		return nil, errors.New("one-time certificate: the signer's id is required")
	}
	if err := checkChannel(r.Channel, p.Email, p.Phone, r.PINBcrypt != "", &s.cfg.Consent); err != nil {
		return nil, fmt.Errorf("one-time certificate for %q: %w", p.ID, err)
	}
	a := &authSpec{person: p, channel: r.Channel}
	if r.PINBcrypt != "" {
		if _, err := bcrypt.Cost([]byte(r.PINBcrypt)); err != nil {
			return nil, fmt.Errorf("one-time certificate: PIN hash: %w", err)
		}
		a.pinBcrypt = []byte(r.PINBcrypt)
	}
	life := r.Lifetime
	if life <= 0 {
		life = s.oneTimeLifetime()
	}
	s.sweepOneTime(ctx)
	idb := make([]byte, 12)
	rand.Read(idb)
	id := OneTimePrefix + hex.EncodeToString(idb)

	key, ref, err := s.keygen.GenerateKey(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("one-time key: %w", err)
	}
	destroy := func() { s.keygen.DestroyKey(context.WithoutCancel(ctx), ref) }
	now := s.now()
	expires := now.Add(life)
	cert, err := s.ca.issue(p, key.Public(), now.Add(-DefaultOneTimeBackdate), expires)
	if err != nil {
		destroy()
		return nil, err
	}
	chain := append([]*x509.Certificate{cert}, s.ca.Chain...)
	sg, err := signer.New(key, chain)
	if err != nil {
		destroy()
		return nil, fmt.Errorf("one-time credential: %w", err)
	}
	cr := &credential{
		id: id, description: "one-time credential of " + p.Name, signer: sg, chain: chain, keyLen: 256, curve: csc.OIDP256,
		algos: []string{csc.OIDECPublicKey, csc.OIDECDSAWithSHA256, csc.OIDECDSAWithSHA384, csc.OIDECDSAWithSHA512},
	}
	if _, err := s.consent.db.ExecContext(ctx, `INSERT INTO onetime (credential, key_id, subject, channel, cert, key_ref, expires, destroyed, reason)
		VALUES (?, ?, ?, ?, ?, ?, ?, 0, '')`, id, r.KeyID, p.ID, string(r.Channel), hex.EncodeToString(cert.Raw), ref, expires.UnixNano()); err != nil {
		destroy()
		return nil, fmt.Errorf("one-time credential: storing it: %w", err)
	}
	sum := sha256.Sum256(cert.Raw)
	if err := s.auditEvent(ctx, Record{Time: now, KeyID: r.KeyID, Credential: id, RequestID: r.RequestID, Operation: "onetime.issued", Hash: sum[:]}); err != nil {
		destroy()
		s.consent.db.ExecContext(context.WithoutCancel(ctx), `UPDATE onetime SET destroyed = ?, reason = 'audit failed' WHERE credential = ?`, now.UnixNano(), id)
		return nil, err
	}
	if s.ca.Issued != nil {
		s.ca.Issued(cert)
	}
	s.onetime.mu.Lock()
	s.onetime.creds[id] = &oneTimeCred{cred: cr, auth: a, keyID: r.KeyID, ref: ref, expires: expires}
	s.onetime.mu.Unlock()
	s.metrics.oneTime("issued")
	s.log.Info("one-time credential issued", "credential", id, "subject", cert.Subject.String(), "expires", expires)
	return &OneTimeCredential{ID: id, Chain: chain, Expires: expires}, nil
}

// DestroyOneTime ends the one-time credential id: its key is destroyed and
// later uses are refused. reason goes into the audit record. Ending a
// credential that has ended already is not an error.
func (s *Server) DestroyOneTime(ctx context.Context, id, reason string) error {
	s.onetime.mu.Lock()
	ot := s.onetime.creds[id]
	delete(s.onetime.creds, id)
	s.onetime.mu.Unlock()
	if ot == nil {
		var destroyed int64
		if err := s.consent.db.QueryRowContext(ctx, `SELECT destroyed FROM onetime WHERE credential = ?`, id).Scan(&destroyed); err != nil {
			return fmt.Errorf("no one-time credential %q", id)
		}
		return nil
	}
	return s.destroyKey(ctx, id, ot.keyID, ot.ref, reason)
}

// destroyKey destroys a one-time key and records it.
func (s *Server) destroyKey(ctx context.Context, id, keyID, ref, reason string) error {
	ctx = context.WithoutCancel(ctx)
	err := s.keygen.DestroyKey(ctx, ref)
	if err != nil {
		s.log.Error("destroying a one-time key", "credential", id, "err", err)
		reason += "; destroying the key failed: " + err.Error()
	}
	now := s.now()
	if _, dbErr := s.consent.db.ExecContext(ctx, `UPDATE onetime SET destroyed = ?, reason = ? WHERE credential = ?`, now.UnixNano(), reason, id); dbErr != nil && err == nil {
		err = dbErr
	}
	s.metrics.oneTime("destroyed")
	if aerr := s.auditEvent(ctx, Record{Time: now, KeyID: keyID, Credential: id, Operation: "onetime.destroyed"}); aerr != nil && err == nil {
		err = aerr
	}
	s.log.Info("one-time credential destroyed", "credential", id, "reason", reason)
	return err
}

// sweepOneTime destroys the one-time credentials whose lifetime is over.
func (s *Server) sweepOneTime(ctx context.Context) {
	now := s.now()
	s.onetime.mu.Lock()
	var over []string
	for id, ot := range s.onetime.creds {
		if !now.Before(ot.expires) {
			over = append(over, id)
		}
	}
	s.onetime.mu.Unlock()
	for _, id := range over {
		s.DestroyOneTime(ctx, id, "lifetime over")
	}
}

// closeOneTime destroys every live one-time key, at shutdown.
func (s *Server) closeOneTime() {
	s.onetime.mu.Lock()
	ids := make([]string, 0, len(s.onetime.creds))
	for id := range s.onetime.creds {
		ids = append(ids, id)
	}
	s.onetime.mu.Unlock()
	for _, id := range ids {
		s.DestroyOneTime(context.Background(), id, "service stopped")
	}
}

// recoverOneTime destroys the keys that a previous run left behind (it
// stopped without ending them) and returns the certificates issued so far.
func (s *Server) recoverOneTime(ctx context.Context) ([]*x509.Certificate, error) {
	rows, err := s.consent.db.QueryContext(ctx, `SELECT credential, key_id, cert, key_ref, destroyed FROM onetime`)
	if err != nil {
		return nil, fmt.Errorf("one-time credentials: %w", err)
	}
	type left struct{ id, keyID, ref string }
	var (
		certs    []*x509.Certificate
		leftOver []left
	)
	for rows.Next() {
		var (
			id, keyID, certHex, ref string
			destroyed               int64
		)
		if err := rows.Scan(&id, &keyID, &certHex, &ref, &destroyed); err != nil {
			rows.Close()
			return nil, fmt.Errorf("one-time credentials: %w", err)
		}
		der, _ := hex.DecodeString(certHex)
		if c, err := x509.ParseCertificate(der); err == nil {
			certs = append(certs, c)
		}
		if destroyed == 0 {
			leftOver = append(leftOver, left{id, keyID, ref})
		}
	}
	rows.Close()
	for _, l := range leftOver {
		s.destroyKey(ctx, l.id, l.keyID, l.ref, "the service restarted")
	}
	return certs, nil
}

// OneTimeCertificates returns every one-time certificate issued so far,
// for a development OCSP responder that must answer for them.
func (s *Server) OneTimeCertificates() []*x509.Certificate { return s.issued }

// oneTimeCredential returns the one-time credential id for key. ok is
// false when id is not one.
func (s *Server) oneTimeCredential(ctx context.Context, key *apiKey, id string) (cr *credential, ae *apiError, ok bool) {
	if !strings.HasPrefix(id, OneTimePrefix) {
		return nil, nil, false
	}
	s.sweepOneTime(ctx)
	if ot := s.onetime.get(id); ot != nil {
		if ot.keyID != key.cfg.ID && !key.cfg.allows(id) {
			return nil, &apiError{http.StatusForbidden, csc.ErrAccessDenied, fmt.Sprintf("API key %q may not use credential %q", key.cfg.ID, id)}, true
		}
		return ot.cred, nil, true
	}
	var (
		destroyed int64
		reason    string
	)
	if err := s.consent.db.QueryRowContext(ctx, `SELECT destroyed, reason FROM onetime WHERE credential = ?`, id).Scan(&destroyed, &reason); err != nil || destroyed == 0 {
		return nil, &apiError{http.StatusNotFound, csc.ErrNotFound, fmt.Sprintf("no credential %q", id)}, true
	}
	return nil, &apiError{http.StatusBadRequest, csc.ErrInvalidRequest, fmt.Sprintf("one-time credential %q ended at %s (%s): its key was destroyed",
		id, time.Unix(0, destroyed).UTC().Format(time.RFC3339), reason)}, true
}

func (s *Server) oneTimeLifetime() time.Duration {
	if o := s.cfg.Consent.OneTime; o != nil && o.Lifetime > 0 {
		return o.Lifetime
	}
	return DefaultOneTimeLifetime
}

// issue issues a one-time certificate for p's key pub.
func (ca *CA) issue(p Person, pub crypto.PublicKey, notBefore, notAfter time.Time) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	spki, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	skid := sha256.Sum256(spki)
	subject := pkix.Name{CommonName: p.Name, SerialNumber: p.ID}
	if p.Organization != "" {
		subject.Organization = []string{p.Organization}
	}
	if p.Country != "" {
		subject.Country = []string{p.Country}
	}
	t := &x509.Certificate{
		SerialNumber:          serial.Add(serial, big.NewInt(1)),
		Subject:               subject,
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
		UnknownExtKeyUsage:    []asn1.ObjectIdentifier{OIDDocumentSigning},
		BasicConstraintsValid: true,
		SubjectKeyId:          skid[:20],
	}
	if p.Email != "" {
		t.EmailAddresses = []string{p.Email}
	}
	if ca.OCSP != "" {
		t.OCSPServer = []string{ca.OCSP}
	}
	if ca.CAIssuers != "" {
		t.IssuingCertificateURL = []string{ca.CAIssuers}
	}
	if ca.CRL != "" {
		t.CRLDistributionPoints = []string{ca.CRL}
	}
	der, err := x509.CreateCertificate(rand.Reader, t, ca.Chain[0], pub, ca.Signer)
	if err != nil {
		return nil, fmt.Errorf("issuing the one-time certificate of %q: %w", p.ID, err)
	}
	return x509.ParseCertificate(der)
}
