package groupsync

import "testing"

func TestReleaseAtLeast(t *testing.T) {
	for _, tc := range []struct {
		rel  string
		want bool
	}{
		{"5.8.0", true},
		{"5.8", true},
		{"5.7.19-generic", false},
		{"5.10.0-21-amd64", true},
		{"6.18.44-fc-v769", true},
		{"4.19.0", false},
		{"10.0", true},
		{"5", false},
		{"", false},
		{"x.y", false},
		{"5.x", false},
		{"99999999999999.1", false},
	} {
		if got := releaseAtLeast(tc.rel, 5, 8); got != tc.want {
			t.Errorf("releaseAtLeast(%q, 5, 8) = %v, want %v", tc.rel, got, tc.want)
		}
	}
}
