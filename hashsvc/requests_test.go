package hashsvc_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"hashsign/csc"
	"hashsign/hashsvc"
	"hashsign/hashsvc/hashsvctest"
	"hashsign/internal/devpki"
)

// credCarl is an explicit credential of reqServer whose person uses TOTP.
const credCarl = "carl"

// reqServer is a hashsvc for signature requests: one-time certificates from
// the test PKI's intermediate CA, a TSA, a webhook secret and a settable
// clock. cfg, when not nil, is the configuration of an earlier server to
// start again on the same database.
func reqServer(t testing.TB, clk *clock, cfg *hashsvc.Config) (*hashsvctest.Server, []byte) {
	t.Helper()
	secret := []byte("a webhook secret of the test")
	p := hashsvctest.PKI(t)
	opts := func(o *hashsvc.Options) {
		o.Now = clk.Now
		o.CA = &hashsvc.CA{Signer: p.Intermediate.Key, Chain: []*x509.Certificate{p.Intermediate.Cert}}
	}
	if cfg != nil {
		o := hashsvc.Options{Config: cfg}
		opts(&o)
		svc, err := hashsvc.New(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		s := &hashsvctest.Server{Service: svc, Config: cfg, AuditPath: cfg.Audit.Path, Server: httptest.NewServer(svc.Handler())}
		t.Cleanup(func() {
			s.Server.Close()
			svc.Close()
		})
		return s, secret
	}
	dir := t.TempDir()
	sf := filepath.Join(dir, "webhook-secret")
	os.WriteFile(sf, secret, 0o600)
	cs := filepath.Join(dir, "consent-secret")
	os.WriteFile(cs, []byte(strings.Repeat("cd", 32)), 0o600)
	s := hashsvctest.NewServer(t, hashsvctest.Options{
		TSA: true,
		Edit: func(c *hashsvc.Config) {
			c.Consent.SecretFile = cs
			c.Requests = hashsvc.RequestsConfig{WebhookSecretFile: sf}
			pki := devpki.DefaultDir()
			c.Credentials = append(c.Credentials, hashsvc.CredentialConfig{
				ID: credCarl, Key: filepath.Join(pki, devpki.SignerP256KeyFile), Cert: filepath.Join(pki, devpki.SignerP256CertFile),
				Chain: []string{filepath.Join(pki, devpki.IntermediateCertFile)}, AuthMode: "explicit",
				Signer: &hashsvc.SignerConfig{Name: "Carl Seal-Holder", OTP: "totp"},
			})
		},
		Service: opts,
	})
	return s, secret
}

// get GETs url with the API key and decodes the JSON answer into v.
func get(t *testing.T, url, key string, v any) int {
	t.Helper()
	code, _, b, err := send(http.MethodGet, url, key, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("GET %s: %d %s", url, code, b)
	}
	return code
}

func path(pattern, id, k string) string {
	return strings.NewReplacer("{id}", id, "{k}", k).Replace(pattern)
}

// twoSigners is a sequential request for two TOTP signers.
func twoSigners(callbacks ...string) csc.CreateRequest {
	return csc.CreateRequest{
		Sender: "Example GmbH", Documents: []csc.RequestDocument{{Name: "a.pdf"}},
		Signers: []csc.RequestSigner{
			{ID: "p1", Name: "Pat One", OTP: "totp"},
			{ID: "p2", Name: "Pat Two", OTP: "totp"},
		},
		CallbackURLs: callbacks,
	}
}

func create(t *testing.T, s *hashsvctest.Server, req csc.CreateRequest) csc.RequestStatus {
	t.Helper()
	code, _, body := call(t, s.URL+csc.PathRequests, s.Keys[hashsvctest.KeyAll], req)
	if code != 200 {
		t.Fatalf("create: %d %v", code, body)
	}
	var st csc.RequestStatus
	b, _ := json.Marshal(body)
	json.Unmarshal(b, &st)
	return st
}

// hashes is a step's body for one document.
func hashes(doc string) csc.StepHashesRequest {
	return csc.StepHashesRequest{HashAlgorithmOID: csc.OIDSHA256, SignAlgo: csc.OIDECDSAWithSHA256,
		Hashes: []csc.StepHash{{Document: doc, DocumentHash: b64(sha("the file")), Hash: b64(sha("signed attributes"))}}}
}

// TestRequestRefusals: a signer acting out of order; a request after it
// was cancelled or expired; a one-time key after its request ended.
func TestRequestRefusals(t *testing.T) {
	clk := newClock()
	s, _ := reqServer(t, clk, nil)
	key := s.Keys[hashsvctest.KeyAll]
	ctx := context.Background()
	submit := func(id, k string) (int, map[string]any) {
		code, _, body := call(t, s.URL+path(csc.PathRequestHashes, id, k), key, hashes("a.pdf"))
		return code, body
	}
	refused := func(what string, code int, body map[string]any, status int, errCode, desc string) {
		t.Helper()
		d, _ := body["error_description"].(string)
		if code != status || body["error"] != errCode || !strings.Contains(d, desc) {
			t.Errorf("%s: %d %v; want %d %s %q", what, code, body, status, errCode, desc)
		}
	}

	t.Run("out of order", func(t *testing.T) {
		st := create(t, s, twoSigners())
		if st.State != "waiting-for-signer-1" || st.Signers[0].State != csc.StepReady || st.Signers[1].State != csc.StepWaiting {
			t.Fatalf("new request: %s, steps %s %s", st.State, st.Signers[0].State, st.Signers[1].State)
		}
		code, body := submit(st.ID, "2")
		refused("signer 2 first", code, body, http.StatusConflict, csc.ErrOutOfOrder, "out of order")
		// another API key does not even see the request
		code, body = call2(t, s.URL+path(csc.PathRequestHashes, st.ID, "1"), s.Keys[hashsvctest.KeyP256], hashes("a.pdf"))
		refused("another API key", code, body, http.StatusNotFound, csc.ErrNotFound, "no request")
		// signer 1 may
		if code, body := submit(st.ID, "1"); code != 200 || body["consentURL"] == nil {
			t.Errorf("signer 1: %d %v", code, body)
		}
	})

	t.Run("hashes for another certificate", func(t *testing.T) {
		st := create(t, s, twoSigners())
		h := hashes("a.pdf")
		// hashes computed for a certificate the step no longer has (it
		// was reopened, say) are refused, not signed with the new key
		h.CertificateSHA256 = b64(sha("a certificate the step does not have"))
		code, _, body := call(t, s.URL+path(csc.PathRequestHashes, st.ID, "1"), key, h)
		refused("hashes for another certificate", code, body, http.StatusConflict, csc.ErrReopened, "reopened with a new certificate")
		der, err := base64.StdEncoding.DecodeString(st.Signers[0].Certificates[0])
		if err != nil {
			t.Fatal(err)
		}
		h.CertificateSHA256 = b64(sha(string(der)))
		if code, _, body := call(t, s.URL+path(csc.PathRequestHashes, st.ID, "1"), key, h); code != 200 {
			t.Errorf("hashes for the step's certificate: %d %v", code, body)
		}
	})

	t.Run("cancelled", func(t *testing.T) {
		st := create(t, s, twoSigners())
		code, _, body := call(t, s.URL+path(csc.PathRequestHashes, st.ID, "1"), key, hashes("a.pdf"))
		if code != 200 {
			t.Fatalf("hashes: %d %v", code, body)
		}
		link := body["consentURL"].(string)
		cred := oneTimeOf(t, s, st.ID, 1)
		if code, _, body := call(t, s.URL+path(csc.PathRequestCancel, st.ID, ""), key, struct{}{}); code != 200 || body["state"] != csc.StateCancelled {
			t.Fatalf("cancel: %d %v", code, body)
		}
		code, body = submit(st.ID, "1")
		refused("hashes after cancel", code, body, http.StatusConflict, csc.ErrEnded, "is cancelled")
		code, _, body = call(t, s.URL+path(csc.PathRequestCancel, st.ID, ""), key, struct{}{})
		refused("cancel twice", code, body, http.StatusConflict, csc.ErrEnded, "cancelled already")
		token := link[strings.LastIndexByte(link, '/')+1:]
		if err := s.Service.AnswerConsent(ctx, token, hashsvc.Consent{OTP: "123456"}); err == nil || !strings.Contains(err.Error(), "is cancelled") {
			t.Errorf("consent after cancel: %v", err)
		}
		// the one-time key of the request signs no more
		req := csc.SignHashRequest{CredentialID: cred, Hashes: []string{b64(sha("x"))}, SignAlgo: csc.OIDECDSAWithSHA256}
		code, _, body = call(t, s.URL+csc.PathSignHash, key, req)
		refused("one-time key after the end", code, body, http.StatusBadRequest, csc.ErrInvalidRequest, "its key was destroyed")
		var ev struct{ Error string }
		if code := get(t, s.URL+path(csc.PathRequestEvidence, st.ID, ""), key, &ev); code != 200 {
			t.Errorf("evidence of a cancelled request: %d %v", code, ev)
		}
	})

	t.Run("expired", func(t *testing.T) {
		req := twoSigners()
		req.Expires = clk.Now().Add(time.Hour)
		st := create(t, s, req)
		clk.Advance(time.Hour)
		var got csc.RequestStatus
		if code := get(t, s.URL+path(csc.PathRequest, st.ID, ""), key, &got); code != 200 || got.State != csc.StateExpired || got.Signers[0].State != csc.StepEnded {
			t.Errorf("after the expiry: %d %+v", code, got)
		}
		code, body := submit(st.ID, "1")
		refused("hashes after the expiry", code, body, http.StatusConflict, csc.ErrEnded, "is expired")
		var list csc.RequestList
		get(t, s.URL+csc.PathRequests+"?state=expired", key, &list)
		if len(list.Requests) != 1 || list.Requests[0].ID != st.ID {
			t.Errorf("expired requests: %+v", list.Requests)
		}
	})

	t.Run("bad requests", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			edit func(*csc.CreateRequest)
			want string
		}{
			{"no sender", func(r *csc.CreateRequest) { r.Sender = "" }, "sender is required"},
			{"no documents", func(r *csc.CreateRequest) { r.Documents = nil }, "documents"},
			{"same signer twice", func(r *csc.CreateRequest) { r.Signers[1].ID = "p1" }, "ids differ"},
			{"no channel", func(r *csc.CreateRequest) { r.Signers[0].OTP = "" }, "otp channel"},
			{"a seal as a person", func(r *csc.CreateRequest) { r.Signers[0].CredentialID = hashsvctest.CredP256 }, "not an explicit credential"},
			{"callback without scheme", func(r *csc.CreateRequest) { r.CallbackURLs = []string{"example.org/hook"} }, "want an http(s) URL"},
			{"expiry past", func(r *csc.CreateRequest) { r.Expires = clk.Now().Add(-time.Minute) }, "expires"},
		} {
			req := twoSigners()
			tc.edit(&req)
			code, _, body := call(t, s.URL+csc.PathRequests, key, req)
			refused(tc.name, code, body, http.StatusBadRequest, csc.ErrInvalidRequest, tc.want)
		}
	})
}

