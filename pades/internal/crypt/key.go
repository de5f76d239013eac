package crypt

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/md5"
	"crypto/rc4"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"fmt"
	"unicode/utf8"
)

// padding is the 32-byte string used to pad passwords of revisions 2 to 4
// (Algorithm 2, step (a)).
const padding = "\x28\xBF\x4E\x5E\x4E\x75\x8A\x41\x64\x00\x4E\x56\xFF\xFA\x01\x08" +
	"\x2E\x2E\x00\xB6\xD0\x68\x3E\x80\x2F\x0C\xA9\xFE\x64\x53\x69\x7A"

// padPassword truncates or pads pw to exactly 32 bytes.
func padPassword(pw []byte) []byte {
	out := make([]byte, 32)
	n := copy(out, pw)
	copy(out[n:], padding)
	return out
}

// authenticateRC4 implements password authentication for revisions 2 to 4
// (Algorithms 6 and 7) with a file key of n bytes.
func (h *Handler) authenticateRC4(p *Params, id0, password []byte, n int) error {
	if len(p.O) < 32 {
		return fmt.Errorf("crypt: /O is %d bytes long, want 32", len(p.O))
	}
	if len(p.U) < 32 {
		return fmt.Errorf("crypt: /U is %d bytes long, want 32", len(p.U))
	}
	o, u := p.O[:32], p.U[:32]

	candidates := [][]byte{password}
	if alt, ok := utf8ToPDFDoc(password); ok && !bytes.Equal(alt, password) {
		candidates = append(candidates, alt)
	}

	var userKey []byte
	for _, pw := range candidates {
		key := fileKeyRC4(p, o, id0, padPassword(pw), n)
		if checkUserRC4(p.R, key, u, id0) {
			userKey = key
			break
		}
	}
	for _, pw := range candidates {
		// Algorithm 7: decrypt /O with the owner key to recover the padded
		// user password, then authenticate it as the user password.
		upw := recoverUserPassword(p.R, o, pw, n)
		key := fileKeyRC4(p, o, id0, upw, n)
		if checkUserRC4(p.R, key, u, id0) {
			h.owner = true
			if userKey == nil {
				userKey = key
			}
			break
		}
	}
	if userKey == nil {
		return &passwordError{empty: len(password) == 0}
	}
	h.key = userKey
	return nil
}

// fileKeyRC4 computes the file encryption key from a padded password
// (Algorithm 2).
func fileKeyRC4(p *Params, o, id0, padded []byte, n int) []byte {
	d := md5.New()
	d.Write(padded)
	d.Write(o)
	var pb [4]byte
	binary.LittleEndian.PutUint32(pb[:], uint32(p.P))
	d.Write(pb[:])
	d.Write(id0)
	if p.R >= 4 && !p.EncryptMetadata {
		d.Write([]byte{0xFF, 0xFF, 0xFF, 0xFF})
	}
	sum := d.Sum(nil)
	if p.R >= 3 {
		for range 50 {
			s := md5.Sum(sum[:n])
			sum = s[:]
		}
	}
	return sum[:n]
}

// checkUserRC4 reports whether key reproduces the /U value u (Algorithms 4
// and 5, compared as in Algorithm 6).
func checkUserRC4(r int, key, u, id0 []byte) bool {
	if r == 2 {
		got := make([]byte, 32)
		rc4XOR(key, got, []byte(padding))
		return bytes.Equal(got, u)
	}
	d := md5.New()
	d.Write([]byte(padding))
	d.Write(id0)
	got := d.Sum(nil)
	rc4Rounds(key, got, false)
	// Only the first 16 bytes of /U are defined; the rest is arbitrary.
	return bytes.Equal(got, u[:16])
}

// ownerKeyRC4 computes the RC4 key used to encrypt /O from an owner password
// (Algorithm 3, steps (a) to (d)).
func ownerKeyRC4(r int, ownerPassword []byte, n int) []byte {
	sum := md5.Sum(padPassword(ownerPassword))
	if r >= 3 {
		for range 50 {
			sum = md5.Sum(sum[:])
		}
	}
	return sum[:n]
}

// recoverUserPassword decrypts /O with the key derived from an owner
// password, giving the padded user password (Algorithm 7, step (b)).
func recoverUserPassword(r int, o, ownerPassword []byte, n int) []byte {
	key := ownerKeyRC4(r, ownerPassword, n)
	out := bytes.Clone(o)
	if r == 2 {
		rc4XOR(key, out, out)
		return out
	}
	rc4Rounds(key, out, true)
	return out
}

// rc4Rounds applies the 20 RC4 passes of Algorithms 3 and 5 to buf in place:
// pass i uses key with each byte XORed with i. With reverse set the passes
// run from 19 down to 0, which undoes the forward direction.
func rc4Rounds(key, buf []byte, reverse bool) {
	k := make([]byte, len(key))
	for j := range 20 {
		i := j
		if reverse {
			i = 19 - j
		}
		for x := range key {
			k[x] = key[x] ^ byte(i)
		}
		rc4XOR(k, buf, buf)
	}
}

// rc4XOR sets dst to src encrypted with RC4 under key. The key must be 1 to
// 256 bytes long, which the callers guarantee.
func rc4XOR(key, dst, src []byte) {
	c, err := rc4.NewCipher(key)
	if err != nil {
		panic("crypt: " + err.Error()) // unreachable: key lengths are fixed by Open
	}
	c.XORKeyStream(dst, src)
}

