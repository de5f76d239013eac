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
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/crypto/ocsp"

	"hashsign/cms"
	"hashsign/internal/ocspasn1"
)

// ocspNonceSize is the size of the nonces sent to OCSP responders, the
// size RFC 8954 recommends.
const ocspNonceSize = 32

// ocspResult is a verified OCSP response that reports a certificate good.
type ocspResult struct {
	der []byte
	// responder is the delegated responder's certificate, nil when the
	// issuer signed the response itself.
	responder *x509.Certificate
	// certs holds the certificates of the response.
	certs []*x509.Certificate
	// expires is when the response stops being reused: its nextUpdate.
	expires time.Time
}

// ocsp asks the responder at url for the status of cert, issued by issuer,
// and verifies the answer. A revoked certificate is a *RevokedError.
func (f *Fetcher) ocsp(ctx context.Context, url string, cert, issuer *x509.Certificate, now time.Time) (*ocspResult, error) {
	key := "ocsp\x00" + url + "\x00" + string(issuer.RawSubject) + string(issuer.RawSubjectPublicKeyInfo) + "\x00" + cert.SerialNumber.String()
	return cached(f, ctx, key, now, func() (*ocspResult, time.Time, error) {
		reqDER, nonceExt, err := newOCSPRequest(cert, issuer)
		if err != nil {
			return nil, time.Time{}, err
		}
		der, err := f.postOCSP(ctx, url, reqDER)
		if err != nil {
			return nil, time.Time{}, err
		}
		res, err := verifyOCSP(der, cert, issuer, nonceExt, now)
		if rev, ok := errors.AsType[*RevokedError](err); ok {
			rev.Source = "OCSP responder " + url
		}
		if err != nil {
			return nil, time.Time{}, err
		}
		return res, res.expires, nil
	})
}

