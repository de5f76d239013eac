package devtrust_test

import (
	"bytes"
	"crypto/x509"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"hashsign/hashsvc/devtrust"
	"hashsign/internal/devpki"
	"hashsign/internal/testenv"
)

// sharedPKI returns the PKI that the tests of several packages share and the
// directory holding its PEM files.
func sharedPKI(t *testing.T) (*devpki.PKI, string) {
	t.Helper()
	dir := devpki.DefaultDir()
	p, err := devpki.LoadOrGenerate(dir, devpki.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return p, dir
}

// clock is a settable clock for Options.Now.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock {
	// Close to the real time, so that certificates are valid for openssl,
	// which checks them at the real time.
	return &clock{now: time.Now().Add(-time.Hour).UTC().Truncate(time.Second)}
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// newServer starts the services of p on a loopback test server.
func newServer(t *testing.T, p *devpki.PKI, opts devtrust.Options) (*devtrust.Services, *httptest.Server) {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	s, err := devtrust.New(p, opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return s, srv
}

// do sends a request to srv and returns the response with its body read.
func do(t *testing.T, srv *httptest.Server, method, path, contentType string, body []byte) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, srv.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, data
}

// openssl runs openssl with args and returns its combined output.
func openssl(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), testenv.Need(t, "openssl", ""), args...)
	// Keep openssl away from any proxy: the tests talk to 127.0.0.1 only.
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasSuffix(strings.ToLower(name), "_proxy") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestNew(t *testing.T) {
	p, _ := sharedPKI(t)
	if _, err := devtrust.New(nil, devtrust.Options{}); err == nil {
		t.Error("New(nil) succeeded")
	}
	noTSA := *p
	noTSA.TSA = nil
	if _, err := devtrust.New(&noTSA, devtrust.Options{}); err == nil {
		t.Error("New without TSA succeeded")
	}
	wrongOCSP := *p
	wrongOCSP.OCSP = &devpki.Identity{Cert: p.Intermediate.Cert, Key: p.Intermediate.Key}
	if _, err := devtrust.New(&wrongOCSP, devtrust.Options{}); err == nil {
		t.Error("New with an OCSP responder not issued by the intermediate CA succeeded")
	}
	if _, err := devtrust.New(p, devtrust.Options{OCSPValidity: -time.Hour}); err == nil {
		t.Error("New with a negative validity succeeded")
	}
	if _, err := devtrust.New(p, devtrust.Options{}); err != nil {
		t.Errorf("New: %v", err)
	}
}

func TestRouting(t *testing.T) {
	p, _ := sharedPKI(t)
	_, srv := newServer(t, p, devtrust.Options{})
	big := make([]byte, devtrust.MaxRequestSize+1)
	for _, tt := range []struct {
		method, path, contentType string
		body                      []byte
		status                    int
		allow                     string
	}{
		{"GET", devtrust.TSAPath, "", nil, http.StatusMethodNotAllowed, "POST"},
		{"PUT", devtrust.TSAPath, "", nil, http.StatusMethodNotAllowed, "POST"},
		{"PUT", devpki.OCSPPath, "", nil, http.StatusMethodNotAllowed, "GET, HEAD, POST"},
		{"GET", devpki.OCSPPath, "", nil, http.StatusBadRequest, ""},
		{"GET", devpki.OCSPPath + "/", "", nil, http.StatusBadRequest, ""},
		{"POST", devpki.OCSPPath + "/MAA=", "application/ocsp-request", nil, http.StatusMethodNotAllowed, "GET, HEAD"},
		{"POST", devpki.RootCRLPath, "", nil, http.StatusMethodNotAllowed, "GET, HEAD"},
		{"DELETE", devpki.IntermediateCertPath, "", nil, http.StatusMethodNotAllowed, "GET, HEAD"},
		{"GET", "/nothing", "", nil, http.StatusNotFound, ""},
		{"GET", "/crl/other.crl", "", nil, http.StatusNotFound, ""},
		{"POST", devtrust.TSAPath, "text/plain", []byte("x"), http.StatusUnsupportedMediaType, ""},
		{"POST", devtrust.TSAPath, "", []byte("x"), http.StatusUnsupportedMediaType, ""},
		{"POST", devpki.OCSPPath, "application/timestamp-query", []byte("x"), http.StatusUnsupportedMediaType, ""},
		{"POST", devtrust.TSAPath, "application/timestamp-query", big, http.StatusRequestEntityTooLarge, ""},
		{"POST", devpki.OCSPPath, "application/ocsp-request", big, http.StatusRequestEntityTooLarge, ""},
		{"HEAD", devpki.RootCertPath, "", nil, http.StatusOK, ""},
		{"HEAD", devpki.RootCRLPath, "", nil, http.StatusOK, ""},
	} {
		resp, _ := do(t, srv, tt.method, tt.path, tt.contentType, tt.body)
		if resp.StatusCode != tt.status {
			t.Errorf("%s %s: status %d, want %d", tt.method, tt.path, resp.StatusCode, tt.status)
		}
		if got := resp.Header.Get("Allow"); got != tt.allow {
			t.Errorf("%s %s: Allow %q, want %q", tt.method, tt.path, got, tt.allow)
		}
	}
}

