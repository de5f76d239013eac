package pdfgen

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Layout describes a document with chosen page geometry and form fields,
// for tests of visible signatures. Its Bytes are a PDF 1.7 file with a
// classic cross-reference table.
type Layout struct {
	Pages  []Page
	Fields []Field
}

// Page is a page of a Layout.
type Page struct {
	// MediaBox is the page's /MediaBox (default: A4, 595 by 842, at 0,0).
	MediaBox [4]float64
	// CropBox, when not nil, is the page's /CropBox.
	CropBox *[4]float64
	// Rotate is the page's /Rotate.
	Rotate int
	// Content is the page's content stream, with Helvetica as /F1 (default:
	// a tinted background over the whole media box, a grid every 36 points
	// and a line of text, so that a change anywhere shows when rendered).
	Content string
	// Inherit puts MediaBox and Rotate on the page's parent node, from
	// which the page inherits them.
	Inherit bool
}

// Field is a form field of a Layout.
type Field struct {
	// Name is the fully qualified name; its parts, separated by '.',
	// become parent fields that hold only /T and /Kids.
	Name string
	// Type is the field type: "Sig" (default) or "Tx".
	Type string
	// Page is the page of the widget (1-based; default 1).
	Page int
	// Rect is the widget's /Rect (zero: an invisible widget).
	Rect [4]float64
	// SeparateWidget makes the widget a kid of the field instead of
	// merging the two, and leaves /P out of it.
	SeparateWidget bool
	// Lock is written as the field's /Lock, such as
	// "<< /Type /SigFieldLock /Action /All >>".
	Lock string
	// Flags is the widget's /F (default 4, print).
	Flags int
}

// Bytes returns the PDF file of the layout.
func (l Layout) Bytes() ([]byte, error) {
	pages := l.Pages
	if len(pages) == 0 {
		pages = []Page{{}}
	}
	var objs []string // objs[i] is object i+1
	add := func(s string) int { objs = append(objs, s); return len(objs) }
	set := func(n int, s string) { objs[n-1] = s }
	catalog := add("")
	root := add("")
	font := add("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
	var pageNums, kids []int
	for i, p := range pages {
		media := p.MediaBox
		if media == ([4]float64{}) {
			media = [4]float64{0, 0, pageWidth, pageHeight}
		}
		content := p.Content
		if content == "" {
			content = defaultContent(media, i+1)
		}
		cs := add(fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(content)+1, content))
		parent := root
		if p.Inherit {
			parent = add("")
			set(parent, fmt.Sprintf("<< /Type /Pages /Parent %d 0 R /Kids [%d 0 R] /Count 1 /MediaBox %s /Rotate %d >>", root, len(objs)+1, pdfRect(media), p.Rotate))
		}
		var geom string
		if !p.Inherit {
			geom = fmt.Sprintf(" /MediaBox %s", pdfRect(media))
			if p.Rotate != 0 {
				geom += fmt.Sprintf(" /Rotate %d", p.Rotate)
			}
		}
		if p.CropBox != nil {
			geom += fmt.Sprintf(" /CropBox %s", pdfRect(*p.CropBox))
		}
		pageNums = append(pageNums, add(fmt.Sprintf("<< /Type /Page /Parent %d 0 R%s /Resources << /Font << /F1 %d 0 R >> >> /Contents %d 0 R ANNOTS >>", parent, geom, font, cs)))
		if p.Inherit {
			kids = append(kids, parent)
		} else {
			kids = append(kids, pageNums[i])
		}
	}
	set(root, fmt.Sprintf("<< /Type /Pages /Kids %s /Count %d >>", refArray(kids), len(pages)))

	annots := make([][]int, len(pages))
	var topFields []int
	parentOf := map[string]int{} // a parent field's name -> its object
	kidsOf := map[int][]int{}
	for _, f := range l.Fields {
		if f.Name == "" {
			return nil, errors.New("pdfgen: a field without a name")
		}
		page := max(f.Page, 1)
		if page > len(pages) {
			return nil, fmt.Errorf("pdfgen: field %q on page %d of %d", f.Name, page, len(pages))
		}
		parts := strings.Split(f.Name, ".")
		parent := 0
		for i := range parts[:len(parts)-1] {
			name := strings.Join(parts[:i+1], ".")
			n, ok := parentOf[name]
			if !ok {
				n = add("")
				parentOf[name] = n
				if parent == 0 {
					topFields = append(topFields, n)
				} else {
					kidsOf[parent] = append(kidsOf[parent], n)
				}
			}
			parent = n
		}
		ft := f.Type
		if ft == "" {
			ft = "Sig"
		}
		flags := f.Flags
		if flags == 0 {
			flags = 4
		}
		field := fmt.Sprintf("/FT /%s /T %s", ft, pdfText(parts[len(parts)-1]))
		if parent != 0 {
			field += fmt.Sprintf(" /Parent %d 0 R", parent)
		}
		if f.Lock != "" {
			field += " /Lock " + f.Lock
		}
		widget := fmt.Sprintf("/Type /Annot /Subtype /Widget /Rect %s /F %d", pdfRect(f.Rect), flags)
		var num, wnum int
		if f.SeparateWidget {
			num = add("")
			wnum = add(fmt.Sprintf("<< %s /Parent %d 0 R >>", widget, num))
			set(num, fmt.Sprintf("<< %s /Kids [%d 0 R] >>", field, wnum))
		} else {
			num = add(fmt.Sprintf("<< %s %s /P %d 0 R >>", field, widget, pageNums[page-1]))
			wnum = num
		}
		annots[page-1] = append(annots[page-1], wnum)
		if parent == 0 {
			topFields = append(topFields, num)
		} else {
			kidsOf[parent] = append(kidsOf[parent], num)
		}
	}
	for name, n := range parentOf {
		parts := strings.Split(name, ".")
		d := fmt.Sprintf("<< /T %s /Kids %s", pdfText(parts[len(parts)-1]), refArray(kidsOf[n]))
		if len(parts) > 1 {
			d += fmt.Sprintf(" /Parent %d 0 R", parentOf[strings.Join(parts[:len(parts)-1], ".")])
		}
		set(n, d+" >>")
	}
	for i, n := range pageNums {
		a := ""
		if len(annots[i]) > 0 {
			a = "/Annots " + refArray(annots[i])
		}
		set(n, strings.Replace(objs[n-1], "ANNOTS", a, 1))
	}
	cat := fmt.Sprintf("<< /Type /Catalog /Pages %d 0 R", root)
	if len(l.Fields) > 0 {
		cat += fmt.Sprintf(" /AcroForm << /Fields %s >>", refArray(topFields))
	}
	set(catalog, cat+" >>")

	return Objects(catalog, objs), nil
}

