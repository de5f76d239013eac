package main

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"software.sslmate.com/src/go-pkcs12"

	"hashsign/csc"
	"hashsign/hashsvc"
	"hashsign/hashsvc/hashsvctest"
	"hashsign/internal/devpki"
	"hashsign/internal/testenv"
	"hashsign/pades"
)

// padesCLI is the pades binary built for a test (with coverage under go
// test -cover: see hashsvctest.Build).
type padesCLI struct {
	bin string
}

// buildPades builds ./cmd/pades for the test.
func buildPades(t *testing.T) *padesCLI {
	t.Helper()
	return &padesCLI{bin: hashsvctest.Build(t, "./cmd/pades")}
}

// command returns the command that runs pades with args.
func (c *padesCLI) command(args ...string) *exec.Cmd { return exec.Command(c.bin, args...) }

// run runs pades with args and returns its exit status and outputs.
func (c *padesCLI) run(t *testing.T, env []string, args ...string) (int, string, string) {
	t.Helper()
	cmd := c.command(args...)
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		return exit.ExitCode(), stdout.String(), stderr.String()
	case err != nil:
		t.Fatalf("pades %v: %v", args, err)
	}
	return 0, stdout.String(), stderr.String()
}

// must runs pades with args and fails the test unless it exits 0 with
// nothing on standard error; it returns standard output.
func (c *padesCLI) must(t *testing.T, args ...string) string {
	t.Helper()
	code, stdout, stderr := c.run(t, nil, args...)
	if code != 0 || stderr != "" {
		t.Fatalf("pades %s: exit %d\n%s%s", args[0], code, stdout, stderr)
	}
	return stdout
}

// refused checks that a command failed with exit status code and one line
// on standard error holding want.
func refused(t *testing.T, what string, code int, stderr string, wantCode int, want string) {
	t.Helper()
	if code != wantCode || !strings.Contains(stderr, want) || strings.Count(stderr, "\n") != 1 {
		t.Errorf("%s: exit %d %q; want %d and one line with %q", what, code, stderr, wantCode, want)
	}
}

