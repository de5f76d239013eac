package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
	"golang.org/x/crypto/ocsp"

	"hashsign/hashsvc"
	"hashsign/hashsvc/hashsvctest"
	"hashsign/internal/atomicfile"
	"hashsign/ltv"
	"hashsign/pades"
	"hashsign/testdata/pdfgen"
)

// cscV1 is a client of the Cloud Signature Consortium API v1.0.4, written
// from that specification (sections 11.4 credentials/info, 11.6
// credentials/authorize, 11.9 signatures/signHash) and not with package
// csc or signer/remote: JSON POSTs to BASE/csc/v1/..., a bearer token,
// the v1 names "hash", "hashAlgo", "signAlgo", "SAD", and "numSignatures".
type cscV1 struct {
	base, token, credentialID string
	// otp, if not nil, returns the one-time code for credentials/authorize.
	otp func() string

	chain []*x509.Certificate
	pub   crypto.PublicKey
	algo  []string
	calls []string // the endpoints called, in order
}

func (c *cscV1) post(ctx context.Context, method string, req, resp any) error {
	body, _ := json.Marshal(req)
	r, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/csc/v1/"+method, bytes.NewReader(body))
	if err != nil {
		return err
	}
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Authorization", "Bearer "+c.token)
	res, err := http.DefaultClient.Do(r)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	c.calls = append(c.calls, method)
	if res.StatusCode != 200 {
		return fmt.Errorf("%s: %s: %s", method, res.Status, data)
	}
	return json.Unmarshal(data, resp)
}

// info runs credentials/info with certificates "chain".
func (c *cscV1) info(ctx context.Context) error {
	var resp struct {
		Key struct {
			Status string   `json:"status"`
			Algo   []string `json:"algo"`
		} `json:"key"`
		Cert struct {
			Certificates []string `json:"certificates"`
		} `json:"cert"`
		AuthMode string `json:"authMode"`
	}
	if err := c.post(ctx, "credentials/info", map[string]any{"credentialID": c.credentialID, "certificates": "chain", "certInfo": true, "authInfo": true}, &resp); err != nil {
		return err
	}
	if resp.Key.Status != "enabled" || len(resp.Cert.Certificates) < 2 {
		return fmt.Errorf("credentials/info: key %q, %d certificates", resp.Key.Status, len(resp.Cert.Certificates))
	}
	for _, b := range resp.Cert.Certificates {
		der, err := base64.StdEncoding.DecodeString(b)
		if err != nil {
			return err
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return err
		}
		c.chain = append(c.chain, cert)
	}
	c.pub, c.algo = c.chain[0].PublicKey, resp.Key.Algo
	return nil
}

func (c *cscV1) Public() crypto.PublicKey   { return c.pub }
func (c *cscV1) Chain() []*x509.Certificate { return c.chain }
func (c *cscV1) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return c.SignContext(context.Background(), digest, opts)
}

// SignContext authorizes the one hash, then signs it with the SAD.
func (c *cscV1) SignContext(ctx context.Context, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if opts.HashFunc() != crypto.SHA256 {
		return nil, fmt.Errorf("this client signs SHA-256 only")
	}
	hash := []string{base64.StdEncoding.EncodeToString(digest)}
	auth := map[string]any{"credentialID": c.credentialID, "numSignatures": 1, "hash": hash}
	if c.otp != nil {
		auth["OTP"] = c.otp()
	}
	var sad struct {
		SAD       string `json:"SAD"`
		ExpiresIn int    `json:"expiresIn"`
	}
	if err := c.post(ctx, "credentials/authorize", auth, &sad); err != nil {
		return nil, err
	}
	if sad.SAD == "" || sad.ExpiresIn <= 0 {
		return nil, fmt.Errorf("credentials/authorize: no SAD (%+v)", sad)
	}
	var sigs struct {
		Signatures []string `json:"signatures"`
	}
	// ecdsa-with-SHA256 names the hash; hashAlgo is sent all the same.
	if err := c.post(ctx, "signatures/signHash", map[string]any{
		"credentialID": c.credentialID, "SAD": sad.SAD, "hash": hash,
		"hashAlgo": "2.16.840.1.101.3.4.2.1", "signAlgo": "1.2.840.10045.4.3.2",
	}, &sigs); err != nil {
		return nil, err
	}
	if len(sigs.Signatures) != 1 {
		return nil, fmt.Errorf("signatures/signHash: %d signatures", len(sigs.Signatures))
	}
	return base64.StdEncoding.DecodeString(sigs.Signatures[0])
}

