package batch

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"hashsign/internal/groupsync"
	"hashsign/internal/regularfile"
	"hashsign/pades"
)

// JournalName is the name of the journal that `pades batch` keeps in its
// output directory.
const JournalName = ".pades-batch.journal"

// journalVersion is the version of the journal's format.
const journalVersion = 1

// maxJournalLine bounds one line of a journal.
const maxJournalLine = 64 << 10

// tailSize is how much of the end of a file signed in place the journal
// fingerprints, to tell that the file is still the one it was.
const tailSize = 64 << 10

// Journal records what a Run did to each document, so that a run killed
// at any moment (kill -9 included) can start again and skip what is done.
//
// It is a file of JSON lines: a header naming the level and mode of the
// batch, then records, each written with one write call:
//
//	{"op":"start","out":OUT,"in":IN,"size":N,...}  a document is being signed
//	{"op":"done","out":OUT,"size":N,"digest":HEX,...}  its output is committed
//	{"op":"failed","out":OUT,"error":"..."}  it failed; a later run tries again
//
// OUT, the key, is the absolute path of the output (of the input, in
// place). A line cut short by a kill is dropped when the journal is opened.
//
// What a run started again does with each document:
//   - done: it is skipped. A copy whose output has gone is signed again.
//   - started, not done, copy: outputs are written to a temporary file and
//     renamed, so an output is complete or absent. If an output is there
//     that is not the file the start record saw (its size and modification
//     time), the killed run committed it: the document is done. Otherwise it
//     is signed again.
//   - started, not done, in place: the start record holds the file's length
//     and the SHA-256 of its last 64 KiB, and is synced before the file is
//     touched. The file is cut back to that length (after checking that the
//     fingerprint still matches; if it does not, or the file is shorter,
//     the document fails and the file is left alone), then signed again.
//
// So no document is signed twice into its output. A signature that the
// signer made for a document whose output was not yet committed when the
// run was killed is lost, and the document's hash is signed again by the
// next run. Records are written without syncing, except the in-place
// start and done records: a kill -9 loses nothing, a power failure can
// lose the last records, whose documents are then signed again (a copy
// replaces its output whole, in place the file is cut back first).
type Journal struct {
	path    string
	header  journalHeader
	mu      sync.Mutex
	f       *os.File
	entries map[string]*journalEntry
	syncer  groupsync.Syncer // the syncs of durable records
}

// journalHeader is the first line of a journal.
type journalHeader struct {
	Journal string `json:"journal"` // "pades batch"
	Version int    `json:"version"`
	Level   string `json:"level"`
	InPlace bool   `json:"inPlace"`
}

// journalRecord is one line after the header.
type journalRecord struct {
	Op  string `json:"op"`
	Out string `json:"out"`
	In  string `json:"in,omitempty"`
	// Size is, in a start record, the size of the input; in a done record
	// the size of the output.
	Size int64 `json:"size"`
	// Tail is, in a start record in place, the hex SHA-256 of the last
	// 64 KiB of the input.
	Tail string `json:"tail,omitempty"`
	// Prior is, in a start record of a copy, the output that was there
	// already.
	Prior *fileID `json:"prior,omitempty"`
	// Field, Level, Hash and Digest describe the signature of a done
	// record.
	Field  string `json:"field,omitempty"`
	Level  string `json:"level,omitempty"`
	Hash   string `json:"hash,omitempty"`
	Digest string `json:"digest,omitempty"`
	// Error is why a document failed.
	Error string `json:"error,omitempty"`
}

// fileID tells a file from the one that replaced it.
type fileID struct {
	Size  int64 `json:"size"`
	MTime int64 `json:"mtime"` // nanoseconds since 1970
}

func idOf(st os.FileInfo) *fileID {
	return &fileID{Size: st.Size(), MTime: st.ModTime().UnixNano()}
}

// journalEntry is what the journal knows of one document.
type journalEntry struct {
	start, done *journalRecord
}

