package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"hashsign/internal/apikey"
	"hashsign/pades/gateway"
)

// The gateway (`pades serve`, package pades/gateway) is measured like
// pades batch: the same documents, the same signer at the same level, as
// many workers (limits.workers is pades batch's -workers), so that its
// docs/s is a ratio to pades batch's (target: at least 0.7). Each run
// starts `pades serve` on 127.0.0.1, posts every document of the input to
// POST /v1/sign from twice as many clients as workers (so that a worker
// does not wait for an upload), writes each answer to out/dNNNNN.pdf, and
// stops the gateway with SIGTERM.
//
// A gateway runs for long: its start (reading the configuration, opening
// the signer) is not part of its throughput. The wall time is that of the
// posting alone, the CPU time the gateway's and the development service's
// meanwhile; the clients run in the harness's process, as a business
// system's would in its own, and are not counted. The peak RSS is the
// gateway's VmHWM (its start included) read before it stops. pades batch's
// figures, by contrast, include its start.

// gatewayCells returns the gateway's configurations on in, an input of
// many documents: the RSA key file and the remote signer with batches of
// 64, at B-B.
func gatewayCells(in *input) []cell {
	if in.Large {
		return nil
	}
	var cs []cell
	for i := range signerSpecs {
		s := &signerSpecs[i]
		if s.Name == "keyfile-rsa" || s.Name == "remote-rsa-b64" {
			cs = append(cs, cell{Engine: engGateway, Signer: s.Name, Level: "B-B", Mode: "copy", key: s.Key, spec: s})
		}
	}
	return cs
}

// gateway measures the gateway on in; see the comment at the top of the
// file.
func (h *harness) gateway(ctx context.Context, in *input, c cell, check bool) (sample, string, error) {
	dir := filepath.Join(h.work, "gateway")
	if err := os.RemoveAll(dir); err != nil {
		return sample{}, "", err
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		return sample{}, "", err
	}
	defer os.RemoveAll(dir)
	out, err := h.outDir()
	if err != nil {
		return sample{}, "", err
	}
	defer os.RemoveAll(out)

	clients := 2 * h.o.workers
	g, err := h.startGateway(ctx, c, clients, dir)
	if err != nil {
		return sample{}, "", err
	}
	defer g.kill()

	outputs := make([]string, len(in.Docs))
	for i := range in.Docs {
		outputs[i] = filepath.Join(out, outName(i))
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients, DisableCompression: true}}
	defer client.CloseIdleConnections()
	dev := h.env.dev.Cmd.Process.Pid
	gw0, dev0 := procCPU(g.pid()), procCPU(dev)
	t0 := time.Now()
	err = parallelOn(clients, len(in.Docs), func(i int, buf []byte) error {
		return g.post(ctx, client, in.Docs[i], outputs[i], buf)
	})
	s := sample{Wall: time.Since(t0).Seconds()}
	s.CPU = procCPU(g.pid()) - gw0 + procCPU(dev) - dev0
	if err != nil {
		return s, "", fmt.Errorf("%w\n%s", err, g.tail(5))
	}
	if s.RSS, err = peakRSS(g.pid()); err != nil {
		return s, "", err
	}
	client.CloseIdleConnections()
	if err := g.stop(); err != nil {
		return s, "", err
	}
	check2, err := h.checkOutputs(ctx, in.Docs, outputs, c, check)
	return s, check2, err
}

// A gatewayProc is a running `pades serve`.
type gatewayProc struct {
	cmd  *exec.Cmd
	url  string
	key  string // the harness's API key
	log  string // the file of its standard error
	done chan struct{}
	err  error // of Wait, once done is closed
}

