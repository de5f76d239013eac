package main

import (
	"fmt"
	"strings"
)

// Target is one target of issue 11, judged on figures of the same run.
type Target struct {
	Name string `json:"name"`
	// Figure is the measured figure, compared with Want by Op ("<=" or
	// ">="); CPUFigure is the same figure from CPU times (what it would
	// be on idle cores), when it applies.
	Figure    float64 `json:"figure"`
	CPUFigure float64 `json:"cpu_figure,omitempty"`
	Op        string  `json:"op"`
	Want      float64 `json:"want"`
	// Status is met, missed or not measured; CPUStatus is met or
	// missed by CPUFigure, when there is one.
	Status    string `json:"status"`
	CPUStatus string `json:"cpu_status,omitempty"`
	Detail    string `json:"detail"`
	// WithWrites, for a figure of docs/s over the hash+sign limit in copy
	// mode, is docs/s over the limit of hashing, signing and writing the
	// outputs (LimitRow.WritePerS), the work of both adding up on the
	// same cores: 1/(1/hash+sign + 1/write) docs/s; CPUWithWrites is the
	// same from CPU times. They say how much of the gap is the writing,
	// and are judged against nothing.
	WithWrites    float64 `json:"with_writes,omitempty"`
	CPUWithWrites float64 `json:"cpu_with_writes,omitempty"`
}

