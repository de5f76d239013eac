package batch_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"hashsign/hashsvc/devtrust"
	"hashsign/hashsvc/hashsvctest"
	"hashsign/internal/devpki"
	"hashsign/ltv"
	"hashsign/pades"
	"hashsign/pades/batch"
	"hashsign/signer"
	"hashsign/testdata/pdfgen"
)

// trust is a test PKI whose certificates name a devtrust server on
// 127.0.0.1, which counts the requests it serves by path and can be made
// to fail some.
type trust struct {
	pki  *devpki.PKI
	url  string
	root string // root.pem
	// fail, when it returns true for a request, answers it with 500.
	fail atomic.Pointer[func(*http.Request) bool]
	mu   sync.Mutex
	hits map[string]int
}

var (
	trustOnce sync.Once
	trustVal  *trust
	trustErr  error
)

// newTrust starts the trust services shared by the tests of this package.
func newTrust(t *testing.T) *trust {
	t.Helper()
	trustOnce.Do(func() {
		tr := &trust{hits: map[string]int{}}
		var h atomic.Pointer[http.Handler]
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p := r.URL.Path
			if strings.HasPrefix(p, devpki.OCSPPath+"/") {
				p = devpki.OCSPPath // a GET request
			}
			tr.mu.Lock()
			tr.hits[p]++
			tr.mu.Unlock()
			if f := tr.fail.Load(); f != nil && (*f)(r) {
				http.Error(w, "failing on purpose", http.StatusInternalServerError)
				return
			}
			(*h.Load()).ServeHTTP(w, r)
		}))
		p, err := devpki.Generate(devpki.Options{BaseURL: srv.URL})
		if err != nil {
			trustErr = err
			return
		}
		svc, err := devtrust.New(p, devtrust.Options{})
		if err != nil {
			trustErr = err
			return
		}
		handler := svc.Handler()
		h.Store(&handler)
		dir, err := os.MkdirTemp("", "hashsign-batch-")
		if err != nil {
			trustErr = err
			return
		}
		if err := devpki.WriteDir(p, dir); err != nil {
			trustErr = err
			return
		}
		tr.pki, tr.url, tr.root = p, srv.URL, filepath.Join(dir, devpki.RootCertFile)
		trustVal = tr
	})
	if trustErr != nil {
		t.Fatal(trustErr)
	}
	return trustVal
}

// count returns the requests served for path.
func (tr *trust) count(path string) int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.hits[path]
}

// options returns signature options at level with the TSA and a new
// Fetcher, whose caches the documents of one run share.
func (tr *trust) options(level pades.Level) pades.SignOptions {
	return pades.SignOptions{
		Level:      level,
		TSA:        &ltv.TSAClient{URLs: []string{tr.url + devtrust.TSAPath}},
		Validation: &ltv.Fetcher{Roots: tr.pki.RootPool()},
	}
}

