//go:build !linux

package pades

import (
	"context"
	"errors"
	"hash"
	"io"
)

type fdFile interface {
	Fd() uintptr
}

var errNoKernelCopy = errors.New("kernel copy not supported on this system")

func kernelCopyHashing(ctx context.Context, in io.ReaderAt, size int64, out fdFile, dstOff *int64, h hash.Hash) error {
	return errNoKernelCopy
}
