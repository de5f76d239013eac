package pdf

import (
	"bytes"
	"errors"
	"fmt"
)

// scanWork bounds the parsing of the repair scan: the bytes it parses may
// not exceed scanWork times the file size, plus 1 MiB. Objects that parse
// and end with endobj (or a stream) are skipped as a whole, so a sound file
// costs its size once; damaged objects are parsed again from the next
// "obj" inside them, which a hostile file could repeat without end.
const scanWork = 4

// repair rebuilds the cross-reference information by scanning the whole file
// for object headers, trailers and object streams. Later definitions of an
// object win over earlier ones, as they would through incremental updates.
func (rd *Reader) repair() error {
	rd.Sections = nil
	rd.xref.reset(rd)
	rd.dropCaches()
	rd.maxNum = 0
	rd.scanning = true
	defer func() { rd.scanning = false }()

	var (
		objStmNums []int
		catalogs   []int // the last few found
		roots      []Ref // the trailers' /Root, in file order, the last few
		latest     = map[Name]Object{}
	)
	keep := func(list []int, n int) []int {
		if len(list) == 64 {
			copy(list, list[1:])
			list = list[:63]
		}
		return append(list, n)
	}
	noteTrailer := func(d *Dict) {
		if r, ok := d.Get("Root").(Ref); ok && (len(roots) == 0 || roots[len(roots)-1] != r) {
			if len(roots) == 64 {
				copy(roots, roots[1:])
				roots = roots[:63]
			}
			roots = append(roots, r)
		}
		for _, k := range []Name{"Info", "ID", "Encrypt"} {
			if d.Has(k) {
				latest[k] = d.Get(k)
			}
		}
	}

	const chunk = 1 << 20
	const back = 40 // bytes re-read before each chunk, for headers cut in two
	maxWork := scanWork*rd.size + 1<<20
	work := int64(0)
	buf := make([]byte, chunk)
	pos := rd.HeaderOffset // the next match starts here or after
	for pos < rd.size {
		start := max(pos-back, rd.HeaderOffset)
		m, _ := rd.r.ReadAt(buf, start)
		if m <= 0 {
			break
		}
		b := buf[:m]
		end := start + int64(m)
		limit := end // matches must start before this
		if end < rd.size {
			limit -= 16 // leave room for the keyword's last bytes
		}
		next := limit // where the next chunk starts searching
		trailerAt := int64(-2)
		for at := pos; at < limit; {
			// the next "trailer", searched again only once passed
			if trailerAt != -1 && trailerAt < at {
				trailerAt = -1
				if k := bytes.Index(b[at-start:], []byte("trailer")); k >= 0 {
					trailerAt = at + int64(k)
				}
			}
			objAt := int64(-1)
			if j := bytes.Index(b[at-start:], []byte("obj")); j >= 0 {
				objAt = at + int64(j)
			}
			if trailerAt >= 0 && (objAt < 0 || trailerAt < objAt) && trailerAt < limit {
				at = trailerAt + 7
				l := newLexer(newBufScanner(rd.r, rd.size, b, start, at), rd.budget.maxObject())
				o, err := l.parseObject(0)
				if work += l.s.pos - at; work > maxWork {
					return scanLimit(maxWork)
				}
				if d, ok := o.(*Dict); ok && err == nil {
					noteTrailer(d)
				} else if errors.Is(err, ErrLimit) {
					return err
				}
				continue
			}
			if objAt < 0 || objAt >= limit {
				break
			}
			at = objAt + 3
			rel := int(objAt - start)
			if rel+3 < len(b) && isRegular(b[rel+3]) {
				continue // part of a longer word
			}
			hs, ok := headerStart(b, rel)
			if !ok || (hs == 0 && start > rd.HeaderOffset) {
				continue
			}
			num, gen, ok := parseObjHeader(b[hs : rel+3])
			if !ok || num <= 0 || num >= maxObjectNumber || gen > 65535 {
				continue
			}
			off := start + int64(hs)
			s := newBufScanner(rd.r, rd.size, b, start, at)
			o, err := rd.parseBody(s, indirect{num: num, gen: gen})
			if work += s.pos - at; work > maxWork {
				return scanLimit(maxWork)
			}
			if errors.Is(err, ErrLimit) {
				return err
			}
			if err != nil {
				continue
			}
			if err := rd.xref.set(rd, num, Entry{Type: EntryInUse, Offset: off, Gen: gen}); err != nil {
				return err
			}
			rd.maxNum = max(rd.maxNum, num)
			switch v := o.obj.(type) {
			case *Stream:
				switch v.Dict.Get("Type") {
				case Name("ObjStm"):
					objStmNums = append(objStmNums, num)
				case Name("XRef"):
					noteTrailer(v.Dict)
				}
			case *Dict:
				if v.Get("Type") == Name("Catalog") {
					catalogs = keep(catalogs, num)
				}
			}
			if o.end > at {
				// continue after the object (a stream's data may hold anything)
				at = o.end
				if at >= limit {
					next = at
					break
				}
			}
		}
		if next <= pos {
			break
		}
		pos = next
	}
	if rd.xref.n == 0 {
		return errors.New("no objects found")
	}
	rd.scanning = false
	for _, sn := range objStmNums {
		e, ok := rd.xref.get(sn)
		if !ok || e.Type != EntryInUse {
			continue
		}
		o, err := rd.parseIndirectAt(e.Offset, sn)
		if err != nil {
			continue
		}
		os, err := rd.parseObjStm(sn, e.Gen, o.obj)
		if errors.Is(err, ErrLimit) {
			return err
		}
		if err != nil {
			continue
		}
		rd.tick++
		os.used = rd.tick
		rd.objStms[sn] = os
		for idx, n := range os.nums {
			if n <= 0 || n == sn || n >= maxObjectNumber {
				continue
			}
			if cur, ok := rd.xref.get(n); ok && cur.Type == EntryInUse && cur.Offset > e.Offset {
				continue // redefined later outside the object stream
			}
			if err := rd.xref.set(rd, n, Entry{Type: EntryCompressed, Stream: sn, Index: idx}); err != nil {
				return err
			}
			rd.maxNum = max(rd.maxNum, n)
		}
	}

	trailer := NewDict()
	for i := len(roots) - 1; i >= 0 && !trailer.Has("Root"); i-- {
		ok, err := rd.isCatalog(roots[i].Num)
		if err != nil {
			return err
		}
		if ok {
			trailer.Set("Root", roots[i])
		}
	}
	for _, k := range []Name{"Info", "ID", "Encrypt"} {
		if v, ok := latest[k]; ok {
			trailer.Set(k, v)
		}
	}
	for i := len(catalogs) - 1; i >= 0 && !trailer.Has("Root"); i-- {
		ok, err := rd.isCatalog(catalogs[i])
		if err != nil {
			return err
		}
		if ok {
			e, _ := rd.xref.get(catalogs[i])
			trailer.Set("Root", Ref{Num: catalogs[i], Gen: e.Gen})
		}
	}
	if !trailer.Has("Root") {
		return errors.New("no document catalog found")
	}
	trailer.Set("Size", Integer(rd.maxNum+1))
	rd.Trailer = trailer
	return nil
}

