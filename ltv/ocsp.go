package ltv

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// ocspNonceSize is the size of the nonces sent to OCSP responders, the
// size RFC 8954 recommends.
const ocspNonceSize = 32

// certID is the CertID of RFC 6960, section 4.1.1.
type certID struct {
	HashAlgorithm  pkix.AlgorithmIdentifier
	IssuerNameHash []byte
	IssuerKeyHash  []byte
	SerialNumber   *big.Int
}

// ocspRequest is the OCSPRequest of RFC 6960, unsigned.
type ocspRequest struct {
	TBSRequest tbsRequest
}

type tbsRequest struct {
	Version           int `asn1:"optional,explicit,default:0,tag:0"`
	RequestList       []singleRequest
	RequestExtensions []pkix.Extension `asn1:"optional,explicit,tag:2"`
}

type singleRequest struct {
	ReqCert certID
}

// ocspResponse is the OCSPResponse of RFC 6960, section 4.2.1.
type ocspResponse struct {
	ResponseStatus asn1.Enumerated
	ResponseBytes  responseBytes `asn1:"optional,explicit,tag:0"`
}

type responseBytes struct {
	ResponseType asn1.ObjectIdentifier
	Response     []byte
}

type basicOCSPResponse struct {
	TBSResponseData    asn1.RawValue
	SignatureAlgorithm asn1.RawValue
	Signature          asn1.BitString
	Certs              []asn1.RawValue `asn1:"optional,explicit,tag:0"`
}

type responseData struct {
	Version            int `asn1:"optional,explicit,default:0,tag:0"`
	ResponderID        asn1.RawValue
	ProducedAt         time.Time `asn1:"generalized"`
	Responses          []singleResponse
	ResponseExtensions []pkix.Extension `asn1:"optional,explicit,tag:1"`
}

type singleResponse struct {
	CertID           certID
	Good             asn1.Flag        `asn1:"optional,tag:0"`
	Revoked          revokedInfo      `asn1:"optional,tag:1"`
	Unknown          asn1.Flag        `asn1:"optional,tag:2"`
	ThisUpdate       time.Time        `asn1:"generalized"`
	NextUpdate       time.Time        `asn1:"optional,generalized,explicit,tag:0"`
	SingleExtensions []pkix.Extension `asn1:"optional,explicit,tag:1"`
}

type revokedInfo struct {
	RevocationTime   time.Time       `asn1:"generalized"`
	RevocationReason asn1.Enumerated `asn1:"optional,explicit,tag:0"`
}

// ocspStatusName returns the name of an OCSPResponseStatus.
func ocspStatusName(s asn1.Enumerated) string {
	switch s {
	case 1:
		return "malformedRequest"
	case 2:
		return "internalError"
	case 3:
		return "tryLater"
	case 5:
		return "sigRequired"
	case 6:
		return "unauthorized"
	}
	return fmt.Sprintf("status %d", s)
}

// ocspResult is a verified OCSP response that reports a certificate good.
type ocspResult struct {
	der []byte
	// responder is the delegated responder's certificate, nil when the
	// issuer signed the response itself.
	responder *x509.Certificate
	// certs holds the certificates of the response.
	certs []*x509.Certificate
}

// newCertID returns the CertID of cert, issued by issuer, with SHA-1, the
// hash every responder supports.
func newCertID(cert, issuer *x509.Certificate) (certID, error) {
	kh, err := keyHash(issuer)
	if err != nil {
		return certID{}, err
	}
	return certID{
		HashAlgorithm:  pkix.AlgorithmIdentifier{Algorithm: oidSHA1(), Parameters: asn1.NullRawValue},
		IssuerNameHash: hashOf(crypto.SHA1, issuer.RawSubject),
		IssuerKeyHash:  kh,
		SerialNumber:   cert.SerialNumber,
	}, nil
}

