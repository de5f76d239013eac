package pades

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"hashsign/pades/internal/pdf"
)

// Rect is the place of a new visible signature field on a page, in PDF
// points (1/72 inch), as a viewer displays the page:
//
//   - the origin is the bottom-left corner of the visible part of the page,
//     its /CropBox (the /MediaBox when it has none; only the part inside
//     the /MediaBox counts), whatever the coordinates of its corners;
//   - x grows to the right and y upwards on the page turned by its /Rotate,
//     as one sees it;
//   - X, Y is the bottom-left corner of the field and W, H its width and
//     height, as one sees them.
//
// So 0,0,200,50 is a field 200 points wide and 50 high in the bottom-left
// corner of what one sees, on a page with /Rotate 90 and a /MediaBox
// [100 100 712 892] as on any other. The field must lie on the visible
// page.
type Rect struct {
	X, Y, W, H float64
}

// ParseRect parses "x,y,w,h" (numbers in points, see Rect).
func ParseRect(s string) (Rect, error) {
	v, err := parseNumbers(s, 4)
	if err != nil {
		return Rect{}, fmt.Errorf("rectangle %q: %w: want x,y,w,h in points", s, err)
	}
	r := Rect{v[0], v[1], v[2], v[3]}
	if r.W <= 0 || r.H <= 0 {
		return Rect{}, fmt.Errorf("rectangle %q: the width and height must be positive", s)
	}
	return r, nil
}

// Size is the width and height of the fields placed over a text tag, in
// points, as one sees them (see SignOptions.Tag).
type Size struct {
	W, H float64
}

// DefaultTagSize is the size of the fields placed over a text tag when
// none is given.
var DefaultTagSize = Size{W: 180, H: 50}

// ParseSize parses "w,h" in points.
func ParseSize(s string) (Size, error) {
	v, err := parseNumbers(s, 2)
	if err != nil {
		return Size{}, fmt.Errorf("size %q: %w: want w,h in points", s, err)
	}
	if v[0] <= 0 || v[1] <= 0 {
		return Size{}, fmt.Errorf("size %q: the width and height must be positive", s)
	}
	return Size{v[0], v[1]}, nil
}

func parseNumbers(s string, n int) ([]float64, error) {
	parts := strings.Split(s, ",")
	if len(parts) != n {
		return nil, fmt.Errorf("%d numbers instead of %d", len(parts), n)
	}
	v := make([]float64, n)
	for i, p := range parts {
		f, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("%q is not a number", p)
		}
		v[i] = f
	}
	return v, nil
}

// pageInfo is a page with the attributes it inherits from the page tree.
type pageInfo struct {
	number int // 1-based
	ref    pdf.Ref
	dict   *pdf.Dict
	// box is the visible region in default user space: the /CropBox
	// clipped to the /MediaBox, normalized (x1 < x2, y1 < y2)
	box    [4]float64
	rotate int // /Rotate, 0, 90, 180 or 270
}

// page returns page n (1-based).
func (d *document) page(n int) (*pageInfo, error) {
	var found *pageInfo
	err := d.walkPages(func(p *pageInfo) bool {
		if p.number == n {
			found = p
		}
		return found == nil
	})
	if err != nil {
		return nil, err
	}
	if found == nil {
		return nil, fmt.Errorf("page %d: the document has fewer pages", n)
	}
	return found, nil
}

// walkPages calls fn for the pages in order until it returns false.
func (d *document) walkPages(fn func(*pageInfo) bool) error {
	for p, err := range d.rd.Pages(d.catalog) {
		if err != nil {
			return fmt.Errorf("reading the page tree: %w", err)
		}
		info, err := d.newPageInfo(p)
		if err != nil {
			return err
		}
		if !fn(info) {
			return nil
		}
	}
	return nil
}

// newPageInfo works out the visible region and rotation of a page from
// the attributes it has or inherits.
func (d *document) newPageInfo(p pdf.Page) (*pageInfo, error) {
	info := &pageInfo{number: p.Number, ref: p.Ref, dict: p.Dict}
	if p.Ref.Num != 0 {
		// the page's own dictionary, without what it inherits, is the
		// one to write back
		own, err := d.rd.ResolveDict(p.Ref)
		if err != nil {
			return nil, fmt.Errorf("page %d: %w", p.Number, err)
		}
		info.dict = own
	}
	media, err := d.box(p.Dict.Get("MediaBox"))
	if err != nil || media == nil {
		// ISO 32000-2 requires a /MediaBox; US Letter is what readers assume
		media = &[4]float64{0, 0, 612, 792}
	}
	info.box = *media
	if crop, err := d.box(p.Dict.Get("CropBox")); err == nil && crop != nil {
		c := [4]float64{max(crop[0], media[0]), max(crop[1], media[1]), min(crop[2], media[2]), min(crop[3], media[3])}
		if c[0] < c[2] && c[1] < c[3] {
			info.box = c
		}
	}
	if r, err := d.rd.Resolve(p.Dict.Get("Rotate")); err == nil {
		if v, ok := pdf.Int(r); ok {
			info.rotate = int(((v%360)+360)%360) / 90 * 90
		}
	}
	return info, nil
}

