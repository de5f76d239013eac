package pdf

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"iter"
)

// XRefKind is the form of a cross-reference section.
type XRefKind int

// The forms of cross-reference sections.
const (
	XRefTable  XRefKind = iota // classic "xref" table
	XRefStream                 // cross-reference stream (PDF 1.5)
	XRefHybrid                 // table whose trailer has /XRefStm
)

func (k XRefKind) String() string {
	switch k {
	case XRefTable:
		return "table"
	case XRefStream:
		return "stream"
	case XRefHybrid:
		return "hybrid"
	}
	return "unknown"
}

// EntryType is the type of a cross-reference entry.
type EntryType uint8

// The types of cross-reference entries.
const (
	EntryFree       EntryType = 0
	EntryInUse      EntryType = 1
	EntryCompressed EntryType = 2
)

// Entry is one cross-reference entry. For in-use objects Offset is the
// object's byte offset; for compressed objects Stream is the number of the
// object stream that holds it and Index its index there.
type Entry struct {
	Type   EntryType
	Gen    int
	Offset int64
	Stream int
	Index  int
}

// Section is one cross-reference section of the file. Its entries are
// merged into the reader's as they are read and not kept;
// Reader.SectionEntries reads them again.
type Section struct {
	Offset  int64 // where the section starts ("xref" or the stream object)
	Kind    XRefKind
	Trailer *Dict
	// Count is the number of entries the section lists, free ones
	// included; a hybrid section counts those of its table and of its
	// stream.
	Count int
}

// Security decrypts the strings and streams of an encrypted file.
type Security interface {
	DecryptString(num, gen int, data []byte) ([]byte, error)
	DecryptStream(num, gen int, data []byte) ([]byte, error)
}

// errNoStartXRef reports a file whose last megabyte holds no startxref.
var errNoStartXRef = errors.New("no startxref and %%EOF at the end of the file")

// ErrNotPDF reports input that has no PDF header.
var ErrNotPDF = errors.New("not a PDF file: no %PDF- header")

// Reader gives access to the objects of a PDF file. Its memory and
// decoding work stay within its Budget.
type Reader struct {
	r    io.ReaderAt
	size int64

	// Version is the header's version, such as "1.7".
	Version string
	// HeaderOffset is the offset of "%PDF-" (non-zero when junk precedes it).
	HeaderOffset int64
	// StartXRef is the offset the file's last startxref points at.
	StartXRef int64
	// Sections lists the cross-reference sections, newest first. It is
	// empty when the file was repaired.
	Sections []*Section
	// Trailer holds the newest trailer's entries, completed from older
	// trailers for the keys the newest one lacks.
	Trailer *Dict
	// Repaired is set when the cross-reference information was rebuilt by
	// scanning the file; RepairReason says why.
	Repaired     bool
	RepairReason string

	budget   Budget
	held     int64 // bytes held, within budget.Memory
	produced int64 // bytes decoded so far, within budget.Decode

	xref     entryTable
	maxNum   int
	sec      Security
	encRef   Ref
	objs     map[int]Object
	objsCost int64
	objStms  map[int]*objStm
	tick     uint64       // for the object streams' last use
	loading  map[int]bool // objects being loaded, to break reference cycles
	scanning bool         // the repair scan is running: no object lookups

	// the last search for "endstream": from esFrom it found the keyword
	// at esAt, or none when esAt is negative
	esFrom, esAt int64
}

type objStm struct {
	data  []byte
	first int64
	offs  []int64 // offset of each object relative to first
	nums  []int
	cost  int64  // bytes accounted in the memory budget
	used  uint64 // Reader.tick at the last use
}

// Open reads the structure of the PDF file r of the given size within the
// default Budget. See OpenBudget.
func Open(r io.ReaderAt, size int64) (*Reader, error) {
	return OpenBudget(r, size, Budget{})
}

// OpenBudget reads the structure of the PDF file r of the given size. It
// follows the cross-reference chain from the last startxref; when that
// chain is broken or its offsets are wrong it rebuilds the cross-reference
// information by scanning the file, and sets Repaired. The zero fields of b
// take their defaults. A file that would exceed b is refused with an error
// that wraps a *LimitError.
func OpenBudget(r io.ReaderAt, size int64, b Budget) (*Reader, error) {
	rd := &Reader{r: r, size: size, budget: b.withDefaults(), objs: map[int]Object{}, objStms: map[int]*objStm{}, esAt: -1, esFrom: -1}
	if err := rd.readHeader(); err != nil {
		return nil, err
	}
	err := rd.readXRefChain()
	if errors.Is(err, errNoStartXRef) {
		// A file whose end holds no startxref was cut short (or is not a
		// finished PDF): what it lacks cannot be rebuilt.
		return nil, fmt.Errorf("truncated or incomplete PDF: %w", err)
	}
	if err == nil {
		err = rd.validate()
	}
	if errors.Is(err, ErrLimit) {
		// rebuilding would decode the same data again
		return nil, err
	}
	if err != nil {
		reason := err.Error()
		if err := rd.repair(); err != nil {
			return nil, fmt.Errorf("damaged PDF (%s), and rebuilding its cross-reference failed: %w", reason, err)
		}
		rd.Repaired, rd.RepairReason = true, reason
	}
	if _, ok := rd.Trailer.Get("Root").(Ref); !ok {
		return nil, errors.New("damaged PDF: the trailer has no /Root reference")
	}
	return rd, nil
}

