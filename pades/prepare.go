package pades

import (
	"context"
	"crypto"
	"crypto/md5"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sort"
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

// PrepareOptions controls Prepare.
type PrepareOptions struct {
	// Hash is the digest algorithm of the byte range (default SHA-256).
	Hash crypto.Hash
	// ContentsSize is the number of bytes reserved for the CMS signature.
	// The /Contents placeholder holds twice as many hex digits.
	ContentsSize int
	// Time is written to /M (default: now).
	Time time.Time
	// Info fills /Name, /Reason, /Location and /ContactInfo.
	Info SignatureInfo
	// Password opens encrypted documents.
	Password []byte
	// FieldName names the new signature field (default: the first free
	// name among Signature1, Signature2, ...).
	FieldName string
	// Page is the page (1-based) that carries the invisible widget
	// (default 1).
	Page int
	// DocTimeStamp prepares a document timestamp (/Type /DocTimeStamp,
	// /SubFilter /ETSI.RFC3161) instead of a signature.
	DocTimeStamp bool
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

// Prepare reads the PDF in (of the given size), and writes to out the same
// bytes followed by one incremental update that adds a signature field and
// a signature dictionary whose /Contents is a zero-filled placeholder of
// opts.ContentsSize bytes. The byte-range digest is computed while the
// output is written. Embed later writes the CMS into the placeholder.
func Prepare(ctx context.Context, in io.ReaderAt, size int64, out io.Writer, opts *PrepareOptions) (*Prepared, error) {
	o := *opts
	if o.Hash == 0 {
		o.Hash = crypto.SHA256
	}
	if !o.Hash.Available() || (o.Hash != crypto.SHA256 && o.Hash != crypto.SHA384 && o.Hash != crypto.SHA512) {
		return nil, fmt.Errorf("unsupported digest algorithm %v: use SHA-256, SHA-384 or SHA-512", o.Hash)
	}
	if o.ContentsSize <= 0 {
		return nil, errors.New("prepare: the signature placeholder size is not set")
	}
	if o.Page == 0 {
		o.Page = 1
	}
	if o.Time.IsZero() {
		o.Time = time.Now()
	}
	doc, err := Open(in, size, o.Password)
	if err != nil {
		return nil, err
	}
	u, err := doc.buildUpdate(&o)
	if err != nil {
		return nil, err
	}
	return u.write(ctx, in, size, out, o.Hash)
}

// update is the incremental update being built.
type update struct {
	doc  *Document
	prev int64 // /Prev, or -1 in a repaired file
	form pdf.XRefKind
	next int // next free object number

	body      []byte // the objects, from the first byte after the input
	offsets   map[int]int64
	gens      map[int]int
	start     int64 // offset of body[0] in the output
	brPos     int   // offset in body of the /ByteRange array
	brWidth   int
	contents  int // offset in body of '<'
	hexLen    int
	fieldName string
}

func (d *Document) buildUpdate(o *PrepareOptions) (*update, error) {
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

	sigNum := u.alloc()
	if err := u.writeSigDict(sigNum, o); err != nil {
		return nil, err
	}
	if target != nil {
		// sign into the existing empty field
		f := target.field.Clone()
		f.Set("V", pdf.Ref{Num: sigNum})
		if !f.Has("AP") && f.Has("Rect") && f.Get("Subtype") == pdf.Name("Widget") {
			apNum := u.alloc()
			if err := u.writeEmptyAppearance(apNum, f.Get("Rect")); err != nil {
				return nil, err
			}
			ap := pdf.NewDict()
			ap.Set("N", pdf.Ref{Num: apNum})
			f.Set("AP", ap)
		}
		if err := u.writeObject(target.ref.Num, target.ref.Gen, f); err != nil {
			return nil, err
		}
		if err := u.setSigFlags(acro, acroRef, nil); err != nil {
			return nil, err
		}
		return u, nil
	}

	fieldNum, apNum := u.alloc(), u.alloc()
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
	if err := u.writeObject(fieldNum, 0, field); err != nil {
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
		if err := u.writeObject(a.Num, a.Gen, append(append(pdf.Array{}, arr...), widget)); err != nil {
			return nil, err
		}
	default:
		arr, _ := a.(pdf.Array)
		pd := pageDict.Clone()
		pd.Set("Annots", append(append(pdf.Array{}, arr...), widget))
		if err := u.writeObject(pageRef.Num, pageRef.Gen, pd); err != nil {
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
			if err := u.writeObject(fr.Num, fr.Gen, all); err != nil {
				return err
			}
		} else {
			newAcro.Set("Fields", all)
		}
	}
	if acroRef != nil {
		return u.writeObject(acroRef.Num, acroRef.Gen, newAcro)
	}
	cat := d.catalog.Clone()
	num := u.alloc()
	if err := u.writeObject(num, 0, newAcro); err != nil {
		return err
	}
	cat.Set("AcroForm", pdf.Ref{Num: num})
	return u.writeObject(d.rootRef.Num, d.rootRef.Gen, cat)
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
	return u.writeStream(num, d, nil)
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
func (d *Document) targetField(name string) (*sigField, error) {
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

// newUpdate starts an incremental update after the last byte of the file.
func (d *Document) newUpdate() *update {
	u := &update{doc: d, offsets: map[int]int64{}, gens: map[int]int{}, next: d.rd.NextObjectNumber(), contents: -1}
	u.start = d.rd.Size()
	if d.rd.Repaired {
		u.prev = -1
		u.form = pdf.XRefTable
		for _, e := range d.rd.Entries() {
			if e.Type == pdf.EntryCompressed {
				u.form = pdf.XRefStream
				break
			}
		}
	} else {
		u.prev = d.rd.StartXRef
		u.form = d.rd.Sections[0].Kind
		if u.form == pdf.XRefHybrid {
			u.form = pdf.XRefTable
		}
	}
	// The input may end without an end of line after %%EOF.
	last := make([]byte, 1)
	if _, err := d.rd.ReaderAt().ReadAt(last, d.rd.Size()-1); err == nil && last[0] != '\n' && last[0] != '\r' {
		u.body = append(u.body, '\n')
	}

	return u
}

// acroForm returns the document's AcroForm dictionary and its reference
// when it is an indirect object. A document without one gets a new empty
// dictionary (ref nil).
func (d *Document) acroForm() (*pdf.Dict, *pdf.Ref, error) {
	obj := d.catalog.Get("AcroForm")
	dict, err := d.rd.ResolveDict(obj)
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

func (d *Document) fieldNameTaken(fields pdf.Array, name string) bool {
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

func (d *Document) freeFieldName(fields pdf.Array) string {
	for i := 1; ; i++ {
		name := "Signature" + strconv.Itoa(i)
		if !d.fieldNameTaken(fields, name) {
			return name
		}
	}
}

func (u *update) alloc() int {
	n := u.next
	u.next++
	return n
}

// encrypter returns the string encrypter for object num, or nil.
func (u *update) encrypter(num, gen int) pdf.StringEncrypter {
	if u.doc.sec == nil {
		return nil
	}
	return func(b []byte) ([]byte, error) { return u.doc.sec.EncryptString(num, gen, b) }
}

func (u *update) beginObject(num, gen int) {
	u.offsets[num] = u.start + int64(len(u.body))
	u.gens[num] = gen
	u.body = strconv.AppendInt(u.body, int64(num), 10)
	u.body = append(u.body, ' ')
	u.body = strconv.AppendInt(u.body, int64(gen), 10)
	u.body = append(u.body, " obj\n"...)
}

func (u *update) writeObject(num, gen int, o pdf.Object) error {
	u.beginObject(num, gen)
	var err error
	u.body, err = pdf.AppendObject(u.body, o, u.encrypter(num, gen))
	if err != nil {
		return fmt.Errorf("writing object %d: %w", num, err)
	}
	u.body = append(u.body, "\nendobj\n"...)
	return nil
}

func (u *update) writeStream(num int, d *pdf.Dict, data []byte) error {
	if u.doc.sec != nil {
		var err error
		if data, err = u.doc.sec.EncryptStream(num, 0, data); err != nil {
			return fmt.Errorf("encrypting stream %d: %w", num, err)
		}
	}
	d = d.Clone()
	d.Set("Length", pdf.Integer(len(data)))
	u.beginObject(num, 0)
	var err error
	if u.body, err = pdf.AppendObject(u.body, d, u.encrypter(num, 0)); err != nil {
		return fmt.Errorf("writing object %d: %w", num, err)
	}
	u.body = append(u.body, "\nstream\n"...)
	u.body = append(u.body, data...)
	u.body = append(u.body, "\nendstream\nendobj\n"...)
	return nil
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
	enc := u.encrypter(num, 0)
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
	u.beginObject(num, 0)
	var err error
	if u.body, err = pdf.AppendObject(u.body, d, enc); err != nil {
		return fmt.Errorf("writing the signature dictionary: %w", err)
	}
	u.body = u.body[:len(u.body)-2] // reopen the dictionary
	// /ByteRange: fixed width, filled in once the layout is known
	u.body = append(u.body, "/ByteRange "...)
	u.brPos = len(u.body)
	u.brWidth = len("[0 ") + 3*12 + len("]")
	for i := 0; i < u.brWidth; i++ {
		u.body = append(u.body, ' ')
	}
	// /Contents: never encrypted
	u.body = append(u.body, "/Contents "...)
	u.contents = len(u.body)
	u.hexLen = 2 * o.ContentsSize
	u.body = append(u.body, '<')
	for i := 0; i < u.hexLen; i++ {
		u.body = append(u.body, '0')
	}
	u.body = append(u.body, ">>>\nendobj\n"...)
	return nil
}

// finish appends the cross-reference section and trailer, and fills in
// the /ByteRange.
func (u *update) finish() error {
	rd := u.doc.rd
	trailer := pdf.NewDict()
	for _, k := range []pdf.Name{"Root", "Info", "ID", "Encrypt"} {
		if v := rd.Trailer.Get(k); v != nil {
			trailer.Set(k, v)
		}
	}
	if !trailer.Has("ID") && u.doc.sec == nil {
		// an unencrypted file without /ID gets one; an encrypted file's key
		// depends on the (missing) ID, so it must stay without
		sum := md5.Sum([]byte(fmt.Sprint(rd.Size(), time.Now().UnixNano(), u.fieldName)))
		id := pdf.String{Value: sum[:], Hex: true}
		trailer.Set("ID", pdf.Array{id, id})
	}
	if u.prev >= 0 {
		trailer.Set("Prev", pdf.Integer(u.prev))
	}
	entries := map[int]pdf.Entry{}
	if u.prev < 0 { // repaired: list every object
		for num, e := range rd.Entries() {
			if e.Type != pdf.EntryFree && num > 0 {
				entries[num] = e
			}
		}
	}
	for num, off := range u.offsets {
		entries[num] = pdf.Entry{Type: pdf.EntryInUse, Offset: off, Gen: u.gens[num]}
	}
	var xrefOff int64
	if u.form == pdf.XRefStream {
		num := u.alloc()
		xrefOff = u.start + int64(len(u.body))
		entries[num] = pdf.Entry{Type: pdf.EntryInUse, Offset: xrefOff}
		trailer.Set("Size", pdf.Integer(u.next))
		data, index, w := xrefStreamData(entries, u.prev < 0)
		d := pdf.NewDict()
		d.Set("Type", pdf.Name("XRef"))
		for _, k := range trailer.Keys() {
			d.Set(k, trailer.Get(k))
		}
		d.Set("Index", index)
		d.Set("W", w)
		d.Set("Length", pdf.Integer(len(data)))
		u.beginObject(num, 0)
		var err error
		if u.body, err = pdf.AppendObject(u.body, d, nil); err != nil {
			return err
		}
		u.body = append(u.body, "\nstream\n"...)
		u.body = append(u.body, data...)
		u.body = append(u.body, "\nendstream\nendobj\n"...)
	} else {
		trailer.Set("Size", pdf.Integer(u.next))
		xrefOff = u.start + int64(len(u.body))
		u.body = appendXRefTable(u.body, entries, u.prev < 0)
		u.body = append(u.body, "trailer\n"...)
		var err error
		if u.body, err = pdf.AppendObject(u.body, trailer, nil); err != nil {
			return err
		}
		u.body = append(u.body, '\n')
	}
	u.body = append(u.body, "startxref\n"...)
	u.body = strconv.AppendInt(u.body, xrefOff, 10)
	u.body = append(u.body, "\n%%EOF\n"...)

	if u.contents < 0 {
		return nil // an update without a signature placeholder
	}
	total := u.start + int64(len(u.body))
	br := [4]int64{0, u.start + int64(u.contents), u.start + int64(u.contents+u.hexLen+2), 0}
	br[3] = total - br[2]
	s := fmt.Sprintf("[%d %d %d %d]", br[0], br[1], br[2], br[3])
	if len(s) > u.brWidth {
		return errors.New("byte range does not fit its field")
	}
	copy(u.body[u.brPos:], s)
	return nil
}

// appendXRefTable appends a classic cross-reference table. A full table
// (for a repaired file) is one subsection from object 0, with free entries
// for the gaps; otherwise each run of consecutive numbers is a subsection.
func appendXRefTable(buf []byte, entries map[int]pdf.Entry, full bool) []byte {
	nums := make([]int, 0, len(entries)+1)
	for n := range entries {
		if n != 0 {
			nums = append(nums, n)
		}
	}
	nums = append(nums, 0)
	sort.Ints(nums)
	if full {
		last := nums[len(nums)-1]
		nums = nums[:0]
		for n := 0; n <= last; n++ {
			nums = append(nums, n)
		}
	}
	buf = append(buf, "xref\n"...)
	for i := 0; i < len(nums); {
		j := i
		for j+1 < len(nums) && nums[j+1] == nums[j]+1 {
			j++
		}
		buf = fmt.Appendf(buf, "%d %d\n", nums[i], j-i+1)
		for _, n := range nums[i : j+1] {
			e, ok := entries[n]
			if !ok || n == 0 {
				buf = append(buf, "0000000000 65535 f\r\n"...)
				continue
			}
			buf = fmt.Appendf(buf, "%010d %05d n\r\n", e.Offset, e.Gen)
		}
		i = j + 1
	}
	return buf
}

// xrefStreamData encodes the entries of a cross-reference stream.
func xrefStreamData(entries map[int]pdf.Entry, full bool) ([]byte, pdf.Array, pdf.Array) {
	nums := make([]int, 0, len(entries))
	maxOff, maxF3 := int64(0), 0
	for n, e := range entries {
		nums = append(nums, n)
		switch e.Type {
		case pdf.EntryInUse:
			maxOff = max(maxOff, e.Offset)
			maxF3 = max(maxF3, e.Gen)
		case pdf.EntryCompressed:
			maxOff = max(maxOff, int64(e.Stream))
			maxF3 = max(maxF3, e.Index)
		}
	}
	sort.Ints(nums)
	w2 := 1
	for maxOff >= 1<<(8*w2) {
		w2++
	}
	w3 := 1
	for int64(maxF3) >= 1<<(8*w3) {
		w3++
	}
	var index pdf.Array
	var data []byte
	row := func(typ byte, f2 int64, f3 int) {
		data = append(data, typ)
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], uint64(f2))
		data = append(data, b[8-w2:]...)
		binary.BigEndian.PutUint64(b[:], uint64(f3))
		data = append(data, b[8-w3:]...)
	}
	if full {
		maxNum := nums[len(nums)-1]
		index = pdf.Array{pdf.Integer(0), pdf.Integer(maxNum + 1)}
		for n := 0; n <= maxNum; n++ {
			e, ok := entries[n]
			switch {
			case !ok || n == 0:
				row(0, 0, 65535&(1<<(8*w3)-1))
			case e.Type == pdf.EntryCompressed:
				row(2, int64(e.Stream), e.Index)
			default:
				row(1, e.Offset, e.Gen)
			}
		}
	} else {
		for i := 0; i < len(nums); {
			j := i
			for j+1 < len(nums) && nums[j+1] == nums[j]+1 {
				j++
			}
			index = append(index, pdf.Integer(nums[i]), pdf.Integer(j-i+1))
			for k := i; k <= j; k++ {
				e := entries[nums[k]]
				if e.Type == pdf.EntryCompressed {
					row(2, int64(e.Stream), e.Index)
				} else {
					row(1, e.Offset, e.Gen)
				}
			}
			i = j + 1
		}
	}
	return data, index, pdf.Array{pdf.Integer(1), pdf.Integer(w2), pdf.Integer(w3)}
}
