package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"hashsign/hashsvc"
	"hashsign/hashsvc/hashsvctest"
	"hashsign/internal/apikey"
	"hashsign/internal/devpki"
	"hashsign/pades/gateway"
)

// gatewayProc is a `pades serve` process.
type gatewayProc struct {
	cmd    *exec.Cmd
	url    string
	key    string // the caller's API key
	stderr *hashsvctest.SyncBuffer
	done   chan struct{}
	err    error
}

var listeningOn = regexp.MustCompile(`^listening on (http://127\.0\.0\.1:[0-9]+)$`)

// startServe writes a configuration of the gateway (config, with an API
// key and the limits given) and starts `bin serve -config FILE args...`.
// The process is killed when the test ends.
func startServe(t testing.TB, bin, config string, args ...string) *gatewayProc {
	t.Helper()
	key, sum, err := apikey.New(gatewayKeyPrefix)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "gateway.yaml")
	if err := os.WriteFile(cfgPath, []byte(fmt.Sprintf("api_keys: [{id: test, sha256: %q}]\n%s", sum, config)), 0o600); err != nil {
		t.Fatal(err)
	}
	g := &gatewayProc{key: key, stderr: &hashsvctest.SyncBuffer{}, done: make(chan struct{})}
	g.cmd = exec.Command(bin, append([]string{"serve", "-config", cfgPath}, args...)...)
	g.cmd.Stderr = g.stderr
	stdout, err := g.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := g.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		g.err = g.cmd.Wait()
		close(g.done)
	}()
	t.Cleanup(func() {
		g.cmd.Process.Kill()
		<-g.done
	})
	sc := bufio.NewScanner(stdout)
	if !sc.Scan() {
		<-g.done
		t.Fatalf("pades serve exited (%v) before listening:\n%s", g.err, g.stderr)
	}
	m := listeningOn.FindStringSubmatch(sc.Text())
	if m == nil {
		t.Fatalf("first line %q, want listening on URL", sc.Text())
	}
	g.url = m[1]
	go io.Copy(io.Discard, stdout)
	return g
}

// post sends body (size bytes) to /v1/sign and writes a 200 answer to out.
func (g *gatewayProc) post(t *testing.T, body io.Reader, size int64, out string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, g.url+gateway.PathSign, body)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = size
	req.Header.Set("Authorization", "Bearer "+g.key)
	req.Header.Set("Content-Type", "application/pdf")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("%s: %s", resp.Status, b)
	}
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if n, err := io.Copy(f, resp.Body); err != nil || n != resp.ContentLength {
		t.Fatalf("the answer: %d of %d bytes: %v", n, resp.ContentLength, err)
	}
	return resp
}

// peakRSS returns the peak resident set size (VmHWM) of a running process,
// in KiB.
func peakRSS(t *testing.T, pid int) int64 {
	t.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no VmHWM in /proc/PID/status")
	return 0
}

