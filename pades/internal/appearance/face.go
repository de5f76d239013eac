package appearance

import (
	"bytes"
	"compress/zlib"
	"crypto/sha256"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"

	"hashsign/pades/internal/pdf"
	"hashsign/pades/internal/stdfont"
)

// face is a font as the appearance uses it: the standard font Helvetica
// (font nil), whose glyphs are WinAnsiEncoding codes, or an embedded
// TrueType font, whose glyphs are glyph indices.
type face struct {
	font  *Font
	res   pdf.Name       // resource name in the form
	used  map[int]string // glyphs drawn, and the text each shows
	feats map[string][]int
	cid   map[int]int // glyph index -> CID in the subset, once prepared
	gids  []int       // the glyphs of the subset, once prepared
	prog  []byte      // the subset font program, once prepared

	// What GSUB lookups gave, so that shaping the same text again while
	// the layout tries font sizes and line breaks costs no table reads.
	singles map[[2]int]int    // lookup, glyph -> glyph
	ligs    map[[3]int][2]int // lookup, first, second -> ligature, glyphs replaced
}

func newFace(f *Font, res pdf.Name) *face {
	return &face{font: f, res: res, used: map[int]string{}, feats: map[string][]int{},
		singles: map[[2]int]int{}, ligs: map[[3]int][2]int{}}
}

// single applies the single substitutions of lookup l to glyph g.
func (fc *face) single(gs *gsub, l, g int) (int, error) {
	if v, ok := fc.singles[[2]int{l, g}]; ok {
		return v, nil
	}
	v, err := gs.single(l, g)
	if err != nil {
		return 0, err
	}
	fc.singles[[2]int{l, g}] = v
	return v, nil
}

// ligature applies the ligature substitutions of lookup l to the glyphs a
// and b.
func (fc *face) ligature(gs *gsub, l, a, b int) (lig, n int, err error) {
	k := [3]int{l, a, b}
	if v, ok := fc.ligs[k]; ok {
		return v[0], v[1], nil
	}
	if lig, n, err = gs.ligature(l, []int{a, b}); err != nil {
		return 0, 0, err
	}
	fc.ligs[k] = [2]int{lig, n}
	return lig, n, nil
}

// lookup returns the glyph of r.
func (fc *face) lookup(r rune) (int, bool) {
	if fc.font == nil {
		return stdfont.WinAnsiCode(r)
	}
	return fc.font.GlyphIndex(r)
}

// advance returns the advance width of glyph id in 1/1000 em.
func (fc *face) advance(id int) float64 {
	if fc.font == nil {
		w, _ := stdfont.Helvetica.Width(stdfont.WinAnsiRune(id))
		return float64(w)
	}
	return float64(fc.font.advance(id)) * 1000 / float64(fc.font.unitsPerEm)
}

// extent returns how far glyph id reaches below (negative) and above the
// baseline, in 1/1000 em: from its outline for an embedded font, the
// font's descender and ascender for the standard font.
func (fc *face) extent(id int) (lo, hi float64) {
	if fc.font == nil {
		return helveticaDescent, helveticaAscent
	}
	a, b := fc.font.extent(id)
	k := 1000 / float64(fc.font.unitsPerEm)
	return float64(a) * k, float64(b) * k
}

// hextent returns how far glyph id's outline reaches left and right of its
// origin, in 1/1000 em; for the standard font, whose outlines are not at
// hand, from 0 to its advance.
func (fc *face) hextent(id int) (lo, hi float64) {
	if fc.font == nil {
		return 0, fc.advance(id)
	}
	a, b := fc.font.hextent(id)
	k := 1000 / float64(fc.font.unitsPerEm)
	return float64(a) * k, float64(b) * k
}

// lookups returns the GSUB lookups of feature for the Arabic script,
// reading them once per face.
func (fc *face) lookups(gs *gsub, feature string) ([]int, error) {
	if l, ok := fc.feats[feature]; ok {
		return l, nil
	}
	l, err := gs.lookups("arab", feature)
	if err != nil {
		return nil, err
	}
	fc.feats[feature] = l
	return l, nil
}

// appendCode appends the string bytes that select glyph id in a content
// stream: the code for the standard font, the two-byte CID otherwise.
func (fc *face) appendCode(b []byte, id int) []byte {
	if fc.font == nil {
		return append(b, byte(id))
	}
	c := fc.cid[id]
	return append(b, byte(c>>8), byte(c))
}

