//go:build linux

package pades

import (
	"context"
	"errors"
	"fmt"
	"hash"
	"io"

	"golang.org/x/sys/unix"
)

// fdFile is a file with an operating-system descriptor (*os.File, and what
// embeds one).
type fdFile interface {
	Fd() uintptr
}

// errNoKernelCopy says that the kernel cannot copy between the two files.
var errNoKernelCopy = errors.New("copy_file_range is not available for these files")

const (
	kernelCopyChunk = 8 << 20  // bytes per copy_file_range call
	writebackEvery  = 64 << 20 // start the write-back of the output this often
)

// kernelCopyHashing copies size bytes from in to out with copy_file_range:
// at *dstOff, which it advances, or at the current offset of out when
// dstOff is nil, so that the data never passes through user space,
// while another goroutine reads in and hashes it: hashing and copying run
// on two CPUs at once, and the input is hashed exactly once. It also starts
// the write-back of the output as it goes, so that a final fsync has little
// left to wait for. It returns errNoKernelCopy, having written nothing, when
// the kernel cannot copy between the two files.
func kernelCopyHashing(ctx context.Context, in io.ReaderAt, size int64, out fdFile, dstOff *int64, h hash.Hash) error {
	src, ok := in.(fdFile)
	if !ok {
		return errNoKernelCopy
	}
	sfd, dfd := int(src.Fd()), int(out.Fd())
	before, _ := stateOf(in)
	var dstStart int64
	if dstOff != nil {
		dstStart = *dstOff
	} else if off, err := unix.Seek(dfd, 0, io.SeekCurrent); err == nil {
		dstStart = off
	} else {
		return errNoKernelCopy
	}
	// the first chunk tells whether the kernel copies between these files
	var soff int64
	first := min(size, kernelCopyChunk)
	n, err := unix.CopyFileRange(sfd, &soff, dfd, dstOff, int(first), 0)
	if err != nil || n <= 0 {
		if soff == 0 {
			return errNoKernelCopy
		}
		return fmt.Errorf("copying the input: %w", err)
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	herr := make(chan error, 1)
	go func() {
		buf := getCopyBuf()
		defer putCopyBuf(buf)
		for off := int64(0); off < size; {
			if err := ctx.Err(); err != nil {
				herr <- err
				return
			}
			b := buf[:min(copyBufSize, size-off)]
			if err := readFull(in, b, off); err != nil {
				herr <- err
				cancel()
				return
			}
			h.Write(b)
			off += int64(len(b))
		}
		herr <- nil
	}()

	var cerr error
	lastWriteback := int64(0)
	for soff < size {
		if err := ctx.Err(); err != nil {
			cerr = err
			break
		}
		n, err := unix.CopyFileRange(sfd, &soff, dfd, dstOff, int(min(size-soff, kernelCopyChunk)), 0)
		if err != nil {
			cerr = fmt.Errorf("copying the input at offset %d: %w", soff, err)
			break
		}
		if n == 0 {
			cerr = fmt.Errorf("copying the input at offset %d: %w", soff, io.ErrUnexpectedEOF)
			break
		}
		if soff-lastWriteback >= writebackEvery {
			// ask for the write-back of what was copied; failures only
			// mean that fsync will do the work later
			unix.SyncFileRange(dfd, dstStart+lastWriteback, soff-lastWriteback, unix.SYNC_FILE_RANGE_WRITE)
			lastWriteback = soff
		}
	}
	if cerr == nil && soff > lastWriteback {
		unix.SyncFileRange(dfd, dstStart+lastWriteback, soff-lastWriteback, unix.SYNC_FILE_RANGE_WRITE)
	}
	if cerr != nil {
		cancel()
	}
	if err := <-herr; err != nil && cerr == nil {
		cerr = err
	}
	if cerr == nil && changed(in, before) {
		// the copy and the hash read the input separately: a file changed
		// in between would carry a signature over other bytes
		cerr = errors.New("the input file changed while it was being signed")
	}
	return cerr
}

// fileState is what tells whether a file changed.
type fileState struct {
	size  int64
	mtime int64
	ctime int64
}

func stateOf(f any) (fileState, bool) {
	fd, ok := f.(fdFile)
	if !ok {
		return fileState{}, false
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(fd.Fd()), &st); err != nil {
		return fileState{}, false
	}
	return fileState{size: st.Size, mtime: st.Mtim.Nano(), ctime: st.Ctim.Nano()}, true
}

func changed(f any, before fileState) bool {
	after, ok := stateOf(f)
	return ok && after != before
}
