package httplog

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestRequestID(t *testing.T) {
	for _, tc := range []struct {
		header string
		keep   bool
	}{
		{"erp-42.a_b", true},
		{strings.Repeat("a", 64), true},
		{"", false},
		{strings.Repeat("a", 65), false},
		{"with space", false},
		{"new\nline", false},
	} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header[RequestIDHeader] = []string{tc.header}
		got := RequestID(r)
		if (got == tc.header) != tc.keep || !requestIDPattern.MatchString(got) {
			t.Errorf("RequestID(%q) = %q; keep %v", tc.header, got, tc.keep)
		}
	}
}

// TestLog: the level follows the status, and durations are text.
func TestLog(t *testing.T) {
	for _, tc := range []struct {
		code  int
		level string
	}{{200, "INFO"}, {404, "WARN"}, {503, "ERROR"}} {
		var buf bytes.Buffer
		log, err := NewLogger(&buf, "json", "info")
		if err != nil {
			t.Fatal(err)
		}
		r := httptest.NewRequest(http.MethodPost, "/v1/sign", nil)
		Log(r.Context(), log, r, "id1", tc.code, 1500*time.Microsecond, "key_id", "k")
		var line map[string]any
		if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
			t.Fatal(err)
		}
		if line["level"] != tc.level || line["msg"] != "request" || line["duration"] != "1.5ms" || line["status"] != float64(tc.code) || line["key_id"] != "k" || line["request_id"] != "id1" {
			t.Errorf("status %d: %v", tc.code, line)
		}
	}
	for _, bad := range [][2]string{{"xml", "info"}, {"json", "loud"}} {
		if _, err := NewLogger(&bytes.Buffer{}, bad[0], bad[1]); err == nil {
			t.Errorf("NewLogger(%q, %q) accepted", bad[0], bad[1])
		}
	}
}

// TestStatusWriter: the status is recorded by WriteHeader, Write and
// ReadFrom, and only the first counts.
func TestStatusWriter(t *testing.T) {
	for _, tc := range []struct {
		name string
		do   func(w *StatusWriter)
		want int
	}{
		{"write", func(w *StatusWriter) { w.Write([]byte("x")) }, 200},
		{"header", func(w *StatusWriter) { w.WriteHeader(413); w.WriteHeader(200) }, 413},
		{"read from", func(w *StatusWriter) { w.ReadFrom(strings.NewReader("abc")) }, 200},
	} {
		rec := httptest.NewRecorder()
		w := &StatusWriter{ResponseWriter: rec}
		tc.do(w)
		if w.Code != tc.want || rec.Code != tc.want {
			t.Errorf("%s: recorded %d, sent %d; want %d", tc.name, w.Code, rec.Code, tc.want)
		}
	}
}
