package batch

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Limits of a manifest, which may come from elsewhere.
const (
	MaxManifestLine = 64 << 10 // bytes in one line
	MaxManifestJobs = 1 << 20  // documents
)

// ManifestEntry is one line of a manifest: a JSON object naming one
// document. Only in is required.
//
//		{"in": "contracts/a.pdf"}
//		{"in": "b.pdf", "out": "signed/b-signed.pdf", "password": "secret", "field": "Approval", "reason": "Approved"}
//
//	  - in: the input PDF; a relative path is taken from the manifest's
//	    directory.
//	  - out: where the signed document goes, a relative path inside the
//	    output directory (subdirectories are created); default: the base
//	    name of in. Signing in place, out must be absent (or name in).
//	  - password: opens an encrypted input.
//	  - field: the signature field to sign (an empty one of that name, or a
//	    new one).
//	  - reason: the /Reason of the signature.
//
// Blank lines are skipped; any other key, a line that is not one JSON
// object, or two documents with the same output are errors that name the
// line.
type ManifestEntry struct {
	In       string  `json:"in"`
	Out      string  `json:"out,omitempty"`
	Password *string `json:"password,omitempty"`
	Field    string  `json:"field,omitempty"`
	Reason   string  `json:"reason,omitempty"`
}

// ReadManifest reads the manifest r, whose relative inputs are taken from
// baseDir, into jobs writing to outDir (or, inPlace, to their inputs).
func ReadManifest(r io.Reader, baseDir, outDir string, inPlace bool) ([]Job, error) {
	br := bufio.NewReaderSize(r, MaxManifestLine)
	var jobs []Job
	outs := map[string]int{}
	for n := 1; ; n++ {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			return nil, fmt.Errorf("manifest line %d is longer than %d bytes", n, MaxManifestLine)
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("reading the manifest: %w", err)
		}
		if t := bytes.TrimSpace(line); len(t) > 0 {
			job, perr := manifestJob(t, baseDir, outDir, inPlace)
			if perr != nil {
				return nil, fmt.Errorf("manifest line %d: %w", n, perr)
			}
			k := key(job)
			if prev, dup := outs[k]; dup {
				return nil, fmt.Errorf("manifest line %d: its output %s is already that of line %d", n, job.Out, prev)
			}
			outs[k] = n
			if len(jobs) == MaxManifestJobs {
				return nil, fmt.Errorf("the manifest names more than %d documents", MaxManifestJobs)
			}
			jobs = append(jobs, job)
		}
		if err != nil {
			break
		}
	}
	if len(jobs) == 0 {
		return nil, errors.New("the manifest names no document")
	}
	return jobs, nil
}

// manifestJob decodes one line of a manifest.
func manifestJob(line []byte, baseDir, outDir string, inPlace bool) (Job, error) {
	var e ManifestEntry
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return Job{}, fmt.Errorf("not a manifest entry: %w", err)
	}
	if dec.More() {
		return Job{}, errors.New("more than one JSON value")
	}
	if e.In == "" {
		return Job{}, errors.New(`no "in"`)
	}
	in := e.In
	if !filepath.IsAbs(in) {
		in = filepath.Join(baseDir, in)
	}
	job := Job{In: in, Field: e.Field, Reason: e.Reason}
	if e.Password != nil {
		job.Password = []byte(*e.Password)
	}
	switch {
	case inPlace:
		if e.Out != "" && filepath.Clean(e.Out) != filepath.Clean(e.In) {
			return Job{}, errors.New(`signing in place, "out" must be absent`)
		}
		job.Out = in
	case e.Out == "":
		job.Out = filepath.Join(outDir, filepath.Base(in))
	default:
		if !filepath.IsLocal(e.Out) {
			return Job{}, fmt.Errorf("the output %q is not a relative path inside the output directory", e.Out)
		}
		job.Out = filepath.Join(outDir, e.Out)
	}
	return job, nil
}

// DirJobs lists the .pdf files of inDir (not those of its subdirectories),
// each written to outDir under its own name, or signed in place.
func DirJobs(inDir, outDir string, inPlace bool) ([]Job, error) {
	entries, err := os.ReadDir(inDir)
	if err != nil {
		return nil, fmt.Errorf("reading the input directory: %w", err)
	}
	var jobs []Job
	for _, e := range entries {
		if e.Type().IsRegular() && strings.EqualFold(filepath.Ext(e.Name()), ".pdf") {
			in := filepath.Join(inDir, e.Name())
			out := filepath.Join(outDir, e.Name())
			if inPlace {
				out = in
			}
			jobs = append(jobs, Job{In: in, Out: out})
		}
	}
	if len(jobs) == 0 {
		return nil, fmt.Errorf("the input directory %s holds no .pdf file", inDir)
	}
	return jobs, nil
}
