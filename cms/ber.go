package cms

import (
	"errors"
	"fmt"
)

// maxBERDepth bounds the nesting that ToDER follows.
const maxBERDepth = 64

// ToDER re-encodes BER (as NSS and some other signers write CMS: indefinite
// lengths, constructed strings) with definite lengths and primitive OCTET
// STRINGs, so that a DER parser can read it. Bytes after the first
// element (such as placeholder padding) are dropped. Encodings that are
// already DER come back unchanged.
func ToDER(ber []byte) ([]byte, error) {
	out, _, err := berElement(ber, 0)
	return out, err
}

// berElement converts the element at the start of b and returns it and the
// number of input bytes it took.
func berElement(b []byte, depth int) ([]byte, int, error) {
	if depth > maxBERDepth {
		return nil, 0, errors.New("cms: BER nested too deeply")
	}
	if len(b) < 2 {
		return nil, 0, errors.New("cms: truncated BER element")
	}
	// identifier octets
	i := 1
	if b[0]&0x1f == 0x1f {
		for {
			if i >= len(b) || i > 5 {
				return nil, 0, errors.New("cms: bad BER tag")
			}
			i++
			if b[i-1]&0x80 == 0 {
				break
			}
		}
	}
	tag := b[:i]
	constructed := b[0]&0x20 != 0
	if i >= len(b) {
		return nil, 0, errors.New("cms: truncated BER length")
	}
	l := int(b[i])
	i++
	var content []byte
	var used int
	switch {
	case l == 0x80: // indefinite: children up to an end-of-contents marker
		if !constructed {
			return nil, 0, errors.New("cms: indefinite length on a primitive BER element")
		}
		var children []byte
		for {
			if i+1 < len(b) && b[i] == 0 && b[i+1] == 0 {
				i += 2
				break
			}
			if i >= len(b) {
				return nil, 0, errors.New("cms: BER element without end-of-contents")
			}
			c, n, err := berElement(b[i:], depth+1)
			if err != nil {
				return nil, 0, err
			}
			children = append(children, c...)
			i += n
		}
		content, used = children, i
	case l&0x80 != 0:
		n := l & 0x7f
		if n > 4 || i+n > len(b) {
			return nil, 0, errors.New("cms: bad BER length")
		}
		l = 0
		for _, c := range b[i : i+n] {
			l = l<<8 | int(c)
		}
		i += n
		fallthrough
	default:
		if l < 0 || i+l > len(b) {
			return nil, 0, fmt.Errorf("cms: BER length %d runs past the data", l)
		}
		content, used = b[i:i+l], i+l
		if constructed {
			var children []byte
			for j := 0; j < len(content); {
				c, n, err := berElement(content[j:], depth+1)
				if err != nil {
					return nil, 0, err
				}
				children = append(children, c...)
				j += n
			}
			content = children
		}
	}
	if tag[0] == 0x24 { // constructed OCTET STRING: join its segments
		joined, err := joinOctets(content)
		if err != nil {
			return nil, 0, err
		}
		return appendTLV(nil, []byte{0x04}, joined), used, nil
	}
	return appendTLV(nil, tag, content), used, nil
}

// joinOctets concatenates the contents of the (DER) OCTET STRINGs in b.
func joinOctets(b []byte) ([]byte, error) {
	var out []byte
	for len(b) > 0 {
		if b[0] != 0x04 {
			return nil, errors.New("cms: constructed OCTET STRING holds something else")
		}
		_, hdr, l, err := derHeader(b)
		if err != nil {
			return nil, err
		}
		out = append(out, b[hdr:hdr+l]...)
		b = b[hdr+l:]
	}
	return out, nil
}

func derHeader(b []byte) (tag byte, hdr, l int, err error) {
	if len(b) < 2 {
		return 0, 0, 0, errors.New("cms: truncated element")
	}
	l = int(b[1])
	hdr = 2
	if l&0x80 != 0 {
		n := l & 0x7f
		if n == 0 || n > 4 || len(b) < 2+n {
			return 0, 0, 0, errors.New("cms: bad length")
		}
		l = 0
		for _, c := range b[2 : 2+n] {
			l = l<<8 | int(c)
		}
		hdr += n
	}
	if hdr+l > len(b) {
		return 0, 0, 0, errors.New("cms: length runs past the data")
	}
	return b[0], hdr, l, nil
}

func appendTLV(out, tag, content []byte) []byte {
	out = append(out, tag...)
	n := len(content)
	switch {
	case n < 0x80:
		out = append(out, byte(n))
	case n < 0x100:
		out = append(out, 0x81, byte(n))
	case n < 0x10000:
		out = append(out, 0x82, byte(n>>8), byte(n))
	case n < 0x1000000:
		out = append(out, 0x83, byte(n>>16), byte(n>>8), byte(n))
	default:
		out = append(out, 0x84, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return append(out, content...)
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
