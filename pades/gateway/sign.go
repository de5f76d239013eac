package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"os"
	"strings"
	"syscall"
	"time"

	"hashsign/cms"
	"hashsign/pades"
	"hashsign/pades/batch"
	"hashsign/pades/internal/bufpool"
	"hashsign/pades/internal/pdf"
	"hashsign/signer/remote"
)

// Headers of a signed answer.
const (
	HeaderField  = "Pades-Field"  // the name of the field signed
	HeaderLevel  = "Pades-Level"  // the PAdES level reached
	HeaderDigest = "Pades-Digest" // the digest of the signature's byte range: "sha256=HEX"
)

// handleSign signs the PDF of the request body: POST /v1/sign.
func (s *Server) handleSign(w http.ResponseWriter, r *http.Request) {
	if !allowMethods(w, r, http.MethodPost) || s.refuseWhileDraining(w, r) {
		return
	}
	if _, ae := s.authenticate(r, OpSign); ae != nil {
		writeError(w, r, ae)
		return
	}
	opts, password, ae := s.requestOptions(r)
	if ae != nil {
		writeError(w, r, ae)
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); strings.HasPrefix(mt, "multipart/") {
		writeError(w, r, &apiError{http.StatusUnsupportedMediaType, "unsupported_media_type", "send the PDF itself as the request body (Content-Type: application/pdf), not a form"})
		return
	}
	limit := s.cfg.Limits.MaxBodyBytes
	if r.ContentLength > limit {
		writeError(w, r, tooLarge(limit))
		return
	}
	select {
	case s.signing <- struct{}{}:
		defer func() { <-s.signing }()
	default:
		writeError(w, r, &apiError{http.StatusTooManyRequests, "busy", fmt.Sprintf("%d documents are already being signed; retry later", cap(s.signing))})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.Limits.RequestTimeout)
	defer cancel()
	deadline := time.Now().Add(s.cfg.Limits.RequestTimeout)
	rc := http.NewResponseController(w)
	rc.SetReadDeadline(deadline)
	rc.SetWriteDeadline(deadline)

	f, err := s.tempFile()
	if err != nil {
		s.log.Error("creating a temporary file", "err", err)
		writeError(w, r, &apiError{http.StatusInternalServerError, "internal", "no room for the document"})
		return
	}
	defer f.Close()
	// The document is hashed as it arrives, while its bytes are in the
	// cache: signing then hashes only what it appends instead of reading
	// the document again. A buffer larger than io.Copy's 32 KiB takes
	// fewer system calls.
	digest := cms.Options{Hash: opts.Hash}.DigestAlgorithm().New()
	up := bufpool.Get()
	size, err := io.CopyBuffer(io.MultiWriter(f, digest), http.MaxBytesReader(w, r.Body, limit), up[:])
	bufpool.Put(up)
	opts.Prefix = digest
	info(r).bytes = size
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			writeError(w, r, tooLarge(limit))
			return
		}
		if errors.Is(err, syscall.ENOSPC) {
			writeError(w, r, &apiError{http.StatusInsufficientStorage, "no_space", "no room for the document on the gateway's disk"})
			return
		}
		writeError(w, r, badRequest("reading the document: %v", err))
		return
	}
	if size == 0 {
		writeError(w, r, &apiError{http.StatusBadRequest, "bad_pdf", "the body is empty: send the PDF as the request body"})
		return
	}
	res := s.engine.SignFile(ctx, f, size, batch.Job{In: "the document", Options: opts, Password: password})
	s.metrics.document("sign", res)
	if res.Err != nil {
		writeError(w, r, s.classify(r, res.Err))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/pdf")
	h.Set("Content-Length", itoa(res.Size))
	h.Set("Cache-Control", "no-store")
	h.Set(HeaderField, res.Field)
	h.Set(HeaderLevel, res.Level.String())
	h.Set(HeaderDigest, pades.HashName(res.Hash)+"="+fmt.Sprintf("%x", res.Digest))
	w.WriteHeader(http.StatusOK)
	// through one large buffer: the response's own copy takes 32 KiB a
	// system call (and no sendfile: the connection limit's wrapper hides
	// the connection's ReadFrom; on loopback, sendfile cost the gateway
	// 10% more CPU per 1 MiB document than this copy)
	buf := bufpool.Get()
	defer bufpool.Put(buf)
	if _, err := io.CopyBuffer(struct{ io.Writer }{w}, io.NewSectionReader(f, 0, res.Size), buf[:]); err != nil {
		s.log.Warn("sending the signed document", "request_id", info(r).id, "err", err)
	}
}

// tempFile returns a new temporary file for a document, which has no name:
// it disappears when it is closed, or when the gateway is killed.
func (s *Server) tempFile() (*os.File, error) {
	f, err := os.CreateTemp(s.tempDir, "pades-gateway-*.pdf")
	if err != nil {
		return nil, err
	}
	if err := os.Remove(f.Name()); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

func tooLarge(limit int64) *apiError {
	return &apiError{http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("the document exceeds %d bytes (limits.max_body_bytes)", limit)}
}

// classify returns the answer to a document that could not be signed.
func (s *Server) classify(r *http.Request, err error) *apiError {
	msg := oneLine(err.Error())
	ue, upstream := errors.AsType[*upstreamError](err)
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return &apiError{http.StatusGatewayTimeout, "timeout", "signing took longer than limits.request_timeout: " + msg}
	case errors.Is(err, context.Canceled):
		return &apiError{http.StatusServiceUnavailable, "canceled", "signing was cancelled: " + msg}
	case upstream && ue.service == svcSigner && errors.Is(err, remote.ErrUnavailable):
		s.log.Error("the signer is unavailable", "request_id", info(r).id, "err", msg)
		return &apiError{http.StatusServiceUnavailable, "signer_unavailable", "the signer is unavailable: " + msg}
	case upstream:
		s.log.Error("a service failed", "service", ue.service, "request_id", info(r).id, "err", msg)
		return &apiError{http.StatusBadGateway, serviceCodes[ue.service], "the " + ue.service + " failed: " + msg}
	case batch.SignerFailed(err):
		return &apiError{http.StatusBadGateway, "signer_failed", msg}
	case errors.Is(err, pades.ErrCertified), errors.Is(err, pades.ErrPermission):
		return &apiError{http.StatusUnprocessableEntity, "refused", msg}
	case errors.Is(err, pdf.ErrLimit):
		return &apiError{http.StatusUnprocessableEntity, "too_complex", msg + " (limits.document_memory)"}
	case errors.Is(err, pades.ErrPasswordNeeded), errors.Is(err, pades.ErrWrongPassword):
		return &apiError{http.StatusBadRequest, "password", msg + " (give it in the " + PasswordHeader + " header)"}
	case isStorageError(err):
		s.log.Error("storage failed", "request_id", info(r).id, "err", msg)
		return &apiError{http.StatusInternalServerError, "internal", "the gateway's storage failed"}
	}
	return &apiError{http.StatusBadRequest, "bad_pdf", msg}
}

// isStorageError reports whether err is a failure of the gateway's own
// files rather than of the document.
func isStorageError(err error) bool {
	if _, ok := errors.AsType[*fs.PathError](err); ok {
		return true
	}
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EIO)
}

// serviceCodes are the error codes of the failures of each service.
var serviceCodes = map[string]string{svcSigner: "signer_failed", svcTSA: "tsa_failed", svcValidation: "validation_failed"}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