// call2 is call for a test whose answer is checked by the caller.
func call2(t *testing.T, url, key string, body any) (int, map[string]any) {
	code, _, b := call(t, url, key, body)
	return code, b
}

// oneTimeOf returns the one-time credential of step k, from the audit
// log's onetime.issued records of the request.
func oneTimeOf(t *testing.T, s *hashsvctest.Server, id string, k int) string {
	t.Helper()
	db := openDB(t, s.AuditPath)
	var cred string
	if err := db.QueryRow(`SELECT credential FROM audit WHERE request_id = ? AND operation = 'onetime.issued' ORDER BY seq LIMIT 1 OFFSET ?`, id, k-1).Scan(&cred); err != nil {
		t.Fatal(err)
	}
	return cred
}

// hookLog is a webhook receiver that can be down.
type hookLog struct {
	mu     sync.Mutex
	down   bool
	posts  int
	events map[string][]csc.Event // by URL path
	bad    int
}

func (h *hookLog) ServeHTTP(secret []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		defer h.mu.Unlock()
		h.posts++
		if h.down {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		if verifyWebhook(secret, r.Header.Get(hashsvc.WebhookSignatureHeader), body) != "ok" {
			h.bad++
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var ev csc.Event
		json.Unmarshal(body, &ev)
		if h.events == nil {
			h.events = map[string][]csc.Event{}
		}
		h.events[r.URL.Path] = append(h.events[r.URL.Path], ev)
	}
}

// TestWebhookReceiverDown: while the receiver is down, events queue up and
// are retried with growing backoff, across a restart of the service; once
// the receiver is back, it gets every event once, in order, each with a
// valid signature. The clock is moved by hand: no timing decides.
func TestWebhookReceiverDown(t *testing.T) {
	clk := newClock()
	hooks := &hookLog{down: true}
	s, secret := reqServer(t, clk, nil)
	recv := httptest.NewServer(hooks.ServeHTTP(secret))
	defer recv.Close()
	key := s.Keys[hashsvctest.KeyAll]
	ctx := context.Background()

	st := create(t, s, twoSigners(recv.URL+"/a", recv.URL+"/b"))
	s.Service.DeliverWebhooks(ctx)
	if code, _, body := call(t, s.URL+path(csc.PathRequestHashes, st.ID, "1"), key, hashes("a.pdf")); code != 200 {
		t.Fatalf("hashes: %d %v", code, body)
	}
	for range 3 { // three failed rounds, the backoff doubling
		clk.Advance(time.Hour)
		s.Service.DeliverWebhooks(ctx)
	}
	if code, _, body := call(t, s.URL+path(csc.PathRequestCancel, st.ID, ""), key, struct{}{}); code != 200 {
		t.Fatalf("cancel: %d %v", code, body)
	}
	s.Service.DeliverWebhooks(ctx)
	var dl csc.DeliveryList
	get(t, s.URL+path(csc.PathRequestDelivery, st.ID, ""), key, &dl)
	want := []string{"request.created", "step.ready", "request.waiting-for-signer-1", "step.pending", "request.cancelled"}
	if len(dl.Deliveries) != 2*len(want) {
		t.Fatalf("%d deliveries, want %d: %+v", len(dl.Deliveries), 2*len(want), dl.Deliveries)
	}
	// the first event of each URL is retried; the later ones wait behind it
	for _, d := range dl.Deliveries {
		tried := d.Attempts >= 4 && d.LastError != ""
		if d.Status != "pending" || tried != (d.Seq == 1) || (d.Seq > 1 && d.Attempts != 0) {
			t.Errorf("delivery %d to %s while the receiver is down: %+v", d.Seq, d.URL, d)
		}
	}

	// the service restarts on the same database; the receiver comes back
	s.Server.Close()
	s.Service.Close()
	s2, _ := reqServer(t, clk, s.Config)
	hooks.mu.Lock()
	hooks.down = false
	hooks.mu.Unlock()
	clk.Advance(hashsvc.DefaultWebhookMaxBackoff)
	s2.Service.DeliverWebhooks(ctx)

	hooks.mu.Lock()
	defer hooks.mu.Unlock()
	if hooks.bad != 0 {
		t.Errorf("%d posts with bad signatures", hooks.bad)
	}
	for _, u := range []string{"/a", "/b"} {
		var got []string
		for i, ev := range hooks.events[u] {
			got = append(got, ev.Type)
			if ev.Request != st.ID || ev.Seq != i+1 {
				t.Errorf("%s: event %d is %s #%d", u, i+1, ev.Request, ev.Seq)
			}
		}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("%s got events %v, want each once, in order: %v", u, got, want)
		}
	}
	get(t, s2.URL+path(csc.PathRequestDelivery, st.ID, ""), key, &dl)
	for _, d := range dl.Deliveries {
		if d.Status != "delivered" {
			t.Errorf("delivery %d to %s: %+v", d.Seq, d.URL, d)
		}
	}
	ops := strings.Join(auditOps(t, s.AuditPath), " ")
	if !strings.Contains(ops, "webhook.retry") || strings.Count(ops, "webhook.delivered") != 2*len(want) {
		t.Errorf("audit: %s", ops)
	}
}

