package hashsvc_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"database/sql"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"hashsign/csc"
	"hashsign/hashsvc"
	"hashsign/hashsvc/hashsvctest"
	"hashsign/internal/devpki"
)

// clock is a settable clock for the consent tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Now()} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// consentServer is a hashsvc with explicit credentials: "alice" (codes by
// e-mail to the Mailbox), "bob" (TOTP), "carol" (codes by SMS webhook),
// a cades-only API key, the test PKI's intermediate as the issuing CA
// of one-time certificates, and a settable clock.
type consentServer struct {
	*hashsvctest.Server
	clock   *clock
	mailbox *hashsvctest.Mailbox
	sms     chan hashsvc.SMSMessage
	// smsSigs are the Hashsvc-Signature headers the webhook received.
	smsSigs   chan string
	smsSecret []byte
	cadesKey  string
}

const (
	credAlice = "alice"
	credBob   = "bob"
	credCarol = "carol"
	keyCAdES  = "cades-only"
)

func newConsentServer(t testing.TB, edits ...func(*hashsvc.Config)) *consentServer {
	t.Helper()
	cs := &consentServer{clock: newClock(), mailbox: hashsvctest.NewMailbox(t), sms: make(chan hashsvc.SMSMessage, 8), smsSigs: make(chan string, 8), smsSecret: []byte("webhook secret")}
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m hashsvc.SMSMessage
		body, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(body, &m); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		cs.smsSigs <- verifyWebhook(cs.smsSecret, r.Header.Get(hashsvc.WebhookSignatureHeader), body)
		cs.sms <- m
	}))
	t.Cleanup(hook.Close)
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret")
	os.WriteFile(secret, []byte(strings.Repeat("ab", 32)), 0o600)
	smsSecret := filepath.Join(dir, "sms-secret")
	os.WriteFile(smsSecret, cs.smsSecret, 0o600)
	var cadesSum string
	cs.cadesKey, cadesSum, _ = hashsvc.NewAPIKey()
	pki := devpki.DefaultDir()
	p := hashsvctest.PKI(t)
	cs.Server = hashsvctest.NewServer(t, hashsvctest.Options{
		Edit: func(c *hashsvc.Config) {
			person := func(id string, s *hashsvc.SignerConfig) hashsvc.CredentialConfig {
				return hashsvc.CredentialConfig{
					ID: id, Key: filepath.Join(pki, devpki.SignerP256KeyFile), Cert: filepath.Join(pki, devpki.SignerP256CertFile),
					Chain: []string{filepath.Join(pki, devpki.IntermediateCertFile)}, AuthMode: "explicit", Signer: s,
				}
			}
			c.Credentials = append(c.Credentials,
				person(credAlice, &hashsvc.SignerConfig{Name: "Alice", Email: "alice@example.org", OTP: "email"}),
				person(credBob, &hashsvc.SignerConfig{Name: "Bob", OTP: "totp"}),
				person(credCarol, &hashsvc.SignerConfig{Name: "Carol", Phone: "+4912345678", OTP: "sms"}),
			)
			c.APIKeys = append(c.APIKeys, hashsvc.APIKeyConfig{ID: keyCAdES, SHA256: cadesSum, Credentials: []string{hashsvctest.CredP256}, Operations: []string{hashsvc.OpCAdES}})
			c.Consent = hashsvc.ConsentConfig{
				SecretFile: secret,
				SMTP:       &hashsvc.SMTPConfig{Addr: cs.mailbox.Addr, From: "hashsvc <signing@example.org>", TLS: "none"},
				SMS:        &hashsvc.WebhookConfig{URL: hook.URL, SecretFile: smsSecret},
			}
			for _, edit := range edits {
				edit(c)
			}
		},
		Service: func(o *hashsvc.Options) {
			o.Now = cs.clock.Now
			o.CA = &hashsvc.CA{Signer: p.Intermediate.Key, Chain: []*x509.Certificate{p.Intermediate.Cert}}
		},
	})
	return cs
}

// verifyWebhook checks a Hashsvc-Signature header with the README's
// snippet, and returns "ok" or why not.
func verifyWebhook(secret []byte, header string, body []byte) string {
	ts, sig, _ := strings.Cut(strings.TrimPrefix(header, "t="), ",v1=")
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts + "."))
	m.Write(body)
	if ok := hmac.Equal([]byte(sig), []byte(hex.EncodeToString(m.Sum(nil)))); !ok || ts == "" {
		return "bad signature " + header
	}
	return "ok"
}

