package gateway

import (
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"hashsign/internal/promtext"
	"hashsign/pades/batch"
)

// metrics holds the gateway's counters; write gives them in the Prometheus
// text format.
type metrics struct {
	mu        sync.Mutex
	requests  promtext.Counters // route, code
	latency   map[string]*promtext.Histogram
	documents promtext.Counters // source (sign, batch), status
	bytes     promtext.Counters // source, direction (in, out)
	callbacks promtext.Counters // result
}

func newMetrics() *metrics {
	return &metrics{requests: promtext.Counters{}, latency: map[string]*promtext.Histogram{},
		documents: promtext.Counters{}, bytes: promtext.Counters{}, callbacks: promtext.Counters{}}
}

func (m *metrics) request(route string, code int, d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests[promtext.Labels("route", route, "code", strconv.Itoa(code))]++
	h := m.latency[route]
	if h == nil {
		h = promtext.NewHistogram(promtext.LatencyBuckets)
		m.latency[route] = h
	}
	h.Observe(d.Seconds())
}

// document counts what became of a document of source (sign or batch).
func (m *metrics) document(source string, r batch.Result) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.documents[promtext.Labels("source", source, "status", string(r.Status))]++
	if r.Status == batch.Signed {
		m.bytes[promtext.Labels("source", source, "direction", "in")] += uint64(r.Bytes)
		m.bytes[promtext.Labels("source", source, "direction", "out")] += uint64(r.Size)
	}
}

func (m *metrics) callback(result string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.callbacks[promtext.Labels("result", result)]++
}

// write answers the metrics, with the gauges of the documents being
// signed by /v1/sign and of the batches running.
func (m *metrics) write(w http.ResponseWriter, signing, batches int) {
	m.mu.Lock()
	var b strings.Builder
	promtext.Header(&b, "pades_gateway_requests_total", "counter", "HTTP requests by route and status code.")
	m.requests.Write(&b, "pades_gateway_requests_total")
	promtext.Header(&b, "pades_gateway_request_duration_seconds", "histogram", "Request latency by route, uploads and answers included.")
	for _, route := range sortedKeys(m.latency) {
		m.latency[route].Write(&b, "pades_gateway_request_duration_seconds", promtext.Labels("route", route))
	}
	promtext.Header(&b, "pades_gateway_documents_total", "counter", "Documents by source (sign: /v1/sign; batch: /v1/batches) and status (signed, failed; done: signed by an earlier run of a batch).")
	m.documents.Write(&b, "pades_gateway_documents_total")
	promtext.Header(&b, "pades_gateway_document_bytes_total", "counter", "Bytes of the documents signed, received (in) and signed (out).")
	m.bytes.Write(&b, "pades_gateway_document_bytes_total")
	promtext.Header(&b, "pades_gateway_callbacks_total", "counter", "Posts to batch callback URLs by result: delivered, retry (to be tried again), failed (given up).")
	m.callbacks.Write(&b, "pades_gateway_callbacks_total")
	m.mu.Unlock()
	promtext.Header(&b, "pades_gateway_signing", "gauge", "Documents of /v1/sign being received, signed or sent.")
	b.WriteString("pades_gateway_signing " + strconv.Itoa(signing) + "\n")
	promtext.Header(&b, "pades_gateway_batches_running", "gauge", "Batches running.")
	b.WriteString("pades_gateway_batches_running " + strconv.Itoa(batches) + "\n")
	w.Header().Set("Content-Type", promtext.ContentType)
	io.WriteString(w, b.String())
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
