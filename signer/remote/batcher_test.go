package remote_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"testing"

	"hashsign/csc"
	"hashsign/hashsvc/devtrust"
	"hashsign/hashsvc/hashsvctest"
	"hashsign/ltv"
	"hashsign/pades"
	"hashsign/signer/remote"
)

// requestLog records the number of hashes of each signHash request that
// passes a countingFront.
type requestLog struct {
	mu     sync.Mutex
	hashes []int
}

func (l *requestLog) seen(r *http.Request, body []byte) {
	if r.URL.Path != csc.PathSignHash {
		return
	}
	var req csc.SignHashRequest
	json.Unmarshal(body, &req)
	l.mu.Lock()
	l.hashes = append(l.hashes, len(req.Hashes))
	l.mu.Unlock()
}

// sizes returns the sizes of the requests after the first skip ones,
// smallest first.
func (l *requestLog) sizes(skip int) []int {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := slices.Clone(l.hashes[skip:])
	slices.Sort(s)
	return s
}

func (l *requestLog) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.hashes)
}

// batchServer is hashsvc behind a counting front, and a Signer for cred.
func batchServer(t *testing.T, cred string) (*remote.Signer, *requestLog) {
	t.Helper()
	s := hashsvctest.NewServer(t, hashsvctest.Options{})
	l := &requestLog{}
	front := countingFront(t, s.URL, l.seen)
	return newSigner(t, front.URL, s.Keys[hashsvctest.KeyAll], cred), l
}

