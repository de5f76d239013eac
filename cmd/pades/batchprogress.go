package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"hashsign/pades/batch"
)

// batchProgress shows how a batch goes: on a terminal, a progress bar on
// standard error (documents, MB/s, time left, failures) with the failures
// above it; otherwise one line per document, the signed ones on standard
// output and the failures on standard error.
type batchProgress struct {
	stdout, stderr io.Writer
	bar            *progressbar.ProgressBar // nil when standard error is not a terminal
	total          int
	seen, failed   int
}

func newBatchProgress(jobs []batch.Job, stdout, stderr io.Writer) *batchProgress {
	p := &batchProgress{stdout: stdout, stderr: stderr, total: len(jobs)}
	f, ok := stderr.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return p
	}
	var bytes int64
	for _, j := range jobs {
		if st, err := os.Stat(j.In); err == nil {
			bytes += st.Size()
		}
	}
	p.bar = progressbar.NewOptions64(bytes,
		progressbar.OptionSetWriter(stderr),
		progressbar.OptionShowBytes(true),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionSetWidth(30),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionSetDescription(p.describe()),
	)
	p.bar.RenderBlank()
	return p
}

func (p *batchProgress) describe() string {
	s := fmt.Sprintf("%d/%d documents", p.seen, p.total)
	if p.failed > 0 {
		s += fmt.Sprintf(", %d failed", p.failed)
	}
	return s
}

// add shows the result of one document.
func (p *batchProgress) add(r batch.Result) {
	p.seen++
	if r.Status == batch.Failed {
		p.failed++
	}
	if p.bar != nil {
		if r.Status == batch.Failed {
			p.bar.Clear()
			fmt.Fprintf(p.stderr, "pades batch: %s: %s\n", r.Job.In, oneLine(r.Err.Error()))
		}
		p.bar.Describe(p.describe())
		p.bar.Add64(r.Bytes)
		return
	}
	switch r.Status {
	case batch.Failed:
		fmt.Fprintf(p.stderr, "pades batch: %s: %s\n", r.Job.In, oneLine(r.Err.Error()))
	case batch.Done:
		fmt.Fprintf(p.stdout, "[%d/%d] %s: signed by an earlier run\n", p.seen, p.total, r.Job.Out)
	default:
		fmt.Fprintf(p.stdout, "[%d/%d] signed %s: field %s, %d bytes, level %v, %.1f ms\n",
			p.seen, p.total, r.Job.Out, r.Field, r.Size, r.Level, float64(r.Elapsed.Microseconds())/1000)
	}
}

// finish takes the progress bar away.
func (p *batchProgress) finish() {
	if p.bar != nil {
		p.bar.Finish()
	}
}
