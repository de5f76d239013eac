package appearance

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"hashsign/internal/testenv"
	"hashsign/pades/internal/pdf"
)

// pdf.Update is the Writer the pades package passes to Render.
var _ Writer = (*pdf.Update)(nil)

// memWriter collects the objects Render writes, for a test PDF.
type memWriter struct {
	next int
	objs map[int][]byte
}

func newMemWriter(first int) *memWriter { return &memWriter{next: first, objs: map[int][]byte{}} }

func (m *memWriter) Alloc() int {
	n := m.next
	m.next++
	return n
}

func (m *memWriter) WriteObject(num, gen int, o pdf.Object) error {
	b, err := pdf.AppendObject(nil, o, nil)
	if err != nil {
		return err
	}
	m.objs[num] = b
	return nil
}

func (m *memWriter) WriteStream(num int, d *pdf.Dict, data []byte) error {
	d = d.Clone()
	d.Set("Length", pdf.Integer(len(data)))
	b, err := pdf.AppendObject(nil, d, nil)
	if err != nil {
		return err
	}
	b = append(b, "\nstream\n"...)
	b = append(b, data...)
	m.objs[num] = append(b, "\nendstream"...)
	return nil
}

// page is the page a test appearance lands on.
type page struct {
	mediaBox [4]float64
	rotate   int
	rect     [4]float64 // the widget's /Rect, in default user space
}

// upright returns the size of the widget as the reader sees it.
func (p page) upright() (w, h float64) {
	w, h = p.rect[2]-p.rect[0], p.rect[3]-p.rect[1]
	if p.rotate%180 != 0 {
		w, h = h, w
	}
	return w, h
}

// testPDF renders s into a one-page PDF whose signature field's widget
// shows it on p.
func testPDF(t *testing.T, s *Spec, p page) []byte {
	t.Helper()
	m := newMemWriter(10)
	form, err := Render(m, s)
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	num := func(v float64) string { return formatNum(v) }
	box := func(b [4]float64) string {
		return fmt.Sprintf("[%s %s %s %s]", num(b[0]), num(b[1]), num(b[2]), num(b[3]))
	}
	m.objs[1] = []byte("<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [5 0 R] /SigFlags 1 >> >>")
	m.objs[2] = []byte("<< /Type /Pages /Kids [3 0 R] /Count 1 >>")
	m.objs[3] = fmt.Appendf(nil, "<< /Type /Page /Parent 2 0 R /MediaBox %s /Rotate %d /Resources << >> /Contents 4 0 R /Annots [5 0 R] >>",
		box(p.mediaBox), p.rotate)
	m.objs[4] = []byte("<< /Length 0 >>\nstream\n\nendstream")
	m.objs[5] = fmt.Appendf(nil, "<< /Type /Annot /Subtype /Widget /FT /Sig /T (Signature1) /F 132 /P 3 0 R /Rect %s /AP << /N %d 0 R >> >>",
		box(p.rect), form)
	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	offsets := make([]int, m.next)
	for i := 1; i < m.next; i++ {
		o, ok := m.objs[i]
		if !ok {
			if i < 10 {
				continue
			}
			t.Fatalf("object %d was allocated but not written", i)
		}
		offsets[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", m.next)
	for i := 1; i < m.next; i++ {
		if offsets[i] == 0 {
			b.WriteString("0000000000 65535 f \n")
			continue
		}
		fmt.Fprintf(&b, "%010d 00000 n \n", offsets[i])
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", m.next, xref)
	return b.Bytes()
}

// run runs a tool and returns its standard output; its standard error must
// stay empty.
func run(t *testing.T, name string, args ...string) []byte {
	t.Helper()
	path := testenv.Need(t, name, ".ci/test installs it")
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(path, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.Bytes())
	}
	for l := range strings.Lines(stderr.String()) {
		// Debian's MuPDF is built without colour management and says so
		// on every run; that says nothing of the file.
		if strings.TrimSpace(l) == "warning: ICC support is not available" {
			continue
		}
		t.Fatalf("%s %s warns:\n%s", name, strings.Join(args, " "), stderr.Bytes())
	}
	return stdout.Bytes()
}

// render rasterizes the first page of file at 72 dpi with poppler.
func render(t *testing.T, file string) image.Image {
	t.Helper()
	out := filepath.Join(t.TempDir(), "page")
	run(t, "pdftoppm", "-r", "72", "-png", "-singlefile", file, out)
	f, err := os.Open(out + ".png")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// deviceRect returns the widget's rectangle in the pixels of a 72 dpi
// render of p (x to the right, y down).
func deviceRect(p page) image.Rectangle {
	mb := p.mediaBox
	tr := func(x, y float64) (float64, float64) {
		switch p.rotate {
		case 90:
			return y - mb[1], x - mb[0]
		case 180:
			return mb[2] - x, y - mb[1]
		case 270:
			return mb[3] - y, mb[2] - x
		}
		return x - mb[0], mb[3] - y
	}
	x0, y0 := tr(p.rect[0], p.rect[1])
	x1, y1 := tr(p.rect[2], p.rect[3])
	return image.Rect(int(x0+0.5), int(y0+0.5), int(x1+0.5), int(y1+0.5)).Canon()
}

// ink is what a render shows in and around the widget.
type ink struct {
	inside, outside int // non-white pixels
	edge            int // non-white pixels inside the widget but within 2 pixels of its border
	grey            int // pixels of the grey of the test images (60 of 255)
	red             int // strongly red pixels (the test images)
	redX, darkX     float64
	redY, darkY     float64 // centroids of red and of dark pixels, relative to the rectangle: 0 left/top, 1 right/bottom
}

func measureInk(img image.Image, r image.Rectangle) ink {
	var k ink
	var darkN int
	grow := r.Inset(-1)
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
			if c.R > 250 && c.G > 250 && c.B > 250 {
				continue
			}
			if !(image.Point{x, y}).In(grow) {
				k.outside++
				continue
			}
			k.inside++
			if !(image.Point{x, y}).In(r.Inset(2)) {
				k.edge++
			}
			if c.R >= 45 && c.R <= 75 && c.G >= 45 && c.G <= 75 && c.B >= 45 && c.B <= 75 {
				k.grey++
			}
			fx := (float64(x-r.Min.X) + 0.5) / float64(r.Dx())
			fy := (float64(y-r.Min.Y) + 0.5) / float64(r.Dy())
			switch {
			case c.R > 180 && c.G < 90 && c.B < 90:
				k.red++
				k.redX += fx
				k.redY += fy
			case c.R < 140 && c.G < 140 && c.B < 140:
				darkN++
				k.darkX += fx
				k.darkY += fy
			}
		}
	}
	if k.red > 0 {
		k.redX /= float64(k.red)
		k.redY /= float64(k.red)
	}
	if darkN > 0 {
		k.darkX /= float64(darkN)
		k.darkY /= float64(darkN)
	}
	return k
}