// prepare subsets an embedded font to the glyphs used (with the glyphs
// their composite glyphs use) and sets fc.cid; write writes the result.
// Keeping the two apart lets Render find a broken font before it writes
// anything.
func (fc *face) prepare() error {
	if fc.font == nil {
		return nil
	}
	f := fc.font
	set := map[int]bool{0: true}
	for g := range fc.used {
		set[g] = true
	}
	if err := f.closure(set); err != nil {
		return fmt.Errorf("subsetting font %s: %w", f.psName, err)
	}
	fc.gids = make([]int, 0, len(set))
	for g := range set {
		fc.gids = append(fc.gids, g)
	}
	slices.Sort(fc.gids)
	fc.cid = make(map[int]int, len(fc.gids))
	for i, g := range fc.gids {
		fc.cid[g] = i
	}
	var chars []rune
	for _, t := range fc.used {
		chars = append(chars, []rune(t)...)
	}
	var err error
	if fc.prog, err = f.subset(fc.gids, chars); err != nil {
		return fmt.Errorf("subsetting font %s: %w", f.psName, err)
	}
	return nil
}

// write writes the font's objects, after prepare, and returns the font
// dictionary's object number.
func (fc *face) write(w Writer) (int, error) {
	if fc.font == nil {
		return writeStandardFont(w)
	}
	f, gids, prog := fc.font, fc.gids, fc.prog
	// The subset tag: six capital letters from the glyphs kept.
	h := sha256.New()
	h.Write([]byte(f.psName))
	for _, g := range gids {
		h.Write([]byte{byte(g >> 8), byte(g)})
	}
	sum := h.Sum(nil)
	tag := make([]byte, 6)
	for i := range tag {
		tag[i] = 'A' + sum[i]%26
	}
	name := pdf.Name(string(tag) + "+" + f.psName)
	em := func(v int) pdf.Integer { return pdf.Integer(roundDiv(v*1000, f.unitsPerEm)) }

	fileNum, setNum, uniNum, descNum, cidNum, fontNum := w.Alloc(), w.Alloc(), w.Alloc(), w.Alloc(), w.Alloc(), w.Alloc()
	z := deflate(prog)
	fd := pdf.NewDict()
	fd.Set("Length1", pdf.Integer(len(prog)))
	fd.Set("Filter", pdf.Name("FlateDecode"))
	if err := w.WriteStream(fileNum, fd, z); err != nil {
		return 0, err
	}
	// CIDSet: one bit per CID present (PDF/A-1 asks for it).
	bitsData := make([]byte, (len(gids)+7)/8)
	for i := range gids {
		bitsData[i/8] |= 0x80 >> (i % 8)
	}
	if err := w.WriteStream(setNum, pdf.NewDict(), bitsData); err != nil {
		return 0, err
	}
	if err := w.WriteStream(uniNum, pdf.NewDict(), toUnicode(fc.used, fc.cid)); err != nil {
		return 0, err
	}
	desc := pdf.NewDict()
	desc.Set("Type", pdf.Name("FontDescriptor"))
	desc.Set("FontName", name)
	desc.Set("Flags", pdf.Integer(4)) // symbolic
	desc.Set("FontBBox", pdf.Array{em(f.bbox[0]), em(f.bbox[1]), em(f.bbox[2]), em(f.bbox[3])})
	desc.Set("ItalicAngle", pdf.Real(formatNum(f.italicAngle)))
	desc.Set("Ascent", em(f.ascent))
	desc.Set("Descent", em(f.descent))
	desc.Set("CapHeight", em(f.capHeight))
	desc.Set("StemV", pdf.Integer(80))
	desc.Set("FontFile2", pdf.Ref{Num: fileNum})
	desc.Set("CIDSet", pdf.Ref{Num: setNum})
	if err := w.WriteObject(descNum, 0, desc); err != nil {
		return 0, err
	}
	widths := make(pdf.Array, len(gids))
	for i, g := range gids {
		widths[i] = em(f.advance(g))
	}
	cf := pdf.NewDict()
	cf.Set("Type", pdf.Name("Font"))
	cf.Set("Subtype", pdf.Name("CIDFontType2"))
	cf.Set("BaseFont", name)
	si := pdf.NewDict()
	si.Set("Registry", pdf.String{Value: []byte("Adobe")})
	si.Set("Ordering", pdf.String{Value: []byte("Identity")})
	si.Set("Supplement", pdf.Integer(0))
	cf.Set("CIDSystemInfo", si)
	cf.Set("FontDescriptor", pdf.Ref{Num: descNum})
	cf.Set("W", pdf.Array{pdf.Integer(0), widths})
	cf.Set("CIDToGIDMap", pdf.Name("Identity"))
	if err := w.WriteObject(cidNum, 0, cf); err != nil {
		return 0, err
	}
	t0 := pdf.NewDict()
	t0.Set("Type", pdf.Name("Font"))
	t0.Set("Subtype", pdf.Name("Type0"))
	t0.Set("BaseFont", name)
	t0.Set("Encoding", pdf.Name("Identity-H"))
	t0.Set("DescendantFonts", pdf.Array{pdf.Ref{Num: cidNum}})
	t0.Set("ToUnicode", pdf.Ref{Num: uniNum})
	if err := w.WriteObject(fontNum, 0, t0); err != nil {
		return 0, err
	}
	return fontNum, nil
}

