// Command genpdf writes a large, valid PDF file for measuring the memory use
// and throughput of hashsign on big documents.
//
// Usage:
//
//	genpdf -size SIZE -o FILE [-form table|stream] [-seed N]
//
// SIZE is a byte count with an optional unit: B, KiB, MiB, GiB, TiB (or K,
// M, G, T) for powers of 1024, KB, MB, GB, TB for powers of 1000, such as
// 10MiB or 1GiB. The output comes within a few kilobytes of SIZE.
//
// Each page shows an uncompressed RGB image of pseudo-random pixels, so the
// file is a real, viewable document whose size is almost all image data.
// The data is streamed from a deterministic generator through a fixed-size
// buffer: memory use does not depend on SIZE. With -form table the file has
// a classic cross-reference table, with -form stream a cross-reference
// stream (PDF 1.5).
//
// genpdf writes to a temporary file in the directory of FILE and renames it
// to FILE once complete.
package main

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Image geometry. Each full page carries an image of imageWidth by
// maxImageHeight pixels (6 MiB); the last page's image is shorter so that
// the file comes close to the requested size.
const (
	imageWidth     = 1024
	maxImageHeight = 2048
	bytesPerPixel  = 3 // DeviceRGB, 8 bits per component
	rowBytes       = imageWidth * bytesPerPixel
	dpi            = 150

	// Upper bounds of the bytes written besides image data, used to plan
	// the page count; the estimate is refined as the file is written.
	fixedOverhead   = 1024
	perPageOverhead = 512

	chunkSize = 1 << 20 // pseudo-random data is produced 1 MiB at a time
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("genpdf: ")
	sizeFlag := flag.String("size", "", "approximate output `size`, such as 10MiB or 1GiB")
	out := flag.String("o", "", "output `file`")
	form := flag.String("form", "table", "cross-reference `form`: table or stream")
	seed := flag.Uint64("seed", 1, "seed of the pseudo-random image data")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: genpdf -size SIZE -o FILE [-form table|stream] [-seed N]\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if *sizeFlag == "" || *out == "" || flag.NArg() != 0 {
		flag.Usage()
		os.Exit(2)
	}
	size, err := parseSize(*sizeFlag)
	if err != nil {
		log.Fatal(err)
	}
	var stream bool
	switch *form {
	case "table":
	case "stream":
		stream = true
	default:
		log.Fatalf("unknown -form %q: want table or stream", *form)
	}

	start := time.Now()
	res, err := writeFile(*out, config{size: size, stream: stream, seed: *seed})
	if err != nil {
		log.Fatal(err)
	}
	elapsed := time.Since(start)
	fmt.Fprintf(os.Stderr, "wrote %s: %d bytes (%.1f MiB), %d pages, in %v (%.0f MiB/s)\n",
		*out, res.bytes, float64(res.bytes)/(1<<20), res.pages, elapsed.Round(time.Millisecond),
		float64(res.bytes)/(1<<20)/elapsed.Seconds())
}

// parseSize parses a byte count such as "1048576", "10MiB", "1GiB" or
// "500MB".
func parseSize(s string) (int64, error) {
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

type config struct {
	size   int64  // target file size in bytes
	stream bool   // cross-reference stream instead of table
	seed   uint64 // seed of the image data
}

type result struct {
	bytes int64
	pages int
}

// writeFile writes the PDF described by cfg to a temporary file next to
// name and renames it to name.
func writeFile(name string, cfg config) (result, error) {
	f, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".tmp-*")
	if err != nil {
		return result{}, fmt.Errorf("creating temporary file: %w", err)
	}
	res, err := write(f, cfg)
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
		return result{}, fmt.Errorf("writing %s: %w", name, err)
	}
	return res, nil
}

// countingWriter counts the bytes written through it. Its first error is
// sticky.
type countingWriter struct {
	w   io.Writer
	n   int64
	err error
}

func (c *countingWriter) Write(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.w.Write(p)
	c.n += int64(n)
	c.err = err
	return n, err
}

func (c *countingWriter) printf(format string, args ...any) {
	fmt.Fprintf(c, format, args...)
}

// Object numbers: the catalog, the page tree and the document information
// dictionary, then three objects per page (page, content stream, image).
const (
	catalogNum   = 1
	pagesNum     = 2
	infoNum      = 3
	firstPageNum = 4
)

