package pdf

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"hashsign/testdata/pdfgen"
)

// TestOpenForms reads a file of every cross-reference form and checks the
// sections, the trailer and that every listed object loads.
func TestOpenForms(t *testing.T) {
	cases := []struct {
		kind  pdfgen.Kind
		kinds string // section kinds, newest first
	}{
		{pdfgen.Table, "table"},
		{pdfgen.Stream, "stream"},
		{pdfgen.Hybrid, "hybrid"},
		{pdfgen.TableIncremental, "table,table"},
		{pdfgen.StreamIncremental, "stream,stream"},
		{pdfgen.MixedStreamThenTable, "table,stream"},
	}
	for _, c := range cases {
		t.Run(c.kind.String(), func(t *testing.T) {
			b, err := pdfgen.Bytes(c.kind, pdfgen.Options{Form: true, Pages: 2})
			if err != nil {
				t.Fatal(err)
			}
			rd, err := Open(bytes.NewReader(b), int64(len(b)))
			if err != nil {
				t.Fatal(err)
			}
			if rd.Repaired {
				t.Fatalf("repaired a sound file: %s", rd.RepairReason)
			}
			var kinds []string
			for _, s := range rd.Sections {
				kinds = append(kinds, s.Kind.String())
			}
			if got := strings.Join(kinds, ","); got != c.kinds {
				t.Errorf("sections %s, want %s", got, c.kinds)
			}
			compressed := 0
			for num, e := range rd.Entries() {
				if e.Type == EntryFree {
					continue
				}
				if e.Type == EntryCompressed {
					compressed++
				}
				o, err := rd.Object(num)
				if err != nil {
					t.Errorf("object %d: %v", num, err)
				}
				if o == nil {
					t.Errorf("object %d: null", num)
				}
			}
			if (c.kind == pdfgen.Stream || c.kind == pdfgen.Hybrid) && compressed == 0 {
				t.Error("no compressed objects found: the object streams were not read")
			}
			root, err := rd.ResolveDict(rd.Trailer.Get("Root"))
			if err != nil || root.Get("Type") != Name("Catalog") {
				t.Fatalf("catalog: %v %v", root, err)
			}
			if rd.NextObjectNumber() <= rd.maxNum {
				t.Errorf("next object number %d is in use", rd.NextObjectNumber())
			}
		})
	}
}

// TestOpenDamaged checks the repair of damaged files and the refusal of
// truncated ones.
func TestOpenDamaged(t *testing.T) {
	table, _ := pdfgen.Bytes(pdfgen.TableIncremental, pdfgen.Options{})
	stream, _ := pdfgen.Bytes(pdfgen.Stream, pdfgen.Options{})
	hybrid, _ := pdfgen.Bytes(pdfgen.Hybrid, pdfgen.Options{})
	replaceLast := func(b []byte, old, new string) []byte {
		i := bytes.LastIndex(b, []byte(old))
		if i < 0 {
			t.Fatalf("%q not found", old)
		}
		return append(append(append([]byte{}, b[:i]...), new...), b[i+len(old):]...)
	}
	startxrefTo := func(b []byte, off string) []byte {
		i := bytes.LastIndex(b, []byte("startxref"))
		return append(append([]byte{}, b[:i]...), "startxref\n"+off+"\n%%EOF\n"...)
	}
	cases := []struct {
		name     string
		data     []byte
		repaired bool
		err      string
	}{
		{"startxref off target (table)", startxrefTo(table, "17"), true, ""},
		{"startxref off target (stream)", startxrefTo(stream, "17"), true, ""},
		{"startxref off target (hybrid)", startxrefTo(hybrid, "9"), true, ""},
		{"startxref beyond the end", startxrefTo(table, "99999999"), true, ""},
		{"wrong object offset", replaceLast(table, " 00000 n", " 00000 n"), false, ""},
		{"junk after %%EOF", append(append([]byte{}, table...), []byte("\r\n\x00\x00garbage written by a mail gateway\n")...), false, ""},
		{"truncated", table[:len(table)/2], false, "truncated"},
		{"not a PDF", []byte("hello"), false, "not a PDF"},
	}
	// shift one in-use offset of the newest table by one byte
	if i := bytes.LastIndex(table, []byte("xref")); i > 0 {
		j := bytes.Index(table[i:], []byte(" 00000 n"))
		if j > 10 {
			k := i + j - 10
			off := string(table[k : k+10])
			shifted := []byte(off)
			shifted[9]++
			b := append([]byte{}, table...)
			copy(b[k:], shifted)
			cases[4].data, cases[4].repaired = b, true
		}
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rd, err := Open(bytes.NewReader(c.data), int64(len(c.data)))
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err %v, want %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if rd.Repaired != c.repaired {
				t.Errorf("repaired %v (%s), want %v", rd.Repaired, rd.RepairReason, c.repaired)
			}
			root, err := rd.ResolveDict(rd.Trailer.Get("Root"))
			if err != nil || root == nil || root.Get("Type") != Name("Catalog") {
				t.Fatalf("catalog: %v", err)
			}
			pages, err := rd.ResolveDict(root.Get("Pages"))
			if err != nil || pages == nil {
				t.Fatalf("pages: %v", err)
			}
		})
	}
	if !errors.Is(ErrNotPDF, ErrNotPDF) {
		t.Fatal()
	}
}

