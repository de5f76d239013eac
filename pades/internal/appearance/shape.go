package appearance

import (
	"fmt"
	"sort"
	"unicode"
)

// joinRange gives the Arabic joining type of the characters lo..hi.
type joinRange struct {
	lo, hi rune
	typ    byte
}

// joiningType returns the joining type of r: 'D' (dual), 'R' (right), 'L'
// (left), 'C' (join causing), 'T' (transparent) or 'U' (non-joining).
func joiningType(r rune) byte {
	i := sort.Search(len(joiningRanges), func(i int) bool { return joiningRanges[i].hi >= r })
	if i < len(joiningRanges) && joiningRanges[i].lo <= r {
		return joiningRanges[i].typ
	}
	if r == 0x200D { // zero width joiner
		return 'C'
	}
	if unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf) {
		return 'T'
	}
	return 'U'
}

// The positional forms of Arabic letters, as indices into
// presentationForms and the OpenType feature that selects each.
const (
	formNone = -1
	formIsol = 0
	formFina = 1
	formInit = 2
	formMedi = 3
)

var formFeatures = [4]string{"isol", "fina", "init", "medi"}

// joiningForms returns the positional form of each character of rs
// (formNone for characters that do not join).
func joiningForms(rs []rune) []int {
	forms := make([]int, len(rs))
	types := make([]byte, len(rs))
	for i, r := range rs {
		types[i] = joiningType(r)
	}
	for i := range rs {
		forms[i] = formNone
		t := types[i]
		if t != 'D' && t != 'R' && t != 'L' {
			continue
		}
		prev, next := byte('U'), byte('U')
		for j := i - 1; j >= 0; j-- {
			if types[j] != 'T' {
				prev = types[j]
				break
			}
		}
		for j := i + 1; j < len(rs); j++ {
			if types[j] != 'T' {
				next = types[j]
				break
			}
		}
		joinsPrev := (t == 'D' || t == 'R') && (prev == 'D' || prev == 'L' || prev == 'C')
		joinsNext := (t == 'D' || t == 'L') && (next == 'D' || next == 'R' || next == 'C')
		switch {
		case joinsPrev && joinsNext:
			forms[i] = formMedi
		case joinsPrev:
			forms[i] = formFina
		case joinsNext:
			forms[i] = formInit
		default:
			forms[i] = formIsol
		}
	}
	return forms
}

// Bidirectional classes, simplified from Unicode's Bidirectional Algorithm
// (UAX #9): no explicit embeddings, isolates or overrides.
const (
	bidiL  = iota // strong left to right
	bidiR         // strong right to left (Hebrew, Arabic, ...)
	bidiEN        // European digit
	bidiAN        // Arabic digit
	bidiN         // neutral: spaces, punctuation, symbols, marks
)

func bidiClass(r rune) int {
	switch {
	case r >= '0' && r <= '9':
		return bidiEN
	case r >= 0x0660 && r <= 0x0669, r >= 0x06F0 && r <= 0x06F9:
		return bidiAN
	case unicode.In(r, unicode.Hebrew, unicode.Arabic, unicode.Syriac, unicode.Thaana, unicode.Nko):
		if unicode.IsLetter(r) {
			return bidiR
		}
		return bidiN
	case unicode.IsLetter(r):
		return bidiL
	}
	return bidiN
}

// bidiLevels returns the embedding level of each character of the line rs
// and whether its paragraph direction is right to left (its first strong
// character is).
func bidiLevels(rs []rune) ([]int, bool) {
	cls := make([]int, len(rs))
	rtl, found := false, false
	for i, r := range rs {
		cls[i] = bidiClass(r)
		if !found && (cls[i] == bidiL || cls[i] == bidiR) {
			rtl, found = cls[i] == bidiR, true
		}
	}
	para := bidiL
	if rtl {
		para = bidiR
	}
	// W7: a European digit after a strong L (or at the start of an LTR
	// paragraph) is L.
	last := para
	for i, c := range cls {
		switch c {
		case bidiL, bidiR:
			last = c
		case bidiEN:
			if last == bidiL {
				cls[i] = bidiL
			}
		}
	}
	// N1/N2: neutrals between two characters of one direction (digits count
	// as R) take it, others the paragraph's.
	strong := func(c int) int {
		if c == bidiEN || c == bidiAN {
			return bidiR
		}
		return c
	}
	for i := 0; i < len(cls); {
		if cls[i] != bidiN {
			i++
			continue
		}
		j := i
		for j < len(cls) && cls[j] == bidiN {
			j++
		}
		before, after := para, para
		if i > 0 {
			before = strong(cls[i-1])
		}
		if j < len(cls) {
			after = strong(cls[j])
		}
		d := para
		if before == after {
			d = before
		}
		for k := i; k < j; k++ {
			cls[k] = d
		}
		i = j
	}
	// I1/I2: the implicit levels.
	base := 0
	if rtl {
		base = 1
	}
	levels := make([]int, len(rs))
	for i, c := range cls {
		switch {
		case base == 0 && c == bidiR:
			levels[i] = 1
		case base == 0 && (c == bidiEN || c == bidiAN):
			levels[i] = 2
		case base == 1 && c != bidiR:
			levels[i] = 2
		default:
			levels[i] = base
		}
	}
	return levels, rtl
}

