// Package batch signs many PDF documents with one signer and one set of
// options: the engine of `pades batch`, which a signing gateway can share.
//
// An Engine holds the signer and a pool of CPU slots. Each document is
// opened, prepared, hashed and signed while it holds a slot; its output is
// then synced and renamed into place (internal/atomicfile) without one, so
// that the disk's latency overlaps the next documents' hashing. With a
// signer that signs many hashes in one call (remote.BatchSigner, such as a
// CSC service), the documents waiting for their signatures give their slot
// up, and their hashes go out together in one call (remote.Batcher) while
// the other workers prepare the next documents.
//
// Run signs a list of documents and can keep a Journal, which lets a run
// that was killed start again and skip what is done (see Journal for what
// it guarantees).
//
// What the documents of a batch share: the issuers that complete the
// signer's certificate chain, fetched once; the validation data that an *ltv.Fetcher given as
// pades.SignOptions.Validation fetches (the OCSP responses and CRLs of the
// signer's and the TSA's chains, each asked once and reused while it is
// valid); and the HTTP connections of the TSA client. What they cannot
// share: each signature timestamp covers its own signature value, and each
// document timestamp its own document, so each is one TSA request.
package batch

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"hashsign/internal/atomicfile"
	"hashsign/internal/groupsync"
	"hashsign/internal/regularfile"
	"hashsign/pades"
	"hashsign/signer"
	"hashsign/signer/remote"
)

// Job is one document of a batch.
type Job struct {
	// In is the path of the input PDF.
	In string
	// Out is the path of the signed output; with Options.InPlace it is In.
	Out string
	// Password opens an encrypted input; nil takes the engine's.
	Password []byte
	// Field names the signature field; "" takes the engine's.
	Field string
	// Reason is the /Reason of the signature; "" takes the engine's.
	Reason string
	// Options, when not nil, replaces the engine's Options.Sign for this
	// document (Password, Field and Reason still apply over it): a
	// gateway signs each request with its own level, field and
	// appearance. Its Level must be that of the Journal of a Run.
	Options *pades.SignOptions
}

// Status is what became of a document.
type Status string

// The statuses of a document.
const (
	Signed Status = "signed" // signed by this run
	Failed Status = "failed" // not signed; Result.Err says why
	Done   Status = "done"   // signed by an earlier run, as the journal says
)

// Result is what became of one document.
type Result struct {
	Job    Job
	Status Status
	// Err says why the document was not signed; it has no output then
	// (with InPlace: its file holds the bytes it had).
	Err error
	// Bytes is the size of the input.
	Bytes int64
	// Size is the size of the signed file.
	Size int64
	// Elapsed is the time from opening the input to committing the
	// output.
	Elapsed time.Duration
	// Field, Level, Hash and Digest describe the signature: Digest is the
	// digest with Hash of its byte range (its message-digest attribute).
	// For a document signed by an earlier run they come from the journal.
	Field  string
	Level  pades.Level
	Hash   crypto.Hash
	Digest []byte
}

// Options configures an Engine.
type Options struct {
	// Sign is the signature every document gets; a Job's Password, Field
	// and Reason replace its own.
	Sign pades.SignOptions
	// Workers is the number of documents prepared, hashed and signed at
	// the same time: the CPUs the engine keeps busy (default: the number
	// of CPUs).
	Workers int
	// BatchSize is, for a signer that signs many hashes in one call
	// (remote.BatchSigner), the most hashes per call (default
	// remote.DefaultBatchSize; the signer's own limit caps it).
	BatchSize int
	// InPlace appends each signature to its input file (Job.Out must be
	// Job.In) instead of writing a copy: a document that fails is cut
	// back to its original length.
	InPlace bool
	// KeepMode gives outputs the permission bits of their input (default:
	// those os.Create gives).
	KeepMode bool
}

