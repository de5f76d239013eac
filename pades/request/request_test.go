package request_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"hashsign/cms"
	"hashsign/csc"
	"hashsign/hashsvc"
	"hashsign/hashsvc/hashsvctest"
	"hashsign/ltv"
	"hashsign/pades"
	"hashsign/pades/request"
	"hashsign/signer/remote"
)

// env is a development hashsvc with a loopback mail server, a webhook
// receiver, and a byte-counting proxy in front of its API.
type env struct {
	dev       *hashsvctest.DevServer
	devOpts   hashsvc.DevOptions
	dir       string
	mailbox   *hashsvctest.Mailbox
	hooks     *receiver
	proxy     *hashsvctest.Proxy
	client    *remote.Client
	validator string
	corpus    string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	if testing.Short() {
		t.Skip("runs the development service and the validators")
	}
	e := &env{mailbox: hashsvctest.NewMailbox(t), validator: hashsvctest.Validator(t)}
	e.corpus = filepath.Join(filepath.Dir(filepath.Dir(e.validator)), "corpus")
	e.dir = filepath.Join(t.TempDir(), "dev")
	e.devOpts = hashsvc.DevOptions{Dir: e.dir, Edit: func(c *hashsvc.Config) {
		c.Consent.SMTP = &hashsvc.SMTPConfig{Addr: e.mailbox.Addr, From: "hashsvc <signing@example.org>", TLS: "none"}
	}}
	d := hashsvctest.ServeDev(t, e.devOpts)
	e.dev = d
	secret, err := os.ReadFile(filepath.Join(e.dir, hashsvc.DevWebhookSecretFile))
	if err != nil {
		t.Fatal(err)
	}
	e.hooks = newReceiver(t, bytes.TrimSpace(secret))
	e.proxy = hashsvctest.NewProxy(t, strings.TrimPrefix(d.URL, "http://"))
	if e.client, err = remote.NewClient(e.proxy.URL(), remote.Options{APIKey: d.APIKey}); err != nil {
		t.Fatal(err)
	}
	return e
}

// receiver is a webhook endpoint that checks each post's signature with
// the README's snippet.
type receiver struct {
	*httptest.Server
	secret []byte
	mu     sync.Mutex
	events []csc.Event
	bad    []string
}

func newReceiver(t *testing.T, secret []byte) *receiver {
	rc := &receiver{secret: secret}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		defer rc.mu.Unlock()
		// the receiver's check, as README shows it
		ts, sig, _ := strings.Cut(strings.TrimPrefix(r.Header.Get("Hashsvc-Signature"), "t="), ",v1=")
		m := hmac.New(sha256.New, rc.secret)
		m.Write([]byte(ts + "."))
		m.Write(body)
		if !hmac.Equal([]byte(sig), []byte(hex.EncodeToString(m.Sum(nil)))) || ts == "" {
			rc.bad = append(rc.bad, r.Header.Get("Hashsvc-Signature"))
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var ev csc.Event
		if err := json.Unmarshal(body, &ev); err != nil {
			rc.bad = append(rc.bad, string(body))
			return
		}
		rc.events = append(rc.events, ev)
	}))
	t.Cleanup(rc.Close)
	return rc
}

// got returns the events received for request id, in arrival order.
func (rc *receiver) got(id string) []csc.Event {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []csc.Event
	for _, ev := range rc.events {
		if ev.Request == id {
			out = append(out, ev)
		}
	}
	return out
}

// person is a signer acting on the consent page through a plain HTTP
// client: the page works without JavaScript.
type person struct {
	t      *testing.T
	client *http.Client
}

func newPerson(t *testing.T) *person {
	jar, _ := cookiejar.New(nil)
	return &person{t: t, client: &http.Client{Jar: jar}}
}

