package hashsvc_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"hashsign/csc"
	"hashsign/hashsvc"
	"hashsign/hashsvc/hashsvctest"
)

// fuzzRoutes are the JSON routes of the service: CSC v2, CSC v1, consent
// (sendOTP, authorize) and /v1/cades/sign.
var fuzzRoutes = []string{
	csc.PathInfo, csc.PathCredentialsList, csc.PathCredentialsInfo, csc.PathSignHash, csc.PathCAdESSign,
	csc.PathCredentialsAuthorize, csc.PathCredentialsSendOTP,
	csc.PathV1Info, csc.PathV1CredentialsList, csc.PathV1CredentialsInfo, csc.PathV1CredentialsAuthorize,
	csc.PathV1CredentialsSendOTP, csc.PathV1SignHash,
}

// FuzzHandlers sends hostile JSON bodies to every JSON route of a service
// with explicit (consent) credentials, e-mail, SMS and TOTP codes, and a
// cades-only key: whatever the body, the answer is JSON, a client error
// is a 4xx with an "error" member, and nothing is a server error (5xx,
// which here could only be a bug) or a panic.
func FuzzHandlers(f *testing.F) {
	cs := newConsentServer(f, func(c *hashsvc.Config) {
		c.Limits.RatePerKey, c.Limits.BurstPerKey = 1e9, 1<<30 // the fuzzer is no abuser to slow down
	})
	// drain what sendOTP sends, so that no code delivery waits for a reader
	ctx, cancel := context.WithCancel(context.Background())
	f.Cleanup(cancel)
	go func() {
		for {
			select {
			case <-cs.sms:
			case <-cs.smsSigs:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() {
		for {
			if _, err := cs.mailbox.Next(ctx); err != nil {
				return
			}
		}
	}()
	h := cs.Service.Handler()
	keys := []string{cs.Keys[hashsvctest.KeyAll], cs.Keys[hashsvctest.KeyP256], cs.cadesKey, "hsk_wrong"}
	hash := bytes.Repeat([]byte{1}, 32)
	for i := range fuzzRoutes {
		for _, body := range []any{
			struct{}{},
			csc.SignHashRequest{CredentialID: hashsvctest.CredP256, Hashes: []string{b64(hash)}, SignAlgo: csc.OIDECDSAWithSHA256},
			csc.SignHashRequest{CredentialID: credAlice, Hashes: []string{b64(hash)}, SignAlgo: csc.OIDECDSAWithSHA256, SAD: "x"},
			csc.CAdESSignRequest{CredentialID: hashsvctest.CredRSA, Digest: b64(hash), Timestamp: true},
			csc.AuthorizeRequest{CredentialID: credBob, NumSignatures: 1, OTP: "123456", HashAlgorithmOID: csc.OIDSHA256, Hashes: []string{b64(hash)}},
			csc.SendOTPRequest{CredentialID: credCarol},
			map[string]any{"credentialID": credAlice, "hash": []string{b64(hash)}, "numSignatures": 1e300},
		} {
			b, _ := json.Marshal(body)
			f.Add(uint8(i), uint8(0), b)
		}
	}
	f.Add(uint8(3), uint8(2), []byte(`{"credentialID":"p256","hashes":["`+b64(hash)+`"],"signAlgo":"1.2.840.10045.4.3.2","hashes":null}`))
	f.Add(uint8(0), uint8(3), []byte("[]"))
	f.Add(uint8(1), uint8(0), []byte("{} {}"))
	f.Fuzz(func(t *testing.T, route, key uint8, body []byte) {
		path := fuzzRoutes[int(route)%len(fuzzRoutes)]
		req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+keys[int(key)%len(keys)])
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		checkAnswer(t, path, rec)
	})
}

// checkAnswer fails the test unless the answer rec to path is a JSON
// object, not a server error (5xx), and a client error (4xx) with an
// "error" member.
func checkAnswer(t *testing.T, path string, rec *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatalf("%s: answer %d is not a JSON object: %q", path, rec.Code, rec.Body)
	}
	switch {
	case rec.Code >= 500:
		t.Fatalf("%s: %d %s", path, rec.Code, rec.Body)
	case rec.Code >= 400 && v["error"] == nil:
		t.Fatalf("%s: %d without an error: %s", path, rec.Code, rec.Body)
	}
	return v
}

// requestRoutes are the signature-request routes that read a JSON body:
// create, start, cancel, and a step's hashes.
var requestRoutes = []string{csc.PathRequests, csc.PathRequestStart, csc.PathRequestCancel, csc.PathRequestHashes}

// FuzzRequestHandlers sends hostile JSON bodies to the signature-request
// routes that read one, for a request created before (and for any step
// number): the answers hold to what FuzzHandlers checks.
func FuzzRequestHandlers(f *testing.F) {
	s, _ := reqServer(f, newClock(), nil)
	h := s.Service.Handler()
	keys := []string{s.Keys[hashsvctest.KeyAll], s.Keys[hashsvctest.KeyP256], "hsk_wrong"}
	post := func(t *testing.T, path, key string, body []byte) map[string]any {
		req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+key)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return checkAnswer(t, path, rec)
	}
	created, _ := json.Marshal(twoSigners())
	hashesBody, _ := json.Marshal(hashes("a.pdf"))
	for _, seed := range []struct {
		route, step uint8
		body        []byte
	}{
		{0, 0, created},
		{0, 0, []byte(`{"sender":"x","order":"parallel","level":"B-LTA","documents":[{"name":""}],"signers":[{"id":"a","name":"A","otp":"sms","phone":"+1"}],"callbackURLs":["http://192.0.2.1/"],"draft":true}`)},
		{0, 0, []byte(`{"sender":"x","documents":[{"name":"a.pdf"},{"name":"a.pdf"}],"signers":[{"id":"a","name":"A","credentialID":"carl"},{"id":"a","name":"B","email":"not an address"}],"expires":"1970-01-01T00:00:00Z"}`)},
		{1, 0, []byte(`{}`)},
		{2, 0, []byte(`null`)},
		{3, 1, hashesBody},
		{3, 2, hashesBody},
		{3, 1, []byte(`{"hashAlgorithmOID":"2.16.840.1.101.3.4.2.1","signAlgo":"1.2.840.10045.4.3.2","hashes":[{"document":"b.pdf","documentHash":"","hash":"AAAA"},{"document":"a.pdf"}]}`)},
	} {
		f.Add(seed.route, uint8(0), seed.step, seed.body)
	}
	draft := twoSigners()
	draft.Draft = true
	drafted, _ := json.Marshal(draft)
	// the request each route acts on (a cancel ends only its own), made
	// before fuzzing: once the fuzzing has spent the API key's rate (the
	// clock stands still), no request could be made any more
	ids := map[int]string{}
	for r := 1; r < len(requestRoutes); r++ {
		b := created
		if requestRoutes[r] == csc.PathRequestStart {
			b = drafted
		}
		req := httptest.NewRequest(http.MethodPost, csc.PathRequests, bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+keys[0])
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		var st struct{ ID string }
		if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil || st.ID == "" {
			f.Fatalf("creating the request of %s: %d %s", requestRoutes[r], rec.Code, rec.Body)
		}
		ids[r] = st.ID
	}
	f.Fuzz(func(t *testing.T, route, key, step uint8, body []byte) {
		r := int(route) % len(requestRoutes)
		path := strings.NewReplacer("{id}", ids[r], "{k}", strconv.Itoa(int(step%4))).Replace(requestRoutes[r])
		post(t, path, keys[int(key)%len(keys)], body)
	})
}
