package pades

import (
	"bytes"
	"context"
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

// SignatureReport describes one signature field.
type SignatureReport struct {
	Field     string   `json:"field"`
	Signed    bool     `json:"signed"`
	Type      string   `json:"type,omitempty"` // Sig or DocTimeStamp
	SubFilter string   `json:"subFilter,omitempty"`
	ByteRange []int64  `json:"byteRange,omitempty"`
	Signer    string   `json:"signer,omitempty"`
	Time      string   `json:"time,omitempty"` // /M
	Intact    *bool    `json:"intact,omitempty"`
	Problem   string   `json:"problem,omitempty"`
	Covers    string   `json:"covers,omitempty"` // "whole file" or "revision ending at N"
	Lock      []string `json:"-"`
}

// Inspect reads the structure of a PDF file and checks that each signature
// still matches its byte range (integrity only: it does not judge trust).
func Inspect(ctx context.Context, r io.ReaderAt, size int64, password []byte) (*Report, error) {
	d, err := openDocument(r, size, password)
	if err != nil {
		return nil, err
	}
	rep := &Report{Version: d.rd.Version, Size: size, Encrypted: d.sec != nil}
	if d.rd.Repaired {
		rep.Repaired = d.rd.RepairReason
	}
	for i := len(d.rd.Sections) - 1; i >= 0; i-- {
		s := d.rd.Sections[i]
		rep.Revisions = append(rep.Revisions, RevisionReport{Offset: s.Offset, XRef: s.Kind.String(), Objects: len(s.Entries)})
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
		sr.Problem = "no /ByteRange of four numbers"
		return
	}
	for _, x := range br {
		n, _ := pdf.Int(x)
		sr.ByteRange = append(sr.ByteRange, n)
	}
	end := sr.ByteRange[2] + sr.ByteRange[3]
	if end == d.rd.Size() {
		sr.Covers = "whole file"
	} else {
		sr.Covers = fmt.Sprintf("revision ending at byte %d", end)
	}
	intact := false
	defer func() { sr.Intact = &intact }()
	if sr.ByteRange[0] != 0 || sr.ByteRange[1] < 0 || sr.ByteRange[2] < sr.ByteRange[1] || end > d.rd.Size() {
		sr.Problem = "the /ByteRange does not fit the file"
		return
	}
	br4 := [4]int64(sr.ByteRange)
	switch sr.SubFilter {
	case "ETSI.CAdES.detached", "adbe.pkcs7.detached":
		sd, err := cms.Parse(contents.Value) // Parse skips the zero padding and reads BER
		if err != nil {
			sr.Problem = "the CMS does not parse: " + err.Error()
			return
		}
		if sd.Signer != nil {
			sr.Signer = sd.Signer.Subject.String()
		}
		sum, err := hashByteRange(ctx, d.rd.ReaderAt(), sd.DigestAlgorithm, br4)
		if err != nil {
			sr.Problem = err.Error()
			return
		}
		if err := sd.Verify(sum); err != nil {
			sr.Problem = err.Error()
			return
		}
		intact = true
	case "ETSI.RFC3161":
		tok, err := ltv.ParseToken(contents.Value) // padding and BER are accepted
		if err != nil {
			sr.Problem = err.Error()
			return
		}
		if tok.Signer != nil {
			sr.Signer = tok.Signer.Subject.String()
		}
		sr.Time = tok.GenTime.UTC().Format("2006-01-02T15:04:05Z")
		sum, err := hashByteRange(ctx, d.rd.ReaderAt(), tok.Hash, br4)
		if err != nil {
			sr.Problem = err.Error()
			return
		}
		if !bytes.Equal(sum, tok.Imprint) {
			sr.Problem = "the timestamp imprint does not match the byte range"
			return
		}
		intact = true
	default:
		sr.Problem = "sub-filter not checked by inspect"
	}
}