// TestCLIPaths runs the commands and flags that had no test through the
// built binary, each against real components (hashsvc serve -dev for its
// TSA, OCSP responder, CRLs and /v1/cades/sign; SoftHSM2 for PKCS#11), and
// has the external validators judge every signature they make: extend to
// B-LT and B-LTA, embed of the JSON answer of /v1/cades/sign, -p12,
// inspect -json, pkcs11 list and sign -pkcs11.
func TestCLIPaths(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs pades and hashsvc")
	}
	validator := hashsvctest.Validator(t)
	c := buildPades(t)
	dir := filepath.Join(t.TempDir(), "dev")
	dev := hashsvctest.StartDev(t, hashsvctest.Build(t, "./cmd/hashsvc"), dir, "127.0.0.1:0")
	di, err := hashsvc.ReadDevInfo(dir)
	if err != nil {
		t.Fatal(err)
	}
	var cred hashsvc.DevCredential
	for _, cr := range di.Credentials {
		if cr.ID == hashsvc.DevCredentialRSA {
			cred = cr
		}
	}
	work := t.TempDir()
	in := writeFile(t, work, "in.pdf", samplePDF(t))
	testPKI := testPKIDir(t)

	t.Run("extend", func(t *testing.T) {
		bb := filepath.Join(work, "extend-bb.pdf")
		c.must(t, "sign", "-key", cred.KeyFile, "-cert", cred.CertFile, "-chain", di.ChainFile, in, bb)
		blt := filepath.Join(work, "extend-blt.pdf")
		out := c.must(t, "extend", "-level", "B-LT", "-tsa", di.TSA, "-trust", di.RootFile, bb, blt)
		if !strings.Contains(out, "to B-LT: a document timestamp first") {
			t.Errorf("extend of an untimed B-B signature says %q", out)
		}
		hashsvctest.Validate(t, validator, di.RootFile, "B-LT", blt)
		blta := filepath.Join(work, "extend-blta.pdf")
		c.must(t, "extend", "-tsa", di.TSA, "-trust", di.RootFile, blt, blta) // B-LTA is the default
		hashsvctest.Validate(t, validator, di.RootFile, "B-LTA", blta)

		// inspect -json on it: the signature and two document timestamps,
		// all intact, the newest covering the whole file
		var rep pades.Report
		if err := json.Unmarshal([]byte(c.must(t, "inspect", "-json", blta)), &rep); err != nil {
			t.Fatal(err)
		}
		st, _ := os.Stat(blta)
		if len(rep.Fields) == 0 {
			t.Fatal("inspect -json lists no signature field")
		}
		var types []string
		for _, f := range rep.Fields {
			types = append(types, f.Type)
			if f.Intact == nil || !*f.Intact || f.PAdES == nil || !*f.PAdES {
				t.Errorf("inspect -json: %s (%s) intact %v, PAdES %v: %s %s", f.Field, f.Type, f.Intact, f.PAdES, f.Problem, f.NotPAdES)
			}
		}
		if strings.Join(types, ",") != "Sig,DocTimeStamp,DocTimeStamp" || rep.Size != st.Size() || rep.Fields[len(rep.Fields)-1].Covers != "whole file" || len(rep.Revisions) < 5 {
			t.Errorf("inspect -json: %d bytes (file %d), fields %v, the last covers %q, %d revisions", rep.Size, st.Size(), types, rep.Fields[len(rep.Fields)-1].Covers, len(rep.Revisions))
		}
		// a broken byte is reported, by inspect -json too
		b, _ := os.ReadFile(blta)
		b[bytes.Index(b, []byte("stream"))+20] ^= 1 // in the first stream's data
		broken := writeFile(t, work, "broken.pdf", b)
		rep = pades.Report{}
		if err := json.Unmarshal([]byte(c.must(t, "inspect", "-json", broken)), &rep); err != nil {
			t.Fatal(err)
		}
		for _, f := range rep.Fields {
			if f.Intact == nil || *f.Intact {
				t.Errorf("inspect -json on a changed file: %s (%s) intact %v", f.Field, f.Type, f.Intact)
			}
		}

		code, _, stderr := c.run(t, nil, "extend", "-level", "B-T", "-tsa", di.TSA, bb, filepath.Join(work, "x.pdf"))
		refused(t, "extend -level B-T", code, stderr, 2, "extend raises files to B-LT or B-LTA")
		code, _, stderr = c.run(t, nil, "extend", "-tsa", di.TSA, "-trust", di.RootFile, in, filepath.Join(work, "x.pdf"))
		refused(t, "extend of an unsigned file", code, stderr, 1, "has no signature")
		if _, err := os.Stat(filepath.Join(work, "x.pdf")); err == nil {
			t.Error("a refused extend left its output")
		}
	})

	t.Run("embed of the cades/sign answer", func(t *testing.T) {
		for _, vd := range []bool{false, true} {
			prepared := filepath.Join(work, "prepared.pdf")
			var res preparedJSON
			if err := json.Unmarshal([]byte(c.must(t, "prepare", "-cert", cred.CertFile, "-chain", di.ChainFile, "-extra", "8192", in, prepared)), &res); err != nil {
				t.Fatal(err)
			}
			digest, err := hex.DecodeString(res.Digest)
			if err != nil {
				t.Fatal(err)
			}
			answer := cadesSign(t, dev, csc.CAdESSignRequest{CredentialID: cred.ID, Digest: base64.StdEncoding.EncodeToString(digest), Timestamp: true, ValidationData: vd})
			answerFile := writeFile(t, work, "answer.json", answer)
			out := filepath.Join(work, "embedded.pdf")
			stdout := c.must(t, "embed", prepared, answerFile, out)
			level, says := "B-T", "embedded the signature into"
			if vd {
				level, says = "B-LT", "embedded the signature and its validation data (/DSS) into"
			}
			if !strings.HasPrefix(stdout, says) {
				t.Errorf("embed: %q, want %q", stdout, says)
			}
			hashsvctest.Validate(t, validator, di.RootFile, level, out)
			os.Remove(prepared)
			os.Remove(out)
		}
		// an answer that is not one: one line, no output
		bad := writeFile(t, work, "bad.json", []byte(`{"cms":"","timestamped":true}`))
		code, _, stderr := c.run(t, nil, "embed", in, bad, filepath.Join(work, "x.pdf"))
		refused(t, "embed of a JSON answer without cms", code, stderr, 1, `JSON without a "cms" member`)
	})

	t.Run("p12", func(t *testing.T) {
		p, err := devpki.LoadOrGenerate(testPKI, devpki.Options{})
		if err != nil {
			t.Fatal(err)
		}
		der, err := pkcs12.Modern.Encode(p.SignerRSA.Key, p.SignerRSA.Cert, []*x509.Certificate{p.Intermediate.Cert}, "p12 secret")
		if err != nil {
			t.Fatal(err)
		}
		p12 := writeFile(t, work, "signer.p12", der)
		pass := writeFile(t, work, "p12-pass", []byte("p12 secret\n"))
		out := filepath.Join(work, "p12.pdf")
		c.must(t, "sign", "-p12", p12, "-p12-pass-file", pass, in, out)
		hashsvctest.Validate(t, validator, filepath.Join(testPKI, devpki.RootCertFile), "B-B", out)
		code, _, stderr := c.run(t, nil, "sign", "-p12", p12, "-p12-pass", "wrong", in, filepath.Join(work, "x.pdf"))
		refused(t, "-p12 with a wrong password", code, stderr, 1, "")
		if _, err := os.Stat(filepath.Join(work, "x.pdf")); err == nil {
			t.Error("a refused sign left its output")
		}
	})

	t.Run("pkcs11", func(t *testing.T) {
		tok := newSoftHSMToken(t, testPKI)
		uri := "pkcs11:token=pades?module-path=" + softhsmModule + "&pin-value=1234"
		list := mustEnv(t, c, tok.env, "pkcs11", "list", uri)
		for _, want := range []string{`token "pades"`, `\n  logged in\n`, `\n  private\s+RSA 2048\s+"signer"\s+01\s+sign`, `\n  cert\s.*"signer"\s+01\s+CN=` + devpki.SignerRSACN} {
			if !regexp.MustCompile(want).MatchString(list) {
				t.Errorf("pkcs11 list lacks %s:\n%s", want, list)
			}
		}
		public := mustEnv(t, c, tok.env, "pkcs11", "list", "pkcs11:token=pades?module-path="+softhsmModule)
		if !strings.Contains(public, "not logged in: public objects only") || strings.Contains(public, "\n  private ") || !strings.Contains(public, "\n  public ") {
			t.Errorf("pkcs11 list without a PIN:\n%s", public)
		}
		pin := writeFile(t, work, "pin", []byte("1234\n"))
		out := filepath.Join(work, "pkcs11.pdf")
		// the certificate comes from the token, the intermediate from -chain
		mustEnv(t, c, tok.env, "sign", "-pkcs11", "pkcs11:token=pades;object=signer?module-path="+softhsmModule+"&pin-source=file:"+pin,
			"-chain", filepath.Join(testPKI, devpki.IntermediateCertFile), in, out)
		hashsvctest.Validate(t, validator, filepath.Join(testPKI, devpki.RootCertFile), "B-B", out)
		code, _, stderr := c.run(t, tok.env, "sign", "-pkcs11", "pkcs11:token=pades;object=nobody?module-path="+softhsmModule+"&pin-value=1234", in, filepath.Join(work, "x.pdf"))
		refused(t, "sign -pkcs11 with a key that is not there", code, stderr, 1, "nobody")
	})
}

