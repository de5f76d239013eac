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
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"hashsign/hashsvc/devtrust"
	"hashsign/internal/devpki"
	"hashsign/ltv"
	"hashsign/pades"
	"hashsign/pades/internal/pdf"
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
	srv    *httptest.Server
	dir    string // the PKI as devpki.WriteDir writes it
}

var (
	devOnce sync.Once
	devVal  *devEnv
	devErr  error
)

// startDevTrust returns the dev trust services that the tests share,
// started on first use. Tests must not change their state (revoke a
// certificate): newDevTrust gives a test its own.
func startDevTrust(t *testing.T) *devEnv {
	t.Helper()
	// the server and the directory live as long as the test binary
	devOnce.Do(func() { devVal, devErr = newDevTrust() })
	if devErr != nil {
		t.Fatal(devErr)
	}
	return devVal
}

// newDevTrust generates a test PKI and starts its devtrust server on
// 127.0.0.1, and writes the PKI to a temporary directory.
func newDevTrust() (*devEnv, error) {
	var h http.Handler = http.NotFoundHandler()
	var mu sync.RWMutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.RLock()
		defer mu.RUnlock()
		h.ServeHTTP(w, r)
	}))
	p, err := devpki.Generate(devpki.Options{BaseURL: srv.URL})
	if err != nil {
		return nil, err
	}
	svc, err := devtrust.New(p, devtrust.Options{})
	if err != nil {
		return nil, err
	}
	mu.Lock()
	h = svc.Handler()
	mu.Unlock()
	dir, err := os.MkdirTemp("", "hashsign-devtrust-")
	if err != nil {
		return nil, err
	}
	if err := devpki.WriteDir(p, dir); err != nil {
		return nil, err
	}
	s, err := signer.New(p.SignerP256.Key, p.Chain(p.SignerP256))
	if err != nil {
		return nil, err
	}
	return &devEnv{pki: p, svc: svc, url: srv.URL, root: filepath.Join(dir, devpki.RootCertFile), signer: s, srv: srv, dir: dir}, nil
}

// close stops the server of a devEnv of newDevTrust and removes its
// directory.
func (e *devEnv) close() {
	e.srv.Close()
	os.RemoveAll(e.dir)
}

