package textpos

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"hashsign/pades/internal/pdf"
	"hashsign/pades/internal/stdfont"
)

// font is what the interpreter needs of a font: how to split a string into
// codes, and each code's Unicode text and advance.
type font struct {
	composite bool
	// simple fonts
	names  [256]string  // the text of each code by its encoding
	widths [256]float64 // glyph-space widths
	// composite fonts
	enc   *cmap // nil: Identity-H/V, two bytes per code, CID = code
	ucs   bool  // the codes are UTF-16BE (a predefined Uni...-UCS2/UTF16 CMap)
	dw    float64
	w     []cidWidths
	dw2   [2]float64 // vertical: position vector y and displacement
	w2    []cidWidths
	toUni *cmap
	scale float64 // glyph space to text space, horizontally (1/1000, or a Type 3 font's FontMatrix)
	size  float64 // the factor of the font size for the effective size (1, or a Type 3 font's vertical stretch)
	wmode int
	cost  int64
}

// cidWidths gives the CIDs first to last the widths ws (one each), or all
// of them ws[0] when same is set.
type cidWidths struct {
	first, last int
	ws          []float64
	same        bool
}

// code is one character code of a shown string.
type code struct {
	k   codeKey
	cid int
}

// split returns the first code of s and its length.
func (f *font) split(s []byte) code {
	if !f.composite {
		return code{k: codeKey{1, uint32(s[0])}, cid: int(s[0])}
	}
	if f.enc == nil {
		if len(s) == 1 {
			return code{k: codeKey{1, uint32(s[0])}}
		}
		k := key(s[:2])
		if f.ucs && utf16.IsSurrogate(rune(k.code)) && len(s) >= 4 {
			return code{k: key(s[:4])}
		}
		return code{k: k, cid: int(k.code)}
	}
	k := f.enc.split(s)
	return code{k: k, cid: f.enc.cid(k)}
}

// text returns the Unicode text of c.
func (f *font) text(c code) string {
	if s, ok := f.toUni.unicode(c.k); ok {
		return s
	}
	if !f.composite {
		return f.names[c.k.code]
	}
	if f.ucs {
		b := make([]byte, c.k.n)
		for i := range b {
			b[i] = byte(c.k.code >> (8 * (c.k.n - 1 - i)))
		}
		return utf16Text(b)
	}
	return ""
}

// advance returns the displacement of c in text space for a font size of
// 1: horizontal, or vertical (negative, downwards) in vertical mode.
func (f *font) advance(c code) float64 {
	if !f.composite {
		return f.widths[c.k.code] * f.scale
	}
	if f.wmode == 1 {
		if w, ok := lookupWidth(f.w2, c.cid); ok {
			return w / 1000
		}
		return f.dw2[1] / 1000
	}
	if f.ucs {
		return f.dw / 1000 // the CIDs of a predefined CMap are not known here
	}
	if w, ok := lookupWidth(f.w, c.cid); ok {
		return w / 1000
	}
	return f.dw / 1000
}

// lookupWidth finds the width of cid in ws, sorted by first.
func lookupWidth(ws []cidWidths, cid int) (float64, bool) {
	i := sort.Search(len(ws), func(i int) bool { return ws[i].first > cid }) - 1
	if i < 0 || cid > ws[i].last {
		return 0, false
	}
	if ws[i].same {
		return ws[i].ws[0], true
	}
	return ws[i].ws[cid-ws[i].first], true
}

// standardWidths sets the widths of f, a font without /Widths (as the
// standard fonts could be before PDF 1.5), from the metrics of the Latin
// standard font that baseFont names (or an alias such as Arial), by the
// text of each code. Codes without a width there, and the fonts that are
// not Latin standard fonts (Symbol, ZapfDingbats, others), take 600 in
// Courier and 500, the mean width of Latin text, in the others.
func standardWidths(f *font, baseFont string) {
	if i := strings.IndexByte(baseFont, '+'); i == 6 {
		baseFont = baseFont[i+1:] // a subset's tag
	}
	family := ""
	switch {
	case strings.Contains(baseFont, "Courier"):
		family = "Courier"
	case strings.Contains(baseFont, "Times"):
		family = "Times"
	case strings.Contains(baseFont, "Helvetica"), strings.Contains(baseFont, "Arial"):
		family = "Helvetica"
	}
	fallback := 500.0
	if family == "Courier" {
		fallback = 600
	}
	bold := strings.Contains(baseFont, "Bold")
	italic := strings.Contains(baseFont, "Italic") || strings.Contains(baseFont, "Oblique")
	name := family
	switch {
	case family == "":
	case bold && italic && family == "Times":
		name += "-BoldItalic"
	case bold && italic:
		name += "-BoldOblique"
	case bold:
		name += "-Bold"
	case italic && family == "Times":
		name += "-Italic"
	case italic:
		name += "-Oblique"
	case family == "Times":
		name += "-Roman"
	}
	face, known := stdfont.Lookup(name)
	for c := range f.widths {
		f.widths[c] = fallback
		r, _ := utf8.DecodeRuneInString(f.names[c])
		if w, ok := face.Width(r); known && ok {
			f.widths[c] = float64(w)
		}
	}
}

