package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"hashsign/csc"
	"hashsign/hashsvc"
	"hashsign/hashsvc/hashsvctest"
)

// TestSIGTERM: SIGTERM stops `hashsvc serve` gracefully: the listener
// closes, a request in flight still gets its signature (and its audit
// record), the process exits 0, and the audit log is closed cleanly (its
// write-ahead log checkpointed and removed, the chain intact).
func TestSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs hashsvc")
	}
	bin := hashsvctest.Build(t, "./cmd/hashsvc")
	dir := filepath.Join(t.TempDir(), "dev")
	dev := hashsvctest.StartDev(t, bin, dir, "127.0.0.1:0")
	u, err := url.Parse(dev.URL)
	if err != nil {
		t.Fatal(err)
	}
	audit := filepath.Join(dir, "audit.db")
	if _, err := os.Stat(audit + "-wal"); err != nil {
		t.Fatalf("the running service's audit log has no write-ahead log: %v", err)
	}

	body, _ := json.Marshal(csc.SignHashRequest{CredentialID: hashsvc.DevCredentialRSA, Hashes: []string{b64(bytes.Repeat([]byte{7}, 32))},
		SignAlgo: csc.OIDRSAEncryption, HashAlgorithmOID: csc.OIDSHA256})
	req := hashsvctest.StartSlow(t, dev.URL, csc.PathSignHash, dev.APIKey, body)
	if err := dev.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	hashsvctest.WaitClosed(u.Host)
	r := req.Finish()
	if r.Err != nil || r.Code != 200 || !bytes.Contains(r.Body, []byte(`"signatures"`)) {
		t.Errorf("the request in flight at SIGTERM: %d %s %v", r.Code, r.Body, r.Err)
	}
	<-dev.Done()
	if st := dev.Cmd.ProcessState; st == nil || !st.Exited() || st.ExitCode() != 0 {
		t.Errorf("hashsvc after SIGTERM: %v, want exit status 0\n%s", st, dev.Stderr)
	}
	if !strings.Contains(dev.Stderr.String(), "shut down") {
		t.Errorf("no graceful shutdown in the log:\n%s", dev.Stderr)
	}
	if _, err := os.Stat(audit + "-wal"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the audit log's write-ahead log is still there after SIGTERM (not closed cleanly): %v", err)
	}
	sum, err := hashsvc.VerifyAudit(context.Background(), audit, "")
	if err != nil || sum.Records != 1 {
		t.Errorf("audit log after SIGTERM: %d records, %v; want the request in flight's", sum.Records, err)
	}
}
