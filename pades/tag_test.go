package pades_test

import (
	"html"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"hashsign/internal/testenv"
	"hashsign/pades"
	"hashsign/testdata/pdfgen"
)

// tagDoc makes the PDF of testdata/tags/contract.ms with groff (gropdf) or
// of contract.tex with pdflatex, in dir.
func tagDoc(t *testing.T, tool, dir string) string {
	t.Helper()
	var cmd *exec.Cmd
	switch tool {
	case "groff":
		testenv.Need(t, "gropdf", "")
		cmd = exec.Command(testenv.Need(t, "groff", ""), "-ms", "-Tpdf", "contract.ms")
		out, err := os.Create(filepath.Join(dir, "contract-groff.pdf"))
		if err != nil {
			t.Fatal(err)
		}
		defer out.Close()
		cmd.Stdout = out
	case "pdflatex":
		cmd = exec.Command(testenv.Need(t, "pdflatex", ""), "-interaction=batchmode", "-halt-on-error", "-jobname", "contract-pdflatex", "contract.tex")
	}
	for _, src := range []string{"contract.ms", "contract.tex"} {
		b, err := os.ReadFile(filepath.Join("..", "testdata", "tags", src))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, src), b, 0o644)
	}
	cmd.Dir = dir
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v\n%s", tool, err, stderr.String())
	}
	return filepath.Join(dir, "contract-"+tool+".pdf")
}

// wordBox is a word of pdftotext -bbox: its box from the top-left corner
// of the page as shown, y downwards.
type wordBox struct {
	page                   int
	xMin, yMin, xMax, yMax float64
}

var reWord = regexp.MustCompile(`<word xMin="([-\d.]+)" yMin="([-\d.]+)" xMax="([-\d.]+)" yMax="([-\d.]+)">([^<]*)</word>`)

// pdftotextWords returns the boxes of the words equal to text.
func pdftotextWords(t *testing.T, path, text string) []wordBox {
	t.Helper()
	out, err := exec.Command(testenv.Need(t, "pdftotext", ""), "-bbox", path, "-").Output()
	if err != nil {
		t.Fatalf("pdftotext -bbox: %v", err)
	}
	var words []wordBox
	page := 0
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, "<page ") {
			page++
		}
		m := reWord.FindStringSubmatch(line)
		if m == nil || html.UnescapeString(m[5]) != text {
			continue
		}
		w := wordBox{page: page}
		for i, p := range []*float64{&w.xMin, &w.yMin, &w.xMax, &w.yMax} {
			*p, _ = strconv.ParseFloat(m[i+1], 64)
		}
		words = append(words, w)
	}
	return words
}

// origin is where MuPDF says a character is drawn: the start of its
// baseline, in points from the top-left corner of the page as shown, y
// downwards.
type origin struct {
	page int
	x, y float64
}

var (
	rePage = regexp.MustCompile(`<page id="page(\d+)"`)
	reChar = regexp.MustCompile(`<char [^>]* x="([-\d.]+)" y="([-\d.]+)" [^>]*c="([^"]*)"/>`)
)

// tagOrigins returns the baseline origin of the first character of each
// place where text is drawn, as mutool draw -F stext (MuPDF's structured
// text, which gives each character's origin) reads the file.
func tagOrigins(t *testing.T, path, text string) []origin {
	t.Helper()
	out, err := exec.Command(testenv.Need(t, "mutool", ""), "draw", "-q", "-F", "stext", "-o", "-", path).Output()
	if err != nil {
		t.Fatalf("mutool draw -F stext: %v", err)
	}
	var found []origin
	var chars []origin
	var runes []string
	flush := func() {
		s := strings.Join(runes, "")
		for i, from := 0, 0; ; {
			j := strings.Index(s[from:], text)
			if j < 0 {
				break
			}
			// the index of the character where the match starts
			i = len([]rune(s[:from+j]))
			found = append(found, chars[i])
			from += j + len(text)
		}
		chars, runes = chars[:0], runes[:0]
	}
	page := 0
	for _, line := range strings.Split(string(out), "\n") {
		if m := rePage.FindStringSubmatch(line); m != nil {
			page, _ = strconv.Atoi(m[1])
		}
		if strings.HasPrefix(line, "</line>") {
			flush()
		}
		m := reChar.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		o := origin{page: page}
		o.x, _ = strconv.ParseFloat(m[1], 64)
		o.y, _ = strconv.ParseFloat(m[2], 64)
		c := html.UnescapeString(m[3])
		for range []rune(c) {
			chars = append(chars, o)
		}
		runes = append(runes, c)
	}
	flush()
	return found
}

