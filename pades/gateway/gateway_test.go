package gateway_test

import (
	"bytes"
	"context"
	"crypto"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"hashsign/hashsvc/devtrust"
	"hashsign/hashsvc/hashsvctest"
	"hashsign/internal/apikey"
	"hashsign/internal/devpki"
	"hashsign/internal/webhook"
	"hashsign/pades"
	"hashsign/pades/batch"
	"hashsign/pades/gateway"
	"hashsign/signer"
	"hashsign/signer/remote"
	"hashsign/testdata/pdfgen"
)

// Key IDs of the test gateway: keySign may only sign, keyBatch only run
// batches, keyAll both.
const (
	keyAll   = "all"
	keySign  = "signer"
	keyBatch = "batcher"
)

// env is a gateway served on 127.0.0.1 for a test.
type env struct {
	srv  *gateway.Server
	cfg  *gateway.Config
	url  string
	keys map[string]string // API keys by id
	root string            // the trust anchor of the signatures
	logs *hashsvctest.SyncBuffer
	// stop stops serving and returns Serve's error.
	stop func() error
}

// setup describes a test gateway.
type setup struct {
	// signer, when not nil, replaces the RSA key file of the test PKI.
	signer signer.Signer
	// edit adjusts the configuration before New.
	edit func(*gateway.Config)
}

