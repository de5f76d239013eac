package ltv

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"hashsign/hashsvc/devtrust"
	"hashsign/internal/devpki"
	"hashsign/internal/ocspasn1"
)

// subjects returns the common names of certs, sorted.
func subjects(certs []*x509.Certificate) []string {
	var out []string
	for _, c := range certs {
		out = append(out, c.Subject.CommonName)
	}
	slices.Sort(out)
	return out
}

// crlIssuers returns the common names of the issuers of the CRLs, sorted.
func crlIssuers(t *testing.T, crls [][]byte) []string {
	t.Helper()
	var out []string
	for _, der := range crls {
		rl, err := x509.ParseRevocationList(der)
		if err != nil {
			t.Fatalf("parsing a collected CRL: %v", err)
		}
		out = append(out, rl.Issuer.CommonName)
	}
	slices.Sort(out)
	return out
}

// ocspSubjects verifies each OCSP response against the certificates of
// the data and returns the common names of the certificates they are
// about, sorted.
func ocspSubjects(t *testing.T, vd *ValidationData, now time.Time) []string {
	t.Helper()
	var out []string
	for _, der := range vd.OCSPs {
		found := ""
		for _, cert := range vd.Certs {
			for _, issuer := range vd.Certs {
				if bytes.Equal(cert.RawIssuer, issuer.RawSubject) && cert.CheckSignatureFrom(issuer) == nil {
					if _, err := verifyOCSP(der, cert, issuer, nil, now); err == nil {
						found = cert.Subject.CommonName
					}
				}
			}
		}
		if found == "" {
			t.Errorf("a collected OCSP response is about none of the collected certificates")
		}
		out = append(out, found)
	}
	slices.Sort(out)
	return out
}

func TestCollectOpenSSL(t *testing.T) {
	env := openSSLEnv(t)
	root, inter := readCert(t, env["ROOT"]), readCert(t, env["INTER"])
	roots := x509.NewCertPool()
	roots.AddCert(root)
	tsaTok, err := (&TSAClient{URLs: []string{env["TSA_URL"]}}).Timestamp(context.Background(), make([]byte, 32), crypto.SHA256)
	if err != nil {
		t.Fatalf("Timestamp: %v", err)
	}

	for _, tt := range []struct {
		name      string
		leaves    []*x509.Certificate
		pool      []*x509.Certificate
		roots     *x509.CertPool
		wantCerts []string
		wantOCSP  []string
	}{{
		name:      "RSA signer",
		leaves:    []*x509.Certificate{readCert(t, env["SIGNER_CERT"])},
		pool:      []*x509.Certificate{inter},
		roots:     roots,
		wantCerts: []string{"Test ocsp", "Test signer", "Trust Services Test Intermediate", "Trust Services Test Root"},
		wantOCSP:  []string{"Test signer"},
	}, {
		name:      "ECDSA signer, intermediate from AIA, self-signed root",
		leaves:    []*x509.Certificate{readCert(t, env["EC_SIGNER_CERT"])},
		pool:      []*x509.Certificate{root},
		wantCerts: []string{"Test ecsigner", "Test ocsp", "Trust Services Test Intermediate", "Trust Services Test Root"},
		wantOCSP:  []string{"Test ecsigner"},
	}, {
		name:      "TSA certificate from a token",
		leaves:    []*x509.Certificate{tsaTok.Signer},
		pool:      tsaTok.Certificates,
		roots:     roots,
		wantCerts: []string{"Test ocsp", "Test tsa", "Trust Services Test Intermediate", "Trust Services Test Root"},
		wantOCSP:  []string{"Test tsa"},
	}, {
		name:      "signer and TSA",
		leaves:    []*x509.Certificate{readCert(t, env["SIGNER_CERT"]), tsaTok.Signer},
		pool:      []*x509.Certificate{inter},
		roots:     roots,
		wantCerts: []string{"Test ocsp", "Test signer", "Test tsa", "Trust Services Test Intermediate", "Trust Services Test Root"},
		wantOCSP:  []string{"Test signer", "Test tsa"},
	}} {
		t.Run(tt.name, func(t *testing.T) {
			f := &Fetcher{Roots: tt.roots}
			vd, err := f.Collect(context.Background(), tt.leaves, tt.pool)
			if err != nil {
				t.Fatalf("Collect: %v", err)
			}
			if got := subjects(vd.Certs); !slices.Equal(got, tt.wantCerts) {
				t.Errorf("Certs = %q, want %q", got, tt.wantCerts)
			}
			if got := ocspSubjects(t, vd, time.Now()); !slices.Equal(got, tt.wantOCSP) {
				t.Errorf("OCSPs are about %q, want %q", got, tt.wantOCSP)
			}
			// The intermediate names no OCSP responder, and OpenSSL's
			// answers only for the intermediate's certificates: its
			// status comes from the root's CRL.
			if got, want := crlIssuers(t, vd.CRLs), []string{"Trust Services Test Root"}; !slices.Equal(got, want) {
				t.Errorf("CRLs issued by %q, want %q", got, want)
			}
		})
	}
}

