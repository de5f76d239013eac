package main

// `pades batch` signs many documents with one signer at one level:
//
//	pades batch [the flags of sign] [-workers N] [-batch-size K] (-in DIR | IN.pdf...) -out DIR
//
// It writes OUT/<name of each input>. A pool of -workers goroutines (the
// number of CPUs by default) prepares, hashes and signs the documents.
// With a remote signer, up to twice -batch-size more documents wait for
// their signatures while the workers prepare the next ones, and the hashes
// of the documents that wait together go out in one signHash call
// (remote.Batcher). Each document that fails is reported on its own line
// and gets no output; the others are signed.

import (
	"context"
	"crypto"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"hashsign/internal/atomicfile"
	"hashsign/pades"
	"hashsign/signer"
	"hashsign/signer/remote"
)

func cmdBatch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("batch", flag.ContinueOnError)
	var sf signFlags
	sf.register(fs)
	inDir := fs.String("in", "", "sign every .pdf file in `DIR` (not in its subdirectories), as well as the IN.pdf arguments")
	outDir := fs.String("out", "", "write the signed files to `DIR`, named as their inputs; it is created when missing")
	workers := fs.Int("workers", runtime.NumCPU(), "documents prepared and signed at the same time")
	batchSize := fs.Int("batch-size", remote.DefaultBatchSize, "with -remote, the most hashes per signHash call (the credential's multisign caps it)")
	pos, err := parseFlags(fs, args, "-out DIR (-in DIR | IN.pdf...)")
	if err != nil {
		return err
	}
	if *outDir == "" {
		return usagef("give the output directory: -out DIR")
	}
	if *workers < 1 {
		return usagef("-workers must be at least 1, not %d", *workers)
	}
	if *batchSize < 1 {
		return usagef("-batch-size must be at least 1, not %d", *batchSize)
	}
	if flagSet(fs, "batch-size") && !sf.signer.rf.set() {
		return usagef("-batch-size goes with -remote: other signers sign one hash at a time")
	}
	opts, err := sf.options()
	if err != nil {
		return err
	}
	jobs, err := batchJobs(*inDir, pos, *outDir)
	if err != nil {
		return err
	}
	s, closer, err := sf.signer.open(ctx, stderr)
	if err != nil {
		return err
	}
	defer closer.Close()
	if err := os.MkdirAll(*outDir, 0o777); err != nil {
		return fmt.Errorf("creating the output directory: %w", err)
	}
	r := &batchRunner{signer: s, opts: *opts, workers: *workers}
	if rs, ok := s.(*remote.Signer); ok {
		r.batcher = remote.NewBatcher(rs, *batchSize)
	}
	r.report = func(res batchResult) {
		if res.Err != nil {
			fmt.Fprintf(stderr, "pades batch: %s: %s\n", res.In, oneLine(res.Err.Error()))
			return
		}
		fmt.Fprintf(stdout, "signed %s: field %s, %d bytes, level %v\n", res.Out, res.Field, res.Size, opts.Level)
	}
	start := time.Now()
	sum := r.run(ctx, jobs)
	fmt.Fprintf(stdout, "signed %d of %d documents in %.1fs at %v\n", sum.signed, len(jobs), time.Since(start).Seconds(), opts.Level)
	switch {
	case errors.Is(sum.stopped, context.Canceled):
		return fmt.Errorf("interrupted, %d of %d documents not signed", len(jobs)-sum.signed, len(jobs))
	case sum.stopped != nil:
		return fmt.Errorf("stopped, %d of %d documents not signed: %w", len(jobs)-sum.signed, len(jobs), sum.stopped)
	case sum.signed < len(jobs):
		return fmt.Errorf("%d of %d documents not signed", len(jobs)-sum.signed, len(jobs))
	}
	return nil
}

// flagSet reports whether the flag name was given on the command line.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// batchJob is one document of a batch.
type batchJob struct {
	In, Out string
}

// batchJobs lists the documents: the .pdf files of inDir, then the files
// named as arguments, each written to outDir under its own name.
func batchJobs(inDir string, files []string, outDir string) ([]batchJob, error) {
	var ins []string
	if inDir != "" {
		entries, err := os.ReadDir(inDir)
		if err != nil {
			return nil, fmt.Errorf("reading the input directory: %w", err)
		}
		n := 0
		for _, e := range entries {
			if e.Type().IsRegular() && strings.EqualFold(filepath.Ext(e.Name()), ".pdf") {
				ins = append(ins, filepath.Join(inDir, e.Name()))
				n++
			}
		}
		if n == 0 {
			return nil, fmt.Errorf("the input directory %s holds no .pdf file", inDir)
		}
	}
	ins = append(ins, files...)
	if len(ins) == 0 {
		return nil, usagef("no input: give -in DIR or IN.pdf files")
	}
	jobs := make([]batchJob, len(ins))
	byName := map[string]string{}
	for i, in := range ins {
		name := filepath.Base(in)
		if prev, dup := byName[name]; dup {
			return nil, usagef("%s and %s would both be written to %s", prev, in, filepath.Join(outDir, name))
		}
		byName[name] = in
		jobs[i] = batchJob{In: in, Out: filepath.Join(outDir, name)}
		if err := checkPaths(in, jobs[i].Out); err != nil {
			return nil, err
		}
	}
	return jobs, nil
}

