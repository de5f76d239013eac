package appearance

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"hashsign/pades/internal/pdf"
	"hashsign/testdata/pdfgen"
)

// TestRenderIntoUpdate renders into a pdf.Update of files with a
// cross-reference table and with a cross-reference stream, reads the form
// back through pdf.Reader and checks what PDF/A asks of it (/BBox,
// /Resources, /Length), its /Matrix for each page rotation, and the
// embedded font program, which must read back as a font. qpdf checks the
// updated file.
func TestRenderIntoUpdate(t *testing.T) {
	matrices := map[int]string{
		0:   "",
		90:  "[0 1 -1 0 80 0]",
		180: "[-1 0 0 -1 200 80]",
		270: "[0 -1 1 0 0 200]",
	}
	for _, kind := range []pdfgen.Kind{pdfgen.Table, pdfgen.Stream} {
		for _, rot := range []int{0, 90, 180, 270} {
			t.Run(fmt.Sprintf("%v-%d", kind, rot), func(t *testing.T) {
				base, err := pdfgen.Bytes(kind, pdfgen.Options{})
				if err != nil {
					t.Fatal(err)
				}
				rd, err := pdf.Open(bytes.NewReader(base), int64(len(base)))
				if err != nil {
					t.Fatal(err)
				}
				u := pdf.NewUpdate(rd, nil)
				num, err := Render(u, &Spec{Width: 200, Height: 80, Rotate: rot, Name: "Иван Петров", Date: signingTime})
				if err != nil {
					t.Fatal(err)
				}
				if err := u.Finish(); err != nil {
					t.Fatal(err)
				}
				file := append(base, u.Bytes()...)
				name := filepath.Join(t.TempDir(), "updated.pdf")
				if err := os.WriteFile(name, file, 0o644); err != nil {
					t.Fatal(err)
				}
				out := run(t, "qpdf", "--check", name)
				if !bytes.Contains(out, []byte("No syntax or stream encoding errors found")) {
					t.Errorf("qpdf --check:\n%s", out)
				}

				rd, err = pdf.Open(bytes.NewReader(file), int64(len(file)))
				if err != nil {
					t.Fatal(err)
				}
				o, err := rd.Object(num)
				if err != nil {
					t.Fatal(err)
				}
				st, ok := o.(*pdf.Stream)
				if !ok {
					t.Fatalf("object %d is a %s, want a stream", num, pdf.TypeName(o))
				}
				d := st.Dict
				str := func(o pdf.Object) string {
					b, _ := pdf.AppendObject(nil, o, nil)
					return string(b)
				}
				if got := str(d.Get("BBox")); got != "[0 0 200 80]" {
					t.Errorf("/BBox %s, want [0 0 200 80]", got)
				}
				if got := str(d.Get("Matrix")); got != matrices[rot] && !(rot == 0 && got == "null") {
					t.Errorf("/Matrix %s, want %s", got, matrices[rot])
				}
				if n, ok := pdf.Int(d.Get("Length")); !ok || n != st.Length {
					t.Errorf("/Length %v, stream of %d bytes", d.Get("Length"), st.Length)
				}
				res, err := rd.ResolveDict(d.Get("Resources"))
				if err != nil || res == nil {
					t.Fatalf("/Resources: %v", err)
				}
				fonts, err := rd.ResolveDict(res.Get("Font"))
				if err != nil || fonts.Len() != 1 {
					t.Fatalf("/Font resources %v: %v", fonts, err)
				}
				t0, err := rd.ResolveDict(fonts.Get(fonts.Keys()[0]))
				if err != nil {
					t.Fatal(err)
				}
				desc := t0.Get("DescendantFonts").(pdf.Array)
				cf, err := rd.ResolveDict(desc[0])
				if err != nil {
					t.Fatal(err)
				}
				fd, err := rd.ResolveDict(cf.Get("FontDescriptor"))
				if err != nil {
					t.Fatal(err)
				}
				ref := fd.Get("FontFile2").(pdf.Ref)
				fo, err := rd.Object(ref.Num)
				if err != nil {
					t.Fatal(err)
				}
				prog, err := rd.StreamData(fo.(*pdf.Stream), ref.Num, 0)
				if err != nil {
					t.Fatal(err)
				}
				f, err := LoadFont(prog)
				if err != nil {
					t.Fatalf("the embedded font program: %v", err)
				}
				// the subset holds .notdef, the letters of the name and
				// date, and the space; no more.
				if f.numGlyphs < 10 || f.numGlyphs > 40 {
					t.Errorf("the subset holds %d glyphs", f.numGlyphs)
				}
				if g, ok := f.GlyphIndex('И'); !ok || g == 0 {
					t.Error("the subset's cmap lacks И")
				}
				// /W gives each CID (= glyph of the subset) the font's
				// advance.
				w := cf.Get("W").(pdf.Array)
				if len(w) != 2 || w[0] != pdf.Integer(0) {
					t.Fatalf("/W %v: want [0 [widths]]", w)
				}
				ws := w[1].(pdf.Array)
				if len(ws) != f.numGlyphs {
					t.Fatalf("/W gives %d widths for %d glyphs", len(ws), f.numGlyphs)
				}
				for g, v := range ws {
					if want := pdf.Integer(roundDiv(f.advance(g)*1000, f.unitsPerEm)); v != want {
						t.Errorf("/W of CID %d: %v, want %v", g, v, want)
					}
				}
			})
		}
	}
}
