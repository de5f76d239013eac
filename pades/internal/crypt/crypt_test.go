package crypt

import (
	"bytes"
	"crypto/rand"
	"errors"
	"strings"
	"sync"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	long := make([]byte, 1000)
	rand.Read(long)
	inputs := map[string][]byte{
		"empty":    {},
		"one byte": []byte("x"),
		"block":    []byte("0123456789abcdef"),
		"1000":     long,
	}
	id0 := []byte("0123456789abcdef")
	for _, c := range cipherCases {
		t.Run(c.name, func(t *testing.T) {
			p := makeParams(t, c, []byte("user"), []byte("owner"), id0, -3904, true)
			h, err := Open(p, id0, []byte("user"))
			if err != nil {
				t.Fatal(err)
			}
			for name, in := range inputs {
				for _, stream := range []bool{false, true} {
					enc, dec := h.EncryptString, h.DecryptString
					if stream {
						enc, dec = h.EncryptStream, h.DecryptStream
					}
					ct, err := enc(7, 0, in)
					if err != nil {
						t.Fatalf("%s stream=%v: encrypt: %v", name, stream, err)
					}
					if got, want := len(ct), h.EncryptedLen(len(in), stream); got != want {
						t.Errorf("%s stream=%v: ciphertext is %d bytes, EncryptedLen says %d", name, stream, got, want)
					}
					if len(in) >= 16 && bytes.Contains(ct, in) {
						t.Errorf("%s stream=%v: ciphertext contains the plaintext", name, stream)
					}
					pt, err := dec(7, 0, ct)
					if err != nil {
						t.Fatalf("%s stream=%v: decrypt: %v", name, stream, err)
					}
					if !bytes.Equal(pt, in) {
						t.Errorf("%s stream=%v: round trip gives %x, want %x", name, stream, pt, in)
					}
					// A different object must not decrypt to the plaintext
					// (AES-256 has no object keys, so only for the others).
					if c.cfm != MethodAESV3 && len(in) >= 16 {
						if other, _ := dec(8, 0, ct); bytes.Equal(other, in) {
							t.Errorf("%s stream=%v: object 8 decrypts object 7's data", name, stream)
						}
					}
				}
			}
		})
	}
}

func TestOpenPasswords(t *testing.T) {
	id0 := []byte{0xfb, 0x09, 0x5d, 0x0a, 0x4c, 0x2c, 0xdb, 0x48}
	for _, c := range cipherCases {
		for _, encMeta := range []bool{true, false} {
			if !encMeta && c.r < 4 {
				continue
			}
			t.Run(c.name, func(t *testing.T) {
				const perms = -1324
				p := makeParams(t, c, []byte("us€r"), []byte("0wner"), id0, perms, encMeta)
				if c.r >= 5 {
					if err := checkPerms(mustOpen(t, p, id0, "us€r").key, p.Perms, perms, encMeta); err != nil {
						t.Errorf("generated /Perms: %v", err)
					}
				}
				tests := []struct {
					pw      string
					owner   bool
					wantErr string
				}{
					{"us€r", false, ""},
					{"0wner", true, ""},
					{"user", false, "wrong password"},
					{"", false, "a password is needed"},
					{"0wner ", false, "wrong password"},
				}
				var key []byte
				for _, tt := range tests {
					h, err := Open(p, id0, []byte(tt.pw))
					if tt.wantErr != "" {
						if !errors.Is(err, ErrWrongPassword) || err.Error() != tt.wantErr {
							t.Errorf("Open(%q) error = %v, want %q wrapping ErrWrongPassword", tt.pw, err, tt.wantErr)
						}
						continue
					}
					if err != nil {
						t.Errorf("Open(%q): %v", tt.pw, err)
						continue
					}
					if h.AuthenticatedAsOwner() != tt.owner {
						t.Errorf("Open(%q).AuthenticatedAsOwner() = %v", tt.pw, !tt.owner)
					}
					if h.Permissions() != perms {
						t.Errorf("Permissions() = %d", h.Permissions())
					}
					if want := min(c.length, 256) / 8; c.r > 2 && h.KeyLength() != want || c.r == 2 && h.KeyLength() != 5 {
						t.Errorf("KeyLength() = %d", h.KeyLength())
					}
					if key == nil {
						key = h.key
					} else if !bytes.Equal(key, h.key) {
						t.Errorf("user and owner passwords give different keys")
					}
				}
				// The same password for both: authenticated as owner.
				p = makeParams(t, c, []byte("same"), nil, id0, perms, encMeta)
				if h := mustOpen(t, p, id0, "same"); !h.AuthenticatedAsOwner() {
					t.Errorf("user = owner password: not authenticated as owner")
				}
			})
		}
	}
}

