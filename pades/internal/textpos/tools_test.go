package textpos

import (
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"hashsign/internal/testenv"
)

// toolCase is a document that a real tool makes from a source holding
// tags.
type toolCase struct {
	name   string
	tools  []string
	source string // file name
	text   string
	run    func(dir string) *exec.Cmd
	out    string // the PDF file made
	want   []wantTag
}

var toolCases = []toolCase{
	{
		name: "groff-gropdf", tools: []string{"groff", "gropdf"}, source: "tags.ms", out: "tags.pdf",
		text: `.TL
Agreement
.PP
The parties sign below.
.PP
Buyer: #signature1#
.PP
.ps 14
Seller: \fB#signature2#\fP
`,
		run: func(dir string) *exec.Cmd {
			c := exec.Command("sh", "-c", "groff -ms -Tpdf tags.ms > tags.pdf")
			c.Dir = dir
			return c
		},
		want: []wantTag{{"#signature1#", 1, 10, 0}, {"#signature2#", 1, 14, 0}},
	},
	{
		name: "pdflatex", tools: []string{"pdflatex"}, source: "tags.tex", out: "tags.pdf",
		text: `\documentclass{article}
\usepackage{graphicx}
\begin{document}
The parties sign below.

Buyer: \#signature1\#

\vspace{3cm}
Seller: \rotatebox{90}{\#signature2\#} and \scalebox{1.5}{\textbf{\#signature3\#}}
\newpage
Witness: \#signature4\#
\end{document}
`,
		run: func(dir string) *exec.Cmd {
			c := exec.Command("pdflatex", "-interaction=batchmode", "-halt-on-error", "tags.tex")
			c.Dir = dir
			return c
		},
		want: []wantTag{{"#signature1#", 1, 9.9626, 0}, {"#signature2#", 1, 9.9626, 90}, {"#signature3#", 1, 9.9626 * 1.5, 0}, {"#signature4#", 2, 9.9626, 0}},
	},
}

// TestRealTools finds tags in documents that groff (gropdf) and pdflatex
// make, and checks them against mutool and pdftotext.
func TestRealTools(t *testing.T) {
	for _, tc := range toolCases {
		t.Run(tc.name, func(t *testing.T) {
			for _, tool := range tc.tools {
				testenv.Need(t, tool, ".ci/test installs it")
			}
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, tc.source), []byte(tc.text), 0o644); err != nil {
				t.Fatal(err)
			}
			if out, err := tc.run(dir).CombinedOutput(); err != nil {
				t.Fatalf("%s: %v\n%s", tc.name, err, out)
			}
			file := filepath.Join(dir, tc.out)
			b := readFile(t, file)
			rd, _ := open(t, b, "")
			for _, w := range tc.want {
				places := findIn(t, b, "", w.tag)
				if len(places) != 1 {
					t.Fatalf("%s: %d places, want 1: %+v", w.tag, len(places), places)
				}
				p := places[0]
				if p.Page != w.page || math.Abs(p.FontSize-w.size) > 0.01 || math.Abs(p.Angle-w.angle) > 0.01 {
					t.Errorf("%s: %+v, want page %d, size %v, angle %v", w.tag, p, w.page, w.size, w.angle)
				}
				pb := pageBox(t, rd, w.page)
				dm := compareMuPDF(t, file, "", w.tag, places, pb, true)
				dp := comparePoppler(t, file, "", w.tag, places, pb)
				t.Logf("%s %s: %+v; mutool %.3f, pdftotext %.3f points off", tc.name, w.tag, p, dm, dp)
			}
		})
	}
}

// TestEncrypted finds the tags of hand-built files that qpdf encrypted
// (AES-256 and RC4-128, with a user password) where they are in the
// plain files.
func TestEncrypted(t *testing.T) {
	qpdf := testenv.Need(t, "qpdf", ".ci/test installs it")
	for _, c := range handCases()[:2] {
		plain := writeTemp(t, c.name+".pdf", c.file)
		for _, enc := range [][]string{{"256"}, {"128", "--use-aes=n"}} {
			t.Run(c.name+"-"+enc[0], func(t *testing.T) {
				out := filepath.Join(t.TempDir(), "enc.pdf")
				args := append([]string{"--allow-weak-crypto", "--encrypt", "user", "owner"}, enc...)
				if b, err := exec.Command(qpdf, append(args, "--", plain, out)...).CombinedOutput(); err != nil {
					t.Fatalf("qpdf: %v\n%s", err, b)
				}
				for _, w := range c.want {
					want := findIn(t, c.file, "", w.tag)
					got := findIn(t, readFile(t, out), "user", w.tag)
					if fmt.Sprint(got) != fmt.Sprint(want) || len(got) != 1 {
						t.Errorf("%s: encrypted %+v, plain %+v", w.tag, got, want)
					}
					compareMuPDF(t, out, "user", w.tag, got, c.mediaBox, c.trueWidths)
					comparePoppler(t, out, "user", w.tag, got, c.mediaBox)
				}
			})
		}
	}
}
