package appearance

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
)

// MaxFontBytes is the largest font file LoadFont accepts.
const MaxFontBytes = 64 << 20

// Font is a TrueType-outline font (a .ttf or .otf file with glyf outlines,
// or the first font of a .ttc collection) read by LoadFont. Its tables are
// read where they lie in the file's bytes; glyphs, character maps and
// substitutions are looked up on demand.
type Font struct {
	data   []byte
	tables map[string][]byte

	psName           string
	unitsPerEm       int
	numGlyphs        int
	numHMetrics      int
	longLoca         bool
	bbox             [4]int
	ascent, descent  int
	capHeight        int
	italicAngle      float64
	cmap             cmapTable
	gsub             []byte // nil when the font has none
	glyf, loca, hmtx []byte
}

var errCFF = errors.New("the font has CFF (PostScript) outlines: only TrueType outlines (glyf) are embedded; give a .ttf font")

// LoadFont reads a TrueType font (.ttf, an .otf with TrueType outlines, or
// the first font of a .ttc collection). A font with CFF outlines is refused:
// the appearance embeds TrueType outlines only (as CIDFontType2). LoadFont
// keeps data and reads it lazily, so data must not change afterwards.
func LoadFont(data []byte) (*Font, error) {
	if len(data) > MaxFontBytes {
		return nil, fmt.Errorf("font file of %d bytes is larger than the limit of %d", len(data), MaxFontBytes)
	}
	f := &Font{data: data, tables: map[string][]byte{}}
	if err := f.parse(); err != nil {
		return nil, fmt.Errorf("reading font: %w", err)
	}
	return f, nil
}

func u16(b []byte, off int) int { return int(binary.BigEndian.Uint16(b[off:])) }
func i16(b []byte, off int) int { return int(int16(binary.BigEndian.Uint16(b[off:]))) }
func u32(b []byte, off int) uint32 {
	return binary.BigEndian.Uint32(b[off:])
}

// sub returns b[off:off+n] or false when that is outside b.
func sub(b []byte, off, n int) ([]byte, bool) {
	if off < 0 || n < 0 || off > len(b) || n > len(b)-off {
		return nil, false
	}
	return b[off : off+n], true
}

func (f *Font) parse() error {
	d := f.data
	if len(d) < 12 {
		return errors.New("too short for a font file")
	}
	base := 0
	switch string(d[:4]) {
	case "ttcf":
		if u32(d, 8) == 0 {
			return errors.New("the font collection holds no font")
		}
		if len(d) < 16 {
			return errors.New("truncated font collection header")
		}
		base = int(u32(d, 12))
		if base > len(d)-12 || base < 0 {
			return errors.New("the collection's first font lies outside the file")
		}
	case "\x00\x01\x00\x00", "true", "OTTO":
	default:
		return fmt.Errorf("not a TrueType or OpenType font (signature %q)", d[:4])
	}
	if string(d[base:base+4]) == "OTTO" {
		return errCFF
	}
	n := u16(d, base+4)
	dir, ok := sub(d, base+12, 16*n)
	if !ok {
		return fmt.Errorf("table directory of %d tables runs past the end of the file", n)
	}
	for i := range n {
		e := dir[16*i:]
		tag := string(e[:4])
		off, length := u32(e, 8), u32(e, 12)
		t, ok := sub(d, int(off), int(length))
		if !ok || off > MaxFontBytes || length > MaxFontBytes {
			return fmt.Errorf("table %q (offset %d, length %d) lies outside the file", tag, off, length)
		}
		f.tables[tag] = t
	}
	if _, ok := f.tables["CFF "]; ok {
		return errCFF
	}
	if _, ok := f.tables["CFF2"]; ok {
		return errCFF
	}
	for _, tag := range []string{"head", "hhea", "maxp", "hmtx", "cmap", "loca", "glyf"} {
		if _, ok := f.tables[tag]; !ok {
			return fmt.Errorf("the font has no %q table", tag)
		}
	}
	head := f.tables["head"]
	if len(head) < 54 {
		return errors.New("head table too short")
	}
	f.unitsPerEm = u16(head, 18)
	if f.unitsPerEm < 16 || f.unitsPerEm > 16384 {
		return fmt.Errorf("unitsPerEm %d out of range", f.unitsPerEm)
	}
	f.bbox = [4]int{i16(head, 36), i16(head, 38), i16(head, 40), i16(head, 42)}
	f.longLoca = i16(head, 50) == 1
	maxp := f.tables["maxp"]
	if len(maxp) < 6 {
		return errors.New("maxp table too short")
	}
	f.numGlyphs = u16(maxp, 4)
	if f.numGlyphs == 0 {
		return errors.New("the font has no glyphs")
	}
	hhea := f.tables["hhea"]
	if len(hhea) < 36 {
		return errors.New("hhea table too short")
	}
	f.ascent, f.descent = i16(hhea, 4), i16(hhea, 6)
	f.numHMetrics = u16(hhea, 34)
	if f.numHMetrics == 0 || f.numHMetrics > f.numGlyphs {
		return fmt.Errorf("hhea numberOfHMetrics %d does not fit %d glyphs", f.numHMetrics, f.numGlyphs)
	}
	f.hmtx = f.tables["hmtx"]
	if len(f.hmtx) < 4*f.numHMetrics+2*(f.numGlyphs-f.numHMetrics) {
		return errors.New("hmtx table too short for the glyph count")
	}
	f.loca, f.glyf = f.tables["loca"], f.tables["glyf"]
	entry := 2
	if f.longLoca {
		entry = 4
	}
	if len(f.loca) < entry*(f.numGlyphs+1) {
		return errors.New("loca table too short for the glyph count")
	}
	if os2 := f.tables["OS/2"]; len(os2) >= 90 && u16(os2, 0) >= 2 {
		f.capHeight = i16(os2, 88)
	}
	if f.capHeight == 0 {
		f.capHeight = f.ascent
	}
	if post := f.tables["post"]; len(post) >= 8 {
		f.italicAngle = float64(int32(u32(post, 4))) / 65536
	}
	f.psName = psName(f.tables["name"])
	if err := f.cmap.parse(f.tables["cmap"]); err != nil {
		return err
	}
	if g := f.tables["GSUB"]; len(g) >= 10 {
		f.gsub = g
	}
	return nil
}

