// Package groupsync makes many files durable for the price of a few file
// system syncs: group commit, as databases do for their logs.
//
// Each fsync of a freshly written file costs a journal commit and a flush
// of the disk's cache; a batch that writes a thousand outputs pays it a
// thousand times, and its workers wait for the disk in between. A Syncer
// gathers the files whose callers wait at the same moment, writes back
// all of them with one sync of their file system (syncfs on Linux), and
// then fsyncs each file, which finds its data on disk already and costs
// little more than the disk's flush, but reports that file's own errors
// as a lone fsync would. The callers that sync one file (a directory in
// which many outputs were renamed, a journal) in the same group share one
// fsync. No timer decides when a group is full: the files that arrive
// while one sync runs make the next group.
//
// Where the system has no syncfs, Sync is the file's own fsync.
package groupsync

import (
	"os"
	"sync"
)

// A Syncer syncs files in groups. Its zero value is ready to use; it is
// safe for concurrent use, and it is worth sharing among the goroutines
// whose files should share syncs.
type Syncer struct {
	mu      sync.Mutex
	queue   []*waiter // waiting for the next round
	running bool      // a round is running: its leader serves the queue next
	rounds  int64
	// writeBack replaces syncFileSystems in tests, which hold a round.
	writeBack func([]*waiter)
}

// waiter is one file waiting for a round. done receives true when the
// round that wrote back its file has ended, or false when its goroutine
// must lead the next round.
type waiter struct {
	f    *os.File
	done chan bool
	// same is the fsync that the waiters of f's file in this round
	// share; nil: f is synced alone.
	same *sharedSync
}

// sharedSync is the fsync of one file, shared by the waiters that sync it
// in one round: the first to call do syncs it, the others wait for its
// result.
type sharedSync struct {
	once sync.Once
	err  error
}

func (s *sharedSync) do(f *os.File) error {
	s.once.Do(func() { s.err = f.Sync() })
	return s.err
}

// Sync makes f's data and metadata durable, like f.Sync, sharing the work
// of writing them back with the other files being synced at the same time.
// f may be a directory, to make the names in it durable.
func (s *Syncer) Sync(f *os.File) error {
	w := &waiter{f: f, done: make(chan bool, 1)}
	s.mu.Lock()
	s.queue = append(s.queue, w)
	lead := !s.running
	s.running = true
	s.mu.Unlock()
	if !lead {
		lead = !<-w.done
	}
	if lead {
		s.lead()
	}
	if w.same != nil {
		return w.same.do(f)
	}
	return f.Sync()
}

// lead runs one round: it writes back the file systems of the files that
// wait, releases them, and hands the lead to the first of the files that
// arrived meanwhile, if any.
func (s *Syncer) lead() {
	s.mu.Lock()
	group := s.queue
	s.queue = nil
	s.rounds++
	s.mu.Unlock()

	if s.writeBack != nil {
		s.writeBack(group)
	} else {
		syncFileSystems(group)
	}
	for _, w := range group {
		w.done <- true
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.queue) == 0 {
		s.running = false
		return
	}
	s.queue[0].done <- false // the next leader: it stays queued, in its own round
}

// Rounds returns the number of rounds run so far: with many files synced
// at the same time, fewer than the calls of Sync.
func (s *Syncer) Rounds() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rounds
}
