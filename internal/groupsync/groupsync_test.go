package groupsync

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"
)

// writeFile creates a file in dir holding data.
func writeFile(t *testing.T, dir, name string, data []byte) *os.File {
	t.Helper()
	f, err := os.Create(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestGroups holds the first round until the files of nine more callers
// wait, and checks that they all go in the next round, together.
func TestGroups(t *testing.T) {
	dir := t.TempDir()
	release := make(chan struct{})
	var (
		mu     sync.Mutex
		groups []int
	)
	s := &Syncer{}
	s.writeBack = func(group []*waiter) {
		mu.Lock()
		groups = append(groups, len(group))
		first := len(groups) == 1
		mu.Unlock()
		if first {
			<-release
		}
		syncFileSystems(group)
	}
	const n = 10
	errs := make(chan error, n)
	var wg sync.WaitGroup
	start := func(i int) {
		f := writeFile(t, dir, fmt.Sprint("f", i), bytes.Repeat([]byte{byte(i)}, 64<<10))
		wg.Go(func() { errs <- s.Sync(f) })
	}
	start(0)
	waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(groups) == 1 })
	for i := 1; i < n; i++ {
		start(i)
	}
	waitFor(t, func() bool { s.mu.Lock(); defer s.mu.Unlock(); return len(s.queue) == n-1 })
	close(release)
	waitGroup(t, &wg)
	noErrors(t, errs)
	if fmt.Sprint(groups) != "[1 9]" || s.Rounds() != 2 {
		t.Errorf("groups %v, %d rounds; want [1 9], 2 rounds", groups, s.Rounds())
	}
	// the Syncer is idle again: the next caller leads a round of its own
	if err := s.Sync(writeFile(t, dir, "last", []byte("x"))); err != nil || s.Rounds() != 3 {
		t.Errorf("after the groups: %v, %d rounds; want nil, 3", err, s.Rounds())
	}
}

// TestConcurrent syncs many files and a directory from many goroutines
// through the real file system sync: every call returns, without error.
func TestConcurrent(t *testing.T) {
	dir := t.TempDir()
	var s Syncer
	const n = 64
	errs := make(chan error, n+1)
	var wg sync.WaitGroup
	for i := range n {
		f := writeFile(t, dir, fmt.Sprint("f", i), bytes.Repeat([]byte{byte(i)}, 256<<10))
		wg.Go(func() { errs <- s.Sync(f) })
	}
	d, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	wg.Go(func() { errs <- s.Sync(d) })
	wg.Wait()
	noErrors(t, errs)
	if r := s.Rounds(); r < 1 || r > n+1 {
		t.Errorf("%d rounds for %d files", r, n+1)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running || len(s.queue) != 0 {
		t.Errorf("after the calls: running %v, %d queued", s.running, len(s.queue))
	}
}

// TestClosed: the error of a file's own sync reaches its caller, whatever
// the round did.
func TestClosed(t *testing.T) {
	f := writeFile(t, t.TempDir(), "f", []byte("x"))
	f.Close()
	var s Syncer
	if err := s.Sync(f); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Sync of a closed file: %v, want os.ErrClosed", err)
	}
}

// waitFor polls cond until it holds, for at most a minute.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
	}
}

