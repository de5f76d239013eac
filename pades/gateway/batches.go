package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"hashsign/internal/httplog"
	"hashsign/internal/webhook"
	"hashsign/pades/batch"
)

// Headers of a callback post.
const (
	// CallbackSignatureHeader carries "t=UNIX,v1=HEX": HEX is the
	// HMAC-SHA256, under the secret of callbacks.secret_file, of the
	// decimal UNIX time, a dot, and the body (see internal/webhook).
	CallbackSignatureHeader = "Pades-Signature"
	// CallbackEventHeader is the event: "batch.ended".
	CallbackEventHeader = "Pades-Event"
	// CallbackDeliveryHeader is the batch's id, the same on every
	// attempt, so that a receiver can tell a retry from a new event.
	CallbackDeliveryHeader = "Pades-Delivery"
)

// maxFailuresShown bounds the failures that a batch's status lists; the
// report lists them all.
const maxFailuresShown = 100

// BatchRequest is the body of POST /v1/batches. The signature options are
// the query parameters and headers, as for /v1/sign.
type BatchRequest struct {
	// Documents names the documents, as the lines of a `pades batch`
	// manifest do: "in" is required and must be an absolute path; "out"
	// is a relative path inside Out (default: the base name of "in").
	Documents []batch.ManifestEntry `json:"documents,omitempty"`
	// Dir, instead of Documents, signs every .pdf file of a directory
	// (not those of its subdirectories), each written to Out under its
	// own name.
	Dir string `json:"dir,omitempty"`
	// Out is the absolute path of the output directory, created when
	// missing. It holds the journal (batch.JournalName), which lets the
	// same batch posted again skip what is done, and the report.
	Out string `json:"out"`
	// Callback, when set, is posted the batch's status when it ends. It
	// must start with one of callbacks.allow.
	Callback string `json:"callback,omitempty"`
}

// The states of a batch.
const (
	StateRunning   = "running"   // documents are being signed
	StateSucceeded = "succeeded" // every document is signed (by this batch or an earlier run)
	StateFailed    = "failed"    // some documents failed; the others are signed
	StateStopped   = "stopped"   // the batch stopped before its end: see Stopped
	StateCancelled = "cancelled" // DELETE /v1/batches/{id} stopped it
)

// BatchStatus is what GET /v1/batches/{id} answers, and the body of the
// callback post when the batch has ended.
type BatchStatus struct {
	ID    string `json:"id"`
	State string `json:"state"`
	Level string `json:"level"`
	// Documents is the number of documents of the batch; Signed, Done
	// (signed by an earlier run of the same batch, as its journal says)
	// and Failed count those that have ended so far.
	Documents int `json:"documents"`
	Signed    int `json:"signed"`
	Done      int `json:"done"`
	Failed    int `json:"failed"`
	// Bytes is the size of the documents signed.
	Bytes int64 `json:"bytes"`
	// Out is the output directory; Report the JSON-lines report in it,
	// one line per document (see batch.ReportLine), which
	// GET /v1/batches/{id}/report also answers.
	Out    string `json:"out"`
	Report string `json:"report"`
	// Created and Ended are RFC 3339 times; Ended is absent while the
	// batch runs.
	Created time.Time  `json:"created"`
	Ended   *time.Time `json:"ended,omitempty"`
	// Stopped says why a batch stopped before its end: the signer failed
	// (every document after would have failed the same way), or the
	// gateway shut down. Posting the same batch again resumes it.
	Stopped string `json:"stopped,omitempty"`
	// Failures lists the first documents that failed, with their reason.
	Failures []batch.ReportLine `json:"failures,omitempty"`
	// Callback says what became of the callback post (not in the post
	// itself).
	Callback *CallbackStatus `json:"callback,omitempty"`
}

// CallbackStatus is the state of a batch's callback post.
type CallbackStatus struct {
	URL      string `json:"url"`
	Status   string `json:"status"` // waiting (the batch runs), pending, delivered, failed
	Attempts int    `json:"attempts"`
	Error    string `json:"error,omitempty"`
}

// job is one batch.
type job struct {
	keyID    string
	callback string
	cancel   context.CancelCauseFunc
	mu       sync.Mutex // guards status
	status   BatchStatus
}

// snapshot returns a copy of the job's status.
func (j *job) snapshot() BatchStatus {
	j.mu.Lock()
	defer j.mu.Unlock()
	st := j.status
	st.Failures = append([]batch.ReportLine(nil), st.Failures...)
	if st.Callback != nil {
		cb := *st.Callback
		st.Callback = &cb
	}
	return st
}

