package pades

import (
	"context"
	"crypto"
	"fmt"
	"io"
	"strconv"
	"time"

	"hashsign/pades/internal/pdf"
)

// SignatureInfo holds the optional descriptive entries of a signature
// dictionary.
type SignatureInfo struct {
	Name        string // /Name: the signer's name
	Reason      string // /Reason
	Location    string // /Location
	ContactInfo string // /ContactInfo
}

// PrepareOptions controls Prepare and AppendPrepare. The zero value (or
// nil) prepares a SHA-256 signature, into the first empty signature field
// or a new invisible field on page 1.
type PrepareOptions struct {
	// Hash is the digest algorithm of the byte range (default SHA-256).
	Hash crypto.Hash
	// ContentsSize is the number of bytes reserved for the CMS signature
	// (default DefaultContentsSize). The /Contents placeholder holds twice
	// as many hex digits.
	ContentsSize int
	// Time is written to /M (default: now).
	Time time.Time
	// Info fills /Name, /Reason, /Location and /ContactInfo.
	Info SignatureInfo
	// Password opens encrypted documents.
	Password []byte
	// FieldName names the field to sign: an existing empty signature
	// field, or a new one (default: the first empty signature field, else
	// a new field named with the first free name among Signature1,
	// Signature2, ...).
	FieldName string
	// Page is the page (1-based) that carries the invisible widget
	// (default 1).
	Page int
	// DocTimeStamp prepares a document timestamp (/Type /DocTimeStamp,
	// /SubFilter /ETSI.RFC3161) instead of a signature.
	DocTimeStamp bool
	// MemoryBudget bounds what the PDF reader holds at once for the
	// input's cross-reference entries, decoded streams and cached objects
	// (default 64 MiB); decoding may produce at most 8 times as much in
	// total. An input that needs more is refused.
	MemoryBudget int64
}

// Prepared describes a prepared document: where its placeholder lies and
// the digest of its byte range.
type Prepared struct {
	Hash   crypto.Hash
	Digest []byte // digest of the byte range
	// ByteRange is the /ByteRange written into the signature dictionary.
	ByteRange [4]int64
	// ContentsOffset is the offset of the first hex digit of the
	// placeholder; ContentsSize the number of bytes it holds.
	ContentsOffset int64
	ContentsSize   int
	// Size is the size of the prepared file.
	Size int64
	// Field is the name of the new signature field.
	Field string
}

// DefaultContentsSize is the placeholder size Prepare uses when
// PrepareOptions.ContentsSize is zero: room for an RSA-4096 signature with
// a three-certificate chain and a signature timestamp.
const DefaultContentsSize = 16384

// normalized returns the options with their defaults filled in, or an
// error naming the one that is wrong. A nil o is the zero options.
func (o *PrepareOptions) normalized() (PrepareOptions, error) {
	var n PrepareOptions
	if o != nil {
		n = *o
	}
	if n.Hash == 0 {
		n.Hash = crypto.SHA256
	}
	if !n.Hash.Available() || (n.Hash != crypto.SHA256 && n.Hash != crypto.SHA384 && n.Hash != crypto.SHA512) {
		return n, fmt.Errorf("unsupported digest algorithm %v: use SHA-256, SHA-384 or SHA-512", n.Hash)
	}
	if n.ContentsSize == 0 {
		n.ContentsSize = DefaultContentsSize
	}
	if n.ContentsSize < 0 {
		return n, fmt.Errorf("the placeholder size %d is negative", n.ContentsSize)
	}
	if n.Page == 0 {
		n.Page = 1
	}
	if n.Page < 0 {
		return n, fmt.Errorf("page %d: pages are numbered from 1", n.Page)
	}
	if n.Time.IsZero() {
		n.Time = time.Now()
	}
	return n, nil
}