// Size returns the file size.
func (rd *Reader) Size() int64 { return rd.size }

// ReaderAt returns the underlying reader.
func (rd *Reader) ReaderAt() io.ReaderAt { return rd.r }

// NextObjectNumber returns the lowest object number that no section and no
// trailer /Size has used.
func (rd *Reader) NextObjectNumber() int {
	n := rd.maxNum + 1
	if s, ok := Int(rd.Trailer.Get("Size")); ok && int(s) > n && s <= maxObjectNumber {
		n = int(s)
	}
	for _, s := range rd.Sections {
		if v, ok := Int(s.Trailer.Get("Size")); ok && int(v) > n && v <= maxObjectNumber {
			n = int(v)
		}
	}
	return n
}

// Entries yields the merged cross-reference entries that are in use or
// compressed, in the order of their object numbers.
func (rd *Reader) Entries() iter.Seq2[int, Entry] { return rd.xref.all() }

// SectionEntries reads cross-reference section i (an index of Sections)
// again and returns the entries in use or compressed that it lists. They
// stay accounted in the reader's memory budget.
func (rd *Reader) SectionEntries(i int) (iter.Seq2[int, Entry], error) {
	if i < 0 || i >= len(rd.Sections) {
		return nil, fmt.Errorf("no cross-reference section %d", i)
	}
	m := &merger{rd: rd, t: &entryTable{}}
	_, err := rd.readSection(rd.Sections[i].Offset, m)
	rd.release(int64(len(m.cur)) * 8)
	if err != nil {
		return nil, err
	}
	return m.t.all(), nil
}

// SetSecurity makes the reader decrypt strings and streams with sec. The
// object encryptRef (the /Encrypt dictionary) is never decrypted.
func (rd *Reader) SetSecurity(sec Security, encryptRef Ref) {
	rd.sec, rd.encRef = sec, encryptRef
	rd.dropCaches()
}

// dropCaches empties the object and object stream caches.
func (rd *Reader) dropCaches() {
	for _, os := range rd.objStms {
		rd.release(os.cost)
	}
	rd.release(rd.objsCost)
	rd.objs, rd.objsCost = map[int]Object{}, 0
	rd.objStms = map[int]*objStm{}
}

func (rd *Reader) readHeader() error {
	n := int64(1024)
	if n > rd.size {
		n = rd.size
	}
	buf := make([]byte, n)
	m, _ := rd.r.ReadAt(buf, 0)
	buf = buf[:m]
	i := bytes.Index(buf, []byte("%PDF-"))
	if i < 0 {
		return ErrNotPDF
	}
	rd.HeaderOffset = int64(i)
	v := buf[i+5:]
	j := 0
	for j < len(v) && j < 8 && (v[j] == '.' || (v[j] >= '0' && v[j] <= '9')) {
		j++
	}
	rd.Version = string(v[:j])
	return nil
}

// findStartXRef returns the offset written after the last "startxref".
func (rd *Reader) findStartXRef() (int64, error) {
	for _, span := range []int64{2048, 64 << 10, 1 << 20} {
		if span > rd.size {
			span = rd.size
		}
		buf := make([]byte, span)
		m, _ := rd.r.ReadAt(buf, rd.size-span)
		buf = buf[:m]
		i := bytes.LastIndex(buf, []byte("startxref"))
		if i >= 0 {
			l := &lexer{s: newBytesScanner(buf[i+9:])}
			t, err := l.next()
			if err != nil || t.kind != tInt || t.n < 0 || t.n >= rd.size {
				return 0, fmt.Errorf("startxref at offset %d is not followed by a valid offset", rd.size-span+int64(i))
			}
			return t.n, nil
		}
		if span == rd.size {
			break
		}
	}
	return 0, errNoStartXRef
}

// merger merges the entries of cross-reference sections, read newest
// first, into a table: an object's entry in a newer section hides those in
// older ones, a free entry included, although free entries are not stored.
type merger struct {
	rd        *Reader
	t         *entryTable
	done      bitset // objects listed by the sections already merged
	cur       bitset // objects listed by the section being read
	secondary bool   // reading the stream of a hybrid section
	maxNum    int
	count     int // entries of the section being read
}

// add merges the entry of object num, 0 <= num < maxObjectNumber.
// The caller counts the entry and its number (count, maxNum).
func (m *merger) add(num int, e Entry) error {
	if m.done.has(num) {
		return nil
	}
	if m.secondary && m.t.has(num) {
		// The stream of a hybrid section completes the table: it lists
		// the objects that the table leaves out or marks free for readers
		// older than PDF 1.5.
		return nil
	}
	if err := m.cur.add(m.rd, num); err != nil {
		return err
	}
	if e.Type == EntryInUse && e.Offset == 0 {
		// Some writers list unused objects as in use at offset 0; readers
		// treat them as free, and so do we.
		e.Type = EntryFree
	}
	switch e.Type {
	case EntryFree:
		m.t.del(num) // listed earlier in this section
		return nil
	case EntryInUse:
		if e.Gen < 0 || e.Gen > 65535 {
			return fmt.Errorf("object %d: generation %d out of range", num, e.Gen)
		}
	}
	if !m.t.has(num) && int64(m.t.n) >= m.rd.size {
		// an object takes at least a byte of the file
		return fmt.Errorf("more objects listed in use than the file has bytes (%d)", m.rd.size)
	}
	return m.t.set(m.rd, num, e)
}

