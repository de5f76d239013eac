package textpos

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"hashsign/internal/testenv"
	"hashsign/pades/internal/stdfont"
)

func TestGlyphText(t *testing.T) {
	for _, c := range []struct{ name, want string }{
		{"A", "A"},
		{"numbersign", "#"},
		{"Euro", "€"},
		{"dalethatafpatah", "\u05d3\u05b2"}, // an AGL entry of two characters
		{"uni0041", "A"},
		{"uni00410042", "AB"},
		{"uni0041.sc", "A"},
		{"u1F600", "\U0001F600"},
		{"f_i", "fi"},
		{"a_uni0062_c.alt", "abc"},
		{"uni004", ""},        // not a multiple of four digits
		{"uni0061x", ""},      // not hex
		{"uniD800", ""},       // a surrogate
		{"uni00e9", ""},       // lower-case hex is not allowed
		{"u110000", ""},       // beyond Unicode
		{"g123", ""},          // an arbitrary name
		{".notdef", ""},       // no name before the period
		{"one.oldstyle", "1"}, // a variant
	} {
		if got := glyphText(c.name); got != c.want {
			t.Errorf("glyphText(%q) = %+q, want %+q", c.name, got, c.want)
		}
	}
}

// TestBaseEncodings checks WinAnsiEncoding and MacRomanEncoding against
// Python's cp1252 and mac_roman codecs, and StandardEncoding against the
// codes and glyph names of a standard font's AFM file (URW's Nimbus Sans,
// whose encoding scheme is AdobeStandardEncoding).
func TestBaseEncodings(t *testing.T) {
	py := testenv.Need(t, "python3", ".ci/test installs it")
	for _, c := range []struct {
		name  string
		enc   *baseEncoding
		codec string
		// codes where ISO 32000-1 differs from the codec: 1252's undefined
		// codes are the bullet, and MacRoman's 219 is the currency sign
		// (Apple put the euro there later)
		differ map[int]string
	}{
		{"WinAnsiEncoding", &winAnsiEncoding, "cp1252", map[int]string{127: "•", 129: "•", 141: "•", 143: "•", 144: "•", 157: "•"}},
		{"MacRomanEncoding", &macRomanEncoding, "mac_roman", map[int]string{219: "¤", 127: ""}},
	} {
		out, err := exec.Command(py, "-c", fmt.Sprintf(`
import sys
for c in range(32, 256):
    try:
        print(c, ord(bytes([c]).decode(%q)))
    except UnicodeDecodeError:
        print(c, -1)
`, c.codec)).Output()
		if err != nil {
			t.Fatalf("python3: %v", err)
		}
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			var code, r int
			if _, err := fmt.Sscan(line, &code, &r); err != nil {
				t.Fatal(err)
			}
			want := ""
			if r >= 0 {
				want = string(rune(r))
			}
			if d, ok := c.differ[code]; ok {
				want = d
			}
			if got := c.enc[code]; got != want {
				t.Errorf("%s code %d: %+q, want %+q", c.name, code, got, want)
			}
		}
	}
	afm := "/usr/share/fonts/type1/urw-base35/NimbusSans-Regular.afm"
	testenv.Need(t, afm, "Debian's fonts-urw-base35, which .ci/test installs")
	f, err := os.Open(afm)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	seen := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// C 39 ; WX 222 ; N quoteright ; B ...
		fields := strings.Fields(sc.Text())
		if len(fields) < 8 || fields[0] != "C" || fields[6] != "N" {
			continue
		}
		code, _ := strconv.Atoi(fields[1])
		if code < 0 {
			continue
		}
		seen++
		if got, want := standardEncoding[code], glyphText(fields[7]); got != want {
			t.Errorf("StandardEncoding code %d: %+q, want %+q (%s)", code, got, want, fields[7])
		}
	}
	if seen != 149 {
		t.Errorf("%d codes in %s, want the 149 of StandardEncoding", seen, afm)
	}
}

// TestStandardWidths checks the standard fonts' widths against figures of
// Adobe's metrics, and that every character of the base encodings has one.
func TestStandardWidths(t *testing.T) {
	for _, c := range []struct {
		font string
		text string
		want float64
	}{
		{"Helvetica", "H", 722}, {"Helvetica", "e", 556}, {"Helvetica-Bold", "i", 278},
		{"Times-Roman", "e", 444}, {"Times-Italic", "m", 722}, {"Times-BoldItalic", "A", 667},
		{"Courier", "W", 600}, {"Courier-BoldOblique", "€", 600},
		{"ABCDEF+Arial,Bold", "#", 556}, // a subset tag and an alias
		{"Symbol", "a", 500},            // no metrics: the fallback
	} {
		f := &font{scale: 0.001}
		f.names = winAnsiEncoding
		standardWidths(f, c.font)
		code := -1
		for i, s := range winAnsiEncoding {
			if s == c.text {
				code = i
				break
			}
		}
		if got := f.widths[code]; got != c.want {
			t.Errorf("%s %q: width %v, want %v", c.font, c.text, got, c.want)
		}
	}
	for _, enc := range []*baseEncoding{&standardEncoding, &winAnsiEncoding, &macRomanEncoding} {
		for code, s := range enc {
			r := []rune(s)
			if len(r) == 0 || r[0] == 0xF8FF || r[0] == 0xAD {
				continue
			}
			if _, found := stdfont.Helvetica.Width(r[0]); !found {
				t.Errorf("code %d %q: no standard width", code, s)
			}
		}
	}
}

