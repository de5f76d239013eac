package pdf

import (
	"bytes"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"hashsign/testdata/hostile"
	"hashsign/testdata/pdfgen"
)

// scale divides the hostile files and the budget alike: the structure of
// each case is kept, at a size that a unit test reads in milliseconds.
const scale = 256

// checkAccounting fails when the reader's accounting is off: more held than
// the budget allows, or a negative balance (a release without its take).
func checkAccounting(t *testing.T, rd *Reader) {
	t.Helper()
	if rd.held < 0 || rd.held > rd.budget.Memory {
		t.Errorf("held %d bytes, budget %d", rd.held, rd.budget.Memory)
	}
}

// TestHostileScaled opens every hostile case, scaled down, with the
// default budget scaled down alike, and checks the outcome that the full
// case has with the default budget: opened within the budget, or refused
// with an error that names the object and the limit.
func TestHostileScaled(t *testing.T) {
	budget := Budget{Memory: DefaultMemory / scale}
	cases := []struct {
		name     string
		err      string // the refusal, "" when the file opens
		repaired bool
		stored   int // entries kept, when the file opens
	}{
		{"xref-free-8m", "", false, 7},
		{"xref-compressed-8m", "", true, 8},
		{"prev-4", "", false, 7},
		{"prev-40", "", false, 7},
		{"objstm-256m-1", "object 1: object stream 11: decoded data exceeds the memory budget of 256 KiB", false, 0},
		{"objstm-256m-3", "object 1: object stream 11: decoded data exceeds the memory budget of 256 KiB", false, 0},
		{"objstm-256m-6", "object 1: object stream 11: decoded data exceeds the memory budget of 256 KiB", false, 0},
		{"flate-chain", "object 1: object stream 11: decoded data exceeds the memory budget of 256 KiB", false, 0},
		{"png-predictor", "object 1: object stream 11: decoded data exceeds the memory budget of 256 KiB", false, 0},
		{"string-80m", "object 1: the string at offset 71 exceeds the limit for one object of 64 KiB", false, 0},
		{"repair-2m", "", true, 6 + 2_000_000/scale},
	}
	if len(cases) != len(hostile.Cases()) {
		t.Fatalf("%d cases here, %d in the generator", len(cases), len(hostile.Cases()))
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			hc, ok := hostile.Lookup(c.name)
			if !ok {
				t.Fatalf("no hostile case %s", c.name)
			}
			var b bytes.Buffer
			if err := hc.WriteScaled(&b, scale); err != nil {
				t.Fatal(err)
			}
			data := b.Bytes()
			rd, err := OpenBudget(bytes.NewReader(data), int64(len(data)), budget)
			if c.err != "" {
				var le *LimitError
				if !errors.As(err, &le) || err.Error() != c.err {
					t.Fatalf("err %v, want %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			checkAccounting(t, rd)
			if rd.produced > rd.budget.Decode {
				t.Errorf("decoded %d bytes, budget %d", rd.produced, rd.budget.Decode)
			}
			if rd.Repaired != c.repaired {
				t.Errorf("repaired %v (%s), want %v", rd.Repaired, rd.RepairReason, c.repaired)
			}
			if rd.xref.n != c.stored {
				t.Errorf("%d entries stored, want %d", rd.xref.n, c.stored)
			}
			for num := range rd.Entries() {
				if _, err := rd.Object(num); err != nil {
					t.Errorf("object %d: %v", num, err)
				}
			}
			root, err := rd.ResolveDict(rd.Trailer.Get("Root"))
			if err != nil || root.Get("Type") != Name("Catalog") {
				t.Fatalf("catalog %v: %v", root, err)
			}
			checkAccounting(t, rd)
			t.Logf("%d bytes: held %d, decoded %d, %d sections, %d entries", len(data), rd.held, rd.produced, len(rd.Sections), rd.xref.n)
		})
	}
}

// TestFreeEntriesNotStored: a stream declaring a million free entries
// costs the table nothing, however many it declares.
func TestFreeEntriesNotStored(t *testing.T) {
	hc, _ := hostile.Lookup("xref-free-8m")
	var b bytes.Buffer
	if err := hc.WriteScaled(&b, 8); err != nil {
		t.Fatal(err)
	}
	rd, err := Open(bytes.NewReader(b.Bytes()), int64(b.Len()))
	if err != nil {
		t.Fatal(err)
	}
	if rd.Repaired || rd.xref.n != 7 {
		t.Fatalf("repaired %v (%s), %d entries stored; want the stream read and 7 entries", rd.Repaired, rd.RepairReason, rd.xref.n)
	}
	if rd.Sections[0].Count != 8388600/8 {
		t.Errorf("section lists %d entries, want %d", rd.Sections[0].Count, 8388600/8)
	}
	// one page of entries and its index, besides the cached catalog
	if held := rd.held - rd.objsCost; held != pageBytes+16*8 {
		t.Errorf("%d bytes held for the entries of 7 objects in use, want %d", held, pageBytes+16*8)
	}
	if rd.NextObjectNumber() != 8388600/8 {
		t.Errorf("next object number %d, want %d", rd.NextObjectNumber(), 8388600/8)
	}
}

// testFile writes a PDF file for a test and records where its objects start.
type testFile struct {
	bytes.Buffer
	offs map[int]int
}

func newTestFile(version string) *testFile {
	f := &testFile{offs: map[int]int{}}
	f.WriteString("%PDF-" + version + "\n")
	return f
}

// obj writes object num with the given body.
func (f *testFile) obj(num int, body string) {
	f.offs[num] = f.Len()
	fmt.Fprintf(f, "%d 0 obj\n%s\nendobj\n", num, body)
}

// zlibBytes compresses b with zlib.
func zlibBytes(b []byte) []byte {
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write(b)
	zw.Close()
	return z.Bytes()
}

// objStmFile returns a file whose catalog, page tree and page are direct
// objects and whose objects 11..15 live in object stream 10 and 21..25 in
// object stream 20, each padded to pad decoded bytes.
func objStmFile(t *testing.T, pad int) []byte {
	t.Helper()
	b := newTestFile("1.5")
	offs := b.offs
	b.obj(1, "<</Type/Catalog/Pages 2 0 R>>")
	b.obj(2, "<</Type/Pages/Kids[3 0 R]/Count 1>>")
	b.obj(3, "<</Type/Page/Parent 2 0 R/MediaBox[0 0 1 1]>>")
	for _, sn := range []int{10, 20} {
		var head, body strings.Builder
		for i := 1; i <= 5; i++ {
			fmt.Fprintf(&head, "%d %d ", sn+i, body.Len())
			fmt.Fprintf(&body, "<</N %d>> ", sn+i)
		}
		plain := head.String() + body.String() + strings.Repeat(" ", pad-head.Len()-body.Len())
		z := zlibBytes([]byte(plain))
		offs[sn] = b.Len()
		fmt.Fprintf(b, "%d 0 obj\n<</Type/ObjStm/N 5/First %d/Filter/FlateDecode/Length %d>>stream\n", sn, head.Len(), len(z))
		b.Write(z)
		b.WriteString("\nendstream\nendobj\n")
	}
	xref := b.Len()
	var rows []byte
	for n := 0; n <= 30; n++ {
		switch {
		case n == 30:
			rows = append(rows, 1, byte(xref>>16), byte(xref>>8), byte(xref), 0)
		case offs[n] != 0:
			rows = append(rows, 1, byte(offs[n]>>16), byte(offs[n]>>8), byte(offs[n]), 0)
		case n > 10 && n <= 15 || n > 20 && n <= 25:
			rows = append(rows, 2, 0, 0, byte(n/10*10), byte(n%10-1))
		default:
			rows = append(rows, 0, 0, 0, 0, 0)
		}
	}
	fmt.Fprintf(b, "30 0 obj\n<</Type/XRef/Size 31/W[1 3 1]/Root 1 0 R/Length %d>>stream\n", len(rows))
	b.Write(rows)
	fmt.Fprintf(b, "\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n", xref)
	return b.Bytes()
}

// TestObjStmCache: objects of one object stream decode it once; two
// streams that do not fit in memory together evict each other; and the
// decode budget ends the thrashing that alternating between them causes.
func TestObjStmCache(t *testing.T) {
	const memory = 256 << 10
	const pad = 60 << 10 // decoded into a buffer of 64 KiB
	data := objStmFile(t, pad)
	rd, err := OpenBudget(bytes.NewReader(data), int64(len(data)), Budget{Memory: memory})
	if err != nil {
		t.Fatal(err)
	}
	load := func(num int) error {
		o, err := rd.Object(num)
		if err != nil {
			return err
		}
		if d, _ := o.(*Dict); d == nil || d.Get("N") != Integer(num) {
			return fmt.Errorf("object %d: got %v", num, o)
		}
		return nil
	}
	for _, n := range []int{11, 12, 13, 14, 15} {
		if err := load(n); err != nil {
			t.Fatal(err)
		}
	}
	if decodes := rd.produced / pad; decodes != 1 {
		t.Fatalf("five objects of one stream decoded it %d times", decodes)
	}
	if err := load(21); err != nil {
		t.Fatal(err)
	}
	if len(rd.objStms) != 2 {
		t.Fatalf("%d object streams cached, want 2", len(rd.objStms))
	}
	checkAccounting(t, rd)

	// A budget that holds one stream: each switch evicts the other and
	// decodes again, until the decode budget (8 streams' worth) is spent.
	rd, err = OpenBudget(bytes.NewReader(data), int64(len(data)), Budget{Memory: 100 << 10, Decode: 8 * pad})
	if err != nil {
		t.Fatal(err)
	}
	var loads int
	for loads = 0; loads < 100; loads++ {
		rd.dropObjects()
		if err = load(11 + loads%2*10); err != nil {
			break
		}
		checkAccounting(t, rd)
		if len(rd.objStms) != 1 {
			t.Fatalf("after %d loads, %d object streams cached with room for one", loads+1, len(rd.objStms))
		}
	}
	var le *LimitError
	if !errors.As(err, &le) || !strings.Contains(err.Error(), "decode budget") {
		t.Fatalf("after %d loads: %v, want the decode budget exceeded", loads, err)
	}
	if loads != 8 {
		t.Errorf("refused at load %d, want 9 (the 9th decode overruns the decode budget)", loads+1)
	}
	t.Log(err)
}

// dropObjects empties the object cache (so that each load reads its object
// stream again).
func (rd *Reader) dropObjects() {
	rd.release(rd.objsCost)
	rd.objs, rd.objsCost = map[int]Object{}, 0
}

// TestDecodeFilters decodes each supported filter and predictor, alone
// and chained, and checks the output against the input.
func TestDecodeFilters(t *testing.T) {
	plain := make([]byte, 6*1000) // rows of 6 bytes: 2 pixels of 3 colours
	for i := range plain {
		plain[i] = byte(i*7 + i/6)
	}
	deflate := zlibBytes
	// png encodes rows of 6 bytes (3 bytes per pixel) with filter typ
	png := func(typ byte) []byte {
		var out []byte
		prev := make([]byte, 6)
		for r := 0; r < len(plain); r += 6 {
			row := plain[r : r+6]
			out = append(out, typ)
			for i, c := range row {
				var left, up, ul byte
				if i >= 3 {
					left, ul = row[i-3], prev[i-3]
				}
				up = prev[i]
				switch typ {
				case 1:
					c -= left
				case 2:
					c -= up
				case 3:
					c -= byte((int(left) + int(up)) / 2)
				case 4:
					c -= paeth(left, up, ul)
				}
				out = append(out, c)
			}
			prev = row
		}
		return out
	}
	tiff := func() []byte {
		out := append([]byte(nil), plain...)
		for r := 0; r < len(out); r += 6 {
			for i := 5; i >= 3; i-- {
				out[r+i] -= out[r+i-3]
			}
		}
		return out
	}
	const parms = "/DecodeParms<</Predictor %d/Colors 3/Columns 2>>"
	n, z, pngLen := len(plain), len(deflate(plain)), len(png(0))
	cases := []struct {
		name, dict string
		data       []byte
		counted    int // the output of every stage
	}{
		{"none", "<<>>", plain, 0},
		{"flate", "<</Filter/FlateDecode>>", deflate(plain), n},
		{"flate flate", "<</Filter[/FlateDecode/Fl]>>", deflate(deflate(plain)), z + n},
		{"hex", "<</Filter/ASCIIHexDecode>>", []byte(fmt.Sprintf("%X>", plain)), n},
		{"hex flate", "<</Filter[/AHx/FlateDecode]>>", []byte(fmt.Sprintf("%x", deflate(plain))), z + n},
		{"png none", "<</Filter/FlateDecode" + fmt.Sprintf(parms, 10) + ">>", deflate(png(0)), pngLen + n},
		{"png sub", "<</Filter/FlateDecode" + fmt.Sprintf(parms, 11) + ">>", deflate(png(1)), pngLen + n},
		{"png up", "<</Filter/FlateDecode" + fmt.Sprintf(parms, 12) + ">>", deflate(png(2)), pngLen + n},
		{"png average", "<</Filter/FlateDecode" + fmt.Sprintf(parms, 13) + ">>", deflate(png(3)), pngLen + n},
		{"png paeth", "<</Filter/FlateDecode" + fmt.Sprintf(parms, 14) + ">>", deflate(png(4)), pngLen + n},
		{"tiff", "<</Filter/FlateDecode" + fmt.Sprintf(parms, 2) + ">>", deflate(tiff()), n + n},
		{"flate truncated", "<</Filter/FlateDecode>>", deflate(plain)[:z-4], n},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o, err := ParseObject([]byte(c.dict))
			if err != nil {
				t.Fatal(err)
			}
			counted := 0
			r, err := decodeChain(bytes.NewReader(c.data), o.(*Dict), func(n int) error { counted += n; return nil })
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(r)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, plain) {
				t.Fatalf("decoded %d bytes differ from the %d encoded", len(got), len(plain))
			}
			if counted != c.counted {
				t.Errorf("%d bytes counted, want %d", counted, c.counted)
			}
		})
	}
	// a chain that inflates past what its counter allows stops there
	bomb := deflate(deflate(make([]byte, 64<<20)))
	stop := errors.New("stop")
	counted := 0
	r, err := decodeChain(bytes.NewReader(bomb), mustDict(t, "<</Filter[/FlateDecode/FlateDecode]>>"), func(n int) error {
		if counted += n; counted > 1<<20 {
			return stop
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	read, err := io.Copy(io.Discard, r)
	if !errors.Is(err, stop) || read > 1<<20 {
		t.Errorf("bomb: read %d bytes, err %v; want at most 1 MiB and the counter's error", read, err)
	}
}

func mustDict(t *testing.T, s string) *Dict {
	t.Helper()
	o, err := ParseObject([]byte(s))
	d, ok := o.(*Dict)
	if err != nil || !ok {
		t.Fatalf("%q: %v", s, err)
	}
	return d
}

// TestNewerSectionHides: an object that a newer section marks free (or in
// use at offset 0) is gone, although free entries are not stored; a hybrid
// section's stream fills only what its table leaves free.
func TestNewerSectionHides(t *testing.T) {
	b := newTestFile("1.4")
	offs := b.offs
	table := func(prev int, rows ...string) int {
		x := b.Len()
		fmt.Fprintf(b, "xref\n0 1\n0000000000 65535 f \n")
		for _, r := range rows {
			b.WriteString(r)
		}
		fmt.Fprintf(b, "trailer\n<</Size 6/Root 1 0 R")
		if prev > 0 {
			fmt.Fprintf(b, "/Prev %d", prev)
		}
		b.WriteString(">>\n")
		return x
	}
	b.obj(1, "<</Type/Catalog/Pages 2 0 R>>")
	b.obj(2, "<</Type/Pages/Kids[]/Count 0>>")
	b.obj(4, "(four)")
	b.obj(5, "(five)")
	first := table(0, "1 2\n", fmt.Sprintf("%010d 00000 n \n%010d 00000 n \n", offs[1], offs[2]),
		"4 2\n", fmt.Sprintf("%010d 00000 n \n%010d 00000 n \n", offs[4], offs[5]))
	second := table(first, "4 2\n0000000000 00001 f \n0000000000 00000 n \n")
	fmt.Fprintf(b, "startxref\n%d\n%%%%EOF\n", second)
	data := b.Bytes()
	rd, err := Open(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	for num, want := range map[int]Object{4: nil, 5: nil, 2: NewDict()} {
		o, err := rd.Object(num)
		if err != nil || (want == nil) != (o == nil) {
			t.Errorf("object %d: %v, %v", num, o, err)
		}
	}
	var nums []int
	for num := range rd.Entries() {
		nums = append(nums, num)
	}
	if fmt.Sprint(nums) != "[1 2]" {
		t.Errorf("entries %v, want [1 2]", nums)
	}
	if got := []int{rd.Sections[0].Count, rd.Sections[1].Count}; fmt.Sprint(got) != "[3 5]" {
		t.Errorf("section counts %v, want [3 5]", got)
	}
	sec, err := rd.SectionEntries(1)
	if err != nil {
		t.Fatal(err)
	}
	nums = nums[:0]
	for num := range sec {
		nums = append(nums, num)
	}
	if fmt.Sprint(nums) != "[1 2 4 5]" {
		t.Errorf("oldest section's entries %v, want [1 2 4 5]", nums)
	}
}

// TestHybridPrecedence: in a hybrid section the table's objects in use
// win over its stream's, whose entries fill what the table marks free.
func TestHybridPrecedence(t *testing.T) {
	b := newTestFile("1.5")
	offs := b.offs
	b.obj(1, "<</Type/Catalog/Pages 2 0 R>>")
	b.obj(2, "<</Type/Pages/Kids[]/Count 0>>")
	b.obj(3, "(table)")
	head, body := "3 0 4 9 ", "(stream) (stream) "
	offs[10] = b.Len()
	fmt.Fprintf(b, "10 0 obj\n<</Type/ObjStm/N 2/First %d/Length %d>>stream\n%s%s\nendstream\nendobj\n", len(head), len(head)+len(body), head, body)
	offs[11] = b.Len()
	rows := []byte{2, 10, 0, 2, 10, 1, 1, byte(offs[10]), 0}
	fmt.Fprintf(b, "11 0 obj\n<</Type/XRef/Size 12/W[1 1 1]/Index[3 2 10 1]/Length %d>>stream\n%s\nendstream\nendobj\n", len(rows), rows)
	x := b.Len()
	fmt.Fprintf(b, "xref\n0 5\n0000000000 65535 f \n%010d 00000 n \n%010d 00000 n \n%010d 00000 n \n0000000000 00001 f \n", offs[1], offs[2], offs[3])
	fmt.Fprintf(b, "trailer\n<</Size 12/Root 1 0 R/XRefStm %d>>\nstartxref\n%d\n%%%%EOF\n", offs[11], x)
	data := b.Bytes()
	rd, err := Open(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if rd.Repaired || rd.Sections[0].Kind != XRefHybrid {
		t.Fatalf("repaired %v (%s), kind %v", rd.Repaired, rd.RepairReason, rd.Sections[0].Kind)
	}
	for num, want := range map[int]string{3: "table", 4: "stream"} {
		o, err := rd.Object(num)
		if s, ok := o.(String); err != nil || !ok || string(s.Value) != want {
			t.Errorf("object %d: %v %v, want (%s)", num, o, err, want)
		}
	}
}

// TestValidateOffsets: an entry whose offset does not point at its object
// (one that the catalog does not need) makes Open rebuild the file.
func TestValidateOffsets(t *testing.T) {
	data, err := pdfgen.Bytes(pdfgen.Table, pdfgen.Options{Pages: 2})
	if err != nil {
		t.Fatal(err)
	}
	x := bytes.LastIndex(data, []byte("\nxref"))
	last := bytes.LastIndex(data[x:], []byte(" 00000 n")) + x - 10 // the last object's offset
	data[last+9]++
	rd, err := Open(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if !rd.Repaired || !strings.Contains(rd.RepairReason, "does not point at") {
		t.Errorf("repaired %v (%s), want a rebuild for a wrong offset", rd.Repaired, rd.RepairReason)
	}
}

// TestRepairScanWork: a damaged file whose every object opens a string
// that never closes would make the scan parse to the end of the file from
// each of them; the scan's work limit refuses it.
func TestRepairScanWork(t *testing.T) {
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n")
	for i := 0; i < 2000; i++ {
		fmt.Fprintf(&b, "%d 0 obj (", i+1)
	}
	b.WriteString("\nstartxref\n9\n%%EOF\n")
	data := b.Bytes()
	_, err := Open(bytes.NewReader(data), int64(len(data)))
	var le *LimitError
	if !errors.As(err, &le) || !strings.Contains(err.Error(), "rebuilding its cross-reference failed: the scan's parsing exceeds its limit (4 times the file size, and 1 MiB) of") {
		t.Fatalf("err %v, want the scan's limit", err)
	}
	t.Log(err)
}

func TestLimitErrorText(t *testing.T) {
	for _, c := range []struct {
		n    int64
		want string
	}{{64 << 20, "64 MiB"}, {256 << 10, "256 KiB"}, {1000, "1000 bytes"}, {3<<20 + 1, "3145729 bytes"}} {
		e := &LimitError{What: "object stream 3: decoded data", Limit: c.n, Of: "the memory budget"}
		if got, want := e.Error(), "object stream 3: decoded data exceeds the memory budget of "+c.want; got != want {
			t.Errorf("got %q, want %q", got, want)
		}
		if !errors.Is(e, ErrLimit) {
			t.Error("not ErrLimit")
		}
	}
}
