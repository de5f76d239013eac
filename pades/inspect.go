package pades

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"sort"

	"hashsign/cms"
	"hashsign/ltv"
	"hashsign/pades/internal/pdf"
)

// Report describes the structure and the signatures of a PDF file.
type Report struct {
	Version   string            `json:"version"`
	Size      int64             `json:"size"`
	Encrypted bool              `json:"encrypted"`
	Repaired  string            `json:"repaired,omitempty"` // why the xref was rebuilt
	DocMDP    int               `json:"docMDP,omitempty"`   // /P of a certification signature
	Revisions []RevisionReport  `json:"revisions"`
	Fields    []SignatureReport `json:"signatureFields"`
}

// RevisionReport describes one cross-reference section, oldest first.
type RevisionReport struct {
	Offset  int64  `json:"offset"`
	XRef    string `json:"xref"` // table, stream or hybrid
	Objects int    `json:"objects"`
}

// SignatureReport describes one signature field. Integrity (Intact) and
// conformance to the PAdES baseline profile (PAdES) are separate answers:
// a signature made by another profile (adbe.pkcs7.detached without an ESS
// signing-certificate attribute, SHA-1, no signed attributes) is intact
// when its bytes and its signature value verify.
type SignatureReport struct {
	Field     string  `json:"field"`
	Signed    bool    `json:"signed"`
	Type      string  `json:"type,omitempty"` // Sig or DocTimeStamp
	SubFilter string  `json:"subFilter,omitempty"`
	ByteRange []int64 `json:"byteRange,omitempty"`
	Signer    string  `json:"signer,omitempty"`
	Time      string  `json:"time,omitempty"` // /M, or the genTime of a document timestamp
	// Intact is true when the digest over the byte range and the
	// signature value verify, false when either does not, and nil when
	// they could not be checked (Problem says why).
	Intact  *bool  `json:"intact,omitempty"`
	Problem string `json:"problem,omitempty"`
	// PAdES tells whether the signature follows the PAdES baseline
	// profile (ETSI EN 319 142-1); NotPAdES says why not. It is nil when
	// the signature could not be read.
	PAdES    *bool  `json:"pades,omitempty"`
	NotPAdES string `json:"notPAdES,omitempty"`
	Covers   string `json:"covers,omitempty"` // "whole file" or "revision ending at N"
}

// Inspect reads the structure of a PDF file and checks the integrity of each
// signature (the digest over its byte range and its signature value) and
// whether it follows the PAdES profile. It does not judge trust: neither
// certificate chains nor revocation are checked.
func Inspect(ctx context.Context, r io.ReaderAt, size int64, password []byte) (*Report, error) {
	d, err := openDocument(r, size, password, 0)
	if err != nil {
		return nil, err
	}
	rep := &Report{Version: d.rd.Version, Size: size, Encrypted: d.sec != nil}
	if d.rd.Repaired {
		rep.Repaired = d.rd.RepairReason
	}
	for i := len(d.rd.Sections) - 1; i >= 0; i-- {
		s := d.rd.Sections[i]
		rep.Revisions = append(rep.Revisions, RevisionReport{Offset: s.Offset, XRef: s.Kind.String(), Objects: s.Count})
	}
	if p, err := d.docMDP(); err == nil {
		rep.DocMDP = p
	}
	fields, err := d.signatureFields()
	if err != nil {
		return nil, err
	}
	for _, f := range fields {
		sr := SignatureReport{Field: f.name}
		if f.value != nil {
			sr.Signed = true
			d.checkSignature(ctx, f.value, &sr)
		}
		rep.Fields = append(rep.Fields, sr)
	}
	sort.SliceStable(rep.Fields, func(i, j int) bool {
		a, b := rep.Fields[i].ByteRange, rep.Fields[j].ByteRange
		if len(a) != 4 || len(b) != 4 {
			return len(a) > len(b)
		}
		return a[2]+a[3] < b[2]+b[3]
	})
	return rep, nil
}

type sigField struct {
	name  string
	ref   pdf.Ref   // the terminal field
	field *pdf.Dict // its dictionary
	value *pdf.Dict // its /V, nil when empty
}

// signatureFields walks the AcroForm field tree for /FT /Sig fields.
func (d *document) signatureFields() ([]sigField, error) {
	acro, _, err := d.acroForm()
	if err != nil {
		return nil, err
	}
	var out []sigField
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
		f, err := d.rd.ResolveDict(o)
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
		kidsObj, _ := d.rd.Resolve(f.Get("Kids"))
		kids, _ := kidsObj.(pdf.Array)
		hasFieldKids := false
		for _, k := range kids {
			kd, _ := d.rd.ResolveDict(k)
			if kd != nil && kd.Has("T") {
				hasFieldKids = true
				if err := walk(k, name, ft, depth+1); err != nil {
					return err
				}
			}
		}
		if !hasFieldKids && ft == "Sig" {
			v, _ := d.rd.ResolveDict(f.Get("V"))
			ref, _ := o.(pdf.Ref)
			out = append(out, sigField{name: name, ref: ref, field: f, value: v})
		}
		return nil
	}
	fieldsObj, err := d.rd.Resolve(acro.Get("Fields"))
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

// setIntact records the integrity answer: intact, or broken because of
// err.
func (sr *SignatureReport) setIntact(err error) {
	ok := err == nil
	sr.Intact = &ok
	if err != nil {
		sr.Problem = err.Error()
	}
}

// setPAdES records the profile answer: conforming, or not because of err.
func (sr *SignatureReport) setPAdES(err error) {
	ok := err == nil
	sr.PAdES = &ok
	if err != nil {
		sr.NotPAdES = err.Error()
	}
}