// TestServe runs the built `pades serve` with `hashsvc serve -dev` as its
// remote signer, behind a proxy that counts what the signer receives. A
// 200 MiB PDF posted to /v1/sign comes back signed, passing
// check-signed-pdf; the gateway's peak RSS stays under 64 MiB and the
// signer receives under 8 KiB. Then SIGTERM while a document is being
// uploaded: the gateway finishes that request (the document comes back
// signed) and exits 0.
func TestServe(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs pades and hashsvc, signs 200 MiB")
	}
	validator := hashsvctest.Validator(t)
	bin := hashsvctest.Build(t, "./cmd/pades")
	dev := hashsvctest.StartDev(t, hashsvctest.Build(t, "./cmd/hashsvc"), filepath.Join(t.TempDir(), "dev"), "127.0.0.1:0")
	proxy := hashsvctest.NewProxy(t, strings.TrimPrefix(dev.URL, "http://"))
	config := fmt.Sprintf("listen: \"192.0.2.1:8480\"\nsigner:\n  remote: {url: %q, credential: %q, api_key_file: %q}\nstorage: {temp_dir: %q}\n",
		proxy.URL(), hashsvc.DevCredentialRSA, filepath.Join(dev.Dir, hashsvc.DevAPIKeyFile), t.TempDir())
	// -addr replaces the listen address of the configuration
	g := startServe(t, bin, config, "-addr", "127.0.0.1:0", "-log-format", "json")
	root := filepath.Join(dev.Dir, hashsvc.DevRootFile)

	t.Run("200 MiB", func(t *testing.T) {
		dir := t.TempDir()
		big := filepath.Join(dir, "big.pdf")
		hashsvctest.GenPDF(t, "201MiB", big) // genpdf comes within a few KiB of the size asked
		f, err := os.Open(big)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		st, _ := f.Stat()
		if st.Size() < 200<<20 {
			t.Fatalf("the input has %d bytes, want 200 MiB", st.Size())
		}
		sent0 := len(proxy.Sent())
		out := filepath.Join(dir, "signed.pdf")
		g.post(t, f, st.Size(), out)
		rss := peakRSS(t, g.cmd.Process.Pid)
		sent := len(proxy.Sent()) - sent0
		t.Logf("%d MiB signed: gateway peak RSS %d KiB; the signer received %d bytes (%d since the gateway started)", st.Size()>>20, rss, sent, len(proxy.Sent()))
		if rss >= 64<<10 {
			t.Errorf("gateway peak RSS %d KiB, want under 64 MiB", rss)
		}
		if sent <= 0 || len(proxy.Sent()) >= 8<<10 {
			t.Errorf("the signer received %d bytes for the document, %d in all; want some, under 8 KiB", sent, len(proxy.Sent()))
		}
		os.Remove(big)
		hashsvctest.Validate(t, validator, root, "B-B", out)
	})

	// B-LT and B-LTA: the gateway gathers the validation data of the
	// dev PKI (OCSP, CRLs) and, for B-LTA, time-stamps the document
	t.Run("B-LT and B-LTA", func(t *testing.T) {
		config := fmt.Sprintf("signer:\n  remote: {url: %q, credential: %q, api_key_file: %q}\nsignature: {tsa: [%q], trust: [%q]}\nstorage: {temp_dir: %q}\n",
			dev.URL, hashsvc.DevCredentialRSA, filepath.Join(dev.Dir, hashsvc.DevAPIKeyFile), dev.URL+"/tsa", root, t.TempDir())
		lt := startServe(t, bin, config, "-addr", "127.0.0.1:0")
		doc := samplePDF(t)
		for _, level := range []string{"B-LT", "B-LTA"} {
			req, err := http.NewRequest(http.MethodPost, lt.url+gateway.PathSign+"?level="+level, bytes.NewReader(doc))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+lt.key)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("%s: %s %v: %s\n%s", level, resp.Status, err, body, lt.stderr)
			}
			if got := resp.Header.Get(gateway.HeaderLevel); got != level {
				t.Errorf("%s: %s %q", level, gateway.HeaderLevel, got)
			}
			out := filepath.Join(t.TempDir(), level+".pdf")
			if err := os.WriteFile(out, body, 0o644); err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(body, doc) {
				t.Errorf("%s: the answer does not begin with the document posted", level)
			}
			hashsvctest.Validate(t, validator, root, level, out)
		}
	})

	t.Run("SIGTERM", func(t *testing.T) {
		doc := samplePDF(t)
		pr, pw := io.Pipe()
		out := filepath.Join(t.TempDir(), "signed.pdf")
		answered := make(chan *http.Response, 1)
		go func() {
			defer close(answered)
			answered <- g.post(t, pr, int64(len(doc)), out)
		}()
		pw.Write(doc[:len(doc)/2])
		until(t, g.done, func() bool { return hashsvctest.Metric(t, g.url, "pades_gateway_signing") == 1 })
		g.cmd.Process.Signal(syscall.SIGTERM)
		until(t, g.done, func() bool { return strings.Contains(g.stderr.String(), `"msg":"shutting down`) })
		if resp, err := http.Get(g.url + "/healthz"); err == nil {
			resp.Body.Close()
			t.Errorf("a new connection was accepted while shutting down")
		}
		pw.Write(doc[len(doc)/2:])
		pw.Close()
		if resp := <-answered; resp == nil {
			t.Fatal("no answer to the request in flight")
		}
		<-g.done
		if g.err != nil {
			t.Errorf("pades serve: %v\n%s", g.err, g.stderr)
		}
		data, _ := os.ReadFile(out)
		if !bytes.HasPrefix(data, doc) || hashsvctest.Signatures(t, out) != 1 {
			t.Errorf("the document in flight did not come back signed")
		}
		if !strings.Contains(g.stderr.String(), `"msg":"shut down"`) {
			t.Errorf("no shut down line in the logs:\n%s", g.stderr)
		}
	})
}

