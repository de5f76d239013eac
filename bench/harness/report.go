package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image/color"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"

	"hashsign/internal/atomicfile"
)

// Output file names in -out.
const (
	mdName    = "results.md"
	jsonName  = "results.json"
	chartName = "throughput.svg"
)

// writeOutputs writes the three outputs, each to a temporary file renamed
// into place.
func writeOutputs(dir string, res *Results) error {
	if bad := nonFinite(reflect.ValueOf(res), "results"); len(bad) > 0 {
		return fmt.Errorf("figures that are not numbers: %s", strings.Join(bad, ", "))
	}
	var j bytes.Buffer
	enc := json.NewEncoder(&j)
	enc.SetIndent("", "  ")
	if err := enc.Encode(res); err != nil {
		return fmt.Errorf("encoding %s: %w", jsonName, err)
	}
	var md bytes.Buffer
	writeMarkdown(&md, res)
	svg, err := chart(res)
	if err != nil {
		return fmt.Errorf("drawing %s: %w", chartName, err)
	}
	for name, data := range map[string][]byte{jsonName: j.Bytes(), mdName: md.Bytes(), chartName: svg} {
		f, err := atomicfile.Create(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		if _, err := f.Write(data); err != nil {
			f.Abort()
			return fmt.Errorf("writing %s: %w", name, err)
		}
		if err := f.Commit(); err != nil {
			return fmt.Errorf("writing %s: %w", name, err)
		}
	}
	return nil
}

// nonFinite returns the paths, under path, of the infinite and NaN
// floating-point numbers of v (a division by a zero time or rate).
func nonFinite(v reflect.Value, path string) []string {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return nonFinite(v.Elem(), path)
	case reflect.Float32, reflect.Float64:
		if f := v.Float(); math.IsInf(f, 0) || math.IsNaN(f) {
			return []string{fmt.Sprintf("%s = %v", path, f)}
		}
	case reflect.Struct:
		var bad []string
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				bad = append(bad, nonFinite(v.Field(i), path+"."+v.Type().Field(i).Name)...)
			}
		}
		return bad
	case reflect.Slice, reflect.Array:
		var bad []string
		for i := range v.Len() {
			bad = append(bad, nonFinite(v.Index(i), fmt.Sprintf("%s[%d]", path, i))...)
		}
		return bad
	}
	return nil
}