// authenticateAES256 implements password authentication for revisions 5
// and 6 (Algorithm 2.A).
func (h *Handler) authenticateAES256(p *Params, password []byte) error {
	if len(p.O) < 48 {
		return fmt.Errorf("crypt: /O is %d bytes long, want 48", len(p.O))
	}
	if len(p.U) < 48 {
		return fmt.Errorf("crypt: /U is %d bytes long, want 48", len(p.U))
	}
	if len(password) > 127 {
		password = password[:127]
	}
	o, u := p.O[:48], p.U[:48]

	var key []byte
	var err error
	// User password: hash of password and the validation salt, then the
	// intermediate key from the key salt decrypts /UE.
	if bytes.Equal(hashR56(p.R, password, u[32:40], nil), u[:32]) {
		if key, err = unwrapFileKey(p.UE, "UE", hashR56(p.R, password, u[40:48], nil)); err != nil {
			return err
		}
	}
	// Owner password: the same with /O, /OE and the 48 bytes of /U mixed in.
	if bytes.Equal(hashR56(p.R, password, o[32:40], u), o[:32]) {
		h.owner = true
		if key == nil {
			if key, err = unwrapFileKey(p.OE, "OE", hashR56(p.R, password, o[40:48], u)); err != nil {
				return err
			}
		}
	}
	if key == nil {
		return &passwordError{empty: len(password) == 0}
	}
	h.key = key
	return nil
}

// unwrapFileKey decrypts the 32-byte /UE or /OE value with AES-256 in CBC
// mode, a zero IV and no padding.
func unwrapFileKey(wrapped []byte, name string, kek []byte) ([]byte, error) {
	if len(wrapped) < 32 {
		return nil, fmt.Errorf("crypt: /%s is %d bytes long, want 32", name, len(wrapped))
	}
	b, err := aes.NewCipher(kek)
	if err != nil {
		return nil, fmt.Errorf("crypt: %w", err)
	}
	key := make([]byte, 32)
	var iv [aes.BlockSize]byte
	cipher.NewCBCDecrypter(b, iv[:]).CryptBlocks(key, wrapped[:32])
	return key, nil
}

// hashR56 computes the password hash of revision 5 (SHA-256) or revision 6
// (Algorithm 2.B) over password, an 8-byte salt and, for the owner password,
// the 48-byte /U value.
func hashR56(r int, password, salt, udata []byte) []byte {
	d := sha256.New()
	d.Write(password)
	d.Write(salt)
	d.Write(udata)
	k := d.Sum(nil)
	if r == 5 {
		return k
	}

	seq := make([]byte, 0, len(password)+64+len(udata))
	k1 := make([]byte, 0, 64*cap(seq))
	e := make([]byte, 0, cap(k1))
	for round := 0; ; round++ {
		// (a) K1 is 64 repetitions of password || K || udata.
		seq = append(append(append(seq[:0], password...), k...), udata...)
		k1 = k1[:0]
		for range 64 {
			k1 = append(k1, seq...)
		}
		// (b) E is K1 encrypted with AES-128-CBC, the first 16 bytes of K
		// as key and the next 16 as IV, without padding.
		b, err := aes.NewCipher(k[:16])
		if err != nil {
			panic("crypt: " + err.Error()) // unreachable: the key is 16 bytes
		}
		e = e[:len(k1)]
		cipher.NewCBCEncrypter(b, k[16:32]).CryptBlocks(e, k1)
		// (c) The first 16 bytes of E as a big-endian number modulo 3
		// select the hash; since 256 ≡ 1 (mod 3) that is the byte sum
		// modulo 3.
		sum := 0
		for _, c := range e[:16] {
			sum += int(c)
		}
		switch sum % 3 {
		case 0:
			s := sha256.Sum256(e)
			k = s[:]
		case 1:
			s := sha512.Sum384(e)
			k = s[:]
		case 2:
			s := sha512.Sum512(e)
			k = s[:]
		}
		// (e) At least 64 rounds, then until the last byte of E is not
		// greater than the round number minus 32.
		if round >= 63 && int(e[len(e)-1]) <= round-31 {
			break
		}
	}
	return k[:32]
}

// utf8ToPDFDoc converts a UTF-8 password to PDFDocEncoding. It reports
// false when pw is not valid UTF-8 or has a character PDFDocEncoding lacks.
func utf8ToPDFDoc(pw []byte) ([]byte, bool) {
	if !utf8.Valid(pw) {
		return nil, false
	}
	out := make([]byte, 0, len(pw))
	for _, c := range string(pw) {
		b, ok := pdfDocByte(c)
		if !ok {
			return nil, false
		}
		out = append(out, b)
	}
	return out, true
}

// pdfDocByte returns the PDFDocEncoding byte of c (ISO 32000-1 Annex D).
func pdfDocByte(c rune) (byte, bool) {
	switch c {
	case '\u02D8':
		return 0x18, true
	case '\u02C7':
		return 0x19, true
	case '\u02C6':
		return 0x1A, true
	case '\u02D9':
		return 0x1B, true
	case '\u02DD':
		return 0x1C, true
	case '\u02DB':
		return 0x1D, true
	case '\u02DA':
		return 0x1E, true
	case '\u02DC':
		return 0x1F, true
	case '\u20AC':
		return 0xA0, true
	}
	// 0x80 to 0x9E in code order.
	const high = "\u2022\u2020\u2021\u2026\u2014\u2013\u0192\u2044" +
		"\u2039\u203A\u2212\u2030\u201E\u201C\u201D\u2018" +
		"\u2019\u201A\u2122\uFB01\uFB02\u0141\u0152\u0160" +
		"\u0178\u017D\u0131\u0142\u0153\u0161\u017E"
	i := 0
	for _, h := range high {
		if h == c {
			return 0x80 + byte(i), true
		}
		i++
	}
	switch {
	case c >= 0x18 && c <= 0x1F, c >= 0x7F && c <= 0xA0, c == 0xAD, c > 0xFF:
		// Undefined in PDFDocEncoding, or a byte taken by another character.
		return 0, false
	}
	return byte(c), true
}
