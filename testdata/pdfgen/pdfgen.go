// Package pdfgen writes small, valid PDF files for table tests of PDF
// readers and signers. It covers each way a PDF file can lay out its
// cross-reference information: classic cross-reference tables,
// cross-reference streams with object streams, hybrid files, and
// incremental updates mixing the two.
//
// Output is deterministic: the same Kind and Options always produce the same
// bytes.
package pdfgen

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf16"

	"hashsign/internal/countwriter"
)

// Kind selects the cross-reference layout of a generated file.
type Kind int

const (
	// Table is a PDF 1.4 file with a single revision and a classic
	// cross-reference table. Content streams are not compressed.
	Table Kind = iota

	// Stream is a PDF 1.5 file with a single revision whose
	// cross-reference information is a cross-reference stream. Every
	// object that is not a stream (catalog, page tree, pages, font,
	// document information, form fields) lives in an object stream;
	// content streams are Flate-compressed.
	Stream

	// Hybrid is a PDF 1.5 hybrid-reference file, as Microsoft Word
	// produces: the objects are laid out as in Stream, a classic
	// cross-reference table lists the objects outside the object stream
	// (its subsections skip those inside), and the table's trailer has an
	// /XRefStm entry pointing at a cross-reference stream that lists only
	// the compressed objects.
	Hybrid

	// TableIncremental is a Table file followed by an incremental update,
	// with its own cross-reference table and /Prev, that rewrites the
	// document information dictionary and the page tree and adds a page.
	TableIncremental

	// StreamIncremental is a Stream file followed by an incremental
	// update like that of TableIncremental, whose cross-reference stream
	// has /Prev and /Index and whose new and changed objects live in a
	// new object stream.
	StreamIncremental

	// MixedStreamThenTable is a Stream file followed by an incremental
	// update like that of TableIncremental with a classic
	// cross-reference table whose /Prev points at the cross-reference
	// stream.
	MixedStreamThenTable
)

var kindNames = [...]string{
	Table:                "table",
	Stream:               "stream",
	Hybrid:               "hybrid",
	TableIncremental:     "table-incremental",
	StreamIncremental:    "stream-incremental",
	MixedStreamThenTable: "mixed-stream-then-table",
}

// Kinds returns every Kind, in the order they are declared.
func Kinds() []Kind {
	ks := make([]Kind, len(kindNames))
	for i := range ks {
		ks[i] = Kind(i)
	}
	return ks
}