// matches reports whether id identifies cert, issued by issuer.
func (id *certID) matches(cert, issuer *x509.Certificate) bool {
	h, ok := hashFromOID(id.HashAlgorithm.Algorithm)
	if !ok || id.SerialNumber == nil || id.SerialNumber.Cmp(cert.SerialNumber) != 0 {
		return false
	}
	var spki struct {
		Algorithm asn1.RawValue
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(issuer.RawSubjectPublicKeyInfo, &spki); err != nil {
		return false
	}
	return bytes.Equal(id.IssuerNameHash, hashOf(h, issuer.RawSubject)) &&
		bytes.Equal(id.IssuerKeyHash, hashOf(h, spki.PublicKey.Bytes))
}

// ocsp asks the responder at url for the status of cert, issued by issuer,
// and verifies the answer. A revoked certificate is a *RevokedError.
func (f *Fetcher) ocsp(ctx context.Context, url string, cert, issuer *x509.Certificate, now time.Time) (*ocspResult, error) {
	id, err := newCertID(cert, issuer)
	if err != nil {
		return nil, err
	}
	key := "ocsp\x00" + url + "\x00" + string(id.IssuerNameHash) + string(id.IssuerKeyHash) + "\x00" + cert.SerialNumber.String()
	return cached(f, ctx, key, func() (*ocspResult, error) {
		nonce := make([]byte, ocspNonceSize)
		if _, err := rand.Read(nonce); err != nil {
			return nil, fmt.Errorf("generating nonce: %w", err)
		}
		nonceExt, err := asn1.Marshal(nonce)
		if err != nil {
			return nil, err
		}
		reqDER, err := asn1.Marshal(ocspRequest{TBSRequest: tbsRequest{
			RequestList:       []singleRequest{{ReqCert: id}},
			RequestExtensions: []pkix.Extension{{Id: oidOCSPNonce(), Value: nonceExt}},
		}})
		if err != nil {
			return nil, fmt.Errorf("encoding OCSP request: %w", err)
		}
		der, err := f.postOCSP(ctx, url, reqDER)
		if err != nil {
			return nil, err
		}
		res, err := verifyOCSP(der, cert, issuer, nonceExt, now)
		if rev, ok := errors.AsType[*RevokedError](err); ok {
			rev.Source = "OCSP responder " + url
		}
		return res, err
	})
}

// postOCSP sends an OCSP request to url with POST, and with GET (RFC 6960,
// appendix A.1) when POST fails for another reason than an unreachable
// server, and returns the DER response.
func (f *Fetcher) postOCSP(ctx context.Context, u string, reqDER []byte) ([]byte, error) {
	client := httpClient(f.HTTP)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(reqDER))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", ocspRequestType)
	req.Header.Set("Accept", ocspResponseType)
	// Many OCSP responders, OpenSSL's among them, serve one connection at
	// a time: do not keep an idle one open.
	req.Close = true
	body, postErr := do(client, req, maxOCSPResponse, ocspResponseType)
	if postErr == nil {
		return body, nil
	}
	if isDialError(postErr) || ctx.Err() != nil {
		return nil, postErr
	}

	// Every character of the base64 text that is not unreserved is
	// percent-encoded, "/" included.
	getURL := strings.TrimSuffix(u, "/") + "/" + url.QueryEscape(base64.StdEncoding.EncodeToString(reqDER))
	req, err = http.NewRequestWithContext(ctx, http.MethodGet, getURL, nil)
	if err != nil {
		return nil, fmt.Errorf("%w; GET: %w", postErr, err)
	}
	req.Header.Set("Accept", ocspResponseType)
	req.Close = true
	body, err = do(client, req, maxOCSPResponse, ocspResponseType)
	if err != nil {
		return nil, fmt.Errorf("%w; %w", postErr, err)
	}
	return body, nil
}

