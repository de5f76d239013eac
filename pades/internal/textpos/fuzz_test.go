package textpos

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"testing"

	"hashsign/pades/internal/pdf"
)

// fuzzFile builds a page whose content, a Form XObject that draws itself
// and an annotation's appearance all are content, with a simple font, a
// Type0 font whose /ToUnicode is cmap and one whose /Encoding is cmap.
func fuzzFile(content, cmap []byte) []byte {
	b := &pdfBuilder{}
	f1 := b.simpleFont("Helvetica", "/Encoding << /Differences [1 /numbersign /s /i /g /n] >>")
	cm1 := b.stream("", string(cmap))
	cm2 := b.stream("/Type /CMap /CMapName /Fuzz", string(cmap))
	cid := b.add("<< /Type /Font /Subtype /CIDFontType0 /BaseFont /Fuzz /CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> /DW 900 /W [1 [500 600] 10 20 700] /W2 [1 [-900 400 800]] >>")
	f2 := b.add(fmt.Sprintf("<< /Type /Font /Subtype /Type0 /BaseFont /Fuzz /Encoding /Identity-H /DescendantFonts [%d 0 R] /ToUnicode %d 0 R >>", cid, cm1))
	f3 := b.add(fmt.Sprintf("<< /Type /Font /Subtype /Type0 /BaseFont /Fuzz /Encoding %d 0 R /DescendantFonts [%d 0 R] >>", cm2, cid))
	res := fmt.Sprintf("/Font << /F1 %d 0 R /F2 %d 0 R /F3 %d 0 R >>", f1, f2, f3)
	x := b.reserve()
	b.set(x, fmt.Sprintf("<< /Type /XObject /Subtype /Form /BBox [0 0 100 100] /Matrix [0.5 0 0 0.5 10 10] /Resources << %s /XObject << /X %d 0 R >> >> /Length %d >>\nstream\n%s\nendstream", res, x, len(content)+1, content))
	annot := b.add(fmt.Sprintf("<< /Type /Annot /Subtype /FreeText /Rect [10 10 200 200] /AP << /N %d 0 R >> >>", x))
	pagesNum := b.reserve()
	cs := b.stream("", string(content))
	pg := b.add(fmt.Sprintf("<< /Type /Page /Parent %d 0 R /MediaBox [0 0 612 792] /Resources << %s /XObject << /X %d 0 R >> >> /Contents %d 0 R /Annots [%d 0 R] >>", pagesNum, res, x, cs, annot))
	b.set(pagesNum, fmt.Sprintf("<< /Type /Pages /Kids [%d 0 R] /Count 1 >>", pg))
	return b.bytes(b.add(fmt.Sprintf("<< /Type /Catalog /Pages %d 0 R >>", pagesNum)))
}

// FuzzFind interprets hostile content streams and CMaps within small
// limits: it must end without a panic, within its limits, and give only
// places at finite coordinates.
func FuzzFind(f *testing.F) {
	const toUni = "/CIDInit /ProcSet findresource begin 1 begincodespacerange <0000> <FFFF> endcodespacerange 2 beginbfrange <0023> <0023> <0023> <0061> <007A> [<0061> <0062>] endbfrange 1 beginbfchar <0031> <0031> endbfchar 1 begincidrange <0000> <FFFF> 0 endcidrange end"
	for _, c := range handCases() {
		// the content streams of the hand-built cases
		rd, cat := open(f, c.file, "")
		for p := range rd.Pages(cat) {
			o, _ := rd.Resolve(p.Dict.Get("Contents"))
			for _, s := range o.(pdf.Array) {
				st, _ := rd.Resolve(s)
				data, _ := rd.StreamData(st.(*pdf.Stream), s.(pdf.Ref).Num, 0)
				f.Add(data, []byte(toUni))
			}
		}
	}
	f.Add([]byte("BT /F2 12 Tf <0023007300690067> Tj /F3 10 Tf <00230073> Tj /F1 9 Tf (\001\002\003) Tj ET /X Do"), []byte(toUni))
	f.Add([]byte("q 1e308 0 0 1e308 0 0 cm BT /F1 1e300 Tf 1 Tz (#sig) Tj ET Q BI /W 1 ID x EI [(a) 1e309 (b)] TJ"), []byte("<< >> begincmap 1 beginbfrange <00> <FF> <D800> endbfrange"))
	f.Add([]byte("/X Do /X Do q q q Q Q Q Q BT 0 0 0 0 0 0 Tm (#signature1#) Tj ET"), []byte("1 begincodespacerange <00000000> <FFFFFFFF> endcodespacerange 1 begincidchar <01> 1 endcidchar"))
	f.Fuzz(func(t *testing.T, content, cmap []byte) {
		file := fuzzFile(content, cmap)
		rd, err := pdf.OpenBudget(bytes.NewReader(file), int64(len(file)), pdf.Budget{Memory: 4 << 20})
		if err != nil {
			t.Fatal(err) // the file is well formed around the fuzzed streams
		}
		cat, _ := rd.ResolveDict(rd.Trailer.Get("Root"))
		for _, text := range []string{"#sig", "#signature1#"} {
			places, err := Find(context.Background(), rd, rd.Pages(cat), text, Limits{Operations: 200_000, Depth: 4, Memory: 1 << 20})
			if err != nil {
				continue
			}
			for _, p := range places {
				for _, v := range []float64{p.X, p.Y, p.Width, p.FontSize, p.Angle} {
					if math.IsNaN(v) || math.IsInf(v, 0) {
						t.Fatalf("%s: a place at %+v", text, p)
					}
				}
			}
		}
	})
}
