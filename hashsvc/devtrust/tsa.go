package devtrust

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"log/slog"
	"math/big"
	"net/http"
	"slices"
	"time"
)

// Media types of RFC 3161, section 3.4.
const (
	timestampQueryType = "application/timestamp-query"
	timestampReplyType = "application/timestamp-reply"
)

// PKIStatus values (RFC 3161, section 2.4.2).
const (
	statusGranted   = 0
	statusRejection = 2
)

// PKIFailureInfo bits (RFC 3161, section 2.4.2).
const (
	failBadAlg              = 0
	failBadDataFormat       = 5
	failUnacceptedPolicy    = 15
	failUnacceptedExtension = 16
	failSystemFailure       = 25
)

// oidSignedData returns id-signedData (RFC 5652).
func oidSignedData() asn1.ObjectIdentifier { return asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2} }

// oidTSTInfo returns id-ct-TSTInfo (RFC 3161).
func oidTSTInfo() asn1.ObjectIdentifier {
	return asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 1, 4}
}

// oidContentType returns the content-type attribute type (RFC 5652).
func oidContentType() asn1.ObjectIdentifier { return asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 3} }

// oidMessageDigest returns the message-digest attribute type (RFC 5652).
func oidMessageDigest() asn1.ObjectIdentifier {
	return asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}
}

// oidSigningCertificateV2 returns id-aa-signingCertificateV2 (RFC 5035).
func oidSigningCertificateV2() asn1.ObjectIdentifier {
	return asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 47}
}

// timeStampReq is TimeStampReq (RFC 3161, section 2.4.1).
type timeStampReq struct {
	Version        int
	MessageImprint asn1.RawValue         // kept as received, to be copied into TSTInfo
	ReqPolicy      asn1.ObjectIdentifier `asn1:"optional"`
	Nonce          *big.Int              `asn1:"optional"`
	CertReq        bool                  `asn1:"optional"`
	Extensions     []pkix.Extension      `asn1:"optional,tag:0"`
}

// messageImprint is MessageImprint (RFC 3161, section 2.4.1).
type messageImprint struct {
	HashAlgorithm pkix.AlgorithmIdentifier
	HashedMessage []byte
}

// tstInfo is TSTInfo (RFC 3161, section 2.4.2). ordering is always false and
// so absent; tsa and extensions are not used.
type tstInfo struct {
	Version        int
	Policy         asn1.ObjectIdentifier
	MessageImprint asn1.RawValue
	SerialNumber   *big.Int
	GenTime        time.Time `asn1:"generalized"`
	Accuracy       accuracy  `asn1:"optional"`
	Nonce          *big.Int  `asn1:"optional"`
}

// accuracy is Accuracy (RFC 3161, section 2.4.2), in whole seconds.
type accuracy struct {
	Seconds int `asn1:"optional"`
}

// pkiStatusInfo is PKIStatusInfo (RFC 3161, section 2.4.2).
type pkiStatusInfo struct {
	Status       int
	StatusString []asn1.RawValue `asn1:"optional"` // UTF8String values
	FailInfo     asn1.BitString  `asn1:"optional"`
}

// timeStampResp is TimeStampResp (RFC 3161, section 2.4.2).
type timeStampResp struct {
	Status         pkiStatusInfo
	TimeStampToken asn1.RawValue `asn1:"optional"`
}

// contentInfo is ContentInfo (RFC 5652, section 3).
type contentInfo struct {
	ContentType asn1.ObjectIdentifier
	Content     asn1.RawValue // [0] EXPLICIT, built by hand
}

// signedData is SignedData (RFC 5652, section 5.1), without crls.
type signedData struct {
	Version          int
	DigestAlgorithms []pkix.AlgorithmIdentifier `asn1:"set"`
	EncapContentInfo encapsulatedContentInfo
	Certificates     asn1.RawValue `asn1:"optional"` // [0] IMPLICIT, built by hand to keep the order
	SignerInfos      []signerInfo  `asn1:"set"`
}

