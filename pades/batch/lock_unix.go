//go:build unix

package batch

import (
	"errors"
	"os"
	"syscall"
)

// errLocked reports a journal that another process holds.
var errLocked = errors.New("another pades batch is using this journal")

// lock takes an exclusive lock on the journal f, which the kernel drops
// when the process ends, however it ends.
func lock(f *os.File) error {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return errLocked
	}
	return err
}