func (e *devEnv) options(level pades.Level) *pades.SignOptions {
	return &pades.SignOptions{
		Level:      level,
		TSA:        &ltv.TSAClient{URLs: []string{e.url + devtrust.TSAPath}},
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
	// its own trust services: the revocation disturbs no other test
	env, err := newDevTrust()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(env.close)
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

// pdfsigSign signs in with poppler's pdfsig -add-signature (through NSS,
// with the trust-services key) and returns the signed file: a B-B
// signature that has no timestamp of its own, made by another tool.
func pdfsigSign(t *testing.T, ts *trustServices, dir string, in []byte) []byte {
	t.Helper()
	for _, tool := range []string{"pdfsig", "certutil", "pk12util"} {
		needTool(t, tool)
	}
	nss := filepath.Join(dir, "nss")
	os.Mkdir(nss, 0o700)
	run := func(name string, args ...string) {
		if b, err := exec.Command(name, args...).CombinedOutput(); err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, b)
		}
	}
	run("certutil", "-N", "-d", "sql:"+nss, "--empty-password")
	run("pk12util", "-i", filepath.Join(filepath.Dir(ts.Root), "signer.p12"), "-d", "sql:"+nss, "-W", "test")
	inPath := filepath.Join(dir, "pdfsig-in.pdf")
	if err := os.WriteFile(inPath, in, 0o644); err != nil {
		t.Fatal(err)
	}
	signed := filepath.Join(dir, "pdfsig.pdf")
	run("pdfsig", "-nssdir", "sql:"+nss, "-add-signature", "-nick", "signer", inPath, signed)
	data, err := os.ReadFile(signed)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// pdfsigSubFilter is the one check that a pdfsig signature fails whatever
// extend does: poppler 22.12 writes /SubFilter /adbe.pkcs7.detached (its
// -etsi is refused with -add-signature and ignored with -sign), a bit that
// the signature covers.
const pdfsigSubFilter = "FAIL signature 1: SubFilter is ETSI.CAdES.detached: adbe.pkcs7.detached"

// TestExtendUntimed extends B-B signatures that have no timestamp of their
// own, one made by pdfsig and one of ours, with one Extend each: the
// signature must first get its time from a document timestamp, then the
// DSS, then (B-LTA) a document timestamp over the DSS. Every signature of
// the result is judged at the level asked (check-signed-pdf's default
// --newest), and the DSS must hold the certificates and revocation data of
// the signer's, the TSA's and the OCSP responders' chains.
func TestExtendUntimed(t *testing.T) {
	shared := sharedDir(t)
	ts := startTrustServices(t)
	dir := t.TempDir()
	in, err := pdfgen.Bytes(pdfgen.Table, pdfgen.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := signer.LoadKeyFile(ts.SignerKey, ts.SignerCert, ts.Inter)
	if err != nil {
		t.Fatal(err)
	}
	ours, _ := signBytes(t, in, s, nil, dir, "ours-bb.pdf")
	oursBB, err := os.ReadFile(ours)
	if err != nil {
		t.Fatal(err)
	}
	roots, err := readPEMCerts(ts.Root)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	for _, c := range roots {
		pool.AddCert(c)
	}
	inputs := []struct {
		name    string
		data    []byte
		allowed []string // failures of the input that extend cannot change
	}{
		{"pdfsig", pdfsigSign(t, ts, dir, in), []string{pdfsigSubFilter}},
		{"hashsign", oursBB, nil},
	}
	for _, input := range inputs {
		for _, level := range []pades.Level{pades.LevelBLT, pades.LevelBLTA} {
			t.Run(input.name+"/"+level.String(), func(t *testing.T) {
				path := filepath.Join(dir, input.name+"-"+level.String()+".pdf")
				if err := os.WriteFile(path, input.data, 0o644); err != nil {
					t.Fatal(err)
				}
				f, err := os.OpenFile(path, os.O_RDWR, 0)
				if err != nil {
					t.Fatal(err)
				}
				res, err := pades.Extend(context.Background(), f, int64(len(input.data)), &pades.ExtendOptions{
					Level: level, TSA: &ltv.TSAClient{URLs: []string{ts.TSAURL}}, Validation: &ltv.Fetcher{Roots: pool, Extra: roots},
				})
				f.Close()
				if err != nil {
					t.Fatal(err)
				}
				if !res.Timestamped || res.Level != level {
					t.Errorf("Extend: timestamped %v, level %v; want a first document timestamp and %v", res.Timestamped, res.Level, level)
				}
				out, _ := os.ReadFile(path)
				if !bytes.HasPrefix(out, input.data) {
					t.Fatal("extend changed the signed bytes")
				}
				checkDSS(t, out, ts)
				ok, report := checkSignedPDFRoot(t, shared, ts.Root, path, level.String(), "", -1)
				if !ok && !onlyFailures(report, input.allowed) {
					t.Fatalf("check-signed-pdf --level %v:\n%s", level, report)
				}
			})
		}
	}
}

// onlyFailures reports whether the FAIL lines of a check-signed-pdf report
// are the allowed ones and PadesCheck's count of them.
func onlyFailures(report string, allowed []string) bool {
	fails := 0
	for _, l := range strings.Split(report, "\n") {
		l = strings.TrimSpace(l)
		if !strings.HasPrefix(l, "FAIL") {
			continue
		}
		if slices.Contains(allowed, l) {
			fails++
			continue
		}
		if m := padesLine.FindStringSubmatch(l); m != nil && m[1] == strconv.Itoa(len(allowed)) {
			continue
		}
		return false
	}
	return fails == len(allowed)
}

// checkDSS checks that the /DSS of the signed file data holds the
// certificates of the signer's chain (trust-services' signer and
// intermediate), of every document timestamp's TSA and of every OCSP
// responder, and revocation data (an OCSP response for it, or a CRL of its
// issuer) for each of them but the root and responders with
// id-pkix-ocsp-nocheck.
func checkDSS(t *testing.T, data []byte, ts *trustServices) {
	t.Helper()
	rd, err := pdf.Open(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	cat, _ := rd.ResolveDict(rd.Trailer.Get("Root"))
	dss, _ := rd.ResolveDict(cat.Get("DSS"))
	if dss == nil {
		t.Fatal("no /DSS")
	}
	items := func(key pdf.Name) [][]byte {
		arrObj, _ := rd.Resolve(dss.Get(key))
		arr, _ := arrObj.(pdf.Array)
		var out [][]byte
		for _, e := range arr {
			r, _ := e.(pdf.Ref)
			o, err := rd.Object(r.Num)
			st, ok := o.(*pdf.Stream)
			if err != nil || !ok {
				t.Fatalf("/DSS /%s entry %v is not a stream: %v", key, e, err)
			}
			b, err := rd.StreamData(st, r.Num, r.Gen)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, b)
		}
		return out
	}
	var certs []*x509.Certificate
	for _, der := range items("Certs") {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatalf("/DSS /Certs: %v", err)
		}
		certs = append(certs, c)
	}
	var ocsps []*ocsp.Response
	for _, der := range items("OCSPs") {
		r, err := ocsp.ParseResponse(der, nil)
		if err != nil {
			t.Fatalf("/DSS /OCSPs: %v", err)
		}
		ocsps = append(ocsps, r)
	}
	var crls []*x509.RevocationList
	for _, der := range items("CRLs") {
		c, err := x509.ParseRevocationList(der)
		if err != nil {
			t.Fatalf("/DSS /CRLs: %v", err)
		}
		crls = append(crls, c)
	}
	var need []*x509.Certificate // what the DSS must hold, with revocation data
	for _, p := range []string{ts.SignerCert, ts.Inter} {
		cs, err := readPEMCerts(p)
		if err != nil {
			t.Fatal(err)
		}
		need = append(need, cs[0])
	}
	// every document timestamp's TSA certificate and its issuers
	timestamps := 0
	for num := range rd.Entries() {
		d, err := rd.ResolveDict(pdf.Ref{Num: num})
		if err != nil || d == nil || d.Get("SubFilter") != pdf.Name("ETSI.RFC3161") {
			continue
		}
		contents, _ := d.Get("Contents").(pdf.String)
		tok, err := ltv.ParseToken(contents.Value)
		if err != nil {
			t.Fatalf("document timestamp (object %d): %v", num, err)
		}
		timestamps++
		need = append(need, tok.Signer)
		for _, c := range tok.Certificates {
			if !c.Equal(tok.Signer) && !selfIssued(c) {
				need = append(need, c)
			}
		}
	}
	if timestamps == 0 {
		t.Fatal("no document timestamp")
	}
	// the OCSP responders
	for _, r := range ocsps {
		if r.Certificate != nil {
			need = append(need, r.Certificate)
		}
	}
	for _, c := range need {
		if !slices.ContainsFunc(certs, c.Equal) {
			t.Errorf("the DSS lacks the certificate %q", c.Subject)
		}
		if selfIssued(c) || hasOCSPNoCheck(c) {
			continue
		}
		covered := slices.ContainsFunc(ocsps, func(r *ocsp.Response) bool { return r.SerialNumber.Cmp(c.SerialNumber) == 0 }) ||
			slices.ContainsFunc(crls, func(l *x509.RevocationList) bool { return bytes.Equal(l.RawIssuer, c.RawIssuer) })
		if !covered {
			t.Errorf("the DSS holds no OCSP response or CRL for %q", c.Subject)
		}
	}
}

func selfIssued(c *x509.Certificate) bool { return bytes.Equal(c.RawIssuer, c.RawSubject) }

func hasOCSPNoCheck(c *x509.Certificate) bool {
	for _, e := range c.Extensions {
		if e.Id.String() == "1.3.6.1.5.5.7.48.1.5" {
			return true
		}
	}
	return false
}
