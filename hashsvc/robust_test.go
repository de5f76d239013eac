package hashsvc_test

// Tests of the service's defences: readiness that tells the truth about the
// audit log, the audit database's path and modes, RSASSA-PSS salts,
// certificate validity, limits, idempotent retries and key file modes.

import (
	"bufio"
	"bytes"
	"context"
	"crypto"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"hashsign/csc"
	"hashsign/hashsvc"
	"hashsign/hashsvc/hashsvctest"
	"hashsign/internal/devpki"
	"hashsign/signer"
)

// ready returns the status of GET /readyz.
func ready(t *testing.T, base string) int {
	t.Helper()
	resp, err := http.Get(base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// signP256 asks for n ECDSA P-256 signatures with the key of id and returns
// the status and the body.
func signP256(t *testing.T, s *hashsvctest.Server, id string, n int) (int, map[string]any) {
	t.Helper()
	hashes := make([]string, n)
	for i := range hashes {
		hashes[i] = b64(sha(fmt.Sprint("doc ", i)))
	}
	code, _, body := call(t, s.URL+csc.PathSignHash, s.Keys[id],
		csc.SignHashRequest{CredentialID: hashsvctest.CredP256, Hashes: hashes, SignAlgo: csc.OIDECDSAWithSHA256})
	return code, body
}

// TestReadinessAuditReadOnly: a read-only audit database makes /readyz fail
// (the probe's write is refused), and /readyz recovers with the database.
func TestReadinessAuditReadOnly(t *testing.T) {
	audit, err := hashsvc.OpenAudit(context.Background(), filepath.Join(t.TempDir(), "audit.db"))
	if err != nil {
		t.Fatal(err)
	}
	s := hashsvctest.NewServer(t, hashsvctest.Options{Audit: audit})
	if c := ready(t, s.URL); c != http.StatusOK {
		t.Fatalf("readyz with a writable audit log: %d", c)
	}
	if err := hashsvc.AuditExec(audit, `PRAGMA query_only = 1`); err != nil {
		t.Fatal(err)
	}
	if c := ready(t, s.URL); c != http.StatusServiceUnavailable {
		t.Errorf("readyz with a read-only audit log: %d, want 503", c)
	}
	if code, body := signP256(t, s, hashsvctest.KeyAll, 1); code != http.StatusInternalServerError || body["signatures"] != nil {
		t.Errorf("signHash with a read-only audit log: %d %v, want 500 without signatures", code, body)
	}
	if err := hashsvc.AuditExec(audit, `PRAGMA query_only = 0`); err != nil {
		t.Fatal(err)
	}
	if c := ready(t, s.URL); c != http.StatusOK {
		t.Errorf("readyz once the audit log is writable again: %d, want 200", c)
	}
	if code, body := signP256(t, s, hashsvctest.KeyAll, 1); code != http.StatusOK {
		t.Errorf("signHash once the audit log is writable again: %d %v", code, body)
	}
}

// TestReadinessAuditFull: an append that fails because the database cannot
// grow makes the service not ready, although a small write still
// succeeds, until a write as large succeeds.
func TestReadinessAuditFull(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.db")
	audit, err := hashsvc.OpenAudit(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	s := hashsvctest.NewServer(t, hashsvctest.Options{Audit: audit})
	pages, err := hashsvc.AuditPageCount(audit)
	if err != nil {
		t.Fatal(err)
	}
	// The database may not grow: the free pages left by the start
	// check hold a small write, not 256 records.
	if err := hashsvc.AuditExec(audit, fmt.Sprintf(`PRAGMA max_page_count = %d`, pages)); err != nil {
		t.Fatal(err)
	}
	if c := ready(t, s.URL); c != http.StatusOK {
		t.Fatalf("readyz before any failure: %d, want 200 (the probe fits in the free pages)", c)
	}
	if code, body := signP256(t, s, hashsvctest.KeyAll, hashsvc.DefaultMaxBatch); code != http.StatusInternalServerError || body["signatures"] != nil {
		t.Fatalf("signHash of %d hashes with a full audit log: %d %v, want 500 without signatures", hashsvc.DefaultMaxBatch, code, body)
	}
	if c := ready(t, s.URL); c != http.StatusServiceUnavailable {
		t.Errorf("readyz after a failed append: %d, want 503", c)
	}
	if c := ready(t, s.URL); c != http.StatusServiceUnavailable {
		t.Errorf("readyz again, the database still full: %d, want 503", c)
	}
	if err := hashsvc.AuditExec(audit, fmt.Sprintf(`PRAGMA max_page_count = %d`, pages+1000)); err != nil {
		t.Fatal(err)
	}
	if c := ready(t, s.URL); c != http.StatusOK {
		t.Errorf("readyz once the database may grow: %d, want 200", c)
	}
	if code, body := signP256(t, s, hashsvctest.KeyAll, hashsvc.DefaultMaxBatch); code != http.StatusOK {
		t.Errorf("signHash once the database may grow: %d %v", code, body)
	}
	wantAudit(t, path, hashsvc.DefaultMaxBatch)
}

// unprivilegedEnv names the directory of a test that runs again as an
// unprivileged user (see asUnprivileged).
const unprivilegedEnv = "HASHSVC_TEST_UNPRIVILEGED_DIR"

// asUnprivileged runs the test again in a child process as user nobody
// when this process is root, whom file modes do not stop, with dir in
// $HASHSVC_TEST_UNPRIVILEGED_DIR; it reports whether it did, in which case
// the parent's test is done. dir must be reachable by that user
// (hashsvctest.Searchable).
func asUnprivileged(t *testing.T, dir string) bool {
	t.Helper()
	// The test binary may sit in a directory only root can search.
	bin := filepath.Join(dir, "test.bin")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^"+t.Name()+"$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), unprivilegedEnv+"="+dir)
	if !hashsvctest.Unprivileged(cmd) {
		os.Remove(bin)
		return false
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the test as user nobody: %v\n%s", err, out)
	}
	if !bytes.Contains(out, []byte("--- PASS: "+t.Name())) {
		t.Fatalf("the test as user nobody did not pass:\n%s", out)
	}
	t.Logf("as user nobody:\n%s", out)
	return true
}

// TestAuditReadOnlyAtStart: the service does not start on an audit
// database that it cannot write.
func TestAuditReadOnlyAtStart(t *testing.T) {
	ctx := context.Background()
	dir := os.Getenv(unprivilegedEnv)
	if dir == "" {
		dir = t.TempDir()
		a, err := hashsvc.OpenAudit(ctx, filepath.Join(dir, "audit.db"))
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Append(ctx, []hashsvc.Record{{Time: time.Now(), Hash: sha("1")}}); err != nil {
			t.Fatal(err)
		}
		a.Close()
		if err := os.Chmod(filepath.Join(dir, "audit.db"), 0o444); err != nil {
			t.Fatal(err)
		}
		hashsvctest.Searchable(t, dir, true)
		if asUnprivileged(t, dir) {
			return
		}
	}
	_, err := hashsvc.OpenAudit(ctx, filepath.Join(dir, "audit.db"))
	if err == nil || !strings.Contains(err.Error(), "cannot be written") {
		t.Fatalf("OpenAudit of a read-only database: %v, want \"cannot be written\"", err)
	}
	t.Logf("refused: %v", err)
	// It can still be verified.
	if sum, err := hashsvc.VerifyAudit(ctx, filepath.Join(dir, "audit.db"), ""); err != nil || sum.Records != 1 {
		t.Errorf("VerifyAudit of the read-only database: %d records, %v", sum.Records, err)
	}
}

// TestNewRefusesUnwritableAudit: New checks an audit log it is given.
func TestNewRefusesUnwritableAudit(t *testing.T) {
	audit, err := hashsvc.OpenAudit(context.Background(), filepath.Join(t.TempDir(), "audit.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer audit.Close()
	if err := hashsvc.AuditExec(audit, `PRAGMA query_only = 1`); err != nil {
		t.Fatal(err)
	}
	cfg := hashsvctest.NewServer(t, hashsvctest.Options{}).Config
	srv, err := hashsvc.New(context.Background(), hashsvc.Options{Config: cfg, Audit: audit})
	if err == nil {
		srv.Close()
		t.Fatal("New accepted an audit log that cannot be written")
	}
	t.Logf("refused: %v", err)
}

// TestAuditPath: the audit path is a file name, whatever characters it
// holds; the database and its -wal and -shm files are 0600; in-memory
// databases are refused.
func TestAuditPath(t *testing.T) {
	top := t.TempDir()
	dir := filepath.Join(top, "a#b?c%2e d")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "audit.db")
	s := hashsvctest.NewServer(t, hashsvctest.Options{Edit: func(c *hashsvc.Config) { c.Audit.Path = path }})
	if code, body := signP256(t, s, hashsvctest.KeyAll, 1); code != http.StatusOK {
		t.Fatalf("signHash: %d %v", code, body)
	}
	for _, suffix := range []string{"", "-wal", "-shm"} {
		fi, err := os.Stat(path + suffix)
		if err != nil {
			t.Errorf("the audit database is not where configured: %v", err)
			continue
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %04o, want 0600", filepath.Base(path+suffix), fi.Mode().Perm())
		}
	}
	// Nothing was created beside the directory (such as "a", the path
	// cut at "#").
	if entries, _ := os.ReadDir(top); len(entries) != 1 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("files beside the audit directory: %q", names)
	}
	s.Close()
	s.Service.Close()
	if n := auditCount(t, path); n != 1 {
		t.Errorf("the database at the configured path holds %d records, want 1", n)
	}

	for _, p := range []string{":memory:", "file::memory:?cache=shared", "file:" + path + "?mode=memory"} {
		cfg := *s.Config
		cfg.Audit.Path = p
		if err := cfg.Check(); err == nil {
			t.Errorf("audit.path %q accepted", p)
		}
	}
	if _, err := hashsvc.OpenAudit(context.Background(), ":memory:"); err == nil {
		t.Error("OpenAudit accepted an in-memory database")
	}
}

// TestPSSSaltLength: RSASSA-PSS is signed with exactly the salt length
// asked for, and a length of 0, which crypto/rsa cannot honour, is refused.
func TestPSSSaltLength(t *testing.T) {
	s := hashsvctest.NewServer(t, hashsvctest.Options{})
	pub := s.PKI.SignerRSA.Cert.PublicKey.(*rsa.PublicKey)
	digest := sha("pss")
	for _, tc := range []struct {
		salt int
		code int
	}{
		{0, http.StatusBadRequest},
		{20, http.StatusOK},
		{32, http.StatusOK},
	} {
		t.Run(strconv.Itoa(tc.salt), func(t *testing.T) {
			params, err := csc.MarshalPSSParams(crypto.SHA256, tc.salt)
			if err != nil {
				t.Fatal(err)
			}
			code, _, body := call(t, s.URL+csc.PathSignHash, s.Keys[hashsvctest.KeyAll], csc.SignHashRequest{
				CredentialID: hashsvctest.CredRSA, Hashes: []string{b64(digest)}, SignAlgo: csc.OIDRSASSAPSS, SignAlgoParams: b64(params),
			})
			if code != tc.code {
				t.Fatalf("saltLength %d: %d %v, want %d", tc.salt, code, body, tc.code)
			}
			if code != http.StatusOK {
				return
			}
			sig, _ := base64.StdEncoding.DecodeString(body["signatures"].([]any)[0].(string))
			// Verify with the declared salt length, not "auto".
			if err := rsa.VerifyPSS(pub, crypto.SHA256, digest, sig, &rsa.PSSOptions{SaltLength: tc.salt, Hash: crypto.SHA256}); err != nil {
				t.Errorf("the signature does not verify with saltLength %d: %v", tc.salt, err)
			}
		})
	}
	wantAudit(t, s.AuditPath, 2)
}

// TestCredentialValidity: a credential whose certificate has expired or is
// not yet valid does not sign, unless sign_outside_validity says so.
func TestCredentialValidity(t *testing.T) {
	now := time.Now()
	pkis := map[string]devpki.Options{
		"expired": {NotBefore: now.Add(-3 * time.Hour), Validity: time.Hour},
		"future":  {NotBefore: now.Add(time.Hour), Validity: time.Hour},
	}
	dirs := map[string]string{}
	var (
		mu  sync.Mutex
		wg  sync.WaitGroup
		err error
	)
	for name, opts := range pkis {
		dir := t.TempDir()
		dirs[name] = dir
		wg.Go(func() {
			p, e := devpki.Generate(opts)
			if e == nil {
				e = devpki.WriteDir(p, dir)
			}
			mu.Lock()
			err = errors.Join(err, e)
			mu.Unlock()
		})
	}
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	cred := func(id, dir string, allow bool) hashsvc.CredentialConfig {
		return hashsvc.CredentialConfig{ID: id, Key: filepath.Join(dir, devpki.SignerP256KeyFile), Cert: filepath.Join(dir, devpki.SignerP256CertFile),
			Chain: []string{filepath.Join(dir, devpki.IntermediateCertFile)}, SignOutsideValidity: allow}
	}
	var logs hashsvctest.SyncBuffer
	s := hashsvctest.NewServer(t, hashsvctest.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil)), Edit: func(c *hashsvc.Config) {
		c.Credentials = append(c.Credentials,
			cred("expired", dirs["expired"], false), cred("future", dirs["future"], false), cred("expired-allowed", dirs["expired"], true))
	}})
	key := s.Keys[hashsvctest.KeyAll]
	for _, tc := range []struct {
		cred, want string
		code       int
	}{
		{"expired", "expired on", http.StatusBadRequest},
		{"future", "not valid before", http.StatusBadRequest},
		{"expired-allowed", "", http.StatusOK},
		{hashsvctest.CredP256, "", http.StatusOK},
	} {
		code, _, body := call(t, s.URL+csc.PathSignHash, key, csc.SignHashRequest{CredentialID: tc.cred, Hashes: []string{b64(sha("v"))}, SignAlgo: csc.OIDECDSAWithSHA256})
		desc, _ := body["error_description"].(string)
		if code != tc.code || !strings.Contains(desc, tc.want) {
			t.Errorf("signHash with %s: %d %q, want %d %q", tc.cred, code, desc, tc.code, tc.want)
		}
		code, _, body = call(t, s.URL+csc.PathCAdESSign, key, csc.CAdESSignRequest{CredentialID: tc.cred, Digest: b64(sha("d"))})
		if code != tc.code {
			t.Errorf("cades/sign with %s: %d %v, want %d", tc.cred, code, body["error_description"], tc.code)
		}
	}
	wantAudit(t, s.AuditPath, 4)
	if !strings.Contains(logs.String(), "credential=expired ") || !strings.Contains(logs.String(), "credential=future ") {
		t.Errorf("no warning at start about the credentials outside their validity:\n%s", logs.String())
	}
}

