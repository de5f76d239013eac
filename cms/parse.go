package cms

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// SignedData is a parsed CMS SignedData with one SignerInfo.
type SignedData struct {
	// Raw is the DER ContentInfo: the input without trailing zero bytes,
	// re-encoded as DER when it was BER.
	Raw []byte

	// ContentType is the encapsulated content type: id-data for a PDF
	// signature, id-ct-TSTInfo for a time-stamp token.
	ContentType asn1.ObjectIdentifier

	// Content is the encapsulated content (the TSTInfo of a time-stamp
	// token), or nil when the SignedData is detached.
	Content []byte

	// Certificates holds the certificates of the certificates field, in
	// order. Other certificate choices are skipped.
	Certificates []*x509.Certificate

	// Signer is the certificate among Certificates that the SignerInfo
	// identifies, or nil if it is not included.
	Signer *x509.Certificate

	// DigestAlgorithm is the SignerInfo's digest algorithm: SHA-1,
	// SHA-224, SHA-256, SHA-384 or SHA-512.
	DigestAlgorithm crypto.Hash

	// SignatureAlgorithm is the SignerInfo's signature algorithm, or
	// x509.UnknownSignatureAlgorithm for one that crypto/x509 does not
	// name (SHA-224). Its hash is DigestAlgorithm, except for
	// x509.PureEd25519, which signs without a separate hash.
	SignatureAlgorithm x509.SignatureAlgorithm

	// PSSSaltLength is the salt length of an RSASSA-PSS signature.
	PSSSaltLength int

	// Signature is the signature value.
	Signature []byte

	// MessageDigest is the value of the message-digest signed attribute,
	// or nil when there are no signed attributes.
	MessageDigest []byte

	// RawSignedAttributes is the DER SET OF (tag 0x31) of the signed
	// attributes, the bytes the signature covers, or nil when there are
	// none and the signature covers the content itself.
	RawSignedAttributes []byte

	// SignedAttributes and UnsignedAttributes are the parsed attributes of
	// the SignerInfo, in encoded order.
	SignedAttributes   []Attribute
	UnsignedAttributes []Attribute

	sigAlg signatureAlgorithm

	// rawRevocationInfo is the contents of the crls field
	// (RevocationInfoChoices), nil when absent.
	rawRevocationInfo cryptobyte.String

	// The SignerInfo's sid: issuer and serial number, or subject key
	// identifier.
	sidIssuer []byte
	sidSerial *big.Int
	sidSKI    []byte
}

// Attribute is a CMS attribute.
type Attribute struct {
	Type asn1.ObjectIdentifier

	// Values holds the DER encoding of each value.
	Values [][]byte
}

// Parse parses a ContentInfo holding a SignedData with exactly one
// SignerInfo, as found in a PDF signature's /Contents or in a time-stamp
// token. The SignedData may be detached or encapsulate its content.
// Trailing zero bytes (placeholder padding) are ignored. BER input
// (indefinite lengths, constructed strings) is re-encoded as DER first.
// Parse accepts the algorithms listed in the package documentation; it
// verifies nothing, see SignedData.VerifyIntegrity and SignedData.CheckPAdES.
func Parse(der []byte) (*SignedData, error) {
	sd, err := parse(bytes.Clone(der)) // results must not alias der
	if err != nil {
		// BER, as NSS writes it: re-encode and try again, as long as
		// nothing but zero padding follows the element
		if d, n, berr := berElement(der, 0); berr == nil && allZero(der[n:]) && !bytes.Equal(d, der[:n]) {
			if sd, berr := parse(d); berr == nil {
				return sd, nil
			}
		}
		return nil, err
	}
	return sd, nil
}

// parse is Parse for DER input, which it keeps references to.
func parse(raw []byte) (*SignedData, error) {
	out, signerInfos, err := parseSignedData(raw)
	if err != nil {
		return nil, err
	}
	var si cryptobyte.String
	if !signerInfos.ReadASN1(&si, cbasn1.SEQUENCE) {
		return nil, errors.New("cms: SignedData has no SignerInfo")
	}
	if !signerInfos.Empty() {
		return nil, errors.New("cms: SignedData has more than one SignerInfo")
	}
	if err := out.parseSignerInfo(si); err != nil {
		return nil, err
	}
	return out, nil
}

