// Package atomicfile writes files so that they appear whole or not at all:
// the data goes to a temporary file in the target directory, which is
// synced and then renamed over the target.
//
// On Linux the temporary file has no name until Commit (O_TMPFILE, then
// linkat), so that a process killed while writing leaves nothing behind.
// Elsewhere, and on file systems without O_TMPFILE, it is a hidden file
// named after the target, locked while it is written; Create removes the
// ones that a killed process left (unlocked and untouched for a minute).
// Create refuses a target that is a directory or another non-regular file,
// so that the failure comes before the work, not at the rename.
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
	"strings"
	"time"

	"hashsign/internal/groupsync"
)

// File is a temporary file that becomes the target on Commit.
type File struct {
	*os.File
	target string
	// named is the name of the temporary file, or "" while it has none.
	named string
	done  bool
	// syncer, when not nil, syncs the file and its directory in Commit.
	syncer *groupsync.Syncer
}

// tmpPrefix returns the prefix of the names of target's temporary files.
func tmpPrefix(target string) string {
	return filepath.Join(filepath.Dir(target), "."+filepath.Base(target)+".tmp-")
}

// tmpName returns a new temporary name for target.
func tmpName(target string) string {
	return tmpPrefix(target) + strconv.FormatUint(rand.Uint64(), 36)
}

// checkTarget refuses a target that exists and is not a regular file:
// renaming over it would fail (a directory) or replace what is no output
// (a device, a FIFO).
func checkTarget(target string) error {
	st, err := os.Stat(target)
	switch {
	case err != nil:
		return nil // absent, or Create fails on its directory
	case st.IsDir():
		return fmt.Errorf("output %s is a directory", target)
	case !st.Mode().IsRegular():
		return fmt.Errorf("output %s exists and is not a regular file", target)
	}
	return nil
}

// Create creates a temporary file next to target, with the permissions of
// target when it exists, else 0666 less the umask, as os.Create would. The
// caller must call Commit to publish it or Abort to remove it; Abort after
// Commit does nothing, so `defer f.Abort()` is the usual pattern.
func Create(target string) (*File, error) {
	return CreateWith(target, nil)
}

// CreateMode is Create with the permission bits perm, which the umask does
// not reduce.
func CreateMode(target string, perm fs.FileMode) (*File, error) {
	return CreateWith(target, &Options{Mode: perm, SetMode: true})
}

// Options adjusts CreateWith.
type Options struct {
	// Mode, with SetMode, is the permission bits of the file, which the
	// umask does not reduce (as CreateMode).
	Mode    fs.FileMode
	SetMode bool
	// Swept says that the caller has removed the stale temporary files of
	// the target's directory (with Sweep), so that Create need not read
	// the directory to find them: a batch that writes thousands of files
	// into one directory sweeps it once instead of once per file.
	Swept bool
	// Syncer, when not nil, syncs the file and its directory in Commit
	// together with the other files it syncs at the same time: a batch
	// that commits many outputs shares its syncs among them.
	Syncer *groupsync.Syncer
}

// CreateWith is Create with options; nil takes the defaults.
func CreateWith(target string, o *Options) (*File, error) {
	var opts Options
	if o != nil {
		opts = *o
	}
	f, err := create(target, opts.Swept)
	if err != nil {
		return nil, err
	}
	f.syncer = opts.Syncer
	perm, set := opts.Mode, opts.SetMode
	if !set {
		if st, err := os.Stat(target); err == nil && st.Mode().IsRegular() {
			perm, set = st.Mode(), true
		}
	}
	if set {
		if err := f.Chmod(perm.Perm()); err != nil {
			f.Abort()
			return nil, fmt.Errorf("setting the mode of the output: %w", err)
		}
	}
	return f, nil
}

// Sweep removes the temporary files that killed processes left in dir, as
// Create does for its target's.
func Sweep(dir string) {
	removeStaleMatching(globEscape(dir) + string(filepath.Separator) + ".*.tmp-*")
}

