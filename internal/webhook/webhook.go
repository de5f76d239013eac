// Package webhook signs and posts the JSON events that services send to
// their clients' URLs: hashsvc's signature-request events and SMS gateway
// posts, and the batch callbacks of `pades serve`.
//
// A post carries its signature in a header (its name is the service's) of
// the form "t=UNIX,v1=HEX": HEX is the HMAC-SHA256, with the shared secret,
// of the decimal UNIX time, a dot, and the body. The receiver recomputes it
// (Verify) and refuses a time too far from its own clock, so that a post
// seen once cannot be played again later.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Sign returns the signature header value of body sent at t.
func Sign(secret []byte, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret []byte, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts + "."))
	m.Write(body)
	return m.Sum(nil)
}

// ErrSignature reports a signature header that does not match the body.
var ErrSignature = errors.New("webhook: the signature does not match")

// Verify checks the signature header value sig of body, and that its time
// is within tolerance of now. It returns the time the post was signed.
func Verify(secret []byte, sig string, body []byte, now time.Time, tolerance time.Duration) (time.Time, error) {
	var ts, v1 string
	for part := range strings.SplitSeq(sig, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			v1 = v
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || strconv.FormatInt(sec, 10) != ts {
		return time.Time{}, fmt.Errorf("webhook: no time in the signature %q", sig)
	}
	// only the form Sign writes: lower-case hex, as the receivers' own
	// code in README compares it
	if !hmac.Equal([]byte(v1), []byte(hex.EncodeToString(mac(secret, ts, body)))) {
		return time.Time{}, ErrSignature
	}
	t := time.Unix(sec, 0)
	if d := now.Sub(t); d > tolerance || d < -tolerance {
		return t, fmt.Errorf("webhook: signed at %v, more than %v from now", t.UTC(), tolerance)
	}
	return t, nil
}

// Post sends body as JSON to url with the headers h, and succeeds when the
// receiver answers 2xx. It reads at most 64 KiB of the answer.
func Post(ctx context.Context, client *http.Client, url string, h http.Header, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	for k, vs := range h {
		req.Header[k] = vs
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("answered %s", resp.Status)
	}
	return nil
}