// OpenJournal opens the journal at path, creating it when missing, for a
// batch at level (in place or not). An existing journal must have been
// written by a batch at the same level and mode. The journal stays locked
// until Close (or the end of the process): a second batch on the same
// journal is refused.
func OpenJournal(path string, level pades.Level, inPlace bool) (*Journal, error) {
	j := &Journal{
		path:    path,
		header:  journalHeader{Journal: "pades batch", Version: journalVersion, Level: level.String(), InPlace: inPlace},
		entries: map[string]*journalEntry{},
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o666)
	if err != nil {
		return nil, fmt.Errorf("opening the journal: %w", err)
	}
	j.f = f
	if err := lock(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("journal %s: %w", path, err)
	}
	if err := j.load(); err != nil {
		f.Close()
		return nil, fmt.Errorf("journal %s: %w", path, err)
	}
	return j, nil
}

// load reads the records, drops a last line cut short, and writes the
// header of a new journal.
func (j *Journal) load() error {
	br := bufio.NewReaderSize(j.f, 64<<10)
	var good int64 // the end of the last whole line
	for n := 0; ; n++ {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			return fmt.Errorf("line %d is longer than %d bytes", n+1, maxJournalLine)
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		if errors.Is(err, io.EOF) {
			// a line without its newline: cut short by a kill
			break
		}
		if n == 0 {
			var h journalHeader
			if err := json.Unmarshal(line, &h); err != nil || h.Journal != j.header.Journal {
				return errors.New("not a pades batch journal")
			}
			if h.Version != journalVersion {
				return fmt.Errorf("journal version %d, this pades writes version %d", h.Version, journalVersion)
			}
			if h.Level != j.header.Level || h.InPlace != j.header.InPlace {
				return fmt.Errorf("written by a batch at %s%s, not at %s%s: give another output directory or remove the journal to start afresh",
					h.Level, inPlaceWords(h.InPlace), j.header.Level, inPlaceWords(j.header.InPlace))
			}
		} else {
			var r journalRecord
			dec := json.NewDecoder(bytes.NewReader(line))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&r); err != nil || r.Out == "" {
				return fmt.Errorf("line %d is damaged", n+1)
			}
			e := j.entries[r.Out]
			if e == nil {
				e = &journalEntry{}
				j.entries[r.Out] = e
			}
			switch r.Op {
			case "start":
				e.start, e.done = &r, nil
			case "done":
				e.done = &r
			case "failed":
			default:
				return fmt.Errorf("line %d: unknown record %q", n+1, r.Op)
			}
		}
		good += int64(len(line))
	}
	if good == 0 {
		line, err := json.Marshal(j.header)
		if err != nil {
			return err
		}
		if _, err := j.f.WriteAt(append(line, '\n'), 0); err != nil {
			return err
		}
		good = int64(len(line)) + 1
		if err := j.sync(true); err != nil {
			return err
		}
	}
	if err := j.f.Truncate(good); err != nil {
		return err
	}
	_, err := j.f.Seek(good, io.SeekStart)
	return err
}

func inPlaceWords(inPlace bool) string {
	if inPlace {
		return " in place"
	}
	return ""
}

// Close syncs and closes the journal.
func (j *Journal) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	err := j.f.Sync()
	if cerr := j.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// sync syncs the journal, and its directory when it was just created.
func (j *Journal) sync(dir bool) error {
	if err := j.f.Sync(); err != nil {
		return err
	}
	if dir {
		if d, err := os.Open(filepath.Dir(j.path)); err == nil {
			d.Sync()
			d.Close()
		}
	}
	return nil
}

// write appends r, synced when durable is set.
func (j *Journal) write(r *journalRecord, durable bool) error {
	line, err := json.Marshal(r)
	if err != nil {
		return err
	}
	j.mu.Lock()
	_, err = j.f.Write(append(line, '\n'))
	j.mu.Unlock()
	if err != nil {
		return fmt.Errorf("writing the journal: %w", err)
	}
	if durable {
		// the records that other documents write meanwhile share the sync
		if err := j.syncer.Sync(j.f); err != nil {
			return fmt.Errorf("syncing the journal: %w", err)
		}
	}
	return nil
}

// key is the journal's key of a job.
func key(job Job) string {
	p := job.Out
	if p == "" {
		p = job.In
	}
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	return p
}

