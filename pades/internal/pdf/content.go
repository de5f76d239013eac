package pdf

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// Content reads the operations of content stream data (ISO 32000-1,
// 7.8.2): operands, each a direct object, followed by an operator. It also
// reads PostScript-like data such as CMaps, whose procedures come out as
// operators with the operands before them.
//
// It is as lenient as viewers are: a token that is not valid where it
// stands (a stray ')' or '>', a '{') is dropped with the operands before
// it, and reading goes on after it. Only the end of the data inside a
// token, an object over the limit and data that makes no progress end it
// with an error.
type Content struct {
	l    *lexer
	args []Object
}

// NewContent returns a reader of the content-stream data b. maxOperands
// bounds the memory that the operands of one operator take (strings,
// names, array elements); 0 means the default of a quarter of
// DefaultMemory.
func NewContent(b []byte, maxOperands int64) *Content {
	return &Content{l: newLexer(newBytesScanner(b), maxOperands)}
}

// Reset makes c read b, the data of the next stream of the same content:
// operands read before the end of the previous data stay pending, since the
// division between the streams of a page may fall between an operator and
// its operands.
func (c *Content) Reset(b []byte) {
	c.l.s, c.l.back = newBytesScanner(b), nil
}

// Next returns the next operator and its operands. The slice of operands
// is valid until the next call. At the end of the data it returns io.EOF;
// operands without an operator before the end stay pending for the data
// that Reset gives next. An inline image
// (BI dict ID data EI) comes out as the operator "BI" with the image's
// dictionary as its one operand; its data is skipped.
func (c *Content) Next() (op string, args []Object, err error) {
	l := c.l
	for {
		start := l.pos()
		t, err := l.next()
		if err != nil {
			if l.s.pos <= start || errors.Is(err, errEOF) || errors.Is(err, ErrLimit) {
				return "", nil, err
			}
			c.drop()
			continue
		}
		switch {
		case t.kind == tEOF:
			return "", nil, io.EOF // operands stay pending for Reset
		case t.kind == tKeyword && t.s != "true" && t.s != "false" && t.s != "null":
			if t.s == "BI" {
				d, err := c.inlineImage()
				if err != nil {
					return "", nil, err
				}
				c.drop()
				c.args = append(c.args, d)
				t.s = "BI"
			}
			args := c.args
			c.args = c.args[:0]
			l.cost = 0
			return t.s, args, nil
		case t.kind == tArrayClose || t.kind == tDictClose || t.kind == tBraceOpen || t.kind == tBraceClose:
			c.drop()
			continue
		}
		l.unread(t)
		if err := l.charge(elementCost, t.pos); err != nil {
			return "", nil, err
		}
		o, err := l.parseObject(0)
		if err != nil {
			if errors.Is(err, ErrLimit) || errors.Is(err, errEOF) || l.pos() <= start {
				return "", nil, err
			}
			c.drop()
			continue
		}
		c.args = append(c.args, o)
	}
}

// drop forgets the pending operands.
func (c *Content) drop() {
	clear(c.args)
	c.args = c.args[:0]
	c.l.cost = 0
}

// inlineImage reads the dictionary of an inline image after BI up to ID,
// and skips its data up to EI. The data ends after /L (or /Length) bytes
// when the dictionary gives it, else before the first EI that stands
// between white space and white space or the end.
func (c *Content) inlineImage() (*Dict, error) {
	l := c.l
	d := NewDict()
	for {
		t, err := l.next()
		if err != nil {
			return nil, err
		}
		if t.kind == tEOF {
			return nil, fmt.Errorf("offset %d: inline image: %w", t.pos, errEOF)
		}
		if t.kind == tKeyword && t.s == "ID" {
			break
		}
		if t.kind != tName {
			return nil, fmt.Errorf("offset %d: inline image: a key is not a name", t.pos)
		}
		if err := l.charge(entryCost+int64(len(t.s)), t.pos); err != nil {
			return nil, err
		}
		v, err := l.parseObject(0)
		if err != nil {
			return nil, fmt.Errorf("inline image: %w", err)
		}
		d.Set(Name(t.s), v)
	}
	s := l.s
	s.pos++ // the one white-space byte after ID
	data := s.buf[min(s.pos, s.size):]
	n, ok := Int(d.Get("L"))
	if !ok {
		n, ok = Int(d.Get("Length"))
	}
	if ok && n >= 0 && n <= int64(len(data)) {
		s.pos += n
		// EI follows, after white space
		rest := data[n:]
		i := 0
		for i < len(rest) && isWhite(rest[i]) {
			i++
		}
		if bytes.HasPrefix(rest[i:], []byte("EI")) && (i+2 == len(rest) || !isRegular(rest[i+2])) {
			s.pos += int64(i + 2)
			return d, nil
		}
		s.pos -= n // fall back to the search
	}
	for i := 0; ; {
		j := bytes.Index(data[i:], []byte("EI"))
		if j < 0 {
			return nil, fmt.Errorf("offset %d: inline image: no EI after its data", s.pos)
		}
		j += i
		if (j == 0 || isWhite(data[j-1])) && (j+2 == len(data) || isWhite(data[j+2])) {
			s.pos += int64(j + 2)
			return d, nil
		}
		i = j + 2
	}
}