// newEnv starts a gateway with an RSA key file of the shared test PKI, the
// API keys keyAll, keySign and keyBatch, and a JSON logger. It stops when
// the test ends.
func newEnv(t testing.TB, su setup) *env {
	t.Helper()
	hashsvctest.PKI(t)
	dir := devpki.DefaultDir()
	e := &env{keys: map[string]string{}, root: filepath.Join(dir, devpki.RootCertFile), logs: &hashsvctest.SyncBuffer{}}
	cfg := &gateway.Config{
		Signer:    gateway.SignerConfig{Key: filepath.Join(dir, devpki.SignerRSAKeyFile), Cert: filepath.Join(dir, devpki.SignerRSACertFile)},
		Signature: gateway.SignatureConfig{Trust: []string{e.root}},
		Storage:   gateway.StorageConfig{TempDir: t.TempDir()},
	}
	for id, ops := range map[string][]string{keyAll: nil, keySign: {gateway.OpSign}, keyBatch: {gateway.OpBatches}} {
		k, sum, err := apikey.New("pgk_")
		if err != nil {
			t.Fatal(err)
		}
		e.keys[id] = k
		cfg.APIKeys = append(cfg.APIKeys, gateway.APIKeyConfig{ID: id, SHA256: sum, Operations: ops})
	}
	if su.edit != nil {
		su.edit(cfg)
	}
	s := su.signer
	if s == nil {
		var err error
		s, err = signer.LoadKeyFile(cfg.Signer.Key, cfg.Signer.Cert, filepath.Join(dir, devpki.IntermediateCertFile))
		if err != nil {
			t.Fatal(err)
		}
	}
	log := slog.New(slog.NewJSONHandler(e.logs, nil))
	srv, err := gateway.New(context.Background(), gateway.Options{Config: cfg, Signer: s, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	e.srv, e.cfg = srv, cfg
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.url = "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln) }()
	var err2 error
	stopped := false
	e.stop = func() error {
		if !stopped {
			stopped = true
			cancel()
			err2 = <-served
		}
		return err2
	}
	t.Cleanup(func() {
		if err := e.stop(); err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return e
}

// request sends a request with the API key of id ("" for none).
func (e *env) request(t *testing.T, method, path, key string, body io.Reader, header http.Header) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, e.url+path, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+e.keys[key])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// errorOf decodes an error answer.
func errorOf(t *testing.T, resp *http.Response) gateway.ErrorBody {
	t.Helper()
	var eb gateway.ErrorBody
	if err := json.NewDecoder(resp.Body).Decode(&eb); err != nil {
		t.Fatalf("%s: the body is not an error: %v", resp.Status, err)
	}
	return eb
}

// metric returns one sample of the gateway's /metrics, 0 when absent.
func (e *env) metric(t *testing.T, sample string) int {
	t.Helper()
	return hashsvctest.Metric(t, e.url, sample)
}

// until calls cond until it holds, or fails the test when done is closed
// first. It waits for an event; it decides nothing by time.
func until(t *testing.T, done <-chan struct{}, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-done:
			t.Fatal("ended before the awaited state")
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func pdfBytes(t *testing.T, kind pdfgen.Kind, pages int) []byte {
	t.Helper()
	b, err := pdfgen.Bytes(kind, pdfgen.Options{Pages: pages})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// saveSigned writes the body of a signed answer to a file and checks that
// it is the input with a signature appended.
func saveSigned(t *testing.T, resp *http.Response, in []byte) string {
	t.Helper()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("%s: %s", resp.Status, b)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/pdf" {
		t.Errorf("Content-Type %q", ct)
	}
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(out)) != resp.ContentLength {
		t.Errorf("%d bytes, Content-Length %d", len(out), resp.ContentLength)
	}
	if !bytes.HasPrefix(out, in) || len(out) <= len(in) {
		t.Errorf("the answer (%d bytes) is not the document (%d bytes) with a signature appended", len(out), len(in))
	}
	p := filepath.Join(t.TempDir(), "signed.pdf")
	if err := os.WriteFile(p, out, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestConfig: LoadConfig fills in the defaults, resolves relative paths
// from the file's directory, and refuses bad configurations with a message
// that names the setting.
func TestConfig(t *testing.T) {
	const keyLine = "api_keys: [{id: a, sha256: \"" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" + "\"}]\n"
	const keyFile = "signer: {key: k.pem, cert: c.pem}\n"
	for _, tc := range []struct {
		name, yaml, err string
	}{
		{"minimal", keyLine + keyFile, ""},
		{"unknown field", keyLine + keyFile + "listn: 1\n", "field listn not found"},
		{"no api keys", keyFile, "no api_keys"},
		{"bad key hash", "api_keys: [{id: a, sha256: abc}]\n" + keyFile, "64 hex digits"},
		{"duplicate key id", "api_keys: [{id: a, sha256: \"" + strings.Repeat("0", 64) + "\"}, {id: a, sha256: \"" + strings.Repeat("1", 64) + "\"}]\n" + keyFile, "duplicate id"},
		{"unknown operation", "api_keys: [{id: a, sha256: \"" + strings.Repeat("0", 64) + "\", operations: [delete]}]\n" + keyFile, "unknown operation"},
		{"no signer", keyLine, "signer: give one of"},
		{"two signers", keyLine + "signer: {key: k.pem, cert: c.pem, pkcs11: \"pkcs11:token=x\"}\n", "only one of"},
		{"key without cert", keyLine + "signer: {key: k.pem}\n", "key needs cert"},
		{"remote without credential", keyLine + "signer: {remote: {url: \"http://127.0.0.1:1\"}}\n", "url and credential"},
		{"B-T without tsa", keyLine + keyFile + "signature: {level: B-T}\n", "needs signature.tsa"},
		{"bad level", keyLine + keyFile + "signature: {level: B-X}\n", "signature.level"},
		{"bad hash", keyLine + keyFile + "signature: {hash: md5}\n", "signature.hash"},
		{"callbacks without secret", keyLine + keyFile + "callbacks: {allow: [\"http://127.0.0.1:9/\"]}\n", "secret_file"},
		{"bad listen", keyLine + keyFile + "listen: nowhere\n", "listen"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "gateway.yaml")
			if err := os.WriteFile(p, []byte(tc.yaml), 0o644); err != nil {
				t.Fatal(err)
			}
			cfg, err := gateway.LoadConfig(p)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || strings.Contains(err.Error(), "\n") {
					t.Fatalf("error %v, want one line with %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := cfg.Path(cfg.Signer.Key); got != filepath.Join(dir, "k.pem") {
				t.Errorf("signer.key resolves to %s", got)
			}
			l := cfg.Limits
			for _, d := range []struct {
				name      string
				got, want any
			}{
				{"listen", cfg.Listen, gateway.DefaultListen},
				{"max_body_bytes", l.MaxBodyBytes, int64(gateway.DefaultMaxBodyBytes)},
				{"max_signing", l.MaxSigning, gateway.DefaultMaxSigning},
				{"max_batches", l.MaxBatches, gateway.DefaultMaxBatches},
				{"request_timeout", l.RequestTimeout, gateway.DefaultRequestTimeout},
				{"shutdown_timeout", l.ShutdownTimeout, gateway.DefaultShutdownTimeout},
				{"max_connections", l.MaxConnections, gateway.DefaultMaxConnections},
				{"signature.level", cfg.Signature.Level, "B-B"},
				{"signature.hash", cfg.Signature.Hash, "sha256"},
			} {
				if d.got != d.want {
					t.Errorf("%s = %v, want the default %v", d.name, d.got, d.want)
				}
			}
		})
	}
	t.Run("example", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "gateway.yaml")
		if err := os.WriteFile(p, gateway.ExampleConfig, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := gateway.LoadConfig(p); err != nil {
			t.Errorf("the example configuration: %v", err)
		}
	})
}

// TestSign posts PDFs to /v1/sign with the options as query parameters and
// as headers, through a key file and a remote signer (hashsvc), at B-B and
// B-T: each answer is the document with one signature appended that passes
// check-signed-pdf at the level asked, with the reason and field asked.
func TestSign(t *testing.T) {
	validator := hashsvctest.Validator(t)
	svc := hashsvctest.NewServer(t, hashsvctest.Options{TSA: true})
	tsa := svc.URL + devtrust.TSAPath
	client, err := remote.NewClient(svc.URL, remote.Options{APIKey: svc.Keys[hashsvctest.KeyAll]})
	if err != nil {
		t.Fatal(err)
	}
	rs, err := remote.NewSigner(context.Background(), client, hashsvctest.CredP256)
	if err != nil {
		t.Fatal(err)
	}
	withTSA := func(c *gateway.Config) { c.Signature.TSA = []string{tsa} }
	keyFile := newEnv(t, setup{edit: withTSA})
	remoteEnv := newEnv(t, setup{signer: rs, edit: func(c *gateway.Config) {
		withTSA(c)
		c.Signer = gateway.SignerConfig{Remote: &gateway.RemoteConfig{URL: svc.URL, Credential: hashsvctest.CredP256}}
	}})
	for _, tc := range []struct {
		name   string
		e      *env
		kind   pdfgen.Kind
		query  string
		header http.Header
		level  string
		field  string
		reason string
	}{
		{"key file, defaults", keyFile, pdfgen.Table, "", nil, "B-B", "", ""},
		{"key file, query", keyFile, pdfgen.Stream, "?level=B-T&reason=Approved+by+the+query&field=Approval&new-field=true", nil, "B-T", "Approval", "Approved by the query"},
		{"key file, headers", keyFile, pdfgen.Hybrid, "", http.Header{"Pades-Level": {"B-T"}, "Pades-Reason": {"Approved by a header"}, "Pades-Field": {"Seal"}, "Pades-New-Field": {"1"}}, "B-T", "Seal", "Approved by a header"},
		{"remote, headers", remoteEnv, pdfgen.TableIncremental, "", http.Header{"Pades-Level": {"B-T"}, "Pades-Reason": {"Approved remotely"}}, "B-T", "", "Approved remotely"},
		{"key file, visible", keyFile, pdfgen.Table, "?field=Visible&new-field=true&page=2&rect=72,100,200,60&appearance=lines%3Dname,reason&reason=Seen&certify=2", nil, "B-B", "Visible", "Seen"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := pdfBytes(t, tc.kind, 2)
			resp := tc.e.request(t, http.MethodPost, gateway.PathSign+tc.query, keySign, bytes.NewReader(in), tc.header)
			out := saveSigned(t, resp, in)
			if got := resp.Header.Get(gateway.HeaderLevel); got != tc.level {
				t.Errorf("%s: %q, want %q", gateway.HeaderLevel, got, tc.level)
			}
			if !strings.HasPrefix(resp.Header.Get(gateway.HeaderDigest), "sha256=") {
				t.Errorf("%s: %q", gateway.HeaderDigest, resp.Header.Get(gateway.HeaderDigest))
			}
			field := resp.Header.Get(gateway.HeaderField)
			if tc.field != "" && field != tc.field {
				t.Errorf("signed field %q, want %q", field, tc.field)
			}
			if n := hashsvctest.Signatures(t, out); n != 1 {
				t.Errorf("%d signatures, want 1", n)
			}
			data, _ := os.ReadFile(out)
			if tc.reason != "" && !bytes.Contains(data, []byte("/Reason ("+tc.reason+")")) {
				t.Errorf("no /Reason (%s) in the signed document", tc.reason)
			}
			hashsvctest.Validate(t, validator, tc.e.root, tc.level, out)
			if tc.name != "key file, visible" {
				return
			}
			rep, err := pades.Inspect(context.Background(), bytes.NewReader(data), int64(len(data)), nil)
			if err != nil {
				t.Fatal(err)
			}
			if rep.DocMDP != 2 {
				t.Errorf("DocMDP %d, want 2 (certify=2)", rep.DocMDP)
			}
			found := false
			for _, f := range rep.Fields {
				found = found || f.Field == "Visible"
				if f.Field == "Visible" && (!f.Visible || len(f.Widgets) != 1 || f.Widgets[0].Page != 2 || f.Widgets[0].Rect != [4]float64{72, 100, 200, 60}) {
					t.Errorf("field Visible: %+v, want visible on page 2 at 72,100,200,60", f)
				}
			}
			if !found {
				t.Error("inspect lists no field Visible")
			}
		})
	}
}

// TestSignRefused: a request that cannot be signed gets the status and
// error code that say why, in one line, and leaves nothing in the
// temporary directory.
func TestSignRefused(t *testing.T) {
	e := newEnv(t, setup{edit: func(c *gateway.Config) { c.Limits.MaxBodyBytes = 64 << 10 }})
	good := pdfBytes(t, pdfgen.Table, 1)
	form := &bytes.Buffer{}
	mw := multipart.NewWriter(form)
	fw, _ := mw.CreateFormFile("file", "a.pdf")
	fw.Write(good)
	mw.Close()
	big := append(bytes.Clone(good), bytes.Repeat([]byte("% padding\n"), 8<<10)...)
	for _, tc := range []struct {
		name   string
		method string
		query  string
		key    string
		body   io.Reader
		header http.Header
		status int
		code   string
	}{
		{"no key", http.MethodPost, "", "", bytes.NewReader(good), nil, 401, "unauthorized"},
		{"wrong key", http.MethodPost, "", "", bytes.NewReader(good), http.Header{"Authorization": {"Bearer pgk_wrong"}}, 401, "unauthorized"},
		{"not bearer", http.MethodPost, "", "", bytes.NewReader(good), http.Header{"Authorization": {"Basic YTpi"}}, 401, "unauthorized"},
		{"batch key", http.MethodPost, "", keyBatch, bytes.NewReader(good), nil, 403, "forbidden"},
		{"GET", http.MethodGet, "", keySign, nil, nil, 405, "method_not_allowed"},
		{"empty body", http.MethodPost, "", keySign, bytes.NewReader(nil), nil, 400, "bad_pdf"},
		{"not a PDF", http.MethodPost, "", keySign, strings.NewReader("%PDF-1.7\nthis ends before any object\n"), nil, 400, "bad_pdf"},
		{"unknown option", http.MethodPost, "?colour=red", keySign, bytes.NewReader(good), nil, 400, "bad_request"},
		{"unknown option header", http.MethodPost, "", keySign, bytes.NewReader(good), http.Header{"Pades-Colour": {"red"}}, 400, "bad_request"},
		{"option twice", http.MethodPost, "?reason=a", keySign, bytes.NewReader(good), http.Header{"Pades-Reason": {"b"}}, 400, "bad_request"},
		{"B-T without a TSA", http.MethodPost, "?level=B-T", keySign, bytes.NewReader(good), nil, 400, "bad_request"},
		{"bad page", http.MethodPost, "?page=0", keySign, bytes.NewReader(good), nil, 400, "bad_request"},
		{"page out of range", http.MethodPost, "?page=9", keySign, bytes.NewReader(good), nil, 400, "bad_pdf"},
		{"form", http.MethodPost, "", keySign, bytes.NewReader(form.Bytes()), http.Header{"Content-Type": {mw.FormDataContentType()}}, 415, "unsupported_media_type"},
		{"too large, Content-Length", http.MethodPost, "", keySign, bytes.NewReader(big), nil, 413, "too_large"},
		// no Content-Length: the limit stops the upload itself
		{"too large, chunked", http.MethodPost, "", keySign, io.MultiReader(bytes.NewReader(big)), nil, 413, "too_large"},
		{"no such endpoint", http.MethodGet, "/../v2/sign", keySign, nil, nil, 404, "not_found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := gateway.PathSign + tc.query
			if strings.HasPrefix(tc.query, "/") {
				path = "/v2/sign"
			}
			resp := e.request(t, tc.method, path, tc.key, tc.body, tc.header)
			if resp.StatusCode != tc.status {
				b, _ := io.ReadAll(resp.Body)
				t.Fatalf("%s, want %d: %s", resp.Status, tc.status, b)
			}
			eb := errorOf(t, resp)
			if eb.Error != tc.code || eb.Message == "" || strings.Contains(eb.Message, "\n") || eb.RequestID != resp.Header.Get("X-Request-Id") {
				t.Errorf("error %+v, want code %q with a one-line message and the request id", eb, tc.code)
			}
			if tc.status == 401 && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("401 without WWW-Authenticate: Bearer")
			}
		})
	}
	if left, _ := os.ReadDir(e.cfg.Storage.TempDir); len(left) > 0 {
		t.Errorf("%d files left in the temporary directory", len(left))
	}
}