// encapsulatedContentInfo is EncapsulatedContentInfo (RFC 5652, section
// 5.2).
type encapsulatedContentInfo struct {
	EContentType asn1.ObjectIdentifier
	EContent     []byte `asn1:"explicit,tag:0"`
}

// signerInfo is SignerInfo (RFC 5652, section 5.3), version 1, without
// unsigned attributes.
type signerInfo struct {
	Version            int
	SID                issuerAndSerialNumber
	DigestAlgorithm    pkix.AlgorithmIdentifier
	SignedAttrs        asn1.RawValue // [0] IMPLICIT, built by hand
	SignatureAlgorithm pkix.AlgorithmIdentifier
	Signature          []byte
}

// issuerAndSerialNumber is IssuerAndSerialNumber (RFC 5652, section 10.2.4).
type issuerAndSerialNumber struct {
	Issuer       asn1.RawValue
	SerialNumber *big.Int
}

// attribute is Attribute (RFC 5652, section 5.3) with its SET of values
// encoded by hand.
type attribute struct {
	Type   asn1.ObjectIdentifier
	Values asn1.RawValue
}

// signingCertificateV2 is SigningCertificateV2 (RFC 5035, section 3),
// without policies.
type signingCertificateV2 struct {
	Certs []essCertIDv2
}

// essCertIDv2 is ESSCertIDv2 (RFC 5035, section 4) with the default hash
// algorithm, SHA-256, which DER requires to be absent.
type essCertIDv2 struct {
	CertHash     []byte
	IssuerSerial issuerSerial
}

// issuerSerial is IssuerSerial (RFC 5035, section 4).
type issuerSerial struct {
	Issuer       []asn1.RawValue // GeneralNames
	SerialNumber *big.Int
}

// tsaRefusal is a refused time-stamp request.
type tsaRefusal struct {
	httpStatus int
	failInfo   int
	text       string
}