// create opens a new temporary file next to target with mode 0666 less the
// umask (os.CreateTemp would give 0600): unnamed where the system allows,
// else named and locked.
func create(target string, swept bool) (*File, error) {
	if err := checkTarget(target); err != nil {
		return nil, err
	}
	dir := filepath.Dir(target)
	if !swept {
		removeStaleMatching(globEscape(tmpPrefix(target)) + "*")
	}
	f, err := openUnnamed(dir, 0o666)
	switch {
	case err == nil:
		lock(f) // the name it gets in Commit is in use until the rename
		return &File{File: f, target: target}, nil
	case !errors.Is(err, errNoUnnamed):
		return nil, fmt.Errorf("creating output in %s: %w", dir, err)
	}
	for range 100 {
		name := tmpName(target)
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o666)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("creating output in %s: %w", dir, err)
		}
		lock(f)
		return &File{File: f, target: target, named: name}, nil
	}
	return nil, fmt.Errorf("creating output in %s: no free temporary name", dir)
}

// name gives an unnamed temporary file a temporary name.
func (f *File) name() error {
	for range 100 {
		name := tmpName(f.target)
		err := linkUnnamed(f.File, name)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("naming output %s: %w", f.target, err)
		}
		f.named = name
		return nil
	}
	return fmt.Errorf("naming output %s: no free temporary name", f.target)
}

// staleAge is how long a temporary file of ours must have been left
// untouched, and unlocked, for Create to remove it.
const staleAge = time.Minute

// removeStaleMatching removes the temporary files that match pattern and
// that a killed process left: unlocked, and not modified for staleAge.
// Where files cannot be locked, it removes nothing.
func removeStaleMatching(pattern string) {
	names, _ := filepath.Glob(pattern)
	for _, name := range names {
		if !isTmpName(filepath.Base(name)) {
			continue
		}
		st, err := os.Lstat(name)
		if err != nil || !st.Mode().IsRegular() || time.Since(st.ModTime()) < staleAge {
			continue
		}
		removeIfUnlocked(name)
	}
}

// isTmpName reports whether name has the form of the names tmpName
// makes: "." + the target's name + ".tmp-" + a number in base 36.
func isTmpName(name string) bool {
	i := strings.LastIndex(name, ".tmp-")
	if !strings.HasPrefix(name, ".") || i < 2 {
		return false
	}
	n := name[i+len(".tmp-"):]
	_, err := strconv.ParseUint(n, 36, 64)
	return err == nil && n == strings.ToLower(n)
}

// globEscape escapes the metacharacters of filepath.Match in s.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Commit syncs the file to stable storage, closes it and renames it to the
// target, then syncs the directory so that the rename is durable.
func (f *File) Commit() error {
	if f.done {
		return fmt.Errorf("output %s: already committed or aborted", f.target)
	}
	f.done = true
	if err := f.sync(f.File); err != nil {
		f.abort()
		return fmt.Errorf("syncing %s: %w", f.target, err)
	}
	if f.named == "" {
		if err := f.name(); err != nil {
			f.File.Close()
			return err
		}
	}
	if err := f.File.Close(); err != nil {
		os.Remove(f.named)
		return fmt.Errorf("closing %s: %w", f.target, err)
	}
	if err := os.Rename(f.named, f.target); err != nil {
		os.Remove(f.named)
		return fmt.Errorf("renaming output to %s: %w", f.target, err)
	}
	if d, err := os.Open(filepath.Dir(f.target)); err == nil {
		f.sync(d)
		d.Close()
	}
	return nil
}

// sync syncs g, through f's Syncer when it has one.
func (f *File) sync(g *os.File) error {
	if f.syncer != nil {
		return f.syncer.Sync(g)
	}
	return g.Sync()
}

// Abort closes and removes the temporary file, unless it was committed.
func (f *File) Abort() {
	if f.done {
		return
	}
	f.done = true
	f.abort()
}

// abort closes the file and removes its name, if it has one.
func (f *File) abort() {
	f.File.Close()
	if f.named != "" {
		os.Remove(f.named)
	}
}