// ParseCertificates returns the certificates of a ContentInfo holding a
// SignedData with any number of SignerInfos, such as a certs-only
// ("degenerate") SignedData that a caIssuers URL serves. DER and BER are
// accepted, followed by zero bytes at most. Nothing is verified.
func ParseCertificates(der []byte) ([]*x509.Certificate, error) {
	sd, _, err := parseSignedData(bytes.Clone(der))
	if err != nil {
		if d, n, berr := berElement(der, 0); berr == nil && allZero(der[n:]) && !bytes.Equal(d, der[:n]) {
			if sd, _, berr := parseSignedData(d); berr == nil {
				return sd.Certificates, nil
			}
		}
		return nil, err
	}
	return sd.Certificates, nil
}

// parseSignedData parses the ContentInfo at the start of raw up to the
// SignerInfos, whose contents it returns.
func parseSignedData(raw []byte) (*SignedData, cryptobyte.String, error) {
	sd, n, err := signedDataContents(raw)
	if err != nil {
		return nil, nil, err
	}
	out := &SignedData{Raw: raw[:n]}
	var version int64
	var digestAlgs, encap cryptobyte.String
	if !sd.ReadASN1Integer(&version) {
		return nil, nil, errors.New("cms: malformed SignedData version")
	}
	if version < 1 || version > 5 {
		return nil, nil, fmt.Errorf("cms: unsupported SignedData version %d", version)
	}
	if !sd.ReadASN1(&digestAlgs, cbasn1.SET) {
		return nil, nil, errors.New("cms: malformed SignedData digestAlgorithms")
	}
	if !sd.ReadASN1(&encap, cbasn1.SEQUENCE) || !encap.ReadASN1ObjectIdentifier(&out.ContentType) {
		return nil, nil, errors.New("cms: malformed EncapsulatedContentInfo")
	}
	if !encap.Empty() {
		var explicit cryptobyte.String
		if !encap.ReadASN1(&explicit, tagExplicit0) || !encap.Empty() ||
			!explicit.ReadASN1Bytes(&out.Content, cbasn1.OCTET_STRING) || !explicit.Empty() {
			return nil, nil, errors.New("cms: malformed encapsulated content")
		}
		if out.Content == nil {
			out.Content = []byte{}
		}
	}

	var certs cryptobyte.String
	var hasCerts bool
	if !sd.ReadOptionalASN1(&certs, &hasCerts, tagImplicit0) {
		return nil, nil, errors.New("cms: malformed SignedData certificates")
	}
	for !certs.Empty() {
		var elem cryptobyte.String
		var tag cbasn1.Tag
		if !certs.ReadAnyASN1Element(&elem, &tag) {
			return nil, nil, errors.New("cms: malformed SignedData certificates")
		}
		if tag != cbasn1.SEQUENCE {
			continue // another CertificateChoices alternative
		}
		c, err := x509.ParseCertificate(elem)
		if err != nil {
			return nil, nil, fmt.Errorf("cms: certificate %d: %w", len(out.Certificates), err)
		}
		out.Certificates = append(out.Certificates, c)
	}
	var hasCRLs bool
	if !sd.ReadOptionalASN1(&out.rawRevocationInfo, &hasCRLs, tagImplicit1) { // crls
		return nil, nil, errors.New("cms: malformed SignedData crls")
	}
	var signerInfos cryptobyte.String
	if !sd.ReadASN1(&signerInfos, cbasn1.SET) || !sd.Empty() {
		return nil, nil, errors.New("cms: malformed SignedData signerInfos")
	}
	return out, signerInfos, nil
}