// TestRateLimit: past its burst, an API key gets 429 with Retry-After and
// nothing is signed; other keys are not affected.
func TestRateLimit(t *testing.T) {
	s := hashsvctest.NewServer(t, hashsvctest.Options{Edit: func(c *hashsvc.Config) {
		c.Limits.RatePerKey = 0.001 // a token every 1000 s: none comes back during the test
		c.Limits.BurstPerKey = 2
	}})
	for i := range 2 {
		if code, body := signP256(t, s, hashsvctest.KeyP256, 1); code != http.StatusOK {
			t.Fatalf("request %d within the burst: %d %v", i+1, code, body)
		}
	}
	code, h, body := call(t, s.URL+csc.PathSignHash, s.Keys[hashsvctest.KeyP256],
		csc.SignHashRequest{CredentialID: hashsvctest.CredP256, Hashes: []string{b64(sha("x"))}, SignAlgo: csc.OIDECDSAWithSHA256})
	ra, _ := strconv.Atoi(h.Get("Retry-After"))
	if code != http.StatusTooManyRequests || body["signatures"] != nil || ra < 990 || ra > 1000 {
		t.Errorf("past the burst: %d Retry-After %q %v, want 429 with Retry-After 1000", code, h.Get("Retry-After"), body)
	}
	if code, _, _ := call(t, s.URL+csc.PathCredentialsList, s.Keys[hashsvctest.KeyP256], struct{}{}); code != http.StatusTooManyRequests {
		t.Errorf("credentials/list past the burst: %d, want 429", code)
	}
	if code, body := signP256(t, s, hashsvctest.KeyAll, 1); code != http.StatusOK {
		t.Errorf("another key: %d %v", code, body)
	}
	wantAudit(t, s.AuditPath, 3)
}

