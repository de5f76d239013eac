package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"hashsign/csc"
	"hashsign/hashsvc"
	"hashsign/hashsvc/hashsvctest"
	"hashsign/internal/devpki"
	"hashsign/internal/testenv"
	"hashsign/pades/batch"
	"hashsign/testdata/pdfgen"
)

// batchInputs writes good PDFs of several kinds and one file that is not
// a PDF (broken.pdf) into a new directory, which it returns with the
// names of the good ones.
func batchInputs(t *testing.T, good int) (string, []string) {
	t.Helper()
	dir := t.TempDir()
	kinds := []pdfgen.Kind{pdfgen.Table, pdfgen.Stream, pdfgen.Hybrid, pdfgen.TableIncremental, pdfgen.StreamIncremental}
	var names []string
	for i := range good {
		b, err := pdfgen.Bytes(kinds[i%len(kinds)], pdfgen.Options{Pages: 1 + i%3})
		if err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("doc%02d.pdf", i)
		writeFile(t, dir, name, b)
		names = append(names, name)
	}
	writeFile(t, dir, "broken.pdf", []byte("%PDF-1.7\nthis file ends before any object\n"))
	writeFile(t, dir, "notes.txt", []byte("not a PDF name: skipped by -in\n"))
	return dir, names
}

// outputs lists the files of the output directory dir, without the
// journal and the temporary files of outputs not committed.
func outputs(t *testing.T, dir string) []os.DirEntry {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []os.DirEntry
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), ".") {
			out = append(out, e)
		}
	}
	return out
}

// hidden lists the names of the files of dir that outputs leaves out,
// other than the journal.
func hidden(t *testing.T, dir string) []string {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") && e.Name() != batch.JournalName {
			names = append(names, e.Name())
		}
	}
	return names
}

// runBin runs a built command and returns its exit code and output.
func runBin(t *testing.T, bin string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, stdout.String(), stderr.String()
	case errors.As(err, &ee):
		return ee.ExitCode(), stdout.String(), stderr.String()
	}
	t.Fatalf("%s: %v", bin, err)
	return 0, "", ""
}

// signHashMetrics returns the number of signHash requests that the
// service at base answered with 200 and the signatures it made for
// credential, from its /metrics.
func signHashMetrics(t *testing.T, base, credential string) (requests, signatures int) {
	t.Helper()
	return hashsvctest.Metric(t, base, `hashsvc_requests_total{route="`+csc.PathSignHash+`",code="200"}`),
		hashsvctest.Metric(t, base, `hashsvc_signatures_total{credential="`+credential+`",operation="signHash"}`)
}