// psName returns the PostScript name (name ID 6) cleaned to the characters
// a PDF font name may hold, or "Embedded".
func psName(t []byte) string {
	if len(t) < 6 {
		return "Embedded"
	}
	count, strOff := u16(t, 2), u16(t, 4)
	for i := range count {
		r, ok := sub(t, 6+12*i, 12)
		if !ok {
			break
		}
		platform, nameID, length, off := u16(r, 0), u16(r, 6), u16(r, 8), u16(r, 10)
		if nameID != 6 {
			continue
		}
		s, ok := sub(t, strOff+off, length)
		if !ok {
			continue
		}
		var out []byte
		step := 1
		if platform == 0 || platform == 3 {
			step = 2 // UTF-16BE
		}
		for j := step - 1; j < len(s) && len(out) < 63; j += step {
			c := s[j]
			if c > ' ' && c < 127 && c != '/' && c != '(' && c != ')' && c != '[' && c != ']' &&
				c != '<' && c != '>' && c != '{' && c != '}' && c != '%' && c != '#' {
				out = append(out, c)
			}
		}
		if len(out) > 0 {
			return string(out)
		}
	}
	return "Embedded"
}

// cmapTable maps code points to glyphs through a format 4 or format 12
// subtable of a Unicode cmap.
type cmapTable struct {
	format int
	sub    []byte
}

func (c *cmapTable) parse(t []byte) error {
	if len(t) < 4 {
		return errors.New("cmap table too short")
	}
	n := u16(t, 2)
	best := -1
	for i := range n {
		r, ok := sub(t, 4+8*i, 8)
		if !ok {
			return errors.New("cmap encoding records run past the table")
		}
		platform, enc, off := u16(r, 0), u16(r, 2), int(u32(r, 4))
		rank := -1
		switch {
		case platform == 3 && enc == 10, platform == 0 && (enc == 4 || enc == 6):
			rank = 2
		case platform == 3 && enc == 1, platform == 0 && enc <= 3:
			rank = 1
		}
		if rank <= best {
			continue
		}
		hdr, ok := sub(t, off, 8)
		if !ok {
			continue
		}
		switch format := u16(hdr, 0); format {
		case 4:
			length := u16(hdr, 2)
			s, ok := sub(t, off, length)
			if !ok {
				// Some fonts declare a length past the table end.
				s = t[off:]
			}
			if len(s) < 14 || len(s) < 16+8*(u16(s, 6)/2) {
				continue
			}
			c.format, c.sub, best = 4, s, rank
		case 12:
			length := int(u32(hdr, 4))
			s, ok := sub(t, off, length)
			if !ok || len(s) < 16 || uint64(len(s)) < 16+12*uint64(u32(s, 12)) {
				continue
			}
			c.format, c.sub, best = 12, s, rank
		}
	}
	if best < 0 {
		return errors.New("the font has no Unicode character map (cmap format 4 or 12)")
	}
	return nil
}

// glyph returns the glyph of r, or 0.
func (c *cmapTable) glyph(r rune) int {
	switch c.format {
	case 4:
		if r > 0xFFFF || r < 0 {
			return 0
		}
		s := c.sub
		segs := u16(s, 6) / 2
		ends := s[14:]
		starts := s[16+2*segs:]
		deltas := s[16+4*segs:]
		ranges := 16 + 6*segs
		i := sort.Search(segs, func(i int) bool { return u16(ends, 2*i) >= int(r) })
		if i == segs || u16(starts, 2*i) > int(r) {
			return 0
		}
		if 2*i+2 > len(deltas) || ranges+2*i+2 > len(s) {
			return 0
		}
		delta := u16(deltas, 2*i)
		ro := u16(s, ranges+2*i)
		if ro == 0 {
			return (int(r) + delta) & 0xFFFF
		}
		at := ranges + 2*i + ro + 2*(int(r)-u16(starts, 2*i))
		if at+2 > len(s) {
			return 0
		}
		g := u16(s, at)
		if g == 0 {
			return 0
		}
		return (g + delta) & 0xFFFF
	case 12:
		s := c.sub
		n := int(u32(s, 12))
		i := sort.Search(n, func(i int) bool { return rune(u32(s, 16+12*i+4)) >= r })
		if i == n || rune(u32(s, 16+12*i)) > r {
			return 0
		}
		g := int64(u32(s, 16+12*i+8)) + int64(r) - int64(u32(s, 16+12*i))
		if g > 0xFFFF || g < 0 {
			return 0
		}
		return int(g)
	}
	return 0
}

