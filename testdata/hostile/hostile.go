// Package hostile writes small PDF files built to make a reader use
// unbounded memory or time: cross-reference streams declaring millions of
// entries, /Prev chains of them, object streams and filter chains that
// inflate to hundreds of MiB, an oversized string, and a damaged file of
// millions of objects that must be rebuilt by scanning.
//
// Each file is otherwise a well-formed one-page document (catalog, page
// tree, page), so that a reader that copes with the hostile part can sign
// it. Output is deterministic.
package hostile

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"fmt"
	"io"
	"os"
	"strings"
)

// Case is one hostile file.
type Case struct {
	// Name is short and fit for a file name.
	Name string
	// What says what the file holds (at full size).
	What  string
	write func(p *pdfWriter, z sizes) error
}

// sizes are the dimensions of the hostile parts.
type sizes struct {
	xrefEntries int   // entries of the big xref streams
	prevEntries int   // entries of each stream of a /Prev chain
	objStm      int64 // decoded bytes of each big object stream
	str         int   // length of the big string
	objects     int   // objects of the damaged file
}

// full are the sizes of the issue that asked for these files.
var full = sizes{xrefEntries: 8388600, prevEntries: 8000000, objStm: 256 * MiB, str: 80_000_000, objects: 2_000_000}

func (z sizes) div(d int) sizes {
	return sizes{xrefEntries: z.xrefEntries / d, prevEntries: z.prevEntries / d, objStm: z.objStm / int64(d), str: z.str / d, objects: z.objects / d}
}

// MiB is a mebibyte.
const MiB = 1 << 20

// Cases returns every hostile case, in a fixed order.
func Cases() []Case {
	return []Case{
		{"xref-free-8m", "an xref stream declaring 8,388,600 entries, all but five free", xrefFree8M},
		{"xref-compressed-8m", "an xref stream declaring 8,388,600 compressed entries in one object stream", xrefCompressed8M},
		{"prev-4", "four /Prev xref streams of 8 million free entries each", prevChain(4)},
		{"prev-40", "forty /Prev xref streams of 8 million free entries each", prevChain(40)},
		{"objstm-256m-1", "an object stream that inflates to 256 MiB", objStms(1)},
		{"objstm-256m-3", "three object streams that inflate to 256 MiB each", objStms(3)},
		{"objstm-256m-6", "six object streams that inflate to 256 MiB each", objStms(6)},
		{"flate-chain", "an object stream with /Filter [/FlateDecode /FlateDecode] that inflates to 256 MiB", flateChain},
		{"png-predictor", "an object stream with a PNG predictor over 256 MiB of inflated rows", pngPredictor},
		{"string-80m", "an 80 MB literal string in the catalog", bigString},
		{"repair-2m", "a 50 MB file with 2 million objects whose startxref points at no cross-reference", repair2M},
	}
}

// Lookup returns the case named name.
func Lookup(name string) (Case, bool) {
	for _, c := range Cases() {
		if c.Name == name {
			return c, true
		}
	}
	return Case{}, false
}

// Write writes the case's file to w.
func (c Case) Write(w io.Writer) error { return c.WriteScaled(w, 1) }

