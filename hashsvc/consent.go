package hashsvc

import (
	"bytes"
	"context"
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	"hashsign/csc"
)

// Channel is how a person receives one-time codes.
type Channel string

// Channels of one-time codes.
const (
	ChannelNone  Channel = ""      // no code: a PIN alone
	ChannelEmail Channel = "email" // e-mailed through consent.smtp
	ChannelSMS   Channel = "sms"   // posted to consent.sms_webhook
	ChannelTOTP  Channel = "totp"  // an authenticator app (RFC 6238)
)

// Person is someone who signs with an explicit credential and consents to
// each signature with a code.
type Person struct {
	// ID identifies the person across credentials: their lockout and
	// their TOTP enrolment are kept under it.
	ID string
	// Name goes into a one-time certificate's subject (commonName).
	Name string
	// Email and Phone are where codes go; Email also goes into a
	// one-time certificate (subjectAltName rfc822Name).
	Email, Phone string
	// Organization and Country (ISO 3166 alpha-2), when set, go into a
	// one-time certificate's subject.
	Organization, Country string
}

// Errors that consent errors wrap, for errors.Is.
var (
	ErrWrongCode   = errors.New("wrong code")
	ErrWrongPIN    = errors.New("wrong PIN")
	ErrLocked      = errors.New("locked out after too many wrong codes")
	ErrRateLimited = errors.New("a code was sent too recently")
	ErrInvalidSAD  = errors.New("invalid SAD")
	ErrNotExplicit = errors.New("the credential is not explicit")
	ErrDelivery    = errors.New("the code could not be delivered")
)

// ConsentError is a refusal of a consent operation: its HTTP status and
// CSC error code, a description for the client, and the sentinel error it
// wraps.
type ConsentError struct {
	Status int
	Code   string // csc.Err*
	Desc   string
	Kind   error
	// RetryAfter, when not zero, is when the operation may be tried again
	// (rate limit, lockout).
	RetryAfter time.Time
}

func (e *ConsentError) Error() string { return e.Desc }
func (e *ConsentError) Unwrap() error { return e.Kind }

func consentErr(status int, code string, kind error, format string, args ...any) *ConsentError {
	return &ConsentError{Status: status, Code: code, Kind: kind, Desc: fmt.Sprintf(format, args...)}
}

// authSpec is how the person of an explicit credential consents.
type authSpec struct {
	person    Person
	channel   Channel
	pinBcrypt []byte
}

// consentSchema holds the consent state, in the audit database.
const consentSchema = `
CREATE TABLE IF NOT EXISTS consent_code (
	subject TEXT PRIMARY KEY,
	mac     TEXT NOT NULL,
	channel TEXT NOT NULL,
	sent    INTEGER NOT NULL,
	expires INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS consent_attempts (
	subject      TEXT PRIMARY KEY,
	failures     INTEGER NOT NULL,
	locked_until INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS consent_totp (
	subject   TEXT PRIMARY KEY,
	salt      TEXT NOT NULL,
	last_step INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS consent_sad (
	id         TEXT PRIMARY KEY,
	credential TEXT NOT NULL,
	key_id     TEXT NOT NULL,
	hash_alg   TEXT NOT NULL,
	hashes     TEXT NOT NULL,
	num        INTEGER NOT NULL,
	expires    INTEGER NOT NULL,
	used       INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS onetime (
	credential TEXT PRIMARY KEY,
	key_id     TEXT NOT NULL,
	subject    TEXT NOT NULL,
	channel    TEXT NOT NULL,
	cert       TEXT NOT NULL,
	key_ref    TEXT NOT NULL,
	expires    INTEGER NOT NULL,
	destroyed  INTEGER NOT NULL,
	reason     TEXT NOT NULL
);`

// consent holds the consent state of a server.
type consent struct {
	cfg    *ConsentConfig
	db     *sql.DB
	secret []byte
	auth   map[string]*authSpec // explicit configured credentials, by id
	mailer *Mailer
	sms    *Webhook
}

