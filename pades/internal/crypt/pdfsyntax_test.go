package crypt

// A minimal reader of PDF object syntax (ISO 32000-1 §7.3), used by the tests
// to pick raw encrypted strings and streams out of real files and to read
// what qpdf prints.

import (
	"bytes"
	"fmt"
	"strconv"
	"testing"
)

type (
	pdfName string
	pdfRef  struct{ num, gen int }
	pdfDict map[pdfName]any
	pdfKw   string // a keyword other than true, false, null, R
)

// pdfLexer reads objects from b starting at pos.
type pdfLexer struct {
	b   []byte
	pos int
}

func isWhite(c byte) bool {
	return c == 0 || c == '\t' || c == '\n' || c == '\f' || c == '\r' || c == ' '
}

func isDelim(c byte) bool {
	return bytes.IndexByte([]byte("()<>[]{}/%"), c) >= 0
}

func (l *pdfLexer) skipSpace() {
	for l.pos < len(l.b) {
		c := l.b[l.pos]
		switch {
		case isWhite(c):
			l.pos++
		case c == '%':
			for l.pos < len(l.b) && l.b[l.pos] != '\r' && l.b[l.pos] != '\n' {
				l.pos++
			}
		default:
			return
		}
	}
}

// regular reads a run of regular characters.
func (l *pdfLexer) regular() string {
	start := l.pos
	for l.pos < len(l.b) && !isWhite(l.b[l.pos]) && !isDelim(l.b[l.pos]) {
		l.pos++
	}
	return string(l.b[start:l.pos])
}

// object reads one direct object or reference.
func (l *pdfLexer) object() (any, error) {
	l.skipSpace()
	if l.pos >= len(l.b) {
		return nil, fmt.Errorf("unexpected end of data")
	}
	switch c := l.b[l.pos]; {
	case c == '/':
		l.pos++
		return l.name()
	case c == '(':
		l.pos++
		return l.literal()
	case c == '<' && l.pos+1 < len(l.b) && l.b[l.pos+1] == '<':
		l.pos += 2
		return l.dict()
	case c == '<':
		l.pos++
		return l.hex()
	case c == '[':
		l.pos++
		var arr []any
		for {
			l.skipSpace()
			if l.pos < len(l.b) && l.b[l.pos] == ']' {
				l.pos++
				return arr, nil
			}
			o, err := l.object()
			if err != nil {
				return nil, err
			}
			arr = append(arr, o)
		}
	case isDelim(c):
		return nil, fmt.Errorf("unexpected %q at %d", c, l.pos)
	}
	tok := l.regular()
	switch tok {
	case "true":
		return true, nil
	case "false":
		return false, nil
	case "null":
		return nil, nil
	}
	n, err := strconv.ParseInt(tok, 10, 64)
	if err != nil {
		if f, ferr := strconv.ParseFloat(tok, 64); ferr == nil {
			return f, nil
		}
		return pdfKw(tok), nil
	}
	// An integer may start a reference "num gen R".
	save := l.pos
	l.skipSpace()
	g, gerr := strconv.Atoi(l.regular())
	l.skipSpace()
	if gerr == nil && l.regular() == "R" {
		return pdfRef{int(n), g}, nil
	}
	l.pos = save
	return n, nil
}

func (l *pdfLexer) name() (pdfName, error) {
	raw := l.regular()
	var out []byte
	for i := 0; i < len(raw); i++ {
		if raw[i] == '#' && i+2 < len(raw) {
			v, err := strconv.ParseUint(raw[i+1:i+3], 16, 8)
			if err == nil {
				out = append(out, byte(v))
				i += 2
				continue
			}
		}
		out = append(out, raw[i])
	}
	return pdfName(out), nil
}

func (l *pdfLexer) dict() (pdfDict, error) {
	d := pdfDict{}
	for {
		l.skipSpace()
		if l.pos+1 < len(l.b) && l.b[l.pos] == '>' && l.b[l.pos+1] == '>' {
			l.pos += 2
			return d, nil
		}
		if l.pos >= len(l.b) || l.b[l.pos] != '/' {
			return nil, fmt.Errorf("dictionary key expected at %d", l.pos)
		}
		l.pos++
		k, err := l.name()
		if err != nil {
			return nil, err
		}
		v, err := l.object()
		if err != nil {
			return nil, err
		}
		d[k] = v
	}
}

func (l *pdfLexer) hex() ([]byte, error) {
	var digits []byte
	for l.pos < len(l.b) && l.b[l.pos] != '>' {
		if c := l.b[l.pos]; !isWhite(c) {
			digits = append(digits, c)
		}
		l.pos++
	}
	if l.pos >= len(l.b) {
		return nil, fmt.Errorf("unterminated hex string")
	}
	l.pos++
	if len(digits)%2 == 1 {
		digits = append(digits, '0')
	}
	out := make([]byte, len(digits)/2)
	for i := range out {
		v, err := strconv.ParseUint(string(digits[2*i:2*i+2]), 16, 8)
		if err != nil {
			return nil, fmt.Errorf("bad hex string: %w", err)
		}
		out[i] = byte(v)
	}
	return out, nil
}

