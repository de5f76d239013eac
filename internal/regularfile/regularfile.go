// Package regularfile opens input files that must be regular files, and
// refuses anything else (a FIFO, a device, a directory) without waiting on
// it.
package regularfile

import (
	"fmt"
	"os"
)

// Open opens the regular file at path with flag (os.O_RDONLY, os.O_RDWR)
// and returns it with its size. Anything else is refused before it is
// opened, and the open itself does not block (a FIFO put in its place
// meanwhile would wait for a writer); the opened file is checked again.
func Open(path string, flag int) (*os.File, int64, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, 0, err
	}
	if !st.Mode().IsRegular() {
		return nil, 0, fmt.Errorf("%s: not a regular file", path)
	}
	f, err := os.OpenFile(path, flag|openNonblock, 0)
	if err != nil {
		return nil, 0, err
	}
	if st, err = f.Stat(); err != nil {
		f.Close()
		return nil, 0, err
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, 0, fmt.Errorf("%s: not a regular file", path)
	}
	return f, st.Size(), nil
}
