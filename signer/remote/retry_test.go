package remote_test

import (
	"context"
	"crypto"
	"crypto/sha256"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"

	"hashsign/csc"
	"hashsign/hashsvc"
	"hashsign/hashsvc/hashsvctest"
	"hashsign/signer/remote"
)

// TestRetryDoesNotSignTwice: the service signs, but a gateway in front of
// it answers 504 (its answer was lost); the client retries, with the same
// idempotency key, and gets the signature made the first time: one
// signature, one audit record.
func TestRetryDoesNotSignTwice(t *testing.T) {
	s := hashsvctest.NewServer(t, hashsvctest.Options{})
	u, _ := url.Parse(s.URL)
	rp := httputil.NewSingleHostReverseProxy(u)
	var (
		mu       sync.Mutex
		keys     []string // Idempotency-Key of each signHash request
		lostCode int
	)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != csc.PathSignHash {
			rp.ServeHTTP(w, r)
			return
		}
		mu.Lock()
		keys = append(keys, r.Header.Get(remote.IdempotencyKeyHeader))
		first := len(keys) == 1
		mu.Unlock()
		if first {
			rec := httptest.NewRecorder()
			rp.ServeHTTP(rec, r) // the service signs; its answer is lost
			lostCode = rec.Code
			w.WriteHeader(http.StatusGatewayTimeout)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	defer front.Close()
	rs := newSigner(t, front.URL, s.Keys[hashsvctest.KeyAll], hashsvctest.CredP256)
	sum := sha256.Sum256([]byte("retried"))
	if _, err := rs.SignContext(context.Background(), sum[:], crypto.SHA256); err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || keys[0] == "" || keys[0] != keys[1] || lostCode != http.StatusOK {
		t.Fatalf("signHash requests with idempotency keys %q (the lost answer was %d), want two with the same key after a 200", keys, lostCode)
	}
	if n := hashsvctest.Metric(t, s.URL, `hashsvc_signatures_total{credential="p256",operation="signHash"}`); n != 1 {
		t.Errorf("the service signed %d times, want 1", n)
	}
	sumAudit, err := hashsvc.VerifyAudit(context.Background(), s.AuditPath, "")
	if err != nil || sumAudit.Records != 1 {
		t.Errorf("audit records = %d (%v), want 1", sumAudit.Records, err)
	}
	// Another call is another key.
	if _, err := rs.SignContext(context.Background(), sum[:], crypto.SHA256); err != nil {
		t.Fatal(err)
	}
	if len(keys) != 3 || keys[2] == keys[0] {
		t.Errorf("a new call reused the idempotency key: %q", keys)
	}
}

// TestTooManyRequestsRetried: a 429 is retried, and past the attempts it
// is ErrUnavailable.
func TestTooManyRequestsRetried(t *testing.T) {
	s := hashsvctest.NewServer(t, hashsvctest.Options{})
	u, _ := url.Parse(s.URL)
	rp := httputil.NewSingleHostReverseProxy(u)
	var n atomic.Int64
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) <= 2 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			w.Write([]byte(`{"error":"temporarily_unavailable","error_description":"slow down"}`))
			return
		}
		rp.ServeHTTP(w, r)
	}))
	defer front.Close()
	if _, err := remote.NewSigner(context.Background(), newClient(t, front.URL, s.Keys[hashsvctest.KeyAll], 3), hashsvctest.CredP256); err != nil {
		t.Fatalf("429 not retried: %v", err)
	}
	if n.Load() != 3 {
		t.Errorf("%d requests, want 3", n.Load())
	}

	// The service's own rate limit, past the attempts.
	limited := hashsvctest.NewServer(t, hashsvctest.Options{Edit: func(c *hashsvc.Config) {
		c.Limits.RatePerKey = 0.001
		c.Limits.BurstPerKey = 1
	}})
	rs := newSigner(t, limited.URL, limited.Keys[hashsvctest.KeyAll], hashsvctest.CredP256) // takes the token
	sum := sha256.Sum256([]byte("x"))
	_, err := rs.SignContext(context.Background(), sum[:], crypto.SHA256)
	var se *remote.Error
	if !errors.Is(err, remote.ErrUnavailable) || !errors.As(err, &se) || se.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("err = %v, want a 429 that is ErrUnavailable", err)
	}
	if c := hashsvctest.Metric(t, limited.URL, `hashsvc_requests_total{route="/csc/v2/signatures/signHash",code="429"}`); c != 3 {
		t.Errorf("%d signHash requests answered 429, want 3 (the attempts)", c)
	}
	t.Logf("error: %v", err)
}

// TestPinnedSigner: NewPinnedSigner accepts the credential's certificate
// and refuses another.
func TestPinnedSigner(t *testing.T) {
	s := hashsvctest.NewServer(t, hashsvctest.Options{})
	ctx := context.Background()
	c := newClient(t, s.URL, s.Keys[hashsvctest.KeyAll], 1)
	rs, err := remote.NewPinnedSigner(ctx, c, hashsvctest.CredP256, s.PKI.SignerP256.Cert)
	if err != nil {
		t.Fatalf("the right certificate: %v", err)
	}
	sum := sha256.Sum256([]byte("pinned"))
	if _, err := rs.SignContext(ctx, sum[:], crypto.SHA256); err != nil {
		t.Fatal(err)
	}
	for _, wrong := range []struct {
		name string
		cred string
	}{
		{"another signer's certificate", hashsvctest.CredP384},
		{"the intermediate CA", ""},
	} {
		cert := s.PKI.Intermediate.Cert
		if wrong.cred == hashsvctest.CredP384 {
			cert = s.PKI.SignerP384.Cert
		}
		_, err := remote.NewPinnedSigner(ctx, c, hashsvctest.CredP256, cert)
		if !errors.Is(err, remote.ErrCertificateMismatch) {
			t.Errorf("%s: err = %v, want ErrCertificateMismatch", wrong.name, err)
		}
		t.Logf("%s: %v", wrong.name, err)
	}
}