func (l *pdfLexer) literal() ([]byte, error) {
	var out []byte
	depth := 1
	for l.pos < len(l.b) {
		c := l.b[l.pos]
		l.pos++
		switch c {
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return out, nil
			}
		case '\r':
			// An end of line inside a string reads as a line feed.
			if l.pos < len(l.b) && l.b[l.pos] == '\n' {
				l.pos++
			}
			c = '\n'
		case '\\':
			if l.pos >= len(l.b) {
				return nil, fmt.Errorf("unterminated string")
			}
			e := l.b[l.pos]
			l.pos++
			switch e {
			case 'n':
				c = '\n'
			case 'r':
				c = '\r'
			case 't':
				c = '\t'
			case 'b':
				c = '\b'
			case 'f':
				c = '\f'
			case '\r':
				if l.pos < len(l.b) && l.b[l.pos] == '\n' {
					l.pos++
				}
				continue
			case '\n':
				continue
			case '0', '1', '2', '3', '4', '5', '6', '7':
				v := int(e - '0')
				for i := 0; i < 2 && l.pos < len(l.b) && l.b[l.pos] >= '0' && l.b[l.pos] <= '7'; i++ {
					v = v*8 + int(l.b[l.pos]-'0')
					l.pos++
				}
				c = byte(v)
			default:
				c = e // \( \) \\ and unknown escapes stand for the character
			}
		}
		out = append(out, c)
	}
	return nil, fmt.Errorf("unterminated string")
}

// indirect reads "num gen obj" followed by an object at offset off of b. For
// a stream it also returns the offset of the first byte of stream data,
// otherwise -1.
func indirect(b []byte, off int) (num, gen int, obj any, dataStart int, err error) {
	l := &pdfLexer{b: b, pos: off}
	l.skipSpace()
	if num, err = strconv.Atoi(l.regular()); err != nil {
		return 0, 0, nil, -1, fmt.Errorf("offset %d: object number expected", off)
	}
	l.skipSpace()
	if gen, err = strconv.Atoi(l.regular()); err != nil {
		return 0, 0, nil, -1, fmt.Errorf("offset %d: generation expected", off)
	}
	l.skipSpace()
	if kw := l.regular(); kw != "obj" {
		return 0, 0, nil, -1, fmt.Errorf("offset %d: obj expected, got %q", off, kw)
	}
	if obj, err = l.object(); err != nil {
		return 0, 0, nil, -1, fmt.Errorf("object %d %d: %w", num, gen, err)
	}
	l.skipSpace()
	if bytes.HasPrefix(b[l.pos:], []byte("stream")) {
		p := l.pos + len("stream")
		if p < len(b) && b[p] == '\r' {
			p++
		}
		if p < len(b) && b[p] == '\n' {
			p++
		}
		return num, gen, obj, p, nil
	}
	return num, gen, obj, -1, nil
}

// parseQPDFObject reads the output of qpdf --show-object.
func parseQPDFObject(out []byte) (obj any, isStream bool, err error) {
	const streamPrefix = "Object is stream.  Dictionary:"
	if bytes.HasPrefix(out, []byte(streamPrefix)) {
		out = out[len(streamPrefix):]
		isStream = true
	}
	obj, err = (&pdfLexer{b: out}).object()
	return obj, isStream, err
}

func TestPDFLexer(t *testing.T) {
	src := "12 0 obj\r\n<</A (x\\(y\\)\\101\\\n\r\nz) /B#20C <41 4>/D [1 2 0 R 3.5 true null] /E<<>>>>\r\nstream\r\nDATA"
	num, gen, obj, start, err := indirect([]byte(src), 0)
	if err != nil {
		t.Fatal(err)
	}
	if num != 12 || gen != 0 || src[start:] != "DATA" {
		t.Fatalf("got %d %d, data %q", num, gen, src[start:])
	}
	d := obj.(pdfDict)
	if got := string(d["A"].([]byte)); got != "x(y)A\nz" {
		t.Errorf("literal = %q", got)
	}
	if got := string(d["B C"].([]byte)); got != "A@" {
		t.Errorf("hex = %q", got)
	}
	arr := d["D"].([]any)
	if len(arr) != 5 || arr[0] != int64(1) || arr[1] != (pdfRef{2, 0}) || arr[2] != 3.5 || arr[3] != true || arr[4] != nil {
		t.Errorf("array = %#v", arr)
	}
}