// serveTSA answers RFC 3161 time-stamp requests.
func (s *Services) serveTSA(w http.ResponseWriter, r *http.Request) {
	body, ok := readRequest(w, r, timestampQueryType)
	if !ok {
		return
	}
	req, refusal := s.checkTimeStampReq(body)
	var token []byte
	var serial *big.Int
	if refusal == nil {
		var err error
		if token, serial, err = s.timeStampToken(req); err != nil {
			s.log.LogAttrs(r.Context(), slog.LevelError, "devtrust: time-stamping", slog.Any("error", err))
			refusal = &tsaRefusal{http.StatusInternalServerError, failSystemFailure, "internal error"}
		}
	}

	var resp timeStampResp
	status := http.StatusOK
	if refusal != nil {
		s.log.LogAttrs(r.Context(), slog.LevelInfo, "devtrust: time-stamp request rejected",
			slog.String("reason", refusal.text))
		resp.Status = pkiStatusInfo{
			Status:       statusRejection,
			StatusString: []asn1.RawValue{{Tag: asn1.TagUTF8String, Bytes: []byte(refusal.text)}},
			FailInfo:     failureInfo(refusal.failInfo),
		}
		status = refusal.httpStatus
	} else {
		s.log.LogAttrs(r.Context(), slog.LevelInfo, "devtrust: time-stamp issued",
			slog.String("serial", serialKey(serial)), slog.Bool("nonce", req.Nonce != nil))
		resp.Status = pkiStatusInfo{Status: statusGranted}
		resp.TimeStampToken = asn1.RawValue{FullBytes: token}
	}
	der, err := asn1.Marshal(resp)
	if err != nil {
		s.log.LogAttrs(r.Context(), slog.LevelError, "devtrust: encoding time-stamp response", slog.Any("error", err))
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	writeBody(w, status, timestampReplyType, der)
}

// checkTimeStampReq decodes a DER TimeStampReq and checks that it can be
// granted.
func (s *Services) checkTimeStampReq(der []byte) (*timeStampReq, *tsaRefusal) {
	var req timeStampReq
	rest, err := asn1.Unmarshal(der, &req)
	if err == nil && len(rest) != 0 {
		err = fmt.Errorf("%d bytes of trailing data", len(rest))
	}
	var imprint messageImprint
	if err == nil {
		if rest, err = asn1.Unmarshal(req.MessageImprint.FullBytes, &imprint); err == nil && len(rest) != 0 {
			err = fmt.Errorf("trailing data in messageImprint")
		}
	}
	if err != nil {
		return nil, &tsaRefusal{http.StatusBadRequest, failBadDataFormat, "malformed TimeStampReq: " + err.Error()}
	}

	refuse := func(failInfo int, format string, args ...any) (*timeStampReq, *tsaRefusal) {
		return nil, &tsaRefusal{http.StatusOK, failInfo, fmt.Sprintf(format, args...)}
	}
	if req.Version != 1 {
		return refuse(failBadDataFormat, "unsupported TimeStampReq version %d", req.Version)
	}
	h := hashAlgorithmOID(imprint.HashAlgorithm.Algorithm)
	switch h {
	case crypto.SHA256, crypto.SHA384, crypto.SHA512:
	default:
		return refuse(failBadAlg, "unsupported hash algorithm %v; use SHA-256, SHA-384 or SHA-512", imprint.HashAlgorithm.Algorithm)
	}
	if p := imprint.HashAlgorithm.Parameters.FullBytes; len(p) != 0 && !bytes.Equal(p, asn1.NullBytes) {
		return refuse(failBadAlg, "unexpected parameters for hash algorithm %v", imprint.HashAlgorithm.Algorithm)
	}
	if len(imprint.HashedMessage) != h.Size() {
		return refuse(failBadDataFormat, "%d-byte hashedMessage for %v, want %d bytes", len(imprint.HashedMessage), h, h.Size())
	}
	if req.ReqPolicy != nil && !req.ReqPolicy.Equal(s.policy) {
		return refuse(failUnacceptedPolicy, "unsupported policy %v; this TSA uses %v", req.ReqPolicy, s.policy)
	}
	if len(req.Extensions) != 0 {
		return refuse(failUnacceptedExtension, "unsupported extension %v", req.Extensions[0].Id)
	}
	return &req, nil
}

// failureInfo returns a PKIFailureInfo with bit set.
func failureInfo(bit int) asn1.BitString {
	b := make([]byte, bit/8+1)
	b[bit/8] = 0x80 >> (bit % 8)
	return asn1.BitString{Bytes: b, BitLength: bit + 1}
}

// nextTSASerial returns a new time-stamp serial number.
func (s *Services) nextTSASerial() *big.Int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tsaSerial.Add(s.tsaSerial, big.NewInt(1))
	return new(big.Int).Set(s.tsaSerial)
}

