package textpos

import (
	"errors"
	"io"
	"sort"
	"unicode/utf16"

	"hashsign/pades/internal/pdf"
)

// cmap is what a CMap holds (Adobe Technical Note #5014 and #5099): the
// codespace ranges that split a string into codes of one to four bytes,
// the CIDs of codes (cidchar, cidrange, notdef entries are left out) and
// the Unicode text of codes (bfchar, bfrange, in a /ToUnicode CMap).
// Ranges are kept as ranges, never expanded.
type cmap struct {
	space    []spaceRange
	cidChars map[codeKey]int
	cidRange []codeRange
	uniChars map[codeKey]string
	uniRange []codeRange
	wmode    int
	sorted   bool
	cost     int64 // bytes held, roughly
}

// codeKey is a code and its length in bytes.
type codeKey struct {
	n    int
	code uint32
}

// spaceRange is a codespace range: codes of n bytes whose every byte lies
// between the bytes of lo and hi at the same place.
type spaceRange struct {
	n      int
	lo, hi [4]byte
}

// codeRange maps the codes lo to hi of n bytes: to CIDs from cid on, or to
// Unicode text from uni on (the last UTF-16 unit counting up), or to the
// texts of list in turn.
type codeRange struct {
	n      int
	lo, hi uint32
	cid    int
	uni    []uint16
	list   []string
}

// Costs in bytes of what a CMap holds, for the memory limit.
const (
	entryCost = 48
	rangeCost = 80
)

// maxCMapDepth bounds chains of /UseCMap.
const maxCMapDepth = 4

// maxSpaceRanges bounds the codespace ranges kept, which every code is
// looked up in (real CMaps have a few).
const maxSpaceRanges = 256

// parseCMap reads CMap data. Whatever it cannot read is left out; only an
// operand over the limit for one operator ends it with an error.
func parseCMap(data []byte, into *cmap) error {
	c := pdf.NewContent(data, maxOperands)
	for {
		op, args, err := c.Next()
		if errors.Is(err, io.EOF) {
			into.sorted = false
			return nil
		}
		if err != nil {
			return err
		}
		switch op {
		case "endcodespacerange":
			for i := 0; i+1 < len(args); i += 2 {
				lo, ok1 := codeBytes(args[i])
				hi, ok2 := codeBytes(args[i+1])
				if !ok1 || !ok2 || len(lo) != len(hi) || len(into.space) >= maxSpaceRanges {
					continue
				}
				r := spaceRange{n: len(lo)}
				copy(r.lo[:], lo)
				copy(r.hi[:], hi)
				into.space = append(into.space, r)
				into.cost += rangeCost
			}
		case "endbfchar":
			for i := 0; i+1 < len(args); i += 2 {
				src, ok := codeBytes(args[i])
				if !ok {
					continue
				}
				var text string
				switch d := args[i+1].(type) {
				case pdf.String:
					text = utf16Text(d.Value)
				case pdf.Name:
					text = glyphText(string(d))
				default:
					continue
				}
				if into.uniChars == nil {
					into.uniChars = map[codeKey]string{}
				}
				into.uniChars[key(src)] = text
				into.cost += entryCost + int64(len(text))
			}
		case "endbfrange":
			for i := 0; i+2 < len(args); i += 3 {
				lo, ok1 := codeBytes(args[i])
				hi, ok2 := codeBytes(args[i+1])
				if !ok1 || !ok2 || len(lo) != len(hi) {
					continue
				}
				r := codeRange{n: len(lo), lo: key(lo).code, hi: key(hi).code}
				if r.hi < r.lo {
					continue
				}
				switch d := args[i+2].(type) {
				case pdf.String:
					r.uni = utf16Units(d.Value)
					if len(r.uni) == 0 {
						continue
					}
				case pdf.Array:
					for _, e := range d {
						s, _ := e.(pdf.String)
						r.list = append(r.list, utf16Text(s.Value))
						into.cost += int64(len(s.Value)) + 16
					}
				default:
					continue
				}
				into.uniRange = append(into.uniRange, r)
				into.cost += rangeCost + 2*int64(len(r.uni))
			}
		case "endcidchar":
			for i := 0; i+1 < len(args); i += 2 {
				src, ok := codeBytes(args[i])
				cid, ok2 := pdf.Int(args[i+1])
				if !ok || !ok2 || cid < 0 || cid > 0xFFFF {
					continue
				}
				if into.cidChars == nil {
					into.cidChars = map[codeKey]int{}
				}
				into.cidChars[key(src)] = int(cid)
				into.cost += entryCost
			}
		case "endcidrange":
			for i := 0; i+2 < len(args); i += 3 {
				lo, ok1 := codeBytes(args[i])
				hi, ok2 := codeBytes(args[i+1])
				cid, ok3 := pdf.Int(args[i+2])
				if !ok1 || !ok2 || !ok3 || len(lo) != len(hi) || cid < 0 || cid > 0xFFFF {
					continue
				}
				r := codeRange{n: len(lo), lo: key(lo).code, hi: key(hi).code, cid: int(cid)}
				if r.hi >= r.lo {
					into.cidRange = append(into.cidRange, r)
					into.cost += rangeCost
				}
			}
		case "def":
			if len(args) == 2 && args[0] == pdf.Name("WMode") {
				if v, ok := pdf.Int(args[1]); ok && v == 1 {
					into.wmode = 1
				}
			}
		}
	}
}

