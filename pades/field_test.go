package pades_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"hashsign/internal/testenv"
	"hashsign/pades"
	"hashsign/pades/internal/pdf"
	"hashsign/testdata/pdfgen"
)

// rawField returns the dictionary of the field of the fully qualified name
// in the PDF data, read with the package's own reader.
func rawField(t *testing.T, data []byte, name string) *pdf.Dict {
	t.Helper()
	rd, err := pdf.Open(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	cat, _ := rd.ResolveDict(rd.Trailer.Get("Root"))
	acro, _ := rd.ResolveDict(cat.Get("AcroForm"))
	fields, _ := rd.Resolve(acro.Get("Fields"))
	level, _ := fields.(pdf.Array)
	parts := strings.Split(name, ".")
	for i, part := range parts {
		var next pdf.Array
		found := false
		for _, f := range level {
			d, _ := rd.ResolveDict(f)
			if t, ok := d.Get("T").(pdf.String); ok && pdf.DecodeTextString(t.Value) == part {
				if i == len(parts)-1 {
					return d
				}
				kids, _ := rd.Resolve(d.Get("Kids"))
				next, _ = kids.(pdf.Array)
				found = true
				break
			}
		}
		if !found {
			break
		}
		level = next
	}
	t.Fatalf("no field %q", name)
	return nil
}

func fieldReport(t *testing.T, rep *pades.Report, name string) pades.SignatureReport {
	t.Helper()
	i := slices.IndexFunc(rep.Fields, func(f pades.SignatureReport) bool { return f.Field == name })
	if i < 0 {
		t.Fatalf("inspect lists no field %q", name)
	}
	return rep.Fields[i]
}

// formLayout is a two-page form: signer fields under the naming
// SignatorySignature_<signer>_<n>, nested in parent fields, one of them
// with a widget apart from the field on a page turned by /Rotate 90, a text
// field, and a field whose widget is hidden.
func formLayout(t *testing.T) []byte {
	t.Helper()
	b, err := pdfgen.Layout{
		Pages: []pdfgen.Page{{}, {Rotate: 90}},
		Fields: []pdfgen.Field{
			{Name: "form.signers.SignatorySignature_1_2", Rect: [4]float64{300, 72, 500, 132}},
			{Name: "form.signers.SignatorySignature_1_1", Rect: [4]float64{72, 72, 272, 132}, Flags: 4 | 16},
			{Name: "SignatorySignature_2_1", Page: 2, Rect: [4]float64{100, 100, 160, 300}, SeparateWidget: true},
			{Name: "Comments", Type: "Tx", Rect: [4]float64{72, 400, 300, 420}},
			{Name: "Hidden", Rect: [4]float64{72, 600, 272, 650}, Flags: 4 | 2},
		},
	}.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSignIntoFields signs a form's existing fields: by signer under the
// SignatorySignature naming (nested fields, a widget apart from its
// field), by name, and refuses missing, signed and non-signature fields
// with the list of the empty ones. Each filled field keeps its flags and
// gets the appearance in its widget only.
func TestSignIntoFields(t *testing.T) {
	p := testPKI(t)
	dir := t.TempDir()
	doc := formLayout(t)

	// signer 2's field: a widget apart from its field, on a turned page
	in := filepath.Join(dir, "in.pdf")
	os.WriteFile(in, doc, 0o644)
	out, rep := signedReport(t, doc, newSigner(t, p.SignerRSA), &pades.SignOptions{Signer: 2})
	f := fieldReport(t, rep, "SignatorySignature_2_1")
	if !f.Signed || f.Intact == nil || !*f.Intact || !f.Visible || len(f.Widgets) != 1 || f.Widgets[0].Page != 2 {
		t.Fatalf("signer 2's field after signing: %+v", f)
	}
	if w := f.Widgets[0].Rect; w != [4]float64{100, 435, 200, 60} {
		t.Errorf("the widget as displayed: %v, want 100,435,200,60 on the turned page", w)
	}
	signedPath := filepath.Join(dir, "signer2.pdf")
	os.WriteFile(signedPath, out, 0o644)
	before, after := render(t, in, 2), render(t, signedPath, 2)
	compareRenders(t, before, after, displayedBox(pades.Rect{X: 100, Y: 435, W: 200, H: 60}, before.Bounds().Dy()))
	sameRender(t, render(t, in, 1), render(t, signedPath, 1))

	// signer 1's fields, the lowest number first, then none left
	for _, want := range []string{"form.signers.SignatorySignature_1_1", "form.signers.SignatorySignature_1_2"} {
		var res *pades.Report
		out, res = signedReport(t, out, newSigner(t, p.SignerP256), &pades.SignOptions{Signer: 1})
		if f := fieldReport(t, res, want); !f.Signed {
			t.Fatalf("signer 1 did not sign %s", want)
		}
	}
	if got := rawField(t, out, "form.signers.SignatorySignature_1_1").Get("F"); got != pdf.Integer(20) {
		t.Errorf("the widget flags of a filled field: %v, want 20 as before", got)
	}
	_, err := pades.Sign(context.Background(), bytes.NewReader(out), int64(len(out)), &memFile{}, newSigner(t, p.SignerP256), &pades.SignOptions{Signer: 1})
	checkErr(t, err, pades.ErrNoField, `the fields of signer 1 are all signed; the empty signature fields are "Hidden"`)

	for _, c := range []struct {
		name string
		opts *pades.SignOptions
		want string
	}{
		{"missing", &pades.SignOptions{FieldName: "Approval"}, `no field is named "Approval"; the empty signature fields are "Hidden"`},
		{"signed", &pades.SignOptions{FieldName: "SignatorySignature_2_1"}, `signature field "SignatorySignature_2_1" is already signed; the empty signature fields are "Hidden"`},
		{"text field", &pades.SignOptions{FieldName: "Comments"}, `field "Comments" is a text field, not a signature field`},
		{"partial name", &pades.SignOptions{FieldName: "SignatorySignature_1_1"}, `no field is named "SignatorySignature_1_1"`},
		{"no signer", &pades.SignOptions{Signer: 3}, `no field of signer 3 (named SignatorySignature_3_<n>)`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := pades.Sign(context.Background(), bytes.NewReader(out), int64(len(out)), &memFile{}, newSigner(t, p.SignerRSA), c.opts)
			checkErr(t, err, pades.ErrNoField, c.want)
		})
	}

	// a hidden widget gets no appearance drawn, and the page does not change
	last, rep := signedReport(t, out, newSigner(t, p.SignerRSA), &pades.SignOptions{FieldName: "Hidden"})
	if f := fieldReport(t, rep, "Hidden"); !f.Signed || f.Visible {
		t.Errorf("the hidden field: %+v", f)
	}
	lastPath := filepath.Join(dir, "last.pdf")
	os.WriteFile(lastPath, last, 0o644)
	os.WriteFile(signedPath, out, 0o644)
	sameRender(t, render(t, signedPath, 1), render(t, lastPath, 1))
}

// checkErr fails unless err wraps target and says want.
func checkErr(t *testing.T, err, target error, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %q", want)
	}
	if target != nil && !errors.Is(err, target) {
		t.Errorf("%v: does not wrap %v", err, target)
	}
	if !strings.Contains(err.Error(), want) {
		t.Errorf("%v: does not say %q", err, want)
	}
}

