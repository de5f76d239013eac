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
