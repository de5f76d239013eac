package atomicfile

import (
	"os"
	"path/filepath"
	"testing"
)

func TestCommitAndAbort(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "out.pdf")

	f, err := Create(target)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("half")
	if _, err := os.Stat(target); err == nil {
		t.Fatal("the target exists before Commit")
	}
	f.Abort()
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("Abort left %d files", len(entries))
	}

	f, err = Create(target)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("whole")
	if err := f.Commit(); err != nil {
		t.Fatal(err)
	}
	f.Abort() // no effect after Commit
	if b, err := os.ReadFile(target); err != nil || string(b) != "whole" {
		t.Fatalf("target = %q, %v", b, err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("%d files after Commit, want 1", len(entries))
	}
	if err := f.Commit(); err == nil {
		t.Error("a second Commit gave no error")
	}
	if _, err := Create(filepath.Join(dir, "missing", "out.pdf")); err == nil {
		t.Error("Create in a missing directory gave no error")
	}
}

// TestMode: a new output gets 0666 less the umask, as os.Create gives; an
// existing target keeps its mode; CreateMode sets the mode asked.
func TestMode(t *testing.T) {
	dir := t.TempDir()
	// what os.Create gives under this process's umask
	ref, err := os.Create(filepath.Join(dir, "reference"))
	if err != nil {
		t.Fatal(err)
	}
	ref.Close()
	st, _ := os.Stat(ref.Name())
	want := st.Mode().Perm()
	os.Remove(ref.Name())

	modeOf := func(path string) os.FileMode {
		t.Helper()
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return st.Mode().Perm()
	}
	commit := func(f *File, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	newTarget := filepath.Join(dir, "new.pdf")
	commit(Create(newTarget))
	if got := modeOf(newTarget); got != want {
		t.Errorf("new output has mode %v, want %v (as os.Create)", got, want)
	}
	existing := filepath.Join(dir, "existing.pdf")
	if err := os.WriteFile(existing, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	os.Chmod(existing, 0o640)
	commit(Create(existing))
	if got := modeOf(existing); got != 0o640 {
		t.Errorf("replaced output has mode %v, want the target's 0640", got)
	}
	kept := filepath.Join(dir, "kept.pdf")
	commit(CreateMode(kept, 0o604))
	if got := modeOf(kept); got != 0o604 {
		t.Errorf("CreateMode output has mode %v, want 0604", got)
	}
}
