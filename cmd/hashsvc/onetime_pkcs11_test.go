package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"hashsign/csc"
	"hashsign/hashsvc"
	"hashsign/hashsvc/hashsvctest"
	"hashsign/internal/devpki"
	"hashsign/internal/testenv"
	"hashsign/signer/pkcs11"
)

// TestOneTimePKCS11: one-time keys are generated in the configured
// PKCS #11 token (SoftHSM), sign with the signer's consent (a PIN here),
// and are destroyed on the token when the credential ends, after which
// signing is refused.
func TestOneTimePKCS11(t *testing.T) {
	util, conf := testenv.SoftHSM(t, installHint)
	dir := t.TempDir()
	t.Setenv("SOFTHSM2_CONF", conf)
	if out, err := exec.Command(util, "--init-token", "--free", "--label", "onetime", "--pin", "1234", "--so-pin", "5678").CombinedOutput(); err != nil {
		t.Fatalf("softhsm2-util: %v\n%s", err, out)
	}
	tokenURI := "pkcs11:token=onetime?module-path=" + softhsmModule + "&pin-value=1234"
	hashsvctest.PKI(t)
	pki := devpki.DefaultDir()
	key, sum, _ := hashsvc.NewAPIKey()
	cfg := &hashsvc.Config{
		Audit:       hashsvc.AuditConfig{Path: filepath.Join(dir, "audit.db")},
		APIKeys:     []hashsvc.APIKeyConfig{{ID: "k", SHA256: sum, Credentials: []string{"seal"}}},
		Credentials: []hashsvc.CredentialConfig{{ID: "seal", Key: filepath.Join(pki, devpki.SignerP256KeyFile), Cert: filepath.Join(pki, devpki.SignerP256CertFile)}},
		Consent: hashsvc.ConsentConfig{OneTime: &hashsvc.OneTimeConfig{
			CAKey: filepath.Join(pki, devpki.IntermediateKeyFile), CACert: filepath.Join(pki, devpki.IntermediateCertFile), KeyToken: tokenURI,
		}},
	}
	if err := cfg.Check(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	pool := &pkcs11.Pool{}
	defer pool.Close()
	srv, err := hashsvc.New(ctx, hashsvc.Options{Config: cfg, KeyOpeners: keyOpeners(pool), OneTimeKeys: oneTimeKeys(cfg, pool)})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	privateKeys := func() int {
		infos, err := pool.List(ctx, tokenURI)
		if err != nil || len(infos) != 1 {
			t.Fatalf("listing the token: %v %v", err, infos)
		}
		n := 0
		for _, o := range infos[0].Objects {
			if o.Class == "private" {
				n++
			}
		}
		return n
	}
	pin, _ := bcrypt.GenerateFromPassword([]byte("4711"), bcrypt.MinCost)
	ot, err := srv.IssueOneTime(ctx, hashsvc.OneTimeRequest{KeyID: "k", Person: hashsvc.Person{ID: "frank", Name: "Frank Example"}, PINBcrypt: string(pin)})
	if err != nil {
		t.Fatal(err)
	}
	if n := privateKeys(); n != 1 {
		t.Fatalf("%d private keys on the token after the issue, want 1", n)
	}
	h := make([]byte, 32)
	h[0] = 1
	rec := &recorder{h: srv.Handler(), key: key}
	code, body := rec.post(t, csc.PathCredentialsAuthorize, csc.AuthorizeRequest{CredentialID: ot.ID, NumSignatures: 1, Hashes: []string{b64(h)}, PIN: "4711"})
	if code != 200 {
		t.Fatalf("authorize: %d %v", code, body)
	}
	sad := body["SAD"].(string)
	code, body = rec.post(t, csc.PathSignHash, csc.SignHashRequest{CredentialID: ot.ID, SAD: sad, Hashes: []string{b64(h)}, SignAlgo: csc.OIDECDSAWithSHA256})
	if code != 200 {
		t.Fatalf("signHash: %d %v", code, body)
	}
	sig, _ := base64.StdEncoding.DecodeString(body["signatures"].([]any)[0].(string))
	if !ecdsa.VerifyASN1(ot.Chain[0].PublicKey.(*ecdsa.PublicKey), h, sig) {
		t.Error("the token's signature does not verify with the one-time certificate")
	}
	if err := srv.DestroyOneTime(ctx, ot.ID, "request completed"); err != nil {
		t.Fatal(err)
	}
	if n := privateKeys(); n != 0 {
		t.Errorf("%d private keys on the token after the end, want 0", n)
	}
	code, body = rec.post(t, csc.PathSignHash, csc.SignHashRequest{CredentialID: ot.ID, SAD: sad, Hashes: []string{b64(h)}, SignAlgo: csc.OIDECDSAWithSHA256})
	if desc, _ := body["error_description"].(string); code != 400 || !strings.Contains(desc, "ended at") {
		t.Errorf("signHash after the end: %d %v", code, body)
	}
}

// recorder calls the service's handler in process.
type recorder struct {
	h   http.Handler
	key string
}

func (r *recorder) post(t *testing.T, path string, body any) (int, map[string]any) {
	t.Helper()
	data, _ := json.Marshal(body)
	req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(data))
	req.Header.Set("Authorization", "Bearer "+r.key)
	w := httptest.NewRecorder()
	r.h.ServeHTTP(w, req)
	var v map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
		t.Fatalf("%s: %d %q", path, w.Code, w.Body)
	}
	return w.Code, v
}