// batches runs the batches of /v1/batches and posts their callbacks.
type batches struct {
	s      *Server
	secret []byte
	allow  []*url.URL
	client *http.Client
	// ctx ends the runs and callbacks, when the gateway stops.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // runs and callbacks

	mu    sync.Mutex
	jobs  map[string]*job
	ended []string        // ids of the ended jobs, oldest first
	outs  map[string]bool // output directories of the running jobs
}

func newBatches(s *Server, transport http.RoundTripper) (*batches, error) {
	cc := &s.cfg.Callbacks
	b := &batches{s: s, jobs: map[string]*job{}, outs: map[string]bool{}}
	b.client = &http.Client{
		Timeout:   cc.Timeout,
		Transport: transport,
		// a redirect could lead anywhere; the allowed URL must answer
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	for _, p := range cc.Allow {
		u, _ := url.Parse(p) // checked by Check
		b.allow = append(b.allow, u)
	}
	if cc.SecretFile != "" {
		secret, err := os.ReadFile(s.cfg.Path(cc.SecretFile))
		if err != nil {
			return nil, fmt.Errorf("callbacks.secret_file: %w", err)
		}
		if b.secret = []byte(strings.TrimSpace(string(secret))); len(b.secret) < 16 {
			return nil, errors.New("callbacks.secret_file: the secret must have at least 16 characters")
		}
	}
	b.ctx, b.cancel = context.WithCancel(context.Background())
	return b, nil
}

// running returns the number of batches running.
func (b *batches) running() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.outs)
}

// stop waits up to timeout for the batches running and the callbacks to
// end, then stops them and waits for them.
func (b *batches) stop(timeout time.Duration) {
	done := make(chan struct{})
	go func() {
		b.wg.Wait()
		close(done)
	}()
	t := time.NewTimer(max(timeout, 0))
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		b.s.log.Warn("shutdown timeout: stopping the batches and callbacks still running")
		b.cancel()
		<-done
	}
	b.cancel()
}

// handleBatches starts a batch: POST /v1/batches.
func (s *Server) handleBatches(w http.ResponseWriter, r *http.Request) {
	if !allowMethods(w, r, http.MethodPost) || s.refuseWhileDraining(w, r) {
		return
	}
	key, ae := s.authenticate(r, OpBatches)
	if ae != nil {
		writeError(w, r, ae)
		return
	}
	st, ae := s.batches.start(r, key.ID)
	if ae != nil {
		writeError(w, r, ae)
		return
	}
	w.Header().Set("Location", PathBatches+"/"+st.ID)
	writeJSON(w, http.StatusAccepted, st)
}

// start checks a batch request and starts the batch.
func (b *batches) start(r *http.Request, keyID string) (*BatchStatus, *apiError) {
	s := b.s
	if len(s.roots) == 0 {
		return nil, &apiError{http.StatusForbidden, "no_roots", "batches are off: the gateway has no storage.roots to read documents from"}
	}
	opts, password, ae := s.requestOptions(r)
	if ae != nil {
		return nil, ae
	}
	var req BatchRequest
	if ae := decodeBatch(r, &req, s.cfg.Limits.MaxBatchDocuments); ae != nil {
		return nil, ae
	}
	if req.Callback != "" {
		if ae := b.checkCallback(req.Callback); ae != nil {
			return nil, ae
		}
	}
	jobs, out, ae := s.batchJobs(&req)
	if ae != nil {
		return nil, ae
	}
	if len(jobs) > s.cfg.Limits.MaxBatchDocuments {
		return nil, &apiError{http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("the batch has %d documents, more than %d (limits.max_batch_documents)", len(jobs), s.cfg.Limits.MaxBatchDocuments)}
	}
	for i := range jobs {
		jobs[i].Options = opts
		if jobs[i].Password == nil {
			jobs[i].Password = password
		}
	}

	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.outs[out]:
		return nil, &apiError{http.StatusConflict, "conflict", "a batch is already writing to " + out}
	case len(b.outs) >= s.cfg.Limits.MaxBatches:
		return nil, &apiError{http.StatusTooManyRequests, "busy", fmt.Sprintf("%d batches are already running; retry later", len(b.outs))}
	}
	if ae := makeDirs(jobs, out); ae != nil {
		return nil, ae
	}
	if _, ae := s.confine(filepath.Join(out, batch.JournalName)); ae != nil {
		return nil, ae
	}
	journal, err := batch.OpenJournal(filepath.Join(out, batch.JournalName), opts.Level, false)
	if err != nil {
		return nil, &apiError{http.StatusConflict, "conflict", oneLine(err.Error())}
	}
	id := httplog.NewID()
	reportPath := filepath.Join(out, ".pades-report-"+id+".jsonl")
	report, err := os.OpenFile(reportPath, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o666)
	if err != nil {
		journal.Close()
		return nil, &apiError{http.StatusInternalServerError, "internal", "creating the report: " + oneLine(err.Error())}
	}
	j := &job{keyID: keyID, callback: req.Callback, status: BatchStatus{
		ID: id, State: StateRunning, Level: opts.Level.String(), Documents: len(jobs), Out: out, Report: reportPath, Created: time.Now().UTC(),
	}}
	if req.Callback != "" {
		j.status.Callback = &CallbackStatus{URL: req.Callback, Status: "waiting"}
	}
	var ctx context.Context
	ctx, j.cancel = context.WithCancelCause(b.ctx)
	b.jobs[id] = j
	b.outs[out] = true
	st := j.snapshot()
	b.wg.Go(func() { b.run(ctx, j, jobs, journal, report) })
	s.log.Info("batch started", "batch", id, "key_id", keyID, "documents", len(jobs), "out", out, "level", opts.Level.String())
	return &st, nil
}