func TestCMap(t *testing.T) {
	m := &cmap{}
	err := parseCMap([]byte(`/CIDInit /ProcSet findresource begin 12 dict begin begincmap
/WMode 1 def
2 begincodespacerange <00> <80> <8140> <9FFC> endcodespacerange
2 beginbfchar <41> <0042> <8141> /Euro endbfchar
3 beginbfrange <61> <63> <0041>
<8150> <8152> [<0078> <00790079> <D83DDE00>]
<8160> <8161> <D83DDE00>
<8170> <8171> <D83DDFFF>
endbfrange
2 begincidrange <00> <7f> 1 <8140> <817e> 633 endcidrange
1 begincidchar <8141> 999 endcidchar
endcmap CMapName currentdict /CMap defineresource pop end end`), m)
	if err != nil {
		t.Fatal(err)
	}
	if m.wmode != 1 {
		t.Errorf("WMode %d", m.wmode)
	}
	for _, c := range []struct {
		in   string // bytes
		n    int    // code length
		text string // "-" for none
		cid  int
	}{
		{"\x41", 1, "B", 66},
		{"\x62", 1, "B", 99}, // from the range, counting up
		{"\x63\x81", 1, "C", 100},
		{"\x64", 1, "-", 101},
		{"\x81\x41", 2, "€", 999},
		{"\x81\x42", 2, "-", 635},
		{"\x81\x50", 2, "x", 649},
		{"\x81\x51", 2, "yy", 650},
		{"\x81\x52", 2, "\U0001F600", 651},
		{"\x81\x61", 2, "\U0001F601", 666}, // a surrogate pair counting up
		{"\x81\x71", 2, "\U0001F800", 682}, // over the end of a low surrogate
		{"\xA0\x41", 1, "-", 0},            // in no range: one byte
	} {
		k := m.split([]byte(c.in))
		if k.n != c.n {
			t.Errorf("% x: code of %d bytes, want %d", c.in, k.n, c.n)
			continue
		}
		text, ok := m.unicode(k)
		if !ok {
			text = "-"
		}
		if text != c.text {
			t.Errorf("% x: text %+q, want %+q", c.in, text, c.text)
		}
		if cid := m.cid(k); cid != c.cid {
			t.Errorf("% x: CID %d, want %d", c.in, cid, c.cid)
		}
	}
	// codespace ranges that overlap: a code is the shortest that matches
	overlap := &cmap{}
	if err := parseCMap([]byte("2 begincodespacerange <0000> <FFFF> <00> <7F> endcodespacerange"), overlap); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		in string
		n  int
	}{{"\x41\x42", 1}, {"\x81\x42", 2}, {"\x81", 1}} {
		if k := overlap.split([]byte(c.in)); k.n != c.n {
			t.Errorf("overlapping ranges: % x: code of %d bytes, want %d", c.in, k.n, c.n)
		}
	}
}

