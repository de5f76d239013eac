package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"hashsign/hashsvc"
	"hashsign/hashsvc/hashsvctest"
	"hashsign/internal/devpki"
	"hashsign/signer"
)

// TestServeDev runs `hashsvc serve -dev` in process: its first line says
// where it listens, the lines after it say what a client needs (the same
// as `hashsvc dev info`), every file they name is there and every URL
// answers, and its JSON logs write durations as durations.
func TestServeDev(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "dev")
	pr, pw := io.Pipe()
	var logs hashsvctest.SyncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	exited := make(chan int, 1)
	go func() {
		code := run(ctx, []string{"serve", "-dev", dir, "-log-format", "json"}, pw, &logs)
		pw.Close()
		exited <- code
	}()
	sc := bufio.NewScanner(pr)
	if !sc.Scan() {
		t.Fatalf("no output; logs:\n%s", logs.String())
	}
	url, ok := strings.CutPrefix(sc.Text(), "listening on ")
	if !ok {
		t.Fatalf("first line %q, want \"listening on URL\"", sc.Text())
	}
	var block strings.Builder
	rest := make(chan struct{})
	go func() {
		for sc.Scan() {
			block.WriteString(sc.Text() + "\n")
		}
		close(rest)
	}()
	// the trust services answer
	di, err := hashsvc.ReadDevInfo(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range append(di.CRLs, di.CACerts...) {
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %d", u, resp.StatusCode)
		}
	}
	for _, u := range []string{di.TSA, di.OCSP} {
		resp, err := http.Post(u, "application/octet-stream", strings.NewReader("not a request"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusNotFound {
			t.Errorf("POST %s: 404", u)
		}
	}
	cancel()
	<-rest
	if code := <-exited; code != 0 {
		t.Fatalf("serve -dev: exit %d\n%s", code, logs.String())
	}

	// dev info says the same, after the URL
	var info bytes.Buffer
	if code := run(context.Background(), []string{"dev", "info", dir}, &info, io.Discard); code != 0 {
		t.Fatalf("dev info: exit %d", code)
	}
	if want := "url " + url + "\n" + block.String(); info.String() != want {
		t.Errorf("dev info printed\n%s\nwant\n%s", info.String(), want)
	}

	// what the lines name is there
	for _, c := range di.Credentials {
		if !strings.Contains(block.String(), c.ID+": key "+c.KeyFile+", certificate "+c.CertFile) {
			t.Errorf("credential %s not listed with its files", c.ID)
		}
		if _, err := signer.LoadKeyFile(c.KeyFile, c.CertFile); err != nil {
			t.Errorf("credential %s: %v", c.ID, err)
		}
	}
	for _, f := range []string{di.APIKeyFile, di.RootFile, di.ChainFile} {
		if !strings.Contains(block.String(), f) {
			t.Errorf("%s not listed", f)
		}
		if _, err := os.Stat(f); err != nil {
			t.Error(err)
		}
	}
	for _, u := range append([]string{di.TSA, di.OCSP}, append(di.CRLs, di.CACerts...)...) {
		if !strings.Contains(block.String(), u) || !strings.HasPrefix(u, url+"/") {
			t.Errorf("URL %s not listed or not on the service", u)
		}
	}

	// durations are durations in the JSON log lines
	durations := 0
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		for _, key := range []string{"duration", "timeout"} {
			v, ok := rec[key]
			if !ok {
				continue
			}
			durations++
			if s, ok := v.(string); !ok {
				t.Errorf("%s logged as %v (%T), want a duration such as 1.5ms", key, v, v)
			} else if _, err := time.ParseDuration(s); err != nil {
				t.Errorf("%s logged as %q: %v", key, s, err)
			}
		}
	}
	if durations < 2 {
		t.Errorf("%d durations in the log, want the request's and the shutdown timeout:\n%s", durations, logs.String())
	}
}

