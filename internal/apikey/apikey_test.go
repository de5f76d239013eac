package apikey_test

import (
	"errors"
	"strings"
	"testing"

	"hashsign/internal/apikey"
)

func TestNewAndMatch(t *testing.T) {
	k1, h1, err := apikey.New("t_")
	if err != nil {
		t.Fatal(err)
	}
	k2, h2, _ := apikey.New("t_")
	if !strings.HasPrefix(k1, "t_") || len(k1) < 40 || k1 == k2 || apikey.Hash(k1) != h1 {
		t.Fatalf("keys %q %q, hash %s", k1, k2, h1)
	}
	var hashes [][32]byte
	for _, h := range []string{h1, h2} {
		b, err := apikey.ParseHash(h)
		if err != nil {
			t.Fatal(err)
		}
		hashes = append(hashes, b)
	}
	for _, tc := range []struct {
		key  string
		want int
	}{{k1, 0}, {k2, 1}, {k1 + "x", -1}, {"", -1}, {h1, -1}} {
		if got := apikey.Match(tc.key, hashes); got != tc.want {
			t.Errorf("Match(%q) = %d, want %d", tc.key, got, tc.want)
		}
	}
	if _, err := apikey.ParseHash("abc"); err == nil {
		t.Error("a short hash parsed")
	}
}

func TestBearer(t *testing.T) {
	for _, tc := range []struct {
		header, key string
		err         error
	}{
		{"Bearer abc", "abc", nil},
		{"bearer  abc ", "abc", nil},
		{"", "", apikey.ErrMissing},
		{"Basic abc", "", apikey.ErrMalformed},
		{"Bearer ", "", apikey.ErrMalformed},
		{"Bearer", "", apikey.ErrMalformed},
	} {
		key, err := apikey.Bearer(tc.header)
		if key != tc.key || !errors.Is(err, tc.err) {
			t.Errorf("Bearer(%q) = %q, %v; want %q, %v", tc.header, key, err, tc.key, tc.err)
		}
	}
}