// Prepare reads the PDF in (of the given size), and writes to out the same
// bytes followed by one incremental update that adds a signature field and
// a signature dictionary whose /Contents is a zero-filled placeholder of
// opts.ContentsSize bytes. The byte-range digest is computed while the
// output is written. Embed later writes the CMS into the placeholder. A nil
// opts takes the defaults.
func Prepare(ctx context.Context, in io.ReaderAt, size int64, out io.Writer, opts *PrepareOptions) (*Prepared, error) {
	o, err := opts.normalized()
	if err != nil {
		return nil, err
	}
	doc, err := openDocument(in, size, o.Password, o.MemoryBudget)
	if err != nil {
		return nil, err
	}
	u, err := doc.buildUpdate(&o)
	if err != nil {
		return nil, err
	}
	return u.write(ctx, in, size, out, o.Hash)
}

// update is the incremental update being built, and the field it signs.
type update struct {
	*pdf.Update
	doc       *document
	fieldName string
}

// newUpdate starts an incremental update after the last byte of the file.
func (d *document) newUpdate() *update {
	return &update{Update: pdf.NewUpdate(d.rd, d.encrypter()), doc: d}
}

func (d *document) buildUpdate(o *PrepareOptions) (*update, error) {
	if p, err := d.docMDP(); err != nil {
		return nil, fmt.Errorf("reading the certification signature: %w", err)
	} else if p == 1 && !o.DocTimeStamp {
		return nil, ErrCertified
	}
	if err := d.canAddSignature(); err != nil && !o.DocTimeStamp {
		return nil, err
	}
	u := d.newUpdate()
	pageRef, pageDict, err := d.page(o.Page)
	if err != nil {
		return nil, fmt.Errorf("finding the page for the signature widget: %w", err)
	}
	acro, acroRef, err := d.acroForm()
	if err != nil {
		return nil, err
	}
	fieldsObj, err := d.rd.Resolve(acro.Get("Fields"))
	if err != nil {
		return nil, fmt.Errorf("reading the AcroForm /Fields: %w", err)
	}
	fields, _ := fieldsObj.(pdf.Array)
	target, err := d.targetField(o.FieldName)
	if err != nil {
		return nil, err
	}
	name := o.FieldName
	if target != nil {
		name = target.name
	} else if name == "" {
		name = d.freeFieldName(fields)
	} else if d.fieldNameTaken(fields, name) {
		return nil, fmt.Errorf("a field named %q already exists and is not an empty signature field", name)
	}
	u.fieldName = name

	sigNum := u.Alloc()
	if err := u.writeSigDict(sigNum, o); err != nil {
		return nil, err
	}
	if target != nil {
		// sign into the existing empty field
		f := target.field.Clone()
		f.Set("V", pdf.Ref{Num: sigNum})
		if !f.Has("AP") && f.Has("Rect") && f.Get("Subtype") == pdf.Name("Widget") {
			apNum := u.Alloc()
			if err := u.writeEmptyAppearance(apNum, f.Get("Rect")); err != nil {
				return nil, err
			}
			ap := pdf.NewDict()
			ap.Set("N", pdf.Ref{Num: apNum})
			f.Set("AP", ap)
		}
		if err := u.WriteObject(target.ref.Num, target.ref.Gen, f); err != nil {
			return nil, err
		}
		if err := u.setSigFlags(acro, acroRef, nil); err != nil {
			return nil, err
		}
		return u, nil
	}

	fieldNum, apNum := u.Alloc(), u.Alloc()
	// the field, merged with its widget annotation
	field := pdf.NewDict()
	field.Set("Type", pdf.Name("Annot"))
	field.Set("Subtype", pdf.Name("Widget"))
	field.Set("FT", pdf.Name("Sig"))
	field.Set("T", pdf.TextString(name))
	field.Set("V", pdf.Ref{Num: sigNum})
	field.Set("F", pdf.Integer(132)) // print, locked
	field.Set("Rect", pdf.Array{pdf.Integer(0), pdf.Integer(0), pdf.Integer(0), pdf.Integer(0)})
	field.Set("P", pageRef)
	ap := pdf.NewDict()
	ap.Set("N", pdf.Ref{Num: apNum})
	field.Set("AP", ap)
	if err := u.WriteObject(fieldNum, 0, field); err != nil {
		return nil, err
	}
	// an empty appearance, which PDF/A requires even for invisible widgets
	if err := u.writeEmptyAppearance(apNum, nil); err != nil {
		return nil, err
	}

	// the page's /Annots
	widget := pdf.Ref{Num: fieldNum}
	switch a := pageDict.Get("Annots").(type) {
	case pdf.Ref:
		arrObj, err := d.rd.Resolve(a)
		if err != nil {
			return nil, fmt.Errorf("reading /Annots of page %d: %w", o.Page, err)
		}
		arr, _ := arrObj.(pdf.Array)
		if err := u.WriteObject(a.Num, a.Gen, append(append(pdf.Array{}, arr...), widget)); err != nil {
			return nil, err
		}
	default:
		arr, _ := a.(pdf.Array)
		pd := pageDict.Clone()
		pd.Set("Annots", append(append(pdf.Array{}, arr...), widget))
		if err := u.WriteObject(pageRef.Num, pageRef.Gen, pd); err != nil {
			return nil, err
		}
	}

	return u, u.setSigFlags(acro, acroRef, &pdf.Ref{Num: fieldNum})
}

