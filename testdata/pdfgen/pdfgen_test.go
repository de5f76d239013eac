package pdfgen

import (
	"bytes"
	"compress/zlib"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"hashsign/internal/testenv"
)

var optionSets = []struct {
	name string
	opts Options
}{
	{"default", Options{}},
	{"form", Options{
		Pages:          3,
		Form:           true,
		SignatureField: true,
		Info:           map[string]string{"Title": "Tést (1)", "Author": `back\slash`, "Custom Key": "x"},
	}},
	{"sigfield-predictor", Options{Pages: 2, SignatureField: true, XRefPredictor: true}},
}

// generateFile writes the file for kind and opts to a temporary directory.
func generateFile(t *testing.T, kind Kind, opts Options) (string, []byte) {
	t.Helper()
	data, err := Bytes(kind, opts)
	if err != nil {
		t.Fatalf("Bytes(%v): %v", kind, err)
	}
	name := filepath.Join(t.TempDir(), kind.String()+".pdf")
	if err := os.WriteFile(name, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return name, data
}

func TestXRefOffsets(t *testing.T) {
	for _, kind := range Kinds() {
		for _, set := range optionSets {
			t.Run(kind.String()+"/"+set.name, func(t *testing.T) {
				data, err := Bytes(kind, set.opts)
				if err != nil {
					t.Fatal(err)
				}
				checkXRef(t, kind, data)
			})
		}
	}
}

func TestQPDFCheck(t *testing.T) {
	qpdf := testenv.Need(t, "qpdf", "")
	for _, kind := range Kinds() {
		for _, set := range optionSets {
			t.Run(kind.String()+"/"+set.name, func(t *testing.T) {
				name, _ := generateFile(t, kind, set.opts)
				out, err := exec.Command(qpdf, "--check", name).CombinedOutput()
				if err != nil {
					t.Fatalf("qpdf --check: %v\n%s", err, out)
				}
				if bytes.Contains(bytes.ToLower(out), []byte("warning")) {
					t.Errorf("qpdf --check warns:\n%s", out)
				}
			})
		}
	}
}

func TestPdfinfo(t *testing.T) {
	pdfinfo := testenv.Need(t, "pdfinfo", "")
	for _, kind := range Kinds() {
		for _, set := range optionSets {
			t.Run(kind.String()+"/"+set.name, func(t *testing.T) {
				name, _ := generateFile(t, kind, set.opts)
				cmd := exec.Command(pdfinfo, name)
				var stderr bytes.Buffer
				cmd.Stderr = &stderr
				out, err := cmd.Output()
				if err != nil || stderr.Len() > 0 {
					t.Fatalf("pdfinfo: %v\n%s%s", err, out, stderr.Bytes())
				}
				fields := pdfinfoFields(string(out))
				if got, want := fields["Pages"], strconv.Itoa(PageCount(kind, set.opts)); got != want {
					t.Errorf("Pages = %s, want %s", got, want)
				}
				wantForm := "none"
				if set.opts.Form || set.opts.SignatureField {
					wantForm = "AcroForm"
				}
				if fields["Form"] != wantForm {
					t.Errorf("Form = %q, want %q", fields["Form"], wantForm)
				}
				wantProducer := DefaultProducer
				if kind.Incremental() {
					wantProducer += " (incremental update)"
				}
				if fields["Producer"] != wantProducer {
					t.Errorf("Producer = %q, want %q", fields["Producer"], wantProducer)
				}
				if title, ok := set.opts.Info["Title"]; ok && fields["Title"] != title {
					t.Errorf("Title = %q, want %q", fields["Title"], title)
				}
				if author, ok := set.opts.Info["Author"]; ok && fields["Author"] != author {
					t.Errorf("Author = %q, want %q", fields["Author"], author)
				}
				if kind.usesXRefStream() && fields["PDF version"] != "1.5" {
					t.Errorf("PDF version = %q, want 1.5", fields["PDF version"])
				}
			})
		}
	}
}

func pdfinfoFields(out string) map[string]string {
	fields := make(map[string]string)
	for line := range strings.Lines(out) {
		if key, value, ok := strings.Cut(line, ":"); ok {
			fields[key] = strings.TrimSpace(value)
		}
	}
	return fields
}

func TestMuPDF(t *testing.T) {
	mutool := testenv.Need(t, "mutool", "")
	for _, kind := range Kinds() {
		t.Run(kind.String(), func(t *testing.T) {
			opts := optionSets[1].opts
			name, _ := generateFile(t, kind, opts)
			png := filepath.Join(t.TempDir(), "page%d.png")
			out, err := exec.Command(mutool, "draw", "-q", "-r", "20", "-o", png, name).CombinedOutput()
			// Some builds of MuPDF lack colour management and say so.
			out = regexp.MustCompile(`(?m)^warning: ICC support is not available\n`).ReplaceAll(out, nil)
			if err != nil || len(bytes.TrimSpace(out)) > 0 {
				t.Fatalf("mutool draw: %v\n%s", err, out)
			}
			for page := 1; page <= PageCount(kind, opts); page++ {
				if _, err := os.Stat(fmt.Sprintf(png, page)); err != nil {
					t.Errorf("page %d not rendered: %v", page, err)
				}
			}
		})
	}
}

// TestOriginalRevision checks that the original revision of an incremental
// file, cut at its first %%EOF, is itself a valid file.
func TestOriginalRevision(t *testing.T) {
	qpdf := testenv.Need(t, "qpdf", "")
	for _, kind := range Kinds() {
		if !kind.Incremental() {
			continue
		}
		t.Run(kind.String(), func(t *testing.T) {
			opts := Options{Pages: 2, Form: true}
			data, err := Bytes(kind, opts)
			if err != nil {
				t.Fatal(err)
			}
			if n := bytes.Count(data, []byte("%%EOF\n")); n != 2 {
				t.Fatalf("%d %%%%EOF markers, want 2", n)
			}
			end := bytes.Index(data, []byte("%%EOF\n")) + len("%%EOF\n")
			name := filepath.Join(t.TempDir(), "original.pdf")
			if err := os.WriteFile(name, data[:end], 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(qpdf, "--check", name).CombinedOutput()
			if err != nil || bytes.Contains(bytes.ToLower(out), []byte("warning")) {
				t.Fatalf("qpdf --check of the original revision: %v\n%s", err, out)
			}
			out, err = exec.Command(qpdf, "--show-npages", name).CombinedOutput()
			if err != nil || strings.TrimSpace(string(out)) != "2" {
				t.Errorf("qpdf --show-npages of the original revision: %v: %s", err, out)
			}
		})
	}
}

func TestHybridQPDFXRef(t *testing.T) {
	qpdf := testenv.Need(t, "qpdf", "")
	name, data := generateFile(t, Hybrid, Options{})
	if !bytes.Contains(data, []byte("/XRefStm ")) || !bytes.Contains(data, []byte("\nxref\n")) {
		t.Fatal("hybrid file lacks a table with /XRefStm")
	}
	out, err := exec.Command(qpdf, "--show-xref", name).CombinedOutput()
	if err != nil {
		t.Fatalf("qpdf --show-xref: %v\n%s", err, out)
	}
	for _, want := range []string{"1/0: compressed", "2/0: compressed", "6/0: uncompressed"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("qpdf --show-xref lacks %q:\n%s", want, out)
		}
	}
}

func TestDeterministic(t *testing.T) {
	for _, kind := range Kinds() {
		a, err := Bytes(kind, optionSets[1].opts)
		if err != nil {
			t.Fatal(err)
		}
		b, err := Bytes(kind, optionSets[1].opts)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Errorf("%v: output differs between runs", kind)
		}
	}
}

