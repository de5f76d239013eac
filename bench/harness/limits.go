package main

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"hashsign/internal/atomicfile"
	"hashsign/internal/groupsync"
	"hashsign/pades/batch"
)

// limitSample is one run of the limits of an input.
type limitSample struct {
	// SHA256 is one pass of crypto/sha256 over the documents of a run,
	// on one goroutine.
	SHA256 sample
	// SHA256sum is `sha256sum` of the documents of a run, one process.
	SHA256sum sample
	// CP is `cp` of each of the first CPDocs documents, one after the
	// other.
	CP     sample
	CPDocs int
	// HashSign is, per key, reading and hashing each document of a run
	// and signing a digest with the key, on the workers' goroutines.
	HashSign map[string]sample
	// Write is writing each document of a run (of many documents) into
	// a new file as pades batch commits its outputs, on the workers'
	// goroutines, with nothing else to do (see writeFiles).
	Write sample
	// Raw is, per key, RawSigs[key] signatures of a digest on the
	// workers' goroutines: the key's raw crypto.Signer rate.
	Raw     map[string]sample
	RawSigs map[string]int
}

// measureLimits measures the limits of in once.
func (h *harness) measureLimits(ctx context.Context, in *input) (limitSample, error) {
	ls := limitSample{HashSign: map[string]sample{}, Raw: map[string]sample{}, RawSigs: map[string]int{}}
	var err error
	buf := make([]byte, 1<<20)
	ls.SHA256, err = inProcess(func() error {
		for _, d := range in.Docs {
			if _, err := hashFile(d, buf); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return ls, err
	}
	if ls.SHA256sum, err = h.run(ctx, "sha256sum", in.Docs, os.Environ()); err != nil {
		return ls, err
	}
	if ls.CP, ls.CPDocs, err = h.cp(ctx, in); err != nil {
		return ls, err
	}
	if !in.Large {
		if ls.Write, err = h.writeLimit(in); err != nil {
			return ls, fmt.Errorf("writing the outputs: %w", err)
		}
	}
	for key, s := range h.env.keys {
		ls.HashSign[key], err = inProcess(func() error { return h.hashSign(in.Docs, s) })
		if err != nil {
			return ls, fmt.Errorf("hash+sign with the %s: %w", key, err)
		}
		n := 0
		ls.Raw[key], err = inProcess(func() (err error) { n, err = h.rawSign(s); return err })
		if err != nil {
			return ls, fmt.Errorf("signing with the %s: %w", key, err)
		}
		ls.RawSigs[key] = n
	}
	return ls, nil
}

// hashFile returns the SHA-256 of a file, read through buf.
func hashFile(name string, buf []byte) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	hh := sha256.New()
	if _, err := io.CopyBuffer(hh, f, buf); err != nil {
		return nil, err
	}
	return hh.Sum(nil), nil
}

// hashSign hashes each of docs and signs its digest with s, on the
// workers' goroutines.
//
// A generated input of many documents names one file again and again:
// pades batch in copy mode signs that list, and its limit hashes the
// same list, so that both read the same few pages of the page cache,
// which the CPU's caches may hold. In place, a run signs as many distinct
// fresh copies, whose reading goes to memory: the limit of one file hashed
// over and over would be faster than such a run can be, so the limit of an
// in-place run hashes the copies it signs (see freshCopies).
func (h *harness) hashSign(docs []string, s crypto.Signer) error {
	return h.parallel(len(docs), func(i int, buf []byte) error {
		d, err := hashFile(docs[i], buf)
		if err != nil {
			return err
		}
		_, err = s.Sign(rand.Reader, d, crypto.SHA256)
		return err
	})
}

// rawSign signs digests with s on the workers' goroutines for a moment
// (and at least once per worker) and returns the number of signatures.
func (h *harness) rawSign(s crypto.Signer) (int, error) {
	span := 300 * time.Millisecond
	if h.o.quick {
		span = 30 * time.Millisecond
	}
	digest := sha256.Sum256([]byte("hashsign bench"))
	var mu sync.Mutex
	n := 0
	deadline := time.Now().Add(span)
	err := h.parallel(1<<30, func(int, []byte) error {
		// At least one signature per worker: on a busy machine a
		// goroutine may first run after the deadline.
		mu.Lock()
		done := n >= h.o.workers
		mu.Unlock()
		if done && time.Now().After(deadline) {
			return errStop
		}
		if _, err := s.Sign(rand.Reader, digest[:], crypto.SHA256); err != nil {
			return err
		}
		mu.Lock()
		n++
		mu.Unlock()
		return nil
	})
	return n, err
}

// errStop ends parallel without an error.
var errStop = fmt.Errorf("stop")

// parallel calls f for 0..n-1 on h.o.workers goroutines, each with its own
// 1 MiB buffer, until all are done, f fails, or f returns errStop.
func (h *harness) parallel(n int, f func(i int, buf []byte) error) error {
	return parallelOn(h.o.workers, n, f)
}

// parallelOn is parallel on the given number of goroutines.
func parallelOn(goroutines, n int, f func(i int, buf []byte) error) error {
	var mu sync.Mutex
	next := 0
	var firstErr error
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			buf := make([]byte, 1<<20)
			for {
				mu.Lock()
				i := next
				next++
				stop := firstErr != nil
				mu.Unlock()
				if i >= n || stop {
					return
				}
				if err := f(i, buf); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	if firstErr == errStop {
		return nil
	}
	return firstErr
}

// inProcess runs f and returns its wall time and the CPU time of the
// process meanwhile.
func inProcess(f func() error) (sample, error) {
	c0, t0 := cpuTime(), time.Now()
	err := f()
	return sample{Wall: time.Since(t0).Seconds(), CPU: cpuTime() - c0}, err
}

// cpuTime returns the CPU time (user and system) of this process so far,
// in seconds.
func cpuTime() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// cp copies the first documents of in with cp, one after the other, and
// returns the time taken and their number. A large file is copied once;
// of many documents 16 are (each copy starts a process, which for small
// files costs more than the copy).
func (h *harness) cp(ctx context.Context, in *input) (sample, int, error) {
	n := min(len(in.Docs), 16)
	out := filepath.Join(h.work, "cp")
	if err := os.MkdirAll(out, 0o755); err != nil {
		return sample{}, 0, err
	}
	defer os.RemoveAll(out)
	var total sample
	for i := range n {
		s, err := h.run(ctx, "cp", []string{in.Docs[i], filepath.Join(out, outName(i))}, os.Environ())
		if err != nil {
			return total, n, err
		}
		total.Wall += s.Wall
		total.CPU += s.CPU
		total.RSS = max(total.RSS, s.RSS)
	}
	return total, n, nil
}

// writeLimit writes each document of in into a new file of a directory of
// the work directory, as pades batch writes its outputs (writeFiles), and
// returns the time it took; the documents are read before the clocks
// start, the files removed after they stop. The outputs of a batch are
// its inputs and a signature of some KiB: writing them costs about what
// this does.
func (h *harness) writeLimit(in *input) (sample, error) {
	data, err := readDocs(in.Docs)
	if err != nil {
		return sample{}, err
	}
	dir := filepath.Join(h.work, "write")
	if err := os.Mkdir(dir, 0o755); err != nil {
		return sample{}, err
	}
	defer os.RemoveAll(dir)
	return inProcess(func() error { return h.writeFiles(in.Docs, data, dir) })
}

// readDocs returns the content of each distinct file of docs.
func readDocs(docs []string) (map[string][]byte, error) {
	data := map[string][]byte{}
	for _, d := range docs {
		if _, ok := data[d]; ok {
			continue
		}
		b, err := os.ReadFile(d)
		if err != nil {
			return nil, err
		}
		data[d] = b
	}
	return data, nil
}

// writeFiles writes data[docs[i]] into dir/outName(i) for each i, on the
// workers' goroutines, as pades batch commits its outputs: each into a
// temporary file (internal/atomicfile) that is synced with others
// (internal/groupsync), batch.GroupPerWorker per worker at a time, while the
// workers go on, then renamed into place.
func (h *harness) writeFiles(docs []string, data map[string][]byte, dir string) error {
	group := &groupsync.Syncer{Min: batch.GroupPerWorker * h.o.workers}
	commits := make(chan struct{}, batch.GroupsInFlight*group.Min)
	var cwg sync.WaitGroup
	var mu sync.Mutex
	var commitErr error
	err := h.parallel(len(docs), func(i int, _ []byte) error {
		f, err := atomicfile.CreateWith(filepath.Join(dir, outName(i)), &atomicfile.Options{Swept: true, Syncer: group})
		if err != nil {
			return err
		}
		if _, err := f.Write(data[docs[i]]); err != nil {
			f.Abort()
			return err
		}
		commits <- struct{}{}
		cwg.Go(func() {
			defer func() { <-commits }()
			if err := f.Commit(); err != nil {
				mu.Lock()
				commitErr = errors.Join(commitErr, err)
				mu.Unlock()
			}
		})
		return nil
	})
	group.Drain()
	cwg.Wait()
	return errors.Join(err, commitErr)
}
