// Package ltv gathers what a PAdES signature needs beyond level B-B: RFC 3161
// time-stamps (level B-T and the document time-stamps of level B-LTA) and the
// certificates, OCSP responses and CRLs that go into a PDF's document
// security store (level B-LT).
//
// [TSAClient] asks a time-stamping authority for a token and checks the
// reply: its status, nonce and message imprint, the token's CMS signature and
// the TSA certificate's extended key usage. [SignatureTimestamp] adds such a
// token over the signature value to a CMS signature. [ParseToken] reads a
// stored token back.
//
// [Fetcher] builds the certification path of each certificate and collects
// revocation data for every certificate on it: an OCSP response (RFC 6960)
// when the responder answers, otherwise a CRL (RFC 5280) from a CRL
// distribution point. OCSP responses and CRLs are verified before they are
// used, and the chains of the OCSP responders are collected too, since a
// validator needs them to trust the responses.
//
// Only HTTP and HTTPS URLs are supported.
package ltv

import (
	"crypto"
	"crypto/sha1"
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"mime"
	"net/http"
	"strings"
	"time"
)

// OIDSignatureTimeStampToken is the attribute type of the unsigned
// signature-time-stamp attribute (id-aa-signatureTimeStampToken, RFC 3161
// appendix A) that carries the time-stamp token of a CMS signature.
const OIDSignatureTimeStampToken = "1.2.840.113549.1.9.16.2.14"

// DefaultTimeout is the timeout of the HTTP client used when TSAClient.HTTP
// or Fetcher.HTTP is nil.
const DefaultTimeout = 30 * time.Second

// ClockSkew is the tolerance applied when the validity windows of OCSP
// responses and CRLs are compared with the current time.
const ClockSkew = 5 * time.Minute

// Size limits of the bodies read from servers.
const (
	maxTSAResponse  = 1 << 20
	maxOCSPResponse = 1 << 20
	maxCertResponse = 1 << 20
	maxCRLResponse  = 64 << 20
)

// Media types of RFC 3161, RFC 6960 and RFC 2585.
const (
	timestampQueryType  = "application/timestamp-query"
	timestampReplyType  = "application/timestamp-reply"
	ocspRequestType     = "application/ocsp-request"
	ocspResponseType    = "application/ocsp-response"
	legacyTimestampType = "application/timestamp-response" // pre-RFC 3161 drafts, still seen
)

// Object identifiers. They are returned by functions so that no package
// state can be modified.

func oidSignedData() asn1.ObjectIdentifier { return asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2} }
func oidTSTInfo() asn1.ObjectIdentifier {
	return asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 1, 4}
}
func oidAttrContentType() asn1.ObjectIdentifier {
	return asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 3}
}
func oidAttrMessageDigest() asn1.ObjectIdentifier {
	return asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}
}
func oidAttrSigningCertificate() asn1.ObjectIdentifier {
	return asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 12}
}
func oidAttrSigningCertificateV2() asn1.ObjectIdentifier {
	return asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 47}
}
func oidExtKeyUsage() asn1.ObjectIdentifier { return asn1.ObjectIdentifier{2, 5, 29, 37} }
func oidKPTimeStamping() asn1.ObjectIdentifier {
	return asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 8}
}
func oidOCSPBasic() asn1.ObjectIdentifier {
	return asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 1}
}
func oidOCSPNonce() asn1.ObjectIdentifier {
	return asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 2}
}
func oidOCSPNoCheck() asn1.ObjectIdentifier {
	return asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 5}
}

func oidSHA1() asn1.ObjectIdentifier   { return asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26} }
func oidSHA224() asn1.ObjectIdentifier { return asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 4} }
func oidSHA256() asn1.ObjectIdentifier { return asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1} }
func oidSHA384() asn1.ObjectIdentifier { return asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2} }
func oidSHA512() asn1.ObjectIdentifier { return asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3} }

// signatureTimeStampTokenOID returns OIDSignatureTimeStampToken parsed.
func signatureTimeStampTokenOID() asn1.ObjectIdentifier {
	return asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 14}
}

// hashOID returns the object identifier of h.
func hashOID(h crypto.Hash) (asn1.ObjectIdentifier, bool) {
	switch h {
	case crypto.SHA1:
		return oidSHA1(), true
	case crypto.SHA224:
		return oidSHA224(), true
	case crypto.SHA256:
		return oidSHA256(), true
	case crypto.SHA384:
		return oidSHA384(), true
	case crypto.SHA512:
		return oidSHA512(), true
	}
	return nil, false
}

// hashFromOID returns the hash function named by oid.
func hashFromOID(oid asn1.ObjectIdentifier) (crypto.Hash, bool) {
	for _, h := range []crypto.Hash{crypto.SHA1, crypto.SHA224, crypto.SHA256, crypto.SHA384, crypto.SHA512} {
		if o, _ := hashOID(h); o.Equal(oid) {
			return h, true
		}
	}
	return 0, false
}

// certName returns the subject of c for error messages.
func certName(c *x509.Certificate) string {
	if c == nil {
		return "<nil certificate>"
	}
	if s := c.Subject.String(); s != "" {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprintf("with serial number %s", c.SerialNumber.Text(16))
}

// keyHash returns the SHA-1 hash of the subjectPublicKey bits of c, as used
// by OCSP's CertID and ResponderID byKey.
func keyHash(c *x509.Certificate) ([]byte, error) {
	var spki struct {
		Algorithm asn1.RawValue
		PublicKey asn1.BitString
	}
	if rest, err := asn1.Unmarshal(c.RawSubjectPublicKeyInfo, &spki); err != nil {
		return nil, fmt.Errorf("decoding the public key of %s: %w", certName(c), err)
	} else if len(rest) != 0 {
		return nil, fmt.Errorf("decoding the public key of %s: trailing data", certName(c))
	}
	sum := sha1.Sum(spki.PublicKey.Bytes)
	return sum[:], nil
}

// checkMediaType checks that resp's Content-Type is one of want.
func checkMediaType(resp *http.Response, want ...string) error {
	ct := resp.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if err == nil {
		for _, w := range want {
			if strings.EqualFold(mt, w) {
				return nil
			}
		}
	}
	if ct == "" {
		return fmt.Errorf("response has no Content-Type, want %s", want[0])
	}
	return fmt.Errorf("response Content-Type is %q, want %s", ct, want[0])
}

// httpClient returns c, or a client with DefaultTimeout when c is nil.
func httpClient(c *http.Client) *http.Client {
	if c != nil {
		return c
	}
	return &http.Client{Timeout: DefaultTimeout}
}