// TestBatch runs the built `pades batch` with a key file and with `hashsvc
// serve -dev` as the remote signer, at B-B and B-LTA, on a folder holding
// one broken file: that one fails alone, with one line, the exit status is
// 1, and every other output passes check-signed-pdf at its level. Through
// the remote signer the documents take fewer signHash calls than there are
// documents, as the service's metrics count them.
func TestBatch(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs pades and hashsvc")
	}
	c := startDevCLI(t)
	validator, pades, dev, root, pki := c.validator, c.bin, c.dev, c.root, c.pki
	apiKey := filepath.Join(dev.Dir, hashsvc.DevAPIKeyFile)
	keyFile := []string{"-key", filepath.Join(pki, devpki.SignerRSAKeyFile), "-cert", filepath.Join(pki, devpki.SignerRSACertFile),
		"-chain", filepath.Join(dev.Dir, hashsvc.DevChainFile)}
	remoteRSA := []string{"-remote", dev.URL, "-credential", hashsvc.DevCredentialRSA, "-api-key-file", apiKey}
	ltaFlags := []string{"-level", "B-LTA", "-tsa", dev.URL + "/tsa", "-trust", root}

	for _, tc := range []struct {
		name   string
		signer []string
		level  []string
		want   string
	}{
		{"key file B-B", keyFile, nil, "B-B"},
		{"key file B-LTA", keyFile, ltaFlags, "B-LTA"},
		{"remote B-B", remoteRSA, nil, "B-B"},
		{"remote B-LTA", remoteRSA, ltaFlags, "B-LTA"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const good = 5
			in, names := batchInputs(t, good)
			out := filepath.Join(t.TempDir(), "not", "yet")
			reqs0, sigs0 := signHashMetrics(t, dev.URL, hashsvc.DevCredentialRSA)
			args := append(append(append([]string{"batch"}, tc.signer...), tc.level...), "-workers", "2", "-in", in, "-out", out)
			code, stdout, stderr := runBin(t, pades, args...)
			if code != 1 {
				t.Fatalf("exit %d, want 1 (one document failed)\n%s%s", code, stdout, stderr)
			}
			lines := strings.Split(strings.TrimSpace(stderr), "\n")
			if len(lines) != 2 || !strings.Contains(lines[0], "broken.pdf") || lines[1] != "pades batch: 1 of 6 documents not signed" {
				t.Errorf("standard error, want one line for broken.pdf and the count:\n%s", stderr)
			}
			if !strings.Contains(stdout, fmt.Sprintf("signed %d of 6 documents", good)) {
				t.Errorf("standard output:\n%s", stdout)
			}
			entries := outputs(t, out)
			if len(entries) != good {
				t.Errorf("%d files in the output directory, want the %d signed documents", len(entries), good)
			}
			for _, name := range names {
				hashsvctest.Validate(t, validator, root, tc.want, filepath.Join(out, name))
			}
			if tc.signer[0] == "-remote" {
				reqs, sigs := signHashMetrics(t, dev.URL, hashsvc.DevCredentialRSA)
				t.Logf("%d documents: %d signHash requests", sigs-sigs0, reqs-reqs0)
				if sigs-sigs0 != good || reqs-reqs0 >= good {
					t.Errorf("%d signatures in %d signHash requests; want %d in fewer requests", sigs-sigs0, reqs-reqs0, good)
				}
			}
		})
	}

	t.Run("many documents", func(t *testing.T) {
		const n = 40
		in, _ := batchInputs(t, n)
		os.Remove(filepath.Join(in, "broken.pdf"))
		out := t.TempDir()
		reqs0, sigs0 := signHashMetrics(t, dev.URL, hashsvc.DevCredentialP256)
		args := append(append([]string{"batch"}, remoteRSA...), "-credential", hashsvc.DevCredentialP256, "-batch-size", "16", "-workers", "2", "-in", in, "-out", out)
		if code, stdout, stderr := runBin(t, pades, args...); code != 0 {
			t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
		}
		reqs, sigs := signHashMetrics(t, dev.URL, hashsvc.DevCredentialP256)
		t.Logf("%d documents, batches of up to 16: %d signHash requests", sigs-sigs0, reqs-reqs0)
		// The first 34 documents (2 workers + 2 batches of 16) are
		// announced before any starts: the first two requests hold 16
		// hashes each whatever the timing, and no request holds more.
		if lo, hi := (n+15)/16, 2+n-32; sigs-sigs0 != n || reqs-reqs0 < lo || reqs-reqs0 > hi {
			t.Errorf("%d signatures in %d signHash requests; want %d in %d to %d requests", sigs-sigs0, reqs-reqs0, n, lo, hi)
		}
		for i := range n {
			intact(t, filepath.Join(out, fmt.Sprintf("doc%02d.pdf", i)))
		}
	})
}

// TestBatchServiceKilled kills the service (SIGKILL) when the second
// signHash request reaches it: the documents of the first request are
// signed, the batch stops with the signer's error, and no other output
// appears.
func TestBatchServiceKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs hashsvc")
	}
	dev := hashsvctest.StartDev(t, hashsvctest.Build(t, "./cmd/hashsvc"), t.TempDir(), "127.0.0.1:0")
	u, err := url.Parse(dev.URL)
	if err != nil {
		t.Fatal(err)
	}
	var signHashes atomic.Int64
	firstAnswered, killed := make(chan struct{}), make(chan struct{})
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ErrorLog = log.New(io.Discard, "", 0) // the service is down on purpose
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != csc.PathSignHash {
			rp.ServeHTTP(w, r)
			return
		}
		switch signHashes.Add(1) {
		case 1:
			rp.ServeHTTP(w, r)
			close(firstAnswered)
			return
		case 2:
			<-firstAnswered
			dev.Kill()
			close(killed)
		default:
			// a third batch (two documents, say) can be on its way
			// before the first is answered: it fails too
			<-killed
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	in, _ := batchInputs(t, 30)
	os.Remove(filepath.Join(in, "broken.pdf"))
	out := t.TempDir()
	code, stdout, stderr := runCLI("batch", "-remote", front.URL, "-credential", hashsvc.DevCredentialP256, "-api-key-file", writeKey(t, dev.APIKey),
		"-remote-attempts", "2", "-batch-size", "4", "-workers", "2", "-in", in, "-out", out)
	t.Logf("stderr:\n%s", stderr)
	if code != 1 || !strings.Contains(stderr, "pades batch: stopped, 26 of 30 documents not signed") {
		t.Fatalf("exit %d, want 1 and the batch stopped after the first 4 documents\n%s", code, stdout)
	}
	entries := outputs(t, out)
	if len(entries) != 4 {
		t.Errorf("%d files in the output directory, want the 4 of the first request", len(entries))
	}
	for _, e := range entries {
		intact(t, filepath.Join(out, e.Name()))
	}
}