// mustEnv runs pades with env added and fails the test unless it exits 0.
func mustEnv(t *testing.T, c *padesCLI, env []string, args ...string) string {
	t.Helper()
	code, stdout, stderr := c.run(t, env, args...)
	if code != 0 {
		t.Fatalf("pades %s: exit %d\n%s%s", args[0], code, stdout, stderr)
	}
	return stdout
}

// cadesSign posts req to the /v1/cades/sign of the development service and
// returns its JSON answer.
func cadesSign(t *testing.T, dev *hashsvctest.Dev, req csc.CAdESSignRequest) []byte {
	t.Helper()
	body, _ := json.Marshal(req)
	r, _ := http.NewRequest(http.MethodPost, dev.URL+csc.PathCAdESSign, bytes.NewReader(body))
	r.Header.Set("Authorization", "Bearer "+dev.APIKey)
	r.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("cades/sign: %d %s", resp.StatusCode, answer)
	}
	return answer
}

const softhsmModule = testenv.SoftHSMModule

// softHSMToken is a SoftHSM2 token "pades" (PIN 1234) holding the test
// PKI's RSA signer key and certificate, both labelled "signer" with id 01.
type softHSMToken struct {
	env []string // SOFTHSM2_CONF
}

func newSoftHSMToken(t *testing.T, pkiDir string) *softHSMToken {
	t.Helper()
	const hint = "apt-get install softhsm2 opensc"
	util, conf := testenv.SoftHSM(t, hint)
	tool := testenv.Need(t, "pkcs11-tool", hint)
	dir := t.TempDir()
	tok := &softHSMToken{env: []string{"SOFTHSM2_CONF=" + conf}}
	certPEM, err := os.ReadFile(filepath.Join(pkiDir, devpki.SignerRSACertFile))
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(certPEM)
	certDER := filepath.Join(dir, "signer.der")
	os.WriteFile(certDER, blk.Bytes, 0o600)
	for _, cmd := range [][]string{
		{util, "--init-token", "--free", "--label", "pades", "--pin", "1234", "--so-pin", "5678"},
		{util, "--import", filepath.Join(pkiDir, devpki.SignerRSAKeyFile), "--token", "pades", "--label", "signer", "--id", "01", "--pin", "1234"},
		{tool, "--module", softhsmModule, "--token-label", "pades", "--login", "--pin", "1234", "--write-object", certDER, "--type", "cert", "--id", "01", "--label", "signer"},
	} {
		c := exec.Command(cmd[0], cmd[1:]...)
		c.Env = append(os.Environ(), tok.env...)
		if out, err := c.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(cmd, " "), err, out)
		}
	}
	return tok
}
