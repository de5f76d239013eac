package ltv

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"unicode"
)

// do sends req with client and returns the body of its response, which
// must have the status 200, at most limit bytes and, when mediaTypes is not
// empty, one of mediaTypes as Content-Type. Errors do not name the URL; the
// callers do.
func do(client *http.Client, req *http.Request, limit int64, mediaTypes ...string) ([]byte, error) {
	resp, err := client.Do(req)
	if err != nil {
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err // the callers name the URL
		}
		return nil, fmt.Errorf("%s: %w", req.Method, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: HTTP status %s%s", req.Method, resp.Status, bodySnippet(resp))
	}
	if len(mediaTypes) > 0 {
		if err := checkMediaType(resp, mediaTypes...); err != nil {
			return nil, fmt.Errorf("%s: %w", req.Method, err)
		}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s: reading the response: %w", req.Method, err)
	}
	if int64(len(body)) > limit {
		return nil, fmt.Errorf("%s: response larger than %d bytes", req.Method, limit)
	}
	return body, nil
}

// bodySnippet returns the start of a textual error response, prefixed by
// ": ", or "" when the response is not text.
func bodySnippet(resp *http.Response) string {
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if !strings.HasPrefix(mt, "text/") {
		return ""
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
	s := strings.TrimSpace(strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return ' '
	}, string(b)))
	if s == "" {
		return ""
	}
	return fmt.Sprintf(" (%q)", s)
}

// isDialError reports whether err means that no connection could be made,
// so that asking the same server again is pointless.
func isDialError(err error) bool {
	if oe, ok := errors.AsType[*net.OpError](err); ok && oe.Op == "dial" {
		return true
	}
	_, ok := errors.AsType[*net.DNSError](err)
	return ok
}

// failures is an error made of several failed attempts.
type failures struct {
	what string
	errs []error
}

func (e *failures) Error() string {
	var b strings.Builder
	b.WriteString("ltv: ")
	b.WriteString(e.what)
	for i, err := range e.errs {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(err.Error())
	}
	return b.String()
}

func (e *failures) Unwrap() []error { return e.errs }
