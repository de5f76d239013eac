package pdf

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// maxDepth bounds the nesting of arrays and dictionaries, so that hostile
// input cannot exhaust the stack.
const maxDepth = 256

// defaultMaxObject bounds one parsed object when no budget says otherwise.
const defaultMaxObject = DefaultMemory / 4

// The memory an object takes besides its strings and names, for the limit
// on one object: an element of an array, an entry of a dictionary.
const (
	elementCost = 16
	entryCost   = 48
)

// errEOF is returned when the input ends inside a token or object.
var errEOF = errors.New("unexpected end of file")

// scanner reads bytes from an io.ReaderAt through a moving window.
type scanner struct {
	r        io.ReaderAt
	size     int64
	buf      []byte
	base     int64 // file offset of buf[0]
	pos      int64
	borrowed bool // buf belongs to the caller: refills need a buffer of their own
}

// The first window is small, for the many short objects; later ones are
// larger, for long ones.
const (
	firstWindow = 1 << 10
	windowSize  = 16 << 10
)

func newScanner(r io.ReaderAt, size, pos int64) *scanner {
	return &scanner{r: r, size: size, pos: pos, base: -1}
}

func newBytesScanner(b []byte) *scanner {
	return &scanner{r: bytes.NewReader(b), size: int64(len(b)), buf: b, base: 0}
}

// newBufScanner returns a scanner at pos of the file r of the given size
// that reads from buf, which holds the file's bytes from base on, before
// it reads from r.
func newBufScanner(r io.ReaderAt, size int64, buf []byte, base, pos int64) *scanner {
	return &scanner{r: r, size: size, buf: buf, base: base, pos: pos, borrowed: true}
}

// peek returns the byte at the current position.
func (s *scanner) peek() (byte, bool) {
	if s.pos >= s.size || s.pos < 0 {
		return 0, false
	}
	if s.base < 0 || s.pos < s.base || s.pos >= s.base+int64(len(s.buf)) {
		if !s.fill(s.pos) {
			return 0, false
		}
	}
	return s.buf[s.pos-s.base], true
}

func (s *scanner) fill(at int64) bool {
	w := windowSize
	if s.base < 0 {
		w = firstWindow
	}
	n := int64(w)
	if at+n > s.size {
		n = s.size - at
	}
	if n <= 0 {
		return false
	}
	if s.borrowed || cap(s.buf) < w {
		s.buf = make([]byte, w)
		s.borrowed = false
	}
	s.buf = s.buf[:n]
	m, err := s.r.ReadAt(s.buf, at)
	if m <= 0 && err != nil {
		return false
	}
	s.buf = s.buf[:m]
	s.base = at
	return true
}

func (s *scanner) next() (byte, bool) {
	c, ok := s.peek()
	if ok {
		s.pos++
	}
	return c, ok
}

func isWhite(c byte) bool {
	return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\f' || c == 0
}

func isDelim(c byte) bool {
	switch c {
	case '(', ')', '<', '>', '[', ']', '{', '}', '/', '%':
		return true
	}
	return false
}

func isRegular(c byte) bool { return !isWhite(c) && !isDelim(c) }

// skipSpace skips white space and comments.
func (s *scanner) skipSpace() {
	for {
		c, ok := s.peek()
		if !ok {
			return
		}
		if isWhite(c) {
			s.pos++
			continue
		}
		if c == '%' {
			for {
				c, ok := s.next()
				if !ok || c == '\n' || c == '\r' {
					break
				}
			}
			continue
		}
		return
	}
}

type tokKind int

const (
	tEOF tokKind = iota
	tInt
	tReal
	tName
	tString
	tHex
	tArrayOpen
	tArrayClose
	tDictOpen
	tDictClose
	tKeyword
	tBraceOpen
	tBraceClose
)

type token struct {
	kind tokKind
	pos  int64
	n    int64
	s    string // keyword, name, or the text of a number
	b    []byte // string value
}