// TestRequestsOpenAPI: openapi.yaml describes every request endpoint.
func TestRequestsOpenAPI(t *testing.T) {
	doc, err := os.ReadFile("openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{csc.PathRequests, csc.PathRequest, csc.PathRequestStart, csc.PathRequestCancel, csc.PathRequestHashes, csc.PathRequestDelivery, csc.PathRequestEvidence, csc.PathConsent} {
		if !strings.Contains(string(doc), "\n  "+p+":\n") {
			t.Errorf("openapi.yaml does not describe %s", p)
		}
	}
}

// TestStepReopenedAfterRestart: one-time keys do not outlive the service;
// after a restart, an open step gets a new one-time certificate, its old
// hashes and consent link are dropped, and the callbacks are told.
func TestStepReopenedAfterRestart(t *testing.T) {
	clk := newClock()
	s, _ := reqServer(t, clk, nil)
	key := s.Keys[hashsvctest.KeyAll]
	ctx := context.Background()
	st := create(t, s, twoSigners())
	code, _, body := call(t, s.URL+path(csc.PathRequestHashes, st.ID, "1"), key, hashes("a.pdf"))
	if code != 200 {
		t.Fatalf("hashes: %d %v", code, body)
	}
	link := body["consentURL"].(string)
	s.Server.Close()
	s.Service.Close()
	s2, _ := reqServer(t, clk, s.Config)
	var got csc.RequestStatus
	get(t, s2.URL+path(csc.PathRequest, st.ID, ""), key, &got)
	sg := got.Signers[0]
	if got.State != "waiting-for-signer-1" || sg.State != csc.StepReady || len(sg.Hashes) != 0 {
		t.Fatalf("after the restart: %s, signer 1 %s with %d hashes", got.State, sg.State, len(sg.Hashes))
	}
	if sg.Certificates[0] == st.Signers[0].Certificates[0] {
		t.Error("the reopened step has the old certificate, whose key is gone")
	}
	token := link[strings.LastIndexByte(link, '/')+1:]
	if err := s2.Service.AnswerConsent(ctx, token, hashsvc.Consent{OTP: "123456"}); err == nil || !strings.Contains(err.Error(), "not valid") {
		t.Errorf("the old consent link: %v", err)
	}
	if code, _, body := call(t, s2.URL+path(csc.PathRequestHashes, st.ID, "1"), key, hashes("a.pdf")); code != 200 {
		t.Errorf("hashes for the new certificate: %d %v", code, body)
	}
	ops := strings.Join(auditOps(t, s.AuditPath), " ")
	if !strings.Contains(ops, "onetime.destroyed onetime.issued step.ready") {
		t.Errorf("audit: %s", ops)
	}
}

