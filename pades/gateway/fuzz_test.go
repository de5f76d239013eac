package gateway_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"testing"

	"hashsign/pades/gateway"
)

// FuzzBatchRequest posts fuzzed bodies, query strings and an option
// header to /v1/batches, with storage roots that hold no document: every
// answer is a JSON error of status 400 to 429 (or 202 for a batch that
// was valid), never a panic or a 5xx.
func FuzzBatchRequest(f *testing.F) {
	storage := f.TempDir()
	e := newEnv(f, setup{edit: func(c *gateway.Config) {
		c.Storage.Roots = []string{storage}
	}})
	h := e.srv.Handler()
	out := filepath.Join(storage, "out")
	good, _ := json.Marshal(gateway.BatchRequest{Dir: storage, Out: out})
	f.Add(good, "level=B-B&reason=r", "Seal")
	f.Add([]byte(`{"documents":[{"in":"/etc/passwd","out":"../x"}],"out":"/"}`), "page=0", "")
	f.Add([]byte(`{"dir":"`+storage+`","out":"`+out+`","callback":"http://127.0.0.1:1/"}`), "hash=md5", "x\x00y")
	f.Add([]byte(`[]`), "%zz", "")
	f.Add([]byte(`{"out": 1}`), "", "")
	f.Fuzz(func(t *testing.T, body []byte, query, field string) {
		req := httptest.NewRequest(http.MethodPost, gateway.PathBatches, bytes.NewReader(body))
		req.URL.RawQuery = query
		if _, err := url.ParseQuery(query); err != nil {
			req.URL.RawQuery = url.QueryEscape(query)
		}
		req.Header.Set("Authorization", "Bearer "+e.keys[keyBatch])
		req.Header.Set("Pades-Field", field)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code == http.StatusAccepted {
			return
		}
		var eb gateway.ErrorBody
		if rec.Code < 400 || rec.Code >= 500 || json.Unmarshal(rec.Body.Bytes(), &eb) != nil || eb.Error == "" {
			t.Fatalf("status %d, body %q", rec.Code, rec.Body.Bytes())
		}
	})
}