// TestRateLimiterRefill drives the token bucket with a clock of the test.
func TestRateLimiterRefill(t *testing.T) {
	now := time.Unix(1e9, 0)
	l := hashsvc.NewRateLimiter(2, 3, func() time.Time { return now }) // 2 a second, 3 at once
	step := func(d time.Duration, wantOK bool, wantWait time.Duration) {
		t.Helper()
		now = now.Add(d)
		ok, wait := l.Take("k")
		if ok != wantOK || wait != wantWait {
			t.Errorf("after %v: %v %v, want %v %v", d, ok, wait, wantOK, wantWait)
		}
	}
	step(0, true, 0)
	step(0, true, 0)
	step(0, true, 0)
	step(0, false, 500*time.Millisecond)
	step(250*time.Millisecond, false, 250*time.Millisecond)
	step(250*time.Millisecond, true, 0)
	step(0, false, 500*time.Millisecond)
	step(time.Hour, true, 0) // refilled up to the burst, no more
	step(0, true, 0)
	step(0, true, 0)
	step(0, false, 500*time.Millisecond)
	if ok, _ := l.Take("other"); !ok {
		t.Error("another key shares the bucket")
	}
}

// blockingSigner signs with a file key once release is closed, after
// telling entered that it was called.
type blockingSigner struct {
	signer.Signer
	entered chan struct{}
	release chan struct{}
	once    sync.Once
}

