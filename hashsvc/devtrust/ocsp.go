package devtrust

import (
	"bytes"
	"context"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"fmt"
	"log/slog"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"time"

	"hashsign/internal/devpki"
)

// Media types of RFC 6960, appendix C.
const (
	ocspRequestType  = "application/ocsp-request"
	ocspResponseType = "application/ocsp-response"
)

// OCSPResponseStatus values (RFC 6960, section 4.2.1).
const (
	ocspSuccessful       = 0
	ocspMalformedRequest = 1
	ocspInternalError    = 2
	ocspUnauthorized     = 6
)

// ocspBackdate is how far thisUpdate precedes the time a response is
// produced, to allow for clients whose clocks are slightly behind.
const ocspBackdate = time.Minute

// oidOCSPBasic returns id-pkix-ocsp-basic (RFC 6960).
func oidOCSPBasic() asn1.ObjectIdentifier {
	return asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 1}
}

// oidOCSPNonce returns id-pkix-ocsp-nonce (RFC 6960, section 4.4.1).
func oidOCSPNonce() asn1.ObjectIdentifier {
	return asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 2}
}

// ocspRequest is OCSPRequest (RFC 6960, section 4.1.1).
type ocspRequest struct {
	TBSRequest        tbsRequest
	OptionalSignature asn1.RawValue `asn1:"optional,explicit,tag:0"`
}

// tbsRequest is TBSRequest (RFC 6960, section 4.1.1).
type tbsRequest struct {
	Version           int           `asn1:"optional,explicit,tag:0,default:0"`
	RequestorName     asn1.RawValue `asn1:"optional,explicit,tag:1"`
	RequestList       []singleRequest
	RequestExtensions []pkix.Extension `asn1:"optional,explicit,tag:2"`
}

// singleRequest is Request (RFC 6960, section 4.1.1).
type singleRequest struct {
	ReqCert                 asn1.RawValue    // CertID, kept as received to be echoed
	SingleRequestExtensions []pkix.Extension `asn1:"optional,explicit,tag:0"`
}

// certID is CertID (RFC 6960, section 4.1.1).
type certID struct {
	HashAlgorithm  pkix.AlgorithmIdentifier
	IssuerNameHash []byte
	IssuerKeyHash  []byte
	SerialNumber   *big.Int
}

// ocspResponse is OCSPResponse (RFC 6960, section 4.2.1).
type ocspResponse struct {
	ResponseStatus asn1.Enumerated
	ResponseBytes  responseBytes `asn1:"optional,explicit,tag:0"`
}

// responseBytes is ResponseBytes (RFC 6960, section 4.2.1).
type responseBytes struct {
	ResponseType asn1.ObjectIdentifier
	Response     []byte
}

// basicOCSPResponse is BasicOCSPResponse (RFC 6960, section 4.2.1).
type basicOCSPResponse struct {
	TBSResponseData    asn1.RawValue
	SignatureAlgorithm pkix.AlgorithmIdentifier
	Signature          asn1.BitString
	Certs              []asn1.RawValue `asn1:"optional,explicit,tag:0"`
}

// responseData is ResponseData (RFC 6960, section 4.2.1), version 1.
type responseData struct {
	ResponderID        asn1.RawValue
	ProducedAt         time.Time `asn1:"generalized"`
	Responses          []singleResponse
	ResponseExtensions []pkix.Extension `asn1:"optional,explicit,tag:1"`
}

// singleResponse is SingleResponse (RFC 6960, section 4.2.1), without
// extensions.
type singleResponse struct {
	CertID     asn1.RawValue
	CertStatus asn1.RawValue
	ThisUpdate time.Time `asn1:"generalized"`
	NextUpdate time.Time `asn1:"optional,explicit,tag:0,generalized"`
}

// revokedInfo is RevokedInfo (RFC 6960, section 4.2.1).
type revokedInfo struct {
	RevocationTime   time.Time       `asn1:"generalized"`
	RevocationReason asn1.Enumerated `asn1:"optional,explicit,tag:0"`
}

// ocspError is a request the responder does not answer with a signed
// response.
type ocspError struct {
	httpStatus int
	status     asn1.Enumerated // OCSPResponseStatus
	err        error
}

// malformed returns an ocspError for a request that cannot be decoded.
func malformed(format string, args ...any) *ocspError {
	return &ocspError{http.StatusBadRequest, ocspMalformedRequest, fmt.Errorf(format, args...)}
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
		if oerr.status == ocspInternalError {
			level = slog.LevelError
		}
		s.log.LogAttrs(ctx, level, "devtrust: OCSP request refused",
			slog.Int("status", int(oerr.status)), slog.Any("error", oerr.err))
		var err error
		if resp, err = asn1.Marshal(ocspResponse{ResponseStatus: oerr.status}); err != nil {
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		status = oerr.httpStatus
	}
	writeBody(w, status, ocspResponseType, resp)
}

