package pdf

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sort"
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

// Section is one cross-reference section of the file.
type Section struct {
	Offset  int64 // where the section starts ("xref" or the stream object)
	Kind    XRefKind
	Trailer *Dict
	Entries map[int]Entry
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

// Reader gives access to the objects of a PDF file.
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

	xref    map[int]Entry
	maxNum  int
	sec     Security
	encRef  Ref
	objs    map[int]Object
	objStms map[int]*objStm
	loading map[int]bool // objects being loaded, to break reference cycles
}

type objStm struct {
	data  []byte
	first int64
	offs  []int64 // offset of each object relative to first
	nums  []int
}

// Open reads the structure of the PDF file r of the given size. It follows
// the cross-reference chain from the last startxref; when that chain is
// broken or its offsets are wrong it rebuilds the cross-reference
// information by scanning the file, and sets Repaired.
func Open(r io.ReaderAt, size int64) (*Reader, error) {
	rd := &Reader{r: r, size: size, objs: map[int]Object{}, objStms: map[int]*objStm{}}
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

// Entries returns the merged cross-reference entries.
func (rd *Reader) Entries() map[int]Entry { return rd.xref }

// SetSecurity makes the reader decrypt strings and streams with sec. The
// object encryptRef (the /Encrypt dictionary) is never decrypted.
func (rd *Reader) SetSecurity(sec Security, encryptRef Ref) {
	rd.sec, rd.encRef = sec, encryptRef
	rd.objs = map[int]Object{}
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

func (rd *Reader) readXRefChain() error {
	start, err := rd.findStartXRef()
	if err != nil {
		return err
	}
	rd.StartXRef = start
	rd.xref = map[int]Entry{}
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
		sec, err := rd.readSection(off)
		if err != nil {
			return err
		}
		rd.Sections = append(rd.Sections, sec)
		for num, e := range sec.Entries {
			if _, ok := rd.xref[num]; !ok {
				rd.xref[num] = e
			}
			if num > rd.maxNum {
				rd.maxNum = num
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
		prev, ok := Int(sec.Trailer.Get("Prev"))
		if !ok {
			break
		}
		if prev < 0 || prev >= rd.size {
			return fmt.Errorf("cross-reference section at offset %d: /Prev %d is outside the file", off, prev)
		}
		off = prev
	}
	rd.Trailer = trailer
	return nil
}

// readSection reads the cross-reference section at off: a table (with the
// stream its trailer names in /XRefStm) or a cross-reference stream.
func (rd *Reader) readSection(off int64) (*Section, error) {
	l := &lexer{s: newScanner(rd.r, rd.size, off)}
	t, err := l.next()
	if err != nil {
		return nil, fmt.Errorf("cross-reference at offset %d: %w", off, err)
	}
	if t.kind == tKeyword && t.s == "xref" {
		sec, err := rd.readTable(l, t.pos)
		if err != nil {
			return nil, fmt.Errorf("cross-reference table at offset %d: %w", t.pos, err)
		}
		if xs, ok := Int(sec.Trailer.Get("XRefStm")); ok {
			st, err := rd.readXRefStream(xs)
			if err != nil {
				return nil, fmt.Errorf("cross-reference table at offset %d: its /XRefStm: %w", t.pos, err)
			}
			sec.Kind = XRefHybrid
			// The stream completes the table: it lists the objects that the
			// table leaves out or marks free for readers older than PDF 1.5.
			for num, e := range st.Entries {
				if te, ok := sec.Entries[num]; !ok || te.Type == EntryFree {
					sec.Entries[num] = e
				}
			}
		}
		return sec, nil
	}
	if t.kind == tInt {
		l.unread(t)
		sec, err := rd.readXRefStream(off)
		if err != nil {
			return nil, err
		}
		return sec, nil
	}
	return nil, fmt.Errorf("offset %d: no cross-reference section there", off)
}

func (rd *Reader) readTable(l *lexer, pos int64) (*Section, error) {
	sec := &Section{Offset: pos, Kind: XRefTable, Entries: map[int]Entry{}}
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
			a, err1 := l.next()
			b, err2 := l.next()
			c, err3 := l.next()
			if err := errors.Join(err1, err2, err3); err != nil {
				return nil, err
			}
			if a.kind != tInt || b.kind != tInt || c.kind != tKeyword || (c.s != "n" && c.s != "f") {
				return nil, fmt.Errorf("offset %d: bad entry for object %d", a.pos, t.n+i)
			}
			num := int(t.n + i)
			if c.s == "n" {
				sec.Entries[num] = Entry{Type: EntryInUse, Offset: a.n, Gen: int(b.n)}
			} else {
				sec.Entries[num] = Entry{Type: EntryFree, Gen: int(b.n)}
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

// readXRefStream reads the cross-reference stream object at off.
func (rd *Reader) readXRefStream(off int64) (*Section, error) {
	num, _, obj, err := rd.parseIndirectAt(off, -1)
	if err != nil {
		return nil, fmt.Errorf("cross-reference stream at offset %d: %w", off, err)
	}
	st, ok := obj.(*Stream)
	if !ok || st.Dict.Get("Type") != Name("XRef") {
		return nil, fmt.Errorf("offset %d: object %d is not a cross-reference stream", off, num)
	}
	data, err := rd.decodeStream(st, num, 0, true)
	if err != nil {
		return nil, fmt.Errorf("cross-reference stream %d: %w", num, err)
	}
	sec := &Section{Offset: off, Kind: XRefStream, Trailer: st.Dict, Entries: map[int]Entry{}}
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
	field := func(b []byte) int64 {
		var v int64
		for _, c := range b {
			v = v<<8 | int64(c)
		}
		return v
	}
	p := 0
	for i := 0; i < len(index); i += 2 {
		first, count := index[i], index[i+1]
		if first+count > maxObjectNumber {
			return nil, fmt.Errorf("cross-reference stream %d: object numbers out of range", num)
		}
		for j := int64(0); j < count; j++ {
			if p+rowLen > len(data) {
				return nil, fmt.Errorf("cross-reference stream %d: data shorter than /Index and /W require", num)
			}
			row := data[p : p+rowLen]
			p += rowLen
			typ := int64(1)
			if w[0] > 0 {
				typ = field(row[:w[0]])
			}
			f2 := field(row[w[0] : w[0]+w[1]])
			f3 := field(row[w[0]+w[1]:])
			n := int(first + j)
			switch typ {
			case 0:
				sec.Entries[n] = Entry{Type: EntryFree, Gen: int(f3)}
			case 1:
				sec.Entries[n] = Entry{Type: EntryInUse, Offset: f2, Gen: int(f3)}
			case 2:
				if f2 > maxObjectNumber {
					return nil, fmt.Errorf("cross-reference stream %d: bad object stream number for object %d", num, n)
				}
				sec.Entries[n] = Entry{Type: EntryCompressed, Stream: int(f2), Index: int(f3)}
			default:
				// unknown types are to be ignored (ISO 32000-1 §7.5.8.3): a null reference
			}
		}
	}
	return sec, nil
}

// validate checks that every in-use entry points at its object header and
// every compressed entry names an in-use object stream.
func (rd *Reader) validate() error {
	type item struct {
		num int
		e   Entry
	}
	items := make([]item, 0, len(rd.xref))
	for num, e := range rd.xref {
		if e.Type == EntryInUse && e.Offset == 0 {
			// Some writers list unused objects as in use at offset 0;
			// readers treat them as free, and so do we.
			rd.xref[num] = Entry{Type: EntryFree, Gen: e.Gen}
			continue
		}
		if e.Type == EntryInUse && num != 0 {
			items = append(items, item{num, e})
		}
	}
	sort.Slice(items, func(i, j int) bool { return items[i].e.Offset < items[j].e.Offset })
	buf := make([]byte, 48)
	for _, it := range items {
		if it.e.Offset < 0 || it.e.Offset >= rd.size {
			return fmt.Errorf("object %d: offset %d is outside the file", it.num, it.e.Offset)
		}
		m, _ := rd.r.ReadAt(buf, it.e.Offset)
		num, gen, ok := parseObjHeader(buf[:m])
		if !ok || num != it.num || gen != it.e.Gen {
			return fmt.Errorf("object %d: cross-reference offset %d does not point at \"%d %d obj\"", it.num, it.e.Offset, it.num, it.e.Gen)
		}
	}
	for num, e := range rd.xref {
		if e.Type != EntryCompressed {
			continue
		}
		if se, ok := rd.xref[e.Stream]; !ok || se.Type != EntryInUse {
			return fmt.Errorf("object %d: its object stream %d is not in the cross-reference", num, e.Stream)
		}
	}
	root, ok := rd.Trailer.Get("Root").(Ref)
	if !ok {
		return errors.New("the trailer has no /Root reference")
	}
	if !rd.isCatalog(root.Num) {
		return fmt.Errorf("/Root %v is not a document catalog", root)
	}
	return nil
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

// parseIndirectAt parses "num gen obj ... endobj" at off. wantNum, when not
// negative, is the object number expected there.
func (rd *Reader) parseIndirectAt(off int64, wantNum int) (num, gen int, obj Object, err error) {
	l := &lexer{s: newScanner(rd.r, rd.size, off)}
	t1, err1 := l.next()
	t2, err2 := l.next()
	t3, err3 := l.next()
	if err := errors.Join(err1, err2, err3); err != nil {
		return 0, 0, nil, err
	}
	if t1.kind != tInt || t2.kind != tInt || t3.kind != tKeyword || t3.s != "obj" {
		return 0, 0, nil, fmt.Errorf("offset %d: no object header", off)
	}
	num, gen = int(t1.n), int(t2.n)
	if wantNum >= 0 && num != wantNum {
		return 0, 0, nil, fmt.Errorf("offset %d: found object %d instead of %d", off, num, wantNum)
	}
	obj, err = l.parseObject(0)
	if err != nil {
		return 0, 0, nil, fmt.Errorf("object %d: %w", num, err)
	}
	d, isDict := obj.(*Dict)
	if !isDict {
		return num, gen, obj, nil
	}
	t, err := l.next()
	if err != nil || t.kind != tKeyword || t.s != "stream" {
		return num, gen, obj, nil
	}
	// the data starts after the end of line that follows "stream"
	s := l.s
	if c, ok := s.peek(); ok && c == '\r' {
		s.pos++
	}
	if c, ok := s.peek(); ok && c == '\n' {
		s.pos++
	}
	st := &Stream{Dict: d, Offset: s.pos, Length: -1}
	if n, ok := rd.streamLength(d, num); ok && n >= 0 && st.Offset+n <= rd.size && rd.endstreamAt(st.Offset+n) {
		st.Length = n
	} else {
		n, err := rd.findEndstream(st.Offset)
		if err != nil {
			return 0, 0, nil, fmt.Errorf("object %d: stream: %w", num, err)
		}
		st.Length = n
	}
	return num, gen, st, nil
}

// streamLength returns the stream's /Length, resolving an indirect one.
func (rd *Reader) streamLength(d *Dict, num int) (int64, bool) {
	switch v := d.Get("Length").(type) {
	case Integer:
		return int64(v), true
	case Ref:
		if v.Num == num || rd.xref == nil {
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
// end of line.
func (rd *Reader) endstreamAt(off int64) bool {
	buf := make([]byte, 32)
	m, _ := rd.r.ReadAt(buf, off)
	b := bytes.TrimLeft(buf[:m], "\r\n \t\f\x00")
	return bytes.HasPrefix(b, []byte("endstream"))
}

// findEndstream searches for "endstream" from off and returns the data
// length, without the end of line that precedes the keyword.
func (rd *Reader) findEndstream(off int64) (int64, error) {
	const chunk = 64 << 10
	buf := make([]byte, chunk+16)
	for pos := off; pos < rd.size; pos += chunk {
		m, _ := rd.r.ReadAt(buf, pos)
		if m <= 0 {
			break
		}
		if i := bytes.Index(buf[:m], []byte("endstream")); i >= 0 {
			end := pos + int64(i)
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
		if m < chunk {
			break
		}
	}
	return 0, errors.New("no endstream")
}

// maxDecodedStream bounds the decoded size of object and cross-reference
// streams, which are the only streams this package decodes.
const maxDecodedStream = 256 << 20

// decodeStream returns the decoded data of st (object num, generation gen).
// Cross-reference streams (xref true) are never encrypted.
func (rd *Reader) decodeStream(st *Stream, num, gen int, xref bool) ([]byte, error) {
	if st.Data != nil {
		return st.Data, nil
	}
	if st.Length > maxDecodedStream {
		return nil, fmt.Errorf("stream of %d bytes is too large to decode", st.Length)
	}
	raw := make([]byte, st.Length)
	if _, err := rd.r.ReadAt(raw, st.Offset); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("reading stream data: %w", err)
	}
	if rd.sec != nil && !xref {
		var err error
		if raw, err = rd.sec.DecryptStream(num, gen, raw); err != nil {
			return nil, fmt.Errorf("decrypting stream: %w", err)
		}
	}
	return decodeFilters(raw, st.Dict)
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
	e, ok := rd.xref[num]
	if !ok {
		return nil, nil
	}
	var obj Object
	switch e.Type {
	case EntryFree:
		return nil, nil
	case EntryInUse:
		n, gen, o, err := rd.parseIndirectAt(e.Offset, num)
		if err != nil {
			return nil, err
		}
		if rd.sec != nil && !(rd.encRef.Num == num && rd.encRef.Gen == gen) {
			if o, err = rd.decryptObject(o, n, gen); err != nil {
				return nil, fmt.Errorf("object %d: %w", num, err)
			}
		}
		obj = o
	case EntryCompressed:
		o, err := rd.compressedObject(num, e)
		if err != nil {
			return nil, err
		}
		obj = o
	}
	rd.objs[num] = obj
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

// StreamData returns the decoded data of stream st, object num.
func (rd *Reader) StreamData(st *Stream, num, gen int) ([]byte, error) {
	return rd.decodeStream(st, num, gen, false)
}

func (rd *Reader) compressedObject(num int, e Entry) (Object, error) {
	os, err := rd.loadObjStm(e.Stream)
	if err != nil {
		return nil, fmt.Errorf("object %d: %w", num, err)
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
			return nil, fmt.Errorf("object %d: not in object stream %d", num, e.Stream)
		}
	}
	start := os.first + os.offs[idx]
	if start < 0 || start > int64(len(os.data)) {
		return nil, fmt.Errorf("object %d: bad offset in object stream %d", num, e.Stream)
	}
	l := &lexer{s: newBytesScanner(os.data[start:])}
	o, err := l.parseObject(0)
	if err != nil {
		return nil, fmt.Errorf("object %d in object stream %d: %w", num, e.Stream, err)
	}
	return o, nil
}

func (rd *Reader) loadObjStm(num int) (*objStm, error) {
	if os, ok := rd.objStms[num]; ok {
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
	e, ok := rd.xref[num]
	if !ok || e.Type != EntryInUse {
		return nil, fmt.Errorf("object stream %d is not in the cross-reference", num)
	}
	_, gen, o, err := rd.parseIndirectAt(e.Offset, num)
	if err != nil {
		return nil, fmt.Errorf("object stream %d: %w", num, err)
	}
	os, err := rd.parseObjStm(num, gen, o)
	if err != nil {
		return nil, err
	}
	rd.objStms[num] = os
	return os, nil
}

func (rd *Reader) parseObjStm(num, gen int, o Object) (*objStm, error) {
	st, ok := o.(*Stream)
	if !ok || st.Dict.Get("Type") != Name("ObjStm") {
		return nil, fmt.Errorf("object %d is not an object stream", num)
	}
	data, err := rd.decodeStream(st, num, gen, false)
	if err != nil {
		return nil, fmt.Errorf("object stream %d: %w", num, err)
	}
	n, ok1 := Int(st.Dict.Get("N"))
	first, ok2 := Int(st.Dict.Get("First"))
	if !ok1 || !ok2 || n < 0 || first < 0 || first > int64(len(data)) || n > int64(len(data)) {
		return nil, fmt.Errorf("object stream %d: bad /N or /First", num)
	}
	os := &objStm{data: data, first: first}
	l := &lexer{s: newBytesScanner(data[:first])}
	for i := int64(0); i < n; i++ {
		a, err1 := l.next()
		b, err2 := l.next()
		if errors.Join(err1, err2) != nil || a.kind != tInt || b.kind != tInt || a.n < 0 || b.n < 0 || a.n > maxObjectNumber {
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