// endSection makes the objects of the section just read hide those of
// older sections.
func (m *merger) endSection() error {
	if len(m.done) < len(m.cur) {
		if err := m.done.add(m.rd, len(m.cur)*64-1); err != nil {
			return err
		}
	}
	m.done.union(m.cur)
	m.cur.clear()
	return nil
}

func (rd *Reader) readXRefChain() error {
	start, err := rd.findStartXRef()
	if err != nil {
		return err
	}
	rd.StartXRef = start
	m := &merger{rd: rd, t: &rd.xref}
	// the bookkeeping of hidden objects is done with at the end
	defer func() { rd.release(int64(len(m.done)+len(m.cur)) * 8) }()
	seen := map[int64]bool{}
	off := start
	var trailer *Dict
	for off >= 0 {
		if seen[off] {
			return fmt.Errorf("cross-reference chain loops at offset %d", off)
		}
		seen[off] = true
		if len(seen) > 10000 {
			return errors.New("too many cross-reference sections")
		}
		m.count = 0
		sec, err := rd.readSection(off, m)
		if err != nil {
			return err
		}
		sec.Count = m.count
		rd.Sections = append(rd.Sections, sec)
		prev, hasPrev := Int(sec.Trailer.Get("Prev"))
		if hasPrev {
			if err := m.endSection(); err != nil {
				return err
			}
		}
		if trailer == nil {
			trailer = sec.Trailer.Clone()
		} else {
			for _, k := range []Name{"Root", "Info", "ID", "Encrypt"} {
				if !trailer.Has(k) && sec.Trailer.Has(k) {
					trailer.Set(k, sec.Trailer.Get(k))
				}
			}
		}
		if !hasPrev {
			break
		}
		if prev < 0 || prev >= rd.size {
			return fmt.Errorf("cross-reference section at offset %d: /Prev %d is outside the file", off, prev)
		}
		off = prev
	}
	rd.maxNum = m.maxNum
	rd.Trailer = trailer
	return nil
}

// readSection reads the cross-reference section at off, a table (with the
// stream its trailer names in /XRefStm) or a cross-reference stream, into m.
func (rd *Reader) readSection(off int64, m *merger) (*Section, error) {
	l := newLexer(newScanner(rd.r, rd.size, off), rd.budget.maxObject())
	t, err := l.next()
	if err != nil {
		return nil, fmt.Errorf("cross-reference at offset %d: %w", off, err)
	}
	if t.kind == tKeyword && t.s == "xref" {
		sec, err := rd.readTable(l, t.pos, m)
		if err != nil {
			return nil, fmt.Errorf("cross-reference table at offset %d: %w", t.pos, err)
		}
		if xs, ok := Int(sec.Trailer.Get("XRefStm")); ok {
			m.secondary = true
			_, err := rd.readXRefStream(xs, m)
			m.secondary = false
			if err != nil {
				return nil, fmt.Errorf("cross-reference table at offset %d: its /XRefStm: %w", t.pos, err)
			}
			sec.Kind = XRefHybrid
		}
		return sec, nil
	}
	if t.kind == tInt {
		return rd.readXRefStream(off, m)
	}
	return nil, fmt.Errorf("offset %d: no cross-reference section there", off)
}

func (rd *Reader) readTable(l *lexer, pos int64, m *merger) (*Section, error) {
	sec := &Section{Offset: pos, Kind: XRefTable}
	for {
		t, err := l.next()
		if err != nil {
			return nil, err
		}
		if t.kind == tKeyword && t.s == "trailer" {
			break
		}
		if t.kind != tInt {
			return nil, fmt.Errorf("offset %d: expected a subsection header or trailer", t.pos)
		}
		t2, err := l.next()
		if err != nil {
			return nil, err
		}
		if t2.kind != tInt || t.n < 0 || t2.n < 0 || t.n+t2.n > maxObjectNumber {
			return nil, fmt.Errorf("offset %d: bad subsection header", t.pos)
		}
		for i := int64(0); i < t2.n; i++ {
			e, ok := l.s.tableEntry()
			if !ok {
				return nil, fmt.Errorf("offset %d: bad entry for object %d", l.s.pos, t.n+i)
			}
			m.count++
			m.maxNum = max(m.maxNum, int(t.n+i))
			if err := m.add(int(t.n+i), e); err != nil {
				return nil, err
			}
		}
	}
	d, err := l.parseObject(0)
	if err != nil {
		return nil, fmt.Errorf("trailer: %w", err)
	}
	dict, ok := d.(*Dict)
	if !ok {
		return nil, errors.New("trailer is not a dictionary")
	}
	sec.Trailer = dict
	return sec, nil
}