// anchorDistance is how far the corner of the widget where its text starts
// (bottom left as the tag reads, turned by angle degrees on the page as
// shown) lies from the tag's baseline origin o. The widget's rectangle is
// as pages are displayed (from the bottom left); pageHeight is that of the
// displayed page.
func anchorDistance(w pades.WidgetReport, o origin, pageHeight float64, vertical bool) float64 {
	r := w.Rect
	x, y := r[0], pageHeight-r[1]
	if vertical { // reading upwards: the bottom-right corner
		x = r[0] + r[2]
	}
	return math.Hypot(x-o.x, y-o.y)
}

// overTag reports how far the field's widget lies from the tag's word: the
// corner where its text starts (bottom left as the tag reads) must be
// within 2 points of the word's start along the baseline, and the
// baseline within the word's box across it, 2 points either side. The
// widget's rectangle is as pages are displayed (from the bottom left);
// pageHeight is that of the displayed page.
func overTag(w pades.WidgetReport, word wordBox, pageHeight float64) (float64, bool) {
	const tolerance = 2.0
	r := w.Rect
	vertical := word.yMax-word.yMin > word.xMax-word.xMin
	if !vertical {
		// reading left to right: the corner is the bottom left
		x, y := r[0], pageHeight-r[1]
		d := math.Abs(x - word.xMin)
		return d, d <= tolerance && y >= word.yMin-tolerance && y <= word.yMax+tolerance
	}
	// reading upwards: the corner is the bottom right of the rectangle
	x, y := r[0]+r[2], pageHeight-r[1]
	d := math.Abs(y - word.yMax)
	return d, d <= tolerance && x >= word.xMin-tolerance && x <= word.xMax+tolerance
}

