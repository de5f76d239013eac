// Package appearance renders the visible appearance of a signature: a Form
// XObject, written into an incremental update, that shows the signer's name,
// the date, the reason, the location and an optional image, fitted to the
// widget's box.
//
// Latin text is set in the standard font Helvetica with WinAnsiEncoding.
// Text that font cannot encode (Cyrillic, Arabic, Chinese, ...) is set in an
// embedded TrueType font: the caller's (LoadFont), and for what it lacks the
// default font kept in this package (Noto Sans LCA: Latin, Greek, Cyrillic
// and Arabic; see fonts/). An embedded font is subset to the glyphs used and
// written as a CIDFontType2 with a ToUnicode CMap, so that text extraction
// returns the text. Arabic is shaped (positional forms and the lam-alef
// ligature, through the font's GSUB table or Unicode presentation forms) and
// laid out right to left.
package appearance

//go:generate go test -run TestGeneratedTables -update .

import (
	_ "embed"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
	"unicode"

	"hashsign/pades/internal/pdf"
	"hashsign/pades/internal/stdfont"
)

// Writer is what appearance needs from an incremental update; *pdf.Update
// implements it.
type Writer interface {
	Alloc() int
	WriteObject(num, gen int, o pdf.Object) error
	WriteStream(num int, d *pdf.Dict, data []byte) error
}

// Spec describes one appearance.
type Spec struct {
	Width, Height float64   // the widget's size in points, as the user sees it (upright)
	Rotate        int       // the page's /Rotate (0, 90, 180, 270): the form's /Matrix turns the content upright
	Template      *Template // nil: DefaultTemplate
	Name, Reason  string
	Location      string
	Contact       string
	Date          time.Time // shown in its own time zone; the zero time leaves the date out
	Image         []byte    // PNG or JPEG, optional (PNG alpha becomes an /SMask)
	Font          *Font     // nil: Helvetica for Latin text, the default font for other scripts
	// Embed sets all text, Latin too, in embedded fonts (Font, then the
	// default font): PDF/A asks every font to be embedded.
	Embed bool
}

//go:embed fonts/NotoSansLCA-Regular.ttf
var defaultFontData []byte

// DefaultFont returns the default embedded font: Noto Sans LCA (Noto Sans
// and Noto Sans Arabic cut to Latin, Greek, Cyrillic and Arabic; SIL Open
// Font License 1.1).
func DefaultFont() (*Font, error) { return LoadFont(defaultFontData) }

// padding returns the margin kept inside a box of w x h points.
func padding(w, h float64) float64 {
	return math.Min(4, math.Max(1, 0.04*math.Min(w, h)))
}

