package textpos

import (
	"fmt"
	"strings"
)

// handCase is a hand-built file and what it draws: each tag once, at the
// given effective size and angle.
type handCase struct {
	name     string
	file     []byte
	mediaBox box
	want     []wantTag
	// trueWidths: the fonts' /Widths are those of the glyphs that mutool
	// draws, so that its glyph boxes end where the advances do
	trueWidths bool
	// vertical: text in vertical writing, whose boxes pdftotext puts
	// 5 to 10 points away from mutool's (left out)
	vertical bool
}

type wantTag struct {
	tag         string
	page        int
	size, angle float64
}

var tags12 = []wantTag{{"#signature1#", 1, 12, 0}, {"#signature2#", 1, 12, 0}}

// handCases builds the hard cases: each is a file that no tool at hand
// writes in this form.
func handCases() []handCase {
	letter := box{0, 0, 612, 792, 0}
	var cases []handCase

	// a tag split over TJ elements with kerning, character and word
	// spacing and horizontal scaling; another over several Tj
	{
		b := &pdfBuilder{}
		f1 := b.simpleFont("Helvetica", "/Encoding /WinAnsiEncoding")
		cases = append(cases, handCase{"tj-split-kerning", b.document(page{
			resources: fmt.Sprintf("<< /Font << /F1 %d 0 R >> >>", f1),
			contents: []string{`BT /F1 12 Tf 1.5 Tc 3 Tw 90 Tz 72 700 Td
[(Buyer: ) -250 (#si) 120 (gna) -80 (tu) (re1#) ( and more)] TJ
0 Tc 0 Tw 100 Tz 0 -40 Td (Seller ) Tj (#sig) Tj (nat) Tj (ure2#) Tj ( done) Tj ET`},
		}), letter, tags12, false, false})
	}

	// a Type0 font with Identity-H, /W widths (list and range forms) and a
	// /ToUnicode CMap with bfrange (string and array forms) and bfchar
	{
		b := &pdfBuilder{}
		var list []string
		for c := 0x20; c <= 0x3F; c++ {
			list = append(list, fmt.Sprint(testWidth(c)))
		}
		desc := b.add("<< /Type /FontDescriptor /FontName /TestCID /Flags 4 /FontBBox [0 -200 1000 800] /ItalicAngle 0 /Ascent 800 /Descent -200 /CapHeight 700 /StemV 80 >>")
		cid := b.add(fmt.Sprintf("<< /Type /Font /Subtype /CIDFontType2 /BaseFont /TestCID /CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> /FontDescriptor %d 0 R /DW 1000 /W [%d [%s] %d %d 520] /CIDToGIDMap /Identity >>",
			desc, 0x320, strings.Join(list, " "), 0x340, 0x37E))
		toUni := b.stream("", `/CIDInit /ProcSet findresource begin
12 dict begin
begincmap
/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def
/CMapName /Adobe-Identity-UCS def
/CMapType 2 def
1 begincodespacerange
<0000> <FFFF>
endcodespacerange
2 beginbfrange
<0320> <033F> <0020>
<0361> <0365> [<0061> <0062> <0063> <0064> <0065>]
endbfrange
7 beginbfchar
<0367> <0067>
<0369> <0069>
<036E> <006E>
<0372> <0072>
<0373> <0073>
<0374> <0074>
<0375> <0075>
endbfchar
endcmap
CMapName currentdict /CMap defineresource pop
end
end`)
		f2 := b.add(fmt.Sprintf("<< /Type /Font /Subtype /Type0 /BaseFont /TestCID /Encoding /Identity-H /DescendantFonts [%d 0 R] /ToUnicode %d 0 R >>", cid, toUni))
		cases = append(cases, handCase{"identity-h", b.document(page{
			resources: fmt.Sprintf("<< /Font << /F2 %d 0 R >> >>", f2),
			contents: []string{fmt.Sprintf(`BT /F2 16 Tf 100 500 Td <%s> Tj ET
BT /F2 16 Tf 100 400 Td [<%s> -150 <%s> 90 <%s>] TJ ET`,
				cidHex("#signature1#"), cidHex("#sign"), cidHex("atu"), cidHex("re2#"))},
		}), letter, []wantTag{{"#signature1#", 1, 16, 0}, {"#signature2#", 1, 16, 0}}, false, false})
	}

	// a Type0 font with Identity-V: the glyphs go down the page, each
	// advancing by its /W2 vertical displacement or the /DW2 default
	{
		b := &pdfBuilder{}
		desc := b.add("<< /Type /FontDescriptor /FontName /TestCIDV /Flags 4 /FontBBox [0 -200 1000 800] /ItalicAngle 0 /Ascent 800 /Descent -200 /CapHeight 700 /StemV 80 >>")
		cid := b.add(fmt.Sprintf("<< /Type /Font /Subtype /CIDFontType2 /BaseFont /TestCIDV /CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> /FontDescriptor %d 0 R /DW 1000 /DW2 [880 -1000] /W2 [%d [-800 500 880]] /CIDToGIDMap /Identity >>", desc, 0x323))
		toUni := b.stream("", "1 begincodespacerange <0000> <FFFF> endcodespacerange 1 beginbfrange <0300> <03FF> <0000> endbfrange")
		f2 := b.add(fmt.Sprintf("<< /Type /Font /Subtype /Type0 /BaseFont /TestCIDV /Encoding /Identity-V /DescendantFonts [%d 0 R] /ToUnicode %d 0 R >>", cid, toUni))
		cases = append(cases, handCase{"identity-v", b.document(page{
			resources: fmt.Sprintf("<< /Font << /F2 %d 0 R >> >>", f2),
			contents:  []string{fmt.Sprintf("BT /F2 10 Tf 300 700 Td <%s> Tj ET", cidHex("#signature1#"))},
		}), letter, []wantTag{{"#signature1#", 1, 10, -90}}, true, true})
	}

	// tags in nested Form XObjects with their /Matrix, drawn under a cm
	{
		b := &pdfBuilder{}
		f1 := b.simpleFont("Helvetica", "/Encoding /WinAnsiEncoding")
		fm2 := b.stream(fmt.Sprintf("/Type /XObject /Subtype /Form /BBox [0 0 400 400] /Matrix [1.5 0 0 1.5 0 0] /Resources << /Font << /F1 %d 0 R >> >>", f1),
			`BT /F1 10 Tf 10 200 Td (#signature2#) Tj ET`)
		fm1 := b.stream(fmt.Sprintf("/Type /XObject /Subtype /Form /BBox [0 0 500 500] /Matrix [0.8 0 0 0.8 20 30] /Resources << /Font << /F1 %d 0 R >> /XObject << /Fm2 %d 0 R >> >>", f1, fm2),
			`BT /F1 12 Tf 10 400 Td (#signature1#) Tj ET q 1 0 0 1 0 -100 cm /Fm2 Do Q`)
		cases = append(cases, handCase{"form-xobject-matrix", b.document(page{
			resources: fmt.Sprintf("<< /XObject << /Fm1 %d 0 R >> >>", fm1),
			contents:  []string{`q 1 0 0 1 50 100 cm /Fm1 Do Q`},
		}), letter, []wantTag{{"#signature1#", 1, 12 * 0.8, 0}, {"#signature2#", 1, 10 * 1.5 * 0.8, 0}}, false, false})
	}

	// a text matrix turned by 30 degrees, and text turned by 90 degrees
	// through the CTM, in Courier with its true widths, so that mutool's
	// glyph boxes check where the text ends
	{
		b := &pdfBuilder{}
		f1 := b.add("<< /Type /Font /Subtype /Type1 /BaseFont /Courier /FirstChar 32 /LastChar 126 /Widths [" + strings.Repeat("600 ", 95) + "] /Encoding /WinAnsiEncoding >>")
		cases = append(cases, handCase{"rotated", b.document(page{
			resources: fmt.Sprintf("<< /Font << /F1 %d 0 R >> >>", f1),
			contents: []string{`BT /F1 12 Tf 0.8660254 0.5 -0.5 0.8660254 200 300 Tm (#signature1#) Tj ET
q 0 1 -1 0 400 100 cm BT /F1 14 Tf 50 20 Td (#signature2#) Tj ET Q`},
		}), letter, []wantTag{{"#signature1#", 1, 12, 30}, {"#signature2#", 1, 14, 90}}, true, false})
	}

	// a page whose /MediaBox does not start at 0,0
	{
		b := &pdfBuilder{}
		f1 := b.simpleFont("Helvetica", "/Encoding /WinAnsiEncoding")
		cases = append(cases, handCase{"mediabox-offset", b.document(page{
			mediaBox:  "100 200 712 992",
			resources: fmt.Sprintf("<< /Font << /F1 %d 0 R >> >>", f1),
			contents:  []string{`BT /F1 12 Tf 150 900 Td (#signature1#) Tj 0 -300 Td (#signature2#) Tj ET`},
		}), box{100, 200, 712, 992, 0}, tags12, false, false})
	}

	// a Type 3 font with its own FontMatrix and glyph names
	{
		b := &pdfBuilder{}
		var procs, widths []string
		for c := 32; c <= 126; c++ {
			widths = append(widths, fmt.Sprint(40+c%30))
		}
		for _, n := range []string{"numbersign", "s", "i", "g", "n", "a", "t", "u", "r", "e", "one", "two"} {
			procs = append(procs, fmt.Sprintf("/%s %d 0 R", n, b.stream("", "50 0 d0 5 0 40 60 re f")))
		}
		f3 := b.add(fmt.Sprintf("<< /Type /Font /Subtype /Type3 /FontBBox [0 0 100 100] /FontMatrix [0.01 0 0 0.01 0 0] /CharProcs << %s >> /Encoding << /Type /Encoding /Differences [35 /numbersign 49 /one /two 97 /a 101 /e 103 /g 105 /i 110 /n 114 /r /s /t /u] >> /FirstChar 32 /LastChar 126 /Widths [%s] /Resources << >> >>",
			strings.Join(procs, " "), strings.Join(widths, " ")))
		cases = append(cases, handCase{"type3", b.document(page{
			resources: fmt.Sprintf("<< /Font << /F3 %d 0 R >> >>", f3),
			contents:  []string{`BT /F3 20 Tf 72 600 Td (#signature1#) Tj 0 -50 Td (#signature2#) Tj ET`},
		}), letter, []wantTag{{"#signature1#", 1, 20, 0}, {"#signature2#", 1, 20, 0}}, false, false})
	}

	// a simple font whose /Differences put the tag's glyphs at codes 1 to
	// 12, with no /ToUnicode
	{
		b := &pdfBuilder{}
		var w []string
		for c := 1; c <= 12; c++ {
			w = append(w, fmt.Sprint(testWidth(c+40)))
		}
		f4 := b.add(fmt.Sprintf("<< /Type /Font /Subtype /Type1 /BaseFont /Times-Roman /FirstChar 1 /LastChar 12 /Widths [%s] /Encoding << /Type /Encoding /BaseEncoding /WinAnsiEncoding /Differences [1 /numbersign /s /i /g /n /a /t /u /r /e /one /two] >> >>", strings.Join(w, " ")))
		cases = append(cases, handCase{"differences", b.document(page{
			resources: fmt.Sprintf("<< /Font << /F4 %d 0 R >> >>", f4),
			contents:  []string{`BT /F4 12 Tf 72 600 Td (\001\002\003\004\005\006\007\010\011\012\013\001) Tj 0 -30 Td (\001\002\003\004\005\006\007\010\011\012\014\001) Tj ET`},
		}), letter, tags12, false, false})
	}

	// a tag split between the content streams of the page, and the
	// operands of a Td in one stream and the operator in the next, after
	// an inline image whose data holds "EI" and operators
	{
		b := &pdfBuilder{}
		f1 := b.simpleFont("Helvetica", "/Encoding /WinAnsiEncoding")
		cases = append(cases, handCase{"streams-inline-image", b.document(page{
			resources: fmt.Sprintf("<< /Font << /F1 %d 0 R >> >>", f1),
			contents: []string{"40 0 0 10 72 500 cm BI /W 11 /H 1 /BPC 8 /CS /G ID aEI 300 Tz\nEI 0.025 0 0 0.1 -1.8 -50 cm BT /F1 12 Tf 72 700",
				"Td (#sig) Tj", "(nature1#) Tj ET BT /F1 12 Tf 72 600 Td (#signature2#) Tj ET"},
		}), letter, tags12, false, false})
	}
	return cases
}

// cidHex returns the codes of text in the Identity-H test font: 0x300
// plus the character.
func cidHex(text string) string {
	var b strings.Builder
	for _, r := range text {
		fmt.Fprintf(&b, "%04X", 0x300+r)
	}
	return b.String()
}
