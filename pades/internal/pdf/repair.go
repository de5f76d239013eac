package pdf

import (
	"bytes"
	"errors"
	"fmt"
)

// repair rebuilds the cross-reference information by scanning the whole file
// for object headers, trailers and object streams. Later definitions of an
// object win over earlier ones, as they would through incremental updates.
func (rd *Reader) repair() error {
	rd.Sections = nil
	rd.xref = map[int]Entry{}
	rd.objs = map[int]Object{}
	rd.objStms = map[int]*objStm{}
	rd.maxNum = 0

	type found struct {
		num, gen int
		off      int64
	}
	var objects []found
	var trailers []*Dict
	var objStmNums []int
	var catalogs []int
	topPos := map[int]int64{}

	const chunk = 1 << 20
	const back = 40 // bytes re-read before each chunk, for headers cut in two
	buf := make([]byte, chunk)
	minAbs := rd.HeaderOffset // matches before this were handled already
	for minAbs < rd.size {
		pos := minAbs - back
		if pos < rd.HeaderOffset {
			pos = rd.HeaderOffset
		}
		m, _ := rd.r.ReadAt(buf, pos)
		if m <= 0 {
			break
		}
		b := buf[:m]
		limit := pos + int64(m) // matches must start before this
		if limit < rd.size {
			limit -= 16 // leave room for the keyword's last bytes
		}
		resume := limit
		for i := int(minAbs - pos); i < len(b); {
			j := bytes.Index(b[i:], []byte("obj"))
			k := bytes.Index(b[i:], []byte("trailer"))
			if j < 0 && k < 0 {
				break
			}
			if k >= 0 && (j < 0 || k < j) {
				at := pos + int64(i+k)
				if at >= limit {
					break
				}
				i += k + 7
				l := &lexer{s: newScanner(rd.r, rd.size, at+7)}
				if o, err := l.parseObject(0); err == nil {
					if d, ok := o.(*Dict); ok {
						trailers = append(trailers, d)
					}
				}
				continue
			}
			at := i + j
			if pos+int64(at) >= limit {
				break
			}
			i = at + 3
			if at+3 < len(b) && isRegular(b[at+3]) {
				continue // part of a longer word
			}
			start, ok := headerStart(b, at)
			if !ok || (start == 0 && pos > rd.HeaderOffset) {
				continue
			}
			off := pos + int64(start)
			num, gen, o, err := rd.parseIndirectAt(off, -1)
			if err != nil || num <= 0 || num > maxObjectNumber || gen < 0 || gen > 65535 {
				continue
			}
			objects = append(objects, found{num, gen, off})
			topPos[num] = off
			if num > rd.maxNum {
				rd.maxNum = num
			}
			switch v := o.(type) {
			case *Stream:
				switch v.Dict.Get("Type") {
				case Name("ObjStm"):
					objStmNums = append(objStmNums, num)
				case Name("XRef"):
					trailers = append(trailers, v.Dict)
				}
				// continue after the stream data, which may hold anything
				if end := v.Offset + v.Length; end > pos+int64(i) {
					if end >= limit {
						resume = end
						i = len(b)
						break
					}
					i = int(end - pos)
				}
			case *Dict:
				if v.Get("Type") == Name("Catalog") {
					catalogs = append(catalogs, num)
				}
			}
		}
		if resume <= minAbs {
			break
		}
		minAbs = resume
	}
	if len(objects) == 0 {
		return errors.New("no objects found")
	}
	for _, f := range objects {
		rd.xref[f.num] = Entry{Type: EntryInUse, Offset: f.off, Gen: f.gen}
	}
	for _, sn := range objStmNums {
		e := rd.xref[sn]
		o, err := rd.parseIndirectObjectFor(sn, e)
		if err != nil {
			continue
		}
		os, err := rd.parseObjStm(sn, e.Gen, o)
		if err != nil {
			continue
		}
		rd.objStms[sn] = os
		for idx, n := range os.nums {
			if p, ok := topPos[n]; ok && p > e.Offset {
				continue // redefined later outside the object stream
			}
			if n <= 0 || n == sn {
				continue
			}
			rd.xref[n] = Entry{Type: EntryCompressed, Stream: sn, Index: idx}
			if n > rd.maxNum {
				rd.maxNum = n
			}
		}
	}
	rd.objs = map[int]Object{}

	trailer := NewDict()
	for i := len(trailers) - 1; i >= 0; i-- {
		t := trailers[i]
		if !trailer.Has("Root") {
			if r, ok := t.Get("Root").(Ref); ok && rd.isCatalog(r.Num) {
				trailer.Set("Root", r)
			}
		}
		for _, k := range []Name{"Info", "ID", "Encrypt"} {
			if !trailer.Has(k) && t.Has(k) {
				trailer.Set(k, t.Get(k))
			}
		}
	}
	if !trailer.Has("Root") {
		for i := len(catalogs) - 1; i >= 0; i-- {
			if rd.isCatalog(catalogs[i]) {
				trailer.Set("Root", Ref{Num: catalogs[i], Gen: rd.xref[catalogs[i]].Gen})
				break
			}
		}
	}
	if !trailer.Has("Root") {
		return errors.New("no document catalog found")
	}
	trailer.Set("Size", Integer(rd.maxNum+1))
	rd.Trailer = trailer
	return nil
}

func (rd *Reader) parseIndirectObjectFor(num int, e Entry) (Object, error) {
	_, _, o, err := rd.parseIndirectAt(e.Offset, num)
	return o, err
}

func (rd *Reader) isCatalog(num int) bool {
	o, err := rd.Object(num)
	if err != nil {
		return false
	}
	d, ok := o.(*Dict)
	return ok && d.Get("Type") == Name("Catalog") && d.Has("Pages")
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
