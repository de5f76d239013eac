package crypt

import (
	"errors"
	"fmt"

	"hashsign/pades/internal/pdf"
)

// ErrNotEncrypted is returned by OpenDocument for a file without /Encrypt.
var ErrNotEncrypted = errors.New("the document is not encrypted")

// OpenDocument reads the /Encrypt dictionary and the first /ID element of
// the file rd reads, opens its security handler with password, and makes rd
// decrypt what it reads. It returns ErrNotEncrypted for a file without
// /Encrypt.
func OpenDocument(rd *pdf.Reader, password []byte) (*Handler, error) {
	encObj := rd.Trailer.Get("Encrypt")
	if encObj == nil {
		return nil, ErrNotEncrypted
	}
	enc, err := rd.ResolveDict(encObj)
	if err != nil {
		return nil, fmt.Errorf("reading the /Encrypt dictionary: %w", err)
	}
	if enc == nil {
		return nil, errors.New("the /Encrypt entry is not a dictionary")
	}
	p := paramsOf(rd, enc)
	var id0 []byte
	if ids, ok := rd.Trailer.Get("ID").(pdf.Array); ok && len(ids) > 0 {
		if s, ok := ids[0].(pdf.String); ok {
			id0 = s.Value
		}
	}
	h, err := Open(p, id0, password)
	if err != nil {
		return nil, err
	}
	encRef, _ := encObj.(pdf.Ref)
	rd.SetSecurity(h, encRef)
	return h, nil
}

// paramsOf reads the Params of the /Encrypt dictionary enc.
func paramsOf(rd *pdf.Reader, enc *pdf.Dict) Params {
	p := Params{EncryptMetadata: true}
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
	if p.V < 4 {
		return p
	}
	cf, _ := rd.ResolveDict(enc.Get("CF")) // a filter it lacks is named below
	method := func(key pdf.Name) string {
		name, _ := enc.Get(key).(pdf.Name)
		if name == "" || name == "Identity" {
			return MethodNone
		}
		f, _ := rd.ResolveDict(cf.Get(name))
		if f == nil {
			return "unknown crypt filter " + string(name)
		}
		if l, ok := pdf.Int(f.Get("Length")); ok && p.CFLength == 0 {
			p.CFLength = int(l)
		}
		m, _ := f.Get("CFM").(pdf.Name)
		if m == "" {
			return MethodNone
		}
		return string(m)
	}
	p.StmF, p.StrF = method("StmF"), method("StrF")
	return p
}
