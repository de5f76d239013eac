// Package csc defines the JSON messages of the Cloud Signature Consortium
// API v2 subset that hashsvc serves and that the remote signer speaks, and
// the object identifiers and RSASSA-PSS parameters they carry.
//
// The subset covers info, credentials/list, credentials/info,
// credentials/authorize, credentials/sendOTP and signatures/signHash, plus
// hashsvc's own CAdES endpoint (/v1/cades/sign). The same messages serve
// CSC API v1.0.4 (/csc/v1/...): the requests also carry the v1 field names
// (hash, hashAlgo), which [SignHashRequest.Normalize] and
// [AuthorizeRequest.Normalize] merge into the v2 ones.
// Binary values (hashes, signatures, certificates, parameters) are base64
// with padding, as the CSC specification requires.
package csc

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"fmt"

	"hashsign/cms"
)

// Spec is the CSC API version that hashsvc implements.
const Spec = "2.0.0.0"

// Paths of the endpoints, relative to the service's base URL.
const (
	PathInfo            = "/csc/v2/info"
	PathCredentialsList = "/csc/v2/credentials/list"
	PathCredentialsInfo = "/csc/v2/credentials/info"
	PathSignHash        = "/csc/v2/signatures/signHash"
	PathCAdESSign       = "/v1/cades/sign"
)

// Hash algorithm object identifiers (hashAlgorithmOID), the strings of
// cms.HashOID.
const (
	OIDSHA256 = "2.16.840.1.101.3.4.2.1"
	OIDSHA384 = "2.16.840.1.101.3.4.2.2"
	OIDSHA512 = "2.16.840.1.101.3.4.2.3"
)

// Signature algorithm object identifiers (signAlgo).
const (
	// OIDRSAEncryption is RSA PKCS #1 v1.5 over a DigestInfo built from
	// the hash and hashAlgorithmOID.
	OIDRSAEncryption = "1.2.840.113549.1.1.1"
	// OIDRSASSAPSS is RSASSA-PSS; signAlgoParams holds the DER
	// RSASSA-PSS-params.
	OIDRSASSAPSS = "1.2.840.113549.1.1.10"
	// OIDSHA256WithRSA, OIDSHA384WithRSA and OIDSHA512WithRSA are RSA
	// PKCS #1 v1.5 with the hash named in the OID.
	OIDSHA256WithRSA = "1.2.840.113549.1.1.11"
	OIDSHA384WithRSA = "1.2.840.113549.1.1.12"
	OIDSHA512WithRSA = "1.2.840.113549.1.1.13"
	// OIDECPublicKey is ECDSA with the hash named by hashAlgorithmOID.
	OIDECPublicKey = "1.2.840.10045.2.1"
	// OIDECDSAWithSHA256, OIDECDSAWithSHA384 and OIDECDSAWithSHA512 are
	// ECDSA with the hash named in the OID.
	OIDECDSAWithSHA256 = "1.2.840.10045.4.3.2"
	OIDECDSAWithSHA384 = "1.2.840.10045.4.3.3"
	OIDECDSAWithSHA512 = "1.2.840.10045.4.3.4"
)

// Named curve object identifiers, reported in KeyInfo.Curve.
const (
	OIDP256 = "1.2.840.10045.3.1.7"
	OIDP384 = "1.3.132.0.34"
	OIDP521 = "1.3.132.0.35"
)

// Error codes of ErrorResponse.Error.
const (
	ErrInvalidRequest = "invalid_request" // 400: a malformed or unsupported request
	ErrUnauthorized   = "unauthorized"    // 401: no API key was presented
	ErrInvalidToken   = "invalid_token"   // 401: the API key is not valid
	ErrAccessDenied   = "access_denied"   // 403: the key may not use the credential
	ErrNotFound       = "not_found"       // 404: no such credential or endpoint
	ErrMethod         = "method_not_allowed"
	ErrTooLarge       = "request_too_large"       // 413
	ErrServer         = "server_error"            // 500: signing or the audit log failed
	ErrTSA            = "timestamp_failed"        // 502: the time-stamping authority failed
	ErrValidationData = "validation_data_failed"  // 502: an OCSP responder or CRL server failed
	ErrUnavailable    = "temporarily_unavailable" // 503: the service is shutting down
)

