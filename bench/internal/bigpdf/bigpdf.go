// Package bigpdf writes valid PDF files of a chosen size, page count and
// object count, for measuring signers on large or object-heavy documents.
//
// A file holds image pages, each showing an uncompressed RGB image of
// pseudo-random pixels (so that its size is almost all image data), and,
// when more objects are asked for than the image pages make, text pages of
// two objects each, under a two-level page tree. The data comes from a
// generator seeded by Config.Seed and is streamed through a fixed-size
// buffer: the same Config always gives the same bytes, and memory use does
// not grow with the size.
package bigpdf

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"hashsign/internal/countwriter"
)

// Image geometry. A full image page carries an image of imageWidth by
// maxImageHeight pixels (6 MiB); the last image page's is shorter, so that
// the file comes close to the requested size.
const (
	imageWidth     = 1024
	maxImageHeight = 2048
	bytesPerPixel  = 3 // DeviceRGB, 8 bits per component
	rowBytes       = imageWidth * bytesPerPixel
	dpi            = 150

	// Upper bounds of the bytes written besides image data, used to plan
	// the pages; the last image is sized from what was really written.
	fixedOverhead    = 1024
	perPageOverhead  = 512
	perTextPageBytes = 256

	kidsPerNode = 128     // pages per intermediate node of the page tree
	chunkSize   = 1 << 20 // pseudo-random data is produced 1 MiB at a time
)

// Config describes a file.
type Config struct {
	// Size is the approximate size of the file in bytes. The file comes
	// within a few kilobytes of it, unless its objects alone need more.
	Size int64
	// Pages is the least number of image pages. The image data is shared
	// out over them; with 0, each full page carries 6 MiB.
	Pages int
	// Objects is the least number of indirect objects: text pages are
	// added to reach it.
	Objects int
	// SigField adds an AcroForm with one empty signature field,
	// "Signature1", on the first page, for signers that only fill
	// existing fields.
	SigField bool
	// Stream writes a cross-reference stream (PDF 1.5) instead of a
	// classic cross-reference table.
	Stream bool
	// Seed seeds the image data.
	Seed uint64
}

// Result describes a written file.
type Result struct {
	Bytes   int64 // file size
	Pages   int   // image and text pages
	Objects int   // indirect objects, the cross-reference stream included
}

// ParseSize parses a byte count with an optional unit: B, KiB, MiB, GiB,
// TiB (or K, M, G, T) for powers of 1024, KB, MB, GB, TB for powers of
// 1000, such as "1048576", "10MiB", "1GiB" or "500MB".
func ParseSize(s string) (int64, error) {
	units := []struct {
		suffix string
		factor int64
	}{
		{"KIB", 1 << 10}, {"MIB", 1 << 20}, {"GIB", 1 << 30}, {"TIB", 1 << 40},
		{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
		{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"T", 1 << 40},
		{"B", 1},
	}
	num, factor := strings.TrimSpace(s), int64(1)
	upper := strings.ToUpper(num)
	for _, u := range units {
		if strings.HasSuffix(upper, u.suffix) {
			num, factor = strings.TrimSpace(num[:len(num)-len(u.suffix)]), u.factor
			break
		}
	}
	n, err := strconv.ParseFloat(num, 64)
	if err != nil || n <= 0 || n*float64(factor) > 1<<50 {
		return 0, fmt.Errorf("invalid size %q", s)
	}
	return int64(n * float64(factor)), nil
}

// WriteFile writes the file that cfg describes to a temporary file next
// to name, syncs it and renames it to name. The file is readable by all
// (0644).
func WriteFile(name string, cfg Config) (Result, error) {
	f, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".tmp-*")
	if err != nil {
		return Result{}, fmt.Errorf("creating temporary file: %w", err)
	}
	res, err := Write(f, cfg)
	if err == nil {
		// CreateTemp makes the file readable by its owner only.
		err = f.Chmod(0o644)
	}
	if err == nil {
		err = f.Sync()
	}
	if closeErr := f.Close(); err == nil {
		err = closeErr
	}
	if err == nil {
		err = os.Rename(f.Name(), name)
	}
	if err != nil {
		os.Remove(f.Name())
		return Result{}, fmt.Errorf("writing %s: %w", name, err)
	}
	return res, nil
}

// Fixed object numbers; the others are given out in order by plan.
const (
	catalogNum = 1
	pagesNum   = 2
	infoNum    = 3
)

// layout is the object numbering of a file.
type layout struct {
	imagePages, textPages int
	sigField              int   // object number of the signature field, or 0
	font                  int   // object number of the text pages' font, or 0
	nodes                 []int // intermediate page tree nodes
	firstImage, firstText int   // object number of the first image page, text page
	objects               int   // highest object number
}

// pages returns the total page count.
func (l *layout) pages() int { return l.imagePages + l.textPages }

// page returns the object number of page i, image pages first.
func (l *layout) page(i int) int {
	if i < l.imagePages {
		return l.firstImage + 3*i
	}
	return l.firstText + 2*(i-l.imagePages)
}