// code sends a code to alice and reads it from the mail.
func (cs *consentServer) code(t *testing.T, cred string) string {
	t.Helper()
	if code, _, body := call(t, cs.URL+csc.PathCredentialsSendOTP, cs.Keys[hashsvctest.KeyAll], csc.SendOTPRequest{CredentialID: cred}); code != 200 {
		t.Fatalf("sendOTP: %d %v", code, body)
	}
	m, err := cs.mailbox.Next(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if m.To != "alice@example.org" || m.Code() == "" {
		t.Fatalf("mail to %q without a code: %q", m.To, m.Body)
	}
	return m.Code()
}

// authorize asks for a SAD for hashes.
func (cs *consentServer) authorize(t *testing.T, cred, otp string, hashes ...[]byte) (int, map[string]any) {
	t.Helper()
	req := csc.AuthorizeRequest{CredentialID: cred, NumSignatures: len(hashes), OTP: otp, HashAlgorithmOID: csc.OIDSHA256}
	for _, h := range hashes {
		req.Hashes = append(req.Hashes, b64(h))
	}
	code, _, body := call(t, cs.URL+csc.PathCredentialsAuthorize, cs.Keys[hashsvctest.KeyAll], req)
	return code, body
}

// sad authorizes hashes on alice with an e-mailed code.
func (cs *consentServer) sad(t *testing.T, hashes ...[]byte) string {
	t.Helper()
	code, body := cs.authorize(t, credAlice, cs.code(t, credAlice), hashes...)
	if code != 200 || body["SAD"] == nil {
		t.Fatalf("authorize: %d %v", code, body)
	}
	return body["SAD"].(string)
}

func (cs *consentServer) signHash(t *testing.T, cred, sad string, hashes ...[]byte) (int, map[string]any) {
	t.Helper()
	req := csc.SignHashRequest{CredentialID: cred, SAD: sad, SignAlgo: csc.OIDECDSAWithSHA256}
	for _, h := range hashes {
		req.Hashes = append(req.Hashes, b64(h))
	}
	code, _, body := call(t, cs.URL+csc.PathSignHash, cs.Keys[hashsvctest.KeyAll], req)
	return code, body
}

func openDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// auditOps returns the operations of the audit log, in order.
func auditOps(t *testing.T, path string) []string {
	t.Helper()
	auditCount(t, path)
	db := openDB(t, path)
	rows, err := db.Query(`SELECT operation FROM audit ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var ops []string
	for rows.Next() {
		var op string
		rows.Scan(&op)
		ops = append(ops, op)
	}
	return ops
}

// TestConsentEmail: an explicit credential signs only with a SAD that an
// e-mailed code bought, for exactly the hashes authorized; every step is
// in the audit log and the metrics.
func TestConsentEmail(t *testing.T) {
	cs := newConsentServer(t)
	code, _, body := call(t, cs.URL+csc.PathCredentialsInfo, cs.Keys[hashsvctest.KeyAll], csc.CredentialsInfoRequest{CredentialID: credAlice})
	otp, _ := body["OTP"].(map[string]any)
	if code != 200 || body["authMode"] != "explicit" || otp["type"] != "online" {
		t.Fatalf("credentials/info of an explicit credential: %d %v", code, body)
	}
	if _, _, body := call(t, cs.URL+csc.PathCredentialsInfo, cs.Keys[hashsvctest.KeyAll], csc.CredentialsInfoRequest{CredentialID: hashsvctest.CredP256}); body["authMode"] != "implicit" {
		t.Errorf("a seal is %v, want implicit", body["authMode"])
	}
	h1, h2 := sha("doc 1"), sha("doc 2")
	sad := cs.sad(t, h1, h2)
	code, body = cs.signHash(t, credAlice, sad, h1, h2)
	if code != 200 {
		t.Fatalf("signHash with the SAD: %d %v", code, body)
	}
	leaf := hashsvctest.PKI(t).SignerP256.Cert
	for i, h := range [][]byte{h1, h2} {
		sig, _ := base64.StdEncoding.DecodeString(body["signatures"].([]any)[i].(string))
		if !ecdsa.VerifyASN1(leaf.PublicKey.(*ecdsa.PublicKey), h, sig) {
			t.Errorf("signature %d does not verify", i)
		}
	}
	want := []string{"code.sent.email", "code.verified.email", "sad.issued", "sad.used", "signHash", "signHash"}
	if got := strings.Join(auditOps(t, cs.AuditPath), " "); got != strings.Join(want, " ") {
		t.Errorf("audit operations %q, want %q", got, want)
	}
	if n := hashsvctest.Metric(t, cs.URL, `hashsvc_codes_total{channel="email",result="sent"}`); n != 1 {
		t.Errorf("codes sent: %v, want 1", n)
	}
}

// TestSADRefusals: signHash on an explicit credential is refused without a
// SAD, with an expired one, with one for other hashes, and with one used
// before.
func TestSADRefusals(t *testing.T) {
	cs := newConsentServer(t)
	h := sha("contract")
	for _, tc := range []struct {
		name string
		sad  func() string
		hash []byte
		want string
	}{
		{"no SAD", func() string { return "" }, h, `credential "alice" is explicit: signing needs a SAD`},
		{"unknown SAD", func() string { return "bm90IGEgU0FE" }, h, "invalid SAD: unknown"},
		{"expired", func() string {
			sad := cs.sad(t, h)
			cs.clock.Advance(hashsvc.DefaultSADLifetime)
			return sad
		}, h, "invalid SAD: it expired at"},
		{"other hashes", func() string { return cs.sad(t, sha("another document")) }, h, "invalid SAD: hashes[0] is not among the hashes it was issued for"},
		{"used twice", func() string {
			sad := cs.sad(t, h)
			if code, body := cs.signHash(t, credAlice, sad, h); code != 200 {
				t.Fatalf("first use: %d %v", code, body)
			}
			return sad
		}, h, "invalid SAD: it was used already"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs.clock.Advance(hashsvc.DefaultResendInterval) // a fresh code may be sent
			sad := tc.sad()
			code, body := cs.signHash(t, credAlice, sad, tc.hash)
			if code != http.StatusBadRequest || body["error"] != csc.ErrInvalidRequest || !strings.Contains(body["error_description"].(string), tc.want) {
				t.Errorf("got %d %v; want 400 %q", code, body, tc.want)
			}
		})
	}
	// the seal next to it still signs on the API key alone
	req := csc.SignHashRequest{CredentialID: hashsvctest.CredP256, Hashes: []string{b64(h)}, SignAlgo: csc.OIDECDSAWithSHA256}
	if code, _, body := call(t, cs.URL+csc.PathSignHash, cs.Keys[hashsvctest.KeyAll], req); code != 200 {
		t.Errorf("implicit credential: %d %v", code, body)
	}
}

// TestLockout: five wrong codes lock the signer out; then even the right
// code is refused, until the lockout ends.
func TestLockout(t *testing.T) {
	cs := newConsentServer(t)
	h := sha("x")
	right := cs.code(t, credAlice)
	wrong := "000000"
	if right == wrong {
		wrong = "000001"
	}
	for i := 1; i <= hashsvc.DefaultMaxAttempts; i++ {
		code, body := cs.authorize(t, credAlice, wrong, h)
		desc, _ := body["error_description"].(string)
		switch {
		case i < hashsvc.DefaultMaxAttempts && (code != 400 || body["error"] != csc.ErrInvalidOTP || !strings.Contains(desc, "wrong OTP")):
			t.Fatalf("wrong code %d: %d %v, want 400 invalid_otp", i, code, body)
		case i == hashsvc.DefaultMaxAttempts && (code != 403 || body["error"] != csc.ErrLocked || !strings.Contains(desc, "5 wrong answers in a row: the signer of \"alice\" is locked out until")):
			t.Fatalf("wrong code %d: %d %v, want 403 locked", i, code, body)
		}
	}
	code, body := cs.authorize(t, credAlice, right, h)
	if code != 403 || body["error"] != csc.ErrLocked || !strings.Contains(body["error_description"].(string), "locked out") {
		t.Fatalf("the right code while locked: %d %v, want 403 locked", code, body)
	}
	if code, _, body := call(t, cs.URL+csc.PathCredentialsSendOTP, cs.Keys[hashsvctest.KeyAll], csc.SendOTPRequest{CredentialID: credAlice}); code != 403 {
		t.Errorf("sendOTP while locked: %d %v", code, body)
	}
	cs.clock.Advance(hashsvc.DefaultLockout)
	if code, body := cs.authorize(t, credAlice, cs.code(t, credAlice), h); code != 200 {
		t.Errorf("after the lockout: %d %v", code, body)
	}
	ops := strings.Join(auditOps(t, cs.AuditPath), " ")
	if strings.Count(ops, "code.failed.email") != 4 || !strings.Contains(ops, "code.locked.email") || !strings.Contains(ops, "code.refused.email") {
		t.Errorf("audit: %s", ops)
	}
	if n := hashsvctest.Metric(t, cs.URL, `hashsvc_codes_total{channel="email",result="failed"}`); n != 4 {
		t.Errorf("failed codes in the metrics: %v, want 4", n)
	}
}

// TestSendOTPRateLimit: a second code within the resend interval is refused.
func TestSendOTPRateLimit(t *testing.T) {
	cs := newConsentServer(t)
	cs.code(t, credAlice)
	code, hdr, body := call(t, cs.URL+csc.PathCredentialsSendOTP, cs.Keys[hashsvctest.KeyAll], csc.SendOTPRequest{CredentialID: credAlice})
	if code != http.StatusTooManyRequests || body["error"] != csc.ErrRateLimit || hdr.Get("Retry-After") == "" {
		t.Errorf("second code at once: %d %v %v", code, body, hdr)
	}
}

// TestCodeExpires: a code past its lifetime is refused.
func TestCodeExpires(t *testing.T) {
	cs := newConsentServer(t)
	otp := cs.code(t, credAlice)
	cs.clock.Advance(hashsvc.DefaultCodeLifetime)
	code, body := cs.authorize(t, credAlice, otp, sha("x"))
	if code != 400 || !strings.Contains(body["error_description"].(string), "expired") {
		t.Errorf("expired code: %d %v", code, body)
	}
}

// TestTOTP: a signer enrolled with an authenticator app authorizes with
// its code, once.
func TestTOTP(t *testing.T) {
	cs := newConsentServer(t)
	h := sha("totp doc")
	if code, body := cs.authorize(t, credBob, "123456", h); code != 400 || !strings.Contains(body["error_description"].(string), "not enrolled") {
		t.Errorf("before enrolment: %d %v", code, body)
	}
	uri, err := cs.Service.EnrolTOTP(context.Background(), credBob, "bob@example.org")
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(uri)
	if err != nil || u.Scheme != "otpauth" || u.Host != "totp" || u.Query().Get("issuer") != "hashsvc" {
		t.Fatalf("provisioning URI %q", uri)
	}
	// the authenticator app: RFC 6238 from the URI's secret
	otp, err := totp.GenerateCode(u.Query().Get("secret"), cs.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	code, body := cs.authorize(t, credBob, otp, h)
	if code != 200 {
		t.Fatalf("authorize with TOTP: %d %v", code, body)
	}
	if code, body := cs.signHash(t, credBob, body["SAD"].(string), h); code != 200 {
		t.Errorf("signHash: %d %v", code, body)
	}
	if code, body := cs.authorize(t, credBob, otp, h); code != 400 || !strings.Contains(body["error_description"].(string), "used already") {
		t.Errorf("the same TOTP code again: %d %v", code, body)
	}
	cs.clock.Advance(30 * time.Second)
	otp, _ = totp.GenerateCode(u.Query().Get("secret"), cs.clock.Now())
	if code, body := cs.authorize(t, credBob, otp, h); code != 200 {
		t.Errorf("the next TOTP code: %d %v", code, body)
	}
	if code, _, body := call(t, cs.URL+csc.PathCredentialsSendOTP, cs.Keys[hashsvctest.KeyAll], csc.SendOTPRequest{CredentialID: credBob}); code != 400 {
		t.Errorf("sendOTP for TOTP: %d %v", code, body)
	}
}

// TestSMSWebhook: codes by SMS go to the webhook, signed with its secret.
func TestSMSWebhook(t *testing.T) {
	cs := newConsentServer(t)
	if code, _, body := call(t, cs.URL+csc.PathCredentialsSendOTP, cs.Keys[hashsvctest.KeyAll], csc.SendOTPRequest{CredentialID: credCarol}); code != 200 {
		t.Fatalf("sendOTP: %d %v", code, body)
	}
	if v := <-cs.smsSigs; v != "ok" {
		t.Error(v)
	}
	m := <-cs.sms
	if m.To != "+4912345678" || !strings.Contains(m.Text, m.Code) || len(m.Code) != 6 {
		t.Fatalf("SMS %+v", m)
	}
	if code, body := cs.authorize(t, credCarol, m.Code, sha("y")); code != 200 {
		t.Errorf("authorize with the SMS code: %d %v", code, body)
	}
}

// TestCAdESOnlyKey: an API key limited to /v1/cades/sign cannot sign
// arbitrary hashes.
func TestCAdESOnlyKey(t *testing.T) {
	cs := newConsentServer(t)
	req := csc.SignHashRequest{CredentialID: hashsvctest.CredP256, Hashes: []string{b64(sha("a"))}, SignAlgo: csc.OIDECDSAWithSHA256}
	code, _, body := call(t, cs.URL+csc.PathSignHash, cs.cadesKey, req)
	if code != 403 || body["error"] != csc.ErrAccessDenied || !strings.Contains(body["error_description"].(string), "may not use signHash") {
		t.Errorf("signHash with a cades-only key: %d %v", code, body)
	}
	code, _, body = call(t, cs.URL+csc.PathCAdESSign, cs.cadesKey, csc.CAdESSignRequest{CredentialID: hashsvctest.CredP256, Digest: b64(sha("doc"))})
	if code != 200 || body["cms"] == nil {
		t.Errorf("cades/sign with a cades-only key: %d %v", code, body)
	}
}

// TestCSCv1Names: the v1 paths take the v1 field names, and so do the v2
// paths (pyHanko sends them there too).
func TestCSCv1Names(t *testing.T) {
	cs := newConsentServer(t)
	h := sha("v1")
	code, _, body := call(t, cs.URL+csc.PathV1Info, "", struct{}{})
	if code != 200 || body["specs"] != csc.SpecV1 {
		t.Errorf("v1 info: %d %v", code, body)
	}
	key := cs.Keys[hashsvctest.KeyAll]
	for _, path := range []string{csc.PathV1SignHash, csc.PathSignHash} {
		v1 := map[string]any{"credentialID": hashsvctest.CredP256, "hash": []string{b64(h)}, "hashAlgo": csc.OIDSHA256, "signAlgo": csc.OIDECPublicKey}
		code, _, body := call(t, cs.URL+path, key, v1)
		if code != 200 || len(body["signatures"].([]any)) != 1 {
			t.Errorf("%s with v1 names: %d %v", path, code, body)
		}
	}
	// v1 authorize names no hash algorithm: the hash length tells
	code, _, body = call(t, cs.URL+csc.PathV1CredentialsAuthorize, key, map[string]any{"credentialID": credAlice, "numSignatures": 1, "hash": []string{b64(h)}, "OTP": cs.code(t, credAlice)})
	if code != 200 {
		t.Fatalf("v1 authorize: %d %v", code, body)
	}
	code, _, body = call(t, cs.URL+csc.PathV1SignHash, key, map[string]any{"credentialID": credAlice, "SAD": body["SAD"], "hash": []string{b64(h)}, "signAlgo": csc.OIDECDSAWithSHA256})
	if code != 200 {
		t.Errorf("v1 signHash with the SAD: %d %v", code, body)
	}
	code, _, body = call(t, cs.URL+csc.PathSignHash, key, map[string]any{"credentialID": hashsvctest.CredP256, "hash": []string{b64(h)}, "hashes": []string{b64(sha("other"))}, "signAlgo": csc.OIDECDSAWithSHA256})
	if code != 400 || !strings.Contains(body["error_description"].(string), "differ") {
		t.Errorf("hash and hashes that differ: %d %v", code, body)
	}
}

// TestOneTime: a one-time credential names its signer, carries the
// document-signing EKU, chains to the root, signs with consent, and is
// refused once destroyed or past its lifetime.
func TestOneTime(t *testing.T) {
	cs := newConsentServer(t)
	ctx := context.Background()
	p := hashsvctest.PKI(t)
	person := hashsvc.Person{ID: "dave-1", Name: "Dave Example", Email: "alice@example.org", Organization: "Example GmbH", Country: "DE"}
	ot, err := cs.Service.IssueOneTime(ctx, hashsvc.OneTimeRequest{KeyID: hashsvctest.KeyAll, Person: person, Channel: hashsvc.ChannelEmail})
	if err != nil {
		t.Fatal(err)
	}
	leaf := ot.Chain[0]
	if leaf.Subject.CommonName != "Dave Example" || leaf.Subject.SerialNumber != "dave-1" || len(leaf.EmailAddresses) != 1 || leaf.Subject.Country[0] != "DE" {
		t.Errorf("subject %v, e-mail %v", leaf.Subject, leaf.EmailAddresses)
	}
	if len(leaf.UnknownExtKeyUsage) != 1 || !leaf.UnknownExtKeyUsage[0].Equal(asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 36}) {
		t.Errorf("EKU %v, want id-kp-documentSigning", leaf.UnknownExtKeyUsage)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: p.RootPool(), Intermediates: p.IntermediatePool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}, CurrentTime: cs.clock.Now()}); err != nil {
		t.Errorf("one-time certificate: %v", err)
	}
	if life := leaf.NotAfter.Sub(cs.clock.Now()); life > hashsvc.DefaultOneTimeLifetime+time.Second {
		t.Errorf("certificate valid for %v", life)
	}
	// another API key may not use it
	req := csc.SignHashRequest{CredentialID: ot.ID, Hashes: []string{b64(sha("a"))}, SignAlgo: csc.OIDECDSAWithSHA256}
	if code, _, _ := call(t, cs.URL+csc.PathSignHash, cs.Keys[hashsvctest.KeyP256], req); code != 403 {
		t.Errorf("another key: %d", code)
	}
	h := sha("one-time doc")
	sign := func() (int, map[string]any) {
		code, body := cs.authorize(t, ot.ID, cs.code(t, ot.ID), h)
		if code != 200 {
			t.Fatalf("authorize: %d %v", code, body)
		}
		return cs.signHash(t, ot.ID, body["SAD"].(string), h)
	}
	code, body := sign()
	if code != 200 {
		t.Fatalf("signHash: %d %v", code, body)
	}
	sig, _ := base64.StdEncoding.DecodeString(body["signatures"].([]any)[0].(string))
	if !ecdsa.VerifyASN1(leaf.PublicKey.(*ecdsa.PublicKey), h, sig) {
		t.Error("the one-time signature does not verify")
	}
	cs.clock.Advance(hashsvc.DefaultResendInterval)
	code, body = cs.authorize(t, ot.ID, cs.code(t, ot.ID), h)
	if code != 200 {
		t.Fatalf("authorize: %d %v", code, body)
	}
	if err := cs.Service.DestroyOneTime(ctx, ot.ID, "request completed"); err != nil {
		t.Fatal(err)
	}
	code, body = cs.signHash(t, ot.ID, body["SAD"].(string), h)
	if code != 400 || !strings.Contains(body["error_description"].(string), "ended at") || !strings.Contains(body["error_description"].(string), "request completed") {
		t.Errorf("signHash after the end: %d %v", code, body)
	}
	// past its lifetime
	ot2, err := cs.Service.IssueOneTime(ctx, hashsvc.OneTimeRequest{KeyID: hashsvctest.KeyAll, Person: person, Channel: hashsvc.ChannelEmail, Lifetime: 10 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	cs.clock.Advance(10 * time.Minute)
	code, _, body = call(t, cs.URL+csc.PathCredentialsInfo, cs.Keys[hashsvctest.KeyAll], csc.CredentialsInfoRequest{CredentialID: ot2.ID})
	if code != 400 || !strings.Contains(body["error_description"].(string), "lifetime over") {
		t.Errorf("credentials/info past the lifetime: %d %v", code, body)
	}
	ops := strings.Join(auditOps(t, cs.AuditPath), " ")
	if strings.Count(ops, "onetime.issued") != 2 || strings.Count(ops, "onetime.destroyed") != 2 {
		t.Errorf("audit: %s", ops)
	}
}