// verifyOCSP parses the DER OCSPResponse der and checks that it is a valid,
// current answer about cert, issued by issuer, signed by issuer or by a
// responder it authorised. nonceExt is the value of the nonce extension
// sent; a response that carries another nonce is rejected. A nil nonceExt
// skips that check, for responses read back from storage.
func verifyOCSP(der []byte, cert, issuer *x509.Certificate, nonceExt []byte, now time.Time) (*ocspResult, error) {
	var resp ocspResponse
	if rest, err := asn1.Unmarshal(der, &resp); err != nil {
		return nil, fmt.Errorf("malformed OCSP response: %w", err)
	} else if len(rest) != 0 {
		return nil, errors.New("trailing data after the OCSP response")
	}
	if resp.ResponseStatus != 0 {
		return nil, fmt.Errorf("OCSP responder answered %s", ocspStatusName(resp.ResponseStatus))
	}
	if !resp.ResponseBytes.ResponseType.Equal(oidOCSPBasic()) {
		return nil, fmt.Errorf("unsupported OCSP response type %v", resp.ResponseBytes.ResponseType)
	}
	var basic basicOCSPResponse
	if rest, err := asn1.Unmarshal(resp.ResponseBytes.Response, &basic); err != nil {
		return nil, fmt.Errorf("malformed BasicOCSPResponse: %w", err)
	} else if len(rest) != 0 {
		return nil, errors.New("trailing data after the BasicOCSPResponse")
	}
	var data responseData
	if rest, err := asn1.Unmarshal(basic.TBSResponseData.FullBytes, &data); err != nil {
		return nil, fmt.Errorf("malformed OCSP ResponseData: %w", err)
	} else if len(rest) != 0 {
		return nil, errors.New("trailing data after the OCSP ResponseData")
	}
	if data.Version != 0 {
		return nil, fmt.Errorf("unsupported OCSP response version %d", data.Version)
	}
	res := &ocspResult{der: bytes.Clone(der)}
	for i, raw := range basic.Certs {
		c, err := x509.ParseCertificate(raw.FullBytes)
		if err != nil {
			return nil, fmt.Errorf("OCSP response certificate %d: %w", i, err)
		}
		res.certs = append(res.certs, c)
	}

	// The signer: the issuer itself or a certificate of the response,
	// as the ResponderID names it.
	sigAlg, sigParams, err := algorithmOf(basic.SignatureAlgorithm.FullBytes)
	if err != nil {
		return nil, fmt.Errorf("OCSP response signatureAlgorithm: %w", err)
	}
	var signer *x509.Certificate
	var sigErr error
	for _, c := range append([]*x509.Certificate{issuer}, res.certs...) {
		if !responderIDMatches(data.ResponderID, c) {
			continue
		}
		if sigErr = verifySignature(c, sigAlg, sigParams, 0, basic.TBSResponseData.FullBytes, basic.Signature.RightAlign()); sigErr == nil {
			signer = c
			break
		}
	}
	switch {
	case signer == nil && sigErr != nil:
		return nil, fmt.Errorf("OCSP response signature does not verify: %w", sigErr)
	case signer == nil:
		return nil, fmt.Errorf("OCSP responder %s is not authorised: its certificate is neither the issuer %s nor included in the response",
			responderIDString(data.ResponderID), certName(issuer))
	case !sameCert(signer, issuer):
		if err := checkDelegatedResponder(signer, issuer, now); err != nil {
			return nil, err
		}
		res.responder = signer
	}

	var single *singleResponse
	for i := range data.Responses {
		if data.Responses[i].CertID.matches(cert, issuer) {
			single = &data.Responses[i]
			break
		}
	}
	if single == nil {
		return nil, fmt.Errorf("OCSP response holds no status for certificate %s", certName(cert))
	}
	for _, ext := range data.ResponseExtensions {
		if ext.Id.Equal(oidOCSPNonce()) && nonceExt != nil && !bytes.Equal(ext.Value, nonceExt) {
			return nil, errors.New("OCSP response nonce does not match the request's")
		}
	}
	if single.ThisUpdate.After(now.Add(ClockSkew)) {
		return nil, fmt.Errorf("OCSP response thisUpdate %s is in the future", single.ThisUpdate.UTC().Format(time.RFC3339))
	}
	if !single.NextUpdate.IsZero() && single.NextUpdate.Before(now.Add(-ClockSkew)) {
		return nil, fmt.Errorf("OCSP response expired: nextUpdate %s", single.NextUpdate.UTC().Format(time.RFC3339))
	}
	switch {
	case bool(single.Good):
		return res, nil
	case bool(single.Unknown):
		return nil, fmt.Errorf("OCSP responder does not know certificate %s (status unknown)", certName(cert))
	case !single.Revoked.RevocationTime.IsZero():
		return nil, &RevokedError{
			Cert:   cert,
			At:     single.Revoked.RevocationTime,
			Reason: int(single.Revoked.RevocationReason),
		}
	}
	return nil, errors.New("OCSP response has no certificate status")
}