// reorder returns the indices of items in visual order (rule L2): from the
// highest level down to the lowest odd one, every run at that level or
// higher is reversed.
func reorder(levels []int) []int {
	idx := make([]int, len(levels))
	maxL, minOdd := 0, 1<<30
	for i, l := range levels {
		idx[i] = i
		maxL = max(maxL, l)
		if l%2 == 1 {
			minOdd = min(minOdd, l)
		}
	}
	for l := maxL; l >= minOdd && l > 0; l-- {
		for i := 0; i < len(idx); {
			if levels[idx[i]] < l {
				i++
				continue
			}
			j := i
			for j < len(idx) && levels[idx[j]] >= l {
				j++
			}
			for a, b := i, j-1; a < b; a, b = a+1, b-1 {
				idx[a], idx[b] = idx[b], idx[a]
			}
			i = j
		}
	}
	return idx
}

var mirrors = map[rune]rune{'(': ')', ')': '(', '[': ']', ']': '[', '{': '}', '}': '{', '<': '>', '>': '<', '«': '»', '»': '«'}

// glyph is one glyph of a shaped line.
type glyph struct {
	face  *face
	id    int     // glyph index, or the WinAnsiEncoding code for the standard font
	adv   float64 // advance width in 1/1000 em
	text  string  // the characters it shows, in logical order
	level int     // bidirectional level
}

// shapeLine turns the logical text of one line into glyphs in visual order,
// choosing a face for each character from faces (the first that has it),
// applying Arabic joining forms and ligatures, and reordering right-to-left
// runs. It reports whether the line reads right to left.
func shapeLine(text string, faces []*face, g *shapeBudget) ([]glyph, bool, error) {
	rs := []rune(text)
	levels, rtl := bidiLevels(rs)
	forms := joiningForms(rs)
	var out []glyph
	for i := 0; i < len(rs); {
		r := rs[i]
		if levels[i]%2 == 1 {
			if m, ok := mirrors[r]; ok {
				r = m
			}
		}
		var fc *face
		var id int
		for _, f := range faces {
			if gid, ok := f.lookup(r); ok {
				fc, id = f, gid
				break
			}
		}
		if fc == nil {
			return nil, false, fmt.Errorf("no font has a glyph for %q (U+%04X): give a font that has it with -font", r, rs[i])
		}
		gl := glyph{face: fc, id: id, text: string(rs[i]), level: levels[i]}
		n := 1
		if fc.font != nil && forms[i] != formNone {
			var err error
			if gl, n, err = fc.arabic(rs, forms, i, gl, g); err != nil {
				return nil, false, err
			}
		}
		gl.adv = fc.advance(gl.id)
		out = append(out, gl)
		i += n
	}
	lv := make([]int, len(out))
	for i, gl := range out {
		lv[i] = gl.level
	}
	vis := make([]glyph, len(out))
	for i, j := range reorder(lv) {
		vis[i] = out[j]
	}
	return vis, rtl, nil
}

// shapeBudget carries the substitution work budget over the lines of one
// appearance.
type shapeBudget struct{ ops int }

// arabic shapes the joining letter rs[i] (glyph gl, form forms[i]): through
// the font's GSUB features (init, medi, fina, isol, then the rlig and liga
// ligatures) when it has them for the Arabic script, else through the
// Unicode presentation forms in its cmap. It returns the glyph and how many
// characters it stands for (2 for a lam-alef ligature).
func (fc *face) arabic(rs []rune, forms []int, i int, gl glyph, budget *shapeBudget) (glyph, int, error) {
	f := fc.font
	form := forms[i]
	// The next letter, for ligatures: lam then alef.
	next := i + 1
	if f.gsub != nil {
		gs := &gsub{t: f.gsub, ops: budget.ops}
		defer func() { budget.ops = gs.ops }()
		lk, err := fc.lookups(gs, formFeatures[form])
		if err != nil {
			return gl, 0, err
		}
		if len(lk) > 0 {
			id := gl.id
			for _, l := range lk {
				if id, err = fc.single(gs, l, id); err != nil {
					return gl, 0, err
				}
			}
			if id < f.numGlyphs {
				gl.id = id
			}
			if next < len(rs) && forms[next] != formNone {
				nid, ok := f.GlyphIndex(rs[next])
				if ok {
					nl, err := fc.lookups(gs, formFeatures[forms[next]])
					if err != nil {
						return gl, 0, err
					}
					for _, l := range nl {
						if nid, err = fc.single(gs, l, nid); err != nil {
							return gl, 0, err
						}
					}
					for _, feat := range []string{"rlig", "liga"} {
						ll, err := fc.lookups(gs, feat)
						if err != nil {
							return gl, 0, err
						}
						for _, l := range ll {
							lig, n, err := fc.ligature(gs, l, gl.id, nid)
							if err != nil {
								return gl, 0, err
							}
							if n == 2 && lig > 0 && lig < f.numGlyphs {
								gl.id = lig
								gl.text = string(rs[i : i+2])
								return gl, 2, nil
							}
						}
					}
				}
			}
			return gl, 1, nil
		}
	}
	// Presentation forms.
	if rs[i] == 0x0644 && next < len(rs) {
		if lig, ok := lamAlef[rs[next]]; ok {
			k := 0
			if form == formFina || form == formMedi {
				k = 1
			}
			if gid, ok := f.GlyphIndex(lig[k]); ok {
				gl.id, gl.text = gid, string(rs[i:i+2])
				return gl, 2, nil
			}
		}
	}
	if pf, ok := presentationForms[rs[i]]; ok && pf[form] != 0 {
		if gid, ok := f.GlyphIndex(pf[form]); ok {
			gl.id = gid
		}
	}
	return gl, 1, nil
}
