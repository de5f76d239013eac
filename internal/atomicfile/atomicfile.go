// Package atomicfile writes files so that they appear whole or not at all:
// the data goes to a temporary file in the target directory, which is
// synced and then renamed over the target.
package atomicfile

import (
	"fmt"
	"os"
	"path/filepath"
)

// File is a temporary file that becomes the target on Commit.
type File struct {
	*os.File
	target string
	done   bool
}

// Create creates a temporary file next to target. The caller must call
// Commit to publish it or Abort to remove it; Abort after Commit does
// nothing, so `defer f.Abort()` is the usual pattern.
func Create(target string) (*File, error) {
	dir := filepath.Dir(target)
	f, err := os.CreateTemp(dir, "."+filepath.Base(target)+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("creating output in %s: %w", dir, err)
	}
	return &File{File: f, target: target}, nil
}

// Commit syncs the file to stable storage, closes it and renames it to the
// target, then syncs the directory so that the rename is durable.
func (f *File) Commit() error {
	if f.done {
		return fmt.Errorf("output %s: already committed or aborted", f.target)
	}
	f.done = true
	if err := f.File.Sync(); err != nil {
		f.File.Close()
		os.Remove(f.File.Name())
		return fmt.Errorf("syncing %s: %w", f.target, err)
	}
	if err := f.File.Close(); err != nil {
		os.Remove(f.File.Name())
		return fmt.Errorf("closing %s: %w", f.target, err)
	}
	if err := os.Rename(f.File.Name(), f.target); err != nil {
		os.Remove(f.File.Name())
		return fmt.Errorf("renaming output to %s: %w", f.target, err)
	}
	if d, err := os.Open(filepath.Dir(f.target)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// Abort closes and removes the temporary file, unless it was committed.
func (f *File) Abort() {
	if f.done {
		return
	}
	f.done = true
	f.File.Close()
	os.Remove(f.File.Name())
}
