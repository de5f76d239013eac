package pdf

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"iter"
	"maps"
	"slices"
	"strconv"
)

// Encrypter encrypts the strings and streams of the objects that an update
// writes into an encrypted file.
type Encrypter interface {
	EncryptString(num, gen int, plain []byte) ([]byte, error)
	EncryptStream(num, gen int, plain []byte) ([]byte, error)
}

// Update is an incremental update being built (ISO 32000-2 §7.5.6): new and
// changed objects, then a cross-reference section in the form of the file's
// newest one (a table after a table or a hybrid section, a stream after a
// stream) whose /Prev chains to it. In a repaired file, whose own
// cross-reference cannot be trusted, the section lists every object instead.
// At most one object may hold a signature placeholder (WriteSignature),
// whose /ByteRange is filled in by Finish.
type Update struct {
	rd   *Reader
	enc  Encrypter
	prev int64 // /Prev, or -1 in a repaired file
	form XRefKind
	next int // next free object number

	body    []byte // the update, from the first byte after the input
	offsets map[int]int64
	gens    map[int]int
	start   int64 // offset of body[0] in the file

	brPos, brWidth int // where the /ByteRange array goes, and its width
	contents       int // offset in body of the placeholder's '<', or -1
	hexLen         int // hex digits in the placeholder
	finished       bool
}

// byteRangeWidth is the room kept for "[0 a b c]" with offsets of up to 12
// digits.
const byteRangeWidth = len("[0 ") + 3*12 + len("]")

// NewUpdate starts an update appended after the last byte of the file rd
// reads. enc encrypts the new strings and streams; it is nil for
// unencrypted files.
func NewUpdate(rd *Reader, enc Encrypter) *Update {
	u := &Update{rd: rd, enc: enc, offsets: map[int]int64{}, gens: map[int]int{}, next: rd.NextObjectNumber(), contents: -1}
	u.start = rd.Size()
	if rd.Repaired {
		u.prev = -1
		u.form = XRefTable
		for _, e := range rd.Entries() {
			if e.Type == EntryCompressed {
				u.form = XRefStream
				break
			}
		}
	} else {
		u.prev = rd.StartXRef
		u.form = rd.Sections[0].Kind
		if u.form == XRefHybrid {
			u.form = XRefTable
		}
	}
	// The input may end without an end of line after %%EOF.
	last := make([]byte, 1)
	if _, err := rd.ReaderAt().ReadAt(last, rd.Size()-1); err == nil && last[0] != '\n' && last[0] != '\r' {
		u.body = append(u.body, '\n')
	}
	return u
}

// Alloc returns a new object number.
func (u *Update) Alloc() int {
	n := u.next
	u.next++
	return n
}

// stringEncrypter returns the string encrypter for object num, or nil.
func (u *Update) stringEncrypter(num, gen int) StringEncrypter {
	if u.enc == nil {
		return nil
	}
	return func(b []byte) ([]byte, error) { return u.enc.EncryptString(num, gen, b) }
}

func (u *Update) beginObject(num, gen int) {
	u.offsets[num] = u.start + int64(len(u.body))
	u.gens[num] = gen
	u.body = strconv.AppendInt(u.body, int64(num), 10)
	u.body = append(u.body, ' ')
	u.body = strconv.AppendInt(u.body, int64(gen), 10)
	u.body = append(u.body, " obj\n"...)
}

// WriteObject writes object num (generation gen) with the value o. Writing
// the number of an existing object replaces it.
func (u *Update) WriteObject(num, gen int, o Object) error {
	u.beginObject(num, gen)
	var err error
	if u.body, err = AppendObject(u.body, o, u.stringEncrypter(num, gen)); err != nil {
		return fmt.Errorf("writing object %d: %w", num, err)
	}
	u.body = append(u.body, "\nendobj\n"...)
	return nil
}