func mustOpen(t *testing.T, p Params, id0 []byte, pw string) *Handler {
	t.Helper()
	h, err := Open(p, id0, []byte(pw))
	if err != nil {
		t.Fatalf("Open(%q): %v", pw, err)
	}
	return h
}

func TestPasswordEncoding(t *testing.T) {
	id0 := []byte("id")
	// Revisions 2 to 4 store PDFDocEncoding; a UTF-8 password matches too.
	pdfDoc := []byte{'p', 0xE4, 's', 's', 0x80, 0xA0} // "päss•€"
	for _, c := range cipherCases[:4] {
		p := makeParams(t, c, pdfDoc, []byte("o"), id0, -4, true)
		for _, pw := range []string{string(pdfDoc), "päss•€"} {
			if _, err := Open(p, id0, []byte(pw)); err != nil {
				t.Errorf("%s: Open(%q): %v", c.name, pw, err)
			}
		}
	}
	// Only 32 bytes count for revisions 2 to 4, 127 for 5 and 6.
	for _, c := range cipherCases {
		limit := 32
		if c.r >= 5 {
			limit = 127
		}
		pw := bytes.Repeat([]byte("a"), limit)
		p := makeParams(t, c, pw, []byte("o"), id0, -4, true)
		if _, err := Open(p, id0, append(pw, "more"...)); err != nil {
			t.Errorf("%s: password longer than %d bytes: %v", c.name, limit, err)
		}
		if _, err := Open(p, id0, pw[:limit-1]); err == nil {
			t.Errorf("%s: password of %d bytes accepted", c.name, limit-1)
		}
	}
}

func TestMissingID(t *testing.T) {
	for _, c := range cipherCases {
		p := makeParams(t, c, nil, []byte("owner"), nil, -4, true)
		h, err := Open(p, nil, nil)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		ct, _ := h.EncryptString(1, 0, []byte("text"))
		if pt, err := h.DecryptString(1, 0, ct); err != nil || string(pt) != "text" {
			t.Errorf("%s: round trip = %q, %v", c.name, pt, err)
		}
		// With R2 to R4 the ID enters the key: a wrong ID must fail.
		if c.r <= 4 {
			if _, err := Open(p, []byte("x"), nil); !errors.Is(err, ErrWrongPassword) {
				t.Errorf("%s: Open with another ID: %v", c.name, err)
			}
		}
	}
}

func TestUnsupported(t *testing.T) {
	base := makeParams(t, cipherCases[3], nil, []byte("o"), nil, -4, true)
	tests := []struct {
		name   string
		modify func(*Params)
		want   string // in the message
	}{
		{"public key", func(p *Params) { p.Filter = "Adobe.PubSec" }, "Adobe.PubSec"},
		{"V 3", func(p *Params) { p.V = 3 }, "V 3"},
		{"V 0", func(p *Params) { p.V = 0 }, "V 0"},
		{"R 7", func(p *Params) { p.V, p.R = 5, 7 }, "revision 7"},
		{"R 5 with V 4", func(p *Params) { p.R = 5 }, "revision 5"},
		{"R 4 with V 2", func(p *Params) { p.V = 2 }, "revision 4"},
		{"unknown CFM", func(p *Params) { p.StmF = "AESV4" }, "AESV4"},
		{"AESV3 with V 4", func(p *Params) { p.StrF = MethodAESV3 }, "AESV3"},
		{"AESV2 with V 5", func(p *Params) { p.V, p.R = 5, 6 }, "AESV2"},
		{"RC4 key too long", func(p *Params) { p.StmF, p.StrF, p.CFLength = MethodRC4, MethodRC4, 256 }, "256 bits"},
	}
	for _, tt := range tests {
		p := base
		tt.modify(&p)
		_, err := Open(p, nil, nil)
		if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error = %v, want ErrUnsupported naming %q", tt.name, err, tt.want)
		}
	}
}

func TestMalformed(t *testing.T) {
	for _, c := range cipherCases {
		p := makeParams(t, c, nil, []byte("o"), nil, -4, true)
		p.U = p.U[:20]
		if _, err := Open(p, nil, nil); err == nil || errors.Is(err, ErrWrongPassword) {
			t.Errorf("%s: short /U: error = %v", c.name, err)
		}
	}
}

func TestKeyLength(t *testing.T) {
	tests := []struct {
		p    Params
		want int
	}{
		{Params{V: 1, R: 2}, 5},
		{Params{V: 2, R: 3}, 5},
		{Params{V: 2, R: 3, Length: 128}, 16},
		{Params{V: 2, R: 3, Length: 56}, 7},
		{Params{V: 2, R: 2, Length: 128}, 5},
		{Params{V: 4, R: 4, StmF: MethodRC4}, 16},
		{Params{V: 4, R: 4, StmF: MethodRC4, CFLength: 10}, 10},
		{Params{V: 4, R: 4, StmF: MethodRC4, CFLength: 80}, 10},
		{Params{V: 4, R: 4, StmF: MethodAESV2, CFLength: 128}, 16},
	}
	for _, tt := range tests {
		got, err := keyLength(&tt.p, tt.p.StmF, tt.p.StrF)
		if err != nil || got != tt.want {
			t.Errorf("keyLength(%+v) = %d, %v; want %d", tt.p, got, err, tt.want)
		}
	}
}

