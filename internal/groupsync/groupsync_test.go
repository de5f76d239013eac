package groupsync

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
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
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
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
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
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
