package main

// `pades batch` signs many documents with one signer at one level:
//
//	pades batch [the flags of sign] [-workers N] [-batch-size K] [-inplace] [-report FILE]
//	            (-in DIR | -manifest FILE.jsonl | IN.pdf...) -out DIR
//
// It is a thin layer over package pades/batch, which does the work: the
// worker pool, the batches of a remote signer, the journal that lets a
// killed batch start again, signing in place.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"hashsign/pades/batch"
	"hashsign/signer/remote"
)

func cmdBatch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("batch", flag.ContinueOnError)
	var sf signFlags
	sf.register(fs)
	var of outputFlags
	of.register(fs)
	inDir := fs.String("in", "", "sign every .pdf file in `DIR` (not in its subdirectories), as well as the IN.pdf arguments")
	manifest := fs.String("manifest", "", "sign the documents that the JSON-lines `FILE` names, one object a line: "+
		`{"in": "a.pdf", "out": "signed/a.pdf", "password": "...", "field": "...", "reason": "..."} (only "in" is required)`)
	outDir := fs.String("out", "", "write the signed files to `DIR`, named as their inputs; it is created when missing, and holds the journal")
	workers := fs.Int("workers", runtime.NumCPU(), "documents prepared, hashed and signed at the same time")
	batchSize := fs.Int("batch-size", remote.DefaultBatchSize, "with -remote, the most hashes per signHash call (the credential's multisign caps it)")
	inPlace := fs.Bool("inplace", false, "append each signature to its input file instead of writing a copy; a document that fails is cut back to its original bytes")
	reportFile := fs.String("report", "", "write a JSON-lines report, one line per document, to `FILE` (- for standard output)")
	journalFile := fs.String("journal", "", "the journal that lets an interrupted batch start again and skip what is done (default DIR/"+batch.JournalName+" of -out, or of the inputs with -inplace)")
	pos, err := parseFlags(fs, args, "-out DIR (-in DIR | -manifest FILE.jsonl | IN.pdf...)")
	if err != nil {
		return err
	}
	switch {
	case *outDir == "" && !*inPlace:
		return usagef("give the output directory: -out DIR")
	case *workers < 1:
		return usagef("-workers must be at least 1, not %d", *workers)
	case *batchSize < 1:
		return usagef("-batch-size must be at least 1, not %d", *batchSize)
	case flagSet(fs, "batch-size") && !sf.signer.rf.set():
		return usagef("-batch-size goes with -remote: other signers sign one hash at a time")
	case *manifest != "" && (*inDir != "" || len(pos) > 0):
		return usagef("give either -manifest or -in DIR and IN.pdf files, not both")
	case *inPlace && of.keepMode:
		return usagef("-keep-mode goes with copies: -inplace keeps the file")
	}
	opts, err := sf.options()
	if err != nil {
		return err
	}
	jobs, err := batchJobs(*inDir, *manifest, pos, *outDir, *inPlace)
	if err != nil {
		return err
	}
	s, closer, err := sf.signer.open(ctx, stderr)
	if err != nil {
		return err
	}
	defer closer.Close()
	eng, err := batch.New(ctx, s, &batch.Options{Sign: *opts, Workers: *workers, BatchSize: *batchSize, InPlace: *inPlace, KeepMode: of.keepMode})
	if err != nil {
		return err
	}
	if *outDir != "" {
		if err := os.MkdirAll(*outDir, 0o777); err != nil {
			return fmt.Errorf("creating the output directory: %w", err)
		}
	}
	for _, d := range outputDirs(jobs, *outDir) {
		if err := os.MkdirAll(d, 0o777); err != nil {
			return fmt.Errorf("creating the output directory: %w", err)
		}
	}
	jpath := *journalFile
	if jpath == "" {
		jpath = filepath.Join(journalDir(*outDir, *inDir, *manifest, jobs), batch.JournalName)
	}
	journal, err := batch.OpenJournal(jpath, opts.Level, *inPlace)
	if err != nil {
		return err
	}
	defer journal.Close()
	var report *batch.Report
	switch *reportFile {
	case "":
	case "-":
		report = batch.NewReport(stdout)
		stdout = stderr // the human lines make way for the report
	default:
		f, err := os.Create(*reportFile)
		if err != nil {
			return fmt.Errorf("creating the report: %w", err)
		}
		defer f.Close()
		report = batch.NewReport(f)
	}

	show := newBatchProgress(jobs, stdout, stderr)
	start := time.Now()
	sum := eng.Run(ctx, jobs, &batch.RunOptions{Journal: journal, OnResult: func(r batch.Result) {
		show.add(r)
		if report != nil {
			report.Add(r)
		}
	}})
	show.finish()
	elapsed := time.Since(start)
	if err := journal.Close(); err != nil {
		return fmt.Errorf("closing the journal: %w", err)
	}
	fmt.Fprintf(stdout, "signed %d of %d documents in %.1fs (%.1f MB/s) at %v", sum.Signed+sum.Done, len(jobs), elapsed.Seconds(),
		float64(sum.Bytes)/1e6/max(elapsed.Seconds(), 1e-9), opts.Level)
	if sum.Done > 0 {
		fmt.Fprintf(stdout, ", %d of them by an earlier run", sum.Done)
	}
	if sum.Failed > 0 {
		fmt.Fprintf(stdout, ", %d failed", sum.Failed)
	}
	fmt.Fprintln(stdout)
	if report != nil {
		if err := report.Err(); err != nil {
			return fmt.Errorf("writing the report: %w", err)
		}
	}
	left := len(jobs) - sum.Signed - sum.Done
	switch {
	case errors.Is(sum.Stopped, context.Canceled):
		return fmt.Errorf("interrupted, %d of %d documents not signed", left, len(jobs))
	case sum.Stopped != nil:
		return fmt.Errorf("stopped, %d of %d documents not signed: %w", left, len(jobs), sum.Stopped)
	case left > 0:
		return fmt.Errorf("%d of %d documents not signed", left, len(jobs))
	}
	return nil
}