func (tr *trust) signer(t *testing.T) signer.Signer {
	t.Helper()
	s, err := signer.New(tr.pki.SignerRSA.Key, tr.pki.Chain(tr.pki.SignerRSA))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// inputs writes n PDFs of several kinds into a new directory and returns
// their paths.
func inputs(t *testing.T, n int) []string {
	t.Helper()
	dir := t.TempDir()
	kinds := []pdfgen.Kind{pdfgen.Table, pdfgen.Stream, pdfgen.Hybrid, pdfgen.TableIncremental, pdfgen.StreamIncremental}
	var paths []string
	for i := range n {
		b, err := pdfgen.Bytes(kinds[i%len(kinds)], pdfgen.Options{Pages: 1 + i%3})
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, fmt.Sprintf("doc%02d.pdf", i))
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	return paths
}

// copyJobs returns the jobs that sign ins into outDir.
func copyJobs(ins []string, outDir string) []batch.Job {
	var jobs []batch.Job
	for _, in := range ins {
		jobs = append(jobs, batch.Job{In: in, Out: filepath.Join(outDir, filepath.Base(in))})
	}
	return jobs
}

// run runs jobs on a new engine and returns the results by input.
func run(t *testing.T, s signer.Signer, o batch.Options, jobs []batch.Job, j *batch.Journal) (batch.Summary, map[string]batch.Result) {
	t.Helper()
	eng, err := batch.New(context.Background(), s, &o)
	if err != nil {
		t.Fatal(err)
	}
	results := map[string]batch.Result{}
	sum := eng.Run(context.Background(), jobs, &batch.RunOptions{Journal: j, OnResult: func(r batch.Result) {
		if _, dup := results[r.Job.In]; dup {
			t.Errorf("%s reported twice", r.Job.In)
		}
		results[r.Job.In] = r
	}})
	return sum, results
}

// TestRunBLTSharesValidationData signs a batch at B-LT and counts, on the
// server, the OCSP requests: one for the signer's certificate and one for
// the TSA's, whatever the number of documents, and one download of the
// root's CRL (the intermediate CA has no OCSP responder).
func TestRunBLTSharesValidationData(t *testing.T) {
	tr := newTrust(t)
	validator := hashsvctest.Validator(t)
	const n = 8
	ins := inputs(t, n)
	out := t.TempDir()
	ocsp0, crl0, tsa0 := tr.count(devpki.OCSPPath), tr.count(devpki.RootCRLPath), tr.count(devtrust.TSAPath)
	sum, results := run(t, tr.signer(t), batch.Options{Sign: tr.options(pades.LevelBLT), Workers: 2}, copyJobs(ins, out), nil)
	if sum.Signed != n || sum.Failed != 0 || sum.Stopped != nil {
		t.Fatalf("summary %+v, want %d signed", sum, n)
	}
	ocsp, crl, tsa := tr.count(devpki.OCSPPath)-ocsp0, tr.count(devpki.RootCRLPath)-crl0, tr.count(devtrust.TSAPath)-tsa0
	t.Logf("%d documents at B-LT: %d OCSP requests, %d root CRL downloads, %d TSA requests", n, ocsp, crl, tsa)
	if ocsp != 2 || crl != 1 {
		t.Errorf("%d OCSP requests and %d CRL downloads for %d documents, want 2 and 1", ocsp, crl, n)
	}
	if tsa != n {
		t.Errorf("%d TSA requests for %d documents, want one signature timestamp each", tsa, n)
	}
	for _, in := range ins {
		r := results[in]
		if r.Status != batch.Signed || r.Level != pades.LevelBLT || len(r.Digest) != 32 || r.Bytes == 0 || r.Size <= r.Bytes {
			t.Errorf("%s: %+v", in, r)
		}
	}
	for _, in := range ins[:2] {
		hashsvctest.Validate(t, validator, tr.root, "B-LT", filepath.Join(out, filepath.Base(in)))
	}
}

// TestRunInPlaceFailure signs in place at B-LTA while the TSA fails the
// document timestamp, after the signature and the DSS were appended: the
// document fails with the TSA's error and its file is byte-identical to
// what it was. A broken document fails alone; the others are signed in
// place, once.
func TestRunInPlaceFailure(t *testing.T) {
	tr := newTrust(t)
	ins := inputs(t, 3)
	sums := map[string][32]byte{}
	for _, in := range ins {
		b, err := os.ReadFile(in)
		if err != nil {
			t.Fatal(err)
		}
		sums[in] = sha256.Sum256(b)
	}
	jobs := copyJobs(ins, "")
	for i := range jobs {
		jobs[i].Out = jobs[i].In
	}

	// the second TSA request of the document: its document timestamp
	var tsa atomic.Int64
	failDocTS := func(r *http.Request) bool { return r.URL.Path == devtrust.TSAPath && tsa.Add(1) == 2 }
	tr.fail.Store(&failDocTS)
	sum, results := run(t, tr.signer(t), batch.Options{Sign: tr.options(pades.LevelBLTA), Workers: 1, InPlace: true}, jobs[:1], nil)
	tr.fail.Store(nil)
	r := results[ins[0]]
	if sum.Failed != 1 || r.Status != batch.Failed || !strings.Contains(fmt.Sprint(r.Err), "document timestamp") {
		t.Fatalf("summary %+v, result %+v: want the document failed by its document timestamp", sum, r)
	}
	if tsa.Load() != 2 {
		t.Fatalf("%d TSA requests, want 2 (the signature's, the document's)", tsa.Load())
	}
	b, _ := os.ReadFile(ins[0])
	if sha256.Sum256(b) != sums[ins[0]] {
		t.Errorf("%s changed after a failure in place (now %d bytes)", ins[0], len(b))
	}

	broken := filepath.Join(filepath.Dir(ins[0]), "broken.pdf")
	brokenBytes := []byte("%PDF-1.7\nthis file ends before any object\n")
	if err := os.WriteFile(broken, brokenBytes, 0o644); err != nil {
		t.Fatal(err)
	}
	jobs = append(jobs, batch.Job{In: broken, Out: broken})
	sum, results = run(t, tr.signer(t), batch.Options{Sign: tr.options(pades.LevelBLTA), Workers: 2, InPlace: true}, jobs, nil)
	if sum.Signed != 3 || sum.Failed != 1 || results[broken].Status != batch.Failed || results[broken].Err == nil {
		t.Errorf("summary %+v, broken %+v: want 3 signed and broken.pdf failed", sum, results[broken])
	}
	if b, _ := os.ReadFile(broken); !bytes.Equal(b, brokenBytes) {
		t.Error("broken.pdf changed")
	}
	for _, in := range ins {
		b, _ := os.ReadFile(in)
		orig := sums[in]
		if n := hashsvctest.Signatures(t, in); n != 1 {
			t.Errorf("%s: %d signatures, want 1", in, n)
		}
		if r := results[in]; r.Size != int64(len(b)) || r.Bytes >= r.Size || sha256.Sum256(b[:r.Bytes]) != orig {
			t.Errorf("%s: the signed file does not begin with the original bytes (%d of %d)", in, r.Bytes, len(b))
		}
	}
	hashsvctest.Validate(t, hashsvctest.Validator(t), tr.root, "B-LTA", ins[0])
}

// TestRunResume starts runs again from journals that killed runs left, in
// each state the journal tells apart, and checks that each document ends
// signed once.
func TestRunResume(t *testing.T) {
	tr := newTrust(t)
	s := tr.signer(t)
	opts := batch.Options{Workers: 2}

	t.Run("copy", func(t *testing.T) {
		ins := inputs(t, 4)
		out := t.TempDir()
		jobs := copyJobs(ins, out)
		jpath := filepath.Join(out, batch.JournalName)
		j, err := batch.OpenJournal(jpath, pades.LevelBB, false)
		if err != nil {
			t.Fatal(err)
		}
		sum, _ := run(t, s, opts, jobs[:3], j)
		j.Close()
		if sum.Signed != 3 {
			t.Fatalf("first run: %+v", sum)
		}
		before := map[string][]byte{}
		for _, job := range jobs[:3] {
			before[job.Out], _ = os.ReadFile(job.Out)
		}
		// doc02's output is lost; a later run must sign it again
		os.Remove(jobs[2].Out)
		// a kill cut the last line short
		appendFile(t, jpath, `{"op":"start","out":"`)

		j, err = batch.OpenJournal(jpath, pades.LevelBB, false)
		if err != nil {
			t.Fatal(err)
		}
		sum, results := run(t, s, opts, jobs, j)
		j.Close()
		if sum.Done != 2 || sum.Signed != 2 || sum.Failed != 0 {
			t.Errorf("second run: %+v, want 2 done (doc00, doc01) and 2 signed (doc02 lost, doc03 new)", sum)
		}
		for i, job := range jobs {
			want := batch.Signed
			if i < 2 {
				want = batch.Done
				if b, _ := os.ReadFile(job.Out); !bytes.Equal(b, before[job.Out]) {
					t.Errorf("%s was rewritten", job.Out)
				}
				if r := results[job.In]; len(r.Digest) != 32 || r.Field == "" {
					t.Errorf("%s: the journal's record was not reported: %+v", job.In, r)
				}
			}
			if r := results[job.In]; r.Status != want {
				t.Errorf("%s: %s, want %s", job.In, r.Status, want)
			}
			if n := hashsvctest.Signatures(t, job.Out); n != 1 {
				t.Errorf("%s: %d signatures, want 1", job.Out, n)
			}
		}
	})

	t.Run("committed but not recorded", func(t *testing.T) {
		ins := inputs(t, 2)
		out := t.TempDir()
		jobs := copyJobs(ins, out)
		jpath := filepath.Join(out, batch.JournalName)
		// an output that was there before the batch: signed again
		if err := os.WriteFile(jobs[1].Out, []byte("old"), 0o644); err != nil {
			t.Fatal(err)
		}
		j, err := batch.OpenJournal(jpath, pades.LevelBB, false)
		if err != nil {
			t.Fatal(err)
		}
		j.Close()
		// a killed run started both and committed doc00 before it
		// could record it: doc00's output is there, doc01's is the old one
		st, _ := os.Stat(jobs[1].Out)
		appendFile(t, jpath, fmt.Sprintf(`{"op":"start","out":%q,"in":%q,"size":1}`+"\n", abs(t, jobs[0].Out), jobs[0].In))
		appendFile(t, jpath, fmt.Sprintf(`{"op":"start","out":%q,"in":%q,"size":1,"prior":{"size":%d,"mtime":%d}}`+"\n",
			abs(t, jobs[1].Out), jobs[1].In, st.Size(), st.ModTime().UnixNano()))
		signed, _ := signOne(t, s, ins[0])
		if err := os.WriteFile(jobs[0].Out, signed, 0o644); err != nil {
			t.Fatal(err)
		}
		j, err = batch.OpenJournal(jpath, pades.LevelBB, false)
		if err != nil {
			t.Fatal(err)
		}
		sum, results := run(t, s, opts, jobs, j)
		j.Close()
		if results[ins[0]].Status != batch.Done || results[ins[1]].Status != batch.Signed {
			t.Errorf("%+v: want doc00 done by the killed run, doc01 signed over the old file", sum)
		}
		for _, job := range jobs {
			if n := hashsvctest.Signatures(t, job.Out); n != 1 {
				t.Errorf("%s: %d signatures, want 1", job.Out, n)
			}
		}
	})

	t.Run("in place", func(t *testing.T) {
		ins := inputs(t, 3)
		jobs := copyJobs(ins, "")
		for i := range jobs {
			jobs[i].Out = jobs[i].In
		}
		orig := map[string][]byte{}
		for _, in := range ins {
			orig[in], _ = os.ReadFile(in)
		}
		jpath := filepath.Join(t.TempDir(), batch.JournalName)
		j, err := batch.OpenJournal(jpath, pades.LevelBB, true)
		if err != nil {
			t.Fatal(err)
		}
		j.Close()
		// doc00: killed half way through its update; doc01: killed
		// before it wrote anything; doc02: changed by someone since
		for i, in := range ins {
			appendFile(t, jpath, fmt.Sprintf(`{"op":"start","out":%q,"in":%q,"size":%d,"tail":"%x"}`+"\n",
				abs(t, in), in, len(orig[in]), sha256.Sum256(orig[in])))
			if i == 0 {
				appendFile(t, in, "\n% an incremental update cut short\n1 0 obj\n<< /Type /Sig /Contents <0000")
			}
		}
		appendFile(t, ins[2], "")
		changed := append(bytes.Clone(orig[ins[2]][:len(orig[ins[2]])-1]), 'X')
		if err := os.WriteFile(ins[2], changed, 0o644); err != nil {
			t.Fatal(err)
		}
		j, err = batch.OpenJournal(jpath, pades.LevelBB, true)
		if err != nil {
			t.Fatal(err)
		}
		sum, results := run(t, s, batch.Options{Workers: 2, InPlace: true}, jobs, j)
		j.Close()
		if sum.Signed != 2 || sum.Failed != 1 || !strings.Contains(fmt.Sprint(results[ins[2]].Err), "changed since an interrupted run") {
			t.Errorf("%+v, %v: want doc00 and doc01 signed, doc02 left alone", sum, results[ins[2]].Err)
		}
		for _, in := range ins[:2] {
			b, _ := os.ReadFile(in)
			if !bytes.HasPrefix(b, orig[in]) || bytes.Contains(b, []byte("cut short")) {
				t.Errorf("%s: not the original bytes followed by one signature", in)
			}
			if n := hashsvctest.Signatures(t, in); n != 1 {
				t.Errorf("%s: %d signatures, want 1", in, n)
			}
		}
		if b, _ := os.ReadFile(ins[2]); !bytes.Equal(b, changed) {
			t.Error("doc02, changed by someone else, was touched")
		}
	})
}

// TestJournalErrors: a journal of another level or mode, or with a damaged
// line in the middle, is refused with the reason.
func TestJournalErrors(t *testing.T) {
	dir := t.TempDir()
	jpath := filepath.Join(dir, batch.JournalName)
	j, err := batch.OpenJournal(jpath, pades.LevelBB, false)
	if err != nil {
		t.Fatal(err)
	}
	j.Close()
	for _, tc := range []struct {
		name    string
		level   pades.Level
		inPlace bool
		add     string
		want    string
	}{
		{"other level", pades.LevelBLT, false, "", "written by a batch at B-B, not at B-LT"},
		{"other mode", pades.LevelBB, true, "", "not at B-B in place"},
		{"damaged line", pades.LevelBB, false, "{\"op\":\"start\"\n{\"op\":\"done\",\"out\":\"/x\"}\n", "line 2 is damaged"},
		{"unknown record", pades.LevelBB, false, "{\"op\":\"dance\",\"out\":\"/x\"}\n", `unknown record "dance"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), batch.JournalName)
			b, _ := os.ReadFile(jpath)
			if err := os.WriteFile(p, append(b, tc.add...), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := batch.OpenJournal(p, tc.level, tc.inPlace)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
	held, err := batch.OpenJournal(jpath, pades.LevelBB, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := batch.OpenJournal(jpath, pades.LevelBB, false); err == nil || !strings.Contains(err.Error(), "another pades batch is using this journal") {
		t.Errorf("a journal opened twice: %v", err)
	}
	held.Close()
	if err := os.WriteFile(jpath, []byte("%PDF-1.7\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := batch.OpenJournal(jpath, pades.LevelBB, false); err == nil || !strings.Contains(err.Error(), "not a pades batch journal") {
		t.Errorf("a PDF opened as a journal: %v", err)
	}
}

// TestEngineSignConcurrent: Sign calls from many goroutines (as a gateway
// makes them) each sign their document once.
func TestEngineSignConcurrent(t *testing.T) {
	tr := newTrust(t)
	eng, err := batch.New(context.Background(), tr.signer(t), &batch.Options{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	ins := inputs(t, 6)
	out := t.TempDir()
	results := make([]batch.Result, len(ins))
	var wg sync.WaitGroup
	for i, job := range copyJobs(ins, out) {
		wg.Go(func() { results[i] = eng.Sign(context.Background(), job) })
	}
	wg.Wait()
	for _, r := range results {
		if r.Status != batch.Signed || r.Err != nil {
			t.Errorf("%s: %s %v", r.Job.In, r.Status, r.Err)
			continue
		}
		if n := hashsvctest.Signatures(t, r.Job.Out); n != 1 {
			t.Errorf("%s: %d signatures", r.Job.Out, n)
		}
	}
	if r := eng.Sign(context.Background(), batch.Job{In: filepath.Join(out, "missing.pdf"), Out: filepath.Join(out, "x.pdf")}); r.Status != batch.Failed || !errors.Is(r.Err, os.ErrNotExist) {
		t.Errorf("a missing input: %s %v", r.Status, r.Err)
	}
	fifo := filepath.Join(t.TempDir(), "fifo.pdf")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	if r := eng.Sign(context.Background(), batch.Job{In: fifo, Out: filepath.Join(out, "fifo.pdf")}); r.Status != batch.Failed || !strings.Contains(fmt.Sprint(r.Err), "not a regular file") {
		t.Errorf("a FIFO as input: %s %v", r.Status, r.Err)
	}
}

// signOne signs the file in at B-B with s and returns the signed bytes.
func signOne(t *testing.T, s signer.Signer, in string) ([]byte, *pades.Result) {
	t.Helper()
	b, err := os.ReadFile(in)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(t.TempDir(), "signed.pdf"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := pades.Sign(context.Background(), bytes.NewReader(b), int64(len(b)), f, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	out, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	return out, res
}

func appendFile(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

func abs(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestEngineSignFile: SignFile appends the signature to an open file with
// the job's own options, and leaves a file it cannot sign as it was.
func TestEngineSignFile(t *testing.T) {
	tr := newTrust(t)
	eng, err := batch.New(context.Background(), tr.signer(t), &batch.Options{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	in := inputs(t, 1)[0]
	orig, err := os.ReadFile(in)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(in, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	bt := tr.options(pades.LevelBT)
	r := eng.SignFile(context.Background(), f, int64(len(orig)), batch.Job{In: "upload", Options: &bt, Reason: "Approved"})
	if r.Status != batch.Signed || r.Err != nil {
		t.Fatalf("%s %v", r.Status, r.Err)
	}
	if r.Level != pades.LevelBT || r.Bytes != int64(len(orig)) || r.Size <= r.Bytes {
		t.Errorf("level %v, %d bytes in, %d out: want B-T (the job's options) and a larger file", r.Level, r.Bytes, r.Size)
	}
	signed, err := os.ReadFile(in)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(signed, orig) || int64(len(signed)) != r.Size {
		t.Errorf("the signature is not appended to the file: %d bytes, result %d", len(signed), r.Size)
	}
	if !bytes.Contains(signed, []byte("/Reason (Approved)")) {
		t.Error("the job's reason is not in the signature")
	}
	if n := hashsvctest.Signatures(t, in); n != 1 {
		t.Errorf("%d signatures", n)
	}

	// a document that cannot be signed is cut back to what it was
	bad := filepath.Join(t.TempDir(), "bad.pdf")
	damaged := append(bytes.Clone(orig[:len(orig)/2]), "%%EOF\n"...)
	if err := os.WriteFile(bad, damaged, 0o644); err != nil {
		t.Fatal(err)
	}
	g, err := os.OpenFile(bad, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if r := eng.SignFile(context.Background(), g, int64(len(damaged)), batch.Job{In: "damaged"}); r.Status != batch.Failed || r.Err == nil {
		t.Errorf("a damaged document: %s %v", r.Status, r.Err)
	}
	if after, _ := os.ReadFile(bad); !bytes.Equal(after, damaged) {
		t.Error("the damaged document changed")
	}
}
