package ltv

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	_ "crypto/sha256" // register SHA-224 and SHA-256 for crypto.Hash.New
	_ "crypto/sha512" // register SHA-384 and SHA-512
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Context-specific tags: [n] constructed (explicit tags and implicit
// constructed types) and [0] primitive.
const (
	tagC0 cbasn1.Tag = 0xa0
	tagC1 cbasn1.Tag = 0xa1
	tagC2 cbasn1.Tag = 0xa2
	tagC3 cbasn1.Tag = 0xa3
	tagP0 cbasn1.Tag = 0x80
)

// signedData is a parsed CMS SignedData (RFC 5652, section 5).
type signedData struct {
	raw         []byte // the ContentInfo, padding excluded
	contentType asn1.ObjectIdentifier
	content     []byte // eContent, nil when absent
	certs       []*x509.Certificate
	signerInfos []cryptobyte.String // contents of each SignerInfo SEQUENCE
}

// parseSignedData parses a DER ContentInfo holding a SignedData. Zero bytes
// after it (the padding of a PDF placeholder) are ignored.
func parseSignedData(der []byte) (*signedData, error) {
	in := cryptobyte.String(der)
	var elem, ci, explicit, sd cryptobyte.String
	var ctype asn1.ObjectIdentifier
	if !in.ReadASN1Element(&elem, cbasn1.SEQUENCE) || len(bytes.Trim(in, "\x00")) != 0 {
		return nil, errors.New("malformed ContentInfo")
	}
	if !elem.ReadASN1(&ci, cbasn1.SEQUENCE) {
		return nil, errors.New("malformed ContentInfo")
	}
	if !ci.ReadASN1ObjectIdentifier(&ctype) {
		return nil, errors.New("malformed ContentInfo content type")
	}
	if !ctype.Equal(oidSignedData()) {
		return nil, fmt.Errorf("content type %v is not signedData", ctype)
	}
	if !ci.ReadASN1(&explicit, tagC0) || !ci.Empty() ||
		!explicit.ReadASN1(&sd, cbasn1.SEQUENCE) || !explicit.Empty() {
		return nil, errors.New("malformed ContentInfo content")
	}

	out := &signedData{raw: der[:len(der)-len(in)]}
	var version int64
	var digestAlgs, encap cryptobyte.String
	if !sd.ReadASN1Integer(&version) {
		return nil, errors.New("malformed SignedData version")
	}
	if !sd.ReadASN1(&digestAlgs, cbasn1.SET) {
		return nil, errors.New("malformed SignedData digestAlgorithms")
	}
	if !sd.ReadASN1(&encap, cbasn1.SEQUENCE) || !encap.ReadASN1ObjectIdentifier(&out.contentType) {
		return nil, errors.New("malformed EncapsulatedContentInfo")
	}
	if !encap.Empty() {
		var content cryptobyte.String
		if !encap.ReadASN1(&content, tagC0) || !encap.Empty() {
			return nil, errors.New("malformed EncapsulatedContentInfo content")
		}
		if !content.ReadASN1Bytes(&out.content, cbasn1.OCTET_STRING) || !content.Empty() {
			return nil, errors.New("encapsulated content is not a DER OCTET STRING")
		}
	}
	var certs cryptobyte.String
	var hasCerts bool
	if !sd.ReadOptionalASN1(&certs, &hasCerts, tagC0) {
		return nil, errors.New("malformed SignedData certificates")
	}
	for !certs.Empty() {
		var elem cryptobyte.String
		var tag cbasn1.Tag
		if !certs.ReadAnyASN1Element(&elem, &tag) {
			return nil, errors.New("malformed SignedData certificates")
		}
		if tag != cbasn1.SEQUENCE {
			continue // another CertificateChoices alternative
		}
		c, err := x509.ParseCertificate(elem)
		if err != nil {
			return nil, fmt.Errorf("SignedData certificate %d: %w", len(out.certs), err)
		}
		out.certs = append(out.certs, c)
	}
	if !sd.SkipOptionalASN1(tagC1) { // crls
		return nil, errors.New("malformed SignedData crls")
	}
	var infos cryptobyte.String
	if !sd.ReadASN1(&infos, cbasn1.SET) || !sd.Empty() {
		return nil, errors.New("malformed SignedData signerInfos")
	}
	for !infos.Empty() {
		var si cryptobyte.String
		if !infos.ReadASN1(&si, cbasn1.SEQUENCE) {
			return nil, errors.New("malformed SignerInfo")
		}
		out.signerInfos = append(out.signerInfos, si)
	}
	return out, nil
}

// attribute is a CMS attribute with the DER encoding of each value.
type attribute struct {
	oid    asn1.ObjectIdentifier
	values [][]byte
}

// signerInfo is a parsed SignerInfo.
type signerInfo struct {
	issuer    []byte   // DER Name of issuerAndSerialNumber, or nil
	serial    *big.Int // serial number of issuerAndSerialNumber, or nil
	ski       []byte   // subjectKeyIdentifier, or nil
	digest    crypto.Hash
	rawSigned []byte // the signed attributes as a DER SET OF, as signed
	signed    []attribute
	sigAlg    asn1.ObjectIdentifier
	sigParams []byte
	signature []byte
}

// parseSignerInfo parses the contents of a SignerInfo SEQUENCE.
func parseSignerInfo(si cryptobyte.String) (*signerInfo, error) {
	out := new(signerInfo)
	var version int64
	if !si.ReadASN1Integer(&version) {
		return nil, errors.New("malformed SignerInfo version")
	}
	switch {
	case si.PeekASN1Tag(cbasn1.SEQUENCE):
		var ias, name cryptobyte.String
		out.serial = new(big.Int)
		if !si.ReadASN1(&ias, cbasn1.SEQUENCE) || !ias.ReadASN1Element(&name, cbasn1.SEQUENCE) ||
			!ias.ReadASN1Integer(out.serial) || !ias.Empty() {
			return nil, errors.New("malformed SignerInfo issuerAndSerialNumber")
		}
		out.issuer = name
	case si.PeekASN1Tag(tagP0):
		if !si.ReadASN1Bytes(&out.ski, tagP0) {
			return nil, errors.New("malformed SignerInfo subjectKeyIdentifier")
		}
	default:
		return nil, errors.New("malformed SignerInfo sid")
	}
	digOID, digParams, err := readAlgorithm(&si)
	if err != nil {
		return nil, fmt.Errorf("SignerInfo digestAlgorithm: %w", err)
	}
	h, ok := hashFromOID(digOID)
	if !ok {
		return nil, fmt.Errorf("unsupported digest algorithm %v", digOID)
	}
	if !absentOrNULL(digParams) {
		return nil, errors.New("SignerInfo digestAlgorithm has unexpected parameters")
	}
	out.digest = h
	if !si.PeekASN1Tag(tagC0) {
		return nil, errors.New("SignerInfo has no signed attributes")
	}
	var elem cryptobyte.String
	if !si.ReadASN1Element(&elem, tagC0) {
		return nil, errors.New("malformed signed attributes")
	}
	// The signature covers the attributes with the SET OF tag (RFC 5652,
	// section 5.4), not the [0] IMPLICIT tag they are stored with.
	out.rawSigned = bytes.Clone(elem)
	out.rawSigned[0] = 0x31
	var contents cryptobyte.String
	if !elem.ReadASN1(&contents, tagC0) {
		return nil, errors.New("malformed signed attributes")
	}
	if out.signed, err = parseAttributes(contents); err != nil {
		return nil, fmt.Errorf("signed attributes: %w", err)
	}
	sigOID, sigParams, err := readAlgorithm(&si)
	if err != nil {
		return nil, fmt.Errorf("SignerInfo signatureAlgorithm: %w", err)
	}
	out.sigAlg, out.sigParams = sigOID, sigParams
	if !si.ReadASN1Bytes(&out.signature, cbasn1.OCTET_STRING) {
		return nil, errors.New("malformed SignerInfo signature")
	}
	if !si.SkipOptionalASN1(tagC1) || !si.Empty() {
		return nil, errors.New("malformed SignerInfo unsigned attributes")
	}
	return out, nil
}

// findSigner returns the certificate among certs that si identifies.
func (si *signerInfo) findSigner(certs []*x509.Certificate) *x509.Certificate {
	for _, c := range certs {
		if si.issuer != nil && bytes.Equal(c.RawIssuer, si.issuer) && c.SerialNumber.Cmp(si.serial) == 0 ||
			si.ski != nil && bytes.Equal(c.SubjectKeyId, si.ski) {
			return c
		}
	}
	return nil
}

// attributeValue returns the single value of the single attribute of type
// oid. It returns nil and no error when the attribute is absent.
func (si *signerInfo) attributeValue(oid asn1.ObjectIdentifier, name string) ([]byte, error) {
	var found []byte
	n := 0
	for _, a := range si.signed {
		if a.oid.Equal(oid) {
			n++
			if len(a.values) != 1 {
				return nil, fmt.Errorf("%s attribute has %d values, want 1", name, len(a.values))
			}
			found = a.values[0]
		}
	}
	if n > 1 {
		return nil, fmt.Errorf("%d %s attributes, want 1", n, name)
	}
	return found, nil
}

// parseAttributes parses the contents of a SET OF Attribute.
func parseAttributes(set cryptobyte.String) ([]attribute, error) {
	var attrs []attribute
	for !set.Empty() {
		var seq, values cryptobyte.String
		var a attribute
		if !set.ReadASN1(&seq, cbasn1.SEQUENCE) || !seq.ReadASN1ObjectIdentifier(&a.oid) ||
			!seq.ReadASN1(&values, cbasn1.SET) || !seq.Empty() {
			return nil, errors.New("malformed attribute")
		}
		for !values.Empty() {
			var v cryptobyte.String
			var tag cbasn1.Tag
			if !values.ReadAnyASN1Element(&v, &tag) {
				return nil, fmt.Errorf("malformed value of attribute %v", a.oid)
			}
			a.values = append(a.values, v)
		}
		if len(a.values) == 0 {
			return nil, fmt.Errorf("attribute %v has no value", a.oid)
		}
		attrs = append(attrs, a)
	}
	return attrs, nil
}

// readAlgorithm reads an AlgorithmIdentifier and returns its OID and its
// parameters element (nil when absent).
func readAlgorithm(s *cryptobyte.String) (asn1.ObjectIdentifier, []byte, error) {
	var ai cryptobyte.String
	var oid asn1.ObjectIdentifier
	if !s.ReadASN1(&ai, cbasn1.SEQUENCE) || !ai.ReadASN1ObjectIdentifier(&oid) {
		return nil, nil, errors.New("malformed AlgorithmIdentifier")
	}
	if ai.Empty() {
		return oid, nil, nil
	}
	var params cryptobyte.String
	var tag cbasn1.Tag
	if !ai.ReadAnyASN1Element(&params, &tag) || !ai.Empty() {
		return nil, nil, errors.New("malformed AlgorithmIdentifier parameters")
	}
	return oid, params, nil
}

// absentOrNULL reports whether params is empty or a DER NULL.
func absentOrNULL(params []byte) bool {
	return len(params) == 0 || bytes.Equal(params, []byte{0x05, 0x00})
}

// Signature algorithm kinds.
const (
	sigRSA = iota + 1
	sigPSS
	sigECDSA
	sigEd25519
)

// signatureKind returns the kind of the signature algorithm oid and the hash
// it names (zero for rsaEncryption, id-ecPublicKey, RSASSA-PSS and
// Ed25519), or zero when oid is not supported.
func signatureKind(oid asn1.ObjectIdentifier) (int, crypto.Hash) {
	switch oid.String() {
	case "1.2.840.113549.1.1.1": // rsaEncryption
		return sigRSA, 0
	case "1.2.840.113549.1.1.5":
		return sigRSA, crypto.SHA1
	case "1.2.840.113549.1.1.14":
		return sigRSA, crypto.SHA224
	case "1.2.840.113549.1.1.11":
		return sigRSA, crypto.SHA256
	case "1.2.840.113549.1.1.12":
		return sigRSA, crypto.SHA384
	case "1.2.840.113549.1.1.13":
		return sigRSA, crypto.SHA512
	case "1.2.840.113549.1.1.10": // RSASSA-PSS
		return sigPSS, 0
	case "1.2.840.10045.2.1": // id-ecPublicKey
		return sigECDSA, 0
	case "1.2.840.10045.4.1":
		return sigECDSA, crypto.SHA1
	case "1.2.840.10045.4.3.1":
		return sigECDSA, crypto.SHA224
	case "1.2.840.10045.4.3.2":
		return sigECDSA, crypto.SHA256
	case "1.2.840.10045.4.3.3":
		return sigECDSA, crypto.SHA384
	case "1.2.840.10045.4.3.4":
		return sigECDSA, crypto.SHA512
	case "1.3.101.112":
		return sigEd25519, 0
	}
	return 0, 0
}

// oidMGF1 returns id-mgf1 (RFC 4055).
func oidMGF1() asn1.ObjectIdentifier { return asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 8} }

