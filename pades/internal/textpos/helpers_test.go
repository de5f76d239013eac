package textpos

import (
	"bytes"
	"context"
	"errors"
	"os"
	"testing"

	"hashsign/pades/internal/crypt"
	"hashsign/pades/internal/pdf"
)

// open reads a PDF file held in b, decrypting it with password when it is
// encrypted, and returns its reader and catalog.
func open(t testing.TB, b []byte, password string) (*pdf.Reader, *pdf.Dict) {
	t.Helper()
	rd, err := pdf.Open(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatalf("opening: %v", err)
	}
	if _, err := crypt.OpenDocument(rd, []byte(password)); err != nil && !errors.Is(err, crypt.ErrNotEncrypted) {
		t.Fatalf("decrypting: %v", err)
	}
	cat, err := rd.ResolveDict(rd.Trailer.Get("Root"))
	if err != nil || cat == nil {
		t.Fatalf("catalog: %v", err)
	}
	return rd, cat
}

// findIn runs Find over every page of the PDF file b.
func findIn(t testing.TB, b []byte, password, text string) []Place {
	t.Helper()
	rd, cat := open(t, b, password)
	places, err := Find(context.Background(), rd, rd.Pages(cat), text, Limits{})
	if err != nil {
		t.Fatalf("Find(%q): %v", text, err)
	}
	return places
}

// readFile reads a file or fails the test.
func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