// openConsent opens the consent tables in the audit database and reads the
// explicit credentials' settings.
func openConsent(ctx context.Context, c *Config) (*consent, error) {
	cc := &c.Consent
	k := &consent{cfg: cc, auth: map[string]*authSpec{}}
	if cc.SecretFile != "" {
		if err := checkKeyFile("consent.secret_file", c.path(cc.SecretFile)); err != nil {
			return nil, err
		}
		b, err := os.ReadFile(c.path(cc.SecretFile))
		if err != nil {
			return nil, fmt.Errorf("consent.secret_file: %w", err)
		}
		b = bytes.TrimSpace(b)
		if h, err := hex.DecodeString(string(b)); err == nil {
			b = h
		}
		if len(b) < 32 {
			return nil, fmt.Errorf("consent.secret_file %s: want at least 32 bytes (64 hex digits)", cc.SecretFile)
		}
		k.secret = b
	} else {
		k.secret = make([]byte, 32)
		rand.Read(k.secret)
	}
	for _, cr := range c.Credentials {
		if cr.AuthMode != "explicit" {
			continue
		}
		s := cr.Signer
		a := &authSpec{
			person:  Person{ID: s.ID, Name: s.Name, Email: s.Email, Phone: s.Phone},
			channel: Channel(s.OTP),
		}
		if a.person.ID == "" {
			a.person.ID = cr.ID
		}
		if a.channel == ChannelTOTP && cc.SecretFile == "" {
			return nil, fmt.Errorf("credential %q: TOTP needs consent.secret_file, from which the enrolled secrets are derived", cr.ID)
		}
		if s.PINBcrypt != "" {
			if _, err := bcrypt.Cost([]byte(s.PINBcrypt)); err != nil {
				return nil, fmt.Errorf("credential %q: pin_bcrypt: %w", cr.ID, err)
			}
			a.pinBcrypt = []byte(s.PINBcrypt)
		}
		k.auth[cr.ID] = a
	}
	if cc.SMTP != nil {
		m, err := newMailer(c, cc.SMTP)
		if err != nil {
			return nil, err
		}
		k.mailer = m
	}
	if cc.SMS != nil {
		w, err := newWebhook(c, cc.SMS)
		if err != nil {
			return nil, err
		}
		k.sms = w
	}
	db, err := openAuditDB(c.path(c.Audit.Path), false)
	if err != nil {
		return nil, err
	}
	if _, err := db.ExecContext(ctx, consentSchema); err != nil {
		db.Close()
		return nil, fmt.Errorf("consent: creating tables: %w", err)
	}
	k.db = db
	return k, nil
}

func (k *consent) close() error { return k.db.Close() }

// Mailer returns the mailer of consent.smtp, or nil when none is
// configured, for messages of the service's own (such as links to a
// consent page).
func (s *Server) Mailer() *Mailer { return s.consent.mailer }

// now returns the server's clock.
func (s *Server) now() time.Time {
	if s.clock != nil {
		return s.clock()
	}
	return time.Now()
}

// authOf returns how credential id is authorized: nil for an implicit
// credential.
func (s *Server) authOf(id string) *authSpec {
	if a := s.consent.auth[id]; a != nil {
		return a
	}
	if ot := s.onetime.get(id); ot != nil {
		return ot.auth
	}
	return nil
}

// mac returns the keyed hash under which a code for subject is stored.
func (k *consent) mac(purpose, subject, code string) string {
	m := hmac.New(sha256.New, k.secret)
	for _, f := range []string{purpose, subject, code} {
		fmt.Fprintf(m, "%d:%s", len(f), f)
	}
	return hex.EncodeToString(m.Sum(nil))
}

// audit appends consent records. Their Operation names the event.
func (s *Server) auditEvent(ctx context.Context, rec Record) error {
	if rec.Time.IsZero() {
		rec.Time = s.now()
	}
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := s.audit.Append(actx, []Record{rec}); err != nil {
		s.metrics.auditFailed()
		s.log.Error("audit log append failed", "operation", rec.Operation, "credential", rec.Credential, "err", err)
		return fmt.Errorf("the audit log could not be written: %w", err)
	}
	return nil
}

// SentCode describes a code that SendCode sent.
type SentCode struct {
	Channel Channel
	// To is the address or number, partly masked for display.
	To      string
	Expires time.Time
}

