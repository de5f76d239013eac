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
	bytes          int64 // of the documents signed
	start          time.Time
	pending        int64     // bytes not yet added to the bar
	shown          time.Time // when the bar was last drawn
}

// redrawEvery is how often the bar is drawn at most, but after a failure
// and at the end.
const redrawEvery = 100 * time.Millisecond

func newBatchProgress(jobs []batch.Job, stdout, stderr io.Writer) *batchProgress {
	p := &batchProgress{stdout: stdout, stderr: stderr, total: len(jobs), start: time.Now()}
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
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionThrottle(0), // add draws it when it is time
		progressbar.OptionSetWidth(30),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionSetDescription(p.describe()),
	)
	p.bar.RenderBlank()
	return p
}

func (p *batchProgress) describe() string {
	s := fmt.Sprintf("%d/%d documents, %.1f MB/s", p.seen, p.total, float64(p.bytes)/1e6/max(time.Since(p.start).Seconds(), 1e-3))
	if p.failed > 0 {
		s += fmt.Sprintf(", %d failed", p.failed)
	}
	return s
}

// add shows the result of one document.
func (p *batchProgress) add(r batch.Result) {
	p.seen++
	switch r.Status {
	case batch.Failed:
		p.failed++
	case batch.Signed:
		p.bytes += r.Bytes
	}
	if p.bar != nil {
		failed := r.Status == batch.Failed
		if failed {
			p.bar.Clear()
			fmt.Fprintf(p.stderr, "pades batch: %s: %s\n", r.Job.In, oneLine(r.Err.Error()))
		}
		p.pending += r.Bytes
		if failed || p.seen == p.total || time.Since(p.shown) >= redrawEvery {
			p.bar.Describe(p.describe())
			p.bar.Add64(p.pending)
			p.pending, p.shown = 0, time.Now()
		}
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
