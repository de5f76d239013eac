package main

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"hashsign/hashsvc/hashsvctest"
	"hashsign/internal/devpki"
	"hashsign/internal/testenv"
	"hashsign/pades/gateway"
)

// testLog sends the harness's progress to the test's log.
type testLog struct{ t *testing.T }

func (l testLog) Printf(format string, args ...any) { l.t.Logf(format, args...) }

// TestQuick runs the harness with -quick (small inputs, one run; a few
// seconds) and checks what it writes: the three files, a row of figures
// for every configuration of every input, each figure consistent with the
// times it was computed from, each output signed and valid, the targets
// of issue 11 judged on the rows, and the chart's lines.
func TestQuick(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the harness builds and runs pades")
	}
	out := t.TempDir()
	res, err := run(context.Background(), options{out: out, quick: true, workers: 2, seed: 1, log: testLog{t}})
	if err != nil {
		t.Fatal(err)
	}

	// results.json holds what run returned.
	data, err := os.ReadFile(filepath.Join(out, jsonName))
	if err != nil {
		t.Fatal(err)
	}
	var got Results
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatalf("%s: %v", jsonName, err)
	}
	if len(got.Rows) != len(res.Rows) || len(got.Limits) != len(res.Limits) || len(got.Targets) != len(res.Targets) || !got.Quick || got.Runs != 1 {
		t.Fatalf("%s: %d rows, %d limits, %d targets, quick %v, runs %d; run returned %d, %d, %d",
			jsonName, len(got.Rows), len(got.Limits), len(got.Targets), got.Quick, got.Runs, len(res.Rows), len(res.Limits), len(res.Targets))
	}

	// What may be missing outside CI: the tools, or a gateway that did
	// not start; in CI nothing.
	for tool, why := range res.Missing {
		switch {
		case testenv.InCI():
			t.Errorf("CI: %s not measured: %s", tool, why)
		default:
			t.Logf("%s not measured: %s", tool, why)
		}
	}

	checkInputs(t, res)
	checkLimits(t, res)
	checkRows(t, res)
	checkTargets(t, res)
	checkMarkdown(t, res, filepath.Join(out, mdName))
	checkChart(t, res, filepath.Join(out, chartName))
}

// near reports whether a and b agree to a part in a million.
func near(a, b float64) bool { return math.Abs(a-b) <= 1e-6*math.Max(math.Abs(a), math.Abs(b)) }

// positive reports whether x is a finite number above zero.
func positive(x float64) bool { return x > 0 && !math.IsInf(x, 0) && !math.IsNaN(x) }

// checkInputs checks that each generated input has the size and number
// of documents that -quick asks for.
func checkInputs(t *testing.T, res *Results) {
	t.Helper()
	specs := genSpecs(true, 1)
	for _, g := range specs {
		i := slices.IndexFunc(res.Inputs, func(in *input) bool { return in.Name == g.name })
		if i < 0 {
			t.Errorf("input %s missing", g.name)
			continue
		}
		in := res.Inputs[i]
		if in.NDocs != g.docs || in.Large != g.large || in.Seed != 1 {
			t.Errorf("input %s: %d documents, large %v, seed %d; want %d, %v, 1", in.Name, in.NDocs, in.Large, in.Seed, g.docs, g.large)
		}
		// The generator pads a file to its size; the object file has none.
		if g.cfg.Size > 0 && (in.docBytes() < 0.95*float64(g.cfg.Size) || in.docBytes() > 1.05*float64(g.cfg.Size)) {
			t.Errorf("input %s: %.0f bytes per document, want about %d", in.Name, in.docBytes(), g.cfg.Size)
		}
		if g.cfg.Objects > 0 && in.Objects < g.cfg.Objects {
			t.Errorf("input %s: %d objects, want at least %d", in.Name, in.Objects, g.cfg.Objects)
		}
	}
	switch {
	case corpusDir(options{}, mustRoot(t)) == "" && testenv.InCI():
		t.Errorf("CI: ../shared/corpus is missing")
	case corpusDir(options{}, mustRoot(t)) != "":
		i := slices.IndexFunc(res.Inputs, func(in *input) bool { return in.Name == "corpus" })
		if i < 0 || res.Inputs[i].NDocs == 0 {
			t.Errorf("the corpus is present but no corpus input was measured")
		}
	}
	if len(res.Inputs) < len(specs) {
		t.Errorf("%d inputs, want at least %d", len(res.Inputs), len(specs))
	}
}

