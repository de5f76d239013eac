package devtrust_test

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/digitorus/timestamp"

	"hashsign/hashsvc/devtrust"
	"hashsign/internal/devpki"
	"hashsign/internal/testenv"
)

// tsImprint is MessageImprint (RFC 3161).
type tsImprint struct {
	HashAlgorithm pkix.AlgorithmIdentifier
	HashedMessage []byte
}

// tsRequest is TimeStampReq (RFC 3161).
type tsRequest struct {
	Version        int
	MessageImprint tsImprint
	ReqPolicy      asn1.ObjectIdentifier `asn1:"optional"`
	Nonce          *big.Int              `asn1:"optional"`
	CertReq        bool                  `asn1:"optional"`
	Extensions     []pkix.Extension      `asn1:"optional,tag:0"`
}

// tsResponse is TimeStampResp (RFC 3161).
type tsResponse struct {
	Status struct {
		Status       int
		StatusString []string       `asn1:"optional"`
		FailInfo     asn1.BitString `asn1:"optional"`
	}
	TimeStampToken asn1.RawValue `asn1:"optional"`
}

func oidSHA256() asn1.ObjectIdentifier { return asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1} }

func marshal(t *testing.T, v any) []byte {
	t.Helper()
	der, err := asn1.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// sha256Request returns a time-stamp request for the SHA-256 hash of data.
func sha256Request(data []byte, nonce *big.Int, certReq bool) tsRequest {
	sum := sha256.Sum256(data)
	return tsRequest{
		Version:        1,
		MessageImprint: tsImprint{HashAlgorithm: pkix.AlgorithmIdentifier{Algorithm: oidSHA256()}, HashedMessage: sum[:]},
		Nonce:          nonce,
		CertReq:        certReq,
	}
}

func TestTSAOpenSSL(t *testing.T) {
	testenv.Need(t, "openssl", "")
	p, dir := sharedPKI(t)
	clk := newClock()
	_, srv := newServer(t, p, devtrust.Options{Now: clk.Now})

	content := []byte("hashsign devtrust time-stamp test\n")
	data := writeFile(t, "data.txt", content)
	other := writeFile(t, "other.txt", []byte("something else\n"))
	root := filepath.Join(dir, devpki.RootCertFile)
	var untrustedPEM []byte
	for _, f := range []string{devpki.TSACertFile, devpki.IntermediateCertFile} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		untrustedPEM = append(untrustedPEM, b...)
	}
	untrusted := writeFile(t, "untrusted.pem", untrustedPEM)
	tmp := t.TempDir()

	for _, tt := range []struct {
		name  string
		hash  crypto.Hash
		args  []string
		certs int
	}{
		{"sha256-nonce-cert", crypto.SHA256, []string{"-sha256", "-cert"}, 2},
		{"sha256-no_nonce", crypto.SHA256, []string{"-sha256", "-no_nonce"}, 0},
		{"sha384-nonce", crypto.SHA384, []string{"-sha384"}, 0},
		{"sha512-no_nonce-cert", crypto.SHA512, []string{"-sha512", "-no_nonce", "-cert"}, 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			query := filepath.Join(tmp, tt.name+".tsq")
			if out, err := openssl(t, append([]string{"ts", "-query", "-data", data, "-out", query}, tt.args...)...); err != nil {
				t.Fatalf("openssl ts -query: %v\n%s", err, out)
			}
			queryDER, err := os.ReadFile(query)
			if err != nil {
				t.Fatal(err)
			}
			resp, body := do(t, srv, "POST", devtrust.TSAPath, "application/timestamp-query", queryDER)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d", resp.StatusCode)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/timestamp-reply" {
				t.Errorf("Content-Type %q", ct)
			}
			reply := filepath.Join(tmp, tt.name+".tsr")
			if err := os.WriteFile(reply, body, 0o644); err != nil {
				t.Fatal(err)
			}

			text, err := openssl(t, "ts", "-reply", "-in", reply, "-text")
			if err != nil {
				t.Fatalf("openssl ts -reply: %v\n%s", err, text)
			}
			for _, want := range []string{
				"Status: Granted.",
				"Policy OID: 1.3.6.1.4.1.32473.1.1",
				"Time stamp: " + clk.Now().Format("Jan _2 15:04:05 2006 GMT"),
				"Accuracy: 0x01 seconds",
				"Ordering: no",
			} {
				if !strings.Contains(text, want) {
					t.Errorf("openssl ts -reply -text lacks %q:\n%s", want, text)
				}
			}

			req, err := timestamp.ParseRequest(queryDER)
			if err != nil {
				t.Fatal(err)
			}
			if (req.Nonce == nil) != strings.Contains(text, "Nonce: unspecified") {
				t.Errorf("nonce in request: %v; reply:\n%s", req.Nonce, text)
			}

			for _, args := range [][]string{
				{"-data", data},
				{"-queryfile", query},
			} {
				out, err := openssl(t, append([]string{"ts", "-verify", "-in", reply, "-CAfile", root, "-untrusted", untrusted}, args...)...)
				if err != nil || !strings.Contains(out, "Verification: OK") {
					t.Errorf("openssl ts -verify %s: %v\n%s", args[0], err, out)
				}
			}
			if out, err := openssl(t, "ts", "-verify", "-data", other, "-in", reply, "-CAfile", root, "-untrusted", untrusted); err == nil || strings.Contains(out, "Verification: OK") {
				t.Errorf("openssl ts -verify accepted other data:\n%s", out)
			}

			// A second, independent parser, which also checks the
			// signature when the token carries certificates.
			ts, err := timestamp.ParseResponse(body)
			if err != nil {
				t.Fatalf("timestamp.ParseResponse: %v", err)
			}
			h := tt.hash.New()
			h.Write(content)
			if ts.HashAlgorithm != tt.hash || !bytes.Equal(ts.HashedMessage, h.Sum(nil)) {
				t.Errorf("imprint %v %x, want %v %x", ts.HashAlgorithm, ts.HashedMessage, tt.hash, h.Sum(nil))
			}
			if !ts.Time.Equal(clk.Now()) {
				t.Errorf("genTime %v, want %v", ts.Time, clk.Now())
			}
			if ts.Accuracy != time.Second {
				t.Errorf("accuracy %v, want 1s", ts.Accuracy)
			}
			if !ts.Policy.Equal(devtrust.DefaultPolicy()) {
				t.Errorf("policy %v, want %v", ts.Policy, devtrust.DefaultPolicy())
			}
			if (ts.Nonce == nil) != (req.Nonce == nil) || (ts.Nonce != nil && ts.Nonce.Cmp(req.Nonce) != 0) {
				t.Errorf("nonce %v, want %v", ts.Nonce, req.Nonce)
			}
			if len(ts.Certificates) != tt.certs {
				t.Errorf("%d certificates, want %d", len(ts.Certificates), tt.certs)
			} else if tt.certs > 0 && (!ts.Certificates[0].Equal(p.TSA.Cert) || !ts.Certificates[1].Equal(p.Intermediate.Cert)) {
				t.Errorf("certificates are not the TSA and intermediate CA certificates")
			}
		})
	}
}

