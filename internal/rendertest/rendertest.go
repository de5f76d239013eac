// Package rendertest compares pages of PDF files as poppler's pdftoppm
// renders them, for tests of visible signatures: a signature must draw
// inside its field and leave every other pixel of the page as it was.
package rendertest

import (
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"hashsign/internal/testenv"
)

// Page renders page n (1-based) of the PDF at path with pdftoppm -r 72,
// one pixel per point, the visible region only (-cropbox).
func Page(t testing.TB, path string, n int) image.Image {
	t.Helper()
	return EncryptedPage(t, path, "", n)
}

// EncryptedPage is Page for a file encrypted with the user password
// password.
func EncryptedPage(t testing.TB, path, password string, n int) image.Image {
	t.Helper()
	pdftoppm := testenv.Need(t, "pdftoppm", "apt-get install poppler-utils")
	prefix := filepath.Join(t.TempDir(), "page")
	p := strconv.Itoa(n)
	args := []string{"-r", "72", "-cropbox", "-f", p, "-l", p, "-singlefile", "-png"}
	if password != "" {
		args = append(args, "-upw", password)
	}
	if out, err := exec.Command(pdftoppm, append(args, path, prefix)...).CombinedOutput(); err != nil {
		t.Fatalf("pdftoppm %s: %v\n%s", path, err, out)
	}
	f, err := os.Open(prefix + ".png")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("the render of %s: %v", path, err)
	}
	return img
}

// Box is a rectangle of pixels, from the top-left corner of the image.
type Box struct{ X0, Y0, X1, Y1 int }

// Displayed converts a rectangle on the page as displayed (x, y, w, h in
// points from its bottom-left corner, as pades.Rect) to the pixels of a
// 72 dpi render of height h, widened by a pixel or two on each side for
// antialiasing.
func Displayed(x, y, w, h float64, height int) Box {
	return Box{int(x) - 1, height - int(y+h) - 2, int(x+w) + 2, height - int(y) + 1}
}

// Contains reports whether the pixel x, y lies in b.
func (b Box) Contains(x, y int) bool { return x >= b.X0 && x < b.X1 && y >= b.Y0 && y < b.Y1 }

// Diff counts the pixels that differ between a and b inside each of boxes
// and outside all of them, and returns the first that differs outside.
func Diff(t testing.TB, a, b image.Image, boxes ...Box) (inside []int, outside int, first image.Point) {
	t.Helper()
	if a.Bounds() != b.Bounds() {
		t.Fatalf("the pages render at %v and %v", a.Bounds(), b.Bounds())
	}
	inside = make([]int, len(boxes))
	r := a.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y++ {
	pixels:
		for x := r.Min.X; x < r.Max.X; x++ {
			r1, g1, b1, _ := a.At(x, y).RGBA()
			r2, g2, b2, _ := b.At(x, y).RGBA()
			if r1 == r2 && g1 == g2 && b1 == b2 {
				continue
			}
			for i, box := range boxes {
				if box.Contains(x, y) {
					inside[i]++
					continue pixels
				}
			}
			if outside == 0 {
				first = image.Pt(x, y)
			}
			outside++
		}
	}
	return inside, outside, first
}

// Changed checks that signed differs from unsigned inside each of boxes
// and nowhere else, and returns how many pixels changed inside each.
func Changed(t testing.TB, unsigned, signed image.Image, boxes ...Box) []int {
	t.Helper()
	inside, outside, first := Diff(t, unsigned, signed, boxes...)
	if outside > 0 {
		t.Errorf("%d pixels changed outside the fields' boxes %v, the first at %v", outside, boxes, first)
	}
	for i, n := range inside {
		if n == 0 {
			t.Errorf("the field's box %v is still blank", boxes[i])
		}
	}
	return inside
}

// Same checks that two renders do not differ.
func Same(t testing.TB, a, b image.Image) {
	t.Helper()
	if _, n, first := Diff(t, a, b); n > 0 {
		t.Errorf("%d pixels changed, the first at %v", n, first)
	}
}