// flagSet reports whether the flag name was given on the command line.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// batchJobs lists the documents: those of the manifest, or the .pdf files
// of inDir, then the files named as arguments, each written to outDir
// under its own name (or signed in place).
func batchJobs(inDir, manifest string, files []string, outDir string, inPlace bool) ([]batch.Job, error) {
	var jobs []batch.Job
	switch {
	case manifest != "":
		f, err := os.Open(manifest)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		if jobs, err = batch.ReadManifest(f, filepath.Dir(manifest), outDir, inPlace); err != nil {
			return nil, fmt.Errorf("%s: %w", manifest, err)
		}
	case inDir != "":
		var err error
		if jobs, err = batch.DirJobs(inDir, outDir, inPlace); err != nil {
			return nil, err
		}
	}
	for _, in := range files {
		out := filepath.Join(outDir, filepath.Base(in))
		if inPlace {
			out = in
		}
		jobs = append(jobs, batch.Job{In: in, Out: out})
	}
	if len(jobs) == 0 {
		return nil, usagef("no input: give -in DIR, -manifest FILE or IN.pdf files")
	}
	byOut := map[string]string{}
	for _, j := range jobs {
		if prev, dup := byOut[j.Out]; dup {
			return nil, usagef("%s and %s would both be written to %s", prev, j.In, j.Out)
		}
		byOut[j.Out] = j.In
		if !inPlace {
			if err := checkPaths(j.In, j.Out); err != nil {
				return nil, err
			}
		}
	}
	return jobs, nil
}

// outputDirs returns the directories below outDir that the outputs of a
// manifest name.
func outputDirs(jobs []batch.Job, outDir string) []string {
	if outDir == "" {
		return nil
	}
	seen := map[string]bool{filepath.Clean(outDir): true}
	var dirs []string
	for _, j := range jobs {
		if d := filepath.Dir(j.Out); !seen[d] {
			seen[d] = true
			dirs = append(dirs, d)
		}
	}
	return dirs
}

// journalDir is where the journal goes by default: the output directory,
// or in place the input directory (the manifest's, or the first input's).
func journalDir(outDir, inDir, manifest string, jobs []batch.Job) string {
	switch {
	case outDir != "":
		return outDir
	case inDir != "":
		return inDir
	case manifest != "":
		return filepath.Dir(manifest)
	}
	return filepath.Dir(jobs[0].In)
}