// TestSameFile: in one round, the callers that sync one file (here a
// directory, opened three times) share one fsync; other files have their
// own.
func TestSameFile(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("files are told apart on Linux only")
	}
	dir := t.TempDir()
	release := make(chan struct{})
	var (
		mu     sync.Mutex
		rounds int
		shared map[*os.File]*sharedSync
	)
	s := &Syncer{}
	s.writeBack = func(group []*waiter) {
		syncFileSystems(group)
		mu.Lock()
		rounds++
		first := rounds == 1
		if !first {
			shared = map[*os.File]*sharedSync{}
			for _, w := range group {
				shared[w.f] = w.same
			}
		}
		mu.Unlock()
		if first {
			<-release
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 6)
	sync1 := func(f *os.File) { wg.Go(func() { errs <- s.Sync(f) }) }
	sync1(writeFile(t, dir, "first", []byte("x")))
	waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return rounds == 1 })
	var dirs, files []*os.File
	for range 3 {
		d, err := os.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		dirs = append(dirs, d)
		sync1(d)
	}
	for i := range 2 {
		f := writeFile(t, dir, fmt.Sprint("f", i), []byte("y"))
		files = append(files, f)
		sync1(f)
	}
	waitFor(t, func() bool { s.mu.Lock(); defer s.mu.Unlock(); return len(s.queue) == 5 })
	close(release)
	waitGroup(t, &wg)
	noErrors(t, errs)
	d0 := shared[dirs[0]]
	if d0 == nil || shared[dirs[1]] != d0 || shared[dirs[2]] != d0 {
		t.Errorf("the three callers of the directory do not share one fsync: %p %p %p", d0, shared[dirs[1]], shared[dirs[2]])
	}
	if a, b := shared[files[0]], shared[files[1]]; a == nil || b == nil || a == b || a == d0 || b == d0 {
		t.Errorf("two files and the directory: fsyncs %p %p %p, want three", a, b, d0)
	}
}

// waitGroup waits for wg, failing the test if it has not ended within a
// minute: a round that never hands on its lead hangs its callers.
func waitGroup(t *testing.T, wg *sync.WaitGroup) {
	t.Helper()
	ended := make(chan struct{})
	go func() { wg.Wait(); close(ended) }()
	waitFor(t, func() bool {
		select {
		case <-ended:
			return true
		default:
			return false
		}
	})
}

// TestAfterRound: the files of a round come out of it durable, or with
// the error of their own sync: a regular file and a directory pass, a
// file closed under its caller fails.
func TestAfterRound(t *testing.T) {
	dir := t.TempDir()
	var s Syncer
	f := writeFile(t, dir, "f", []byte("data"))
	d, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for _, file := range []*os.File{f, d} {
		if err := s.Sync(file); err != nil {
			t.Errorf("%s: %v", file.Name(), err)
		}
	}
	// a round whose files are closed once it has written them back: the
	// sync each caller gets afterwards is its own, and fails
	closed := writeFile(t, dir, "closed", []byte("x"))
	s.writeBack = func(group []*waiter) {
		syncFileSystems(group)
		closed.Close()
	}
	if err := s.Sync(closed); err == nil {
		t.Error("the sync of a file closed after the round's write-back: no error")
	}
}

// TestMin: with Min 3, two files wait until a third comes, then sync in
// one round; after Drain, a lone file syncs at once.
func TestMin(t *testing.T) {
	dir := t.TempDir()
	s := &Syncer{Min: 3}
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for i := range 2 {
		f := writeFile(t, dir, fmt.Sprint("f", i), []byte("x"))
		wg.Go(func() { errs <- s.Sync(f) })
	}
	waitFor(t, func() bool { s.mu.Lock(); defer s.mu.Unlock(); return len(s.queue) == 2 })
	if s.Rounds() != 0 || len(errs) != 0 {
		t.Fatalf("two files of a Min of 3: %d rounds, %d returned", s.Rounds(), len(errs))
	}
	third := writeFile(t, dir, "third", []byte("x"))
	wg.Go(func() { errs <- s.Sync(third) })
	waitGroup(t, &wg)
	if s.Rounds() != 1 || len(errs) != 3 {
		t.Errorf("after the third file: %d rounds, %d returned; want 1, 3", s.Rounds(), len(errs))
	}
	// a file that waits alone, then Drain
	lone := writeFile(t, dir, "lone", []byte("x"))
	wg.Go(func() { errs <- s.Sync(lone) })
	waitFor(t, func() bool { s.mu.Lock(); defer s.mu.Unlock(); return len(s.queue) == 1 })
	s.Drain()
	waitGroup(t, &wg)
	noErrors(t, errs)
	if s.Rounds() != 2 {
		t.Errorf("after Drain: %d rounds, want 2", s.Rounds())
	}
}

// noErrors closes errs and reports each error in it.
func noErrors(t *testing.T, errs chan error) {
	t.Helper()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}