// SendCode sends a one-time code to the person of the explicit credential
// credentialID, by e-mail or through the SMS webhook as the credential is
// set up, and stores it hashed until it expires. note, if not empty, is
// added to the message (such as the documents to be signed). keyID and
// requestID go into the audit record. It refuses a TOTP credential (whose
// codes come from an app), a locked-out person, and a second code within
// ConsentConfig.ResendInterval.
func (s *Server) SendCode(ctx context.Context, keyID, requestID, credentialID, note string) (SentCode, error) {
	a := s.authOf(credentialID)
	if a == nil {
		return SentCode{}, consentErr(http.StatusBadRequest, csc.ErrInvalidRequest, ErrNotExplicit,
			"credential %q is implicit: it needs no code", credentialID)
	}
	var to string
	switch a.channel {
	case ChannelEmail:
		to = a.person.Email
	case ChannelSMS:
		to = a.person.Phone
	case ChannelTOTP:
		return SentCode{}, consentErr(http.StatusBadRequest, csc.ErrInvalidRequest, ErrNotExplicit,
			"credential %q takes codes from an authenticator app (TOTP); none is sent", credentialID)
	default:
		return SentCode{}, consentErr(http.StatusBadRequest, csc.ErrInvalidRequest, ErrNotExplicit,
			"credential %q is authorized with a PIN; no code is sent", credentialID)
	}
	k := s.consent
	now := s.now()
	subject := a.person.ID
	code, err := randomDigits(k.cfg.CodeLength)
	if err != nil {
		return SentCode{}, err
	}
	expires := now.Add(k.cfg.CodeLifetime)
	err = k.tx(ctx, func(tx *sql.Tx) error {
		if ce := k.lockedOut(ctx, tx, subject, now); ce != nil {
			return ce
		}
		var sent int64
		switch err := tx.QueryRowContext(ctx, `SELECT sent FROM consent_code WHERE subject = ?`, subject).Scan(&sent); {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return err
		default:
			if next := time.Unix(0, sent).Add(k.cfg.ResendInterval); now.Before(next) {
				ce := consentErr(http.StatusTooManyRequests, csc.ErrRateLimit, ErrRateLimited,
					"a code was sent to the signer of %q less than %v ago; try again after %s", credentialID, k.cfg.ResendInterval, next.UTC().Format(time.RFC3339))
				ce.RetryAfter = next
				return ce
			}
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO consent_code (subject, mac, channel, sent, expires) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (subject) DO UPDATE SET mac = excluded.mac, channel = excluded.channel, sent = excluded.sent, expires = excluded.expires`,
			subject, k.mac("otp", subject, code), string(a.channel), now.UnixNano(), expires.UnixNano())
		return err
	})
	if err != nil {
		return SentCode{}, err
	}
	msg := codeMessage{Code: code, Expires: expires, Credential: credentialID, Name: a.person.Name, Note: note}
	if a.channel == ChannelEmail {
		err = k.mailer.SendCode(ctx, to, msg)
	} else {
		err = k.sms.SendCode(ctx, to, msg)
	}
	rec := Record{KeyID: keyID, Credential: credentialID, RequestID: requestID, Operation: "code.sent." + string(a.channel)}
	if err != nil {
		// A code that did not leave cannot be used.
		k.db.ExecContext(context.WithoutCancel(ctx), `DELETE FROM consent_code WHERE subject = ?`, subject)
		s.metrics.code(string(a.channel), "undelivered")
		rec.Operation = "code.undelivered." + string(a.channel)
		s.auditEvent(ctx, rec)
		s.log.Error("sending a code failed", "credential", credentialID, "channel", a.channel, "err", err)
		return SentCode{}, consentErr(http.StatusBadGateway, csc.ErrServer, ErrDelivery,
			"the code could not be sent by %s: %v", a.channel, err)
	}
	s.metrics.code(string(a.channel), "sent")
	if err := s.auditEvent(ctx, rec); err != nil {
		return SentCode{}, err
	}
	return SentCode{Channel: a.channel, To: mask(to), Expires: expires}, nil
}

// CheckCode checks the consent of the person of the explicit credential
// credentialID: their PIN when the credential has one, and their one-time
// code (sent by SendCode, or from their authenticator app). A code serves
// once. ConsentConfig.MaxAttempts wrong answers in a row lock the person
// out for ConsentConfig.Lockout, during which even the right code is
// refused. Every check is audited.
func (s *Server) CheckCode(ctx context.Context, keyID, requestID, credentialID, pin, otp string) error {
	a := s.authOf(credentialID)
	if a == nil {
		return consentErr(http.StatusBadRequest, csc.ErrInvalidRequest, ErrNotExplicit, "credential %q is implicit: it needs no code", credentialID)
	}
	k := s.consent
	now := s.now()
	subject := a.person.ID
	var wrong *ConsentError
	err := k.tx(ctx, func(tx *sql.Tx) error {
		if ce := k.lockedOut(ctx, tx, subject, now); ce != nil {
			return ce
		}
		wrong = nil
		if a.pinBcrypt != nil && bcrypt.CompareHashAndPassword(a.pinBcrypt, []byte(pin)) != nil {
			wrong = consentErr(http.StatusBadRequest, csc.ErrInvalidPIN, ErrWrongPIN, "wrong PIN for credential %q", credentialID)
		}
		if wrong == nil {
			var err error
			if wrong, err = k.checkOTP(ctx, tx, a, credentialID, otp, now); err != nil {
				return err
			}
		}
		if wrong == nil {
			_, err := tx.ExecContext(ctx, `DELETE FROM consent_attempts WHERE subject = ?`, subject)
			return err
		}
		var failures int
		if err := tx.QueryRowContext(ctx, `SELECT failures FROM consent_attempts WHERE subject = ?`, subject).Scan(&failures); err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		failures++
		var until int64
		if failures >= k.cfg.MaxAttempts {
			t := now.Add(k.cfg.Lockout)
			until = t.UnixNano()
			wrong = consentErr(http.StatusForbidden, csc.ErrLocked, ErrLocked,
				"%s; %d wrong answers in a row: the signer of %q is locked out until %s", wrong.Desc, failures, credentialID, t.UTC().Format(time.RFC3339))
			wrong.RetryAfter = t
			failures = 0
			tx.ExecContext(ctx, `DELETE FROM consent_code WHERE subject = ?`, subject)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO consent_attempts (subject, failures, locked_until) VALUES (?, ?, ?)
			ON CONFLICT (subject) DO UPDATE SET failures = excluded.failures, locked_until = excluded.locked_until`, subject, failures, until)
		return err
	})
	ch := string(a.channel)
	if ch == "" {
		ch = "pin"
	}
	rec := Record{KeyID: keyID, Credential: credentialID, RequestID: requestID}
	switch {
	case err != nil:
		var ce *ConsentError
		if errors.As(err, &ce) {
			s.metrics.code(ch, "refused")
			rec.Operation = "code.refused." + ch
			s.auditEvent(ctx, rec)
		}
		return err
	case wrong != nil:
		result := "failed"
		if errors.Is(wrong, ErrLocked) {
			result = "locked"
		}
		s.metrics.code(ch, result)
		rec.Operation = "code." + result + "." + ch
		s.auditEvent(ctx, rec)
		return wrong
	}
	s.metrics.code(ch, "verified")
	rec.Operation = "code.verified." + ch
	return s.auditEvent(ctx, rec)
}

