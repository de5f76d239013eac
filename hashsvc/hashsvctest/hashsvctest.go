// Package hashsvctest runs hashsvc for tests: in process on a loopback
// httptest server with the keys of the shared test PKI, or as the real
// binary in development mode. It also finds the external PDF validator.
// Everything listens on 127.0.0.1 only.
package hashsvctest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"hashsign/hashsvc"
	"hashsign/hashsvc/devtrust"
	"hashsign/internal/devpki"
	"hashsign/internal/testenv"
	"hashsign/pades"
)

// API key IDs of the in-process server.
const (
	KeyAll   = "all"  // may use every credential
	KeyP256  = "p256" // may use CredP256 only
	CredRSA  = "rsa"  // RSA-2048
	CredP256 = "p256" // ECDSA P-256
	CredP384 = "p384" // ECDSA P-384
)

// Server is an in-process hashsvc on an httptest server.
type Server struct {
	*httptest.Server
	Service   *hashsvc.Server
	PKI       *devpki.PKI
	Keys      map[string]string // API keys by id
	AuditPath string
	Config    *hashsvc.Config
}

// Options adjusts NewServer.
type Options struct {
	// Audit replaces the SQLite audit log at Server.AuditPath.
	Audit hashsvc.AuditLog
	// Edit, if not nil, adjusts the configuration before the server
	// starts.
	Edit func(*hashsvc.Config)
	// TSA mounts the test PKI's trust services (devtrust) and configures
	// the time-stamping authority.
	TSA bool
	// Logger receives the service's logs.
	Logger *slog.Logger
	// Service, if not nil, adjusts the options of hashsvc.New (a clock,
	// an issuing CA) before the server starts.
	Service func(*hashsvc.Options)
}

// PKI returns the test PKI shared by the tests of every package.
func PKI(t testing.TB) *devpki.PKI {
	t.Helper()
	p, err := devpki.LoadOrGenerate(devpki.DefaultDir(), devpki.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// NewServer starts hashsvc in process on 127.0.0.1 with the file keys of
// the shared test PKI and two API keys, KeyAll and KeyP256. It is closed
// when the test ends.
func NewServer(t testing.TB, opts Options) *Server {
	t.Helper()
	p := PKI(t)
	dir := devpki.DefaultDir()
	keys := map[string]string{}
	var apiKeys []hashsvc.APIKeyConfig
	for id, creds := range map[string][]string{KeyAll: {hashsvc.AllCredentials}, KeyP256: {CredP256}} {
		k, sum, err := hashsvc.NewAPIKey()
		if err != nil {
			t.Fatal(err)
		}
		keys[id] = k
		apiKeys = append(apiKeys, hashsvc.APIKeyConfig{ID: id, SHA256: sum, Credentials: creds})
	}
	inter := filepath.Join(dir, devpki.IntermediateCertFile)
	cred := func(id, key, cert string) hashsvc.CredentialConfig {
		return hashsvc.CredentialConfig{ID: id, Key: filepath.Join(dir, key), Cert: filepath.Join(dir, cert), Chain: []string{inter}}
	}
	s := &Server{PKI: p, Keys: keys, AuditPath: filepath.Join(t.TempDir(), "audit.db")}
	s.Config = &hashsvc.Config{
		Listen:  "127.0.0.1:0",
		Audit:   hashsvc.AuditConfig{Path: s.AuditPath},
		APIKeys: apiKeys,
		Credentials: []hashsvc.CredentialConfig{
			cred(CredRSA, devpki.SignerRSAKeyFile, devpki.SignerRSACertFile),
			cred(CredP256, devpki.SignerP256KeyFile, devpki.SignerP256CertFile),
			cred(CredP384, devpki.SignerP384KeyFile, devpki.SignerP384CertFile),
		},
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mount := map[string]http.Handler{}
	if opts.TSA {
		trust, err := devtrust.New(p, devtrust.Options{})
		if err != nil {
			t.Fatal(err)
		}
		mount[devtrust.TSAPath] = trust.Handler()
		s.Config.TSA = hashsvc.TSAConfig{URL: "http://" + ln.Addr().String() + devtrust.TSAPath, Roots: filepath.Join(dir, devpki.RootCertFile)}
	}
	if opts.Edit != nil {
		opts.Edit(s.Config)
	}
	so := hashsvc.Options{Config: s.Config, Audit: opts.Audit, Mount: mount, Logger: opts.Logger}
	if opts.Service != nil {
		opts.Service(&so)
	}
	svc, err := hashsvc.New(context.Background(), so)
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	s.Service = svc
	s.Server = &httptest.Server{Listener: ln, Config: &http.Server{Handler: svc.Handler()}}
	s.Server.Start()
	t.Cleanup(func() {
		s.Server.Close()
		svc.Close()
	})
	return s
}

// Serve runs serve, such as the service's own Serve (with its TLS,
// connection limit and address checks, which the httptest server skips)
// or ServeMetrics, on a new listener on 127.0.0.1 until the test ends, and
// returns the listener's address.
func Serve(t testing.TB, serve func(context.Context, net.Listener) error) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("serving: %v", err)
		}
	})
	return ln.Addr().String()
}