func mustRoot(t *testing.T) string {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// checkLimits checks that every input has its limits, each a positive
// rate, for every key.
func checkLimits(t *testing.T, res *Results) {
	t.Helper()
	if len(res.Limits) != len(res.Inputs) {
		t.Errorf("%d limit rows for %d inputs", len(res.Limits), len(res.Inputs))
	}
	wantKeys := []string{keyP256, keyRSA}
	if res.Missing["softhsm"] == "" {
		wantKeys = append(wantKeys, keySoftHSM)
	}
	slices.Sort(wantKeys)
	large := map[string]bool{}
	for _, in := range res.Inputs {
		large[in.Name] = in.Large
	}
	for _, l := range res.Limits {
		if !positive(l.SHA256MBs) || !positive(l.SHA256WallS) || !positive(l.SHA256sumMBs) || !positive(l.CPMBs) || !positive(l.CPWallS) {
			t.Errorf("limits of %s: SHA-256 %v MB/s (%v s), sha256sum %v MB/s, cp %v MB/s (%v s)", l.Input, l.SHA256MBs, l.SHA256WallS, l.SHA256sumMBs, l.CPMBs, l.CPWallS)
		}
		// Writing the outputs: measured on the inputs of many documents.
		if measured := positive(l.WritePerS) && positive(l.WriteMBs) && positive(l.WriteCPUmsEach); measured == large[l.Input] ||
			large[l.Input] && (l.WritePerS != 0 || l.WriteMBs != 0 || l.WriteCPUmsEach != 0) {
			t.Errorf("limits of %s (large: %v): write %v docs/s, %v MB/s, %v CPU ms each", l.Input, large[l.Input], l.WritePerS, l.WriteMBs, l.WriteCPUmsEach)
		}
		for _, rates := range [][]KeyRate{l.HashSign, l.Raw} {
			var keys []string
			for _, r := range rates {
				keys = append(keys, r.Key)
				if !positive(r.PerS) || !positive(r.CPUmsEach) || r.Goroutines != res.Workers {
					t.Errorf("limits of %s, %s: %+v", l.Input, r.Key, r)
				}
			}
			slices.Sort(keys)
			if !slices.Equal(keys, wantKeys) {
				t.Errorf("limits of %s: keys %q, want %q", l.Input, keys, wantKeys)
			}
		}
	}
}

// checkRows checks that every configuration of every input has a row
// whose figures follow from its runs, and whose output was signed and
// valid.
func checkRows(t *testing.T, res *Results) {
	t.Helper()
	byInput := map[string]*input{}
	for _, in := range res.Inputs {
		byInput[in.Name] = in
	}
	limits := map[string]*LimitRow{}
	for i := range res.Limits {
		limits[res.Limits[i].Input] = &res.Limits[i]
	}
	type key struct{ input, cell string }
	rows := map[key]*Row{}
	for i := range res.Rows {
		r := &res.Rows[i]
		rows[key{r.Input, r.cell.String()}] = r
	}
	engines := map[string]bool{}
	for _, in := range res.Inputs {
		for _, c := range cells(in, true) {
			r := rows[key{in.Name, c.String()}]
			if r == nil {
				t.Errorf("%s, %s: no row", in.Name, c)
				continue
			}
			if r.NotMeasured != "" {
				if res.Missing[c.Engine] == "" && !(c.Signer == "softhsm-rsa" && res.Missing["softhsm"] != "") {
					t.Errorf("%s, %s: not measured (%s), but nothing is said missing", in.Name, c, r.NotMeasured)
				}
				continue
			}
			engines[c.Engine] = true
			checkRow(t, r, byInput[r.Input], limits[r.Input], res.Runs)
		}
	}
	if len(rows) != len(res.Rows) {
		t.Errorf("%d rows, of which %d distinct", len(res.Rows), len(rows))
	}
	// pades batch -inplace and the library with Options.InPlace on fresh
	// copies of the documents of small and medium; in place, otherwise,
	// only the large files.
	for _, name := range []string{"small", "medium"} {
		for _, e := range []string{engBatch, engLibrary} {
			c := cell{Engine: e, Signer: "keyfile-rsa", Level: "B-B", Mode: "inplace"}
			if r := rows[key{name, c.String()}]; r == nil || r.DocsPerS == 0 {
				t.Errorf("%s, %s: no measured row", name, c)
			}
		}
	}
	for _, r := range res.Rows {
		if in := byInput[r.Input]; r.Mode == "inplace" && !in.Large && r.Input != "small" && r.Input != "medium" {
			t.Errorf("%s, %s: in place on an input other than small, medium and the large files", r.Input, r.cell)
		}
	}
	for _, e := range []string{engBatch, engLibrary, engCLI, engGateway, engPdfsig, engMutool, engOpenSSL} {
		if !engines[e] && res.Missing[e] == "" {
			t.Errorf("no row of %s was measured", e)
		}
	}
}

// checkRow checks one measured row; lim holds the limits of its input.
func checkRow(t *testing.T, r *Row, in *input, lim *LimitRow, runs int) {
	t.Helper()
	name := r.Input + ", " + r.cell.String()
	if r.Error != "" {
		t.Errorf("%s: %s", name, r.Error)
		return
	}
	if !strings.HasPrefix(r.Check, "ok") {
		t.Errorf("%s: the output's check says %q", name, r.Check)
	}
	if len(r.Runs) != runs {
		t.Errorf("%s: %d runs, want %d", name, len(r.Runs), runs)
		return
	}
	wantDocs := in.NDocs
	if perProcess(r.Engine) {
		wantDocs = min(in.NDocs, 4)
	}
	if r.Docs != wantDocs || !near(float64(r.DocBytes), math.Trunc(in.docBytes())) {
		t.Errorf("%s: %d documents of %d bytes, want %d of %.0f", name, r.Docs, r.DocBytes, wantDocs, in.docBytes())
	}
	var walls, cpus []float64
	var peak int64
	for _, s := range r.Runs {
		walls, cpus = append(walls, s.Wall), append(cpus, s.CPU)
		peak = max(peak, s.RSS)
	}
	docs := float64(r.Docs)
	for _, f := range []struct {
		what      string
		got, want float64
	}{
		{"wall s", r.WallS, median(walls)},
		{"CPU s", r.CPUS, median(cpus)},
		{"docs/s", r.DocsPerS, docs / median(walls)},
		{"MB/s", r.MBPerS, docs * in.docBytes() / 1e6 / median(walls)},
		{"CPU ms/doc", r.CPUmsPerDoc, median(cpus) / docs * 1000},
		{"peak RSS MiB", r.PeakRSSMiB, float64(peak) / 1024},
	} {
		if !near(f.got, f.want) {
			t.Errorf("%s: %s %v, want %v from its runs", name, f.what, f.got, f.want)
		}
	}
	if !positive(r.WallS) || !positive(r.CPUS) {
		t.Errorf("%s: wall %v s, CPU %v s", name, r.WallS, r.CPUS)
	}
	switch {
	case r.Engine == engLibrary:
		if r.PeakRSSMiB != 0 {
			t.Errorf("%s: peak RSS %v MiB in the harness's own process", name, r.PeakRSSMiB)
		}
	case r.PeakRSSMiB < 1 || r.PeakRSSMiB > 4096:
		t.Errorf("%s: peak RSS %v MiB", name, r.PeakRSSMiB)
	}
	if isPeer(r.Engine) {
		if r.Limit != "" || r.Ratio != 0 {
			t.Errorf("%s: a peer with limit %q, ratio %v", name, r.Limit, r.Ratio)
		}
		return
	}
	if r.Limit == "" || !positive(r.LimitDocsPerS) || !positive(r.LimitCPUmsPerDoc) ||
		!near(r.Ratio, r.DocsPerS/r.LimitDocsPerS) || !near(r.CPURatio, r.LimitCPUmsPerDoc/r.CPUmsPerDoc) {
		t.Errorf("%s: limit %q %v docs/s %v CPU ms, ratio %v, CPU ratio %v", name, r.Limit, r.LimitDocsPerS, r.LimitCPUmsPerDoc, r.Ratio, r.CPURatio)
	}
	// In place on many documents, the limit is that of each run's copies,
	// measured with the run; the other rows of many documents share the
	// input's hash+sign limit, and no run of theirs has a limit.
	var lwalls, lcpus []float64
	for _, s := range r.Runs {
		if s.Limit != nil {
			lwalls, lcpus = append(lwalls, s.Limit.Wall), append(lcpus, s.Limit.CPU)
		}
	}
	switch {
	case in.Large:
		if len(lwalls) > 0 {
			t.Errorf("%s: %d runs with a limit of their own", name, len(lwalls))
		}
	case r.Mode == "inplace":
		if len(lwalls) != len(r.Runs) || !strings.Contains(r.Limit, "copies") ||
			!near(r.LimitDocsPerS, docs/median(lwalls)) || !near(r.LimitCPUmsPerDoc, median(lcpus)/docs*1000) {
			t.Errorf("%s: limit %q %v docs/s %v CPU ms; its runs' limits %v s, %v CPU s", name, r.Limit, r.LimitDocsPerS, r.LimitCPUmsPerDoc, lwalls, lcpus)
		}
	default:
		hs := keyRate(lim.HashSign, r.key)
		if len(lwalls) > 0 || !near(r.LimitDocsPerS, hs.PerS) || !near(r.LimitCPUmsPerDoc, hs.CPUmsEach) {
			t.Errorf("%s: limit %v docs/s %v CPU ms, %d runs with a limit of their own; the input's hash+sign limit %+v", name, r.LimitDocsPerS, r.LimitCPUmsPerDoc, len(lwalls), hs)
		}
	}
}

// checkTargets checks that every target of issue 11 is judged, on the
// rows it names, and that its status follows from its figure.
func checkTargets(t *testing.T, res *Results) {
	t.Helper()
	const targetsOfIssue = 12 // 1 GiB copy, in place, RSS; 1 MiB batch, library, each copying and in place; remote RSA, P-256; pdfsig; gateway ×2
	if len(res.Targets) != targetsOfIssue {
		t.Errorf("%d targets, want %d", len(res.Targets), targetsOfIssue)
	}
	row := func(input, engine, signer, mode string) *Row {
		for i := range res.Rows {
			r := &res.Rows[i]
			if r.Input == input && r.Engine == engine && r.Signer == signer && r.Level == "B-B" && r.Mode == mode && r.DocsPerS > 0 {
				return r
			}
		}
		return nil
	}
	// Figures recomputed from the rows they come from.
	want := map[string]float64{}
	if r := row("large-16MiB", engBatch, "keyfile-rsa", "copy"); r != nil {
		want["large-16MiB, B-B, RSA key file, copy"] = r.WallS * r.LimitDocsPerS
	}
	if r := row("large-16MiB", engBatch, "keyfile-rsa", "inplace"); r != nil {
		want["large-16MiB, B-B, RSA key file, -inplace"] = r.WallS * r.LimitDocsPerS
	}
	if r := row("medium", engBatch, "keyfile-rsa", "copy"); r != nil {
		want["pades batch: docs/s over the hash+sign limit"] = r.DocsPerS / r.LimitDocsPerS
		if p := row("medium", engPdfsig, peerSigners[engPdfsig], "copy"); p != nil {
			want["docs/s over pdfsig"] = r.DocsPerS / p.DocsPerS
		}
		if k := row("medium", engBatch, "remote-rsa-b64", "copy"); k != nil {
			want["medium, B-B, RSA-2048: remote"] = k.DocsPerS / r.DocsPerS
		}
	}
	for _, signer := range []string{"keyfile-rsa", "remote-rsa-b64"} {
		if g, b := row("medium", engGateway, signer, "copy"), row("medium", engBatch, signer, "copy"); g != nil && b != nil {
			want["medium, B-B, "+signer+": gateway"] = g.DocsPerS / b.DocsPerS
		}
	}
	if r := row("medium", engLibrary, "keyfile-rsa", "copy"); r != nil {
		want["the library (pades/batch in one process): docs/s over the hash+sign limit"] = r.DocsPerS / r.LimitDocsPerS
	}
	// The four of the 1 MiB documents over the hash+sign limit: their
	// CPU-time figures; in copy mode the figures against hashing, signing
	// and writing the outputs (the write limit of medium), in place none.
	var write *LimitRow
	for i := range res.Limits {
		if res.Limits[i].Input == "medium" {
			write = &res.Limits[i]
		}
	}
	type hashSignTarget struct{ cpu, withWrites, cpuWithWrites float64 }
	hashSign := map[string]hashSignTarget{}
	for _, c := range []struct{ frag, engine, mode string }{
		{"pades batch: docs/s over", engBatch, "copy"},
		{"the library (pades/batch in one process): docs/s over", engLibrary, "copy"},
		{"pades batch -inplace: docs/s over", engBatch, "inplace"},
		{"the library (pades/batch in one process) with Options.InPlace: docs/s over", engLibrary, "inplace"},
	} {
		r := row("medium", c.engine, "keyfile-rsa", c.mode)
		if r == nil {
			continue
		}
		if c.mode == "inplace" {
			want[c.frag] = r.DocsPerS / r.LimitDocsPerS
		}
		ht := hashSignTarget{cpu: r.LimitCPUmsPerDoc / r.CPUmsPerDoc}
		if c.mode == "copy" && write != nil {
			ht.withWrites = r.DocsPerS * (1/r.LimitDocsPerS + 1/write.WritePerS)
			ht.cpuWithWrites = (r.LimitCPUmsPerDoc + write.WriteCPUmsEach) / r.CPUmsPerDoc
		}
		hashSign[c.frag] = ht
	}
	matchedHashSign := 0
	for _, tg := range res.Targets {
		for frag, w := range hashSign {
			if !strings.Contains(tg.Name, frag) {
				continue
			}
			matchedHashSign++
			if !near(tg.CPUFigure, w.cpu) || !near(tg.WithWrites, w.withWrites) || !near(tg.CPUWithWrites, w.cpuWithWrites) {
				t.Errorf("target %q: CPU-time figure %v, with writes %v (CPU time %v); want %v, %v (%v) from its rows and limits",
					tg.Name, tg.CPUFigure, tg.WithWrites, tg.CPUWithWrites, w.cpu, w.withWrites, w.cpuWithWrites)
			}
			if w.withWrites != 0 && !strings.Contains(tg.Detail, "writing the outputs") {
				t.Errorf("target %q: its detail %q does not give the figure with writes", tg.Name, tg.Detail)
			}
		}
	}
	if matchedHashSign != len(hashSign) {
		t.Errorf("%d of the %d hash+sign targets of the 1 MiB documents found", matchedHashSign, len(hashSign))
	}
	matched := 0
	for _, tg := range res.Targets {
		switch {
		case tg.Status == "not measured":
			if tg.Detail == "" {
				t.Errorf("target %q: not measured, without a reason", tg.Name)
			}
			if testenv.InCI() {
				t.Errorf("CI: target %q not measured: %s", tg.Name, tg.Detail)
			}
			continue
		case !positive(tg.Figure):
			t.Errorf("target %q: figure %v", tg.Name, tg.Figure)
		case (tg.Status == "met") != (tg.Op == "<=" && tg.Figure <= tg.Want || tg.Op == ">=" && tg.Figure >= tg.Want) ||
			tg.Status != "met" && tg.Status != "missed":
			t.Errorf("target %q: %v %s %v is %q", tg.Name, tg.Figure, tg.Op, tg.Want, tg.Status)
		}
		if cpuMet := tg.Op == "<=" && tg.CPUFigure <= tg.Want || tg.Op == ">=" && tg.CPUFigure >= tg.Want; tg.CPUFigure != 0 &&
			(tg.CPUStatus == "met") != cpuMet || tg.CPUFigure == 0 && tg.CPUStatus != "" {
			t.Errorf("target %q: CPU-time figure %v %s %v is %q", tg.Name, tg.CPUFigure, tg.Op, tg.Want, tg.CPUStatus)
		}
		for frag, w := range want {
			if strings.Contains(tg.Name, frag) {
				matched++
				if !near(tg.Figure, w) {
					t.Errorf("target %q: figure %v, want %v from its rows", tg.Name, tg.Figure, w)
				}
			}
		}
	}
	if matched != len(want) {
		t.Errorf("%d of the %d recomputed figures found among the targets", matched, len(want))
	}
}

// checkMarkdown checks that the report holds the command, every target
// and a line for every measured row, with its docs/s.
func checkMarkdown(t *testing.T, res *Results, name string) {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	md := string(data)
	for _, s := range []string{"`" + res.Command + "`", "## Targets", "## Limits", "## Results", "](" + chartName + ")"} {
		if !strings.Contains(md, s) {
			t.Errorf("%s lacks %q", mdName, s)
		}
	}
	for _, tg := range res.Targets {
		if !strings.Contains(md, "| "+tg.Name+" |") {
			t.Errorf("%s lacks the target %q", mdName, tg.Name)
		}
	}
	for _, r := range res.Rows {
		if r.DocsPerS == 0 {
			continue
		}
		line := "| " + strings.Join([]string{r.Input, r.Engine, r.Signer, r.Level, r.Mode}, " | ") + " | "
		i := strings.Index(md, line)
		if i < 0 {
			t.Errorf("%s lacks the row %q", mdName, line)
			continue
		}
		end := strings.IndexByte(md[i:], '\n')
		if cols := strings.Split(md[i:i+end], " | "); len(cols) < 8 || cols[7] != rate(r.DocsPerS) {
			t.Errorf("%s: row %q, want docs/s %s", mdName, md[i:i+end], rate(r.DocsPerS))
		}
	}
}

// checkChart checks that the SVG is well formed and that its legend names
// a line for each B-B engine of the size series and for the limits.
func checkChart(t *testing.T, res *Results, name string) {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := xml.NewDecoder(f)
	var texts []string
	root, inText := "", false
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", chartName, err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if root == "" {
				root = tok.Name.Local
			}
			inText = tok.Name.Local == "text"
		case xml.CharData:
			if inText {
				texts = append(texts, strings.TrimSpace(string(tok)))
			}
		case xml.EndElement:
			inText = false
		}
	}
	if root != "svg" {
		t.Fatalf("%s: root element %q", chartName, root)
	}
	lines := chartLines(res)
	for _, want := range []string{"batch keyfile-rsa", "library keyfile-rsa", "cli keyfile-rsa", "pdfsig", "mutool", "openssl-cms",
		"limit: one SHA-256 pass", "limit: sha256sum (one process)"} {
		i := slices.IndexFunc(lines, func(l chartLine) bool { return l.label == want })
		switch {
		case i < 0:
			t.Errorf("the chart has no line %q", want)
		case len(lines[i].pts) < 3: // small, medium, large
			t.Errorf("the chart's line %q has %d points", want, len(lines[i].pts))
		}
		if !slices.Contains(texts, want) {
			t.Errorf("%s does not name %q", chartName, want)
		}
	}
}