// TestErrorsOnePrefix: the errors of hashsvc commands on bad input are one
// line with one prefix, the command's.
func TestErrorsOnePrefix(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	keyLine := fmt.Sprintf("api_keys: [{id: a, sha256: %q, credentials: [\"*\"]}]\n", strings.Repeat("0", 64))
	// a configuration that loads, with a key file of mode perm
	pki := devpki.DefaultDir()
	hashsvctest.PKI(t)
	keyData, err := os.ReadFile(filepath.Join(pki, devpki.SignerP256KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	config := func(name, listen string, perm os.FileMode, more string) string {
		kf := write(name+".key", string(keyData))
		if err := os.Chmod(kf, perm); err != nil {
			t.Fatal(err)
		}
		return write(name+".yaml", fmt.Sprintf("listen: %q\naudit: {path: %s.db}\n%scredentials: [{id: x, key: %s, cert: %s}]\n%s",
			listen, name, keyLine, kf, filepath.Join(pki, devpki.SignerP256CertFile), more))
	}
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"missing config", []string{"serve", "-config", filepath.Join(dir, "absent.yaml")}, 1, "no such file"},
		{"config not YAML", []string{"serve", "-config", write("bad.yaml", "listen: [\n")}, 1, "bad.yaml"},
		{"listen without port", []string{"serve", "-config", write("port.yaml", "listen: \"1.2.3.4\"\naudit: {path: a.db}\n")}, 1, "missing port"},
		{"missing key file", []string{"serve", "-config", write("key.yaml", "audit: {path: a.db}\n"+keyLine+"credentials: [{id: x, key: absent.key}]\n")}, 1, `credential "x"`},
		{"plain HTTP not on loopback", []string{"serve", "-config", config("plain", "192.0.2.1:0", 0o600, "")}, 1, "refusing to serve plain HTTP on 192.0.2.1:0"},
		{"plain HTTP metrics not on loopback", []string{"serve", "-config", config("metrics", "127.0.0.1:0", 0o600, "metrics: {listen: \"192.0.2.1:0\"}\n")}, 1, "metrics.listen: refusing"},
		{"key file readable by others", []string{"serve", "-config", config("open", "127.0.0.1:0", 0o644, "")}, 1, "chmod 600"},
		{"dev address not loopback", []string{"serve", "-dev", filepath.Join(dir, "dev"), "-addr", "192.0.2.1:0"}, 1, "loopback"},
		{"dev directory not a directory", []string{"serve", "-dev", filepath.Join(write("file", ""), "dev")}, 1, "not a directory"},
		{"audit of a bad config", []string{"audit", "verify", "-config", filepath.Join(dir, "bad.yaml")}, 1, "bad.yaml"},
		{"dev info of no directory", []string{"dev", "info", filepath.Join(dir, "none")}, 1, "not a development directory"},
		{"dev without info", []string{"dev"}, 2, "dev info DIR"},
		{"evidence without -trust", []string{"evidence", "verify", write("e.json", "{}")}, 2, "give -trust"},
		{"evidence not sealed", []string{"evidence", "verify", "-trust", rootFile(t), write("e2.json", `{"record":{"version":1}}`)}, 1, "the record or its signature is missing"},
		{"evidence not JSON", []string{"evidence", "verify", "-trust", rootFile(t), write("e3.json", "%PDF-1.7")}, 1, "not an evidence file"},
		{"apikey without new", []string{"apikey"}, 2, "want: hashsvc apikey new"},
		{"audit without verify", []string{"audit", "list"}, 2, "want: hashsvc audit verify"},
		{"totp without enrol", []string{"totp"}, 2, "want: hashsvc totp enrol"},
		{"pin without hash", []string{"pin", "check"}, 2, "want: hashsvc pin hash"},
		{"evidence without verify", []string{"evidence"}, 2, "want: hashsvc evidence verify"},
		{"flag not defined", []string{"apikey", "new", "-bogus"}, 2, "flag provided but not defined: -bogus"},
		{"positional argument", []string{"apikey", "new", "extra"}, 2, `unexpected argument "extra"`},
		{"apikey without credentials", []string{"apikey", "new", "-credentials", " , "}, 2, "name at least one credential"},
		{"audit of two databases", []string{"audit", "verify", "-dev", dir, "-db", filepath.Join(dir, "a.db")}, 2, "give one of -config, -dev and -db"},
		{"audit of no database", []string{"audit", "verify", "-db", filepath.Join(dir, "absent.db")}, 1, "no such file"},
		{"audit of a development directory without one", []string{"audit", "verify", "-dev", dir}, 1, "no such file"},
		{"totp enrol without -person", []string{"totp", "enrol", "-config", filepath.Join(dir, "bad.yaml"), "-account", "a@example.org"}, 2, "give -config, -person and -account"},
		{"totp enrol of a bad config", []string{"totp", "enrol", "-config", filepath.Join(dir, "bad.yaml"), "-person", "p", "-account", "a@example.org"}, 1, "bad.yaml"},
		{"serve with a bad log level", []string{"serve", "-dev", filepath.Join(dir, "dev"), "-log-level", "loud"}, 2, `-log-level "loud"`},
		{"serve with a bad log format", []string{"serve", "-dev", filepath.Join(dir, "dev"), "-log-format", "xml"}, 2, `-log-format "xml"`},
		{"serve of config and dev", []string{"serve", "-dev", filepath.Join(dir, "dev"), "-config", filepath.Join(dir, "bad.yaml")}, 2, "not both"},
		{"serve of nothing", []string{"serve"}, 2, "give -config FILE or -dev DIR"},
		{"dev info of two directories", []string{"dev", "info", dir, dir}, 2, "want: hashsvc dev info DIR"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			code := run(context.Background(), tc.args, io.Discard, &stderr)
			msg := strings.TrimSuffix(stderr.String(), "\n")
			if code != tc.code || !strings.HasPrefix(msg, "hashsvc "+tc.args[0]) || strings.Contains(msg, "\n") || !strings.Contains(msg, tc.want) {
				t.Fatalf("exit %d, %q; want exit %d and one line saying %q", code, msg, tc.code, tc.want)
			}
			if _, rest, _ := strings.Cut(msg, ": "); strings.HasPrefix(rest, "hashsvc") {
				t.Errorf("two prefixes: %q", msg)
			}
		})
	}
}

