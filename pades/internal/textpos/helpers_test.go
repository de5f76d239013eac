package textpos

import (
	"bytes"
	"context"
	"errors"
	"html"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"hashsign/internal/testenv"
	"hashsign/pades/internal/crypt"
	"hashsign/pades/internal/pdf"
)

// open reads a PDF file held in b, decrypting it with password when it is
// encrypted, and returns its reader and catalog.
func open(t testing.TB, b []byte, password string) (*pdf.Reader, *pdf.Dict) {
	t.Helper()
	rd, err := pdf.Open(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatalf("opening: %v", err)
	}
	if _, err := crypt.OpenDocument(rd, []byte(password)); err != nil && !errors.Is(err, crypt.ErrNotEncrypted) {
		t.Fatalf("decrypting: %v", err)
	}
	cat, err := rd.ResolveDict(rd.Trailer.Get("Root"))
	if err != nil || cat == nil {
		t.Fatalf("catalog: %v", err)
	}
	return rd, cat
}

// findIn runs Find over every page of the PDF file b.
func findIn(t testing.TB, b []byte, password, text string) []Place {
	t.Helper()
	rd, cat := open(t, b, password)
	places, err := Find(context.Background(), rd, rd.Pages(cat), text, Limits{})
	if err != nil {
		t.Fatalf("Find(%q): %v", text, err)
	}
	return places
}

// readFile reads a file or fails the test.
func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sharedDir returns ../shared beside the repository, skipping the test
// when it is missing, unless under CI.
func sharedDir(t testing.TB) string {
	t.Helper()
	d, _ := filepath.Abs("../../../../shared")
	testenv.Need(t, filepath.Join(d, "corpus", "manifest.tsv"), "CI runs with shared/ beside the project")
	return d
}

// box is a page box in default user space.
type box struct {
	x0, y0, x1, y1 float64
	rotate         int // the page's /Rotate: 0, 90, 180 or 270
}

// toolWord is a word as pdftotext -bbox gives it, in its device space:
// from the top left corner of the page's crop box, y downwards.
type toolWord struct {
	page                   int
	xMin, yMin, xMax, yMax float64
	text                   string
}

var (
	reWordBox = regexp.MustCompile(`<word xMin="([-0-9.]+)" yMin="([-0-9.]+)" xMax="([-0-9.]+)" yMax="([-0-9.]+)">([^<]*)</word>`)
	rePage    = regexp.MustCompile(`<page width=`)
)

// popplerWords runs pdftotext -bbox on file and returns its words.
func popplerWords(t testing.TB, file, password string) []toolWord {
	t.Helper()
	args := []string{"-q", "-bbox"}
	if password != "" {
		args = append(args, "-upw", password)
	}
	out, err := exec.Command(testenv.Need(t, "pdftotext", ".ci/test installs it"), append(args, file, "-")...).Output()
	if err != nil {
		t.Fatalf("pdftotext -bbox %s: %v", file, err)
	}
	var words []toolWord
	page := 0
	for _, line := range strings.Split(string(out), "\n") {
		if rePage.MatchString(line) {
			page++
			continue
		}
		m := reWordBox.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		w := toolWord{page: page, text: html.UnescapeString(m[5])}
		for i, p := range []*float64{&w.xMin, &w.yMin, &w.xMax, &w.yMax} {
			*p, _ = strconv.ParseFloat(m[i+1], 64)
		}
		words = append(words, w)
	}
	return words
}

// toolRun is a text found in mutool's structured text: the origin of its
// first character, the end of its last one's glyph box, and the direction
// of its line, in mutool's device space (from the top left corner of the
// page, y downwards).
type toolRun struct {
	page           int
	x0, y0, x1, y1 float64
	dirX, dirY     float64
}

// In vertical writing, mutool's character origin is the left end of the
// glyph's box, while the text position (ISO 32000-1, 9.7.4.3) runs down
// the middle of the glyphs: for lines of vertical text (wmode 1), runs
// give the middle of the boxes' edges across the line instead.

var (
	reChar      = regexp.MustCompile(`<char quad="([-0-9. ]+)" x="([-0-9.]+)" y="([-0-9.]+)"[^>]* c="([^"]*)"/>`)
	reLine      = regexp.MustCompile(`<line [^>]*wmode="([01])" dir="([-0-9.]+) ([-0-9.]+)"`)
	reStextPage = regexp.MustCompile(`<page id=`)
)

