package hashsvc

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/mail"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"hashsign/csc"
)

// Defaults of RequestsConfig.
const (
	DefaultRequestExpiry     = 7 * 24 * time.Hour
	DefaultMaxRequestExpiry  = 90 * 24 * time.Hour
	DefaultWebhookTimeout    = 10 * time.Second
	DefaultWebhookMinBackoff = 5 * time.Second
	DefaultWebhookMaxBackoff = time.Hour
	DefaultWebhookGiveUp     = 72 * time.Hour
)

// RequestsConfig configures signature requests (/v1/requests): people who
// sign documents that stay with the sender.
type RequestsConfig struct {
	// PublicURL is the base URL of the consent links that signers get
	// (default: the scheme and Host of the sender's request).
	PublicURL string `yaml:"public_url"`
	// WebhookSecretFile keys the HMAC-SHA256 of the posts to the
	// requests' callback URLs (Hashsvc-Signature). Callback URLs need it.
	WebhookSecretFile string `yaml:"webhook_secret_file"`
	// DefaultExpiry ends a request that names no expiry (default 7
	// days); MaxExpiry bounds the expiry a request may name (90 days).
	DefaultExpiry time.Duration `yaml:"default_expiry"`
	MaxExpiry     time.Duration `yaml:"max_expiry"`
	// EvidenceCredential is the implicit credential (a seal) that signs
	// the evidence records (default: the first implicit credential).
	EvidenceCredential string `yaml:"evidence_credential"`
	// Webhooks bounds the deliveries to callback URLs.
	Webhooks WebhookDeliveryConfig `yaml:"webhooks"`
}

// WebhookDeliveryConfig bounds the deliveries of request events. A
// delivery that fails is retried after MinBackoff, doubling up to
// MaxBackoff, until it succeeds or GiveUp has passed since the event.
type WebhookDeliveryConfig struct {
	Timeout    time.Duration `yaml:"timeout"`     // one attempt (default 10s)
	MinBackoff time.Duration `yaml:"min_backoff"` // default 5s
	MaxBackoff time.Duration `yaml:"max_backoff"` // default 1h
	GiveUp     time.Duration `yaml:"give_up"`     // default 72h
}

// checkRequests checks the request settings and fills in defaults.
func (c *Config) checkRequests() error {
	rc := &c.Requests
	for _, d := range []struct {
		d   *time.Duration
		def time.Duration
	}{
		{&rc.DefaultExpiry, DefaultRequestExpiry}, {&rc.MaxExpiry, DefaultMaxRequestExpiry},
		{&rc.Webhooks.Timeout, DefaultWebhookTimeout}, {&rc.Webhooks.MinBackoff, DefaultWebhookMinBackoff},
		{&rc.Webhooks.MaxBackoff, DefaultWebhookMaxBackoff}, {&rc.Webhooks.GiveUp, DefaultWebhookGiveUp},
	} {
		if *d.d <= 0 {
			*d.d = d.def
		}
	}
	if rc.PublicURL != "" {
		u, err := url.Parse(rc.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("requests.public_url %q: want http(s)://HOST[:PORT][/PATH]", rc.PublicURL)
		}
	}
	if id := rc.EvidenceCredential; id != "" {
		for _, cr := range c.Credentials {
			if cr.ID == id {
				if cr.AuthMode == "explicit" {
					return fmt.Errorf("requests.evidence_credential %q is explicit; the evidence is sealed by an implicit credential", id)
				}
				return nil
			}
		}
		return fmt.Errorf("requests.evidence_credential: unknown credential %q", id)
	}
	return nil
}

// requestsSchema holds the signature requests, in the audit database.
const requestsSchema = `
CREATE TABLE IF NOT EXISTS sigreq (
	id      TEXT PRIMARY KEY,
	key_id  TEXT NOT NULL,
	state   TEXT NOT NULL,
	created INTEGER NOT NULL,
	expires INTEGER NOT NULL,
	data    TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sigreq_token (
	token   TEXT PRIMARY KEY,
	request TEXT NOT NULL,
	step    INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS sigreq_evidence (
	request TEXT PRIMARY KEY,
	data    BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS webhook_queue (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	request    TEXT NOT NULL,
	seq        INTEGER NOT NULL,
	type       TEXT NOT NULL,
	url        TEXT NOT NULL,
	body       BLOB NOT NULL,
	status     TEXT NOT NULL,
	attempts   INTEGER NOT NULL,
	created    INTEGER NOT NULL,
	next_at    INTEGER NOT NULL,
	delivered  INTEGER NOT NULL,
	last_error TEXT NOT NULL
);`

// requests is the signature-request state of a server.
type requests struct {
	// mu serializes every change of a request: load, change, audit,
	// store.
	mu            sync.Mutex
	webhookSecret []byte
	webhookHTTP   *http.Client
	// kick wakes the webhook dispatcher; stop and done end it.
	kick       chan struct{}
	stop, done chan struct{}
	// deliverMu serializes delivery passes.
	deliverMu sync.Mutex
}