// decodeBatch reads the JSON body of a batch request, which may name at
// most maxDocs documents.
func decodeBatch(r *http.Request, req *BatchRequest, maxDocs int) *apiError {
	limit := int64(64<<10) + int64(maxDocs)*(8<<10)
	dec := json.NewDecoder(io.LimitReader(r.Body, limit+1))
	dec.DisallowUnknownFields()
	if err := dec.Decode(req); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return &apiError{http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("the request body is not JSON of at most %d bytes", limit)}
		}
		return badRequest("the body is not a batch request: %v", err)
	}
	if dec.More() {
		return badRequest("trailing data after the JSON body")
	}
	switch {
	case req.Out == "":
		return badRequest(`"out", the output directory, is required`)
	case (len(req.Documents) == 0) == (req.Dir == ""):
		return badRequest(`give either "documents" or "dir"`)
	}
	return nil
}

// checkCallback checks that u starts with an allowed prefix: the same
// scheme and host, and a path below the prefix's.
func (b *batches) checkCallback(raw string) *apiError {
	if len(b.allow) == 0 {
		return badRequest("callbacks are off: the gateway has no callbacks.allow")
	}
	u, err := url.Parse(raw)
	if err == nil && u.User == nil && u.Fragment == "" {
		for _, p := range b.allow {
			if strings.EqualFold(u.Scheme, p.Scheme) && strings.EqualFold(u.Host, p.Host) && strings.HasPrefix(u.Path, p.Path) {
				return nil
			}
		}
	}
	return &apiError{http.StatusBadRequest, "callback_refused", fmt.Sprintf("the callback URL %q does not start with one of callbacks.allow", raw)}
}

// batchJobs returns the documents of a batch request, their paths
// resolved and confined to the roots, and the output directory.
func (s *Server) batchJobs(req *BatchRequest) ([]batch.Job, string, *apiError) {
	out, ae := s.confine(req.Out)
	if ae != nil {
		return nil, "", ae
	}
	var jobs []batch.Job
	if req.Dir != "" {
		dir, ae := s.confine(req.Dir)
		if ae != nil {
			return nil, "", ae
		}
		var err error
		if jobs, err = batch.DirJobs(dir, out, false); err != nil {
			return nil, "", badRequest("%s", oneLine(err.Error()))
		}
	}
	for i, e := range req.Documents {
		if e.In == "" {
			return nil, "", badRequest(`documents[%d]: no "in"`, i)
		}
		job := batch.Job{In: e.In, Field: e.Field, Reason: e.Reason, Out: filepath.Join(out, filepath.Base(e.In))}
		if e.Password != nil {
			job.Password = []byte(*e.Password)
		}
		if e.Out != "" {
			if !filepath.IsLocal(e.Out) {
				return nil, "", badRequest("documents[%d]: the output %q is not a relative path inside out", i, e.Out)
			}
			job.Out = filepath.Join(out, e.Out)
		}
		jobs = append(jobs, job)
	}
	outs := map[string]string{}
	for i := range jobs {
		in, ae := s.confine(jobs[i].In)
		if ae != nil {
			return nil, "", ae
		}
		jobs[i].In = in
		dir, ae := s.confine(filepath.Dir(jobs[i].Out))
		if ae != nil {
			return nil, "", ae
		}
		jobs[i].Out = filepath.Join(dir, filepath.Base(jobs[i].Out))
		if prev, dup := outs[jobs[i].Out]; dup {
			return nil, "", badRequest("%s and %s would both be written to %s", prev, in, jobs[i].Out)
		}
		outs[jobs[i].Out] = in
		if realOut, err := filepath.EvalSymlinks(jobs[i].Out); err == nil && realOut == in {
			return nil, "", badRequest("the output of %s would replace it: bytes already signed are never rewritten", in)
		}
	}
	return jobs, out, nil
}