var csrfField = regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`)

// page GETs the consent page and returns its HTML.
func (p *person) page(link string) string {
	p.t.Helper()
	resp, err := p.client.Get(link)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		p.t.Fatalf("GET %s: %d\n%s", link, resp.StatusCode, b)
	}
	return string(b)
}

// post submits the page's form with action and fields.
func (p *person) post(link, html, action string, fields url.Values) (int, string) {
	p.t.Helper()
	m := csrfField.FindStringSubmatch(html)
	if m == nil {
		p.t.Fatalf("no CSRF field on the page:\n%s", html)
	}
	if fields == nil {
		fields = url.Values{}
	}
	fields.Set("csrf", m[1])
	fields.Set("action", action)
	resp, err := p.client.PostForm(link, fields)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

var consentLink = regexp.MustCompile(`http://127\.0\.0\.1:[0-9]+/consent/[A-Za-z0-9_-]+`)

// invitation reads the next mail, an invitation to signer name, and
// returns its consent link.
func (e *env) invitation(t *testing.T, to string) string {
	t.Helper()
	m := e.nextMail(t)
	link := consentLink.FindString(m.Body)
	if m.To != to || link == "" {
		t.Fatalf("mail to %s without a consent link (want an invitation to %s): %q", m.To, to, m.Body)
	}
	return link
}