// setSigFlags writes the AcroForm with /SigFlags 3 and, when field is not
// nil, with field added to /Fields. An AcroForm that is not an indirect
// object is written into a new one, and the catalog is updated to point at
// it. Every other entry is kept as it was.
func (u *update) setSigFlags(acro *pdf.Dict, acroRef *pdf.Ref, field *pdf.Ref) error {
	d := u.doc
	newAcro := acro.Clone()
	flags, _ := pdf.Int(acro.Get("SigFlags"))
	newAcro.Set("SigFlags", pdf.Integer(flags|3))
	if field != nil {
		fieldsObj, err := d.rd.Resolve(acro.Get("Fields"))
		if err != nil {
			return fmt.Errorf("reading the AcroForm /Fields: %w", err)
		}
		fields, _ := fieldsObj.(pdf.Array)
		all := append(append(pdf.Array{}, fields...), *field)
		if fr, ok := acro.Get("Fields").(pdf.Ref); ok && fieldsObj != nil {
			if err := u.WriteObject(fr.Num, fr.Gen, all); err != nil {
				return err
			}
		} else {
			newAcro.Set("Fields", all)
		}
	}
	if acroRef != nil {
		return u.WriteObject(acroRef.Num, acroRef.Gen, newAcro)
	}
	cat := d.catalog.Clone()
	num := u.Alloc()
	if err := u.WriteObject(num, 0, newAcro); err != nil {
		return err
	}
	cat.Set("AcroForm", pdf.Ref{Num: num})
	return u.WriteObject(d.rootRef.Num, d.rootRef.Gen, cat)
}

// writeEmptyAppearance writes an empty form XObject the size of rect (or
// of nothing).
func (u *update) writeEmptyAppearance(num int, rect pdf.Object) error {
	bbox := pdf.Array{pdf.Integer(0), pdf.Integer(0), pdf.Integer(0), pdf.Integer(0)}
	if r, err := u.doc.rd.Resolve(rect); err == nil {
		if a, ok := r.(pdf.Array); ok && len(a) == 4 {
			var v [4]float64
			for i, x := range a {
				v[i] = number(x)
			}
			bbox = pdf.Array{pdf.Integer(0), pdf.Integer(0), pdf.Real(formatNum(abs(v[2] - v[0]))), pdf.Real(formatNum(abs(v[3] - v[1])))}
		}
	}
	d := pdf.NewDict()
	d.Set("Type", pdf.Name("XObject"))
	d.Set("Subtype", pdf.Name("Form"))
	d.Set("BBox", bbox)
	d.Set("Resources", pdf.NewDict())
	return u.WriteStream(num, d, nil)
}

