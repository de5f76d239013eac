package remote

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"hashsign/csc"
	"hashsign/signer"
)

// Errors of a request's step, for errors.Is.
var (
	// ErrRequestEnded: the signature request ended (declined, expired or
	// cancelled) before the step was signed.
	ErrRequestEnded = errors.New("the signature request ended")
	// ErrStepReopened: the service reopened the step with a new
	// certificate (it restarted, and one-time keys do not outlive it):
	// prepare the documents again.
	ErrStepReopened = errors.New("the step was reopened with a new certificate")
)

func requestPath(pattern, id string, k int) string {
	p := strings.Replace(pattern, "{id}", url.PathEscape(id), 1)
	return strings.Replace(p, "{k}", strconv.Itoa(k), 1)
}

// CreateRequest creates a signature request (hashsvc's /v1/requests).
func (c *Client) CreateRequest(ctx context.Context, req *csc.CreateRequest) (*csc.RequestStatus, error) {
	var resp csc.RequestStatus
	if err := c.call(ctx, csc.PathRequests, req, &resp); err != nil {
		return nil, fmt.Errorf("remote: %w", err)
	}
	return &resp, nil
}

// Request returns the state of request id.
func (c *Client) Request(ctx context.Context, id string) (*csc.RequestStatus, error) {
	var resp csc.RequestStatus
	if err := c.do(ctx, http.MethodGet, requestPath(csc.PathRequest, id, 0), nil, &resp); err != nil {
		return nil, fmt.Errorf("remote: %w", err)
	}
	return &resp, nil
}

// Requests lists the API key's requests, newest first; state selects one
// state ("waiting" every waiting one) when not empty.
func (c *Client) Requests(ctx context.Context, state string) ([]csc.RequestStatus, error) {
	var resp csc.RequestList
	p := csc.PathRequests
	if state != "" {
		p += "?state=" + url.QueryEscape(state)
	}
	if err := c.do(ctx, http.MethodGet, p, nil, &resp); err != nil {
		return nil, fmt.Errorf("remote: %w", err)
	}
	return resp.Requests, nil
}

// StartRequest starts a draft request.
func (c *Client) StartRequest(ctx context.Context, id string) (*csc.RequestStatus, error) {
	var resp csc.RequestStatus
	if err := c.call(ctx, requestPath(csc.PathRequestStart, id, 0), struct{}{}, &resp); err != nil {
		return nil, fmt.Errorf("remote: %w", err)
	}
	return &resp, nil
}

// CancelRequest cancels request id.
func (c *Client) CancelRequest(ctx context.Context, id string) (*csc.RequestStatus, error) {
	var resp csc.RequestStatus
	if err := c.call(ctx, requestPath(csc.PathRequestCancel, id, 0), struct{}{}, &resp); err != nil {
		return nil, fmt.Errorf("remote: %w", err)
	}
	return &resp, nil
}

// SubmitHashes posts the hashes that signer k of request id is to sign.
// The answer carries the signer's consent URL.
func (c *Client) SubmitHashes(ctx context.Context, id string, k int, req *csc.StepHashesRequest) (*csc.SignerStatus, error) {
	var resp csc.SignerStatus
	if err := c.call(ctx, requestPath(csc.PathRequestHashes, id, k), req, &resp); err != nil {
		return nil, fmt.Errorf("remote: %w", err)
	}
	return &resp, nil
}

// Deliveries lists the webhook deliveries of request id.
func (c *Client) Deliveries(ctx context.Context, id string) ([]csc.Delivery, error) {
	var resp csc.DeliveryList
	if err := c.do(ctx, http.MethodGet, requestPath(csc.PathRequestDelivery, id, 0), nil, &resp); err != nil {
		return nil, fmt.Errorf("remote: %w", err)
	}
	return resp.Deliveries, nil
}

// Evidence returns the evidence file of an ended request (JSON; `hashsvc
// evidence verify` checks it).
func (c *Client) Evidence(ctx context.Context, id string) ([]byte, error) {
	var resp json.RawMessage
	if err := c.do(ctx, http.MethodGet, requestPath(csc.PathRequestEvidence, id, 0), nil, &resp); err != nil {
		return nil, fmt.Errorf("remote: %w", err)
	}
	return resp, nil
}