// verifySignature checks that sig is a signature over signed by the key of
// cert with the algorithm oid (with parameters params). digest is the hash
// named elsewhere (a SignerInfo's digestAlgorithm), or zero; it is used by
// the algorithms that name no hash themselves (rsaEncryption and
// id-ecPublicKey) and must otherwise agree with the algorithm's hash.
func verifySignature(cert *x509.Certificate, oid asn1.ObjectIdentifier, params []byte, digest crypto.Hash, signed, sig []byte) error {
	kind, h := signatureKind(oid)
	switch {
	case kind == 0:
		return fmt.Errorf("unsupported signature algorithm %v", oid)
	case h == 0:
		h = digest
	case digest != 0 && digest != h:
		return fmt.Errorf("signature algorithm %v does not use the digest algorithm %v", oid, digest)
	}

	switch kind {
	case sigRSA:
		pub, ok := cert.PublicKey.(*rsa.PublicKey)
		if !ok {
			return fmt.Errorf("signature algorithm %v needs an RSA key, the certificate has %T", oid, cert.PublicKey)
		}
		if !absentOrNULL(params) {
			return fmt.Errorf("signature algorithm %v has unexpected parameters", oid)
		}
		if h == 0 {
			return fmt.Errorf("signature algorithm %v names no hash", oid)
		}
		return rsa.VerifyPKCS1v15(pub, h, hashOf(h, signed), sig)
	case sigPSS:
		pub, ok := cert.PublicKey.(*rsa.PublicKey)
		if !ok {
			return fmt.Errorf("RSASSA-PSS needs an RSA key, the certificate has %T", cert.PublicKey)
		}
		ph, salt, err := parsePSSParams(params)
		if err != nil {
			return err
		}
		if digest != 0 && digest != ph {
			return fmt.Errorf("RSASSA-PSS hash %v does not match the digest algorithm %v", ph, digest)
		}
		return rsa.VerifyPSS(pub, ph, hashOf(ph, signed), sig, &rsa.PSSOptions{SaltLength: salt, Hash: ph})
	case sigECDSA:
		pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
		if !ok {
			return fmt.Errorf("signature algorithm %v needs an ECDSA key, the certificate has %T", oid, cert.PublicKey)
		}
		if h == 0 {
			return fmt.Errorf("signature algorithm %v names no hash", oid)
		}
		if !ecdsa.VerifyASN1(pub, hashOf(h, signed), sig) {
			return errors.New("ECDSA verification failure")
		}
		return nil
	default: // sigEd25519
		pub, ok := cert.PublicKey.(ed25519.PublicKey)
		if !ok {
			return fmt.Errorf("Ed25519 signature needs an Ed25519 key, the certificate has %T", cert.PublicKey)
		}
		if !ed25519.Verify(pub, signed, sig) {
			return errors.New("Ed25519 verification failure")
		}
		return nil
	}
}