func number(o pdf.Object) float64 {
	switch v := o.(type) {
	case pdf.Integer:
		return float64(v)
	case pdf.Real:
		f, _ := strconv.ParseFloat(string(v), 64)
		return f
	}
	return 0
}

func abs(f float64) float64 {
	if f < 0 {
		return -f
	}
	return f
}

func formatNum(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// targetField picks the existing empty signature field to sign into: the
// one named name, or, when name is empty, the first empty signature field
// of the form. It returns nil when a new field is to be created.
func (d *document) targetField(name string) (*sigField, error) {
	fields, err := d.signatureFields()
	if err != nil {
		return nil, fmt.Errorf("reading the signature fields: %w", err)
	}
	for i := range fields {
		f := &fields[i]
		if name != "" && f.name != name {
			continue
		}
		if f.value != nil {
			if name != "" {
				return nil, fmt.Errorf("signature field %q is already signed", name)
			}
			continue
		}
		if f.ref.Num == 0 {
			if name != "" {
				return nil, fmt.Errorf("signature field %q is not an indirect object and cannot be signed into", name)
			}
			continue
		}
		if lock := f.field.Get("Lock"); lock != nil && name == "" {
			// a field that locks others on signing is only filled when named
			continue
		}
		return f, nil
	}
	return nil, nil
}

// acroForm returns the document's AcroForm dictionary and its reference
// when it is an indirect object. A document without one gets a new empty
// dictionary (ref nil).
func (d *document) acroForm() (*pdf.Dict, *pdf.Ref, error) { return d.doc.AcroForm() }

func (d *document) fieldNameTaken(fields pdf.Array, name string) bool {
	for _, f := range fields {
		fd, err := d.rd.ResolveDict(f)
		if err != nil || fd == nil {
			continue
		}
		if t, ok := fd.Get("T").(pdf.String); ok && pdf.DecodeTextString(t.Value) == name {
			return true
		}
	}
	return false
}

func (d *document) freeFieldName(fields pdf.Array) string {
	for i := 1; ; i++ {
		name := "Signature" + strconv.Itoa(i)
		if !d.fieldNameTaken(fields, name) {
			return name
		}
	}
}

// pdfDate formats t as a PDF date string.
func pdfDate(t time.Time) string {
	_, off := t.Zone()
	s := t.Format("D:20060102150405")
	if off == 0 {
		return s + "+00'00'"
	}
	sign := byte('+')
	if off < 0 {
		sign, off = '-', -off
	}
	return fmt.Sprintf("%s%c%02d'%02d'", s, sign, off/3600, off%3600/60)
}

func (u *update) writeSigDict(num int, o *PrepareOptions) error {
	d := pdf.NewDict()
	if o.DocTimeStamp {
		d.Set("Type", pdf.Name("DocTimeStamp"))
		d.Set("Filter", pdf.Name("Adobe.PPKLite"))
		d.Set("SubFilter", pdf.Name("ETSI.RFC3161"))
	} else {
		d.Set("Type", pdf.Name("Sig"))
		d.Set("Filter", pdf.Name("Adobe.PPKLite"))
		d.Set("SubFilter", pdf.Name("ETSI.CAdES.detached"))
		d.Set("M", pdf.String{Value: []byte(pdfDate(o.Time))})
		for _, kv := range []struct {
			k pdf.Name
			v string
		}{{"Name", o.Info.Name}, {"Reason", o.Info.Reason}, {"Location", o.Info.Location}, {"ContactInfo", o.Info.ContactInfo}} {
			if kv.v != "" {
				d.Set(kv.k, pdf.TextString(kv.v))
			}
		}
	}
	return u.WriteSignature(num, d, o.ContentsSize)
}
