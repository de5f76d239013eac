package crypt

// Test-only construction of encryption dictionaries (Algorithms 3, 4, 5, 8,
// 9 and 10), so that round trips need neither qpdf nor the corpus.

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/md5"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"testing"
)

// cipherCase describes one kind of encryption dictionary.
type cipherCase struct {
	name   string
	v, r   int
	length int    // /Length in bits
	cfm    string // StmF and StrF for V 4 and 5
}

var cipherCases = []cipherCase{
	{"RC4-40 R2", 1, 2, 40, ""},
	{"RC4-128 R3", 2, 3, 128, ""},
	{"RC4-128 V4", 4, 4, 128, MethodRC4},
	{"AES-128 R4", 4, 4, 128, MethodAESV2},
	{"AES-256 R5", 5, 5, 256, MethodAESV3},
	{"AES-256 R6", 5, 6, 256, MethodAESV3},
}

// makeParams builds the encryption dictionary values for the given
// passwords; an empty owner password means the user password.
func makeParams(t testing.TB, c cipherCase, user, owner, id0 []byte, p int32, encryptMetadata bool) Params {
	t.Helper()
	if len(owner) == 0 {
		owner = user
	}
	ps := Params{Filter: "Standard", V: c.v, R: c.r, Length: c.length, P: p,
		EncryptMetadata: encryptMetadata, StmF: c.cfm, StrF: c.cfm}
	if c.r >= 5 {
		key := make([]byte, 32)
		rand.Read(key)
		// Algorithm 8: /U and /UE.
		salts := make([]byte, 16)
		rand.Read(salts)
		ps.U = append(hashR56(c.r, user, salts[:8], nil), salts...)
		ps.UE = wrapFileKey(t, hashR56(c.r, user, salts[8:], nil), key)
		// Algorithm 9: /O and /OE.
		rand.Read(salts)
		ps.O = append(hashR56(c.r, owner, salts[:8], ps.U), salts...)
		ps.OE = wrapFileKey(t, hashR56(c.r, owner, salts[8:], ps.U), key)
		// Algorithm 10: /Perms.
		var perms [16]byte
		binary.LittleEndian.PutUint32(perms[:], uint32(p))
		copy(perms[4:8], []byte{0xFF, 0xFF, 0xFF, 0xFF})
		perms[8] = 'F'
		if encryptMetadata {
			perms[8] = 'T'
		}
		copy(perms[9:], "adb")
		b, _ := aes.NewCipher(key)
		ps.Perms = make([]byte, 16)
		b.Encrypt(ps.Perms, perms[:])
		return ps
	}

	n, err := keyLength(&ps, c.cfm, c.cfm)
	if err != nil {
		t.Fatal(err)
	}
	// Algorithm 3: /O is the padded user password encrypted with a key
	// derived from the owner password.
	ps.O = padPassword(user)
	okey := ownerKeyRC4(c.r, owner, n)
	if c.r == 2 {
		rc4XOR(okey, ps.O, ps.O)
	} else {
		rc4Rounds(okey, ps.O, false)
	}
	// Algorithms 4 and 5: /U.
	key := fileKeyRC4(&ps, ps.O, id0, padPassword(user), n)
	if c.r == 2 {
		ps.U = make([]byte, 32)
		rc4XOR(key, ps.U, []byte(padding))
	} else {
		ps.U = userHashR3(key, id0)
	}
	return ps
}

// userHashR3 computes /U for revisions 3 and 4 (Algorithm 5), with 16
// arbitrary bytes appended.
func userHashR3(key, id0 []byte) []byte {
	buf := make([]byte, 0, 32)
	sum := md5.Sum(append([]byte(padding), id0...))
	buf = append(buf, sum[:]...)
	rc4Rounds(key, buf, false)
	tail := make([]byte, 16)
	rand.Read(tail)
	return append(buf, tail...)
}

func wrapFileKey(t testing.TB, kek, key []byte) []byte {
	t.Helper()
	b, err := aes.NewCipher(kek)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]byte, 32)
	var iv [16]byte
	cipher.NewCBCEncrypter(b, iv[:]).CryptBlocks(out, key)
	return out
}

// checkPerms decrypts /Perms with the file key and reports whether it is
// consistent with /P and /EncryptMetadata (Algorithm 2.A, step (f)).
func checkPerms(key, perms []byte, p int32, encryptMetadata bool) error {
	if len(perms) < 16 {
		return fmt.Errorf("/Perms is %d bytes long, want 16", len(perms))
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return err
	}
	var plain [16]byte
	b.Decrypt(plain[:], perms[:16])
	if !bytes.Equal(plain[9:12], []byte("adb")) {
		return fmt.Errorf("/Perms does not decrypt with the file key")
	}
	if got := int32(binary.LittleEndian.Uint32(plain[:4])); got != p {
		return fmt.Errorf("/Perms holds permissions %d, /P is %d", got, p)
	}
	if m := plain[8] == 'T'; m != encryptMetadata {
		return fmt.Errorf("/Perms holds EncryptMetadata %v, the dictionary %v", m, encryptMetadata)
	}
	return nil
}
