// Package stdfont gives the advance widths of the twelve Latin standard
// fonts of PDF (Helvetica, Times and Courier, each upright, bold, italic
// and bold italic) and the characters of WinAnsiEncoding. Drawing text in
// a standard font and measuring the text that a document draws in one
// both need them.
package stdfont

//go:generate go run gen_std14.go /usr/share/fonts/truetype/liberation2

import "sort"

// Font is one of the twelve Latin standard fonts.
type Font int

// Helvetica is the standard font Helvetica (upright, regular weight).
const Helvetica Font = 0

// Lookup returns the standard font of a /BaseFont name such as
// "Helvetica", "Times-BoldItalic" or "Courier-Oblique", and false for any
// other name.
func Lookup(name string) (Font, bool) {
	for i, n := range fontNames {
		if n == name {
			return Font(i), true
		}
	}
	return 0, false
}

// Name returns the font's /BaseFont name.
func (f Font) Name() string { return fontNames[f] }

// Width returns the advance width of r in f, in 1/1000 em, and false when
// the font's table has no width for r.
func (f Font) Width(r rune) (int, bool) {
	i := sort.Search(len(tableRunes), func(i int) bool { return tableRunes[i] >= r })
	if i == len(tableRunes) || tableRunes[i] != r {
		return 0, false
	}
	return int(tableWidths[f][i]), true
}