// tableEntry reads one entry of a cross-reference table: "offset gen n"
// or "next gen f", white space and comments around.
func (s *scanner) tableEntry() (Entry, bool) {
	a, ok1 := s.uint()
	b, ok2 := s.uint()
	s.skipSpace()
	c, ok3 := s.next()
	if !ok1 || !ok2 || !ok3 || (c != 'n' && c != 'f') {
		return Entry{}, false
	}
	if d, ok := s.peek(); ok && isRegular(d) {
		return Entry{}, false
	}
	if c == 'f' {
		return Entry{Type: EntryFree}, true
	}
	if b > 65535 {
		return Entry{}, false
	}
	return Entry{Type: EntryInUse, Offset: a, Gen: int(b)}, true
}

// uint reads an unsigned integer of at most 18 digits after white space
// and comments.
func (s *scanner) uint() (int64, bool) {
	s.skipSpace()
	var v int64
	n := 0
	for {
		c, ok := s.peek()
		if !ok || c < '0' || c > '9' {
			break
		}
		if n++; n > 18 {
			return 0, false
		}
		v = v*10 + int64(c-'0')
		s.pos++
	}
	if c, ok := s.peek(); n == 0 || (ok && isRegular(c)) {
		return 0, false
	}
	return v, true
}

// readXRefStream reads the cross-reference stream object at off into m.
// Its rows are decoded as they are read and never held.
func (rd *Reader) readXRefStream(off int64, m *merger) (*Section, error) {
	o, err := rd.parseIndirectAt(off, -1)
	if err != nil {
		return nil, fmt.Errorf("cross-reference stream at offset %d: %w", off, err)
	}
	num := o.num
	st, ok := o.obj.(*Stream)
	if !ok || st.Dict.Get("Type") != Name("XRef") {
		return nil, fmt.Errorf("offset %d: object %d is not a cross-reference stream", off, num)
	}
	sec := &Section{Offset: off, Kind: XRefStream, Trailer: st.Dict}
	wArr, ok := st.Dict.Get("W").(Array)
	if !ok || len(wArr) != 3 {
		return nil, fmt.Errorf("cross-reference stream %d: /W is not an array of three", num)
	}
	var w [3]int
	rowLen := 0
	for i, v := range wArr {
		n, ok := Int(v)
		if !ok || n < 0 || n > 8 {
			return nil, fmt.Errorf("cross-reference stream %d: bad /W", num)
		}
		w[i] = int(n)
		rowLen += int(n)
	}
	if rowLen == 0 {
		return nil, fmt.Errorf("cross-reference stream %d: empty /W", num)
	}
	size, _ := Int(st.Dict.Get("Size"))
	index := []int64{0, size}
	if arr, ok := st.Dict.Get("Index").(Array); ok {
		index = index[:0]
		for _, v := range arr {
			n, ok := Int(v)
			if !ok || n < 0 {
				return nil, fmt.Errorf("cross-reference stream %d: bad /Index", num)
			}
			index = append(index, n)
		}
		if len(index)%2 != 0 {
			return nil, fmt.Errorf("cross-reference stream %d: /Index has an odd length", num)
		}
	}
	what := func() string { return fmt.Sprintf("cross-reference stream %d: decoded data", num) }
	data, done, err := rd.streamReader(st, num, 0, true, what)
	if err != nil {
		return nil, fmt.Errorf("cross-reference stream %d: %w", num, err)
	}
	defer done()
	rows := rowReader{r: data, buf: make([]byte, max(rowLen, 16<<10)), rowLen: rowLen}
	field := func(b []byte) int64 {
		var v int64
		for _, c := range b {
			v = v<<8 | int64(c)
		}
		return v
	}
	for i := 0; i < len(index); i += 2 {
		first, count := index[i], index[i+1]
		if first+count > maxObjectNumber {
			return nil, fmt.Errorf("cross-reference stream %d: object numbers out of range", num)
		}
		m.count += int(count)
		if count > 0 {
			m.maxNum = max(m.maxNum, int(first+count-1))
		}
		n := int(first)
		for left := int(count); left > 0; {
			slab, err := rows.slab(left)
			if err != nil {
				if errors.Is(err, ErrLimit) {
					return nil, err
				}
				return nil, fmt.Errorf("cross-reference stream %d: data shorter than /Index and /W require (%v)", num, err)
			}
			left -= len(slab) / rowLen
			for p := 0; p < len(slab); p, n = p+rowLen, n+1 {
				row := slab[p : p+rowLen]
				typ := int64(1)
				if w[0] > 0 {
					typ = field(row[:w[0]])
				}
				var e Entry
				switch typ {
				case 0:
					if m.done.has(n) {
						continue // hidden by a newer section
					}
					e = Entry{Type: EntryFree}
				case 1:
					f2, f3 := field(row[w[0]:w[0]+w[1]]), field(row[w[0]+w[1]:])
					e = Entry{Type: EntryInUse, Offset: f2, Gen: int(f3)}
					if f3 < 0 || f3 > 65535 {
						e.Gen = -1 // refused by add
					}
				case 2:
					f2, f3 := field(row[w[0]:w[0]+w[1]]), field(row[w[0]+w[1]:])
					if f2 < 0 || f2 > maxObjectNumber {
						return nil, fmt.Errorf("cross-reference stream %d: bad object stream number for object %d", num, n)
					}
					e = Entry{Type: EntryCompressed, Stream: int(f2), Index: int(min(max(f3, 0), maxPackedIndex))}
				default:
					// unknown types are to be ignored (ISO 32000-1 §7.5.8.3): a null reference
					continue
				}
				if err := m.add(n, e); err != nil {
					return nil, fmt.Errorf("cross-reference stream %d: %w", num, err)
				}
			}
		}
	}
	return sec, nil
}

