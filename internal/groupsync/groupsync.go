// Package groupsync makes many files durable for the price of a few file
// system syncs: group commit, as databases do for their logs.
//
// Each fsync of a freshly written file costs a write of its inode, a
// journal commit and a flush of the disk's cache; a batch that writes a
// thousand outputs pays it a thousand times, and its workers wait for the
// disk in between. A Syncer gathers the files whose callers wait at the
// same moment and writes all of them back with one sync of their file
// system (syncfs on Linux). The callers that sync one file in the same
// group (a directory in which many outputs were renamed, a journal) share
// one sync. No timer decides when a group is full: the files that arrive
// while one sync runs make the next group, or, with Min, the next Min
// files.
//
// What each caller learns is what a lone fsync would have told it. Since
// Linux 5.8, syncfs reports the errors of the writes it makes (and of any
// write-back of the file system since the descriptor it is given was
// opened); a group's syncfs goes through one of its files, opened before
// the round. When it succeeds, each regular file is checked for its own
// write-back errors since it was opened, which an earlier background
// write-back may have met (sync_file_range, which by then waits for
// nothing and flushes nothing); a directory needs nothing more. When it
// fails, or the kernel is older, every file gets its own fsync.
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
	// Min, when above 1, is the number of files that wait before a round
	// starts, until Drain: the cost of each sync of the file system is
	// spread over at least that many files. The caller must call Drain
	// when no more files will come, or the last ones wait for ever.
	Min int

	mu      sync.Mutex
	queue   []*waiter // waiting for the next round
	running bool      // a round is running: its leader serves the queue next
	drained bool
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
	// same is the sync that the waiters of f's file in this round share;
	// nil: f is synced alone, with fsync.
	same *sharedSync
}

// sharedSync is the sync of one file, shared by the waiters that sync it
// in one round: the first to call do syncs it, the others wait for its
// result.
type sharedSync struct {
	// clean says that the round's syncfs wrote the file back without
	// error: only the file's own write-back errors remain to be seen, in
	// a regular file (a directory has none of its own).
	clean   bool
	regular bool
	once    sync.Once
	err     error
}

func (s *sharedSync) do(f *os.File) error {
	s.once.Do(func() {
		switch {
		case s.clean && s.regular:
			s.err = checkWriteBack(f)
		case s.clean:
			// a directory: the syncfs wrote its names
		default:
			s.err = f.Sync()
		}
	})
	return s.err
}

// Sync makes f's data and metadata durable, like f.Sync, sharing the work
// of writing them back with the other files being synced at the same time.
// f may be a directory, to make the names in it durable.
func (s *Syncer) Sync(f *os.File) error {
	w := &waiter{f: f, done: make(chan bool, 1)}
	s.mu.Lock()
	s.queue = append(s.queue, w)
	lead := !s.running && s.full()
	if lead {
		s.running = true
	}
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
// arrived meanwhile, if they make a group.
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
	if !s.full() {
		s.running = false
		return
	}
	s.queue[0].done <- false // the next leader: it stays queued, in its own round
}

// full reports whether the files that wait make a group; s.mu is held.
func (s *Syncer) full() bool {
	return len(s.queue) > 0 && (s.drained || len(s.queue) >= s.Min)
}

// Drain makes the files that wait, and every file from now on, go in the
// next round without waiting for Min files.
func (s *Syncer) Drain() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.drained = true
	if !s.running && len(s.queue) > 0 {
		s.running = true
		s.queue[0].done <- false
	}
}

// Rounds returns the number of rounds run so far: with many files synced
// at the same time, fewer than the calls of Sync.
func (s *Syncer) Rounds() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rounds
}