func TestEncryptedLen(t *testing.T) {
	for _, c := range cipherCases {
		h := mustOpen(t, makeParams(t, c, nil, []byte("o"), nil, -4, true), nil, "")
		for _, n := range []int{0, 1, 15, 16, 17, 31, 32, 1000} {
			want := n
			if c.cfm == MethodAESV2 || c.cfm == MethodAESV3 {
				want = 16 + (n/16+1)*16
			}
			for _, stream := range []bool{false, true} {
				if got := h.EncryptedLen(n, stream); got != want {
					t.Errorf("%s: EncryptedLen(%d, %v) = %d, want %d", c.name, n, stream, got, want)
				}
			}
		}
	}
}

func TestIdentityFilters(t *testing.T) {
	c := cipherCases[3]
	p := makeParams(t, c, nil, []byte("o"), nil, -4, true)
	p.StmF, p.StrF = "None", "Identity"
	h := mustOpen(t, p, nil, "")
	for _, stream := range []bool{false, true} {
		if got := h.EncryptedLen(5, stream); got != 5 {
			t.Errorf("EncryptedLen = %d", got)
		}
	}
	in := []byte("clear")
	ct, err := h.EncryptStream(1, 0, in)
	if err != nil || !bytes.Equal(ct, in) {
		t.Errorf("EncryptStream = %q, %v", ct, err)
	}
	ct[0] = 'X'
	if in[0] != 'c' {
		t.Errorf("result aliases the input")
	}
	// Streams AES, strings clear.
	p.StmF = MethodAESV2
	h = mustOpen(t, p, nil, "")
	if h.EncryptedLen(5, true) != 32 || h.EncryptedLen(5, false) != 5 {
		t.Errorf("EncryptedLen does not follow StmF and StrF")
	}
}

func TestDecryptBadAES(t *testing.T) {
	for _, c := range cipherCases {
		if c.cfm != MethodAESV2 && c.cfm != MethodAESV3 {
			continue
		}
		h := mustOpen(t, makeParams(t, c, nil, []byte("o"), nil, -4, true), nil, "")
		good, _ := h.EncryptString(3, 0, []byte("sixteen bytes!!!"))

		badPad := bytes.Clone(good)
		// In CBC the last plaintext byte is the last byte of the decrypted
		// last block XOR the byte 16 before it in the ciphertext: flipping
		// that byte turns the padding byte 0x10 into 0x45, never valid. (A
		// flip inside the last block would garble it at random, and give
		// valid padding about once in 256 runs.)
		badPad[len(badPad)-17] ^= 0x55
		tests := []struct {
			name     string
			data     []byte
			wantErr  bool
			wantData int // length of the returned data
		}{
			{"nil", nil, true, 0},
			{"15 bytes", make([]byte, 15), true, 0},
			{"IV only", good[:16], false, 0},
			{"partial block", good[:40], true, 16},
			{"bad padding", badPad, true, 32},
		}
		for _, tt := range tests {
			for _, dec := range []func(int, int, []byte) ([]byte, error){h.DecryptString, h.DecryptStream} {
				got, err := dec(3, 0, tt.data)
				if (err != nil) != tt.wantErr || len(got) != tt.wantData {
					t.Errorf("%s %s: got %d bytes, error %v", c.name, tt.name, len(got), err)
				}
				if err != nil && !errors.Is(err, ErrInvalidCiphertext) {
					t.Errorf("%s %s: error %v does not wrap ErrInvalidCiphertext", c.name, tt.name, err)
				}
			}
		}
	}
}

func TestConcurrentUse(t *testing.T) {
	for _, c := range cipherCases {
		h := mustOpen(t, makeParams(t, c, nil, []byte("o"), nil, -4, true), nil, "")
		var wg sync.WaitGroup
		for g := range 16 {
			wg.Go(func() {
				for i := range 50 {
					in := bytes.Repeat([]byte{byte(g)}, i)
					ct, err := h.EncryptStream(g, i, in)
					if err != nil {
						t.Error(err)
						return
					}
					pt, err := h.DecryptStream(g, i, ct)
					if err != nil || !bytes.Equal(pt, in) {
						t.Errorf("%s: goroutine %d: round trip failed: %v", c.name, g, err)
						return
					}
				}
			})
		}
		wg.Wait()
	}
}
