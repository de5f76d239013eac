package countwriter

import (
	"bytes"
	"errors"
	"testing"
)

// limited fails every write after max bytes.
type limited struct {
	buf bytes.Buffer
	max int
}

var errFull = errors.New("full")

func (l *limited) Write(p []byte) (int, error) {
	if l.buf.Len()+len(p) > l.max {
		return 0, errFull
	}
	return l.buf.Write(p)
}

func TestWriter(t *testing.T) {
	dst := &limited{max: 8}
	w := &Writer{W: dst}
	w.Printf("%d 0 obj\n", 12) // 9 bytes: too many
	if w.N != 0 || !errors.Is(w.Err, errFull) {
		t.Fatalf("after a failed write: N %d, Err %v", w.N, w.Err)
	}
	dst.max = 100
	if n, err := w.Write([]byte("abc")); n != 0 || !errors.Is(err, errFull) || dst.buf.Len() != 0 {
		t.Errorf("a write after the error: %d, %v, %q written; the first error must stick", n, err, dst.buf.String())
	}
	ok := &Writer{W: &bytes.Buffer{}}
	ok.Printf("%%PDF-%s\n", "1.7")
	ok.Write([]byte("xyz"))
	if ok.N != 12 || ok.Err != nil {
		t.Errorf("N %d, Err %v; want 12, nil", ok.N, ok.Err)
	}
}