// ErrorResponse is the body of every error answer.
type ErrorResponse struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

// InfoRequest is the optional body of POST /csc/v2/info.
type InfoRequest struct {
	Lang string `json:"lang,omitempty"`
}

// InfoResponse answers POST /csc/v2/info.
type InfoResponse struct {
	Specs       string   `json:"specs"`
	Name        string   `json:"name"`
	Logo        string   `json:"logo,omitempty"`
	Region      string   `json:"region"`
	Lang        string   `json:"lang"`
	Description string   `json:"description"`
	AuthType    []string `json:"authType"`
	Methods     []string `json:"methods"`
}

// CredentialsListRequest is the body of POST /csc/v2/credentials/list.
type CredentialsListRequest struct {
	UserID         string `json:"userID,omitempty"`
	CredentialInfo bool   `json:"credentialInfo,omitempty"`
	Certificates   string `json:"certificates,omitempty"`
	CertInfo       bool   `json:"certInfo,omitempty"`
	AuthInfo       bool   `json:"authInfo,omitempty"`
	OnlyValid      bool   `json:"onlyValid,omitempty"`
	Lang           string `json:"lang,omitempty"`
	MaxResults     int    `json:"maxResults,omitempty"`
	PageToken      string `json:"pageToken,omitempty"`
}

// CredentialsListResponse answers POST /csc/v2/credentials/list.
type CredentialsListResponse struct {
	CredentialIDs   []string         `json:"credentialIDs"`
	CredentialInfos []CredentialInfo `json:"credentialInfos,omitempty"`
	OnlyValid       bool             `json:"onlyValid,omitempty"`
	NextPageToken   string           `json:"nextPageToken,omitempty"`
}

// CredentialsInfoRequest is the body of POST /csc/v2/credentials/info.
// Certificates is "none", "single" (the default) or "chain".
type CredentialsInfoRequest struct {
	CredentialID string `json:"credentialID"`
	Certificates string `json:"certificates,omitempty"`
	CertInfo     bool   `json:"certInfo,omitempty"`
	AuthInfo     bool   `json:"authInfo,omitempty"`
	Lang         string `json:"lang,omitempty"`
}

// CredentialInfo answers POST /csc/v2/credentials/info, and is an element
// of CredentialsListResponse.CredentialInfos.
type CredentialInfo struct {
	CredentialID string   `json:"credentialID,omitempty"`
	Description  string   `json:"description,omitempty"`
	Key          KeyInfo  `json:"key"`
	Cert         CertInfo `json:"cert"`
	AuthMode     string   `json:"authMode"`
	SCAL         string   `json:"SCAL,omitempty"`
	Multisign    int      `json:"multisign"`
	Lang         string   `json:"lang,omitempty"`
	// PIN and OTP describe how an explicit credential is authorized.
	PIN *PINInfo `json:"PIN,omitempty"`
	OTP *OTPInfo `json:"OTP,omitempty"`
}

// KeyInfo describes a credential's key: its status ("enabled"), the
// signAlgo values it supports, its length in bits and, for ECDSA, the
// curve's OID.
type KeyInfo struct {
	Status string   `json:"status"`
	Algo   []string `json:"algo"`
	Len    int      `json:"len"`
	Curve  string   `json:"curve,omitempty"`
}

// CertInfo describes a credential's certificate. Certificates holds base64
// DER certificates, the signer's first. The other fields are present when
// certInfo was requested; ValidFrom and ValidTo are GeneralizedTime strings
// (YYYYMMDDHHMMSSZ) and SerialNumber is hexadecimal.
type CertInfo struct {
	Status       string   `json:"status,omitempty"`
	Certificates []string `json:"certificates,omitempty"`
	IssuerDN     string   `json:"issuerDN,omitempty"`
	SerialNumber string   `json:"serialNumber,omitempty"`
	SubjectDN    string   `json:"subjectDN,omitempty"`
	ValidFrom    string   `json:"validFrom,omitempty"`
	ValidTo      string   `json:"validTo,omitempty"`
}

