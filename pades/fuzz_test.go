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
