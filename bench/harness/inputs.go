package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"hashsign/bench/internal/bigpdf"
)

// An input is a set of documents that one run of an engine signs.
type input struct {
	Name string `json:"name"`
	// Large inputs are single files whose limit is max(cp, SHA-256) (in
	// place: SHA-256); the others are many documents, whose limit is
	// hashing plus signing on the workers.
	Large bool `json:"large"`
	// Docs are the documents of one run, a file possibly repeated.
	Docs []string `json:"-"`
	// Files is the number of distinct files, Bytes the sum of the sizes
	// of the documents of one run.
	Files int   `json:"files"`
	NDocs int   `json:"docs"`
	Bytes int64 `json:"bytes"`
	// Pages and Objects describe a generated file.
	Pages   int    `json:"pages,omitempty"`
	Objects int    `json:"objects,omitempty"`
	Seed    uint64 `json:"seed,omitempty"`
	// Series tells whether the input is a point of the chart's size
	// series (one generated file of image pages).
	Series bool   `json:"series"`
	About  string `json:"about"`
}

// docBytes returns the average size of a document.
func (in *input) docBytes() float64 { return float64(in.Bytes) / float64(max(in.NDocs, 1)) }

// genSpec describes a generated input.
type genSpec struct {
	name  string
	cfg   bigpdf.Config
	docs  int
	large bool
	about string
}

// genSpecs returns the generated inputs of a full or quick run.
func genSpecs(quick bool, seed uint64) []genSpec {
	c := func(size int64, pages, objects int) bigpdf.Config {
		return bigpdf.Config{Size: size, Pages: pages, Objects: objects, SigField: true, Seed: seed}
	}
	if quick {
		return []genSpec{
			{"small", c(100<<10, 4, 0), 8, false, "100 KiB, 4 pages of images"},
			{"medium", c(1<<20, 2, 0), 8, false, "1 MiB, 2 pages of images"},
			{"large-16MiB", c(16<<20, 0, 0), 1, true, "16 MiB of 6 MiB image streams (-quick stands in for 100 MiB and 1 GiB)"},
			{"objects-10k", c(0, 1, 10000), 2, false, "10,000 objects (text pages under a two-level page tree)"},
		}
	}
	return []genSpec{
		{"small", c(100<<10, 4, 0), 512, false, "100 KiB, 4 pages of images"},
		{"medium", c(1<<20, 2, 0), 256, false, "1 MiB, 2 pages of images"},
		{"large-100MiB", c(100<<20, 0, 0), 1, true, "100 MiB of 6 MiB image streams"},
		{"large-1GiB", c(1<<30, 0, 0), 1, true, "1 GiB of 6 MiB image streams"},
		{"objects-100k", c(0, 1, 100000), 8, false, "100,000 objects (text pages under a two-level page tree)"},
	}
}

// makeInputs generates the inputs in dir and adds the corpus.
func makeInputs(ctx context.Context, o options, e *env, dir string) ([]*input, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var ins []*input
	for _, g := range genSpecs(o.quick, o.seed) {
		name := filepath.Join(dir, g.name+".pdf")
		res, err := bigpdf.WriteFile(name, g.cfg)
		if err != nil {
			return nil, err
		}
		o.log.Printf("input %s: %d bytes, %d pages, %d objects", g.name, res.Bytes, res.Pages, res.Objects)
		in := &input{Name: g.name, Large: g.large, Files: 1, NDocs: g.docs, Bytes: res.Bytes * int64(g.docs),
			Pages: res.Pages, Objects: res.Objects, Seed: g.cfg.Seed, Series: g.cfg.Objects == 0, About: g.about}
		for range g.docs {
			in.Docs = append(in.Docs, name)
		}
		ins = append(ins, in)
	}
	corpus, err := corpusInput(ctx, o, e, dir)
	if err != nil {
		return nil, err
	}
	if corpus != nil {
		ins = append(ins, corpus)
	}
	return ins, nil
}