// holdUpload starts a /v1/sign request whose body is the first half of
// doc, and returns a function that sends the rest and returns the answer.
func holdUpload(t *testing.T, e *env, doc []byte) (finish func() *http.Response) {
	t.Helper()
	pr, pw := io.Pipe()
	req, err := http.NewRequest(http.MethodPost, e.url+gateway.PathSign, pr)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = int64(len(doc))
	req.Header.Set("Authorization", "Bearer "+e.keys[keySign])
	type answer struct {
		resp *http.Response
		err  error
	}
	answers := make(chan answer, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		answers <- answer{resp, err}
	}()
	half := len(doc) / 2
	if _, err := pw.Write(doc[:half]); err != nil {
		t.Fatal(err)
	}
	return func() *http.Response {
		t.Helper()
		if _, err := pw.Write(doc[half:]); err != nil {
			t.Fatal(err)
		}
		pw.Close()
		a := <-answers
		if a.err != nil {
			t.Fatal(a.err)
		}
		t.Cleanup(func() { a.resp.Body.Close() })
		return a.resp
	}
}

// TestSignBusy: with limits.max_signing 1, a second document posted while
// the first is being received gets 429 with Retry-After; the first is
// then signed.
func TestSignBusy(t *testing.T) {
	e := newEnv(t, setup{edit: func(c *gateway.Config) { c.Limits.MaxSigning = 1 }})
	doc := pdfBytes(t, pdfgen.Stream, 2)
	finish := holdUpload(t, e, doc)
	until(t, nil, func() bool { return e.metric(t, "pades_gateway_signing") == 1 })
	resp := e.request(t, http.MethodPost, gateway.PathSign, keySign, bytes.NewReader(doc), nil)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Errorf("second document: %s, Retry-After %q; want 429 with Retry-After", resp.Status, resp.Header.Get("Retry-After"))
	}
	if eb := errorOf(t, resp); eb.Error != "busy" {
		t.Errorf("error %q, want busy", eb.Error)
	}
	out := saveSigned(t, finish(), doc)
	if n := hashsvctest.Signatures(t, out); n != 1 {
		t.Errorf("%d signatures", n)
	}
	// the slot is free again
	resp = e.request(t, http.MethodPost, gateway.PathSign, keySign, bytes.NewReader(doc), nil)
	saveSigned(t, resp, doc)
}

