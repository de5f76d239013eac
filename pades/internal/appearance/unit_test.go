package appearance

import (
	"encoding/binary"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	"hashsign/pades/internal/stdfont"
)

func TestParseTemplate(t *testing.T) {
	cases := []struct {
		in      string
		want    func(*Template) bool
		wantErr string
	}{
		{in: "", want: func(t *Template) bool { return slices.Equal(t.Lines, DefaultTemplate().Lines) && t.Labels }},
		{in: "lines=name,date", want: func(t *Template) bool { return slices.Equal(t.Lines, []Field{FieldName, FieldDate}) }},
		{in: " lines = location , name ; labels=off ", want: func(t *Template) bool {
			return slices.Equal(t.Lines, []Field{FieldLocation, FieldName}) && !t.Labels
		}},
		{in: "image=behind", want: func(t *Template) bool { return t.Image == ImageBehind }},
		{in: "image=none", want: func(t *Template) bool { return t.Image == ImageNone }},
		{in: "date=02.01.2006 15:04 MST", want: func(t *Template) bool { return t.DateLayout == "02.01.2006 15:04 MST" }},
		{in: "size=36;minsize=8", want: func(t *Template) bool { return t.MaxSize == 36 && t.MinSize == 8 }},
		{in: "lines=name,signature", wantErr: `unknown field "signature"`},
		{in: "lines=name,name", wantErr: "given twice"},
		{in: "image=right", wantErr: "want left, behind or none"},
		{in: "labels=yes", wantErr: "want on or off"},
		{in: "size=0", wantErr: "from 1 to 200"},
		{in: "size=6;minsize=8", wantErr: "larger than size"},
		{in: "colour=red", wantErr: "unknown appearance setting"},
		{in: "lines", wantErr: "not key=value"},
		{in: "date=", wantErr: "empty layout"},
	}
	for _, c := range cases {
		got, err := ParseTemplate(c.in)
		switch {
		case c.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("ParseTemplate(%q): error %v, want one with %q", c.in, err, c.wantErr)
			}
		case err != nil:
			t.Errorf("ParseTemplate(%q): %v", c.in, err)
		case !c.want(got):
			t.Errorf("ParseTemplate(%q) = %+v", c.in, got)
		}
	}
}

// TestRenderErrors: what cannot be drawn is refused with a message that
// says why, and nothing is written.
func TestRenderErrors(t *testing.T) {
	long := strings.Repeat("Reason that goes on and on ", 40)
	cutJPEG := testImage(t, "jpeg-rgb")
	broken := defaultFont(t)
	loca := make([]byte, 4*(broken.numGlyphs+1))
	for g := 1; g <= broken.numGlyphs; g += 2 {
		binary.BigEndian.PutUint32(loca[4*g:], uint32(len(broken.glyf)))
	}
	broken.loca, broken.longLoca = loca, true
	cases := []struct {
		name string
		spec Spec
		want string
	}{
		{"too much text", Spec{Width: 60, Height: 20, Name: "Jane", Reason: long}, "does not fit"},
		{"no room beside the image", Spec{Width: 6, Height: 6, Name: "Jane"}, "does not fit"},
		{"no glyph", Spec{Width: 200, Height: 50, Name: "张伟"}, "U+5F20"},
		{"broken font", Spec{Width: 200, Height: 50, Name: "Jane", Font: broken}, "subsetting font"},
		{"rotation", Spec{Width: 200, Height: 50, Name: "Jane", Rotate: 45}, "multiple of 90"},
		{"size", Spec{Width: 0, Height: 50, Name: "Jane"}, "positive size"},
		{"NaN size", Spec{Width: math.NaN(), Height: 50, Name: "Jane"}, "positive size"},
		{"image", Spec{Width: 200, Height: 50, Name: "Jane", Image: []byte("GIF89a....")}, "neither PNG nor JPEG"},
		{"broken png", Spec{Width: 200, Height: 50, Name: "Jane", Image: []byte("\x89PNG\r\n\x1a\nbroken")}, "reading PNG"},
		{"cut jpeg", Spec{Width: 200, Height: 50, Name: "Jane", Image: cutJPEG[:len(cutJPEG)-40]}, "reading JPEG"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := newMemWriter(1)
			_, err := Render(m, &c.spec)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Render: error %v, want one with %q", err, c.want)
			}
			if len(m.objs) != 0 {
				t.Errorf("Render failed but wrote %d objects", len(m.objs))
			}
		})
	}
	_, err := Render(newMemWriter(1), &cases[0].spec)
	if !errors.Is(err, ErrNoFit) {
		t.Errorf("text that does not fit: %v is not ErrNoFit", err)
	}
}

