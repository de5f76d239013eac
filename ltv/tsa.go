package ltv

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/asn1"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"strings"

	"github.com/digitorus/timestamp"

	"hashsign/cms"
)

// TSAClient is an RFC 3161 time-stamping client. Its zero value is not
// usable: URLs must name at least one time-stamping authority. A TSAClient
// is safe for concurrent use once its fields are set.
type TSAClient struct {
	// URLs lists the time-stamping authorities, tried in order: when one
	// fails, the next one is asked.
	URLs []string

	// Username and Password, when Username is not empty, are sent with
	// HTTP basic authentication.
	Username, Password string

	// HTTP is the client used for requests. If nil, a client with
	// DefaultTimeout is used.
	HTTP *http.Client

	// Roots, when not nil, are the trust anchors the TSA certificate must
	// chain to, with the token's other certificates as intermediates.
	Roots *x509.CertPool

	// Policy, when not nil, is sent as the request's reqPolicy, and the
	// token must have been issued under it.
	Policy asn1.ObjectIdentifier
}

// timeStampResp is the TimeStampResp of RFC 3161, section 2.4.2.
type timeStampResp struct {
	Status         pkiStatusInfo
	TimeStampToken asn1.RawValue `asn1:"optional"`
}

// pkiStatusInfo is the PKIStatusInfo of RFC 3161 (from RFC 4210).
type pkiStatusInfo struct {
	Status       int
	StatusString []asn1.RawValue `asn1:"optional"`
	FailInfo     asn1.BitString  `asn1:"optional"`
}

// TSAError reports a time-stamp request that the authority answered with a
// status other than granted or grantedWithMods.
type TSAError struct {
	Status     int      // PKIStatus: 2 rejection, 3 waiting, 4 revocationWarning, 5 revocationNotification
	StatusText []string // the statusString texts, if any
	FailInfo   []string // the names of the PKIFailureInfo bits that are set
}

func (e *TSAError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "time-stamp request refused with status %s", pkiStatusName(e.Status))
	if len(e.FailInfo) > 0 {
		fmt.Fprintf(&b, " (%s)", strings.Join(e.FailInfo, ", "))
	}
	if len(e.StatusText) > 0 {
		fmt.Fprintf(&b, ": %q", strings.Join(e.StatusText, "; "))
	}
	return b.String()
}

// pkiStatusName returns the name of a PKIStatus value.
func pkiStatusName(s int) string {
	names := []string{"granted", "grantedWithMods", "rejection", "waiting", "revocationWarning", "revocationNotification"}
	if s >= 0 && s < len(names) {
		return names[s]
	}
	return fmt.Sprintf("%d", s)
}

// failInfoNames returns the names of the bits set in a PKIFailureInfo.
func failInfoNames(b asn1.BitString) []string {
	names := map[int]string{
		0: "badAlg", 2: "badRequest", 5: "badDataFormat", 14: "timeNotAvailable",
		15: "unacceptedPolicy", 16: "unacceptedExtension", 17: "addInfoNotAvailable", 25: "systemFailure",
	}
	var out []string
	for i := 0; i < b.BitLength && i < 64; i++ {
		if b.At(i) == 0 {
			continue
		}
		if n, ok := names[i]; ok {
			out = append(out, n)
		} else {
			out = append(out, fmt.Sprintf("bit %d", i))
		}
	}
	return out
}