// TestBatchUsage checks the command line of batch: each mistake is one
// line and exit status 2, before anything is written.
func TestBatchUsage(t *testing.T) {
	pki := testPKIDir(t)
	key := []string{"-key", filepath.Join(pki, devpki.SignerRSAKeyFile), "-cert", filepath.Join(pki, devpki.SignerRSACertFile)}
	in, _ := batchInputs(t, 1)
	other := t.TempDir()
	twin := writeFile(t, other, "doc00.pdf", samplePDF(t))
	out := filepath.Join(t.TempDir(), "out")
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no output directory", append(key, "-in", in), 2, "-out DIR"},
		{"no input", append(key, "-out", out), 2, "no input"},
		{"no signer", []string{"-in", in, "-out", out}, 2, "no signer"},
		{"two signers", append(key, "-p12", "x.p12", "-in", in, "-out", out), 2, "either -key or -p12"},
		{"batch size without remote", append(key, "-batch-size", "8", "-in", in, "-out", out), 2, "-batch-size goes with -remote"},
		{"no workers", append(key, "-workers", "0", "-in", in, "-out", out), 2, "-workers must be at least 1"},
		{"two inputs, one output", append(key, "-in", in, "-out", out, twin), 2, "would both be written to"},
		{"output is the input", append(key, "-in", in, "-out", in), 2, "must not be the input file"},
		{"level without TSA", append(key, "-level", "B-T", "-in", in, "-out", out), 2, "needs -tsa"},
		{"empty input directory", append(key, "-in", t.TempDir(), "-out", out), 1, "holds no .pdf file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runCLI(append([]string{"batch"}, tc.args...)...)
			if code != tc.code || !strings.Contains(stderr, tc.want) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
				t.Errorf("exit %d, stderr %q; want exit %d and one line saying %q", code, stderr, tc.code, tc.want)
			}
			if _, err := os.Stat(out); err == nil {
				t.Error("the output directory was created")
			}
		})
	}
}

// startBatch starts the built `pades batch` with args and returns a
// channel closed when it has exited.
func startBatch(t *testing.T, bin string, args ...string) (*exec.Cmd, <-chan struct{}) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"batch"}, args...)...)
	var out hashsvctest.SyncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("killed batch's output:\n%s", out.String())
		}
	})
	return cmd, exited
}

// journalDone returns the number of done records of the journal at path.
func journalDone(path string) int {
	b, _ := os.ReadFile(path)
	return strings.Count(string(b), `{"op":"done"`)
}

// until waits, checking after each event of tick, until cond holds; it
// fails the test if the batch exits first.
func until(t *testing.T, exited <-chan struct{}, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-exited:
			if !cond() {
				t.Fatal("the batch exited before the moment the test waits for")
			}
			return
		case <-time.After(5 * time.Millisecond): // polling interval, not a deadline
		}
	}
}

