package appearance

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"slices"
)

// subset returns a TrueType font holding the glyphs gids (sorted, with
// glyph 0 first, composite closure already added) renumbered 0..n-1 in
// that order, with the tables a PDF viewer needs to draw a CIDFontType2
// font: head, hhea, maxp, hmtx, loca, glyf, post, the hinting tables, and
// a cmap for the characters of chars (in the Basic Multilingual Plane)
// whose glyph is kept.
func (f *Font) subset(gids []int, chars []rune) ([]byte, error) {
	newID := make(map[int]int, len(gids))
	for i, g := range gids {
		newID[g] = i
	}
	n := len(gids)
	var glyf []byte
	loca := make([]byte, 4*(n+1))
	hmtx := make([]byte, 4*n)
	for i, g := range gids {
		d, ok := f.glyphData(g)
		if !ok {
			return nil, fmt.Errorf("glyph %d lies outside the glyf table", g)
		}
		start := len(glyf)
		if start+len(d) > len(f.glyf)+4*n {
			return nil, fmt.Errorf("glyph %d overlaps others in the glyf table", g)
		}
		glyf = append(glyf, d...)
		var bad bool
		if !components(d, func(at int) {
			c, ok := newID[u16(d, at)]
			if !ok {
				bad = true
				return
			}
			binary.BigEndian.PutUint16(glyf[start+at:], uint16(c))
		}) || bad {
			return nil, fmt.Errorf("composite glyph %d is malformed", g)
		}
		for len(glyf)%4 != 0 {
			glyf = append(glyf, 0)
		}
		binary.BigEndian.PutUint32(loca[4*i:], uint32(start))
		binary.BigEndian.PutUint16(hmtx[4*i:], uint16(f.advance(g)))
		binary.BigEndian.PutUint16(hmtx[4*i+2:], uint16(int16(f.lsb(g))))
	}
	binary.BigEndian.PutUint32(loca[4*n:], uint32(len(glyf)))

	head := slices.Clone(f.tables["head"][:54])
	binary.BigEndian.PutUint32(head[8:], 0) // checkSumAdjustment, set below
	binary.BigEndian.PutUint16(head[50:], 1)
	hhea := slices.Clone(f.tables["hhea"][:36])
	binary.BigEndian.PutUint16(hhea[34:], uint16(n))
	maxp := slices.Clone(f.tables["maxp"])
	binary.BigEndian.PutUint16(maxp[4:], uint16(n))
	post := make([]byte, 32)
	if p := f.tables["post"]; len(p) >= 32 {
		copy(post, p[:32])
	}
	binary.BigEndian.PutUint32(post, 0x00030000) // no glyph names

	cmap := map[rune]int{}
	for _, r := range chars {
		if g, ok := f.GlyphIndex(r); ok && r <= 0xFFFF {
			if n, ok := newID[g]; ok {
				cmap[r] = n
			}
		}
	}
	tables := map[string][]byte{
		"head": head, "hhea": hhea, "maxp": maxp, "hmtx": hmtx,
		"loca": loca, "glyf": glyf, "post": post, "cmap": cmapFormat4(cmap),
	}
	for _, tag := range []string{"cvt ", "fpgm", "prep"} {
		if t, ok := f.tables[tag]; ok {
			tables[tag] = t
		}
	}
	out := writeSfnt(tables)
	// checkSumAdjustment makes the whole file sum to 0xB1B0AFBA.
	headAt := int(u32(out, 12+16*tagIndex(tables, "head")+8))
	binary.BigEndian.PutUint32(out[headAt+8:], 0xB1B0AFBA-checksum(out))
	return out, nil
}

// cmapFormat4 writes a cmap table with one (3, 1) format 4 subtable that
// maps each character of m, one segment each, to its glyph.
func cmapFormat4(m map[rune]int) []byte {
	rs := make([]rune, 0, len(m)+1)
	for r := range m {
		if r < 0xFFFF {
			rs = append(rs, r)
		}
	}
	slices.Sort(rs)
	rs = append(rs, 0xFFFF) // the closing segment
	segs := len(rs)
	sub := make([]byte, 16+8*segs)
	binary.BigEndian.PutUint16(sub[0:], 4)
	binary.BigEndian.PutUint16(sub[2:], uint16(len(sub)))
	binary.BigEndian.PutUint16(sub[6:], uint16(2*segs))
	sel := bits.Len(uint(segs)) - 1
	binary.BigEndian.PutUint16(sub[8:], uint16(2<<sel))
	binary.BigEndian.PutUint16(sub[10:], uint16(sel))
	binary.BigEndian.PutUint16(sub[12:], uint16(2*segs-2<<sel))
	for i, r := range rs {
		delta := 1 // 0xFFFF maps to glyph 0
		if r != 0xFFFF {
			delta = m[r] - int(r)
		}
		binary.BigEndian.PutUint16(sub[14+2*i:], uint16(r))
		binary.BigEndian.PutUint16(sub[16+2*segs+2*i:], uint16(r))
		binary.BigEndian.PutUint16(sub[16+4*segs+2*i:], uint16(int16(delta)))
	}
	out := []byte{0, 0, 0, 1, 0, 3, 0, 1, 0, 0, 0, 12}
	return append(out, sub...)
}

func tagIndex(tables map[string][]byte, tag string) int {
	tags := sortedTags(tables)
	return slices.Index(tags, tag)
}

func sortedTags(tables map[string][]byte) []string {
	tags := make([]string, 0, len(tables))
	for t := range tables {
		tags = append(tags, t)
	}
	slices.Sort(tags)
	return tags
}

// writeSfnt lays out an sfnt file with the given tables, sorted by tag and
// aligned to four bytes.
func writeSfnt(tables map[string][]byte) []byte {
	tags := sortedTags(tables)
	n := len(tags)
	out := make([]byte, 12+16*n)
	binary.BigEndian.PutUint32(out, 0x00010000)
	binary.BigEndian.PutUint16(out[4:], uint16(n))
	entrySelector := bits.Len(uint(n)) - 1
	searchRange := 16 << entrySelector
	binary.BigEndian.PutUint16(out[6:], uint16(searchRange))
	binary.BigEndian.PutUint16(out[8:], uint16(entrySelector))
	binary.BigEndian.PutUint16(out[10:], uint16(16*n-searchRange))
	for i, tag := range tags {
		t := tables[tag]
		e := out[12+16*i:]
		copy(e, tag)
		binary.BigEndian.PutUint32(e[4:], checksum(t))
		binary.BigEndian.PutUint32(e[8:], uint32(len(out)))
		binary.BigEndian.PutUint32(e[12:], uint32(len(t)))
		out = append(out, t...)
		for len(out)%4 != 0 {
			out = append(out, 0)
		}
	}
	return out
}

// checksum is the sfnt table checksum: the sum of big-endian 32-bit words,
// the last one padded with zeros.
func checksum(b []byte) uint32 {
	var sum uint32
	for len(b) >= 4 {
		sum += binary.BigEndian.Uint32(b)
		b = b[4:]
	}
	if len(b) > 0 {
		var last [4]byte
		copy(last[:], b)
		sum += binary.BigEndian.Uint32(last[:])
	}
	return sum
}
