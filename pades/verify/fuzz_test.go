package verify_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"testing"

	"hashsign/pades"
	"hashsign/pades/verify"
)

// seedSigned adds signed files to the corpus of f: our own at B-B and
// B-LTA, and one certified with DocMDP.
func seedSigned(f *testing.F) [][]byte {
	env := sharedEnv(f)
	doc := testDoc(f)
	files := [][]byte{
		sign(f, doc, env.signer, nil),
		sign(f, doc, env.signer, signOptions(pades.LevelBLTA, env, env.pki.Root.Cert)),
		certify(f, doc, env.signer, 2),
	}
	for _, b := range files {
		f.Add(b)
	}
	return files
}

// FuzzDocument runs the validator on arbitrary files, seeded with signed
// ones: it must never panic, whatever the PDF structure, the signature
// dictionaries, the byte ranges, the revisions or the CMS hold.
func FuzzDocument(f *testing.F) {
	env := sharedEnv(f)
	seedSigned(f)
	f.Add([]byte("%PDF-1.4\n%%EOF\n"))
	opts := &verify.Options{Anchors: []*x509.Certificate{env.pki.Root.Cert}, MemoryBudget: 16 << 20}
	f.Fuzz(func(t *testing.T, data []byte) {
		rep, err := verify.Document(context.Background(), bytes.NewReader(data), int64(len(data)), opts)
		if err == nil && rep.Indication == "" {
			t.Fatal("a report without an indication")
		}
	})
}

// FuzzContents replaces the /Contents of a signed file with arbitrary bytes
// of the same size: the CMS, its certificates, its signature timestamps and
// its revocation data, as the validator parses them, must never panic.
func FuzzContents(f *testing.F) {
	env := sharedEnv(f)
	files := seedSigned(f)
	signed := files[1] // B-LTA: a signature and a document timestamp
	rep := check(f, signed, nil)
	br := rep.Signatures[0].ByteRange
	hole := signed[br[1]+1 : br[2]-1]
	der := make([]byte, len(hole)/2)
	n := 0
	for i := 0; i+1 < len(hole); i += 2 {
		der[n] = unhex(hole[i])<<4 | unhex(hole[i+1])
		n++
	}
	f.Add(der)
	f.Add(der[:64])
	opts := &verify.Options{Anchors: []*x509.Certificate{env.pki.Root.Cert}}
	f.Fuzz(func(t *testing.T, cms []byte) {
		data := bytes.Clone(signed)
		const digits = "0123456789abcdef"
		for i := range len(hole) / 2 {
			var b byte
			if i < len(cms) {
				b = cms[i]
			}
			data[br[1]+1+int64(2*i)] = digits[b>>4]
			data[br[1]+2+int64(2*i)] = digits[b&15]
		}
		if _, err := verify.Document(context.Background(), bytes.NewReader(data), int64(len(data)), opts); err != nil {
			t.Fatalf("the file stays a readable PDF: %v", err)
		}
	})
}

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}
