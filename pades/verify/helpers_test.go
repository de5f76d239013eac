package verify_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"hashsign/cms"
	"hashsign/hashsvc/devtrust"
	"hashsign/internal/devpki"
	"hashsign/internal/testenv"
	"hashsign/ltv"
	"hashsign/pades"
	"hashsign/pades/internal/pdf"
	"hashsign/pades/verify"
	"hashsign/signer"
	"hashsign/testdata/pdfgen"
)

// corpusDir returns ../shared/corpus.
func corpusDir(t testing.TB) string {
	t.Helper()
	d, _ := filepath.Abs("../../../shared/corpus")
	testenv.Need(t, filepath.Join(d, "manifest.tsv"), "CI runs with shared/ beside the project")
	return d
}

// trustEnv is a test PKI whose certificates name a devtrust server on
// 127.0.0.1 for their OCSP, CRL and issuer URLs.
type trustEnv struct {
	pki    *devpki.PKI
	svc    *devtrust.Services
	url    string
	signer signer.Signer
}

// newTrustEnv generates a PKI with opts and serves its trust services.
func newTrustEnv(t testing.TB, opts devpki.Options) *trustEnv {
	t.Helper()
	e, closeFn := startTrustEnv(t, opts)
	t.Cleanup(closeFn)
	return e
}

// startTrustEnv is newTrustEnv whose server the caller closes.
func startTrustEnv(t testing.TB, opts devpki.Options) (*trustEnv, func()) {
	t.Helper()
	var mu sync.RWMutex
	var h http.Handler = http.NotFoundHandler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.RLock()
		defer mu.RUnlock()
		h.ServeHTTP(w, r)
	}))
	opts.BaseURL = srv.URL
	p, err := devpki.Generate(opts)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := devtrust.New(p, devtrust.Options{})
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	h = svc.Handler()
	mu.Unlock()
	s, err := signer.New(p.SignerP256.Key, p.Chain(p.SignerP256))
	if err != nil {
		t.Fatal(err)
	}
	return &trustEnv{pki: p, svc: svc, url: srv.URL, signer: s}, srv.Close
}

var (
	envOnce  sync.Once
	envVal   *trustEnv
	envClose = func() {}
)

func TestMain(m *testing.M) {
	code := m.Run()
	envClose()
	os.Exit(code)
}

// sharedEnv is one trust environment for the tests that need no special
// validity periods.
func sharedEnv(t testing.TB) *trustEnv {
	t.Helper()
	envOnce.Do(func() { envVal, envClose = startTrustEnv(t, devpki.Options{}) })
	if envVal == nil {
		t.Fatal("no trust environment")
	}
	return envVal
}

// signOptions signs at level with tsa's TSA and validation data fetched
// with roots as anchors.
func signOptions(level pades.Level, tsa *trustEnv, roots ...*x509.Certificate) *pades.SignOptions {
	pool := x509.NewCertPool()
	for _, r := range roots {
		pool.AddCert(r)
	}
	return &pades.SignOptions{
		Level:      level,
		TSA:        &ltv.TSAClient{URLs: []string{tsa.url + devtrust.TSAPath}},
		Validation: &ltv.Fetcher{Roots: pool, Extra: roots},
	}
}

// sign signs in with s and returns the signed bytes.
func sign(t testing.TB, in []byte, s signer.Signer, opts *pades.SignOptions) []byte {
	t.Helper()
	f, err := os.Create(filepath.Join(t.TempDir(), "signed.pdf"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := pades.Sign(context.Background(), bytes.NewReader(in), int64(len(in)), f, s, opts)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]byte, res.Size)
	if _, err := f.ReadAt(out, 0); err != nil {
		t.Fatal(err)
	}
	return out
}

