package pdf

import (
	"bytes"
	"testing"

	"hashsign/testdata/pdfgen"
)

// FuzzParseObject feeds the object parser arbitrary bytes. What parses
// must write back to a form that parses to the same thing.
func FuzzParseObject(f *testing.F) {
	for _, s := range []string{
		"<< /Type /Catalog /Pages 1 0 R >>", "[1 0 R (str\\)) <ab> /N#41 3.14 -7 true null]",
		"(\\0\\12\\123 \r\n x)", "<< /A << /B [ [ ] ] >> >>", "1 0 R", "/", "<>", "()",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		o, err := ParseObject(data)
		if err != nil {
			return
		}
		b, err := AppendObject(nil, o, nil)
		if err != nil {
			t.Fatalf("cannot write back %#v: %v", o, err)
		}
		o2, err := ParseObject(b)
		if err != nil {
			t.Fatalf("written form %q does not parse: %v", b, err)
		}
		b2, _ := AppendObject(nil, o2, nil)
		if !bytes.Equal(b, b2) {
			t.Fatalf("round trip changed %q into %q", b, b2)
		}
	})
}

// FuzzOpen feeds the cross-reference reader (tables, streams, hybrid
// files, object streams and the repair scan) arbitrary files, and loads
// every object they list.
func FuzzOpen(f *testing.F) {
	for _, k := range pdfgen.Kinds() {
		b, err := pdfgen.Bytes(k, pdfgen.Options{Form: true})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj 2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\nstartxref\n0\n%%EOF"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rd, err := Open(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		n := 0
		for num := range rd.Entries() {
			if n++; n > 500 {
				break
			}
			o, err := rd.Object(num)
			if err != nil {
				continue
			}
			if st, ok := o.(*Stream); ok {
				rd.StreamData(st, num, 0)
			}
		}
		rd.ResolveDict(rd.Trailer.Get("Root"))
		rd.NextObjectNumber()
	})
}