// signedDataContents returns the contents of the SignedData SEQUENCE inside
// the ContentInfo at the start of der, and the length of the ContentInfo.
// Only zero bytes may follow it.
func signedDataContents(der []byte) (cryptobyte.String, int, error) {
	in := cryptobyte.String(der)
	var ci, explicit, sd cryptobyte.String
	var ctype asn1.ObjectIdentifier
	if !in.ReadASN1(&ci, cbasn1.SEQUENCE) {
		return nil, 0, errors.New("cms: malformed ContentInfo")
	}
	if !allZero(in) {
		return nil, 0, errors.New("cms: trailing data after ContentInfo")
	}
	if !ci.ReadASN1ObjectIdentifier(&ctype) {
		return nil, 0, errors.New("cms: malformed ContentInfo content type")
	}
	if !ctype.Equal(oidSignedData) {
		return nil, 0, fmt.Errorf("cms: content type %v is not signedData", ctype)
	}
	if !ci.ReadASN1(&explicit, tagExplicit0) || !ci.Empty() ||
		!explicit.ReadASN1(&sd, cbasn1.SEQUENCE) || !explicit.Empty() {
		return nil, 0, errors.New("cms: malformed ContentInfo content")
	}
	return sd, len(der) - len(in), nil
}

// parseSignerInfo parses the contents of a SignerInfo into sd.
func (sd *SignedData) parseSignerInfo(si cryptobyte.String) error {
	var version int64
	if !si.ReadASN1Integer(&version) {
		return errors.New("cms: malformed SignerInfo version")
	}
	switch {
	case si.PeekASN1Tag(cbasn1.SEQUENCE):
		var ias, name cryptobyte.String
		sd.sidSerial = new(big.Int)
		if !si.ReadASN1(&ias, cbasn1.SEQUENCE) ||
			!ias.ReadASN1Element(&name, cbasn1.SEQUENCE) ||
			!ias.ReadASN1Integer(sd.sidSerial) || !ias.Empty() {
			return errors.New("cms: malformed SignerInfo issuerAndSerialNumber")
		}
		sd.sidIssuer = name
	case si.PeekASN1Tag(tagSKI):
		if !si.ReadASN1Bytes(&sd.sidSKI, tagSKI) || len(sd.sidSKI) == 0 {
			return errors.New("cms: malformed SignerInfo subjectKeyIdentifier")
		}
	default:
		return errors.New("cms: malformed SignerInfo sid")
	}
	for _, c := range sd.Certificates {
		if sd.IsSigner(c) {
			sd.Signer = c
			break
		}
	}

	h, err := readHashAlgorithm(&si)
	if err != nil {
		return fmt.Errorf("cms: SignerInfo digestAlgorithm: %w", err)
	}
	sd.DigestAlgorithm = h

	if si.PeekASN1Tag(tagImplicit0) {
		var signedElem cryptobyte.String
		if !si.ReadASN1Element(&signedElem, tagImplicit0) {
			return errors.New("cms: malformed signed attributes")
		}
		// The signature covers the attributes with the SET OF tag
		// (RFC 5652, section 5.4), not the [0] IMPLICIT they are stored
		// with.
		sd.RawSignedAttributes = bytes.Clone(signedElem)
		sd.RawSignedAttributes[0] = 0x31
		if sd.SignedAttributes, err = parseAttributes(signedElem[setHeaderLen(signedElem):]); err != nil {
			return fmt.Errorf("cms: signed attributes: %w", err)
		}
		if sd.MessageDigest, err = messageDigest(sd.SignedAttributes); err != nil {
			return err
		}
	}

	sigOID, sigParams, err := readAlgorithmIdentifier(&si)
	if err != nil {
		return fmt.Errorf("cms: SignerInfo signatureAlgorithm: %w", err)
	}
	if sd.sigAlg, err = parseSignatureAlgorithm(sigOID, sigParams, h); err != nil {
		return err
	}
	sd.SignatureAlgorithm = sd.sigAlg.x509()
	sd.PSSSaltLength = sd.sigAlg.salt
	if !si.ReadASN1Bytes(&sd.Signature, cbasn1.OCTET_STRING) {
		return errors.New("cms: malformed SignerInfo signature")
	}
	if si.PeekASN1Tag(tagImplicit1) {
		var unsigned cryptobyte.String
		if !si.ReadASN1(&unsigned, tagImplicit1) {
			return errors.New("cms: malformed unsigned attributes")
		}
		if sd.UnsignedAttributes, err = parseAttributes(unsigned); err != nil {
			return fmt.Errorf("cms: unsigned attributes: %w", err)
		}
	}
	if !si.Empty() {
		return errors.New("cms: trailing data in SignerInfo")
	}
	return nil
}