// writeStandardFont writes Helvetica with WinAnsiEncoding, its widths and a
// font descriptor.
func writeStandardFont(w Writer) (int, error) {
	descNum, fontNum := w.Alloc(), w.Alloc()
	desc := pdf.NewDict()
	desc.Set("Type", pdf.Name("FontDescriptor"))
	desc.Set("FontName", pdf.Name("Helvetica"))
	desc.Set("Flags", pdf.Integer(32)) // nonsymbolic
	desc.Set("FontBBox", pdf.Array{pdf.Integer(helveticaBBox[0]), pdf.Integer(helveticaBBox[1]),
		pdf.Integer(helveticaBBox[2]), pdf.Integer(helveticaBBox[3])})
	desc.Set("ItalicAngle", pdf.Integer(0))
	desc.Set("Ascent", pdf.Integer(helveticaAscent))
	desc.Set("Descent", pdf.Integer(helveticaDescent))
	desc.Set("CapHeight", pdf.Integer(helveticaCapHeight))
	desc.Set("StemV", pdf.Integer(88))
	if err := w.WriteObject(descNum, 0, desc); err != nil {
		return 0, err
	}
	widths := make(pdf.Array, 0, 224)
	for c := 32; c < 256; c++ {
		w, _ := stdfont.Helvetica.Width(stdfont.WinAnsiRune(c)) // 0 for a code without a character
		widths = append(widths, pdf.Integer(w))
	}
	d := pdf.NewDict()
	d.Set("Type", pdf.Name("Font"))
	d.Set("Subtype", pdf.Name("Type1"))
	d.Set("BaseFont", pdf.Name("Helvetica"))
	d.Set("Encoding", pdf.Name("WinAnsiEncoding"))
	d.Set("FirstChar", pdf.Integer(32))
	d.Set("LastChar", pdf.Integer(255))
	d.Set("Widths", widths)
	d.Set("FontDescriptor", pdf.Ref{Num: descNum})
	if err := w.WriteObject(fontNum, 0, d); err != nil {
		return 0, err
	}
	return fontNum, nil
}

// toUnicode writes a ToUnicode CMap that maps the CID of each glyph used to
// the text it shows (both letters of a lam-alef ligature, the base letter of
// an Arabic positional form).
func toUnicode(used map[int]string, cid map[int]int) []byte {
	type entry struct {
		cid  int
		text string
	}
	var es []entry
	for g, t := range used {
		es = append(es, entry{cid[g], t})
	}
	slices.SortFunc(es, func(a, b entry) int { return a.cid - b.cid })
	var b bytes.Buffer
	b.WriteString("/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n" +
		"/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n" +
		"/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n" +
		"1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n")
	for len(es) > 0 {
		n := min(len(es), 100)
		fmt.Fprintf(&b, "%d beginbfchar\n", n)
		for _, e := range es[:n] {
			fmt.Fprintf(&b, "<%04X> <", e.cid)
			for _, u := range utf16.Encode([]rune(e.text)) {
				fmt.Fprintf(&b, "%04X", u)
			}
			b.WriteString(">\n")
		}
		b.WriteString("endbfchar\n")
		es = es[n:]
	}
	b.WriteString("endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n")
	return b.Bytes()
}

// roundDiv returns a/b rounded half away from zero, for b > 0.
func roundDiv(a, b int) int {
	if a < 0 {
		return -((-a + b/2) / b)
	}
	return (a + b/2) / b
}

// deflate compresses b for a /FlateDecode stream.
func deflate(b []byte) []byte {
	var buf bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&buf, zlib.BestCompression)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// formatNum formats v with at most three decimals and no trailing zeros.
func formatNum(v float64) string {
	s := strconv.FormatFloat(v, 'f', 3, 64)
	for len(s) > 1 && s[len(s)-1] == '0' {
		s = s[:len(s)-1]
	}
	s = strings.TrimSuffix(s, ".")
	if s == "-0" {
		s = "0"
	}
	return s
}
