package devtrust

import (
	"context"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/crypto/ocsp"

	"hashsign/internal/devpki"
	"hashsign/internal/ocspasn1"
)

// Media types of RFC 6960, appendix C.
const (
	ocspRequestType  = "application/ocsp-request"
	ocspResponseType = "application/ocsp-response"
)

// ocspBackdate is how far thisUpdate precedes the time a response is
// produced, to allow for clients whose clocks are slightly behind.
const ocspBackdate = time.Minute

// ocspError is a request the responder does not answer with a signed
// response.
type ocspError struct {
	httpStatus int
	status     ocsp.ResponseStatus
	err        error
}

// malformed returns an ocspError for a request that cannot be decoded.
func malformed(format string, args ...any) *ocspError {
	return &ocspError{http.StatusBadRequest, ocsp.Malformed, fmt.Errorf(format, args...)}
}

// serveOCSPPost answers OCSP requests sent with POST.
func (s *Services) serveOCSPPost(w http.ResponseWriter, r *http.Request) {
	if body, ok := readRequest(w, r, ocspRequestType); ok {
		s.writeOCSP(r.Context(), w, body, nil)
	}
}

// serveOCSPGet answers OCSP requests sent with GET, as the URL-escaped
// base64 encoding of the DER request appended to the responder URL (RFC
// 6960, appendix A.1). Every "/" of the base64 text must be escaped, as
// "%2F"; "+" and "=" may be escaped or not, as path syntax allows.
func (s *Services) serveOCSPGet(w http.ResponseWriter, r *http.Request) {
	escaped, ok := strings.CutPrefix(r.URL.EscapedPath(), devpki.OCSPPath)
	if !ok {
		http.NotFound(w, r)
		return
	}
	escaped = strings.TrimPrefix(escaped, "/")
	var der []byte
	var badRequest *ocspError
	if escaped == "" {
		badRequest = malformed("GET request without an OCSP request")
	} else if strings.Contains(escaped, "/") {
		badRequest = malformed("unescaped %q in the base64 request: it must be URL-escaped", "/")
	} else if b64, err := url.PathUnescape(escaped); err != nil {
		badRequest = malformed("unescaping request: %w", err)
	} else if der, err = base64.StdEncoding.DecodeString(b64); err != nil {
		badRequest = malformed("decoding base64 request: %w", err)
	} else if len(der) > MaxRequestSize {
		http.Error(w, "request too large", http.StatusRequestEntityTooLarge)
		return
	}
	s.writeOCSP(r.Context(), w, der, badRequest)
}

// writeOCSP answers the DER OCSP request der, or reports badRequest if it is
// not nil.
func (s *Services) writeOCSP(ctx context.Context, w http.ResponseWriter, der []byte, badRequest *ocspError) {
	var resp []byte
	oerr := badRequest
	if oerr == nil {
		resp, oerr = s.ocspResponse(ctx, der)
	}
	status := http.StatusOK
	if oerr != nil {
		level := slog.LevelInfo
		if oerr.status == ocsp.InternalError {
			level = slog.LevelError
		}
		s.log.LogAttrs(ctx, level, "devtrust: OCSP request refused",
			slog.String("status", oerr.status.String()), slog.Any("error", oerr.err))
		switch oerr.status {
		case ocsp.Malformed:
			resp = ocsp.MalformedRequestErrorResponse
		case ocsp.Unauthorized:
			resp = ocsp.UnauthorizedErrorResponse
		default:
			resp = ocsp.InternalErrorErrorResponse
		}
		status = oerr.httpStatus
	}
	writeBody(w, status, ocspResponseType, resp)
}

// ocspResponse returns the signed response to the DER OCSP request der.
//
// golang.org/x/crypto/ocsp cannot do this: ParseRequest returns the first
// CertID only and no request extension, and CreateResponse answers for one
// CertID, puts extensions in singleExtensions rather than in
// responseExtensions, where the nonce is echoed (RFC 8954), and takes
// producedAt from the wall clock, not from Options.Now. The request is read
// and the response built with the ASN.1 that package ltv's client uses,
// internal/ocspasn1.
func (s *Services) ocspResponse(ctx context.Context, der []byte) ([]byte, *ocspError) {
	var req ocspasn1.Request
	if err := ocspasn1.Unmarshal(der, &req, "OCSP request"); err != nil {
		return nil, malformed("%w", err)
	}
	tbs := &req.TBSRequest
	if tbs.Version != 0 {
		return nil, malformed("unsupported OCSP request version %d", tbs.Version)
	}
	if len(tbs.RequestList) == 0 {
		return nil, malformed("OCSP request without requests")
	}

	// The request signature, if any, is ignored: this responder answers
	// anybody.
	var respExts []pkix.Extension
	for _, ext := range tbs.RequestExtensions {
		switch {
		case ext.Id.Equal(ocspasn1.OIDNonce()):
			respExts = append(respExts, pkix.Extension{Id: ext.Id, Value: ext.Value})
		case ext.Critical:
			return nil, malformed("unsupported critical request extension %v", ext.Id)
		}
	}
	for _, sr := range tbs.RequestList {
		id := &sr.ReqCert
		if id.SerialNumber == nil {
			return nil, malformed("CertID without serial number")
		}
		if !id.IssuedBy(s.pki.Intermediate.Cert) {
			return nil, &ocspError{http.StatusOK, ocsp.Unauthorized,
				fmt.Errorf("certificate %s of an issuer other than %q", serialKey(id.SerialNumber), devpki.IntermediateCN)}
		}
	}

	now := s.now().UTC().Truncate(time.Second)
	responses := make([]ocspasn1.SingleResponse, len(tbs.RequestList))
	logStatus := make([]string, len(tbs.RequestList))
	s.mu.Lock()
	for i, sr := range tbs.RequestList {
		key := serialKey(sr.ReqCert.SerialNumber)
		r := ocspasn1.SingleResponse{
			CertID:     sr.ReqCert,
			ThisUpdate: now.Add(-ocspBackdate),
			NextUpdate: now.Add(s.ocspValidity),
		}
		if rev, ok := s.inter.revoked[key]; ok {
			r.Revoked = ocspasn1.RevokedInfo{RevocationTime: rev.at, RevocationReason: asn1.Enumerated(rev.reason)}
			logStatus[i] = key + " revoked"
		} else if s.leaves[key] {
			r.Good = true
			logStatus[i] = key + " good"
		} else {
			r.Unknown = true
			logStatus[i] = key + " unknown"
		}
		responses[i] = r
	}
	s.mu.Unlock()

	resp, err := ocspasn1.SignResponse(ocspasn1.ResponseData{
		ResponderID: asn1.RawValue{
			Class:      asn1.ClassContextSpecific,
			Tag:        1, // byName [1] EXPLICIT Name
			IsCompound: true,
			Bytes:      s.pki.OCSP.Cert.RawSubject,
		},
		ProducedAt:         now,
		Responses:          responses,
		ResponseExtensions: respExts,
	}, s.pki.OCSP.Key, s.pki.OCSP.Cert)
	if err != nil {
		return nil, &ocspError{http.StatusInternalServerError, ocsp.InternalError, err}
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "devtrust: OCSP response",
		slog.Any("certificates", logStatus), slog.Bool("nonce", len(respExts) != 0))
	return resp, nil
}
