package pdf

import (
	"fmt"
	"iter"
)

// entryTable holds cross-reference entries by object number in pages of
// 256 packed entries, allocated when an entry of theirs is set: 8 bytes per
// object number in a used page, and nothing for free entries. A file whose
// objects are numbered densely costs 8 bytes per object.
type entryTable struct {
	pages []*entryPage
	n     int // entries set
}

const (
	pageBits  = 8
	pageLen   = 1 << pageBits
	pageBytes = pageLen*8 + 8 // the page and its pointer
)

type entryPage [pageLen]uint64

// A packed entry: the type in the top two bits (0: none), then for in-use
// objects the generation (16 bits) and offset (46 bits), for compressed
// ones the object stream number (30 bits) and index (32 bits).
const (
	packInUse      = uint64(EntryInUse) << 62
	packCompressed = uint64(EntryCompressed) << 62
	maxPackedOff   = 1<<46 - 1
	maxPackedIndex = 1<<32 - 1
)

func pack(e Entry) uint64 {
	switch e.Type {
	case EntryInUse:
		off := e.Offset
		if off < 0 || off > maxPackedOff {
			off = maxPackedOff // outside any file: validation refuses it
		}
		return packInUse | uint64(e.Gen&0xFFFF)<<46 | uint64(off)
	case EntryCompressed:
		idx := e.Index
		if idx < 0 || idx > maxPackedIndex {
			idx = maxPackedIndex // beyond any object stream: looked up by number
		}
		return packCompressed | uint64(e.Stream&(1<<30-1))<<32 | uint64(idx)
	}
	return 0
}

func unpack(v uint64) Entry {
	switch v >> 62 {
	case uint64(EntryInUse):
		return Entry{Type: EntryInUse, Gen: int(v >> 46 & 0xFFFF), Offset: int64(v & maxPackedOff)}
	case uint64(EntryCompressed):
		return Entry{Type: EntryCompressed, Stream: int(v >> 32 & (1<<30 - 1)), Index: int(v & maxPackedIndex)}
	}
	return Entry{Type: EntryFree}
}

// get returns the entry of num; ok is false when it is free or absent.
func (t *entryTable) get(num int) (Entry, bool) {
	if num < 0 || num>>pageBits >= len(t.pages) {
		return Entry{}, false
	}
	p := t.pages[num>>pageBits]
	if p == nil || p[num&(pageLen-1)] == 0 {
		return Entry{}, false
	}
	return unpack(p[num&(pageLen-1)]), true
}

// has reports whether num has an entry.
func (t *entryTable) has(num int) bool {
	if num < 0 || num>>pageBits >= len(t.pages) {
		return false
	}
	p := t.pages[num>>pageBits]
	return p != nil && p[num&(pageLen-1)] != 0
}

// set stores e (in use or compressed) for num, which must be within
// [0, maxObjectNumber]. A new page is accounted with rd.take.
func (t *entryTable) set(rd *Reader, num int, e Entry) error {
	pi := num >> pageBits
	if pi >= len(t.pages) {
		if pi >= cap(t.pages) {
			// grow the page index by doubling, within its final size
			n := min(max(2*cap(t.pages), pi+1, 16), maxObjectNumber>>pageBits+1)
			if err := rd.take(int64(n-cap(t.pages))*8, func() string { return "cross-reference entries" }); err != nil {
				return err
			}
			pages := make([]*entryPage, pi+1, n)
			copy(pages, t.pages)
			t.pages = pages
		}
		t.pages = t.pages[:pi+1]
	}
	p := t.pages[pi]
	if p == nil {
		if err := rd.take(pageBytes, func() string { return fmt.Sprintf("cross-reference entries (%d objects so far)", t.n) }); err != nil {
			return err
		}
		p = new(entryPage)
		t.pages[pi] = p
	}
	if p[num&(pageLen-1)] == 0 {
		t.n++
	}
	p[num&(pageLen-1)] = pack(e)
	return nil
}

// reset empties the table and releases what it held.
func (t *entryTable) reset(rd *Reader) {
	n := int64(cap(t.pages)) * 8
	for _, p := range t.pages {
		if p != nil {
			n += pageBytes
		}
	}
	rd.release(n)
	*t = entryTable{}
}

// del removes the entry of num.
func (t *entryTable) del(num int) {
	if num < 0 || num>>pageBits >= len(t.pages) {
		return
	}
	if p := t.pages[num>>pageBits]; p != nil && p[num&(pageLen-1)] != 0 {
		p[num&(pageLen-1)] = 0
		t.n--
	}
}

// all yields the entries in the order of their object numbers.
func (t *entryTable) all() iter.Seq2[int, Entry] {
	return func(yield func(int, Entry) bool) {
		for pi, p := range t.pages {
			if p == nil {
				continue
			}
			for i, v := range p {
				if v != 0 && !yield(pi<<pageBits|i, unpack(v)) {
					return
				}
			}
		}
	}
}

// bitset is a set of object numbers, grown as numbers are added.
type bitset []uint64

func (b bitset) has(num int) bool {
	return num>>6 < len(b) && b[num>>6]&(1<<(num&63)) != 0
}

// add adds num, accounting growth with rd.take.
func (b *bitset) add(rd *Reader, num int) error {
	w := num >> 6
	if w >= len(*b) {
		n := min(max(2*len(*b), w+1, 64), maxObjectNumber>>6+1)
		if err := rd.take(int64(n-len(*b))*8, func() string { return "cross-reference bookkeeping" }); err != nil {
			return err
		}
		nb := make(bitset, n)
		copy(nb, *b)
		*b = nb
	}
	(*b)[w] |= 1 << (num & 63)
	return nil
}

// union adds every member of o to b; b has room for them.
func (b bitset) union(o bitset) {
	for i, w := range o {
		b[i] |= w
	}
}

func (b bitset) clear() {
	for i := range b {
		b[i] = 0
	}
}
