package batch

import (
	"encoding/hex"
	"encoding/json"
	"io"
	"sync"

	"hashsign/pades"
)

// ReportLine is one line of a report: what became of one document.
//
//	{"input":"in/a.pdf","output":"out/a.pdf","status":"signed","bytes":1048576,"size":1062913,"ms":4.2,
//	 "field":"Signature1","level":"B-B","hash":"sha256","digest":"9f86d0..."}
//	{"input":"in/b.pdf","output":"out/b.pdf","status":"failed","error":"...","bytes":0,"size":0,"ms":0.3}
//
// status is signed, failed or done (signed by an earlier run, as the
// journal says: then bytes and ms are zero and the signature's fields are
// those the journal recorded). bytes is the size of the input, size that
// of the signed file, ms the time the document took in milliseconds, and
// digest the hex digest with hash of the signature's byte range (its
// message-digest attribute).
type ReportLine struct {
	Input  string  `json:"input"`
	Output string  `json:"output"`
	Status Status  `json:"status"`
	Error  string  `json:"error,omitempty"`
	Bytes  int64   `json:"bytes"`
	Size   int64   `json:"size"`
	MS     float64 `json:"ms"`
	Field  string  `json:"field,omitempty"`
	Level  string  `json:"level,omitempty"`
	Hash   string  `json:"hash,omitempty"`
	Digest string  `json:"digest,omitempty"`
}

// Line returns the report line of r.
func (r *Result) Line() ReportLine {
	l := ReportLine{
		Input: r.Job.In, Output: r.Job.Out, Status: r.Status, Bytes: r.Bytes, Size: r.Size,
		MS: float64(r.Elapsed.Microseconds()) / 1000, Field: r.Field,
	}
	if r.Err != nil {
		l.Error = r.Err.Error()
	}
	if r.Status != Failed {
		l.Level = r.Level.String()
	}
	if r.Hash != 0 && len(r.Digest) > 0 {
		l.Hash, l.Digest = pades.HashName(r.Hash), hex.EncodeToString(r.Digest)
	}
	return l
}

// Report writes a JSON-lines report, one ReportLine per document. It is
// safe for concurrent use.
type Report struct {
	mu  sync.Mutex
	enc *json.Encoder
	err error
}

// NewReport returns a report that writes to w.
func NewReport(w io.Writer) *Report {
	return &Report{enc: json.NewEncoder(w)}
}

// Err returns the first error of any Add.
func (rp *Report) Err() error {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	return rp.err
}

// Add writes the line of r. It returns the first error of any Add.
func (rp *Report) Add(r Result) error {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	if rp.err == nil {
		rp.err = rp.enc.Encode(r.Line())
	}
	return rp.err
}