// write writes the PDF described by cfg to w.
func write(w io.Writer, cfg config) (result, error) {
	bw := bufio.NewWriterSize(w, 64<<10)
	cw := &countingWriter{w: bw}

	// Plan the pages: full images until the budget runs out, then one
	// shorter image.
	fullPage := int64(rowBytes*maxImageHeight + perPageOverhead)
	budget := max(cfg.size-fixedOverhead, 0)
	pages := int(max((budget+fullPage-1)/fullPage, 1))
	// Cross-reference entries cost 20 bytes per object in a table.
	budget -= int64(pages) * 3 * 20
	pages = int(max((budget+fullPage-1)/fullPage, 1))

	offsets := make([]int64, firstPageNum+3*pages)
	begin := func(num int) {
		offsets[num] = cw.n
		cw.printf("%d 0 obj\n", num)
	}
	version := "1.4"
	if cfg.stream {
		version = "1.5"
	}
	cw.printf("%%PDF-%s\n%%\xE2\xE3\xCF\xD3\n", version)

	begin(catalogNum)
	cw.printf("<< /Type /Catalog /Pages %d 0 R >>\nendobj\n", pagesNum)
	begin(infoNum)
	cw.printf("<< /Producer (hashsign genpdf) /Title (genpdf %d-byte test file, seed %d) >>\nendobj\n", cfg.size, cfg.seed)
	begin(pagesNum)
	cw.printf("<< /Type /Pages /Count %d /Kids [", pages)
	for i := range pages {
		if i%10 == 0 {
			cw.printf("\n")
		}
		cw.printf("%d 0 R ", firstPageNum+3*i)
	}
	cw.printf("] >>\nendobj\n")

	rng := rand.NewChaCha8(seedBytes(cfg.seed))
	chunk := make([]byte, chunkSize)
	for i := range pages {
		height := maxImageHeight
		if i == pages-1 {
			// Fill what remains of the budget, keeping room for the
			// cross-reference section and the rest of the last page.
			remaining := cfg.size - cw.n - perPageOverhead - int64(len(offsets))*20 - 256
			height = int(min(max(remaining/rowBytes, 1), maxImageHeight))
		}
		pageNum := firstPageNum + 3*i
		widthPt, heightPt := float64(imageWidth)*72/dpi, float64(height)*72/dpi

		begin(pageNum)
		cw.printf("<< /Type /Page /Parent %d 0 R /MediaBox [0 0 %.2f %.2f] /Resources << /XObject << /Im0 %d 0 R >> >> /Contents %d 0 R >>\nendobj\n",
			pagesNum, widthPt, heightPt, pageNum+2, pageNum+1)

		content := fmt.Sprintf("q %.2f 0 0 %.2f 0 0 cm /Im0 Do Q\n", widthPt, heightPt)
		begin(pageNum + 1)
		cw.printf("<< /Length %d >>\nstream\n%s\nendstream\nendobj\n", len(content), content)

		n := int64(rowBytes) * int64(height)
		begin(pageNum + 2)
		cw.printf("<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceRGB /BitsPerComponent 8 /Length %d >>\nstream\n",
			imageWidth, height, n)
		for n > 0 {
			b := chunk[:min(n, int64(len(chunk)))]
			rng.Read(b)
			cw.Write(b)
			n -= int64(len(b))
		}
		cw.printf("\nendstream\nendobj\n")
		if cw.err != nil {
			return result{}, cw.err
		}
	}

	if cfg.stream {
		if err := writeXRefStream(cw, offsets); err != nil {
			return result{}, err
		}
	} else {
		writeXRefTable(cw, offsets)
	}
	if err := bw.Flush(); err != nil {
		return result{}, err
	}
	return result{bytes: cw.n, pages: pages}, cw.err
}

func trailer(size int) string {
	return fmt.Sprintf("/Size %d /Root %d 0 R /Info %d 0 R", size, catalogNum, infoNum)
}

// writeXRefTable writes a cross-reference table for objects at offsets
// (offsets[0] unused) and the trailer.
func writeXRefTable(cw *countingWriter, offsets []int64) {
	start := cw.n
	cw.printf("xref\n0 %d\n0000000000 65535 f \n", len(offsets))
	for _, off := range offsets[1:] {
		cw.printf("%010d 00000 n \n", off)
	}
	cw.printf("trailer\n<< %s >>\nstartxref\n%d\n%%%%EOF\n", trailer(len(offsets)), start)
}

// writeXRefStream writes a cross-reference stream for objects at offsets
// (offsets[0] unused), itself numbered len(offsets).
func writeXRefStream(cw *countingWriter, offsets []int64) error {
	start := cw.n
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
	cw.printf("%d 0 obj\n<< /Type /XRef %s /W [1 %d 2] /Filter /FlateDecode /Length %d >>\nstream\n",
		num, trailer(num+1), width, entries.Len())
	cw.Write(entries.Bytes())
	cw.printf("\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n", start)
	return cw.err
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
