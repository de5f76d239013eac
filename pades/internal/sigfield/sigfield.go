// Package sigfield reads the signatures of a PDF file: it opens the file
// (decrypting it with a password), finds its signature fields, reads each
// signature dictionary and checks the integrity of its value: that the
// /ByteRange brackets exactly the /Contents string, that the digest over
// the byte range matches and that the CMS signature or the time-stamp token
// verifies. It judges no trust (certificate paths, revocation, time): that
// is the validator's job, and the inspector does without.
package sigfield

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"slices"

	"hashsign/pades/internal/crypt"
	"hashsign/pades/internal/mdp"
	"hashsign/pades/internal/pdf"
)

// Errors of Open that callers tell apart.
var (
	// ErrPasswordNeeded reports an encrypted PDF whose user password is not
	// empty, opened without a password.
	ErrPasswordNeeded = errors.New("encrypted PDF: a password is needed")
	// ErrWrongPassword reports an encrypted PDF opened with a wrong
	// password.
	ErrWrongPassword = errors.New("encrypted PDF: wrong password")
)

// Doc is a PDF file opened for reading its signatures.
type Doc struct {
	Reader   *pdf.Reader
	Security *crypt.Handler // nil when the file is not encrypted
	Root     pdf.Ref
	Catalog  *pdf.Dict
}

// Open opens the PDF file r of the given size. password is used when the
// file is encrypted; it may be nil for files without a user password.
// memoryBudget bounds the PDF reader (0: pdf.DefaultMemory).
func Open(r io.ReaderAt, size int64, password []byte, memoryBudget int64) (*Doc, error) {
	rd, err := pdf.OpenBudget(r, size, pdf.Budget{Memory: memoryBudget})
	if err == nil {
		err = pdf.CheckEnd(r, size)
	}
	if err != nil {
		if errors.Is(err, pdf.ErrNotPDF) || errors.Is(err, pdf.ErrTruncated) {
			return nil, err
		}
		return nil, fmt.Errorf("reading PDF structure: %w", err)
	}
	d := &Doc{Reader: rd}
	switch h, err := crypt.OpenDocument(rd, password); {
	case err == nil:
		d.Security = h
	case errors.Is(err, crypt.ErrNotEncrypted):
	case errors.Is(err, crypt.ErrWrongPassword) && len(password) == 0:
		return nil, ErrPasswordNeeded
	case errors.Is(err, crypt.ErrWrongPassword):
		return nil, ErrWrongPassword
	default:
		return nil, fmt.Errorf("encrypted PDF: %w", err)
	}
	root, ok := rd.Trailer.Get("Root").(pdf.Ref)
	if !ok {
		return nil, errors.New("the trailer has no /Root reference")
	}
	d.Root = root
	cat, err := rd.ResolveDict(root)
	if err != nil {
		return nil, fmt.Errorf("reading the document catalog (object %d): %w", root.Num, err)
	}
	if cat == nil {
		return nil, fmt.Errorf("the document catalog (object %d) is not a dictionary", root.Num)
	}
	d.Catalog = cat
	return d, nil
}

// AcroForm returns the document's AcroForm dictionary and its reference
// when it is an indirect object. A document without one gets a new empty
// dictionary (ref nil).
func (d *Doc) AcroForm() (*pdf.Dict, *pdf.Ref, error) {
	obj := d.Catalog.Get("AcroForm")
	dict, err := d.Reader.ResolveDict(obj)
	if err != nil {
		return nil, nil, fmt.Errorf("reading the AcroForm: %w", err)
	}
	if dict == nil {
		return pdf.NewDict(), nil, nil
	}
	if r, ok := obj.(pdf.Ref); ok {
		return dict, &r, nil
	}
	return dict, nil, nil
}

// DocMDP returns the /P value of the document's certification signature
// (the catalog's /Perms /DocMDP), or 0 when the document is not certified.
func (d *Doc) DocMDP() (int, error) {
	p, _, err := mdp.DocMDP(d.Reader, d.Catalog)
	return int(p), err
}

// Field is a terminal field of the AcroForm: one with no fields below it,
// only widget annotations, or merged with its single widget.
type Field struct {
	Name string    // the fully qualified field name: the partial names joined with '.'
	Ref  pdf.Ref   // the field's object; zero when it is a direct object
	Dict *pdf.Dict // the field dictionary
	Type pdf.Name  // /FT, inherited: Sig for signature fields
	// Value is the /V (inherited) of a signature field: its signature
	// dictionary, nil when it is empty. It is nil for other fields.
	Value   *pdf.Dict
	Widgets []Widget
}

// Widget is a widget annotation of a field. When the field and its widget
// are merged, Ref and Dict are the field's.
type Widget struct {
	Ref  pdf.Ref
	Dict *pdf.Dict
}

// maxFieldDepth bounds the nesting of the field tree.
const maxFieldDepth = 32