// IsSigner reports whether the SignerInfo identifies c, by issuer and
// serial number or by subject key identifier. When the SignedData omits
// the signer's certificate, it finds the signer among certificates from
// elsewhere (a PDF's DSS), which the caller may then set as Signer.
func (sd *SignedData) IsSigner(c *x509.Certificate) bool {
	if c == nil {
		return false
	}
	return sd.sidIssuer != nil && bytes.Equal(c.RawIssuer, sd.sidIssuer) && c.SerialNumber.Cmp(sd.sidSerial) == 0 ||
		sd.sidSKI != nil && bytes.Equal(c.SubjectKeyId, sd.sidSKI)
}

// parseAttributes parses the contents of a SET OF Attribute.
func parseAttributes(set cryptobyte.String) ([]Attribute, error) {
	var attrs []Attribute
	for !set.Empty() {
		var attr, values cryptobyte.String
		var a Attribute
		if !set.ReadASN1(&attr, cbasn1.SEQUENCE) ||
			!attr.ReadASN1ObjectIdentifier(&a.Type) ||
			!attr.ReadASN1(&values, cbasn1.SET) || !attr.Empty() {
			return nil, errors.New("malformed attribute")
		}
		vs, err := elements(values)
		if err != nil {
			return nil, fmt.Errorf("malformed attribute %v value", a.Type)
		}
		if len(vs) == 0 {
			return nil, fmt.Errorf("attribute %v has no value", a.Type)
		}
		a.Values = vs
		attrs = append(attrs, a)
	}
	return attrs, nil
}

// attributeValue returns the single value of the attribute of type oid in
// attrs, or nil when there is none. More than one such attribute, or more
// than one value, is an error.
func attributeValue(attrs []Attribute, oid asn1.ObjectIdentifier, name string) ([]byte, error) {
	var found []byte
	n := 0
	for _, a := range attrs {
		if !a.Type.Equal(oid) {
			continue
		}
		n++
		if len(a.Values) != 1 {
			return nil, fmt.Errorf("cms: %s attribute has %d values, want 1", name, len(a.Values))
		}
		found = a.Values[0]
	}
	if n > 1 {
		return nil, fmt.Errorf("cms: found %d %s attributes, want 1", n, name)
	}
	return found, nil
}

// requiredAttributeValue is attributeValue for an attribute that must be
// present.
func requiredAttributeValue(attrs []Attribute, oid asn1.ObjectIdentifier, name string) ([]byte, error) {
	v, err := attributeValue(attrs, oid, name)
	if err == nil && v == nil {
		err = fmt.Errorf("cms: found 0 %s attributes, want 1", name)
	}
	return v, err
}

// messageDigest returns the value of the message-digest attribute in attrs.
func messageDigest(attrs []Attribute) ([]byte, error) {
	v, err := requiredAttributeValue(attrs, oidAttrMessageDigest, "message-digest")
	if err != nil {
		return nil, err
	}
	s := cryptobyte.String(v)
	var md []byte
	if !s.ReadASN1Bytes(&md, cbasn1.OCTET_STRING) || !s.Empty() {
		return nil, errors.New("cms: malformed message-digest attribute")
	}
	return md, nil
}

// SignatureTimeStampTokens returns the values of the signature-time-stamp
// unsigned attributes (id-aa-signatureTimeStampToken): the DER time-stamp
// tokens over the signature value.
func (sd *SignedData) SignatureTimeStampTokens() [][]byte {
	var out [][]byte
	for _, a := range sd.UnsignedAttributes {
		if a.Type.Equal(oidAttrTimeStampToken) {
			out = append(out, a.Values...)
		}
	}
	return out
}
