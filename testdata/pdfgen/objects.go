package pdfgen

import (
	"bytes"
	"fmt"
)

// Objects returns a PDF file of the objects objs (PDF text), numbered
// from 1 in their order, with a classic cross-reference table and a
// trailer of /Size, /Root 1 0 R and the entries of trailer (PDF text, such
// as "/Encrypt 3 0 R"). It writes what it is given: objects that break the
// rules make a file that breaks them, as tests of hostile input want.
func Objects(trailer string, objs ...string) []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n")
	offsets := make([]int, len(objs))
	for i, o := range objs {
		offsets[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, off := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&b, "trailer\n<</Size %d/Root 1 0 R%s>>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, trailer, xref)
	return b.Bytes()
}
