// Package textpos finds where a text, such as a signature tag
// "#signature1#", is drawn on the pages of a PDF document.
//
// It interprets the pages' content streams as a viewer does, without
// drawing: the graphics state (q, Q, cm), the text state and text
// operators, Form XObjects (nested, with their /Matrix), and the fonts
// that turn the shown strings into glyphs: simple fonts (Type1, TrueType,
// Type3) with their encodings, /Differences and /Widths, composite fonts
// (Type0) with Identity-H/V or embedded CMaps and /W widths, and /ToUnicode
// CMaps. The normal appearances of the pages' visible annotations (form
// fields, FreeText) are interpreted too. Standard fonts without /Widths
// take the widths of the Latin standard fonts. The Unicode text of
// consecutive glyphs on one baseline is matched against the text sought,
// however the glyphs were split among show operators.
//
// Text is found wherever it is drawn, even where clipping or an optional
// content group hides it. Left out: the glyph procedures of Type 3 fonts,
// the predefined CJK CMaps other than Identity-H/V and the Unicode ones
// (Uni...-UCS2, Uni...-UTF16), and the text of fonts that have neither a
// /ToUnicode CMap nor glyph names (which only their font program could
// tell).
//
// Our own interpreter rather than github.com/digitorus/pdf's Page.Content:
// that one ignores bfchar entries of /ToUnicode CMaps (all of
// LibreOffice's text comes out as garbage), decodes Identity-H fonts
// without their /ToUnicode and without /W widths, never enters Form
// XObjects, fails on pages whose /Contents is an array, and opens neither
// AES-256 nor damaged files.
package textpos

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"math"
	"strings"
	"unicode"

	"hashsign/pades/internal/pdf"
)

// Place is where the text sought is drawn.
type Place struct {
	Page     int     // 1-based
	X, Y     float64 // the start of the text's baseline, in default user space of the page (PDF points, as in /MediaBox)
	Width    float64 // advance width of the found text along the baseline, in user space
	FontSize float64 // effective size in user space
	Angle    float64 // baseline direction in degrees (0 for normal text)
}

// Limits bounds the work of Find. Zero fields take their defaults. The
// memory of decoding streams is bounded by the pdf.Reader's budget as
// well.
type Limits struct {
	// Operations is the most operators and shown glyphs interpreted over
	// all the pages (default 50 million).
	Operations int64
	// Depth is the most Form XObjects nested in one another (default 16).
	Depth int
	// Memory is the most bytes of decoded content and of fonts held at
	// once (default 64 MiB).
	Memory int64
}

// Defaults of Limits.
const (
	DefaultOperations = 50_000_000
	DefaultDepth      = 16
	DefaultMemory     = 64 << 20
)

func (l Limits) withDefaults() Limits {
	if l.Operations <= 0 {
		l.Operations = DefaultOperations
	}
	if l.Depth <= 0 {
		l.Depth = DefaultDepth
	}
	if l.Memory <= 0 {
		l.Memory = DefaultMemory
	}
	return l
}

// ErrLimit is wrapped by the errors of a search that went over its Limits.
var ErrLimit = errors.New("over the limits of the text search")

// Find returns each place where text is drawn on pages, in page order and,
// on a page, in the order of drawing. pages usually is rd.Pages(catalog);
// rd decrypts the document when it is encrypted. White space is ignored,
// in text and on the pages. A text that is nowhere gives an empty slice
// and no error.
//
// Content that cannot be read (a damaged stream, a missing resource) is
// left out as viewers leave it out. An error is returned when the page
// tree cannot be read, when ctx ends, and when the search or the reader
// goes over its limits.
func Find(ctx context.Context, rd *pdf.Reader, pages iter.Seq2[pdf.Page, error], text string, limits Limits) ([]Place, error) {
	needle := normalize(text)
	if needle == "" {
		return nil, errors.New("textpos: empty text to find")
	}
	lim := limits.withDefaults()
	in := &interp{
		ctx: ctx, rd: rd, lim: lim,
		fonts: loader{rd: rd, cache: map[any]*font{}, limit: lim.Memory / 2},
		forms: map[int]bool{},
	}
	var places []Place
	for page, err := range pages {
		if err != nil {
			return nil, fmt.Errorf("reading the page tree: %w", err)
		}
		m := &matcher{needle: needle, page: page.Number}
		in.emit = m.add
		if err := in.page(page); err != nil {
			return nil, fmt.Errorf("page %d: %w", page.Number, err)
		}
		places = append(places, m.places...)
	}
	return places, nil
}

// normalize returns s without white space, with the Latin ligatures split
// into their letters.
func normalize(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case unicode.IsSpace(r):
		case r >= 0xFB00 && r <= 0xFB06:
			b.WriteString([...]string{"ff", "fi", "fl", "ffi", "ffl", "st", "st"}[r-0xFB00])
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// glyph is one glyph drawn, in default user space.
type glyph struct {
	text         string  // normalized Unicode text, possibly empty
	x, y         float64 // origin
	ex, ey       float64 // the end of its advance (without character or word spacing)
	dx, dy, size float64 // unit direction of the baseline, effective font size
}

// matcher finds the text among the glyphs of one page as they come.
type matcher struct {
	needle string
	page   int
	run    []glyph // the last glyphs of the current line, holding at most the needle's length of text
	places []Place
}

// add takes the next glyph drawn.
func (m *matcher) add(g glyph) {
	if n := len(m.run); n > 0 && !continues(m.run[n-1], g) {
		m.run = m.run[:0]
	}
	if g.text == "" && len(m.run) == 0 {
		return
	}
	m.run = append(m.run, g)
	if g.text == "" {
		return
	}
	// keep the fewest last glyphs that hold the needle's length
	total := 0
	for i := len(m.run) - 1; i >= 0; i-- {
		total += len(m.run[i].text)
		if total >= len(m.needle) {
			m.run = m.run[i:]
			break
		}
	}
	if total < len(m.needle) {
		return
	}
	var b strings.Builder
	for _, h := range m.run {
		b.WriteString(h.text)
	}
	if !strings.HasSuffix(b.String(), m.needle) {
		return
	}
	first := m.run[0]
	p := Place{
		Page: m.page, X: first.x, Y: first.y,
		Width:    (g.ex-first.x)*first.dx + (g.ey-first.y)*first.dy,
		FontSize: first.size,
		Angle:    math.Atan2(first.dy, first.dx) * 180 / math.Pi,
	}
	// the same text drawn again over itself (fake bold, shadows) comes
	// soon after: the last few places are enough to look at
	for _, q := range m.places[max(0, len(m.places)-maxRedrawn):] {
		if math.Abs(q.X-p.X) < 1 && math.Abs(q.Y-p.Y) < 1 && math.Abs(q.Width-p.Width) < 1 {
			return
		}
	}
	m.places = append(m.places, p)
}

// maxRedrawn is how many of the last places a place is compared with to
// leave out text drawn over itself.
const maxRedrawn = 8

// continues reports whether glyph g follows glyph p on the same line: in
// the same direction, on p's baseline, and not before p nor too far after
// it.
func continues(p, g glyph) bool {
	if p.dx*g.dx+p.dy*g.dy < 0.999 { // more than 2.5 degrees apart
		return false
	}
	size := max(p.size, g.size, 0.01)
	// the offset of g's origin from the end of p, along and across p's baseline
	ox, oy := g.x-p.ex, g.y-p.ey
	along := ox*p.dx + oy*p.dy
	across := -ox*p.dy + oy*p.dx
	return math.Abs(across) <= 0.3*size && along >= -0.6*size && along <= 3*size
}