// lexer produces tokens with a small push-back stack.
type lexer struct {
	s    *scanner
	back []token
	// max bounds the memory of the objects parsed (default
	// defaultMaxObject); cost is what they have taken so far.
	max, cost int64
}

func newLexer(s *scanner, max int64) *lexer { return &lexer{s: s, max: max} }

// room returns how many more bytes objects may take.
func (l *lexer) room() int64 {
	if l.max <= 0 {
		l.max = defaultMaxObject
	}
	return l.max - l.cost
}

// charge accounts n bytes of object memory at offset pos.
func (l *lexer) charge(n int64, pos int64) error {
	if n > l.room() {
		return &LimitError{What: fmt.Sprintf("the object at offset %d", pos), Limit: l.max, Of: "the limit for one object"}
	}
	l.cost += n
	return nil
}

func (l *lexer) unread(t token) { l.back = append(l.back, t) }

func (l *lexer) pos() int64 {
	if len(l.back) > 0 {
		return l.back[len(l.back)-1].pos
	}
	return l.s.pos
}

func (l *lexer) next() (token, error) {
	if n := len(l.back); n > 0 {
		t := l.back[n-1]
		l.back = l.back[:n-1]
		return t, nil
	}
	s := l.s
	s.skipSpace()
	start := s.pos
	c, ok := s.next()
	if !ok {
		return token{kind: tEOF, pos: start}, nil
	}
	switch c {
	case '[':
		return token{kind: tArrayOpen, pos: start}, nil
	case ']':
		return token{kind: tArrayClose, pos: start}, nil
	case '{':
		return token{kind: tBraceOpen, pos: start}, nil
	case '}':
		return token{kind: tBraceClose, pos: start}, nil
	case '<':
		if c2, ok := s.peek(); ok && c2 == '<' {
			s.pos++
			return token{kind: tDictOpen, pos: start}, nil
		}
		b, err := s.hexString(l.room(), l.max)
		return token{kind: tHex, pos: start, b: b}, err
	case '>':
		if c2, ok := s.peek(); ok && c2 == '>' {
			s.pos++
			return token{kind: tDictClose, pos: start}, nil
		}
		return token{}, fmt.Errorf("offset %d: unexpected '>'", start)
	case '(':
		b, err := s.literalString(l.room(), l.max)
		return token{kind: tString, pos: start, b: b}, err
	case ')':
		return token{}, fmt.Errorf("offset %d: unexpected ')'", start)
	case '/':
		name, err := s.name()
		return token{kind: tName, pos: start, s: name}, err
	}
	// a number or a keyword: a run of regular characters, taken from the
	// window when it lies there whole
	var word []byte
	var small [32]byte
	word = append(small[:0], c)
	for {
		c, ok := s.peek()
		if !ok || !isRegular(c) {
			break
		}
		if len(word) > 256 {
			return token{}, fmt.Errorf("offset %d: token too long", start)
		}
		word = append(word, c)
		s.pos++
	}
	if n, ok := parseInt(word); ok {
		return token{kind: tInt, pos: start, n: n}, nil
	}
	if w := keyword(word); w != "" {
		return token{kind: tKeyword, pos: start, s: w}, nil
	}
	w := string(word)
	if isRealText(w) {
		return token{kind: tReal, pos: start, s: w}, nil
	}
	return token{kind: tKeyword, pos: start, s: w}, nil
}

// parseInt parses a PDF integer: an optional sign and 1 to 18 digits.
func parseInt(b []byte) (int64, bool) {
	neg := false
	if len(b) > 0 && (b[0] == '+' || b[0] == '-') {
		neg, b = b[0] == '-', b[1:]
	}
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var v int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	if neg {
		v = -v
	}
	return v, true
}

// keyword returns the common keywords without allocating, or "".
func keyword(b []byte) string {
	switch string(b) {
	case "obj":
		return "obj"
	case "endobj":
		return "endobj"
	case "R":
		return "R"
	case "stream":
		return "stream"
	case "endstream":
		return "endstream"
	case "true":
		return "true"
	case "false":
		return "false"
	case "null":
		return "null"
	case "xref":
		return "xref"
	case "trailer":
		return "trailer"
	case "startxref":
		return "startxref"
	}
	return ""
}