// TestServeUsage: the subcommands of serve, and its refusals, each in one
// line with a non-zero exit.
func TestServeUsage(t *testing.T) {
	dir := t.TempDir()
	bad := writeFile(t, dir, "bad.yaml", []byte("listen: \"127.0.0.1:0\"\nsigner: {key: k.pem, cert: c.pem}\n"))
	_, sum, _ := apikey.New(gatewayKeyPrefix)
	noFile := writeFile(t, dir, "nofile.yaml", []byte(fmt.Sprintf("api_keys: [{id: a, sha256: %q}]\nsigner: {key: k.pem, cert: c.pem}\n", sum)))
	public := writeFile(t, dir, "public.yaml", []byte(fmt.Sprintf("listen: \"0.0.0.0:0\"\napi_keys: [{id: a, sha256: %q}]\nsigner: {key: k.pem, cert: c.pem}\n", sum)))
	for _, tc := range []struct {
		name string
		args []string
		code int
		err  string
	}{
		{"no config", []string{"serve"}, 2, "give the configuration"},
		{"missing config", []string{"serve", "-config", filepath.Join(dir, "none.yaml")}, 1, "reading the configuration"},
		{"bad config", []string{"serve", "-config", bad}, 1, "no api_keys"},
		{"bad log format", []string{"serve", "-config", bad, "-log-format", "xml"}, 2, "-log-format"},
		{"missing key file", []string{"serve", "-config", noFile, "-addr", "127.0.0.1:0"}, 1, "k.pem"},
		{"plain HTTP off loopback", []string{"serve", "-config", public}, 1, "refusing to serve plain HTTP"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runCLI(tc.args...)
			if code != tc.code || !strings.Contains(stderr, tc.err) || strings.Count(stderr, "\n") != 1 {
				t.Errorf("exit %d, stderr %q; want exit %d and one line with %q", code, stderr, tc.code, tc.err)
			}
		})
	}
	if code, stdout, _ := runCLI("serve", "example-config"); code != 0 || stdout != string(gateway.ExampleConfig) {
		t.Errorf("example-config: exit %d", code)
	}
	if code, stdout, _ := runCLI("serve", "openapi"); code != 0 || stdout != string(gateway.OpenAPI) {
		t.Errorf("openapi: exit %d", code)
	}
	code, stdout, _ := runCLI("serve", "apikey", "-id", "erp")
	m := regexp.MustCompile(`(?s)\n(` + gatewayKeyPrefix + `\S+)\n.*id: "erp"\n    sha256: "([0-9a-f]{64})"`).FindStringSubmatch(stdout)
	if code != 0 || m == nil || apikey.Hash(m[1]) != m[2] {
		t.Errorf("apikey: exit %d, the key's sha256 is not the hash of the key:\n%s", code, stdout)
	}
}

