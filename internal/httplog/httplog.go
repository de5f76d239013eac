// Package httplog holds what the HTTP services of hashsign (hashsvc and
// the signing gateway of `pades serve`) share around their handlers: the
// request ID, the status code a handler answered, and the structured log
// line of each request.
package httplog

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"time"
)

// RequestIDHeader carries the ID of a request, in both directions.
const RequestIDHeader = "X-Request-Id"

// requestIDPattern limits the request IDs accepted from callers, which go
// into logs.
var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// RequestID returns the ID of r: the caller's X-Request-Id when it is 1 to
// 64 characters of [A-Za-z0-9._-], else a new random one of 96 bits.
func RequestID(r *http.Request) string {
	if id := r.Header.Get(RequestIDHeader); requestIDPattern.MatchString(id) {
		return id
	}
	return NewID()
}

// NewID returns a new random identifier of 96 bits, in hex.
func NewID() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// StatusWriter records the status code of an answer. It keeps the
// ReaderFrom of the ResponseWriter it wraps.
type StatusWriter struct {
	http.ResponseWriter
	// Code is the status code sent, 0 while nothing has been.
	Code int
}

// WriteHeader records code and sends it.
func (w *StatusWriter) WriteHeader(code int) {
	if w.Code == 0 {
		w.Code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write sends b, after a 200 status when none was sent.
func (w *StatusWriter) Write(b []byte) (int, error) {
	if w.Code == 0 {
		w.Code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// ReadFrom sends what r holds, through the connection's ReadFrom when it
// has one.
func (w *StatusWriter) ReadFrom(r io.Reader) (int64, error) {
	if w.Code == 0 {
		w.Code = http.StatusOK
	}
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{w.ResponseWriter}, r)
}

// Unwrap returns the ResponseWriter, for http.ResponseController.
func (w *StatusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Route returns the pattern of the route that served r, or "other" when
// none did (the catch-all "/" included), for metrics labels.
func Route(r *http.Request) string {
	if r.Pattern == "" || r.Pattern == "/" {
		return "other"
	}
	return r.Pattern
}

// Log writes the line "request" of a request that ended with status code
// after d: at level error for 5xx, warn for 4xx, info otherwise, with the
// attributes request_id, method, path, status, duration and remote, then
// attrs. It never logs headers or bodies.
func Log(ctx context.Context, log *slog.Logger, r *http.Request, id string, code int, d time.Duration, attrs ...any) {
	level := slog.LevelInfo
	if code >= 500 {
		level = slog.LevelError
	} else if code >= 400 {
		level = slog.LevelWarn
	}
	all := append([]any{"request_id", id, "method", r.Method, "path", r.URL.Path, "status", code, "duration", d, "remote", r.RemoteAddr}, attrs...)
	log.Log(context.WithoutCancel(ctx), level, "request", all...)
}

// NewLogger returns the logger of a service's -log-format (json or text)
// and -log-level (debug, info, warn or error) flags, writing to w.
// Durations are written as Go durations ("1.5ms"), not as the nanosecond
// counts that the JSON handler writes.
func NewLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("-log-level %q: use debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv, ReplaceAttr: durationText}
	switch format {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("-log-format %q: use json or text", format)
}

func durationText(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		a.Value = slog.StringValue(a.Value.Duration().String())
	}
	return a
}
