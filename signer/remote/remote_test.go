package remote_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"hashsign/csc"
	"hashsign/hashsvc/hashsvctest"
	"hashsign/internal/atomicfile"
	"hashsign/pades"
	"hashsign/signer/remote"
	"hashsign/testdata/pdfgen"
)

func newClient(t *testing.T, url, key string, attempts int) *remote.Client {
	t.Helper()
	c, err := remote.NewClient(url, remote.Options{
		APIKey: key, Retry: remote.RetryPolicy{Attempts: attempts, MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newSigner(t *testing.T, url, key, cred string) *remote.Signer {
	t.Helper()
	s, err := remote.NewSigner(context.Background(), newClient(t, url, key, 3), cred)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// writePDF writes a small test PDF and returns its path.
func writePDF(t *testing.T, dir, name string) string {
	t.Helper()
	b, err := pdfgen.Bytes(pdfgen.Table, pdfgen.Options{Info: map[string]string{"Title": name}})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// signFile signs in to out with s through pades.Sign and an atomic file.
func signFile(t *testing.T, s *remote.Signer, in, out string, opts *pades.SignOptions) error {
	t.Helper()
	f, err := os.Open(in)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	o, err := atomicfile.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Abort()
	if _, err := pades.Sign(context.Background(), f, st.Size(), o, s, opts); err != nil {
		return err
	}
	return o.Commit()
}

// checkSigned fails unless every signature of the PDF at path is intact.
func checkSigned(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	rep, err := pades.Inspect(context.Background(), f, st.Size(), nil)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if len(rep.Fields) == 0 {
		t.Fatalf("%s: no signature", path)
	}
	for _, fr := range rep.Fields {
		if !fr.Signed || fr.Intact == nil || !*fr.Intact || fr.Problem != "" {
			t.Fatalf("%s: field %s signed=%v intact=%v problem=%q", path, fr.Field, fr.Signed, fr.Intact, fr.Problem)
		}
	}
}

func TestSignPDF(t *testing.T) {
	s := hashsvctest.NewServer(t, hashsvctest.Options{})
	dir := t.TempDir()
	in := writePDF(t, dir, "in.pdf")
	for _, tc := range []struct {
		cred string
		opts pades.SignOptions
	}{
		{hashsvctest.CredRSA, pades.SignOptions{}},
		{hashsvctest.CredRSA, pades.SignOptions{PSS: true, Hash: crypto.SHA384}},
		{hashsvctest.CredP256, pades.SignOptions{}},
		{hashsvctest.CredP384, pades.SignOptions{Hash: crypto.SHA384}},
	} {
		h := tc.opts.Hash
		if h == 0 {
			h = crypto.SHA256
		}
		name := fmt.Sprintf("%s-%v-pss%v", tc.cred, h, tc.opts.PSS)
		t.Run(name, func(t *testing.T) {
			rs := newSigner(t, s.URL, s.Keys[hashsvctest.KeyAll], tc.cred)
			if len(rs.Chain()) != 2 {
				t.Errorf("chain of %d certificates, want the signer's and the intermediate", len(rs.Chain()))
			}
			out := filepath.Join(dir, name+".pdf")
			if err := signFile(t, rs, in, out, &tc.opts); err != nil {
				t.Fatal(err)
			}
			checkSigned(t, out)
		})
	}
}

func TestSignBatchSplitsCalls(t *testing.T) {
	s := hashsvctest.NewServer(t, hashsvctest.Options{})
	var calls, hashes atomic.Int64
	front := countingFront(t, s.URL, func(r *http.Request, body []byte) {
		if r.URL.Path == csc.PathSignHash {
			var req csc.SignHashRequest
			json.Unmarshal(body, &req)
			calls.Add(1)
			hashes.Add(int64(len(req.Hashes)))
		}
	})
	rs := newSigner(t, front.URL, s.Keys[hashsvctest.KeyAll], hashsvctest.CredP256)
	digests := make([][]byte, 130)
	for i := range digests {
		sum := sha256.Sum256([]byte(fmt.Sprint(i)))
		digests[i] = sum[:]
	}
	sigs, err := rs.SignBatch(context.Background(), digests, crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	pub := rs.Public().(*ecdsa.PublicKey)
	for i, sig := range sigs {
		if !ecdsa.VerifyASN1(pub, digests[i], sig) {
			t.Fatalf("signature %d does not verify (order lost?)", i)
		}
	}
	if calls.Load() != 3 || hashes.Load() != 130 {
		t.Errorf("%d signHash calls with %d hashes, want 3 calls (64+64+2)", calls.Load(), hashes.Load())
	}
}

// countingFront is a reverse proxy on 127.0.0.1 in front of target that
// shows each request to seen.
func countingFront(t *testing.T, target string, seen func(*http.Request, []byte)) *httptest.Server {
	t.Helper()
	u, _ := url.Parse(target)
	rp := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		seen(r, body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// rewritingFront is a reverse proxy on 127.0.0.1 in front of target that
// rewrites the signatures of signHash answers with edit.
func rewritingFront(t *testing.T, target string, edit func(sig []byte) []byte) *httptest.Server {
	t.Helper()
	u, _ := url.Parse(target)
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ModifyResponse = func(resp *http.Response) error {
		if resp.Request.URL.Path != csc.PathSignHash || resp.StatusCode != 200 {
			return nil
		}
		var sr csc.SignHashResponse
		if err := json.NewDecoder(resp.Body).Decode(&sr); err != nil {
			return err
		}
		resp.Body.Close()
		for i, s := range sr.Signatures {
			sig, _ := base64.StdEncoding.DecodeString(s)
			sr.Signatures[i] = base64.StdEncoding.EncodeToString(edit(sig))
		}
		b, _ := json.Marshal(sr)
		resp.Body = io.NopCloser(bytes.NewReader(b))
		resp.ContentLength = int64(len(b))
		resp.Header.Set("Content-Length", fmt.Sprint(len(b)))
		return nil
	}
	srv := httptest.NewServer(rp)
	t.Cleanup(srv.Close)
	return srv
}

func TestBadSignatureRefused(t *testing.T) {
	s := hashsvctest.NewServer(t, hashsvctest.Options{})
	front := rewritingFront(t, s.URL, func(sig []byte) []byte {
		sig = bytes.Clone(sig)
		sig[len(sig)/2] ^= 1
		return sig
	})
	dir := t.TempDir()
	in := writePDF(t, dir, "in.pdf")
	for _, cred := range []string{hashsvctest.CredRSA, hashsvctest.CredP256} {
		rs := newSigner(t, front.URL, s.Keys[hashsvctest.KeyAll], cred)
		out := filepath.Join(dir, cred+".pdf")
		err := signFile(t, rs, in, out, nil)
		if !errors.Is(err, remote.ErrBadSignature) {
			t.Errorf("%s: err = %v, want ErrBadSignature", cred, err)
		}
		if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: output written despite a bad signature", cred)
		}
	}
}

func TestRawECDSAConverted(t *testing.T) {
	s := hashsvctest.NewServer(t, hashsvctest.Options{})
	front := rewritingFront(t, s.URL, func(der []byte) []byte {
		var v struct{ R, S *big.Int }
		if _, err := asn1.Unmarshal(der, &v); err != nil {
			t.Errorf("service signature is not DER: %v", err)
			return der
		}
		raw := make([]byte, 64)
		v.R.FillBytes(raw[:32])
		v.S.FillBytes(raw[32:])
		return raw
	})
	dir := t.TempDir()
	in := writePDF(t, dir, "in.pdf")
	rs := newSigner(t, front.URL, s.Keys[hashsvctest.KeyAll], hashsvctest.CredP256)
	out := filepath.Join(dir, "out.pdf")
	if err := signFile(t, rs, in, out, nil); err != nil {
		t.Fatal(err)
	}
	checkSigned(t, out)
}

func TestErrors(t *testing.T) {
	s := hashsvctest.NewServer(t, hashsvctest.Options{})
	ctx := context.Background()

	t.Run("wrong key is 401, not retried", func(t *testing.T) {
		var n atomic.Int64
		front := countingFront(t, s.URL, func(*http.Request, []byte) { n.Add(1) })
		_, err := remote.NewSigner(ctx, newClient(t, front.URL, "hsk_wrong", 4), hashsvctest.CredP256)
		if !errors.Is(err, remote.ErrUnauthorized) {
			t.Fatalf("err = %v, want ErrUnauthorized", err)
		}
		if n.Load() != 1 {
			t.Errorf("%d requests for a 401, want 1 (no retry on 4xx)", n.Load())
		}
		t.Logf("error: %v", err)
	})
	t.Run("credential not allowed is 403", func(t *testing.T) {
		_, err := remote.NewSigner(ctx, newClient(t, s.URL, s.Keys[hashsvctest.KeyP256], 4), hashsvctest.CredRSA)
		if !errors.Is(err, remote.ErrForbidden) {
			t.Fatalf("err = %v, want ErrForbidden", err)
		}
		t.Logf("error: %v", err)
	})
	t.Run("key revoked after the chain was fetched", func(t *testing.T) {
		var refuse atomic.Bool
		u, _ := url.Parse(s.URL)
		rp := httputil.NewSingleHostReverseProxy(u)
		front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if refuse.Load() {
				r.Header.Set("Authorization", "Bearer revoked")
			}
			rp.ServeHTTP(w, r)
		}))
		defer front.Close()
		rs := newSigner(t, front.URL, s.Keys[hashsvctest.KeyAll], hashsvctest.CredP256)
		refuse.Store(true)
		sum := sha256.Sum256([]byte("x"))
		if _, err := rs.SignContext(ctx, sum[:], crypto.SHA256); !errors.Is(err, remote.ErrUnauthorized) {
			t.Fatalf("err = %v, want ErrUnauthorized", err)
		}
	})
	t.Run("service down", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close() // nothing listens there now
		_, err = remote.NewSigner(ctx, newClient(t, "http://"+addr, "k", 3), "c")
		if !errors.Is(err, remote.ErrUnavailable) {
			t.Fatalf("err = %v, want ErrUnavailable", err)
		}
		if !strings.Contains(err.Error(), "3 attempts") || !strings.Contains(err.Error(), addr) {
			t.Errorf("error does not name the service and the attempts: %v", err)
		}
		t.Logf("error: %v", err)
	})
	t.Run("5xx is retried", func(t *testing.T) {
		var n atomic.Int64
		u, _ := url.Parse(s.URL)
		rp := httputil.NewSingleHostReverseProxy(u)
		front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if n.Add(1) <= 2 {
				w.WriteHeader(http.StatusServiceUnavailable)
				w.Write([]byte(`{"error":"temporarily_unavailable","error_description":"try again"}`))
				return
			}
			rp.ServeHTTP(w, r)
		}))
		defer front.Close()
		rs, err := remote.NewSigner(ctx, newClient(t, front.URL, s.Keys[hashsvctest.KeyAll], 3), hashsvctest.CredP256)
		if err != nil {
			t.Fatalf("not retried: %v", err)
		}
		if n.Load() != 3 {
			t.Errorf("%d requests, want 3", n.Load())
		}
		n.Store(100)
		sum := sha256.Sum256([]byte("x"))
		if _, err := rs.SignContext(ctx, sum[:], crypto.SHA256); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("5xx exhausts the attempts", func(t *testing.T) {
		front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusInternalServerError)
			w.Write([]byte(`{"error":"server_error","error_description":"the audit log could not be written"}`))
		}))
		defer front.Close()
		_, err := remote.NewSigner(ctx, newClient(t, front.URL, "k", 2), "c")
		if !errors.Is(err, remote.ErrUnavailable) || !strings.Contains(err.Error(), "audit log") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("plain http to a remote host is refused", func(t *testing.T) {
		if _, err := remote.NewClient("http://sign.example.com", remote.Options{APIKey: "k"}); err == nil {
			t.Error("accepted")
		}
		if _, err := remote.NewClient("https://sign.example.com/csc/v2/", remote.Options{APIKey: "k"}); err != nil {
			t.Error(err)
		}
	})
	t.Run("digest of the wrong size is refused locally", func(t *testing.T) {
		rs := newSigner(t, s.URL, s.Keys[hashsvctest.KeyAll], hashsvctest.CredRSA)
		if _, err := rs.SignContext(ctx, []byte("not a hash"), crypto.SHA256); err == nil {
			t.Error("accepted")
		}
		if _, err := rs.SignContext(ctx, make([]byte, 32), &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto, Hash: crypto.SHA256}); err == nil {
			t.Error("automatic PSS salt accepted")
		}
	})
}

