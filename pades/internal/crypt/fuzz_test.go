package crypt

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"hashsign/pades/internal/pdf"
	"hashsign/testdata/pdfgen"
)

// encryptDict writes p as the text of an /Encrypt dictionary, with a crypt
// filter StdCF for V 4 and 5.
func encryptDict(p Params) string {
	var b strings.Builder
	fmt.Fprintf(&b, "<</Filter/%s/V %d/R %d/Length %d/P %d/O<%x>/U<%x>", p.Filter, p.V, p.R, p.Length, p.P, p.O, p.U)
	if p.R >= 5 {
		fmt.Fprintf(&b, "/OE<%x>/UE<%x>/Perms<%x>", p.OE, p.UE, p.Perms)
	}
	if !p.EncryptMetadata {
		b.WriteString("/EncryptMetadata false")
	}
	if p.V >= 4 {
		fmt.Fprintf(&b, "/CF<</StdCF<</CFM/%s/AuthEvent/DocOpen/Length %d>>>>/StmF/StdCF/StrF/StdCF", p.StmF, p.Length/8)
	}
	b.WriteString(">>")
	return b.String()
}

// encryptedFile returns a minimal PDF whose trailer names the /Encrypt
// dictionary dict (PDF text) and the /ID id0.
func encryptedFile(dict string, id0 []byte) []byte {
	return pdfgen.Raw(fmt.Sprintf("/Root 1 0 R /Encrypt 3 0 R /ID [<%x> <%x>]", id0, id0),
		[]string{"<</Type/Catalog/Pages 2 0 R>>", "<</Type/Pages/Kids[]/Count 0>>", dict})
}

// FuzzOpenDocument reads hostile /Encrypt dictionaries (and /ID) through
// the PDF reader, opens them with a password and decrypts hostile data:
// never a panic, and a handler that opens must encrypt and decrypt back to
// the same bytes, in as many bytes as EncryptedLen says.
func FuzzOpenDocument(f *testing.F) {
	id0 := []byte("0123456789abcdef")
	for _, c := range cipherCases {
		for _, meta := range []bool{true, false} {
			p := makeParams(f, c, []byte("user"), []byte("owner"), id0, -1324, meta || c.r < 4)
			f.Add(encryptDict(p), id0, []byte("user"), []byte("0123456789abcdef0123456789abcdef"))
			f.Add(encryptDict(p), id0, []byte("owner"), []byte{})
		}
	}
	f.Add("<</Filter/Standard/V 4/R 4/CF<</StdCF 5 0 R>>/StmF/StdCF/StrF/Identity>>", []byte{}, []byte{}, []byte("x"))
	f.Add("<</Filter/Adobe.PubSec/V 5/R 6>>", []byte{1}, []byte{}, []byte{})
	f.Add("3 0 R", []byte{}, []byte{}, []byte{})
	f.Fuzz(func(t *testing.T, dict string, id0, password, data []byte) {
		file := encryptedFile(dict, id0)
		rd, err := pdf.Open(bytes.NewReader(file), int64(len(file)))
		if err != nil {
			return
		}
		h, err := OpenDocument(rd, password)
		if err != nil {
			return
		}
		h.DecryptString(4, 0, data)
		h.DecryptStream(4, 0, data)
		for _, stream := range []bool{false, true} {
			enc, dec := h.EncryptString, h.DecryptString
			if stream {
				enc, dec = h.EncryptStream, h.DecryptStream
			}
			ct, err := enc(5, 0, data)
			if err != nil {
				t.Fatalf("encrypt (stream %v): %v", stream, err)
			}
			if len(ct) != h.EncryptedLen(len(data), stream) {
				t.Errorf("stream %v: %d bytes of ciphertext, EncryptedLen says %d", stream, len(ct), h.EncryptedLen(len(data), stream))
			}
			pt, err := dec(5, 0, ct)
			if err != nil || !bytes.Equal(pt, data) {
				t.Fatalf("stream %v: round trip: %x, %v; want %x", stream, pt, err, data)
			}
		}
	})
}
