package textpos

import (
	"context"
	"encoding/csv"
	"fmt"
	"iter"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode"

	"hashsign/pades/internal/pdf"
)

// corpusPages is how many pages of each corpus file the test reads.
const corpusPages = 3

// corpusWords is how many words of each file it looks for.
const corpusWords = 12

// TestCorpus looks for words that pdftotext finds on the first pages of
// every corpus file (encrypted ones with their password) and checks that
// Find puts each where pdftotext's word box is, within the tolerance. It
// needs 97% of them found and reports the rest.
func TestCorpus(t *testing.T) {
	if testing.Short() {
		t.Skip("corpus test skipped in -short mode")
	}
	dir := filepath.Join(sharedDir(t), "corpus")
	f, err := os.Open(filepath.Join(dir, "manifest.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	r := csv.NewReader(f)
	r.Comma, r.LazyQuotes, r.FieldsPerRecord = '\t', true, -1
	rows, err := r.ReadAll()
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	total, found := 0, 0
	for _, row := range rows[1:] {
		name, password := row[0], manifestPassword(row[8])
		file := filepath.Join(dir, name)
		words := pickWords(popplerWords(t, file, password), corpusWords)
		if len(words) == 0 {
			continue
		}
		b := readFile(t, file)
		rd, cat := open(t, b, password)
		missed := []string{}
		for _, w := range words {
			places, err := Find(context.Background(), rd, firstPages(rd.Pages(cat), corpusPages), w.text, Limits{})
			if err != nil {
				t.Errorf("%s: Find(%q): %v", name, w.text, err)
				continue
			}
			total++
			if matchesWord(places, w, pageBox(t, rd, w.page)) {
				found++
			} else {
				missed = append(missed, fmt.Sprintf("%q p%d (%.1f,%.1f)", w.text, w.page, w.xMin, w.yMax))
			}
		}
		if len(missed) > 0 {
			t.Logf("%s: %d of %d words not placed as pdftotext has them: %s", name, len(missed), len(words), strings.Join(missed, ", "))
		}
	}
	t.Logf("corpus: %d of %d words placed within %v points of pdftotext's boxes (%.1f%%)", found, total, tolerance, 100*float64(found)/float64(total))
	if float64(found) < 0.97*float64(total) {
		t.Errorf("only %d of %d words placed", found, total)
	}
}

// manifestPassword reads the user password from the manifest's
// "encrypted" column.
func manifestPassword(s string) string {
	_, rest, ok := strings.Cut(s, "password '")
	if !ok {
		return ""
	}
	pw, _, _ := strings.Cut(rest, "'")
	return pw
}

// pickWords returns up to n words spread over the first pages: letters
// only, at least five of them.
func pickWords(words []toolWord, n int) []toolWord {
	var ok []toolWord
	for _, w := range words {
		if w.page > corpusPages || len([]rune(w.text)) < 5 {
			continue
		}
		letters := true
		for _, r := range w.text {
			letters = letters && unicode.IsLetter(r)
		}
		if letters {
			ok = append(ok, w)
		}
	}
	if len(ok) <= n {
		return ok
	}
	out := make([]toolWord, 0, n)
	for i := 0; i < n; i++ {
		out = append(out, ok[i*len(ok)/n])
	}
	return out
}

// matchesWord reports whether one of places lies on word w's box.
func matchesWord(places []Place, w toolWord, pb box) bool {
	for _, p := range places {
		if p.Page == w.page && offWord(p, w, pb) <= tolerance {
			return true
		}
	}
	return false
}

// firstPages yields the first n pages of pages.
func firstPages(pages iter.Seq2[pdf.Page, error], n int) iter.Seq2[pdf.Page, error] {
	return func(yield func(pdf.Page, error) bool) {
		for p, err := range pages {
			if err == nil && p.Number > n {
				return
			}
			if !yield(p, err) {
				return
			}
		}
	}
}
