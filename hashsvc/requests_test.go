package hashsvc_test

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"hashsign/csc"
	"hashsign/hashsvc"
	"hashsign/hashsvc/hashsvctest"
)

// reqServer is a hashsvc for signature requests: one-time certificates from
// the test PKI's intermediate CA, a TSA, a webhook secret and a settable
// clock. cfg, when not nil, is the configuration of an earlier server to
// start again on the same database.
func reqServer(t *testing.T, clk *clock, cfg *hashsvc.Config) (*hashsvctest.Server, []byte) {
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
		},
		Service: opts,
	})
	return s, secret
}

// get GETs url with the API key.
func get(t *testing.T, url, key string, v any) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	return resp.StatusCode
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