// totpCode enrols person and returns a function that gives their
// authenticator app's code at the clock's time.
func totpCode(t *testing.T, s *hashsvctest.Server, clk *clock, person string) func() string {
	t.Helper()
	uri, err := s.Service.EnrolTOTP(context.Background(), person, person+"@example.org")
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(uri)
	return func() string {
		code, err := totp.GenerateCode(u.Query().Get("secret"), clk.Now())
		if err != nil {
			t.Fatal(err)
		}
		return code
	}
}

// submitStep posts one hash for step k and returns the consent token.
func submitStep(t *testing.T, s *hashsvctest.Server, id string, k int, h []byte) string {
	t.Helper()
	req := hashes("a.pdf")
	req.Hashes[0].Hash = b64(h)
	code, _, body := call(t, s.URL+path(csc.PathRequestHashes, id, fmt.Sprint(k)), s.Keys[hashsvctest.KeyAll], req)
	if code != 200 {
		t.Fatalf("hashes of step %d: %d %v", k, code, body)
	}
	link := body["consentURL"].(string)
	return link[strings.LastIndexByte(link, '/')+1:]
}

// checkStepSignature checks step k's signature over h with its certificate.
func checkStepSignature(t *testing.T, st csc.RequestStatus, k int, h []byte) {
	t.Helper()
	sg := st.Signers[k-1]
	if sg.State != csc.StepSigned || len(sg.Signatures) != 1 {
		t.Fatalf("signer %d: %s, %d signatures", k, sg.State, len(sg.Signatures))
	}
	der, _ := base64.StdEncoding.DecodeString(sg.Certificates[0])
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	sig, _ := base64.StdEncoding.DecodeString(sg.Signatures[0])
	if !ecdsa.VerifyASN1(cert.PublicKey.(*ecdsa.PublicKey), h, sig) {
		t.Errorf("signer %d: the signature does not verify with %s", k, cert.Subject)
	}
}