// Step is one signer's step of a signature request, seen from the sender:
// a signer.Signer per document (Document), which together gather the
// step's hashes, one per document, post them at once when the last one is
// asked, wait until the signer has consented (polling the request), and
// hand out the signatures, each verified with the step's certificate. It
// sends only the hashes to be signed and the SHA-256 of each document as
// the signer is to sign it.
type Step struct {
	client  *Client
	id      string
	k       int
	chain   []*x509.Certificate
	docs    []string
	poll    time.Duration
	onSent  func(*csc.SignerStatus)
	mu      sync.Mutex
	digests [][]byte
	docHash [][]byte
	opts    crypto.SignerOpts
	asked   int
	done    chan struct{}
	sigs    [][]byte
	err     error
}

// StepOptions adjusts NewStep.
type StepOptions struct {
	// Poll is the wait between two looks at the request while the signer
	// has not answered (default 2s).
	Poll time.Duration
	// Sent, if not nil, is told when the hashes have been posted, with
	// the answer (which carries the signer's consent URL).
	Sent func(*csc.SignerStatus)
}

// NewStep returns step k (1-based) of request id, which must be open: its
// certificate is known.
func (c *Client) NewStep(ctx context.Context, id string, k int, opts StepOptions) (*Step, error) {
	st, err := c.Request(ctx, id)
	if err != nil {
		return nil, err
	}
	if k < 1 || k > len(st.Signers) {
		return nil, fmt.Errorf("remote: request %s has no signer %d", id, k)
	}
	sg := st.Signers[k-1]
	if sg.State != csc.StepReady && sg.State != csc.StepPending {
		return nil, fmt.Errorf("remote: request %s, signer %d is %s, not open for hashes", id, k, sg.State)
	}
	chain, err := parseChain(sg.Certificates)
	if err != nil {
		return nil, fmt.Errorf("remote: request %s, signer %d: %w", id, k, err)
	}
	s := &Step{client: c, id: id, k: k, chain: chain, poll: opts.Poll, onSent: opts.Sent, done: make(chan struct{})}
	if s.poll <= 0 {
		s.poll = 2 * time.Second
	}
	for _, d := range st.Documents {
		s.docs = append(s.docs, d.Name)
	}
	s.digests = make([][]byte, len(s.docs))
	s.docHash = make([][]byte, len(s.docs))
	return s, nil
}

func parseChain(b64s []string) ([]*x509.Certificate, error) {
	if len(b64s) == 0 {
		return nil, errors.New("no certificate")
	}
	var chain []*x509.Certificate
	for i, b := range b64s {
		der, err := base64.StdEncoding.DecodeString(b)
		if err != nil {
			return nil, fmt.Errorf("certificate %d is not base64", i)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %w", i, err)
		}
		chain = append(chain, c)
	}
	return chain, nil
}

// Chain returns the step's certificate chain, the signer's first.
func (s *Step) Chain() []*x509.Certificate { return slices.Clone(s.chain) }

// Document returns the signer of document i (in the request's order),
// whose file as this signer is to sign it has the SHA-256 documentHash.
// Its one Sign call gives the step that document's hash.
func (s *Step) Document(i int, documentHash []byte) signer.Signer {
	return &docSigner{s: s, i: i, docHash: documentHash}
}

// Abort gives up the step: every Sign call waiting, and every later one,
// fails with err. Call it when a document cannot be prepared, so that
// the others do not wait for its hash.
func (s *Step) Abort(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.finish(nil, err)
}

// finish ends the step; the caller holds mu.
func (s *Step) finish(sigs [][]byte, err error) {
	select {
	case <-s.done:
		return
	default:
	}
	s.sigs, s.err = sigs, err
	close(s.done)
}

type docSigner struct {
	s       *Step
	i       int
	docHash []byte
}

func (d *docSigner) Public() crypto.PublicKey { return d.s.chain[0].PublicKey }

func (d *docSigner) Chain() []*x509.Certificate { return d.s.Chain() }

func (d *docSigner) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return d.SignContext(context.Background(), digest, opts)
}

