package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"database/sql"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"hashsign/cms"
	"hashsign/csc"
	"hashsign/hashsvc"
	"hashsign/hashsvc/hashsvctest"
	"hashsign/internal/atomicfile"
	"hashsign/pades"
	"hashsign/signer/remote"
	"hashsign/testdata/pdfgen"
)

// TestDevEndToEnd runs the real `hashsvc serve -dev` binary on 127.0.0.1,
// signs PDFs through it (remote signer, batch, and /v1/cades/sign with a
// time-stamp from its built-in TSA), checks them with the external
// validator, checks and then tampers with the audit log, restarts on the
// stored port and shuts down gracefully.
func TestDevEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs hashsvc")
	}
	ctx := context.Background()
	bin := hashsvctest.Build(t, "./cmd/hashsvc")
	dir := filepath.Join(t.TempDir(), "dev")
	dev := hashsvctest.StartDev(t, bin, dir, "127.0.0.1:0")
	t.Logf("hashsvc -dev at %s", dev.URL)

	// the files the issue promises
	root := filepath.Join(dir, hashsvc.DevRootFile)
	rootCert := readCert(t, root)
	if !bytes.Equal(rootCert.RawIssuer, rootCert.RawSubject) {
		t.Error("root.pem is not a self-signed root")
	}
	if inter := readCert(t, filepath.Join(dir, hashsvc.DevChainFile)); inter.CheckSignatureFrom(rootCert) != nil {
		t.Error("chain.pem is not the intermediate CA issued by the root")
	}
	if st, err := os.Stat(filepath.Join(dir, hashsvc.DevAPIKeyFile)); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("api-key: %v, mode %v, want 0600", err, st.Mode().Perm())
	}

	c, err := remote.NewClient(dev.URL, remote.Options{APIKey: dev.APIKey})
	if err != nil {
		t.Fatal(err)
	}
	ids, err := c.Credentials(ctx)
	if err != nil || strings.Join(ids, ",") != "dev-rsa,dev-p256,dev-p384" {
		t.Fatalf("credentials %v, %v", ids, err)
	}
	// The dev certificates name the service's own URL in AIA and CDP.
	s, err := remote.NewSigner(ctx, c, hashsvc.DevCredentialRSA)
	if err != nil {
		t.Fatal(err)
	}
	leaf := s.Chain()[0]
	if len(leaf.OCSPServer) == 0 || !strings.HasPrefix(leaf.OCSPServer[0], dev.URL+"/ocsp") ||
		len(leaf.CRLDistributionPoints) == 0 || !strings.HasPrefix(leaf.CRLDistributionPoints[0], dev.URL+"/crl/") {
		t.Errorf("certificate URLs %v %v do not name %s", leaf.OCSPServer, leaf.CRLDistributionPoints, dev.URL)
	}
	for _, p := range []string{"/ca/root.cer", "/ca/inter.cer", "/crl/root.crl", "/crl/inter.crl", "/healthz", "/readyz", "/openapi.yaml"} {
		resp, err := http.Get(dev.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("GET %s: %d", p, resp.StatusCode)
		}
	}

	work := t.TempDir()
	src, err := pdfgen.Bytes(pdfgen.Stream, pdfgen.Options{Pages: 2})
	if err != nil {
		t.Fatal(err)
	}
	in := filepath.Join(work, "in.pdf")
	os.WriteFile(in, src, 0o644)
	var toValidate []struct{ file, level string }

	// pades sign -remote: the CMS is built locally, the hash signed remotely
	for _, cred := range []string{hashsvc.DevCredentialRSA, hashsvc.DevCredentialP256} {
		rs, err := remote.NewSigner(ctx, c, cred)
		if err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(work, cred+".pdf")
		f, err := atomicfile.Create(out)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := pades.Sign(ctx, bytes.NewReader(src), int64(len(src)), f, rs, &pades.SignOptions{Info: pades.SignatureInfo{Reason: "e2e"}}); err != nil {
			t.Fatal(err)
		}
		if err := f.Commit(); err != nil {
			t.Fatal(err)
		}
		toValidate = append(toValidate, struct{ file, level string }{out, "B-B"})
	}

	// the batch path: three documents signed at once through a Batcher
	// (SHA-384), their hashes in one signHash request
	rs, err := remote.NewSigner(ctx, c, hashsvc.DevCredentialP384)
	if err != nil {
		t.Fatal(err)
	}
	b := remote.NewBatcher(rs, 0)
	var wg sync.WaitGroup
	names := []string{"a.pdf", "b.pdf", "c.pdf"}
	errs := make([]error, len(names))
	for i, name := range names {
		r := b.Reserve()
		wg.Go(func() {
			defer r.Release()
			f, err := atomicfile.Create(filepath.Join(work, name))
			if err != nil {
				errs[i] = err
				return
			}
			defer f.Abort()
			if _, err := pades.Sign(ctx, bytes.NewReader(src), int64(len(src)), f, r, &pades.SignOptions{Hash: crypto.SHA384}); err != nil {
				errs[i] = err
				return
			}
			errs[i] = f.Commit()
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	toValidate = append(toValidate, struct{ file, level string }{filepath.Join(work, "b.pdf"), "B-B"})

	// MeSign-style: prepare locally, have the whole CMS built remotely
	// with a signature time-stamp, embed it
	for _, level := range []string{"B-B", "B-T", "B-LT"} {
		prepared := filepath.Join(work, "prepared.pdf")
		f, err := os.Create(prepared)
		if err != nil {
			t.Fatal(err)
		}
		p, err := pades.Prepare(ctx, bytes.NewReader(src), int64(len(src)), f, &pades.PrepareOptions{ContentsSize: 16384})
		if err != nil {
			t.Fatal(err)
		}
		ts, vd := level != "B-B", level == "B-LT"
		sig, err := c.CAdESSign(ctx, &csc.CAdESSignRequest{CredentialID: hashsvc.DevCredentialP256, Digest: b64(p.Digest), Timestamp: ts, ValidationData: vd})
		if err != nil {
			t.Fatal(err)
		}
		der := sig.CMS
		if _, err := cms.Parse(der); err != nil {
			t.Fatal(err)
		}
		got := len(sig.Certs) > 0 && len(sig.OCSPs)+len(sig.CRLs) > 0
		if got != vd || sig.Timestamped != ts {
			t.Fatalf("%s: validation data in the answer: %v, asked: %v; timestamped %v, asked %v", level, got, vd, sig.Timestamped, ts)
		}
		if err := pades.Embed(f, p, der); err != nil {
			t.Fatal(err)
		}
		if vd {
			// B-LT in one round trip: the service sent the DSS content
			dss := &pades.DSS{Certs: sig.Certs, OCSPs: sig.OCSPs, CRLs: sig.CRLs}
			if _, err := pades.AddDSS(ctx, f, p.Size, dss.WithVRI(p.VRIKey(der)), nil); err != nil {
				t.Fatal(err)
			}
		}
		f.Close()
		out := filepath.Join(work, "cades-"+level+".pdf")
		os.Rename(prepared, out)
		toValidate = append(toValidate, struct{ file, level string }{out, level})
	}

	validator := hashsvctest.Validator(t)
	for _, v := range toValidate {
		hashsvctest.Validate(t, validator, root, v.level, v.file)
	}

	// audit verify on the running service's log
	out, err := exec.Command(bin, "audit", "verify", "-dev", dir).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "8 records, chain intact") {
		t.Errorf("audit verify: %v\n%s", err, out)
	}

	// restart: port 0 reuses the stored port, another port is refused
	if err := dev.Stop(); err != nil {
		t.Fatalf("SIGTERM: %v\n%s", err, dev.Stderr)
	}
	if !strings.Contains(dev.Stderr.String(), "shut down") {
		t.Errorf("no graceful shutdown in the log:\n%s", dev.Stderr)
	}
	dev2 := hashsvctest.StartDev(t, bin, dir, "127.0.0.1:0")
	if dev2.URL != dev.URL || dev2.APIKey != dev.APIKey {
		t.Errorf("restart at %s with a new key; want %s and the same key", dev2.URL, dev.URL)
	}
	if rootCert2 := readCert(t, root); !rootCert2.Equal(rootCert) {
		t.Error("the dev root changed on restart")
	}
	free, _ := net.Listen("tcp", "127.0.0.1:0")
	other := free.Addr().String()
	free.Close()
	if d, err := hashsvctest.TryStartDev(bin, dir, other); err == nil {
		d.Kill()
		t.Error("a dev directory made for one port started on another")
	}
	// port busy: the first restart still holds it
	if d, err := hashsvctest.TryStartDev(bin, dir, "127.0.0.1:0"); err == nil {
		d.Kill()
		t.Error("started on a busy stored port")
	} else if !strings.Contains(err.Error(), "busy") {
		t.Errorf("busy port error: %v", err)
	}
	dev2.Kill()

	// an audit log edited by hand fails `hashsvc audit verify`
	db, err := sql.Open("sqlite", filepath.Join(dir, hashsvc.DevAuditFile))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE audit SET credential = 'dev-p256' WHERE seq = 1`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	cmd := exec.Command(bin, "audit", "verify", "-dev", dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(stderr.String(), "record 1") {
		t.Errorf("audit verify of an edited log: %v, %q; want exit 1 naming record 1", err, stderr.String())
	}
	t.Logf("audit verify of an edited log: %s", strings.TrimSpace(stderr.String()))
}

func TestCommandLine(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"apikey", "new", "-id", "ci", "-credentials", "a,b"}, &out, &errOut); code != 0 {
		t.Fatalf("apikey new: %d %s", code, errOut.String())
	}
	lines := strings.Split(out.String(), "\n")
	key := lines[1]
	if !strings.HasPrefix(key, hashsvc.APIKeyPrefix) || !strings.Contains(out.String(), hashsvc.HashAPIKey(key)) || !strings.Contains(out.String(), `credentials: ["a", "b"]`) {
		t.Errorf("apikey new printed:\n%s", out.String())
	}
	out.Reset()
	if code := run(context.Background(), []string{"serve"}, &out, &errOut); code != 2 {
		t.Errorf("serve without -config or -dev: exit %d, want 2", code)
	}
	if code := run(context.Background(), []string{"audit", "verify", "-db", filepath.Join(t.TempDir(), "none.db")}, &out, &errOut); code != 1 {
		t.Errorf("audit verify of a missing file: exit %d, want 1", code)
	}
	out.Reset()
	run(context.Background(), []string{"openapi"}, &out, io.Discard)
	if !bytes.Equal(out.Bytes(), hashsvc.OpenAPI) {
		t.Error("openapi does not print the document")
	}
	out.Reset()
	run(context.Background(), []string{"example-config"}, &out, io.Discard)
	if !bytes.Equal(out.Bytes(), hashsvc.ExampleConfig) || !bytes.Contains(out.Bytes(), []byte("client_ca:")) {
		t.Error("example-config does not print the example configuration")
	}
}

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	blk, rest := pem.Decode(b)
	if blk == nil || len(bytes.TrimSpace(rest)) != 0 {
		t.Fatalf("%s: want exactly one PEM certificate", path)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