// plan numbers the objects of a file with imagePages image pages and at
// least minObjects objects (stream tells whether a cross-reference stream
// object comes last).
func plan(imagePages, minObjects int, sigField, stream bool) *layout {
	number := func(text int) *layout {
		l := &layout{imagePages: imagePages, textPages: text}
		next := infoNum + 1
		take := func(n int) int { next += n; return next - n }
		if sigField {
			l.sigField = take(1)
		}
		if text > 0 {
			l.font = take(1)
		}
		if n := l.pages(); n > kidsPerNode {
			for range (n + kidsPerNode - 1) / kidsPerNode {
				l.nodes = append(l.nodes, take(1))
			}
		}
		l.firstImage = take(3 * imagePages)
		l.firstText = take(2 * text)
		l.objects = next - 1
		if stream {
			l.objects++
		}
		return l
	}
	// The fewest text pages that reach minObjects: the count grows with
	// them (two objects each, and a node per kidsPerNode pages).
	lo, hi := 0, max(minObjects, 0)
	for lo < hi {
		if mid := (lo + hi) / 2; number(mid).objects >= minObjects {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return number(lo)
}

// Write writes the file that cfg describes to w.
func Write(w io.Writer, cfg Config) (Result, error) {
	bw := bufio.NewWriterSize(w, 64<<10)
	cw := &countwriter.Writer{W: bw}

	// Plan the image pages: full images until the budget runs out (or
	// the data shared out over cfg.Pages), then one shorter image.
	fullPage := int64(rowBytes*maxImageHeight + perPageOverhead)
	budget := max(cfg.Size-fixedOverhead-int64(cfg.Objects)*(perTextPageBytes/2), 0)
	pages := max(int((budget+fullPage-1)/fullPage), cfg.Pages, 1)
	// Cross-reference entries cost 20 bytes per object in a table.
	budget -= int64(pages) * (3*20 + perPageOverhead)
	pages = max(int((budget+fullPage-1)/fullPage), cfg.Pages, 1)
	rows := min(max(budget/int64(pages)/rowBytes, 1), maxImageHeight)
	l := plan(pages, cfg.Objects, cfg.SigField, cfg.Stream)

	offsets := make([]int64, l.objects+1)
	begin := func(num int) {
		offsets[num] = cw.N
		cw.Printf("%d 0 obj\n", num)
	}
	version := "1.4"
	if cfg.Stream {
		version = "1.5"
	}
	cw.Printf("%%PDF-%s\n%%\xE2\xE3\xCF\xD3\n", version)

	begin(catalogNum)
	cw.Printf("<< /Type /Catalog /Pages %d 0 R", pagesNum)
	if l.sigField != 0 {
		cw.Printf(" /AcroForm << /Fields [%d 0 R] >>", l.sigField)
	}
	cw.Printf(" >>\nendobj\n")
	begin(infoNum)
	cw.Printf("<< /Producer (hashsign bigpdf) /Title (bigpdf %d-byte test file, seed %d) >>\nendobj\n", cfg.Size, cfg.Seed)
	if l.sigField != 0 {
		begin(l.sigField)
		cw.Printf("<< /FT /Sig /T (Signature1) /Type /Annot /Subtype /Widget /Rect [0 0 0 0] /F 132 /P %d 0 R >>\nendobj\n", l.page(0))
	}
	if l.font != 0 {
		begin(l.font)
		cw.Printf("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>\nendobj\n")
	}
	writePageTree(cw, l, begin)

	for i := range l.textPages {
		num := l.page(l.imagePages + i)
		content := fmt.Sprintf("BT /F1 24 Tf 72 720 Td (Page %d) Tj ET\n", l.imagePages+i+1)
		begin(num)
		cw.Printf("<< /Type /Page /Parent %d 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 %d 0 R >> >> /Contents %d 0 R >>\nendobj\n",
			parent(l, l.imagePages+i), l.font, num+1)
		begin(num + 1)
		cw.Printf("<< /Length %d >>\nstream\n%s\nendstream\nendobj\n", len(content), content)
	}

	rng := rand.NewChaCha8(seedBytes(cfg.Seed))
	chunk := make([]byte, chunkSize)
	for i := range l.imagePages {
		height := rows
		if i == l.imagePages-1 {
			// Fill what remains of the budget, keeping room for the
			// cross-reference section and the rest of the last page.
			remaining := cfg.Size - cw.N - perPageOverhead - int64(len(offsets))*20 - 256
			height = min(max(remaining/rowBytes, 1), maxImageHeight)
		}
		num := l.page(i)
		widthPt, heightPt := float64(imageWidth)*72/dpi, float64(height)*72/dpi

		begin(num)
		cw.Printf("<< /Type /Page /Parent %d 0 R /MediaBox [0 0 %.2f %.2f] /Resources << /XObject << /Im0 %d 0 R >> >> /Contents %d 0 R",
			parent(l, i), widthPt, heightPt, num+2, num+1)
		if i == 0 && l.sigField != 0 {
			cw.Printf(" /Annots [%d 0 R]", l.sigField)
		}
		cw.Printf(" >>\nendobj\n")

		content := fmt.Sprintf("q %.2f 0 0 %.2f 0 0 cm /Im0 Do Q\n", widthPt, heightPt)
		begin(num + 1)
		cw.Printf("<< /Length %d >>\nstream\n%s\nendstream\nendobj\n", len(content), content)

		n := int64(rowBytes) * height
		begin(num + 2)
		cw.Printf("<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceRGB /BitsPerComponent 8 /Length %d >>\nstream\n",
			imageWidth, height, n)
		for n > 0 {
			b := chunk[:min(n, int64(len(chunk)))]
			rng.Read(b)
			cw.Write(b)
			n -= int64(len(b))
		}
		cw.Printf("\nendstream\nendobj\n")
		if cw.Err != nil {
			return Result{}, cw.Err
		}
	}

	if cfg.Stream {
		if err := writeXRefStream(cw, offsets[:l.objects]); err != nil {
			return Result{}, err
		}
	} else {
		writeXRefTable(cw, offsets)
	}
	if err := bw.Flush(); err != nil {
		return Result{}, err
	}
	return Result{Bytes: cw.N, Pages: l.pages(), Objects: l.objects}, cw.Err
}

// parent returns the object number of the page tree node above page i.
func parent(l *layout, i int) int {
	if len(l.nodes) == 0 {
		return pagesNum
	}
	return l.nodes[i/kidsPerNode]
}

// writePageTree writes the root of the page tree and its intermediate
// nodes.
func writePageTree(cw *countwriter.Writer, l *layout, begin func(int)) {
	kids := func(from, to int, num func(int) int) {
		cw.Printf("/Kids [")
		for i := from; i < to; i++ {
			if (i-from)%10 == 0 {
				cw.Printf("\n")
			}
			cw.Printf("%d 0 R ", num(i))
		}
		cw.Printf("]")
	}
	n := l.pages()
	begin(pagesNum)
	cw.Printf("<< /Type /Pages /Count %d ", n)
	if len(l.nodes) == 0 {
		kids(0, n, l.page)
	} else {
		kids(0, len(l.nodes), func(i int) int { return l.nodes[i] })
	}
	cw.Printf(" >>\nendobj\n")
	for j, node := range l.nodes {
		from, to := j*kidsPerNode, min((j+1)*kidsPerNode, n)
		begin(node)
		cw.Printf("<< /Type /Pages /Parent %d 0 R /Count %d ", pagesNum, to-from)
		kids(from, to, l.page)
		cw.Printf(" >>\nendobj\n")
	}
}

func trailer(size int) string {
	return fmt.Sprintf("/Size %d /Root %d 0 R /Info %d 0 R", size, catalogNum, infoNum)
}

// writeXRefTable writes a cross-reference table for objects at offsets
// (offsets[0] unused) and the trailer.
func writeXRefTable(cw *countwriter.Writer, offsets []int64) {
	start := cw.N
	cw.Printf("xref\n0 %d\n0000000000 65535 f \n", len(offsets))
	for _, off := range offsets[1:] {
		cw.Printf("%010d 00000 n \n", off)
	}
	cw.Printf("trailer\n<< %s >>\nstartxref\n%d\n%%%%EOF\n", trailer(len(offsets)), start)
}

// writeXRefStream writes a cross-reference stream for objects at offsets
// (offsets[0] unused), itself numbered len(offsets).
func writeXRefStream(cw *countwriter.Writer, offsets []int64) error {
	start := cw.N
	num := len(offsets)
	offsets = append(offsets, start)
	width := 1
	for start>>(8*width) != 0 {
		width++
	}
	var entries bytes.Buffer
	zw := zlib.NewWriter(&entries)
	row := make([]byte, 1+width+2)
	for i, off := range offsets {
		clear(row)
		if i == 0 {
			row[width+1], row[width+2] = 0xFF, 0xFF // free, generation 65535
		} else {
			row[0] = 1
			for j := range width {
				row[width-j] = byte(off >> (8 * j))
			}
		}
		zw.Write(row)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("compressing cross-reference stream: %w", err)
	}
	cw.Printf("%d 0 obj\n<< /Type /XRef %s /W [1 %d 2] /Filter /FlateDecode /Length %d >>\nstream\n",
		num, trailer(num+1), width, entries.Len())
	cw.Write(entries.Bytes())
	cw.Printf("\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n", start)
	return cw.Err
}

// seedBytes expands seed into a ChaCha8 seed.
func seedBytes(seed uint64) [32]byte {
	var s [32]byte
	pcg := rand.NewPCG(seed, seed^0x9E3779B97F4A7C15)
	for i := 0; i < len(s); i += 8 {
		v := pcg.Uint64()
		for j := range 8 {
			s[i+j] = byte(v >> (8 * j))
		}
	}
	return s
}
