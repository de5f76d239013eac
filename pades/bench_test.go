package pades_test

// Throughput benchmarks of Prepare, the streaming part of signing, with
// in-run baselines over the same input file:
//
//	BenchmarkPrepare/size=S/out=discard  Prepare into io.Discard: parsing, update and byte-range hash (read + SHA-256)
//	BenchmarkPrepare/size=S/out=file     Prepare into a temporary file (read + SHA-256 + write)
//	BenchmarkSHA256/size=S               read the file and hash it once (the openssl dgst floor)
//	BenchmarkCopyFile/size=S             copy the file with io.Copy (copy_file_range on Linux: the cp floor)
//
// All report MB/s (b.SetBytes is the input size). benchstat gives the
// ratios of Prepare to its floors in the same run:
//
//	go test -run '^$' -bench 'Prepare|SHA256|CopyFile' -count 8 ./pades > bench.txt
//	benchstat -filter '/out:discard OR .name:SHA256' -col .name -ignore /out bench.txt
//	benchstat -filter '/out:file OR .name:CopyFile' -col .name -ignore /out bench.txt
//	benchstat -filter '/out:file OR .name:SHA256' -col .name -ignore /out bench.txt
//
// (the floor of out=file is the slower of SHA256 and CopyFile).
//
// The input is a one-page PDF whose page shows an uncompressed image of
// pseudo-random pixels filling the requested size, written to a temporary
// file (on the file system of os.TempDir) before the timed loop.

import (
	"bufio"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"hashsign/pades"
)

var benchSizes = []struct {
	name string
	size int64
}{
	{"1MiB", 1 << 20},
	{"64MiB", 64 << 20},
}

// benchContentsSize is the placeholder size used by the benchmarks.
const benchContentsSize = 8192

func BenchmarkPrepare(b *testing.B) {
	for _, s := range benchSizes {
		b.Run("size="+s.name, func(b *testing.B) {
			in, size := benchInput(b, s.size)
			b.Run("out=discard", func(b *testing.B) {
				benchPrepare(b, in, size, func() io.Writer { return io.Discard })
			})
			b.Run("out=file", func(b *testing.B) {
				out, err := os.Create(filepath.Join(b.TempDir(), "out.pdf"))
				if err != nil {
					b.Fatal(err)
				}
				defer out.Close()
				benchPrepare(b, in, size, func() io.Writer {
					// Start each iteration with an empty file, untimed.
					b.StopTimer()
					defer b.StartTimer()
					if err := out.Truncate(0); err != nil {
						b.Fatal(err)
					}
					if _, err := out.Seek(0, io.SeekStart); err != nil {
						b.Fatal(err)
					}
					return out
				})
			})
		})
	}
}

func benchPrepare(b *testing.B, in *os.File, size int64, output func() io.Writer) {
	ctx := context.Background()
	opts := &pades.PrepareOptions{ContentsSize: benchContentsSize}
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		p, err := pades.Prepare(ctx, in, size, output(), opts)
		if err != nil {
			b.Fatal(err)
		}
		if p.Size <= size {
			b.Fatalf("prepared size %d, input %d", p.Size, size)
		}
	}
}

// BenchmarkSHA256 reads the input through a 1 MiB buffer and hashes it, as
// openssl dgst -sha256 does: the floor of BenchmarkPrepare/out=discard.
func BenchmarkSHA256(b *testing.B) {
	for _, s := range benchSizes {
		b.Run("size="+s.name, func(b *testing.B) {
			in, size := benchInput(b, s.size)
			buf := make([]byte, 1<<20)
			b.SetBytes(size)
			b.ReportAllocs()
			for b.Loop() {
				h := sha256.New()
				if _, err := io.CopyBuffer(h, io.NewSectionReader(in, 0, size), buf); err != nil {
					b.Fatal(err)
				}
				h.Sum(nil)
			}
		})
	}
}