// ModuleRoot returns the directory of hashsign's go.mod.
func ModuleRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the working directory")
		}
		dir = parent
	}
}

// Build builds a command of the module (such as "./cmd/hashsvc") into a
// temporary directory and returns the binary's path. Under go test -cover
// the command is built with coverage, and GOCOVERDIR in the test process's
// environment names the directory of the test binary's counters
// (testenv.CoverDir): the commands that the test starts with that
// environment write their counters there too, so that what they run
// counts in the coverage of the package under test.
func Build(t testing.TB, pkg string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), filepath.Base(pkg))
	args := []string{"build", "-o", bin}
	if dir := testenv.CoverDir(); dir != "" {
		// only the command's own package: the packages it imports have
		// tests of their own
		args = append(args, "-cover", "-covermode="+testing.CoverMode(), "-coverpkg="+pkg)
		os.Setenv("GOCOVERDIR", dir)
	}
	cmd := exec.Command("go", append(args, pkg)...)
	cmd.Dir = ModuleRoot(t)
	cmd.Env = append(os.Environ(), "GOTOOLCHAIN=local")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, out)
	}
	return bin
}

// Dev is a `hashsvc serve -dev` process.
type Dev struct {
	Cmd    *exec.Cmd
	URL    string
	Dir    string
	APIKey string
	// Stderr collects the process's logs.
	Stderr *SyncBuffer
	done   chan struct{}
	err    error
}

// listening matches the first line of `hashsvc serve`.
var listening = regexp.MustCompile(`^listening on (http://127\.0\.0\.1:[0-9]+)$`)

// StartDev starts `bin serve -dev dir -addr addr` and waits for its
// "listening on" line. The process is killed when the test ends.
func StartDev(t testing.TB, bin, dir, addr string) *Dev {
	t.Helper()
	d, err := TryStartDev(bin, dir, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Kill() })
	return d
}

// TryStartDev is StartDev without a test: the caller must Kill or Stop the
// process.
func TryStartDev(bin, dir, addr string) (*Dev, error) {
	cmd := exec.Command(bin, "serve", "-dev", dir, "-addr", addr, "-log-format", "text")
	d := &Dev{Cmd: cmd, Dir: dir, Stderr: &SyncBuffer{}, done: make(chan struct{})}
	cmd.Stderr = d.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		io.Copy(io.Discard, stdout)
	}()
	go func() {
		d.err = cmd.Wait()
		close(d.done)
	}()
	// the first line, or none when the process ends without one
	line, ok := <-lines
	m := listening.FindStringSubmatch(line)
	if !ok || m == nil {
		d.Kill()
		return nil, fmt.Errorf("hashsvc serve -dev: first line %q, want \"listening on http://127.0.0.1:PORT\"; stderr:\n%s", line, d.Stderr)
	}
	d.URL = m[1]
	key, err := os.ReadFile(filepath.Join(dir, hashsvc.DevAPIKeyFile))
	if err != nil {
		d.Kill()
		return nil, err
	}
	d.APIKey = strings.TrimSpace(string(key))
	return d, nil
}

// Kill kills the process (SIGKILL) and waits for it.
func (d *Dev) Kill() {
	d.Cmd.Process.Kill()
	<-d.done
}

// Stop sends SIGTERM and returns the process's exit error once it exits.
func (d *Dev) Stop() error {
	d.Cmd.Process.Signal(syscall.SIGTERM)
	<-d.done
	return d.err
}

