package pades_test

import (
	"bytes"
	"context"
	"io"
	"testing"

	"hashsign/pades"
	"hashsign/testdata/pdfgen"
)

// FuzzFields reads the form fields, pages and locks of damaged files: Inspect
// lists them, and Prepare signs into the first field or places a new one on
// the last page; either may fail, neither may panic or loop. The seeds are
// forms with nested fields, widgets apart from their fields, locks, turned
// pages and pages that inherit their geometry.
func FuzzFields(f *testing.F) {
	crop := [4]float64{10, 10, 500, 700}
	layouts := []pdfgen.Layout{
		{Pages: []pdfgen.Page{{}, {Rotate: 90, CropBox: &crop}}, Fields: []pdfgen.Field{
			{Name: "a.b.SignatorySignature_1_1", Rect: [4]float64{72, 72, 272, 132}},
			{Name: "a.Budget", Page: 2, Rect: [4]float64{100, 100, 200, 150}, SeparateWidget: true},
			{Name: "Lock", Lock: "<< /Type /SigFieldLock /Action /Exclude /Fields [(a.Budget)] >>"},
		}},
		{Pages: []pdfgen.Page{{Inherit: true, Rotate: 270, MediaBox: [4]float64{-20, -20, 300, 400}}}, Fields: []pdfgen.Field{
			{Name: "T", Type: "Tx", Rect: [4]float64{1, 1, 50, 20}},
			{Name: "S", Rect: [4]float64{60, 60, 160, 100}, Flags: 2},
		}},
	}
	for _, l := range layouts {
		b, err := l.Bytes()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ctx := context.Background()
		in := bytes.NewReader(data)
		rep, err := pades.Inspect(ctx, in, int64(len(data)), nil)
		if err != nil {
			return
		}
		opts := &pades.PrepareOptions{ContentsSize: 64, MemoryBudget: 1 << 20}
		for _, fl := range rep.Fields {
			if !fl.Signed {
				opts.FieldName = fl.Field
				break
			}
		}
		pades.Prepare(ctx, in, int64(len(data)), io.Discard, opts)
		rect := &pades.Rect{X: 1, Y: 1, W: 20, H: 10}
		pades.Prepare(ctx, in, int64(len(data)), io.Discard, &pades.PrepareOptions{ContentsSize: 64, MemoryBudget: 1 << 20, Rect: rect, Page: 2, Lock: &pades.FieldLock{Action: pades.LockAll}})
	})
}

// pdfFile returns a PDF whose objects 1, 2, ... are objs (PDF text),
// object 1 being the catalog.
func pdfFile(objs ...string) []byte { return pdfgen.Objects(1, objs) }

