package textpos

import (
	"bytes"
	"fmt"
	"strings"
)

// pdfBuilder writes small PDF files by hand, for the cases that the tools
// at hand do not produce.
type pdfBuilder struct {
	objs []string
}

// add adds an object and returns its number.
func (b *pdfBuilder) add(body string) int {
	b.objs = append(b.objs, body)
	return len(b.objs)
}

// reserve adds an object to be set later.
func (b *pdfBuilder) reserve() int { return b.add("null") }

// set sets object num.
func (b *pdfBuilder) set(num int, body string) { b.objs[num-1] = body }

// stream adds a stream object with the entries dict (without << >>).
func (b *pdfBuilder) stream(dict, data string) int {
	return b.add(fmt.Sprintf("<< %s /Length %d >>\nstream\n%s\nendstream", dict, len(data)+1, data))
}

// bytes writes the file with the catalog root.
func (b *pdfBuilder) bytes(root int) []byte {
	var w bytes.Buffer
	w.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	offs := make([]int, len(b.objs))
	for i, o := range b.objs {
		offs[i] = w.Len()
		fmt.Fprintf(&w, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	x := w.Len()
	fmt.Fprintf(&w, "xref\n0 %d\n0000000000 65535 f \n", len(b.objs)+1)
	for _, o := range offs {
		fmt.Fprintf(&w, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&w, "trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(b.objs)+1, root, x)
	return w.Bytes()
}

// page describes one page of a hand-built file.
type page struct {
	mediaBox  string   // default "0 0 612 792"
	resources string   // the resource dictionary
	contents  []string // one or more content streams
}

// document writes a file of pages.
func (b *pdfBuilder) document(pages ...page) []byte {
	pagesNum := b.reserve()
	var kids []string
	for _, p := range pages {
		var cs []string
		for _, c := range p.contents {
			cs = append(cs, fmt.Sprintf("%d 0 R", b.stream("", c)))
		}
		mb := p.mediaBox
		if mb == "" {
			mb = "0 0 612 792"
		}
		kids = append(kids, fmt.Sprintf("%d 0 R", b.add(fmt.Sprintf(
			"<< /Type /Page /Parent %d 0 R /MediaBox [%s] /Resources %s /Contents [%s] >>",
			pagesNum, mb, p.resources, strings.Join(cs, " ")))))
	}
	b.set(pagesNum, fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %d >>", strings.Join(kids, " "), len(kids)))
	return b.bytes(b.add(fmt.Sprintf("<< /Type /Catalog /Pages %d 0 R >>", pagesNum)))
}

// testWidth is the glyph width that the hand-built simple fonts give code
// c: varied, so that a width taken from the wrong code shows.
func testWidth(c int) int { return 400 + c*37%300 }

// simpleFont adds a Type1 font named base with /Widths of testWidth for
// codes 32 to 126, and the extra entries extra, and returns its number.
func (b *pdfBuilder) simpleFont(base, extra string) int {
	var w []string
	for c := 32; c <= 126; c++ {
		w = append(w, fmt.Sprint(testWidth(c)))
	}
	return b.add(fmt.Sprintf("<< /Type /Font /Subtype /Type1 /BaseFont /%s /FirstChar 32 /LastChar 126 /Widths [%s] %s >>",
		base, strings.Join(w, " "), extra))
}
