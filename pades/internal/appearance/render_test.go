package appearance

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"hashsign/internal/testenv"
)

const cjkFont = "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"

var red = color.NRGBA{R: 230, G: 20, B: 20, A: 255}

// testImage returns an 40x30 image of the given kind, red where it is
// opaque; the PNG kinds with alpha have a transparent border.
func testImage(t testing.TB, kind string) []byte {
	t.Helper()
	const w, h = 40, 30
	border := func(x, y int) bool { return x < 5 || y < 5 || x >= w-5 || y >= h-5 }
	var img image.Image
	switch kind {
	case "png-rgba":
		m := image.NewNRGBA(image.Rect(0, 0, w, h))
		for y := range h {
			for x := range w {
				if !border(x, y) {
					m.SetNRGBA(x, y, red)
				}
			}
		}
		img = m
	case "png-rgb16":
		m := image.NewNRGBA64(image.Rect(0, 0, w, h))
		for y := range h {
			for x := range w {
				c := color.NRGBA64{R: 0xE600, G: 0x1400, B: 0x1400, A: 0xFFFF}
				if border(x, y) {
					c.A = 0
				}
				m.SetNRGBA64(x, y, c)
			}
		}
		img = m
	case "png-palette":
		m := image.NewPaletted(image.Rect(0, 0, w, h), color.Palette{color.NRGBA{}, red})
		for y := range h {
			for x := range w {
				if !border(x, y) {
					m.SetColorIndex(x, y, 1)
				}
			}
		}
		img = m
	case "png-gray", "jpeg-gray":
		m := image.NewGray(image.Rect(0, 0, w, h))
		for i := range m.Pix {
			m.Pix[i] = 60
		}
		img = m
	case "png-gray16":
		m := image.NewGray16(image.Rect(0, 0, w, h))
		for y := range h {
			for x := range w {
				m.SetGray16(x, y, color.Gray16{Y: 0x3C00})
			}
		}
		img = m
	case "jpeg-rgb":
		m := image.NewRGBA(image.Rect(0, 0, w, h))
		for y := range h {
			for x := range w {
				m.Set(x, y, red)
			}
		}
		img = m
	case "jpeg-cmyk":
		// made by ImageMagick: convert -size 24x16 xc:'cmyk(0,255,255,0)'
		// -colorspace CMYK cmyk-red.jpg (Adobe APP14, inverted CMYK)
		b, err := os.ReadFile("testdata/cmyk-red.jpg")
		if err != nil {
			t.Fatal(err)
		}
		return b
	default:
		t.Fatalf("unknown image kind %q", kind)
	}
	var buf bytes.Buffer
	var err error
	if strings.HasPrefix(kind, "jpeg") {
		err = jpeg.Encode(&buf, img, &jpeg.Options{Quality: 95})
	} else {
		err = png.Encode(&buf, img)
	}
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

var (
	flatPage    = page{mediaBox: [4]float64{0, 0, 300, 200}, rect: [4]float64{40, 50, 240, 130}}
	offsetPage  = page{mediaBox: [4]float64{100, 200, 400, 400}, rect: [4]float64{140, 250, 340, 330}}
	rotate90    = page{mediaBox: [4]float64{0, 0, 300, 300}, rotate: 90, rect: [4]float64{60, 40, 140, 240}}
	rotate180   = page{mediaBox: [4]float64{0, 0, 300, 200}, rotate: 180, rect: [4]float64{40, 50, 240, 130}}
	rotate270   = page{mediaBox: [4]float64{0, 0, 300, 300}, rotate: 270, rect: [4]float64{60, 40, 140, 240}}
	signingTime = time.Date(2026, 3, 14, 15, 9, 26, 0, time.FixedZone("", 3600))
)

// TestRender renders appearances into one-page PDFs and judges them with
// poppler, qpdf and MuPDF: ink lands inside the widget and nowhere else,
// the image sits left of the text whatever the page's rotation, the fonts
// are the standard font or an embedded subset, and the text extracts.
func TestRender(t *testing.T) {
	cases := []struct {
		name     string
		spec     Spec
		page     page
		fontFile string
		image    string
		text     []string // what pdftotext must return
		font     string   // "Helvetica" or "subset": what pdffonts must list
		wantRed  bool     // the image shows red (left of the text when there is text)
		behind   bool     // the image is centred behind the text
		wantGrey bool     // the image shows its grey (60 of 255)
	}{
		{name: "latin", spec: Spec{Name: "Jane Q. Signer", Reason: "I approve", Location: "Zürich", Date: signingTime},
			page: flatPage, text: []string{"Jane Q. Signer", "Reason: I approve", "Location: Zürich", "Date: 2026-03-14 15:09:26 +01:00"}, font: "Helvetica"},
		{name: "latin-png-alpha", spec: Spec{Name: "Jane Q. Signer", Date: signingTime}, image: "png-rgba",
			page: flatPage, text: []string{"Jane Q. Signer"}, font: "Helvetica", wantRed: true},
		{name: "png-16bit", spec: Spec{Name: "Jane Q. Signer"}, image: "png-rgb16", page: flatPage, text: []string{"Jane Q. Signer"}, font: "Helvetica", wantRed: true},
		{name: "png-palette", spec: Spec{Name: "Jane Q. Signer"}, image: "png-palette", page: flatPage, text: []string{"Jane Q. Signer"}, font: "Helvetica", wantRed: true},
		{name: "png-gray", spec: Spec{Name: "Jane Q. Signer"}, image: "png-gray", page: flatPage, text: []string{"Jane Q. Signer"}, font: "Helvetica", wantGrey: true},
		{name: "png-gray16", spec: Spec{Name: "Jane Q. Signer"}, image: "png-gray16", page: flatPage, text: []string{"Jane Q. Signer"}, font: "Helvetica", wantGrey: true},
		{name: "jpeg-rgb", spec: Spec{Name: "Jane Q. Signer"}, image: "jpeg-rgb", page: flatPage, text: []string{"Jane Q. Signer"}, font: "Helvetica", wantRed: true},
		{name: "jpeg-gray", spec: Spec{Name: "Jane Q. Signer"}, image: "jpeg-gray", page: flatPage, text: []string{"Jane Q. Signer"}, font: "Helvetica", wantGrey: true},
		{name: "jpeg-cmyk", spec: Spec{Name: "Jane Q. Signer"}, image: "jpeg-cmyk", page: flatPage, text: []string{"Jane Q. Signer"}, font: "Helvetica", wantRed: true},
		{name: "image-behind", spec: Spec{Name: "Jane Q. Signer", Template: mustTemplate(t, "image=behind")}, image: "png-rgba",
			page: flatPage, text: []string{"Jane Q. Signer"}, font: "Helvetica", wantRed: true, behind: true},
		{name: "wrap", spec: Spec{Name: "Jane Q. Signer", Reason: "I have read and approve every page of this agreement and its annexes",
			Template: mustTemplate(t, "lines=name,reason;size=14;minsize=8")},
			page: flatPage, text: []string{"Jane Q. Signer", "Reason: I have", "agreement", "annexes"}, font: "Helvetica"},
		{name: "image-only", spec: Spec{}, image: "png-rgba", page: flatPage, wantRed: true},
		{name: "cyrillic", spec: Spec{Name: "Иван Петрович Сидоров", Reason: "Согласовано", Date: signingTime},
			page: flatPage, text: []string{"Иван Петрович Сидоров", "Reason: Согласовано"}, font: "subset"},
		{name: "arabic", spec: Spec{Name: "سلام عبد الرحمن", Location: "القاهرة"},
			page: flatPage, text: []string{"سلام عبد الرحمن", "القاهرة"}, font: "subset"},
		{name: "arabic-long", spec: Spec{Name: "سلام عبد الرحمن", Reason: strings.Repeat("أوافق على جميع بنود هذا العقد وملحقاته ", 6),
			Template: mustTemplate(t, "lines=name,reason;labels=off;minsize=3")},
			page: flatPage, text: []string{"سلام عبد الرحمن", "ملحقاته"}, font: "subset"},
		{name: "chinese", spec: Spec{Name: "张伟", Reason: "同意", Date: signingTime}, fontFile: cjkFont,
			page: flatPage, text: []string{"张伟", "同意"}, font: "subset"},
		{name: "embed-latin", spec: Spec{Name: "Jane Q. Signer", Embed: true}, page: flatPage, text: []string{"Jane Q. Signer"}, font: "subset"},
		{name: "mediabox-offset", spec: Spec{Name: "Jane Q. Signer", Date: signingTime}, image: "png-rgba",
			page: offsetPage, text: []string{"Jane Q. Signer"}, font: "Helvetica", wantRed: true},
		{name: "rotate90", spec: Spec{Name: "Jane Q. Signer", Rotate: 90}, image: "png-rgba",
			page: rotate90, text: []string{"Jane Q. Signer"}, font: "Helvetica", wantRed: true},
		{name: "rotate180", spec: Spec{Name: "Jane Q. Signer", Rotate: 180}, image: "png-rgba",
			page: rotate180, text: []string{"Jane Q. Signer"}, font: "Helvetica", wantRed: true},
		{name: "rotate270-arabic", spec: Spec{Name: "سلام عبد الرحمن", Rotate: 270}, image: "png-rgba",
			page: rotate270, text: []string{"سلام عبد الرحمن"}, font: "subset", wantRed: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := c.spec
			s.Width, s.Height = c.page.upright()
			if c.image != "" {
				s.Image = testImage(t, c.image)
			}
			if c.fontFile != "" {
				testenv.Need(t, c.fontFile, ".ci/test installs it")
				data, err := os.ReadFile(c.fontFile)
				if err != nil {
					t.Fatal(err)
				}
				if s.Font, err = LoadFont(data); err != nil {
					t.Fatal(err)
				}
			}
			file := filepath.Join(t.TempDir(), c.name+".pdf")
			if err := os.WriteFile(file, testPDF(t, &s, c.page), 0o644); err != nil {
				t.Fatal(err)
			}
			checkFile(t, file)

			r := deviceRect(c.page)
			k := measureInk(render(t, file), r)
			if k.outside > 0 {
				t.Errorf("%d pixels of ink outside the widget %v", k.outside, r)
			}
			if k.inside < 50 {
				t.Errorf("only %d pixels of ink inside the widget %v", k.inside, r)
			}
			if k.edge > 0 {
				t.Errorf("%d pixels of ink at the border of the widget %v: the content is clipped", k.edge, r)
			}
			// (anti-aliased text has some grey pixels too)
			if c.wantGrey && k.grey < 1500 {
				t.Errorf("grey pixels: %d, want the image's grey", k.grey)
			}
			if c.wantRed != (k.red > 100) {
				t.Errorf("red pixels: %d, want red: %v", k.red, c.wantRed)
			}
			if c.behind {
				if k.redX < 0.4 || k.redX > 0.6 || k.redY < 0.4 || k.redY > 0.6 || k.darkX < 0.2 || k.darkX > 0.8 {
					t.Errorf("image at (%.2f, %.2f), text at (%.2f, %.2f) of the widget: want both centred",
						k.redX, k.redY, k.darkX, k.darkY)
				}
			} else if c.wantRed && len(c.text) > 0 {
				// Upright, the image is left of the text and centred
				// vertically.
				if !(k.redX < 0.3 && k.darkX > k.redX+0.2) || k.redY < 0.4 || k.redY > 0.6 {
					t.Errorf("image at (%.2f, %.2f), text at (%.2f, %.2f) of the widget: want the image left and centred",
						k.redX, k.redY, k.darkX, k.darkY)
				}
			}
			if len(c.text) > 0 {
				checkFonts(t, file, c.font)
			}
			got := extractText(t, file)
			for _, want := range c.text {
				if !strings.Contains(got, want) {
					t.Errorf("pdftotext returns %q, which lacks %q", got, want)
				}
			}
		})
	}
}