// loader reads fonts through the reader and keeps them for reuse.
type loader struct {
	rd    *pdf.Reader
	cache map[any]*font // by pdf.Ref, or *pdf.Dict for direct fonts
	cost  int64
	limit int64
}

// load returns the font of the font dictionary o (a reference or a
// dictionary). A font that cannot be read gives a font that decodes
// nothing, so that the text after it is still positioned.
func (ld *loader) load(o pdf.Object) (*font, error) {
	var k any = o
	if d, ok := o.(*pdf.Dict); ok {
		k = d
	}
	if _, ok := o.(pdf.Ref); !ok {
		if _, ok := o.(*pdf.Dict); !ok {
			return &font{scale: 0.001, size: 1, dw: 1000}, nil
		}
	}
	if f, ok := ld.cache[k]; ok {
		return f, nil
	}
	d, err := ld.rd.ResolveDict(o)
	if err != nil {
		return nil, fmt.Errorf("font %v: %w", o, err)
	}
	f, err := ld.parse(d)
	if err != nil {
		return nil, fmt.Errorf("font %v: %w", o, err)
	}
	if ld.cost+f.cost > ld.limit {
		clear(ld.cache)
		ld.cost = 0
	}
	if f.cost <= ld.limit {
		ld.cache[k] = f
		ld.cost += f.cost
	}
	return f, nil
}

// parse reads font dictionary d.
func (ld *loader) parse(d *pdf.Dict) (*font, error) {
	f := &font{scale: 0.001, size: 1, dw: 1000, dw2: [2]float64{880, -1000}, cost: 4096}
	if d == nil {
		return f, nil
	}
	var err error
	if f.toUni, err = ld.cmapStream(d.Get("ToUnicode"), 0); err != nil {
		return nil, fmt.Errorf("/ToUnicode: %w", err)
	}
	if f.toUni != nil {
		f.cost += f.toUni.cost
	}
	if d.Get("Subtype") == pdf.Name("Type0") {
		return f, ld.composite(f, d)
	}
	return f, ld.simple(f, d)
}

// simple reads a simple font: Type1, MMType1, TrueType or Type3.
func (ld *loader) simple(f *font, d *pdf.Dict) error {
	base, _ := d.Get("BaseFont").(pdf.Name)
	desc, err := ld.rd.ResolveDict(d.Get("FontDescriptor"))
	if err != nil {
		return fmt.Errorf("/FontDescriptor: %w", err)
	}
	if d.Get("Subtype") == pdf.Name("Type3") {
		fm, _ := ld.rd.Resolve(d.Get("FontMatrix"))
		if m, ok := toMatrix(fm); ok && m[0] != 0 && m[3] != 0 {
			// glyph units per text-space unit; the em stays one unit of
			// text space, stretched when the matrix is not uniform
			f.scale = m[0]
			f.size = abs(m[3] / m[0])
		}
	}
	// encoding: the base encoding, then /Differences
	enc, err := ld.rd.Resolve(d.Get("Encoding"))
	if err != nil {
		return fmt.Errorf("/Encoding: %w", err)
	}
	baseEnc := &standardEncoding
	builtin := true
	var diffs pdf.Array
	switch e := enc.(type) {
	case pdf.Name:
		if b := namedEncoding(e); b != nil {
			baseEnc, builtin = b, false
		}
	case *pdf.Dict:
		if b := namedEncoding(resolved(ld.rd, e.Get("BaseEncoding"))); b != nil {
			baseEnc, builtin = b, false
		}
		diffs, _ = resolved(ld.rd, e.Get("Differences")).(pdf.Array)
	}
	f.names = *baseEnc
	if builtin && d.Get("Subtype") != pdf.Name("TrueType") {
		// an embedded Type 1 font's own encoding
		if err := ld.type1Encoding(f, desc); err != nil {
			return err
		}
	}
	c := int64(-1)
	for _, o := range diffs {
		switch v := o.(type) {
		case pdf.Integer:
			c = int64(v)
		case pdf.Name:
			if c >= 0 && c <= 255 {
				f.names[c] = glyphText(string(v))
			}
			c++
		}
	}
	// widths: /Widths from /FirstChar on, /MissingWidth for the other
	// codes; the standard fonts' own when /Widths is absent
	missing := 0.0
	if v, ok := number(resolved(ld.rd, desc.Get("MissingWidth"))); ok {
		missing = v
	}
	ws, _ := ld.rd.Resolve(d.Get("Widths"))
	wa, hasWidths := ws.(pdf.Array)
	for i := range f.widths {
		f.widths[i] = missing
	}
	if !hasWidths {
		standardWidths(f, string(base))
	}
	first, _ := pdf.Int(resolved(ld.rd, d.Get("FirstChar")))
	for i, o := range wa {
		c := first + int64(i)
		if c < 0 || c > 255 {
			continue
		}
		if v, ok := number(resolved(ld.rd, o)); ok {
			f.widths[c] = v
		}
	}
	return nil
}

