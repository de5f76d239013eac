package textpos

//go:generate go run gen_agl.go /usr/share/texlive/texmf-dist/fonts/map/glyphlist/glyphlist.txt

import (
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"hashsign/pades/internal/stdfont"
)

// The simple fonts' base encodings (ISO 32000-1, Annex D), as the Unicode
// text of each code; "" is a code that the encoding leaves undefined.
// MacExpertEncoding, which holds small capitals and old-style figures, is
// left out: its codes decode as StandardEncoding's.
type baseEncoding [256]string

// standardEncoding is Adobe's StandardEncoding, the built-in encoding of
// the Latin standard fonts, written as glyph names by code.
var standardEncoding = namesEncoding(map[int]string{
	39: "quoteright", 96: "quoteleft",
	161: "exclamdown", 162: "cent", 163: "sterling", 164: "fraction", 165: "yen", 166: "florin",
	167: "section", 168: "currency", 169: "quotesingle", 170: "quotedblleft", 171: "guillemotleft",
	172: "guilsinglleft", 173: "guilsinglright", 174: "fi", 175: "fl", 177: "endash", 178: "dagger",
	179: "daggerdbl", 180: "periodcentered", 182: "paragraph", 183: "bullet", 184: "quotesinglbase",
	185: "quotedblbase", 186: "quotedblright", 187: "guillemotright", 188: "ellipsis",
	189: "perthousand", 191: "questiondown", 193: "grave", 194: "acute", 195: "circumflex",
	196: "tilde", 197: "macron", 198: "breve", 199: "dotaccent", 200: "dieresis", 202: "ring",
	203: "cedilla", 205: "hungarumlaut", 206: "ogonek", 207: "caron", 208: "emdash", 225: "AE",
	227: "ordfeminine", 232: "Lslash", 233: "Oslash", 234: "OE", 235: "ordmasculine", 241: "ae",
	245: "dotlessi", 248: "lslash", 249: "oslash", 250: "oe", 251: "germandbls",
}, true)

// winAnsiEncoding is WinAnsiEncoding: Windows code page 1252, where ISO
// 32000-1 also maps the codes that 1252 leaves undefined (127, 129, 141,
// 143, 144, 157) to the bullet.
var winAnsiEncoding = func() baseEncoding {
	var e baseEncoding
	for c := 32; c < 256; c++ {
		r := stdfont.WinAnsiRune(c)
		if r == 0 {
			r = '•'
		}
		e[c] = string(r)
	}
	return e
}()

// macRomanEncoding is MacRomanEncoding: ASCII, and Mac OS Roman above 127
// with code 219 as the currency sign, as ISO 32000-1 has it.
var macRomanEncoding = func() baseEncoding {
	var e baseEncoding
	for c := 32; c < 127; c++ {
		e[c] = string(rune(c))
	}
	const high = "ÄÅÇÉÑÖÜáàâäãåçéèêëíìîïñóòôöõúùûü" +
		"†°¢£§•¶ß®©™´¨≠ÆØ∞±≤≥¥µ∂∑∏π∫ªºΩæø" +
		"¿¡¬√ƒ≈∆«»…\u00a0ÀÃÕŒœ–—“”‘’÷◊ÿŸ⁄¤‹›ﬁﬂ" +
		"‡·‚„‰ÂÊÁËÈÍÎÏÌÓÔ\uf8ffÒÚÛÙıˆ˜¯˘˙˚¸˝˛ˇ" // 128 to 255
	i := 128
	for _, r := range high {
		e[i] = string(r)
		i++
	}
	return e
}()

// namesEncoding returns the encoding that maps the codes of names to the
// Unicode of their glyph names, over printable ASCII when ascii is set.
func namesEncoding(names map[int]string, ascii bool) baseEncoding {
	var e baseEncoding
	if ascii {
		for c := 32; c < 127; c++ {
			e[c] = string(rune(c))
		}
	}
	for c, n := range names {
		e[c] = glyphText(n)
	}
	return e
}

// glyphText returns the Unicode text of a glyph name by the rules of the
// Adobe Glyph List specification: the part before the first period, its
// components between underscores, each looked up in the AGL or read as
// uniXXXX (one or more code units of four hex digits) or uXXXX to
// uXXXXXX. Names it cannot read give "".
func glyphText(name string) string {
	if i := strings.IndexByte(name, '.'); i >= 0 {
		name = name[:i]
	}
	var b strings.Builder
	for part := range strings.SplitSeq(name, "_") {
		b.WriteString(componentText(part))
	}
	return b.String()
}

// componentText maps one component of a glyph name to Unicode.
func componentText(c string) string {
	if i := sort.SearchStrings(aglNames[:], c); i < len(aglNames) && aglNames[i] == c {
		return aglText[i]
	}
	if hex, ok := strings.CutPrefix(c, "uni"); ok && len(hex) >= 4 && len(hex)%4 == 0 {
		var b strings.Builder
		for i := 0; i < len(hex); i += 4 {
			v, err := strconv.ParseUint(hex[i:i+4], 16, 16)
			if err != nil || !isUpperHex(hex[i:i+4]) || (v >= 0xD800 && v <= 0xDFFF) {
				return ""
			}
			b.WriteRune(rune(v))
		}
		return b.String()
	}
	if hex, ok := strings.CutPrefix(c, "u"); ok && len(hex) >= 4 && len(hex) <= 6 && isUpperHex(hex) {
		v, err := strconv.ParseUint(hex, 16, 32)
		if err == nil && utf8.ValidRune(rune(v)) {
			return string(rune(v))
		}
	}
	return ""
}

// isUpperHex reports whether s holds only digits and the letters A to F,
// as the AGL specification wants of uni and u names.
func isUpperHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return s != ""
}
