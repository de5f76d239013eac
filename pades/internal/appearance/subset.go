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
// font: head, hhea, maxp, hmtx, loca, glyf, post and the hinting tables.
func (f *Font) subset(gids []int) ([]byte, error) {
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

	tables := map[string][]byte{
		"head": head, "hhea": hhea, "maxp": maxp, "hmtx": hmtx,
		"loca": loca, "glyf": glyf, "post": post,
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
