// Package request runs a signature request of hashsvc from the sender's
// side, where the documents stay: it creates the request, and for each
// signer's step prepares every PDF as the previous signer left it, sends
// only the hash of the signed attributes (with the SHA-256 of the file the
// signer is to sign, for the consent page), waits until the signer has
// consented, embeds the signatures at the PAdES level asked, and writes the
// final files.
package request

import (
	"context"
	"crypto"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"hashsign/csc"
	"hashsign/internal/atomicfile"
	"hashsign/pades"
	"hashsign/signer/remote"
)

// Document is a PDF of a request.
type Document struct {
	// Name names it to the signers; ViewURL is where they can see it at
	// the sender's (the service never has it).
	Name, ViewURL string
	// In is the PDF to sign and Out where the signed file goes.
	In, Out string
	// Fields names, per signer in step order, the signature field that
	// signer fills: an existing empty field, or a new invisible one. An
	// empty name takes the first empty signature field (or adds one).
	Fields []string
}

// Options controls Run and Follow.
type Options struct {
	// Level is the PAdES level of each signature (default: the request's
	// level, else B-B); B-T and above need TSA, B-LT and above
	// Validation.
	Level      pades.Level
	TSA        pades.Timestamper
	Validation pades.ValidationSource
	// Hash is the digest algorithm (default SHA-256).
	Hash crypto.Hash
	// Info fills the signature dictionaries; Info.Name defaults to each
	// signer's name.
	Info pades.SignatureInfo
	// Password opens encrypted documents.
	Password []byte
	// Poll is the wait between two looks at a step the signer has not
	// answered yet (default 2s).
	Poll time.Duration
	// Progress, if not nil, is told what happens.
	Progress func(Progress)
	// Adjust, if not nil, adjusts the signing options of signer step's
	// signature of document doc (0-based): the hook for visible
	// signature appearances.
	Adjust func(step, doc int, o *pades.SignOptions)
}

// Progress is an event of a running request.
type Progress struct {
	Request string
	Step    int
	Signer  string
	// Event is "created", "hashes-sent" (ConsentURL is the signer's
	// page), "signed" (the step's signatures are embedded) or "done".
	Event      string
	ConsentURL string
}

// maxReopen bounds how often Follow prepares steps again that the service
// reopened with a new certificate (after its restarts).
const maxReopen = 8

// Run creates the request that create describes, with the documents of
// docs, and follows it to its end with Follow.
func Run(ctx context.Context, c *remote.Client, create csc.CreateRequest, docs []Document, opts *Options) (*csc.RequestStatus, error) {
	create.Documents = nil
	for _, d := range docs {
		create.Documents = append(create.Documents, csc.RequestDocument{Name: d.Name, ViewURL: d.ViewURL})
	}
	if create.Level == "" && opts != nil {
		create.Level = opts.Level.String()
	}
	st, err := c.CreateRequest(ctx, &create)
	if err != nil {
		return nil, err
	}
	if opts != nil && opts.Progress != nil {
		opts.Progress(Progress{Request: st.ID, Event: "created"})
	}
	return Follow(ctx, c, st.ID, docs, opts)
}

// Follow runs request id to its end: for each step in order, as soon as it
// is open, it prepares and sends the hashes, waits for the signer, and
// embeds the signatures. When every signer has signed, it writes each
// document's Out (whole or not at all) and returns the completed request;
// when the request is declined, expires or is cancelled, it returns an
// error wrapping remote.ErrRequestEnded and writes nothing.
func Follow(ctx context.Context, c *remote.Client, id string, docs []Document, opts *Options) (*csc.RequestStatus, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Poll <= 0 {
		o.Poll = 2 * time.Second
	}
	if len(docs) == 0 {
		return nil, errors.New("request: no documents")
	}
	work, err := os.MkdirTemp(filepath.Dir(docs[0].Out), ".pades-request-*")
	if err != nil {
		return nil, fmt.Errorf("request %s: %w", id, err)
	}
	defer os.RemoveAll(work)
	cur := make([]string, len(docs))
	for i, d := range docs {
		cur[i] = d.In
	}
	done, reopened := 0, 0 // steps embedded; steps prepared again
	for {
		st, err := c.Request(ctx, id)
		if err != nil {
			return nil, err
		}
		if len(st.Documents) != len(docs) {
			return nil, fmt.Errorf("request %s has %d documents, %d given", id, len(st.Documents), len(docs))
		}
		if st.State == csc.StateCompleted && done == len(st.Signers) {
			if err := commit(cur, docs); err != nil {
				return nil, fmt.Errorf("request %s: %w", id, err)
			}
			o.progress(Progress{Request: id, Event: "done"})
			return st, nil
		}
		if st.State == csc.StateDeclined || st.State == csc.StateExpired || st.State == csc.StateCancelled {
			return st, fmt.Errorf("request %s: %w: %s", id, remote.ErrRequestEnded, st.State)
		}
		k := done + 1
		if k > len(st.Signers) {
			// every step is embedded: the service is completing the request
			if err := o.wait(ctx); err != nil {
				return nil, err
			}
			continue
		}
		sg := st.Signers[k-1]
		switch sg.State {
		case csc.StepReady, csc.StepPending:
			next, err := o.step(ctx, c, st, k, docs, cur, work)
			if errors.Is(err, remote.ErrStepReopened) && reopened < maxReopen {
				reopened++
				continue // prepare the step again, with its new certificate
			}
			if err != nil {
				return nil, err
			}
			cur = next
			done++
			o.progress(Progress{Request: id, Step: k, Signer: sg.Name, Event: "signed"})
		case csc.StepWaiting:
			if err := o.wait(ctx); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("request %s: signer %d is %s, but this run did not prepare its documents", id, k, sg.State)
		}
	}
}

