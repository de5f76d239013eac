package remote

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"hashsign/signer"
)

// BatchSigner is a signer.Signer that also signs many digests with the same
// options in one call, returning the signatures in the order of the
// digests, as *Signer does.
type BatchSigner interface {
	signer.Signer
	SignBatch(ctx context.Context, digests [][]byte, opts crypto.SignerOpts) ([][]byte, error)
}

// Batcher is a signer.Signer that gathers the Sign calls of concurrent
// callers into few SignBatch calls of one BatchSigner: a pool of
// goroutines, each signing its own document with pades.Sign at any level,
// sends its hashes in a few signHash requests instead of one each.
//
// A batch goes out when it is full (Size hashes) or when no more calls are
// coming. Which calls are coming, the callers say: Reserve announces one
// signature, asked through the Reservation it returns, and the
// announcement ends when that signature is asked or the reservation is
// released. Calls on the Batcher itself announce nothing and join the batch
// being gathered. The call that fills a batch, or after which nobody
// announced is still to come, sends it: no timer decides when a batch
// goes, and the batches that a pool which reserves before it starts makes
// do not depend on how fast its members are.
//
// Calls with different options (hash, RSA-PSS) go in different requests of
// the same batch. When a request fails, each of its callers gets the
// error. A caller whose context ends stops waiting; the request it was part
// of is cancelled only when all of its callers have stopped waiting.
//
// A Batcher is safe for concurrent use. Its methods never block on the
// service except the Sign calls themselves.
type Batcher struct {
	s    BatchSigner
	size int

	mu      sync.Mutex
	waiting []*call // asked and not sent, in order of arrival
	coming  int     // reservations neither used nor released
}

var (
	_ signer.Signer        = (*Batcher)(nil)
	_ signer.ContextSigner = (*Batcher)(nil)
	_ signer.Signer        = (*Reservation)(nil)
	_ signer.ContextSigner = (*Reservation)(nil)
)

// NewBatcher returns a Batcher that signs through s in batches of up to
// size hashes (DefaultBatchSize if size <= 0). If s has a BatchSize
// method, as *Signer has (the credential's multisign), a batch is never
// larger than it says.
func NewBatcher(s BatchSigner, size int) *Batcher {
	if size <= 0 {
		size = DefaultBatchSize
	}
	if bs, ok := s.(interface{ BatchSize() int }); ok && bs.BatchSize() > 0 {
		size = min(size, bs.BatchSize())
	}
	return &Batcher{s: s, size: size}
}

// Size returns the most hashes that one batch holds.
func (b *Batcher) Size() int { return b.size }

// Public returns the public key of the signer.
func (b *Batcher) Public() crypto.PublicKey { return b.s.Public() }

// Chain returns the certificate chain of the signer.
func (b *Batcher) Chain() []*x509.Certificate { return b.s.Chain() }

// Sign is SignContext with a background context. rand is not used.
func (b *Batcher) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return b.SignContext(context.Background(), digest, opts)
}

// SignContext adds digest to the batch being gathered and returns its
// signature once the batch has been signed.
func (b *Batcher) SignContext(ctx context.Context, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return b.sign(ctx, digest, opts, nil)
}

// Reserve announces one signature that a caller is about to ask for, with
// the returned Reservation's Sign or SignContext: until then, or until the
// caller calls Release, the Batcher holds a batch that is not full back to
// wait for it. Reserve before starting the work whose signature is
// announced (for a pool, before starting its goroutines), so that the
// announcement is there when the first signature is asked.
//
// A holder of a reservation must, without waiting for a signature of the
// same Batcher, either sign through it or release it; otherwise the
// callers waiting for it wait until their contexts end.
func (b *Batcher) Reserve() *Reservation {
	b.mu.Lock()
	b.coming++
	b.mu.Unlock()
	return &Reservation{b: b, pending: true}
}

// Reservation is one announced signature of a Batcher, and a
// signer.Signer through which to ask for it. Its first Sign or SignContext
// call is the announced one; later calls are like calls on the Batcher.
// Release it when the signature will not be asked, or in any case when
// done with it.
type Reservation struct {
	b       *Batcher
	pending bool // announced and neither used nor released; guarded by b.mu
}

// Public returns the public key of the signer.
func (r *Reservation) Public() crypto.PublicKey { return r.b.Public() }

// Chain returns the certificate chain of the signer.
func (r *Reservation) Chain() []*x509.Certificate { return r.b.Chain() }

// Sign is SignContext with a background context. rand is not used.
func (r *Reservation) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return r.SignContext(context.Background(), digest, opts)
}