func TestKindNames(t *testing.T) {
	for _, kind := range Kinds() {
		got, err := ParseKind(kind.String())
		if err != nil || got != kind {
			t.Errorf("ParseKind(%q) = %v, %v", kind.String(), got, err)
		}
	}
	if _, err := ParseKind("nope"); err == nil {
		t.Error("ParseKind accepted an unknown name")
	}
	if err := Generate(io.Discard, Kind(99), Options{}); err == nil {
		t.Error("Generate accepted an invalid kind")
	}
	if err := Generate(io.Discard, Table, Options{Pages: -1}); err == nil {
		t.Error("Generate accepted a negative page count")
	}
}

func TestPNGUp(t *testing.T) {
	data := []byte{1, 0, 0, 0, 15, 0, 0, 1, 0, 0, 1, 16, 0, 0}
	got := pngUp(data, 7)
	want := []byte{2, 1, 0, 0, 0, 15, 0, 0, 2, 0, 0, 0, 1, 1, 0, 0}
	if !bytes.Equal(got, want) {
		t.Errorf("pngUp = %v, want %v", got, want)
	}
}

// Regular expressions for the cross-reference checker.
var (
	objHeaderRE = regexp.MustCompile(`^(\d+) (\d+) obj\s*<<`)
	intEntryRE  = func(key string) *regexp.Regexp { return regexp.MustCompile(`/` + key + ` (\d+)\b`) }
	wRE         = regexp.MustCompile(`/W \[(\d+) (\d+) (\d+)\]`)
	indexRE     = regexp.MustCompile(`/Index \[([\d ]*)\]`)
	sizeRE      = intEntryRE("Size")
	prevRE      = intEntryRE("Prev")
	xrefStmRE   = intEntryRE("XRefStm")
	lengthRE    = intEntryRE("Length")
	predictorRE = intEntryRE("Predictor")
	nRE         = intEntryRE("N")
	firstRE     = intEntryRE("First")
)