func (d *document) checkSignature(ctx context.Context, v *pdf.Dict, sr *SignatureReport) {
	if t, ok := v.Get("Type").(pdf.Name); ok {
		sr.Type = string(t)
	}
	if s, ok := v.Get("SubFilter").(pdf.Name); ok {
		sr.SubFilter = string(s)
	}
	if m, ok := v.Get("M").(pdf.String); ok {
		sr.Time = string(m.Value)
	}
	br, _ := v.Get("ByteRange").(pdf.Array)
	contents, _ := v.Get("Contents").(pdf.String)
	if len(br) != 4 {
		sr.setIntact(errors.New("no /ByteRange of four numbers"))
		return
	}
	for _, x := range br {
		n, _ := pdf.Int(x)
		sr.ByteRange = append(sr.ByteRange, n)
	}
	b := [4]int64(sr.ByteRange)
	end := b[2] + b[3]
	if end == d.rd.Size() {
		sr.Covers = "whole file"
	} else {
		sr.Covers = fmt.Sprintf("revision ending at byte %d", end)
	}
	if b[0] != 0 || b[1] < 0 || b[2] < b[1] || b[3] < 0 || end > d.rd.Size() {
		sr.setIntact(errors.New("the /ByteRange does not fit the file"))
		return
	}
	switch sr.SubFilter {
	case "ETSI.CAdES.detached", "adbe.pkcs7.detached", "adbe.pkcs7.sha1":
		d.checkCMS(ctx, contents.Value, b, sr)
	case "ETSI.RFC3161":
		d.checkDocTimeStamp(ctx, contents.Value, b, sr)
	default:
		sr.Problem = "sub-filter not checked by inspect"
	}
}

// checkCMS checks a CMS signature over the byte range b.
func (d *document) checkCMS(ctx context.Context, contents []byte, b [4]int64, sr *SignatureReport) {
	sd, err := cms.Parse(contents) // Parse skips the zero padding and reads BER
	if err != nil {
		sr.Problem = "the CMS does not parse: " + err.Error()
		return
	}
	if sd.Signer == nil {
		sr.Problem = "the CMS does not carry the signer's certificate: its signature value cannot be checked"
		return
	}
	sr.Signer = sd.Signer.Subject.String()
	h := sd.DigestAlgorithm
	if sr.SubFilter == "adbe.pkcs7.sha1" {
		h = crypto.SHA1 // the signed content is the SHA-1 digest of the byte range
	}
	sum, err := hashByteRange(ctx, d.rd.ReaderAt(), h, b)
	if err != nil {
		sr.Problem = err.Error()
		return
	}
	if sr.SubFilter == "adbe.pkcs7.sha1" {
		err = sd.VerifyIntegrity(nil)
		if err == nil && !bytes.Equal(sd.Content, sum) {
			err = errors.New("the signed SHA-1 digest does not match the byte range")
		}
	} else {
		err = sd.VerifyIntegrity(sum)
	}
	sr.setIntact(err)
	if sr.SubFilter != "ETSI.CAdES.detached" {
		sr.setPAdES(fmt.Errorf("sub-filter %s: PAdES baseline signatures are ETSI.CAdES.detached", sr.SubFilter))
	} else {
		sr.setPAdES(sd.CheckPAdES())
	}
}

// checkDocTimeStamp checks a document timestamp over the byte range b.
func (d *document) checkDocTimeStamp(ctx context.Context, contents []byte, b [4]int64, sr *SignatureReport) {
	sd, err := cms.Parse(contents)
	if err != nil {
		sr.Problem = "the time-stamp token does not parse: " + err.Error()
		return
	}
	tsa := sd.Signer
	if tsa == nil {
		// RFC 3161 lets a token leave out the TSA certificate; the DSS
		// may hold it
		if tok, err := ltv.ParseTokenWithCertificates(contents, d.dssCertificates()); err == nil {
			tsa = tok.Signer
		}
	}
	if tsa == nil {
		sr.Problem = "the TSA certificate is neither in the time-stamp token nor in the DSS: its signature value cannot be checked"
		return
	}
	sr.Signer = tsa.Subject.String()
	tok, err := ltv.ParseTokenWithCertificates(contents, []*x509.Certificate{tsa})
	if err != nil {
		sr.setIntact(err)
		return
	}
	sr.Time = tok.GenTime.UTC().Format("2006-01-02T15:04:05Z")
	sum, err := hashByteRange(ctx, d.rd.ReaderAt(), tok.Hash, b)
	if err != nil {
		sr.Problem = err.Error()
		return
	}
	if !bytes.Equal(sum, tok.Imprint) {
		sr.setIntact(errors.New("the timestamp imprint does not match the byte range"))
		return
	}
	sr.setIntact(nil)
	sr.setPAdES(nil)
}

// dssCertificates returns the certificates of the document security store.
func (d *document) dssCertificates() []*x509.Certificate {
	dss, _ := d.rd.ResolveDict(d.catalog.Get("DSS"))
	arrObj, _ := d.rd.Resolve(dss.Get("Certs"))
	arr, _ := arrObj.(pdf.Array)
	var out []*x509.Certificate
	for _, e := range arr {
		r, ok := e.(pdf.Ref)
		if !ok {
			continue
		}
		o, err := d.rd.Object(r.Num)
		st, ok := o.(*pdf.Stream)
		if err != nil || !ok {
			continue
		}
		der, err := d.rd.StreamData(st, r.Num, r.Gen)
		if err != nil {
			continue
		}
		if c, err := x509.ParseCertificate(der); err == nil {
			out = append(out, c)
		}
	}
	return out
}