// TestShutdown: once Serve's context ends, the gateway reports not ready
// and refuses new documents, but the document being uploaded is received,
// signed and sent whole; Serve then returns nil.
func TestShutdown(t *testing.T) {
	e := newEnv(t, setup{})
	doc := pdfBytes(t, pdfgen.Table, 3)
	finish := holdUpload(t, e, doc)
	until(t, nil, func() bool { return e.metric(t, "pades_gateway_signing") == 1 })
	served := make(chan error, 1)
	go func() { served <- e.stop() }()
	h := e.srv.Handler()
	until(t, nil, func() bool {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
		return rec.Code == http.StatusServiceUnavailable
	})
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, gateway.PathSign, bytes.NewReader(doc))
	req.Header.Set("Authorization", "Bearer "+e.keys[keySign])
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("a new document while shutting down: %d, want 503", rec.Code)
	}
	select {
	case err := <-served:
		t.Fatalf("Serve returned (%v) with a document in flight", err)
	default:
	}
	out := saveSigned(t, finish(), doc)
	if n := hashsvctest.Signatures(t, out); n != 1 {
		t.Errorf("%d signatures", n)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve: %v", err)
	}
	if !strings.Contains(e.logs.String(), `"msg":"shut down"`) {
		t.Errorf("no shut down log line:\n%s", e.logs)
	}
}