// lockedOut returns the refusal for a locked-out subject, or nil.
func (k *consent) lockedOut(ctx context.Context, tx *sql.Tx, subject string, now time.Time) *ConsentError {
	var until int64
	if err := tx.QueryRowContext(ctx, `SELECT locked_until FROM consent_attempts WHERE subject = ?`, subject).Scan(&until); err != nil {
		return nil
	}
	if t := time.Unix(0, until); until != 0 && now.Before(t) {
		ce := consentErr(http.StatusForbidden, csc.ErrLocked, ErrLocked,
			"the signer is locked out after %d wrong answers, until %s", k.cfg.MaxAttempts, t.UTC().Format(time.RFC3339))
		ce.RetryAfter = t
		return ce
	}
	return nil
}

// checkOTP checks a one-time code; a wrong one gives a *ConsentError.
func (k *consent) checkOTP(ctx context.Context, tx *sql.Tx, a *authSpec, credentialID, otp string, now time.Time) (*ConsentError, error) {
	subject := a.person.ID
	switch a.channel {
	case ChannelNone:
		return nil, nil
	case ChannelTOTP:
		return k.checkTOTP(ctx, tx, subject, credentialID, otp, now)
	}
	if otp == "" {
		return consentErr(http.StatusBadRequest, csc.ErrInvalidOTP, ErrWrongCode, "OTP is required for credential %q (credentials/sendOTP sends one)", credentialID), nil
	}
	var (
		mac     string
		expires int64
	)
	switch err := tx.QueryRowContext(ctx, `SELECT mac, expires FROM consent_code WHERE subject = ?`, subject).Scan(&mac, &expires); {
	case errors.Is(err, sql.ErrNoRows):
		return consentErr(http.StatusBadRequest, csc.ErrInvalidOTP, ErrWrongCode, "no code is pending for credential %q: send one with credentials/sendOTP", credentialID), nil
	case err != nil:
		return nil, err
	}
	if subtle.ConstantTimeCompare([]byte(mac), []byte(k.mac("otp", subject, otp))) != 1 {
		return consentErr(http.StatusBadRequest, csc.ErrInvalidOTP, ErrWrongCode, "wrong OTP for credential %q", credentialID), nil
	}
	if !now.Before(time.Unix(0, expires)) {
		return consentErr(http.StatusBadRequest, csc.ErrInvalidOTP, ErrWrongCode, "the OTP for credential %q expired at %s; send a new one", credentialID, time.Unix(0, expires).UTC().Format(time.RFC3339)), nil
	}
	_, err := tx.ExecContext(ctx, `DELETE FROM consent_code WHERE subject = ?`, subject)
	return nil, err
}

