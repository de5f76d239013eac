// Package bufpool lends the buffers through which the signer copies and
// hashes files. Like the buffer pools of the standard library (fmt, io),
// it is shared by the whole process: a batch that signs thousands of
// documents allocates, clears and collects no buffer per document.
package bufpool

import "sync"

// Size is the size of a buffer: a read or write of this size costs one
// system call per MiB, and a few of them keep the memory of a pipeline
// fixed whatever the size of the file.
const Size = 1 << 20

var pool = sync.Pool{New: func() any { return new([Size]byte) }}

// Get returns a buffer of Size bytes, holding whatever its last user left.
func Get() *[Size]byte { return pool.Get().(*[Size]byte) }

// Put gives b back; its caller must not use it after.
func Put(b *[Size]byte) { pool.Put(b) }
