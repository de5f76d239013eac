// Package atomicfile writes files so that they appear whole or not at all:
// the data goes to a temporary file in the target directory, which is
// synced and then renamed over the target.
//
// The file gets the permissions that os.Create (or cp) would give it: those
// of the target when it exists already, else 0666 less the process umask.
// CreateMode sets them explicitly, for example to keep an input's mode.
package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
)

// File is a temporary file that becomes the target on Commit.
type File struct {
	*os.File
	target string
	done   bool
}

// Create creates a temporary file next to target, with the permissions of
// target when it exists, else 0666 less the umask, as os.Create would. The
// caller must call Commit to publish it or Abort to remove it; Abort after
// Commit does nothing, so `defer f.Abort()` is the usual pattern.
func Create(target string) (*File, error) {
	f, err := create(target)
	if err != nil {
		return nil, err
	}
	if st, err := os.Stat(target); err == nil && st.Mode().IsRegular() {
		if err := f.Chmod(st.Mode().Perm()); err != nil {
			f.Abort()
			return nil, fmt.Errorf("setting the mode of the output: %w", err)
		}
	}
	return f, nil
}

// CreateMode is Create with the permission bits perm, which the umask does
// not reduce.
func CreateMode(target string, perm fs.FileMode) (*File, error) {
	f, err := create(target)
	if err != nil {
		return nil, err
	}
	if err := f.Chmod(perm.Perm()); err != nil {
		f.Abort()
		return nil, fmt.Errorf("setting the mode of the output: %w", err)
	}
	return f, nil
}

// create opens a new temporary file next to target with mode 0666 less the
// umask (os.CreateTemp would give 0600).
func create(target string) (*File, error) {
	dir := filepath.Dir(target)
	for range 100 {
		name := filepath.Join(dir, "."+filepath.Base(target)+".tmp-"+strconv.FormatUint(rand.Uint64(), 36))
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o666)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("creating output in %s: %w", dir, err)
		}
		return &File{File: f, target: target}, nil
	}
	return nil, fmt.Errorf("creating output in %s: no free temporary name", dir)
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
