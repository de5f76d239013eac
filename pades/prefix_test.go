package pades_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"hash"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"hashsign/pades"
	"hashsign/testdata/pdfgen"
)

// byteRangeDigest returns the SHA-256 of the bytes that the last
// /ByteRange of doc names.
func byteRangeDigest(t *testing.T, doc []byte) []byte {
	t.Helper()
	m := regexp.MustCompile(`/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]`).FindAllSubmatch(doc, -1)
	if len(m) == 0 {
		t.Fatal("no /ByteRange in the signed document")
	}
	var br [4]int
	for i := range br {
		br[i], _ = strconv.Atoi(string(m[len(m)-1][i+1]))
	}
	h := sha256.New()
	h.Write(doc[br[0] : br[0]+br[1]])
	h.Write(doc[br[2] : br[2]+br[3]])
	return h.Sum(nil)
}

// TestSignInPlacePrefix: SignInPlace given the digest state of the
// document (as a gateway hashes it on receipt) signs the digest of the
// byte range, as it does when it reads the document again; the state is
// cloned, not consumed; a state of other bytes makes a digest that is not
// the byte range's, so it is what the signature covers; a state of
// another algorithm is refused and the file cut back.
func TestSignInPlacePrefix(t *testing.T) {
	s := newSigner(t, testPKI(t).SignerRSA)
	in, err := pdfgen.Bytes(pdfgen.Table, pdfgen.Options{})
	if err != nil {
		t.Fatal(err)
	}
	size := int64(len(in))
	when := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	sign := func(name string, prefix hash.Hash) ([]byte, *pades.Result, error) {
		p := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(p, in, 0o644); err != nil {
			t.Fatal(err)
		}
		f, err := os.OpenFile(p, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		res, err := pades.SignInPlace(context.Background(), f, size, s, &pades.SignOptions{Time: when, Prefix: prefix})
		out, rerr := os.ReadFile(p)
		if rerr != nil {
			t.Fatal(rerr)
		}
		return out, res, err
	}

	_, read, err := sign("read.pdf", nil)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	h.Write(in)
	out, given, err := sign("given.pdf", h)
	if err != nil {
		t.Fatal(err)
	}
	if want := byteRangeDigest(t, out); !bytes.Equal(given.Digest, want) {
		t.Errorf("signed digest %x, the byte range's %x", given.Digest, want)
	}
	if !bytes.Equal(given.Digest, read.Digest) {
		t.Errorf("digest %x with the state given, %x read from the file", given.Digest, read.Digest)
	}
	if sum := sha256.Sum256(in); !bytes.Equal(h.Sum(nil), sum[:]) {
		t.Error("the state given was consumed")
	}

	other := sha256.New()
	other.Write(append([]byte("x"), in[1:]...))
	out, wrong, err := sign("other.pdf", other)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(wrong.Digest, byteRangeDigest(t, out)) {
		t.Error("a state of other bytes gave the byte range's digest: the state is not what was signed")
	}

	h512 := sha512.New()
	h512.Write(in)
	out, _, err = sign("sha512.pdf", h512)
	if err == nil {
		t.Error("a SHA-512 state for a SHA-256 signature: no error")
	}
	if !bytes.Equal(out, in) {
		t.Errorf("after the refusal the file has %d bytes, not the %d it had", len(out), len(in))
	}
}