// WriteScaled writes the case's file to w with every hostile size (entries,
// decoded bytes, string length, objects) divided by div: the same structure,
// for tests of a reader with a budget divided likewise.
func (c Case) WriteScaled(w io.Writer, div int) error {
	if div < 1 || div > 1024 {
		return fmt.Errorf("hostile: scale 1/%d out of range", div)
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	pw := &pdfWriter{w: bw, offsets: map[int]int64{}}
	pw.printf("%%PDF-1.7\n%%\xe2\xe3\xcf\xd3\n")
	if err := c.write(pw, full.div(div)); err != nil {
		return fmt.Errorf("hostile: %s: %w", c.Name, err)
	}
	if pw.err != nil {
		return fmt.Errorf("hostile: %s: %w", c.Name, pw.err)
	}
	return bw.Flush()
}

// WriteFile writes the case's file to path.
func (c Case) WriteFile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := c.Write(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// pdfWriter writes a PDF file and records where each object starts.
type pdfWriter struct {
	w       io.Writer
	n       int64
	err     error
	offsets map[int]int64
}

func (p *pdfWriter) Write(b []byte) (int, error) {
	if p.err != nil {
		return 0, p.err
	}
	n, err := p.w.Write(b)
	p.n += int64(n)
	p.err = err
	return n, err
}

func (p *pdfWriter) printf(format string, args ...any) { fmt.Fprintf(p, format, args...) }

// object writes "num 0 obj body endobj".
func (p *pdfWriter) object(num int, body string) {
	p.offsets[num] = p.n
	p.printf("%d 0 obj\n%s\nendobj\n", num, body)
}

// stream writes stream object num with the dictionary entries dict (no
// /Length) and the encoded data.
func (p *pdfWriter) stream(num int, dict string, data []byte) {
	p.offsets[num] = p.n
	p.printf("%d 0 obj\n<<%s /Length %d>>\nstream\n", num, dict, len(data))
	p.Write(data)
	p.printf("\nendstream\nendobj\n")
}

// finish writes startxref and %%EOF.
func (p *pdfWriter) finish(xref int64) {
	p.printf("startxref\n%d\n%%%%EOF\n", xref)
}

// The document's objects. Cases put some of them in object streams.
var docObjects = map[int]string{
	1: "<</Type/Catalog/Pages 2 0 R/AcroForm 4 0 R>>",
	2: "<</Type/Pages/Kids[3 0 R]/Count 1>>",
	3: "<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]/Resources 5 0 R>>",
	4: "<</Fields[]>>",
	5: "<</ProcSet[/PDF]>>",
	6: "<</Producer(hashsign testdata/hostile)>>",
}

const docObjectCount = 6

// deflate returns the zlib compression of what fill writes.
func deflate(fill func(w io.Writer) error) ([]byte, error) {
	var b bytes.Buffer
	zw, err := zlib.NewWriterLevel(&b, zlib.BestCompression)
	if err != nil {
		return nil, err
	}
	bw := bufio.NewWriterSize(zw, 1<<16)
	if err := fill(bw); err != nil {
		return nil, err
	}
	if err := bw.Flush(); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// fillByte writes n copies of c.
func fillByte(w io.Writer, c byte, n int64) error {
	chunk := bytes.Repeat([]byte{c}, 1<<16)
	for n > 0 {
		k := min(n, int64(len(chunk)))
		if _, err := w.Write(chunk[:k]); err != nil {
			return err
		}
		n -= k
	}
	return nil
}

// row is one cross-reference stream row with /W [1 4 2].
func row(typ byte, f2 int64, f3 int) []byte {
	return []byte{typ, byte(f2 >> 24), byte(f2 >> 16), byte(f2 >> 8), byte(f2), byte(f3 >> 8), byte(f3)}
}

// xrefStream writes cross-reference stream num (W [1 4 2]) holding the
// given leading rows and then free rows up to size entries.
func (p *pdfWriter) xrefStream(num int, size int, lead [][]byte, extra string) error {
	p.offsets[num] = p.n
	off := p.n
	lead = append(lead, row(1, off, 0)) // the stream itself, object num
	if num != len(lead)-1 {
		return fmt.Errorf("xref stream object %d must follow the %d leading rows", num, len(lead)-1)
	}
	data, err := deflate(func(w io.Writer) error {
		for _, r := range lead {
			w.Write(r)
		}
		return fillByte(w, 0, int64(size-len(lead))*7)
	})
	if err != nil {
		return err
	}
	p.stream(num, fmt.Sprintf("/Type/XRef/Size %d/W[1 4 2]/Root 1 0 R/Info 6 0 R/Filter/FlateDecode%s", size, extra), data)
	p.finish(off)
	return nil
}

// plainRows returns the rows of objects 0..n-1 written by p.
func (p *pdfWriter) plainRows(n int) [][]byte {
	rows := [][]byte{row(0, 0, 65535)}
	for i := 1; i < n; i++ {
		rows = append(rows, row(1, p.offsets[i], 0))
	}
	return rows
}

func (p *pdfWriter) docObjects() {
	for i := 1; i <= docObjectCount; i++ {
		p.object(i, docObjects[i])
	}
}

// xrefFree8M: 8,388,600 entries, all free but the document's and the
// stream's own: about 58 MB of rows that compress to about 57 KB.
func xrefFree8M(p *pdfWriter, z sizes) error {
	p.docObjects()
	return p.xrefStream(docObjectCount+1, z.xrefEntries, p.plainRows(docObjectCount+1), "")
}

// xrefCompressed8M: as xrefFree8M, but every row after the document's is
// a compressed entry naming object stream 7, which holds nothing.
func xrefCompressed8M(p *pdfWriter, z sizes) error {
	p.docObjects()
	p.stream(7, "/Type/ObjStm/N 0/First 0", nil)
	num := docObjectCount + 2
	p.offsets[num] = p.n
	off := p.n
	size := z.xrefEntries
	lead := append(p.plainRows(num), row(1, off, 0))
	data, err := deflate(func(w io.Writer) error {
		for _, r := range lead {
			w.Write(r)
		}
		r := row(2, 7, 0)
		for i := len(lead); i < size; i++ {
			if _, err := w.Write(r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	p.stream(num, fmt.Sprintf("/Type/XRef/Size %d/W[1 4 2]/Root 1 0 R/Info 6 0 R/Filter/FlateDecode", size), data)
	p.finish(off)
	return nil
}

// prevChain returns a case whose newest xref stream lists the document and
// has /Prev pointing at a chain of n older xref streams, each declaring
// 8,000,000 free entries (one byte each, /W [1 0 0]).
func prevChain(n int) func(p *pdfWriter, z sizes) error {
	return func(p *pdfWriter, z sizes) error {
		p.docObjects()
		entries := z.prevEntries
		zeros, err := deflate(func(w io.Writer) error { return fillByte(w, 0, int64(entries)) })
		if err != nil {
			return err
		}
		prev := int64(-1)
		for i := 0; i < n; i++ {
			off := p.n
			dict := fmt.Sprintf("/Type/XRef/Size %d/Index[100 %d]/W[1 0 0]/Filter/FlateDecode", 100+entries, entries)
			if prev >= 0 {
				dict += fmt.Sprintf("/Prev %d", prev)
			}
			p.stream(100+i, dict, zeros)
			prev = off
		}
		return p.xrefStream(docObjectCount+1, docObjectCount+2, p.plainRows(docObjectCount+1), fmt.Sprintf("/Prev %d", prev))
	}
}

// objStms returns a case whose first k document objects each live alone in
// an object stream padded with spaces to 256 MiB.
func objStms(k int) func(p *pdfWriter, z sizes) error {
	return func(p *pdfWriter, z sizes) error {
		for i := k + 1; i <= docObjectCount; i++ {
			p.object(i, docObjects[i])
		}
		rows := [][]byte{row(0, 0, 65535)}
		for i := 1; i <= docObjectCount; i++ {
			if i <= k {
				rows = append(rows, row(2, int64(10+i), 0))
			} else {
				rows = append(rows, row(1, p.offsets[i], 0))
			}
		}
		rows = append(rows, nil) // the xref stream, filled in later
		for i := docObjectCount + 2; i <= 10; i++ {
			rows = append(rows, row(0, 0, 0))
		}
		for i := 1; i <= k; i++ {
			header := fmt.Sprintf("%d 0 ", i)
			body := docObjects[i]
			data, err := deflate(func(w io.Writer) error {
				io.WriteString(w, header+body)
				return fillByte(w, ' ', z.objStm-int64(len(header)+len(body)))
			})
			if err != nil {
				return err
			}
			rows = append(rows, row(1, p.n, 0))
			p.stream(10+i, fmt.Sprintf("/Type/ObjStm/N 1/First %d/Filter/FlateDecode", len(header)), data)
		}
		return p.xrefWithRows(docObjectCount+1, rows)
	}
}

// xrefWithRows writes xref stream num listing rows (whose row num is nil
// and is filled with the stream's own offset).
func (p *pdfWriter) xrefWithRows(num int, rows [][]byte) error {
	off := p.n
	p.offsets[num] = off
	rows[num] = row(1, off, 0)
	data, err := deflate(func(w io.Writer) error {
		for _, r := range rows {
			w.Write(r)
		}
		return nil
	})
	if err != nil {
		return err
	}
	p.stream(num, fmt.Sprintf("/Type/XRef/Size %d/W[1 4 2]/Root 1 0 R/Info 6 0 R/Filter/FlateDecode", len(rows)), data)
	p.finish(off)
	return nil
}

// oneObjStm writes the document with the catalog in object stream 11,
// whose encoded data and extra dictionary entries are given.
func (p *pdfWriter) oneObjStm(first int, dict string, data []byte) error {
	for i := 2; i <= docObjectCount; i++ {
		p.object(i, docObjects[i])
	}
	rows := [][]byte{row(0, 0, 65535), row(2, 11, 0)}
	for i := 2; i <= docObjectCount; i++ {
		rows = append(rows, row(1, p.offsets[i], 0))
	}
	rows = append(rows, nil, row(0, 0, 0), row(0, 0, 0), row(0, 0, 0), row(1, p.n, 0))
	p.stream(11, fmt.Sprintf("/Type/ObjStm/N 1/First %d%s", first, dict), data)
	return p.xrefWithRows(docObjectCount+1, rows)
}

// flateChain: the catalog's object stream is compressed twice, so that 1 KB
// of file inflates to 256 KB and then to 256 MiB.
func flateChain(p *pdfWriter, z sizes) error {
	header := "1 0 "
	inner, err := deflate(func(w io.Writer) error {
		io.WriteString(w, header+docObjects[1])
		return fillByte(w, ' ', z.objStm-int64(len(header)+len(docObjects[1])))
	})
	if err != nil {
		return err
	}
	outer, err := deflate(func(w io.Writer) error { _, err := w.Write(inner); return err })
	if err != nil {
		return err
	}
	return p.oneObjStm(len(header), "/Filter[/FlateDecode/FlateDecode]", outer)
}

// pngPredictor: the catalog's object stream is encoded with the PNG Up
// predictor over rows of 16384 bytes: 256 MiB of inflated rows, whose first
// row holds the object stream's header and catalog and whose others repeat
// it with no difference.
func pngPredictor(p *pdfWriter, z sizes) error {
	const columns = 16384
	header := "1 0 "
	first := []byte(header + docObjects[1])
	first = append(first, bytes.Repeat([]byte{' '}, columns-len(first))...)
	rowUp := append([]byte{2}, make([]byte, columns)...)
	data, err := deflate(func(w io.Writer) error {
		w.Write([]byte{0})
		w.Write(first)
		for n := int64(columns + 1); n < z.objStm; n += columns + 1 {
			if _, err := w.Write(rowUp); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return p.oneObjStm(len(header), fmt.Sprintf("/Filter/FlateDecode/DecodeParms<</Predictor 12/Columns %d>>", columns), data)
}

// table writes a classic cross-reference table listing objects 0..n-1 and
// a trailer with /Root 1 0 R, then startxref.
func (p *pdfWriter) table(n int) {
	off := p.n
	p.printf("xref\n0 %d\n0000000000 65535 f \n", n)
	for i := 1; i < n; i++ {
		p.printf("%010d 00000 n \n", p.offsets[i])
	}
	p.printf("trailer\n<</Size %d/Root 1 0 R/Info 6 0 R>>\n", n)
	p.finish(off)
}

// bigString: an 80 MB literal string in the catalog.
func bigString(p *pdfWriter, z sizes) error {
	p.offsets[1] = p.n
	p.printf("1 0 obj\n<</Type/Catalog/Pages 2 0 R/AcroForm 4 0 R/Junk (")
	if err := fillByte(p, 'A', int64(z.str)); err != nil {
		return err
	}
	p.printf(")>>\nendobj\n")
	for i := 2; i <= docObjectCount; i++ {
		p.object(i, docObjects[i])
	}
	p.table(docObjectCount + 1)
	return nil
}

// repair2M: the document followed by 2,000,000 small objects (every
// hundredth a stream), a trailer, and a startxref that points at the
// header instead of a cross-reference section: about 50 MB that a reader
// must scan to rebuild.
func repair2M(p *pdfWriter, z sizes) error {
	p.docObjects()
	var b strings.Builder
	for i := 0; i < z.objects; i++ {
		num := docObjectCount + 1 + i
		b.Reset()
		switch {
		case i%100 == 99:
			fmt.Fprintf(&b, "%d 0 obj\n<</Length 8>>stream\nq 1 0 0 \nendstream\nendobj\n", num)
		case i%2 == 0:
			fmt.Fprintf(&b, "%d 0 obj %d endobj\n", num, i%100)
		default:
			fmt.Fprintf(&b, "%d 0 obj<</K 1>>endobj\n", num)
		}
		io.WriteString(p, b.String())
	}
	p.printf("trailer\n<</Size %d/Root 1 0 R/Info 6 0 R>>\n", docObjectCount+1+z.objects)
	p.finish(9)
	return nil
}