// sigRequest is a stored request: what the sender sees, and the service's
// own part.
type sigRequest struct {
	csc.RequestStatus
	KeyID     string        `json:"keyID"`
	Callbacks []string      `json:"callbacks,omitempty"`
	Seq       int           `json:"seq"` // events so far
	Steps     []stepPrivate `json:"steps"`
	Events    []csc.Event   `json:"events"`
}

// stepPrivate is the service's part of a signer's step.
type stepPrivate struct {
	// Credential signs the step: the signer's own, or a one-time one.
	Credential string `json:"credential,omitempty"`
	OneTime    bool   `json:"oneTime,omitempty"`
	// Channel is how a one-time signer receives codes.
	Channel        Channel `json:"channel,omitempty"`
	SignAlgoParams string  `json:"signAlgoParams,omitempty"`
}

// ended reports whether a request state is final.
func ended(state string) bool {
	switch state {
	case csc.StateCompleted, csc.StateDeclined, csc.StateExpired, csc.StateCancelled:
		return true
	}
	return false
}

// initRequests opens the request tables and starts the webhook
// dispatcher.
func (s *Server) initRequests(ctx context.Context) error {
	rc := &s.cfg.Requests
	q := &requests{
		webhookHTTP: &http.Client{Timeout: rc.Webhooks.Timeout, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		kick:        make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
	}
	if rc.WebhookSecretFile != "" {
		b, err := os.ReadFile(s.cfg.path(rc.WebhookSecretFile))
		if err != nil {
			return fmt.Errorf("requests.webhook_secret_file: %w", err)
		}
		if q.webhookSecret = bytes.TrimSpace(b); len(q.webhookSecret) < 16 {
			return fmt.Errorf("requests.webhook_secret_file %s: want at least 16 bytes", rc.WebhookSecretFile)
		}
	}
	if _, err := s.consent.db.ExecContext(ctx, requestsSchema); err != nil {
		return fmt.Errorf("requests: creating tables: %w", err)
	}
	s.reqs = q
	if err := s.reopenSteps(ctx); err != nil {
		return err
	}
	go s.dispatchWebhooks()
	return nil
}

// reopenSteps gives the open steps whose one-time key a previous run
// destroyed (recoverOneTime: keys do not outlive the service) a new
// one-time certificate: the step is ready again, its hashes and consent
// link are dropped, and the sender prepares it anew with the new
// certificate.
func (s *Server) reopenSteps(ctx context.Context) error {
	rows, err := s.consent.db.QueryContext(ctx, `SELECT id FROM sigreq WHERE state LIKE 'waiting-for-%'`)
	if err != nil {
		return fmt.Errorf("requests: %w", err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if rows.Scan(&id) == nil {
			ids = append(ids, id)
		}
	}
	rows.Close()
	for _, id := range ids {
		r, err := s.load(ctx, id, "")
		if err != nil {
			return err
		}
		for k, sg := range r.Signers {
			st := r.Steps[k]
			if !st.OneTime || (sg.State != csc.StepReady && sg.State != csc.StepPending) || s.onetime.get(st.Credential) != nil {
				continue
			}
			if !s.now().Before(r.Expires) {
				break // the sweep ends it
			}
			if _, err := s.consent.db.ExecContext(ctx, `DELETE FROM sigreq_token WHERE request = ? AND step = ?`, r.ID, k+1); err != nil {
				return err
			}
			if err := s.openStep(ctx, r, k+1); err != nil {
				return fmt.Errorf("reopening step %d of request %s: %w", k+1, r.ID, err)
			}
			s.log.Info("signature request step reopened with a new one-time certificate", "request", r.ID, "step", k+1)
		}
	}
	return nil
}

// closeRequests stops the webhook dispatcher.
func (s *Server) closeRequests() {
	if s.reqs == nil {
		return
	}
	close(s.reqs.stop)
	<-s.reqs.done
}

// RequestError is a refusal of a request operation.
type RequestError struct {
	Status int
	Code   string
	Desc   string
}

func (e *RequestError) Error() string { return e.Desc }

func reqErr(status int, code, format string, args ...any) *RequestError {
	return &RequestError{Status: status, Code: code, Desc: fmt.Sprintf(format, args...)}
}

// CreateRequest creates a signature request for API key keyID and, unless
// it is a draft, starts it: the first step opens (all of them in parallel
// order), one-time certificates are issued, and the callbacks are told.
func (s *Server) CreateRequest(ctx context.Context, keyID string, in csc.CreateRequest) (*csc.RequestStatus, error) {
	key := s.keyConfig(keyID)
	if key == nil {
		return nil, fmt.Errorf("no API key %q", keyID)
	}
	now := s.now()
	if err := s.checkCreate(key, &in, now); err != nil {
		return nil, err
	}
	idb := make([]byte, 10)
	rand.Read(idb)
	r := &sigRequest{
		RequestStatus: csc.RequestStatus{
			ID: "sr-" + hex.EncodeToString(idb), State: csc.StateDraft, Sender: in.Sender, Message: in.Message,
			Order: in.Order, Level: in.Level, Created: now.UTC(), Expires: in.Expires.UTC(), Documents: in.Documents,
		},
		KeyID: keyID, Callbacks: in.CallbackURLs,
	}
	for i, sg := range in.Signers {
		r.Signers = append(r.Signers, csc.SignerStatus{RequestSigner: sg, Step: i + 1, State: csc.StepWaiting})
		st := stepPrivate{Credential: sg.CredentialID}
		if sg.CredentialID == "" {
			st.OneTime, st.Channel = true, Channel(sg.OTP)
		}
		r.Steps = append(r.Steps, st)
	}
	q := s.reqs
	q.mu.Lock()
	defer q.mu.Unlock()
	if err := s.change(ctx, r, "request.created", 0, true); err != nil {
		return nil, err
	}
	if !in.Draft {
		if err := s.start(ctx, r); err != nil {
			return nil, err
		}
	}
	return r.public(), nil
}

// keyConfig returns the configuration of API key id.
func (s *Server) keyConfig(id string) *APIKeyConfig {
	for _, k := range s.keys.keys {
		if k.cfg.ID == id {
			return &k.cfg
		}
	}
	return nil
}

// checkCreate checks a new request and fills in its defaults.
func (s *Server) checkCreate(key *APIKeyConfig, in *csc.CreateRequest, now time.Time) error {
	bad := func(format string, args ...any) error {
		return reqErr(http.StatusBadRequest, csc.ErrInvalidRequest, format, args...)
	}
	rc := &s.cfg.Requests
	if strings.TrimSpace(in.Sender) == "" {
		return bad("sender is required: the signers see who asks")
	}
	if len(in.Documents) == 0 || len(in.Documents) > s.cfg.Limits.MaxBatch {
		return bad("give 1 to %d documents", s.cfg.Limits.MaxBatch)
	}
	names := map[string]bool{}
	for i, d := range in.Documents {
		if strings.TrimSpace(d.Name) == "" || names[d.Name] {
			return bad("documents[%d]: a name is required, and names differ", i)
		}
		names[d.Name] = true
		if d.ViewURL != "" {
			if u, err := url.Parse(d.ViewURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") {
				return bad("documents[%d].viewURL %q: want an http(s) URL", i, d.ViewURL)
			}
		}
	}
	if len(in.Signers) == 0 || len(in.Signers) > 32 {
		return bad("give 1 to 32 signers")
	}
	ids := map[string]bool{}
	for i := range in.Signers {
		sg := &in.Signers[i]
		if sg.ID == "" || ids[sg.ID] {
			return bad("signers[%d]: an id is required, and ids differ", i)
		}
		ids[sg.ID] = true
		if sg.Email != "" {
			if _, err := mail.ParseAddress(sg.Email); err != nil {
				return bad("signers[%d].email %q: %v", i, sg.Email, err)
			}
		}
		if sg.CredentialID != "" {
			if !key.allows(sg.CredentialID) {
				return reqErr(http.StatusForbidden, csc.ErrAccessDenied, "API key %q may not use credential %q", key.ID, sg.CredentialID)
			}
			a := s.consent.auth[sg.CredentialID]
			if _, ok := s.creds[sg.CredentialID]; !ok || a == nil {
				return bad("signers[%d].credentialID %q: not an explicit credential of this service", i, sg.CredentialID)
			}
			if sg.Name == "" {
				sg.Name = a.person.Name
			}
			continue
		}
		if strings.TrimSpace(sg.Name) == "" {
			return bad("signers[%d]: the name is required (it goes into the one-time certificate)", i)
		}
		if sg.OTP == "" {
			switch {
			case sg.Email != "":
				sg.OTP = string(ChannelEmail)
			case sg.Phone != "":
				sg.OTP = string(ChannelSMS)
			}
		}
		if s.ca == nil {
			return bad("signers[%d] has no credential, and this service issues no one-time certificates (consent.one_time)", i)
		}
		if err := checkChannel(Channel(sg.OTP), sg.Email, sg.Phone, false, &s.cfg.Consent); err != nil {
			return bad("signers[%d]: %v", i, err)
		}
	}
	switch in.Order {
	case "":
		in.Order = csc.OrderSequential
	case csc.OrderSequential, csc.OrderParallel:
	default:
		return bad("order %q: use %s or %s", in.Order, csc.OrderSequential, csc.OrderParallel)
	}
	switch in.Level {
	case "", "B-B", "B-T", "B-LT", "B-LTA":
	default:
		return bad("level %q: use B-B, B-T, B-LT or B-LTA", in.Level)
	}
	if in.Expires.IsZero() {
		in.Expires = now.Add(rc.DefaultExpiry)
	}
	if !in.Expires.After(now) || in.Expires.After(now.Add(rc.MaxExpiry)) {
		return bad("expires %s: want a time in the next %v", in.Expires.UTC().Format(time.RFC3339), rc.MaxExpiry)
	}
	if len(in.CallbackURLs) > 0 && s.reqs.webhookSecret == nil {
		return bad("callbackURLs need requests.webhook_secret_file, which signs the posts")
	}
	for i, cb := range in.CallbackURLs {
		if u, err := url.Parse(cb); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
			return bad("callbackURLs[%d] %q: want an http(s) URL without user info", i, cb)
		}
	}
	if len(in.CallbackURLs) > 8 {
		return bad("at most 8 callbackURLs")
	}
	return nil
}

// public returns what the sender sees of r.
func (r *sigRequest) public() *csc.RequestStatus {
	p := r.RequestStatus
	p.Signers = append([]csc.SignerStatus(nil), r.Signers...)
	return &p
}

// start moves a draft to waiting for its first signer (or all of them).
func (s *Server) start(ctx context.Context, r *sigRequest) error {
	if r.State != csc.StateDraft {
		return reqErr(http.StatusConflict, csc.ErrInvalidRequest, "request %s is %s, not a draft", r.ID, r.State)
	}
	if r.Order == csc.OrderParallel {
		for k := range r.Signers {
			if err := s.openStep(ctx, r, k+1); err != nil {
				return err
			}
		}
		r.State = csc.StateWaitingAll
		return s.change(ctx, r, "request."+r.State, 0, false)
	}
	if err := s.openStep(ctx, r, 1); err != nil {
		return err
	}
	r.State = csc.StateWaiting + "1"
	return s.change(ctx, r, "request."+r.State, 1, false)
}

// openStep opens step k: a signer without a credential gets a one-time
// certificate now, valid until the request expires.
func (s *Server) openStep(ctx context.Context, r *sigRequest, k int) error {
	sg, st := &r.Signers[k-1], &r.Steps[k-1]
	var chain []string
	if st.OneTime {
		life := r.Expires.Sub(s.now())
		ot, err := s.IssueOneTime(ctx, OneTimeRequest{
			KeyID: r.KeyID, RequestID: r.ID, Channel: st.Channel, Lifetime: life,
			Person: Person{ID: sg.ID, Name: sg.Name, Email: sg.Email, Phone: sg.Phone},
		})
		if err != nil {
			return fmt.Errorf("request %s, signer %d: %w", r.ID, k, err)
		}
		st.Credential = ot.ID
		for _, c := range ot.Chain {
			chain = append(chain, base64.StdEncoding.EncodeToString(c.Raw))
		}
	} else {
		cr := s.creds[st.Credential]
		for _, c := range cr.chain {
			chain = append(chain, base64.StdEncoding.EncodeToString(c.Raw))
		}
	}
	sg.Certificates, sg.Hashes, sg.Signatures, sg.HashAlgorithmOID, sg.SignAlgo = chain, nil, nil, "", ""
	sg.State = csc.StepReady
	return s.change(ctx, r, "step.ready", k, false)
}

// change records a change of r: the event goes into r, the audit log and
// the callbacks' queue, and r is stored. The audit record is written
// first, so that no change is stored that the log does not hold.
func (s *Server) change(ctx context.Context, r *sigRequest, typ string, step int, create bool) error {
	now := s.now()
	r.Seq++
	ev := csc.Event{ID: fmt.Sprintf("%s.%d", r.ID, r.Seq), Request: r.ID, Seq: r.Seq, Type: typ, State: r.State, Step: step, Time: now.UTC()}
	if step > 0 {
		ev.Signer = r.Signers[step-1].ID
	}
	r.Events = append(r.Events, ev)
	body, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(body)
	rec := Record{Time: now, KeyID: r.KeyID, RequestID: r.ID, Operation: typ, Hash: sum[:]}
	if step > 0 {
		rec.Credential = r.Steps[step-1].Credential
	}
	if err := s.auditEvent(ctx, rec); err != nil {
		return err
	}
	data, err := json.Marshal(r)
	if err != nil {
		return err
	}
	err = s.consent.tx(ctx, func(tx *sql.Tx) error {
		if create {
			if _, err := tx.ExecContext(ctx, `INSERT INTO sigreq (id, key_id, state, created, expires, data) VALUES (?, ?, ?, ?, ?, ?)`,
				r.ID, r.KeyID, r.State, r.Created.UnixNano(), r.Expires.UnixNano(), string(data)); err != nil {
				return err
			}
		} else if _, err := tx.ExecContext(ctx, `UPDATE sigreq SET state = ?, data = ? WHERE id = ?`, r.State, string(data), r.ID); err != nil {
			return err
		}
		for _, cb := range r.Callbacks {
			if _, err := tx.ExecContext(ctx, `INSERT INTO webhook_queue (request, seq, type, url, body, status, attempts, created, next_at, delivered, last_error)
				VALUES (?, ?, ?, ?, ?, 'pending', 0, ?, ?, 0, '')`, r.ID, r.Seq, typ, cb, body, now.UnixNano(), now.UnixNano()); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("request %s: storing %s: %w", r.ID, typ, err)
	}
	if strings.HasPrefix(typ, "request.") {
		s.metrics.requestState(r.State)
	}
	if len(r.Callbacks) > 0 {
		select {
		case s.reqs.kick <- struct{}{}:
		default:
		}
	}
	return nil
}

// load reads request id; keyID, when not empty, must own it.
func (s *Server) load(ctx context.Context, id, keyID string) (*sigRequest, error) {
	var (
		owner, data string
	)
	err := s.consent.db.QueryRowContext(ctx, `SELECT key_id, data FROM sigreq WHERE id = ?`, id).Scan(&owner, &data)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && keyID != "" && owner != keyID) {
		return nil, reqErr(http.StatusNotFound, csc.ErrNotFound, "no request %q", id)
	}
	if err != nil {
		return nil, fmt.Errorf("request %s: %w", id, err)
	}
	r := &sigRequest{}
	if err := json.Unmarshal([]byte(data), r); err != nil {
		return nil, fmt.Errorf("request %s: corrupt record: %w", id, err)
	}
	return r, nil
}

// Request returns request id of API key keyID.
func (s *Server) Request(ctx context.Context, keyID, id string) (*csc.RequestStatus, error) {
	s.sweepRequests(ctx)
	r, err := s.load(ctx, id, keyID)
	if err != nil {
		return nil, err
	}
	p := r.public()
	p.Evidence = s.hasEvidence(ctx, id)
	p.Deliveries = s.deliveryCounts(ctx, id)
	return p, nil
}

// Requests lists the requests of API key keyID, newest first; state, when
// not empty, selects one state ("waiting" selects every waiting state).
func (s *Server) Requests(ctx context.Context, keyID, state string, limit int) ([]csc.RequestStatus, error) {
	s.sweepRequests(ctx)
	q := `SELECT data FROM sigreq WHERE key_id = ?`
	args := []any{keyID}
	switch state {
	case "":
	case "waiting":
		q += ` AND state LIKE 'waiting-for-%'`
	default:
		q += ` AND state = ?`
		args = append(args, state)
	}
	q += ` ORDER BY created DESC LIMIT ?`
	args = append(args, limit)
	rows, err := s.consent.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("listing requests: %w", err)
	}
	defer rows.Close()
	out := []csc.RequestStatus{}
	for rows.Next() {
		var data string
		if err := rows.Scan(&data); err != nil {
			return nil, err
		}
		var r sigRequest
		if err := json.Unmarshal([]byte(data), &r); err != nil {
			return nil, fmt.Errorf("listing requests: corrupt record: %w", err)
		}
		out = append(out, *r.public())
	}
	return out, rows.Err()
}

// StartRequest starts a draft.
func (s *Server) StartRequest(ctx context.Context, keyID, id string) (*csc.RequestStatus, error) {
	return s.update(ctx, keyID, id, func(r *sigRequest) error { return s.start(ctx, r) })
}

// CancelRequest cancels a request that has not ended.
func (s *Server) CancelRequest(ctx context.Context, keyID, id string) (*csc.RequestStatus, error) {
	return s.update(ctx, keyID, id, func(r *sigRequest) error { return s.end(ctx, r, csc.StateCancelled) })
}

// update runs f on request id under the lock, and makes the evidence when
// f ended the request.
func (s *Server) update(ctx context.Context, keyID, id string, f func(*sigRequest) error) (*csc.RequestStatus, error) {
	s.sweepRequests(ctx)
	q := s.reqs
	q.mu.Lock()
	r, err := s.load(ctx, id, keyID)
	if err == nil {
		err = f(r)
	}
	q.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if ended(r.State) {
		s.ensureEvidence(ctx, r.ID)
	}
	return s.Request(ctx, keyID, id)
}

// end ends a request in a final state: the steps not signed end, and the
// one-time keys are destroyed.
func (s *Server) end(ctx context.Context, r *sigRequest, state string) error {
	if ended(r.State) {
		return reqErr(http.StatusConflict, csc.ErrEnded, "request %s is %s already", r.ID, r.State)
	}
	for k := range r.Signers {
		if st := r.Signers[k].State; st != csc.StepSigned && st != csc.StepDeclined {
			r.Signers[k].State = csc.StepEnded
		}
	}
	for _, st := range r.Steps {
		if st.OneTime && st.Credential != "" {
			if err := s.DestroyOneTime(ctx, st.Credential, "request "+r.ID+" "+state); err != nil {
				s.log.Error("destroying a one-time credential", "request", r.ID, "credential", st.Credential, "err", err)
			}
		}
	}
	r.State = state
	r.Ended = s.now().UTC()
	return s.change(ctx, r, "request."+state, 0, false)
}

// checkOpen refuses a change to an ended or expired request.
func (s *Server) checkOpen(r *sigRequest) error {
	if ended(r.State) {
		return reqErr(http.StatusConflict, csc.ErrEnded, "request %s is %s", r.ID, r.State)
	}
	if !s.now().Before(r.Expires) {
		return reqErr(http.StatusConflict, csc.ErrEnded, "request %s expired at %s", r.ID, r.Expires.Format(time.RFC3339))
	}
	return nil
}

// SubmitHashes records the hashes that signer k of request id is to sign,
// one per document in the request's order, and invites the signer: it
// returns the signer's step with the consent URL. base is the URL that
// consent links start with when requests.public_url is not set.
func (s *Server) SubmitHashes(ctx context.Context, keyID, id string, k int, in csc.StepHashesRequest, base string) (*csc.SignerStatus, error) {
	s.sweepRequests(ctx)
	q := s.reqs
	q.mu.Lock()
	r, err := s.load(ctx, id, keyID)
	if err != nil {
		q.mu.Unlock()
		return nil, err
	}
	token, err := s.submitHashes(ctx, r, k, in)
	q.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if s.cfg.Requests.PublicURL != "" {
		base = s.cfg.Requests.PublicURL
	}
	link := strings.TrimSuffix(base, "/") + "/consent/" + token
	s.invite(ctx, r, k, link)
	sg := r.Signers[k-1]
	sg.ConsentURL = link
	return &sg, nil
}

func (s *Server) submitHashes(ctx context.Context, r *sigRequest, k int, in csc.StepHashesRequest) (string, error) {
	bad := func(format string, args ...any) error {
		return reqErr(http.StatusBadRequest, csc.ErrInvalidRequest, format, args...)
	}
	if err := s.checkOpen(r); err != nil {
		return "", err
	}
	if k < 1 || k > len(r.Signers) {
		return "", reqErr(http.StatusNotFound, csc.ErrNotFound, "request %s has no signer %d", r.ID, k)
	}
	sg, st := &r.Signers[k-1], &r.Steps[k-1]
	switch sg.State {
	case csc.StepReady, csc.StepPending:
	case csc.StepWaiting:
		return "", reqErr(http.StatusConflict, csc.ErrOutOfOrder, "signer %d of request %s acts out of order: the step opens once signer %d has signed", k, r.ID, k-1)
	default:
		return "", reqErr(http.StatusConflict, csc.ErrInvalidRequest, "signer %d of request %s is %s", k, r.ID, sg.State)
	}
	if in.CertificateSHA256 != "" && (len(sg.Certificates) == 0 || !stepCertificate(sg.Certificates[0], in.CertificateSHA256)) {
		return "", reqErr(http.StatusConflict, csc.ErrReopened, "signer %d of request %s: the step was reopened with a new certificate; prepare the documents again with it", k, r.ID)
	}
	cr, err := s.stepCredential(st.Credential)
	if err != nil {
		return "", err
	}
	alg, ae := resolveAlgorithm(cr, in.SignAlgo, in.HashAlgorithmOID, in.SignAlgoParams)
	if ae != nil {
		return "", bad("%s", ae.desc)
	}
	if len(in.Hashes) != len(r.Documents) {
		return "", bad("%d hashes for %d documents: give one per document, in their order", len(in.Hashes), len(r.Documents))
	}
	for i, h := range in.Hashes {
		if h.Document != r.Documents[i].Name {
			return "", bad("hashes[%d] is for %q; document %d is %q", i, h.Document, i+1, r.Documents[i].Name)
		}
		if d, err := base64.StdEncoding.DecodeString(h.DocumentHash); err != nil || len(d) != sha256.Size {
			return "", bad("hashes[%d].documentHash: want the base64 SHA-256 of the document as this signer signs it", i)
		}
		d, err := base64.StdEncoding.DecodeString(h.Hash)
		if err != nil {
			return "", bad("hashes[%d].hash is not base64", i)
		}
		if why := checkHash(d, alg.hash); why != "" {
			return "", bad("hashes[%d].hash %s", i, why)
		}
	}
	tb := make([]byte, 32)
	rand.Read(tb)
	token := base64.RawURLEncoding.EncodeToString(tb)
	sg.HashAlgorithmOID, sg.SignAlgo, st.SignAlgoParams = alg.hashOID, in.SignAlgo, in.SignAlgoParams
	sg.Hashes = in.Hashes
	sg.State = csc.StepPending
	if _, err := s.consent.db.ExecContext(ctx, `DELETE FROM sigreq_token WHERE request = ? AND step = ?`, r.ID, k); err != nil {
		return "", err
	}
	if _, err := s.consent.db.ExecContext(ctx, `INSERT INTO sigreq_token (token, request, step) VALUES (?, ?, ?)`, tokenID(token), r.ID, k); err != nil {
		return "", err
	}
	return token, s.change(ctx, r, "step.pending", k, false)
}

// stepCertificate reports whether sum (StepHashesRequest.CertificateSHA256)
// names the base64 certificate b64.
func stepCertificate(b64, sum string) bool {
	der, err := base64.StdEncoding.DecodeString(b64)
	return err == nil && csc.CertificateSHA256(der) == sum
}

// tokenID is the stored form of a consent token.
func tokenID(token string) string {
	sum := sha256.Sum256([]byte("hashsvc consent link\x00" + token))
	return hex.EncodeToString(sum[:])
}

// stepCredential returns the live credential id of a step.
func (s *Server) stepCredential(id string) (*credential, error) {
	if cr, ok := s.creds[id]; ok {
		return cr, nil
	}
	if ot := s.onetime.get(id); ot != nil {
		return ot.cred, nil
	}
	return nil, reqErr(http.StatusConflict, csc.ErrInvalidRequest, "the credential %q of this step has ended", id)
}

// invite tells signer k that the documents wait: by e-mail with the link,
// or through the SMS webhook. A TOTP signer without e-mail gets the link
// from the sender.
func (s *Server) invite(ctx context.Context, r *sigRequest, k int, link string) {
	sg := r.Signers[k-1]
	var b strings.Builder
	fmt.Fprintf(&b, "Hello %s,\n\n%s asks you to sign:\n\n", sg.Name, r.Sender)
	for _, h := range sg.Hashes {
		d, _ := base64.StdEncoding.DecodeString(h.DocumentHash)
		fmt.Fprintf(&b, "  %s (SHA-256 %x)\n", h.Document, d)
	}
	if r.Message != "" {
		fmt.Fprintf(&b, "\n%s\n", r.Message)
	}
	fmt.Fprintf(&b, "\nReview the documents and sign or decline here:\n%s\n\nThe request ends at %s.\n", link, r.Expires.UTC().Format("2006-01-02 15:04 UTC"))
	var err error
	switch {
	case sg.Email != "" && s.consent.mailer != nil:
		err = s.consent.mailer.Send(ctx, Mail{To: sg.Email, Subject: r.Sender + " asks you to sign " + docList(r), Body: b.String()})
	case sg.Phone != "" && s.consent.sms != nil:
		err = s.consent.sms.Post(ctx, SMSMessage{To: sg.Phone, Text: r.Sender + " asks you to sign: " + link})
	default:
		return
	}
	if err != nil {
		s.log.Error("inviting a signer failed", "request", r.ID, "step", k, "err", err)
		s.auditEvent(ctx, Record{KeyID: r.KeyID, RequestID: r.ID, Credential: r.Steps[k-1].Credential, Operation: "invitation.undelivered"})
		return
	}
	s.auditEvent(ctx, Record{KeyID: r.KeyID, RequestID: r.ID, Credential: r.Steps[k-1].Credential, Operation: "invitation.sent"})
}

func docList(r *sigRequest) string {
	names := make([]string, len(r.Documents))
	for i, d := range r.Documents {
		names[i] = d.Name
	}
	return strings.Join(names, ", ")
}

// Consent is a signer's answer on the consent page.
type Consent struct {
	// Decline declines instead of signing.
	Decline bool
	// OTP and PIN identify the signer.
	OTP, PIN string
	// IP and UserAgent are where the answer came from (for the
	// evidence).
	IP, UserAgent string
}

// consentByToken returns the request and step of a consent token.
func (s *Server) consentByToken(ctx context.Context, token string) (*sigRequest, int, error) {
	var (
		id   string
		step int
	)
	err := s.consent.db.QueryRowContext(ctx, `SELECT request, step FROM sigreq_token WHERE token = ?`, tokenID(token)).Scan(&id, &step)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, 0, reqErr(http.StatusNotFound, csc.ErrNotFound, "this link is not valid (a newer one may have replaced it)")
	}
	if err != nil {
		return nil, 0, err
	}
	r, err := s.load(ctx, id, "")
	return r, step, err
}

