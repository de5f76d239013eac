package hashsvc

import (
	"fmt"
	"slices"
	"strings"

	"hashsign/internal/promtext"
)

// workflowMetrics counts signature requests and webhook deliveries. The
// metrics' mutex guards it.
type workflowMetrics struct {
	states     map[string]uint64 // request state entered
	deliveries map[string]uint64 // webhook delivery result
}

// requestState counts a request entering state.
func (m *metrics) requestState(state string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.workflow.states == nil {
		m.workflow.states = map[string]uint64{}
	}
	if strings.HasPrefix(state, "waiting-for-signer-") {
		state = "waiting-for-signer" // one series, whatever the step
	}
	m.workflow.states[state]++
}

// delivery counts a webhook delivery attempt's result.
func (m *metrics) delivery(result string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.workflow.deliveries == nil {
		m.workflow.deliveries = map[string]uint64{}
	}
	m.workflow.deliveries[result]++
}

// write writes the workflow metrics; the caller holds the metrics' mutex.
func (w *workflowMetrics) write(b *strings.Builder) {
	one := func(name, typ, help, label string, mm map[string]uint64) {
		promtext.Header(b, name, typ, help)
		keys := make([]string, 0, len(mm))
		for k := range mm {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			fmt.Fprintf(b, "%s{%s=%s} %d\n", name, label, quote(k), mm[k])
		}
	}
	one("hashsvc_signature_requests_total", "counter", "Signature requests entering each state (draft, waiting-for-signer, waiting-for-signers, completed, declined, expired, cancelled).", "state", w.states)
	one("hashsvc_webhook_deliveries_total", "counter", "Webhook delivery attempts by result: delivered, retry (failed, to be tried again), failed (given up).", "result", w.deliveries)
}
