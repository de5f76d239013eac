package pdf

import (
	"errors"
	"fmt"
)

// Budget bounds the memory and the decoding work of one Reader, so that a
// small hostile file cannot make it use gigabytes or run for minutes.
//
// Memory covers everything the reader holds that the file's size does not
// bound by itself: the cross-reference entries, the object streams it keeps
// decoded, the objects it caches, and the output of the stream it is
// decoding. When something new does not fit, the reader evicts the object
// streams it used least recently, then its object cache, and refuses the
// file (with a *LimitError) when even that does not make room.
//
// Decode counts the bytes that decoding produces over the reader's life:
// the output of every stage of a filter chain and of every predictor, and
// again for a stream decoded anew after its eviction. It bounds the work
// that decoding can cost.
type Budget struct {
	// Memory is the most the reader holds at once (default
	// DefaultMemory).
	Memory int64
	// Decode is the most that decoding may produce in total (default
	// DecodeFactor times Memory).
	Decode int64
}

// Budget defaults.
const (
	DefaultMemory = 64 << 20
	DecodeFactor  = 8
)

// withDefaults fills the zero fields of b.
func (b Budget) withDefaults() Budget {
	if b.Memory <= 0 {
		b.Memory = DefaultMemory
	}
	if b.Decode <= 0 {
		b.Decode = DecodeFactor * b.Memory
	}
	return b
}

// maxObject is the most one parsed object may take in memory (strings,
// names and elements): a quarter of the memory budget.
func (b Budget) maxObject() int64 { return b.Memory / 4 }

// ErrLimit is wrapped by every *LimitError.
var ErrLimit = errors.New("over the reader's budget")

// LimitError reports a file refused because reading it would exceed a
// limit of the reader's budget.
type LimitError struct {
	What  string // what went over, naming the object: "object stream 12: decoded data"
	Limit int64  // the limit, in bytes
	Of    string // which limit: "the memory budget", "the decode budget", ...
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("%s exceeds %s of %s", e.What, e.Of, formatBytes(e.Limit))
}

// Unwrap returns ErrLimit.
func (e *LimitError) Unwrap() error { return ErrLimit }

// formatBytes writes n as "64 MiB" when it is a whole number of MiB or KiB,
// else as "N bytes".
func formatBytes(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// take accounts n more bytes held, evicting cached data to make room when
// needed. what names the holder in the error (it is called only then).
func (rd *Reader) take(n int64, what func() string) error {
	if rd.held+n > rd.budget.Memory {
		rd.evict(rd.held + n - rd.budget.Memory)
	}
	if rd.held+n > rd.budget.Memory {
		return &LimitError{What: what(), Limit: rd.budget.Memory, Of: "the memory budget"}
	}
	rd.held += n
	return nil
}

// release accounts n bytes no longer held.
func (rd *Reader) release(n int64) { rd.held -= n }

// decoded accounts n more bytes produced by decoding.
func (rd *Reader) decoded(n int64, what func() string) error {
	rd.produced += n
	if rd.produced > rd.budget.Decode {
		return &LimitError{What: what(), Limit: rd.budget.Decode, Of: "the decode budget (bytes decoded in total)"}
	}
	return nil
}

// evict frees at least need bytes of cached data when it can: object
// streams least recently used first, then the whole object cache.
func (rd *Reader) evict(need int64) {
	for need > 0 && len(rd.objStms) > 0 {
		victim, oldest := -1, uint64(0)
		for num, os := range rd.objStms {
			if victim < 0 || os.used < oldest {
				victim, oldest = num, os.used
			}
		}
		c := rd.objStms[victim].cost
		delete(rd.objStms, victim)
		rd.release(c)
		need -= c
	}
	if need > 0 && rd.objsCost > 0 {
		rd.objs = map[int]Object{}
		rd.release(rd.objsCost)
		rd.objsCost = 0
	}
}
