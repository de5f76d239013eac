package atomicfile

import (
	"errors"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// errNoUnnamed: the system or the file system cannot make unnamed files.
var errNoUnnamed = errors.New("unnamed temporary files are not supported here")

// openUnnamed opens a new file without a name in dir (O_TMPFILE): it
// vanishes with the process unless linkUnnamed names it.
func openUnnamed(dir string, perm os.FileMode) (*os.File, error) {
	fd, err := unix.Open(dir, unix.O_TMPFILE|unix.O_RDWR|unix.O_CLOEXEC, uint32(perm.Perm()))
	switch {
	case err == nil:
		return os.NewFile(uintptr(fd), dir+string(os.PathSeparator)+"(unnamed)"), nil
	case errors.Is(err, unix.EOPNOTSUPP), errors.Is(err, unix.EISDIR), errors.Is(err, unix.EINVAL):
		// The file system has no O_TMPFILE, or the kernel is older
		// than 3.11 and takes O_TMPFILE for O_DIRECTORY.
		return nil, errNoUnnamed
	}
	return nil, &os.PathError{Op: "open", Path: dir, Err: err}
}

// linkUnnamed gives the unnamed file f the name name, which must not
// exist. It links /proc/self/fd/N, which needs no privilege, unlike
// linkat with AT_EMPTY_PATH.
func linkUnnamed(f *os.File, name string) error {
	err := unix.Linkat(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(int(f.Fd())), unix.AT_FDCWD, name, unix.AT_SYMLINK_FOLLOW)
	if err != nil {
		return &os.LinkError{Op: "link", Old: f.Name(), New: name, Err: err}
	}
	return nil
}
