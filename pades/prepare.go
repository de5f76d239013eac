package pades

import (
	"context"
	"crypto"
	"fmt"
	"hash"
	"io"
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
	// field (its fully qualified name, the partial names joined with
	// '.'), or the new field that NewField, Rect or Tag adds. A field that
	// is missing or already signed is an error (ErrNoField). By default
	// the signature goes into the first empty signature field, else into
	// a new invisible field named with the first free name among
	// Signature1, Signature2, ...
	FieldName string
	// NewField adds a new field named FieldName even when the document
	// has empty signature fields: an invisible one unless Rect or Tag
	// places it.
	NewField bool
	// Signer, when positive, signs into the first empty field of that
	// signer under the naming SignatorySignature_<signer>_<n>, the lowest
	// n first.
	Signer int
	// Page is the page (1-based) of a new field: the one that Rect
	// places, or the invisible widget (default 1).
	Page int
	// Rect adds a new visible field at that place of Page (see Rect for
	// the coordinates).
	Rect *Rect
	// Tag adds a new visible field over each place where this text is
	// drawn, on every page: one field, with a widget at each place. Each
	// widget has the size TagSize (default DefaultTagSize), and its
	// bottom-left corner, as the text reads, is the start of the tag's
	// baseline. A tag drawn nowhere is an error (ErrTagNotFound).
	Tag     string
	TagSize Size
	// Appearance is what the visible widgets of the field show (nil: the
	// default layout, with the name of Info.Name).
	Appearance *Appearance
	// Certify makes the signature a certification signature of that
	// DocMDP level (0: an approval signature). It must be the document's
	// first signature (ErrNotFirstSignature).
	Certify CertifyLevel
	// Lock writes a FieldMDP lock on the field: signing it locks the
	// fields the lock names. An existing field keeps the lock it has.
	Lock *FieldLock
	// DocTimeStamp prepares a document timestamp (/Type /DocTimeStamp,
	// /SubFilter /ETSI.RFC3161) instead of a signature.
	DocTimeStamp bool
	// MemoryBudget bounds what the PDF reader holds at once for the
	// input's cross-reference entries, decoded streams and cached objects
	// (default 64 MiB); decoding may produce at most 8 times as much in
	// total. An input that needs more is refused.
	MemoryBudget int64
	// Prefix, when not nil, is the state of the digest with Hash of the
	// whole input, which the caller computed as it wrote it (a gateway
	// hashes a document as it receives it). AppendPrepare then hashes
	// only what it appends, instead of reading the input again; Prepare
	// ignores it. It must implement hash.Cloner: it is cloned, not
	// consumed. A state of other bytes than the input's makes a signature
	// that fails verification.
	Prefix hash.Hash
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
	u, err := doc.buildUpdate(ctx, &o)
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
	pdfA      *bool // whether the document is PDF/A, once known
}

// newUpdate starts an incremental update after the last byte of the file.
func (d *document) newUpdate() *update {
	return &update{Update: pdf.NewUpdate(d.rd, d.encrypter()), doc: d}
}

// buildUpdate builds the incremental update: the signature dictionary with
// its placeholder, the field it goes into with the widgets and their
// appearances, and the form and pages that list them.
func (d *document) buildUpdate(ctx context.Context, o *PrepareOptions) (*update, error) {
	if err := d.canAddSignature(); err != nil && !o.DocTimeStamp {
		return nil, err
	}
	fields, err := d.formFields()
	if err != nil {
		return nil, fmt.Errorf("reading the form fields: %w", err)
	}
	plan, err := d.planField(ctx, o, fields)
	if err != nil {
		return nil, err
	}
	if err := d.checkMDP(o, plan, fields); err != nil {
		return nil, err
	}
	u := d.newUpdate()
	u.fieldName = plan.name
	sigNum := u.Alloc()
	if err := u.writeSigDict(sigNum, o, sigReferences(o, plan)); err != nil {
		return nil, err
	}
	return u, u.writeField(plan, sigNum, o, o.Certify != 0 && !o.DocTimeStamp)
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

func (u *update) writeSigDict(num int, o *PrepareOptions, refs pdf.Array) error {
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
	if len(refs) > 0 {
		d.Set("Reference", refs)
	}
	return u.WriteSignature(num, d, o.ContentsSize)
}