func TestTSASerialNumbers(t *testing.T) {
	p, _ := sharedPKI(t)
	_, srv := newServer(t, p, devtrust.Options{})
	const n = 16
	serials := make([]*big.Int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			der, err := asn1.Marshal(sha256Request([]byte{byte(i)}, big.NewInt(int64(1000+i)), true))
			if err != nil {
				t.Error(err)
				return
			}
			resp, err := srv.Client().Post(srv.URL+devtrust.TSAPath, "application/timestamp-query", bytes.NewReader(der))
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			var body bytes.Buffer
			if _, err := body.ReadFrom(resp.Body); err != nil {
				t.Error(err)
				return
			}
			ts, err := timestamp.ParseResponse(body.Bytes())
			if err != nil {
				t.Error(err)
				return
			}
			if ts.Nonce == nil || ts.Nonce.Int64() != int64(1000+i) {
				t.Errorf("request %d: nonce %v", i, ts.Nonce)
			}
			serials[i] = ts.SerialNumber
		})
	}
	wg.Wait()
	seen := make(map[string]bool)
	for _, s := range serials {
		if s == nil {
			continue
		}
		if s.Sign() <= 0 {
			t.Errorf("serial number %v is not positive", s)
		}
		if seen[s.String()] {
			t.Errorf("serial number %v issued twice", s)
		}
		seen[s.String()] = true
	}
}