func (e *env) nextMail(t *testing.T) *hashsvctest.Mail {
	t.Helper()
	m, err := e.mailbox.Next(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// consentByMail is a signer with codes by e-mail: open the link, ask for
// a code, read it from the mail, sign.
func (e *env) consentByMail(t *testing.T, to string) {
	t.Helper()
	link := e.invitation(t, to)
	p := newPerson(t)
	html := p.page(link)
	if !strings.Contains(html, "contract.pdf") || !strings.Contains(html, `id="send-code"`) {
		t.Fatalf("the consent page lacks the document or the code button:\n%s", html)
	}
	// a form with another browser's token is refused
	other := newPerson(t)
	other.page(link)
	if code, body := other.post(link, html, "decline", nil); code != http.StatusForbidden || !strings.Contains(body, "did not come from this page") {
		t.Fatalf("a post without this browser's cookie: %d\n%s", code, body)
	}
	if code, body := p.post(link, html, "code", nil); code != 200 || !strings.Contains(body, "A code was sent by email") {
		t.Fatalf("send code: %d\n%s", code, body)
	}
	m := e.nextMail(t)
	if m.To != to || m.Code() == "" {
		t.Fatalf("code mail to %s: %q", m.To, m.Body)
	}
	code, body := p.post(link, p.page(link), "consent", url.Values{"code": {m.Code()}})
	if code != 200 || !strings.Contains(body, `data-state="signed"`) {
		t.Fatalf("consent: %d\n%s", code, body)
	}
}

// copyCorpus copies a corpus file into dir.
func (e *env) copyCorpus(t *testing.T, name, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(e.corpus, name))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "contract.pdf")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// sender returns the options of the sender's side: B-LT through the
// development TSA and OCSP responder.
func (e *env) sender(t *testing.T) *request.Options {
	roots := x509.NewCertPool()
	roots.AddCert(e.dev.PKI.Root.Cert)
	return &request.Options{
		Level: pades.LevelBLT, TSA: &ltv.TSAClient{URLs: []string{e.dev.Info.TSA}, Roots: roots},
		Validation: &ltv.Fetcher{Roots: roots}, Poll: 50 * time.Millisecond,
	}
}

// runAsync runs the request in the background.
func runAsync(ctx context.Context, c *remote.Client, create csc.CreateRequest, docs []request.Document, opts *request.Options) chan result {
	done := make(chan result, 1)
	go func() {
		st, err := request.Run(ctx, c, create, docs, opts)
		done <- result{st, err}
	}()
	return done
}

type result struct {
	st  *csc.RequestStatus
	err error
}

// checkFinal checks the signed file: B-LT for both signatures by the
// external validators, each signature's certificate naming its signer.
func (e *env) checkFinal(t *testing.T, out string, names ...string) {
	t.Helper()
	hashsvctest.Validate(t, e.validator, filepath.Join(e.dir, hashsvc.DevRootFile), "B-LT", out, "--newest", fmt.Sprint(len(names)))
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := pades.Inspect(context.Background(), bytes.NewReader(data), int64(len(data)), nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range rep.Fields {
		if !f.Signed || f.Type != "Sig" {
			continue
		}
		sd, err := cms.Parse(contents(t, data, f.ByteRange))
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, sd.Signer.Subject.CommonName+"@"+f.Field)
		if f.Intact == nil || !*f.Intact {
			t.Errorf("signature in %s is not intact: %s", f.Field, f.Problem)
		}
	}
	want := []string{names[0] + "@Sig1", names[1] + "@Sig2"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("signatures by %v, want %v", got, want)
	}
}

// contents returns the CMS of a signature from its byte range's hole.
func contents(t *testing.T, data []byte, br []int64) []byte {
	hexs := data[br[1]+1 : br[2]-1]
	b, err := hex.DecodeString(string(hexs))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkPrivacy: what the sender sent to the service holds no part of the
// PDF and no byte-range digest of it, and its request bodies are small
// (the polling GETs carry none, so their number does not matter).
func (e *env) checkPrivacy(t *testing.T, out string) {
	t.Helper()
	sent := e.proxy.Sent()
	data, _ := os.ReadFile(out)
	rep, _ := pades.Inspect(context.Background(), bytes.NewReader(data), int64(len(data)), nil)
	for _, f := range rep.Fields {
		if len(f.ByteRange) != 4 {
			continue
		}
		h := sha256.New()
		br := f.ByteRange
		h.Write(data[br[0] : br[0]+br[1]])
		h.Write(data[br[2] : br[2]+br[3]])
		d := h.Sum(nil)
		if bytes.Contains(sent, d) || bytes.Contains(sent, []byte(b64(d))) {
			t.Errorf("the byte-range digest of %s was sent to the service", f.Field)
		}
	}
	if bytes.Contains(sent, []byte("%PDF-")) {
		t.Error("a PDF header was sent to the service")
	}
	for i := 0; i+64 <= len(data); i += 64 {
		if bytes.Contains(sent, data[i:i+64]) {
			t.Fatalf("bytes %d to %d of the PDF were sent to the service", i, i+64)
		}
	}
	// the requests, one after another: every value in their JSON bodies
	// is short (names, addresses, hashes), so no document can hide there
	// in any encoding
	rd := bufio.NewReader(bytes.NewReader(sent))
	bodies, posts := 0, 0
	for {
		req, err := http.ReadRequest(rd)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("the bytes sent are not a sequence of HTTP requests: %v", err)
		}
		body, err := io.ReadAll(req.Body)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(req.URL.Path, "/consent/") {
			continue // the signers' browsers: the links name the host the sender used
		}
		bodies += len(body)
		if req.Method != http.MethodPost {
			continue
		}
		posts++
		var v any
		if err := json.Unmarshal(body, &v); err != nil {
			t.Fatalf("%s %s: the body is not JSON: %v", req.Method, req.URL.Path, err)
		}
		walkStrings(v, func(str string) {
			if len(str) > 128 {
				t.Errorf("%s %s sent a value of %d characters: %.60q...", req.Method, req.URL.Path, len(str), str)
			}
			if len(str) >= 16 && bytes.Contains(data, []byte(str)) {
				t.Errorf("%s %s sent a piece of the PDF: %.60q", req.Method, req.URL.Path, str)
			}
		})
	}
	t.Logf("the sender sent %d bytes to the service (%d POSTs, %d bytes of bodies) for a %d-byte result", len(sent), posts, bodies, len(data))
	if posts < 3 || bodies > 16<<10 {
		t.Errorf("%d POSTs with %d bytes of bodies; want the create and a post per step, all small", posts, bodies)
	}
}

// walkStrings calls f with every string in the JSON value v.
func walkStrings(v any, f func(string)) {
	switch v := v.(type) {
	case string:
		f(v)
	case []any:
		for _, x := range v {
			walkStrings(x, f)
		}
	case map[string]any:
		for _, x := range v {
			walkStrings(x, f)
		}
	}
}

func b64(b []byte) string {
	s, _ := json.Marshal(b)
	return strings.Trim(string(s), `"`)
}

// checkEvents: the receiver got every event of the request once, in
// order, with valid signatures; the deliveries say delivered.
func (e *env) checkEvents(t *testing.T, id string, evidence *hashsvc.EvidenceRecord, want ...string) {
	t.Helper()
	e.dev.DeliverWebhooks(context.Background())
	got := e.hooks.got(id)
	var types []string
	for i, ev := range got {
		types = append(types, ev.Type)
		if ev.Seq != i+1 {
			t.Errorf("event %d has seq %d", i+1, ev.Seq)
		}
	}
	if strings.Join(types, " ") != strings.Join(want, " ") {
		t.Errorf("events\n%s\nwant\n%s", strings.Join(types, " "), strings.Join(want, " "))
	}
	if len(evidence.Events) != len(got) {
		t.Errorf("the evidence lists %d events, the receiver got %d", len(evidence.Events), len(got))
	}
	if len(e.hooks.bad) > 0 {
		t.Errorf("posts with bad signatures: %v", e.hooks.bad)
	}
	ds, err := e.client.Deliveries(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		if d.Status != "delivered" {
			t.Errorf("delivery %d (%s): %s", d.Seq, d.Event, d.Status)
		}
	}
}

// verifyEvidence fetches the evidence and checks it with `hashsvc
// evidence verify`, then returns the record.
func (e *env) verifyEvidence(t *testing.T, id string) *hashsvc.EvidenceRecord {
	t.Helper()
	data, err := e.client.Evidence(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), id+".json")
	os.WriteFile(file, data, 0o644)
	bin := hashsvctest.Build(t, "./cmd/hashsvc")
	out, err := exec.Command(bin, "evidence", "verify", "-trust", filepath.Join(e.dir, hashsvc.DevRootFile), "-audit", filepath.Join(e.dir, hashsvc.DevAuditFile), file).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "evidence intact") || !strings.Contains(string(out), "audit records are in the intact chain") {
		t.Fatalf("hashsvc evidence verify: %v\n%s", err, out)
	}
	t.Logf("hashsvc evidence verify: %s", strings.TrimSpace(string(out)))
	roots := x509.NewCertPool()
	roots.AddCert(e.dev.PKI.Root.Cert)
	rep, err := hashsvc.VerifyEvidence(data, roots)
	if err != nil {
		t.Fatal(err)
	}
	// a record changed by one byte no longer verifies
	tampered := bytes.Replace(data, []byte(`"state":"completed"`), []byte(`"state":"completeD"`), 1)
	if bytes.Equal(tampered, data) {
		t.Fatal("no state in the evidence record")
	}
	if _, err := hashsvc.VerifyEvidence(tampered, roots); err == nil || !strings.Contains(err.Error(), "does not cover this record") {
		t.Errorf("a tampered record: %v", err)
	}
	return rep.Record
}