// rowReader reads fixed-length rows through a buffer.
type rowReader struct {
	r      io.Reader
	buf    []byte
	p, n   int // the unread bytes are buf[p:n]
	rowLen int
}

// slab returns at least one and at most max whole rows.
func (rr *rowReader) slab(max int) ([]byte, error) {
	if rr.n-rr.p < rr.rowLen {
		rr.n = copy(rr.buf, rr.buf[rr.p:rr.n])
		rr.p = 0
		for rr.n < rr.rowLen {
			m, err := rr.r.Read(rr.buf[rr.n:])
			rr.n += m
			if err != nil && rr.n < rr.rowLen {
				if err == io.EOF {
					err = io.ErrUnexpectedEOF
				}
				return nil, err
			}
		}
	}
	k := min((rr.n-rr.p)/rr.rowLen, max)
	slab := rr.buf[rr.p : rr.p+k*rr.rowLen]
	rr.p += k * rr.rowLen
	return slab, nil
}

// validate checks that every in-use entry points at its object header and
// every compressed entry names an in-use object stream.
func (rd *Reader) validate() error {
	win := &window{r: rd.r, size: rd.size}
	for num, e := range rd.xref.all() {
		switch {
		case num == 0:
		case e.Type == EntryInUse:
			if e.Offset < 0 || e.Offset >= rd.size {
				return fmt.Errorf("object %d: offset %d is outside the file", num, e.Offset)
			}
			n, gen, ok := parseObjHeader(win.at(e.Offset, 48))
			if !ok || n != num || gen != e.Gen {
				return fmt.Errorf("object %d: cross-reference offset %d does not point at \"%d %d obj\"", num, e.Offset, num, e.Gen)
			}
		case e.Type == EntryCompressed:
			if se, ok := rd.xref.get(e.Stream); !ok || se.Type != EntryInUse {
				return fmt.Errorf("object %d: its object stream %d is not in the cross-reference", num, e.Stream)
			}
		}
	}
	root, ok := rd.Trailer.Get("Root").(Ref)
	if !ok {
		return errors.New("the trailer has no /Root reference")
	}
	if ok, err := rd.isCatalog(root.Num); err != nil {
		return err
	} else if !ok {
		return fmt.Errorf("/Root %v is not a document catalog", root)
	}
	return nil
}

// window reads small pieces of a file through a buffer that serves
// nearby reads, forward ones above all.
type window struct {
	r    io.ReaderAt
	size int64
	buf  []byte
	base int64
	last int64
}

// at returns up to n bytes at off.
func (w *window) at(off int64, n int) []byte {
	if off >= w.base && off+int64(n) <= w.base+int64(len(w.buf)) {
		w.last = off
		return w.buf[off-w.base : off-w.base+int64(n)]
	}
	size := n
	if off > w.last {
		size = 16 << 10 // moving forward: read ahead
	}
	w.last = off
	if cap(w.buf) < size {
		w.buf = make([]byte, size)
	}
	w.buf = w.buf[:size]
	m, _ := w.r.ReadAt(w.buf, off)
	w.buf, w.base = w.buf[:m], off
	return w.buf[:min(n, m)]
}

// parseObjHeader parses "num gen obj" at the start of b (after white space).
func parseObjHeader(b []byte) (num, gen int, ok bool) {
	i := 0
	for i < len(b) && isWhite(b[i]) {
		i++
	}
	readInt := func() (int, bool) {
		j := i
		v := 0
		for i < len(b) && b[i] >= '0' && b[i] <= '9' && i-j < 10 {
			v = v*10 + int(b[i]-'0')
			i++
		}
		return v, i > j
	}
	num, ok1 := readInt()
	if !ok1 || i >= len(b) || !isWhite(b[i]) {
		return 0, 0, false
	}
	for i < len(b) && isWhite(b[i]) {
		i++
	}
	gen, ok2 := readInt()
	if !ok2 {
		return 0, 0, false
	}
	for i < len(b) && isWhite(b[i]) {
		i++
	}
	if !bytes.HasPrefix(b[i:], []byte("obj")) {
		return 0, 0, false
	}
	if i+3 < len(b) && isRegular(b[i+3]) {
		return 0, 0, false
	}
	return num, gen, true
}

// indirect is an object parsed where it lies in the file.
type indirect struct {
	num, gen int
	obj      Object
	cost     int64 // its memory, as the lexer estimates it
	end      int64 // the offset after its endobj or its stream data, or 0
}

// parseIndirectAt parses "num gen obj ... endobj" at off. wantNum, when not
// negative, is the object number expected there.
func (rd *Reader) parseIndirectAt(off int64, wantNum int) (indirect, error) {
	s := newScanner(rd.r, rd.size, off)
	l := &lexer{s: s}
	t1, err1 := l.next()
	t2, err2 := l.next()
	t3, err3 := l.next()
	if err := errors.Join(err1, err2, err3); err != nil {
		return indirect{}, err
	}
	if t1.kind != tInt || t2.kind != tInt || t3.kind != tKeyword || t3.s != "obj" {
		return indirect{}, fmt.Errorf("offset %d: no object header", off)
	}
	if wantNum >= 0 && int(t1.n) != wantNum {
		return indirect{}, fmt.Errorf("offset %d: found object %d instead of %d", off, t1.n, wantNum)
	}
	return rd.parseBody(s, indirect{num: int(t1.n), gen: int(t2.n)})
}

