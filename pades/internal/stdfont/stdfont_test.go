package stdfont

import "testing"

func TestLookupAndWidth(t *testing.T) {
	for _, c := range []struct {
		font  string
		r     rune
		width int
		ok    bool
	}{
		{"Helvetica", 'A', 667, true},
		{"Helvetica", 'W', 944, true},
		{"Helvetica-Bold", 'i', 278, true},
		{"Times-Roman", 'A', 722, true},
		{"Times-Italic", 'm', 722, true},
		{"Courier", 'i', 600, true},
		{"Courier-BoldOblique", '€', 600, true},
		{"Helvetica", '中', 0, false},
		{"Helvetica", 0, 0, false},
	} {
		f, ok := Lookup(c.font)
		if !ok || f.Name() != c.font {
			t.Fatalf("Lookup(%q) = %v, %v", c.font, f, ok)
		}
		if w, ok := f.Width(c.r); w != c.width || ok != c.ok {
			t.Errorf("%s %q: width %d, %v; want %d, %v", c.font, c.r, w, ok, c.width, c.ok)
		}
	}
	if f, ok := Lookup("Helvetica"); !ok || f != Helvetica {
		t.Errorf("Lookup(Helvetica) = %v, not the constant Helvetica", f)
	}
	for _, name := range []string{"Symbol", "ZapfDingbats", "Arial", "helvetica", ""} {
		if _, ok := Lookup(name); ok {
			t.Errorf("Lookup(%q) finds a font", name)
		}
	}
}

// TestWinAnsi: the codes and characters of WinAnsiEncoding map to each
// other, and each of its characters has a width in every standard font.
func TestWinAnsi(t *testing.T) {
	n := 0
	for c := range 256 {
		r := WinAnsiRune(c)
		if r == 0 {
			continue
		}
		n++
		if back, ok := WinAnsiCode(r); !ok || back != c {
			t.Errorf("code %d is %q, whose code is %d, %v", c, r, back, ok)
		}
		for f := range Font(len(fontNames)) {
			if _, ok := f.Width(r); !ok {
				t.Errorf("%s has no width for %q (code %d)", f.Name(), r, c)
			}
		}
	}
	// 95 printable ASCII, 96 Latin-1 and 27 of the codes 0x80 to 0x9F
	if n != 95+96+27 {
		t.Errorf("%d codes have a character, want %d", n, 95+96+27)
	}
	for _, c := range []struct {
		r    rune
		code int
		ok   bool
	}{{'€', 0x80, true}, {'Ÿ', 0x9F, true}, {'é', 0xE9, true}, {'中', 0, false}, {0x81, 0, false}, {0, 0, false}} {
		if code, ok := WinAnsiCode(c.r); code != c.code || ok != c.ok {
			t.Errorf("WinAnsiCode(%q) = %d, %v; want %d, %v", c.r, code, ok, c.code, c.ok)
		}
	}
}