// start records that job is being signed: its input has size bytes, and,
// in place, tail is the SHA-256 of its end (the record is then synced).
func (j *Journal) start(job Job, size int64, tail []byte) error {
	r := &journalRecord{Op: "start", Out: key(job), In: job.In, Size: size}
	if tail != nil {
		r.Tail = hex.EncodeToString(tail)
	} else if st, err := os.Stat(job.Out); err == nil {
		r.Prior = idOf(st)
	}
	return j.write(r, tail != nil)
}

// done records that the document of r is signed.
func (j *Journal) done(r *Result) error {
	rec := &journalRecord{Op: "done", Out: key(r.Job), In: r.Job.In, Size: r.Size, Field: r.Field, Level: r.Level.String()}
	if r.Hash != 0 {
		rec.Hash, rec.Digest = pades.HashName(r.Hash), hex.EncodeToString(r.Digest)
	}
	if err := j.write(rec, j.header.InPlace); err != nil {
		return fmt.Errorf("signed, but %w", err)
	}
	return nil
}

// failed records the failure of r's document; a nil j does nothing.
func (j *Journal) failed(r *Result) {
	if j == nil {
		return
	}
	j.write(&journalRecord{Op: "failed", Out: key(r.Job), In: r.Job.In, Error: r.Err.Error()}, false)
}

// resume says what to do with job, given what the journal knows of it:
// skip it (with the result to report), or sign it. A nil j signs every
// job. A document left half signed in place is cut back first.
func (j *Journal) resume(job Job, inPlace bool) (Result, bool) {
	if j == nil {
		return Result{}, false
	}
	k := key(job)
	j.mu.Lock()
	e := j.entries[k]
	j.mu.Unlock()
	if e == nil {
		return Result{}, false
	}
	if d := e.done; d != nil {
		r := Result{Job: job, Status: Done, Size: d.Size, Field: d.Field}
		r.Level, _ = pades.ParseLevel(d.Level)
		if h, err := pades.ParseHash(d.Hash); err == nil {
			r.Hash = h
			r.Digest, _ = hex.DecodeString(d.Digest)
		}
		if inPlace {
			return r, true
		}
		if st, err := os.Stat(job.Out); err == nil && st.Size() == d.Size {
			return r, true
		}
		return Result{}, false // its output has gone
	}
	s := e.start
	if s == nil {
		return Result{}, false
	}
	if !inPlace {
		st, err := os.Stat(job.Out)
		if err != nil || (s.Prior != nil && *idOf(st) == *s.Prior) {
			return Result{}, false
		}
		// committed by the killed run, which did not record it
		r := Result{Job: job, Status: Done, Size: st.Size()}
		j.write(&journalRecord{Op: "done", Out: k, In: job.In, Size: st.Size()}, false)
		return r, true
	}
	if err := cutBack(job.In, s.Size, s.Tail); err != nil {
		return Result{Job: job, Status: Failed, Err: err}, true
	}
	return Result{}, false
}

// cutBack cuts the file at path, which an interrupted run was signing in
// place, back to its original size, after checking that its first size
// bytes still end with the fingerprint tail.
func cutBack(path string, size int64, tail string) error {
	f, cur, err := regularfile.Open(path, os.O_RDWR)
	if err != nil {
		return err
	}
	defer f.Close()
	if cur < size {
		return fmt.Errorf("%s is shorter (%d bytes) than when an interrupted run began to sign it in place (%d bytes): left as it is", path, cur, size)
	}
	sum, err := tailSum(f, size)
	if err != nil {
		return err
	}
	if hex.EncodeToString(sum) != tail {
		return fmt.Errorf("%s changed since an interrupted run began to sign it in place: left as it is", path)
	}
	if cur == size {
		return nil
	}
	if err := f.Truncate(size); err != nil {
		return fmt.Errorf("cutting %s back to its %d bytes: %w", path, size, err)
	}
	return f.Sync()
}

// tailSum returns the SHA-256 of the last 64 KiB of the first size bytes
// of f.
func tailSum(f io.ReaderAt, size int64) ([]byte, error) {
	start := max(0, size-tailSize)
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, start, size-start)); err != nil {
		return nil, fmt.Errorf("reading the end of the input: %w", err)
	}
	return h.Sum(nil), nil
}
