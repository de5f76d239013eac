package pades

import (
	"bytes"
	"context"
	"crypto"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"

	"hashsign/cms"
	"hashsign/pades/internal/bufpool"
	"hashsign/pades/internal/pdf"
	"hashsign/pades/internal/sigfield"
)

// copyBufSize and copyBufs size the copy pipeline: its memory is fixed
// whatever the size of the file.
const (
	copyBufSize = bufpool.Size
	copyBufs    = 4
)

// getCopyBuf returns a buffer of copyBufSize bytes; putCopyBuf gives it
// back.
func getCopyBuf() *[copyBufSize]byte  { return bufpool.Get() }
func putCopyBuf(b *[copyBufSize]byte) { bufpool.Put(b) }

// readFull reads len(b) bytes of in at off, or fails naming the offset.
func readFull(in io.ReaderAt, b []byte, off int64) error {
	n, err := in.ReadAt(b, off)
	if n < len(b) {
		if err == nil || errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("reading input at offset %d: %w", off, err)
	}
	return nil
}

// copyHashing copies size bytes of in to out and writes them to h. Between two files the kernel copies
// while a goroutine hashes (kernelCopyHashing); otherwise reading and
// hashing run in one goroutine and writing in another, so that hashing
// overlaps the writes.
func copyHashing(ctx context.Context, in io.ReaderAt, size int64, out io.Writer, h hash.Hash) error {
	if size == 0 {
		return nil
	}
	if size <= copyBufSize {
		// a small file: one read, one hash, one write
		buf := getCopyBuf()
		defer putCopyBuf(buf)
		b := buf[:size]
		if err := readFull(in, b, 0); err != nil {
			return err
		}
		h.Write(b)
		if _, err := out.Write(b); err != nil {
			return fmt.Errorf("writing output: %w", err)
		}
		return nil
	}
	// file to file: let the kernel copy while this process hashes
	var dst fdFile
	var dstOff *int64
	switch w := out.(type) {
	case *fileWriter:
		if f, ok := w.f.(fdFile); ok {
			dst, dstOff = f, &w.off
		}
	case fdFile:
		dst = w
	}
	if dst != nil {
		if err := kernelCopyHashing(ctx, in, size, dst, dstOff, h); !errors.Is(err, errNoKernelCopy) {
			return err
		}
	}
	free := make(chan *[copyBufSize]byte, copyBufs)
	for range copyBufs {
		free <- getCopyBuf()
	}
	defer func() {
		for range copyBufs {
			putCopyBuf(<-free)
		}
	}()
	type chunk struct {
		buf *[copyBufSize]byte
		n   int
	}
	full := make(chan chunk, copyBufs)
	werr := make(chan error, 1)
	go func() {
		var err error
		for c := range full {
			if err == nil {
				if _, err = out.Write(c.buf[:c.n]); err != nil {
					err = fmt.Errorf("writing output: %w", err)
				}
			}
			free <- c.buf
		}
		werr <- err
	}()
	var rerr error
	for off := int64(0); off < size; {
		if err := ctx.Err(); err != nil {
			rerr = err
			break
		}
		buf := <-free
		n := int(min(copyBufSize, size-off))
		if err := readFull(in, buf[:n], off); err != nil {
			rerr = err
			free <- buf
			break
		}
		full <- chunk{buf, n}
		h.Write(buf[:n])
		off += int64(n)
	}
	close(full)
	if err := <-werr; err != nil {
		return err
	}
	return rerr
}

// write copies the input and the update to out, computing the byte-range
// digest on the way.
func (u *update) write(ctx context.Context, in io.ReaderAt, size int64, out io.Writer, hh crypto.Hash) (*Prepared, error) {
	if err := u.Finish(); err != nil {
		return nil, err
	}
	h := hh.New()
	if err := copyHashing(ctx, in, size, out, h); err != nil {
		return nil, err
	}
	br := u.ByteRange()
	sigfield.HashOutside(h, u.Bytes(), u.Start(), br[1], br[2])
	if _, err := out.Write(u.Bytes()); err != nil {
		return nil, fmt.Errorf("writing output: %w", err)
	}
	return u.prepared(hh, h.Sum(nil)), nil
}

// prepared describes the finished update, whose byte range has the digest
// sum.
func (u *update) prepared(h crypto.Hash, sum []byte) *Prepared {
	p := &Prepared{Size: u.Size(), Field: u.fieldName}
	if u.HasPlaceholder() {
		p.Hash, p.Digest, p.ByteRange = h, sum, u.ByteRange()
		p.ContentsOffset = p.ByteRange[1] + 1
		p.ContentsSize = u.ContentsSize()
	}
	return p
}