// reserveAll reserves n signatures of b before it starts anything, then
// runs f for each reservation in its own goroutine, releases the
// reservation, and returns the errors of f in order.
func reserveAll(b *remote.Batcher, n int, f func(i int, r *remote.Reservation) error) []error {
	res := make([]*remote.Reservation, n)
	for i := range res {
		res[i] = b.Reserve()
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, r := range res {
		wg.Go(func() {
			defer r.Release()
			errs[i] = f(i, r)
		})
	}
	wg.Wait()
	return errs
}

func digestOf(i int) []byte {
	sum := sha256.Sum256([]byte(fmt.Sprint("document ", i)))
	return sum[:]
}

// TestBatcherGathersReserved: n goroutines that reserved before they
// started send their hashes in full batches and one last partial batch,
// whatever their timing, and each gets the signature of its own hash.
func TestBatcherGathersReserved(t *testing.T) {
	rs, log := batchServer(t, hashsvctest.CredP256)
	for _, tc := range []struct {
		n, size int
		want    []int // request sizes, smallest first
	}{
		{1, 64, []int{1}},
		{10, 64, []int{10}},
		{10, 4, []int{2, 4, 4}},
		{12, 4, []int{4, 4, 4}},
	} {
		t.Run(fmt.Sprintf("%d-by-%d", tc.n, tc.size), func(t *testing.T) {
			ctx := t.Context()
			before := log.count()
			b := remote.NewBatcher(rs, tc.size)
			sigs := make([][]byte, tc.n)
			errs := reserveAll(b, tc.n, func(i int, r *remote.Reservation) (err error) {
				sigs[i], err = r.SignContext(ctx, digestOf(i), crypto.SHA256)
				return err
			})
			pub := rs.Public().(*ecdsa.PublicKey)
			for i := range sigs {
				if errs[i] != nil {
					t.Fatalf("caller %d: %v", i, errs[i])
				}
				if !ecdsa.VerifyASN1(pub, digestOf(i), sigs[i]) {
					t.Fatalf("caller %d got a signature that is not over its hash", i)
				}
			}
			if got := log.sizes(before); !slices.Equal(got, tc.want) {
				t.Errorf("signHash requests of %v hashes, want %v", got, tc.want)
			}
		})
	}
}

// TestBatcherRelease: a released reservation is no longer waited for, and
// calls without a reservation go out with whatever is waiting.
func TestBatcherRelease(t *testing.T) {
	rs, log := batchServer(t, hashsvctest.CredP256)
	ctx := t.Context()
	b := remote.NewBatcher(rs, 64)
	r1, r2, r3 := b.Reserve(), b.Reserve(), b.Reserve()
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, r := range []*remote.Reservation{r1, r2} {
		wg.Go(func() {
			_, errs[i] = r.SignContext(ctx, digestOf(i), crypto.SHA256)
		})
	}
	r3.Release() // r1 and r2 are sent together once both have asked
	r3.Release() // a second release changes nothing
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if got := log.sizes(0); !slices.Equal(got, []int{2}) {
		t.Fatalf("requests of %v hashes, want one of 2", got)
	}
	// nobody is announced: each call goes at once
	for i := range 2 {
		if _, err := b.SignContext(ctx, digestOf(i), crypto.SHA256); err != nil {
			t.Fatal(err)
		}
	}
	if got := log.sizes(0); !slices.Equal(got, []int{1, 1, 2}) {
		t.Fatalf("requests of %v hashes, want 1, 1, 2", got)
	}
}

// TestBatcherErrorReachesEveryCaller: when the request of a batch fails,
// every caller of the batch gets its error.
func TestBatcherErrorReachesEveryCaller(t *testing.T) {
	s := hashsvctest.NewServer(t, hashsvctest.Options{})
	log := &requestLog{}
	broken := rewritingFront(t, s.URL, func(sig []byte) []byte {
		sig = bytes.Clone(sig)
		sig[len(sig)/2] ^= 1
		return sig
	})
	front := countingFront(t, broken.URL, log.seen)
	rs := newSigner(t, front.URL, s.Keys[hashsvctest.KeyAll], hashsvctest.CredRSA)
	ctx := t.Context()
	b := remote.NewBatcher(rs, 64)
	errs := reserveAll(b, 3, func(i int, r *remote.Reservation) error {
		_, err := r.SignContext(ctx, digestOf(i), crypto.SHA256)
		return err
	})
	for i, err := range errs {
		if !errors.Is(err, remote.ErrBadSignature) {
			t.Errorf("caller %d: %v, want ErrBadSignature", i, err)
		}
	}
	if got := log.sizes(0); !slices.Equal(got, []int{3}) {
		t.Errorf("requests of %v hashes, want one of 3", got)
	}
}

// TestBatcherCallerGivesUp: a caller whose context ends leaves the batch;
// the others are signed without its hash.
func TestBatcherCallerGivesUp(t *testing.T) {
	rs, log := batchServer(t, hashsvctest.CredP256)
	ctx := t.Context()
	b := remote.NewBatcher(rs, 64)
	quitter, stayer := b.Reserve(), b.Reserve()
	qctx, cancel := context.WithCancel(ctx)
	done := make(chan error)
	go func() {
		_, err := quitter.SignContext(qctx, digestOf(0), crypto.SHA256)
		done <- err
	}()
	for b.Waiting() == 0 { // the quitter's hash is in the batch
		runtime.Gosched()
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("quitter: %v, want context.Canceled", err)
	}
	sig, err := stayer.SignContext(ctx, digestOf(1), crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if !ecdsa.VerifyASN1(rs.Public().(*ecdsa.PublicKey), digestOf(1), sig) {
		t.Fatal("signature not over the stayer's hash")
	}
	if got := log.sizes(0); !slices.Equal(got, []int{1}) {
		t.Errorf("requests of %v hashes, want one of 1 (without the quitter's hash)", got)
	}
}

// TestBatcherMixedOptions: calls with different options share a batch but
// not a request; a call with a bad digest fails alone and at once.
func TestBatcherMixedOptions(t *testing.T) {
	rs, log := batchServer(t, hashsvctest.CredRSA)
	ctx := t.Context()
	b := remote.NewBatcher(rs, 64)
	sum384 := sha512.Sum384([]byte("x"))
	pss := &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256}
	cases := []struct {
		digest []byte
		opts   crypto.SignerOpts
		bad    bool
	}{
		{digestOf(0), crypto.SHA256, false},
		{digestOf(1), crypto.SHA256, false},
		{sum384[:], crypto.SHA384, false},
		{digestOf(2), pss, false},
		{digestOf(3)[:20], crypto.SHA256, true},
	}
	sigs := make([][]byte, len(cases))
	errs := reserveAll(b, len(cases), func(i int, r *remote.Reservation) (err error) {
		sigs[i], err = r.SignContext(ctx, cases[i].digest, cases[i].opts)
		return err
	})
	pub := rs.Public().(*rsa.PublicKey)
	for i, c := range cases {
		if c.bad {
			if errs[i] == nil {
				t.Errorf("case %d: a %d-byte digest was signed", i, len(c.digest))
			}
			continue
		}
		if errs[i] != nil {
			t.Fatalf("case %d: %v", i, errs[i])
		}
		var err error
		if p, ok := c.opts.(*rsa.PSSOptions); ok {
			err = rsa.VerifyPSS(pub, p.Hash, c.digest, sigs[i], p)
		} else {
			err = rsa.VerifyPKCS1v15(pub, c.opts.HashFunc(), c.digest, sigs[i])
		}
		if err != nil {
			t.Errorf("case %d: %v", i, err)
		}
	}
	if got := log.sizes(0); !slices.Equal(got, []int{1, 1, 2}) {
		t.Errorf("requests of %v hashes, want 1 (SHA-384), 1 (PSS) and 2 (SHA-256)", got)
	}
}

// TestBatcherPool signs documents at B-T with a pool of goroutines, each
// calling pades.Sign with its reservation: their hashes go out in one
// request, and the level is reached unchanged.
func TestBatcherPool(t *testing.T) {
	s := hashsvctest.NewServer(t, hashsvctest.Options{TSA: true})
	log := &requestLog{}
	front := countingFront(t, s.URL, log.seen)
	rs := newSigner(t, front.URL, s.Keys[hashsvctest.KeyAll], hashsvctest.CredRSA)
	ctx := t.Context()
	dir := t.TempDir()
	const n = 6
	b := remote.NewBatcher(rs, 64)
	tsa := &ltv.TSAClient{URLs: []string{s.URL + devtrust.TSAPath}}
	ins := make([]string, n)
	for i := range ins {
		ins[i] = writePDF(t, dir, fmt.Sprintf("in%d.pdf", i))
	}
	errs := reserveAll(b, n, func(i int, r *remote.Reservation) error {
		return signFileCtx(ctx, ins[i], filepath.Join(dir, fmt.Sprintf("out%d.pdf", i)), r, &pades.SignOptions{Level: pades.LevelBT, TSA: tsa})
	})
	for i, err := range errs {
		if err != nil {
			t.Fatalf("document %d: %v", i, err)
		}
		checkSigned(t, filepath.Join(dir, fmt.Sprintf("out%d.pdf", i)))
	}
	if got := log.sizes(0); !slices.Equal(got, []int{n}) {
		t.Errorf("requests of %v hashes, want one of %d", got, n)
	}
}

// signFileCtx signs in to out with s, from any goroutine.
func signFileCtx(ctx context.Context, in, out string, s *remote.Reservation, opts *pades.SignOptions) error {
	data, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = pades.Sign(ctx, bytes.NewReader(data), int64(len(data)), f, s, opts)
	return err
}
