package webhook_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"hashsign/internal/webhook"
)

func TestSignVerify(t *testing.T) {
	secret := []byte("s3cret")
	body := []byte(`{"id":"b1","status":"completed"}`)
	at := time.Unix(1_700_000_000, 0)
	sig := webhook.Sign(secret, at, body)
	if !strings.HasPrefix(sig, "t=1700000000,v1=") || len(sig) != len("t=1700000000,v1=")+64 {
		t.Fatalf("signature %q", sig)
	}
	for _, tc := range []struct {
		name   string
		secret []byte
		sig    string
		body   []byte
		now    time.Time
		ok     bool
	}{
		{"good", secret, sig, body, at.Add(time.Minute), true},
		{"other body", secret, sig, []byte(`{"id":"b2"}`), at, false},
		{"other secret", []byte("other"), sig, body, at, false},
		{"too old", secret, sig, body, at.Add(time.Hour), false},
		{"no time", secret, strings.Replace(sig, "t=", "x=", 1), body, at, false},
		{"other time", secret, strings.Replace(sig, "t=1700000000", "t=1700000001", 1), body, at, false},
		{"no mac", secret, "t=1700000000", body, at, false},
	} {
		_, err := webhook.Verify(tc.secret, tc.sig, tc.body, tc.now, 5*time.Minute)
		if (err == nil) != tc.ok {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

func TestPost(t *testing.T) {
	var got http.Header
	var gotBody string
	status := http.StatusNoContent
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Clone()
		b, _ := io.ReadAll(r.Body)
		gotBody = string(b)
		w.WriteHeader(status)
	}))
	defer srv.Close()
	h := http.Header{}
	h.Set("X-Sig", "t=1,v1=00")
	if err := webhook.Post(context.Background(), srv.Client(), srv.URL, h, []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	if got.Get("X-Sig") != "t=1,v1=00" || got.Get("Content-Type") != "application/json" || gotBody != "{}" {
		t.Errorf("headers %v, body %q", got, gotBody)
	}
	status = http.StatusServiceUnavailable
	if err := webhook.Post(context.Background(), srv.Client(), srv.URL, h, []byte(`{}`)); err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("a 503 answer: %v", err)
	}
}

// FuzzVerify: any signature header is refused or accepted without a
// panic, and one that Verify accepts carries the MAC that Sign makes for
// the time it names.
func FuzzVerify(f *testing.F) {
	secret := []byte("0123456789abcdef")
	body := []byte(`{"id":"1"}`)
	now := time.Unix(1_800_000_000, 0)
	f.Add(webhook.Sign(secret, now, body))
	f.Add("t=1800000000,v1=zz")
	f.Add("t=1800000000,v1=00")
	f.Add("v1=,t=,,=")
	f.Fuzz(func(t *testing.T, sig string) {
		at, err := webhook.Verify(secret, sig, body, now, time.Minute)
		if err != nil {
			return
		}
		_, mac, _ := strings.Cut(webhook.Sign(secret, at, body), ",v1=")
		if !strings.Contains(sig, mac) {
			t.Fatalf("Verify accepted %q, which lacks the MAC %s", sig, mac)
		}
	})
}