// GlyphIndex returns the glyph the font maps r to, and false when it has
// none for r.
func (f *Font) GlyphIndex(r rune) (int, bool) {
	g := f.cmap.glyph(r)
	if g <= 0 || g >= f.numGlyphs {
		return 0, false
	}
	return g, true
}

// advance returns the advance width of glyph g in font units.
func (f *Font) advance(g int) int {
	if g >= f.numHMetrics {
		g = f.numHMetrics - 1
	}
	return u16(f.hmtx, 4*g)
}

// lsb returns the left side bearing of glyph g.
func (f *Font) lsb(g int) int {
	if g < f.numHMetrics {
		return i16(f.hmtx, 4*g+2)
	}
	return i16(f.hmtx, 4*f.numHMetrics+2*(g-f.numHMetrics))
}

// glyphData returns the glyf data of glyph g (empty for a glyph without
// outline), or false when loca points outside glyf.
func (f *Font) glyphData(g int) ([]byte, bool) {
	var start, end int
	if f.longLoca {
		start, end = int(u32(f.loca, 4*g)), int(u32(f.loca, 4*g+4))
	} else {
		start, end = 2*u16(f.loca, 2*g), 2*u16(f.loca, 2*g+2)
	}
	if end < start {
		return nil, false
	}
	return sub(f.glyf, start, end-start)
}

// extent returns the lowest and highest point of glyph g's outline in font
// units (from its header; 0, 0 for a glyph without outline).
func (f *Font) extent(g int) (yMin, yMax int) {
	d, ok := f.glyphData(g)
	if !ok || len(d) < 10 {
		return 0, 0
	}
	return i16(d, 4), i16(d, 8)
}

// hextent returns the leftmost and rightmost point of glyph g's outline in
// font units (0, 0 for a glyph without outline).
func (f *Font) hextent(g int) (xMin, xMax int) {
	d, ok := f.glyphData(g)
	if !ok || len(d) < 10 {
		return 0, 0
	}
	return i16(d, 2), i16(d, 6)
}

// Composite glyph flags (OpenType glyf table).
const (
	argsAreWords  = 0x0001
	haveScale     = 0x0008
	moreComps     = 0x0020
	haveXYScale   = 0x0040
	haveTwoByTwo  = 0x0080
	maxCompDepth  = 8
	maxComponents = 1 << 16
)

// components calls fn with the offset in the glyph data of each component
// glyph index of the composite glyph data d. It returns false when d is
// malformed.
func components(d []byte, fn func(at int)) bool {
	if len(d) < 10 || i16(d, 0) >= 0 {
		return true // simple glyph or empty
	}
	at := 10
	for n := 0; ; n++ {
		if at+4 > len(d) || n > maxComponents {
			return false
		}
		flags := u16(d, at)
		fn(at + 2)
		at += 4
		if flags&argsAreWords != 0 {
			at += 4
		} else {
			at += 2
		}
		switch {
		case flags&haveScale != 0:
			at += 2
		case flags&haveXYScale != 0:
			at += 4
		case flags&haveTwoByTwo != 0:
			at += 8
		}
		if flags&moreComps == 0 {
			return at <= len(d)
		}
	}
}

// closure adds to set every glyph that the composite glyphs in set use.
func (f *Font) closure(set map[int]bool) error {
	todo := make([]int, 0, len(set))
	for g := range set {
		todo = append(todo, g)
	}
	depth := map[int]int{}
	// In a sound font the glyphs do not overlap, so reading each once
	// reads the glyf table at most once; more is a hostile font.
	read := 0
	for len(todo) > 0 {
		g := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		d, ok := f.glyphData(g)
		if !ok {
			return fmt.Errorf("glyph %d lies outside the glyf table", g)
		}
		if read += len(d); read > len(f.glyf) {
			return errors.New("the glyphs overlap in the glyf table")
		}
		var bad error
		if !components(d, func(at int) {
			c := u16(d, at)
			if c >= f.numGlyphs {
				bad = fmt.Errorf("composite glyph %d uses glyph %d of %d", g, c, f.numGlyphs)
				return
			}
			if depth[g]+1 > maxCompDepth {
				bad = fmt.Errorf("composite glyph %d nests deeper than %d", g, maxCompDepth)
				return
			}
			if !set[c] {
				set[c] = true
				depth[c] = depth[g] + 1
				todo = append(todo, c)
			}
		}) {
			return fmt.Errorf("composite glyph %d is malformed", g)
		}
		if bad != nil {
			return bad
		}
	}
	return nil
}