func (b *blockingSigner) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	b.once.Do(func() { close(b.entered) })
	<-b.release
	return b.Signer.Sign(r, digest, opts)
}

// blockingCredential adds credential "slow", whose signatures wait for
// release, to a test server's configuration.
func blockingCredential(t *testing.T) (*blockingSigner, hashsvctest.Options) {
	dir := devpki.DefaultDir()
	hashsvctest.PKI(t)
	fs, err := signer.LoadKeyFile(filepath.Join(dir, devpki.SignerP256KeyFile), filepath.Join(dir, devpki.SignerP256CertFile))
	if err != nil {
		t.Fatal(err)
	}
	b := &blockingSigner{Signer: fs, entered: make(chan struct{}), release: make(chan struct{})}
	return b, hashsvctest.Options{
		Service: func(o *hashsvc.Options) {
			o.KeyOpeners = map[string]hashsvc.KeyOpener{"block": func(context.Context, hashsvc.CredentialConfig) (signer.Signer, error) { return b, nil }}
		},
		Edit: func(c *hashsvc.Config) {
			c.Credentials = append(c.Credentials, hashsvc.CredentialConfig{ID: "slow", Key: "block:slow"})
		},
	}
}

// TestSigningCap: past max_signing requests signing at once, more get 429.
func TestSigningCap(t *testing.T) {
	b, opts := blockingCredential(t)
	edit := opts.Edit
	opts.Edit = func(c *hashsvc.Config) {
		edit(c)
		c.Limits.MaxSigning = 1
	}
	s := hashsvctest.NewServer(t, opts)
	key := s.Keys[hashsvctest.KeyAll]
	first := make(chan int, 1)
	go func() {
		code, _, _ := call(t, s.URL+csc.PathSignHash, key, csc.SignHashRequest{CredentialID: "slow", Hashes: []string{b64(sha("1"))}, SignAlgo: csc.OIDECDSAWithSHA256})
		first <- code
	}()
	<-b.entered
	code, h, body := call(t, s.URL+csc.PathSignHash, key, csc.SignHashRequest{CredentialID: hashsvctest.CredP256, Hashes: []string{b64(sha("2"))}, SignAlgo: csc.OIDECDSAWithSHA256})
	if code != http.StatusTooManyRequests || h.Get("Retry-After") != "1" {
		t.Errorf("a second signing request while one signs: %d Retry-After %q %v, want 429 with Retry-After 1", code, h.Get("Retry-After"), body)
	}
	close(b.release)
	if code := <-first; code != http.StatusOK {
		t.Errorf("the first request: %d", code)
	}
	if code, body := signP256(t, s, hashsvctest.KeyAll, 1); code != http.StatusOK {
		t.Errorf("after the first finished: %d %v", code, body)
	}
	wantAudit(t, s.AuditPath, 2)
}

