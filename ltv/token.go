package ltv

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"time"

	"hashsign/cms"
)

// Token is a verified RFC 3161 TimeStampToken.
type Token struct {
	// DER is the TimeStampToken: a CMS ContentInfo holding a SignedData
	// that encapsulates a TSTInfo.
	DER []byte

	// GenTime is the time at which the token was created.
	GenTime time.Time

	// Certificates holds the certificates of the SignedData, in order.
	Certificates []*x509.Certificate

	// Signer is the TSA certificate, the one among Certificates that
	// signed the token.
	Signer *x509.Certificate

	// Hash and Imprint are the message imprint: the hash algorithm and
	// the hash of the time-stamped data.
	Hash    crypto.Hash
	Imprint []byte

	// Serial is the serial number that the TSA gave the token.
	Serial *big.Int

	// Policy is the TSA policy under which the token was created.
	Policy asn1.ObjectIdentifier

	// Nonce is the nonce of the request, copied by the TSA, or nil.
	Nonce *big.Int

	// TSAURL is the URL of the TSA that issued the token when it came from
	// TSAClient.Timestamp, and empty when it came from ParseToken.
	TSAURL string
}

// messageImprint is the MessageImprint of RFC 3161.
type messageImprint struct {
	HashAlgorithm pkix.AlgorithmIdentifier
	HashedMessage []byte
}

// accuracy is the Accuracy of RFC 3161.
type accuracy struct {
	Seconds int `asn1:"optional"`
	Millis  int `asn1:"optional,tag:0"`
	Micros  int `asn1:"optional,tag:1"`
}

// tstInfo is the TSTInfo of RFC 3161, section 2.4.2.
type tstInfo struct {
	Version        int
	Policy         asn1.ObjectIdentifier
	MessageImprint messageImprint
	SerialNumber   *big.Int
	GenTime        time.Time        `asn1:"generalized"`
	Accuracy       accuracy         `asn1:"optional"`
	Ordering       bool             `asn1:"optional,default:false"`
	Nonce          *big.Int         `asn1:"optional"`
	TSA            asn1.RawValue    `asn1:"optional,explicit,tag:0"`
	Extensions     []pkix.Extension `asn1:"optional,tag:1"`
}

// ParseToken parses a TimeStampToken, such as the value of a
// signature-time-stamp attribute or the /Contents of a document time-stamp,
// and verifies its signature. Zero bytes after the token (placeholder
// padding) are ignored, and BER is re-encoded as DER, which Token.DER then
// holds. The checks are: the token must carry the TSA certificate, its
// signed attributes must name the TSTInfo content type, hold the digest of
// the encapsulated TSTInfo and identify the TSA certificate (ESS
// signing-certificate or signing-certificate-v2), and the signature over
// them must verify with the TSA certificate's key.
//
// ParseToken does not check the TSA certificate's extended key usage or its
// chain; TSAClient.Timestamp does, for new tokens.
func ParseToken(der []byte) (*Token, error) {
	return ParseTokenWithCertificates(der, nil)
}

// ParseTokenWithCertificates is ParseToken for tokens that may omit the TSA
// certificate, as RFC 3161 allows when the request did not ask for it: the
// TSA certificate is looked for among the token's certificates, then among
// certs, such as those of a PDF's document security store.
func ParseTokenWithCertificates(der []byte, certs []*x509.Certificate) (*Token, error) {
	tok, err := parseToken(der, certs)
	if err != nil {
		return nil, fmt.Errorf("ltv: time-stamp token: %w", err)
	}
	return tok, nil
}

// parseToken is ParseTokenWithCertificates with errors that do not name the
// package.
func parseToken(der []byte, certs []*x509.Certificate) (*Token, error) {
	sd, err := cms.Parse(der)
	if err != nil {
		return nil, err
	}
	if !sd.ContentType.Equal(cms.OIDTSTInfo()) {
		return nil, fmt.Errorf("encapsulated content type %v is not id-ct-TSTInfo", sd.ContentType)
	}
	if sd.Content == nil {
		return nil, errors.New("no encapsulated TSTInfo")
	}
	for _, c := range certs {
		if sd.Signer != nil {
			break
		}
		if sd.IsSigner(c) {
			sd.Signer = c
		}
	}
	if sd.Signer == nil {
		return nil, errors.New("the TSA certificate is not included in the token")
	}
	if err := sd.CheckContentType(); err != nil {
		return nil, err
	}
	if err := sd.CheckSigningCertificate(); err != nil {
		return nil, err
	}
	if err := sd.VerifyIntegrity(nil); err != nil {
		return nil, fmt.Errorf("signed by %s: %w", certName(sd.Signer), err)
	}

	var info tstInfo
	if rest, err := asn1.Unmarshal(sd.Content, &info); err != nil {
		return nil, fmt.Errorf("malformed TSTInfo: %w", err)
	} else if len(rest) != 0 {
		return nil, errors.New("trailing data after TSTInfo")
	}
	if info.Version != 1 {
		return nil, fmt.Errorf("unsupported TSTInfo version %d", info.Version)
	}
	h, ok := cms.HashFromOID(info.MessageImprint.HashAlgorithm.Algorithm)
	if !ok {
		return nil, fmt.Errorf("unsupported message imprint hash algorithm %v", info.MessageImprint.HashAlgorithm.Algorithm)
	}
	if p := info.MessageImprint.HashAlgorithm.Parameters.FullBytes; len(p) != 0 && !bytes.Equal(p, asn1.NullBytes) {
		return nil, errors.New("message imprint hash algorithm has unexpected parameters")
	}
	if len(info.MessageImprint.HashedMessage) != h.Size() {
		return nil, fmt.Errorf("%d-byte message imprint for %v, want %d bytes", len(info.MessageImprint.HashedMessage), h, h.Size())
	}
	if info.SerialNumber == nil {
		return nil, errors.New("TSTInfo has no serial number")
	}
	return &Token{
		DER:          sd.Raw,
		GenTime:      info.GenTime,
		Certificates: sd.Certificates,
		Signer:       sd.Signer,
		Hash:         h,
		Imprint:      info.MessageImprint.HashedMessage,
		Serial:       info.SerialNumber,
		Policy:       info.Policy,
		Nonce:        info.Nonce,
	}, nil
}

// checkTSACertificate checks that c may issue time-stamps: RFC 3161, section
// 2.3, requires a critical extended key usage extension holding
// id-kp-timeStamping alone.
func checkTSACertificate(c *x509.Certificate) error {
	for _, ext := range c.Extensions {
		if !ext.Id.Equal(oidExtKeyUsage()) {
			continue
		}
		var purposes []asn1.ObjectIdentifier
		if rest, err := asn1.Unmarshal(ext.Value, &purposes); err != nil || len(rest) != 0 {
			return fmt.Errorf("TSA certificate %s has a malformed extended key usage extension", certName(c))
		}
		if len(purposes) != 1 || !purposes[0].Equal(oidKPTimeStamping()) {
			return fmt.Errorf("TSA certificate %s has extended key usages %v, want id-kp-timeStamping alone", certName(c), purposes)
		}
		if !ext.Critical {
			return fmt.Errorf("TSA certificate %s: the timeStamping extended key usage extension is not marked critical", certName(c))
		}
		return nil
	}
	return fmt.Errorf("TSA certificate %s has no extended key usage extension; it needs a critical id-kp-timeStamping", certName(c))
}
