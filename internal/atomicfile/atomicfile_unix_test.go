//go:build unix

package atomicfile

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// names returns the names of the entries of dir.
func names(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

// TestUnnamedWhileWriting: on Linux the temporary file has no name until
// Commit.
func TestUnnamedWhileWriting(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("unnamed temporary files are Linux's")
	}
	dir := t.TempDir()
	f, err := Create(filepath.Join(dir, "out.pdf"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Abort()
	if _, err := f.WriteString("partial"); err != nil {
		t.Fatal(err)
	}
	if n := names(t, dir); len(n) != 0 {
		t.Errorf("while writing, the directory holds %q, want nothing", n)
	}
	if err := f.Commit(); err != nil {
		t.Fatal(err)
	}
	if n := names(t, dir); len(n) != 1 || n[0] != "out.pdf" {
		t.Errorf("after Commit, the directory holds %q, want out.pdf", n)
	}
}

// TestTargetNotRegular: a target that is a directory or a FIFO is refused
// by Create, before anything is written.
func TestTargetNotRegular(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ target, want string }{
		{sub, "is a directory"},
		{fifo, "not a regular file"},
		{filepath.Join(dir, "missing", "out.pdf"), "no such file"},
	} {
		f, err := Create(tc.target)
		if err == nil {
			f.Abort()
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Create(%s): %v, want %q", filepath.Base(tc.target), err, tc.want)
		}
	}
	if n := names(t, dir); len(n) != 2 {
		t.Errorf("the directory holds %q, want only sub and fifo", n)
	}
}

// TestStaleRemoved: Create removes a temporary file of its target that a
// killed process left (unlocked, old), and keeps one being written (locked)
// and a recent one.
func TestStaleRemoved(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "a[1].pdf") // a glob metacharacter in the name
	old := time.Now().Add(-2 * staleAge)
	mk := func(suffix string, mtime time.Time) string {
		name := tmpPrefix(target) + suffix
		if err := os.WriteFile(name, []byte("left"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(name, mtime, mtime); err != nil {
			t.Fatal(err)
		}
		return name
	}
	stale := mk("stale", old)
	recent := mk("recent", time.Now())
	busy := mk("busy", old)
	other := filepath.Join(dir, ".other.pdf.tmp-x")
	if err := os.WriteFile(other, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chtimes(other, old, old)
	held, err := os.OpenFile(busy, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	lock(held)

	f, err := Create(target)
	if err != nil {
		t.Fatal(err)
	}
	f.Abort()
	for _, tc := range []struct {
		name string
		kept bool
	}{{stale, false}, {recent, true}, {busy, true}, {other, true}} {
		_, err := os.Stat(tc.name)
		if kept := err == nil; kept != tc.kept {
			t.Errorf("%s: kept %v, want %v", filepath.Base(tc.name), kept, tc.kept)
		}
	}
}

// killedEnv names the target of the child process of TestKilledLeavesNothing.
const killedEnv = "ATOMICFILE_TEST_KILLED_TARGET"

// TestKilledLeavesNothing: a process killed (SIGKILL) while it writes an
// output leaves nothing beside it on Linux; elsewhere what it leaves is
// removed by the next Create once stale.
// (The test is for systems with SIGKILL and advisory locks.)
func TestKilledLeavesNothing(t *testing.T) {
	if target := os.Getenv(killedEnv); target != "" {
		f, err := Create(target)
		if err != nil {
			t.Fatal(err)
		}
		f.Write(make([]byte, 1<<20))
		os.Stdout.WriteString("written\n")
		select {} // until killed
	}
	dir := t.TempDir()
	target := filepath.Join(dir, "out.pdf")
	cmd := exec.Command(os.Args[0], "-test.run=^TestKilledLeavesNothing$")
	cmd.Env = append(os.Environ(), killedEnv+"="+target)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if line != "written\n" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("child: %q %v", line, err)
	}
	cmd.Process.Kill()
	var ee *exec.ExitError
	if err := cmd.Wait(); !errors.As(err, &ee) {
		t.Fatalf("child: %v", err)
	}
	left := names(t, dir)
	if runtime.GOOS == "linux" {
		if len(left) != 0 {
			t.Errorf("the killed writer left %q", left)
		}
		return
	}
	// Named temporary files: the next Create removes them once stale.
	for _, n := range left {
		old := time.Now().Add(-2 * staleAge)
		os.Chtimes(filepath.Join(dir, n), old, old)
	}
	f, err := Create(target)
	if err != nil {
		t.Fatal(err)
	}
	f.Abort()
	if n := names(t, dir); len(n) != 0 {
		t.Errorf("after the next Create, the directory holds %q", n)
	}
}

// TestSweep: Sweep removes the stale temporary files of every target of a
// directory, and nothing that only looks like one; CreateWith Swept leaves
// the directory unread.
func TestSweep(t *testing.T) {
	dir := t.TempDir()
	old := time.Now().Add(-2 * staleAge)
	mk := func(name string, mtime time.Time) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("left"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
		return p
	}
	staleA := mk(".a.pdf.tmp-1x2y3z", old)
	staleB := mk(".b.pdf.tmp-q0", old)
	recent := mk(".c.pdf.tmp-q1", time.Now())
	notOurs := mk(".notes.tmp-Draft", old)
	plain := mk("d.pdf.tmp-q2", old)

	f, err := CreateWith(filepath.Join(dir, "a.pdf"), &Options{Swept: true})
	if err != nil {
		t.Fatal(err)
	}
	f.Abort()
	if _, err := os.Stat(staleA); err != nil {
		t.Fatal("CreateWith Swept looked for stale files")
	}
	Sweep(dir)
	for _, tc := range []struct {
		name string
		kept bool
	}{{staleA, false}, {staleB, false}, {recent, true}, {notOurs, true}, {plain, true}} {
		_, err := os.Stat(tc.name)
		if kept := err == nil; kept != tc.kept {
			t.Errorf("%s: kept %v, want %v", filepath.Base(tc.name), kept, tc.kept)
		}
	}
}