// TestNewFieldPlacement: a rectangle off the page is refused, a new field
// takes a name that no field has, a tag drawn nowhere is an error, and a
// rectangle and a tag together are refused.
func TestNewFieldPlacement(t *testing.T) {
	p := testPKI(t)
	doc := formLayout(t)
	s := newSigner(t, p.SignerRSA)
	sign := func(opts *pades.SignOptions) error {
		_, err := pades.Sign(context.Background(), bytes.NewReader(doc), int64(len(doc)), &memFile{}, s, opts)
		return err
	}
	// page 2 is turned: 842 wide and 595 high as displayed
	checkErr(t, sign(&pades.SignOptions{Page: 2, Rect: &pades.Rect{X: 700, Y: 500, W: 100, H: 96}}), nil, "rectangle 700,500,100,96 is off page 2, which is 842 by 595 points as displayed")
	checkErr(t, sign(&pades.SignOptions{Page: 1, Rect: &pades.Rect{X: -1, Y: 0, W: 100, H: 50}}), nil, "is off page 1")
	checkErr(t, sign(&pades.SignOptions{Page: 3, Rect: &pades.Rect{X: 0, Y: 0, W: 100, H: 50}}), nil, "page 3: the document has fewer pages")
	checkErr(t, sign(&pades.SignOptions{Tag: "#signature9#"}), pades.ErrTagNotFound, `"#signature9#" is not drawn on any of the 2 pages`)
	checkErr(t, sign(&pades.SignOptions{Tag: "#s#", Rect: &pades.Rect{W: 1, H: 1}}), nil, "either at a rectangle or over a text tag")
	checkErr(t, sign(&pades.SignOptions{FieldName: "Comments", Rect: &pades.Rect{W: 1, H: 1}}), nil, `a field named "Comments" already exists`)
	if err := sign(&pades.SignOptions{Page: 2, Rect: &pades.Rect{X: 742, Y: 495, W: 100, H: 100}}); err != nil {
		t.Errorf("a rectangle in the top-right corner of the turned page: %v", err)
	}

	// a new visible field: named, on the turned page, listed where it is
	_, rep := signedReport(t, doc, s, &pades.SignOptions{FieldName: "Witness", Page: 2, Rect: &pades.Rect{X: 600, Y: 20, W: 200, H: 50}})
	f := fieldReport(t, rep, "Witness")
	if !f.Signed || !f.Visible || len(f.Widgets) != 1 || f.Widgets[0].Page != 2 || f.Widgets[0].Rect != [4]float64{600, 20, 200, 50} {
		t.Errorf("the new field: %+v", f)
	}
	// an invisible new field even though empty ones exist
	_, rep = signedReport(t, doc, s, &pades.SignOptions{FieldName: "Invisible", NewField: true})
	if f := fieldReport(t, rep, "Invisible"); !f.Signed || f.Visible {
		t.Errorf("the new invisible field: %+v", f)
	}
	if f := fieldReport(t, rep, "form.signers.SignatorySignature_1_1"); f.Signed {
		t.Error("a new field was asked, yet the first empty field was signed")
	}
}

