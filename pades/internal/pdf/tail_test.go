package pdf

import (
	"bytes"
	"errors"
	"testing"
)

func TestCheckEnd(t *testing.T) {
	body := "%PDF-1.7\n1 0 obj\n<<>>\nendobj\nxref\n0 1\n0000000000 65535 f\r\ntrailer\n<</Size 1>>\n"
	for _, c := range []struct {
		name      string
		tail      string
		truncated bool
	}{
		{"whole", "startxref\n1234\n%%EOF\n", false},
		{"no end of line", "startxref\n1234\n%%EOF", false},
		{"junk after %%EOF", "startxref\n1234\n%%EOF\n\x00\x00garbage", false},
		{"cut inside the offset", "startxref\n12", true},
		{"cut after the offset", "startxref\n1234\n", true},
		{"cut inside %%EOF", "startxref\n1234\n%%EO", true},
		{"cut after startxref", "startxref\n", true},
		{"no startxref", "trailer", false}, // left to Open, which looks farther back
	} {
		t.Run(c.name, func(t *testing.T) {
			b := []byte(body + c.tail)
			err := CheckEnd(bytes.NewReader(b), int64(len(b)))
			if got := errors.Is(err, ErrTruncated); got != c.truncated {
				t.Errorf("CheckEnd = %v, want truncated %v", err, c.truncated)
			}
		})
	}
}

func FuzzCheckEnd(f *testing.F) {
	f.Add([]byte("%PDF-1.7\nstartxref\n12\n%%EOF\n"))
	f.Add([]byte("startxref"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		CheckEnd(bytes.NewReader(b), int64(len(b)))
	})
}