// TestMatching feeds the matcher glyphs as the interpreter emits them.
func TestMatching(t *testing.T) {
	// row returns glyphs of text on one baseline from (x, y), each 6
	// points wide, with gaps of gap after each
	row := func(text string, x, y, gap float64) []glyph {
		var gs []glyph
		for _, r := range text {
			gs = append(gs, glyph{text: normalize(string(r)), x: x, y: y, ex: x + 6, ey: y, dx: 1, size: 10})
			x += 6 + gap
		}
		return gs
	}
	cat := func(parts ...[]glyph) []glyph {
		var out []glyph
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	for _, c := range []struct {
		name   string
		needle string
		glyphs []glyph
		want   []Place
	}{
		{"one row", "#tag#", row("x #tag# y", 100, 500, 0), []Place{{Page: 1, X: 112, Y: 500, Width: 30, FontSize: 10}}},
		{"kerned apart", "#tag#", row("#tag#", 100, 500, 2), []Place{{Page: 1, X: 100, Y: 500, Width: 38, FontSize: 10}}},
		{"split over two lines", "#tag#", cat(row("#ta", 100, 500, 0), row("g#", 118, 485, 0)), nil},
		{"too far apart", "#tag#", cat(row("#ta", 100, 500, 0), row("g#", 200, 500, 0)), nil},
		{"drawn back to front", "#tag#", cat(row("#ta", 100, 500, 0), row("g#", 60, 500, 0)), nil},
		{"drawn twice over itself", "#tag#", cat(row("#tag#", 100, 500, 0), row("#tag#", 100.3, 500.3, 0)), []Place{{Page: 1, X: 100, Y: 500, Width: 30, FontSize: 10}}},
		{"twice", "#tag#", cat(row("#tag#", 100, 500, 0), row("#tag#", 100, 400, 0)), []Place{{Page: 1, X: 100, Y: 500, Width: 30, FontSize: 10}, {Page: 1, X: 100, Y: 400, Width: 30, FontSize: 10}}},
		{"white space ignored", "sign here", row("please signhere", 100, 500, 0), []Place{{Page: 1, X: 142, Y: 500, Width: 48, FontSize: 10}}},
		{"ligature", "#fit#", row("#\ufb01t#", 100, 500, 0), []Place{{Page: 1, X: 100, Y: 500, Width: 24, FontSize: 10}}},
		{"prefix only", "#tag#", row("#tag", 100, 500, 0), nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := &matcher{needle: normalize(c.needle), page: 1}
			for _, g := range c.glyphs {
				m.add(g)
			}
			if fmt.Sprint(m.places) != fmt.Sprint(c.want) {
				t.Errorf("places %+v, want %+v", m.places, c.want)
			}
		})
	}
}

// TestLimits runs Find on content that goes over each limit, on forms
// that draw themselves, and with a context that has ended.
func TestLimits(t *testing.T) {
	nested := func(depth int) []byte {
		b := &pdfBuilder{}
		f1 := b.simpleFont("Helvetica", "/Encoding /WinAnsiEncoding")
		inner := b.stream(fmt.Sprintf("/Type /XObject /Subtype /Form /BBox [0 0 10 10] /Resources << /Font << /F1 %d 0 R >> >>", f1), `BT /F1 12 Tf 72 700 Td (#signature1#) Tj ET`)
		for i := 1; i < depth; i++ {
			inner = b.stream(fmt.Sprintf("/Type /XObject /Subtype /Form /BBox [0 0 10 10] /Resources << /XObject << /X %d 0 R >> >>", inner), `/X Do`)
		}
		return b.document(page{resources: fmt.Sprintf("<< /XObject << /X %d 0 R >> >>", inner), contents: []string{"/X Do"}})
	}
	// a form that draws itself twice: without the guard, 2^depth draws
	selfDrawing := func() []byte {
		b := &pdfBuilder{}
		f1 := b.simpleFont("Helvetica", "/Encoding /WinAnsiEncoding")
		x := b.reserve()
		b.set(x, fmt.Sprintf("<< /Type /XObject /Subtype /Form /BBox [0 0 10 10] /Resources << /Font << /F1 %d 0 R >> /XObject << /X %d 0 R >> >> /Length 52 >>\nstream\nBT /F1 12 Tf 72 700 Td (#signature1#) Tj ET /X Do /X Do\nendstream", f1, x))
		return b.document(page{resources: fmt.Sprintf("<< /XObject << /X %d 0 R >> >>", x), contents: []string{"/X Do"}})
	}
	long := func(n int) []byte {
		b := &pdfBuilder{}
		return b.document(page{resources: "<< >>", contents: []string{strings.Repeat("q Q ", n)}})
	}
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, c := range []struct {
		name    string
		file    []byte
		ctx     context.Context
		limits  Limits
		places  int
		wantErr error
	}{
		{"forms 16 deep", nested(16), context.Background(), Limits{}, 1, nil},
		{"forms 17 deep", nested(17), context.Background(), Limits{}, 0, ErrLimit},
		{"forms 5 deep, limit 4", nested(5), context.Background(), Limits{Depth: 4}, 0, ErrLimit},
		{"a form that draws itself", selfDrawing(), context.Background(), Limits{}, 1, nil},
		{"operations", long(1000), context.Background(), Limits{Operations: 1500}, 0, ErrLimit},
		{"operations within", long(1000), context.Background(), Limits{Operations: 2000}, 0, nil},
		{"memory", long(1000), context.Background(), Limits{Memory: 3000}, 0, ErrLimit},
		{"canceled", long(10000), canceled, Limits{}, 0, context.Canceled},
	} {
		t.Run(c.name, func(t *testing.T) {
			rd, cat := open(t, c.file, "")
			places, err := Find(c.ctx, rd, rd.Pages(cat), "#signature1#", c.limits)
			if !errors.Is(err, c.wantErr) || (c.wantErr != nil) != (err != nil) {
				t.Fatalf("error %v, want %v", err, c.wantErr)
			}
			if len(places) != c.places {
				t.Errorf("%d places, want %d", len(places), c.places)
			}
		})
	}
}