// SignContext asks for the announced signature: see Batcher.SignContext.
func (r *Reservation) SignContext(ctx context.Context, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return r.b.sign(ctx, digest, opts, r)
}

// Release ends the announcement if the signature has not been asked for.
// It may be called more than once, and after the signature was asked.
func (r *Reservation) Release() {
	b := r.b
	b.mu.Lock()
	var out []*flight
	if r.pending {
		r.pending = false
		b.coming--
		out = b.ready()
	}
	b.mu.Unlock()
	b.launch(out)
}

// call is one Sign call.
type call struct {
	digest []byte
	opts   crypto.SignerOpts
	done   chan struct{} // closed when sig or err is set
	sig    []byte
	err    error
	flight *flight // the request carrying it, once sent; guarded by b.mu
}

// flight is one SignBatch request of a batch.
type flight struct {
	ctx    context.Context
	cancel context.CancelFunc
	calls  []*call
	opts   crypto.SignerOpts
	left   int // callers still waiting; guarded by b.mu
}

// optsKey says which calls may share a request.
type optsKey struct {
	hash crypto.Hash
	pss  bool
	salt int
}

func keyOf(opts crypto.SignerOpts) optsKey {
	if pss, ok := opts.(*rsa.PSSOptions); ok {
		return optsKey{opts.HashFunc(), true, pss.SaltLength}
	}
	return optsKey{hash: opts.HashFunc()}
}

func (b *Batcher) sign(ctx context.Context, digest []byte, opts crypto.SignerOpts, r *Reservation) ([]byte, error) {
	// A digest that cannot be signed must not fail the batch it would
	// join: check what SignBatch checks for each digest.
	var err error
	switch {
	case opts == nil:
		err = errors.New("remote: no signer options (hash)")
	case !opts.HashFunc().Available():
		err = fmt.Errorf("remote: hash %v not available", opts.HashFunc())
	case len(digest) != opts.HashFunc().Size():
		err = fmt.Errorf("remote: digest is %d bytes, want %d for %v", len(digest), opts.HashFunc().Size(), opts.HashFunc())
	default:
		err = ctx.Err()
	}
	if err != nil {
		if r != nil {
			r.Release()
		}
		return nil, err
	}
	c := &call{digest: digest, opts: opts, done: make(chan struct{})}
	b.mu.Lock()
	if r != nil && r.pending {
		r.pending = false
		b.coming--
	}
	b.waiting = append(b.waiting, c)
	out := b.ready()
	b.mu.Unlock()
	b.launch(out)
	select {
	case <-c.done:
		return c.sig, c.err
	case <-ctx.Done():
		b.abandon(c)
		return nil, ctx.Err()
	}
}

// ready takes the waiting calls out as requests when the batch is full or
// nobody is coming. b.mu is held.
func (b *Batcher) ready() []*flight {
	if len(b.waiting) == 0 || (len(b.waiting) < b.size && b.coming > 0) {
		return nil
	}
	var out []*flight
	groups := map[optsKey]*flight{}
	for _, c := range b.waiting {
		k := keyOf(c.opts)
		f := groups[k]
		if f == nil {
			f = &flight{opts: c.opts}
			groups[k] = f
			out = append(out, f)
		}
		f.calls = append(f.calls, c)
		f.left++
		c.flight = f
	}
	b.waiting = nil
	for _, f := range out {
		// The request outlives a caller that stops waiting; it is
		// cancelled when the last one does (abandon).
		f.ctx, f.cancel = context.WithCancel(context.Background())
	}
	return out
}

// launch sends each request in its own goroutine.
func (b *Batcher) launch(fs []*flight) {
	for _, f := range fs {
		go b.send(f)
	}
}

// send makes one SignBatch request and hands each caller its signature or
// the request's error.
func (b *Batcher) send(f *flight) {
	defer f.cancel()
	digests := make([][]byte, len(f.calls))
	for i, c := range f.calls {
		digests[i] = c.digest
	}
	sigs, err := b.s.SignBatch(f.ctx, digests, f.opts)
	if err == nil && len(sigs) != len(digests) {
		err = fmt.Errorf("remote: the signer returned %d signatures for %d hashes", len(sigs), len(digests))
	}
	for i, c := range f.calls {
		if err != nil {
			c.err = err
		} else {
			c.sig = sigs[i]
		}
		close(c.done)
	}
}

// abandon takes c, whose caller stopped waiting, out of its batch.
func (b *Batcher) abandon(c *call) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if f := c.flight; f != nil {
		if f.left--; f.left == 0 {
			f.cancel()
		}
		return
	}
	if i := slices.Index(b.waiting, c); i >= 0 {
		b.waiting = slices.Delete(b.waiting, i, i+1)
	}
}