// checkDelegatedResponder checks that responder may sign OCSP responses for
// the certificates of issuer (RFC 6960, section 4.2.2.2).
func checkDelegatedResponder(responder, issuer *x509.Certificate, now time.Time) error {
	prefix := fmt.Sprintf("OCSP responder %s is not authorised by %s", certName(responder), certName(issuer))
	if !bytes.Equal(responder.RawIssuer, issuer.RawSubject) {
		return fmt.Errorf("%s: it is issued by %q", prefix, responder.Issuer.String())
	}
	if err := responder.CheckSignatureFrom(issuer); err != nil {
		return fmt.Errorf("%s: it is not signed by that CA: %w", prefix, err)
	}
	hasEKU := false
	for _, u := range responder.ExtKeyUsage {
		hasEKU = hasEKU || u == x509.ExtKeyUsageOCSPSigning
	}
	if !hasEKU {
		return fmt.Errorf("%s: it lacks the OCSPSigning extended key usage", prefix)
	}
	if now.Before(responder.NotBefore.Add(-ClockSkew)) || now.After(responder.NotAfter.Add(ClockSkew)) {
		return fmt.Errorf("%s: it is valid from %s to %s only", prefix,
			responder.NotBefore.UTC().Format(time.RFC3339), responder.NotAfter.UTC().Format(time.RFC3339))
	}
	return nil
}

// responderIDMatches reports whether the ResponderID id names c.
func responderIDMatches(id asn1.RawValue, c *x509.Certificate) bool {
	if id.Class != asn1.ClassContextSpecific || !id.IsCompound {
		return false
	}
	switch id.Tag {
	case 1: // byName [1] EXPLICIT Name
		return bytes.Equal(id.Bytes, c.RawSubject)
	case 2: // byKey [2] EXPLICIT KeyHash
		var h []byte
		if rest, err := asn1.Unmarshal(id.Bytes, &h); err != nil || len(rest) != 0 {
			return false
		}
		kh, err := keyHash(c)
		return err == nil && bytes.Equal(h, kh)
	}
	return false
}

// responderIDString describes a ResponderID for error messages.
func responderIDString(id asn1.RawValue) string {
	if id.Class == asn1.ClassContextSpecific && id.Tag == 1 {
		var name pkix.RDNSequence
		if _, err := asn1.Unmarshal(id.Bytes, &name); err == nil {
			return fmt.Sprintf("%q", name.String())
		}
	}
	if id.Class == asn1.ClassContextSpecific && id.Tag == 2 {
		var h []byte
		if _, err := asn1.Unmarshal(id.Bytes, &h); err == nil {
			return fmt.Sprintf("with key hash %x", h)
		}
	}
	return "(malformed responder ID)"
}

// algorithmOf parses a DER AlgorithmIdentifier.
func algorithmOf(der []byte) (asn1.ObjectIdentifier, []byte, error) {
	var ai struct {
		Algorithm  asn1.ObjectIdentifier
		Parameters asn1.RawValue `asn1:"optional"`
	}
	if rest, err := asn1.Unmarshal(der, &ai); err != nil {
		return nil, nil, err
	} else if len(rest) != 0 {
		return nil, nil, errors.New("trailing data")
	}
	return ai.Algorithm, ai.Parameters.FullBytes, nil
}

// sameCert reports whether a and b are the same certificate, or two
// certificates of the same subject and key (a re-issued CA certificate).
func sameCert(a, b *x509.Certificate) bool {
	return bytes.Equal(a.Raw, b.Raw) ||
		bytes.Equal(a.RawSubject, b.RawSubject) && bytes.Equal(a.RawSubjectPublicKeyInfo, b.RawSubjectPublicKeyInfo)
}

// hasNoCheck reports whether c carries id-pkix-ocsp-nocheck.
func hasNoCheck(c *x509.Certificate) bool {
	for _, ext := range c.Extensions {
		if ext.Id.Equal(oidOCSPNoCheck()) {
			return true
		}
	}
	return false
}