// WriteStream writes stream object num with the dictionary d (its /Length
// is set) and the encoded data, encrypted when the file is.
func (u *Update) WriteStream(num int, d *Dict, data []byte) error {
	if u.enc != nil {
		var err error
		if data, err = u.enc.EncryptStream(num, 0, data); err != nil {
			return fmt.Errorf("encrypting stream %d: %w", num, err)
		}
	}
	d = d.Clone()
	d.Set("Length", Integer(len(data)))
	u.beginObject(num, 0)
	var err error
	if u.body, err = AppendObject(u.body, d, u.stringEncrypter(num, 0)); err != nil {
		return fmt.Errorf("writing object %d: %w", num, err)
	}
	u.body = append(u.body, "\nstream\n"...)
	u.body = append(u.body, data...)
	u.body = append(u.body, "\nendstream\nendobj\n"...)
	return nil
}

// WriteSignature writes the signature dictionary d as object num, followed
// by a /ByteRange that Finish fills in and a /Contents placeholder of
// contentsSize zero bytes. The placeholder is never encrypted (ISO 32000-2
// §7.6.2).
func (u *Update) WriteSignature(num int, d *Dict, contentsSize int) error {
	if u.contents >= 0 {
		return errors.New("an update holds one signature placeholder at most")
	}
	if contentsSize <= 0 {
		return errors.New("the signature placeholder size is not set")
	}
	u.beginObject(num, 0)
	var err error
	if u.body, err = AppendObject(u.body, d, u.stringEncrypter(num, 0)); err != nil {
		return fmt.Errorf("writing the signature dictionary: %w", err)
	}
	u.body = u.body[:len(u.body)-2] // reopen the dictionary
	u.body = append(u.body, "/ByteRange "...)
	u.brPos, u.brWidth = len(u.body), byteRangeWidth
	for range u.brWidth {
		u.body = append(u.body, ' ')
	}
	u.body = append(u.body, "/Contents "...)
	u.contents = len(u.body)
	u.hexLen = 2 * contentsSize
	u.body = append(u.body, '<')
	for range u.hexLen {
		u.body = append(u.body, '0')
	}
	u.body = append(u.body, ">>>\nendobj\n"...)
	return nil
}

// Finish appends the cross-reference section and the trailer, and fills in
// the /ByteRange of the placeholder. The trailer keeps the file's /Root,
// /Info, /ID and /Encrypt; an unencrypted file without /ID gets one.
func (u *Update) Finish() error {
	if u.finished {
		return errors.New("the update is already finished")
	}
	u.finished = true
	rd := u.rd
	trailer := NewDict()
	for _, k := range []Name{"Root", "Info", "ID", "Encrypt"} {
		if v := rd.Trailer.Get(k); v != nil {
			trailer.Set(k, v)
		}
	}
	if !trailer.Has("ID") && u.enc == nil {
		// An encrypted file's key depends on its (missing) ID, so only an
		// unencrypted file gets one.
		var id [16]byte
		rand.Read(id[:])
		s := String{Value: id[:], Hex: true}
		trailer.Set("ID", Array{s, s})
	}
	if u.prev >= 0 {
		trailer.Set("Prev", Integer(u.prev))
	}
	var xrefOff int64
	if u.form == XRefStream {
		num := u.Alloc()
		xrefOff = u.start + int64(len(u.body))
		u.offsets[num], u.gens[num] = xrefOff, 0 // as beginObject will record
		trailer.Set("Size", Integer(u.next))
		data, index, w := xrefStreamData(u.sectionEntries(), u.prev < 0)
		d := NewDict()
		d.Set("Type", Name("XRef"))
		for _, k := range trailer.Keys() {
			d.Set(k, trailer.Get(k))
		}
		d.Set("Index", index)
		d.Set("W", w)
		d.Set("Length", Integer(len(data)))
		u.beginObject(num, 0)
		var err error
		if u.body, err = AppendObject(u.body, d, nil); err != nil {
			return err
		}
		u.body = append(u.body, "\nstream\n"...)
		u.body = append(u.body, data...)
		u.body = append(u.body, "\nendstream\nendobj\n"...)
	} else {
		trailer.Set("Size", Integer(u.next))
		xrefOff = u.start + int64(len(u.body))
		u.body = appendXRefTable(u.body, u.sectionEntries(), u.prev < 0)
		u.body = append(u.body, "trailer\n"...)
		var err error
		if u.body, err = AppendObject(u.body, trailer, nil); err != nil {
			return err
		}
		u.body = append(u.body, '\n')
	}
	u.body = append(u.body, "startxref\n"...)
	u.body = strconv.AppendInt(u.body, xrefOff, 10)
	u.body = append(u.body, "\n%%EOF\n"...)

	if u.contents < 0 {
		return nil
	}
	br := u.ByteRange()
	s := fmt.Sprintf("[%d %d %d %d]", br[0], br[1], br[2], br[3])
	if len(s) > u.brWidth {
		return errors.New("the byte range does not fit its field")
	}
	copy(u.body[u.brPos:], s)
	return nil
}

