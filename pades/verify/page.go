package verify

import (
	"bytes"
	"fmt"
	"html/template"
	"io"
	"strings"
	"time"

	"hashsign/pades/internal/pdf"
)

// reportLine is one line of the one-page report.
type reportLine struct {
	Text  string
	Style string // title, verdict-passed, verdict-failed, verdict-indeterminate, heading, item or ""
}

// maxChanges bounds the changes listed per signature in the one-page report.
const maxChanges = 6

// pageLines returns the content of the one-page report.
func (r *Report) pageLines() []reportLine {
	verdict := r.Indication
	if r.SubIndication != "" {
		verdict += " / " + r.SubIndication
	}
	style := map[string]string{TotalPassed: "verdict-passed", TotalFailed: "verdict-failed"}[r.Indication]
	if style == "" {
		style = "verdict-indeterminate"
	}
	trust := "no trust anchor"
	if len(r.Trust.Anchors) > 0 {
		trust = strings.Join(r.Trust.Anchors, "; ")
	}
	if r.Trust.SystemRoots {
		trust += " + system roots"
	}
	lines := []reportLine{
		{"Signature validation report", "title"},
		{"Verdict: " + verdict, style},
		{fmt.Sprintf("Validated at %s against %s, %s. %d signature(s) in %d revision(s), %d bytes.",
			r.ValidationTime.Format(time.RFC3339), trust, map[bool]string{true: "online", false: "offline"}[r.Trust.Online],
			len(r.Signatures), len(r.Revisions), r.Size), ""},
	}
	for _, n := range r.Notes {
		lines = append(lines, reportLine{"Note: " + n, ""})
	}
	for _, s := range r.Signatures {
		ind := s.Indication
		if s.SubIndication != "" {
			ind += " / " + s.SubIndication
		}
		kind := "Signature"
		if s.Kind == "document-timestamp" {
			kind = "Document timestamp"
		}
		lines = append(lines, reportLine{fmt.Sprintf("%d. %s %q, revision %d: %s", s.Number, kind, s.Field, s.Revision, ind), "heading"})
		if s.Signer != nil {
			lines = append(lines, reportLine{"Signed by: " + s.Signer.Subject, "item"})
		}
		lines = append(lines, reportLine{"Time: " + s.Time.describe(), "item"})
		if s.Level != nil {
			l := "PAdES level: " + s.Level.Reached
			if s.Level.Reason != "" {
				l += " (" + s.Level.Reason + ")"
			}
			lines = append(lines, reportLine{l, "item"})
		}
		lines = append(lines, reportLine{"Integrity: " + s.Integrity.describe() + "; certificate path: " + s.CertificatePath.Status + "; revocation: " + orDash(s.Revocation.Status), "item"})
		mods := "Modifications after signing: " + s.Modifications.Verdict
		if s.Modifications.Permissions != "" {
			mods += " (" + s.Modifications.Permissions + ")"
		}
		lines = append(lines, reportLine{mods, "item"})
		for i, c := range s.Modifications.Changes {
			if i == maxChanges {
				lines = append(lines, reportLine{fmt.Sprintf("   ... and %d more", len(s.Modifications.Changes)-maxChanges), "item"})
				break
			}
			v := "allowed"
			if !c.Allowed {
				v = "DISALLOWED"
			}
			lines = append(lines, reportLine{fmt.Sprintf("   revision %d: %s: %s", c.Revision, c.Description, v), "item"})
		}
		for _, reason := range s.Reasons {
			lines = append(lines, reportLine{"Why: " + reason, "item"})
		}
	}
	return lines
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

var htmlPage = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Signature validation report</title>
<style>
body{font-family:Helvetica,Arial,sans-serif;max-width:52em;margin:2em auto;color:#222;font-size:14px}
h1{font-size:1.5em} h2{font-size:1.1em;margin:1.2em 0 .3em}
.verdict-passed{color:#fff;background:#2a7a2a;padding:.4em .6em;font-weight:bold}
.verdict-failed{color:#fff;background:#b22222;padding:.4em .6em;font-weight:bold}
.verdict-indeterminate{color:#222;background:#f0c040;padding:.4em .6em;font-weight:bold}
.item{margin:.1em 0 .1em 1.2em}
</style></head><body>
{{range .}}{{if eq .Style "title"}}<h1>{{.Text}}</h1>
{{else if eq .Style "heading"}}<h2>{{.Text}}</h2>
{{else if .Style}}<p class="{{.Style}}">{{.Text}}</p>
{{else}}<p>{{.Text}}</p>
{{end}}{{end}}</body></html>
`))

// WriteHTML writes the one-page report as an HTML page.
func (r *Report) WriteHTML(w io.Writer) error {
	return htmlPage.Execute(w, r.pageLines())
}

// Geometry of the PDF report: A4 in points.
const (
	pageWidth  = 595
	pageHeight = 842
	margin     = 42
	lineChars  = 108 // Helvetica 8.5 pt, about 4.7 pt a character
)

// WritePDF writes the one-page report as a PDF file with the standard
// Helvetica fonts. Lines that do not fit the page are cut, with a line
// that says so.
func (r *Report) WritePDF(w io.Writer) error {
	var content bytes.Buffer
	y := float64(pageHeight - margin)
	var wrapped []reportLine
	for _, l := range r.pageLines() {
		width := lineChars
		if l.Style == "title" {
			width = 60
		}
		for i, part := range wrap(l.Text, width) {
			st := l.Style
			if i > 0 && st == "heading" {
				st = "item"
			}
			wrapped = append(wrapped, reportLine{part, st})
		}
	}
	for i, l := range wrapped {
		size, font, gap := 8.5, "F1", 11.0
		var rgb string
		switch l.Style {
		case "title":
			size, font, gap = 16, "F2", 22
		case "heading":
			size, font, gap = 10, "F2", 16
		case "verdict-passed":
			size, font, gap, rgb = 13, "F2", 20, "0.1 0.45 0.1"
		case "verdict-failed":
			size, font, gap, rgb = 13, "F2", 20, "0.7 0.1 0.1"
		case "verdict-indeterminate":
			size, font, gap, rgb = 13, "F2", 20, "0.6 0.45 0"
		}
		if i > 0 {
			y -= gap
		}
		if y < margin+12 && i < len(wrapped)-1 {
			fmt.Fprintf(&content, "BT /F1 8.5 Tf %d %.1f Td ", margin, y)
			content.Write(pdf.AppendLiteralString(nil, latin1(fmt.Sprintf("... %d more lines: see the JSON report (pades verify -json).", len(wrapped)-i))))
			content.WriteString(" Tj ET\n")
			break
		}
		if rgb == "" {
			rgb = "0 0 0"
		}
		x := margin
		if l.Style == "item" {
			x += 12
		}
		fmt.Fprintf(&content, "%s rg BT /%s %.1f Tf %d %.1f Td ", rgb, font, size, x, y)
		content.Write(pdf.AppendLiteralString(nil, latin1(l.Text)))
		content.WriteString(" Tj ET\n")
	}
	font := func(name pdf.Name) *pdf.Dict {
		d := pdf.NewDict()
		d.Set("Type", pdf.Name("Font"))
		d.Set("Subtype", pdf.Name("Type1"))
		d.Set("BaseFont", name)
		d.Set("Encoding", pdf.Name("WinAnsiEncoding"))
		return d
	}
	catalog := pdf.NewDict()
	catalog.Set("Type", pdf.Name("Catalog"))
	catalog.Set("Pages", pdf.Ref{Num: 2})
	pages := pdf.NewDict()
	pages.Set("Type", pdf.Name("Pages"))
	pages.Set("Kids", pdf.Array{pdf.Ref{Num: 3}})
	pages.Set("Count", pdf.Integer(1))
	page := pdf.NewDict()
	page.Set("Type", pdf.Name("Page"))
	page.Set("Parent", pdf.Ref{Num: 2})
	page.Set("MediaBox", pdf.Array{pdf.Integer(0), pdf.Integer(0), pdf.Integer(pageWidth), pdf.Integer(pageHeight)})
	fonts := pdf.NewDict()
	fonts.Set("F1", pdf.Ref{Num: 4})
	fonts.Set("F2", pdf.Ref{Num: 5})
	res := pdf.NewDict()
	res.Set("Font", fonts)
	page.Set("Resources", res)
	page.Set("Contents", pdf.Ref{Num: 6})
	stream := pdf.NewDict()
	stream.Set("Length", pdf.Integer(content.Len()))
	var out bytes.Buffer
	out.WriteString("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
	offsets := make([]int, 7)
	for i, o := range []pdf.Object{catalog, pages, page, font("Helvetica"), font("Helvetica-Bold"), stream} {
		num := i + 1
		offsets[num] = out.Len()
		b, err := pdf.AppendObject([]byte(fmt.Sprintf("%d 0 obj\n", num)), o, nil)
		if err != nil {
			return err
		}
		out.Write(b)
		if num == 6 {
			out.WriteString("\nstream\n")
			out.Write(content.Bytes())
			out.WriteString("\nendstream")
		}
		out.WriteString("\nendobj\n")
	}
	xref := out.Len()
	fmt.Fprintf(&out, "xref\n0 7\n0000000000 65535 f \n")
	for _, off := range offsets[1:] {
		fmt.Fprintf(&out, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&out, "trailer\n<< /Size 7 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", xref)
	_, err := w.Write(out.Bytes())
	return err
}

// wrap cuts s into lines of at most width characters, at spaces when it
// can.
func wrap(s string, width int) []string {
	var out []string
	for len([]rune(s)) > width {
		r := []rune(s)
		cut := width
		for i := width; i > width/2; i-- {
			if r[i] == ' ' {
				cut = i
				break
			}
		}
		out = append(out, string(r[:cut]))
		s = "    " + strings.TrimLeft(string(r[cut:]), " ")
	}
	return append(out, s)
}

// latin1 encodes s for WinAnsiEncoding, replacing what it lacks with '?'.
func latin1(s string) []byte {
	b := make([]byte, 0, len(s))
	for _, r := range s {
		if r < 256 {
			b = append(b, byte(r))
		} else {
			b = append(b, '?')
		}
	}
	return b
}