// Objects returns a PDF 1.7 file of the objects objs, object i+1 being
// objs[i] (the text between "obj" and "endobj"), with a classic
// cross-reference table; catalog is the number of the document catalog.
func Objects(catalog int, objs []string) []byte {
	return Raw(fmt.Sprintf("/Root %d 0 R /ID [<%x> <%x>]", catalog, "hashsign-layout", "hashsign-layout"), objs)
}

// Raw is Objects with the trailer's entries but /Size given as PDF text
// (such as "/Root 1 0 R /Encrypt 3 0 R"). It writes what it is given:
// objects and entries that break the rules make a file that breaks them,
// as tests of hostile input want.
func Raw(trailer string, objs []string) []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	offsets := make([]int, len(objs))
	for i, o := range objs {
		offsets[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f\r\n", len(objs)+1)
	for _, off := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n\r\n", off)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d %s >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, trailer, xref)
	return b.Bytes()
}

func pdfRect(r [4]float64) string {
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	return "[" + f(r[0]) + " " + f(r[1]) + " " + f(r[2]) + " " + f(r[3]) + "]"
}

// defaultContent tints the media box, draws a grid every 36 points and a
// line of text.
func defaultContent(m [4]float64, page int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "0.93 0.95 1 rg %g %g %g %g re f\n", m[0], m[1], m[2]-m[0], m[3]-m[1])
	b.WriteString("0.6 0.7 0.8 RG 0.5 w\n")
	for x := m[0]; x <= m[2]; x += 36 {
		fmt.Fprintf(&b, "%g %g m %g %g l S\n", x, m[1], x, m[3])
	}
	for y := m[1]; y <= m[3]; y += 36 {
		fmt.Fprintf(&b, "%g %g m %g %g l S\n", m[0], y, m[2], y)
	}
	fmt.Fprintf(&b, "BT 0 g /F1 14 Tf %g %g Td (hashsign layout test, page %d) Tj ET", m[0]+40, m[3]-60, page)
	return b.String()
}
