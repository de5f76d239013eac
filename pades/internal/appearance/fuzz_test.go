package appearance

import (
	"slices"
	"testing"
)

// FuzzLoadFont feeds LoadFont arbitrary font files (a -font file is
// untrusted input), then shapes text in every script the appearance
// handles with what it read and subsets it: nothing may panic, and a
// subset that was written must read back.
func FuzzLoadFont(f *testing.F) {
	f.Add(defaultFontData)
	def, err := DefaultFont()
	if err != nil {
		f.Fatal(err)
	}
	small, err := def.subset([]int{0, 1, 2, 3}, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(small)
	f.Add(defaultFontData[:4096])
	f.Add([]byte("ttcf\x00\x01\x00\x00\x00\x00\x00\x01\x00\x00\x00\x10\x00\x01\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		font, err := LoadFont(data)
		if err != nil {
			return
		}
		fc := newFace(font, "F1")
		for _, s := range []string{"Jane Signer", "Иван", "سلام عبد الرحمن", "لا", "张伟"} {
			gs, _, err := shapeLine(s, []*face{fc}, &shapeBudget{})
			if err != nil {
				continue
			}
			for _, g := range gs {
				if g.id < 0 || g.id >= font.numGlyphs {
					t.Fatalf("shaping %q gave glyph %d of %d", s, g.id, font.numGlyphs)
				}
				fc.used[g.id] = g.text
			}
		}
		if err := fc.prepare(); err != nil {
			return
		}
		if _, err := fc.write(newMemWriter(1)); err != nil {
			t.Fatalf("writing a prepared font: %v", err)
		}
		set := map[int]bool{0: true}
		for g := range fc.used {
			set[g] = true
		}
		if err := font.closure(set); err != nil {
			t.Fatalf("closure failed after a subset was written: %v", err)
		}
		gids := make([]int, 0, len(set))
		for g := range set {
			gids = append(gids, g)
		}
		slices.Sort(gids)
		prog, err := font.subset(gids, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := LoadFont(prog); err != nil && len(fc.used) > 0 {
			t.Fatalf("the subset does not read back: %v", err)
		}
	})
}

// FuzzDecodeImage feeds the image path (PNG and JPEG headers and data)
// arbitrary bytes: it refuses or returns an image within its limits.
func FuzzDecodeImage(f *testing.F) {
	for _, k := range []string{"png-rgba", "png-rgb16", "png-palette", "png-gray", "png-gray16", "jpeg-rgb", "jpeg-gray", "jpeg-cmyk"} {
		f.Add(testImage(f, k))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := decodeImage(data)
		if err != nil {
			return
		}
		if p.w <= 0 || p.h <= 0 || int64(p.w)*int64(p.h) > MaxImagePixels || len(p.data) == 0 {
			t.Fatalf("decoded image %dx%d with %d bytes", p.w, p.h, len(p.data))
		}
		if _, err := p.write(newMemWriter(1)); err != nil {
			t.Fatal(err)
		}
	})
}