// hashOf returns the hash of data with h, which must be available.
func hashOf(h crypto.Hash, data []byte) []byte {
	d := h.New()
	d.Write(data)
	return d.Sum(nil)
}

// parsePSSParams parses RSASSA-PSS-params (RFC 4055) and returns the hash
// and salt length. MGF1 must use the same hash as the signature.
func parsePSSParams(params []byte) (crypto.Hash, int, error) {
	in := cryptobyte.String(params)
	var seq, hashField, mgfField cryptobyte.String
	var hasHash, hasMGF bool
	if !in.ReadASN1(&seq, cbasn1.SEQUENCE) || !in.Empty() ||
		!seq.ReadOptionalASN1(&hashField, &hasHash, tagC0) ||
		!seq.ReadOptionalASN1(&mgfField, &hasMGF, tagC1) {
		return 0, 0, errors.New("malformed RSASSA-PSS parameters")
	}
	salt, trailer := int64(20), int64(1)
	if !readOptionalExplicitInt(&seq, &salt, tagC2) || !readOptionalExplicitInt(&seq, &trailer, tagC3) || !seq.Empty() {
		return 0, 0, errors.New("malformed RSASSA-PSS parameters")
	}
	h := crypto.SHA1
	if hasHash {
		oid, p, err := readAlgorithm(&hashField)
		if err != nil || !hashField.Empty() || !absentOrNULL(p) {
			return 0, 0, errors.New("malformed RSASSA-PSS hash algorithm")
		}
		var ok bool
		if h, ok = hashFromOID(oid); !ok {
			return 0, 0, fmt.Errorf("unsupported RSASSA-PSS hash %v", oid)
		}
	}
	mgfHash := crypto.SHA1
	if hasMGF {
		oid, p, err := readAlgorithm(&mgfField)
		if err != nil || !mgfField.Empty() || !oid.Equal(oidMGF1()) {
			return 0, 0, errors.New("unsupported RSASSA-PSS mask generation function")
		}
		mp := cryptobyte.String(p)
		moid, mparams, err := readAlgorithm(&mp)
		if err != nil || !mp.Empty() || !absentOrNULL(mparams) {
			return 0, 0, errors.New("malformed RSASSA-PSS MGF1 hash")
		}
		var ok bool
		if mgfHash, ok = hashFromOID(moid); !ok {
			return 0, 0, fmt.Errorf("unsupported RSASSA-PSS MGF1 hash %v", moid)
		}
	}
	if mgfHash != h {
		return 0, 0, fmt.Errorf("RSASSA-PSS MGF1 hash %v differs from the signature hash %v", mgfHash, h)
	}
	if trailer != 1 || salt < 0 || salt > 1024 {
		return 0, 0, fmt.Errorf("unsupported RSASSA-PSS salt length %d or trailer field %d", salt, trailer)
	}
	return h, int(salt), nil
}