func TestCollectDevTrust(t *testing.T) {
	e := sharedDevEnv(t)
	p := e.pki
	all := []string{devpki.IntermediateCN, devpki.OCSPResponderCN, devpki.RootCN}
	with := func(cns ...string) []string { return slices.Sorted(slices.Values(append(cns, all...))) }
	for _, tt := range []struct {
		name      string
		leaves    []*x509.Certificate
		pool      []*x509.Certificate
		fetcher   *Fetcher
		wantCerts []string
		wantOCSP  []string
		wantCRL   []string
	}{{
		name:      "signer, intermediate in the pool",
		leaves:    []*x509.Certificate{p.SignerRSA.Cert},
		pool:      []*x509.Certificate{p.Intermediate.Cert},
		fetcher:   &Fetcher{Roots: p.RootPool()},
		wantCerts: with(devpki.SignerRSACN),
		wantOCSP:  []string{devpki.SignerRSACN},
		wantCRL:   []string{devpki.RootCN},
	}, {
		name:      "intermediate from AIA",
		leaves:    []*x509.Certificate{p.SignerP256.Cert},
		fetcher:   &Fetcher{Roots: p.RootPool()},
		wantCerts: with(devpki.SignerP256CN),
		wantOCSP:  []string{devpki.SignerP256CN},
		wantCRL:   []string{devpki.RootCN},
	}, {
		name:      "no roots: intermediate and root from AIA, self-signed anchor",
		leaves:    []*x509.Certificate{p.SignerP384.Cert},
		wantCerts: with(devpki.SignerP384CN),
		wantOCSP:  []string{devpki.SignerP384CN},
		wantCRL:   []string{devpki.RootCN},
	}, {
		name:      "certificates given by hand",
		leaves:    []*x509.Certificate{p.SignerRSA.Cert},
		fetcher:   &Fetcher{Extra: []*x509.Certificate{p.Intermediate.Cert, p.Root.Cert}},
		wantCerts: with(devpki.SignerRSACN),
		wantOCSP:  []string{devpki.SignerRSACN},
		wantCRL:   []string{devpki.RootCN},
	}, {
		name:      "every leaf",
		leaves:    []*x509.Certificate{p.SignerRSA.Cert, p.SignerP256.Cert, p.SignerP384.Cert, p.TSA.Cert},
		pool:      []*x509.Certificate{p.Intermediate.Cert},
		fetcher:   &Fetcher{Roots: p.RootPool()},
		wantCerts: with(devpki.SignerP256CN, devpki.SignerP384CN, devpki.SignerRSACN, devpki.TSACN),
		wantOCSP:  []string{devpki.SignerP256CN, devpki.SignerP384CN, devpki.SignerRSACN, devpki.TSACN},
		wantCRL:   []string{devpki.RootCN},
	}, {
		name:      "the OCSP responder itself, which names no responder: CRL",
		leaves:    []*x509.Certificate{p.OCSP.Cert},
		pool:      []*x509.Certificate{p.Intermediate.Cert},
		fetcher:   &Fetcher{Roots: p.RootPool()},
		wantCerts: all,
		wantCRL:   []string{devpki.IntermediateCN, devpki.RootCN},
	}, {
		name:      "the intermediate",
		leaves:    []*x509.Certificate{p.Intermediate.Cert},
		fetcher:   &Fetcher{Roots: p.RootPool()},
		wantCerts: []string{devpki.IntermediateCN, devpki.RootCN},
		wantCRL:   []string{devpki.RootCN},
	}, {
		name:      "a root",
		leaves:    []*x509.Certificate{p.Root.Cert},
		fetcher:   &Fetcher{Roots: p.RootPool()},
		wantCerts: []string{devpki.RootCN},
	}, {
		name:      "responses 2 days old: OCSP expired, CRL still current",
		leaves:    []*x509.Certificate{p.SignerRSA.Cert},
		fetcher:   &Fetcher{Roots: p.RootPool(), Now: func() time.Time { return time.Now().Add(48 * time.Hour) }},
		wantCerts: []string{devpki.IntermediateCN, devpki.RootCN, devpki.SignerRSACN},
		wantCRL:   []string{devpki.IntermediateCN, devpki.RootCN},
	}} {
		t.Run(tt.name, func(t *testing.T) {
			f := tt.fetcher
			if f == nil {
				f = new(Fetcher)
			}
			vd, err := f.Collect(context.Background(), tt.leaves, tt.pool)
			if err != nil {
				t.Fatalf("Collect: %v", err)
			}
			if got := subjects(vd.Certs); !slices.Equal(got, tt.wantCerts) {
				t.Errorf("Certs = %q, want %q", got, tt.wantCerts)
			}
			if got := ocspSubjects(t, vd, time.Now()); !slices.Equal(got, tt.wantOCSP) {
				t.Errorf("OCSPs are about %q, want %q", got, tt.wantOCSP)
			}
			if got := crlIssuers(t, vd.CRLs); !slices.Equal(got, tt.wantCRL) {
				t.Errorf("CRLs issued by %q, want %q", got, tt.wantCRL)
			}
		})
	}
}