// SendConsentCode sends the signer of a consent link a code.
func (s *Server) SendConsentCode(ctx context.Context, token string) (SentCode, error) {
	s.sweepRequests(ctx)
	r, k, err := s.consentByToken(ctx, token)
	if err != nil {
		return SentCode{}, err
	}
	if err := s.checkOpen(r); err != nil {
		return SentCode{}, err
	}
	if r.Signers[k-1].State != csc.StepPending {
		return SentCode{}, reqErr(http.StatusConflict, csc.ErrInvalidRequest, "this step is %s", r.Signers[k-1].State)
	}
	return s.SendCode(ctx, r.KeyID, r.ID, r.Steps[k-1].Credential, r.Sender+" asks you to sign "+docList(r)+".")
}

// AnswerConsent signs (or declines) step k of the request of a consent
// link: it checks the signer's code, issues and uses a SAD for exactly the
// step's hashes, signs them with the step's credential, records the
// signatures in the audit log, and moves the request on.
func (s *Server) AnswerConsent(ctx context.Context, token string, c Consent) error {
	s.sweepRequests(ctx)
	q := s.reqs
	q.mu.Lock()
	r, k, err := s.consentByToken(ctx, token)
	if err == nil {
		err = s.answer(ctx, r, k, c)
	}
	q.mu.Unlock()
	if err != nil {
		return err
	}
	if ended(r.State) {
		s.ensureEvidence(ctx, r.ID)
	}
	return nil
}