// TestConsentCommands: pin hash prints a bcrypt hash of the PIN, and totp
// enrol a provisioning URI (TestTOTP checks that its codes are accepted).
func TestConsentCommands(t *testing.T) {
	var out bytes.Buffer
	if err := cmdPINHash(nil, strings.NewReader("4711\n"), &out); err != nil {
		t.Fatal(err)
	}
	if bcrypt.CompareHashAndPassword(bytes.TrimSpace(out.Bytes()), []byte("4711")) != nil {
		t.Errorf("pin hash printed %q", out.String())
	}
	if err := cmdPINHash(nil, strings.NewReader("12\n"), &out); err == nil {
		t.Error("a 2-character PIN was hashed")
	}
	hashsvctest.PKI(t)
	pki := devpki.DefaultDir()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "secret"), []byte(strings.Repeat("cd", 32)), 0o600)
	_, sum, _ := hashsvc.NewAPIKey()
	cfg := `audit: {path: audit.db}
api_keys: [{id: k, sha256: "` + sum + `", credentials: ["*"]}]
consent: {secret_file: secret}
credentials:
  - id: grace
    key: ` + filepath.Join(pki, devpki.SignerP256KeyFile) + `
    cert: ` + filepath.Join(pki, devpki.SignerP256CertFile) + `
    auth_mode: explicit
    signer: {name: Grace, otp: totp}
`
	os.WriteFile(filepath.Join(dir, "config.yaml"), []byte(cfg), 0o600)
	out.Reset()
	var errOut bytes.Buffer
	if code := run(context.Background(), []string{"totp", "enrol", "-config", filepath.Join(dir, "config.yaml"), "-person", "grace", "-account", "grace@example.org"}, &out, &errOut); code != 0 {
		t.Fatalf("totp enrol: %d %s", code, errOut.String())
	}
	if !strings.HasPrefix(out.String(), "otpauth://totp/hashsvc:grace@example.org?") || !strings.Contains(out.String(), "secret=") {
		t.Errorf("totp enrol printed %q", out.String())
	}
	if code := run(context.Background(), []string{"totp", "enrol", "-config", filepath.Join(dir, "config.yaml")}, &out, &errOut); code != 2 {
		t.Errorf("totp enrol without -person: exit %d, want 2", code)
	}
}
