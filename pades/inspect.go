package pades

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"

	"hashsign/pades/internal/sigfield"
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
	// Visible is set when a widget of the field shows on a page; Widgets
	// says where each is.
	Visible bool           `json:"visible"`
	Widgets []WidgetReport `json:"widgets,omitempty"`
	// Lock is the FieldMDP lock that signing the field sets (all,
	// include:A,B or exclude:A,B); LockedBy names the signed field whose
	// lock covers this one.
	Lock     string `json:"lock,omitempty"`
	LockedBy string `json:"lockedBy,omitempty"`
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
	// a damaged page tree leaves the fields without pages, not the report
	// without fields
	annots, _ := d.annotationPages()
	locks, err := d.fieldLocks(fields)
	if err != nil {
		return nil, err
	}
	for _, f := range fields {
		sr := SignatureReport{Field: f.Name}
		d.describeField(&f, annots, locks, &sr)
		if f.Value != nil {
			sr.Signed = true
			d.checkSignature(ctx, f, &sr)
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

// checkSignature fills sr with the integrity and profile answers for the
// signature dictionary of field f.
func (d *document) checkSignature(ctx context.Context, f formField, sr *SignatureReport) {
	s := d.doc.ReadSignature(f.Field, d.doc.DSS().Certs)
	sr.Type, sr.SubFilter, sr.Time = s.Type, s.SubFilter, s.M
	if f.Value.Has("ByteRange") {
		sr.ByteRange = s.ByteRange[:]
		if end := s.End(); end == d.rd.Size() {
			sr.Covers = "whole file"
		} else {
			sr.Covers = fmt.Sprintf("revision ending at byte %d", end)
		}
	}
	if s.SignedData != nil && s.SignedData.Signer != nil {
		sr.Signer = s.SignedData.Signer.Subject.String()
	}
	if s.Token != nil {
		sr.Time = s.Token.GenTime.UTC().Format("2006-01-02T15:04:05Z")
	}
	switch {
	case errors.Is(s.Err, sigfield.ErrByteRange), errors.Is(s.Err, sigfield.ErrCrypto):
		sr.setIntact(s.Err)
		return
	case s.Err != nil: // unparsed, no signer, unsupported: not checked
		sr.Problem = s.Err.Error()
		return
	}
	sums, err := sigfield.HashRanges(ctx, d.rd.ReaderAt(), []sigfield.Range{{ByteRange: s.ByteRange, Hash: s.Hash}})
	if err != nil {
		sr.Problem = err.Error()
		return
	}
	sr.setIntact(s.CheckDigest(sums[0]))
	switch {
	case s.IsDocTimeStamp():
		sr.setPAdES(nil)
	case s.SubFilter != sigfield.SubFilterCAdES:
		sr.setPAdES(fmt.Errorf("sub-filter %s: PAdES baseline signatures are ETSI.CAdES.detached", s.SubFilter))
	default:
		sr.setPAdES(s.SignedData.CheckPAdES())
	}
}