// writeMarkdown writes the report: the run, the targets, the limits and
// every row.
func writeMarkdown(w io.Writer, res *Results) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("# hashsign throughput\n\n")
	if res.Quick {
		p("**-quick: a smoke test on small inputs, one run; its figures mean little.**\n\n")
	}
	p("`%s`, %s to %s.\n\n", res.Command, res.Started.Format("2006-01-02 15:04:05Z"), res.Finished.Format("15:04:05Z"))
	p("- Machine: %d CPUs (%s), %s, %s; work directory on %s.\n", res.Host.CPUs, res.Host.Model, res.Host.Go, res.Host.Kernel, res.Host.WorkFS)
	p("- Load before: `%s`\n- Load after: `%s`\n", res.LoadBefore, res.LoadAfter)
	p("- Other processes used %.2f of the %d CPUs on average while the harness ran", res.BusyOthers, res.Host.CPUs)
	if res.BusyOthers > 0.25 {
		p(": **the machine was shared, wall-time figures are noisy**; the CPU ratios say what the ratios would be on idle cores")
	}
	p(".\n")
	p("- Medians of %d runs; `pades batch -workers %d`; the peers run %d processes at once. MB/s are 10^6 bytes of input per second.\n\n", res.Runs, res.Workers, res.Workers)

	p("## Targets\n\nfigure: from wall times. CPU-time figure: the same from CPU times (user and system), what the figure would be with the cores to the harness; ")
	p("on a shared machine the wall-time figure of a ratio depends on what else ran while each side was measured.\n\n")
	p("| target | figure | want | status | CPU-time figure | status on CPU time | from |\n|---|---|---|---|---|---|---|\n")
	for _, t := range res.Targets {
		fig, cpu := "—", ""
		if t.Status != "not measured" {
			fig = fmt.Sprintf("%.2f", t.Figure)
		}
		if t.CPUFigure != 0 {
			cpu = fmt.Sprintf("%.2f", t.CPUFigure)
		}
		p("| %s | %s | %s %g | %s | %s | %s | %s |\n", t.Name, fig, t.Op, t.Want, t.Status, cpu, t.CPUStatus, t.Detail)
	}

	p("\n## Inputs\n\n| input | documents per run | bytes per document | pages | objects | what |\n|---|---|---|---|---|---|\n")
	for _, in := range res.Inputs {
		p("| %s | %d | %.0f | %s | %s | %s |\n", in.Name, in.NDocs, in.docBytes(), blank(in.Pages), blank(in.Objects), in.About)
	}

	p("\n## Limits (same runs)\n\nSHA-256: one pass of Go's crypto/sha256 on one goroutine. sha256sum: coreutils over the documents of a run, one process. cp: `cp` of one document (a process each). ")
	p("write: each document of an input of many written into a new file as `pades batch` writes its outputs (a temporary file, synced in groups, renamed), on %d goroutines with nothing else to do. ", res.Workers)
	p("hash+sign: each document read, hashed and its digest signed, on %d goroutines; a row in place on many documents has its own, measured with each run on the fresh copies that the run signs (the table below). ", res.Workers)
	p("raw: signatures of a digest on %d goroutines.\n\n", res.Workers)
	var keys []string
	if len(res.Limits) > 0 {
		for _, k := range res.Limits[0].HashSign {
			keys = append(keys, k.Key)
		}
	}
	p("| input | SHA-256 MB/s | sha256sum MB/s | cp MB/s | write docs/s |")
	for _, k := range keys {
		p(" hash+sign docs/s, %s |", k)
	}
	for _, k := range keys {
		p(" raw sig/s, %s |", k)
	}
	p("\n|---|---|---|---|---|%s\n", strings.Repeat("---|", 2*len(keys)))
	for _, l := range res.Limits {
		p("| %s | %.0f | %.0f | %.0f | %s |", l.Input, l.SHA256MBs, l.SHA256sumMBs, l.CPMBs, rate(l.WritePerS))
		for _, k := range keys {
			p(" %s |", rate(keyRate(l.HashSign, k).PerS))
		}
		for _, k := range keys {
			p(" %s |", rate(keyRate(l.Raw, k).PerS))
		}
		p("\n")
	}

	p("\n## Results\n\nratio: docs/s over the row's limit (for a large file, the inverse is the time ratio). ")
	p("CPU ratio: the limit's CPU time per document over the row's (pades and the development service, which signs the remote rows and answers B-T and B-LT). ")
	p("× pdfsig, × mutool, × openssl: docs/s over the peer's on the same input. check: the last output of the first run, read by pades/verify. ")
	p("Mode inplace on many documents: each run signs fresh copies of the documents, made and synced before its clocks start. ")
	p("Engines: batch is `pades batch`; library its engine (pades/batch) in the harness's process (no peak RSS of its own); ")
	p("cli `pades sign`, a process per document; gateway `pades serve` with %d workers, each document posted to POST /v1/sign by %d clients at once, ", res.Workers, 2*res.Workers)
	p("its start not timed (its CPU time is that of the posting, its clients aside; its peak RSS its own); ")
	p("the peers, too, sign a process per document, %d at once. ", res.Workers)
	p("openssl-cms is `openssl cms -sign` of the whole file: the hashing and signing any signer must do, without the PDF.\n\n")
	p("| input | engine | signer | level | mode | docs | wall s | docs/s | MB/s | peak RSS MiB | CPU ms/doc | limit | ratio | CPU ratio | × pdfsig | × mutool | × openssl | check |\n")
	p("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	var notes []string
	for _, r := range res.Rows {
		if r.NotMeasured != "" && r.NotMeasured == res.Missing[r.Engine] {
			continue // said once below
		}
		if r.NotMeasured != "" || r.Error != "" {
			why := r.NotMeasured
			if r.Error != "" {
				why = "ERROR: " + firstLine(r.Error)
			}
			notes = append(notes, fmt.Sprintf("%s, %s %s %s %s: %s", r.Input, r.Engine, r.Signer, r.Level, r.Mode, why))
			continue
		}
		rss := "—"
		if r.PeakRSSMiB > 0 {
			rss = fmt.Sprintf("%.1f", r.PeakRSSMiB)
		}
		p("| %s | %s | %s | %s | %s | %d | %.3f | %s | %.1f | %s | %.2f | %s | %s | %s | %s | %s | %s | %s |\n",
			r.Input, r.Engine, r.Signer, r.Level, r.Mode, r.Docs, r.WallS, rate(r.DocsPerS), r.MBPerS, rss, r.CPUmsPerDoc,
			r.Limit, ratio(r.Ratio), ratio(r.CPURatio), ratio(r.VsPdfsig), ratio(r.VsMutool), ratio(r.VsOpenSSL), r.Check)
	}
	if len(notes) > 0 || len(res.Missing) > 0 {
		p("\n## Not measured\n\n")
		var tools []string
		for tool := range res.Missing {
			tools = append(tools, tool)
		}
		slices.Sort(tools)
		for _, tool := range tools {
			p("- %s: %s\n", tool, res.Missing[tool])
		}
		for _, n := range notes {
			p("- %s\n", n)
		}
	}
	p("\n## Chart\n\n![throughput against file size](%s)\n", chartName)
}