// SignHashRequest is the body of POST /csc/v2/signatures/signHash. Hashes
// holds one or more base64 hashes (a batch), each of the size of the hash
// algorithm. OperationMode is "S" (synchronous, the default); hashsvc does
// not support "A". SAD, from credentials/authorize, is required for an
// explicit credential and must name these hashes; an implicit credential
// (a seal) signs on the API key alone. Hash and HashAlgo are the CSC v1
// names of Hashes and HashAlgorithmOID.
type SignHashRequest struct {
	CredentialID     string   `json:"credentialID"`
	SAD              string   `json:"SAD,omitempty"`
	Hashes           []string `json:"hashes,omitempty"`
	Hash             []string `json:"hash,omitempty"`
	HashAlgorithmOID string   `json:"hashAlgorithmOID,omitempty"`
	HashAlgo         string   `json:"hashAlgo,omitempty"`
	SignAlgo         string   `json:"signAlgo"`
	SignAlgoParams   string   `json:"signAlgoParams,omitempty"`
	OperationMode    string   `json:"operationMode,omitempty"`
	ClientData       string   `json:"clientData,omitempty"`
}

// SignHashResponse answers signHash: the base64 signatures in the order of
// the request's hashes. ECDSA signatures are ASN.1 DER; RSA signatures are
// as long as the modulus.
type SignHashResponse struct {
	Signatures []string `json:"signatures"`
}

// CAdESSignRequest is the body of POST /v1/cades/sign. Digest is the base64
// digest of the PDF byte range, of the size of HashAlgorithmOID (SHA-256
// when empty). SignAlgo may select RSASSA-PSS for an RSA credential; the
// default is PKCS #1 v1.5 or ECDSA. Certificates is "chain" (the default)
// or "single". Timestamp adds a signature time-stamp from the service's
// time-stamping authority, or from TSAURL, which must be one the service is
// configured to use.
type CAdESSignRequest struct {
	CredentialID     string `json:"credentialID"`
	Digest           string `json:"digest"`
	HashAlgorithmOID string `json:"hashAlgorithmOID,omitempty"`
	SignAlgo         string `json:"signAlgo,omitempty"`
	Certificates     string `json:"certificates,omitempty"`
	Timestamp        bool   `json:"timestamp,omitempty"`
	TSAURL           string `json:"tsaURL,omitempty"`
	// ValidationData asks for the certificates, OCSP responses and CRLs
	// of the signer's and the TSA's paths, for the client's /DSS (B-LT).
	ValidationData bool `json:"validationData,omitempty"`
	// SAD is required for an explicit credential: credentials/authorize
	// for Digest gives it.
	SAD string `json:"SAD,omitempty"`
}

// CAdESSignResponse answers /v1/cades/sign with a base64 DER ContentInfo
// holding a detached CAdES SignedData, ready for `pades embed`.
type CAdESSignResponse struct {
	CMS         string `json:"cms"`
	Timestamped bool   `json:"timestamped"`
	// Certificates, OCSPs and CRLs (base64 DER) answer ValidationData.
	Certificates []string `json:"certificates,omitempty"`
	OCSPs        []string `json:"ocsps,omitempty"`
	CRLs         []string `json:"crls,omitempty"`
}

// CAdESSignature is a decoded CAdESSignResponse: the DER ContentInfo and
// the DER certificates, OCSP responses and CRLs that came with it.
type CAdESSignature struct {
	CMS                []byte
	Timestamped        bool
	Certs, OCSPs, CRLs [][]byte
}

// Decode decodes the base64 members of r.
func (r *CAdESSignResponse) Decode() (*CAdESSignature, error) {
	der, err := base64.StdEncoding.DecodeString(r.CMS)
	if err != nil || len(der) == 0 {
		return nil, errors.New("csc: cades/sign response: cms is not base64 DER")
	}
	sig := &CAdESSignature{CMS: der, Timestamped: r.Timestamped}
	for _, l := range []struct {
		name string
		in   []string
		out  *[][]byte
	}{{"certificates", r.Certificates, &sig.Certs}, {"ocsps", r.OCSPs, &sig.OCSPs}, {"crls", r.CRLs, &sig.CRLs}} {
		for i, b := range l.in {
			d, err := base64.StdEncoding.DecodeString(b)
			if err != nil {
				return nil, fmt.Errorf("csc: cades/sign response: %s[%d] is not base64", l.name, i)
			}
			*l.out = append(*l.out, d)
		}
	}
	return sig, nil
}