// batchResult is what became of one document.
type batchResult struct {
	batchJob
	// Field is the signature field and Size the size of the signed file,
	// when Err is nil.
	Field string
	Size  int64
	// Elapsed is the time the document took, from opening its input to
	// committing its output.
	Elapsed time.Duration
	// Err says why the document was not signed; it has no output then.
	Err error
}

// batchRunner signs documents with one signer and one set of options.
type batchRunner struct {
	signer signer.Signer
	// batcher, when not nil, gathers the signatures of the documents into
	// batches; it signs through signer.
	batcher *remote.Batcher
	opts    pades.SignOptions
	// workers is the number of documents that are prepared at the same
	// time. With a batcher, up to twice its size more wait for their
	// signatures.
	workers int
	// report is called once for each document that was attempted, by one
	// goroutine at a time.
	report func(batchResult)
}

// batchSummary is the outcome of a run.
type batchSummary struct {
	signed int
	// stopped, when not nil, is the failure of the signer that stopped
	// the run, or the reason the context ended.
	stopped error
}

// run signs jobs. It stops starting documents when the signer fails (see
// signerFailed) or ctx ends; the documents cut short then are not
// reported one by one.
func (r *batchRunner) run(ctx context.Context, jobs []batchJob) batchSummary {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	inflight := r.workers
	var cpu chan struct{}
	var first []*remote.Reservation
	if r.batcher != nil {
		// Documents waiting for their signatures give up their CPU slot
		// (yieldSigner), so that a batch can wait for its signatures
		// while the workers prepare the next one.
		inflight += 2 * r.batcher.Size()
		cpu = make(chan struct{}, r.workers)
		// Announce the first documents before any starts, so that their
		// hashes go out together however fast each is prepared.
		for range min(inflight, len(jobs)) {
			first = append(first, r.batcher.Reserve())
		}
	}
	slots := make(chan struct{}, inflight)
	var (
		mu     sync.Mutex // guards sum and serializes report
		sum    batchSummary
		wg     sync.WaitGroup
		next   int
		cutOff = func(err error) bool { return errors.Is(err, context.Canceled) && context.Cause(ctx) != nil }
	)
	for ; next < len(jobs); next++ {
		if ctx.Err() != nil {
			break
		}
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		job := jobs[next]
		var s signer.Signer = r.signer
		slot := &cpuSlot{sem: cpu}
		var res *remote.Reservation
		if r.batcher != nil {
			if next < len(first) {
				res = first[next]
			} else {
				res = r.batcher.Reserve()
			}
			s = &yieldSigner{Reservation: res, slot: slot}
		}
		wg.Go(func() {
			defer func() { <-slots }()
			if res != nil {
				defer res.Release() // before the slot is freed
			}
			result := batchResult{batchJob: job}
			start := time.Now()
			if result.Err = slot.acquire(ctx); result.Err == nil {
				result.Field, result.Size, result.Err = r.sign(ctx, job, s)
				slot.release()
			}
			result.Elapsed = time.Since(start)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case result.Err == nil:
				sum.signed++
			case cutOff(result.Err):
				return // cut short by the stop, not by its own fault
			case signerFailed(result.Err):
				cancel(result.Err)
			}
			r.report(result)
		})
	}
	for _, res := range first[min(next, len(first)):] {
		res.Release()
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		sum.stopped = err
	}
	return sum
}

// sign signs one document with s and commits its output.
func (r *batchRunner) sign(ctx context.Context, job batchJob, s signer.Signer) (field string, size int64, err error) {
	in, insize, err := openInput(job.In)
	if err != nil {
		return "", 0, err
	}
	defer in.Close()
	out, err := atomicfile.Create(job.Out)
	if err != nil {
		return "", 0, err
	}
	defer out.Abort()
	opts := r.opts
	p, err := pades.Sign(ctx, in, insize, out, s, &opts)
	if err != nil {
		return "", 0, err
	}
	if err := out.Commit(); err != nil {
		return "", 0, err
	}
	return p.Field, p.Size, nil
}

// signerFailed reports whether err is a failure of the signer rather than
// of a document: every document after it would fail the same way.
func signerFailed(err error) bool {
	for _, e := range []error{remote.ErrUnavailable, remote.ErrUnauthorized, remote.ErrForbidden, remote.ErrNotFound, remote.ErrBadSignature} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// cpuSlot is a document's hold on one of the workers' CPU slots; sem nil
// means no limit.
type cpuSlot struct {
	sem  chan struct{}
	held bool
}

func (c *cpuSlot) acquire(ctx context.Context) error {
	if c.sem == nil || c.held {
		return nil
	}
	select {
	case c.sem <- struct{}{}:
		c.held = true
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *cpuSlot) release() {
	if c.held {
		<-c.sem
		c.held = false
	}
}

// yieldSigner signs through a reservation of a remote.Batcher, and gives
// up its document's CPU slot while it waits for the signature.
type yieldSigner struct {
	*remote.Reservation
	slot *cpuSlot
}

// Sign is SignContext with a background context.
func (y *yieldSigner) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return y.SignContext(context.Background(), digest, opts)
}

// SignContext asks for the signature without holding the CPU slot. It
// takes a slot again even when ctx has ended meanwhile, so that a
// signature already made is not thrown away when the batch stops; the
// slots' holders are working, so one comes free.
func (y *yieldSigner) SignContext(ctx context.Context, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	y.slot.release()
	defer y.slot.acquire(context.Background())
	return y.Reservation.SignContext(ctx, digest, opts)
}
