package pdf

import (
	"strconv"
)

// StringEncrypter encrypts the strings of an object written into an
// encrypted file. It is nil for unencrypted files.
type StringEncrypter func(plain []byte) ([]byte, error)

// AppendObject appends the PDF syntax of o to buf. Strings are passed through
// enc when it is not nil, and then written in hex.
func AppendObject(buf []byte, o Object, enc StringEncrypter) ([]byte, error) {
	switch v := o.(type) {
	case nil:
		return append(buf, "null"...), nil
	case Bool:
		if v {
			return append(buf, "true"...), nil
		}
		return append(buf, "false"...), nil
	case Integer:
		return strconv.AppendInt(buf, int64(v), 10), nil
	case Real:
		return append(buf, v...), nil
	case Name:
		return AppendName(buf, v), nil
	case String:
		if enc != nil {
			c, err := enc(v.Value)
			if err != nil {
				return nil, err
			}
			return AppendHexString(buf, c), nil
		}
		if v.Hex {
			return AppendHexString(buf, v.Value), nil
		}
		return AppendLiteralString(buf, v.Value), nil
	case Ref:
		buf = strconv.AppendInt(buf, int64(v.Num), 10)
		buf = append(buf, ' ')
		buf = strconv.AppendInt(buf, int64(v.Gen), 10)
		return append(buf, " R"...), nil
	case Array:
		buf = append(buf, '[')
		for i, e := range v {
			if i > 0 {
				buf = append(buf, ' ')
			}
			var err error
			if buf, err = AppendObject(buf, e, enc); err != nil {
				return nil, err
			}
		}
		return append(buf, ']'), nil
	case *Dict:
		buf = append(buf, "<<"...)
		for _, k := range v.keys {
			buf = AppendName(buf, k)
			buf = append(buf, ' ')
			var err error
			if buf, err = AppendObject(buf, v.vals[k], enc); err != nil {
				return nil, err
			}
		}
		return append(buf, ">>"...), nil
	}
	return append(buf, "null"...), nil
}

// AppendName appends /name, escaping the bytes that the name syntax does not
// allow as #xx.
func AppendName(buf []byte, n Name) []byte {
	buf = append(buf, '/')
	for i := 0; i < len(n); i++ {
		c := n[i]
		if c < '!' || c > '~' || c == '#' || isDelim(c) {
			buf = append(buf, '#', hexDigits[c>>4], hexDigits[c&15])
			continue
		}
		buf = append(buf, c)
	}
	return buf
}

const hexDigits = "0123456789ABCDEF"

// AppendHexString appends <hex>.
func AppendHexString(buf, b []byte) []byte {
	buf = append(buf, '<')
	for _, c := range b {
		buf = append(buf, hexDigits[c>>4], hexDigits[c&15])
	}
	return append(buf, '>')
}

// AppendLiteralString appends (text), escaping what must be escaped and
// writing bytes outside printable ASCII as octal escapes.
func AppendLiteralString(buf, b []byte) []byte {
	buf = append(buf, '(')
	for _, c := range b {
		switch {
		case c == '(' || c == ')' || c == '\\':
			buf = append(buf, '\\', c)
		case c == '\n':
			buf = append(buf, `\n`...)
		case c == '\r':
			buf = append(buf, `\r`...)
		case c < ' ' || c > '~':
			buf = append(buf, '\\', '0'+c>>6, '0'+(c>>3)&7, '0'+c&7)
		default:
			buf = append(buf, c)
		}
	}
	return append(buf, ')')
}

// TextString encodes s as a PDF text string: PDFDocEncoding (here: ASCII)
// when it can, UTF-16BE with a byte order mark otherwise.
func TextString(s string) String {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 || (s[i] < ' ' && s[i] != '\n' && s[i] != '\r' && s[i] != '\t') {
			ascii = false
			break
		}
	}
	if ascii {
		return String{Value: []byte(s)}
	}
	out := []byte{0xFE, 0xFF}
	for _, r := range s {
		if r > 0xFFFF {
			r -= 0x10000
			hi, lo := 0xD800+(r>>10), 0xDC00+(r&0x3FF)
			out = append(out, byte(hi>>8), byte(hi), byte(lo>>8), byte(lo))
			continue
		}
		out = append(out, byte(r>>8), byte(r))
	}
	return String{Value: out, Hex: true}
}

// DecodeTextString decodes a PDF text string (UTF-16BE with a byte order
// mark, UTF-8 with a BOM, or PDFDocEncoding treated as Latin-1).
func DecodeTextString(b []byte) string {
	if len(b) >= 2 && b[0] == 0xFE && b[1] == 0xFF {
		var rs []rune
		for i := 2; i+1 < len(b); i += 2 {
			u := rune(b[i])<<8 | rune(b[i+1])
			if u >= 0xD800 && u < 0xDC00 && i+3 < len(b) {
				l := rune(b[i+2])<<8 | rune(b[i+3])
				if l >= 0xDC00 && l < 0xE000 {
					rs = append(rs, 0x10000+(u-0xD800)<<10+(l-0xDC00))
					i += 2
					continue
				}
			}
			rs = append(rs, u)
		}
		return string(rs)
	}
	if len(b) >= 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF {
		return string(b[3:])
	}
	rs := make([]rune, len(b))
	for i, c := range b {
		rs[i] = rune(c)
	}
	return string(rs)
}