func defaultFont(t *testing.T) *Font {
	t.Helper()
	f, err := DefaultFont()
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestArabicShaping shapes Arabic through the default font's GSUB table
// and, with that table removed, through Unicode presentation forms: both
// give the positional forms and the lam-alef ligature.
func TestArabicShaping(t *testing.T) {
	f := defaultFont(t)
	cp := func(r rune) int {
		g, ok := f.GlyphIndex(r)
		if !ok {
			t.Fatalf("the default font has no U+%04X", r)
		}
		return g
	}
	// سلام: seen (initial), lam-alef (final ligature), meem (isolated);
	// in visual order meem, lam-alef, seen.
	// The font's GSUB keeps the nominal meem as its isolated form (its
	// isol feature is contextual, which the shaper does not apply).
	for _, mode := range []string{"gsub", "presentation forms"} {
		want := []int{cp(0x0645), cp(0xFEFC), cp(0xFEB3)}
		ff := *f
		if mode == "presentation forms" {
			ff.gsub = nil
			want[0] = cp(0xFEE1)
		}
		fc := newFace(&ff, "F1")
		gs, rtl, err := shapeLine("سلام", []*face{fc}, &shapeBudget{})
		if err != nil {
			t.Fatal(err)
		}
		var ids []int
		var texts []string
		for _, g := range gs {
			ids = append(ids, g.id)
			texts = append(texts, g.text)
		}
		if !rtl || !slices.Equal(ids, want) || !slices.Equal(texts, []string{"م", "لا", "س"}) {
			t.Errorf("%s: glyphs %v %q (rtl %v), want %v [م لا س]", mode, ids, texts, rtl, want)
		}
	}
}

func TestJoiningForms(t *testing.T) {
	// بيت: beh initial, yeh medial, teh final; دار: dal isolated (it does
	// not join the next), alef final... no: alef isolated after dal, reh
	// isolated; a mark between letters keeps them joined.
	cases := []struct {
		in   string
		want []int
	}{
		{"بيت", []int{formInit, formMedi, formFina}},
		{"دار", []int{formIsol, formIsol, formIsol}},
		{"بَت", []int{formInit, formNone, formFina}},
		{"ب", []int{formIsol}},
		{"a ب", []int{formNone, formNone, formIsol}},
	}
	for _, c := range cases {
		if got := joiningForms([]rune(c.in)); !slices.Equal(got, c.want) {
			t.Errorf("joiningForms(%q) = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestBidiOrder(t *testing.T) {
	cases := []struct{ in, want string }{
		{"Jane Signer", "Jane Signer"},
		{"ابت", "تبا"},
		{"Location: القاهرة", "Location: ةرهاقلا"},
		{"عدد 123", "123 ددع"},
		{"عدد (٣)", "(٣) ددع"},
		{"abc ابت def", "abc تبا def"},
		{"abc عدد 123", "abc 123 ددع"},
	}
	for _, c := range cases {
		rs := []rune(c.in)
		levels, _ := bidiLevels(rs)
		var out []rune
		for _, i := range reorder(levels) {
			r := rs[i]
			if m, ok := mirrors[r]; ok && levels[i]%2 == 1 {
				r = m
			}
			out = append(out, r)
		}
		if string(out) != c.want {
			t.Errorf("visual order of %q = %q, want %q", c.in, string(out), c.want)
		}
	}
}

// TestSubsetComposite subsets the default font to a composite glyph and
// reads the subset back: its components came along and are renumbered.
func TestSubsetComposite(t *testing.T) {
	f := defaultFont(t)
	var comp int
	for _, r := range "ÄÅÉÖÜйё" {
		g, _ := f.GlyphIndex(r)
		d, _ := f.glyphData(g)
		if len(d) >= 10 && i16(d, 0) < 0 {
			comp = g
			break
		}
	}
	if comp == 0 {
		t.Fatal("no composite glyph found in the default font")
	}
	set := map[int]bool{0: true, comp: true}
	if err := f.closure(set); err != nil {
		t.Fatal(err)
	}
	if len(set) < 3 {
		t.Fatalf("closure of composite glyph %d: %v", comp, set)
	}
	gids := make([]int, 0, len(set))
	for g := range set {
		gids = append(gids, g)
	}
	slices.Sort(gids)
	prog, err := f.subset(gids, []rune("ÄÅÉÖÜйё"))
	if err != nil {
		t.Fatal(err)
	}
	sf, err := LoadFont(prog)
	if err != nil {
		t.Fatalf("reading the subset back: %v", err)
	}
	if sf.numGlyphs != len(gids) {
		t.Fatalf("subset has %d glyphs, want %d", sf.numGlyphs, len(gids))
	}
	if checksum(prog) != 0xB1B0AFBA {
		t.Errorf("subset checksum %08X, want B1B0AFBA", checksum(prog))
	}
	nc := slices.Index(gids, comp)
	d, _ := sf.glyphData(nc)
	var comps []int
	components(d, func(at int) { comps = append(comps, u16(d, at)) })
	for _, c := range comps {
		cd, ok := sf.glyphData(c)
		if c >= len(gids) || !ok || len(cd) == 0 {
			t.Errorf("component %d of the subset's glyph %d has no outline", c, nc)
		}
		if sf.advance(c) != f.advance(gids[c]) {
			t.Errorf("glyph %d: advance %d, want %d", c, sf.advance(c), f.advance(gids[c]))
		}
	}
	if len(comps) == 0 {
		t.Error("the subset's composite glyph has no components")
	}
}

func TestLoadFontErrors(t *testing.T) {
	good := defaultFontData
	trunc := slices.Clone(good[:200])
	otto := slices.Clone(good)
	copy(otto, "OTTO")
	badTable := slices.Clone(good)
	// the first table record's offset far past the end
	copy(badTable[12+8:], []byte{0x7F, 0xFF, 0xFF, 0xFF})
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "too short"},
		{"not a font", []byte("%PDF-1.7 not a font at all"), "not a TrueType"},
		{"cff", otto, "CFF"},
		{"truncated", trunc, "runs past the end"},
		{"table offset", badTable, "outside the file"},
		{"empty collection", []byte("ttcf\x00\x01\x00\x00\x00\x00\x00\x00"), "holds no font"},
	}
	for _, c := range cases {
		if _, err := LoadFont(c.data); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: LoadFont error %v, want one with %q", c.name, err, c.want)
		}
	}
}

// TestFitSize: fitText picks the largest font size, in quarter points, at
// which the text fits, whether the height or the width of the box limits
// it.
func TestFitSize(t *testing.T) {
	faces := []*face{newFace(nil, "F1")}
	width := func(s string) float64 {
		var v float64
		for _, r := range s {
			c, _ := stdfont.WinAnsiCode(r)
			v += faces[0].advance(c)
		}
		return v
	}
	pitch := lineGap * (helveticaAscent - helveticaDescent) / 1000.0
	cases := []struct {
		name  string
		items []string
		w, h  float64
	}{
		{"height", []string{"Jane"}, 300, 30},
		{"two lines", []string{"Jane", "Date: 2026"}, 300, 50},
		{"width", []string{"JaneQ.Signer"}, 120, 100},
	}
	tp := &Template{MaxSize: 100, MinSize: 1}
	for _, c := range cases {
		lines, size, _, _, err := fitText(c.items, faces, tp, c.w, c.h)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		fits := func(size float64) bool {
			if float64(len(c.items))*pitch*size > c.h {
				return false
			}
			for _, it := range c.items {
				if width(it)*size/1000 > c.w {
					return false
				}
			}
			return true
		}
		if len(lines) != len(c.items) || !fits(size) || fits(size+0.25) && size+0.25 <= tp.MaxSize {
			t.Errorf("%s: size %g (%d lines); fits at %g: %v", c.name, size, len(lines), size+0.25, fits(size+0.25))
		}
	}
}

// TestOverlappingGlyphs: a font whose glyphs cover its whole glyf table
// (a hostile font: subsetting it would copy the table once per glyph)
// is refused.
func TestOverlappingGlyphs(t *testing.T) {
	f := defaultFont(t)
	// loca 0, len, 0, len, ...: every even glyph is the whole table.
	loca := make([]byte, 4*(f.numGlyphs+1))
	for g := 1; g <= f.numGlyphs; g += 2 {
		binary.BigEndian.PutUint32(loca[4*g:], uint32(len(f.glyf)))
	}
	f.loca, f.longLoca = loca, true
	set := map[int]bool{0: true, 2: true, 4: true}
	if err := f.closure(set); err == nil || !strings.Contains(err.Error(), "overlap") {
		t.Errorf("closure: %v, want an overlap error", err)
	}
	if _, err := f.subset([]int{0, 2, 4}, nil); err == nil || !strings.Contains(err.Error(), "overlaps") {
		t.Errorf("subset: %v, want an overlap error", err)
	}
}

// TestShapeBudget: shaping stops with an error when the font's GSUB table
// has taken the work budget.
func TestShapeBudget(t *testing.T) {
	fc := newFace(defaultFont(t), "F1")
	if _, _, err := shapeLine("سلام", []*face{fc}, &shapeBudget{}); err != nil {
		t.Fatal(err)
	}
	fc = newFace(defaultFont(t), "F1")
	_, _, err := shapeLine("سلام", []*face{fc}, &shapeBudget{ops: gsubOps - 10})
	if !errors.Is(err, errGSUBBudget) {
		t.Fatalf("shaping past the budget: %v, want errGSUBBudget", err)
	}
}