// startGateway writes, in dir, the configuration of the gateway for cell c
// (with an API key of the harness's, the workers of pades batch and room
// for clients requests at once, its uploads kept in dir), starts `pades
// serve` on a free port of 127.0.0.1, and waits until it is ready. When
// the gateway does not start, the error is an errNotMeasured that says
// why, with its last log lines.
func (h *harness) startGateway(ctx context.Context, c cell, clients int, dir string) (*gatewayProc, error) {
	e := h.env
	sargs, why := c.spec.args(e)
	if why != "" {
		return nil, errNotMeasured(why)
	}
	sections, err := gatewaySections(append(sargs, e.levelArgs(c.Level)...))
	if err != nil {
		return nil, err
	}
	key, sum, err := apikey.New("pgk_")
	if err != nil {
		return nil, err
	}
	config := fmt.Sprintf("api_keys: [{id: harness, sha256: %q}]\n%slimits: {workers: %d, max_signing: %d}\nstorage: {temp_dir: %q}\n",
		sum, sections, h.o.workers, max(clients, gateway.DefaultMaxSigning), dir)
	cfgPath := filepath.Join(dir, "gateway.yaml")
	if err := os.WriteFile(cfgPath, []byte(config), 0o600); err != nil {
		return nil, err
	}
	g := &gatewayProc{key: key, log: filepath.Join(dir, "gateway.log"), done: make(chan struct{})}
	logFile, err := os.Create(g.log)
	if err != nil {
		return nil, err
	}
	defer logFile.Close() // the child holds its own descriptor
	// A pipe of our own rather than StdoutPipe, which Wait (in its own
	// goroutine) would close under the reader.
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	// -addr 127.0.0.1:0: the gateway takes a free port and names it in
	// its first line.
	g.cmd = exec.CommandContext(ctx, e.pades, "serve", "-config", cfgPath, "-addr", "127.0.0.1:0")
	g.cmd.Env = e.childEnv
	g.cmd.Stdout, g.cmd.Stderr = pw, logFile
	err = g.cmd.Start()
	pw.Close()
	if err != nil {
		pr.Close()
		return nil, err
	}
	go func() {
		g.err = g.cmd.Wait()
		close(g.done)
	}()
	notStarted := func(what string) error {
		g.kill()
		why := fmt.Sprintf("pades serve did not start: %s (%v); its last log lines: %s", what, g.err,
			strings.ReplaceAll(g.tail(5), "\n", " / "))
		if e.missing[engGateway] == "" {
			// Said once in the report, like a missing tool (and a
			// test in CI fails on it).
			e.missing[engGateway] = why
		}
		return errNotMeasured(why)
	}
	line, err := bufio.NewReader(pr).ReadString('\n')
	url, ok := strings.CutPrefix(strings.TrimSpace(line), "listening on ")
	if err != nil || !ok || !strings.HasPrefix(url, "http://127.0.0.1:") {
		pr.Close()
		return nil, notStarted(fmt.Sprintf("its first line is %q, not listening on http://127.0.0.1:PORT", line))
	}
	go func() {
		io.Copy(io.Discard, pr)
		pr.Close()
	}()
	g.url = url
	// It listens once it has printed that line; /readyz says it takes
	// requests. Polled until it says so or the gateway exits.
	for {
		resp, err := http.Get(g.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return g, nil
			}
		}
		select {
		case <-g.done:
			return nil, notStarted("it exited before /readyz answered 200")
		case <-ctx.Done():
			g.kill()
			return nil, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// gatewayFlags maps the flags of pades that signerSpecs and levelArgs give
// to the gateway's configuration, so that the gateway signs as pades batch
// does: section (signer, its remote service, or signature), key, and the
// kind of value.
var gatewayFlags = map[string]struct {
	section, key string
	kind         byte // s: a string, l: a list of one string, n: a number
}{
	"-key": {"signer", "key", 's'}, "-cert": {"signer", "cert", 's'}, "-chain": {"signer", "chain", 'l'},
	"-pkcs11": {"signer", "pkcs11", 's'},
	"-remote": {"remote", "url", 's'}, "-credential": {"remote", "credential", 's'},
	"-api-key-file": {"remote", "api_key_file", 's'}, "-batch-size": {"remote", "batch_size", 'n'},
	"-level": {"signature", "level", 's'}, "-tsa": {"signature", "tsa", 'l'}, "-trust": {"signature", "trust", 'l'},
}

// gatewaySections returns the signer and signature sections of the
// gateway's configuration (YAML) that the flags of pades args describe.
func gatewaySections(args []string) (string, error) {
	fields := map[string][]string{}
	if len(args)%2 != 0 {
		return "", fmt.Errorf("flags %q: not pairs of a flag and its value", args)
	}
	for i := 0; i < len(args); i += 2 {
		f, ok := gatewayFlags[args[i]]
		if !ok {
			return "", fmt.Errorf("flag %s of pades has no counterpart in the gateway's configuration", args[i])
		}
		v := strconv.Quote(args[i+1])
		switch f.kind {
		case 'l':
			v = "[" + v + "]"
		case 'n':
			if _, err := strconv.Atoi(args[i+1]); err != nil {
				return "", fmt.Errorf("flag %s %q: %w", args[i], args[i+1], err)
			}
			v = args[i+1]
		}
		fields[f.section] = append(fields[f.section], f.key+": "+v)
	}
	if r := fields["remote"]; len(r) > 0 {
		fields["signer"] = append(fields["signer"], "remote: {"+strings.Join(r, ", ")+"}")
	}
	return fmt.Sprintf("signer: {%s}\nsignature: {%s}\n", strings.Join(fields["signer"], ", "), strings.Join(fields["signature"], ", ")), nil
}

func (g *gatewayProc) pid() int { return g.cmd.Process.Pid }

// post sends the document doc to POST /v1/sign and writes the signed
// answer to out, through buf.
func (g *gatewayProc) post(ctx context.Context, client *http.Client, doc, out string, buf []byte) error {
	f, err := os.Open(doc)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, g.url+gateway.PathSign, f)
	if err != nil {
		return err
	}
	req.ContentLength = st.Size()
	req.Header.Set("Authorization", "Bearer "+g.key)
	req.Header.Set("Content-Type", "application/pdf")
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("POST %s of %s: %w", gateway.PathSign, doc, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		return fmt.Errorf("POST %s of %s: %s: %s", gateway.PathSign, doc, resp.Status, bytes.TrimSpace(b))
	}
	o, err := os.Create(out)
	if err != nil {
		return err
	}
	// through buf: o's own ReadFrom would copy 32 KiB at a time, a
	// client's cost that the gateway's docs/s would bear on shared cores
	n, err := io.CopyBuffer(struct{ io.Writer }{o}, resp.Body, buf)
	if cerr := o.Close(); err == nil {
		err = cerr
	}
	if err == nil && n != resp.ContentLength {
		err = fmt.Errorf("%d bytes of the %d of Content-Length", n, resp.ContentLength)
	}
	if err != nil {
		return fmt.Errorf("the answer to %s, into %s: %w", doc, out, err)
	}
	return nil
}

// stop stops the gateway with SIGTERM and waits for it to finish; it must
// exit 0.
func (g *gatewayProc) stop() error {
	select {
	case <-g.done:
		return fmt.Errorf("pades serve exited before it was stopped (%v):\n%s", g.err, g.tail(10))
	default:
	}
	if err := g.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return fmt.Errorf("stopping pades serve: %w", err)
	}
	<-g.done
	if g.err != nil {
		return fmt.Errorf("pades serve, on SIGTERM: %v\n%s", g.err, g.tail(10))
	}
	return nil
}

// kill kills the gateway, unless it has exited, and waits for it.
func (g *gatewayProc) kill() {
	select {
	case <-g.done:
		return
	default:
	}
	g.cmd.Process.Kill()
	<-g.done
}

// tail returns the last n lines of the gateway's log.
func (g *gatewayProc) tail(n int) string {
	b, err := os.ReadFile(g.log)
	if err != nil {
		return err.Error()
	}
	return lastLines(string(b), n)
}

// peakRSS returns the peak resident set size (VmHWM) of a running process,
// in KiB. Unlike the maxrss of rusage (see run), it is that of the
// process's own memory since its exec.
func peakRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("VmHWM of process %d: %w", pid, err)
			}
			return n, nil
		}
	}
	return 0, errors.New("no VmHWM in /proc/" + strconv.Itoa(pid) + "/status")
}