// ocspResponse returns the signed response to the DER OCSP request der.
func (s *Services) ocspResponse(ctx context.Context, der []byte) ([]byte, *ocspError) {
	var req ocspRequest
	rest, err := asn1.Unmarshal(der, &req)
	if err != nil {
		return nil, malformed("decoding OCSP request: %w", err)
	}
	if len(rest) != 0 {
		return nil, malformed("%d bytes of trailing data after the OCSP request", len(rest))
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
		case ext.Id.Equal(oidOCSPNonce()):
			respExts = append(respExts, pkix.Extension{Id: ext.Id, Value: ext.Value})
		case ext.Critical:
			return nil, malformed("unsupported critical request extension %v", ext.Id)
		}
	}

	ids := make([]certID, len(tbs.RequestList))
	for i, sr := range tbs.RequestList {
		id := &ids[i]
		if rest, err := asn1.Unmarshal(sr.ReqCert.FullBytes, id); err != nil {
			return nil, malformed("decoding CertID: %w", err)
		} else if len(rest) != 0 {
			return nil, malformed("trailing data in CertID")
		}
		if id.SerialNumber == nil {
			return nil, malformed("CertID without serial number")
		}
		hashes, ok := s.interHashes[hashAlgorithmOID(id.HashAlgorithm.Algorithm)]
		if !ok || !bytes.Equal(id.IssuerNameHash, hashes.name) || !bytes.Equal(id.IssuerKeyHash, hashes.key) {
			return nil, &ocspError{http.StatusOK, ocspUnauthorized,
				fmt.Errorf("certificate %s of an issuer other than %q", serialKey(id.SerialNumber), devpki.IntermediateCN)}
		}
	}

	now := s.now().UTC().Truncate(time.Second)
	responses := make([]singleResponse, len(ids))
	logStatus := make([]string, len(ids))
	s.mu.Lock()
	for i, id := range ids {
		key := serialKey(id.SerialNumber)
		var status asn1.RawValue
		if rev, ok := s.inter.revoked[key]; ok {
			der, err := asn1.MarshalWithParams(revokedInfo{
				RevocationTime:   rev.at,
				RevocationReason: asn1.Enumerated(rev.reason),
			}, "tag:1")
			if err != nil {
				s.mu.Unlock()
				return nil, &ocspError{http.StatusInternalServerError, ocspInternalError, fmt.Errorf("encoding RevokedInfo: %w", err)}
			}
			status = asn1.RawValue{FullBytes: der}
			logStatus[i] = key + " revoked"
		} else if s.leaves[key] {
			status = asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0} // good [0] IMPLICIT NULL
			logStatus[i] = key + " good"
		} else {
			status = asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 2} // unknown [2] IMPLICIT NULL
			logStatus[i] = key + " unknown"
		}
		responses[i] = singleResponse{
			CertID:     asn1.RawValue{FullBytes: tbs.RequestList[i].ReqCert.FullBytes},
			CertStatus: status,
			ThisUpdate: now.Add(-ocspBackdate),
			NextUpdate: now.Add(s.ocspValidity),
		}
	}
	s.mu.Unlock()

	resp, err := s.signOCSPResponse(responseData{
		ResponderID: asn1.RawValue{
			Class:      asn1.ClassContextSpecific,
			Tag:        1, // byName [1] EXPLICIT Name
			IsCompound: true,
			Bytes:      s.pki.OCSP.Cert.RawSubject,
		},
		ProducedAt:         now,
		Responses:          responses,
		ResponseExtensions: respExts,
	})
	if err != nil {
		return nil, &ocspError{http.StatusInternalServerError, ocspInternalError, err}
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "devtrust: OCSP response",
		slog.Any("certificates", logStatus), slog.Bool("nonce", len(respExts) != 0))
	return resp, nil
}

// signOCSPResponse returns a successful OCSPResponse holding a
// BasicOCSPResponse for data, signed by the OCSP responder and carrying its
// certificate.
func (s *Services) signOCSPResponse(data responseData) ([]byte, error) {
	responder := s.pki.OCSP
	tbs, err := asn1.Marshal(data)
	if err != nil {
		return nil, fmt.Errorf("encoding ResponseData: %w", err)
	}
	sigAlg, err := signatureAlgorithm(responder.Key.Public())
	if err != nil {
		return nil, err
	}
	sig, err := sign(responder.Key, tbs)
	if err != nil {
		return nil, err
	}
	basic, err := asn1.Marshal(basicOCSPResponse{
		TBSResponseData:    asn1.RawValue{FullBytes: tbs},
		SignatureAlgorithm: sigAlg,
		Signature:          asn1.BitString{Bytes: sig, BitLength: 8 * len(sig)},
		Certs:              []asn1.RawValue{{FullBytes: responder.Cert.Raw}},
	})
	if err != nil {
		return nil, fmt.Errorf("encoding BasicOCSPResponse: %w", err)
	}
	resp, err := asn1.Marshal(ocspResponse{
		ResponseStatus: ocspSuccessful,
		ResponseBytes:  responseBytes{ResponseType: oidOCSPBasic(), Response: basic},
	})
	if err != nil {
		return nil, fmt.Errorf("encoding OCSPResponse: %w", err)
	}
	return resp, nil
}
