package hashsvc

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net/http"
	"time"

	"hashsign/csc"
	"hashsign/internal/webhook"
)

// Headers of a request event's post, besides WebhookSignatureHeader.
const (
	WebhookEventHeader    = "Hashsvc-Event"    // the event type
	WebhookDeliveryHeader = "Hashsvc-Delivery" // the event id: the same on every attempt
)

// dispatchWebhooks delivers queued events until the server closes: at
// once when an event is queued, and when the next retry is due. The queue
// is in the database, so that deliveries survive a restart.
func (s *Server) dispatchWebhooks() {
	q := s.reqs
	defer close(q.done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-q.stop
		cancel()
	}()
	for {
		s.DeliverWebhooks(ctx)
		wait := time.Minute
		if next, ok := s.nextDelivery(ctx); ok {
			wait = min(max(next.Sub(s.now()), 100*time.Millisecond), time.Minute)
		}
		t := time.NewTimer(wait)
		select {
		case <-q.stop:
			t.Stop()
			return
		case <-q.kick:
			t.Stop()
		case <-t.C:
		}
	}
}

// nextDelivery returns when the next pending delivery is due.
func (s *Server) nextDelivery(ctx context.Context) (time.Time, bool) {
	var next *int64
	if err := s.consent.db.QueryRowContext(ctx, `SELECT MIN(next_at) FROM webhook_queue WHERE status = 'pending'`).Scan(&next); err != nil || next == nil {
		return time.Time{}, false
	}
	return time.Unix(0, *next), true
}

// pendingDelivery is a queued post.
type pendingDelivery struct {
	id       int64
	request  string
	seq      int
	typ, url string
	body     []byte
	attempts int
	created  int64
}

// DeliverWebhooks makes one pass over the webhook queue: every delivery
// due now (by the server's clock) is attempted, in the order of its
// request's events; a URL's later events wait until its earlier ones are
// delivered or given up. A failed attempt is retried after a backoff that
// doubles from requests.webhooks.min_backoff to max_backoff; after
// give_up the delivery fails for good. Every attempt is audited. It
// returns the number of deliveries made. The server calls it by itself;
// tests that move the clock call it too.
func (s *Server) DeliverWebhooks(ctx context.Context) int {
	q := s.reqs
	q.deliverMu.Lock()
	defer q.deliverMu.Unlock()
	delivered := 0
	for ctx.Err() == nil {
		now := s.now()
		rows, err := s.consent.db.QueryContext(ctx, `SELECT id, request, seq, type, url, body, attempts, created FROM webhook_queue w
			WHERE status = 'pending' AND next_at <= ? AND NOT EXISTS (
				SELECT 1 FROM webhook_queue p WHERE p.request = w.request AND p.url = w.url AND p.status = 'pending' AND p.seq < w.seq)
			ORDER BY id LIMIT 64`, now.UnixNano())
		if err != nil {
			s.log.Error("webhook queue", "err", err)
			return delivered
		}
		var due []pendingDelivery
		for rows.Next() {
			var d pendingDelivery
			if err := rows.Scan(&d.id, &d.request, &d.seq, &d.typ, &d.url, &d.body, &d.attempts, &d.created); err == nil {
				due = append(due, d)
			}
		}
		rows.Close()
		if len(due) == 0 {
			return delivered
		}
		progress := false
		for _, d := range due {
			if s.deliver(ctx, d) {
				delivered++
				progress = true
			}
		}
		if !progress {
			return delivered
		}
	}
	return delivered
}

// deliver makes one attempt of d and records its outcome; it reports
// whether d was delivered.
func (s *Server) deliver(ctx context.Context, d pendingDelivery) bool {
	cfg := &s.cfg.Requests.Webhooks
	now := s.now()
	err := s.postEvent(ctx, d, now)
	d.attempts++
	sum := sha256.Sum256(d.body)
	rec := Record{Time: now, RequestID: d.request, Credential: d.url, Operation: "webhook.delivered", Hash: sum[:]}
	if err == nil {
		s.consent.db.ExecContext(context.WithoutCancel(ctx), `UPDATE webhook_queue SET status = 'delivered', attempts = ?, delivered = ?, last_error = '' WHERE id = ?`, d.attempts, now.UnixNano(), d.id)
		s.metrics.delivery("delivered")
		s.auditEvent(ctx, rec)
		return true
	}
	backoff := cfg.MinBackoff << min(d.attempts-1, 30)
	if backoff <= 0 || backoff > cfg.MaxBackoff {
		backoff = cfg.MaxBackoff
	}
	next := now.Add(backoff)
	status, result := "pending", "retry"
	if next.Sub(time.Unix(0, d.created)) > cfg.GiveUp {
		status, result = "failed", "failed"
	}
	s.consent.db.ExecContext(context.WithoutCancel(ctx), `UPDATE webhook_queue SET status = ?, attempts = ?, next_at = ?, last_error = ? WHERE id = ?`,
		status, d.attempts, next.UnixNano(), err.Error(), d.id)
	s.metrics.delivery(result)
	rec.Operation = "webhook." + result
	s.auditEvent(ctx, rec)
	s.log.Warn("webhook delivery failed", "request", d.request, "event", d.seq, "url", d.url, "attempt", d.attempts, "status", status, "err", err)
	return false
}

// postEvent sends one attempt of d, signed at now.
func (s *Server) postEvent(ctx context.Context, d pendingDelivery, now time.Time) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Requests.Webhooks.Timeout)
	defer cancel()
	h := http.Header{}
	h.Set(WebhookSignatureHeader, SignWebhook(s.reqs.webhookSecret, now, d.body))
	h.Set(WebhookEventHeader, d.typ)
	h.Set(WebhookDeliveryHeader, fmt.Sprintf("%s.%d", d.request, d.seq))
	return webhook.Post(ctx, s.reqs.webhookHTTP, d.url, h, d.body)
}

// Deliveries lists the webhook deliveries of request id of API key keyID.
func (s *Server) Deliveries(ctx context.Context, keyID, id string) ([]csc.Delivery, error) {
	if _, err := s.load(ctx, id, keyID); err != nil {
		return nil, err
	}
	rows, err := s.consent.db.QueryContext(ctx, `SELECT seq, type, url, status, attempts, next_at, delivered, last_error FROM webhook_queue WHERE request = ? ORDER BY seq, id`, id)
	if err != nil {
		return nil, fmt.Errorf("deliveries of %s: %w", id, err)
	}
	defer rows.Close()
	out := []csc.Delivery{}
	for rows.Next() {
		var (
			d               csc.Delivery
			next, delivered int64
		)
		if err := rows.Scan(&d.Seq, &d.Event, &d.URL, &d.Status, &d.Attempts, &next, &delivered, &d.LastError); err != nil {
			return nil, err
		}
		if d.Status == "pending" {
			d.Next = time.Unix(0, next).UTC()
		}
		if delivered != 0 {
			d.Delivered = time.Unix(0, delivered).UTC()
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// deliveryCounts counts the deliveries of request id by status.
func (s *Server) deliveryCounts(ctx context.Context, id string) map[string]int {
	rows, err := s.consent.db.QueryContext(ctx, `SELECT status, COUNT(*) FROM webhook_queue WHERE request = ? GROUP BY status`, id)
	if err != nil {
		return nil
	}
	defer rows.Close()
	var out map[string]int
	for rows.Next() {
		var (
			st string
			n  int
		)
		if rows.Scan(&st, &n) == nil {
			if out == nil {
				out = map[string]int{}
			}
			out[st] = n
		}
	}
	return out
}