// wantEvents are the events of a completed two-signer sequential request.
var wantEvents = []string{
	"request.created", "step.ready", "request.waiting-for-signer-1", "step.pending", "step.signed",
	"step.ready", "request.waiting-for-signer-2", "step.pending", "step.signed", "request.completed",
}

// TestTwoSignersByEmail is the end-to-end test: a PDF with two
// empty signature fields, two signers in sequence, each identified by a
// code e-mailed to the loopback SMTP server, each with a one-time
// certificate naming them; the result passes the validators at B-LT, the
// webhook receiver got every state change with a valid HMAC, the
// evidence verifies, and the service saw hashes only.
func TestTwoSignersByEmail(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	dir := t.TempDir()
	in := e.copyCorpus(t, "pyhanko_pdf20_2_empty_sigfields.pdf", dir)
	out := filepath.Join(dir, "signed.pdf")
	create := csc.CreateRequest{
		Sender: "Example GmbH", Message: "The contract we discussed.", Level: "B-LT",
		Signers: []csc.RequestSigner{
			{ID: "ann", Name: "Ann Example", Email: "ann@example.org"},
			{ID: "ben", Name: "Ben Example", Email: "ben@example.org"},
		},
		CallbackURLs: []string{e.hooks.URL + "/hook"},
	}
	docs := []request.Document{{Name: "contract.pdf", ViewURL: "https://sender.example/view/1", In: in, Out: out, Fields: []string{"Sig1", "Sig2"}}}
	done := runAsync(ctx, e.client, create, docs, e.sender(t))
	e.consentByMail(t, "ann@example.org")
	e.consentByMail(t, "ben@example.org")
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.st.State != csc.StateCompleted {
		t.Fatalf("request %s", r.st.State)
	}
	e.checkFinal(t, out, "Ann Example", "Ben Example")
	e.checkPrivacy(t, out)
	rec := e.verifyEvidence(t, r.st.ID)
	for i, sg := range rec.Signers {
		if sg.Identified == nil || sg.Identified.Method != "otp-email" || sg.Identified.IP != "127.0.0.1" || sg.Identified.UserAgent == "" {
			t.Errorf("signer %d identified as %+v", i+1, sg.Identified)
		}
		if !sg.OneTime {
			t.Errorf("signer %d did not sign with a one-time credential", i+1)
		}
	}
	if len(rec.Audit) == 0 {
		t.Error("the evidence lists no audit records")
	}
	e.checkEvents(t, r.st.ID, rec, wantEvents...)
	if n := hashsvctest.Metric(t, e.dev.URL, `hashsvc_signature_requests_total{state="completed"}`); n != 1 {
		t.Errorf("completed requests in the metrics: %d", n)
	}
	if n := hashsvctest.Metric(t, e.dev.URL, `hashsvc_codes_total{channel="email",result="sent"}`); n != 2 {
		t.Errorf("codes sent in the metrics: %d", n)
	}
}