// TestServiceEndpoints: /healthz, /readyz, /openapi.yaml (which describes
// every route), and /metrics, which counts the requests and documents and
// requires its key when metrics.sha256 is set.
func TestServiceEndpoints(t *testing.T) {
	metricsKey, metricsSum, _ := apikey.New("pgm_")
	e := newEnv(t, setup{edit: func(c *gateway.Config) { c.Metrics.SHA256 = metricsSum }})
	for _, p := range []struct{ path, body string }{{"/healthz", "ok\n"}, {"/readyz", "ready\n"}} {
		resp := e.request(t, http.MethodGet, p.path, "", nil, nil)
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || string(b) != p.body {
			t.Errorf("%s: %s %q", p.path, resp.Status, b)
		}
	}

	resp := e.request(t, http.MethodGet, "/openapi.yaml", "", nil, nil)
	var doc struct {
		OpenAPI string                    `yaml:"openapi"`
		Paths   map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatalf("/openapi.yaml: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Errorf("openapi: %q", doc.OpenAPI)
	}
	for path, methods := range map[string][]string{
		gateway.PathSign: {"post"}, gateway.PathBatches: {"post"}, gateway.PathBatches + "/{id}": {"get", "delete"},
		gateway.PathBatches + "/{id}/report": {"get"}, "/healthz": {"get"}, "/readyz": {"get"}, "/metrics": {"get"}, "/openapi.yaml": {"get"},
	} {
		for _, m := range methods {
			if doc.Paths[path][m] == nil {
				t.Errorf("/openapi.yaml does not describe %s %s", strings.ToUpper(m), path)
			}
		}
	}

	if resp := e.request(t, http.MethodGet, "/metrics", "", nil, nil); resp.StatusCode != 401 {
		t.Errorf("/metrics without its key: %s", resp.Status)
	}
	if resp := e.request(t, http.MethodGet, "/metrics", keyAll, nil, nil); resp.StatusCode != 401 {
		t.Errorf("/metrics with a caller's key: %s", resp.Status)
	}
	doc1 := pdfBytes(t, pdfgen.Table, 1)
	saveSigned(t, e.request(t, http.MethodPost, gateway.PathSign, keySign, bytes.NewReader(doc1), nil), doc1)
	e.request(t, http.MethodPost, gateway.PathSign, keySign, strings.NewReader("not a PDF"), nil)
	resp = e.request(t, http.MethodGet, "/metrics", "", nil, http.Header{"Authorization": {"Bearer " + metricsKey}})
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("/metrics: %s", resp.Status)
	}
	for _, want := range []string{
		`pades_gateway_requests_total{route="/v1/sign",code="200"} 1`,
		`pades_gateway_requests_total{route="/v1/sign",code="400"} 1`,
		`pades_gateway_documents_total{source="sign",status="signed"} 1`,
		`pades_gateway_documents_total{source="sign",status="failed"} 1`,
		`pades_gateway_document_bytes_total{source="sign",direction="in"} ` + strconv.Itoa(len(doc1)),
		`pades_gateway_request_duration_seconds_count{route="/v1/sign"} 2`,
		"pades_gateway_signing 0",
		"# TYPE pades_gateway_requests_total counter",
	} {
		if !strings.Contains(string(b), want+"\n") {
			t.Errorf("/metrics has no line %q:\n%s", want, b)
		}
	}
}