// Render writes the appearance described by s (its fonts, its image and
// the form) through w and returns the object number of the Form XObject.
// The form's /BBox is [0 0 Width Height]; for a rotated page its /Matrix
// turns it so that it reads upright; the widget's /Rect is then Height wide
// and Width high on the unrotated page. Text that cannot be drawn (a
// character no font has), text that does not fit the box at the template's
// smallest size, a broken image or font are errors found before anything
// is written.
func Render(w Writer, s *Spec) (int, error) {
	if !(s.Width > 0 && s.Width <= 14400 && s.Height > 0 && s.Height <= 14400) { // NaN too
		return 0, fmt.Errorf("appearance box %gx%g: want a positive size up to 14400 points", s.Width, s.Height)
	}
	rot := ((s.Rotate % 360) + 360) % 360
	if rot%90 != 0 {
		return 0, fmt.Errorf("page rotation %d is not a multiple of 90", s.Rotate)
	}
	t := s.Template
	if t == nil {
		t = DefaultTemplate()
	}
	var pic *picture
	if len(s.Image) > 0 && t.Image != ImageNone {
		var err error
		if pic, err = decodeImage(s.Image); err != nil {
			return 0, fmt.Errorf("appearance image: %w", err)
		}
	}
	items := textLines(s, t)
	faces, err := chooseFaces(s, items)
	if err != nil {
		return 0, err
	}

	// The boxes of the image and the text.
	W, H := s.Width, s.Height
	pad := padding(W, H)
	tx, ty, tw, th := pad, pad, W-2*pad, H-2*pad
	var ix, iy, iw, ih float64
	if pic != nil {
		aspect := float64(pic.w) / float64(pic.h)
		maxW := tw
		if t.Image == ImageLeft && len(items) > 0 {
			maxW = 0.4 * tw
		}
		iw, ih = fit(aspect, maxW, th)
		ix, iy = pad, pad+(th-ih)/2
		if t.Image == ImageBehind || len(items) == 0 {
			ix = pad + (tw-iw)/2
		} else {
			tx += iw + pad
			tw -= iw + pad
		}
	}
	var lines []laidLine
	var size, asc, desc float64
	if len(items) > 0 {
		if lines, size, asc, desc, err = fitText(items, faces, t, tw, th); err != nil {
			return 0, err
		}
	}

	// Content.
	var c []byte
	if pic != nil {
		c = fmt.Appendf(c, "q %s 0 0 %s %s %s cm /Im1 Do Q\n", formatNum(iw), formatNum(ih), formatNum(ix), formatNum(iy))
	}
	if len(lines) == 0 {
		return writeForm(w, s, rot, c, nil, pic)
	}
	fonts, err := writeFonts(w, lines)
	if err != nil {
		return 0, err
	}
	c = appendText(c, lines, size, tx, ty, tw, th, asc, desc)
	return writeForm(w, s, rot, c, fonts, pic)
}

// writeFonts writes the fonts the lines use and returns the form's /Font
// resources. The fonts are all subset before the first is written, so that
// a broken font is found before anything is written.
func writeFonts(w Writer, lines []laidLine) (*pdf.Dict, error) {
	var faces []*face
	for _, l := range lines {
		for _, g := range l.glyphs {
			if !slices.Contains(faces, g.face) {
				faces = append(faces, g.face)
			}
			if _, ok := g.face.used[g.id]; !ok {
				g.face.used[g.id] = extractionText(g)
			}
		}
	}
	for _, f := range faces {
		if err := f.prepare(); err != nil {
			return nil, fmt.Errorf("appearance font: %w", err)
		}
	}
	res := pdf.NewDict()
	for _, f := range faces {
		num, err := f.write(w)
		if err != nil {
			return nil, fmt.Errorf("appearance font: %w", err)
		}
		res.Set(f.res, pdf.Ref{Num: num})
	}
	return res, nil
}

// appendText appends the operators that draw the lines at font size size
// in the box tx, ty, tw, th: centred vertically, each line left-aligned, or
// right-aligned when it reads right to left. asc and desc are how far the
// glyphs reach above and below the baseline, in 1/1000 em.
func appendText(c []byte, lines []laidLine, size, tx, ty, tw, th, asc, desc float64) []byte {
	pitch := lineGap * (asc - desc) * size / 1000
	top := ty + th - (th-pitch*float64(len(lines)))/2
	c = append(c, "BT 0 g\n"...)
	var cur *face
	for i, l := range lines {
		x := tx + l.overhang*size/1000
		if l.rtl {
			x = tx + tw - (l.width-l.overhang)*size/1000
		}
		y := top - float64(i)*pitch - asc*size/1000
		c = fmt.Appendf(c, "1 0 0 1 %s %s Tm\n", formatNum(x), formatNum(y))
		for j := 0; j < len(l.glyphs); {
			f := l.glyphs[j].face
			if f != cur {
				c = fmt.Appendf(c, "/%s %s Tf\n", f.res, formatNum(size))
				cur = f
			}
			var str []byte
			for ; j < len(l.glyphs) && l.glyphs[j].face == f; j++ {
				str = f.appendCode(str, l.glyphs[j].id)
			}
			if f.font == nil {
				c = pdf.AppendLiteralString(c, str)
			} else {
				c = pdf.AppendHexString(c, str)
			}
			c = append(c, " Tj\n"...)
		}
	}
	return append(c, "ET\n"...)
}