// rootFile returns the PEM file of the shared test PKI's root.
func rootFile(t *testing.T) string {
	hashsvctest.PKI(t)
	return filepath.Join(devpki.DefaultDir(), devpki.RootCertFile)
}

// TestUsage: no command and an unknown one print the usage on standard
// error with exit 2; -h prints it on standard output with exit 0.
func TestUsage(t *testing.T) {
	for _, tc := range []struct {
		args         []string
		code         int
		stdout, errs string
	}{
		{nil, 2, "", "usage:\n  hashsvc serve -config FILE"},
		{[]string{"sing"}, 2, "", `hashsvc: unknown command "sing"`},
		{[]string{"-h"}, 0, "usage:\n  hashsvc serve -config FILE", ""},
		{[]string{"dev", "info", "-h"}, 0, "usage: hashsvc dev info DIR", ""},
	} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), tc.args, &stdout, &stderr)
		if code != tc.code || !strings.Contains(stdout.String(), tc.stdout) || !strings.Contains(stderr.String(), tc.errs) ||
			(tc.stdout == "") != (stdout.Len() == 0) || (tc.errs == "") != (stderr.Len() == 0) {
			t.Errorf("hashsvc %q: exit %d, stdout %q, stderr %q; want exit %d, %q on stdout, %q on stderr",
				tc.args, code, stdout.String(), stderr.String(), tc.code, tc.stdout, tc.errs)
		}
	}
}

// TestPINHash: pin hash prints the bcrypt hash of the first line of its
// input, and refuses a PIN shorter than 4 characters.
func TestPINHash(t *testing.T) {
	var out bytes.Buffer
	if err := cmdPINHash(nil, strings.NewReader("2468\r\nnot the PIN\n"), &out); err != nil {
		t.Fatal(err)
	}
	h := strings.TrimSuffix(out.String(), "\n")
	if err := bcrypt.CompareHashAndPassword([]byte(h), []byte("2468")); err != nil || strings.Contains(h, "\n") {
		t.Errorf("pin hash printed %q: %v", out.String(), err)
	}
	for _, in := range []string{"", "123\n", "12\r\n"} {
		out.Reset()
		err := cmdPINHash(nil, strings.NewReader(in), &out)
		if err == nil || !strings.Contains(err.Error(), "at least 4 characters") || out.Len() != 0 {
			t.Errorf("pin hash of %q: %v, printed %q; want a refusal", in, err, out.String())
		}
	}
}