// mupdfRuns runs mutool's structured-text device on file and returns each
// run of consecutive characters, within one line and leaving out white
// space (mutool puts in spaces where glyphs leave gaps), that spells
// text.
func mupdfRuns(t testing.TB, file, password, text string) []toolRun {
	t.Helper()
	args := []string{"draw", "-q", "-F", "stext", "-o", "-"}
	if password != "" {
		args = append(args, "-p", password)
	}
	out, err := exec.Command(testenv.Need(t, "mutool", ".ci/test installs it"), append(args, file)...).Output()
	if err != nil {
		t.Fatalf("mutool draw -F stext %s: %v", file, err)
	}
	type char struct {
		c            string
		x, y, ex, ey float64
	}
	var runs []toolRun
	var line []char
	page := 0
	var dirX, dirY float64
	vertical := false
	flush := func() {
		var s strings.Builder
		var idx []int // the char of each byte of s
		for i, c := range line {
			s.WriteString(c.c)
			for range len(c.c) {
				idx = append(idx, i)
			}
		}
		str := s.String()
		for off := 0; ; {
			j := strings.Index(str[off:], text)
			if j < 0 {
				break
			}
			a, b := line[idx[off+j]], line[idx[off+j+len(text)-1]]
			runs = append(runs, toolRun{page: page, x0: a.x, y0: a.y, x1: b.ex, y1: b.ey, dirX: dirX, dirY: dirY})
			off += j + len(text)
		}
		line = line[:0]
	}
	for _, l := range strings.Split(string(out), "\n") {
		switch {
		case reStextPage.MatchString(l):
			flush()
			page++
		case strings.Contains(l, "</line>"):
			flush()
		}
		if m := reLine.FindStringSubmatch(l); m != nil {
			vertical = m[1] == "1"
			dirX, _ = strconv.ParseFloat(m[2], 64)
			dirY, _ = strconv.ParseFloat(m[3], 64)
		}
		m := reChar.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		c := html.UnescapeString(m[4])
		if strings.TrimSpace(c) == "" {
			continue
		}
		var q [8]float64
		for i, f := range strings.Fields(m[1]) {
			if i < 8 {
				q[i], _ = strconv.ParseFloat(f, 64)
			}
		}
		x, _ := strconv.ParseFloat(m[2], 64)
		y, _ := strconv.ParseFloat(m[3], 64)
		// quad: upper left, upper right, lower left, lower right; the
		// glyph's box along the baseline is the upper edge
		if vertical {
			x, y = (q[0]+q[4])/2, (q[1]+q[5])/2
		}
		line = append(line, char{c: c, x: x, y: y, ex: x + q[2] - q[0], ey: y + q[3] - q[1]})
	}
	flush()
	return runs
}

// writeTemp writes b to a file in a temporary directory.
func writeTemp(t testing.TB, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// pageBox returns the box of page n of rd from which the tools measure:
// its /CropBox, or its /MediaBox.
func pageBox(t testing.TB, rd *pdf.Reader, n int) box {
	t.Helper()
	cat, _ := rd.ResolveDict(rd.Trailer.Get("Root"))
	for p, err := range rd.Pages(cat) {
		if err != nil {
			t.Fatal(err)
		}
		if p.Number != n {
			continue
		}
		a, _ := rd.Resolve(p.Dict.Get("CropBox"))
		if a == nil {
			a, _ = rd.Resolve(p.Dict.Get("MediaBox"))
		}
		m, ok := a.(pdf.Array)
		if !ok || len(m) != 4 {
			t.Fatalf("page %d: box %v", n, a)
		}
		var v [4]float64
		for i := range v {
			v[i], _ = number(m[i])
		}
		r, _ := rd.Resolve(p.Dict.Get("Rotate"))
		rot, _ := pdf.Int(r)
		return box{min(v[0], v[2]), min(v[1], v[3]), max(v[0], v[2]), max(v[1], v[3]), int((rot%360 + 360) % 360)}
	}
	t.Fatalf("no page %d", n)
	return box{}
}