// Fields returns the terminal signature fields (/FT /Sig) of the AcroForm,
// in the order of the tree.
func (d *Doc) Fields() ([]Field, error) {
	fields, err := d.FormFields()
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(fields, func(f Field) bool { return f.Type != "Sig" }), nil
}

// FormFields walks the AcroForm field tree and returns its terminal fields
// of every type, in the order of the tree. Kids with a /T are fields; kids
// without one are the widgets of their parent (ISO 32000-2 §12.7.4). Parts
// of the tree that cannot be read are left out, unless reading them went
// over the reader's budget.
func (d *Doc) FormFields() ([]Field, error) {
	acro, _, err := d.AcroForm()
	if err != nil {
		return nil, err
	}
	var out []Field
	seen := map[int]bool{}
	// resolve reads o as a dictionary; only a budget error stops the walk
	resolve := func(o pdf.Object) (*pdf.Dict, error) {
		dict, err := d.Reader.ResolveDict(o)
		if errors.Is(err, pdf.ErrLimit) {
			return nil, err
		}
		return dict, nil
	}
	var walk func(o pdf.Object, prefix string, ft pdf.Name, v pdf.Object, depth int) error
	walk = func(o pdf.Object, prefix string, ft pdf.Name, v pdf.Object, depth int) error {
		if depth > maxFieldDepth {
			return errors.New("the form field tree is nested too deeply")
		}
		ref, _ := o.(pdf.Ref)
		if ref.Num != 0 {
			if seen[ref.Num] {
				return nil
			}
			seen[ref.Num] = true
		}
		f, err := resolve(o)
		if err != nil || f == nil {
			return err
		}
		name := prefix
		if t, ok := f.Get("T").(pdf.String); ok {
			if name != "" {
				name += "."
			}
			name += pdf.DecodeTextString(t.Value)
		}
		if t, ok := f.Get("FT").(pdf.Name); ok {
			ft = t
		}
		if f.Has("V") {
			v = f.Get("V")
		}
		kidsObj, err := d.Reader.Resolve(f.Get("Kids"))
		if errors.Is(err, pdf.ErrLimit) {
			return err
		}
		kids, _ := kidsObj.(pdf.Array)
		field := Field{Name: name, Ref: ref, Dict: f, Type: ft}
		hasFieldKids := false
		for _, k := range kids {
			kd, err := resolve(k)
			if err != nil {
				return err
			}
			if kd == nil {
				continue
			}
			if kd.Has("T") {
				hasFieldKids = true
				if err := walk(k, name, ft, v, depth+1); err != nil {
					return err
				}
				continue
			}
			if kref, _ := k.(pdf.Ref); kref.Num != 0 && !seen[kref.Num] {
				seen[kref.Num] = true
				field.Widgets = append(field.Widgets, Widget{Ref: kref, Dict: kd})
			}
		}
		if hasFieldKids {
			return nil
		}
		if len(field.Widgets) == 0 && (f.Get("Subtype") == pdf.Name("Widget") || f.Has("Rect")) {
			field.Widgets = []Widget{{Ref: ref, Dict: f}}
		}
		if ft == "Sig" {
			if field.Value, err = resolve(v); err != nil {
				return err
			}
		}
		out = append(out, field)
		return nil
	}
	fieldsObj, err := d.Reader.Resolve(acro.Get("Fields"))
	if err != nil {
		return nil, fmt.Errorf("reading the AcroForm /Fields: %w", err)
	}
	fields, _ := fieldsObj.(pdf.Array)
	for _, f := range fields {
		if err := walk(f, "", "", nil, 0); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// DSS is the content of the document security store (/DSS) as found:
// entries that do not parse are left out.
type DSS struct {
	Certs []*x509.Certificate
	OCSPs [][]byte // DER OCSPResponse
	CRLs  [][]byte // DER CertificateList
}

// DSS reads the catalog's /DSS; a document without one gives an empty DSS.
func (d *Doc) DSS() *DSS {
	out := new(DSS)
	dss, _ := d.Reader.ResolveDict(d.Catalog.Get("DSS"))
	if dss == nil {
		return out
	}
	for _, der := range d.streams(dss.Get("Certs")) {
		if c, err := x509.ParseCertificate(der); err == nil {
			out.Certs = append(out.Certs, c)
		}
	}
	out.OCSPs = d.streams(dss.Get("OCSPs"))
	out.CRLs = d.streams(dss.Get("CRLs"))
	return out
}

// streams returns the decoded data of the streams that the array o lists.
func (d *Doc) streams(o pdf.Object) [][]byte {
	arrObj, _ := d.Reader.Resolve(o)
	arr, _ := arrObj.(pdf.Array)
	var out [][]byte
	for _, e := range arr {
		r, ok := e.(pdf.Ref)
		if !ok {
			continue
		}
		obj, err := d.Reader.Object(r.Num)
		st, ok := obj.(*pdf.Stream)
		if err != nil || !ok {
			continue
		}
		if data, err := d.Reader.StreamData(st, r.Num, r.Gen); err == nil {
			out = append(out, data)
		}
	}
	return out
}
