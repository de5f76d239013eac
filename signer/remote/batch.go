package remote

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"hashsign/cms"
	"hashsign/internal/atomicfile"
	"hashsign/pades"
	"hashsign/signer"
)

// BatchSigner is a signer.Signer that signs many digests in one call, in
// order, as *Signer does.
type BatchSigner interface {
	signer.Signer
	SignBatch(ctx context.Context, digests [][]byte, opts crypto.SignerOpts) ([][]byte, error)
}

// Document is one PDF file of a batch: the input and the output paths.
type Document struct {
	In, Out string
}

// Result is what became of one Document.
type Result struct {
	Document
	// Field is the new signature field and Size the size of the signed
	// file, when Err is nil.
	Field string
	Size  int64
	// Err is why the document was not signed; no output file was written
	// for it.
	Err error
}

// BatchOptions controls SignDocuments.
type BatchOptions struct {
	// Sign holds the signature options shared by every document.
	Sign pades.SignOptions
	// BatchSize is the number of documents whose hashes go out in one
	// signHash call (default DefaultBatchSize). A Signer's own limit,
	// the credential's multisign, is never exceeded.
	BatchSize int
	// Workers is the number of documents prepared at the same time
	// (default 4).
	Workers int
	// Progress, if not nil, is called after each batch with its results.
	Progress func(batch []Result)
}

// SignDocuments signs PDF files at PAdES level B-B with s, sending the
// hashes of their signed attributes in batches: each batch of documents is
// prepared into temporary files next to its outputs, its hashes are signed
// in one SignBatch call, and each signature is verified, assembled into a
// CMS, embedded, and its file committed (renamed into place) on its own.
//
// Before anything is signed, every input must exist and no two documents
// may share an output, nor an output be its input; otherwise SignDocuments
// signs nothing. A document that fails gets no output file; a failed
// signing call fails its whole batch and stops the run, so that the
// documents after it are not attempted. Output files therefore appear
// complete or not at all. The results are in the order of docs; the error,
// if not nil, says how many documents were not signed and why the first
// was not.
func SignDocuments(ctx context.Context, s BatchSigner, docs []Document, opts *BatchOptions) ([]Result, error) {
	if opts == nil {
		opts = &BatchOptions{}
	}
	results := make([]Result, len(docs))
	seen := map[string]int{}
	for i, d := range docs {
		results[i].Document = d
		abs, err := filepath.Abs(d.Out)
		if err != nil {
			return results, fmt.Errorf("output %s: %w", d.Out, err)
		}
		if j, dup := seen[abs]; dup {
			return results, fmt.Errorf("documents %d and %d have the same output %s", j+1, i+1, d.Out)
		}
		seen[abs] = i
		if err := sameFile(d.In, d.Out); err != nil {
			return results, err
		}
	}
	b, err := newBatcher(s, opts)
	if err != nil {
		return results, err
	}
	size := opts.BatchSize
	if size <= 0 {
		size = DefaultBatchSize
	}
	if bs, ok := s.(interface{ BatchSize() int }); ok && bs.BatchSize() > 0 {
		size = min(size, bs.BatchSize())
	}
	var stop error
	for start := 0; start < len(docs); start += size {
		chunk := results[start:min(start+size, len(docs))]
		if stop == nil {
			stop = ctx.Err()
		}
		if stop != nil {
			for i := range chunk {
				chunk[i].Err = fmt.Errorf("not attempted: %w", stop)
			}
			continue
		}
		stop = b.signChunk(ctx, chunk)
		if opts.Progress != nil {
			opts.Progress(chunk)
		}
	}
	failed, first := 0, error(nil)
	for _, r := range results {
		if r.Err != nil {
			failed++
			if first == nil {
				first = fmt.Errorf("%s: %w", r.In, r.Err)
			}
		}
	}
	if failed > 0 {
		return results, fmt.Errorf("%d of %d documents not signed; first: %w", failed, len(docs), first)
	}
	return results, nil
}

// sameFile refuses an output that is the input.
func sameFile(in, out string) error {
	a, err := os.Stat(in)
	if err != nil {
		return err
	}
	if b, err := os.Stat(out); err == nil && os.SameFile(a, b) {
		return fmt.Errorf("the output %s is the input file: bytes already signed are never rewritten", out)
	}
	return nil
}

