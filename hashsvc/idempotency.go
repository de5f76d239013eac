package hashsvc

import (
	"bytes"
	"container/list"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"hashsign/csc"
)

// IdempotencyKeyHeader is the request header that makes a signing request
// idempotent: a request repeated with the same key, by the same API key,
// within Limits.IdempotencyWindow gets the first answer again instead of
// new signatures. The remote client sends one per call, the same on every
// retry.
const IdempotencyKeyHeader = "Idempotency-Key"

// ReplayedHeader is set to "true" on an answer that repeats the first
// answer to an idempotency key.
const ReplayedHeader = "Idempotent-Replayed"

// maxIdempotencyKey bounds the length of an idempotency key.
const maxIdempotencyKey = 128

// idemCache keeps the successful answers to signing requests by API key,
// endpoint and idempotency key, for a window, within a memory bound.
type idemCache struct {
	window   time.Duration
	maxBytes int
	now      func() time.Time

	mu    sync.Mutex
	m     map[idemKey]*idemEntry
	order *list.List // of idemKey, oldest first
	bytes int
}

type idemKey struct{ apiKey, path, key string }

// idemEntry is a request with an idempotency key: in progress until done
// is closed, then answered with resp.
type idemEntry struct {
	body    [32]byte // SHA-256 of the request body
	done    chan struct{}
	resp    any
	size    int
	expires time.Time
	elem    *list.Element // in order, once answered
}

func newIdemCache(window time.Duration, maxBytes int, now func() time.Time) *idemCache {
	return &idemCache{window: window, maxBytes: maxBytes, now: now, m: map[idemKey]*idemEntry{}, order: list.New()}
}

// idempotent wraps a signing endpoint: a request with an Idempotency-Key
// that was answered successfully within the window gets the same answer,
// without signing again; one that is in progress is waited for. Failed
// requests are not kept, so their retries run again. A key reused with
// another request body is refused (422).
func (s *Server) idempotent(h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, key *apiKey) (any, *apiError) {
		ik := r.Header.Get(IdempotencyKeyHeader)
		if ik == "" {
			return h(w, r, key)
		}
		if len(ik) > maxIdempotencyKey || !printableASCII(ik) {
			return nil, badRequest("%s must be 1 to %d printable ASCII characters", IdempotencyKeyHeader, maxIdempotencyKey)
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return nil, &apiError{http.StatusRequestEntityTooLarge, csc.ErrTooLarge,
					fmt.Sprintf("the request body exceeds %d bytes", mbe.Limit)}
			}
			return nil, badRequest("reading the request body: %v", err)
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		k := idemKey{apiKey: key.cfg.ID, path: r.URL.Path, key: ik}
		sum := sha256.Sum256(body)
		for {
			e, first, ae := s.idem.begin(k, sum)
			if ae != nil {
				return nil, ae
			}
			if first {
				resp, ae := h(w, r, key)
				s.idem.finish(k, e, resp, ae == nil)
				return resp, ae
			}
			select {
			case <-e.done:
			case <-r.Context().Done():
				return nil, &apiError{http.StatusServiceUnavailable, csc.ErrUnavailable, "timed out waiting for the first request with this " + IdempotencyKeyHeader}
			}
			if e.resp != nil {
				w.Header().Set(ReplayedHeader, "true")
				return e.resp, nil
			}
			// The first request failed and was forgotten: run this one.
		}
	}
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return s != ""
}

// begin returns the entry of k, and whether the caller is the first with
// it and must run the request. A key known with another body is an error.
func (c *idemCache) begin(k idemKey, body [32]byte) (e *idemEntry, first bool, ae *apiError) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.expire()
	if e := c.m[k]; e != nil {
		if e.body != body {
			return nil, false, &apiError{http.StatusUnprocessableEntity, csc.ErrInvalidRequest,
				"this " + IdempotencyKeyHeader + " was used for another request; use a new key for a new request"}
		}
		return e, false, nil
	}
	e = &idemEntry{body: body, done: make(chan struct{})}
	c.m[k] = e
	return e, true, nil
}

// finish records the answer to the first request of k: kept when ok,
// forgotten otherwise, so that a retry runs again.
func (c *idemCache) finish(k idemKey, e *idemEntry, resp any, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	defer close(e.done)
	if !ok {
		delete(c.m, k)
		return
	}
	data, err := json.Marshal(resp)
	if err != nil || len(data) > c.maxBytes {
		delete(c.m, k)
		return
	}
	e.resp, e.size, e.expires = resp, len(data), c.now().Add(c.window)
	e.elem = c.order.PushBack(k)
	c.bytes += e.size
	for c.bytes > c.maxBytes {
		c.evict(c.order.Front())
	}
}

// expire drops the answers older than the window.
func (c *idemCache) expire() {
	now := c.now()
	for el := c.order.Front(); el != nil && !now.Before(c.m[el.Value.(idemKey)].expires); el = c.order.Front() {
		c.evict(el)
	}
}

func (c *idemCache) evict(el *list.Element) {
	k := el.Value.(idemKey)
	c.bytes -= c.m[k].size
	delete(c.m, k)
	c.order.Remove(el)
}