// tx runs f in a transaction, committing when it returns nil.
func (k *consent) tx(ctx context.Context, f func(*sql.Tx) error) error {
	tx, err := k.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("consent: begin: %w", err)
	}
	if err := f(tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("consent: commit: %w", err)
	}
	return nil
}

// SADRequest asks IssueSAD for a SAD.
type SADRequest struct {
	// KeyID is the API key that may use the SAD.
	KeyID string
	// RequestID goes into the audit record.
	RequestID    string
	CredentialID string
	// Hash is the hash algorithm of Hashes, the exact hashes the SAD
	// authorizes (at most NumSignatures, which defaults to their number).
	Hash          crypto.Hash
	Hashes        [][]byte
	NumSignatures int
}

// IssueSAD issues a Signature Activation Data for one signHash call on
// credential r.CredentialID by API key r.KeyID, bound to r.Hashes and
// valid ConsentConfig.SADLifetime. The caller has checked the signer's
// consent (CheckCode) for an explicit credential. The SAD is stored as its
// SHA-256 only; the issue is audited.
func (s *Server) IssueSAD(ctx context.Context, r SADRequest) (sad string, expires time.Time, err error) {
	oid, err := csc.HashOID(r.Hash)
	if err != nil {
		return "", time.Time{}, consentErr(http.StatusBadRequest, csc.ErrInvalidRequest, ErrInvalidSAD, "%v", err)
	}
	if len(r.Hashes) == 0 {
		return "", time.Time{}, consentErr(http.StatusBadRequest, csc.ErrInvalidRequest, ErrInvalidSAD,
			"the hashes to sign are required: a SAD is bound to them")
	}
	n := r.NumSignatures
	if n == 0 {
		n = len(r.Hashes)
	}
	if n != len(r.Hashes) {
		return "", time.Time{}, consentErr(http.StatusBadRequest, csc.ErrInvalidRequest, ErrInvalidSAD,
			"numSignatures %d differs from the %d hashes given", n, len(r.Hashes))
	}
	list := make([]string, len(r.Hashes))
	bound := sha256.New()
	for i, h := range r.Hashes {
		if why := checkHash(h, r.Hash); why != "" {
			return "", time.Time{}, consentErr(http.StatusBadRequest, csc.ErrInvalidRequest, ErrInvalidSAD, "hashes[%d] %s", i, why)
		}
		list[i] = hex.EncodeToString(h)
		bound.Write(h)
	}
	b := make([]byte, 32)
	rand.Read(b)
	sad = base64.RawURLEncoding.EncodeToString(b)
	id := sadID(sad)
	now := s.now()
	expires = now.Add(s.consent.cfg.SADLifetime)
	if _, err := s.consent.db.ExecContext(ctx, `INSERT INTO consent_sad (id, credential, key_id, hash_alg, hashes, num, expires, used)
		VALUES (?, ?, ?, ?, ?, ?, ?, 0)`, hex.EncodeToString(id), r.CredentialID, r.KeyID, oid, strings.Join(list, ","), n, expires.UnixNano()); err != nil {
		return "", time.Time{}, fmt.Errorf("consent: storing the SAD: %w", err)
	}
	if err := s.auditEvent(ctx, Record{Time: now, KeyID: r.KeyID, Credential: r.CredentialID, RequestID: r.RequestID,
		Operation: "sad.issued", HashAlgorithm: oid, Hash: bound.Sum(nil)}); err != nil {
		s.consent.db.ExecContext(context.WithoutCancel(ctx), `DELETE FROM consent_sad WHERE id = ?`, hex.EncodeToString(id))
		return "", time.Time{}, err
	}
	s.metrics.sad("issued")
	return sad, expires, nil
}