// String returns the name of k, such as "table-incremental".
func (k Kind) String() string {
	if k >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// ParseKind returns the Kind whose String is s.
func ParseKind(s string) (Kind, error) {
	for i, name := range kindNames {
		if name == s {
			return Kind(i), nil
		}
	}
	return 0, fmt.Errorf("pdfgen: unknown kind %q", s)
}

// Incremental reports whether files of kind k have an incremental update
// after their original revision.
func (k Kind) Incremental() bool {
	return k == TableIncremental || k == StreamIncremental || k == MixedStreamThenTable
}

// usesXRefStream reports whether the original revision of k has a
// cross-reference stream.
func (k Kind) usesXRefStream() bool {
	return k == Stream || k == Hybrid || k == StreamIncremental || k == MixedStreamThenTable
}

// defaultDate returns the creation date recorded when Options.Date is zero.
func defaultDate() time.Time {
	return time.Date(2025, time.January, 1, 0, 0, 0, 0, time.UTC)
}

// DefaultProducer is the /Producer of the document information dictionary
// unless Options.Info sets one.
const DefaultProducer = "hashsign pdfgen"

// Options controls [Generate]. The zero value produces a one-page document.
type Options struct {
	// Pages is the number of pages of the original revision. Zero means
	// one. An incremental update adds one more page.
	Pages int

	// Form adds an interactive form (/AcroForm) with /NeedAppearances
	// true, a default appearance (/DA), default resources (/DR) and a text
	// field on the first page whose widget has no appearance stream.
	Form bool

	// SignatureField adds an empty, invisible signature field (/FT /Sig
	// without /V) on the first page, and an /AcroForm if Form is false.
	SignatureField bool

	// Info holds entries of the document information dictionary as
	// key-value pairs, such as "Title": "Test". Keys are PDF names
	// without the slash; values are text strings, written in
	// PDFDocEncoding when they are ASCII and in UTF-16BE otherwise. A
	// "Producer" entry overrides DefaultProducer.
	Info map[string]string

	// Date is the /CreationDate of the document. If zero, 2025-01-01
	// 00:00:00 UTC is used. An incremental update records Date plus one hour as /ModDate.
	Date time.Time

	// XRefPredictor encodes cross-reference streams with the PNG Up
	// predictor (/DecodeParms << /Predictor 12 /Columns 7 >>), as Adobe
	// Acrobat does. Without it they are only Flate-compressed.
	XRefPredictor bool
}

// PageCount returns the number of pages of a file generated with kind and
// opts.
func PageCount(kind Kind, opts Options) int {
	n := max(opts.Pages, 1)
	if kind.Incremental() {
		n++
	}
	return n
}

// Bytes returns the file generated with kind and opts.
func Bytes(kind Kind, opts Options) ([]byte, error) {
	var buf bytes.Buffer
	if err := Generate(&buf, kind, opts); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Generate writes a PDF file of the given kind to w.
func Generate(w io.Writer, kind Kind, opts Options) error {
	if kind < 0 || int(kind) >= len(kindNames) {
		return fmt.Errorf("pdfgen: invalid kind %d", int(kind))
	}
	if opts.Pages < 0 {
		return fmt.Errorf("pdfgen: negative page count %d", opts.Pages)
	}
	for key := range opts.Info {
		if key == "" {
			return errors.New("pdfgen: empty document information key")
		}
	}
	bw := bufio.NewWriter(w)
	g := &generator{
		w:    &countwriter.Writer{W: bw},
		kind: kind,
		opts: opts,
	}
	if err := g.generate(); err != nil {
		return fmt.Errorf("pdfgen: generating %v file: %w", kind, err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("pdfgen: writing %v file: %w", kind, err)
	}
	return nil
}

// object is an indirect object with generation 0.
type object struct {
	num    int
	body   []byte // between "obj" and "endobj"
	stream bool   // stream objects cannot live in object streams
}

func dictObject(num int, format string, args ...any) *object {
	return &object{num: num, body: fmt.Appendf(nil, format, args...)}
}

// streamObject returns a stream object with the given dictionary entries
// (without << >>, /Length and /Filter) and data, compressed with Flate if
// compress is set.
func streamObject(num int, entries string, data []byte, compress bool) (*object, error) {
	var filter string
	if compress {
		var err error
		if data, err = deflate(data); err != nil {
			return nil, err
		}
		filter = " /Filter /FlateDecode"
	}
	if entries != "" {
		entries += " "
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "<< %s/Length %d%s >>\nstream\n", entries, len(data), filter)
	b.Write(data)
	b.WriteString("\nendstream")
	return &object{num: num, body: b.Bytes(), stream: true}, nil
}

func deflate(data []byte) ([]byte, error) {
	var b bytes.Buffer
	zw, err := zlib.NewWriterLevel(&b, zlib.BestCompression)
	if err != nil {
		return nil, fmt.Errorf("compressing stream: %w", err)
	}
	if _, err := zw.Write(data); err != nil {
		return nil, fmt.Errorf("compressing stream: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("compressing stream: %w", err)
	}
	return b.Bytes(), nil
}

// xrefEntry is a cross-reference entry, in the terms of cross-reference
// streams: type 0 (free: next free object, generation), type 1 (in use:
// offset, generation) or type 2 (compressed: object stream number, index).
type xrefEntry struct {
	typ    int
	field2 int64
	field3 int
}

// Fixed object numbers of the original revision.
const (
	catalogNum = 1
	pagesNum   = 2
	infoNum    = 3
	fontNum    = 4
	firstPage  = 5 // pages and their content streams follow in pairs
)

// Page geometry: ISO A4 in points.
const (
	pageWidth  = 595
	pageHeight = 842
)

type generator struct {
	w    *countwriter.Writer
	kind Kind
	opts Options

	pages     int   // pages of the original revision
	pageNums  []int // page object numbers, in order
	annots    []int // annotations of the first page
	acroForm  int   // 0 if none
	size      int   // /Size of the current revision
	id        [2][]byte
	updateID1 []byte
}

func (g *generator) generate() error {
	g.pages = max(g.opts.Pages, 1)
	sum := sha256.Sum256(fmt.Appendf(nil, "hashsign pdfgen %v %+v", g.kind, g.opts))
	g.id = [2][]byte{sum[:16], sum[:16]}
	upd := sha256.Sum256(append(sum[:], "update"...))
	g.updateID1 = upd[:16]

	version := "1.4"
	if g.kind.usesXRefStream() {
		version = "1.5"
	}
	// A comment with bytes above 127 marks the file as binary.
	g.w.Printf("%%PDF-%s\n%%\xE2\xE3\xCF\xD3\n", version)

	objs, err := g.originalObjects()
	if err != nil {
		return err
	}
	var xrefOffset int64
	switch g.kind {
	case Table, TableIncremental:
		xrefOffset = g.writeTableRevision(objs, -1)
	case Stream, StreamIncremental, MixedStreamThenTable:
		if xrefOffset, err = g.writeStreamRevision(objs, -1); err != nil {
			return err
		}
	case Hybrid:
		if err := g.writeHybrid(objs); err != nil {
			return err
		}
	}
	if g.w.Err != nil {
		return g.w.Err
	}
	if !g.kind.Incremental() {
		return nil
	}

	g.id[1] = g.updateID1
	objs, err = g.updateObjects()
	if err != nil {
		return err
	}
	switch g.kind {
	case TableIncremental, MixedStreamThenTable:
		g.writeTableRevision(objs, xrefOffset)
	case StreamIncremental:
		if _, err := g.writeStreamRevision(objs, xrefOffset); err != nil {
			return err
		}
	}
	return g.w.Err
}

// originalObjects returns the objects of the first revision, sorted by
// number, and sets g.size to one more than the highest number.
func (g *generator) originalObjects() ([]*object, error) {
	compress := g.kind.usesXRefStream()
	var objs []*object
	num := firstPage
	for range g.pages {
		g.pageNums = append(g.pageNums, num)
		num += 2
	}
	if g.opts.Form || g.opts.SignatureField {
		g.acroForm = num
		num++
	}
	var fields []int
	var textField, sigField int
	if g.opts.Form {
		textField = num
		fields = append(fields, num)
		num++
	}
	if g.opts.SignatureField {
		sigField = num
		fields = append(fields, num)
		num++
	}
	g.annots = fields
	g.size = num

	catalog := fmt.Sprintf("<< /Type /Catalog /Pages %d 0 R", pagesNum)
	if g.acroForm != 0 {
		catalog += fmt.Sprintf(" /AcroForm %d 0 R", g.acroForm)
	}
	objs = append(objs,
		dictObject(catalogNum, "%s >>", catalog),
		dictObject(pagesNum, "%s", g.pagesDict(g.pageNums)),
		dictObject(infoNum, "%s", g.infoDict(false)),
		dictObject(fontNum, "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"),
	)
	for i, p := range g.pageNums {
		page, content, err := g.page(p, fmt.Sprintf("Page %d of %d of a %v test file.", i+1, g.pages, g.kind), compress)
		if err != nil {
			return nil, err
		}
		objs = append(objs, page, content)
	}
	if g.acroForm != 0 {
		form := fmt.Sprintf("<< /Fields %s", refArray(fields))
		if g.opts.Form {
			form += fmt.Sprintf(" /NeedAppearances true /DA (/Helv 0 Tf 0 g) /DR << /Font << /Helv %d 0 R >> >>", fontNum)
		}
		objs = append(objs, dictObject(g.acroForm, "%s >>", form))
	}
	if textField != 0 {
		objs = append(objs, dictObject(textField,
			"<< /Type /Annot /Subtype /Widget /FT /Tx /T (Text1) /TU (A text field) /V (hashsign) /DA (/Helv 12 Tf 0 g) /Rect [72 640 300 664] /F 4 /P %d 0 R >>",
			g.pageNums[0]))
	}
	if sigField != 0 {
		objs = append(objs, dictObject(sigField,
			"<< /Type /Annot /Subtype /Widget /FT /Sig /T (Signature1) /Rect [0 0 0 0] /F 132 /P %d 0 R >>",
			g.pageNums[0]))
	}
	slices.SortFunc(objs, func(a, b *object) int { return a.num - b.num })
	return objs, nil
}

// updateObjects returns the objects of the incremental update: the
// document information dictionary and page tree rewritten, and a new page
// with its content stream. It advances g.size.
func (g *generator) updateObjects() ([]*object, error) {
	pageNum := g.size
	g.size += 2
	kids := append(slices.Clip(g.pageNums), pageNum)
	page, content, err := g.page(pageNum, fmt.Sprintf("Page %d, added by an incremental update.", len(kids)), g.kind == StreamIncremental)
	if err != nil {
		return nil, err
	}
	return []*object{
		dictObject(pagesNum, "%s", g.pagesDict(kids)),
		dictObject(infoNum, "%s", g.infoDict(true)),
		page,
		content,
	}, nil
}

func (g *generator) pagesDict(kids []int) string {
	return fmt.Sprintf("<< /Type /Pages /Kids %s /Count %d >>", refArray(kids), len(kids))
}

func (g *generator) infoDict(updated bool) string {
	info := maps.Clone(g.opts.Info)
	if info == nil {
		info = make(map[string]string)
	}
	if _, ok := info["Producer"]; !ok {
		info["Producer"] = DefaultProducer
		if updated {
			info["Producer"] = DefaultProducer + " (incremental update)"
		}
	}
	date := g.opts.Date
	if date.IsZero() {
		date = defaultDate()
	}
	var b strings.Builder
	b.WriteString("<<")
	for _, key := range slices.Sorted(maps.Keys(info)) {
		fmt.Fprintf(&b, " %s %s", pdfName(key), pdfText(info[key]))
	}
	fmt.Fprintf(&b, " /CreationDate %s", pdfDate(date))
	if updated {
		fmt.Fprintf(&b, " /ModDate %s", pdfDate(date.Add(time.Hour)))
	}
	b.WriteString(" >>")
	return b.String()
}

// page returns page object num and its content stream, numbered num+1,
// which draws text.
func (g *generator) page(num int, text string, compress bool) (page, content *object, err error) {
	annots := ""
	if num == g.pageNums[0] && len(g.annots) > 0 {
		annots = " /Annots " + refArray(g.annots)
	}
	page = dictObject(num,
		"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 %d %d] /Resources << /Font << /F1 %d 0 R >> >> /Contents %d 0 R%s >>",
		pagesNum, pageWidth, pageHeight, fontNum, num+1, annots)
	data := fmt.Appendf(nil,
		"0.9 0.9 1 rg 56 %d %d 60 re f\nBT\n0 g /F1 24 Tf 72 %d Td (hashsign test document) Tj\n/F1 12 Tf 0 -30 Td %s Tj\nET\n",
		pageHeight-136, pageWidth-112, pageHeight-100, pdfLiteral(text))
	content, err = streamObject(num+1, "", data, compress)
	return page, content, err
}

func refArray(nums []int) string {
	refs := make([]string, len(nums))
	for i, n := range nums {
		refs[i] = fmt.Sprintf("%d 0 R", n)
	}
	return "[" + strings.Join(refs, " ") + "]"
}

// trailerEntries returns the entries shared by trailers and
// cross-reference stream dictionaries of the current revision.
func (g *generator) trailerEntries(prev int64) string {
	s := fmt.Sprintf("/Size %d /Root %d 0 R /Info %d 0 R /ID [<%x> <%x>]", g.size, catalogNum, infoNum, g.id[0], g.id[1])
	if prev >= 0 {
		s += fmt.Sprintf(" /Prev %d", prev)
	}
	return s
}

// writeObject writes o at the current offset, which it returns.
func (g *generator) writeObject(o *object) int64 {
	off := g.w.N
	g.w.Printf("%d 0 obj\n", o.num)
	g.w.Write(o.body)
	g.w.Printf("\nendobj\n")
	return off
}

// writeTableRevision writes objs followed by a cross-reference table and
// trailer. prev is the offset of the previous cross-reference section, or
// -1 for the original revision. It returns the offset of the table.
func (g *generator) writeTableRevision(objs []*object, prev int64) int64 {
	entries := make(map[int]xrefEntry)
	for _, o := range objs {
		entries[o.num] = xrefEntry{typ: 1, field2: g.writeObject(o)}
	}
	return g.writeTable(entries, g.trailerEntries(prev))
}

// writeTable writes a cross-reference table holding entries, which must
// all be in use, and object 0, the head of an empty free list, followed by a
// trailer with the given entries. It returns the table's offset.
func (g *generator) writeTable(entries map[int]xrefEntry, trailer string) int64 {
	entries = maps.Clone(entries)
	entries[0] = xrefEntry{typ: 0, field3: 65535}
	nums := slices.Sorted(maps.Keys(entries))

	off := g.w.N
	g.w.Printf("xref\n")
	for _, run := range runs(nums) {
		g.w.Printf("%d %d\n", run[0], len(run))
		for _, n := range run {
			e := entries[n]
			kw := 'n'
			if e.typ == 0 {
				kw = 'f'
			}
			// Each entry is exactly 20 bytes long.
			g.w.Printf("%010d %05d %c \n", e.field2, e.field3, kw)
		}
	}
	g.w.Printf("trailer\n<< %s >>\nstartxref\n%d\n%%%%EOF\n", trailer, off)
	return off
}

// runs splits sorted numbers into runs of consecutive numbers.
func runs(nums []int) [][]int {
	var rs [][]int
	for i, n := range nums {
		if i > 0 && n == nums[i-1]+1 {
			rs[len(rs)-1] = append(rs[len(rs)-1], n)
		} else {
			rs = append(rs, []int{n})
		}
	}
	return rs
}

// writeObjectStream writes the objects that are not streams into a new
// object stream numbered num, the others directly, and returns the
// cross-reference entries of all of them and of the object stream.
func (g *generator) writeObjectStream(num int, objs []*object) (map[int]xrefEntry, error) {
	entries := make(map[int]xrefEntry)
	var header, body bytes.Buffer
	var inStream []*object
	for _, o := range objs {
		if !o.stream {
			entries[o.num] = xrefEntry{typ: 2, field2: int64(num), field3: len(inStream)}
			inStream = append(inStream, o)
			fmt.Fprintf(&header, "%d %d ", o.num, body.Len())
			body.Write(o.body)
			body.WriteByte('\n')
		}
	}
	data := append(header.Bytes(), body.Bytes()...)
	objStm, err := streamObject(num, fmt.Sprintf("/Type /ObjStm /N %d /First %d", len(inStream), header.Len()), data, true)
	if err != nil {
		return nil, err
	}
	entries[num] = xrefEntry{typ: 1, field2: g.writeObject(objStm)}
	for _, o := range objs {
		if o.stream {
			entries[o.num] = xrefEntry{typ: 1, field2: g.writeObject(o)}
		}
	}
	return entries, nil
}

// writeStreamRevision writes objs, those that are not streams inside an
// object stream, followed by a cross-reference stream. prev is the offset of
// the previous cross-reference section, or -1 for the original revision. It
// returns the offset of the cross-reference stream.
func (g *generator) writeStreamRevision(objs []*object, prev int64) (int64, error) {
	objStmNum, xrefNum := g.size, g.size+1
	g.size += 2
	entries, err := g.writeObjectStream(objStmNum, objs)
	if err != nil {
		return 0, err
	}
	if prev < 0 {
		entries[0] = xrefEntry{typ: 0, field3: 65535}
	}
	off := g.w.N
	entries[xrefNum] = xrefEntry{typ: 1, field2: off}
	xref, err := g.xrefStream(xrefNum, entries, g.trailerEntries(prev))
	if err != nil {
		return 0, err
	}
	g.writeObject(xref)
	g.w.Printf("startxref\n%d\n%%%%EOF\n", off)
	return off, nil
}

// writeHybrid writes the single revision of a hybrid-reference file.
func (g *generator) writeHybrid(objs []*object) error {
	objStmNum, xrefNum := g.size, g.size+1
	g.size += 2
	entries, err := g.writeObjectStream(objStmNum, objs)
	if err != nil {
		return err
	}
	// The cross-reference stream lists only the compressed objects, the
	// table only the others. Marking the compressed objects free in the
	// table, which the PDF specification allows too, makes Poppler and
	// MuPDF ignore their entries in the cross-reference stream.
	compressed := make(map[int]xrefEntry)
	table := make(map[int]xrefEntry)
	for n, e := range entries {
		if e.typ == 2 {
			compressed[n] = e
		} else {
			table[n] = e
		}
	}
	xrefOff := g.w.N
	table[xrefNum] = xrefEntry{typ: 1, field2: xrefOff}
	xref, err := g.xrefStream(xrefNum, compressed, g.trailerEntries(-1))
	if err != nil {
		return err
	}
	g.writeObject(xref)
	g.writeTable(table, fmt.Sprintf("%s /XRefStm %d", g.trailerEntries(-1), xrefOff))
	return nil
}

// xrefStream returns cross-reference stream num holding entries, with /W
// [1 4 2], and the given trailer entries.
func (g *generator) xrefStream(num int, entries map[int]xrefEntry, trailer string) (*object, error) {
	const columns = 1 + 4 + 2
	nums := slices.Sorted(maps.Keys(entries))
	var index []string
	for _, run := range runs(nums) {
		index = append(index, fmt.Sprintf("%d %d", run[0], len(run)))
	}
	var data []byte
	for _, n := range nums {
		e := entries[n]
		if e.field2 < 0 || e.field2 > 0xFFFFFFFF || e.field3 < 0 || e.field3 > 0xFFFF {
			return nil, fmt.Errorf("cross-reference entry of object %d out of range", n)
		}
		data = append(data, byte(e.typ),
			byte(e.field2>>24), byte(e.field2>>16), byte(e.field2>>8), byte(e.field2),
			byte(e.field3>>8), byte(e.field3))
	}
	dict := fmt.Sprintf("/Type /XRef %s /W [1 4 2] /Index [%s]", trailer, strings.Join(index, " "))
	if g.opts.XRefPredictor {
		data = pngUp(data, columns)
		dict += fmt.Sprintf(" /DecodeParms << /Predictor 12 /Columns %d >>", columns)
	}
	return streamObject(num, dict, data, true)
}

// pngUp encodes data, rows of the given width, with the PNG Up filter: each
// row is preceded by filter type 2 and holds its bytes minus those of the
// row above.
func pngUp(data []byte, columns int) []byte {
	out := make([]byte, 0, len(data)+len(data)/columns)
	prev := make([]byte, columns)
	for row := range slices.Chunk(data, columns) {
		out = append(out, 2)
		for i, b := range row {
			out = append(out, b-prev[i])
		}
		prev = row
	}
	return out
}

// pdfName returns s as a PDF name, escaping delimiters, whitespace and
// bytes outside the printable ASCII range.
func pdfName(s string) string {
	var b strings.Builder
	b.WriteByte('/')
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7F || strings.IndexByte("#()<>[]{}/%", c) >= 0 {
			fmt.Fprintf(&b, "#%02X", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// pdfText returns s as a PDF text string: a literal string if s is
// printable ASCII, otherwise a hexadecimal UTF-16BE string with a byte
// order mark.
func pdfText(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] >= 0x7F {
			var b strings.Builder
			b.WriteString("<FEFF")
			for _, u := range utf16.Encode([]rune(s)) {
				fmt.Fprintf(&b, "%04X", u)
			}
			b.WriteString(">")
			return b.String()
		}
	}
	return pdfLiteral(s)
}

// pdfLiteral returns s as a PDF literal string.
func pdfLiteral(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `(`, `\(`, `)`, `\)`, "\r", `\r`, "\n", `\n`)
	return "(" + r.Replace(s) + ")"
}

// pdfDate returns t as a PDF date string in UTC.
func pdfDate(t time.Time) string {
	return t.UTC().Format("(D:20060102150405Z)")
}