func TestCollectCache(t *testing.T) {
	e := sharedDevEnv(t)
	p := e.pki
	leaves := []*x509.Certificate{p.SignerRSA.Cert, p.SignerP256.Cert}
	counts := func() [3]int64 {
		return [3]int64{e.count("POST", devpki.OCSPPath), e.count("GET", devpki.RootCRLPath), e.count("GET", devpki.IntermediateCertPath)}
	}
	start := counts()
	f := &Fetcher{Roots: p.RootPool()}
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() { _, errs[i] = f.Collect(context.Background(), leaves, nil) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Collect(context.Background(), leaves, nil); err != nil {
		t.Fatal(err)
	}
	end := counts()
	got := [3]int64{end[0] - start[0], end[1] - start[1], end[2] - start[2]}
	if want := [3]int64{2, 1, 1}; got != want {
		t.Errorf("5 Collect calls made %d OCSP requests, %d root CRL and %d intermediate certificate downloads, want %d, %d and %d",
			got[0], got[1], got[2], want[0], want[1], want[2])
	}
}

// TestCollectReuseWithinValidity: a Fetcher reuses an OCSP response while
// it is valid, and asks again once its nextUpdate has passed, on a clock
// that the responder and the Fetcher share.
func TestCollectReuseWithinValidity(t *testing.T) {
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	e, err := newDevEnvOptions(t, nil, devtrust.Options{Now: clock, OCSPValidity: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	p := e.pki
	f := &Fetcher{Roots: p.RootPool(), Now: clock}
	leaves := []*x509.Certificate{p.SignerRSA.Cert, p.SignerP256.Cert}
	for _, step := range []struct {
		advance time.Duration
		want    int64 // new OCSP requests
	}{
		{0, 2},                // first: one per leaf
		{30 * time.Minute, 0}, // within the responses' hour
		{29 * time.Minute, 0}, // still within, 1 minute of skew left
		{2 * time.Minute, 2},  // past nextUpdate: asked again
		{10 * time.Minute, 0}, // the new responses are reused
	} {
		advance(step.advance)
		before := e.count("POST", devpki.OCSPPath)
		vd, err := f.Collect(context.Background(), leaves, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := e.count("POST", devpki.OCSPPath) - before; got != step.want {
			t.Errorf("after %v more: %d OCSP requests, want %d", step.advance, got, step.want)
		}
		if len(vd.OCSPs) != 2 {
			t.Errorf("after %v more: %d OCSP responses, want 2", step.advance, len(vd.OCSPs))
		}
	}
}

func TestCollectOCSPGetFallback(t *testing.T) {
	// A server whose OCSP responder refuses POST.
	e := freshDevEnv(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPost && r.URL.Path == devpki.OCSPPath {
				http.Error(w, "use GET", http.StatusMethodNotAllowed)
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	p := e.pki
	vd, err := (&Fetcher{Roots: p.RootPool()}).Collect(context.Background(), []*x509.Certificate{p.SignerRSA.Cert}, nil)
	if err != nil {
		t.Fatalf("Collect: %v", err)
	}
	if got := ocspSubjects(t, vd, time.Now()); !slices.Equal(got, []string{devpki.SignerRSACN}) {
		t.Errorf("OCSPs are about %q, want the signer", got)
	}
	if post, get := e.count("POST", devpki.OCSPPath), e.count("GET", devpki.OCSPPath); post != 1 || get != 1 {
		t.Errorf("%d POST and %d GET OCSP requests, want 1 and 1", post, get)
	}
}

func TestCollectRevoked(t *testing.T) {
	e := freshDevEnv(t, nil)
	p := e.pki
	at := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	crlOnly := issue(t, p.Intermediate, &x509.Certificate{
		Subject:               testName("CRL-only leaf"),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		CRLDistributionPoints: []string{e.url + devpki.IntermediateCRLPath},
	})
	for _, c := range []*x509.Certificate{p.SignerRSA.Cert, crlOnly.Cert} {
		if err := e.svc.Revoke(c, at, 1); err != nil {
			t.Fatal(err)
		}
	}
	for _, tt := range []struct {
		name string
		cert *x509.Certificate
		want string
	}{
		{"signer, by OCSP", p.SignerRSA.Cert,
			`ltv: certificate "CN=hashsign Test Signer RSA,O=hashsign tests" was revoked at %s (reason: keyCompromise) according to OCSP responder %s/ocsp`},
		{"leaf without OCSP, by CRL", crlOnly.Cert,
			`ltv: certificate "CN=CRL-only leaf,O=hashsign tests" was revoked at %s (reason: keyCompromise) according to CRL %s/crl/inter.crl`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := (&Fetcher{Roots: p.RootPool()}).Collect(context.Background(), []*x509.Certificate{tt.cert}, []*x509.Certificate{p.Intermediate.Cert})
			checkErr(t, err, q(fmt.Sprintf(tt.want, at.Format(time.RFC3339), e.url)))
			rev, ok := errors.AsType[*RevokedError](err)
			if !ok || !rev.Cert.Equal(tt.cert) || !rev.At.Equal(at) || rev.Reason != 1 {
				t.Errorf("error %#v, want a *RevokedError for the certificate at %v for keyCompromise", err, at)
			}
		})
	}
}

// ocspResponder is an OCSP responder for tests that answers "good" for
// every certificate it is asked about, signed by signer, with certs.
type ocspResponder struct {
	signer *devpki.Identity
	certs  []*x509.Certificate
	// editNonce, when not nil, changes the echoed nonce extension value.
	editNonce func([]byte) []byte
	// editSig, when not nil, changes the signature.
	editSig func([]byte) []byte
}

func (o *ocspResponder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var req ocspasn1.Request
	if err := ocspasn1.Unmarshal(body, &req, "OCSP request"); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	now := time.Now().UTC().Truncate(time.Second)
	data := ocspasn1.ResponseData{
		ResponderID: asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 1, IsCompound: true, Bytes: o.signer.Cert.RawSubject},
		ProducedAt:  now,
	}
	for _, sr := range req.TBSRequest.RequestList {
		data.Responses = append(data.Responses, ocspasn1.SingleResponse{
			CertID: sr.ReqCert, Good: true, ThisUpdate: now.Add(-time.Minute), NextUpdate: now.Add(time.Hour),
		})
	}
	if ext := ocspasn1.Nonce(req.TBSRequest.RequestExtensions); ext != nil {
		if o.editNonce != nil {
			ext.Value = o.editNonce(bytes.Clone(ext.Value))
		}
		data.ResponseExtensions = append(data.ResponseExtensions, *ext)
	}
	var key crypto.Signer = o.signer.Key
	if o.editSig != nil {
		key = editingSigner{key, o.editSig}
	}
	der, err := ocspasn1.SignResponse(data, key, o.certs...)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", ocspResponseType)
	w.Write(der)
}

// editingSigner is a crypto.Signer whose signatures edit changes.
type editingSigner struct {
	crypto.Signer
	edit func([]byte) []byte
}

func (s editingSigner) Sign(rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	sig, err := s.Signer.Sign(rand, digest, opts)
	if err != nil {
		return nil, err
	}
	return s.edit(sig), nil
}

// serve starts a server for h and returns its URL.
func serve(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// certsOnlyPKCS7 returns a certs-only CMS SignedData holding certs.
func certsOnlyPKCS7(certs ...*x509.Certificate) []byte {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2})
		b.AddASN1(cbasn1.Tag(0).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1Int64(1)
				b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {})
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1ObjectIdentifier(asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1})
				})
				b.AddASN1(cbasn1.Tag(0).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
					for _, c := range certs {
						b.AddBytes(c.Raw)
					}
				})
				b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {})
			})
		})
	})
	return b.BytesOrPanic()
}