// TestLogs: every request is logged as one JSON line with its request id
// (the caller's X-Request-Id when it is well formed), status, key id and
// size, and never the API key.
func TestLogs(t *testing.T) {
	e := newEnv(t, setup{})
	doc := pdfBytes(t, pdfgen.Table, 1)
	resp := e.request(t, http.MethodPost, gateway.PathSign, keySign, bytes.NewReader(doc), http.Header{"X-Request-Id": {"erp-42"}})
	saveSigned(t, resp, doc)
	resp = e.request(t, http.MethodPost, gateway.PathSign, keyBatch, bytes.NewReader(doc), http.Header{"X-Request-Id": {"not/an id"}})
	generated := resp.Header.Get("X-Request-Id")
	if generated == "" || generated == "not/an id" {
		t.Errorf("X-Request-Id %q: want a new id for a malformed one", generated)
	}
	e.stop()
	type line struct {
		Level     string `json:"level"`
		Msg       string `json:"msg"`
		RequestID string `json:"request_id"`
		Status    int    `json:"status"`
		KeyID     string `json:"key_id"`
		Bytes     int    `json:"bytes"`
		Error     string `json:"error"`
	}
	var got []line
	for _, s := range strings.Split(strings.TrimSpace(e.logs.String()), "\n") {
		var l line
		if err := json.Unmarshal([]byte(s), &l); err != nil {
			t.Fatalf("log line %q is not JSON: %v", s, err)
		}
		if l.Msg == "request" {
			got = append(got, l)
		}
	}
	want := []line{
		{Level: "INFO", Msg: "request", RequestID: "erp-42", Status: 200, KeyID: keySign, Bytes: len(doc)},
		{Level: "WARN", Msg: "request", RequestID: generated, Status: 403, KeyID: keyBatch, Error: "forbidden"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("request log lines:\n%+v\nwant\n%+v", got, want)
	}
	for id, k := range e.keys {
		if strings.Contains(e.logs.String(), k) {
			t.Errorf("the API key %s is in the logs", id)
		}
	}
}

// callbackReceiver is a callback URL on 127.0.0.1 that checks each post's
// signature and headers and passes on what it received.
type callbackReceiver struct {
	url   string
	posts chan callbackPost
}

// callbackPost is a post that the receiver got: the status, or what is
// wrong with the post.
type callbackPost struct {
	status gateway.BatchStatus
	err    error
}

func newCallbackReceiver(t *testing.T, secret []byte) *callbackReceiver {
	t.Helper()
	c := &callbackReceiver{posts: make(chan callbackPost, 8)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var p callbackPost
		_, p.err = webhook.Verify(secret, r.Header.Get(gateway.CallbackSignatureHeader), body, time.Now(), 5*time.Minute)
		if p.err == nil {
			p.err = json.Unmarshal(body, &p.status)
		}
		if ev := r.Header.Get(gateway.CallbackEventHeader); p.err == nil && ev != "batch.ended" {
			p.err = fmt.Errorf("callback event %q", ev)
		}
		if d := r.Header.Get(gateway.CallbackDeliveryHeader); p.err == nil && d != p.status.ID {
			p.err = fmt.Errorf("callback delivery %q for batch %s", d, p.status.ID)
		}
		if p.err != nil {
			w.WriteHeader(http.StatusBadRequest)
		}
		c.posts <- p
	}))
	t.Cleanup(srv.Close)
	c.url = srv.URL + "/hooks/batch"
	return c
}

// next returns the status of the next post, and fails the test if the
// post was wrong.
func (c *callbackReceiver) next(t *testing.T) gateway.BatchStatus {
	t.Helper()
	p := <-c.posts
	if p.err != nil {
		t.Fatalf("callback: %v", p.err)
	}
	return p.status
}

// postBatch posts a batch request and returns the answer's status.
func postBatch(t *testing.T, e *env, key string, req gateway.BatchRequest, query string) (*http.Response, gateway.BatchStatus) {
	t.Helper()
	body, _ := json.Marshal(req)
	resp := e.request(t, http.MethodPost, gateway.PathBatches+query, key, bytes.NewReader(body), nil)
	var st gateway.BatchStatus
	if resp.StatusCode == http.StatusAccepted {
		if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
			t.Fatal(err)
		}
	}
	return resp, st
}