func (s *Server) answer(ctx context.Context, r *sigRequest, k int, c Consent) error {
	if err := s.checkOpen(r); err != nil {
		return err
	}
	sg, st := &r.Signers[k-1], r.Steps[k-1]
	if sg.State != csc.StepPending {
		return reqErr(http.StatusConflict, csc.ErrInvalidRequest, "this step is %s", sg.State)
	}
	method := "pin"
	if a := s.authOf(st.Credential); a != nil {
		switch a.channel {
		case ChannelEmail, ChannelSMS:
			method = "otp-" + string(a.channel)
		case ChannelTOTP:
			method = "totp"
		}
	}
	if c.Decline {
		sg.State = csc.StepDeclined
		sg.Identified = &csc.Identification{Method: "link", At: s.now().UTC(), IP: c.IP, UserAgent: c.UserAgent}
		if err := s.change(ctx, r, "step.declined", k, false); err != nil {
			return err
		}
		return s.end(ctx, r, csc.StateDeclined)
	}
	cr, err := s.stepCredential(st.Credential)
	if err != nil {
		return err
	}
	if err := s.CheckCode(ctx, r.KeyID, r.ID, st.Credential, c.PIN, c.OTP); err != nil {
		return err
	}
	sg.Identified = &csc.Identification{Method: method, At: s.now().UTC(), IP: c.IP, UserAgent: c.UserAgent}
	alg, ae := resolveAlgorithm(cr, sg.SignAlgo, sg.HashAlgorithmOID, st.SignAlgoParams)
	if ae != nil {
		return reqErr(ae.status, ae.code, "%s", ae.desc)
	}
	digests := make([][]byte, len(sg.Hashes))
	for i, h := range sg.Hashes {
		digests[i], _ = base64.StdEncoding.DecodeString(h.Hash)
	}
	sad, _, err := s.IssueSAD(ctx, SADRequest{KeyID: r.KeyID, RequestID: r.ID, CredentialID: st.Credential, Hash: alg.hash, Hashes: digests})
	if err != nil {
		return err
	}
	if ce := s.useSAD(ctx, r.KeyID, r.ID, st.Credential, sad, alg.hashOID, digests); ce != nil {
		return ce
	}
	sigs, err := signAll(ctx, cr.signer, digests, alg.opts)
	if err != nil {
		s.log.Error("signing a request step failed", "request", r.ID, "step", k, "err", err)
		return reqErr(http.StatusInternalServerError, csc.ErrServer, "signing failed; try again")
	}
	now := s.now()
	recs := make([]Record, len(digests))
	for i, d := range digests {
		recs[i] = Record{Time: now, KeyID: r.KeyID, Credential: cr.id, Operation: "request.sign", HashAlgorithm: alg.hashOID, SignAlgorithm: alg.signAlgo, Hash: d, RequestID: r.ID}
	}
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := s.audit.Append(actx, recs); err != nil {
		s.metrics.auditFailed()
		return fmt.Errorf("the audit log could not be written; nothing was signed: %w", err)
	}
	s.metrics.signed(cr.id, "request", len(sigs))
	sg.Signatures = make([]string, len(sigs))
	for i, sig := range sigs {
		sg.Signatures[i] = base64.StdEncoding.EncodeToString(sig)
	}
	sg.State, sg.Signed = csc.StepSigned, now.UTC()
	if err := s.change(ctx, r, "step.signed", k, false); err != nil {
		return err
	}
	return s.advance(ctx, r)
}