func TestParseObject(t *testing.T) {
	cases := []struct {
		in, out string
	}{
		{"<< /Type /Page /Kids [1 0 R 2 0 R] /Count 2 >>", "<</Type /Page/Kids [1 0 R 2 0 R]/Count 2>>"},
		{"(a\\(b\\)c\\\\\\101)", "(a\\(b\\)c\\\\A)"},
		{"(nested (parens) ok)", "(nested \\(parens\\) ok)"},
		{"<48 65 6C6C6F>", "<48656C6C6F>"},
		{"<486>", "<4860>"},
		{"/A#20B", "/A#20B"},
		{"[1 -2 +3 .5 -0.25 true false null]", "[1 -2 3 .5 -0.25 true false null]"},
		{"<</K 1 0 R /V null>>", "<</K 1 0 R>>"},
		{"[1 2 R]", "[1 2 R]"},
		{"% comment\n42", "42"},
	}
	for _, c := range cases {
		o, err := ParseObject([]byte(c.in))
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		b, err := AppendObject(nil, o, nil)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != c.out {
			t.Errorf("%q: got %q, want %q", c.in, b, c.out)
		}
	}
	for _, bad := range []string{"", "<<", "[1 2", "(unterminated", "<4G>", ")", "<< 1 2 >>", strings.Repeat("[", 1000)} {
		if _, err := ParseObject([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestTextString(t *testing.T) {
	for _, s := range []string{"plain", "Zürich", "東京 🤖"} {
		if got := DecodeTextString(TextString(s).Value); got != s {
			t.Errorf("%q: round trip gave %q", s, got)
		}
	}
}

// TestLengthCycle: stream lengths that refer to each other must give an
// error, not an endless recursion.
func TestLengthCycle(t *testing.T) {
	var b bytes.Buffer
	b.WriteString("%PDF-1.5\n")
	off := []int{}
	obj := func(s string) { off = append(off, b.Len()); b.WriteString(s) }
	obj("1 0 obj\n<</Type/Catalog/Pages 2 0 R>>\nendobj\n")
	obj("2 0 obj\n<</Type/Pages/Kids[]/Count 0>>\nendobj\n")
	obj("3 0 obj\n<</Length 4 0 R>>stream\nxx\nendstream\nendobj\n")
	obj("4 0 obj\n<</Length 3 0 R>>stream\nyy\nendstream\nendobj\n")
	x := b.Len()
	b.WriteString("xref\n0 5\n0000000000 65535 f \n")
	for _, o := range off {
		b.WriteString(fmt.Sprintf("%010d 00000 n \n", o))
	}
	b.WriteString(fmt.Sprintf("trailer\n<</Size 5/Root 1 0 R>>\nstartxref\n%d\n%%%%EOF\n", x))
	data := b.Bytes()
	rd, err := Open(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{3, 4} {
		if _, err := rd.Object(n); err != nil {
			t.Logf("object %d: %v", n, err)
		}
	}
}
