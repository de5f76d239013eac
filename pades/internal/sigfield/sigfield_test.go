package sigfield

import (
	"bytes"
	"slices"
	"testing"

	"hashsign/testdata/pdfgen"
)

// TestFormFields walks a field tree with the cases of ISO 32000-2 §12.7.4:
// a terminal field merged with its widget below a parent without a type,
// a field whose type and value its parent gives and whose widgets are kids
// without /T, a text field, and a kid that names its own ancestor.
func TestFormFields(t *testing.T) {
	data := pdfgen.Objects(1, []string{
		"<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [4 0 R 6 0 R 9 0 R 10 0 R] >> >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Annots [5 0 R 7 0 R 8 0 R] >>",
		// a parent without a type and its signature field, merged with its widget
		"<< /T (form) /Kids [5 0 R] >>",
		"<< /T (approver) /FT /Sig /Parent 4 0 R /Type /Annot /Subtype /Widget /Rect [0 0 100 50] /P 3 0 R >>",
		// type and value on the field, two widgets as kids without /T
		"<< /T (signed) /FT /Sig /V 11 0 R /Kids [7 0 R 8 0 R] >>",
		"<< /Type /Annot /Subtype /Widget /Parent 6 0 R /Rect [0 100 100 150] /P 3 0 R >>",
		"<< /Type /Annot /Subtype /Widget /Parent 6 0 R /Rect [0 200 100 250] /P 3 0 R >>",
		// a text field
		"<< /T (notes) /FT /Tx /Rect [0 0 0 0] >>",
		// a parent whose kids name it again: walked once
		"<< /T (loop) /FT /Sig /Kids [10 0 R 12 0 R] >>",
		"<< /Type /Sig /Filter /Adobe.PPKLite /SubFilter /ETSI.CAdES.detached >>",
		"<< /T (inner) /Parent 10 0 R /Kids [10 0 R] >>",
	})
	d, err := Open(bytes.NewReader(data), int64(len(data)), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	all, err := d.FormFields()
	if err != nil {
		t.Fatal(err)
	}
	type want struct {
		name    string
		typ     string
		widgets int
		signed  bool
	}
	var got []want
	for _, f := range all {
		got = append(got, want{f.Name, string(f.Type), len(f.Widgets), f.Value != nil})
	}
	expect := []want{
		{"form.approver", "Sig", 1, false},
		{"signed", "Sig", 2, true},
		{"notes", "Tx", 1, false},
		// loop and loop.inner each have a field kid (the other): neither
		// is terminal, and the walk ends
	}
	if !slices.Equal(got, expect) {
		t.Errorf("FormFields:\n got %+v\nwant %+v", got, expect)
	}
	sigs, err := d.Fields()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range sigs {
		names = append(names, f.Name)
	}
	if !slices.Equal(names, []string{"form.approver", "signed"}) {
		t.Errorf("Fields: %q", names)
	}
}
