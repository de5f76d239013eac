package sigfield

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"hash"
	"io"
	"sync"

	"hashsign/pades/internal/bufpool"
)

// Range is a byte range to hash: the two parts that a /ByteRange names.
type Range struct {
	ByteRange [4]int64
	Hash      crypto.Hash
}

// Sizes of the read pipeline of HashRanges: its memory is fixed whatever
// the size of the file.
const (
	chunkSize = bufpool.Size
	chunks    = 6
)

// HashRanges returns the digest of each range of r. It reads r once, from
// the start to the end of the longest range. One range is read and hashed
// in turn, on one CPU: handing each chunk to a goroutine on another CPU
// costs more than it saves (the hash would read the chunk from the other
// CPU's cache: 1.3 s of CPU and 1.0 s for 1 GiB where reading and hashing
// in turn take 0.85 s). Several ranges are read in chunks that one
// goroutine reads while one goroutine per range hashes them, so that the
// ranges of a file with several signatures cost one read and, on as many
// cores, the time of one digest.
func HashRanges(ctx context.Context, r io.ReaderAt, ranges []Range) ([][]byte, error) {
	end := int64(0)
	for _, rg := range ranges {
		b := rg.ByteRange
		if b[0] != 0 || b[1] < 0 || b[2] < b[1] || b[3] < 0 {
			return nil, fmt.Errorf("byte range %v is not a range of the file", b)
		}
		if !rg.Hash.Available() {
			return nil, fmt.Errorf("digest algorithm %v is not available", rg.Hash)
		}
		end = max(end, b[2]+b[3])
	}
	if len(ranges) == 1 {
		return hashInTurn(ctx, r, ranges[0], end)
	}
	type chunk struct {
		off  int64
		buf  *[chunkSize]byte
		data []byte
		refs sync.WaitGroup
	}
	// the chunks are taken as the reading needs them, so that a small
	// file does not hold the memory of a large one
	free := make(chan *chunk, chunks)
	var taken []*chunk
	defer func() {
		for _, c := range taken {
			bufpool.Put(c.buf)
		}
	}()
	next := func() *chunk {
		select {
		case c := <-free:
			return c
		default:
		}
		if len(taken) < chunks {
			c := &chunk{buf: bufpool.Get()}
			taken = append(taken, c)
			return c
		}
		return <-free
	}
	feeds := make([]chan *chunk, len(ranges))
	hashes := make([]hash.Hash, len(ranges))
	var workers sync.WaitGroup
	for i := range ranges {
		feeds[i] = make(chan *chunk, chunks)
		hashes[i] = ranges[i].Hash.New()
		workers.Go(func() {
			b := ranges[i].ByteRange
			h := hashes[i]
			for c := range feeds[i] {
				writeOutside(h, c.data, c.off, b[1], b[2], b[2]+b[3])
				c.refs.Done()
			}
		})
	}
	var rerr error
	for off := int64(0); off < end; {
		if err := ctx.Err(); err != nil {
			rerr = err
			break
		}
		c := next()
		c.off = off
		c.data = c.buf[:min(chunkSize, end-off)]
		n, err := r.ReadAt(c.data, off)
		if n < len(c.data) {
			if err == nil || errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			rerr = fmt.Errorf("reading the signed byte range at offset %d: %w", off, err)
			break
		}
		for i, rg := range ranges {
			if off < rg.ByteRange[2]+rg.ByteRange[3] {
				c.refs.Add(1)
				feeds[i] <- c
			}
		}
		go func() { c.refs.Wait(); free <- c }()
		off += int64(n)
	}
	for _, f := range feeds {
		close(f)
	}
	workers.Wait()
	for _, c := range taken {
		c.refs.Wait() // its hand-back goroutine is done with it
	}
	if rerr != nil {
		return nil, rerr
	}
	out := make([][]byte, len(ranges))
	for i, h := range hashes {
		out[i] = h.Sum(nil)
	}
	return out, nil
}

// hashInTurn returns the digest of rg, whose file ends at end, reading and
// hashing it in turn through one buffer.
func hashInTurn(ctx context.Context, r io.ReaderAt, rg Range, end int64) ([][]byte, error) {
	buf := bufpool.Get()
	defer bufpool.Put(buf)
	h := rg.Hash.New()
	b := rg.ByteRange
	for off := int64(0); off < end; {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		data := buf[:min(chunkSize, end-off)]
		n, err := r.ReadAt(data, off)
		if n < len(data) {
			if err == nil || errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, fmt.Errorf("reading the signed byte range at offset %d: %w", off, err)
		}
		writeOutside(h, data, off, b[1], b[2], end)
		off += int64(n)
	}
	return [][]byte{h.Sum(nil)}, nil
}

// writeOutside writes to h the bytes of b (which starts at offset off)
// that lie before end and outside [holeStart, holeEnd).
func writeOutside(h hash.Hash, b []byte, off, holeStart, holeEnd, end int64) {
	if off+int64(len(b)) > end {
		b = b[:max(0, end-off)]
	}
	HashOutside(h, b, off, holeStart, holeEnd)
}

// HashOutside writes to h the bytes of b (which starts at offset off) that
// lie outside [holeStart, holeEnd): the part of a chunk of a file that a
// /ByteRange with that hole signs.
func HashOutside(h hash.Hash, b []byte, off, holeStart, holeEnd int64) {
	end := off + int64(len(b))
	if holeEnd <= off || holeStart >= end {
		h.Write(b)
		return
	}
	if holeStart > off {
		h.Write(b[:holeStart-off])
	}
	if holeEnd < end {
		h.Write(b[holeEnd-off:])
	}
}