func sadID(sad string) []byte {
	sum := sha256.Sum256([]byte("hashsvc SAD\x00" + sad))
	return sum[:]
}

// useSAD checks that sad authorizes API key keyID to sign digests (of the
// hash hashOID) with credential credentialID now, and marks it used. It
// is audited.
func (s *Server) useSAD(ctx context.Context, keyID, requestID, credentialID, sad, hashOID string, digests [][]byte) *ConsentError {
	if sad == "" {
		return consentErr(http.StatusBadRequest, csc.ErrInvalidRequest, ErrInvalidSAD,
			"credential %q is explicit: signing needs a SAD from credentials/authorize for these hashes", credentialID)
	}
	id := hex.EncodeToString(sadID(sad))
	now := s.now()
	invalid := func(format string, args ...any) error {
		return consentErr(http.StatusBadRequest, csc.ErrInvalidRequest, ErrInvalidSAD, "invalid SAD: "+format, args...)
	}
	err := s.consent.tx(ctx, func(tx *sql.Tx) error {
		var (
			cred, key, alg, hashes string
			num                    int
			expires, used          int64
		)
		err := tx.QueryRowContext(ctx, `SELECT credential, key_id, hash_alg, hashes, num, expires, used FROM consent_sad WHERE id = ?`, id).
			Scan(&cred, &key, &alg, &hashes, &num, &expires, &used)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return invalid("unknown")
		case err != nil:
			return err
		case cred != credentialID:
			return invalid("it was issued for another credential")
		case key != keyID:
			return invalid("it was issued to another API key")
		case used != 0:
			return invalid("it was used already, at %s; a SAD serves one signHash call", time.Unix(0, used).UTC().Format(time.RFC3339Nano))
		case !now.Before(time.Unix(0, expires)):
			return invalid("it expired at %s", time.Unix(0, expires).UTC().Format(time.RFC3339Nano))
		case alg != hashOID:
			return invalid("it was issued for %s hashes, not %s", alg, hashOID)
		case len(digests) > num:
			return invalid("%d hashes exceed its numSignatures %d", len(digests), num)
		}
		allowed := strings.Split(hashes, ",")
		for i, d := range digests {
			h := hex.EncodeToString(d)
			j := indexOf(allowed, h)
			if j < 0 {
				return invalid("hashes[%d] is not among the hashes it was issued for", i)
			}
			allowed[j] = "" // each authorized hash signs once
		}
		_, err = tx.ExecContext(ctx, `UPDATE consent_sad SET used = ? WHERE id = ?`, now.UnixNano(), id)
		return err
	})
	if err != nil {
		var ce *ConsentError
		if !errors.As(err, &ce) {
			s.log.Error("checking a SAD", "credential", credentialID, "err", err)
			return consentErr(http.StatusInternalServerError, csc.ErrServer, err, "checking the SAD failed")
		}
		s.metrics.sad("refused")
		s.auditEvent(ctx, Record{Time: now, KeyID: keyID, Credential: credentialID, RequestID: requestID, Operation: "sad.refused", HashAlgorithm: hashOID})
		return ce
	}
	s.metrics.sad("used")
	raw, _ := hex.DecodeString(id)
	if err := s.auditEvent(ctx, Record{Time: now, KeyID: keyID, Credential: credentialID, RequestID: requestID, Operation: "sad.used", HashAlgorithm: hashOID, Hash: raw}); err != nil {
		return consentErr(http.StatusInternalServerError, csc.ErrServer, err, "the audit log could not be written; nothing was signed")
	}
	return nil
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}

// randomDigits returns n random decimal digits.
func randomDigits(n int) (string, error) {
	b := make([]byte, n)
	for i := range b {
		var r [1]byte
		for {
			if _, err := rand.Read(r[:]); err != nil {
				return "", fmt.Errorf("generating a code: %w", err)
			}
			if r[0] < 250 { // 250 = 25 * 10: no modulo bias
				break
			}
		}
		b[i] = '0' + r[0]%10
	}
	return string(b), nil
}

// mask hides the middle of an address or number: a***e@example.org,
// +49******89.
func mask(s string) string {
	local, domain, isMail := strings.Cut(s, "@")
	if !isMail {
		local = s
	}
	r := []rune(local)
	keep := 1
	if !isMail && len(r) > 6 {
		keep = 3
	}
	for i := keep; i < len(r)-min(keep, 2); i++ {
		r[i] = '*'
	}
	if isMail {
		return string(r) + "@" + domain
	}
	return string(r)
}
