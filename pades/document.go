// Package pades signs PDF documents with PAdES baseline signatures
// (ETSI EN 319 142-1) by appending one incremental update, and embeds CMS
// signatures made elsewhere into prepared documents.
//
// The input is read through an io.ReaderAt and copied to the output while
// its byte-range digest is computed, so memory use does not grow with the
// size of the file. Bytes already in the file are never rewritten.
package pades

import (
	"errors"
	"fmt"
	"io"

	"hashsign/pades/internal/crypt"
	"hashsign/pades/internal/pdf"
)

// Errors that callers may want to tell apart. They are wrapped with details.
var (
	// ErrNotPDF reports input that is not a PDF file.
	ErrNotPDF = pdf.ErrNotPDF
	// ErrPasswordNeeded reports an encrypted PDF whose user password is not
	// empty, opened without a password.
	ErrPasswordNeeded = errors.New("encrypted PDF: a password is needed (-password)")
	// ErrWrongPassword reports an encrypted PDF opened with a wrong password.
	ErrWrongPassword = errors.New("encrypted PDF: wrong password")
	// ErrCertified reports a document certified with DocMDP /P 1, which
	// allows no change at all.
	ErrCertified = errors.New("certified PDF: its DocMDP permissions (/P 1) allow no change, not even a new signature")
	// ErrPermission reports an encrypted PDF whose permissions forbid
	// adding a signature with the password given.
	ErrPermission = errors.New("encrypted PDF: its permissions forbid adding a signature field; give the owner password")
)

// Document is a PDF file opened for signing or inspection.
type Document struct {
	rd       *pdf.Reader
	sec      *crypt.Handler
	encRef   pdf.Ref
	catalog  *pdf.Dict
	rootRef  pdf.Ref
	password []byte
}

// Open opens the PDF file r of the given size. password is used when the
// file is encrypted; it may be nil for files without a user password.
func Open(r io.ReaderAt, size int64, password []byte) (*Document, error) {
	rd, err := pdf.Open(r, size)
	if err != nil {
		if errors.Is(err, pdf.ErrNotPDF) {
			return nil, err
		}
		return nil, fmt.Errorf("reading PDF structure: %w", err)
	}
	d := &Document{rd: rd, password: password}
	if err := d.openSecurity(); err != nil {
		return nil, err
	}
	d.rootRef = rd.Trailer.Get("Root").(pdf.Ref)
	cat, err := rd.ResolveDict(d.rootRef)
	if err != nil {
		return nil, fmt.Errorf("reading the document catalog (object %d): %w", d.rootRef.Num, err)
	}
	if cat == nil {
		return nil, fmt.Errorf("the document catalog (object %d) is not a dictionary", d.rootRef.Num)
	}
	d.catalog = cat
	return d, nil
}

// Encrypted reports whether the document is encrypted.
func (d *Document) Encrypted() bool { return d.sec != nil }

// Repaired reports whether the document's cross-reference information was
// damaged and had to be rebuilt, and why.
func (d *Document) Repaired() (bool, string) { return d.rd.Repaired, d.rd.RepairReason }

func (d *Document) openSecurity() error {
	encObj := d.rd.Trailer.Get("Encrypt")
	if encObj == nil {
		return nil
	}
	if r, ok := encObj.(pdf.Ref); ok {
		d.encRef = r
	}
	enc, err := d.rd.ResolveDict(encObj)
	if err != nil {
		return fmt.Errorf("reading the /Encrypt dictionary: %w", err)
	}
	if enc == nil {
		return errors.New("encrypted PDF: the /Encrypt entry is not a dictionary")
	}
	p := crypt.Params{EncryptMetadata: true}
	if f, ok := enc.Get("Filter").(pdf.Name); ok {
		p.Filter = string(f)
	}
	geti := func(k pdf.Name) int {
		v, _ := pdf.Int(enc.Get(k))
		return int(v)
	}
	getb := func(k pdf.Name) []byte {
		if s, ok := enc.Get(k).(pdf.String); ok {
			return s.Value
		}
		return nil
	}
	p.V, p.R, p.Length = geti("V"), geti("R"), geti("Length")
	p.O, p.U, p.OE, p.UE, p.Perms = getb("O"), getb("U"), getb("OE"), getb("UE"), getb("Perms")
	pv, _ := pdf.Int(enc.Get("P"))
	p.P = int32(pv)
	if b, ok := enc.Get("EncryptMetadata").(pdf.Bool); ok {
		p.EncryptMetadata = bool(b)
	}
	if p.V >= 4 {
		cf, _ := d.rd.ResolveDict(enc.Get("CF"))
		method := func(key pdf.Name) string {
			name, _ := enc.Get(key).(pdf.Name)
			if name == "" || name == "Identity" {
				return "None"
			}
			f, _ := d.rd.ResolveDict(cf.Get(name))
			if f == nil {
				return "unknown crypt filter " + string(name)
			}
			if l, ok := pdf.Int(f.Get("Length")); ok && p.CFLength == 0 {
				p.CFLength = int(l)
			}
			m, _ := f.Get("CFM").(pdf.Name)
			if m == "" {
				return "None"
			}
			return string(m)
		}
		p.StmF, p.StrF = method("StmF"), method("StrF")
	}
	var id0 []byte
	if ids, ok := d.rd.Trailer.Get("ID").(pdf.Array); ok && len(ids) > 0 {
		if s, ok := ids[0].(pdf.String); ok {
			id0 = s.Value
		}
	}
	h, err := crypt.Open(p, id0, d.password)
	if err != nil {
		switch {
		case errors.Is(err, crypt.ErrWrongPassword) && len(d.password) == 0:
			return ErrPasswordNeeded
		case errors.Is(err, crypt.ErrWrongPassword):
			return ErrWrongPassword
		}
		return fmt.Errorf("encrypted PDF: %w", err)
	}
	d.sec = h
	d.rd.SetSecurity(h, d.encRef)
	return nil
}

