package pdf

import (
	"compress/zlib"
	"errors"
	"fmt"
	"io"
)

// maxPredictorRow bounds a predictor's row, which is held twice while
// decoding (object and cross-reference streams have rows of a few bytes).
const maxPredictorRow = 1 << 20

// decodeChain returns a reader of data decoded through the stream
// dictionary d's /Filter chain. Only the filters that object and
// cross-reference streams use in practice are supported: FlateDecode (with
// PNG and TIFF predictors) and ASCIIHexDecode. Every stage's output is
// counted by count, which fails the read when the decode budget is spent.
func decodeChain(data io.Reader, d *Dict, count func(n int) error) (io.Reader, error) {
	var filters []Object
	switch f := d.Get("Filter").(type) {
	case nil:
		return data, nil
	case Name:
		filters = []Object{f}
	case Array:
		filters = f
	default:
		return nil, errors.New("bad /Filter")
	}
	if len(filters) > 8 {
		return nil, fmt.Errorf("a chain of %d filters", len(filters))
	}
	var parms []Object
	switch p := d.Get("DecodeParms").(type) {
	case *Dict:
		parms = []Object{p}
	case Array:
		parms = p
	}
	r := data
	for i, f := range filters {
		var p *Dict
		if i < len(parms) {
			p, _ = parms[i].(*Dict)
		}
		switch f {
		case Name("FlateDecode"), Name("Fl"):
			zr, err := zlib.NewReader(r)
			if err != nil {
				return nil, fmt.Errorf("FlateDecode: %w", err)
			}
			r = &counter{r: &lenient{r: zr}, count: count}
			if r, err = predictor(r, p); err != nil {
				return nil, err
			}
			if _, ok := r.(*counter); !ok {
				r = &counter{r: r, count: count}
			}
		case Name("ASCIIHexDecode"), Name("AHx"):
			r = &counter{r: &asciiHex{r: r}, count: count}
		case Name("Crypt"):
			// the identity crypt filter: data already decrypted (or not encrypted)
		default:
			return nil, fmt.Errorf("unsupported filter %v for an object or cross-reference stream", f)
		}
	}
	return r, nil
}

// counter passes reads through and reports the bytes read to count.
type counter struct {
	r     io.Reader
	count func(n int) error
}

func (c *counter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 {
		if cerr := c.count(n); cerr != nil {
			return 0, cerr
		}
	}
	return n, err
}

// lenient reads inflated data. Data that ends early or has a bad checksum
// is accepted when it inflated to something, as readers do.
type lenient struct {
	r io.Reader
	n int64
}

func (l *lenient) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	l.n += int64(n)
	if err != nil && err != io.EOF {
		if l.n > 0 {
			return n, io.EOF
		}
		return n, fmt.Errorf("FlateDecode: %w", err)
	}
	return n, err
}

// asciiHex decodes ASCIIHexDecode data.
type asciiHex struct {
	r    io.Reader
	in   [4096]byte
	hi   byte
	half bool
	done bool
}

func (a *asciiHex) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if a.done {
		return 0, io.EOF
	}
	n := 0
	for n == 0 && !a.done {
		// each input byte gives at most half a byte of output
		m, err := a.r.Read(a.in[:min(len(a.in), 2*len(p))])
		for _, c := range a.in[:m] {
			if c == '>' {
				a.done = true
				break
			}
			if isWhite(c) {
				continue
			}
			v, ok := unhex(c)
			if !ok {
				return n, errors.New("ASCIIHexDecode: bad character")
			}
			if a.half {
				p[n] = a.hi<<4 | v
				n++
			} else {
				a.hi = v
			}
			a.half = !a.half
		}
		if err == io.EOF {
			a.done = true
		} else if err != nil {
			return n, err
		}
		if a.done && a.half {
			p[n] = a.hi << 4
			n++
			a.half = false
		}
	}
	return n, nil
}

