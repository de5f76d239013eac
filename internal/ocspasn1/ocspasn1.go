// Package ocspasn1 defines the ASN.1 structures of OCSP (RFC 6960) once,
// for the client in package ltv and the test responder in package
// hashsvc/devtrust.
//
// golang.org/x/crypto/ocsp builds plain requests and reads simple
// responses, and both packages use it where it does; its types cannot
// carry what these two need besides: the nonce extension (RFC 8954) in
// requestExtensions and responseExtensions, several CertIDs in one request
// or response, the CertID exactly as received, and the raw signature
// AlgorithmIdentifier (RSASSA-PSS parameters).
package ocspasn1

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"math/big"
	"time"

	"hashsign/cms"
)

// OIDBasic returns id-pkix-ocsp-basic, the type of a BasicOCSPResponse.
func OIDBasic() asn1.ObjectIdentifier { return asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 1} }

// OIDNonce returns id-pkix-ocsp-nonce, the nonce extension.
func OIDNonce() asn1.ObjectIdentifier { return asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 2} }

// OIDNoCheck returns id-pkix-ocsp-nocheck, the certificate extension that
// exempts an OCSP responder's certificate from revocation checking.
func OIDNoCheck() asn1.ObjectIdentifier { return asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 5} }

// Request is OCSPRequest.
type Request struct {
	TBSRequest        TBSRequest
	OptionalSignature asn1.RawValue `asn1:"optional,explicit,tag:0"`
}

// TBSRequest is TBSRequest.
type TBSRequest struct {
	Version           int           `asn1:"optional,explicit,tag:0,default:0"`
	RequestorName     asn1.RawValue `asn1:"optional,explicit,tag:1"`
	RequestList       []SingleRequest
	RequestExtensions []pkix.Extension `asn1:"optional,explicit,tag:2"`
}

// SingleRequest is Request, one CertID of an OCSPRequest.
type SingleRequest struct {
	ReqCert                 CertID
	SingleRequestExtensions []pkix.Extension `asn1:"optional,explicit,tag:0"`
}

// CertID is CertID. Raw holds its encoding as parsed; a CertID with Raw
// set is marshalled as Raw, so that a responder echoes it exactly.
type CertID struct {
	Raw            asn1.RawContent
	HashAlgorithm  pkix.AlgorithmIdentifier
	IssuerNameHash []byte
	IssuerKeyHash  []byte
	SerialNumber   *big.Int
}

// Response is OCSPResponse.
type Response struct {
	Status asn1.Enumerated
	Bytes  ResponseBytes `asn1:"optional,explicit,tag:0"`
}

// ResponseBytes is ResponseBytes.
type ResponseBytes struct {
	ResponseType asn1.ObjectIdentifier
	Response     []byte
}

// BasicResponse is BasicOCSPResponse. TBSResponseData and
// SignatureAlgorithm are DER: the bytes signed and the AlgorithmIdentifier.
type BasicResponse struct {
	TBSResponseData    asn1.RawValue
	SignatureAlgorithm asn1.RawValue
	Signature          asn1.BitString
	Certs              []asn1.RawValue `asn1:"optional,explicit,tag:0"`
}

// ResponseData is ResponseData.
type ResponseData struct {
	Version            int `asn1:"optional,explicit,default:0,tag:0"`
	ResponderID        asn1.RawValue
	ProducedAt         time.Time `asn1:"generalized"`
	Responses          []SingleResponse
	ResponseExtensions []pkix.Extension `asn1:"optional,explicit,tag:1"`
}

// SingleResponse is SingleResponse. Exactly one of Good, Revoked (a
// non-zero RevocationTime) and Unknown is set.
type SingleResponse struct {
	CertID           CertID
	Good             asn1.Flag        `asn1:"optional,tag:0"`
	Revoked          RevokedInfo      `asn1:"optional,tag:1"`
	Unknown          asn1.Flag        `asn1:"optional,tag:2"`
	ThisUpdate       time.Time        `asn1:"generalized"`
	NextUpdate       time.Time        `asn1:"optional,generalized,explicit,tag:0"`
	SingleExtensions []pkix.Extension `asn1:"optional,explicit,tag:1"`
}