// hashByteRange returns the digest with h of the two parts of r that the
// /ByteRange br names, reading them in chunks.
func hashByteRange(ctx context.Context, r io.ReaderAt, h crypto.Hash, br [4]int64) ([]byte, error) {
	sums, err := sigfield.HashRanges(ctx, r, []sigfield.Range{{ByteRange: br, Hash: h}})
	if err != nil {
		return nil, err
	}
	return sums[0], nil
}

// ContentsTooSmallError reports a CMS that does not fit the placeholder.
type ContentsTooSmallError struct {
	Have, Need int
}

func (e *ContentsTooSmallError) Error() string {
	return fmt.Sprintf("the signature (%d bytes) does not fit the placeholder (%d bytes)", e.Need, e.Have)
}

// Embed writes the DER CMS signature into the placeholder of the prepared
// file out, after checking that its message-digest attribute equals the
// prepared digest.
func Embed(out io.WriterAt, p *Prepared, cmsDER []byte) error {
	if p == nil {
		return errors.New("embed: no prepared document")
	}
	sd, err := cms.Parse(cmsDER)
	if err != nil {
		return fmt.Errorf("embed: the signature is not a CMS SignedData: %w", err)
	}
	if sd.DigestAlgorithm != p.Hash {
		return fmt.Errorf("embed: the signature uses %v but the document was prepared with %v", sd.DigestAlgorithm, p.Hash)
	}
	if !bytes.Equal(sd.MessageDigest, p.Digest) {
		return errors.New("embed: the signature's message-digest does not match the prepared document's byte range")
	}
	return writeContents(out, p, cmsDER)
}

func writeContents(out io.WriterAt, p *Prepared, der []byte) error {
	if len(der) > p.ContentsSize {
		return &ContentsTooSmallError{Have: p.ContentsSize, Need: len(der)}
	}
	buf := make([]byte, 2*len(der))
	hex.Encode(buf, der)
	if _, err := out.WriteAt(buf, p.ContentsOffset); err != nil {
		return fmt.Errorf("writing the signature into the placeholder: %w", err)
	}
	return nil
}

// FindPlaceholder locates the empty signature placeholder that Prepare
// wrote in the newest revision of the prepared file r, and recomputes the
// digest of its byte range with h (default SHA-256).
func FindPlaceholder(ctx context.Context, r io.ReaderAt, size int64, h crypto.Hash) (*Prepared, error) {
	if h == 0 {
		h = crypto.SHA256
	}
	if !h.Available() {
		return nil, fmt.Errorf("unsupported digest algorithm %v", h)
	}
	rd, err := pdf.Open(r, size)
	if err != nil {
		return nil, fmt.Errorf("reading prepared file: %w", err)
	}
	if rd.Repaired || len(rd.Sections) == 0 {
		return nil, errors.New("the prepared file's cross-reference is damaged")
	}
	newest, err := rd.SectionEntries(0)
	if err != nil {
		return nil, fmt.Errorf("reading the prepared file's newest cross-reference section: %w", err)
	}
	for num, e := range newest {
		if e.Type != pdf.EntryInUse {
			continue
		}
		d, err := rd.ResolveDict(pdf.Ref{Num: num, Gen: e.Gen})
		if err != nil || d == nil {
			continue
		}
		br, ok := d.Get("ByteRange").(pdf.Array)
		contents, ok2 := d.Get("Contents").(pdf.String)
		if !ok || !ok2 || len(br) != 4 {
			continue
		}
		if !allZero(contents.Value) {
			continue
		}
		var v [4]int64
		for i, x := range br {
			v[i], _ = pdf.Int(x)
		}
		if v[0] != 0 || v[1] <= 0 || v[2] <= v[1]+1 || v[2]+v[3] != size {
			return nil, fmt.Errorf("the placeholder's /ByteRange %v does not describe the file", v)
		}
		var lt, gt [1]byte
		r.ReadAt(lt[:], v[1])
		r.ReadAt(gt[:], v[2]-1)
		if lt[0] != '<' || gt[0] != '>' || int64(len(contents.Value))*2 != v[2]-v[1]-2 {
			return nil, errors.New("the placeholder's /ByteRange does not bracket its /Contents")
		}
		sum, err := hashByteRange(ctx, r, h, v)
		if err != nil {
			return nil, err
		}
		return &Prepared{
			Hash: h, Digest: sum, ByteRange: v,
			ContentsOffset: v[1] + 1, ContentsSize: len(contents.Value), Size: size,
		}, nil
	}
	return nil, errors.New("no empty signature placeholder in the newest revision: is this a prepared file?")
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return len(b) > 0
}