func TestCollectFailures(t *testing.T) {
	e := sharedDevEnv(t)
	p := e.pki
	interName := `"CN=` + devpki.IntermediateCN + `,O=` + devpki.Organization + `"`
	interCRL := e.url + devpki.IntermediateCRLPath

	// leaf issues a leaf certificate of the intermediate CA named cn with
	// the given OCSP responders and CRL distribution points.
	leaf := func(t *testing.T, cn string, ocsp, crls []string) *x509.Certificate {
		return issue(t, p.Intermediate, &x509.Certificate{
			Subject:               testName(cn),
			KeyUsage:              x509.KeyUsageDigitalSignature,
			OCSPServer:            ocsp,
			CRLDistributionPoints: crls,
		}).Cert
	}
	leafName := func(cn string) string { return fmt.Sprintf(`"CN=%s,O=%s"`, cn, devpki.Organization) }
	noData := func(cn string) string { return q("ltv: no revocation data for certificate " + leafName(cn) + ": ") }
	rogue := issue(t, nil, &x509.Certificate{
		Subject:     testName("Rogue OCSP Responder"),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning},
	})

	tests := []struct {
		name    string
		setup   func(t *testing.T) (leaf *x509.Certificate, want string)
		now     time.Time
		wantCRL []string
	}{{
		name: "OCSP responder down, no CRL",
		setup: func(t *testing.T) (*x509.Certificate, string) {
			down := closedURL(t)
			return leaf(t, "ocsp down", []string{down}, nil),
				noData("ocsp down") + q("OCSP responder "+down+": POST: ") + refused(down)
		},
	}, {
		name: "OCSP responder down, CRL available",
		setup: func(t *testing.T) (*x509.Certificate, string) {
			return leaf(t, "ocsp down, crl up", []string{closedURL(t)}, []string{interCRL}), ""
		},
		wantCRL: []string{devpki.IntermediateCN, devpki.RootCN},
	}, {
		name: "OCSP responder and CRL down",
		setup: func(t *testing.T) (*x509.Certificate, string) {
			down, crlDown := closedURL(t), closedURL(t)+"/inter.crl"
			return leaf(t, "all down", []string{down}, []string{crlDown}),
				noData("all down") + q("OCSP responder "+down+": POST: ") + refused(down) + q("; CRL "+crlDown+": GET: ") + refused(crlDown)
		},
	}, {
		name: "two OCSP responders, the first down",
		setup: func(t *testing.T) (*x509.Certificate, string) {
			good := serve(t, &ocspResponder{signer: p.OCSP, certs: []*x509.Certificate{p.OCSP.Cert}})
			return leaf(t, "second responder", []string{closedURL(t), good}, nil), ""
		},
		wantCRL: []string{devpki.RootCN},
	}, {
		name: "OCSP responder does not know the certificate: CRL",
		setup: func(t *testing.T) (*x509.Certificate, string) {
			return leaf(t, "unknown to OCSP", []string{e.url + devpki.OCSPPath}, []string{interCRL}), ""
		},
		wantCRL: []string{devpki.IntermediateCN, devpki.RootCN},
	}, {
		name: "OCSP responder does not know the certificate, no CRL",
		setup: func(t *testing.T) (*x509.Certificate, string) {
			u := e.url + devpki.OCSPPath
			return leaf(t, "unknown", []string{u}, nil),
				noData("unknown") + q("OCSP responder "+u+": OCSP responder does not know certificate "+leafName("unknown")+" (status unknown)")
		},
	}, {
		name: "OCSP response signed by an unauthorised key",
		setup: func(t *testing.T) (*x509.Certificate, string) {
			u := serve(t, &ocspResponder{signer: rogue, certs: []*x509.Certificate{rogue.Cert}})
			return leaf(t, "rogue", []string{u}, nil),
				noData("rogue") + q("OCSP responder "+u+`: OCSP responder "CN=Rogue OCSP Responder,O=hashsign tests" is not authorised by `+
					interName+`: it is issued by "CN=Rogue OCSP Responder,O=hashsign tests"`)
		},
	}, {
		name: "OCSP response signed by an unauthorised key, CRL available",
		setup: func(t *testing.T) (*x509.Certificate, string) {
			u := serve(t, &ocspResponder{signer: rogue, certs: []*x509.Certificate{rogue.Cert}})
			return leaf(t, "rogue with crl", []string{u}, []string{interCRL}), ""
		},
		wantCRL: []string{devpki.IntermediateCN, devpki.RootCN},
	}, {
		name: "OCSP responder certificate forging the CA's name",
		setup: func(t *testing.T) (*x509.Certificate, string) {
			fakeCA := issue(t, nil, &x509.Certificate{Subject: p.Intermediate.Cert.Subject, IsCA: true, KeyUsage: x509.KeyUsageCertSign})
			forged := issue(t, fakeCA, &x509.Certificate{
				Subject: testName("Forged OCSP Responder"), KeyUsage: x509.KeyUsageDigitalSignature,
				ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning},
			})
			u := serve(t, &ocspResponder{signer: forged, certs: []*x509.Certificate{forged.Cert}})
			return leaf(t, "forged", []string{u}, nil),
				noData("forged") + q("OCSP responder "+u+`: OCSP responder "CN=Forged OCSP Responder,O=hashsign tests" is not authorised by `+
					interName+": it is not signed by that CA: ") + ".+"
		},
	}, {
		name: "delegated OCSP responder without the OCSPSigning EKU",
		setup: func(t *testing.T) (*x509.Certificate, string) {
			noEKU := issue(t, p.Intermediate, &x509.Certificate{Subject: testName("No-EKU Responder"), KeyUsage: x509.KeyUsageDigitalSignature})
			u := serve(t, &ocspResponder{signer: noEKU, certs: []*x509.Certificate{noEKU.Cert}})
			return leaf(t, "no eku", []string{u}, nil),
				noData("no eku") + q("OCSP responder "+u+`: OCSP responder "CN=No-EKU Responder,O=hashsign tests" is not authorised by `+
					interName+": it lacks the OCSPSigning extended key usage")
		},
	}, {
		name: "OCSP responder certificate left out of the response",
		setup: func(t *testing.T) (*x509.Certificate, string) {
			u := serve(t, &ocspResponder{signer: rogue})
			return leaf(t, "no responder cert", []string{u}, nil),
				noData("no responder cert") + q("OCSP responder "+u+`: OCSP responder "CN=Rogue OCSP Responder,O=hashsign tests" is not authorised: `+
					"its certificate is neither the issuer "+interName+" nor included in the response")
		},
	}, {
		name: "OCSP response signature altered",
		setup: func(t *testing.T) (*x509.Certificate, string) {
			u := serve(t, &ocspResponder{signer: p.OCSP, certs: []*x509.Certificate{p.OCSP.Cert},
				editSig: func(s []byte) []byte { s[len(s)-1] ^= 1; return s }})
			return leaf(t, "bad signature", []string{u}, nil),
				noData("bad signature") + q("OCSP responder "+u+": OCSP response signature does not verify: crypto/rsa: verification error")
		},
	}, {
		name: "OCSP response with another nonce",
		setup: func(t *testing.T) (*x509.Certificate, string) {
			u := serve(t, &ocspResponder{signer: p.OCSP, certs: []*x509.Certificate{p.OCSP.Cert},
				editNonce: func(v []byte) []byte { v[len(v)-1] ^= 1; return v }})
			return leaf(t, "bad nonce", []string{u}, nil),
				noData("bad nonce") + q("OCSP responder "+u+": OCSP response nonce does not match the request's")
		},
	}, {
		name: "OCSP responder without nocheck gets revocation data too",
		setup: func(t *testing.T) (*x509.Certificate, string) {
			delegated := issue(t, p.Intermediate, &x509.Certificate{
				Subject: testName("Delegated Responder"), KeyUsage: x509.KeyUsageDigitalSignature,
				ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning},
				CRLDistributionPoints: []string{interCRL},
			})
			u := serve(t, &ocspResponder{signer: delegated, certs: []*x509.Certificate{delegated.Cert}})
			return leaf(t, "delegated", []string{u}, nil), ""
		},
		wantCRL: []string{devpki.IntermediateCN, devpki.RootCN},
	}, {
		name: "OCSP responder without nocheck and without revocation data",
		setup: func(t *testing.T) (*x509.Certificate, string) {
			delegated := issue(t, p.Intermediate, &x509.Certificate{
				Subject: testName("Unchecked Responder"), KeyUsage: x509.KeyUsageDigitalSignature,
				ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning},
			})
			u := serve(t, &ocspResponder{signer: delegated, certs: []*x509.Certificate{delegated.Cert}})
			return leaf(t, "unchecked", []string{u}, nil),
				q(`ltv: no revocation data for certificate "CN=Unchecked Responder,O=hashsign tests": it names no OCSP responder and no CRL distribution point` +
					" (certificate of the OCSP responder for " + leafName("unchecked") + ")")
		},
	}, {
		name: "CRL signed by another key",
		setup: func(t *testing.T) (*x509.Certificate, string) {
			fakeCA := issue(t, nil, &x509.Certificate{Subject: p.Intermediate.Cert.Subject, IsCA: true,
				KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign})
			crl, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
				Number: big.NewInt(1), ThisUpdate: time.Now(), NextUpdate: time.Now().Add(time.Hour),
			}, fakeCA.Cert, fakeCA.Key)
			if err != nil {
				t.Fatal(err)
			}
			u := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(crl) })) + "/fake.crl"
			return leaf(t, "fake crl", nil, []string{u}),
				noData("fake crl") + q("CRL "+u+": the CRL signature does not verify with the key of "+interName+": ") + ".+"
		},
	}, {
		name: "CRL of another CA",
		setup: func(t *testing.T) (*x509.Certificate, string) {
			u := e.url + devpki.RootCRLPath
			return leaf(t, "root crl", nil, []string{u}),
				noData("root crl") + q("CRL "+u+`: the CRL is issued by "CN=`+devpki.RootCN+`,O=hashsign tests", not by `+interName)
		},
	}, {
		name: "responses a month old: OCSP and CRL expired",
		now:  time.Now().Add(30 * 24 * time.Hour),
		setup: func(t *testing.T) (*x509.Certificate, string) {
			u := e.url + devpki.OCSPPath
			return p.SignerRSA.Cert,
				q(`ltv: no revocation data for certificate "CN=`+devpki.SignerRSACN+`,O=hashsign tests": OCSP responder `+u+
					": OCSP response expired: nextUpdate ") + `\S+` + q("; CRL "+interCRL+": the CRL expired: nextUpdate ") + `\S+`
		},
	}, {
		name: "no issuer certificate",
		setup: func(t *testing.T) (*x509.Certificate, string) {
			return leaf(t, "orphan", nil, []string{interCRL}),
				q("ltv: no issuer certificate for " + leafName("orphan") + ` (issuer "CN=` + devpki.IntermediateCN +
					`,O=hashsign tests"): no caIssuers URL to fetch it from`)
		},
	}, {
		name: "caIssuers server down",
		setup: func(t *testing.T) (*x509.Certificate, string) {
			down := closedURL(t) + "/inter.cer"
			c := issue(t, p.Intermediate, &x509.Certificate{
				Subject: testName("aia down"), IssuingCertificateURL: []string{down}, CRLDistributionPoints: []string{interCRL},
			}).Cert
			return c, q("ltv: no issuer certificate for "+leafName("aia down")+` (issuer "CN=`+devpki.IntermediateCN+
				`,O=hashsign tests"): caIssuers `+down+": GET: ") + refused(down)
		},
	}, {
		name: "caIssuers serving a certs-only PKCS #7",
		setup: func(t *testing.T) (*x509.Certificate, string) {
			bundle := certsOnlyPKCS7(p.Intermediate.Cert, p.Root.Cert)
			u := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/pkcs7-mime")
				w.Write(bundle)
			})) + "/inter.p7c"
			return issue(t, p.Intermediate, &x509.Certificate{
				Subject: testName("aia pkcs7"), IssuingCertificateURL: []string{u}, CRLDistributionPoints: []string{interCRL},
			}).Cert, ""
		},
		wantCRL: []string{devpki.IntermediateCN, devpki.RootCN},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cert, want := tt.setup(t)
			f := &Fetcher{Roots: p.RootPool()}
			if !tt.now.IsZero() {
				f.Now = func() time.Time { return tt.now }
			}
			var pool []*x509.Certificate
			if len(cert.IssuingCertificateURL) == 0 && !strings.Contains(tt.name, "no issuer") {
				pool = []*x509.Certificate{p.Intermediate.Cert}
			}
			vd, err := f.Collect(context.Background(), []*x509.Certificate{cert}, pool)
			checkErr(t, err, want)
			if err != nil {
				return
			}
			if got := crlIssuers(t, vd.CRLs); !slices.Equal(got, tt.wantCRL) {
				t.Errorf("CRLs issued by %q, want %q", got, tt.wantCRL)
			}
			if !slices.ContainsFunc(vd.Certs, cert.Equal) {
				t.Errorf("Certs lack the leaf")
			}
		})
	}
}