// BenchmarkCopyFile copies the input to a temporary file with io.Copy
// between two *os.File (copy_file_range on Linux), as cp does: with
// BenchmarkSHA256, the floor of BenchmarkPrepare/out=file.
func BenchmarkCopyFile(b *testing.B) {
	for _, s := range benchSizes {
		b.Run("size="+s.name, func(b *testing.B) {
			in, size := benchInput(b, s.size)
			out, err := os.Create(filepath.Join(b.TempDir(), "copy.pdf"))
			if err != nil {
				b.Fatal(err)
			}
			defer out.Close()
			b.SetBytes(size)
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				if err := out.Truncate(0); err != nil {
					b.Fatal(err)
				}
				if _, err := out.Seek(0, io.SeekStart); err != nil {
					b.Fatal(err)
				}
				if _, err := in.Seek(0, io.SeekStart); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				if n, err := io.Copy(out, in); err != nil || n != size {
					b.Fatalf("copied %d of %d bytes: %v", n, size, err)
				}
			}
		})
	}
}

// benchInput writes a PDF of about size bytes to a temporary file and
// returns it open, with its exact size.
func benchInput(b *testing.B, size int64) (*os.File, int64) {
	b.Helper()
	name := filepath.Join(b.TempDir(), "in.pdf")
	f, err := os.Create(name)
	if err != nil {
		b.Fatal(err)
	}
	if err := benchWritePDF(f, size); err != nil {
		f.Close()
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	f, err = os.Open(name)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Close() })
	st, err := f.Stat()
	if err != nil {
		b.Fatal(err)
	}
	// Check once, untimed, that the file is one Prepare accepts.
	if _, err := pades.Prepare(context.Background(), f, st.Size(), io.Discard, &pades.PrepareOptions{ContentsSize: benchContentsSize}); err != nil {
		b.Fatalf("the generated input is not accepted: %v", err)
	}
	return f, st.Size()
}

// benchWritePDF writes a one-page PDF 1.4 file with a classic
// cross-reference table to w. The page shows an RGB image, 1024 pixels
// wide, of pseudo-random pixels whose height brings the file close to size
// bytes.
func benchWritePDF(w io.Writer, size int64) error {
	const width = 1024
	height := max((size-1024)/(3*width), 1)
	imageLen := 3 * width * height

	bw := bufio.NewWriterSize(w, 64<<10)
	var n int64
	var offsets []int64
	printf := func(format string, args ...any) {
		k, _ := fmt.Fprintf(bw, format, args...)
		n += int64(k)
	}
	obj := func(format string, args ...any) {
		offsets = append(offsets, n)
		printf("%d 0 obj\n", len(offsets))
		printf(format, args...)
	}
	printf("%%PDF-1.4\n%%\xE2\xE3\xCF\xD3\n")
	obj("<< /Type /Catalog /Pages 2 0 R >>\nendobj\n")
	obj("<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n")
	obj("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /XObject << /Im0 5 0 R >> >> /Contents 4 0 R >>\nendobj\n")
	content := "q 612 0 0 792 0 0 cm /Im0 Do Q\n"
	obj("<< /Length %d >>\nstream\n%s\nendstream\nendobj\n", len(content), content)
	obj("<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceRGB /BitsPerComponent 8 /Length %d >>\nstream\n",
		width, height, imageLen)
	rng := rand.NewChaCha8([32]byte{'h', 'a', 's', 'h', 's', 'i', 'g', 'n'})
	chunk := make([]byte, 1<<20)
	for left := imageLen; left > 0; {
		c := chunk[:min(left, int64(len(chunk)))]
		rng.Read(c)
		k, err := bw.Write(c)
		n += int64(k)
		if err != nil {
			return err
		}
		left -= int64(k)
	}
	printf("\nendstream\nendobj\n")
	xref := n
	printf("xref\n0 %d\n0000000000 65535 f \n", len(offsets)+1)
	for _, off := range offsets {
		printf("%010d 00000 n \n", off)
	}
	printf("trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(offsets)+1, xref)
	return bw.Flush()
}