// namedEncoding returns the base encoding that o names, or nil.
func namedEncoding(o pdf.Object) *baseEncoding {
	switch o {
	case pdf.Name("WinAnsiEncoding"):
		return &winAnsiEncoding
	case pdf.Name("MacRomanEncoding"):
		return &macRomanEncoding
	case pdf.Name("StandardEncoding"):
		return &standardEncoding
	}
	return nil
}

// type1Encoding reads the encoding that an embedded Type 1 font program
// (/FontFile) gives in its clear-text part ("dup code /name put"), over
// the base encoding already in f.
func (ld *loader) type1Encoding(f *font, desc *pdf.Dict) error {
	ref, ok := desc.Get("FontFile").(pdf.Ref)
	if !ok {
		return nil
	}
	o, err := ld.rd.Resolve(ref)
	if err != nil {
		return fmt.Errorf("/FontFile: %w", err)
	}
	st, ok := o.(*pdf.Stream)
	if !ok {
		return nil
	}
	data, err := ld.rd.StreamData(st, ref.Num, ref.Gen)
	if err != nil {
		if errors.Is(err, pdf.ErrLimit) {
			return fmt.Errorf("/FontFile %d: %w", ref.Num, err)
		}
		return nil // a damaged font program: keep the base encoding
	}
	if n, ok := pdf.Int(resolved(ld.rd, st.Dict.Get("Length1"))); ok && n > 0 && n < int64(len(data)) {
		data = data[:n]
	}
	if i := strings.Index(string(data), "eexec"); i >= 0 {
		data = data[:i]
	}
	c := pdf.NewContent(data, maxOperands)
	seen := false
	for {
		op, args, err := c.Next()
		if err != nil {
			return nil
		}
		switch {
		case op == "def" && len(args) == 2 && args[0] == pdf.Name("Encoding"):
			return nil // the end of the encoding
		case op == "put" && len(args) == 2:
			code, ok1 := pdf.Int(args[0])
			name, ok2 := args[1].(pdf.Name)
			if ok1 && ok2 && code >= 0 && code <= 255 {
				if !seen {
					// an encoding of its own: codes it leaves out are undefined
					f.names, seen = [256]string{}, true
				}
				f.names[code] = glyphText(string(name))
			}
		}
	}
}

// composite reads a Type0 font and its descendant CIDFont.
func (ld *loader) composite(f *font, d *pdf.Dict) error {
	f.composite = true
	enc, err := ld.rd.Resolve(d.Get("Encoding"))
	if err != nil {
		return fmt.Errorf("/Encoding: %w", err)
	}
	switch e := enc.(type) {
	case pdf.Name:
		name := string(e)
		if strings.HasSuffix(name, "-V") {
			f.wmode = 1
		}
		f.ucs = strings.HasPrefix(name, "Uni") && (strings.Contains(name, "-UCS2-") || strings.Contains(name, "-UTF16-"))
	case *pdf.Stream:
		ref, _ := d.Get("Encoding").(pdf.Ref)
		if f.enc, err = ld.cmapStream(ref, 0); err != nil {
			return fmt.Errorf("/Encoding: %w", err)
		}
		if f.enc != nil {
			f.wmode = f.enc.wmode
			if v, ok := pdf.Int(e.Dict.Get("WMode")); ok && v == 1 {
				f.wmode = 1
			}
			f.cost += f.enc.cost
		}
	}
	kids, _ := ld.rd.Resolve(d.Get("DescendantFonts"))
	ka, _ := kids.(pdf.Array)
	if len(ka) == 0 {
		return nil
	}
	cid, err := ld.rd.ResolveDict(ka[0])
	if err != nil {
		return fmt.Errorf("/DescendantFonts: %w", err)
	}
	if v, ok := number(resolved(ld.rd, cid.Get("DW"))); ok {
		f.dw = v
	}
	if a, ok := resolved(ld.rd, cid.Get("DW2")).(pdf.Array); ok && len(a) == 2 {
		v0, ok0 := number(a[0])
		v1, ok1 := number(a[1])
		if ok0 && ok1 {
			f.dw2 = [2]float64{v0, v1}
		}
	}
	if f.w, err = ld.cidWidths(cid.Get("W"), 1); err != nil {
		return fmt.Errorf("/W: %w", err)
	}
	if f.w2, err = ld.cidWidths(cid.Get("W2"), 3); err != nil {
		return fmt.Errorf("/W2: %w", err)
	}
	for _, w := range f.w {
		f.cost += 48 + 8*int64(len(w.ws))
	}
	for _, w := range f.w2 {
		f.cost += 48 + 8*int64(len(w.ws))
	}
	return nil
}

