package devtrust

import (
	"crypto"
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/digitorus/timestamp"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"hashsign/cms"
)

// Media types of RFC 3161, section 3.4.
const (
	timestampQueryType = "application/timestamp-query"
	timestampReplyType = "application/timestamp-reply"
)

// tsaRefusal is a refused time-stamp request.
type tsaRefusal struct {
	httpStatus int
	failInfo   timestamp.FailureInfo
	text       string
}

// serveTSA answers RFC 3161 time-stamp requests. github.com/digitorus/timestamp
// reads the request and builds the token: a TSTInfo with the request's
// imprint and nonce, signed with signing-certificate-v2 by
// github.com/digitorus/pkcs7, the TSA and intermediate CA certificates
// included when the request asks for them.
func (s *Services) serveTSA(w http.ResponseWriter, r *http.Request) {
	body, ok := readRequest(w, r, timestampQueryType)
	if !ok {
		return
	}
	req, refusal := s.checkTimeStampReq(body)
	var resp []byte
	if refusal == nil {
		var err error
		resp, err = (&timestamp.Timestamp{
			HashAlgorithm:     req.HashAlgorithm,
			HashedMessage:     req.HashedMessage,
			Time:              s.now().UTC().Truncate(time.Second),
			Accuracy:          time.Second,
			Policy:            s.policy,
			Nonce:             req.Nonce,
			Certificates:      []*x509.Certificate{s.pki.Intermediate.Cert},
			AddTSACertificate: req.Certificates,
		}).CreateResponseWithOpts(s.pki.TSA.Cert, s.pki.TSA.Key, crypto.SHA256)
		if err != nil {
			s.log.LogAttrs(r.Context(), slog.LevelError, "devtrust: time-stamping", slog.Any("error", err))
			refusal = &tsaRefusal{http.StatusInternalServerError, timestamp.SystemFailure, "internal error"}
		}
	}
	status := http.StatusOK
	if refusal != nil {
		s.log.LogAttrs(r.Context(), slog.LevelInfo, "devtrust: time-stamp request rejected",
			slog.String("reason", refusal.text))
		var err error
		if resp, err = rejection(refusal); err != nil {
			s.log.LogAttrs(r.Context(), slog.LevelError, "devtrust: encoding time-stamp response", slog.Any("error", err))
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		status = refusal.httpStatus
	} else {
		s.log.LogAttrs(r.Context(), slog.LevelInfo, "devtrust: time-stamp issued",
			slog.String("hash", req.HashAlgorithm.String()), slog.Bool("nonce", req.Nonce != nil))
	}
	writeBody(w, status, timestampReplyType, resp)
}

// checkTimeStampReq decodes a DER TimeStampReq and checks that it can be
// granted. timestamp.ParseRequest decodes it, but checks neither the
// version nor the hash algorithm's parameters and calls an unknown hash
// algorithm a malformed request where RFC 3161 wants badAlg: those two
// fields are read here first.
func (s *Services) checkTimeStampReq(der []byte) (*timestamp.Request, *tsaRefusal) {
	malformed := func(err error) (*timestamp.Request, *tsaRefusal) {
		return nil, &tsaRefusal{http.StatusBadRequest, timestamp.BadDataFormat, "malformed TimeStampReq: " + err.Error()}
	}
	refuse := func(failInfo timestamp.FailureInfo, format string, args ...any) (*timestamp.Request, *tsaRefusal) {
		return nil, &tsaRefusal{http.StatusOK, failInfo, fmt.Sprintf(format, args...)}
	}
	in := cryptobyte.String(der)
	var reqSeq, imprint, alg cryptobyte.String
	var version int64
	var hashOID asn1.ObjectIdentifier
	if !in.ReadASN1(&reqSeq, cbasn1.SEQUENCE) || !reqSeq.ReadASN1Integer(&version) ||
		!reqSeq.ReadASN1(&imprint, cbasn1.SEQUENCE) || !imprint.ReadASN1(&alg, cbasn1.SEQUENCE) ||
		!alg.ReadASN1ObjectIdentifier(&hashOID) {
		return malformed(fmt.Errorf("not a TimeStampReq"))
	}
	switch h, _ := cms.HashFromOID(hashOID); h {
	case crypto.SHA256, crypto.SHA384, crypto.SHA512:
	default:
		return refuse(timestamp.BadAlgorithm, "unsupported hash algorithm %v; use SHA-256, SHA-384 or SHA-512", hashOID)
	}
	if !alg.Empty() && (!alg.SkipASN1(cbasn1.NULL) || !alg.Empty()) {
		return refuse(timestamp.BadAlgorithm, "unexpected parameters for hash algorithm %v", hashOID)
	}
	req, err := timestamp.ParseRequest(der)
	if err != nil {
		return malformed(err)
	}
	if version != 1 {
		return refuse(timestamp.BadDataFormat, "unsupported TimeStampReq version %d", version)
	}
	h := req.HashAlgorithm
	if len(req.HashedMessage) != h.Size() {
		return refuse(timestamp.BadDataFormat, "%d-byte hashedMessage for %v, want %d bytes", len(req.HashedMessage), h, h.Size())
	}
	if req.TSAPolicyOID != nil && !req.TSAPolicyOID.Equal(s.policy) {
		return refuse(timestamp.UnacceptedPolicy, "unsupported policy %v; this TSA uses %v", req.TSAPolicyOID, s.policy)
	}
	if len(req.Extensions) != 0 {
		return refuse(timestamp.UnacceptedExtension, "unsupported extension %v", req.Extensions[0].Id)
	}
	return req, nil
}

// rejection returns a TimeStampResp with status rejection, the failure
// bit of r and its text as statusString. timestamp.CreateErrorResponse
// cannot carry a statusString, which tells the client why.
func rejection(r *tsaRefusal) ([]byte, error) {
	bit := int(r.failInfo)
	bits := make([]byte, bit/8+1)
	bits[bit/8] = 0x80 >> (bit % 8)
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // TimeStampResp
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // PKIStatusInfo
			b.AddASN1Int64(int64(timestamp.Rejection))
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // PKIFreeText
				b.AddASN1(cbasn1.UTF8String, func(b *cryptobyte.Builder) { b.AddBytes([]byte(r.text)) })
			})
			b.AddASN1(cbasn1.BIT_STRING, func(b *cryptobyte.Builder) { // PKIFailureInfo
				b.AddUint8(uint8(7 - bit%8)) // unused bits after the one set
				b.AddBytes(bits)
			})
		})
	})
	return b.Bytes()
}