// TestSmallField: a field that the document made too small for the
// default lines shows the first lines that fit, the name at least; a
// template given explicitly is kept, and its text not fitting is an error.
func TestSmallField(t *testing.T) {
	p := testPKI(t)
	doc, err := pdfgen.Layout{Fields: []pdfgen.Field{{Name: "Thin", Rect: [4]float64{40, 400, 317, 413}}}}.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	info := pades.SignatureInfo{Reason: "a reason too many for the box", Location: "Lyon"}
	s := newSigner(t, p.SignerRSA)
	out, rep := signedReport(t, doc, s, &pades.SignOptions{FieldName: "Thin", Info: info})
	if f := fieldReport(t, rep, "Thin"); !f.Signed || !f.Visible {
		t.Fatalf("the thin field: %+v", f)
	}
	path := filepath.Join(t.TempDir(), "thin.pdf")
	os.WriteFile(path, out, 0o644)
	text, err := exec.Command(testenv.Need(t, "pdftotext", ""), path, "-").CombinedOutput()
	if err != nil || !strings.Contains(string(text), "hashsign Test Signer RSA") {
		t.Errorf("pdftotext does not find the name in the thin field (%v):\n%s", err, text)
	}
	err = trySign(t, doc, s, &pades.SignOptions{FieldName: "Thin", Info: info, Appearance: &pades.Appearance{Template: "lines=name,date,reason,location;minsize=6"}})
	checkErr(t, err, nil, "the text does not fit the appearance box")
}
