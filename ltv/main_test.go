package ltv

import (
	"bufio"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"hashsign/hashsvc/devtrust"
	"hashsign/internal/devpki"
	"hashsign/internal/testenv"
)

// The OpenSSL-based trust services of ../shared, started on first use and
// stopped by TestMain.
var openSSL struct {
	once sync.Once
	dir  string
	env  map[string]string
	err  error // why they are unavailable
}

// shared is the devtrust environment that tests which do not revoke
// anything share, closed by TestMain.
var shared struct {
	once sync.Once
	env  *devEnv
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if openSSL.dir != "" {
		script, _ := trustServicesScript()
		if out, err := exec.Command(script, "stop", openSSL.dir).CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "trust-services stop: %v\n%s", err, out)
		}
		os.RemoveAll(openSSL.dir)
	}
	if shared.env != nil {
		shared.env.srv.Close()
	}
	os.Exit(code)
}

// trustServicesScript returns the path of ../shared/validate/trust-services,
// ../shared being relative to the module root.
func trustServicesScript() (string, error) {
	return filepath.Abs(filepath.Join("..", "..", "shared", "validate", "trust-services"))
}

// openSSLEnv starts the OpenSSL trust services if needed and returns their
// environment (TSA_URL, OCSP_URL, ROOT, INTER, SIGNER_CERT...). When they
// are unavailable the test is skipped, or fails under CI.
func openSSLEnv(t *testing.T) map[string]string {
	t.Helper()
	openSSL.once.Do(func() {
		script, err := trustServicesScript()
		if err != nil {
			openSSL.err = err
			return
		}
		if _, err := os.Stat(script); err != nil {
			openSSL.err = fmt.Errorf("../shared is missing: %w", err)
			return
		}
		for _, tool := range []string{"openssl", "python3"} {
			if _, err := exec.LookPath(tool); err != nil {
				openSSL.err = fmt.Errorf("%s is not installed: %w", tool, err)
				return
			}
		}
		dir, err := os.MkdirTemp("", "ltv-trust-services-")
		if err != nil {
			openSSL.err = err
			return
		}
		openSSL.dir = dir
		if out, err := exec.Command(script, "start", dir).CombinedOutput(); err != nil {
			openSSL.err = fmt.Errorf("trust-services start: %v\n%s", err, out)
			return
		}
		openSSL.env, openSSL.err = readEnv(filepath.Join(dir, "env"))
	})
	if openSSL.err != nil {
		testenv.Missing(t, "OpenSSL trust services unavailable: %v", openSSL.err)
	}
	return openSSL.env
}

// readEnv reads the "export K=V" lines of an env file.
func readEnv(name string) (map[string]string, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	env := make(map[string]string)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimPrefix(sc.Text(), "export "), "=")
		if ok {
			env[k] = v
		}
	}
	return env, sc.Err()
}

// readCert reads the first certificate of a PEM file.
func readCert(t *testing.T, name string) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		t.Fatalf("%s: no PEM block", name)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return c
}

// handlerSwitch is an http.Handler that can be set after its server
// started, so that a PKI can be generated with the server's URL.
type handlerSwitch struct{ h atomic.Pointer[http.Handler] }

func (s *handlerSwitch) set(h http.Handler) { s.h.Store(&h) }

func (s *handlerSwitch) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h := s.h.Load(); h != nil {
		(*h).ServeHTTP(w, r)
		return
	}
	http.Error(w, "not ready", http.StatusServiceUnavailable)
}

// devEnv is a test PKI served by devtrust on 127.0.0.1.
type devEnv struct {
	pki  *devpki.PKI
	svc  *devtrust.Services
	srv  *httptest.Server
	url  string   // base URL, no trailing slash
	hits sync.Map // path → *atomic.Int64, requests served
}

// newDevEnv generates a PKI whose URLs name a new server and serves it with
// devtrust, through wrap when it is not nil. The server is closed by t's
// cleanup, or never when t is nil.
func newDevEnv(t *testing.T, wrap func(http.Handler) http.Handler) (*devEnv, error) {
	return newDevEnvOptions(t, wrap, devtrust.Options{})
}