// BenchmarkServeVsBatch signs the same 1 MiB documents with `pades batch`
// and through `pades serve` (posted by 4 clients at once, each writing the
// answer to a file), with the same RSA-2048 key file and 2 workers, in
// alternating rounds, and reports the median docs/s of each and their
// ratio (gateway/batch). The time of `pades batch` includes its start; the
// gateway runs already. The figures are noisy on a shared machine.
func BenchmarkServeVsBatch(b *testing.B) {
	const n, workers, clients, rounds = 128, 2, 4, 5
	bin := hashsvctest.Build(b, "./cmd/pades")
	hashsvctest.PKI(b)
	pki := devpki.DefaultDir()
	in := b.TempDir()
	one := filepath.Join(in, "one.pdf")
	hashsvctest.GenPDF(b, "1MiB", one)
	data, err := os.ReadFile(one)
	if err != nil {
		b.Fatal(err)
	}
	os.Remove(one)
	for i := range n {
		os.WriteFile(filepath.Join(in, fmt.Sprintf("doc%03d.pdf", i)), data, 0o644)
	}
	key, cert := filepath.Join(pki, devpki.SignerRSAKeyFile), filepath.Join(pki, devpki.SignerRSACertFile)
	chain := filepath.Join(pki, devpki.IntermediateCertFile)
	config := fmt.Sprintf("signer: {key: %q, cert: %q, chain: [%q]}\nlimits: {workers: %d}\nstorage: {temp_dir: %q}\n", key, cert, chain, workers, b.TempDir())
	g := startServe(b, bin, config)
	var batchRates, serveRates []float64
	var batchCPU, serveCPU time.Duration
	for b.Loop() {
		for range rounds {
			out := b.TempDir()
			start := time.Now()
			cmd := exec.Command(bin, "batch", "-key", key, "-cert", cert, "-chain", chain, "-workers", strconv.Itoa(workers), "-in", in, "-out", out)
			if o, err := cmd.CombinedOutput(); err != nil {
				b.Fatalf("pades batch: %v\n%s", err, o)
			}
			batchRates = append(batchRates, n/time.Since(start).Seconds())
			batchCPU += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
			cpu0 := procCPU(b, g.cmd.Process.Pid)

			out = b.TempDir()
			jobs := make(chan int)
			errs := make(chan error, clients)
			start = time.Now()
			for range clients {
				go func() {
					for i := range jobs {
						if err := g.postBytes(data, filepath.Join(out, fmt.Sprintf("doc%03d.pdf", i))); err != nil {
							errs <- err
							return
						}
					}
					errs <- nil
				}()
			}
			for i := range n {
				jobs <- i
			}
			close(jobs)
			for range clients {
				if err := <-errs; err != nil {
					b.Fatal(err)
				}
			}
			serveRates = append(serveRates, n/time.Since(start).Seconds())
			serveCPU += procCPU(b, g.cmd.Process.Pid) - cpu0
		}
	}
	slices.Sort(batchRates)
	slices.Sort(serveRates)
	batchRate, serveRate := batchRates[len(batchRates)/2], serveRates[len(serveRates)/2]
	b.Logf("batch docs/s %.0f, serve docs/s %.0f; CPU time per document: pades batch %v, pades serve %v (its clients aside)",
		batchRates, serveRates, batchCPU/(rounds*n), serveCPU/(rounds*n))
	b.ReportMetric(batchRate, "batch-docs/s")
	b.ReportMetric(serveRate, "serve-docs/s")
	b.ReportMetric(serveRate/batchRate, "serve/batch")
}

// procCPU returns the CPU time (user and system) that a running process
// has used, from /proc/PID/stat.
func procCPU(t testing.TB, pid int) time.Duration {
	t.Helper()
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// the fields after the command name, which is in parentheses
	f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+2:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * time.Second / 100 // USER_HZ
}

// postBytes posts doc to /v1/sign and writes the answer to out.
func (g *gatewayProc) postBytes(doc []byte, out string) error {
	req, _ := http.NewRequest(http.MethodPost, g.url+gateway.PathSign, bytes.NewReader(doc))
	req.Header.Set("Authorization", "Bearer "+g.key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("%s: %s", resp.Status, b)
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(f, resp.Body)
	return err
}
