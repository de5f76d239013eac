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

// SignedData is a parsed detached CMS SignedData with one SignerInfo.
type SignedData struct {
	// Certificates holds the certificates of the certificates field, in
	// order. Other certificate choices are skipped.
	Certificates []*x509.Certificate

	// Signer is the certificate among Certificates that the SignerInfo
	// identifies, or nil if it is not included.
	Signer *x509.Certificate

	// DigestAlgorithm is the SignerInfo's digest algorithm.
	DigestAlgorithm crypto.Hash

	// SignatureAlgorithm is the SignerInfo's signature algorithm. Its hash
	// is always DigestAlgorithm.
	SignatureAlgorithm x509.SignatureAlgorithm

	// Signature is the signature value.
	Signature []byte

	// MessageDigest is the value of the message-digest signed attribute.
	MessageDigest []byte

	// RawSignedAttributes is the DER SET OF (tag 0x31) of the signed
	// attributes: the bytes the signature covers.
	RawSignedAttributes []byte

	// SignedAttributes and UnsignedAttributes are the parsed attributes of
	// the SignerInfo, in encoded order.
	SignedAttributes   []Attribute
	UnsignedAttributes []Attribute
}

// Attribute is a CMS attribute.
type Attribute struct {
	Type asn1.ObjectIdentifier

	// Values holds the DER encoding of each value.
	Values [][]byte
}