// Start returns the offset in the file of the update's first byte.
func (u *Update) Start() int64 { return u.start }

// Bytes returns the update, complete once Finish has returned.
func (u *Update) Bytes() []byte { return u.body }

// Size returns the size of the file with the update.
func (u *Update) Size() int64 { return u.start + int64(len(u.body)) }

// HasPlaceholder reports whether the update holds a signature placeholder.
func (u *Update) HasPlaceholder() bool { return u.contents >= 0 }

// ByteRange returns the /ByteRange of the placeholder: everything but the
// /Contents hex string, its '<' and '>' included in the hole. It is valid
// once Finish has returned.
func (u *Update) ByteRange() [4]int64 {
	holeStart := u.start + int64(u.contents)
	holeEnd := holeStart + int64(u.hexLen) + 2
	return [4]int64{0, holeStart, holeEnd, u.Size() - holeEnd}
}

// ContentsSize returns the number of bytes the placeholder holds.
func (u *Update) ContentsSize() int { return u.hexLen / 2 }

// sectionEntries yields the entries of the new cross-reference section in
// the order of their numbers: for a repaired file every object the reader
// found, with the update's own in place of those it rewrites, then the
// update's new objects. They are read from the reader as they are written,
// so that a file of millions of objects costs no copy of its entries.
func (u *Update) sectionEntries() iter.Seq2[int, Entry] {
	own := slices.Sorted(maps.Keys(u.offsets))
	mine := func(n int) Entry { return Entry{Type: EntryInUse, Offset: u.offsets[n], Gen: u.gens[n]} }
	return func(yield func(int, Entry) bool) {
		i := 0
		if u.prev < 0 { // repaired: list every object
			for num, e := range u.rd.Entries() {
				for ; i < len(own) && own[i] < num; i++ {
					if !yield(own[i], mine(own[i])) {
						return
					}
				}
				if i < len(own) && own[i] == num {
					e = mine(num)
					i++
				}
				if num > 0 && !yield(num, e) {
					return
				}
			}
		}
		for ; i < len(own); i++ {
			if !yield(own[i], mine(own[i])) {
				return
			}
		}
	}
}

// xrefEntry is an entry of a new cross-reference section.
type xrefEntry struct {
	num int
	e   Entry
}

// runs calls fn for each run of consecutive numbers in entries (sorted,
// few) with its first number and its entries.
func runs(entries []xrefEntry, fn func(first int, run []xrefEntry)) {
	for i := 0; i < len(entries); {
		j := i
		for j+1 < len(entries) && entries[j+1].num == entries[j].num+1 {
			j++
		}
		fn(entries[i].num, entries[i:j+1])
		i = j + 1
	}
}