// HashOID returns the hashAlgorithmOID of h: SHA-256, SHA-384 or SHA-512.
func HashOID(h crypto.Hash) (string, error) {
	if !signingHash(h) {
		return "", fmt.Errorf("csc: unsupported hash %v (want SHA-256, SHA-384 or SHA-512)", h)
	}
	oid, _ := cms.HashOID(h)
	return oid.String(), nil
}

// HashFromOID returns the hash named by a hashAlgorithmOID: SHA-256,
// SHA-384 or SHA-512.
func HashFromOID(oid string) (crypto.Hash, bool) {
	for _, h := range []crypto.Hash{crypto.SHA256, crypto.SHA384, crypto.SHA512} {
		if o, _ := cms.HashOID(h); o.String() == oid {
			return h, true
		}
	}
	return 0, false
}

// signingHash reports whether h is one of the hashes the CSC messages
// carry: SHA-256, SHA-384 or SHA-512.
func signingHash(h crypto.Hash) bool {
	return h == crypto.SHA256 || h == crypto.SHA384 || h == crypto.SHA512
}

// SignAlgo returns the signAlgo OID and, for RSASSA-PSS, the DER
// signAlgoParams with which a service signs for a key with public key pub
// and the crypto.Signer options opts (a crypto.Hash or *rsa.PSSOptions).
// RSA PKCS #1 v1.5 uses rsaEncryption and ECDSA uses ecdsa-with-SHA*;
// hashAlgorithmOID is sent with both.
func SignAlgo(pub crypto.PublicKey, opts crypto.SignerOpts) (oid string, params []byte, err error) {
	h := opts.HashFunc()
	if _, err := HashOID(h); err != nil {
		return "", nil, err
	}
	switch pub.(type) {
	case *rsa.PublicKey:
		pss, ok := opts.(*rsa.PSSOptions)
		if !ok {
			return OIDRSAEncryption, nil, nil
		}
		salt := pss.SaltLength
		switch salt {
		case rsa.PSSSaltLengthEqualsHash:
			salt = h.Size()
		case rsa.PSSSaltLengthAuto:
			return "", nil, errors.New("csc: RSASSA-PSS with an automatic salt length cannot be requested from a service; give the length")
		}
		params, err := MarshalPSSParams(h, salt)
		if err != nil {
			return "", nil, err
		}
		return OIDRSASSAPSS, params, nil
	case *ecdsa.PublicKey:
		if _, ok := opts.(*rsa.PSSOptions); ok {
			return "", nil, errors.New("csc: RSASSA-PSS requested for an ECDSA key")
		}
		switch h {
		case crypto.SHA256:
			return OIDECDSAWithSHA256, nil, nil
		case crypto.SHA384:
			return OIDECDSAWithSHA384, nil, nil
		}
		return OIDECDSAWithSHA512, nil, nil
	}
	return "", nil, fmt.Errorf("csc: unsupported public key type %T (want RSA or ECDSA)", pub)
}

// CurveOID returns the OID of a named curve, or "" for another curve.
func CurveOID(c elliptic.Curve) string {
	switch c {
	case elliptic.P256():
		return OIDP256
	case elliptic.P384():
		return OIDP384
	case elliptic.P521():
		return OIDP521
	}
	return ""
}

// MarshalPSSParams returns the DER RSASSA-PSS-params for hash h (SHA-256,
// SHA-384 or SHA-512), MGF1 with h, and the salt length saltLen, as
// cms.MarshalPSSParams encodes them.
func MarshalPSSParams(h crypto.Hash, saltLen int) ([]byte, error) {
	return cms.MarshalPSSParams(h, saltLen)
}

// ParsePSSParams parses DER RSASSA-PSS-params with cms.ParsePSSParams and
// returns the hash and the salt length. It accepts SHA-256, SHA-384 and
// SHA-512 only: the RFC 4055 defaults, SHA-1, are refused.
func ParsePSSParams(der []byte) (crypto.Hash, int, error) {
	h, salt, err := cms.ParsePSSParams(der)
	if err != nil {
		return 0, 0, err
	}
	if !signingHash(h) {
		return 0, 0, fmt.Errorf("csc: RSASSA-PSS with %v (want SHA-256, SHA-384 or SHA-512)", h)
	}
	return h, salt, nil
}