// TestBatchKilled kills `pades batch` (SIGKILL) at moments the test
// chooses by events, starts it again with the same command line, and
// checks that every document ends signed exactly once and that every
// output passes check-signed-pdf:
//   - with the remote signer, when the journal shows the 4 documents of the
//     first signHash request done and the second request is held by a
//     proxy: the service makes 4 signatures, then the second run 8 more,
//     12 in all for 12 documents;
//   - in place at B-LTA, when the second document's document timestamp is
//     held: that file holds an incomplete update at the kill; the second
//     run cuts it back and signs it.
func TestBatchKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs pades and hashsvc")
	}
	c := startDevCLI(t)
	validator, bin, dev, root := c.validator, c.bin, c.dev, c.root
	u, err := url.Parse(dev.URL)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ErrorLog = log.New(io.Discard, "", 0)
	// hold, when set, is the path and number of the first request the
	// proxy holds, with those after it, until release is closed; then it
	// fails them
	var (
		mu       sync.Mutex
		holdPath string
		holdAt   int64
		seen     = map[string]*atomic.Int64{}
		held     chan struct{} // signalled when the first request is held
		release  chan struct{}
		stop     = make(chan struct{}) // closed when the test ends: no request stays held
	)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n := seen[r.URL.Path]
		if n == nil {
			n = new(atomic.Int64)
			seen[r.URL.Path] = n
		}
		hold := r.URL.Path == holdPath && n.Add(1) >= holdAt
		rel, signal := release, held
		mu.Unlock()
		if hold {
			select {
			case signal <- struct{}{}:
			default:
			}
			select {
			case <-rel:
			case <-stop:
			}
			http.Error(w, "held", http.StatusServiceUnavailable)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	// runs before front.Close (cleanups run last first): a subtest that
	// failed while a request was held must not leave Close waiting for it
	t.Cleanup(func() { close(stop) })
	heldNow := func() chan struct{} {
		mu.Lock()
		defer mu.Unlock()
		return held
	}
	setHold := func(path string, at int64) {
		mu.Lock()
		holdPath, holdAt, seen = path, at, map[string]*atomic.Int64{}
		if path != "" {
			release, held = make(chan struct{}), make(chan struct{}, 1)
		} else {
			close(release)
		}
		mu.Unlock()
	}

	t.Run("remote", func(t *testing.T) {
		const n = 12
		in, names := batchInputs(t, n)
		os.Remove(filepath.Join(in, "broken.pdf"))
		out := t.TempDir()
		report := filepath.Join(t.TempDir(), "report.jsonl")
		args := []string{"-remote", front.URL, "-credential", hashsvc.DevCredentialP256, "-api-key-file", filepath.Join(dev.Dir, hashsvc.DevAPIKeyFile),
			"-remote-attempts", "1", "-batch-size", "4", "-workers", "2", "-in", in, "-out", out, "-report", report}
		_, sigs0 := signHashMetrics(t, dev.URL, hashsvc.DevCredentialP256)
		setHold(csc.PathSignHash, 2)
		cmd, exited := startBatch(t, bin, args...)
		<-heldNow()
		until(t, exited, func() bool { return journalDone(filepath.Join(out, batch.JournalName)) == 4 })
		cmd.Process.Kill()
		<-exited
		setHold("", 0)
		_, sigs1 := signHashMetrics(t, dev.URL, hashsvc.DevCredentialP256)
		if got := len(outputs(t, out)); sigs1-sigs0 != 4 || got != 4 {
			t.Fatalf("killed run: %d signatures made, %d outputs; want 4 and 4", sigs1-sigs0, got)
		}

		code, stdout, stderr := runBin(t, bin, append([]string{"batch"}, args...)...)
		if code != 0 || !strings.Contains(stdout, fmt.Sprintf("signed %d of %d documents", n, n)) || !strings.Contains(stdout, "4 of them by an earlier run") {
			t.Fatalf("second run: exit %d\n%s%s", code, stdout, stderr)
		}
		_, sigs2 := signHashMetrics(t, dev.URL, hashsvc.DevCredentialP256)
		if sigs2-sigs0 != n {
			t.Errorf("%d signatures made over both runs for %d documents", sigs2-sigs0, n)
		}
		lines := readReport(t, report)
		status := map[batch.Status]int{}
		digests := map[string]bool{}
		for _, l := range lines {
			status[l.Status]++
			if len(l.Digest) != 64 || l.Hash != "sha256" || digests[l.Digest] {
				t.Errorf("report line %+v: want a new SHA-256 digest", l)
			}
			digests[l.Digest] = true
		}
		if len(lines) != n || status[batch.Done] != 4 || status[batch.Signed] != n-4 {
			t.Errorf("report of the second run: %d lines, %v; want %d lines, 4 done and %d signed", len(lines), status, n, n-4)
		}
		for _, name := range names {
			if got := hashsvctest.Signatures(t, filepath.Join(out, name)); got != 1 {
				t.Errorf("%s: %d signatures, want 1", name, got)
			}
		}
		if h := hidden(t, out); len(h) != 0 {
			t.Errorf("temporary files left after the second run: %v", h)
		}
		for _, name := range names {
			hashsvctest.Validate(t, validator, root, "B-B", filepath.Join(out, name))
		}
	})

	t.Run("in place", func(t *testing.T) {
		const n = 4
		in, names := batchInputs(t, n)
		os.Remove(filepath.Join(in, "broken.pdf"))
		orig := map[string][]byte{}
		for _, name := range names {
			orig[name], _ = os.ReadFile(filepath.Join(in, name))
		}
		pki := filepath.Join(dev.Dir, hashsvc.DevPKIDir)
		args := []string{"-key", filepath.Join(pki, devpki.SignerRSAKeyFile), "-cert", filepath.Join(pki, devpki.SignerRSACertFile),
			"-chain", filepath.Join(dev.Dir, hashsvc.DevChainFile), "-level", "B-LTA", "-tsa", front.URL + "/tsa", "-trust", root,
			"-workers", "1", "-inplace", "-in", in}
		// TSA requests 1 and 2 are the first document's, 3 and 4 the
		// second's: hold the second document's document timestamp
		setHold("/tsa", 4)
		cmd, exited := startBatch(t, bin, args...)
		<-heldNow()
		// the first document commits while the second is held
		until(t, exited, func() bool { return journalDone(filepath.Join(in, batch.JournalName)) == 1 })
		cmd.Process.Kill()
		<-exited
		setHold("", 0)
		var grown []string
		for _, name := range names {
			b, _ := os.ReadFile(filepath.Join(in, name))
			if !bytes.HasPrefix(b, orig[name]) {
				t.Fatalf("%s: the original bytes changed", name)
			}
			if len(b) > len(orig[name]) {
				grown = append(grown, name)
			}
		}
		if done := journalDone(filepath.Join(in, batch.JournalName)); done != 1 || len(grown) != 2 {
			t.Fatalf("killed run: %d done, %d files grown (%v); want 1 done and 2 grown, one of them half signed", done, len(grown), grown)
		}

		code, stdout, stderr := runBin(t, bin, append([]string{"batch"}, args...)...)
		if code != 0 || !strings.Contains(stdout, fmt.Sprintf("signed %d of %d documents", n, n)) {
			t.Fatalf("second run: exit %d\n%s%s", code, stdout, stderr)
		}
		for _, name := range names {
			p := filepath.Join(in, name)
			b, _ := os.ReadFile(p)
			if !bytes.HasPrefix(b, orig[name]) {
				t.Errorf("%s: the original bytes changed", name)
			}
			if got := hashsvctest.Signatures(t, p); got != 1 {
				t.Errorf("%s: %d signatures, want 1", name, got)
			}
		}
		for _, name := range names {
			hashsvctest.Validate(t, validator, root, "B-LTA", filepath.Join(in, name))
		}
	})
}

