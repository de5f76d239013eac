package hashsvc

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"hashsign/csc"
	"hashsign/pades/verify"
)

// PathVerify is the endpoint that validates the signatures of a PDF sent
// in the request body.
const PathVerify = "/v1/verify"

// DefaultMaxVerifyBytes is the largest PDF that POST /v1/verify takes when
// verify.max_body_bytes is not set.
const DefaultMaxVerifyBytes = 64 << 20

// VerifyConfig configures POST /v1/verify.
type VerifyConfig struct {
	// MaxBodyBytes is the largest PDF accepted (default
	// DefaultMaxVerifyBytes). The body is streamed to a temporary file,
	// never held in memory.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// Trust lists PEM files of trust anchors.
	Trust []string `yaml:"trust"`
	// SystemRoots trusts the system's root certificates too.
	SystemRoots bool `yaml:"system_roots"`
	// Online allows fetching OCSP responses and CRLs that a file lacks.
	Online bool `yaml:"online"`
	// TempDir holds the bodies while they are verified (default: the
	// system's temporary directory).
	TempDir string `yaml:"temp_dir"`
}

// handleVerify validates the signatures of the PDF in the request body
// (application/pdf) and answers the report of `pades verify -json`. The
// query parameter at sets the validation time (RFC 3339); the header
// X-PDF-Password opens an encrypted file.
func (s *Server) handleVerify(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.admitPost(w, r, true); !ok {
		return
	}
	rep, apiErr := s.verify(w, r)
	if apiErr != nil {
		writeError(w, r, apiErr)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ") // as pades verify -json
	enc.Encode(rep)
}

// verify streams the body to a temporary file and validates it.
func (s *Server) verify(w http.ResponseWriter, r *http.Request) (*verify.Report, *apiError) {
	vc := s.cfg.Verify
	limit := vc.MaxBodyBytes
	if limit <= 0 {
		limit = DefaultMaxVerifyBytes
	}
	tooLarge := &apiError{http.StatusRequestEntityTooLarge, csc.ErrTooLarge, fmt.Sprintf("the PDF exceeds %d bytes", limit)}
	if r.ContentLength > limit {
		return nil, tooLarge
	}
	opts := &verify.Options{SystemRoots: vc.SystemRoots, Online: vc.Online, HTTP: s.trustHTTP, Password: []byte(r.Header.Get("X-PDF-Password"))}
	if at := r.URL.Query().Get("at"); at != "" {
		t, err := time.Parse(time.RFC3339, at)
		if err != nil {
			return nil, badRequest("at %q is not an RFC 3339 time", at)
		}
		opts.At = t
	}
	for _, path := range vc.Trust {
		certs, err := LoadCertificates(s.cfg.path(path))
		if err != nil {
			s.log.Error("verify.trust cannot be read", "path", path, "error", err.Error())
			return nil, &apiError{http.StatusInternalServerError, csc.ErrServer, "the trust anchors cannot be read"}
		}
		opts.Anchors = append(opts.Anchors, certs...)
	}
	f, err := os.CreateTemp(vc.TempDir, "hashsvc-verify-*.pdf")
	if err != nil {
		s.log.Error("creating the temporary file for /v1/verify", "error", err.Error())
		return nil, &apiError{http.StatusInternalServerError, csc.ErrServer, "no room for the PDF"}
	}
	defer os.Remove(f.Name())
	defer f.Close()
	size, err := io.Copy(f, http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, tooLarge
		}
		return nil, badRequest("reading the PDF: %v", err)
	}
	rep, err := verify.Document(r.Context(), f, size, opts)
	if err != nil {
		return nil, badRequest("%v", err)
	}
	return rep, nil
}