// TestRequestFlows: parallel order (the second signer first), a signer
// with an existing explicit credential, a lockout on the consent page,
// and a decline.
func TestRequestFlows(t *testing.T) {
	clk := newClock()
	s, _ := reqServer(t, clk, nil)
	key := s.Keys[hashsvctest.KeyAll]
	ctx := context.Background()
	status := func(id string) csc.RequestStatus {
		var st csc.RequestStatus
		get(t, s.URL+path(csc.PathRequest, id, ""), key, &st)
		return st
	}

	t.Run("parallel", func(t *testing.T) {
		req := twoSigners()
		req.Order = csc.OrderParallel
		req.Signers[0].ID, req.Signers[1].ID = "q1", "q2"
		st := create(t, s, req)
		if st.State != csc.StateWaitingAll || st.Signers[0].State != csc.StepReady || st.Signers[1].State != csc.StepReady {
			t.Fatalf("parallel request: %s, %s, %s", st.State, st.Signers[0].State, st.Signers[1].State)
		}
		h1, h2 := sha("step 1"), sha("step 2")
		t2 := submitStep(t, s, st.ID, 2, h2)
		t1 := submitStep(t, s, st.ID, 1, h1)
		if err := s.Service.AnswerConsent(ctx, t2, hashsvc.Consent{OTP: totpCode(t, s, clk, "q2")()}); err != nil {
			t.Fatal(err)
		}
		if got := status(st.ID); got.State != csc.StateWaitingAll || got.Signers[0].State != csc.StepPending {
			t.Errorf("after signer 2: %s, signer 1 %s", got.State, got.Signers[0].State)
		}
		if err := s.Service.AnswerConsent(ctx, t1, hashsvc.Consent{OTP: totpCode(t, s, clk, "q1")()}); err != nil {
			t.Fatal(err)
		}
		got := status(st.ID)
		if got.State != csc.StateCompleted {
			t.Fatalf("after both: %s", got.State)
		}
		checkStepSignature(t, got, 1, h1)
		checkStepSignature(t, got, 2, h2)
	})

	t.Run("existing credential", func(t *testing.T) {
		st := create(t, s, csc.CreateRequest{Sender: "Example GmbH", Documents: []csc.RequestDocument{{Name: "a.pdf"}},
			Signers: []csc.RequestSigner{{ID: "c", CredentialID: credCarl}}})
		if st.Signers[0].Name != "Carl Seal-Holder" {
			t.Errorf("the signer's name %q, want the credential's person", st.Signers[0].Name)
		}
		h := sha("carl's document")
		token := submitStep(t, s, st.ID, 1, h)
		if err := s.Service.AnswerConsent(ctx, token, hashsvc.Consent{OTP: totpCode(t, s, clk, credCarl)()}); err != nil {
			t.Fatal(err)
		}
		got := status(st.ID)
		checkStepSignature(t, got, 1, h)
		if got.Signers[0].Certificates[0] != b64(hashsvctest.PKI(t).SignerP256.Cert.Raw) {
			t.Error("the step was not signed with the credential's certificate")
		}
	})

	t.Run("lockout", func(t *testing.T) {
		req := twoSigners()
		req.Signers[0].ID = "q3"
		st := create(t, s, req)
		token := submitStep(t, s, st.ID, 1, sha("x"))
		code := totpCode(t, s, clk, "q3")
		wrong := "000000"
		if wrong == code() {
			wrong = "000001"
		}
		var err error
		for range hashsvc.DefaultMaxAttempts {
			err = s.Service.AnswerConsent(ctx, token, hashsvc.Consent{OTP: wrong})
		}
		if !errors.Is(err, hashsvc.ErrLocked) {
			t.Fatalf("the fifth wrong code: %v", err)
		}
		if err := s.Service.AnswerConsent(ctx, token, hashsvc.Consent{OTP: code()}); !errors.Is(err, hashsvc.ErrLocked) {
			t.Errorf("the right code while locked out: %v", err)
		}
		if got := status(st.ID); got.Signers[0].State != csc.StepPending {
			t.Errorf("signer 1 after the lockout: %s", got.Signers[0].State)
		}
	})

	t.Run("decline", func(t *testing.T) {
		req := twoSigners()
		req.Signers[0].ID = "q4"
		st := create(t, s, req)
		token := submitStep(t, s, st.ID, 1, sha("y"))
		if err := s.Service.AnswerConsent(ctx, token, hashsvc.Consent{Decline: true, IP: "127.0.0.1", UserAgent: "test"}); err != nil {
			t.Fatal(err)
		}
		got := status(st.ID)
		if got.State != csc.StateDeclined || got.Signers[0].State != csc.StepDeclined || got.Signers[1].State != csc.StepEnded || !got.Evidence {
			t.Errorf("after the decline: %s, %s, %s, evidence %v", got.State, got.Signers[0].State, got.Signers[1].State, got.Evidence)
		}
		if err := s.Service.AnswerConsent(ctx, token, hashsvc.Consent{OTP: "123456"}); err == nil {
			t.Error("consent after the decline accepted")
		}
	})
	if n := hashsvctest.Metric(t, s.URL, `hashsvc_signature_requests_total{state="declined"}`); n != 1 {
		t.Errorf("declined requests in the metrics: %d", n)
	}
}

// TestCreateIdempotent: a create retried with the same Idempotency-Key
// (as the remote client does after a lost answer) makes one request.
func TestCreateIdempotent(t *testing.T) {
	s, _ := reqServer(t, newClock(), nil)
	key := s.Keys[hashsvctest.KeyAll]
	body, _ := json.Marshal(twoSigners())
	var ids []string
	for range 2 {
		code, _, data, err := send(http.MethodPost, s.URL+csc.PathRequests, key, http.Header{"Content-Type": {"application/json"}, hashsvc.IdempotencyKeyHeader: {"create-1"}}, bytes.NewReader(body))
		if err != nil || code != 200 {
			t.Fatalf("create: %d %v %s", code, err, data)
		}
		var st csc.RequestStatus
		json.Unmarshal(data, &st)
		ids = append(ids, st.ID)
	}
	var list csc.RequestList
	get(t, s.URL+csc.PathRequests, key, &list)
	if ids[0] != ids[1] || len(list.Requests) != 1 {
		t.Errorf("two creates with one key made %v, %d requests", ids, len(list.Requests))
	}
}
