package pades

import (
	"crypto"
	"testing"
)

func TestParseHash(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want crypto.Hash
		ok   bool
	}{
		{"sha256", crypto.SHA256, true},
		{"SHA-384", crypto.SHA384, true},
		{"Sha512", crypto.SHA512, true},
		{"sha1", 0, false},
		{"md5", 0, false},
		{"", 0, false},
	} {
		h, err := ParseHash(tc.in)
		if (err == nil) != tc.ok || h != tc.want {
			t.Errorf("ParseHash(%q) = %v, %v", tc.in, h, err)
		}
		if tc.ok && HashName(h) != map[crypto.Hash]string{crypto.SHA256: "sha256", crypto.SHA384: "sha384", crypto.SHA512: "sha512"}[h] {
			t.Errorf("HashName(%v) = %q", h, HashName(h))
		}
	}
}