// newOCSPRequest returns a DER OCSP request for the status of cert, issued
// by issuer, with a fresh nonce, and the value of its nonce extension.
// ocsp.CreateRequest builds the request, with a SHA-1 CertID, the hash
// every responder supports; it cannot carry extensions, so the nonce (RFC
// 8954) is added here.
func newOCSPRequest(cert, issuer *x509.Certificate) (der, nonceExt []byte, err error) {
	plain, err := ocsp.CreateRequest(cert, issuer, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("creating the OCSP request: %w", err)
	}
	var req ocspasn1.Request
	if err := ocspasn1.Unmarshal(plain, &req, "OCSP request"); err != nil {
		return nil, nil, err
	}
	nonce := make([]byte, ocspNonceSize)
	if _, err := rand.Read(nonce); err != nil {
		return nil, nil, fmt.Errorf("generating nonce: %w", err)
	}
	if nonceExt, err = asn1.Marshal(nonce); err != nil {
		return nil, nil, err
	}
	req.TBSRequest.RequestExtensions = append(req.TBSRequest.RequestExtensions, pkix.Extension{Id: ocspasn1.OIDNonce(), Value: nonceExt})
	if der, err = asn1.Marshal(req); err != nil {
		return nil, nil, fmt.Errorf("encoding the OCSP request: %w", err)
	}
	return der, nonceExt, nil
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
//
// ocsp.ParseResponseForCert would read the response, but it matches the
// CertID by serial number alone, exposes neither the responseExtensions
// (the nonce) nor the signature's parameters (RSASSA-PSS), keeps only the
// first certificate and checks no delegated responder's extended key usage
// or validity: the response is read here, with internal/ocspasn1.
func verifyOCSP(der []byte, cert, issuer *x509.Certificate, nonceExt []byte, now time.Time) (*ocspResult, error) {
	p, err := parseOCSP(der, cert, issuer)
	if err != nil {
		return nil, err
	}
	if p.signer != nil {
		if err := checkDelegatedResponder(p.signer, issuer, now); err != nil {
			return nil, err
		}
	}
	if ext := ocspasn1.Nonce(p.data.ResponseExtensions); ext != nil && nonceExt != nil && !bytes.Equal(ext.Value, nonceExt) {
		return nil, errors.New("OCSP response nonce does not match the request's")
	}
	single := p.single
	if single.ThisUpdate.After(now.Add(ClockSkew)) {
		return nil, fmt.Errorf("OCSP response thisUpdate %s is in the future", single.ThisUpdate.UTC().Format(time.RFC3339))
	}
	if !single.NextUpdate.IsZero() && single.NextUpdate.Before(now.Add(-ClockSkew)) {
		return nil, fmt.Errorf("OCSP response expired: nextUpdate %s", single.NextUpdate.UTC().Format(time.RFC3339))
	}
	st, err := p.status(cert)
	if err != nil {
		return nil, err
	}
	if st.Revoked != nil {
		return nil, st.Revoked
	}
	return &ocspResult{der: bytes.Clone(der), responder: p.signer, certs: p.certs, expires: expiry(single.ThisUpdate, single.NextUpdate)}, nil
}

// RevocationStatus is what a verified OCSP response or CRL says about one
// certificate.
type RevocationStatus struct {
	// ThisUpdate and NextUpdate bound the time for which the status is
	// current; NextUpdate is zero when the issuer gave none.
	ThisUpdate, NextUpdate time.Time
	// Revoked is set when the certificate is revoked, nil when it is good.
	Revoked *RevokedError
	// Responder is the delegated OCSP responder that signed the response,
	// nil when the issuer signed it (and for a CRL).
	Responder *x509.Certificate
	// Certificates holds the certificates of an OCSP response.
	Certificates []*x509.Certificate
}

// CheckOCSP reads a stored OCSP response (the DER OCSPResponse of a PDF's
// document security store or of a CMS) about cert, issued by issuer, and
// checks it as verifyOCSP checks a fresh one, except for the time: the
// response must be signed by issuer, or by a responder that issuer
// authorised and whose certificate was valid at the response's thisUpdate,
// and hold the status of cert. Whether it is current enough for a given
// time is the caller's judgement, from ThisUpdate and NextUpdate. A
// revoked certificate gives a status with Revoked set, not an error; an
// unknown one is an error.
func CheckOCSP(der []byte, cert, issuer *x509.Certificate) (*RevocationStatus, error) {
	p, err := parseOCSP(der, cert, issuer)
	if err != nil {
		return nil, fmt.Errorf("ltv: %w", err)
	}
	if p.signer != nil {
		if err := checkDelegatedResponder(p.signer, issuer, p.single.ThisUpdate); err != nil {
			return nil, fmt.Errorf("ltv: %w", err)
		}
	}
	st, err := p.status(cert)
	if err != nil {
		return nil, fmt.Errorf("ltv: %w", err)
	}
	return st, nil
}

// parsedOCSP is an OCSP response whose signature is verified and that
// holds a status for the certificate asked about.
type parsedOCSP struct {
	data   ocspasn1.ResponseData
	single *ocspasn1.SingleResponse
	// signer is the delegated responder's certificate, nil when the
	// issuer signed the response itself.
	signer *x509.Certificate
	certs  []*x509.Certificate
}

// parseOCSP parses the DER OCSPResponse der, verifies its signature by
// issuer or by one of its certificates that the ResponderID names, and
// finds the status of cert. The delegated responder's authorisation is
// left to the caller (checkDelegatedResponder), at the time it chooses.
func parseOCSP(der []byte, cert, issuer *x509.Certificate) (*parsedOCSP, error) {
	var resp ocspasn1.Response
	if err := ocspasn1.Unmarshal(der, &resp, "OCSP response"); err != nil {
		return nil, err
	}
	if resp.Status != 0 {
		return nil, fmt.Errorf("OCSP responder answered %q", ocsp.ResponseStatus(resp.Status))
	}
	if !resp.Bytes.ResponseType.Equal(ocspasn1.OIDBasic()) {
		return nil, fmt.Errorf("unsupported OCSP response type %v", resp.Bytes.ResponseType)
	}
	var basic ocspasn1.BasicResponse
	if err := ocspasn1.Unmarshal(resp.Bytes.Response, &basic, "BasicOCSPResponse"); err != nil {
		return nil, err
	}
	p := &parsedOCSP{}
	if err := ocspasn1.Unmarshal(basic.TBSResponseData.FullBytes, &p.data, "OCSP ResponseData"); err != nil {
		return nil, err
	}
	if p.data.Version != 0 {
		return nil, fmt.Errorf("unsupported OCSP response version %d", p.data.Version)
	}
	for i, raw := range basic.Certs {
		c, err := x509.ParseCertificate(raw.FullBytes)
		if err != nil {
			return nil, fmt.Errorf("OCSP response certificate %d: %w", i, err)
		}
		p.certs = append(p.certs, c)
	}

	// The signer: the issuer itself or a certificate of the response,
	// as the ResponderID names it.
	var signer *x509.Certificate
	var sigErr error
	for _, c := range append([]*x509.Certificate{issuer}, p.certs...) {
		if !responderIDMatches(p.data.ResponderID, c) {
			continue
		}
		if sigErr = cms.CheckSignature(c.PublicKey, basic.SignatureAlgorithm.FullBytes, basic.TBSResponseData.FullBytes, basic.Signature.RightAlign()); sigErr == nil {
			signer = c
			break
		}
	}
	switch {
	case signer == nil && sigErr != nil:
		return nil, fmt.Errorf("OCSP response signature does not verify: %w", sigErr)
	case signer == nil:
		return nil, fmt.Errorf("OCSP responder %s is not authorised: its certificate is neither the issuer %s nor included in the response",
			responderIDString(p.data.ResponderID), certName(issuer))
	case !sameCert(signer, issuer):
		p.signer = signer
	}

	for i := range p.data.Responses {
		id := &p.data.Responses[i].CertID
		if id.SerialNumber != nil && id.SerialNumber.Cmp(cert.SerialNumber) == 0 && id.IssuedBy(issuer) {
			p.single = &p.data.Responses[i]
			break
		}
	}
	if p.single == nil {
		return nil, fmt.Errorf("OCSP response holds no status for certificate %s", certName(cert))
	}
	return p, nil
}

// status returns the status that the response gives cert.
func (p *parsedOCSP) status(cert *x509.Certificate) (*RevocationStatus, error) {
	single := p.single
	st := &RevocationStatus{ThisUpdate: single.ThisUpdate, NextUpdate: single.NextUpdate, Responder: p.signer, Certificates: p.certs}
	switch {
	case bool(single.Good):
		return st, nil
	case bool(single.Unknown):
		return nil, fmt.Errorf("OCSP responder does not know certificate %s (status unknown)", certName(cert))
	case !single.Revoked.RevocationTime.IsZero():
		st.Revoked = &RevokedError{
			Cert:   cert,
			At:     single.Revoked.RevocationTime,
			Reason: int(single.Revoked.RevocationReason),
		}
		return st, nil
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
		_, kh, err := ocspasn1.IssuerHashes(crypto.SHA1, c)
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

// sameCert reports whether a and b are the same certificate, or two
// certificates of the same subject and key (a re-issued CA certificate).
func sameCert(a, b *x509.Certificate) bool {
	return bytes.Equal(a.Raw, b.Raw) ||
		bytes.Equal(a.RawSubject, b.RawSubject) && bytes.Equal(a.RawSubjectPublicKeyInfo, b.RawSubjectPublicKeyInfo)
}

// hasNoCheck reports whether c carries id-pkix-ocsp-nocheck.
func hasNoCheck(c *x509.Certificate) bool {
	for _, ext := range c.Extensions {
		if ext.Id.Equal(ocspasn1.OIDNoCheck()) {
			return true
		}
	}
	return false
}
