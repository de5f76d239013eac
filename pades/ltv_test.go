package pades_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"hashsign/hashsvc/devtrust"
	"hashsign/internal/devpki"
	"hashsign/ltv"
	"hashsign/pades"
	"hashsign/signer"
	"hashsign/testdata/pdfgen"
)

// devEnv is a test PKI whose certificates name a devtrust server on
// 127.0.0.1 for their OCSP, CRL and issuer URLs.
type devEnv struct {
	pki    *devpki.PKI
	svc    *devtrust.Services
	url    string
	root   string // root.pem
	signer signer.Signer
}

var (
	devOnce sync.Once
	devVal  *devEnv
	devErr  error
)

func startDevTrust(t *testing.T) *devEnv {
	t.Helper()
	devOnce.Do(func() {
		var h http.Handler = http.NotFoundHandler()
		var mu sync.RWMutex
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.RLock()
			defer mu.RUnlock()
			h.ServeHTTP(w, r)
		}))
		p, err := devpki.Generate(devpki.Options{BaseURL: srv.URL})
		if err != nil {
			devErr = err
			return
		}
		svc, err := devtrust.New(p, devtrust.Options{})
		if err != nil {
			devErr = err
			return
		}
		mu.Lock()
		h = svc.Handler()
		mu.Unlock()
		dir, err := os.MkdirTemp("", "hashsign-devtrust-")
		if err != nil {
			devErr = err
			return
		}
		if err := devpki.WriteDir(p, dir); err != nil {
			devErr = err
			return
		}
		s, err := signer.New(p.SignerP256.Key, p.Chain(p.SignerP256))
		if err != nil {
			devErr = err
			return
		}
		devVal = &devEnv{pki: p, svc: svc, url: srv.URL, root: filepath.Join(dir, devpki.RootCertFile), signer: s}
	})
	if devErr != nil {
		t.Fatal(devErr)
	}
	return devVal
}

func (e *devEnv) options(level pades.Level) *pades.SignOptions {
	return &pades.SignOptions{
		Level:   level,
		TSA:     &ltv.TSAClient{URLs: []string{e.url + devtrust.TSAPath}},
		Validation: &ltv.Fetcher{Roots: e.pki.RootPool(), Extra: []*x509.Certificate{e.pki.Root.Cert}},
	}
}