// box reads a rectangle, normalized; nil when o is null.
func (d *document) box(o pdf.Object) (*[4]float64, error) {
	v, err := d.rd.Resolve(o)
	if err != nil || v == nil {
		return nil, err
	}
	r, err := d.rect(v)
	if err != nil {
		return nil, err
	}
	return &r, nil
}

// rect reads a rectangle array, normalized so that x1 < x2 and y1 < y2.
func (d *document) rect(o pdf.Object) ([4]float64, error) {
	v, err := d.rd.Resolve(o)
	if err != nil {
		return [4]float64{}, err
	}
	a, ok := v.(pdf.Array)
	if !ok || len(a) != 4 {
		return [4]float64{}, fmt.Errorf("a rectangle is an array of four numbers, not a %s", pdf.TypeName(v))
	}
	var r [4]float64
	for i, x := range a {
		x, err := d.rd.Resolve(x)
		if err != nil {
			return r, err
		}
		f, ok := numberValue(x)
		if !ok {
			return r, fmt.Errorf("a rectangle holds a %s instead of a number", pdf.TypeName(x))
		}
		r[i] = f
	}
	return [4]float64{min(r[0], r[2]), min(r[1], r[3]), max(r[0], r[2]), max(r[1], r[3])}, nil
}

func numberValue(o pdf.Object) (float64, bool) {
	switch v := o.(type) {
	case pdf.Integer:
		return float64(v), true
	case pdf.Real:
		f, err := strconv.ParseFloat(string(v), 64)
		return f, err == nil && !math.IsNaN(f) && !math.IsInf(f, 0)
	}
	return 0, false
}

// displaySize returns the width and height of the visible page as one sees
// it, turned by /Rotate.
func (p *pageInfo) displaySize() (w, h float64) {
	w, h = p.box[2]-p.box[0], p.box[3]-p.box[1]
	if p.rotate == 90 || p.rotate == 270 {
		w, h = h, w
	}
	return w, h
}

// userRect converts r (see Rect) to a rectangle [x1 y1 x2 y2] in the
// default user space of the page, after checking that it lies on the
// visible page.
func (p *pageInfo) userRect(r Rect) ([4]float64, error) {
	const eps = 1e-6
	w, h := p.displaySize()
	if r.W <= 0 || r.H <= 0 {
		return [4]float64{}, fmt.Errorf("rectangle %s: the width and height must be positive", r)
	}
	if r.X < -eps || r.Y < -eps || r.X+r.W > w+eps || r.Y+r.H > h+eps {
		return [4]float64{}, fmt.Errorf("rectangle %s is off page %d, which is %s by %s points as displayed (x,y from its bottom-left corner)",
			r, p.number, formatNum(w), formatNum(h))
	}
	x1, y1, x2, y2 := p.box[0], p.box[1], p.box[2], p.box[3]
	switch p.rotate {
	case 90: // the page's left edge is on top: x runs up the page, y runs from its right edge leftwards
		return [4]float64{x2 - r.Y - r.H, y1 + r.X, x2 - r.Y, y1 + r.X + r.W}, nil
	case 180:
		return [4]float64{x2 - r.X - r.W, y2 - r.Y - r.H, x2 - r.X, y2 - r.Y}, nil
	case 270: // the page's right edge is on top: x runs down the page, y from its left edge rightwards
		return [4]float64{x1 + r.Y, y2 - r.X - r.W, x1 + r.Y + r.H, y2 - r.X}, nil
	}
	return [4]float64{x1 + r.X, y1 + r.Y, x1 + r.X + r.W, y1 + r.Y + r.H}, nil
}

func (r Rect) String() string {
	return formatNum(r.X) + "," + formatNum(r.Y) + "," + formatNum(r.W) + "," + formatNum(r.H)
}

// displayRect is the inverse of userRect: it converts a rectangle in user
// space to the page as displayed (see Rect).
func (p *pageInfo) displayRect(u [4]float64) Rect {
	x1, y1, x2, y2 := p.box[0], p.box[1], p.box[2], p.box[3]
	w, h := u[2]-u[0], u[3]-u[1]
	switch p.rotate {
	case 90:
		return Rect{X: u[1] - y1, Y: x2 - u[2], W: h, H: w}
	case 180:
		return Rect{X: x2 - u[2], Y: y2 - u[3], W: w, H: h}
	case 270:
		return Rect{X: y2 - u[3], Y: u[0] - x1, W: h, H: w}
	}
	return Rect{X: u[0] - x1, Y: u[1] - y1, W: w, H: h}
}

// tagRect returns the rectangle in user space of a field of size s whose
// bottom-left corner, as the text is read, is the start of the baseline
// (x, y) of a text drawn in direction angle (degrees, rounded to a quarter
// turn), and that quarter turn.
func tagRect(x, y, angle float64, s Size) ([4]float64, int) {
	turn := int(math.Round(angle/90)) % 4
	if turn < 0 {
		turn += 4
	}
	switch turn {
	case 1: // baseline up the page, the field's top towards -x
		return [4]float64{x - s.H, y, x, y + s.W}, 90
	case 2:
		return [4]float64{x - s.W, y - s.H, x, y}, 180
	case 3: // baseline down the page, the field's top towards +x
		return [4]float64{x, y - s.W, x + s.H, y}, 270
	}
	return [4]float64{x, y, x + s.W, y + s.H}, 0
}

func formatNum(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