// TestTextTags signs documents that groff and pdflatex made from sources
// holding #signature1# and #signature2# (in the second, turned by a
// quarter turn): one signer over each tag, the second signing the output
// of the first. Each field lands over its tag as pdftotext -bbox places
// it, within 2 points; its corner where the text starts lies within 2
// points of the start of the tag's baseline as MuPDF gives it; and
// check-signed-pdf passes both signatures.
func TestTextTags(t *testing.T) {
	p := testPKI(t)
	signers := []pades.SignOptions{
		{Tag: "#signature1#", TagSize: pades.Size{W: 160, H: 40}, Info: pades.SignatureInfo{Reason: "customer"}},
		{Tag: "#signature2#", TagSize: pades.Size{W: 150, H: 36}, Info: pades.SignatureInfo{Reason: "provider"}},
	}
	for _, tool := range []string{"groff", "pdflatex"} {
		t.Run(tool, func(t *testing.T) {
			dir := t.TempDir()
			src := tagDoc(t, tool, dir)
			doc, err := os.ReadFile(src)
			if err != nil {
				t.Fatal(err)
			}
			for i, opts := range signers {
				o := opts
				id := p.SignerRSA
				if i == 1 {
					id = p.SignerP256
				}
				path, res := signBytes(t, doc, newSigner(t, id), &o, dir, "signed"+strconv.Itoa(i+1)+".pdf")
				words := pdftotextWords(t, src, o.Tag)
				if len(words) != 1 {
					t.Fatalf("pdftotext finds %q %d times", o.Tag, len(words))
				}
				rep := inspectFile(t, path, "")
				f := fieldReport(t, rep, res.Field)
				if len(f.Widgets) != 1 || !f.Visible || f.Widgets[0].Page != words[0].page {
					t.Fatalf("%s: the field over it: %+v", o.Tag, f)
				}
				h := render(t, path, f.Widgets[0].Page).Bounds().Dy()
				d, ok := overTag(f.Widgets[0], words[0], float64(h))
				if !ok {
					t.Errorf("%s: the field at %v is not over the tag's box %+v", o.Tag, f.Widgets[0].Rect, words[0])
				}
				t.Logf("%s: field at %v, %.2f points from the tag's start", o.Tag, f.Widgets[0].Rect, d)
				origins := tagOrigins(t, src, o.Tag)
				if len(origins) != 1 || origins[0].page != words[0].page {
					t.Fatalf("MuPDF finds %q at %+v", o.Tag, origins)
				}
				vertical := words[0].yMax-words[0].yMin > words[0].xMax-words[0].xMin
				if d := anchorDistance(f.Widgets[0], origins[0], float64(h), vertical); d > 2 {
					t.Errorf("%s: the field's corner at %v is %.2f points from the start of the tag's baseline %+v", o.Tag, f.Widgets[0].Rect, d, origins[0])
				} else {
					t.Logf("%s: the field's corner is %.2f points from the start of the tag's baseline", o.Tag, d)
				}
				if doc, err = os.ReadFile(path); err != nil {
					t.Fatal(err)
				}
			}
			if ok, report := checkSignedPDF(t, sharedDir(t), filepath.Join(dir, "signed2.pdf"), "B-B", "", 2); !ok {
				t.Errorf("check-signed-pdf:\n%s", report)
			}
		})
	}
}

// TestTagTwice: a tag drawn twice, once inside a longer string, gets one
// field with a widget over each place, and check-signed-pdf passes it.
func TestTagTwice(t *testing.T) {
	p := testPKI(t)
	doc, err := pdfgen.Layout{Pages: []pdfgen.Page{{
		Content: "BT /F1 12 Tf 72 500 Td (Initials, page one: #ini#) Tj ET\nBT /F1 10 Tf 300 200 Td (#ini#) Tj ET",
	}}}.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "in.pdf")
	os.WriteFile(src, doc, 0o644)
	path, res := signBytes(t, doc, newSigner(t, p.SignerRSA), &pades.SignOptions{Tag: "#ini#", TagSize: pades.Size{W: 60, H: 20}}, dir, "out.pdf")
	f := fieldReport(t, inspectFile(t, path, ""), res.Field)
	words := pdftotextWords(t, src, "#ini#")
	if len(f.Widgets) != 2 || len(words) != 2 {
		t.Fatalf("%d widgets over %d words: %+v", len(f.Widgets), len(words), f)
	}
	h := render(t, path, 1).Bounds().Dy()
	origins := tagOrigins(t, src, "#ini#")
	if len(origins) != 2 {
		t.Fatalf("MuPDF finds #ini# at %+v", origins)
	}
	for i, w := range f.Widgets {
		if d, ok := overTag(w, words[i], float64(h)); !ok {
			t.Errorf("widget %d at %v is not over the tag's box %+v (%.2f points off)", i, w.Rect, words[i], d)
		}
		if d := anchorDistance(w, origins[i], float64(h), false); d > 2 {
			t.Errorf("widget %d: its corner at %v is %.2f points from the start of the tag's baseline %+v", i, w.Rect, d, origins[i])
		}
	}
	if ok, report := checkSignedPDF(t, sharedDir(t), path, "B-B", "", 1); !ok {
		t.Errorf("check-signed-pdf:\n%s", report)
	}
}