// testDoc is a one-page PDF with a text field.
func testDoc(t testing.TB) []byte {
	t.Helper()
	b, err := pdfgen.Bytes(pdfgen.Table, pdfgen.Options{Form: true})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// check verifies data with opts.
func check(t testing.TB, data []byte, opts *verify.Options) *verify.Report {
	t.Helper()
	rep, err := verify.Document(context.Background(), bytes.NewReader(data), int64(len(data)), opts)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// update appends an incremental update that edit writes.
func update(t testing.TB, in []byte, edit func(rd *pdf.Reader, u *pdf.Update)) []byte {
	t.Helper()
	out, _ := updateWith(t, in, edit)
	return out
}

// updateWith is update that also returns the finished update.
func updateWith(t testing.TB, in []byte, edit func(rd *pdf.Reader, u *pdf.Update)) ([]byte, *pdf.Update) {
	t.Helper()
	rd, err := pdf.Open(bytes.NewReader(in), int64(len(in)))
	if err != nil {
		t.Fatal(err)
	}
	u := pdf.NewUpdate(rd, nil)
	edit(rd, u)
	if err := u.Finish(); err != nil {
		t.Fatal(err)
	}
	return append(bytes.Clone(in), u.Bytes()...), u
}

// dict resolves object num of rd as a dictionary, cloned for editing.
func dict(t testing.TB, rd *pdf.Reader, num int) *pdf.Dict {
	t.Helper()
	d, err := rd.ResolveDict(pdf.Ref{Num: num})
	if err != nil || d == nil {
		t.Fatalf("object %d: %v", num, err)
	}
	return d.Clone()
}

// certify signs in with a certification signature of DocMDP level p,
// written with the update writer and cms.Sign.
func certify(t testing.TB, in []byte, s signer.Signer, p int) []byte {
	t.Helper()
	out, u := updateWith(t, in, func(rd *pdf.Reader, u *pdf.Update) {
		root := rd.Trailer.Get("Root").(pdf.Ref)
		cat := dict(t, rd, root.Num)
		sigNum, fieldNum := u.Alloc(), u.Alloc()
		tp := pdf.NewDict()
		tp.Set("Type", pdf.Name("TransformParams"))
		tp.Set("P", pdf.Integer(p))
		tp.Set("V", pdf.Name("1.2"))
		ref := pdf.NewDict()
		ref.Set("Type", pdf.Name("SigRef"))
		ref.Set("TransformMethod", pdf.Name("DocMDP"))
		ref.Set("TransformParams", tp)
		sd := pdf.NewDict()
		sd.Set("Type", pdf.Name("Sig"))
		sd.Set("Filter", pdf.Name("Adobe.PPKLite"))
		sd.Set("SubFilter", pdf.Name("ETSI.CAdES.detached"))
		sd.Set("M", pdf.String{Value: []byte("D:" + time.Now().UTC().Format("20060102150405") + "Z")})
		sd.Set("Reference", pdf.Array{ref})
		if err := u.WriteSignature(sigNum, sd, 8192); err != nil {
			t.Fatal(err)
		}
		field := pdf.NewDict()
		field.Set("FT", pdf.Name("Sig"))
		field.Set("T", pdf.TextString("Certification"))
		field.Set("V", pdf.Ref{Num: sigNum})
		field.Set("Type", pdf.Name("Annot"))
		field.Set("Subtype", pdf.Name("Widget"))
		field.Set("Rect", pdf.Array{pdf.Integer(0), pdf.Integer(0), pdf.Integer(0), pdf.Integer(0)})
		field.Set("F", pdf.Integer(132))
		field.Set("P", pdf.Ref{Num: 5})
		if err := u.WriteObject(fieldNum, 0, field); err != nil {
			t.Fatal(err)
		}
		page := dict(t, rd, 5)
		page.Set("Annots", append(page.Get("Annots").(pdf.Array), pdf.Ref{Num: fieldNum}))
		acro := dict(t, rd, 7)
		acro.Set("Fields", append(acro.Get("Fields").(pdf.Array), pdf.Ref{Num: fieldNum}))
		acro.Set("SigFlags", pdf.Integer(3))
		perms := pdf.NewDict()
		perms.Set("DocMDP", pdf.Ref{Num: sigNum})
		cat.Set("Perms", perms)
		for num, o := range map[int]pdf.Object{5: page, 7: acro, root.Num: cat} {
			if err := u.WriteObject(num, 0, o); err != nil {
				t.Fatal(err)
			}
		}
	})
	br := u.ByteRange()
	h := sha256.New()
	h.Write(out[br[0]:br[1]])
	h.Write(out[br[2] : br[2]+br[3]])
	der, err := cms.Sign(context.Background(), s, h.Sum(nil), cms.Options{})
	if err != nil {
		t.Fatal(err)
	}
	hex.Encode(out[br[1]+1:], der)
	return out
}

// writeTemp writes data to a temporary file, open for reading and writing.
func writeTemp(t testing.TB, data []byte) *os.File {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "*.pdf")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	return f
}