// predictor wraps r, the output of FlateDecode, to undo the PNG (10-15) or
// TIFF (2) predictor that the decode parameters p name.
func predictor(r io.Reader, p *Dict) (io.Reader, error) {
	if p == nil {
		return r, nil
	}
	pred, _ := Int(p.Get("Predictor"))
	if pred <= 1 {
		return r, nil
	}
	colors, bpc, columns := int64(1), int64(8), int64(1)
	if v, ok := Int(p.Get("Colors")); ok && v > 0 {
		colors = v
	}
	if v, ok := Int(p.Get("BitsPerComponent")); ok && v > 0 {
		bpc = v
	}
	if v, ok := Int(p.Get("Columns")); ok && v > 0 {
		columns = v
	}
	if colors > 64 || bpc > 16 || columns > 1<<24 || (colors*bpc*columns+7)/8 > maxPredictorRow {
		return nil, errors.New("predictor: parameters out of range")
	}
	bpp := int((colors*bpc + 7) / 8)
	rowLen := int((colors*bpc*columns + 7) / 8)
	if pred == 2 {
		if bpc != 8 {
			return nil, errors.New("TIFF predictor: only 8 bits per component are supported")
		}
		return &unpredictor{r: r, bpp: bpp, row: make([]byte, rowLen), prev: make([]byte, rowLen), tiff: true}, nil
	}
	if pred < 10 {
		return nil, fmt.Errorf("unsupported predictor %d", pred)
	}
	return &unpredictor{r: r, bpp: bpp, row: make([]byte, rowLen+1), prev: make([]byte, rowLen+1)}, nil
}

// unpredictor undoes a predictor one row at a time. A partial last row is
// dropped (PNG) or passed as it is (TIFF).
type unpredictor struct {
	r         io.Reader
	bpp       int
	tiff      bool
	row, prev []byte // PNG rows keep their type byte first
	out       []byte // the undelivered part of prev
	err       error
}

func (u *unpredictor) Read(p []byte) (int, error) {
	for len(u.out) == 0 {
		if u.err != nil {
			return 0, u.err
		}
		if n, err := io.ReadFull(u.r, u.row); err != nil {
			if err == io.ErrUnexpectedEOF {
				err = io.EOF
				if u.tiff {
					u.out = u.row[:n] // a partial last row is kept as it is
				}
			}
			u.err = err
			continue
		}
		if err := u.undo(); err != nil {
			u.err = err
			continue
		}
		u.row, u.prev = u.prev, u.row
		if u.tiff {
			u.out = u.prev
		} else {
			u.out = u.prev[1:]
		}
	}
	n := copy(p, u.out)
	u.out = u.out[n:]
	return n, nil
}

// undo decodes u.row in place from u.prev, the previous decoded row.
func (u *unpredictor) undo() error {
	row, prev, bpp := u.row, u.prev, u.bpp
	if u.tiff {
		for i := bpp; i < len(row); i++ {
			row[i] += row[i-bpp]
		}
		return nil
	}
	typ := row[0]
	row, prev = row[1:], prev[1:]
	switch typ {
	case 0:
	case 1:
		for i := bpp; i < len(row); i++ {
			row[i] += row[i-bpp]
		}
	case 2:
		for i := range row {
			row[i] += prev[i]
		}
	case 3:
		for i := range row {
			var left byte
			if i >= bpp {
				left = row[i-bpp]
			}
			row[i] += byte((int(left) + int(prev[i])) / 2)
		}
	case 4:
		for i := range row {
			var left, upLeft byte
			if i >= bpp {
				left, upLeft = row[i-bpp], prev[i-bpp]
			}
			row[i] += paeth(left, prev[i], upLeft)
		}
	default:
		return fmt.Errorf("PNG predictor: bad row type %d", typ)
	}
	return nil
}

func paeth(a, b, c byte) byte {
	p := int(a) + int(b) - int(c)
	pa, pb, pc := abs(p-int(a)), abs(p-int(b)), abs(p-int(c))
	if pa <= pb && pa <= pc {
		return a
	}
	if pb <= pc {
		return b
	}
	return c
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