// Parse parses a DER ContentInfo holding a detached SignedData with exactly
// one SignerInfo, as found in a PDF signature's /Contents. Trailing zero
// bytes (placeholder padding) are ignored. BER input (indefinite lengths,
// constructed strings) is re-encoded as DER first. Parse supports the algorithms
// listed in the package documentation; it does not verify anything, see
// SignedData.Verify.
func Parse(der []byte) (*SignedData, error) {
	sd, err := signedDataContents(bytes.Clone(der)) // results must not alias der
	if err != nil {
		// BER, as NSS writes it: re-encode and try again, as long as
		// nothing but zero padding follows the element
		if d, n, berr := berElement(der, 0); berr == nil && allZero(der[n:]) {
			sd, err = signedDataContents(d)
		}
	}
	if err != nil {
		return nil, err
	}
	var version int64
	var digestAlgs, encap, eType cryptobyte.String
	if !sd.ReadASN1Integer(&version) {
		return nil, errors.New("cms: malformed SignedData version")
	}
	if version < 1 || version > 5 {
		return nil, fmt.Errorf("cms: unsupported SignedData version %d", version)
	}
	if !sd.ReadASN1(&digestAlgs, cbasn1.SET) {
		return nil, errors.New("cms: malformed SignedData digestAlgorithms")
	}
	if !sd.ReadASN1(&encap, cbasn1.SEQUENCE) || !encap.ReadASN1(&eType, cbasn1.OBJECT_IDENTIFIER) {
		return nil, errors.New("cms: malformed EncapsulatedContentInfo")
	}
	if !encap.Empty() {
		return nil, errors.New("cms: SignedData has encapsulated content; want a detached signature")
	}

	out := new(SignedData)
	var certs cryptobyte.String
	var hasCerts bool
	if !sd.ReadOptionalASN1(&certs, &hasCerts, tagImplicit0) {
		return nil, errors.New("cms: malformed SignedData certificates")
	}
	for !certs.Empty() {
		var elem cryptobyte.String
		var tag cbasn1.Tag
		if !certs.ReadAnyASN1Element(&elem, &tag) {
			return nil, errors.New("cms: malformed SignedData certificates")
		}
		if tag != cbasn1.SEQUENCE {
			continue // another CertificateChoices alternative
		}
		c, err := x509.ParseCertificate(elem)
		if err != nil {
			return nil, fmt.Errorf("cms: certificate %d: %w", len(out.Certificates), err)
		}
		out.Certificates = append(out.Certificates, c)
	}
	if !sd.SkipOptionalASN1(tagImplicit1) { // crls
		return nil, errors.New("cms: malformed SignedData crls")
	}
	var signerInfos, si cryptobyte.String
	if !sd.ReadASN1(&signerInfos, cbasn1.SET) || !sd.Empty() {
		return nil, errors.New("cms: malformed SignedData signerInfos")
	}
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

// signedDataContents returns the contents of the SignedData SEQUENCE inside
// the ContentInfo der.
func signedDataContents(der []byte) (cryptobyte.String, error) {
	in := cryptobyte.String(der)
	var ci, explicit, sd cryptobyte.String
	var ctype asn1.ObjectIdentifier
	if !in.ReadASN1(&ci, cbasn1.SEQUENCE) {
		return nil, errors.New("cms: malformed ContentInfo")
	}
	if len(bytes.Trim(in, "\x00")) != 0 {
		return nil, errors.New("cms: trailing data after ContentInfo")
	}
	if !ci.ReadASN1ObjectIdentifier(&ctype) {
		return nil, errors.New("cms: malformed ContentInfo content type")
	}
	if !ctype.Equal(oidSignedData) {
		return nil, fmt.Errorf("cms: content type %v is not signedData", ctype)
	}
	if !ci.ReadASN1(&explicit, tagExplicit0) || !ci.Empty() ||
		!explicit.ReadASN1(&sd, cbasn1.SEQUENCE) || !explicit.Empty() {
		return nil, errors.New("cms: malformed ContentInfo content")
	}
	return sd, nil
}

// parseSignerInfo parses the contents of a SignerInfo into sd.
func (sd *SignedData) parseSignerInfo(si cryptobyte.String) error {
	var version int64
	if !si.ReadASN1Integer(&version) {
		return errors.New("cms: malformed SignerInfo version")
	}
	var (
		issuer []byte
		serial = new(big.Int)
		ski    []byte
	)
	switch {
	case si.PeekASN1Tag(cbasn1.SEQUENCE):
		var ias, name cryptobyte.String
		if !si.ReadASN1(&ias, cbasn1.SEQUENCE) ||
			!ias.ReadASN1Element(&name, cbasn1.SEQUENCE) ||
			!ias.ReadASN1Integer(serial) || !ias.Empty() {
			return errors.New("cms: malformed SignerInfo issuerAndSerialNumber")
		}
		issuer = name
	case si.PeekASN1Tag(tagSKI):
		if !si.ReadASN1Bytes(&ski, tagSKI) {
			return errors.New("cms: malformed SignerInfo subjectKeyIdentifier")
		}
	default:
		return errors.New("cms: malformed SignerInfo sid")
	}
	for _, c := range sd.Certificates {
		if issuer != nil && bytes.Equal(c.RawIssuer, issuer) && c.SerialNumber.Cmp(serial) == 0 ||
			ski != nil && bytes.Equal(c.SubjectKeyId, ski) {
			sd.Signer = c
			break
		}
	}

	digOID, digParams, err := readAlgorithmIdentifier(&si)
	if err != nil {
		return fmt.Errorf("cms: SignerInfo digestAlgorithm: %w", err)
	}
	h, ok := hashFromOID(digOID)
	if !ok {
		return fmt.Errorf("cms: unsupported digest algorithm %v", digOID)
	}
	if !absentOrNULL(digParams) {
		return errors.New("cms: SignerInfo digestAlgorithm has unexpected parameters")
	}
	sd.DigestAlgorithm = h

	if !si.PeekASN1Tag(tagImplicit0) {
		return errors.New("cms: SignerInfo has no signed attributes")
	}
	var signedElem, signed cryptobyte.String
	if !si.ReadASN1Element(&signedElem, tagImplicit0) {
		return errors.New("cms: malformed signed attributes")
	}
	sd.RawSignedAttributes = bytes.Clone(signedElem)
	sd.RawSignedAttributes[0] = 0x31 // SET, as signed
	signed = signedElem[setHeaderLen(signedElem):]
	if sd.SignedAttributes, err = parseAttributes(signed); err != nil {
		return fmt.Errorf("cms: signed attributes: %w", err)
	}
	if sd.MessageDigest, err = messageDigest(sd.SignedAttributes); err != nil {
		return err
	}

	sigOID, sigParams, err := readAlgorithmIdentifier(&si)
	if err != nil {
		return fmt.Errorf("cms: SignerInfo signatureAlgorithm: %w", err)
	}
	if sd.SignatureAlgorithm, err = signatureAlgorithm(sigOID, sigParams, h); err != nil {
		return err
	}
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

// readAlgorithmIdentifier reads an AlgorithmIdentifier from s and returns its
// OID and its parameters element (empty when absent).
func readAlgorithmIdentifier(s *cryptobyte.String) (asn1.ObjectIdentifier, cryptobyte.String, error) {
	var ai, params cryptobyte.String
	var oid asn1.ObjectIdentifier
	if !s.ReadASN1(&ai, cbasn1.SEQUENCE) || !ai.ReadASN1ObjectIdentifier(&oid) {
		return nil, nil, errors.New("malformed AlgorithmIdentifier")
	}
	if !ai.Empty() {
		var tag cbasn1.Tag
		if !ai.ReadAnyASN1Element(&params, &tag) || !ai.Empty() {
			return nil, nil, errors.New("malformed AlgorithmIdentifier parameters")
		}
	}
	return oid, params, nil
}

// absentOrNULL reports whether params is empty or a DER NULL.
func absentOrNULL(params cryptobyte.String) bool {
	return len(params) == 0 || bytes.Equal(params, []byte{0x05, 0x00})
}

// signatureAlgorithm maps a signatureAlgorithm to x509's constant, checking
// that its hash is h.
func signatureAlgorithm(oid asn1.ObjectIdentifier, params cryptobyte.String, h crypto.Hash) (x509.SignatureAlgorithm, error) {
	var alg x509.SignatureAlgorithm
	var algHash crypto.Hash
	switch {
	case oid.Equal(oidRSAEncryption):
		// Common in CMS: the hash comes from the digest algorithm.
		alg, algHash = byHash(h, x509.SHA256WithRSA, x509.SHA384WithRSA, x509.SHA512WithRSA), h
	case oid.Equal(oidSHA256WithRSA):
		alg, algHash = x509.SHA256WithRSA, crypto.SHA256
	case oid.Equal(oidSHA384WithRSA):
		alg, algHash = x509.SHA384WithRSA, crypto.SHA384
	case oid.Equal(oidSHA512WithRSA):
		alg, algHash = x509.SHA512WithRSA, crypto.SHA512
	case oid.Equal(oidECDSAWithSHA256):
		alg, algHash = x509.ECDSAWithSHA256, crypto.SHA256
	case oid.Equal(oidECDSAWithSHA384):
		alg, algHash = x509.ECDSAWithSHA384, crypto.SHA384
	case oid.Equal(oidECDSAWithSHA512):
		alg, algHash = x509.ECDSAWithSHA512, crypto.SHA512
	case oid.Equal(oidRSASSAPSS):
		ph, err := parsePSSParams(params)
		if err != nil {
			return 0, err
		}
		if ph != h {
			return 0, fmt.Errorf("cms: RSASSA-PSS hash %v does not match the digest algorithm %v", ph, h)
		}
		return byHash(h, x509.SHA256WithRSAPSS, x509.SHA384WithRSAPSS, x509.SHA512WithRSAPSS), nil
	default:
		return 0, fmt.Errorf("cms: unsupported signature algorithm %v", oid)
	}
	if isECDSA(alg) && len(params) != 0 || !isECDSA(alg) && !absentOrNULL(params) {
		return 0, fmt.Errorf("cms: signature algorithm %v has unexpected parameters", oid)
	}
	if algHash != h {
		return 0, fmt.Errorf("cms: signature algorithm %v does not use the digest algorithm %v", alg, h)
	}
	return alg, nil
}

func isECDSA(alg x509.SignatureAlgorithm) bool {
	return alg == x509.ECDSAWithSHA256 || alg == x509.ECDSAWithSHA384 || alg == x509.ECDSAWithSHA512
}

// parsePSSParams parses RSASSA-PSS-params and returns their hash. Only the
// parameters Sign produces are supported: MGF1 with the same hash, a salt as
// long as the hash and trailer field 1 (explicit or by default).
func parsePSSParams(params cryptobyte.String) (crypto.Hash, error) {
	var seq, hashField, mgfField cryptobyte.String
	var hasHash, hasMGF bool
	var salt, trailer int64
	if !params.ReadASN1(&seq, cbasn1.SEQUENCE) || !params.Empty() ||
		!seq.ReadOptionalASN1(&hashField, &hasHash, tagExplicit0) ||
		!seq.ReadOptionalASN1(&mgfField, &hasMGF, tagExplicit1) {
		return 0, errors.New("cms: malformed RSASSA-PSS parameters")
	}
	if !readOptionalExplicitInt(&seq, &salt, tagExplicit2, 20) ||
		!readOptionalExplicitInt(&seq, &trailer, tagExplicit3, 1) || !seq.Empty() {
		return 0, errors.New("cms: malformed RSASSA-PSS parameters")
	}
	if !hasHash || !hasMGF {
		return 0, errors.New("cms: unsupported RSASSA-PSS parameters: SHA-1 defaults")
	}
	hOID, hParams, err := readAlgorithmIdentifier(&hashField)
	if err != nil || !hashField.Empty() || !absentOrNULL(hParams) {
		return 0, errors.New("cms: malformed RSASSA-PSS hash algorithm")
	}
	h, ok := hashFromOID(hOID)
	if !ok {
		return 0, fmt.Errorf("cms: unsupported RSASSA-PSS hash %v", hOID)
	}
	mOID, mParams, err := readAlgorithmIdentifier(&mgfField)
	if err != nil || !mgfField.Empty() || !mOID.Equal(oidMGF1) {
		return 0, errors.New("cms: unsupported RSASSA-PSS mask generation function")
	}
	mhOID, mhParams, err := readAlgorithmIdentifier(&mParams)
	if err != nil || !mParams.Empty() || !absentOrNULL(mhParams) || !mhOID.Equal(hOID) {
		return 0, errors.New("cms: unsupported RSASSA-PSS MGF1 hash")
	}
	if salt != int64(h.Size()) || trailer != 1 {
		return 0, fmt.Errorf("cms: unsupported RSASSA-PSS salt length %d or trailer field %d", salt, trailer)
	}
	return h, nil
}

// readOptionalExplicitInt reads an optional [tag] EXPLICIT INTEGER.
func readOptionalExplicitInt(s *cryptobyte.String, out *int64, tag cbasn1.Tag, def int64) bool {
	var field cryptobyte.String
	var present bool
	if !s.ReadOptionalASN1(&field, &present, tag) {
		return false
	}
	if !present {
		*out = def
		return true
	}
	return field.ReadASN1Integer(out) && field.Empty()
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

// attributeValue returns the single value of the single attribute of type
// oid in attrs.
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
	if n != 1 {
		return nil, fmt.Errorf("cms: found %d %s attributes, want 1", n, name)
	}
	return found, nil
}

// messageDigest returns the value of the message-digest attribute in attrs.
func messageDigest(attrs []Attribute) ([]byte, error) {
	v, err := attributeValue(attrs, oidAttrMessageDigest, "message-digest")
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
