package textpos

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"

	"hashsign/pades/internal/pdf"
)

// maxOperands bounds the memory of the operands of one operator.
const maxOperands = 1 << 20

// maxSaved bounds the graphics states saved by q at once; a q beyond it is
// ignored, together with its Q.
const maxSaved = 1 << 12

// checkEvery is how many operations go between two looks at the context.
const checkEvery = 1 << 12

// gstate is the part of the graphics state that places text (ISO
// 32000-1, 8.4 and 9.3).
type gstate struct {
	ctm      matrix
	font     *font
	size     float64 // Tfs
	tc, tw   float64 // character and word spacing
	th       float64 // horizontal scaling, 1 = 100%
	tl, rise float64 // leading, rise
}

// interp interprets content streams and emits the glyphs they draw.
type interp struct {
	ctx   context.Context
	rd    *pdf.Reader
	lim   Limits
	ops   int64 // operations so far
	held  int64 // bytes of content data held
	fonts loader
	forms map[int]bool // the Form XObjects being interpreted
	depth int
	emit  func(glyph)
}

// page interprets the content of page.
func (in *interp) page(page pdf.Page) error {
	res, err := in.rd.ResolveDict(page.Dict.Get("Resources"))
	if err != nil {
		return fmt.Errorf("/Resources: %w", err)
	}
	contents, err := in.rd.Resolve(page.Dict.Get("Contents"))
	if err != nil {
		return fmt.Errorf("/Contents: %w", err)
	}
	var streams []pdf.Object
	switch c := contents.(type) {
	case pdf.Array:
		streams = c
	case *pdf.Stream:
		streams = []pdf.Object{page.Dict.Get("Contents")}
	}
	if err := in.run(streams, res, gstate{ctm: identity, th: 1}); err != nil {
		return err
	}
	return in.annotations(page, res)
}

// stream returns the decoded data of the content stream o, accounted in
// in.held, or nil when it cannot be read (a damaged stream is left out).
func (in *interp) stream(o pdf.Object) ([]byte, error) {
	ref, _ := o.(pdf.Ref)
	v, err := in.rd.Resolve(o)
	if err != nil {
		if errors.Is(err, pdf.ErrLimit) {
			return nil, err
		}
		return nil, nil
	}
	st, ok := v.(*pdf.Stream)
	if !ok {
		return nil, nil
	}
	data, err := in.rd.StreamData(st, ref.Num, ref.Gen)
	if err != nil {
		if errors.Is(err, pdf.ErrLimit) {
			return nil, err
		}
		return nil, nil
	}
	if in.held+int64(len(data)) > in.lim.Memory {
		return nil, fmt.Errorf("%w: content stream %d with the content around it holds more than %d bytes", ErrLimit, ref.Num, in.lim.Memory)
	}
	in.held += int64(len(data))
	return data, nil
}