// docMDP returns the /P value of the document's certification signature,
// or 0 when the document is not certified.
func (d *Document) docMDP() (int, error) {
	perms, err := d.rd.ResolveDict(d.catalog.Get("Perms"))
	if err != nil || perms == nil {
		return 0, err
	}
	sig, err := d.rd.ResolveDict(perms.Get("DocMDP"))
	if err != nil || sig == nil {
		return 0, err
	}
	p := 2
	refs, _ := d.rd.Resolve(sig.Get("Reference"))
	arr, _ := refs.(pdf.Array)
	for _, r := range arr {
		ref, err := d.rd.ResolveDict(r)
		if err != nil || ref == nil {
			continue
		}
		if ref.Get("TransformMethod") != pdf.Name("DocMDP") {
			continue
		}
		tp, _ := d.rd.ResolveDict(ref.Get("TransformParams"))
		if v, ok := pdf.Int(tp.Get("P")); ok {
			p = int(v)
		}
	}
	return p, nil
}

// canAddSignature checks the encryption permissions: creating a signature
// field needs bits 4 and 6 (modify, annotate) or bit 9 (fill in forms,
// which Acrobat takes to include signing), unless the owner password was
// given.
func (d *Document) canAddSignature() error {
	if d.sec == nil || d.sec.AuthenticatedAsOwner() {
		return nil
	}
	p := uint32(d.sec.Permissions())
	const modify, annots, fill = 1 << 3, 1 << 5, 1 << 8
	if p&(modify|annots) == modify|annots || p&fill != 0 {
		return nil
	}
	return fmt.Errorf("%w (/P %d)", ErrPermission, int32(p))
}

// page returns the reference and dictionary of page n (1-based).
func (d *Document) page(n int) (pdf.Ref, *pdf.Dict, error) {
	node := d.catalog.Get("Pages")
	seen := map[int]bool{}
	for depth := 0; depth < 64; depth++ {
		ref, ok := node.(pdf.Ref)
		if !ok {
			return pdf.Ref{}, nil, errors.New("the page tree holds a node that is not an indirect reference")
		}
		if seen[ref.Num] {
			return pdf.Ref{}, nil, fmt.Errorf("the page tree loops at object %d", ref.Num)
		}
		seen[ref.Num] = true
		dict, err := d.rd.ResolveDict(ref)
		if err != nil {
			return pdf.Ref{}, nil, fmt.Errorf("page tree node %d: %w", ref.Num, err)
		}
		if dict == nil {
			return pdf.Ref{}, nil, fmt.Errorf("page tree node %d is not a dictionary", ref.Num)
		}
		kidsObj, _ := d.rd.Resolve(dict.Get("Kids"))
		kids, isNode := kidsObj.(pdf.Array)
		if dict.Get("Type") == pdf.Name("Page") || !isNode {
			if n == 1 {
				return ref, dict, nil
			}
			return pdf.Ref{}, nil, fmt.Errorf("page %d: the document has fewer pages", n)
		}
		found := false
		for _, k := range kids {
			kd, err := d.rd.ResolveDict(k)
			if err != nil || kd == nil {
				continue
			}
			count := int64(1)
			if kd.Get("Type") != pdf.Name("Page") {
				if c, ok := pdf.Int(kd.Get("Count")); ok {
					count = c
				} else if _, hasKids := kd.Get("Kids").(pdf.Array); hasKids {
					count = 1 << 30 // unknown: descend
				}
			}
			if int64(n) <= count {
				node, found = k, true
				break
			}
			n -= int(count)
		}
		if !found {
			return pdf.Ref{}, nil, fmt.Errorf("page %d: the document has fewer pages", n)
		}
	}
	return pdf.Ref{}, nil, errors.New("the page tree is nested too deeply")
}