// RevokedInfo is RevokedInfo. A zero RevocationReason (unspecified) is
// left out.
type RevokedInfo struct {
	RevocationTime   time.Time       `asn1:"generalized"`
	RevocationReason asn1.Enumerated `asn1:"optional,explicit,tag:0"`
}

// Unmarshal parses the DER der into v, one of the types above, and refuses
// trailing data. what names the structure in errors.
func Unmarshal(der []byte, v any, what string) error {
	rest, err := asn1.Unmarshal(der, v)
	if err != nil {
		return fmt.Errorf("malformed %s: %w", what, err)
	}
	if len(rest) != 0 {
		return fmt.Errorf("%d bytes of trailing data after the %s", len(rest), what)
	}
	return nil
}

// SignResponse returns a successful OCSPResponse holding a
// BasicOCSPResponse for data, signed by key with SHA-256 (RSA PKCS #1 v1.5
// or ECDSA) and carrying certs.
func SignResponse(data ResponseData, key crypto.Signer, certs ...*x509.Certificate) ([]byte, error) {
	tbs, err := asn1.Marshal(data)
	if err != nil {
		return nil, fmt.Errorf("encoding ResponseData: %w", err)
	}
	var alg x509.SignatureAlgorithm
	switch key.Public().(type) {
	case *rsa.PublicKey:
		alg = x509.SHA256WithRSA
	case *ecdsa.PublicKey:
		alg = x509.ECDSAWithSHA256
	default:
		return nil, fmt.Errorf("unsupported OCSP signing key %T", key.Public())
	}
	algDER, err := cms.SignatureAlgorithmIdentifier(alg)
	if err != nil {
		return nil, err
	}
	sig, err := key.Sign(rand.Reader, cms.Digest(crypto.SHA256, tbs), crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("signing the OCSP response: %w", err)
	}
	basic := BasicResponse{
		TBSResponseData:    asn1.RawValue{FullBytes: tbs},
		SignatureAlgorithm: asn1.RawValue{FullBytes: algDER},
		Signature:          asn1.BitString{Bytes: sig, BitLength: 8 * len(sig)},
	}
	for _, c := range certs {
		basic.Certs = append(basic.Certs, asn1.RawValue{FullBytes: c.Raw})
	}
	basicDER, err := asn1.Marshal(basic)
	if err != nil {
		return nil, fmt.Errorf("encoding BasicOCSPResponse: %w", err)
	}
	return asn1.Marshal(Response{Bytes: ResponseBytes{ResponseType: OIDBasic(), Response: basicDER}})
}

// IssuerHashes returns the issuerNameHash and issuerKeyHash of a CertID
// for certificates of issuer, with h (SHA-1, SHA-256, SHA-384 or SHA-512).
// With SHA-1, the key hash is also the KeyHash of a ResponderID.
func IssuerHashes(h crypto.Hash, issuer *x509.Certificate) (name, key []byte, err error) {
	var spki struct {
		Algorithm asn1.RawValue
		PublicKey asn1.BitString
	}
	if err := Unmarshal(issuer.RawSubjectPublicKeyInfo, &spki, "subject public key info"); err != nil {
		return nil, nil, err
	}
	return cms.Digest(h, issuer.RawSubject), cms.Digest(h, spki.PublicKey.RightAlign()), nil
}

// IssuedBy reports whether id names a certificate of issuer, whatever hash
// algorithm it uses.
func (id *CertID) IssuedBy(issuer *x509.Certificate) bool {
	h, ok := cms.HashFromOID(id.HashAlgorithm.Algorithm)
	if !ok || h == crypto.SHA224 {
		return false
	}
	name, key, err := IssuerHashes(h, issuer)
	return err == nil && bytes.Equal(id.IssuerNameHash, name) && bytes.Equal(id.IssuerKeyHash, key)
}

// Nonce returns the nonce extension among exts, or nil.
func Nonce(exts []pkix.Extension) *pkix.Extension {
	for i := range exts {
		if exts[i].Id.Equal(OIDNonce()) {
			return &exts[i]
		}
	}
	return nil
}