type resolved struct {
	typ    int
	f2, f3 int64
}

// checkXRef follows the cross-reference chain of data, newest section first,
// and checks that every in-use entry points exactly at its object and that
// every compressed entry names an object stream holding its object.
func checkXRef(t *testing.T, kind Kind, data []byte) {
	t.Helper()
	i := bytes.LastIndex(data, []byte("startxref\n"))
	if i < 0 || !bytes.HasSuffix(data, []byte("%%EOF\n")) {
		t.Fatal("no startxref or end-of-file marker at the end")
	}
	off, err := strconv.ParseInt(strings.TrimSpace(string(data[i+len("startxref\n"):len(data)-len("%%EOF\n")])), 10, 64)
	if err != nil {
		t.Fatalf("startxref: %v", err)
	}

	entries := make(map[int]resolved)
	add := func(num int, e resolved) {
		if _, ok := entries[num]; !ok {
			entries[num] = e
		}
	}
	var size, sections, tables, streams int
	for off >= 0 {
		sections++
		if sections > 10 {
			t.Fatal("cross-reference chain too long")
		}
		var trailer string
		if bytes.HasPrefix(data[off:], []byte("xref\n")) {
			tables++
			trailer = readTable(t, data, off, add)
			if m := xrefStmRE.FindStringSubmatch(trailer); m != nil {
				n, _ := strconv.ParseInt(m[1], 10, 64)
				streams++
				readXRefStream(t, data, n, add)
			}
		} else {
			streams++
			trailer = readXRefStream(t, data, off, add)
		}
		if sections == 1 {
			m := sizeRE.FindStringSubmatch(trailer)
			if m == nil {
				t.Fatal("newest trailer has no /Size")
			}
			size, _ = strconv.Atoi(m[1])
		}
		off = -1
		if m := prevRE.FindStringSubmatch(trailer); m != nil {
			off, _ = strconv.ParseInt(m[1], 10, 64)
		}
	}
	wantSections := 1
	if kind.Incremental() {
		wantSections = 2
	}
	if sections != wantSections {
		t.Errorf("%d cross-reference sections, want %d", sections, wantSections)
	}
	if kind == Hybrid && (tables != 1 || streams != 1) {
		t.Errorf("hybrid file has %d tables and %d streams, want 1 and 1", tables, streams)
	}

	for num := 1; num < size; num++ {
		e, ok := entries[num]
		if !ok || e.typ == 0 {
			t.Errorf("object %d is not in use", num)
			continue
		}
		if e.typ == 1 {
			m := objHeaderRE.FindSubmatch(data[e.f2:])
			if m == nil || string(m[1]) != strconv.Itoa(num) || string(m[2]) != strconv.FormatInt(e.f3, 10) {
				t.Errorf("object %d %d: offset %d points at %.20q", num, e.f3, e.f2, data[e.f2:])
			}
			continue
		}
		stm, ok := entries[int(e.f2)]
		if !ok || stm.typ != 1 {
			t.Errorf("object %d: object stream %d not in use", num, e.f2)
			continue
		}
		dict, body := streamAt(t, data, stm.f2)
		if !strings.Contains(dict, "/Type /ObjStm") {
			t.Errorf("object %d: object %d is not an object stream", num, e.f2)
			continue
		}
		n, first := intEntry(t, dict, nRE), intEntry(t, dict, firstRE)
		header := strings.Fields(string(body[:first]))
		if len(header) != 2*n || e.f3 >= int64(n) || header[2*e.f3] != strconv.Itoa(num) {
			t.Errorf("object %d: not at index %d of object stream %d (header %q)", num, e.f3, e.f2, header)
		}
	}
	if len(entries) != size {
		t.Errorf("%d entries, /Size %d", len(entries), size)
	}
}

