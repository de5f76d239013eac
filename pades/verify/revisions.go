package verify

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"

	"hashsign/pades/internal/pdf"
)

// revisionEnds returns the end of each revision of the file rd reads,
// oldest first: the offset just after the end-of-line that follows the
// %%EOF of a "startxref N %%EOF" whose N is the offset of one of the
// file's cross-reference sections. Each section's region (from its
// offset to the next section's) is searched, so that an update's end is
// found right after its cross-reference, and the two sections of a
// linearized original count as one revision.
func revisionEnds(rd *pdf.Reader) ([]int64, error) {
	if len(rd.Sections) == 0 {
		return nil, errors.New("the cross-reference was rebuilt by scanning: the revisions are unknown")
	}
	offsets := map[int64]bool{}
	var starts []int64
	for _, s := range rd.Sections {
		offsets[s.Offset] = true
		starts = append(starts, s.Offset)
	}
	slices.Sort(starts)
	starts = slices.Compact(starts)
	size := rd.Size()
	var ends []int64
	for i, start := range starts {
		stop := size
		if i+1 < len(starts) {
			stop = starts[i+1]
		}
		end, err := findEOF(rd.ReaderAt(), start, stop, size, offsets)
		if err != nil {
			return nil, err
		}
		if end > 0 {
			ends = append(ends, end)
		}
	}
	if len(ends) == 0 {
		return nil, errors.New("no \"startxref\" line names a cross-reference section of the file")
	}
	return ends, nil
}

// findEOF searches [start, stop) for "startxref N %%EOF" with N one of
// offsets and returns the offset after the %%EOF and its end-of-line, or
// 0 when there is none.
func findEOF(r io.ReaderAt, start, stop, size int64, offsets map[int64]bool) (int64, error) {
	const chunk = 64 << 10
	const overlap = 64
	buf := make([]byte, chunk+overlap)
	key := []byte("startxref")
	for off := start; off < stop; off += chunk {
		n := int(min(int64(len(buf)), size-off))
		b := buf[:n]
		if m, err := r.ReadAt(b, off); m < n {
			return 0, fmt.Errorf("reading at offset %d: %w", off, err)
		}
		for from := 0; ; {
			i := bytes.Index(b[from:], key)
			if i < 0 || off+int64(from+i) >= stop {
				break
			}
			at := from + i
			from = at + len(key)
			if end, ok := parseStartXRef(b[at+len(key):], offsets); ok {
				return off + int64(at+len(key)) + end, nil
			}
		}
	}
	return 0, nil
}

// parseStartXRef parses " N %%EOF" and its end-of-line at the start of b.
func parseStartXRef(b []byte, offsets map[int64]bool) (int64, bool) {
	i := 0
	skip := func() {
		for i < len(b) && (b[i] == ' ' || b[i] == '\r' || b[i] == '\n' || b[i] == '\t' || b[i] == '\f' || b[i] == 0) {
			i++
		}
	}
	skip()
	j := i
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	n, err := strconv.ParseInt(string(b[j:i]), 10, 64)
	if err != nil || !offsets[n] {
		return 0, false
	}
	skip()
	if !bytes.HasPrefix(b[i:], []byte("%%EOF")) {
		return 0, false
	}
	i += 5
	switch {
	case bytes.HasPrefix(b[i:], []byte("\r\n")):
		i += 2
	case i < len(b) && (b[i] == '\n' || b[i] == '\r'):
		i++
	}
	return int64(i), true
}

// revisionOf returns the 1-based number of the revision that ends at end,
// allowing for a signature whose byte range stops before the %%EOF's
// end-of-line, or 0 when none does.
func revisionOf(ends []int64, end int64) int {
	for i, e := range ends {
		if end <= e && e-end <= 2 {
			return i + 1
		}
	}
	return 0
}

// equalObjects reports whether a and b, read from two revisions of the
// same file r, are the same object. Streams are compared by dictionary and
// by their encoded bytes.
func equalObjects(r io.ReaderAt, a, b pdf.Object, depth int) bool {
	if depth > 64 {
		return false
	}
	switch x := a.(type) {
	case nil:
		return b == nil
	case pdf.Bool, pdf.Integer, pdf.Real, pdf.Name, pdf.Ref:
		return a == b
	case pdf.String:
		y, ok := b.(pdf.String)
		return ok && bytes.Equal(x.Value, y.Value)
	case pdf.Array:
		y, ok := b.(pdf.Array)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !equalObjects(r, x[i], y[i], depth+1) {
				return false
			}
		}
		return true
	case *pdf.Dict:
		y, ok := b.(*pdf.Dict)
		if !ok || x.Len() != y.Len() {
			return false
		}
		for _, k := range x.Keys() {
			if !y.Has(k) || !equalObjects(r, x.Get(k), y.Get(k), depth+1) {
				return false
			}
		}
		return true
	case *pdf.Stream:
		y, ok := b.(*pdf.Stream)
		if !ok || !equalObjects(r, x.Dict, y.Dict, depth+1) || x.Length != y.Length {
			return false
		}
		if x.Data != nil || y.Data != nil {
			return bytes.Equal(x.Data, y.Data)
		}
		return x.Offset == y.Offset || equalBytes(r, x.Offset, y.Offset, x.Length)
	}
	return false
}

// equalBytes compares the n bytes of r at offsets a and b.
func equalBytes(r io.ReaderAt, a, b, n int64) bool {
	const chunk = 64 << 10
	ba, bb := make([]byte, chunk), make([]byte, chunk)
	for done := int64(0); done < n; {
		k := min(chunk, n-done)
		if m, _ := r.ReadAt(ba[:k], a+done); int64(m) < k {
			return false
		}
		if m, _ := r.ReadAt(bb[:k], b+done); int64(m) < k {
			return false
		}
		if !bytes.Equal(ba[:k], bb[:k]) {
			return false
		}
		done += k
	}
	return true
}
