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
	"hashsign/internal/testenv"
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

// TestExtendTwice renews the archive timestamp of a B-LTA file twice:
// each renewal must add fresh validation data for the signer's chain and
// the earlier timestamps' TSAs, then a document timestamp over it; every
// signature and timestamp must stay intact, the DSS must hold the data of
// every chain, and the file must pass at B-LTA with every signature and
// timestamp judged.
func TestExtendTwice(t *testing.T) {
	shared := sharedDir(t)
	env := startDevTrust(t)
	dir := t.TempDir()
	in, _ := pdfgen.Bytes(pdfgen.Table, pdfgen.Options{})
	path := filepath.Join(dir, "lta.pdf")
	if err := signFile(in, path, env.signer, env.options(pades.LevelBLTA)); err != nil {
		t.Fatal(err)
	}
	chain := env.pki.Chain(env.pki.SignerP256)
	for round := 1; round <= 2; round++ {
		before, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		o := env.options(pades.LevelBLTA)
		res, err := pades.Extend(context.Background(), f, int64(len(before)), &pades.ExtendOptions{Level: pades.LevelBLTA, TSA: o.TSA, Validation: o.Validation})
		f.Close()
		if err != nil {
			t.Fatalf("extend %d: %v", round, err)
		}
		if res.Signatures != 1+round || res.Timestamped {
			t.Errorf("extend %d covered %d signatures and timestamps (timestamped first: %v), want %d (false)", round, res.Signatures, res.Timestamped, 1+round)
		}
		after, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		checkRenewal(t, before, after, chain)
		checkDSS(t, after, chain)
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
	if ok, report := checkSignedPDFRoot(t, shared, env.root, path, "B-LTA", "", -1); !ok {
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
		testenv.Need(t, tool, "")
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
	var chain []*x509.Certificate // the signer and its intermediate
	for _, p := range []string{ts.SignerCert, ts.Inter} {
		cs, err := readPEMCerts(p)
		if err != nil {
			t.Fatal(err)
		}
		chain = append(chain, cs[0])
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
				checkDSS(t, out, chain)
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

// dssContents is what a /DSS holds, parsed.
type dssContents struct {
	certs []*x509.Certificate
	ocsps []*ocsp.Response
	crls  []*x509.RevocationList
}

// readDSS reads the /DSS of the file data; it fails the test when there is
// none.
func readDSS(t *testing.T, data []byte) *dssContents {
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
	d := &dssContents{}
	for _, der := range items("Certs") {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatalf("/DSS /Certs: %v", err)
		}
		d.certs = append(d.certs, c)
	}
	for _, der := range items("OCSPs") {
		r, err := ocsp.ParseResponse(der, nil)
		if err != nil {
			t.Fatalf("/DSS /OCSPs: %v", err)
		}
		d.ocsps = append(d.ocsps, r)
	}
	for _, der := range items("CRLs") {
		c, err := x509.ParseRevocationList(der)
		if err != nil {
			t.Fatalf("/DSS /CRLs: %v", err)
		}
		d.crls = append(d.crls, c)
	}
	return d
}

// ocspFor returns the OCSP responses of d for c.
func (d *dssContents) ocspFor(c *x509.Certificate) []*ocsp.Response {
	var out []*ocsp.Response
	for _, r := range d.ocsps {
		if r.SerialNumber.Cmp(c.SerialNumber) == 0 {
			out = append(out, r)
		}
	}
	return out
}

// covers reports whether d holds revocation data for c: an OCSP response
// for it or a CRL of its issuer.
func (d *dssContents) covers(c *x509.Certificate) bool {
	return len(d.ocspFor(c)) > 0 ||
		slices.ContainsFunc(d.crls, func(l *x509.RevocationList) bool { return bytes.Equal(l.RawIssuer, c.RawIssuer) })
}

// docTimestamp is a document timestamp of a file.
type docTimestamp struct {
	tok *ltv.Token
	end int64 // the end of its byte range: of the revision it was made for
}

// docTimestamps returns the document timestamps of the file data, oldest
// first.
func docTimestamps(t *testing.T, data []byte) []docTimestamp {
	t.Helper()
	rd, err := pdf.Open(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	var out []docTimestamp
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
		br, _ := d.Get("ByteRange").(pdf.Array)
		if len(br) != 4 {
			t.Fatalf("document timestamp (object %d): /ByteRange %v", num, br)
		}
		a, _ := pdf.Int(br[2])
		b, _ := pdf.Int(br[3])
		out = append(out, docTimestamp{tok: tok, end: a + b})
	}
	slices.SortFunc(out, func(x, y docTimestamp) int { return int(x.end - y.end) })
	return out
}

// tsaChains returns the TSA certificates of the timestamps and the
// certificates they carry, but the self-issued ones.
func tsaChains(tss []docTimestamp) []*x509.Certificate {
	var out []*x509.Certificate
	for _, ts := range tss {
		out = append(out, ts.tok.Signer)
		for _, c := range ts.tok.Certificates {
			if !c.Equal(ts.tok.Signer) && !selfIssued(c) {
				out = append(out, c)
			}
		}
	}
	return out
}

// needsRevocation reports whether the DSS must hold revocation data for c:
// not for a trust anchor, nor for an OCSP responder with
// id-pkix-ocsp-nocheck.
func needsRevocation(c *x509.Certificate) bool { return !selfIssued(c) && !hasOCSPNoCheck(c) }

// checkDSS checks that the /DSS of the signed file data holds the
// certificates of the signer's chain (chain: the signer and its issuers but
// the root), of every document timestamp's TSA and of every OCSP
// responder, and revocation data (an OCSP response for it, or a CRL of its
// issuer) for each of them but the root and responders with
// id-pkix-ocsp-nocheck.
func checkDSS(t *testing.T, data []byte, chain []*x509.Certificate) {
	t.Helper()
	d := readDSS(t, data)
	tss := docTimestamps(t, data)
	if len(tss) == 0 {
		t.Fatal("no document timestamp")
	}
	need := append(slices.Clone(chain), tsaChains(tss)...)
	for _, r := range d.ocsps {
		if r.Certificate != nil {
			need = append(need, r.Certificate)
		}
	}
	for _, c := range need {
		if !slices.ContainsFunc(d.certs, c.Equal) {
			t.Errorf("the DSS lacks the certificate %q", c.Subject)
		}
		if needsRevocation(c) && !d.covers(c) {
			t.Errorf("the DSS holds no OCSP response or CRL for %q", c.Subject)
		}
	}
}

// checkRenewal checks what one B-LTA renewal turned the file before into
// after: it appended one document timestamp, and the DSS that timestamp
// covers holds fresh validation data (OCSP responses that the file before
// did not hold) for every certificate of the signer's chain and of the
// earlier document timestamps' TSAs that had OCSP responses before, and
// revocation data for the others.
func checkRenewal(t *testing.T, before, after []byte, chain []*x509.Certificate) {
	t.Helper()
	if !bytes.HasPrefix(after, before) {
		t.Fatal("the renewal changed the earlier bytes")
	}
	old, cur := docTimestamps(t, before), docTimestamps(t, after)
	if len(cur) != len(old)+1 {
		t.Fatalf("the renewal made %d document timestamps, want 1", len(cur)-len(old))
	}
	last := cur[len(cur)-1]
	if last.end <= int64(len(before)) {
		t.Fatalf("the new document timestamp covers %d bytes, the file before held %d", last.end, len(before))
	}
	prev, covered := readDSS(t, before), readDSS(t, after[:last.end])
	for _, c := range append(slices.Clone(chain), tsaChains(old)...) {
		if !needsRevocation(c) {
			continue
		}
		if len(prev.ocspFor(c)) == 0 {
			if !covered.covers(c) {
				t.Errorf("the DSS under the new timestamp holds no OCSP response or CRL for %q", c.Subject)
			}
			continue
		}
		fresh := slices.ContainsFunc(covered.ocspFor(c), func(r *ocsp.Response) bool {
			return !slices.ContainsFunc(prev.ocsps, func(p *ocsp.Response) bool { return bytes.Equal(p.Raw, r.Raw) })
		})
		if !fresh {
			t.Errorf("the renewal added no fresh OCSP response for %q under its timestamp", c.Subject)
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