// TestPrivacy signs a 10 MiB PDF through a byte-counting TCP proxy: what
// the client sends to the service must stay under 8 KiB, and must not
// contain the document's byte-range digest.
func TestPrivacy(t *testing.T) {
	if testing.Short() {
		t.Skip("builds genpdf")
	}
	s := hashsvctest.NewServer(t, hashsvctest.Options{})
	proxy := hashsvctest.NewProxy(t, strings.TrimPrefix(s.URL, "http://"))
	dir := t.TempDir()
	in := filepath.Join(dir, "big.pdf")
	hashsvctest.GenPDF(t, "10MiB", in)
	st, err := os.Stat(in)
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() < 10<<20-64<<10 {
		t.Fatalf("test PDF is only %d bytes", st.Size())
	}
	for _, cred := range []string{hashsvctest.CredRSA, hashsvctest.CredP256} {
		before := len(proxy.Sent())
		rs := newSigner(t, proxy.URL(), s.Keys[hashsvctest.KeyAll], cred)
		out := filepath.Join(dir, cred+".pdf")
		if err := signFile(t, rs, in, out, nil); err != nil {
			t.Fatal(err)
		}
		checkSigned(t, out)
		sent := proxy.Sent()[before:]
		t.Logf("%s: signed a %d-byte PDF; the client sent %d bytes to the service", cred, st.Size(), len(sent))
		if len(sent) >= 8<<10 {
			t.Errorf("%s: the client sent %d bytes to the service, want < 8 KiB", cred, len(sent))
		}
		// The byte-range digest never leaves: only the hash of the signed
		// attributes does.
		d := byteRangeDigest(t, out)
		for _, enc := range [][]byte{d, []byte(base64.StdEncoding.EncodeToString(d))} {
			if bytes.Contains(sent, enc) {
				t.Errorf("%s: the byte-range digest was sent to the service", cred)
			}
		}
	}
}

// byteRangeDigest returns the SHA-256 of the byte range of the newest
// signature of the PDF at path.
func byteRangeDigest(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := pades.Inspect(context.Background(), bytes.NewReader(data), int64(len(data)), nil)
	if err != nil || len(rep.Fields) == 0 {
		t.Fatalf("inspect: %v", err)
	}
	br := rep.Fields[len(rep.Fields)-1].ByteRange
	h := sha256.New()
	h.Write(data[br[0] : br[0]+br[1]])
	h.Write(data[br[2] : br[2]+br[3]])
	return h.Sum(nil)
}