// Done is closed when the process has exited.
func (d *Dev) Done() <-chan struct{} { return d.done }

// SyncBuffer is a bytes buffer safe for concurrent writes and reads.
type SyncBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Validator returns the path of ../shared/validate/check-signed-pdf. When
// it or its tools are missing, the test fails under CI (CI=true) and is
// skipped elsewhere.
func Validator(t testing.TB) string {
	t.Helper()
	p := filepath.Join(filepath.Dir(ModuleRoot(t)), "shared", "validate", "check-signed-pdf")
	testenv.Need(t, p, "CI runs with shared/ beside the project")
	for _, tool := range []string{"qpdf", "pdfsig", "mutool", "certutil", "javac"} {
		testenv.Need(t, tool, "check-signed-pdf --install")
	}
	return p
}

// Validate runs check-signed-pdf on file with the trust anchor root at
// level, and with the flags extra (such as --password PW or --newest 2),
// and fails the test unless it exits 0.
func Validate(t testing.TB, validator, root, level, file string, extra ...string) {
	t.Helper()
	validate(t, validator, root, level, file, false, extra)
}

// ValidatePSS is Validate for an RSASSA-PSS signature: the failure of
// MuPDF's check alone is tolerated (see testenv.OnlyMuPDFFails).
func ValidatePSS(t testing.TB, validator, root, level, file string, extra ...string) {
	t.Helper()
	validate(t, validator, root, level, file, true, extra)
}

func validate(t testing.TB, validator, root, level, file string, pss bool, extra []string) {
	t.Helper()
	args := append([]string{"--trust", root, "--level", level}, extra...)
	out, err := exec.Command(validator, append(args, file)...).CombinedOutput()
	if err != nil && pss && testenv.OnlyMuPDFFails(string(out)) {
		t.Logf("check-signed-pdf --level %s %s: %s; MuPDF's failure tolerated for RSASSA-PSS", level, filepath.Base(file), lastLine(string(out)))
		return
	}
	if err != nil {
		t.Errorf("check-signed-pdf --level %s %s: %v\n%s", level, filepath.Base(file), err, out)
		return
	}
	t.Logf("check-signed-pdf --level %s %s: %s", level, filepath.Base(file), lastLine(string(out)))
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// Unprivileged makes cmd run as user nobody (65534) when this process is
// root, whom file modes do not stop, and reports whether it will. The files
// that cmd needs must be reachable by that user (see Searchable).
func Unprivileged(cmd *exec.Cmd) bool {
	if os.Geteuid() != 0 {
		return false
	}
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Credential = &syscall.Credential{Uid: 65534, Gid: 65534}
	return true
}

// Searchable makes dir and its parents below the system's temporary
// directory searchable by everyone (0755), and dir writable by everyone
// (0777) when writable is set, for a process that Unprivileged started.
func Searchable(t testing.TB, dir string, writable bool) {
	t.Helper()
	mode := os.FileMode(0o755)
	if writable {
		mode = 0o777
	}
	if err := os.Chmod(dir, mode); err != nil {
		t.Fatal(err)
	}
	for d := filepath.Dir(dir); strings.HasPrefix(d, os.TempDir()) && d != os.TempDir(); d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

// GenPDF writes a PDF of about size bytes (such as "10MiB") to path with
// the module's bench/genpdf.
func GenPDF(t testing.TB, size, path string) {
	t.Helper()
	bin := Build(t, "./bench/genpdf")
	if out, err := exec.Command(bin, "-size", size, "-o", path).CombinedOutput(); err != nil {
		t.Fatalf("genpdf: %v\n%s", err, out)
	}
}

// Proxy is a TCP proxy on 127.0.0.1 that forwards to a target address and
// counts (and keeps) the bytes that clients send.
type Proxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	sent   []byte
	conns  int
	open   map[net.Conn]bool
}

// NewProxy starts a proxy to target (host:port). It is closed when the
// test ends.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{ln: ln, target: target, open: map[net.Conn]bool{}}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			p.conns++
			p.open[c] = true
			p.mu.Unlock()
			wg.Go(func() {
				p.serve(c)
				p.mu.Lock()
				delete(p.open, c)
				p.mu.Unlock()
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		for c := range p.open {
			c.Close() // idle keep-alive connections
		}
		p.mu.Unlock()
		wg.Wait()
	})
	return p
}