// hostileSeeds are small files with the structures that Prepare and
// Inspect walk: certification (DocMDP), AcroForm fields and their kids,
// the page tree with inherited attributes, and cycles among them.
func hostileSeeds() [][]byte {
	page := "<</Type/Page/Parent 3 0 R/MediaBox[0 0 612 792]>>"
	return [][]byte{
		// certified with /P 2, a signed field, a nested page tree
		pdfFile("<</Type/Catalog/Pages 2 0 R/Perms<</DocMDP 5 0 R>>/AcroForm<</Fields[6 0 R]/SigFlags 3>>>>",
			"<</Type/Pages/Kids[3 0 R]/Count 1/Resources<<>>/Rotate 90>>",
			"<</Type/Pages/Parent 2 0 R/Kids[4 0 R]/Count 1>>",
			page,
			"<</Type/Sig/Filter/Adobe.PPKLite/SubFilter/adbe.pkcs7.detached/ByteRange[0 10 20 30]/Contents<3082>"+
				"/Reference[<</Type/SigRef/TransformMethod/DocMDP/TransformParams<</Type/TransformParams/P 2/V/1.2>>>>]>>",
			"<</FT/Sig/T(Cert)/V 5 0 R/Kids[7 0 R]>>",
			"<</Type/Annot/Subtype/Widget/Parent 6 0 R/P 4 0 R/Rect[0 0 0 0]>>"),
		// certified with /P 1, the transform parameters indirect
		pdfFile("<</Type/Catalog/Pages 2 0 R/Perms<</DocMDP 4 0 R>>>>",
			"<</Type/Pages/Kids[3 0 R]/Count 1>>",
			"<</Type/Page/Parent 2 0 R>>",
			"<</Type/Sig/Reference[<</TransformMethod/DocMDP/TransformParams 5 0 R>>]>>",
			"<</P 1>>"),
		// a field that is its own kid, an empty signature field, and
		// fields named alike
		pdfFile("<</Type/Catalog/Pages 2 0 R/AcroForm<</Fields[4 0 R 5 0 R 5 0 R]/DA(/Helv 0 Tf 0 g)>>>>",
			"<</Type/Pages/Kids[3 0 R]/Count 1>>",
			"<</Type/Page/Parent 2 0 R/Annots[4 0 R]>>",
			"<</T(a)/Kids[4 0 R 5 0 R]>>",
			"<</FT/Sig/T(Signature1)/Parent 4 0 R/Subtype/Widget/Rect[0 0 0 0]>>"),
		// a page tree that loops, and one whose /Count lies
		pdfFile("<</Type/Catalog/Pages 2 0 R>>", "<</Type/Pages/Kids[2 0 R 3 0 R]/Count 2>>", page),
		pdfFile("<</Type/Catalog/Pages 2 0 R>>", "<</Type/Pages/Kids[3 0 R]/Count 1000000>>", "<</Type/Pages/Parent 2 0 R/Kids[3 0 R]>>"),
		// no page tree at all, an /AcroForm that is not a dictionary
		pdfFile("<</Type/Catalog/AcroForm 7/Perms 2 0 R>>", "[/DocMDP]"),
	}
}

// FuzzInspectPrepare opens hostile files as pades does: Inspect reads every
// signature field, Prepare adds one (certification, AcroForm and page
// tree). Never a panic; a file that Prepare accepts keeps its bytes, gets
// a placeholder whose byte range FindPlaceholder finds with the same
// digest, and is still one that Inspect reads, with the new field in it.
func FuzzInspectPrepare(f *testing.F) {
	for _, k := range pdfgen.Kinds() {
		for _, o := range []pdfgen.Options{{Form: true}, {SignatureField: true, Pages: 2}} {
			b, err := pdfgen.Bytes(k, o)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	for _, b := range hostileSeeds() {
		f.Add(b)
	}
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, data []byte) {
		in := bytes.NewReader(data)
		pades.Inspect(ctx, in, int64(len(data)), nil)
		var out bytes.Buffer
		p, err := pades.Prepare(ctx, in, int64(len(data)), &out, &pades.PrepareOptions{ContentsSize: 64, MemoryBudget: 4 << 20})
		if err != nil {
			return
		}
		prepared := out.Bytes()
		if !bytes.HasPrefix(prepared, data) || int64(len(prepared)) != p.Size {
			t.Fatalf("Prepare rewrote the input or misreports the size (%d bytes, says %d)", len(prepared), p.Size)
		}
		found, err := pades.FindPlaceholder(ctx, bytes.NewReader(prepared), p.Size, p.Hash)
		if err != nil {
			t.Fatalf("FindPlaceholder on Prepare's output: %v", err)
		}
		if !bytes.Equal(found.Digest, p.Digest) || found.ByteRange != p.ByteRange {
			t.Fatalf("FindPlaceholder: %x %v, Prepare: %x %v", found.Digest, found.ByteRange, p.Digest, p.ByteRange)
		}
		rep, err := pades.Inspect(ctx, bytes.NewReader(prepared), p.Size, nil)
		if err != nil {
			t.Fatalf("Inspect on Prepare's output: %v", err)
		}
		seen := false
		for _, fl := range rep.Fields {
			seen = seen || fl.Field == p.Field
		}
		if !seen {
			t.Fatalf("Inspect does not list the field %q that Prepare added", p.Field)
		}
	})
}
