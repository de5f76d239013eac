package pkcs11

import (
	"context"
	"crypto"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"hashsign/internal/testenv"
	"hashsign/signer"
)

// TestOpenErrors checks that each way of failing gives an error that wraps
// the right Err value and names what was not found, never the PIN.
func TestOpenErrors(t *testing.T) {
	tt := newTestToken(t, rsaKey,
		keySpec{label: "aes", id: 0x30, kind: "aes"},
		keySpec{label: "small", id: 0x31, kind: "rsa1024"},
		keySpec{label: "mismatch", id: 0x32, kind: "p256", cert: "other"},
		keySpec{label: "ed", id: 0x33, kind: "ed25519"},
		keySpec{label: "k1", id: 0x34, kind: "secp256k1"},
	)
	const wrongPIN = "98765-not-the-pin"
	pinFile := filepath.Join(tt.dir, "pin.txt")
	if err := os.WriteFile(pinFile, []byte(wrongPIN+"\nsecond line\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	mod := "module-path=" + softhsmModule
	tests := []struct {
		name string
		uri  string
		env  string // PKCS11_PIN
		kind error
		want []string // substrings of the message
	}{
		{
			name: "wrong PIN in the URI",
			uri:  "pkcs11:token=hashsign;object=rsa?" + mod + "&pin-value=" + wrongPIN,
			kind: ErrWrongPIN, want: []string{`log in to token "hashsign": wrong PIN`, "CKR_PIN_INCORRECT"},
		},
		{
			name: "wrong PIN from pin-source",
			uri:  "pkcs11:token=hashsign;object=rsa?" + mod + "&pin-source=file:" + pinFile,
			kind: ErrWrongPIN, want: []string{`token "hashsign": wrong PIN`},
		},
		{
			name: "wrong PIN from PKCS11_PIN",
			uri:  "pkcs11:token=hashsign;object=rsa?" + mod,
			env:  wrongPIN,
			kind: ErrWrongPIN, want: []string{`token "hashsign": wrong PIN`},
		},
		{
			name: "no PIN",
			uri:  "pkcs11:token=hashsign;object=rsa?" + mod,
			kind: ErrPINRequired, want: []string{`token "hashsign" needs a PIN`, "pin-source", "PKCS11_PIN"},
		},
		{
			name: "missing token",
			uri:  "pkcs11:token=nosuchtoken;object=rsa?" + mod + "&pin-value=1234",
			kind: ErrTokenNotFound, want: []string{`no token with label "nosuchtoken" in PKCS#11 module ` + softhsmModule, `tokens: "hashsign"`},
		},
		{
			name: "missing token serial",
			uri:  "pkcs11:serial=0000;object=rsa?" + mod + "&pin-value=1234",
			kind: ErrTokenNotFound, want: []string{`no token with serial "0000"`},
		},
		{
			name: "missing key",
			uri:  tt.uri("nosuchkey"),
			kind: ErrKeyNotFound, want: []string{`no private key with label "nosuchkey" on token "hashsign"`, `"rsa" (id 01)`},
		},
		{
			name: "missing key id",
			uri:  "pkcs11:token=hashsign;id=%99%98?" + mod + "&pin-value=1234",
			kind: ErrKeyNotFound, want: []string{`no private key with id 9998 on token "hashsign"`},
		},
		{
			name: "missing module",
			uri:  "pkcs11:token=hashsign;object=rsa?module-path=/nonexistent/libnosuch.so&pin-value=1234",
			kind: ErrModuleNotFound, want: []string{"PKCS#11 module /nonexistent/libnosuch.so not found", "no such file or directory"},
		},
		{
			name: "AES secret key",
			uri:  tt.uri("aes"),
			kind: ErrUnsupportedKey, want: []string{`key "aes" (id 30) on token "hashsign" is an AES 256 secret key, not a private key`},
		},
		{
			name: "Ed25519 key",
			uri:  tt.uri("ed"),
			kind: ErrUnsupportedKey, want: []string{`key "ed" (id 33) on token "hashsign" is an EC_EDWARDS`, "only RSA and ECDSA"},
		},
		{
			name: "secp256k1 key",
			uri:  tt.uri("k1"),
			kind: ErrUnsupportedKey, want: []string{`key "k1" (id 34) on token "hashsign" is an EC key on curve secp256k1`},
		},
		{
			name: "RSA-1024 key",
			uri:  tt.uri("small"),
			kind: ErrUnsupportedKey, want: []string{`key "small" (id 31) on token "hashsign" is an RSA key of 1024 bits; at least 2048 bits are required`},
		},
		{
			name: "certificate for another key",
			uri:  tt.uri("mismatch"),
			kind: signer.ErrKeyMismatch, want: []string{`key "mismatch" (id 32) on token "hashsign"`, "does not match the signer certificate"},
		},
		{
			name: "certificate object",
			uri:  "pkcs11:token=hashsign;object=intermediate?" + mod + "&pin-value=1234",
			kind: ErrKeyNotFound, want: []string{`no private key with label "intermediate"`, `only: cert "intermediate" (id ca)`},
		},
		{
			name: "wrong type",
			uri:  "pkcs11:token=hashsign;object=rsa;type=cert?" + mod + "&pin-value=1234",
			want: []string{"type=cert; a signing key is type=private"},
		},
		{
			name: "no key in URI",
			uri:  "pkcs11:token=hashsign?" + mod + "&pin-value=1234",
			want: []string{"names no key: add object=LABEL or id=ID"},
		},
		{
			name: "no module in URI",
			uri:  "pkcs11:token=hashsign;object=rsa?pin-value=1234",
			want: []string{"names no module"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.env != "" {
				t.Setenv(PINEnv, tc.env)
			}
			p := openPool(t, 0)
			s, err := p.Open(context.Background(), tc.uri, nil)
			if err == nil {
				t.Fatalf("Open succeeded with %s", s)
			}
			msg := err.Error()
			t.Log(msg)
			if tc.kind != nil && !errors.Is(err, tc.kind) {
				t.Errorf("error does not wrap %v", tc.kind)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error does not contain %q", w)
				}
			}
			if strings.Contains(msg, wrongPIN) || strings.Contains(msg, "pin-value=1234") {
				t.Errorf("error contains the PIN")
			}
		})
	}
}

// TestWrongPINLeavesOtherTokensWorking checks that a refused login on one
// token does not disturb a context open on another token of the same
// module (crypto11 finalizes the module when its own login fails).
func TestWrongPINLeavesOtherTokensWorking(t *testing.T) {
	tt := newTestToken(t, rsaKey)
	tt.initToken(t, testenv.Need(t, "softhsm2-util", installHint), "other", "4321")
	p := openPool(t, 0)
	ctx := context.Background()
	s := mustOpen(t, p, tt.uri("rsa"), nil)
	d := sha256.Sum256([]byte("before"))
	if _, err := s.SignContext(ctx, d[:], crypto.SHA256); err != nil {
		t.Fatal(err)
	}

	other := "pkcs11:token=other;object=x?module-path=" + softhsmModule
	_, err := p.Open(ctx, other+"&pin-value=0000-wrong", nil)
	if !errors.Is(err, ErrWrongPIN) || !strings.Contains(err.Error(), `token "other"`) || strings.Contains(err.Error(), "0000-wrong") {
		t.Fatalf("Open with a wrong PIN: %v, want ErrWrongPIN naming token \"other\"", err)
	}
	// The same token again with another PIN than the one it was opened with.
	_, err = p.Open(ctx, "pkcs11:token=hashsign;object=rsa?module-path="+softhsmModule+"&pin-value=12345", nil)
	if !errors.Is(err, ErrWrongPIN) || strings.Contains(err.Error(), "12345") {
		t.Fatalf("Open of an open token with another PIN: %v, want ErrWrongPIN", err)
	}
	if _, err := s.SignContext(ctx, d[:], crypto.SHA256); err != nil {
		t.Fatalf("signing after a failed login on another token: %v", err)
	}
	_, err = p.Open(ctx, other+"&pin-value=4321", nil)
	if !errors.Is(err, ErrKeyNotFound) || !strings.Contains(err.Error(), "there are no private keys") {
		t.Fatalf("Open on the other token with its PIN: %v, want ErrKeyNotFound", err)
	}
	if len(p.tokens) != 2 {
		t.Fatalf("%d contexts, want 2", len(p.tokens))
	}
	if _, err := s.SignContext(ctx, d[:], crypto.SHA256); err != nil {
		t.Fatal(err)
	}
}

// TestClose checks that a closed Pool refuses work cleanly.
func TestClose(t *testing.T) {
	tt := newTestToken(t, p256Key)
	p := &Pool{}
	ctx := context.Background()
	s := mustOpen(t, p, tt.uri("p256"), nil)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	d := sha256.Sum256(nil)
	if _, err := s.Sign(nil, d[:], crypto.SHA256); !errors.Is(err, ErrClosed) {
		t.Fatalf("Sign after Close: %v, want ErrClosed", err)
	}
	if _, err := p.Open(ctx, tt.uri("p256"), nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("Open after Close: %v, want ErrClosed", err)
	}
	if _, err := p.List(ctx, tt.uri("p256")); !errors.Is(err, ErrClosed) {
		t.Fatalf("List after Close: %v, want ErrClosed", err)
	}
	// The module was finalized: a new Pool starts afresh.
	p2 := openPool(t, 0)
	s2 := mustOpen(t, p2, tt.uri("p256"), nil)
	if _, err := s2.Sign(nil, d[:], crypto.SHA256); err != nil {
		t.Fatal(err)
	}
}

// TestList lists the token with and without PIN.
func TestList(t *testing.T) {
	tt := newTestToken(t, rsaKey, p256Key, keySpec{label: "aes", id: 0x30, kind: "aes"})
	p := openPool(t, 0)
	ctx := context.Background()
	uri := "pkcs11:?module-path=" + softhsmModule

	toks, err := p.List(ctx, uri)
	if err != nil {
		t.Fatal(err)
	}
	var tok *TokenInfo
	for i := range toks {
		if toks[i].Label == testLabel {
			tok = &toks[i]
		}
	}
	if tok == nil || !tok.Initialized || !tok.LoginRequired || tok.LoggedIn || tok.Serial == "" || tok.Model != "SoftHSM v2" {
		t.Fatalf("List without PIN: %+v", toks)
	}
	for _, o := range tok.Objects {
		if o.Class == "private" || o.Class == "secret-key" {
			t.Errorf("private object %s listed without login", o.describe())
		}
	}
	if len(tok.Objects) == 0 {
		t.Errorf("no public objects listed")
	}

	t.Setenv(PINEnv, testPIN)
	toks, err = p.List(ctx, "pkcs11:token=hashsign?module-path="+softhsmModule)
	if err != nil {
		t.Fatal(err)
	}
	if len(toks) != 1 || !toks[0].LoggedIn {
		t.Fatalf("List with PIN: %+v", toks)
	}
	got := map[string]ObjectInfo{}
	for _, o := range toks[0].Objects {
		got[o.Class+" "+o.Label] = o
	}
	for key, want := range map[string]string{
		"private rsa": "RSA 2048", "public rsa": "RSA 2048", "cert rsa": "",
		"private p256": "EC P-256", "public p256": "EC P-256", "cert p256": "",
		"secret-key aes": "AES 256", "cert intermediate": "",
	} {
		o, ok := got[key]
		if !ok {
			t.Errorf("List did not return %s", key)
			continue
		}
		if o.Algorithm() != want {
			t.Errorf("%s: algorithm %q, want %q", key, o.Algorithm(), want)
		}
	}
	if o := got["private rsa"]; o.IDHex() != "01" || !o.CanSign || !o.Sensitive || o.Extractable {
		t.Errorf("private rsa: %+v, want id 01, may sign, sensitive, not extractable", o)
	}
	if c := got["cert rsa"].Certificate; c == nil || !c.Equal(tt.certs["rsa"]) {
		t.Errorf("cert rsa: %v", c)
	}

	toks, err = p.List(ctx, "pkcs11:token=hashsign;type=private?module-path="+softhsmModule)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range toks[0].Objects {
		if o.Class != "private" {
			t.Errorf("type=private listed %s %s", o.Class, o.describe())
		}
	}

	toks, err = p.List(ctx, "pkcs11:token=hashsign?module-path="+softhsmModule+"&pin-value=000000")
	if err != nil {
		t.Fatal(err)
	}
	if len(toks) != 1 || toks[0].LoggedIn || !errors.Is(toks[0].LoginError, ErrWrongPIN) {
		t.Fatalf("List with a wrong PIN: %+v", toks)
	}
}

// TestPINSources checks the order pin-value, pin-source, PKCS11_PIN.
func TestPINSources(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "pin")
	if err := os.WriteFile(file, []byte("from-file\r\nignored\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv(PINEnv, "from-env")
	tests := []struct {
		uri, want string
		ok        bool
	}{
		{"pkcs11:?pin-value=from-uri&pin-source=file:" + file, "from-uri", true},
		{"pkcs11:?pin-source=file:" + file, "from-file", true},
		{"pkcs11:?pin-source=file://" + file, "from-file", true},
		{"pkcs11:?pin-source=" + file, "from-file", true},
		{"pkcs11:", "from-env", true},
	}
	for _, tc := range tests {
		u, err := ParseURI(tc.uri)
		if err != nil {
			t.Fatal(err)
		}
		pin, ok, err := u.PIN()
		if err != nil || ok != tc.ok || pin != tc.want {
			t.Errorf("%s: PIN() = %q, %v, %v; want %q", tc.uri, pin, ok, err, tc.want)
		}
	}
	os.Unsetenv(PINEnv)
	u, _ := ParseURI("pkcs11:")
	if _, ok, err := u.PIN(); ok || err != nil {
		t.Errorf("no PIN source: ok %v, err %v", ok, err)
	}
	u, _ = ParseURI("pkcs11:?pin-source=file:" + filepath.Join(dir, "missing"))
	if _, _, err := u.PIN(); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("missing pin-source: %v", err)
	}
}

// TestToolsPresentInCI makes the CI requirement explicit: the module,
// softhsm2-util, pkcs11-tool and check-signed-pdf must all be there.
func TestToolsPresentInCI(t *testing.T) {
	for _, what := range []string{softhsmModule, "softhsm2-util", "pkcs11-tool", validator} {
		testenv.Need(t, what, installHint)
	}
	testenv.Need(t, "pdfsig", "the validators of check-signed-pdf are missing: run "+validator+" --install")
}