// newDevEnvOptions is newDevEnv with devtrust's options.
func newDevEnvOptions(t *testing.T, wrap func(http.Handler) http.Handler, opts devtrust.Options) (*devEnv, error) {
	sw := new(handlerSwitch)
	srv := httptest.NewServer(sw)
	pki, err := devpki.Generate(devpki.Options{BaseURL: srv.URL})
	if err != nil {
		srv.Close()
		return nil, err
	}
	svc, err := devtrust.New(pki, opts)
	if err != nil {
		srv.Close()
		return nil, err
	}
	e := &devEnv{pki: pki, svc: svc, srv: srv, url: srv.URL}
	h := svc.Handler()
	if wrap != nil {
		h = wrap(h)
	}
	sw.set(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := e.hits.LoadOrStore(r.Method+" "+r.URL.Path, new(atomic.Int64))
		n.(*atomic.Int64).Add(1)
		h.ServeHTTP(w, r)
	}))
	if t != nil {
		t.Cleanup(srv.Close)
	}
	return e, nil
}

// count returns how many requests the server got for method and path
// (without the GET OCSP request part).
func (e *devEnv) count(method, path string) int64 {
	var total int64
	e.hits.Range(func(k, v any) bool {
		if k == method+" "+path || method == "GET" && path == devpki.OCSPPath && strings.HasPrefix(k.(string), "GET "+path+"/") {
			total += v.(*atomic.Int64).Load()
		}
		return true
	})
	return total
}

// sharedDevEnv returns the devtrust environment shared by the tests that
// do not revoke certificates.
func sharedDevEnv(t *testing.T) *devEnv {
	t.Helper()
	shared.once.Do(func() { shared.env, shared.err = newDevEnv(nil, nil) })
	if shared.err != nil {
		t.Fatalf("devtrust: %v", shared.err)
	}
	return shared.env
}

// freshDevEnv returns a devtrust environment of t's own, for tests that
// revoke certificates or need a special server.
func freshDevEnv(t *testing.T, wrap func(http.Handler) http.Handler) *devEnv {
	t.Helper()
	e, err := newDevEnv(t, wrap)
	if err != nil {
		t.Fatalf("devtrust: %v", err)
	}
	return e
}

// closedURL returns the URL of a port on 127.0.0.1 that nothing listens
// on: a server that is down.
func closedURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := "http://" + l.Addr().String()
	l.Close()
	return u
}

// issue issues a certificate for a new P-256 key from template, signed by
// parent, or self-signed when parent is nil.
func issue(t *testing.T, parent *devpki.Identity, template *x509.Certificate) *devpki.Identity {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return issueWithKey(t, parent, template, key)
}

// issueWithKey is issue with a given key.
func issueWithKey(t *testing.T, parent *devpki.Identity, template *x509.Certificate, key crypto.Signer) *devpki.Identity {
	t.Helper()
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		t.Fatal(err)
	}
	template.SerialNumber = serial.Add(serial, big.NewInt(1))
	if template.NotBefore.IsZero() {
		template.NotBefore = time.Now().Add(-time.Hour)
		template.NotAfter = time.Now().Add(365 * 24 * time.Hour)
	}
	template.BasicConstraintsValid = true
	p, pk := template, key
	if parent != nil {
		p, pk = parent.Cert, parent.Key
	}
	der, err := x509.CreateCertificate(rand.Reader, template, p, key.Public(), pk)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &devpki.Identity{Cert: c, Key: key}
}

// testName returns a subject for test certificates.
func testName(cn string) pkix.Name {
	return pkix.Name{CommonName: cn, Organization: []string{devpki.Organization}}
}

// checkErr checks that err's message matches the regular expression want
// in full; want "" means no error.
func checkErr(t *testing.T, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Fatalf("unexpected error: %v", err)
	case want != "" && err == nil:
		t.Fatalf("no error, want one matching %q", want)
	case want != "" && !regexp.MustCompile("^(?:"+want+")$").MatchString(err.Error()):
		t.Fatalf("error:\n  %v\nwant one matching:\n  %s", err, want)
	}
}

// q quotes s for a regular expression.
func q(s string) string { return regexp.QuoteMeta(s) }

// hostPort returns the host:port of a URL.
func hostPort(u string) string {
	host, _, _ := strings.Cut(strings.TrimPrefix(u, "http://"), "/")
	return host
}

// refused is the message of a connection to a closed port of u.
func refused(u string) string {
	return q("dial tcp " + hostPort(u) + ": connect: connection refused")
}