// SignContext gives the step this document's hash and waits for the
// signer's signature over it.
func (d *docSigner) SignContext(ctx context.Context, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	s := d.s
	s.mu.Lock()
	switch {
	case d.i < 0 || d.i >= len(s.docs):
		s.mu.Unlock()
		return nil, fmt.Errorf("remote: request %s has no document %d", s.id, d.i)
	case s.digests[d.i] != nil:
		s.mu.Unlock()
		return nil, fmt.Errorf("remote: request %s, signer %d: document %q was signed already in this step", s.id, s.k, s.docs[d.i])
	case s.opts != nil && !sameOpts(s.opts, opts):
		s.mu.Unlock()
		return nil, errors.New("remote: the documents of one step must use the same hash and signature algorithm")
	}
	s.digests[d.i], s.docHash[d.i], s.opts = slices.Clone(digest), d.docHash, opts
	s.asked++
	last := s.asked == len(s.docs)
	s.mu.Unlock()
	if last {
		sigs, err := s.run(ctx)
		s.mu.Lock()
		s.finish(sigs, err)
		s.mu.Unlock()
	}
	select {
	case <-s.done:
	case <-ctx.Done():
		return nil, fmt.Errorf("remote: request %s, signer %d: %w", s.id, s.k, ctx.Err())
	}
	if s.err != nil {
		return nil, s.err
	}
	return s.sigs[d.i], nil
}

func sameOpts(a, b crypto.SignerOpts) bool {
	if a.HashFunc() != b.HashFunc() {
		return false
	}
	_, ap := a.(*rsa.PSSOptions)
	_, bp := b.(*rsa.PSSOptions)
	return ap == bp
}

// run posts the hashes and waits for the signatures.
func (s *Step) run(ctx context.Context) ([][]byte, error) {
	hashOID, err := csc.HashOID(s.opts.HashFunc())
	if err != nil {
		return nil, fmt.Errorf("remote: %w", err)
	}
	algo, params, err := csc.SignAlgo(s.chain[0].PublicKey, s.opts)
	if err != nil {
		return nil, fmt.Errorf("remote: %w", err)
	}
	req := &csc.StepHashesRequest{HashAlgorithmOID: hashOID, SignAlgo: algo, CertificateSHA256: csc.CertificateSHA256(s.chain[0].Raw)}
	if params != nil {
		req.SignAlgoParams = base64.StdEncoding.EncodeToString(params)
	}
	for i, name := range s.docs {
		req.Hashes = append(req.Hashes, csc.StepHash{
			Document: name, DocumentHash: base64.StdEncoding.EncodeToString(s.docHash[i]), Hash: base64.StdEncoding.EncodeToString(s.digests[i]),
		})
	}
	sent, err := s.client.SubmitHashes(ctx, s.id, s.k, req)
	if apiErr, ok := errors.AsType[*Error](err); ok && apiErr.Code == csc.ErrReopened {
		return nil, fmt.Errorf("remote: request %s, signer %d: %w", s.id, s.k, ErrStepReopened)
	}
	if err != nil {
		return nil, err
	}
	if s.onSent != nil {
		s.onSent(sent)
	}
	for {
		st, err := s.client.Request(ctx, s.id)
		if err != nil {
			return nil, err
		}
		sg := st.Signers[s.k-1]
		switch sg.State {
		case csc.StepSigned:
			return s.verify(sg)
		case csc.StepPending:
			if c, err := parseChain(sg.Certificates); err != nil || !c[0].Equal(s.chain[0]) {
				return nil, fmt.Errorf("remote: request %s, signer %d: %w", s.id, s.k, ErrStepReopened)
			}
		case csc.StepReady:
			return nil, fmt.Errorf("remote: request %s, signer %d: %w", s.id, s.k, ErrStepReopened)
		default:
			return nil, fmt.Errorf("remote: request %s, signer %d (%s): %w: the step is %s, the request %s", s.id, s.k, sg.Name, ErrRequestEnded, sg.State, st.State)
		}
		t := time.NewTimer(s.poll)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("remote: waiting for signer %d of request %s: %w", s.k, s.id, ctx.Err())
		case <-t.C:
		}
	}
}

// verify checks the step's signatures against the hashes sent.
func (s *Step) verify(sg csc.SignerStatus) ([][]byte, error) {
	if len(sg.Signatures) != len(s.docs) {
		return nil, fmt.Errorf("remote: request %s, signer %d: %d signatures for %d documents", s.id, s.k, len(sg.Signatures), len(s.docs))
	}
	out := make([][]byte, len(s.docs))
	for i, b := range sg.Signatures {
		sig, err := base64.StdEncoding.DecodeString(b)
		if err != nil {
			return nil, fmt.Errorf("remote: request %s, signer %d: signature %d is not base64", s.id, s.k, i)
		}
		if out[i], err = verify(s.chain[0], s.digests[i], sig, s.opts); err != nil {
			return nil, fmt.Errorf("remote: request %s, signer %d, document %q: %w: %v", s.id, s.k, s.docs[i], ErrBadSignature, err)
		}
	}
	return out, nil
}