// extractionText returns what the ToUnicode map gives for g: its text, and
// for a right-to-left ligature (lam-alef) its letters in visual order,
// because extractors (poppler's pdftotext, for one) reverse the characters
// of a right-to-left word, those of one glyph included, to get back to the
// logical order.
func extractionText(g glyph) string {
	rs := []rune(g.text)
	if g.level%2 == 1 && len(rs) > 1 {
		slices.Reverse(rs)
	}
	return string(rs)
}

// writeForm writes the image, if any, and the form around content c.
func writeForm(w Writer, s *Spec, rot int, c []byte, fonts *pdf.Dict, pic *picture) (int, error) {
	res := pdf.NewDict()
	if fonts != nil && fonts.Len() > 0 {
		res.Set("Font", fonts)
	}
	if pic != nil {
		num, err := pic.write(w)
		if err != nil {
			return 0, fmt.Errorf("appearance image: %w", err)
		}
		xo := pdf.NewDict()
		xo.Set("Im1", pdf.Ref{Num: num})
		res.Set("XObject", xo)
	}
	W, H := formatNum(s.Width), formatNum(s.Height)
	d := pdf.NewDict()
	d.Set("Type", pdf.Name("XObject"))
	d.Set("Subtype", pdf.Name("Form"))
	d.Set("FormType", pdf.Integer(1))
	d.Set("BBox", pdf.Array{pdf.Integer(0), pdf.Integer(0), pdf.Real(W), pdf.Real(H)})
	r := func(v string) pdf.Real { return pdf.Real(v) }
	switch rot {
	case 90:
		d.Set("Matrix", pdf.Array{r("0"), r("1"), r("-1"), r("0"), r(H), r("0")})
	case 180:
		d.Set("Matrix", pdf.Array{r("-1"), r("0"), r("0"), r("-1"), r(W), r(H)})
	case 270:
		d.Set("Matrix", pdf.Array{r("0"), r("-1"), r("1"), r("0"), r("0"), r(W)})
	}
	d.Set("Resources", res)
	d.Set("Filter", pdf.Name("FlateDecode"))
	num := w.Alloc()
	if err := w.WriteStream(num, d, deflate(c)); err != nil {
		return 0, fmt.Errorf("appearance form: %w", err)
	}
	return num, nil
}

// fit returns the largest size of the given aspect ratio inside maxW x
// maxH.
func fit(aspect, maxW, maxH float64) (float64, float64) {
	if maxW/maxH > aspect {
		return maxH * aspect, maxH
	}
	return maxW, maxW / aspect
}

// textLines returns the template's lines for s, leaving out empty fields,
// with labels and the date formatted. Control characters become spaces.
func textLines(s *Spec, t *Template) []string {
	var out []string
	for _, f := range t.Lines {
		var v string
		switch f {
		case FieldName:
			v = s.Name
		case FieldDate:
			if !s.Date.IsZero() {
				v = s.Date.Format(t.DateLayout)
			}
		case FieldReason:
			v = s.Reason
		case FieldLocation:
			v = s.Location
		case FieldContact:
			v = s.Contact
		}
		v = strings.Join(strings.FieldsFunc(v, func(r rune) bool {
			return unicode.IsControl(r) || r == ' ' || r == 0xFEFF
		}), " ")
		if v == "" {
			continue
		}
		if t.Labels && f != FieldName {
			v = fieldLabels[f] + v
		}
		out = append(out, v)
	}
	return out
}

