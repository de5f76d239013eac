package pades

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"

	"hashsign/pades/internal/appearance"
	"hashsign/pades/internal/pdf"
	"hashsign/pades/internal/textpos"
)

// Appearance says what a visible signature field shows: the signer's name,
// the date and time of signing, the reason and location of the signature
// (SignatureInfo), and an optional image. It is drawn into each visible
// widget of the field; invisible fields (no area, or hidden) show nothing.
type Appearance struct {
	// Name is the signer's name as shown (default: SignatureInfo.Name,
	// else the common name of the signer's certificate when Sign knows
	// it).
	Name string
	// Template is the layout: which lines in which order, and where the
	// image goes (default: the built-in layout). See ParseTemplate in
	// pades/internal/appearance for its syntax.
	Template string
	// Image is a PNG or JPEG image, shown with the text (PNG transparency
	// is kept).
	Image []byte
	// Font is a TrueType or OpenType font for the text (default: a
	// standard font for Latin text, and an embedded font for other
	// scripts). A subset of it is embedded.
	Font []byte
}

// Check parses the template, the font and the image, so that a mistake in
// them is found before any document is signed.
func (a *Appearance) Check() error {
	if _, _, err := a.parse(); err != nil {
		return err
	}
	if a != nil && len(a.Image) > 0 {
		if err := appearance.CheckImage(a.Image); err != nil {
			return fmt.Errorf("the appearance image: %w", err)
		}
	}
	return nil
}

func (a *Appearance) parse() (*appearance.Template, *appearance.Font, error) {
	if a == nil {
		return nil, nil, nil
	}
	var t *appearance.Template
	var f *appearance.Font
	var err error
	if a.Template != "" {
		if t, err = appearance.ParseTemplate(a.Template); err != nil {
			return nil, nil, fmt.Errorf("the appearance template: %w", err)
		}
	}
	if len(a.Font) > 0 {
		if f, err = appearance.LoadFont(a.Font); err != nil {
			return nil, nil, fmt.Errorf("the appearance font: %w", err)
		}
	}
	return t, f, nil
}

// withName returns a copy of a whose name defaults to the common name of
// the signer's certificate.
func (a *Appearance) withName(info SignatureInfo, cert *x509.Certificate) *Appearance {
	var c Appearance
	if a != nil {
		c = *a
	}
	if c.Name == "" {
		c.Name = info.Name
	}
	if c.Name == "" && cert != nil {
		c.Name = cert.Subject.CommonName
		if c.Name == "" {
			c.Name = cert.Subject.String()
		}
	}
	return &c
}

// renderAppearance draws the appearance of a visible widget whose
// rectangle in user space is rect, turned by turn degrees (counter-
// clockwise, as /MK /R) so that it reads upright, and returns the /AP
// dictionary that names it.
func (u *update) renderAppearance(rect [4]float64, turn int, o *PrepareOptions) (*pdf.Dict, error) {
	a := o.Appearance
	if a == nil {
		a = &Appearance{}
	}
	tmpl, font, err := a.parse()
	if err != nil {
		return nil, err
	}
	name := a.Name
	if name == "" {
		name = o.Info.Name
	}
	w, h := rect[2]-rect[0], rect[3]-rect[1]
	if turn == 90 || turn == 270 {
		w, h = h, w
	}
	if u.pdfA == nil {
		pdfA := u.doc.isPDFA()
		u.pdfA = &pdfA
	}
	spec := &appearance.Spec{
		Width: w, Height: h, Rotate: turn, Template: tmpl,
		Name: name, Reason: o.Info.Reason, Location: o.Info.Location, Contact: o.Info.ContactInfo,
		Date: o.Time, Image: a.Image, Font: font, Embed: *u.pdfA,
	}
	num, err := appearance.Render(u, spec)
	if errors.Is(err, appearance.ErrNoFit) && tmpl == nil {
		// a field that the document made too small for the default
		// lines shows the first ones that fit, the name at least
		t := appearance.DefaultTemplate()
		for len(t.Lines) > 1 && errors.Is(err, appearance.ErrNoFit) {
			t.Lines = t.Lines[:len(t.Lines)-1]
			spec.Template = t
			num, err = appearance.Render(u, spec)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("drawing the signature's appearance: %w", err)
	}
	return apDict(num), nil
}

// findText returns where text is drawn, and the pages by number.
func (d *document) findText(ctx context.Context, text string) ([]textpos.Place, map[int]*pageInfo, error) {
	pages := map[int]*pageInfo{}
	if err := d.walkPages(func(p *pageInfo) bool { pages[p.number] = p; return true }); err != nil {
		return nil, nil, err
	}
	places, err := textpos.Find(ctx, d.rd, d.rd.Pages(d.catalog), text, textpos.Limits{})
	if err != nil {
		return nil, nil, fmt.Errorf("finding text tag %q: %w", text, err)
	}
	return places, pages, nil
}

// maxMetadata bounds the XMP metadata read to tell a PDF/A file.
const maxMetadata = 1 << 20

// isPDFA reports whether the catalog's XMP metadata declares PDF/A
// conformance (pdfaid:part), which asks every font to be embedded, those
// of appearances included. Metadata that cannot be read declares nothing.
func (d *document) isPDFA() bool {
	ref, ok := d.catalog.Get("Metadata").(pdf.Ref)
	if !ok {
		return false
	}
	o, err := d.rd.Object(ref.Num)
	st, isStream := o.(*pdf.Stream)
	if err != nil || !isStream || st.Length > maxMetadata {
		return false
	}
	xmp, err := d.rd.StreamData(st, ref.Num, ref.Gen)
	return err == nil && bytes.Contains(xmp, []byte("pdfaid:part"))
}