// TestMedian checks the median of odd, even and empty lists.
func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want float64
	}{
		{[]float64{3}, 3},
		{[]float64{5, 1, 3}, 3},
		{[]float64{4, 1, 3, 2}, 2.5},
		{[]float64{2, 2, 9}, 2},
	} {
		if got := median(tc.in); got != tc.want {
			t.Errorf("median(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
	if !math.IsNaN(median(nil)) {
		t.Errorf("median(nil) = %v, want NaN", median(nil))
	}
}

// TestGatewaySections checks that the gateway's configuration, made from
// the flags of pades that a cell gives pades batch, loads with
// gateway.LoadConfig and names the same signer, level and services; and
// that a flag without a counterpart is refused.
func TestGatewaySections(t *testing.T) {
	e := &env{devPKI: "/pki", chain: "/dev/chain.pem", trust: "/dev/root.pem", apiKeyFile: "/dev/api-key",
		dev:        &hashsvctest.Dev{URL: "http://127.0.0.1:8"},
		softhsmURI: "pkcs11:token=bench;object=signer?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-value=1234"}
	spec := func(name string) *signerSpec {
		i := slices.IndexFunc(signerSpecs, func(s signerSpec) bool { return s.Name == name })
		if i < 0 {
			t.Fatalf("no signer %q", name)
		}
		return &signerSpecs[i]
	}
	for _, tc := range []struct {
		signer, level string
		want          gateway.SignerConfig
		tsa, trust    []string
	}{
		{"keyfile-rsa", "B-B", gateway.SignerConfig{Key: "/pki/" + devpki.SignerRSAKeyFile, Cert: "/pki/" + devpki.SignerRSACertFile, Chain: []string{"/dev/chain.pem"}}, nil, nil},
		{"keyfile-p256", "B-LT", gateway.SignerConfig{Key: "/pki/" + devpki.SignerP256KeyFile, Cert: "/pki/" + devpki.SignerP256CertFile, Chain: []string{"/dev/chain.pem"}},
			[]string{"http://127.0.0.1:8/tsa"}, []string{"/dev/root.pem"}},
		{"softhsm-rsa", "B-B", gateway.SignerConfig{PKCS11: e.softhsmURI, Cert: "/pki/" + devpki.SignerRSACertFile, Chain: []string{"/dev/chain.pem"}}, nil, nil},
		{"remote-rsa-b64", "B-T", gateway.SignerConfig{Remote: &gateway.RemoteConfig{URL: "http://127.0.0.1:8", Credential: "dev-rsa", APIKeyFile: "/dev/api-key", BatchSize: 64}},
			[]string{"http://127.0.0.1:8/tsa"}, []string{"/dev/root.pem"}},
		{"remote-rsa-b1", "B-B", gateway.SignerConfig{Remote: &gateway.RemoteConfig{URL: "http://127.0.0.1:8", Credential: "dev-rsa", APIKeyFile: "/dev/api-key", BatchSize: 1}}, nil, nil},
	} {
		t.Run(tc.signer+" "+tc.level, func(t *testing.T) {
			args, why := spec(tc.signer).args(e)
			if why != "" {
				t.Fatal(why)
			}
			sections, err := gatewaySections(append(args, e.levelArgs(tc.level)...))
			if err != nil {
				t.Fatal(err)
			}
			name := filepath.Join(t.TempDir(), "gateway.yaml")
			if err := os.WriteFile(name, []byte("api_keys: [{id: harness, sha256: \""+strings.Repeat("ab", 32)+"\"}]\n"+sections), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg, err := gateway.LoadConfig(name)
			if err != nil {
				t.Fatalf("%v\n%s", err, sections)
			}
			got := cfg.Signer
			if got.Key != tc.want.Key || got.Cert != tc.want.Cert || !slices.Equal(got.Chain, tc.want.Chain) || got.PKCS11 != tc.want.PKCS11 ||
				(got.Remote == nil) != (tc.want.Remote == nil) || got.Remote != nil && *got.Remote != *tc.want.Remote {
				t.Errorf("signer %+v (remote %+v), want %+v (remote %+v)\n%s", got, got.Remote, tc.want, tc.want.Remote, sections)
			}
			if s := cfg.Signature; s.Level != tc.level || !slices.Equal(s.TSA, tc.tsa) || !slices.Equal(s.Trust, tc.trust) {
				t.Errorf("signature: level %q, tsa %q, trust %q; want %q, %q, %q", s.Level, s.TSA, s.Trust, tc.level, tc.tsa, tc.trust)
			}
		})
	}
	for _, args := range [][]string{{"-p12", "/x.p12"}, {"-key"}, {"-batch-size", "many"}} {
		if s, err := gatewaySections(args); err == nil {
			t.Errorf("gatewaySections(%q) = %q, want an error", args, s)
		}
	}
}
