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
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"mime"
	"net/http"
	"strings"
	"time"
)

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

// oidKPTimeStamping returns id-kp-timeStamping, the extended key usage of
// a TSA certificate. crypto/x509 parses the extension, but does not say
// whether it is critical, which RFC 3161 requires.
func oidKPTimeStamping() asn1.ObjectIdentifier {
	return asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 8}
}

// oidExtKeyUsage returns the extended key usage extension's identifier.
func oidExtKeyUsage() asn1.ObjectIdentifier { return asn1.ObjectIdentifier{2, 5, 29, 37} }

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