// TestLevelsDevTrust signs at every level against our own dev trust
// services and has the external validators judge each output.
func TestLevelsDevTrust(t *testing.T) {
	shared := sharedDir(t)
	env := startDevTrust(t)
	dir := t.TempDir()
	in, err := pdfgen.Bytes(pdfgen.StreamIncremental, pdfgen.Options{Form: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, level := range []pades.Level{pades.LevelBT, pades.LevelBLT, pades.LevelBLTA} {
		t.Run(level.String(), func(t *testing.T) {
			out := filepath.Join(dir, level.String()+".pdf")
			if err := signFile(in, out, env.signer, env.options(level)); err != nil {
				t.Fatal(err)
			}
			if ok, report := checkSignedPDFRoot(t, shared, env.root, out, level.String(), "", 1); !ok {
				t.Fatalf("check-signed-pdf:\n%s", report)
			}
		})
	}
}

// TestExtendTwice extends a B-LTA file twice: every document timestamp
// must stay valid, and the file must pass at B-LTA.
func TestExtendTwice(t *testing.T) {
	shared := sharedDir(t)
	env := startDevTrust(t)
	dir := t.TempDir()
	in, _ := pdfgen.Bytes(pdfgen.Table, pdfgen.Options{})
	path := filepath.Join(dir, "lta.pdf")
	if err := signFile(in, path, env.signer, env.options(pades.LevelBLTA)); err != nil {
		t.Fatal(err)
	}
	for round := 1; round <= 2; round++ {
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		st, _ := f.Stat()
		o := env.options(pades.LevelBLTA)
		res, err := pades.Extend(context.Background(), f, st.Size(), &pades.ExtendOptions{Level: pades.LevelBLTA, TSA: o.TSA, Validation: o.Validation})
		f.Close()
		if err != nil {
			t.Fatalf("extend %d: %v", round, err)
		}
		if res.Signatures != 1+round {
			t.Errorf("extend %d covered %d signatures and timestamps, want %d", round, res.Signatures, 1+round)
		}
	}
	rep := inspectFile(t, path, "")
	ts := 0
	for _, f := range rep.Fields {
		if f.Intact == nil || !*f.Intact {
			t.Errorf("%s (%s) is not intact: %s", f.Field, f.Type, f.Problem)
		}
		if f.Type == "DocTimeStamp" {
			ts++
		}
	}
	if ts != 3 {
		t.Errorf("%d document timestamps, want 3", ts)
	}
	if ok, report := checkSignedPDFRoot(t, shared, env.root, path, "B-LTA", "", 1); !ok {
		t.Fatalf("check-signed-pdf:\n%s", report)
	}
}

// TestRevokedSignerRefusesBLT: B-LT is refused for a revoked signer, and
// the error says why.
func TestRevokedSignerRefusesBLT(t *testing.T) {
	env := startDevTrust(t)
	// SignerP384 is used by no other test, so revoking it disturbs none
	p := env.pki
	s, err := signer.New(p.SignerP384.Key, p.Chain(p.SignerP384))
	if err != nil {
		t.Fatal(err)
	}
	if err := env.svc.Revoke(p.SignerP384.Cert, time.Now().Add(-time.Hour), 1); err != nil {
		t.Fatal(err)
	}
	in, _ := pdfgen.Bytes(pdfgen.Table, pdfgen.Options{})
	out := filepath.Join(t.TempDir(), "revoked.pdf")
	err = signFile(in, out, s, env.options(pades.LevelBLT))
	var rev *ltv.RevokedError
	if !errors.As(err, &rev) || !strings.Contains(err.Error(), "revoked") {
		t.Fatalf("err = %v, want a revocation error", err)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("an output file was left behind")
	}
}

// TestExtendForeignSignature extends a file signed by poppler's pdfsig
// (through NSS, with the trust-services key) to B-LTA.
func TestExtendForeignSignature(t *testing.T) {
	shared := sharedDir(t)
	for _, tool := range []string{"pdfsig", "certutil", "pk12util"} {
		needTool(t, tool)
	}
	ts := startTrustServices(t)
	dir := t.TempDir()
	nss := filepath.Join(dir, "nss")
	os.Mkdir(nss, 0o700)
	run := func(name string, args ...string) {
		if b, err := exec.Command(name, args...).CombinedOutput(); err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, b)
		}
	}
	run("certutil", "-N", "-d", "sql:"+nss, "--empty-password")
	run("pk12util", "-i", filepath.Join(filepath.Dir(ts.Root), "signer.p12"), "-d", "sql:"+nss, "-W", "test")
	in := filepath.Join(dir, "in.pdf")
	b, _ := pdfgen.Bytes(pdfgen.Table, pdfgen.Options{})
	os.WriteFile(in, b, 0o644)
	signed := filepath.Join(dir, "pdfsig.pdf")
	run("pdfsig", "-nssdir", "sql:"+nss, "-add-signature", "-nick", "signer", in, signed)

	data, err := os.ReadFile(signed)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(dir, "lta.pdf"))
	if err != nil {
		t.Fatal(err)
	}
	f.Write(data)
	roots, _ := readPEMCerts(ts.Root)
	pool := x509.NewCertPool()
	for _, c := range roots {
		pool.AddCert(c)
	}
	_, err = pades.Extend(context.Background(), f, int64(len(data)), &pades.ExtendOptions{
		Level: pades.LevelBLTA, TSA: &ltv.TSAClient{URLs: []string{ts.TSAURL}}, Validation: &ltv.Fetcher{Roots: pool, Extra: roots},
	})
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	out, _ := os.ReadFile(f.Name())
	if !bytes.HasPrefix(out, data) {
		t.Fatal("extend changed the signed bytes")
	}
	// pdfsig writes adbe.pkcs7.detached without a signature timestamp, so
	// its signature is judged for integrity (--newest 0) and what extend
	// added (DSS, document timestamp) at B-LTA.
	if ok, report := checkSignedPDFRoot(t, shared, ts.Root, f.Name(), "B-LTA", "", 0); !ok {
		t.Fatalf("check-signed-pdf:\n%s", report)
	}
}
