package devtrust_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"hashsign/hashsvc/devtrust"
	"hashsign/internal/devpki"
	"hashsign/internal/testenv"
)

// fetchCRL gets the CRL at path and checks its signature by issuer.
func fetchCRL(t *testing.T, srv *httptest.Server, path string, issuer *x509.Certificate) (*x509.RevocationList, []byte) {
	t.Helper()
	resp, body := do(t, srv, "GET", path, "", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %d", path, resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/pkix-crl" {
		t.Errorf("GET %s: Content-Type %q", path, ct)
	}
	crl, err := x509.ParseRevocationList(body)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	if err := crl.CheckSignatureFrom(issuer); err != nil {
		t.Errorf("GET %s: %v", path, err)
	}
	if !bytes.Equal(crl.RawIssuer, issuer.RawSubject) {
		t.Errorf("GET %s: issuer %v, want %v", path, crl.Issuer, issuer.Subject)
	}
	return crl, body
}

// ocspStatus queries the OCSP responder of srv about cert.
func ocspStatus(t *testing.T, srv *httptest.Server, p *devpki.PKI, cert *x509.Certificate) *ocsp.Response {
	t.Helper()
	req, err := ocsp.CreateRequest(cert, p.Intermediate.Cert, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, body := do(t, srv, "POST", devpki.OCSPPath, "application/ocsp-request", req)
	r, err := ocsp.ParseResponseForCert(body, cert, p.Intermediate.Cert)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestCRL(t *testing.T) {
	p, _ := sharedPKI(t)
	clk := newClock()
	_, srv := newServer(t, p, devtrust.Options{Now: clk.Now, CRLValidity: 48 * time.Hour})

	for _, tt := range []struct {
		path   string
		issuer *x509.Certificate
	}{
		{devpki.RootCRLPath, p.Root.Cert},
		{devpki.IntermediateCRLPath, p.Intermediate.Cert},
	} {
		t.Run(tt.path, func(t *testing.T) {
			crl, der := fetchCRL(t, srv, tt.path, tt.issuer)
			now := clk.Now()
			if !crl.ThisUpdate.Equal(now) || !crl.NextUpdate.Equal(now.Add(48*time.Hour)) {
				t.Errorf("thisUpdate %v, nextUpdate %v; want %v and 48h later", crl.ThisUpdate, crl.NextUpdate, now)
			}
			if crl.Number == nil || crl.Number.Sign() <= 0 {
				t.Errorf("CRL number %v", crl.Number)
			}
			if n := len(crl.RevokedCertificateEntries); n != 0 {
				t.Errorf("%d revoked certificates, want none", n)
			}
			if _, again := fetchCRL(t, srv, tt.path, tt.issuer); !bytes.Equal(der, again) {
				t.Error("CRL changed without a revocation")
			}
		})
	}

	// A CRL is renewed once half its validity has passed.
	old, _ := fetchCRL(t, srv, devpki.IntermediateCRLPath, p.Intermediate.Cert)
	clk.Advance(23 * time.Hour)
	if crl, _ := fetchCRL(t, srv, devpki.IntermediateCRLPath, p.Intermediate.Cert); crl.Number.Cmp(old.Number) != 0 {
		t.Errorf("CRL renewed after 23h of 48h")
	}
	clk.Advance(time.Hour)
	crl, _ := fetchCRL(t, srv, devpki.IntermediateCRLPath, p.Intermediate.Cert)
	if crl.Number.Cmp(old.Number) <= 0 || !crl.ThisUpdate.Equal(clk.Now()) {
		t.Errorf("CRL %v of %v not renewed after 24h of 48h (was %v of %v)", crl.Number, crl.ThisUpdate, old.Number, old.ThisUpdate)
	}
}

func TestCRLOpenSSL(t *testing.T) {
	testenv.Need(t, "openssl", "")
	p, dir := sharedPKI(t)
	s, srv := newServer(t, p, devtrust.Options{})
	if err := s.Revoke(p.SignerRSA.Cert, time.Time{}, ocsp.KeyCompromise); err != nil {
		t.Fatal(err)
	}
	if err := s.Revoke(p.Intermediate.Cert, time.Time{}, ocsp.CessationOfOperation); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		path   string
		issuer *x509.Certificate
		cafile string
		serial *big.Int
		reason string
	}{
		{devpki.RootCRLPath, p.Root.Cert, devpki.RootCertFile, p.Intermediate.Cert.SerialNumber, "Cessation Of Operation"},
		{devpki.IntermediateCRLPath, p.Intermediate.Cert, devpki.ChainFile, p.SignerRSA.Cert.SerialNumber, "Key Compromise"},
	} {
		_, der := fetchCRL(t, srv, tt.path, tt.issuer)
		file := writeFile(t, "crl.der", der)
		cafile := filepath.Join(dir, tt.cafile)
		out, err := openssl(t, "crl", "-inform", "DER", "-in", file, "-CAfile", cafile, "-noout")
		if err != nil || !strings.Contains(out, "verify OK") {
			t.Errorf("%s: openssl crl -noout: %v\n%s", tt.path, err, out)
		}
		out, err = openssl(t, "crl", "-inform", "DER", "-in", file, "-text", "-noout")
		if err != nil {
			t.Fatalf("%s: openssl crl -text: %v\n%s", tt.path, err, out)
		}
		for _, want := range []string{fmt.Sprintf("Serial Number: %X", tt.serial), tt.reason} {
			if !strings.Contains(out, want) {
				t.Errorf("%s: openssl crl -text lacks %q:\n%s", tt.path, want, out)
			}
		}
	}
}

func TestRevoke(t *testing.T) {
	p, _ := sharedPKI(t)
	clk := newClock()
	s, srv := newServer(t, p, devtrust.Options{Now: clk.Now})
	inter, root := p.Intermediate.Cert, p.Root.Cert

	if r := ocspStatus(t, srv, p, p.SignerRSA.Cert); r.Status != ocsp.Good {
		t.Fatalf("status %d before revocation, want good", r.Status)
	}
	before, _ := fetchCRL(t, srv, devpki.IntermediateCRLPath, inter)

	at := clk.Now().Add(-10 * time.Minute)
	if err := s.Revoke(p.SignerRSA.Cert, at.Add(123*time.Millisecond), ocsp.KeyCompromise); err != nil {
		t.Fatal(err)
	}
	if err := s.Revoke(p.SignerP256.Cert, time.Time{}, ocsp.Unspecified); err != nil {
		t.Fatal(err)
	}

	r := ocspStatus(t, srv, p, p.SignerRSA.Cert)
	if r.Status != ocsp.Revoked || !r.RevokedAt.Equal(at) || r.RevocationReason != ocsp.KeyCompromise {
		t.Errorf("SignerRSA: status %d, revoked at %v for %d; want revoked at %v for keyCompromise", r.Status, r.RevokedAt, r.RevocationReason, at)
	}
	r = ocspStatus(t, srv, p, p.SignerP256.Cert)
	if r.Status != ocsp.Revoked || !r.RevokedAt.Equal(clk.Now()) || r.RevocationReason != ocsp.Unspecified {
		t.Errorf("SignerP256: status %d, revoked at %v for %d; want revoked now, unspecified", r.Status, r.RevokedAt, r.RevocationReason)
	}
	if r := ocspStatus(t, srv, p, p.SignerP384.Cert); r.Status != ocsp.Good {
		t.Errorf("SignerP384: status %d, want good", r.Status)
	}

	crl, _ := fetchCRL(t, srv, devpki.IntermediateCRLPath, inter)
	if crl.Number.Cmp(before.Number) <= 0 {
		t.Errorf("CRL number %v after a revocation, was %v", crl.Number, before.Number)
	}
	want := map[string]x509.RevocationListEntry{
		p.SignerRSA.Cert.SerialNumber.String():  {RevocationTime: at, ReasonCode: ocsp.KeyCompromise},
		p.SignerP256.Cert.SerialNumber.String(): {RevocationTime: clk.Now(), ReasonCode: 0},
	}
	if len(crl.RevokedCertificateEntries) != len(want) {
		t.Errorf("%d CRL entries, want %d", len(crl.RevokedCertificateEntries), len(want))
	}
	for _, e := range crl.RevokedCertificateEntries {
		w, ok := want[e.SerialNumber.String()]
		if !ok {
			t.Errorf("unexpected CRL entry %x", e.SerialNumber)
			continue
		}
		if !e.RevocationTime.Equal(w.RevocationTime) || e.ReasonCode != w.ReasonCode {
			t.Errorf("CRL entry %x: %v reason %d, want %v reason %d", e.SerialNumber, e.RevocationTime, e.ReasonCode, w.RevocationTime, w.ReasonCode)
		}
	}
	if rootCRL, _ := fetchCRL(t, srv, devpki.RootCRLPath, root); len(rootCRL.RevokedCertificateEntries) != 0 {
		t.Error("revoking leaves changed the root CRL")
	}

	// Revoking the intermediate CA changes the root CRL.
	if err := s.Revoke(inter, at, ocsp.CACompromise); err != nil {
		t.Fatal(err)
	}
	rootCRL, _ := fetchCRL(t, srv, devpki.RootCRLPath, root)
	if len(rootCRL.RevokedCertificateEntries) != 1 || rootCRL.RevokedCertificateEntries[0].SerialNumber.Cmp(inter.SerialNumber) != 0 ||
		rootCRL.RevokedCertificateEntries[0].ReasonCode != ocsp.CACompromise {
		t.Errorf("root CRL entries %+v, want the intermediate CA", rootCRL.RevokedCertificateEntries)
	}

	// Revoking again replaces the reason.
	if err := s.Revoke(p.SignerRSA.Cert, at, ocsp.Superseded); err != nil {
		t.Fatal(err)
	}
	if r := ocspStatus(t, srv, p, p.SignerRSA.Cert); r.RevocationReason != ocsp.Superseded {
		t.Errorf("reason %d after a second revocation, want superseded", r.RevocationReason)
	}
}

func TestRevokeErrors(t *testing.T) {
	p, _ := sharedPKI(t)
	s, err := devtrust.New(p, devtrust.Options{})
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	template := &x509.Certificate{
		SerialNumber: p.SignerRSA.Cert.SerialNumber,
		Subject:      pkix.Name{CommonName: "stranger"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	stranger, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name   string
		cert   *x509.Certificate
		reason int
	}{
		{"nil", nil, 1},
		{"root", p.Root.Cert, 1},
		{"stranger", stranger, 1},
		{"reason-7", p.SignerRSA.Cert, 7},
		{"reason-8", p.SignerRSA.Cert, 8},
		{"reason-11", p.SignerRSA.Cert, 11},
		{"reason-negative", p.SignerRSA.Cert, -1},
	} {
		if err := s.Revoke(tt.cert, time.Time{}, tt.reason); err == nil {
			t.Errorf("%s: Revoke succeeded", tt.name)
		}
	}
}

// TestConcurrent revokes certificates while clients fetch CRLs and OCSP
// responses, for the race detector.
func TestConcurrent(t *testing.T) {
	p, _ := sharedPKI(t)
	s, srv := newServer(t, p, devtrust.Options{})
	var wg sync.WaitGroup
	for _, id := range p.Leaves() {
		wg.Go(func() {
			if err := s.Revoke(id.Cert, time.Time{}, ocsp.Superseded); err != nil {
				t.Error(err)
			}
		})
		wg.Go(func() { ocspStatus(t, srv, p, id.Cert) })
		wg.Go(func() { fetchCRL(t, srv, devpki.IntermediateCRLPath, p.Intermediate.Cert) })
	}
	wg.Wait()
	crl, _ := fetchCRL(t, srv, devpki.IntermediateCRLPath, p.Intermediate.Cert)
	if got, want := len(crl.RevokedCertificateEntries), len(p.Leaves()); got != want {
		t.Errorf("%d CRL entries, want %d", got, want)
	}
	for _, id := range p.Leaves() {
		if r := ocspStatus(t, srv, p, id.Cert); r.Status != ocsp.Revoked {
			t.Errorf("%q: status %d, want revoked", id.Cert.Subject.CommonName, r.Status)
		}
	}
}