// advance opens the next step, or completes the request when every
// signer has signed.
func (s *Server) advance(ctx context.Context, r *sigRequest) error {
	for k, sg := range r.Signers {
		if sg.State == csc.StepSigned {
			continue
		}
		if r.Order == csc.OrderParallel {
			return nil // the others are open already
		}
		if err := s.openStep(ctx, r, k+1); err != nil {
			return err
		}
		r.State = csc.StateWaiting + strconv.Itoa(k+1)
		return s.change(ctx, r, "request."+r.State, k+1, false)
	}
	return s.end(ctx, r, csc.StateCompleted)
}

// sweepRequests ends the requests past their expiry, and makes the
// evidence records still missing.
func (s *Server) sweepRequests(ctx context.Context) {
	now := s.now()
	rows, err := s.consent.db.QueryContext(ctx, `SELECT id FROM sigreq WHERE state NOT IN ('completed', 'declined', 'expired', 'cancelled') AND expires <= ?`, now.UnixNano())
	if err != nil {
		s.log.Error("sweeping requests", "err", err)
		return
	}
	var over []string
	for rows.Next() {
		var id string
		if rows.Scan(&id) == nil {
			over = append(over, id)
		}
	}
	rows.Close()
	q := s.reqs
	for _, id := range over {
		q.mu.Lock()
		r, err := s.load(ctx, id, "")
		if err == nil && !ended(r.State) {
			err = s.end(ctx, r, csc.StateExpired)
		}
		q.mu.Unlock()
		if err != nil {
			s.log.Error("expiring a request", "request", id, "err", err)
			continue
		}
		s.ensureEvidence(ctx, id)
	}
}
