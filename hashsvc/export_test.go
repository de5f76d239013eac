package hashsvc

import "time"

// AuditExec runs query on the audit database's connection, for tests that
// put it in a state the service must notice: PRAGMA query_only (a
// read-only database) or PRAGMA max_page_count (a full one).
func AuditExec(a *SQLiteAudit, query string) error {
	_, err := a.db.Exec(query)
	return err
}

// AuditPageCount returns the number of pages of the audit database.
func AuditPageCount(a *SQLiteAudit) (int, error) {
	var n int
	err := a.db.QueryRow(`PRAGMA page_count`).Scan(&n)
	return n, err
}

// RateLimiter is the per-key token bucket, with a clock of the test's.
type RateLimiter struct{ l *rateLimiter }

// NewRateLimiter returns a token bucket per key of burst tokens, refilled
// at rate tokens a second by the clock now.
func NewRateLimiter(rate float64, burst int, now func() time.Time) *RateLimiter {
	return &RateLimiter{newRateLimiter(rate, burst, now)}
}

// Take takes a token of key's bucket.
func (r *RateLimiter) Take(key string) (bool, time.Duration) { return r.l.take(key) }

// SetIdempotencyClock replaces the clock of s's idempotency window.
func SetIdempotencyClock(s *Server, now func() time.Time) {
	s.idem.mu.Lock()
	s.idem.now = now
	s.idem.mu.Unlock()
}

// RecordHash is the hash that chains r to the previous record, for tests
// that edit a record and recompute its own hash.
func RecordHash(r *Record) []byte { return recordHash(r) }