// timeStampToken returns a TimeStampToken for req and its serial number.
func (s *Services) timeStampToken(req *timeStampReq) ([]byte, *big.Int, error) {
	serial := s.nextTSASerial()
	info, err := asn1.Marshal(tstInfo{
		Version:        1,
		Policy:         s.policy,
		MessageImprint: asn1.RawValue{FullBytes: req.MessageImprint.FullBytes},
		SerialNumber:   serial,
		GenTime:        s.now().UTC().Truncate(time.Second),
		Accuracy:       accuracy{Seconds: 1},
		Nonce:          req.Nonce,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("encoding TSTInfo: %w", err)
	}
	token, err := s.signTSTInfo(info, req.CertReq)
	if err != nil {
		return nil, nil, err
	}
	return token, serial, nil
}

// signTSTInfo returns a CMS SignedData ContentInfo encapsulating info,
// signed by the TSA with the signed attributes content-type, message-digest
// and signing-certificate-v2. If withCerts is set, it holds the TSA and
// intermediate CA certificates.
func (s *Services) signTSTInfo(info []byte, withCerts bool) ([]byte, error) {
	tsa := s.pki.TSA
	infoDigest := sha256.Sum256(info)
	var attrs [][]byte
	for _, a := range []struct {
		oid   asn1.ObjectIdentifier
		value any
	}{
		{oidContentType(), oidTSTInfo()},
		{oidMessageDigest(), infoDigest[:]},
		{oidSigningCertificateV2(), signingCertificateV2{Certs: []essCertIDv2{{
			CertHash: s.tsaCertHash,
			IssuerSerial: issuerSerial{
				Issuer: []asn1.RawValue{{
					Class:      asn1.ClassContextSpecific,
					Tag:        4, // directoryName
					IsCompound: true,
					Bytes:      tsa.Cert.RawIssuer,
				}},
				SerialNumber: tsa.Cert.SerialNumber,
			},
		}}}},
	} {
		value, err := asn1.Marshal(a.value)
		if err != nil {
			return nil, fmt.Errorf("encoding attribute %v: %w", a.oid, err)
		}
		der, err := asn1.Marshal(attribute{
			Type:   a.oid,
			Values: asn1.RawValue{Tag: asn1.TagSet, IsCompound: true, Bytes: value},
		})
		if err != nil {
			return nil, fmt.Errorf("encoding attribute %v: %w", a.oid, err)
		}
		attrs = append(attrs, der)
	}
	// DER orders the elements of a SET OF by their encodings.
	slices.SortFunc(attrs, bytes.Compare)
	attrBytes := bytes.Join(attrs, nil)

	// The signature covers the attributes encoded with the SET OF tag
	// (RFC 5652, section 5.4), not the [0] IMPLICIT tag of SignerInfo.
	toSign, err := asn1.Marshal(asn1.RawValue{Tag: asn1.TagSet, IsCompound: true, Bytes: attrBytes})
	if err != nil {
		return nil, fmt.Errorf("encoding signed attributes: %w", err)
	}
	sigAlg, err := signatureAlgorithm(tsa.Key.Public())
	if err != nil {
		return nil, err
	}
	sig, err := sign(tsa.Key, toSign)
	if err != nil {
		return nil, err
	}

	sha256Alg := pkix.AlgorithmIdentifier{Algorithm: oidSHA256()}
	sd := signedData{
		Version:          3, // eContentType is not id-data (RFC 5652, section 5.1)
		DigestAlgorithms: []pkix.AlgorithmIdentifier{sha256Alg},
		EncapContentInfo: encapsulatedContentInfo{EContentType: oidTSTInfo(), EContent: info},
		SignerInfos: []signerInfo{{
			Version:         1,
			SID:             issuerAndSerialNumber{Issuer: asn1.RawValue{FullBytes: tsa.Cert.RawIssuer}, SerialNumber: tsa.Cert.SerialNumber},
			DigestAlgorithm: sha256Alg,
			SignedAttrs: asn1.RawValue{
				Class:      asn1.ClassContextSpecific,
				Tag:        0,
				IsCompound: true,
				Bytes:      attrBytes,
			},
			SignatureAlgorithm: sigAlg,
			Signature:          sig,
		}},
	}
	if withCerts {
		sd.Certificates = asn1.RawValue{
			Class:      asn1.ClassContextSpecific,
			Tag:        0,
			IsCompound: true,
			Bytes:      slices.Concat(tsa.Cert.Raw, s.pki.Intermediate.Cert.Raw),
		}
	}
	sdDER, err := asn1.Marshal(sd)
	if err != nil {
		return nil, fmt.Errorf("encoding SignedData: %w", err)
	}
	token, err := asn1.Marshal(contentInfo{
		ContentType: oidSignedData(),
		Content:     asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: sdDER},
	})
	if err != nil {
		return nil, fmt.Errorf("encoding ContentInfo: %w", err)
	}
	return token, nil
}
