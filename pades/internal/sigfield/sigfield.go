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

	"hashsign/pades/internal/crypt"
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
	perms, err := d.Reader.ResolveDict(d.Catalog.Get("Perms"))
	if err != nil || perms == nil {
		return 0, err
	}
	sig, err := d.Reader.ResolveDict(perms.Get("DocMDP"))
	if err != nil || sig == nil {
		return 0, err
	}
	p, _ := d.transformP(sig, "DocMDP")
	if p == 0 {
		p = 2
	}
	return p, nil
}

// transformP returns the /P of the /Reference entry of signature
// dictionary sig whose /TransformMethod is method, and that entry's
// /TransformParams (nil when there is none).
func (d *Doc) transformP(sig *pdf.Dict, method pdf.Name) (int, *pdf.Dict) {
	refs, _ := d.Reader.Resolve(sig.Get("Reference"))
	arr, _ := refs.(pdf.Array)
	for _, r := range arr {
		ref, err := d.Reader.ResolveDict(r)
		if err != nil || ref == nil || ref.Get("TransformMethod") != method {
			continue
		}
		tp, _ := d.Reader.ResolveDict(ref.Get("TransformParams"))
		if tp == nil {
			return 0, pdf.NewDict()
		}
		p, _ := pdf.Int(tp.Get("P"))
		return int(p), tp
	}
	return 0, nil
}

// Field is a terminal signature field (/FT /Sig) of the AcroForm.
type Field struct {
	Name  string    // the fully qualified field name
	Ref   pdf.Ref   // the field's object; zero when it is a direct object
	Dict  *pdf.Dict // the field dictionary
	Value *pdf.Dict // its /V, the signature dictionary; nil when empty
}

// Fields walks the AcroForm field tree for signature fields, in the order
// of the tree.
func (d *Doc) Fields() ([]Field, error) {
	acro, _, err := d.AcroForm()
	if err != nil {
		return nil, err
	}
	var out []Field
	seen := map[int]bool{}
	var walk func(o pdf.Object, prefix string, ft pdf.Name, depth int) error
	walk = func(o pdf.Object, prefix string, ft pdf.Name, depth int) error {
		if depth > 32 {
			return errors.New("the form field tree is nested too deeply")
		}
		if r, ok := o.(pdf.Ref); ok {
			if seen[r.Num] {
				return nil
			}
			seen[r.Num] = true
		}
		f, err := d.Reader.ResolveDict(o)
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
		if v, ok := f.Get("FT").(pdf.Name); ok {
			ft = v
		}
		kidsObj, _ := d.Reader.Resolve(f.Get("Kids"))
		kids, _ := kidsObj.(pdf.Array)
		hasFieldKids := false
		for _, k := range kids {
			kd, _ := d.Reader.ResolveDict(k)
			if kd != nil && kd.Has("T") {
				hasFieldKids = true
				if err := walk(k, name, ft, depth+1); err != nil {
					return err
				}
			}
		}
		if !hasFieldKids && ft == "Sig" {
			v, _ := d.Reader.ResolveDict(f.Get("V"))
			ref, _ := o.(pdf.Ref)
			out = append(out, Field{Name: name, Ref: ref, Dict: f, Value: v})
		}
		return nil
	}
	fieldsObj, err := d.Reader.Resolve(acro.Get("Fields"))
	if err != nil {
		return nil, fmt.Errorf("reading the AcroForm /Fields: %w", err)
	}
	fields, _ := fieldsObj.(pdf.Array)
	for _, f := range fields {
		if err := walk(f, "", "", 0); err != nil {
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