func TestCollectUnavailableError(t *testing.T) {
	e := sharedDevEnv(t)
	p := e.pki
	down := closedURL(t)
	c := issue(t, p.Intermediate, &x509.Certificate{Subject: testName("typed"), OCSPServer: []string{down}}).Cert
	_, err := (&Fetcher{Roots: p.RootPool()}).Collect(context.Background(), []*x509.Certificate{c}, []*x509.Certificate{p.Intermediate.Cert})
	ue, ok := errors.AsType[*UnavailableError](err)
	if !ok || !ue.Cert.Equal(c) || len(ue.Errs) != 1 {
		t.Fatalf("error %#v, want an *UnavailableError for the leaf with one cause", err)
	}
}

func TestMerge(t *testing.T) {
	p := sharedDevEnv(t).pki
	a := &ValidationData{
		Certs: []*x509.Certificate{p.SignerRSA.Cert, p.Intermediate.Cert},
		OCSPs: [][]byte{{1}, {2}},
		CRLs:  [][]byte{{3}},
	}
	a.Merge(&ValidationData{
		Certs: []*x509.Certificate{p.Intermediate.Cert, p.Root.Cert},
		OCSPs: [][]byte{{2}, {4}},
		CRLs:  [][]byte{{3}, {5}},
	})
	a.Merge(nil)
	if got, want := subjects(a.Certs), []string{devpki.IntermediateCN, devpki.RootCN, devpki.SignerRSACN}; !slices.Equal(got, want) {
		t.Errorf("Certs = %q, want %q", got, want)
	}
	if want := [][]byte{{1}, {2}, {4}}; !slices.EqualFunc(a.OCSPs, want, bytes.Equal) {
		t.Errorf("OCSPs = %v, want %v", a.OCSPs, want)
	}
	if want := [][]byte{{3}, {5}}; !slices.EqualFunc(a.CRLs, want, bytes.Equal) {
		t.Errorf("CRLs = %v, want %v", a.CRLs, want)
	}
}