// TestBatches posts a folder with five good PDFs and a broken one to
// /v1/batches with a callback URL: the signed callback post says that five
// were signed and one failed, GET shows the same, the report lists each
// document, the outputs pass check-signed-pdf, and posting the batch again
// signs nothing twice (its journal). Paths outside the roots, callbacks
// outside callbacks.allow, other callers and keys without the operation
// are refused.
func TestBatches(t *testing.T) {
	validator := hashsvctest.Validator(t)
	storage := t.TempDir()
	secretFile := filepath.Join(t.TempDir(), "secret")
	secret := []byte("a callback secret of some length")
	os.WriteFile(secretFile, secret, 0o600)
	cb := newCallbackReceiver(t, secret)
	e := newEnv(t, setup{edit: func(c *gateway.Config) {
		c.Storage.Roots = []string{storage}
		c.Callbacks = gateway.CallbackConfig{Allow: []string{strings.TrimSuffix(cb.url, "batch")}, SecretFile: secretFile}
	}})
	in := filepath.Join(storage, "in")
	os.Mkdir(in, 0o755)
	kinds := []pdfgen.Kind{pdfgen.Table, pdfgen.Stream, pdfgen.Hybrid, pdfgen.TableIncremental, pdfgen.StreamIncremental}
	for i, k := range kinds {
		os.WriteFile(filepath.Join(in, fmt.Sprintf("doc%d.pdf", i)), pdfBytes(t, k, 1+i%3), 0o644)
	}
	os.WriteFile(filepath.Join(in, "broken.pdf"), []byte("%PDF-1.7\nthis ends before any object\n"), 0o644)
	out := filepath.Join(storage, "out", "today")

	resp, st := postBatch(t, e, keyBatch, gateway.BatchRequest{Dir: in, Out: out, Callback: cb.url}, "?reason=Batch+approval")
	if resp.StatusCode != http.StatusAccepted || resp.Header.Get("Location") != gateway.PathBatches+"/"+st.ID || st.State != gateway.StateRunning || st.Documents != 6 {
		t.Fatalf("POST: %s, Location %q, status %+v", resp.Status, resp.Header.Get("Location"), st)
	}
	ended := cb.next(t)
	if ended.ID != st.ID || ended.State != gateway.StateFailed || ended.Signed != 5 || ended.Failed != 1 || ended.Ended == nil ||
		len(ended.Failures) != 1 || filepath.Base(ended.Failures[0].Input) != "broken.pdf" {
		t.Errorf("callback status: %+v", ended)
	}
	// the callback's state is recorded once the post is answered
	var got gateway.BatchStatus
	until(t, nil, func() bool {
		resp := e.request(t, http.MethodGet, gateway.PathBatches+"/"+st.ID, keyBatch, nil, nil)
		got = gateway.BatchStatus{}
		json.NewDecoder(resp.Body).Decode(&got)
		return got.Callback != nil && got.Callback.Status == "delivered"
	})
	if got.State != gateway.StateFailed || got.Signed != 5 || got.Failed != 1 || got.Callback.Attempts != 1 {
		t.Errorf("GET status: %+v", got)
	}
	resp = e.request(t, http.MethodGet, gateway.PathBatches+"/"+st.ID+"/report", keyBatch, nil, nil)
	var lines []batch.ReportLine
	dec := json.NewDecoder(resp.Body)
	for dec.More() {
		var l batch.ReportLine
		if err := dec.Decode(&l); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, l)
	}
	statuses := map[batch.Status]int{}
	for _, l := range lines {
		statuses[l.Status]++
	}
	if len(lines) != 6 || statuses[batch.Signed] != 5 || statuses[batch.Failed] != 1 {
		t.Errorf("report: %+v", lines)
	}
	for i := range kinds {
		p := filepath.Join(out, fmt.Sprintf("doc%d.pdf", i))
		if data, err := os.ReadFile(p); err != nil || !bytes.Contains(data, []byte("/Reason (Batch approval)")) {
			t.Errorf("%s: %v, or no /Reason (Batch approval)", p, err)
		}
		if i < 2 {
			hashsvctest.Validate(t, validator, e.root, "B-B", p)
		} else if n := hashsvctest.Signatures(t, p); n != 1 {
			t.Errorf("%s: %d signatures", p, n)
		}
	}

	t.Run("again", func(t *testing.T) {
		resp, st := postBatch(t, e, keyBatch, gateway.BatchRequest{Dir: in, Out: out, Callback: cb.url}, "?reason=Batch+approval")
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("POST again: %s", resp.Status)
		}
		ended := cb.next(t)
		if ended.ID != st.ID || ended.Done != 5 || ended.Signed != 0 || ended.Failed != 1 {
			t.Errorf("the batch posted again: %+v; want 5 done by the first run, none signed", ended)
		}
	})

	t.Run("refused", func(t *testing.T) {
		outside := t.TempDir()
		os.Symlink(outside, filepath.Join(storage, "link"))
		for _, tc := range []struct {
			name   string
			key    string
			req    gateway.BatchRequest
			status int
			code   string
		}{
			{"input outside the roots", keyBatch, gateway.BatchRequest{Dir: outside, Out: out}, 403, "outside_roots"},
			{"output outside the roots", keyBatch, gateway.BatchRequest{Dir: in, Out: outside}, 403, "outside_roots"},
			{"output through a link", keyBatch, gateway.BatchRequest{Dir: in, Out: filepath.Join(storage, "link", "x")}, 403, "outside_roots"},
			{"document outside the roots", keyBatch, gateway.BatchRequest{Documents: []batch.ManifestEntry{{In: "/etc/hostname"}}, Out: out}, 403, "outside_roots"},
			{"relative path", keyBatch, gateway.BatchRequest{Dir: "in", Out: out}, 400, "bad_request"},
			{"output escaping out", keyBatch, gateway.BatchRequest{Documents: []batch.ManifestEntry{{In: filepath.Join(in, "doc0.pdf"), Out: "../x.pdf"}}, Out: out}, 400, "bad_request"},
			{"callback not allowed", keyBatch, gateway.BatchRequest{Dir: in, Out: out, Callback: "http://127.0.0.1:1/elsewhere"}, 400, "callback_refused"},
			{"no out", keyBatch, gateway.BatchRequest{Dir: in}, 400, "bad_request"},
			{"sign key", keySign, gateway.BatchRequest{Dir: in, Out: out}, 403, "forbidden"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				resp, _ := postBatch(t, e, tc.key, tc.req, "")
				if resp.StatusCode != tc.status {
					t.Fatalf("%s, want %d", resp.Status, tc.status)
				}
				if eb := errorOf(t, resp); eb.Error != tc.code {
					t.Errorf("error %+v, want %q", eb, tc.code)
				}
			})
		}
		if _, err := os.Stat(filepath.Join(outside, batch.JournalName)); err == nil {
			t.Errorf("a journal was written outside the roots")
		}
		resp := e.request(t, http.MethodGet, gateway.PathBatches+"/"+st.ID, keyAll, nil, nil)
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("another caller's batch: %s, want 404", resp.Status)
		}
	})
}