// readOptionalExplicitInt reads an optional [n] EXPLICIT INTEGER, leaving
// *out unchanged when it is absent.
func readOptionalExplicitInt(s *cryptobyte.String, out *int64, tag cbasn1.Tag) bool {
	var field cryptobyte.String
	var present bool
	if !s.ReadOptionalASN1(&field, &present, tag) {
		return false
	}
	return !present || field.ReadASN1Integer(out) && field.Empty()
}

// checkESSSigningCertificate checks that the signing-certificate (RFC 2634)
// or signing-certificate-v2 (RFC 5035) attribute of si names cert as its
// first certificate. One of the two must be present.
func (si *signerInfo) checkESSSigningCertificate(cert *x509.Certificate) error {
	v1, err := si.attributeValue(oidAttrSigningCertificate(), "signing-certificate")
	if err != nil {
		return err
	}
	v2, err := si.attributeValue(oidAttrSigningCertificateV2(), "signing-certificate-v2")
	if err != nil {
		return err
	}
	var value []byte
	switch {
	case v2 != nil:
		value = v2
	case v1 != nil:
		value = v1
	default:
		return errors.New("no signing-certificate or signing-certificate-v2 attribute")
	}
	in := cryptobyte.String(value)
	var sc, ids, id cryptobyte.String
	if !in.ReadASN1(&sc, cbasn1.SEQUENCE) || !in.Empty() || !sc.ReadASN1(&ids, cbasn1.SEQUENCE) ||
		!ids.ReadASN1(&id, cbasn1.SEQUENCE) {
		return errors.New("malformed signing-certificate attribute")
	}
	h := crypto.SHA1
	if v2 != nil {
		h = crypto.SHA256
		if id.PeekASN1Tag(cbasn1.SEQUENCE) {
			oid, p, err := readAlgorithm(&id)
			if err != nil || !absentOrNULL(p) {
				return errors.New("malformed ESSCertIDv2 hash algorithm")
			}
			var ok bool
			if h, ok = hashFromOID(oid); !ok {
				return fmt.Errorf("unsupported ESSCertIDv2 hash algorithm %v", oid)
			}
		}
	}
	var certHash []byte
	if !id.ReadASN1Bytes(&certHash, cbasn1.OCTET_STRING) {
		return errors.New("malformed ESSCertID certHash")
	}
	if !bytes.Equal(certHash, hashOf(h, cert.Raw)) {
		return fmt.Errorf("signing-certificate attribute does not name the signer certificate %s", certName(cert))
	}
	return nil
}