func scanLimit(limit int64) error {
	return &LimitError{What: "the scan's parsing", Limit: limit, Of: fmt.Sprintf("its limit (%d times the file size, and 1 MiB)", scanWork)}
}

// isCatalog reports whether object num is a document catalog. Only an
// error of the budget is returned: others mean it is not.
func (rd *Reader) isCatalog(num int) (bool, error) {
	o, err := rd.Object(num)
	if errors.Is(err, ErrLimit) {
		return false, err
	}
	d, ok := o.(*Dict)
	return err == nil && ok && d.Get("Type") == Name("Catalog") && d.Has("Pages"), nil
}

// headerStart finds the start of "num gen" before the "obj" at b[at].
func headerStart(b []byte, at int) (int, bool) {
	i := at - 1
	skipWhite := func() bool {
		n := 0
		for i >= 0 && isWhite(b[i]) {
			i--
			n++
		}
		return n > 0
	}
	digits := func() bool {
		n := 0
		for i >= 0 && b[i] >= '0' && b[i] <= '9' {
			i--
			n++
		}
		return n > 0 && n <= 10
	}
	if !skipWhite() || !digits() || !skipWhite() || !digits() {
		return 0, false
	}
	if i >= 0 && isRegular(b[i]) {
		// "endobj12 0 obj" occurs in files written without separators
		if !(i >= 2 && string(b[i-2:i+1]) == "obj") {
			return 0, false
		}
	}
	return i + 1, true
}

// String describes the reader for diagnostics.
func (rd *Reader) String() string {
	if rd.Repaired {
		return fmt.Sprintf("PDF %s, cross-reference rebuilt (%s)", rd.Version, rd.RepairReason)
	}
	return fmt.Sprintf("PDF %s, %d cross-reference sections", rd.Version, len(rd.Sections))
}