func (p *Proxy) serve(c net.Conn) {
	defer c.Close()
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	defer up.Close()
	done := make(chan struct{})
	go func() {
		io.Copy(c, up)
		c.Close()
		close(done)
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			p.mu.Lock()
			p.sent = append(p.sent, buf[:n]...)
			p.mu.Unlock()
			if _, werr := up.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	up.Close()
	<-done
}

// URL returns http://ADDR of the proxy.
func (p *Proxy) URL() string { return "http://" + p.ln.Addr().String() }

// Sent returns a copy of every byte clients sent through the proxy.
func (p *Proxy) Sent() []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]byte(nil), p.sent...)
}

// Conns returns the number of connections accepted.
func (p *Proxy) Conns() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.conns
}

// Metric returns the value of one sample of the /metrics of the service at
// base, named as the exposition writes it with its labels, such as
// `hashsvc_requests_in_flight` or
// `hashsvc_requests_total{route="/csc/v2/signatures/signHash",code="200"}`;
// 0 when the service has no such sample yet.
func Metric(t testing.TB, base, sample string) int {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, sample+" "); ok {
			n, err := strconv.Atoi(v)
			if err != nil {
				t.Fatalf("metric %q", line)
			}
			return n
		}
	}
	return 0
}

// DevServer is a development service served in process.
type DevServer struct {
	*hashsvc.Dev
	stop func()
}

// Stop stops serving and closes the service, as at the end of the test.
func (d *DevServer) Stop() { d.stop() }

// ServeDev runs a development service (hashsvc.NewDev) in process on
// loopback until the test ends or Stop.
func ServeDev(t testing.TB, opts hashsvc.DevOptions) *DevServer {
	t.Helper()
	d, err := hashsvc.NewDev(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- d.Serve(ctx, d.Listener) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			<-served
			d.Close()
		})
	}
	t.Cleanup(stop)
	return &DevServer{Dev: d, stop: stop}
}

// Signatures returns the number of signatures, document timestamps aside,
// of the PDF at path, and fails the test unless every signature and
// document timestamp of it is intact.
func Signatures(t testing.TB, path string) int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	rep, err := pades.Inspect(context.Background(), f, st.Size(), nil)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	n := 0
	for _, fl := range rep.Fields {
		if !fl.Signed {
			continue
		}
		if fl.Intact == nil || !*fl.Intact {
			t.Errorf("%s: %s %s is not intact: %s", path, fl.Type, fl.Field, fl.Problem)
		}
		if fl.Type != "DocTimeStamp" {
			n++
		}
	}
	return n
}

// SlowRequest is a POST in flight: its body is sent in two parts, the
// second when the test says.
type SlowRequest struct {
	pw   *io.PipeWriter
	rest []byte
	done chan SlowResult
}

// SlowResult is the answer to a SlowRequest.
type SlowResult struct {
	Code int
	Body []byte
	Err  error
}

// StartSlow posts body to base+path with the API key, sends the first
// bytes of the body and returns once the service's handler runs: when the
// in-flight gauge of base's /metrics, read by a request of its own, counts
// both.
func StartSlow(t testing.TB, base, path, apiKey string, body []byte) *SlowRequest {
	t.Helper()
	pr, pw := io.Pipe()
	req, err := http.NewRequest(http.MethodPost, base+path, pr)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+apiKey)
	req.Header.Set("Content-Type", "application/json")
	req.ContentLength = int64(len(body))
	r := &SlowRequest{pw: pw, rest: body[10:], done: make(chan SlowResult, 1)}
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			r.done <- SlowResult{Err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		r.done <- SlowResult{Code: resp.StatusCode, Body: b, Err: err}
	}()
	if _, err := pw.Write(body[:10]); err != nil {
		t.Fatal(err)
	}
	for Metric(t, base, "hashsvc_requests_in_flight") < 2 {
		runtime.Gosched()
	}
	return r
}

// Finish sends the rest of the body and returns the answer.
func (r *SlowRequest) Finish() SlowResult {
	r.pw.Write(r.rest)
	r.pw.Close()
	return <-r.done
}

// WaitClosed returns once a connection to addr (host:port) is refused:
// the listener is closed.
func WaitClosed(addr string) {
	for {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return
		}
		c.Close()
		runtime.Gosched()
	}
}
