package pdf

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// ErrTruncated reports a file cut short: its last startxref is not
// followed by an offset and %%EOF.
var ErrTruncated = errors.New("truncated or incomplete PDF")

// tailSpan is how much of the end of a file CheckEnd reads.
const tailSpan = 2048

// CheckEnd reports ErrTruncated when the last "startxref" keyword near the
// end of r is not followed by an offset and "%%EOF": the file was cut
// inside its last lines, most likely by an interrupted copy. Open would
// rebuild such a file by scanning it, but what was cut off may be more
// than the trailer, and a signature would freeze the damage into the
// signed revision, so a signer should refuse it. A file whose end holds no
// "startxref" at all is left to Open, which looks farther back.
func CheckEnd(r io.ReaderAt, size int64) error {
	span := min(int64(tailSpan), size)
	buf := make([]byte, span)
	n, err := r.ReadAt(buf, size-span)
	if int64(n) < span {
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("reading the end of the file: %w", err)
	}
	i := bytes.LastIndex(buf, []byte("startxref"))
	if i < 0 {
		return nil
	}
	rest := buf[i+len("startxref"):]
	j := 0
	for j < len(rest) && isWhite(rest[j]) {
		j++
	}
	k := j
	for k < len(rest) && rest[k] >= '0' && rest[k] <= '9' {
		k++
	}
	if k == j || !bytes.Contains(rest[k:], []byte("%%EOF")) {
		return fmt.Errorf("%w: the file ends %d bytes after its last startxref, without an offset and %%%%EOF", ErrTruncated, len(rest))
	}
	return nil
}