// parseBody parses the object whose header o holds with s, which is after
// "obj": the object, and the stream data that may follow it.
func (rd *Reader) parseBody(s *scanner, o indirect) (indirect, error) {
	l := newLexer(s, rd.budget.maxObject())
	obj, err := l.parseObject(0)
	if err != nil {
		return indirect{}, fmt.Errorf("object %d: %w", o.num, err)
	}
	o.obj, o.cost = obj, l.cost+elementCost
	t, err := l.next()
	if err != nil {
		return o, nil
	}
	if t.kind == tKeyword && t.s == "endobj" {
		o.end = t.pos + 6
		return o, nil
	}
	d, isDict := obj.(*Dict)
	if !isDict || t.kind != tKeyword || t.s != "stream" {
		return o, nil
	}
	// the data starts after the end of line that follows "stream"
	if c, ok := s.peek(); ok && c == '\r' {
		s.pos++
	}
	if c, ok := s.peek(); ok && c == '\n' {
		s.pos++
	}
	st := &Stream{Dict: d, Offset: s.pos, Length: -1}
	if n, ok := rd.streamLength(d, o.num); ok && n >= 0 && st.Offset+n <= rd.size && rd.endstreamAt(s, st.Offset+n) {
		st.Length = n
	} else {
		n, err := rd.findEndstream(s, st.Offset)
		if err != nil {
			return indirect{}, fmt.Errorf("object %d: stream: %w", o.num, err)
		}
		st.Length = n
	}
	o.obj, o.end = st, st.Offset+st.Length
	return o, nil
}

// streamLength returns the stream's /Length, resolving an indirect one.
func (rd *Reader) streamLength(d *Dict, num int) (int64, bool) {
	switch v := d.Get("Length").(type) {
	case Integer:
		return int64(v), true
	case Ref:
		if v.Num == num || rd.scanning {
			return 0, false
		}
		o, err := rd.Object(v.Num)
		if err != nil {
			return 0, false
		}
		return Int(o)
	}
	return 0, false
}

// endstreamAt reports whether "endstream" follows at off, after an optional
// end of line; s serves the bytes it holds.
func (rd *Reader) endstreamAt(s *scanner, off int64) bool {
	var b []byte
	if s.base >= 0 && off >= s.base && off+32 <= s.base+int64(len(s.buf)) {
		b = s.buf[off-s.base : off-s.base+32]
	} else {
		buf := make([]byte, 32)
		m, _ := rd.r.ReadAt(buf, off)
		b = buf[:m]
	}
	b = bytes.TrimLeft(b, "\r\n \t\f\x00")
	return bytes.HasPrefix(b, []byte("endstream"))
}

// findEndstream searches for "endstream" from off and returns the data
// length, without the end of line that precedes the keyword. The bytes s
// holds are searched first; the last search is remembered, so that
// scanning a file with many streams that lack endstream stays linear.
func (rd *Reader) findEndstream(s *scanner, off int64) (int64, error) {
	at := int64(-1)
	switch {
	case rd.esFrom >= 0 && off >= rd.esFrom && (rd.esAt < 0 || off <= rd.esAt):
		at = rd.esAt // known
	case s.base >= 0 && off >= s.base && off < s.base+int64(len(s.buf)):
		if i := bytes.Index(s.buf[off-s.base:], []byte("endstream")); i >= 0 {
			at = off + int64(i)
			break
		}
		fallthrough
	default:
		at = rd.searchEndstream(off)
		rd.esFrom, rd.esAt = off, at
	}
	if at < 0 {
		return 0, errors.New("no endstream")
	}
	end := at
	// drop the end of line before the keyword
	tail := make([]byte, 2)
	if end-2 >= off {
		rd.r.ReadAt(tail, end-2)
		if tail[1] == '\n' {
			end--
			if tail[0] == '\r' {
				end--
			}
		} else if tail[1] == '\r' {
			end--
		}
	}
	return end - off, nil
}

// searchEndstream returns the offset of the first "endstream" at or after
// off, or -1.
func (rd *Reader) searchEndstream(off int64) int64 {
	const chunk = 64 << 10
	buf := make([]byte, chunk+16)
	for pos := off; pos < rd.size; pos += chunk {
		m, _ := rd.r.ReadAt(buf, pos)
		if m <= 0 {
			break
		}
		if i := bytes.Index(buf[:m], []byte("endstream")); i >= 0 {
			return pos + int64(i)
		}
		if m < chunk {
			break
		}
	}
	return -1
}