// extractText returns the text of file as pdftotext gives it, with runs of
// white space as one space and without the bidirectional embedding marks
// it puts around right-to-left text.
func extractText(t *testing.T, file string) string {
	t.Helper()
	out := strings.Map(func(r rune) rune {
		if r >= 0x202A && r <= 0x202E || r == 0x200E || r == 0x200F {
			return -1
		}
		return r
	}, string(run(t, "pdftotext", file, "-")))
	return strings.Join(strings.Fields(out), " ")
}

func mustTemplate(t *testing.T, s string) *Template {
	t.Helper()
	tp, err := ParseTemplate(s)
	if err != nil {
		t.Fatal(err)
	}
	return tp
}

// checkFile runs qpdf --check and MuPDF on file: both must pass without
// warnings.
func checkFile(t *testing.T, file string) {
	t.Helper()
	out := run(t, "qpdf", "--check", file)
	if !bytes.Contains(out, []byte("No syntax or stream encoding errors found")) {
		t.Errorf("qpdf --check:\n%s", out)
	}
	run(t, "mutool", "draw", "-q", "-r", "72", "-o", filepath.Join(t.TempDir(), "mu.png"), file)
}

var subsetName = regexp.MustCompile(`^[A-Z]{6}\+\S+$`)

// checkFonts checks the pdffonts listing: the standard font Helvetica, not
// embedded, or one embedded subset CID TrueType font with a ToUnicode map.
func checkFonts(t *testing.T, file, want string) {
	t.Helper()
	out := string(run(t, "pdffonts", file))
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 3 {
		t.Fatalf("pdffonts lists no font:\n%s", out)
	}
	for _, l := range lines[2:] {
		f := strings.Fields(l)
		if len(f) < 7 {
			t.Fatalf("pdffonts line %q", l)
		}
		// name type... emb sub uni object gen
		n := len(f)
		name, emb, sub, uni := f[0], f[n-5], f[n-4], f[n-3]
		typ := strings.Join(f[1:n-6], " ")
		switch want {
		case "Helvetica":
			if name != "Helvetica" || typ != "Type 1" || emb != "no" {
				t.Errorf("pdffonts: %q, want Helvetica, Type 1, not embedded", l)
			}
		case "subset":
			if !subsetName.MatchString(name) || typ != "CID TrueType" || emb != "yes" || sub != "yes" || uni != "yes" {
				t.Errorf("pdffonts: %q, want an embedded subset CID TrueType font with ToUnicode", l)
			}
		}
	}
}
