//go:build unix

package regularfile

import "syscall"

// openNonblock makes the open of a FIFO return at once; it changes nothing
// for regular files.
const openNonblock = syscall.O_NONBLOCK
