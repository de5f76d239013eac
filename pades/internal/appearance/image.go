package appearance

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"

	"hashsign/pades/internal/pdf"
)

// Limits of the image decoder: the bytes of the file and the pixels of the
// image, checked from the header before any pixel is decoded.
const (
	MaxImageBytes  = 32 << 20
	MaxImagePixels = 1 << 24
)

// picture is an image ready to be written as an image XObject.
type picture struct {
	w, h   int
	space  pdf.Object // /ColorSpace
	filter pdf.Name
	decode pdf.Array // nil, or /Decode for an inverted CMYK JPEG
	data   []byte    // encoded with filter
	alpha  []byte    // Flate-encoded 8-bit soft mask, or nil when opaque
}

// CheckImage reports whether b is a PNG or JPEG image that Render can
// draw, and why not.
func CheckImage(b []byte) error {
	_, err := decodeImage(b)
	return err
}

// decodeImage reads a PNG or JPEG file. A PNG becomes 8-bit DeviceRGB or
// DeviceGray samples (16-bit samples are reduced, palettes expanded) with
// its transparency as a soft mask; a JPEG is passed through as DCTDecode in
// its own colour space.
func decodeImage(b []byte) (*picture, error) {
	if len(b) > MaxImageBytes {
		return nil, fmt.Errorf("image of %d bytes is larger than the limit of %d", len(b), MaxImageBytes)
	}
	switch {
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")):
		return decodePNG(b)
	case bytes.HasPrefix(b, []byte{0xFF, 0xD8}):
		return decodeJPEG(b)
	}
	return nil, errors.New("the image is neither PNG nor JPEG")
}

// header reads the image header of b with decodeConfig (what names the
// format) and checks its size against MaxImagePixels.
func header(b []byte, what string, decodeConfig func(io.Reader) (image.Config, error)) (image.Config, error) {
	cfg, err := decodeConfig(bytes.NewReader(b))
	if err != nil {
		return cfg, fmt.Errorf("reading %s image: %w", what, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return cfg, fmt.Errorf("%s image of %dx%d pixels is empty", what, cfg.Width, cfg.Height)
	}
	if int64(cfg.Width)*int64(cfg.Height) > MaxImagePixels {
		return cfg, fmt.Errorf("%s image of %dx%d pixels is larger than the limit of %d pixels", what, cfg.Width, cfg.Height, MaxImagePixels)
	}
	return cfg, nil
}

func decodePNG(b []byte) (*picture, error) {
	if _, err := header(b, "PNG", png.DecodeConfig); err != nil {
		return nil, err
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("reading PNG image: %w", err)
	}
	r := img.Bounds()
	w, h := r.Dx(), r.Dy()
	p := &picture{w: w, h: h, filter: "FlateDecode"}
	switch g := img.(type) {
	case *image.Gray:
		pix := make([]byte, 0, w*h)
		for y := range h {
			pix = append(pix, g.Pix[y*g.Stride:y*g.Stride+w]...)
		}
		p.space, p.data = pdf.Name("DeviceGray"), deflate(pix)
		return p, nil
	case *image.Gray16:
		pix := make([]byte, 0, w*h)
		for y := range h {
			row := g.Pix[y*g.Stride:]
			for x := range w {
				pix = append(pix, row[2*x]) // the high byte
			}
		}
		p.space, p.data = pdf.Name("DeviceGray"), deflate(pix)
		return p, nil
	}
	pix := make([]byte, 0, 3*w*h)
	alpha := make([]byte, 0, w*h)
	opaque := true
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			c := color.NRGBA64Model.Convert(img.At(x, y)).(color.NRGBA64)
			pix = append(pix, byte(c.R>>8), byte(c.G>>8), byte(c.B>>8))
			alpha = append(alpha, byte(c.A>>8))
			if c.A>>8 != 0xFF {
				opaque = false
			}
		}
	}
	p.space, p.data = pdf.Name("DeviceRGB"), deflate(pix)
	if !opaque {
		p.alpha = deflate(alpha)
	}
	return p, nil
}

func decodeJPEG(b []byte) (*picture, error) {
	cfg, err := header(b, "JPEG", jpeg.DecodeConfig)
	if err != nil {
		return nil, err
	}
	// Decode it once, so that a damaged file is refused here rather than
	// drawn wrong by a viewer.
	if _, err := jpeg.Decode(bytes.NewReader(b)); err != nil {
		return nil, fmt.Errorf("reading JPEG image: %w", err)
	}
	p := &picture{w: cfg.Width, h: cfg.Height, filter: "DCTDecode", data: b}
	switch cfg.ColorModel {
	case color.GrayModel:
		p.space = pdf.Name("DeviceGray")
	case color.YCbCrModel:
		p.space = pdf.Name("DeviceRGB")
	case color.CMYKModel:
		p.space = pdf.Name("DeviceCMYK")
		if adobeMarker(b) {
			// Adobe applications store CMYK JPEGs inverted.
			p.decode = pdf.Array{}
			for range 4 {
				p.decode = append(p.decode, pdf.Integer(1), pdf.Integer(0))
			}
		}
	default:
		return nil, fmt.Errorf("JPEG image with an unsupported colour model %T", cfg.ColorModel)
	}
	return p, nil
}

// adobeMarker reports whether the JPEG b has an Adobe APP14 segment before
// its first scan.
func adobeMarker(b []byte) bool {
	at := 2
	for at+4 <= len(b) {
		if b[at] != 0xFF {
			return false
		}
		m := b[at+1]
		if m == 0xFF { // fill byte
			at++
			continue
		}
		if m == 0xDA || m == 0xD9 {
			return false
		}
		n := u16(b, at+2)
		if m == 0xEE && n >= 7 && at+9 <= len(b) && string(b[at+4:at+9]) == "Adobe" {
			return true
		}
		at += 2 + n
	}
	return false
}

// write writes the image (and its soft mask) and returns its object number.
func (p *picture) write(w Writer) (int, error) {
	num := w.Alloc()
	d := imageDict(p.w, p.h, p.space, p.filter)
	if p.decode != nil {
		d.Set("Decode", p.decode)
	}
	if p.alpha != nil {
		mask := w.Alloc()
		if err := w.WriteStream(mask, imageDict(p.w, p.h, pdf.Name("DeviceGray"), "FlateDecode"), p.alpha); err != nil {
			return 0, err
		}
		d.Set("SMask", pdf.Ref{Num: mask})
	}
	if err := w.WriteStream(num, d, p.data); err != nil {
		return 0, err
	}
	return num, nil
}

// imageDict returns the dictionary of an image XObject of 8-bit samples.
func imageDict(w, h int, space pdf.Object, filter pdf.Name) *pdf.Dict {
	d := pdf.NewDict()
	d.Set("Type", pdf.Name("XObject"))
	d.Set("Subtype", pdf.Name("Image"))
	d.Set("Width", pdf.Integer(w))
	d.Set("Height", pdf.Integer(h))
	d.Set("ColorSpace", space)
	d.Set("BitsPerComponent", pdf.Integer(8))
	d.Set("Filter", filter)
	return d
}
