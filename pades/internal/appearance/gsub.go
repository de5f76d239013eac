package appearance

import (
	"errors"
	"sort"
)

// gsubOps bounds the table reads of the substitutions applied to one text,
// so that a hostile GSUB table cannot make shaping run long.
const gsubOps = 1 << 20

var errGSUBBudget = errors.New("the font's substitution table (GSUB) needs too much work")

// gsub applies single (type 1) and ligature (type 4) substitutions, also
// when wrapped in extension subtables (type 7), from a font's GSUB table.
// Every read is bounds-checked: data outside the table reads as zero.
type gsub struct {
	t   []byte
	ops int
}

// r16 reads a 16-bit value at off in b, or 0 outside b.
func r16(b []byte, off int) int {
	if off < 0 || off+2 > len(b) {
		return 0
	}
	return u16(b, off)
}

func r32(b []byte, off int) int {
	if off < 0 || off+4 > len(b) {
		return 0
	}
	return int(u32(b, off))
}

func tail(b []byte, off int) []byte {
	if off < 0 || off > len(b) {
		return nil
	}
	return b[off:]
}

func (g *gsub) spend(n int) error {
	g.ops += n
	if g.ops > gsubOps {
		return errGSUBBudget
	}
	return nil
}

// lookups returns the lookup indices of feature in script (its default
// language system), falling back to the DFLT script, in lookup order.
func (g *gsub) lookups(script, feature string) ([]int, error) {
	t := g.t
	scripts := tail(t, r16(t, 4))
	features := tail(t, r16(t, 6))
	var langSys []byte
	for _, want := range []string{script, "DFLT"} {
		n := r16(scripts, 0)
		if err := g.spend(n); err != nil {
			return nil, err
		}
		for i := range n {
			rec := tail(scripts, 2+6*i)
			if len(rec) < 6 || string(rec[:4]) != want {
				continue
			}
			s := tail(scripts, r16(rec, 4))
			if off := r16(s, 0); off != 0 {
				langSys = tail(s, off)
			}
			break
		}
		if langSys != nil {
			break
		}
	}
	if langSys == nil {
		return nil, nil
	}
	var out []int
	n := r16(langSys, 4)
	if err := g.spend(n); err != nil {
		return nil, err
	}
	for i := range n {
		fi := r16(langSys, 6+2*i)
		rec := tail(features, 2+6*fi)
		if fi >= r16(features, 0) || len(rec) < 6 || string(rec[:4]) != feature {
			continue
		}
		f := tail(features, r16(rec, 4))
		m := r16(f, 2)
		if err := g.spend(m); err != nil {
			return nil, err
		}
		for j := range m {
			out = append(out, r16(f, 4+2*j))
		}
	}
	sort.Ints(out)
	return out, nil
}

// subtables calls fn with the type and data of each subtable of lookup i,
// unwrapping extension subtables.
func (g *gsub) subtables(i int, fn func(typ int, st []byte) (bool, error)) error {
	list := tail(g.t, r16(g.t, 8))
	if i >= r16(list, 0) {
		return nil
	}
	l := tail(list, r16(list, 2+2*i))
	typ, n := r16(l, 0), r16(l, 4)
	if err := g.spend(n); err != nil {
		return err
	}
	for j := range n {
		st := tail(l, r16(l, 6+2*j))
		t := typ
		if t == 7 && r16(st, 0) == 1 {
			t = r16(st, 2)
			st = tail(st, r32(st, 4))
		}
		if done, err := fn(t, st); done || err != nil {
			return err
		}
	}
	return nil
}

// coverage returns the coverage index of glyph in the coverage table c, or
// -1.
func (g *gsub) coverage(c []byte, glyph int) (int, error) {
	if err := g.spend(16); err != nil {
		return -1, err
	}
	switch r16(c, 0) {
	case 1:
		n := r16(c, 2)
		i := sort.Search(n, func(i int) bool { return r16(c, 4+2*i) >= glyph })
		if i < n && r16(c, 4+2*i) == glyph {
			return i, nil
		}
	case 2:
		n := r16(c, 2)
		i := sort.Search(n, func(i int) bool { return r16(c, 4+6*i+2) >= glyph })
		if i < n && r16(c, 4+6*i) <= glyph {
			return r16(c, 4+6*i+4) + glyph - r16(c, 4+6*i), nil
		}
	}
	return -1, nil
}

// single applies the single substitutions of lookup i to glyph.
func (g *gsub) single(i, glyph int) (int, error) {
	out := glyph
	err := g.subtables(i, func(typ int, st []byte) (bool, error) {
		if typ != 1 {
			return false, nil
		}
		ci, err := g.coverage(tail(st, r16(st, 2)), glyph)
		if err != nil || ci < 0 {
			return false, err
		}
		switch r16(st, 0) {
		case 1:
			out = (glyph + r16(st, 4)) & 0xFFFF
			return true, nil
		case 2:
			if ci < r16(st, 4) {
				out = r16(st, 6+2*ci)
				return true, nil
			}
		}
		return false, nil
	})
	return out, err
}

// ligature applies the ligature substitutions of lookup i at the start of
// glyphs and returns the ligature glyph and how many glyphs it replaces
// (0 when none applies).
func (g *gsub) ligature(i int, glyphs []int) (lig, n int, err error) {
	err = g.subtables(i, func(typ int, st []byte) (bool, error) {
		if typ != 4 || r16(st, 0) != 1 || len(glyphs) == 0 {
			return false, nil
		}
		ci, err := g.coverage(tail(st, r16(st, 2)), glyphs[0])
		if err != nil || ci < 0 || ci >= r16(st, 4) {
			return false, err
		}
		set := tail(st, r16(st, 6+2*ci))
		count := r16(set, 0)
		for k := range count {
			l := tail(set, r16(set, 2+2*k))
			comps := r16(l, 2)
			if err := g.spend(1 + comps); err != nil {
				return false, err
			}
			if comps < 1 || comps > len(glyphs) {
				continue
			}
			match := true
			for c := 1; c < comps; c++ {
				if r16(l, 4+2*(c-1)) != glyphs[c] {
					match = false
					break
				}
			}
			if match {
				lig, n = r16(l, 0), comps
				return true, nil
			}
		}
		return false, nil
	})
	return lig, n, err
}