// streamReader returns a reader of the decoded data of st (object num,
// generation gen); done must be called when it is no longer read. The data
// of cross-reference streams (xref true) is never encrypted; that of other
// streams is read and decrypted whole, within the memory budget, when the
// file is encrypted. what names the data in errors.
func (rd *Reader) streamReader(st *Stream, num, gen int, xref bool, what func() string) (r io.Reader, done func(), err error) {
	done = func() {}
	if st.Data != nil {
		return bytes.NewReader(st.Data), done, nil
	}
	r = io.NewSectionReader(rd.r, st.Offset, st.Length)
	if rd.sec != nil && !xref {
		if err := rd.take(st.Length, what); err != nil {
			return nil, nil, err
		}
		raw := make([]byte, st.Length)
		if _, err := rd.r.ReadAt(raw, st.Offset); err != nil && !errors.Is(err, io.EOF) {
			rd.release(st.Length)
			return nil, nil, fmt.Errorf("reading stream data: %w", err)
		}
		plain, err := rd.sec.DecryptStream(num, gen, raw)
		rd.release(st.Length)
		if err != nil {
			return nil, nil, fmt.Errorf("decrypting stream: %w", err)
		}
		held := int64(len(plain))
		if err := rd.take(held, what); err != nil {
			return nil, nil, err
		}
		r, done = bytes.NewReader(plain), func() { rd.release(held) }
	}
	r, err = decodeChain(r, st.Dict, func(n int) error { return rd.decoded(int64(n), what) })
	if err != nil {
		done()
		return nil, nil, err
	}
	return r, done, nil
}

// decodeStream returns the decoded data of st, object num, generation gen,
// and the bytes of it accounted as held, which the caller must release.
func (rd *Reader) decodeStream(st *Stream, num, gen int, what func() string) ([]byte, int64, error) {
	r, done, err := rd.streamReader(st, num, gen, false, what)
	if err != nil {
		return nil, 0, err
	}
	defer done()
	var buf []byte
	held := int64(0)
	for {
		if len(buf) == cap(buf) {
			// grow by doubling, or to what the budget has room for, each
			// new buffer accounted before it exists
			n := max(2*cap(buf), 4<<10)
			if err := rd.take(int64(n), what); err != nil {
				room := rd.budget.Memory - rd.held // after evicting all it could
				if room < int64(cap(buf))+4<<10 || rd.take(room, what) != nil {
					rd.release(held)
					return nil, 0, err
				}
				n = int(room)
			}
			nb := make([]byte, len(buf), n)
			copy(nb, buf)
			rd.release(held)
			buf, held = nb, int64(n)
		}
		m, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+m]
		if err == io.EOF {
			return buf, held, nil
		}
		if err != nil {
			rd.release(held)
			return nil, 0, err
		}
	}
}

// Object returns object num, resolved through the cross-reference, with its
// strings decrypted. It returns nil (null) for free or missing objects, as
// ISO 32000 requires for references to them.
func (rd *Reader) Object(num int) (Object, error) {
	if o, ok := rd.objs[num]; ok {
		return o, nil
	}
	if rd.loading[num] {
		return nil, fmt.Errorf("object %d refers to itself while it is being read (through a stream /Length or object stream)", num)
	}
	if rd.loading == nil {
		rd.loading = map[int]bool{}
	}
	rd.loading[num] = true
	defer delete(rd.loading, num)
	e, ok := rd.xref.get(num)
	if !ok {
		return nil, nil
	}
	var obj Object
	var cost int64
	switch e.Type {
	case EntryInUse:
		o, err := rd.parseIndirectAt(e.Offset, num)
		if err != nil {
			return nil, err
		}
		obj, cost = o.obj, o.cost
		if rd.sec != nil && !(rd.encRef.Num == num && rd.encRef.Gen == o.gen) {
			if obj, err = rd.decryptObject(obj, o.num, o.gen); err != nil {
				return nil, fmt.Errorf("object %d: %w", num, err)
			}
		}
	case EntryCompressed:
		var err error
		if obj, cost, err = rd.compressedObject(num, e); err != nil {
			return nil, err
		}
	}
	// an object that does not fit in the memory budget is not cached
	if rd.take(cost, func() string { return "" }) == nil {
		rd.objs[num] = obj
		rd.objsCost += cost
	}
	return obj, nil
}

// Resolve follows references until o is a direct object.
func (rd *Reader) Resolve(o Object) (Object, error) {
	for i := 0; i < 32; i++ {
		r, ok := o.(Ref)
		if !ok {
			return o, nil
		}
		var err error
		if o, err = rd.Object(r.Num); err != nil {
			return nil, err
		}
	}
	return nil, errors.New("reference chain too long")
}

// ResolveDict resolves o and returns it as a dictionary (a stream's
// dictionary counts), or nil.
func (rd *Reader) ResolveDict(o Object) (*Dict, error) {
	v, err := rd.Resolve(o)
	if err != nil {
		return nil, err
	}
	switch d := v.(type) {
	case *Dict:
		return d, nil
	case *Stream:
		return d.Dict, nil
	}
	return nil, nil
}

// StreamData returns the decoded data of stream st, object num. It is
// decoded within the reader's budget, which no longer accounts it once it
// is returned.
func (rd *Reader) StreamData(st *Stream, num, gen int) ([]byte, error) {
	data, held, err := rd.decodeStream(st, num, gen, func() string { return fmt.Sprintf("stream %d: decoded data", num) })
	rd.release(held)
	return data, err
}