// isRealText reports whether w is a PDF real: optional sign, digits with at
// most one period, at least one digit.
func isRealText(w string) bool {
	digits, dots := 0, 0
	for i := 0; i < len(w); i++ {
		c := w[i]
		switch {
		case c >= '0' && c <= '9':
			digits++
		case c == '.':
			dots++
		case (c == '+' || c == '-') && i == 0:
		default:
			return false
		}
	}
	return digits > 0 && dots <= 1
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// stringLimit reports a string that does not fit in the room left for its
// object.
func stringLimit(start, max int64) error {
	return &LimitError{What: fmt.Sprintf("the string at offset %d", start), Limit: max, Of: "the limit for one object"}
}

// hexString reads a hex string of at most room bytes (max is the object
// limit, for the error).
func (s *scanner) hexString(room, max int64) ([]byte, error) {
	start := s.pos
	var out []byte
	var hi byte
	half := false
	for {
		c, ok := s.next()
		if !ok {
			return nil, fmt.Errorf("offset %d: hex string: %w", start, errEOF)
		}
		if c == '>' {
			if half {
				out = append(out, hi<<4)
			}
			return out, nil
		}
		if isWhite(c) {
			continue
		}
		v, ok := unhex(c)
		if !ok {
			return nil, fmt.Errorf("offset %d: bad character %q in hex string", s.pos-1, c)
		}
		if half {
			out = append(out, hi<<4|v)
			half = false
		} else {
			hi, half = v, true
		}
		if int64(len(out)) > room {
			return nil, stringLimit(start-1, max)
		}
	}
}

// literalString reads a literal string of at most room bytes (max is the
// object limit, for the error).
func (s *scanner) literalString(room, max int64) ([]byte, error) {
	start := s.pos
	var out []byte
	depth := 1
	for {
		c, ok := s.next()
		if !ok {
			return nil, fmt.Errorf("offset %d: string: %w", start, errEOF)
		}
		if int64(len(out)) > room {
			return nil, stringLimit(start-1, max)
		}
		switch c {
		case '(':
			depth++
			out = append(out, c)
		case ')':
			depth--
			if depth == 0 {
				return out, nil
			}
			out = append(out, c)
		case '\r':
			// an end of line in a string is a single newline
			if c2, ok := s.peek(); ok && c2 == '\n' {
				s.pos++
			}
			out = append(out, '\n')
		case '\\':
			e, ok := s.next()
			if !ok {
				return nil, fmt.Errorf("offset %d: string: %w", start, errEOF)
			}
			switch e {
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case '\r':
				if c2, ok := s.peek(); ok && c2 == '\n' {
					s.pos++
				}
			case '\n':
			default:
				if e >= '0' && e <= '7' {
					v := int(e - '0')
					for i := 0; i < 2; i++ {
						d, ok := s.peek()
						if !ok || d < '0' || d > '7' {
							break
						}
						s.pos++
						v = v*8 + int(d-'0')
					}
					out = append(out, byte(v))
				} else {
					out = append(out, e)
				}
			}
		default:
			out = append(out, c)
		}
	}
}

func (s *scanner) name() (string, error) {
	var out []byte
	for {
		c, ok := s.peek()
		if !ok || !isRegular(c) {
			break
		}
		s.pos++
		if c == '#' {
			h1, ok1 := s.peek()
			v1, okh1 := unhex(h1)
			if ok1 && okh1 {
				s.pos++
				h2, ok2 := s.peek()
				if v2, okh2 := unhex(h2); ok2 && okh2 {
					s.pos++
					out = append(out, v1<<4|v2)
					continue
				}
				out = append(out, '#', h1)
				continue
			}
		}
		out = append(out, c)
		if len(out) > 4096 {
			return "", fmt.Errorf("offset %d: name too long", s.pos)
		}
	}
	return string(out), nil
}

// parseObject reads one direct object. A keyword that is not true, false or
// null is returned as an error.
func (l *lexer) parseObject(depth int) (Object, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("offset %d: objects nested too deeply", l.pos())
	}
	t, err := l.next()
	if err != nil {
		return nil, err
	}
	switch t.kind {
	case tEOF:
		return nil, fmt.Errorf("offset %d: object: %w", t.pos, errEOF)
	case tInt:
		// "num gen R"?
		t2, err := l.next()
		if err != nil {
			return nil, err
		}
		if t2.kind == tInt && t.n >= 0 && t2.n >= 0 && t2.n <= 65535 {
			t3, err := l.next()
			if err != nil {
				return nil, err
			}
			if t3.kind == tKeyword && t3.s == "R" {
				if t.n > maxObjectNumber {
					return nil, fmt.Errorf("offset %d: object number %d out of range", t.pos, t.n)
				}
				return Ref{Num: int(t.n), Gen: int(t2.n)}, nil
			}
			l.unread(t3)
		}
		l.unread(t2)
		return Integer(t.n), nil
	case tReal:
		return Real(t.s), l.charge(int64(len(t.s)), t.pos)
	case tName:
		return Name(t.s), l.charge(int64(len(t.s)), t.pos)
	case tString:
		return String{Value: t.b}, l.charge(int64(len(t.b)), t.pos)
	case tHex:
		return String{Value: t.b, Hex: true}, l.charge(int64(len(t.b)), t.pos)
	case tArrayOpen:
		arr := Array{}
		for {
			t, err := l.next()
			if err != nil {
				return nil, err
			}
			if t.kind == tArrayClose {
				return arr, nil
			}
			if t.kind == tEOF {
				return nil, fmt.Errorf("offset %d: array: %w", t.pos, errEOF)
			}
			l.unread(t)
			if err := l.charge(elementCost, t.pos); err != nil {
				return nil, err
			}
			v, err := l.parseObject(depth + 1)
			if err != nil {
				return nil, err
			}
			arr = append(arr, v)
		}
	case tDictOpen:
		return l.parseDictBody(depth)
	case tKeyword:
		switch t.s {
		case "true":
			return Bool(true), nil
		case "false":
			return Bool(false), nil
		case "null":
			return nil, nil
		}
		return nil, fmt.Errorf("offset %d: unexpected keyword %q", t.pos, t.s)
	}
	return nil, fmt.Errorf("offset %d: unexpected token", t.pos)
}