// gatedSigner is a real signer whose signatures wait until release is
// closed; entered receives a value when the first one starts waiting.
type gatedSigner struct {
	signer.Signer
	entered chan struct{}
	release chan struct{}
}

func (g *gatedSigner) Sign(rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	select {
	case g.entered <- struct{}{}:
	default:
	}
	<-g.release
	return g.Signer.Sign(rand, digest, opts)
}

// TestBatchesBusy: with limits.max_batches 1, a second batch posted while
// the first runs gets 429, one writing to the same folder 409; DELETE
// cancels a running batch.
func TestBatchesBusy(t *testing.T) {
	storage := t.TempDir()
	dir := devpki.DefaultDir()
	hashsvctest.PKI(t)
	ks, err := signer.LoadKeyFile(filepath.Join(dir, devpki.SignerRSAKeyFile), filepath.Join(dir, devpki.SignerRSACertFile), filepath.Join(dir, devpki.IntermediateCertFile))
	if err != nil {
		t.Fatal(err)
	}
	gs := &gatedSigner{Signer: ks, entered: make(chan struct{}, 1), release: make(chan struct{})}
	e := newEnv(t, setup{signer: gs, edit: func(c *gateway.Config) {
		c.Storage.Roots = []string{storage}
		c.Limits.MaxBatches = 1
	}})
	in := filepath.Join(storage, "in")
	os.Mkdir(in, 0o755)
	for i := range 3 {
		os.WriteFile(filepath.Join(in, fmt.Sprintf("doc%d.pdf", i)), pdfBytes(t, pdfgen.Table, 1), 0o644)
	}
	resp, st := postBatch(t, e, keyBatch, gateway.BatchRequest{Dir: in, Out: filepath.Join(storage, "a")}, "")
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("first batch: %s", resp.Status)
	}
	<-gs.entered
	resp, _ = postBatch(t, e, keyBatch, gateway.BatchRequest{Dir: in, Out: filepath.Join(storage, "b")}, "")
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" || errorOf(t, resp).Error != "busy" {
		t.Errorf("second batch: %s, want 429 busy with Retry-After", resp.Status)
	}
	if n := e.metric(t, "pades_gateway_batches_running"); n != 1 {
		t.Errorf("pades_gateway_batches_running %d, want 1", n)
	}
	resp = e.request(t, http.MethodDelete, gateway.PathBatches+"/"+st.ID, keyBatch, nil, nil)
	if resp.StatusCode != http.StatusOK {
		t.Errorf("DELETE: %s", resp.Status)
	}
	close(gs.release)
	var got gateway.BatchStatus
	until(t, nil, func() bool {
		resp := e.request(t, http.MethodGet, gateway.PathBatches+"/"+st.ID, keyBatch, nil, nil)
		got = gateway.BatchStatus{}
		json.NewDecoder(resp.Body).Decode(&got)
		return got.State != gateway.StateRunning
	})
	if got.State != gateway.StateCancelled || got.Signed+got.Done == 3 {
		t.Errorf("after DELETE: %+v, want cancelled before its end", got)
	}
}