// readReport reads a JSON-lines report.
func readReport(t *testing.T, path string) []batch.ReportLine {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var lines []batch.ReportLine
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var rl batch.ReportLine
		if err := json.Unmarshal([]byte(l), &rl); err != nil {
			t.Fatalf("report line %q: %v", l, err)
		}
		lines = append(lines, rl)
	}
	return lines
}

// openPTY opens a pseudo-terminal and returns its master and its terminal.
func openPTY(t *testing.T) (master, tty *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		testenv.Missing(t, "no pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return m, s
}

// TestBatchProgress: on a terminal, standard error shows a progress bar
// (documents, MB/s, time left) and the failure above it, and standard
// output holds only the summary; off a terminal, one line per document.
func TestBatchProgress(t *testing.T) {
	pki := testPKIDir(t)
	master, tty := openPTY(t)
	var screen bytes.Buffer
	read := make(chan struct{})
	go func() {
		io.Copy(&screen, master) // until the terminal closes
		close(read)
	}()
	in, _ := batchInputs(t, 3)
	args := []string{"batch", "-key", filepath.Join(pki, devpki.SignerRSAKeyFile), "-cert", filepath.Join(pki, devpki.SignerRSACertFile),
		"-chain", filepath.Join(pki, devpki.IntermediateCertFile), "-in", in}
	var stdout bytes.Buffer
	code := run(context.Background(), append(args, "-out", t.TempDir()), &stdout, tty)
	tty.Close()
	<-read
	shown := screen.String()
	t.Logf("terminal:\n%q", shown)
	if code != 1 || strings.Count(strings.TrimSpace(stdout.String()), "\n") != 0 || !strings.Contains(stdout.String(), "signed 3 of 4 documents") {
		t.Errorf("exit %d, standard output %q: want 1 and the summary alone", code, stdout.String())
	}
	for _, want := range []string{`\d/4 documents, \d+\.\d MB/s, 1 failed +\d+% \|`, `\[\d+s:\d+s\]`, `broken\.pdf: `} {
		if !regexp.MustCompile(want).MatchString(shown) {
			t.Errorf("the terminal does not show %s", want)
		}
	}

	code, plain, stderr := runCLI(append(args, "-out", t.TempDir())...)
	if code != 1 || strings.Count(plain, "] signed ") != 3 || strings.Contains(stderr, "documents,") {
		t.Errorf("off a terminal: exit %d\n%s%s", code, plain, stderr)
	}
}