func (l *lexer) parseDictBody(depth int) (*Dict, error) {
	d := NewDict()
	for {
		t, err := l.next()
		if err != nil {
			return nil, err
		}
		switch t.kind {
		case tDictClose:
			return d, nil
		case tEOF:
			return nil, fmt.Errorf("offset %d: dictionary: %w", t.pos, errEOF)
		case tName:
		default:
			return nil, fmt.Errorf("offset %d: dictionary key is not a name", t.pos)
		}
		// a key directly followed by >> has no value: treat it as null
		t2, err := l.next()
		if err != nil {
			return nil, err
		}
		if t2.kind == tDictClose {
			return d, nil
		}
		l.unread(t2)
		if err := l.charge(entryCost+int64(len(t.s)), t.pos); err != nil {
			return nil, err
		}
		v, err := l.parseObject(depth + 1)
		if err != nil {
			return nil, err
		}
		if v != nil { // a null value is the same as an absent key
			d.Set(Name(t.s), v)
		}
	}
}

// maxObjectNumber bounds object numbers (the xref stream format allows more,
// but no real file needs them and they would make tables huge).
const maxObjectNumber = 1 << 23

// ParseObject parses one direct object from b (for tests and fuzzing).
func ParseObject(b []byte) (Object, error) {
	l := &lexer{s: newBytesScanner(b)}
	return l.parseObject(0)
}
