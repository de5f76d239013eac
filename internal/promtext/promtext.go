// Package promtext writes metrics in the Prometheus text exposition format
// (version 0.0.4), for the /metrics endpoints of hashsvc and of the
// signing gateway of `pades serve`.
package promtext

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// ContentType is the Content-Type of the format.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// LatencyBuckets are the upper bounds, in seconds, of request latency
// histograms.
var LatencyBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300}

// Header writes the HELP and TYPE lines of a metric.
func Header(b *strings.Builder, name, typ, help string) {
	fmt.Fprintf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
}

// Quote returns a label value in double quotes, escaped.
func Quote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}

// Labels returns the label set of the name, value pairs kv, such as
// `route="/v1/sign",code="200"`.
func Labels(kv ...string) string {
	var b strings.Builder
	for i := 0; i+1 < len(kv); i += 2 {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(kv[i] + "=" + Quote(kv[i+1]))
	}
	return b.String()
}

// Counters are the series of one counter, by label set (see Labels). They
// are not safe for concurrent use.
type Counters map[string]uint64

// Write writes the series of the counter name, sorted by label set.
func (c Counters) Write(b *strings.Builder, name string) {
	for _, k := range slices.Sorted(maps.Keys(c)) {
		if k == "" {
			fmt.Fprintf(b, "%s %d\n", name, c[k])
			continue
		}
		fmt.Fprintf(b, "%s{%s} %d\n", name, k, c[k])
	}
}

// Histogram counts observations in buckets. It is not safe for concurrent
// use.
type Histogram struct {
	buckets []float64 // upper bounds, ascending
	counts  []uint64  // per bucket, not cumulative; the last is +Inf
	sum     float64
	count   uint64
}

// NewHistogram returns a histogram with the given ascending upper bounds.
func NewHistogram(buckets []float64) *Histogram {
	return &Histogram{buckets: buckets, counts: make([]uint64, len(buckets)+1)}
}

// Observe counts v.
func (h *Histogram) Observe(v float64) {
	i, _ := slices.BinarySearch(h.buckets, v)
	h.counts[i]++
	h.sum += v
	h.count++
}

// Write writes the series of the histogram name with the label set labels
// (see Labels; may be empty).
func (h *Histogram) Write(b *strings.Builder, name, labels string) {
	sep := ""
	if labels != "" {
		sep = ","
	}
	var cum uint64
	for i, ub := range h.buckets {
		cum += h.counts[i]
		fmt.Fprintf(b, "%s_bucket{%s%sle=\"%s\"} %d\n", name, labels, sep, strconv.FormatFloat(ub, 'g', -1, 64), cum)
	}
	cum += h.counts[len(h.buckets)]
	fmt.Fprintf(b, "%s_bucket{%s%sle=\"+Inf\"} %d\n", name, labels, sep, cum)
	if labels != "" {
		labels = "{" + labels + "}"
	}
	fmt.Fprintf(b, "%s_sum%s %s\n", name, labels, strconv.FormatFloat(h.sum, 'g', -1, 64))
	fmt.Fprintf(b, "%s_count%s %d\n", name, labels, h.count)
}
