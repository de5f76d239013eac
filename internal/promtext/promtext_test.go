package promtext_test

import (
	"strings"
	"testing"

	"hashsign/internal/promtext"
)

func TestWrite(t *testing.T) {
	var b strings.Builder
	promtext.Header(&b, "x_total", "counter", "Things.")
	c := promtext.Counters{}
	c[promtext.Labels("route", "/v1/sign", "code", "200")] += 2
	c[promtext.Labels("route", `a"b`+"\n", "code", "500")]++
	c.Write(&b, "x_total")
	h := promtext.NewHistogram([]float64{0.1, 1})
	for _, v := range []float64{0.05, 0.1, 0.5, 3} {
		h.Observe(v)
	}
	h.Write(&b, "x_seconds", promtext.Labels("route", "r"))
	promtext.NewHistogram([]float64{1}).Write(&b, "y_seconds", "")
	want := `# HELP x_total Things.
# TYPE x_total counter
x_total{route="/v1/sign",code="200"} 2
x_total{route="a\"b\n",code="500"} 1
x_seconds_bucket{route="r",le="0.1"} 2
x_seconds_bucket{route="r",le="1"} 3
x_seconds_bucket{route="r",le="+Inf"} 4
x_seconds_sum{route="r"} 3.65
x_seconds_count{route="r"} 4
y_seconds_bucket{le="1"} 0
y_seconds_bucket{le="+Inf"} 0
y_seconds_sum 0
y_seconds_count 0
`
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}