// parseTimeStampResp parses a DER TimeStampResp and returns the token it
// holds. A status other than granted or grantedWithMods is a *TSAError.
// timestamp.ParseResponse would flatten a refusal's status, statusString
// and failInfo into one string and verify the token with
// github.com/digitorus/pkcs7, which checks no ESS signing-certificate and
// knows no RSASSA-PSS: the response is read here and the token by package
// cms.
func parseTimeStampResp(der []byte) ([]byte, error) {
	var resp timeStampResp
	rest, err := asn1.Unmarshal(der, &resp)
	if err != nil {
		// Some TSAs answer in BER: re-encode it and try again.
		if d, berr := cms.ToDER(der); berr == nil && !bytes.Equal(d, der) {
			rest, err = asn1.Unmarshal(d, &resp)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("malformed TimeStampResp: %w", err)
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("%d bytes of trailing data after the TimeStampResp", len(rest))
	}
	if s := resp.Status.Status; s != 0 && s != 1 {
		e := &TSAError{Status: s, FailInfo: failInfoNames(resp.Status.FailInfo)}
		for _, v := range resp.Status.StatusString {
			var text string
			if _, err := asn1.Unmarshal(v.FullBytes, &text); err == nil {
				e.StatusText = append(e.StatusText, text)
			}
		}
		return nil, e
	}
	if len(resp.TimeStampToken.FullBytes) == 0 {
		return nil, fmt.Errorf("time-stamp granted with status %s but the response holds no token", pkiStatusName(resp.Status.Status))
	}
	return resp.TimeStampToken.FullBytes, nil
}

// Timestamp asks for a time-stamp token over digest, the hash of the data
// to time-stamp with h (SHA-256, SHA-384 or SHA-512). It sends a
// TimeStampReq with a random nonce and certReq set to each URL in turn until
// one answers with a token that passes every check:
//
//   - the HTTP status is 200 and the Content-Type application/timestamp-reply;
//   - the status is granted or grantedWithMods;
//   - the token's nonce and message imprint (hash algorithm and value) are
//     those of the request, and its policy is c.Policy when that is set;
//   - the token verifies as ParseToken describes;
//   - the TSA certificate has a critical extended key usage extension
//     holding id-kp-timeStamping alone, and chains to c.Roots when set.
//
// When every URL fails, the error names each URL and why it failed.
func (c *TSAClient) Timestamp(ctx context.Context, digest []byte, h crypto.Hash) (*Token, error) {
	switch h {
	case crypto.SHA256, crypto.SHA384, crypto.SHA512:
	default:
		return nil, fmt.Errorf("ltv: time-stamping with unsupported hash %v; use SHA-256, SHA-384 or SHA-512", h)
	}
	if len(digest) != h.Size() {
		return nil, fmt.Errorf("ltv: time-stamping a %d-byte digest, want %d bytes for %v", len(digest), h.Size(), h)
	}
	if len(c.URLs) == 0 {
		return nil, errors.New("ltv: no time-stamping authority URL")
	}
	var errs []error
	for _, u := range c.URLs {
		tok, err := c.timestamp(ctx, u, digest, h)
		if err == nil {
			return tok, nil
		}
		errs = append(errs, fmt.Errorf("TSA %s: %w", u, err))
		if ctx.Err() != nil {
			break
		}
	}
	if len(errs) == 1 {
		return nil, fmt.Errorf("ltv: %w", errs[0])
	}
	return nil, &failures{what: fmt.Sprintf("no time-stamp from %d TSAs", len(errs)), errs: errs}
}

// timestamp asks the TSA at url for a token.
func (c *TSAClient) timestamp(ctx context.Context, url string, digest []byte, h crypto.Hash) (*Token, error) {
	nonce, err := newNonce()
	if err != nil {
		return nil, err
	}
	reqDER, err := (&timestamp.Request{
		HashAlgorithm: h,
		HashedMessage: digest,
		Certificates:  true,
		TSAPolicyOID:  c.Policy,
		Nonce:         nonce,
	}).Marshal()
	if err != nil {
		return nil, fmt.Errorf("encoding TimeStampReq: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(reqDER))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", timestampQueryType)
	req.Header.Set("Accept", timestampReplyType)
	if c.Username != "" {
		req.SetBasicAuth(c.Username, c.Password)
	}
	body, err := do(httpClient(c.HTTP), req, maxTSAResponse, timestampReplyType, legacyTimestampType)
	if err != nil {
		return nil, err
	}
	tokDER, err := parseTimeStampResp(body)
	if err != nil {
		return nil, err
	}
	tok, err := parseToken(tokDER, nil)
	if err != nil {
		return nil, fmt.Errorf("time-stamp token: %w", err)
	}
	tok.TSAURL = url
	if tok.Nonce == nil {
		return nil, errors.New("time-stamp token has no nonce; the request had one")
	}
	if tok.Nonce.Cmp(nonce) != 0 {
		return nil, fmt.Errorf("time-stamp token nonce %#x does not match the request's %#x", tok.Nonce, nonce)
	}
	if tok.Hash != h || !bytes.Equal(tok.Imprint, digest) {
		return nil, fmt.Errorf("time-stamp token imprint (%v %x) does not match the request (%v %x)", tok.Hash, tok.Imprint, h, digest)
	}
	if c.Policy != nil && !tok.Policy.Equal(c.Policy) {
		return nil, fmt.Errorf("time-stamp token policy %v is not the requested %v", tok.Policy, c.Policy)
	}
	if err := checkTSACertificate(tok.Signer); err != nil {
		return nil, err
	}
	if c.Roots != nil {
		inter := x509.NewCertPool()
		for _, cert := range tok.Certificates {
			if cert != tok.Signer {
				inter.AddCert(cert)
			}
		}
		if _, err := tok.Signer.Verify(x509.VerifyOptions{
			Roots:         c.Roots,
			Intermediates: inter,
			CurrentTime:   tok.GenTime,
			KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping},
		}); err != nil {
			return nil, fmt.Errorf("TSA certificate %s: %w", certName(tok.Signer), err)
		}
	}
	return tok, nil
}

// newNonce returns a random positive 64-bit nonce.
func newNonce() (*big.Int, error) {
	var b [8]byte
	for {
		if _, err := rand.Read(b[:]); err != nil {
			return nil, fmt.Errorf("generating nonce: %w", err)
		}
		if n := binary.BigEndian.Uint64(b[:]); n != 0 {
			return new(big.Int).SetUint64(n), nil
		}
	}
}