// codeBytes returns the bytes of a source code: a string of one to four
// bytes.
func codeBytes(o pdf.Object) ([]byte, bool) {
	s, ok := o.(pdf.String)
	if !ok || len(s.Value) == 0 || len(s.Value) > 4 {
		return nil, false
	}
	return s.Value, true
}

// key returns the code that b holds, big-endian.
func key(b []byte) codeKey {
	var v uint32
	for _, c := range b {
		v = v<<8 | uint32(c)
	}
	return codeKey{len(b), v}
}

// utf16Units reads UTF-16BE code units (an odd last byte is dropped).
func utf16Units(b []byte) []uint16 {
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
	}
	return u
}

// utf16Text decodes UTF-16BE text; a single byte is read as a code point,
// as some writers put one there.
func utf16Text(b []byte) string {
	if len(b) == 1 {
		return string(rune(b[0]))
	}
	return string(utf16.Decode(utf16Units(b)))
}

// sort orders the ranges for lookup.
func (m *cmap) sort() {
	for _, rs := range [][]codeRange{m.cidRange, m.uniRange} {
		sort.SliceStable(rs, func(i, j int) bool {
			if rs[i].n != rs[j].n {
				return rs[i].n < rs[j].n
			}
			return rs[i].lo < rs[j].lo
		})
	}
	m.sorted = true
}

// find returns the range among rs (sorted) that holds k, preferring the
// one that starts last.
func find(rs []codeRange, k codeKey) (codeRange, bool) {
	i := sort.Search(len(rs), func(i int) bool {
		return rs[i].n > k.n || rs[i].n == k.n && rs[i].lo > k.code
	})
	for j := i - 1; j >= 0 && j >= i-8 && rs[j].n == k.n; j-- {
		if rs[j].lo <= k.code && k.code <= rs[j].hi {
			return rs[j], true
		}
	}
	return codeRange{}, false
}

// unicode returns the text that the CMap gives code k, and whether it
// gives one.
func (m *cmap) unicode(k codeKey) (string, bool) {
	if m == nil {
		return "", false
	}
	if s, ok := m.uniChars[k]; ok {
		return s, true
	}
	if !m.sorted {
		m.sort()
	}
	r, ok := find(m.uniRange, k)
	if !ok {
		return "", false
	}
	off := k.code - r.lo
	if r.list != nil {
		if int(off) < len(r.list) {
			return r.list[off], true
		}
		return "", false
	}
	u := append([]uint16(nil), r.uni...)
	if len(u) == 0 {
		return "", false // a range to <>: no text
	}
	if len(u) == 2 && utf16.IsSurrogate(rune(u[0])) {
		// a character outside the BMP: count up the code point
		return string(utf16.DecodeRune(rune(u[0]), rune(u[1])) + rune(off)), true
	}
	u[len(u)-1] += uint16(off)
	return string(utf16.Decode(u)), true
}

// cid returns the CID of code k.
func (m *cmap) cid(k codeKey) int {
	if c, ok := m.cidChars[k]; ok {
		return c
	}
	if !m.sorted {
		m.sort()
	}
	if r, ok := find(m.cidRange, k); ok {
		return r.cid + int(k.code-r.lo)
	}
	return 0
}

// split returns the first code of s by the codespace ranges: the first n
// bytes that lie in a range of length n. Bytes that lie in none take the
// length of the shortest range (one byte when there is none).
func (m *cmap) split(s []byte) codeKey {
	shortest := 0
	for n := 1; n <= 4 && n <= len(s); n++ {
		for _, r := range m.space {
			if r.n != n {
				continue
			}
			in := true
			for i := 0; i < n; i++ {
				if s[i] < r.lo[i] || s[i] > r.hi[i] {
					in = false
					break
				}
			}
			if in {
				return key(s[:n])
			}
		}
	}
	for _, r := range m.space {
		if shortest == 0 || r.n < shortest {
			shortest = r.n
		}
	}
	shortest = max(1, min(shortest, len(s)))
	return key(s[:shortest])
}