// chooseFaces returns the fonts the text is set in, in the order a
// character looks for its glyph: Helvetica alone when the text is all
// WinAnsiEncoding and nothing asks for embedding, else the caller's font
// and then the default font.
func chooseFaces(s *Spec, items []string) ([]*face, error) {
	if s.Font == nil && !s.Embed {
		ansi := true
		for _, it := range items {
			for _, r := range it {
				if _, ok := stdfont.WinAnsiCode(r); !ok {
					ansi = false
				}
			}
		}
		if ansi {
			return []*face{newFace(nil, "F1")}, nil
		}
	}
	var faces []*face
	if s.Font != nil {
		faces = append(faces, newFace(s.Font, "F1"))
	}
	def, err := DefaultFont()
	if err != nil {
		return nil, fmt.Errorf("the default font: %w", err)
	}
	faces = append(faces, newFace(def, pdf.Name(fmt.Sprintf("F%d", len(faces)+1))))
	return faces, nil
}

// laidLine is one line of text ready to draw.
type laidLine struct {
	glyphs   []glyph // in visual order
	width    float64 // in 1/1000 em, with the overhang of the outlines at both ends
	overhang float64 // how far the first glyph reaches left of the line's origin, in 1/1000 em
	rtl      bool
}

// ErrNoFit reports text that does not fit its box at the smallest size.
var ErrNoFit = errors.New("the text does not fit the appearance box")

// lineGap is the line pitch as a multiple of the height of the glyphs.
const lineGap = 1.1

// fitText wraps the items into the w x h box at the largest font size, from
// t.MaxSize down to t.MinSize in quarter points, at which they fit. Lines
// are as high as the glyphs of the text reach above (asc) and below (desc)
// their baseline, in 1/1000 em, and a tenth more.
func fitText(items []string, faces []*face, t *Template, w, h float64) (lines []laidLine, size, asc, desc float64, err error) {
	budget := &shapeBudget{}
	// Shape each item whole first: a character no font has is an error
	// whatever the size.
	for _, it := range items {
		gs, _, err := shapeLine(it, faces, budget)
		if err != nil {
			return nil, 0, 0, 0, err
		}
		for _, g := range gs {
			lo, hi := g.face.extent(g.id)
			asc, desc = math.Max(asc, hi), math.Min(desc, lo)
		}
	}
	pitch := lineGap * (asc - desc) / 1000 // line height per point of font size
	widths := map[string]float64{}
	measure := func(s string) (float64, error) {
		if v, ok := widths[s]; ok {
			return v, nil
		}
		gs, _, err := shapeLine(s, faces, budget)
		if err != nil {
			return 0, err
		}
		v, _ := lineWidth(gs)
		widths[s] = v
		return v, nil
	}
	if w <= 0 || h <= 0 || pitch <= 0 {
		return nil, 0, 0, 0, fmt.Errorf("%w: no room left for text", ErrNoFit)
	}
	maxSize := math.Min(t.MaxSize, h/(pitch*float64(len(items))))
	// The largest size at which the text fits wrapped between words, and
	// the largest without wrapping: unwrapped lines win unless they need a
	// font less than 70% of the size wrapping allows. Words are broken
	// between characters only when nothing else fits.
	texts, size, err := largestFit(items, measure, t.MinSize, maxSize, w, h, pitch, wrapWords)
	if err != nil {
		return nil, 0, 0, 0, err
	}
	if texts != nil && len(texts) > len(items) {
		whole, wholeSize, err := largestFit(items, measure, math.Max(t.MinSize, 0.7*size), size, w, h, pitch, wrapNone)
		if err != nil {
			return nil, 0, 0, 0, err
		}
		if whole != nil {
			texts, size = whole, wholeSize
		}
	}
	if texts == nil {
		if texts, size, err = largestFit(items, measure, t.MinSize, maxSize, w, h, pitch, wrapChars); err != nil {
			return nil, 0, 0, 0, err
		}
	}
	if texts == nil {
		return nil, 0, 0, 0, fmt.Errorf("%w: %d lines in %.1fx%.1f points at the smallest font size of %g points",
			ErrNoFit, len(items), w, h, t.MinSize)
	}
	lines = make([]laidLine, len(texts))
	for i, s := range texts {
		gs, rtl, err := shapeLine(s, faces, budget)
		if err != nil {
			return nil, 0, 0, 0, err
		}
		lines[i] = laidLine{glyphs: gs, rtl: rtl}
		lines[i].width, lines[i].overhang = lineWidth(gs)
	}
	return lines, size, asc, desc, nil
}

