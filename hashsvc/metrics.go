package hashsvc

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"hashsign/internal/promtext"
)

// latencyBuckets are the upper bounds, in seconds, of the request latency
// histogram.
var latencyBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// metrics holds the service's counters and writes them in the Prometheus
// text exposition format (version 0.0.4).
type metrics struct {
	mu         sync.Mutex
	requests   map[[2]string]uint64 // route, code
	signatures map[[2]string]uint64 // credential, operation
	errors     map[[2]string]uint64 // route, CSC error code
	latency    map[string]*promtext.Histogram
	auditFails uint64
	inFlight   int64
	codes      map[[2]string]uint64 // channel, result (consentmetrics.go)
	consent    map[[2]string]uint64 // object (sad, onetime), event
	workflow   workflowMetrics      // signature requests and webhooks (requestmetrics.go)
}

func newMetrics() *metrics {
	return &metrics{
		requests:   map[[2]string]uint64{},
		signatures: map[[2]string]uint64{},
		errors:     map[[2]string]uint64{},
		latency:    map[string]*promtext.Histogram{},
		codes:      map[[2]string]uint64{},
		consent:    map[[2]string]uint64{},
	}
}

func (m *metrics) begin() {
	m.mu.Lock()
	m.inFlight++
	m.mu.Unlock()
}

func (m *metrics) observe(route string, code int, d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.inFlight--
	m.requests[[2]string{route, strconv.Itoa(code)}]++
	h := m.latency[route]
	if h == nil {
		h = promtext.NewHistogram(latencyBuckets)
		m.latency[route] = h
	}
	h.Observe(d.Seconds())
}

func (m *metrics) signed(credential, operation string, n int) {
	m.mu.Lock()
	m.signatures[[2]string{credential, operation}] += uint64(n)
	m.mu.Unlock()
}

func (m *metrics) failed(route, code string) {
	m.mu.Lock()
	m.errors[[2]string{route, code}]++
	m.mu.Unlock()
}

func (m *metrics) auditFailed() {
	m.mu.Lock()
	m.auditFails++
	m.mu.Unlock()
}

// ServeHTTP writes the metrics.
func (m *metrics) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", promtext.ContentType)
	m.write(w)
}

func (m *metrics) write(w io.Writer) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var b strings.Builder
	header := func(name, typ, help string) {
		promtext.Header(&b, name, typ, help)
	}
	pairs := func(name string, mm map[[2]string]uint64, l1, l2 string) {
		keys := make([][2]string, 0, len(mm))
		for k := range mm {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, func(a, b [2]string) int {
			return strings.Compare(a[0]+"\x00"+a[1], b[0]+"\x00"+b[1])
		})
		for _, k := range keys {
			fmt.Fprintf(&b, "%s{%s=%s,%s=%s} %d\n", name, l1, quote(k[0]), l2, quote(k[1]), mm[k])
		}
	}
	header("hashsvc_requests_total", "counter", "HTTP requests by route and status code.")
	pairs("hashsvc_requests_total", m.requests, "route", "code")
	header("hashsvc_signatures_total", "counter", "Signatures made (and recorded in the audit log) by credential and operation.")
	pairs("hashsvc_signatures_total", m.signatures, "credential", "operation")
	header("hashsvc_errors_total", "counter", "Error responses by route and CSC error code.")
	pairs("hashsvc_errors_total", m.errors, "route", "error")
	header("hashsvc_codes_total", "counter", "One-time codes and PINs by channel and result: sent, undelivered, verified, failed (wrong), locked (the wrong answer that locked the signer out), refused (while locked out).")
	pairs("hashsvc_codes_total", m.codes, "channel", "result")
	header("hashsvc_consent_total", "counter", "SADs (issued, used, refused) and one-time credentials (issued, destroyed).")
	pairs("hashsvc_consent_total", m.consent, "object", "event")
	m.workflow.write(&b)
	header("hashsvc_audit_failures_total", "counter", "Audit log appends that failed; no signature was returned for them.")
	fmt.Fprintf(&b, "hashsvc_audit_failures_total %d\n", m.auditFails)
	header("hashsvc_requests_in_flight", "gauge", "Requests being handled.")
	fmt.Fprintf(&b, "hashsvc_requests_in_flight %d\n", m.inFlight)
	header("hashsvc_request_duration_seconds", "histogram", "Request latency by route.")
	routes := make([]string, 0, len(m.latency))
	for r := range m.latency {
		routes = append(routes, r)
	}
	slices.Sort(routes)
	for _, route := range routes {
		m.latency[route].Write(&b, "hashsvc_request_duration_seconds", promtext.Labels("route", route))
	}
	io.WriteString(w, b.String())
}

// quote returns a Prometheus label value in double quotes.
func quote(s string) string { return promtext.Quote(s) }
