package stdfont

// winAnsiHigh lists the characters of WinAnsiEncoding (ISO 32000-2 Annex
// D.2) at codes 0x80 to 0x9F; 0 marks a code without a character. Codes
// 0x20 to 0x7E are ASCII and 0xA0 to 0xFF are Latin-1.
var winAnsiHigh = [32]rune{
	0x20AC, 0, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
	0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0, 0x017D, 0,
	0, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
	0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0, 0x017E, 0x0178,
}

// WinAnsiRune returns the character of WinAnsiEncoding code c, or 0.
func WinAnsiRune(c int) rune {
	switch {
	case c >= 0x20 && c <= 0x7E, c >= 0xA0 && c <= 0xFF:
		return rune(c)
	case c >= 0x80 && c <= 0x9F:
		return winAnsiHigh[c-0x80]
	}
	return 0
}

// WinAnsiCode returns the WinAnsiEncoding code of r, and false when the
// encoding has none.
func WinAnsiCode(r rune) (int, bool) {
	switch {
	case r >= 0x20 && r <= 0x7E, r >= 0xA0 && r <= 0xFF:
		return int(r), true
	case r == 0:
		return 0, false
	}
	for i, w := range winAnsiHigh {
		if w == r {
			return 0x80 + i, true
		}
	}
	return 0, false
}
