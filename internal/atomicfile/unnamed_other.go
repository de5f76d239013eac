//go:build !linux

package atomicfile

import (
	"errors"
	"os"
)

// errNoUnnamed: the system or the file system cannot make unnamed files.
var errNoUnnamed = errors.New("unnamed temporary files are not supported here")

// openUnnamed reports that this system makes no unnamed files.
func openUnnamed(string, os.FileMode) (*os.File, error) { return nil, errNoUnnamed }

// linkUnnamed is never called where openUnnamed fails.
func linkUnnamed(*os.File, string) error { return errNoUnnamed }