// corpusDir returns the corpus directory: -corpus, or ../shared/corpus
// beside the module when it exists.
func corpusDir(o options, root string) string {
	if o.corpus != "" {
		return o.corpus
	}
	d := filepath.Join(filepath.Dir(root), "shared", "corpus")
	if _, err := os.Stat(filepath.Join(d, "manifest.tsv")); err != nil {
		return ""
	}
	return d
}

// corpusInput lists the corpus files that pades signs at B-B without a
// password (a batch run tells), each once per run. The others (DocMDP
// /P 1, encrypted files, files cut short) are refused by design.
func corpusInput(ctx context.Context, o options, e *env, dir string) (*input, error) {
	cdir := corpusDir(o, e.root)
	if cdir == "" {
		o.log.Printf("no corpus: ../shared/corpus is missing and -corpus is not given")
		return nil, nil
	}
	files, err := corpusFiles(cdir)
	if err != nil {
		return nil, err
	}
	if o.quick {
		files = files[:min(len(files), 6)]
	}
	// One batch at B-B tells which files pades signs.
	manifest := filepath.Join(dir, "corpus-probe.jsonl")
	if err := writeManifest(manifest, files); err != nil {
		return nil, err
	}
	out := filepath.Join(dir, "corpus-probe")
	report := filepath.Join(dir, "corpus-probe.report")
	args := append([]string{"batch"}, e.keyFile("rsa")...)
	args = append(args, "-report", report, "-manifest", manifest, "-out", out)
	cmd := exec.CommandContext(ctx, e.pades, args...)
	cmd.Env = e.childEnv
	cmdOut, runErr := cmd.CombinedOutput()
	defer os.RemoveAll(out)
	rf, err := os.Open(report)
	if err != nil {
		return nil, fmt.Errorf("pades batch on the corpus: %v\n%s", runErr, cmdOut)
	}
	defer rf.Close()
	signed := map[string]bool{}
	sc := bufio.NewScanner(rf)
	for sc.Scan() {
		var r struct{ Input, Status string }
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, fmt.Errorf("the report of pades batch: %w", err)
		}
		if r.Status == "signed" {
			signed[r.Input] = true
		}
	}
	in := &input{Name: "corpus", About: ""}
	for _, f := range files {
		if !signed[f] {
			continue
		}
		st, err := os.Stat(f)
		if err != nil {
			return nil, err
		}
		in.Docs = append(in.Docs, f)
		in.Bytes += st.Size()
	}
	in.Files, in.NDocs = len(in.Docs), len(in.Docs)
	in.About = fmt.Sprintf("%d of the %d files of %s that pades signs without a password (the others are refused by design)", in.NDocs, len(files), cdir)
	o.log.Printf("input corpus: %s", in.About)
	if in.NDocs == 0 {
		return nil, fmt.Errorf("pades batch signed no corpus file:\n%s", cmdOut)
	}
	return in, nil
}

// corpusFiles lists the files of the corpus's manifest.tsv.
func corpusFiles(dir string) ([]string, error) {
	data, err := os.ReadFile(filepath.Join(dir, "manifest.tsv"))
	if err != nil {
		return nil, err
	}
	var files []string
	for i, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		name, _, _ := strings.Cut(line, "\t")
		if i == 0 || !strings.HasSuffix(name, ".pdf") {
			continue
		}
		files = append(files, filepath.Join(dir, name))
	}
	slices.Sort(files)
	if len(files) == 0 {
		return nil, fmt.Errorf("%s/manifest.tsv lists no PDF", dir)
	}
	return files, nil
}

// writeManifest writes a pades batch manifest that signs docs into
// numbered outputs (a file may be listed more than once).
func writeManifest(name string, docs []string) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	for i, d := range docs {
		if err := enc.Encode(map[string]string{"in": d, "out": outName(i)}); err != nil {
			return err
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// outName names the output of document i.
func outName(i int) string { return fmt.Sprintf("d%05d.pdf", i) }