// TestConnectionCap: with max_connections 1, a second connection is
// served once the first closes.
func TestConnectionCap(t *testing.T) {
	s := hashsvctest.NewServer(t, hashsvctest.Options{Edit: func(c *hashsvc.Config) { c.Limits.MaxConnections = 1 }})
	addr := hashsvctest.Serve(t, s.Service.Serve)
	const req = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
	roundTrip := func(c net.Conn, r *bufio.Reader) int {
		t.Helper()
		if _, err := io.WriteString(c, req); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(r, nil)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	c1, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	r1 := bufio.NewReader(c1)
	if code := roundTrip(c1, r1); code != http.StatusOK {
		t.Fatalf("first connection: status %d", code)
	}
	c2, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if _, err := io.WriteString(c2, req); err != nil {
		t.Fatal(err)
	}
	// While c1 holds the only slot, c2's request waits unserved however
	// much c1 is served meanwhile. Without the cap, the server answers c2
	// alongside these round trips.
	for range 20 {
		if code := roundTrip(c1, r1); code != http.StatusOK {
			t.Fatalf("first connection: status %d", code)
		}
	}
	if n := pendingBytes(t, c2.(*net.TCPConn)); n > 0 {
		t.Fatalf("the second connection was answered (%d bytes) while the first held the only slot", n)
	}
	c1.Close() // frees the slot
	resp, err := http.ReadResponse(bufio.NewReader(c2), nil)
	if err != nil {
		t.Fatalf("second connection after the first closed: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("second connection: status %d", resp.StatusCode)
	}
}

// pendingBytes returns how many bytes c has received and not yet read,
// without waiting (a MSG_PEEK|MSG_DONTWAIT receive).
func pendingBytes(t *testing.T, c *net.TCPConn) int {
	t.Helper()
	raw, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var n int
	var rerr error
	buf := make([]byte, 512)
	if err := raw.Control(func(fd uintptr) {
		n, _, rerr = syscall.Recvfrom(int(fd), buf, syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	}); err != nil {
		t.Fatal(err)
	}
	if errors.Is(rerr, syscall.EAGAIN) {
		return 0
	}
	if rerr != nil {
		t.Fatal(rerr)
	}
	return n
}

// TestMetricsProtected: /metrics requires its key when one is configured,
// and moves to its own listener with metrics.listen.
func TestMetricsProtected(t *testing.T) {
	mkey, msum, err := hashsvc.NewAPIKey()
	if err != nil {
		t.Fatal(err)
	}
	get := func(url, key string) int {
		code, _, b, err := send(http.MethodGet, url, key, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if code == http.StatusOK && !bytes.Contains(b, []byte("hashsvc_requests_total")) {
			t.Errorf("%s: 200 without the metrics", url)
		}
		return code
	}
	s := hashsvctest.NewServer(t, hashsvctest.Options{Edit: func(c *hashsvc.Config) { c.Metrics.SHA256 = msum }})
	for _, tc := range []struct {
		key  string
		code int
	}{
		{"", http.StatusUnauthorized},
		{s.Keys[hashsvctest.KeyAll], http.StatusUnauthorized}, // an API key is not the metrics key
		{mkey, http.StatusOK},
	} {
		if c := get(s.URL+"/metrics", tc.key); c != tc.code {
			t.Errorf("/metrics with key %.8q: %d, want %d", tc.key, c, tc.code)
		}
	}

	s2 := hashsvctest.NewServer(t, hashsvctest.Options{Edit: func(c *hashsvc.Config) { c.Metrics.Listen = "127.0.0.1:0" }})
	if c := get(s2.URL+"/metrics", ""); c != http.StatusNotFound {
		t.Errorf("/metrics on the service's address with metrics.listen: %d, want 404", c)
	}
	if c := get("http://"+hashsvctest.Serve(t, s2.Service.ServeMetrics)+"/metrics", ""); c != http.StatusOK {
		t.Errorf("/metrics on its own listener: %d", c)
	}
}

// TestIdempotentSignHash: a signHash repeated with the same Idempotency-Key
// gets the first answer and signs once; another body with the key is
// refused; another API key's same key is another request.
func TestIdempotentSignHash(t *testing.T) {
	s := hashsvctest.NewServer(t, hashsvctest.Options{})
	body, _ := json.Marshal(csc.SignHashRequest{CredentialID: hashsvctest.CredP256, Hashes: []string{b64(sha("idem"))}, SignAlgo: csc.OIDECDSAWithSHA256})
	path := csc.PathSignHash
	post := func(apiKey, idem string, body []byte) (int, http.Header, []byte) {
		t.Helper()
		code, h, b, err := send(http.MethodPost, s.URL+path, apiKey, http.Header{hashsvc.IdempotencyKeyHeader: {idem}}, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		return code, h, b
	}
	c1, _, b1 := post(s.Keys[hashsvctest.KeyAll], "k-1", body)
	c2, h2, b2 := post(s.Keys[hashsvctest.KeyAll], "k-1", body)
	// ECDSA signatures are randomized: equal answers were not signed twice.
	if c1 != 200 || c2 != 200 || !bytes.Equal(b1, b2) || h2.Get(hashsvc.ReplayedHeader) != "true" {
		t.Errorf("the same request and key twice: %d %s / %d %s (replayed %q), want one answer twice", c1, b1, c2, b2, h2.Get(hashsvc.ReplayedHeader))
	}
	wantAudit(t, s.AuditPath, 1)
	if n := hashsvctest.Metric(t, s.URL, `hashsvc_signatures_total{credential="p256",operation="signHash"}`); n != 1 {
		t.Errorf("signatures made = %d, want 1", n)
	}
	other, _ := json.Marshal(csc.SignHashRequest{CredentialID: hashsvctest.CredP256, Hashes: []string{b64(sha("other"))}, SignAlgo: csc.OIDECDSAWithSHA256})
	if c, _, b := post(s.Keys[hashsvctest.KeyAll], "k-1", other); c != http.StatusUnprocessableEntity {
		t.Errorf("the key with another body: %d %s, want 422", c, b)
	}
	if c, _, b := post(s.Keys[hashsvctest.KeyP256], "k-1", body); c != 200 || bytes.Equal(b, b1) {
		t.Errorf("the key from another API key: %d %s, want a new signature", c, b)
	}
	if c, _, b := post(s.Keys[hashsvctest.KeyAll], "k-2", body); c != 200 || bytes.Equal(b, b1) {
		t.Errorf("another key: %d %s, want a new signature", c, b)
	}
	if c, _, _ := post(s.Keys[hashsvctest.KeyAll], strings.Repeat("k", 200), body); c != http.StatusBadRequest {
		t.Errorf("an idempotency key of 200 characters: %d, want 400", c)
	}
	wantAudit(t, s.AuditPath, 3)

	// Past the window, the key is forgotten.
	now := time.Now()
	hashsvc.SetIdempotencyClock(s.Service, func() time.Time { return now })
	c3, _, b3 := post(s.Keys[hashsvctest.KeyAll], "k-3", body)
	now = now.Add(hashsvc.DefaultIdempotencyWindow - time.Second)
	c4, _, b4 := post(s.Keys[hashsvctest.KeyAll], "k-3", body)
	now = now.Add(2 * time.Second)
	c5, _, b5 := post(s.Keys[hashsvctest.KeyAll], "k-3", body)
	if c3 != 200 || c4 != 200 || c5 != 200 || !bytes.Equal(b3, b4) || bytes.Equal(b3, b5) {
		t.Errorf("within the window the answer repeats, past it a new one: %s / %s / %s", b3, b4, b5)
	}

	// The CSC v1 signHash too.
	path = csc.PathV1SignHash
	c6, _, b6 := post(s.Keys[hashsvctest.KeyAll], "k-v1", body)
	c7, _, b7 := post(s.Keys[hashsvctest.KeyAll], "k-v1", body)
	if c6 != 200 || c7 != 200 || !bytes.Equal(b6, b7) {
		t.Errorf("v1 signHash repeated: %d %s / %d %s, want one answer twice", c6, b6, c7, b7)
	}
}

// TestIdempotentConcurrent: a repeat that arrives while the first request
// signs waits for it and gets its answer.
func TestIdempotentConcurrent(t *testing.T) {
	b, opts := blockingCredential(t)
	s := hashsvctest.NewServer(t, opts)
	body, _ := json.Marshal(csc.SignHashRequest{CredentialID: "slow", Hashes: []string{b64(sha("c"))}, SignAlgo: csc.OIDECDSAWithSHA256})
	answers := make(chan []byte, 2)
	post := func() {
		code, _, a, err := send(http.MethodPost, s.URL+csc.PathSignHash, s.Keys[hashsvctest.KeyAll], http.Header{hashsvc.IdempotencyKeyHeader: {"same"}}, bytes.NewReader(body))
		if err != nil {
			answers <- []byte(err.Error())
			return
		}
		answers <- append([]byte(strconv.Itoa(code)+" "), a...)
	}
	go post()
	<-b.entered
	go post()
	// The second request waits in the service; let the first sign.
	for hashsvctest.Metric(t, s.URL, "hashsvc_requests_in_flight") < 3 {
		runtime.Gosched()
	}
	close(b.release)
	a1, a2 := <-answers, <-answers
	if !bytes.HasPrefix(a1, []byte("200 ")) || !bytes.Equal(a1, a2) {
		t.Errorf("answers %s / %s, want the same 200", a1, a2)
	}
	wantAudit(t, s.AuditPath, 1)
}

// TestKeyFileModes: key and password files that others may read are
// refused, as ssh refuses them.
func TestKeyFileModes(t *testing.T) {
	src := devpki.DefaultDir()
	hashsvctest.PKI(t)
	key, err := os.ReadFile(filepath.Join(src, devpki.SignerP256KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		mode fs.FileMode
		ok   bool
	}{
		{0o600, true},
		{0o400, true},
		{0o640, false},
		{0o604, false},
		{0o620, false},
	} {
		t.Run(fmt.Sprintf("%04o", tc.mode), func(t *testing.T) {
			dir := t.TempDir()
			kf := filepath.Join(dir, "signer.key")
			if err := os.WriteFile(kf, key, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(kf, tc.mode); err != nil {
				t.Fatal(err)
			}
			cfg := &hashsvc.Config{
				Audit:   hashsvc.AuditConfig{Path: filepath.Join(dir, "audit.db")},
				APIKeys: []hashsvc.APIKeyConfig{{ID: "k", SHA256: strings.Repeat("ab", 32), Credentials: []string{"*"}}},
				Credentials: []hashsvc.CredentialConfig{{ID: "c", Key: kf, Cert: filepath.Join(src, devpki.SignerP256CertFile),
					Chain: []string{filepath.Join(src, devpki.IntermediateCertFile)}}},
			}
			srv, err := hashsvc.New(context.Background(), hashsvc.Options{Config: cfg})
			if err == nil {
				srv.Close()
			}
			if ok := err == nil; ok != tc.ok {
				t.Fatalf("key file mode %04o: %v, want accepted %v", tc.mode, err, tc.ok)
			}
			if err != nil && !strings.Contains(err.Error(), "chmod 600") {
				t.Errorf("the error does not say what to do: %v", err)
			}
			// So is the consent secret.
			if err := os.Chmod(kf, 0o600); err != nil {
				t.Fatal(err)
			}
			sf := filepath.Join(dir, "consent-secret")
			if err := os.WriteFile(sf, []byte(strings.Repeat("ab", 32)), 0o600); err != nil {
				t.Fatal(err)
			}
			os.Chmod(sf, tc.mode)
			cfg.Consent.SecretFile = sf
			srv, err = hashsvc.New(context.Background(), hashsvc.Options{Config: cfg})
			if err == nil {
				srv.Close()
			}
			if (err == nil) != tc.ok {
				t.Errorf("consent.secret_file of mode %04o: %v, want accepted %v", tc.mode, err, tc.ok)
			}
			os.Chmod(kf, tc.mode)
			// The TLS key is held to the same rule.
			cfg.TLS = &hashsvc.TLSConfig{Cert: filepath.Join(src, devpki.SignerP256CertFile), Key: kf}
			if _, err := cfg.TLSConfig(); (err == nil) != tc.ok {
				t.Errorf("tls.key of mode %04o: %v, want accepted %v", tc.mode, err, tc.ok)
			}
		})
	}
}

// TestPlainHTTPRefused: Serve refuses plain HTTP on an address that is not
// loopback unless insecure_plain_http is set, and then warns.
func TestPlainHTTPRefused(t *testing.T) {
	for _, tc := range []struct {
		addr     string
		insecure bool
		refused  bool
		warn     bool
	}{
		{"127.0.0.1:8443", false, false, false},
		{"[::1]:8443", false, false, false},
		{"0.0.0.0:8443", false, true, false},
		{"[::]:8443", false, true, false},
		{"192.0.2.10:8443", false, true, false},
		{"0.0.0.0:8443", true, false, true},
		{"192.0.2.10:8443", true, false, true},
	} {
		t.Run(fmt.Sprintf("%s insecure=%v", tc.addr, tc.insecure), func(t *testing.T) {
			var logs hashsvctest.SyncBuffer
			s := hashsvctest.NewServer(t, hashsvctest.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil)),
				Edit: func(c *hashsvc.Config) { c.InsecurePlainHTTP = tc.insecure }})
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			addr, err := net.ResolveTCPAddr("tcp", tc.addr)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			cancel() // Serve shuts down at once; the check comes before
			err = s.Service.Serve(ctx, addrListener{ln, addr})
			if refused := err != nil && strings.Contains(err.Error(), "refusing to serve plain HTTP"); refused != tc.refused {
				t.Errorf("refused %v (%v), want %v", refused, err, tc.refused)
			}
			if warned := strings.Contains(logs.String(), "plain HTTP"); warned != tc.warn {
				t.Errorf("warned %v, want %v; logs:\n%s", warned, tc.warn, logs.String())
			}
		})
	}
}