// appendXRefTable appends a classic cross-reference table of entries, in
// number order. A full table (for a repaired file) is one subsection from
// object 0, with free entries for the gaps; otherwise each run of
// consecutive numbers is a subsection.
func appendXRefTable(buf []byte, entries iter.Seq2[int, Entry], full bool) []byte {
	const free = "0000000000 65535 f\r\n"
	row := func(buf []byte, e Entry) []byte {
		buf = appendPadded(buf, e.Offset, 10)
		buf = append(buf, ' ')
		buf = appendPadded(buf, int64(e.Gen), 5)
		return append(buf, " n\r\n"...)
	}
	buf = append(buf, "xref\n"...)
	if full {
		last := 0
		for num := range entries {
			last = num
		}
		buf = slices.Grow(buf, (last+1)*len(free)+32)
		buf = fmt.Appendf(buf, "0 %d\n", last+1)
		n := 0
		for num, e := range entries {
			for ; n < num; n++ {
				buf = append(buf, free...)
			}
			buf = row(buf, e)
			n = num + 1
		}
		if n == 0 {
			buf = append(buf, free...)
		}
		return buf
	}
	list := []xrefEntry{{num: 0}}
	for num, e := range entries {
		list = append(list, xrefEntry{num, e})
	}
	runs(list, func(first int, run []xrefEntry) {
		buf = fmt.Appendf(buf, "%d %d\n", first, len(run))
		for _, x := range run {
			if x.num == 0 {
				buf = append(buf, free...)
			} else {
				buf = row(buf, x.e)
			}
		}
	})
	return buf
}

// appendPadded appends v (not negative) in decimal, zero-padded to width.
func appendPadded(buf []byte, v int64, width int) []byte {
	var b [20]byte
	i := len(b)
	for v >= 10 || len(b)-i < width-1 {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
	}
	i--
	b[i] = byte('0' + v)
	return append(buf, b[i:]...)
}

// xrefStreamData encodes entries, in number order, as the data of a
// cross-reference stream, with its /Index and /W. A full section (for a
// repaired file) starts at object 0, with free entries for the gaps.
func xrefStreamData(entries iter.Seq2[int, Entry], full bool) ([]byte, Array, Array) {
	maxOff, maxF3, last := int64(0), 0, 0
	var list []xrefEntry
	for n, e := range entries {
		last = n
		if !full {
			list = append(list, xrefEntry{n, e})
		}
		switch e.Type {
		case EntryInUse:
			maxOff = max(maxOff, e.Offset)
			maxF3 = max(maxF3, e.Gen)
		case EntryCompressed:
			maxOff = max(maxOff, int64(e.Stream))
			maxF3 = max(maxF3, e.Index)
		}
	}
	w2 := 1
	for maxOff >= 1<<(8*w2) {
		w2++
	}
	w3 := 1
	for int64(maxF3) >= 1<<(8*w3) {
		w3++
	}
	var index Array
	var data []byte
	row := func(typ byte, f2 int64, f3 int) {
		data = append(data, typ)
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], uint64(f2))
		data = append(data, b[8-w2:]...)
		binary.BigEndian.PutUint64(b[:], uint64(f3))
		data = append(data, b[8-w3:]...)
	}
	entryRow := func(e Entry) {
		if e.Type == EntryCompressed {
			row(2, int64(e.Stream), e.Index)
		} else {
			row(1, e.Offset, e.Gen)
		}
	}
	if full {
		index = Array{Integer(0), Integer(last + 1)}
		n := 0
		for num, e := range entries {
			for ; n < num; n++ {
				row(0, 0, 65535&(1<<(8*w3)-1))
			}
			entryRow(e)
			n = num + 1
		}
	} else {
		runs(list, func(first int, run []xrefEntry) {
			index = append(index, Integer(first), Integer(len(run)))
			for _, x := range run {
				entryRow(x.e)
			}
		})
	}
	return data, index, Array{Integer(1), Integer(w2), Integer(w3)}
}