// readTable reads the cross-reference table at off and returns its trailer.
func readTable(t *testing.T, data []byte, off int64, add func(int, resolved)) string {
	t.Helper()
	p := int(off) + len("xref\n")
	for !bytes.HasPrefix(data[p:], []byte("trailer")) {
		eol := bytes.IndexByte(data[p:], '\n')
		var first, count int
		if _, err := fmt.Sscanf(string(data[p:p+eol]), "%d %d", &first, &count); err != nil {
			t.Fatalf("subsection header at %d: %v", p, err)
		}
		p += eol + 1
		for i := range count {
			line := string(data[p : p+20])
			if line[18:] != " \n" && line[18:] != "\r\n" {
				t.Fatalf("entry %q is not 20 bytes long", line)
			}
			var f2, f3 int64
			var kw string
			if _, err := fmt.Sscanf(line, "%d %d %s", &f2, &f3, &kw); err != nil {
				t.Fatalf("entry %q: %v", line, err)
			}
			typ := 1
			if kw == "f" {
				typ = 0
			}
			add(first+i, resolved{typ, f2, f3})
			p += 20
		}
	}
	end := bytes.Index(data[p:], []byte("startxref"))
	return string(data[p : p+end])
}

// readXRefStream reads the cross-reference stream at off and returns its
// dictionary.
func readXRefStream(t *testing.T, data []byte, off int64, add func(int, resolved)) string {
	t.Helper()
	dict, body := streamAt(t, data, off)
	if !strings.Contains(dict, "/Type /XRef") {
		t.Fatalf("object at %d is not a cross-reference stream", off)
	}
	m := wRE.FindStringSubmatch(dict)
	if m == nil {
		t.Fatal("cross-reference stream without /W")
	}
	var w [3]int
	for i := range w {
		w[i], _ = strconv.Atoi(m[i+1])
	}
	cols := w[0] + w[1] + w[2]
	if predictorRE.MatchString(dict) {
		var rows []byte
		prev := make([]byte, cols)
		for len(body) > 0 {
			if body[0] != 2 || len(body) < cols+1 {
				t.Fatalf("bad PNG Up row %v", body[:min(len(body), cols+1)])
			}
			row := make([]byte, cols)
			for i := range row {
				row[i] = body[1+i] + prev[i]
			}
			rows = append(rows, row...)
			prev = row
			body = body[cols+1:]
		}
		body = rows
	}
	var index []int
	if m := indexRE.FindStringSubmatch(dict); m != nil {
		for _, f := range strings.Fields(m[1]) {
			n, _ := strconv.Atoi(f)
			index = append(index, n)
		}
	} else {
		index = []int{0, intEntry(t, dict, sizeRE)}
	}
	field := func(b []byte) int64 {
		var v int64
		for _, c := range b {
			v = v<<8 | int64(c)
		}
		return v
	}
	for i := 0; i+1 < len(index); i += 2 {
		for num := index[i]; num < index[i]+index[i+1]; num++ {
			if len(body) < cols {
				t.Fatalf("cross-reference stream too short for object %d", num)
			}
			typ := 1
			if w[0] > 0 {
				typ = int(field(body[:w[0]]))
			}
			add(num, resolved{typ, field(body[w[0] : w[0]+w[1]]), field(body[w[0]+w[1] : cols])})
			body = body[cols:]
		}
	}
	if len(body) != 0 {
		t.Errorf("%d bytes left in cross-reference stream", len(body))
	}
	return dict
}

// streamAt returns the dictionary and decoded data of the stream object at
// off.
func streamAt(t *testing.T, data []byte, off int64) (string, []byte) {
	t.Helper()
	rest := data[off:]
	if !objHeaderRE.Match(rest) {
		t.Fatalf("no object at offset %d: %.20q", off, rest)
	}
	i := bytes.Index(rest, []byte(">>\nstream\n"))
	if i < 0 {
		t.Fatalf("object at %d is not a stream", off)
	}
	dict := string(rest[:i+2])
	n := intEntry(t, dict, lengthRE)
	start := i + len(">>\nstream\n")
	raw := rest[start : start+n]
	if !bytes.HasPrefix(rest[start+n:], []byte("\nendstream\nendobj\n")) {
		t.Fatalf("stream at %d: /Length %d does not end at endstream", off, n)
	}
	if !strings.Contains(dict, "/FlateDecode") {
		return dict, raw
	}
	zr, err := zlib.NewReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("stream at %d: %v", off, err)
	}
	body, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("stream at %d: %v", off, err)
	}
	return dict, body
}

func intEntry(t *testing.T, dict string, re *regexp.Regexp) int {
	t.Helper()
	m := re.FindStringSubmatch(dict)
	if m == nil {
		t.Fatalf("dictionary lacks %s: %s", re, dict)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}