// wait waits o.Poll, or until ctx ends.
func (o *Options) wait(ctx context.Context) error {
	t := time.NewTimer(o.Poll)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (o *Options) progress(p Progress) {
	if o.Progress != nil {
		o.Progress(p)
	}
}

// step runs step k: every document signed by signer k, concurrently, the
// hashes sent at once. It returns the new files.
func (o *Options) step(ctx context.Context, c *remote.Client, st *csc.RequestStatus, k int, docs []Document, cur []string, work string) ([]string, error) {
	sg := st.Signers[k-1]
	step, err := c.NewStep(ctx, st.ID, k, remote.StepOptions{Poll: o.Poll, Sent: func(s *csc.SignerStatus) {
		o.progress(Progress{Request: st.ID, Step: k, Signer: sg.Name, Event: "hashes-sent", ConsentURL: s.ConsentURL})
	}})
	if err != nil {
		return nil, err
	}
	level := o.Level
	if level == pades.LevelBB && st.Level != "" {
		if level, err = pades.ParseLevel(st.Level); err != nil {
			return nil, err
		}
	}
	next := make([]string, len(docs))
	errs := make([]error, len(docs))
	var wg sync.WaitGroup
	for i := range docs {
		next[i] = filepath.Join(work, fmt.Sprintf("step%d-doc%d.pdf", k, i+1))
		wg.Go(func() {
			if err := o.signOne(ctx, step, k, i, sg.Name, level, cur[i], next[i], docs[i]); err != nil {
				errs[i] = fmt.Errorf("request %s, signer %d, %s: %w", st.ID, k, docs[i].Name, err)
				step.Abort(errs[i])
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			return nil, err
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return next, nil
}

// signOne signs document i (the file in) for signer k into out.
func (o *Options) signOne(ctx context.Context, step *remote.Step, k, i int, name string, level pades.Level, in, out string, d Document) error {
	f, err := os.Open(in)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, fi.Size())); err != nil {
		return err
	}
	so := pades.SignOptions{Hash: o.Hash, Info: o.Info, Password: o.Password, Level: level, TSA: o.TSA, Validation: o.Validation}
	if so.Info.Name == "" {
		so.Info.Name = name
	}
	if k-1 < len(d.Fields) {
		so.FieldName = d.Fields[k-1]
	}
	if o.Adjust != nil {
		o.Adjust(k, i, &so)
	}
	w, err := os.Create(out)
	if err != nil {
		return err
	}
	defer w.Close()
	if _, err := pades.Sign(ctx, f, fi.Size(), w, step.Document(i, h.Sum(nil)), &so); err != nil {
		return err
	}
	return w.Sync()
}

// commit writes each final file to its document's Out.
func commit(cur []string, docs []Document) error {
	outs := make([]*atomicfile.File, len(docs))
	abort := func() {
		for _, f := range outs {
			if f != nil {
				f.Abort()
			}
		}
	}
	for i, d := range docs {
		f, err := atomicfile.Create(d.Out)
		if err != nil {
			abort()
			return err
		}
		outs[i] = f
		src, err := os.Open(cur[i])
		if err != nil {
			abort()
			return err
		}
		_, err = io.Copy(f, src)
		src.Close()
		if err != nil {
			abort()
			return fmt.Errorf("writing %s: %w", d.Out, err)
		}
	}
	for i, f := range outs {
		if err := f.Commit(); err != nil {
			for _, g := range outs[i+1:] {
				g.Abort()
			}
			return fmt.Errorf("writing %s: %w", docs[i].Out, err)
		}
	}
	return nil
}
