package pades_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"hashsign/pades"
	"hashsign/testdata/pdfgen"
)

// TestPrepareFileToFile checks that the file-to-file path (the kernel copies
// while a goroutine hashes) writes the same bytes and computes the same
// digest as the in-memory path.
func TestPrepareFileToFile(t *testing.T) {
	in, err := pdfgen.Bytes(pdfgen.Table, pdfgen.Options{Pages: 3})
	if err != nil {
		t.Fatal(err)
	}
	big := withLargeStream(t, in, 20<<20) // larger than one copy chunk
	dir := t.TempDir()
	for name, data := range map[string][]byte{"small": in, "large": big} {
		t.Run(name, func(t *testing.T) {
			opts := &pades.PrepareOptions{ContentsSize: 4096, Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), FieldName: "S", NewField: true}
			var mem bytes.Buffer
			pm, err := pades.Prepare(context.Background(), bytes.NewReader(data), int64(len(data)), &mem, opts)
			if err != nil {
				t.Fatal(err)
			}
			inPath := filepath.Join(dir, name+"-in.pdf")
			if err := os.WriteFile(inPath, data, 0o644); err != nil {
				t.Fatal(err)
			}
			src, _ := os.Open(inPath)
			defer src.Close()
			dst, err := os.Create(filepath.Join(dir, name+"-out.pdf"))
			if err != nil {
				t.Fatal(err)
			}
			defer dst.Close()
			dst.WriteString("") // the copy must start at the file's offset
			pf, err := pades.Prepare(context.Background(), src, int64(len(data)), dst, opts)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := os.ReadFile(dst.Name())
			if !bytes.Equal(got, mem.Bytes()) {
				t.Fatalf("file output (%d bytes) differs from memory output (%d bytes)", len(got), mem.Len())
			}
			if !bytes.Equal(pf.Digest, pm.Digest) || pf.ByteRange != pm.ByteRange {
				t.Fatalf("digest or byte range differ: %x %v vs %x %v", pf.Digest, pf.ByteRange, pm.Digest, pm.ByteRange)
			}
		})
	}
}

// withLargeStream appends to a table-form PDF an incremental update that
// adds an unreferenced stream of n bytes.
func withLargeStream(t *testing.T, pdf []byte, n int) []byte {
	t.Helper()
	prev := regexp.MustCompile(`startxref\s+(\d+)\s+%%EOF\s*$`).FindSubmatch(pdf)
	root := regexp.MustCompile(`/Root (\d+ \d+ R)`).FindSubmatch(pdf)
	size := regexp.MustCompile(`/Size (\d+)`).FindSubmatch(pdf)
	if prev == nil || root == nil || size == nil {
		t.Fatal("cannot find the trailer of the generated PDF")
	}
	num, _ := strconv.Atoi(string(size[1]))
	var b bytes.Buffer
	b.Write(pdf)
	off := b.Len()
	fmt.Fprintf(&b, "%d 0 obj\n<</Length %d>>\nstream\n", num, n)
	b.Write(bytes.Repeat([]byte{0xA5}, n))
	b.WriteString("\nendstream\nendobj\n")
	x := b.Len()
	fmt.Fprintf(&b, "xref\n0 1\n0000000000 65535 f\r\n%d 1\n%010d 00000 n\r\ntrailer\n<</Size %d/Root %s/Prev %s>>\nstartxref\n%d\n%%%%EOF\n", num, off, num+1, root[1], prev[1], x)
	return b.Bytes()
}
