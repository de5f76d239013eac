package pdf

import (
	"bytes"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
)

// decodeFilters applies the stream's /Filter chain to data. Only the
// filters that object and cross-reference streams use in practice are
// supported: FlateDecode (with PNG and TIFF predictors) and ASCIIHexDecode.
func decodeFilters(data []byte, d *Dict) ([]byte, error) {
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
	var parms []Object
	switch p := d.Get("DecodeParms").(type) {
	case *Dict:
		parms = []Object{p}
	case Array:
		parms = p
	}
	for i, f := range filters {
		var p *Dict
		if i < len(parms) {
			p, _ = parms[i].(*Dict)
		}
		var err error
		switch f {
		case Name("FlateDecode"), Name("Fl"):
			data, err = inflate(data)
			if err == nil {
				data, err = unpredict(data, p)
			}
		case Name("ASCIIHexDecode"), Name("AHx"):
			data, err = asciiHexDecode(data)
		case Name("Crypt"):
			// the identity crypt filter: data already decrypted (or not encrypted)
		default:
			return nil, fmt.Errorf("unsupported filter %v for an object or cross-reference stream", f)
		}
		if err != nil {
			return nil, err
		}
	}
	return data, nil
}

// inflate decompresses zlib data. Data that ends early or has a bad
// checksum is accepted when it inflated to something, as readers do.
func inflate(data []byte) ([]byte, error) {
	zr, err := zlib.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("FlateDecode: %w", err)
	}
	var out bytes.Buffer
	_, err = io.Copy(&out, io.LimitReader(zr, maxDecodedStream+1))
	if out.Len() > maxDecodedStream {
		return nil, errors.New("FlateDecode: decoded data too large")
	}
	if err != nil && out.Len() == 0 {
		return nil, fmt.Errorf("FlateDecode: %w", err)
	}
	return out.Bytes(), nil
}

func asciiHexDecode(data []byte) ([]byte, error) {
	var out []byte
	var hi byte
	half := false
	for _, c := range data {
		if c == '>' {
			break
		}
		if isWhite(c) {
			continue
		}
		v, ok := unhex(c)
		if !ok {
			return nil, errors.New("ASCIIHexDecode: bad character")
		}
		if half {
			out = append(out, hi<<4|v)
		} else {
			hi = v
		}
		half = !half
	}
	if half {
		out = append(out, hi<<4)
	}
	return out, nil
}

// unpredict undoes a PNG (10-15) or TIFF (2) predictor.
func unpredict(data []byte, p *Dict) ([]byte, error) {
	if p == nil {
		return data, nil
	}
	pred, _ := Int(p.Get("Predictor"))
	if pred <= 1 {
		return data, nil
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
	if colors > 64 || bpc > 16 || columns > 1<<20 {
		return nil, errors.New("predictor: parameters out of range")
	}
	bpp := int((colors*bpc + 7) / 8)
	rowLen := int((colors*bpc*columns + 7) / 8)
	if pred == 2 {
		if bpc != 8 {
			return nil, errors.New("TIFF predictor: only 8 bits per component are supported")
		}
		out := append([]byte(nil), data...)
		for r := 0; r+rowLen <= len(out); r += rowLen {
			for i := bpp; i < rowLen; i++ {
				out[r+i] += out[r+i-bpp]
			}
		}
		return out, nil
	}
	if pred < 10 {
		return nil, fmt.Errorf("unsupported predictor %d", pred)
	}
	out := make([]byte, 0, len(data)/(rowLen+1)*rowLen)
	prev := make([]byte, rowLen)
	for r := 0; r < len(data); r += rowLen + 1 {
		end := r + rowLen + 1
		if end > len(data) {
			break // a partial last row is dropped
		}
		typ := data[r]
		row := append([]byte(nil), data[r+1:end]...)
		for i := range row {
			var left, upLeft byte
			if i >= bpp {
				left, upLeft = row[i-bpp], prev[i-bpp]
			}
			up := prev[i]
			switch typ {
			case 0:
			case 1:
				row[i] += left
			case 2:
				row[i] += up
			case 3:
				row[i] += byte((int(left) + int(up)) / 2)
			case 4:
				row[i] += paeth(left, up, upLeft)
			default:
				return nil, fmt.Errorf("PNG predictor: bad row type %d", typ)
			}
		}
		out = append(out, row...)
		prev = row
	}
	return out, nil
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