// cidWidths reads a /W array (per 1) or a /W2 array (per 3, of which the
// vertical displacement, the first of each three, is kept): "c [w ...]"
// and "first last w" entries.
func (ld *loader) cidWidths(o pdf.Object, per int) ([]cidWidths, error) {
	v, err := ld.rd.Resolve(o)
	if err != nil {
		return nil, err
	}
	a, _ := v.(pdf.Array)
	var out []cidWidths
	for i := 0; i < len(a); {
		first, ok := pdf.Int(resolved(ld.rd, a[i]))
		if !ok || i+1 >= len(a) {
			break
		}
		if list, ok := resolved(ld.rd, a[i+1]).(pdf.Array); ok {
			var ws []float64
			for j := 0; j+per <= len(list); j += per {
				w, _ := number(resolved(ld.rd, list[j]))
				ws = append(ws, w)
			}
			if len(ws) > 0 && first >= 0 {
				out = append(out, cidWidths{first: int(first), last: int(first) + len(ws) - 1, ws: ws})
			}
			i += 2
			continue
		}
		if i+1+per >= len(a) {
			break
		}
		last, ok1 := pdf.Int(resolved(ld.rd, a[i+1]))
		w, ok2 := number(resolved(ld.rd, a[i+2]))
		if ok1 && ok2 && first >= 0 && last >= first {
			out = append(out, cidWidths{first: int(first), last: int(min(last, 1<<24)), ws: []float64{w}, same: true})
		}
		i += 2 + per
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].first < out[j].first })
	return out, nil
}

// cmapStream reads the CMap stream o (with the CMaps it uses through
// /UseCMap), or returns nil when o is not a stream.
func (ld *loader) cmapStream(o pdf.Object, depth int) (*cmap, error) {
	ref, ok := o.(pdf.Ref)
	if !ok {
		return nil, nil
	}
	v, err := ld.rd.Resolve(ref)
	if err != nil {
		return nil, err
	}
	st, ok := v.(*pdf.Stream)
	if !ok {
		return nil, nil
	}
	m := &cmap{}
	if depth < maxCMapDepth {
		if use, err := ld.cmapStream(st.Dict.Get("UseCMap"), depth+1); err != nil {
			return nil, err
		} else if use != nil {
			*m = *use
			m.uniChars, m.cidChars = clone(use.uniChars), clone(use.cidChars)
			m.space = append([]spaceRange(nil), use.space...)
			m.cidRange = append([]codeRange(nil), use.cidRange...)
			m.uniRange = append([]codeRange(nil), use.uniRange...)
		}
	}
	data, err := ld.rd.StreamData(st, ref.Num, ref.Gen)
	if err != nil {
		if errors.Is(err, pdf.ErrLimit) {
			return nil, fmt.Errorf("CMap %d: %w", ref.Num, err)
		}
		return nil, nil // undecodable: as if there were none
	}
	if err := parseCMap(data, m); err != nil && !errors.Is(err, io.EOF) {
		if errors.Is(err, pdf.ErrLimit) {
			return nil, fmt.Errorf("CMap %d: %w", ref.Num, err)
		}
	}
	return m, nil
}

// clone copies a map.
func clone[K comparable, V any](m map[K]V) map[K]V {
	if m == nil {
		return nil
	}
	c := make(map[K]V, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// resolved returns o resolved, or nil when it cannot be read.
func resolved(rd *pdf.Reader, o pdf.Object) pdf.Object {
	v, err := rd.Resolve(o)
	if err != nil {
		return nil
	}
	return v
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}