func TestCertificates(t *testing.T) {
	p, _ := sharedPKI(t)
	_, srv := newServer(t, p, devtrust.Options{})
	for path, want := range map[string]*x509.Certificate{
		devpki.RootCertPath:         p.Root.Cert,
		devpki.IntermediateCertPath: p.Intermediate.Cert,
	} {
		resp, body := do(t, srv, "GET", path, "", nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: status %d", path, resp.StatusCode)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "application/pkix-cert" {
			t.Errorf("GET %s: Content-Type %q", path, ct)
		}
		if !bytes.Equal(body, want.Raw) {
			t.Errorf("GET %s: not the certificate %q", path, want.Subject.CommonName)
		}
	}
}

// TestCertificateURLs follows every URL in the certificates of a PKI
// generated for the server's address.
func TestCertificateURLs(t *testing.T) {
	srv := httptest.NewUnstartedServer(nil)
	t.Cleanup(srv.Close)
	p, err := devpki.Generate(devpki.Options{BaseURL: "http://" + srv.Listener.Addr().String()})
	if err != nil {
		t.Fatal(err)
	}
	s, err := devtrust.New(p, devtrust.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = s.Handler()
	srv.Start()
	client := srv.Client()

	get := func(url string) []byte {
		t.Helper()
		if !strings.HasPrefix(url, srv.URL+"/") {
			t.Fatalf("URL %q is not on the test server %s", url, srv.URL)
		}
		resp, err := client.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: status %d", url, resp.StatusCode)
		}
		return body
	}

	certs := []*x509.Certificate{p.Intermediate.Cert}
	for _, id := range p.Leaves() {
		certs = append(certs, id.Cert)
	}
	for _, cert := range certs {
		name := cert.Subject.CommonName
		issuer := p.Intermediate.Cert
		if cert == p.Intermediate.Cert {
			issuer = p.Root.Cert
		}
		if len(cert.IssuingCertificateURL) == 0 || len(cert.CRLDistributionPoints) == 0 {
			t.Fatalf("%q: no AIA caIssuers or CRL distribution point", name)
		}
		for _, url := range cert.IssuingCertificateURL {
			if got := get(url); !bytes.Equal(got, issuer.Raw) {
				t.Errorf("%q: %s is not the issuer certificate", name, url)
			}
		}
		for _, url := range cert.CRLDistributionPoints {
			crl, err := x509.ParseRevocationList(get(url))
			if err != nil {
				t.Fatalf("%q: %s: %v", name, url, err)
			}
			if err := crl.CheckSignatureFrom(issuer); err != nil {
				t.Errorf("%q: %s: %v", name, url, err)
			}
		}
		for _, url := range cert.OCSPServer {
			req, err := ocsp.CreateRequest(cert, issuer, nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := client.Post(url, "application/ocsp-request", bytes.NewReader(req))
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			r, err := ocsp.ParseResponseForCert(body, cert, issuer)
			if err != nil {
				t.Fatalf("%q: %s: %v", name, url, err)
			}
			if r.Status != ocsp.Good {
				t.Errorf("%q: OCSP status %d, want good", name, r.Status)
			}
		}
	}
}