func TestTSAPolicy(t *testing.T) {
	p, _ := sharedPKI(t)
	policy := asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 32473, 7, 7}
	_, srv := newServer(t, p, devtrust.Options{Policy: policy})
	req := sha256Request([]byte("x"), nil, true)
	req.ReqPolicy = policy
	_, body := do(t, srv, "POST", devtrust.TSAPath, "application/timestamp-query", marshal(t, req))
	ts, err := timestamp.ParseResponse(body)
	if err != nil {
		t.Fatal(err)
	}
	if !ts.Policy.Equal(policy) {
		t.Errorf("policy %v, want %v", ts.Policy, policy)
	}
}

func TestTSARejections(t *testing.T) {
	p, _ := sharedPKI(t)
	_, srv := newServer(t, p, devtrust.Options{})

	good := sha256Request([]byte("x"), big.NewInt(7), true)
	withImprint := func(oid asn1.ObjectIdentifier, n int) tsRequest {
		r := good
		r.MessageImprint = tsImprint{HashAlgorithm: pkix.AlgorithmIdentifier{Algorithm: oid}, HashedMessage: make([]byte, n)}
		return r
	}
	version2 := good
	version2.Version = 2
	otherPolicy := good
	otherPolicy.ReqPolicy = asn1.ObjectIdentifier{1, 2, 3, 4}
	withExtension := good
	withExtension.Extensions = []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 2, 3, 5}, Value: []byte{5, 0}}}
	goodDER := marshal(t, good)
	oidSHA1 := asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}
	oidMD5 := asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 5}

	for _, tt := range []struct {
		name     string
		der      []byte
		status   int
		failInfo int // -1: granted
	}{
		{"granted", goodDER, http.StatusOK, -1},
		{"sha1", marshal(t, withImprint(oidSHA1, 20)), http.StatusOK, 0},
		{"md5", marshal(t, withImprint(oidMD5, 16)), http.StatusOK, 0},
		{"short-hash", marshal(t, withImprint(oidSHA256(), 20)), http.StatusOK, 5},
		{"version2", marshal(t, version2), http.StatusOK, 5},
		{"other-policy", marshal(t, otherPolicy), http.StatusOK, 15},
		{"extension", marshal(t, withExtension), http.StatusOK, 16},
		{"garbage", []byte("not DER"), http.StatusBadRequest, 5},
		{"empty", nil, http.StatusBadRequest, 5},
		{"trailing-data", append(append([]byte(nil), goodDER...), 0), http.StatusBadRequest, 5},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := do(t, srv, "POST", devtrust.TSAPath, "application/timestamp-query", tt.der)
			if resp.StatusCode != tt.status {
				t.Errorf("HTTP status %d, want %d", resp.StatusCode, tt.status)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/timestamp-reply" {
				t.Errorf("Content-Type %q", ct)
			}
			var r tsResponse
			if rest, err := asn1.Unmarshal(body, &r); err != nil || len(rest) != 0 {
				t.Fatalf("decoding TimeStampResp: %v (%d trailing bytes)", err, len(rest))
			}
			if tt.failInfo < 0 {
				if r.Status.Status != 0 || len(r.TimeStampToken.FullBytes) == 0 {
					t.Errorf("status %d, token %d bytes; want granted with a token", r.Status.Status, len(r.TimeStampToken.FullBytes))
				}
				return
			}
			if r.Status.Status != 2 {
				t.Errorf("status %d, want 2 (rejection)", r.Status.Status)
			}
			if len(r.TimeStampToken.FullBytes) != 0 {
				t.Error("rejection carries a token")
			}
			fi := r.Status.FailInfo
			if fi.BitLength != tt.failInfo+1 || fi.At(tt.failInfo) != 1 {
				t.Errorf("failInfo %x/%d, want bit %d only", fi.Bytes, fi.BitLength, tt.failInfo)
			}
			for i := range fi.BitLength - 1 {
				if fi.At(i) != 0 {
					t.Errorf("failInfo bit %d set", i)
				}
			}
			if len(r.Status.StatusString) == 0 || r.Status.StatusString[0] == "" {
				t.Error("no statusString")
			}
			if _, err := timestamp.ParseResponse(body); err == nil {
				t.Error("timestamp.ParseResponse accepted the rejection")
			}
		})
	}
}