// batcher holds what every document of a run shares.
type batcher struct {
	s          BatchSigner
	chain      []*x509.Certificate
	copts      cms.Options
	signerOpts crypto.SignerOpts
	prep       pades.PrepareOptions
	workers    int
}

func newBatcher(s BatchSigner, opts *BatchOptions) (*batcher, error) {
	chain := s.Chain()
	if len(chain) == 0 {
		return nil, errors.New("the signer has no certificate")
	}
	so := opts.Sign
	copts := cms.Options{Hash: so.Hash, PSS: so.PSS}
	need, err := cms.MaxSize(chain, s.Public(), copts)
	if err != nil {
		return nil, fmt.Errorf("sizing the signature: %w", err)
	}
	h := copts.DigestAlgorithm()
	var signerOpts crypto.SignerOpts = h
	if so.PSS {
		signerOpts = &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: h}
	}
	workers := opts.Workers
	if workers <= 0 {
		workers = 4
	}
	return &batcher{
		s: s, chain: chain, copts: copts, signerOpts: signerOpts, workers: workers,
		prep: pades.PrepareOptions{
			Hash: h, ContentsSize: need, Time: so.Time, Info: so.Info, Password: so.Password,
			FieldName: so.FieldName, Page: so.Page,
		},
	}, nil
}

// prepared is a document prepared into its temporary output.
type prepared struct {
	res   *Result
	out   *atomicfile.File
	p     *pades.Prepared
	attrs []byte
	hash  []byte // the digest of attrs: what is signed
}

// signChunk prepares, signs and commits one batch of documents. It returns
// the error of the signing call, which stops the run; errors of single
// documents are only recorded in their results.
func (b *batcher) signChunk(ctx context.Context, chunk []Result) error {
	preps := make([]*prepared, len(chunk))
	var wg sync.WaitGroup
	sem := make(chan struct{}, b.workers)
	for i := range chunk {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			preps[i], chunk[i].Err = b.prepare(ctx, &chunk[i])
		})
	}
	wg.Wait()
	var ready []*prepared
	for _, p := range preps {
		if p != nil {
			ready = append(ready, p)
		}
	}
	if len(ready) == 0 {
		return nil
	}
	digests := make([][]byte, len(ready))
	for i, p := range ready {
		digests[i] = p.hash
	}
	sigs, err := b.s.SignBatch(ctx, digests, b.signerOpts)
	if err == nil && len(sigs) != len(ready) {
		err = fmt.Errorf("the signer returned %d signatures for %d hashes", len(sigs), len(ready))
	}
	if err != nil {
		for _, p := range ready {
			p.out.Abort()
			p.res.Err = err
		}
		return err
	}
	for i, p := range ready {
		p.res.Err = b.finish(p, sigs[i])
		if p.res.Err != nil {
			p.out.Abort()
		}
	}
	return nil
}

// prepare writes the prepared document to a temporary file next to its
// output and computes the hash of its signed attributes.
func (b *batcher) prepare(ctx context.Context, r *Result) (*prepared, error) {
	in, err := os.Open(r.In)
	if err != nil {
		return nil, err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", r.In)
	}
	out, err := atomicfile.Create(r.Out)
	if err != nil {
		return nil, err
	}
	po := b.prep
	p, err := pades.Prepare(ctx, in, st.Size(), out, &po)
	if err != nil {
		out.Abort()
		return nil, err
	}
	attrs, err := cms.SignedAttributes(p.Digest, po.Hash, b.chain[0])
	if err != nil {
		out.Abort()
		return nil, err
	}
	d := po.Hash.New()
	d.Write(attrs)
	return &prepared{res: r, out: out, p: p, attrs: attrs, hash: d.Sum(nil)}, nil
}

// finish assembles the CMS around sig, embeds it and commits the output.
func (b *batcher) finish(p *prepared, sig []byte) error {
	der, err := cms.Assemble(b.chain, p.attrs, sig, b.copts)
	if err != nil {
		return fmt.Errorf("assembling the signature: %w", err)
	}
	if err := pades.Embed(p.out, p.p, der); err != nil {
		return err
	}
	if err := p.out.Commit(); err != nil {
		return err
	}
	p.res.Field, p.res.Size = p.p.Field, p.p.Size
	return nil
}