// TestSenderAcrossRestart: the service restarts while the first signer
// has not answered; its one-time key is gone, so the step is reopened with
// a new certificate, and the sender prepares it again by itself. The old
// link is dead, the new invitation works, and the result still passes.
func TestSenderAcrossRestart(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	dir := t.TempDir()
	in := e.copyCorpus(t, "pyhanko_pdf20_2_empty_sigfields.pdf", dir)
	out := filepath.Join(dir, "signed.pdf")
	// the client rides out the restart with more attempts
	c, err := remote.NewClient(e.proxy.URL(), remote.Options{APIKey: e.dev.APIKey, Retry: remote.RetryPolicy{Attempts: 50, MinBackoff: 50 * time.Millisecond, MaxBackoff: 500 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	create := csc.CreateRequest{Sender: "Example GmbH", Level: "B-LT", CallbackURLs: []string{e.hooks.URL},
		Signers: []csc.RequestSigner{{ID: "ann", Name: "Ann Example", Email: "ann@example.org"}, {ID: "ben", Name: "Ben Example", Email: "ben@example.org"}}}
	docs := []request.Document{{Name: "contract.pdf", In: in, Out: out, Fields: []string{"Sig1", "Sig2"}}}
	done := runAsync(ctx, c, create, docs, e.sender(t))
	old := e.invitation(t, "ann@example.org")
	e.dev.Stop()
	e.dev = hashsvctest.ServeDev(t, e.devOpts)
	p := newPerson(t)
	resp, err := p.client.Get(old)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("the link of the destroyed certificate: %d, want 404", resp.StatusCode)
	}
	e.consentByMail(t, "ann@example.org")
	e.consentByMail(t, "ben@example.org")
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	e.checkFinal(t, out, "Ann Example", "Ben Example")
	rec := e.verifyEvidence(t, r.st.ID)
	want := append([]string{}, wantEvents[:4]...)
	want = append(want, "step.ready", "step.pending")
	want = append(want, wantEvents[4:]...)
	e.checkEvents(t, r.st.ID, rec, want...)
}