// makeDirs creates the output directory and those of the outputs.
func makeDirs(jobs []batch.Job, out string) *apiError {
	dirs := map[string]bool{out: true}
	for _, j := range jobs {
		dirs[filepath.Dir(j.Out)] = true
	}
	for d := range dirs {
		if err := os.MkdirAll(d, 0o777); err != nil {
			return &apiError{http.StatusInternalServerError, "internal", "creating the output directory: " + oneLine(err.Error())}
		}
	}
	return nil
}

// confine returns the absolute path p with its symbolic links resolved
// (those of its longest existing part, when it does not exist yet), when
// that lies below one of the roots: else the answer is 403.
func (s *Server) confine(p string) (string, *apiError) {
	if !filepath.IsAbs(p) {
		return "", badRequest("the path %q is not absolute", p)
	}
	real, err := resolve(filepath.Clean(p))
	if err != nil {
		return "", badRequest("the path %q: %v", p, oneLine(err.Error()))
	}
	for _, root := range s.roots {
		if rel, err := filepath.Rel(root, real); err == nil && (rel == "." || filepath.IsLocal(rel)) {
			return real, nil
		}
	}
	return "", &apiError{http.StatusForbidden, "outside_roots", fmt.Sprintf("the path %q is outside the gateway's storage.roots", p)}
}