// Engine signs documents with one signer and one set of options. It is
// safe for concurrent use: Sign calls from many goroutines share its
// workers' CPU slots and, with a remote signer, its batches.
type Engine struct {
	signer  signer.Signer
	batcher *remote.Batcher // with a BatchSigner
	opts    Options
	cpu     chan struct{} // one token per worker
	// syncer shares the syncs of the outputs committed at the same time
	syncer groupsync.Syncer
}

// New returns an engine that signs with s. A nil opts takes the defaults.
// It completes the signer's certificate chain once, for every document,
// through o.Sign.Issuers (or o.Sign.Validation): see pades.CompleteChain.
func New(ctx context.Context, s signer.Signer, opts *Options) (*Engine, error) {
	if s == nil {
		return nil, errors.New("batch: no signer")
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	issuers := o.Sign.Issuers
	if issuers == nil {
		issuers, _ = o.Sign.Validation.(pades.IssuerSource)
	}
	if o.Workers == 0 {
		o.Workers = runtime.NumCPU()
	}
	if o.Workers < 0 {
		return nil, fmt.Errorf("batch: %d workers", o.Workers)
	}
	if o.BatchSize < 0 {
		return nil, fmt.Errorf("batch: batch size %d", o.BatchSize)
	}
	e := &Engine{signer: s, opts: o, cpu: make(chan struct{}, o.Workers)}
	if bs, ok := s.(remote.BatchSigner); ok {
		// each document's chain is completed through the caches of
		// issuers: a reservation of the batcher is not a completed signer
		e.batcher = remote.NewBatcher(bs, o.BatchSize)
		return e, nil
	}
	full, err := pades.CompleteChain(ctx, s, issuers)
	if err != nil {
		return nil, err
	}
	e.signer = full
	return e, nil
}

// BatchSize returns the most hashes that one call of the signer holds: 1
// for a signer that signs one hash at a time.
func (e *Engine) BatchSize() int {
	if e.batcher == nil {
		return 1
	}
	return e.batcher.Size()
}

// Sign signs one document and commits its output. It waits for a CPU slot
// first. With a remote signer, its hash joins those of the documents that
// other Sign calls are preparing at the same time.
func (e *Engine) Sign(ctx context.Context, job Job) Result {
	return e.signReserved(ctx, job, func(s signer.Signer, r *Result) (func() error, error) {
		return e.signFile(ctx, job, s, r, output{syncer: &e.syncer}, nil)
	})
}

// SignFile signs the document that f holds (its first size bytes) in
// place, whatever Options.InPlace says: the signature is appended to f,
// which is neither synced nor closed; when signing fails, f is cut back to
// size. job.In only names the document; its Password, Field, Reason and
// Options apply as in Sign. A gateway signs the documents it received
// this way, each in the temporary file that holds it, and sends the file
// back.
//
// Like Sign, it waits for a CPU slot, and with a remote signer its hash
// joins those of the other documents being signed: call it once the
// document is whole, as the batch that its hash joins waits for it.
func (e *Engine) SignFile(ctx context.Context, f pades.File, size int64, job Job) Result {
	return e.signReserved(ctx, job, func(s signer.Signer, r *Result) (func() error, error) {
		r.Bytes = size
		opts := e.jobOptions(job)
		p, err := pades.SignInPlace(ctx, f, size, s, &opts)
		if err != nil {
			return nil, err
		}
		r.setSignature(p)
		return func() error { return nil }, nil
	})
}

// signReserved is sign for a document outside a Run: with a batcher, it
// announces the document's signature for as long as the call lasts.
func (e *Engine) signReserved(ctx context.Context, job Job, do signFunc) Result {
	var res *remote.Reservation
	if e.batcher != nil {
		res = e.batcher.Reserve()
		defer res.Release()
	}
	return e.sign(ctx, job, res, nil, nil, nil, do)
}

// signFunc signs a document with s into r, holding a CPU slot, and returns
// what commits its output: the work that needs no CPU slot.
type signFunc func(s signer.Signer, r *Result) (commit func() error, err error)

// sign signs one document through the reservation res (nil without a
// batcher) with do, and records it in j (when not nil). pre, when not nil,
// is what comes before the document takes a CPU slot: the work that waits
// for the disk. signed, when not nil, is called once the document is
// signed, before its output is committed.
func (e *Engine) sign(ctx context.Context, job Job, res *remote.Reservation, j *Journal, pre func(*Result) error, signed func(), do signFunc) Result {
	r := Result{Job: job, Status: Failed}
	start := time.Now()
	slot := &cpuSlot{sem: e.cpu}
	var s signer.Signer = e.signer
	if res != nil {
		s = &yieldSigner{Reservation: res, slot: slot}
	}
	if pre != nil {
		r.Err = pre(&r)
	}
	if r.Err == nil {
		r.Err = slot.acquire(ctx)
	}
	if r.Err == nil {
		var commit func() error
		commit, r.Err = do(s, &r)
		slot.release()
		if r.Err == nil {
			if signed != nil {
				signed()
			}
			r.Err = commit()
		}
	}
	if r.Err == nil && j != nil {
		r.Err = j.done(&r)
	}
	if r.Err == nil {
		r.Status = Signed
	}
	r.Elapsed = time.Since(start)
	return r
}

// jobOptions returns the signature options of job.
func (e *Engine) jobOptions(job Job) pades.SignOptions {
	opts := e.opts.Sign
	if job.Options != nil {
		opts = *job.Options
	}
	if job.Password != nil {
		opts.Password = job.Password
	}
	if job.Field != "" {
		opts.FieldName = job.Field
	}
	if job.Reason != "" {
		opts.Info.Reason = job.Reason
	}
	return opts
}

// output says how a document's output is written and committed.
type output struct {
	journal *Journal // nil: none
	// swept says that the output's directory has been swept
	// (atomicfile.Sweep).
	swept bool
	// syncer makes the output durable, with the others that it syncs at
	// the same time.
	syncer *groupsync.Syncer
}

// signFile signs job with s into r, and returns what commits the output.
// In place, pf is the file that openInPlace opened (nil: signFile opens
// it), which signFile closes.
func (e *Engine) signFile(ctx context.Context, job Job, s signer.Signer, r *Result, o output, pf *inPlaceFile) (commit func() error, err error) {
	j := o.journal
	opts := e.jobOptions(job)
	if e.opts.InPlace {
		if pf == nil {
			if pf, err = e.openInPlace(job, j, r); err != nil {
				return nil, err
			}
		}
		return e.signInPlace(ctx, job, s, &opts, pf, r, o.syncer)
	}
	in, size, err := regularfile.Open(job.In, os.O_RDONLY)
	if err != nil {
		return nil, err
	}
	defer in.Close()
	r.Bytes = size
	if j != nil {
		if err := j.start(job, size, nil); err != nil {
			return nil, err
		}
	}
	co := &atomicfile.Options{Swept: o.swept, Syncer: o.syncer}
	if e.opts.KeepMode {
		st, err := in.Stat()
		if err != nil {
			return nil, err
		}
		co.Mode, co.SetMode = st.Mode(), true
	}
	out, err := atomicfile.CreateWith(job.Out, co)
	if err != nil {
		return nil, err
	}
	p, err := pades.Sign(ctx, in, size, out, s, &opts)
	if err != nil {
		out.Abort()
		return nil, err
	}
	r.setSignature(p)
	return out.Commit, nil
}

// inPlaceFile is a document opened for signing in place.
type inPlaceFile struct {
	f    *os.File
	size int64 // its length before the signature
}

// openInPlace opens job's file to sign it in place and, with a journal,
// records its length and fingerprint, synced before the file changes so
// that a run killed in the middle of the signature leaves what the next
// one cuts off. It needs no CPU slot: a Run calls it before the document
// takes one, so that the journal's sync does not hold a worker.
func (e *Engine) openInPlace(job Job, j *Journal, r *Result) (*inPlaceFile, error) {
	if job.Out != "" && job.Out != job.In {
		return nil, fmt.Errorf("signing in place: the output %s is not the input %s", job.Out, job.In)
	}
	f, size, err := regularfile.Open(job.In, os.O_RDWR)
	if err != nil {
		return nil, err
	}
	r.Bytes = size
	if j != nil {
		tail, err := tailSum(f, size)
		if err != nil {
			f.Close()
			return nil, err
		}
		if err := j.start(job, size, tail); err != nil {
			f.Close()
			return nil, err
		}
	}
	return &inPlaceFile{f: f, size: size}, nil
}

// signInPlace appends the signature to the file that openInPlace opened;
// the file is synced once signed.
func (e *Engine) signInPlace(ctx context.Context, job Job, s signer.Signer, opts *pades.SignOptions, pf *inPlaceFile, r *Result, syncer *groupsync.Syncer) (func() error, error) {
	f, size := pf.f, pf.size
	p, err := pades.SignInPlace(ctx, f, size, s, opts)
	if err != nil {
		f.Sync() // the cut back to size
		f.Close()
		return nil, err
	}
	r.setSignature(p)
	return func() error {
		err := syncer.Sync(f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			// not known to be on disk: undo
			if f2, _, oerr := regularfile.Open(job.In, os.O_RDWR); oerr == nil {
				f2.Truncate(size)
				f2.Sync()
				f2.Close()
			}
			return fmt.Errorf("syncing %s: %w", job.In, err)
		}
		return nil
	}, nil
}

func (r *Result) setSignature(p *pades.Result) {
	r.Size, r.Field, r.Level, r.Hash, r.Digest = p.Size, p.Field, p.Level, p.Hash, p.Digest
}

// Summary is the outcome of a Run.
type Summary struct {
	// Signed, Done and Failed count the documents by status.
	Signed, Done, Failed int
	// Bytes is the size of the inputs signed by this run.
	Bytes int64
	// Stopped, when not nil, is why the run stopped before its end: the
	// failure of the signer (every document after it would fail the same
	// way), or the end of the context. The documents it cut short are not
	// reported.
	Stopped error
}

// RunOptions are the options of one Run.
type RunOptions struct {
	// Journal, when not nil, records the run: the documents it holds as
	// done are skipped, and a document an earlier run left half signed in
	// place is cut back first.
	Journal *Journal
	// OnResult, when not nil, is called once for each document that was
	// attempted or skipped, by one goroutine at a time.
	OnResult func(Result)
}

// Run signs jobs: Workers at a time, and with a remote signer up to two
// batches more that wait for their signatures. One document that fails
// fails alone; the run stops when the signer itself fails (see
// SignerFailed) or ctx ends.
func (e *Engine) Run(ctx context.Context, jobs []Job, ro *RunOptions) Summary {
	var o RunOptions
	if ro != nil {
		o = *ro
	}
	var (
		mu  sync.Mutex // guards sum and serializes OnResult
		sum Summary
	)
	report := func(r Result) {
		switch r.Status {
		case Signed:
			sum.Signed++
			sum.Bytes += r.Bytes
		case Done:
			sum.Done++
		default:
			sum.Failed++
		}
		if o.OnResult != nil {
			o.OnResult(r)
		}
	}
	todo := jobs[:0:0]
	for _, job := range jobs {
		r, skip := o.Journal.resume(job, e.opts.InPlace)
		if skip {
			report(r)
			continue
		}
		todo = append(todo, job)
	}

	if !e.opts.InPlace {
		// what killed processes left, once per output directory rather
		// than once per document
		swept := map[string]bool{}
		for _, job := range todo {
			if d := filepath.Dir(job.Out); !swept[d] {
				swept[d] = true
				atomicfile.Sweep(d)
			}
		}
	}

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	// Documents in flight: twice as many as the workers, so that while
	// some hold the CPU slots the others open their files and wait for
	// the journal's sync (in place), and with a batcher, two batches more
	// that wait for their signatures. Once signed, a document leaves them
	// for one of the commit slots, where it waits for its output to be
	// synced with others (groupsync): a sync starts when GroupPerWorker outputs
	// wait for it, which spreads the cost of each sync of the file system
	// over them, and the slots hold four groups, so that the workers go on
	// while one group syncs. A waiting output holds no more than an open
	// file (and, copied, its data in the page cache).
	group := &groupsync.Syncer{Min: GroupPerWorker * e.opts.Workers}
	inflight := 2 * e.opts.Workers
	commits := make(chan struct{}, GroupsInFlight*group.Min)
	var first []*remote.Reservation
	if e.batcher != nil {
		inflight += 2 * e.batcher.Size()
		// Announce the first documents before any starts, so that their
		// hashes go out together however fast each is prepared.
		for range min(inflight, len(todo)) {
			first = append(first, e.batcher.Reserve())
		}
	}
	slots := make(chan struct{}, inflight)
	cutOff := func(err error) bool { return errors.Is(err, context.Canceled) && context.Cause(ctx) != nil }
	var wg sync.WaitGroup
	next := 0
	for ; next < len(todo); next++ {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		job := todo[next]
		var res *remote.Reservation
		if e.batcher != nil {
			if next < len(first) {
				res = first[next]
			} else {
				res = e.batcher.Reserve()
			}
		}
		wg.Go(func() {
			// leave frees the document's slot, after its reservation
			leave := func() {
				if res != nil {
					res.Release()
				}
				<-slots
			}
			committing := false
			// in place, the file is opened and its start recorded
			// before the document takes a CPU slot
			var pf *inPlaceFile
			pre := func(r *Result) (err error) {
				if e.opts.InPlace {
					pf, err = e.openInPlace(job, o.Journal, r)
				}
				return err
			}
			r := e.sign(ctx, job, res, o.Journal, pre, func() {
				commits <- struct{}{}
				committing = true
				leave()
			}, func(s signer.Signer, r *Result) (func() error, error) {
				p := pf
				pf = nil // signFile closes it
				return e.signFile(ctx, job, s, r, output{journal: o.Journal, swept: !e.opts.InPlace, syncer: group}, p)
			})
			if pf != nil {
				pf.f.Close() // the run stopped before the document took a slot
			}
			if committing {
				<-commits
			} else {
				leave()
			}
			if r.Err != nil {
				o.Journal.failed(&r)
			}
			mu.Lock()
			defer mu.Unlock()
			switch {
			case r.Err == nil:
			case cutOff(r.Err):
				return // cut short by the stop, not by its own fault
			case SignerFailed(r.Err):
				cancel(r.Err)
			}
			report(r)
		})
	}
	group.Drain() // the documents still in flight sync without waiting for more
	for _, res := range first[min(next, len(first)):] {
		res.Release()
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		sum.Stopped = err
	}
	return sum
}

// How a Run commits its outputs, for the benchmarks that write outputs as
// it does (BenchmarkBatch, bench/harness).
const (
	// GroupPerWorker is, per worker, the number of outputs that a Run
	// syncs together. BenchmarkBatch/inplace (1 MiB documents, 2
	// workers) signs at 0.65 of the limit that hashing and signing allow
	// when each output is synced as soon as it can be, at 0.80 with 16 per
	// worker and 0.83 with 32; copies are bound by the writing of their
	// data and gain nothing either way (0.43-0.45 in the same runs).
	GroupPerWorker = 32
	// GroupsInFlight is the number of groups whose outputs may wait for
	// their sync at once, so that the workers go on while one syncs.
	GroupsInFlight = 4
)

// SignerFailed reports whether err is a failure of the signer rather than
// of a document: every document after it would fail the same way.
func SignerFailed(err error) bool {
	for _, e := range []error{pades.ErrIncompleteChain, remote.ErrUnavailable, remote.ErrUnauthorized, remote.ErrForbidden, remote.ErrNotFound, remote.ErrBadSignature} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// cpuSlot is a document's hold on one of the workers' CPU slots.
type cpuSlot struct {
	sem  chan struct{}
	held bool
}

func (c *cpuSlot) acquire(ctx context.Context) error {
	if c.held {
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