// run interprets the content streams streams, one after another, with the
// resources res, from graphics state g.
func (in *interp) run(streams []pdf.Object, res *pdf.Dict, g gstate) error {
	var c *pdf.Content
	var saved []gstate
	skipped := 0 // q operators beyond maxSaved
	var tm, tlm matrix = identity, identity
	var last []byte
	defer func() { in.held -= int64(len(last)) }()
	for _, s := range streams {
		data, err := in.stream(s)
		if err != nil {
			return err
		}
		if data == nil {
			continue
		}
		in.held -= int64(len(last))
		last = data
		if c == nil {
			c = pdf.NewContent(data, maxOperands)
		} else {
			c.Reset(data)
		}
		for {
			op, args, err := c.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				if errors.Is(err, pdf.ErrLimit) {
					return err
				}
				break // the rest of a damaged stream is lost, as in viewers
			}
			if err := in.count(1); err != nil {
				return err
			}
			switch op {
			case "q":
				if len(saved) >= maxSaved {
					skipped++
					continue
				}
				saved = append(saved, g)
			case "Q":
				if skipped > 0 {
					skipped--
				} else if n := len(saved); n > 0 {
					g, saved = saved[n-1], saved[:n-1]
				}
			case "cm":
				if m, ok := numbers6(args); ok {
					g.ctm = m.mul(g.ctm)
				}
			case "BT":
				tm, tlm = identity, identity
			case "Tc":
				setNumber(&g.tc, args)
			case "Tw":
				setNumber(&g.tw, args)
			case "Tz":
				if v, ok := oneNumber(args); ok {
					g.th = v / 100
				}
			case "TL":
				setNumber(&g.tl, args)
			case "Ts":
				setNumber(&g.rise, args)
			case "Tf":
				if len(args) == 2 {
					name, _ := args[0].(pdf.Name)
					if err := in.setFont(&g, fontResource(in.rd, res, name), args[1]); err != nil {
						return err
					}
				}
			case "Td", "TD":
				if len(args) == 2 {
					x, ok1 := number(args[0])
					y, ok2 := number(args[1])
					if ok1 && ok2 {
						if op == "TD" {
							g.tl = -y
						}
						tlm = translate(x, y).mul(tlm)
						tm = tlm
					}
				}
			case "Tm":
				if m, ok := numbers6(args); ok {
					tm, tlm = m, m
				}
			case "T*":
				tlm = translate(0, -g.tl).mul(tlm)
				tm = tlm
			case "Tj", "'", "\"":
				if op == "\"" && len(args) == 3 {
					setNumber(&g.tw, args[:1])
					setNumber(&g.tc, args[1:2])
					args = args[2:]
				}
				if op != "Tj" {
					tlm = translate(0, -g.tl).mul(tlm)
					tm = tlm
				}
				if len(args) == 1 {
					if s, ok := args[0].(pdf.String); ok {
						if err := in.show(&g, &tm, s.Value); err != nil {
							return err
						}
					}
				}
			case "TJ":
				a, _ := oneArg(args).(pdf.Array)
				for _, e := range a {
					switch v := e.(type) {
					case pdf.String:
						if err := in.show(&g, &tm, v.Value); err != nil {
							return err
						}
					default:
						if n, ok := number(v); ok && g.font != nil {
							adj := -n / 1000 * g.size
							if g.font.wmode == 1 {
								tm = translate(0, adj).mul(tm)
							} else {
								tm = translate(adj*g.th, 0).mul(tm)
							}
						}
					}
				}
			case "gs":
				if err := in.extGState(&g, res, oneArg(args)); err != nil {
					return err
				}
			case "Do":
				name, _ := oneArg(args).(pdf.Name)
				if err := in.xobject(res, name, g); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// count accounts n operations and looks at the context now and then.
func (in *interp) count(n int64) error {
	before := in.ops
	in.ops += n
	if in.ops > in.lim.Operations {
		return fmt.Errorf("%w: more than %d operators and glyphs", ErrLimit, in.lim.Operations)
	}
	if before/checkEvery != in.ops/checkEvery {
		return in.ctx.Err()
	}
	return nil
}

// show draws the glyphs of string s in graphics state g, moving the text
// matrix tm past each.
func (in *interp) show(g *gstate, tm *matrix, s []byte) error {
	f := g.font
	if f == nil {
		return nil // no font selected: nothing is drawn
	}
	if err := in.count(int64(len(s))); err != nil {
		return err
	}
	for len(s) > 0 {
		c := f.split(s)
		s = s[c.k.n:]
		trm := tm.mul(g.ctm)
		var g1 glyph
		g1.x, g1.y = trm.point(0, g.rise)
		g1.text = normalize(f.text(c))
		dirx, diry := trm.vector(g.th, 0)
		if f.wmode == 1 {
			dirx, diry = trm.vector(0, -1)
		}
		l := math.Hypot(dirx, diry)
		if l == 0 || math.IsNaN(l) || math.IsInf(l, 0) {
			// a degenerate matrix: the glyph has no place
			g1.dx, g1.dy = 1, 0
		} else {
			g1.dx, g1.dy = dirx/l, diry/l
		}
		sx, sy := trm.vector(0, g.size*f.size)
		g1.size = math.Hypot(sx, sy)
		spacing := g.tc
		if c.k.n == 1 && c.k.code == 32 { // word spacing: the single-byte code 32
			spacing += g.tw
		}
		if f.wmode == 1 {
			w := f.advance(c) * g.size
			g1.ex, g1.ey = trm.point(0, g.rise+w)
			*tm = translate(0, w+spacing).mul(*tm)
		} else {
			w := f.advance(c) * g.size
			g1.ex, g1.ey = trm.point(w*g.th, g.rise)
			*tm = translate((w+spacing)*g.th, 0).mul(*tm)
		}
		if finite(g1.x, g1.y, g1.ex, g1.ey, g1.size) {
			in.emit(g1) // else it lies nowhere: matrices out of range
		}
	}
	return nil
}

// finite reports whether all of vs are finite numbers.
func finite(vs ...float64) bool {
	for _, v := range vs {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return false
		}
	}
	return true
}

// setFont selects the font of font dictionary fo at size o.
func (in *interp) setFont(g *gstate, fo pdf.Object, o pdf.Object) error {
	size, ok := number(o)
	if !ok {
		return nil
	}
	f, err := in.fonts.load(fo)
	if err != nil {
		if errors.Is(err, pdf.ErrLimit) {
			return err
		}
		f = &font{scale: 0.001, size: 1, dw: 1000} // unreadable: positions go on, text is lost
	}
	g.font, g.size = f, size
	return nil
}

// fontResource returns the font dictionary (or its reference) named name
// in res.
func fontResource(rd *pdf.Reader, res *pdf.Dict, name pdf.Name) pdf.Object {
	fonts, err := rd.ResolveDict(res.Get("Font"))
	if err != nil || fonts == nil {
		return nil
	}
	return fonts.Get(name)
}

// extGState applies the /Font entry of the graphics state parameter
// dictionary named o.
func (in *interp) extGState(g *gstate, res *pdf.Dict, o pdf.Object) error {
	name, ok := o.(pdf.Name)
	if !ok {
		return nil
	}
	all, err := in.rd.ResolveDict(res.Get("ExtGState"))
	if err != nil || all == nil {
		return nil
	}
	gs, err := in.rd.ResolveDict(all.Get(name))
	if err != nil || gs == nil {
		return nil
	}
	fa, _ := resolved(in.rd, gs.Get("Font")).(pdf.Array)
	if len(fa) != 2 {
		return nil
	}
	return in.setFont(g, fa[0], fa[1])
}

// xobject draws the Form XObject named name in res, in graphics state g.
// Other XObjects (images) draw no text.
func (in *interp) xobject(res *pdf.Dict, name pdf.Name, g gstate) error {
	all, err := in.rd.ResolveDict(res.Get("XObject"))
	if err != nil || all == nil {
		return nil
	}
	return in.form(all.Get(name), identity, res, g)
}

// form draws the Form XObject o (a reference) in graphics state g, after
// its /Matrix and then the matrix after. A form without /Resources uses
// res, as old files expect.
func (in *interp) form(o pdf.Object, after matrix, res *pdf.Dict, g gstate) error {
	ref, ok := o.(pdf.Ref)
	if !ok {
		return nil // a stream is always indirect
	}
	if in.forms[ref.Num] {
		return nil // a form that draws itself, directly or not
	}
	v, err := in.rd.Resolve(ref)
	if err != nil {
		if errors.Is(err, pdf.ErrLimit) {
			return err
		}
		return nil
	}
	st, ok := v.(*pdf.Stream)
	if !ok || st.Dict.Get("Subtype") != pdf.Name("Form") {
		return nil
	}
	if in.depth >= in.lim.Depth {
		return fmt.Errorf("%w: Form XObjects nested more than %d deep (form %d)", ErrLimit, in.lim.Depth, ref.Num)
	}
	m, ok := toMatrix(resolved(in.rd, st.Dict.Get("Matrix")))
	if !ok {
		m = identity
	}
	g.ctm = m.mul(after).mul(g.ctm)
	formRes, err := in.rd.ResolveDict(st.Dict.Get("Resources"))
	if err != nil || formRes == nil {
		formRes = res
	}
	in.forms[ref.Num] = true
	in.depth++
	err = in.run([]pdf.Object{ref}, formRes, g)
	in.depth--
	delete(in.forms, ref.Num)
	if err != nil {
		return fmt.Errorf("form %d: %w", ref.Num, err)
	}
	return nil
}

// Annotation flags that keep an annotation from being shown.
const (
	annotHidden = 1 << 1
	annotNoView = 1 << 5
)

// annotations draws the normal appearances of the annotations of page
// (ISO 32000-1, 12.5.5): each form's bounding box, after its /Matrix, is
// mapped onto the annotation's /Rect. Hidden annotations are left out.
func (in *interp) annotations(page pdf.Page, res *pdf.Dict) error {
	annots, _ := resolved(in.rd, page.Dict.Get("Annots")).(pdf.Array)
	for _, a := range annots {
		d, err := in.rd.ResolveDict(a)
		if err != nil || d == nil {
			if errors.Is(err, pdf.ErrLimit) {
				return err
			}
			continue
		}
		if f, _ := pdf.Int(resolved(in.rd, d.Get("F"))); f&(annotHidden|annotNoView) != 0 {
			continue
		}
		ap, _ := in.rd.ResolveDict(d.Get("AP"))
		n := ap.Get("N")
		if states, _ := resolved(in.rd, n).(*pdf.Dict); states != nil {
			as, _ := resolved(in.rd, d.Get("AS")).(pdf.Name)
			n = states.Get(as)
		}
		st, _ := resolved(in.rd, n).(*pdf.Stream)
		rect, ok1 := rectangle(resolved(in.rd, d.Get("Rect")))
		if st == nil || !ok1 {
			continue
		}
		bbox, ok2 := rectangle(resolved(in.rd, st.Dict.Get("BBox")))
		m, ok3 := toMatrix(resolved(in.rd, st.Dict.Get("Matrix")))
		if !ok3 {
			m = identity
		}
		if !ok2 {
			continue
		}
		// the box after the form's matrix, then its mapping onto /Rect
		bx0, by0, bx1, by1 := transformedBox(bbox, m)
		if bx1-bx0 == 0 || by1-by0 == 0 {
			continue
		}
		sx, sy := (rect[2]-rect[0])/(bx1-bx0), (rect[3]-rect[1])/(by1-by0)
		fit := matrix{sx, 0, 0, sy, rect[0] - bx0*sx, rect[1] - by0*sy}
		if err := in.count(1); err != nil {
			return err
		}
		if err := in.form(n, fit, res, gstate{ctm: identity, th: 1}); err != nil {
			return fmt.Errorf("annotation %v: %w", a, err)
		}
	}
	return nil
}

// rectangle reads a rectangle [x0 y0 x1 y1], normalized so that x0 <= x1
// and y0 <= y1.
func rectangle(o pdf.Object) ([4]float64, bool) {
	var r [4]float64
	a, _ := o.(pdf.Array)
	if len(a) != 4 {
		return r, false
	}
	for i := range r {
		v, ok := number(a[i])
		if !ok {
			return r, false
		}
		r[i] = v
	}
	return [4]float64{min(r[0], r[2]), min(r[1], r[3]), max(r[0], r[2]), max(r[1], r[3])}, true
}

// transformedBox returns the bounding box of rectangle r after m.
func transformedBox(r [4]float64, m matrix) (x0, y0, x1, y1 float64) {
	x0, y0 = math.Inf(1), math.Inf(1)
	x1, y1 = math.Inf(-1), math.Inf(-1)
	for _, c := range [4][2]float64{{r[0], r[1]}, {r[2], r[1]}, {r[0], r[3]}, {r[2], r[3]}} {
		x, y := m.point(c[0], c[1])
		x0, y0, x1, y1 = min(x0, x), min(y0, y), max(x1, x), max(y1, y)
	}
	return x0, y0, x1, y1
}

// oneArg returns the only operand, or nil.
func oneArg(args []pdf.Object) pdf.Object {
	if len(args) != 1 {
		return nil
	}
	return args[0]
}

// oneNumber returns the only operand as a number.
func oneNumber(args []pdf.Object) (float64, bool) { return number(oneArg(args)) }

// setNumber sets *v to the only operand when it is a number.
func setNumber(v *float64, args []pdf.Object) {
	if n, ok := oneNumber(args); ok {
		*v = n
	}
}
