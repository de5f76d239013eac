package remote

// Waiting returns the number of calls that wait for their batch to be
// sent, for tests that must act while a call waits.
func (b *Batcher) Waiting() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.waiting)
}