// targets judges the targets of issue 11 on the rows of res.
func targets(res *Results) []Target {
	find := func(input, engine, signer, level, mode string) *Row {
		for i := range res.Rows {
			r := &res.Rows[i]
			if r.Input == input && r.Engine == engine && r.Signer == signer && r.Level == level && r.Mode == mode {
				if r.DocsPerS > 0 {
					return r
				}
				return nil
			}
		}
		return nil
	}
	// The 1 GiB file, or the largest large input of a -quick run.
	large := ""
	var largest int64
	for _, in := range res.Inputs {
		if in.Large && in.Bytes > largest {
			large, largest = in.Name, in.Bytes
		}
	}
	const medium = "medium"
	var ts []Target
	add := func(t Target, ok bool) {
		t.Status = "not measured"
		if ok {
			t.Status = judge(t.Figure, t.Op, t.Want)
			if t.CPUFigure != 0 {
				t.CPUStatus = judge(t.CPUFigure, t.Op, t.Want)
			}
		}
		ts = append(ts, t)
	}

	copyRow := find(large, engBatch, "keyfile-rsa", "B-B", "copy")
	t := Target{Name: large + ", B-B, RSA key file, copy: wall time over max(cp, one SHA-256 pass)", Op: "<=", Want: 1.1}
	if copyRow != nil {
		t.Figure, t.CPUFigure = 1/copyRow.Ratio, inverse(copyRow.CPURatio)
		t.Detail = fmt.Sprintf("%.3f s against %.3f s", copyRow.WallS, 1/copyRow.LimitDocsPerS)
	}
	add(t, copyRow != nil)

	inRow := find(large, engBatch, "keyfile-rsa", "B-B", "inplace")
	t = Target{Name: large + ", B-B, RSA key file, -inplace: wall time over one SHA-256 pass", Op: "<=", Want: 1.1}
	if inRow != nil {
		t.Figure, t.CPUFigure = 1/inRow.Ratio, inverse(inRow.CPURatio)
		t.Detail = fmt.Sprintf("%.3f s against %.3f s", inRow.WallS, 1/inRow.LimitDocsPerS)
	}
	add(t, inRow != nil)

	t = Target{Name: large + ", B-B, RSA key file: peak RSS (MiB), copy and in place", Op: "<=", Want: 24}
	var rss []string
	for _, r := range []*Row{copyRow, inRow} {
		if r != nil {
			t.Figure = max(t.Figure, r.PeakRSSMiB)
			rss = append(rss, fmt.Sprintf("%s %.1f MiB", r.Mode, r.PeakRSSMiB))
		}
	}
	t.Detail = strings.Join(rss, ", ")
	add(t, copyRow != nil && inRow != nil)

	// In copy mode and in place (on fresh copies of the documents, whose
	// limit hashes those copies: see hashSign).
	keyRow := find(medium, engBatch, "keyfile-rsa", "B-B", "copy")
	var mediumLimits *LimitRow
	for i := range res.Limits {
		if res.Limits[i].Input == medium {
			mediumLimits = &res.Limits[i]
		}
	}
	for _, r := range []struct{ name, engine, mode string }{
		{"pades batch", engBatch, "copy"},
		{"the library (pades/batch in one process)", engLibrary, "copy"},
		{"pades batch -inplace", engBatch, "inplace"},
		{"the library (pades/batch in one process) with Options.InPlace", engLibrary, "inplace"},
	} {
		row := find(medium, r.engine, "keyfile-rsa", "B-B", r.mode)
		t = Target{Name: fmt.Sprintf("%s (1 MiB) documents, B-B, RSA key file, %d workers, %s: docs/s over the hash+sign limit", medium, res.Workers, r.name), Op: ">=", Want: 0.8}
		if row != nil {
			t.Figure, t.CPUFigure = row.Ratio, row.CPURatio
			t.Detail = fmt.Sprintf("%.0f docs/s against %.0f (%s)", row.DocsPerS, row.LimitDocsPerS, row.Limit)
			if w := mediumLimits; row.Mode == "copy" && w != nil && w.WritePerS > 0 {
				all := 1 / (1/row.LimitDocsPerS + 1/w.WritePerS)
				t.WithWrites = row.DocsPerS / all
				t.CPUWithWrites = (row.LimitCPUmsPerDoc + w.WriteCPUmsEach) / row.CPUmsPerDoc
				t.Detail += fmt.Sprintf("; against hashing, signing and writing the outputs (%.0f docs/s, writing alone %.0f): %.2f, by CPU time %.2f",
					all, w.WritePerS, t.WithWrites, t.CPUWithWrites)
			}
		} else {
			t.Detail = unmeasured(res, medium, r.engine, "keyfile-rsa", r.mode)
		}
		add(t, row != nil)
	}

	for _, kt := range []struct{ remote, file, name string }{
		{"remote-rsa-b64", "keyfile-rsa", "RSA-2048"},
		{"remote-p256-b64", "keyfile-p256", "P-256"},
	} {
		r, k := find(medium, engBatch, kt.remote, "B-B", "copy"), find(medium, engBatch, kt.file, "B-B", "copy")
		t = Target{Name: fmt.Sprintf("%s, B-B, %s: remote over loopback, batches of 64, docs/s over the key file's", medium, kt.name), Op: ">=", Want: 0.8}
		if r != nil && k != nil {
			t.Figure = r.DocsPerS / k.DocsPerS
			t.CPUFigure = k.CPUmsPerDoc * inverse(r.CPUmsPerDoc)
			t.Detail = fmt.Sprintf("%.0f docs/s against %.0f", r.DocsPerS, k.DocsPerS)
		}
		add(t, r != nil && k != nil)
	}

	t = Target{Name: medium + ", B-B, RSA key file: docs/s over pdfsig -add-signature's", Op: ">=", Want: 20}
	if keyRow != nil && keyRow.VsPdfsig > 0 {
		t.Figure = keyRow.VsPdfsig
		t.Detail = fmt.Sprintf("%.0f docs/s against %.1f", keyRow.DocsPerS, keyRow.DocsPerS/keyRow.VsPdfsig)
	} else if why := res.Missing["pdfsig"]; why != "" {
		t.Detail = why
	}
	add(t, keyRow != nil && keyRow.VsPdfsig > 0)

	for _, signer := range []string{"keyfile-rsa", "remote-rsa-b64"} {
		g, b := find(medium, engGateway, signer, "B-B", "copy"), find(medium, engBatch, signer, "B-B", "copy")
		t = Target{Name: fmt.Sprintf("%s, B-B, %s: gateway docs/s over pades batch's", medium, signer), Op: ">=", Want: 0.7}
		switch {
		case g != nil && b != nil:
			t.Figure = g.DocsPerS / b.DocsPerS
			t.Detail = fmt.Sprintf("%.0f docs/s against %.0f", g.DocsPerS, b.DocsPerS)
		case g == nil:
			t.Detail = unmeasured(res, medium, engGateway, signer, "copy")
		default:
			t.Detail = unmeasured(res, medium, engBatch, signer, "copy")
		}
		add(t, g != nil && b != nil)
	}
	return ts
}

// unmeasured says why the B-B row of engine and signer on input, in mode,
// has no figure.
func unmeasured(res *Results, input, engine, signer, mode string) string {
	for _, r := range res.Rows {
		if r.Input != input || r.Engine != engine || r.Signer != signer || r.Level != "B-B" || r.Mode != mode {
			continue
		}
		if r.Error != "" {
			return engine + ": ERROR: " + firstLine(r.Error)
		}
		return engine + ": " + r.NotMeasured
	}
	return fmt.Sprintf("no row of %s, %s, %s on %s", engine, signer, mode, input)
}

// judge says whether fig meets want by op ("<=" or ">="): met or missed.
func judge(fig float64, op string, want float64) string {
	if op == "<=" && fig <= want || op == ">=" && fig >= want {
		return "met"
	}
	return "missed"
}

func inverse(x float64) float64 {
	if x == 0 {
		return 0
	}
	return 1 / x
}
