package pdf

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"hashsign/testdata/hostile"
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
	for _, c := range hostile.Cases() {
		// the hostile files at a size that the small budget below refuses
		// or reads in milliseconds
		var b bytes.Buffer
		if err := c.WriteScaled(&b, 1024); err != nil {
			f.Fatal(err)
		}
		if b.Len() < 64<<10 {
			f.Add(b.Bytes())
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rd, err := OpenBudget(bytes.NewReader(data), int64(len(data)), Budget{Memory: 1 << 20})
		if err != nil {
			return
		}
		checkAccounting(t, rd)
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
		if len(rd.Sections) > 0 {
			rd.SectionEntries(0)
		}
		checkAccounting(t, rd)
	})
}

// FuzzDecode feeds the filter chain arbitrary stream dictionaries and data.
// Whatever it decodes, every stage's output is counted, so that a budget
// can stop it: the output never exceeds what the counter allowed.
func FuzzDecode(f *testing.F) {
	deflate := zlibBytes
	text := []byte("1 0 2 9 <</Type/Catalog/Pages 2 0 R>> <</Count 0>>")
	for _, s := range []struct {
		dict string
		data []byte
	}{
		{"<</Filter/FlateDecode>>", deflate(text)},
		{"<</Filter[/FlateDecode/FlateDecode]>>", deflate(deflate(make([]byte, 1<<16)))},
		{"<</Filter/FlateDecode/DecodeParms<</Predictor 12/Columns 4>>>>", deflate([]byte("\x02\x01\x00\x00\x10\x02\x00\x00\x00\x01\x00\x01\x02\x03\x04"))},
		{"<</Filter/FlateDecode/DecodeParms<</Predictor 15/Colors 3/BitsPerComponent 16/Columns 2>>>>", deflate(make([]byte, 130))},
		{"<</Filter/FlateDecode/DecodeParms<</Predictor 2/Colors 3/Columns 2>>>>", deflate(text)},
		{"<</Filter/ASCIIHexDecode>>", []byte("41 42 4>")},
		{"<</Filter[/AHx/Fl]/DecodeParms[null<</Predictor 11/Columns 3>>]>>", []byte("789c6364606002000012000a>")},
		{"<</Filter/Crypt>>", text},
	} {
		f.Add(s.dict, s.data)
	}
	f.Fuzz(func(t *testing.T, dict string, data []byte) {
		o, err := ParseObject([]byte(dict))
		d, ok := o.(*Dict)
		if err != nil || !ok {
			return
		}
		const allowed = 1 << 20
		errStop := errors.New("counter: enough")
		counted := 0
		r, err := decodeChain(bytes.NewReader(data), d, func(n int) error {
			if counted += n; counted > allowed {
				return errStop
			}
			return nil
		})
		if err != nil {
			return
		}
		out, err := io.ReadAll(io.LimitReader(r, 2*allowed))
		// the identity crypt filter passes the data through uncounted
		decoding := false
		switch f := d.Get("Filter").(type) {
		case Name:
			decoding = f != "Crypt"
		case Array:
			for _, n := range f {
				decoding = decoding || n != Name("Crypt")
			}
		}
		if !decoding {
			return
		}
		if len(out) > allowed {
			t.Fatalf("decoded %d bytes past a counter that allows %d (err %v)", len(out), allowed, err)
		}
		if err == nil && counted < len(out) {
			t.Fatalf("decoded %d bytes, counted %d", len(out), counted)
		}
	})
}