// lineWidth returns the width of the glyphs gs (in visual order) in 1/1000
// em: their advances, and what the outline of the first glyph reaches left
// of its origin (overhang) and that of the last one right of its advance.
func lineWidth(gs []glyph) (width, overhang float64) {
	for _, g := range gs {
		width += g.adv
	}
	if len(gs) == 0 {
		return 0, 0
	}
	if lo, _ := gs[0].face.hextent(gs[0].id); lo < 0 {
		overhang = -lo
	}
	last := gs[len(gs)-1]
	_, hi := last.face.hextent(last.id)
	return width + overhang + math.Max(0, hi-last.adv), overhang
}

// The ways largestFit may break lines.
const (
	wrapNone  = iota // one line per item
	wrapWords        // between words and around ideographs
	wrapChars        // also between the characters of a word
)

// largestFit returns the lines of items at the largest font size from hi
// down to lo, in quarter points, at which they fit the w x h box, or nil.
func largestFit(items []string, measure func(string) (float64, error), lo, hi, w, h, pitch float64, mode int) ([]string, float64, error) {
	for size := math.Floor(hi*4) / 4; size >= lo; size -= 0.25 {
		limit := w * 1000 / size
		var texts []string
		ok := true
		for _, it := range items {
			ls := []string{it}
			fits := true
			if mode == wrapNone {
				v, err := measure(it)
				if err != nil {
					return nil, 0, err
				}
				fits = v <= limit
			} else {
				var err error
				if ls, fits, err = wrap(it, limit, measure, mode == wrapChars); err != nil {
					return nil, 0, err
				}
			}
			if !fits {
				ok = false
				break
			}
			texts = append(texts, ls...)
		}
		if ok && float64(len(texts))*pitch*size <= h {
			return texts, size, nil
		}
	}
	return nil, 0, nil
}

// wrap breaks the logical text s into lines no wider than limit (1/1000
// em): after spaces, hyphens and slashes and around CJK ideographs and
// kana, and, with chars, between the characters of a word wider than a
// line. It reports false when a word (a character, with chars) is wider
// than limit.
func wrap(s string, limit float64, measure func(string) (float64, error), chars bool) ([]string, bool, error) {
	rs := []rune(s)
	// breaks[i]: a line may end before rs[i].
	breaks := make([]bool, len(rs)+1)
	breaks[len(rs)] = true
	for i := 1; i < len(rs); i++ {
		breaks[i] = rs[i-1] == ' ' || isCJK(rs[i-1]) || isCJK(rs[i]) || rs[i-1] == '-' || rs[i-1] == '/'
	}
	var out []string
	start := 0
	for start < len(rs) {
		best := -1
		for end := start + 1; end <= len(rs); end++ {
			if !breaks[end] {
				continue
			}
			v, err := measure(strings.TrimRight(string(rs[start:end]), " "))
			if err != nil {
				return nil, false, err
			}
			if v > limit {
				break
			}
			best = end
		}
		if best < 0 && chars {
			// A word wider than the line: break it between characters,
			// keeping combining marks with their base.
			for end := start + 1; end <= len(rs); end++ {
				if end < len(rs) && joiningType(rs[end]) == 'T' {
					continue
				}
				v, err := measure(string(rs[start:end]))
				if err != nil {
					return nil, false, err
				}
				if v > limit {
					break
				}
				best = end
			}
		}
		if best < 0 {
			return nil, false, nil
		}
		if line := strings.TrimRight(string(rs[start:best]), " "); line != "" {
			out = append(out, line)
		}
		start = best
		for start < len(rs) && rs[start] == ' ' {
			start++
		}
	}
	return out, true, nil
}

func isCJK(r rune) bool {
	return unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Hangul, unicode.Bopomofo) ||
		r >= 0x3000 && r <= 0x303F || r >= 0xFF00 && r <= 0xFFEF
}
