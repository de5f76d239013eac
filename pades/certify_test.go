package pades_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"hashsign/pades"
	"hashsign/pades/internal/pdf"
	"hashsign/signer"
	"hashsign/testdata/pdfgen"
)

// approvalForm is a page with two empty signature fields for approvers
// and, withLock, a field whose signature locks the field Budget, that
// field, and a text field.
func approvalForm(t *testing.T, withLock bool) []byte {
	t.Helper()
	fields := []pdfgen.Field{
		{Name: "Approver1", Rect: [4]float64{72, 72, 272, 132}},
		{Name: "Approver2", Rect: [4]float64{300, 72, 500, 132}},
	}
	if withLock {
		fields = append(fields,
			pdfgen.Field{Name: "Manager", Rect: [4]float64{72, 200, 272, 260}, Lock: "<< /Type /SigFieldLock /Action /Include /Fields [(Budget)] >>"},
			pdfgen.Field{Name: "Budget", Rect: [4]float64{300, 200, 500, 260}},
			pdfgen.Field{Name: "Notes", Type: "Tx", Rect: [4]float64{72, 400, 300, 420}})
	}
	b, err := pdfgen.Layout{Fields: fields}.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sigDictOf returns the signature dictionary of the field and the reader.
func sigDictOf(t *testing.T, data []byte, field string) (*pdf.Reader, *pdf.Dict) {
	t.Helper()
	rd, err := pdf.Open(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	v, err := rd.ResolveDict(rawField(t, data, field).Get("V"))
	if err != nil || v == nil {
		t.Fatalf("field %s has no signature: %v", field, err)
	}
	return rd, v
}

// reference returns the transform parameters of the signature reference
// of the method in sig, or nil.
func reference(t *testing.T, rd *pdf.Reader, sig *pdf.Dict, method pdf.Name) *pdf.Dict {
	t.Helper()
	refs, _ := rd.Resolve(sig.Get("Reference"))
	arr, _ := refs.(pdf.Array)
	for _, r := range arr {
		d, _ := rd.ResolveDict(r)
		if d.Get("Type") == pdf.Name("SigRef") && d.Get("TransformMethod") == method {
			p, _ := rd.ResolveDict(d.Get("TransformParams"))
			return p
		}
	}
	return nil
}

func trySign(t *testing.T, in []byte, s signer.Signer, opts *pades.SignOptions) error {
	t.Helper()
	_, err := pades.Sign(context.Background(), bytes.NewReader(in), int64(len(in)), &memFile{}, s, opts)
	return err
}

// TestCertify certifies a form at each DocMDP level and signs after it:
// the certification signature has a DocMDP reference and the catalog
// names it in /Perms; it must be the first signature. After /P 1 every
// signature is refused; after /P 2 and /P 3 a signature into an existing
// field is made and passes check-signed-pdf with the certification, while
// a new field is refused with the reason.
func TestCertify(t *testing.T) {
	p := testPKI(t)
	dir := t.TempDir()
	form := approvalForm(t, false)
	author, approver := newSigner(t, p.SignerRSA), newSigner(t, p.SignerP256)
	for _, level := range []pades.CertifyLevel{pades.CertifyNoChanges, pades.CertifyFormFilling, pades.CertifyAnnotations} {
		t.Run(strconvLevel(level), func(t *testing.T) {
			certified, rep := signedReport(t, form, author, &pades.SignOptions{Certify: level, FieldName: "Approver1"})
			if rep.DocMDP != int(level) {
				t.Errorf("inspect says DocMDP /P %d, want %d", rep.DocMDP, level)
			}
			rd, sig := sigDictOf(t, certified, "Approver1")
			params := reference(t, rd, sig, "DocMDP")
			if params == nil || params.Get("P") != pdf.Integer(level) || params.Get("V") != pdf.Name("1.2") {
				t.Fatalf("the signature's DocMDP reference: %v", params)
			}
			cat, _ := rd.ResolveDict(rd.Trailer.Get("Root"))
			perms, _ := rd.ResolveDict(cat.Get("Perms"))
			if perms.Get("DocMDP") != rawField(t, certified, "Approver1").Get("V") {
				t.Errorf("the catalog's /Perms /DocMDP %v does not name the certification signature", perms.Get("DocMDP"))
			}

			checkErr(t, trySign(t, certified, approver, &pades.SignOptions{Certify: pades.CertifyFormFilling}),
				pades.ErrNotFirstSignature, "the document is already certified")
			if level == pades.CertifyNoChanges {
				checkErr(t, trySign(t, certified, approver, &pades.SignOptions{FieldName: "Approver2"}), pades.ErrCertified, "allow no change")
				checkErr(t, trySign(t, certified, approver, &pades.SignOptions{Rect: &pades.Rect{X: 10, Y: 10, W: 100, H: 40}}), pades.ErrCertified, "allow no change")
				return
			}
			checkErr(t, trySign(t, certified, approver, &pades.SignOptions{Rect: &pades.Rect{X: 10, Y: 10, W: 100, H: 40}}),
				pades.ErrCertifiedNewField, `a new signature field is a change that Acrobat counts against the certification; the empty signature fields are "Approver2"`)
			cosigned, rep := signedReport(t, certified, approver, &pades.SignOptions{FieldName: "Approver2"})
			if f := fieldReport(t, rep, "Approver2"); !f.Signed || f.Intact == nil || !*f.Intact {
				t.Fatalf("Approver2 after signing: %+v", f)
			}
			path := filepath.Join(dir, strconvLevel(level)+".pdf")
			os.WriteFile(path, cosigned, 0o644)
			if ok, report := checkSignedPDF(t, sharedDir(t), path, "B-B", "", 2); !ok {
				t.Errorf("check-signed-pdf:\n%s", report)
			}
		})
	}
	t.Run("not first", func(t *testing.T) {
		signed, _ := signedReport(t, form, approver, &pades.SignOptions{FieldName: "Approver2"})
		checkErr(t, trySign(t, signed, author, &pades.SignOptions{Certify: pades.CertifyFormFilling, FieldName: "Approver1"}),
			pades.ErrNotFirstSignature, `it already holds signatures in "Approver2"`)
	})
}

func strconvLevel(l pades.CertifyLevel) string { return "P" + string(rune('0'+int(l))) }

// TestFieldLock: the /Lock of an existing field is kept and recorded in
// its signature's FieldMDP reference, and a lock written on a new field
// too; a later signature into a field that a lock covers is refused with
// the field that locks it, one into a field it does not cover is made.
func TestFieldLock(t *testing.T) {
	p := testPKI(t)
	form := approvalForm(t, true)
	s := newSigner(t, p.SignerRSA)

	// the existing lock of Manager covers Budget
	signed, rep := signedReport(t, form, s, &pades.SignOptions{FieldName: "Manager"})
	rd, sig := sigDictOf(t, signed, "Manager")
	params := reference(t, rd, sig, "FieldMDP")
	if params == nil || params.Get("Action") != pdf.Name("Include") {
		t.Fatalf("Manager's signature records no FieldMDP lock: %v", params)
	}
	if f := fieldReport(t, rep, "Budget"); f.LockedBy != "Manager" {
		t.Errorf("inspect says Budget is locked by %q, want Manager", f.LockedBy)
	}
	if f := fieldReport(t, rep, "Manager"); f.Lock != "include:Budget" {
		t.Errorf("inspect gives Manager's lock as %q", f.Lock)
	}
	if !rawField(t, signed, "Manager").Has("Lock") {
		t.Error("signing Manager dropped its /Lock")
	}
	checkErr(t, trySign(t, signed, s, &pades.SignOptions{FieldName: "Budget"}), pades.ErrLocked,
		`signature field "Budget" is locked by the signature in field "Manager" (lock include:Budget)`)
	if err := trySign(t, signed, s, &pades.SignOptions{FieldName: "Approver1"}); err != nil {
		t.Errorf("a field that the lock does not cover: %v", err)
	}
	// the default field is one that no lock covers
	_, rep = signedReport(t, signed, s, nil)
	if f := fieldReport(t, rep, "Approver1"); !f.Signed {
		t.Error("the first free empty field was not signed by default")
	}
	checkErr(t, trySign(t, form, s, &pades.SignOptions{FieldName: "Manager", Lock: &pades.FieldLock{Action: pades.LockAll}}), nil,
		`signature field "Manager" already has a lock (include:Budget)`)

	for _, c := range []struct {
		lock            string
		locked, allowed string
	}{
		{"include:Approver2,Budget", "Approver2", "Approver1"},
		{"exclude:Approver2", "Budget", "Approver2"},
		{"all", "Approver2", ""},
	} {
		t.Run(c.lock, func(t *testing.T) {
			lock, err := pades.ParseLock(c.lock)
			if err != nil {
				t.Fatal(err)
			}
			signed, rep := signedReport(t, form, s, &pades.SignOptions{FieldName: "Clerk", Rect: &pades.Rect{X: 72, Y: 500, W: 200, H: 50}, Lock: lock})
			if f := fieldReport(t, rep, "Clerk"); f.Lock != c.lock {
				t.Errorf("inspect gives the new field's lock as %q", f.Lock)
			}
			rd, sig := sigDictOf(t, signed, "Clerk")
			if params := reference(t, rd, sig, "FieldMDP"); params == nil || string(params.Get("Action").(pdf.Name)) != string(lock.Action) {
				t.Errorf("the signature's FieldMDP reference: %v", params)
			}
			checkErr(t, trySign(t, signed, s, &pades.SignOptions{FieldName: c.locked}), pades.ErrLocked,
				`is locked by the signature in field "Clerk" (lock `+c.lock+`)`)
			if c.allowed != "" {
				if err := trySign(t, signed, s, &pades.SignOptions{FieldName: c.allowed}); err != nil {
					t.Errorf("%s, which the lock does not cover: %v", c.allowed, err)
				}
			}
			// a new field changes no locked field
			if err := trySign(t, signed, s, &pades.SignOptions{FieldName: "Late", NewField: true}); err != nil {
				t.Errorf("a new field after the lock: %v", err)
			}
		})
	}
	checkErr(t, trySign(t, form, s, &pades.SignOptions{FieldName: "Approver1", Lock: &pades.FieldLock{Action: pades.LockInclude, Fields: []string{"Nothing"}}}), nil,
		`the lock names field "Nothing", which the document lacks`)
	for _, bad := range []string{"some", "include:", "all:A", "exclude"} {
		if _, err := pades.ParseLock(bad); err == nil {
			t.Errorf("ParseLock(%q) accepted", bad)
		}
	}
}

// TestLockP: the /P of a PDF 2.0 lock sets the DocMDP level once its field
// is signed: /P 1 refuses every later signature, /P 2 a new field but not
// a signature into an existing one.
func TestLockP(t *testing.T) {
	p := testPKI(t)
	s := newSigner(t, p.SignerRSA)
	for _, c := range []struct {
		p            string
		existing     error
		existingWant string
	}{
		{"1", pades.ErrLocked, `the signature in field "Final" locked the document: its lock sets DocMDP /P 1, which allows no change`},
		{"2", nil, ""},
	} {
		t.Run("P"+c.p, func(t *testing.T) {
			form, err := pdfgen.Layout{Fields: []pdfgen.Field{
				{Name: "Final", Rect: [4]float64{72, 72, 272, 132}, Lock: "<< /Type /SigFieldLock /Action /Include /Fields [(Notes)] /P " + c.p + " >>"},
				{Name: "Witness", Rect: [4]float64{300, 72, 500, 132}},
				{Name: "Notes", Type: "Tx", Rect: [4]float64{72, 400, 300, 420}},
			}}.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			signed, _ := signedReport(t, form, s, &pades.SignOptions{FieldName: "Final"})
			err = trySign(t, signed, s, &pades.SignOptions{FieldName: "Witness"})
			if c.existing == nil && err != nil {
				t.Errorf("a signature into an existing field: %v", err)
			} else if c.existing != nil {
				checkErr(t, err, c.existing, c.existingWant)
			}
			err = trySign(t, signed, s, &pades.SignOptions{Rect: &pades.Rect{X: 10, Y: 10, W: 100, H: 40}})
			if c.p == "1" {
				checkErr(t, err, pades.ErrLocked, "sets DocMDP /P 1, which allows no change")
			} else {
				checkErr(t, err, pades.ErrLocked, `the lock of the signature in field "Final" sets DocMDP /P 2 (form filling and signing), which allows signing only into existing empty signature fields; the empty signature fields are "Witness"`)
			}
		})
	}
}