func blank(n int) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprint(n)
}

func rate(x float64) string {
	switch {
	case x == 0 || math.IsNaN(x):
		return "—"
	case x < 10:
		return fmt.Sprintf("%.2f", x)
	}
	return fmt.Sprintf("%.0f", x)
}

func ratio(x float64) string {
	if x == 0 || math.IsNaN(x) {
		return ""
	}
	return fmt.Sprintf("%.2f", x)
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// chartLine is one line of the chart.
type chartLine struct {
	label string
	pts   plotter.XYs
	dash  bool
}

// chartLines returns the lines of the chart: throughput (MB/s) against the
// size of a document, over the inputs of the size series, for each engine
// at B-B in copy mode with an RSA-2048 key (hashsign's with the key file
// and the remote signer, batches of 64; the other signers are in the
// table), and the limits.
func chartLines(res *Results) []chartLine {
	series := map[string]*input{}
	for _, in := range res.Inputs {
		if in.Series {
			series[in.Name] = in
		}
	}
	var lines []chartLine
	index := map[string]int{}
	add := func(label string, dash bool, x, y float64) {
		if y <= 0 || math.IsNaN(y) || math.IsInf(y, 0) {
			return
		}
		i, ok := index[label]
		if !ok {
			i = len(lines)
			index[label] = i
			lines = append(lines, chartLine{label: label, dash: dash})
		}
		lines[i].pts = append(lines[i].pts, plotter.XY{X: x, Y: y})
	}
	for _, r := range res.Rows {
		if series[r.Input] == nil || r.Level != "B-B" || r.Mode != "copy" || r.DocsPerS == 0 ||
			!isPeer(r.Engine) && r.Signer != "keyfile-rsa" && r.Signer != "remote-rsa-b64" {
			continue // the other signers are in the table
		}
		label := r.Engine + " " + r.Signer
		if isPeer(r.Engine) {
			label = r.Engine
		}
		add(label, false, float64(r.DocBytes), r.MBPerS)
	}
	for _, l := range res.Limits {
		in := series[l.Input]
		if in == nil {
			continue
		}
		add("limit: one SHA-256 pass", true, in.docBytes(), l.SHA256MBs)
		add("limit: sha256sum (one process)", true, in.docBytes(), l.SHA256sumMBs)
		add("limit: cp (a process per file)", true, in.docBytes(), l.CPMBs)
		if hs := keyRate(l.HashSign, keyRSA); hs.PerS > 0 {
			add(fmt.Sprintf("limit: hash+sign RSA-2048, %d goroutines", hs.Goroutines), true, in.docBytes(), hs.PerS*in.docBytes()/1e6)
		}
	}
	for i := range lines {
		slices.SortFunc(lines[i].pts, func(a, b plotter.XY) int { return int(math.Copysign(1, a.X-b.X)) })
	}
	return lines
}

// chart draws the chart as SVG.
func chart(res *Results) ([]byte, error) {
	p := plot.New()
	p.Title.Text = "hashsign: throughput against document size (RSA-2048, B-B, copy mode)"
	if res.Quick {
		p.Title.Text += " [-quick]"
	}
	p.X.Label.Text = "bytes per document"
	p.Y.Label.Text = "MB/s of input (10^6 bytes per second)"
	p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
	p.X.Tick.Marker, p.Y.Tick.Marker = sizeTicks{}, plot.LogTicks{Prec: -1}
	// The legend is drawn in a column of its own, right of the plot.
	legend := plot.NewLegend()
	legend.Top, legend.Left = true, true
	legend.TextStyle.Font.Size = vg.Points(9)
	p.Add(plotter.NewGrid())
	lines := chartLines(res)
	engineIndex, limitIndex := 0, 0
	for _, l := range lines {
		ln, pts, err := plotter.NewLinePoints(l.pts)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", l.label, err)
		}
		ln.Width = vg.Points(1.5)
		if l.dash {
			// The limits in grey, each with its own dashes and glyph.
			k := limitIndex
			limitIndex++
			ln.Color = color.Gray{Y: uint8(40 + 30*(k%4))}
			ln.Dashes = []vg.Length{vg.Points(float64(2 + 3*(k%4))), vg.Points(3)}
			pts.Shape = limitGlyphs[k%len(limitGlyphs)]
		} else {
			ln.Color = palette[engineIndex%len(palette)]
			engineIndex++
			pts.Shape = draw.CircleGlyph{}
		}
		pts.Color = ln.Color
		p.Add(ln, pts)
		legend.Add(l.label, ln, pts)
	}
	// Room around the points, for the decades' labels.
	p.X.Min, p.X.Max = p.X.Min/1.5, p.X.Max*1.5
	const width, height, legendWidth = 11 * vg.Inch, 6 * vg.Inch, 3 * vg.Inch
	svg := vgsvg.New(width, height)
	c := draw.New(svg)
	plotArea, legendArea := c, c
	plotArea.Max.X = c.Max.X - legendWidth
	legendArea.Min.X = plotArea.Max.X + vg.Points(10)
	legendArea.Max.Y -= vg.Points(30)
	p.Draw(plotArea)
	legend.Draw(legendArea)
	var b bytes.Buffer
	if _, err := svg.WriteTo(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// sizeTicks marks the decades of a logarithmic axis of byte counts with
// their names (100 kB, 1 MB, ...).
type sizeTicks struct{}

// Ticks implements plot.Ticker.
func (sizeTicks) Ticks(lo, hi float64) []plot.Tick {
	var ts []plot.Tick
	for e := math.Floor(math.Log10(lo)); e <= math.Ceil(math.Log10(hi)); e++ {
		v := math.Pow(10, e)
		if v < lo/1.0001 || v > hi*1.0001 {
			continue
		}
		ts = append(ts, plot.Tick{Value: v, Label: sizeLabel(v)})
		for m := 2.0; m < 10; m++ {
			if mv := m * v; mv >= lo && mv <= hi {
				ts = append(ts, plot.Tick{Value: mv})
			}
		}
	}
	return ts
}

// sizeLabel names a power of ten of bytes.
func sizeLabel(v float64) string {
	units := []string{"B", "kB", "MB", "GB", "TB"}
	i := 0
	for v >= 1000 && i < len(units)-1 {
		v /= 1000
		i++
	}
	return fmt.Sprintf("%g %s", math.Round(v), units[i])
}

// limitGlyphs mark the points of the limits.
var limitGlyphs = []draw.GlyphDrawer{draw.BoxGlyph{}, draw.TriangleGlyph{}, draw.CrossGlyph{}, draw.PlusGlyph{}}

// palette holds the colours of the engines' lines.
var palette = []color.Color{
	color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff},
	color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff},
	color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff},
	color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff},
	color.RGBA{R: 0x94, G: 0x67, B: 0xbd, A: 0xff},
	color.RGBA{R: 0x8c, G: 0x56, B: 0x4b, A: 0xff},
	color.RGBA{R: 0xe3, G: 0x77, B: 0xc2, A: 0xff},
	color.RGBA{R: 0x17, G: 0xbe, B: 0xcf, A: 0xff},
	color.RGBA{R: 0xbc, G: 0xbd, B: 0x22, A: 0xff},
}

// readResults reads a results.json.
func readResults(name string) (*Results, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	var res Results
	if err := json.Unmarshal(data, &res); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &res, nil
}