// resolve returns p with its symbolic links resolved; the part of p that
// does not exist yet is kept as it is.
func resolve(p string) (string, error) {
	real, err := filepath.EvalSymlinks(p)
	if err == nil {
		return real, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	parent := filepath.Dir(p)
	if parent == p {
		return "", err
	}
	rp, err := resolve(parent)
	if err != nil {
		return "", err
	}
	return filepath.Join(rp, filepath.Base(p)), nil
}

// run runs a batch, then posts its callback.
func (b *batches) run(ctx context.Context, j *job, jobs []batch.Job, journal *batch.Journal, report *os.File) {
	rep := batch.NewReport(report)
	sum := b.s.engine.Run(ctx, jobs, &batch.RunOptions{Journal: journal, OnResult: func(r batch.Result) {
		rep.Add(r)
		b.s.metrics.document("batch", r)
		j.mu.Lock()
		defer j.mu.Unlock()
		switch r.Status {
		case batch.Signed:
			j.status.Signed++
			j.status.Bytes += r.Bytes
		case batch.Done:
			j.status.Done++
		default:
			j.status.Failed++
			if len(j.status.Failures) < maxFailuresShown {
				j.status.Failures = append(j.status.Failures, r.Line())
			}
		}
	}})
	var errs []error
	if err := journal.Close(); err != nil {
		errs = append(errs, fmt.Errorf("closing the journal: %w", err))
	}
	if err := rep.Err(); err != nil {
		errs = append(errs, fmt.Errorf("writing the report: %w", err))
	}
	if err := report.Sync(); err != nil {
		errs = append(errs, fmt.Errorf("syncing the report: %w", err))
	}
	report.Close()
	now := time.Now().UTC()
	j.mu.Lock()
	st := &j.status
	st.Ended = &now
	switch {
	case errors.Is(context.Cause(ctx), errCancelled):
		st.State, st.Stopped = StateCancelled, "cancelled by DELETE "+PathBatches+"/"+st.ID
	case sum.Stopped != nil && b.ctx.Err() != nil:
		st.State, st.Stopped = StateStopped, "the gateway shut down; post the batch again to resume it"
	case sum.Stopped != nil:
		st.State, st.Stopped = StateStopped, oneLine(sum.Stopped.Error())
	case len(errs) > 0:
		st.State, st.Stopped = StateStopped, oneLine(errors.Join(errs...).Error())
	case st.Failed > 0 || st.Signed+st.Done < st.Documents:
		st.State = StateFailed
	default:
		st.State = StateSucceeded
	}
	if st.Callback != nil {
		st.Callback.Status = "pending"
	}
	final := j.status
	j.mu.Unlock()
	b.s.log.Info("batch ended", "batch", final.ID, "state", final.State, "signed", final.Signed, "done", final.Done, "failed", final.Failed, "stopped", final.Stopped)

	b.mu.Lock()
	delete(b.outs, final.Out)
	b.ended = append(b.ended, final.ID)
	for len(b.ended) > b.s.cfg.Limits.KeepBatches {
		delete(b.jobs, b.ended[0])
		b.ended = b.ended[1:]
	}
	b.mu.Unlock()
	if j.callback != "" {
		final.Callback = nil
		b.deliver(j, final)
	}
}

// errCancelled is the cause of a batch that DELETE stopped.
var errCancelled = errors.New("cancelled")

// deliver posts the status of an ended batch to its callback URL, trying
// again after a backoff that doubles up to callbacks.max_backoff, until
// callbacks.attempts attempts have failed or the gateway stops.
func (b *batches) deliver(j *job, st BatchStatus) {
	cc := &b.s.cfg.Callbacks
	body, err := json.Marshal(st)
	if err != nil {
		panic(err) // a BatchStatus always marshals
	}
	backoff := cc.MinBackoff
	for attempt := 1; ; attempt++ {
		h := http.Header{}
		h.Set(CallbackSignatureHeader, webhook.Sign(b.secret, time.Now(), body))
		h.Set(CallbackEventHeader, "batch.ended")
		h.Set(CallbackDeliveryHeader, st.ID)
		ctx, cancel := context.WithTimeout(b.ctx, cc.Timeout)
		err := webhook.Post(ctx, b.client, j.callback, h, body)
		cancel()
		result := "delivered"
		switch {
		case err != nil && (attempt >= cc.Attempts || b.ctx.Err() != nil):
			result = "failed"
		case err != nil:
			result = "retry"
		}
		b.s.metrics.callback(result)
		j.mu.Lock()
		cb := j.status.Callback
		cb.Attempts = attempt
		cb.Status, cb.Error = result, ""
		if result == "retry" {
			cb.Status = "pending"
		}
		if err != nil {
			cb.Error = oneLine(err.Error())
		}
		j.mu.Unlock()
		if err == nil {
			return
		}
		b.s.log.Warn("batch callback failed", "batch", st.ID, "url", j.callback, "attempt", attempt, "result", result, "err", err)
		if result == "failed" {
			return
		}
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-b.ctx.Done():
			t.Stop()
		}
		backoff = min(2*backoff, cc.MaxBackoff)
	}
}

// handleBatch shows (GET) or cancels (DELETE) a batch of the caller's.
func (s *Server) handleBatch(w http.ResponseWriter, r *http.Request) {
	if !allowMethods(w, r, http.MethodGet, http.MethodDelete) {
		return
	}
	j, ae := s.batches.find(r)
	if ae != nil {
		writeError(w, r, ae)
		return
	}
	if r.Method == http.MethodDelete {
		j.cancel(errCancelled)
	}
	writeJSON(w, http.StatusOK, j.snapshot())
}

// handleBatchReport answers the report of a batch of the caller's.
func (s *Server) handleBatchReport(w http.ResponseWriter, r *http.Request) {
	if !allowMethods(w, r, http.MethodGet) {
		return
	}
	j, ae := s.batches.find(r)
	if ae != nil {
		writeError(w, r, ae)
		return
	}
	f, err := os.Open(j.snapshot().Report)
	if err != nil {
		writeError(w, r, &apiError{http.StatusNotFound, "not_found", "the report is gone: " + oneLine(err.Error())})
		return
	}
	defer f.Close()
	w.Header().Set("Content-Type", "application/x-ndjson")
	io.Copy(w, f)
}

// find returns the batch of r's path, when r's API key started it.
func (b *batches) find(r *http.Request) (*job, *apiError) {
	key, ae := b.s.authenticate(r, OpBatches)
	if ae != nil {
		return nil, ae
	}
	b.mu.Lock()
	j := b.jobs[r.PathValue("id")]
	b.mu.Unlock()
	if j == nil || j.keyID != key.ID {
		return nil, &apiError{http.StatusNotFound, "not_found", "no batch " + r.PathValue("id")}
	}
	return j, nil
}