// signPDF signs a generated PDF at B-LT with s through the pades Go API,
// with the development service's TSA and revocation data.
func signPDF(t *testing.T, s *cscV1, dev string, roots *x509.CertPool, out string) {
	t.Helper()
	ctx := t.Context()
	if err := s.info(ctx); err != nil {
		t.Fatal(err)
	}
	src, err := pdfgen.Bytes(pdfgen.Stream, pdfgen.Options{Pages: 1})
	if err != nil {
		t.Fatal(err)
	}
	f, err := atomicfile.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Abort()
	opts := &pades.SignOptions{
		Level: pades.LevelBLT, TSA: &ltv.TSAClient{URLs: []string{dev + "/tsa"}, Roots: roots},
		Validation: &ltv.Fetcher{Roots: roots}, Info: pades.SignatureInfo{Reason: "CSC v1 client"},
	}
	if _, err := pades.Sign(ctx, bytes.NewReader(src), int64(len(src)), f, s, opts); err != nil {
		t.Fatal(err)
	}
	if err := f.Commit(); err != nil {
		t.Fatal(err)
	}
}

func devRoots(t *testing.T, dir string) *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(readCert(t, filepath.Join(dir, hashsvc.DevRootFile)))
	return pool
}

// TestCSCv1Client: a CSC v1 client signs through the real `hashsvc serve
// -dev` (credentials/info with the chain, credentials/authorize for its
// hash, signatures/signHash with the SAD), and the PDF it makes passes
// check-signed-pdf at B-LT.
func TestCSCv1Client(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs hashsvc")
	}
	validator := hashsvctest.Validator(t)
	bin := hashsvctest.Build(t, "./cmd/hashsvc")
	dir := filepath.Join(t.TempDir(), "dev")
	dev := hashsvctest.StartDev(t, bin, dir, "127.0.0.1:0")
	c := &cscV1{base: dev.URL, token: dev.APIKey, credentialID: hashsvc.DevCredentialP256}
	out := filepath.Join(t.TempDir(), "v1.pdf")
	signPDF(t, c, dev.URL, devRoots(t, dir), out)
	if want := "credentials/info credentials/authorize signatures/signHash"; fmt.Sprint(c.calls) != "["+want+"]" {
		t.Errorf("calls %v, want %s", c.calls, want)
	}
	hashsvctest.Validate(t, validator, filepath.Join(dir, hashsvc.DevRootFile), "B-LT", out)
}

// TestOneTimeBLT: a signer without a credential gets a one-time
// certificate from the development CA, consents with a TOTP code, signs
// (through the CSC v1 client), and the PDF validates at B-LT through the
// development OCSP responder; after the credential is destroyed, its key
// signs no more.
func TestOneTimeBLT(t *testing.T) {
	if testing.Short() {
		t.Skip("generates a PKI")
	}
	validator := hashsvctest.Validator(t)
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "dev")
	d := hashsvctest.ServeDev(t, hashsvc.DevOptions{Dir: dir})
	person := hashsvc.Person{ID: "erin@example.org", Name: "Erin Example", Email: "erin@example.org", Country: "FR"}
	uri, err := d.EnrolTOTP(ctx, person.ID, person.Email)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(uri)
	ot, err := d.IssueOneTime(ctx, hashsvc.OneTimeRequest{KeyID: hashsvc.DevAPIKeyID, Person: person, Channel: hashsvc.ChannelTOTP})
	if err != nil {
		t.Fatal(err)
	}
	c := &cscV1{base: d.URL, token: d.APIKey, credentialID: ot.ID, otp: func() string {
		code, _ := totp.GenerateCode(u.Query().Get("secret"), time.Now())
		return code
	}}
	out := filepath.Join(t.TempDir(), "onetime.pdf")
	signPDF(t, c, d.URL, devRoots(t, dir), out)
	if got := c.chain[0].Subject.CommonName; got != "Erin Example" {
		t.Errorf("signer certificate names %q", got)
	}
	hashsvctest.Validate(t, validator, filepath.Join(dir, hashsvc.DevRootFile), "B-LT", out)
	// the development OCSP responder answers "good" for the one-time
	// certificate (the validator could fall back to the CRL)
	oreq, err := ocsp.CreateRequest(ot.Chain[0], ot.Chain[1], nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.Post(d.URL+"/ocsp", "application/ocsp-request", bytes.NewReader(oreq))
	if err != nil {
		t.Fatal(err)
	}
	der, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if or, err := ocsp.ParseResponseForCert(der, ot.Chain[0], ot.Chain[1]); err != nil {
		t.Errorf("OCSP for the one-time certificate: %v", err)
	} else if or.Status != ocsp.Good {
		t.Errorf("OCSP for the one-time certificate: status %d, want %d (good)", or.Status, ocsp.Good)
	}

	if err := d.DestroyOneTime(ctx, ot.ID, "request completed"); err != nil {
		t.Fatal(err)
	}
	c.otp = func() string { return "000000" }
	if _, err := c.SignContext(ctx, make([]byte, 32), crypto.SHA256); err == nil || !bytes.Contains([]byte(err.Error()), []byte("ended at")) {
		t.Errorf("signing after the end: %v", err)
	}
	os.Remove(out)
}