func (rd *Reader) compressedObject(num int, e Entry) (Object, int64, error) {
	os, err := rd.loadObjStm(e.Stream)
	if err != nil {
		return nil, 0, fmt.Errorf("object %d: %w", num, err)
	}
	idx := e.Index
	if idx < 0 || idx >= len(os.nums) || os.nums[idx] != num {
		// some writers get the index wrong: look the number up
		idx = -1
		for i, n := range os.nums {
			if n == num {
				idx = i
			}
		}
		if idx < 0 {
			return nil, 0, fmt.Errorf("object %d: not in object stream %d", num, e.Stream)
		}
	}
	start := os.first + os.offs[idx]
	if start < 0 || start > int64(len(os.data)) {
		return nil, 0, fmt.Errorf("object %d: bad offset in object stream %d", num, e.Stream)
	}
	l := newLexer(newBytesScanner(os.data[start:]), rd.budget.maxObject())
	o, err := l.parseObject(0)
	if err != nil {
		return nil, 0, fmt.Errorf("object %d in object stream %d: %w", num, e.Stream, err)
	}
	return o, l.cost + elementCost, nil
}

func (rd *Reader) loadObjStm(num int) (*objStm, error) {
	rd.tick++
	if os, ok := rd.objStms[num]; ok {
		os.used = rd.tick
		return os, nil
	}
	key := -1 - num // object streams share the loading set with negative keys
	if rd.loading[key] {
		return nil, fmt.Errorf("object stream %d refers to itself while it is being read", num)
	}
	if rd.loading == nil {
		rd.loading = map[int]bool{}
	}
	rd.loading[key] = true
	defer delete(rd.loading, key)
	e, ok := rd.xref.get(num)
	if !ok || e.Type != EntryInUse {
		return nil, fmt.Errorf("object stream %d is not in the cross-reference", num)
	}
	o, err := rd.parseIndirectAt(e.Offset, num)
	if err != nil {
		return nil, fmt.Errorf("object stream %d: %w", num, err)
	}
	os, err := rd.parseObjStm(num, o.gen, o.obj)
	if err != nil {
		return nil, err
	}
	os.used = rd.tick
	rd.objStms[num] = os
	return os, nil
}

// parseObjStm decodes object stream num and reads its header. The result
// is accounted as held in the memory budget (os.cost).
func (rd *Reader) parseObjStm(num, gen int, o Object) (*objStm, error) {
	st, ok := o.(*Stream)
	if !ok || st.Dict.Get("Type") != Name("ObjStm") {
		return nil, fmt.Errorf("object %d is not an object stream", num)
	}
	what := func() string { return fmt.Sprintf("object stream %d: decoded data", num) }
	data, held, err := rd.decodeStream(st, num, gen, what)
	if errors.Is(err, ErrLimit) {
		return nil, err // it names the stream
	}
	if err != nil {
		return nil, fmt.Errorf("object stream %d: %w", num, err)
	}
	n, ok1 := Int(st.Dict.Get("N"))
	first, ok2 := Int(st.Dict.Get("First"))
	if !ok1 || !ok2 || n < 0 || first < 0 || first > int64(len(data)) || n > int64(len(data)) {
		rd.release(held)
		return nil, fmt.Errorf("object stream %d: bad /N or /First", num)
	}
	// the header's two slices
	if err := rd.take(16*n, what); err != nil {
		rd.release(held)
		return nil, err
	}
	os := &objStm{data: data, first: first, cost: held + 16*n}
	l := &lexer{s: newBytesScanner(data[:first])}
	for i := int64(0); i < n; i++ {
		a, err1 := l.next()
		b, err2 := l.next()
		if errors.Join(err1, err2) != nil || a.kind != tInt || b.kind != tInt || a.n < 0 || b.n < 0 || a.n > maxObjectNumber {
			rd.release(os.cost)
			return nil, fmt.Errorf("object stream %d: bad header", num)
		}
		os.nums = append(os.nums, int(a.n))
		os.offs = append(os.offs, b.n)
	}
	return os, nil
}

// decryptObject decrypts every string in o, object num gen. The /Contents
// of a signature dictionary is stored unencrypted and is left alone.
func (rd *Reader) decryptObject(o Object, num, gen int) (Object, error) {
	switch v := o.(type) {
	case String:
		p, err := rd.sec.DecryptString(num, gen, v.Value)
		if err != nil {
			return nil, err
		}
		return String{Value: p, Hex: v.Hex}, nil
	case Array:
		out := make(Array, len(v))
		for i, e := range v {
			d, err := rd.decryptObject(e, num, gen)
			if err != nil {
				return nil, err
			}
			out[i] = d
		}
		return out, nil
	case *Dict:
		out := v.Clone()
		sig := v.Has("ByteRange") && (v.Get("Type") == Name("Sig") || v.Get("Type") == Name("DocTimeStamp") || v.Has("Filter"))
		for _, k := range v.Keys() {
			if sig && k == "Contents" {
				continue
			}
			d, err := rd.decryptObject(v.Get(k), num, gen)
			if err != nil {
				return nil, err
			}
			out.vals[k] = d
		}
		return out, nil
	case *Stream:
		d, err := rd.decryptObject(v.Dict, num, gen)
		if err != nil {
			return nil, err
		}
		c := *v
		c.Dict = d.(*Dict)
		return &c, nil
	}
	return o, nil
}
