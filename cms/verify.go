package cms

import (
	"bytes"
	"crypto"
	"crypto/subtle"
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// VerifyIntegrity reports whether sd is an intact signature over content
// whose digest under sd.DigestAlgorithm is contentDigest: the
// message-digest attribute equals contentDigest and sd.Signature verifies
// over the signed attributes with sd.Signer's public key. Without signed
// attributes, the signature must verify over contentDigest itself. For a
// SignedData that encapsulates its content, contentDigest may be nil: the
// digest of sd.Content is used.
//
// VerifyIntegrity asks for no profile: SHA-1, signatures without an ESS
// signing-certificate attribute and without signed attributes pass. See
// CheckPAdES for the profile and VerifyChain for the certificate chain.
func (sd *SignedData) VerifyIntegrity(contentDigest []byte) error {
	if sd.Signer == nil {
		return errors.New("cms: signer certificate is not included in the SignedData")
	}
	if contentDigest == nil {
		if sd.Content == nil {
			return errors.New("cms: no content digest given and no encapsulated content")
		}
		contentDigest = Digest(sd.DigestAlgorithm, sd.Content)
	}
	if len(contentDigest) != sd.DigestAlgorithm.Size() {
		return fmt.Errorf("cms: the content digest is %d bytes, want %d for %v", len(contentDigest), sd.DigestAlgorithm.Size(), sd.DigestAlgorithm)
	}
	var err error
	switch {
	case sd.RawSignedAttributes == nil && sd.sigAlg.kind == kindEd25519 && sd.Content != nil:
		if subtle.ConstantTimeCompare(Digest(sd.DigestAlgorithm, sd.Content), contentDigest) != 1 {
			return errors.New("cms: the encapsulated content does not match the content digest")
		}
		err = sd.sigAlg.verify(sd.Signer.PublicKey, sd.Content, sd.Signature)
	case sd.RawSignedAttributes == nil:
		err = sd.sigAlg.verifyDigest(sd.Signer.PublicKey, contentDigest, sd.Signature)
	default:
		if subtle.ConstantTimeCompare(sd.MessageDigest, contentDigest) != 1 {
			return errors.New("cms: message-digest attribute does not match the content digest")
		}
		err = sd.sigAlg.verify(sd.Signer.PublicKey, sd.RawSignedAttributes, sd.Signature)
	}
	if err != nil {
		return fmt.Errorf("cms: signature verification failed: %w", err)
	}
	return nil
}

// CheckContentType checks that the signed attributes hold exactly one
// content-type attribute and that it names sd.ContentType (RFC 5652,
// section 5.3).
func (sd *SignedData) CheckContentType() error {
	if sd.RawSignedAttributes == nil {
		return errors.New("cms: the SignerInfo has no signed attributes")
	}
	v, err := requiredAttributeValue(sd.SignedAttributes, oidAttrContentType, "content-type")
	if err != nil {
		return err
	}
	if !bytes.Equal(v, encodeOID(sd.ContentType)) {
		return fmt.Errorf("cms: the content-type attribute does not name the encapsulated content type %v", sd.ContentType)
	}
	return nil
}

// CheckSigningCertificate checks that the signed attributes identify
// sd.Signer with an ESS signing-certificate-v2 attribute (RFC 5035), an ESS
// signing-certificate attribute (RFC 2634, SHA-1) or both, at most one of
// each: the first certificate each names must be sd.Signer, by hash and,
// when present, by issuer and serial number.
func (sd *SignedData) CheckSigningCertificate() error {
	if sd.Signer == nil {
		return errors.New("cms: signer certificate is not included in the SignedData")
	}
	v2, err := attributeValue(sd.SignedAttributes, oidAttrSigningCertificateV2, "signing-certificate-v2")
	if err != nil {
		return err
	}
	v1, err := attributeValue(sd.SignedAttributes, oidAttrSigningCertificate, "signing-certificate")
	if err != nil {
		return err
	}
	if v1 == nil && v2 == nil {
		return errors.New("cms: no ESS signing-certificate-v2 or signing-certificate attribute")
	}
	for _, a := range []struct {
		value []byte
		v2    bool
		name  string
	}{{v2, true, "signing-certificate-v2"}, {v1, false, "signing-certificate"}} {
		if a.value == nil {
			continue
		}
		ids, err := parseSigningCertificate(a.value, a.v2)
		if err != nil {
			return fmt.Errorf("cms: %s attribute: %w", a.name, err)
		}
		if err := ids[0].matches(sd.Signer); err != nil {
			return fmt.Errorf("cms: %s %w", a.name, err)
		}
	}
	return nil
}

// CheckPAdES checks that sd follows the CMS profile of a PAdES baseline
// signature, sub-filter ETSI.CAdES.detached (ETSI EN 319 142-1, level
// B-B, with ETSI EN 319 122-1): the signer certificate is included, the
// SignedData is detached with content type id-data, the signed attributes
// hold one content-type attribute naming id-data, one message-digest and an
// ESS signing-certificate-v2 (or signing-certificate) attribute that
// identifies the signer, and no signing-time attribute. The error says
// which requirement fails. CheckPAdES checks no signature; see
// VerifyIntegrity.
func (sd *SignedData) CheckPAdES() error {
	if sd.Signer == nil {
		return errors.New("cms: signer certificate is not included in the SignedData")
	}
	if !sd.ContentType.Equal(oidData) {
		return fmt.Errorf("cms: the encapsulated content type is %v, not id-data", sd.ContentType)
	}
	if sd.Content != nil {
		return errors.New("cms: the SignedData encapsulates its content; a PDF signature must be detached")
	}
	if sd.RawSignedAttributes == nil {
		return errors.New("cms: the SignerInfo has no signed attributes")
	}
	if err := sd.CheckContentType(); err != nil {
		return err
	}
	if err := sd.CheckSigningCertificate(); err != nil {
		return err
	}
	for _, a := range sd.SignedAttributes {
		if a.Type.Equal(oidAttrSigningTime) {
			return errors.New("cms: signing-time attribute present; PAdES puts the signing time in the signature dictionary (/M)")
		}
	}
	return nil
}

// Verify checks that sd is an intact PAdES signature over content whose
// digest under sd.DigestAlgorithm is contentDigest: VerifyIntegrity, then
// CheckPAdES. It does not check the certificate chain; see VerifyChain.
func (sd *SignedData) Verify(contentDigest []byte) error {
	if err := sd.VerifyIntegrity(contentDigest); err != nil {
		return err
	}
	return sd.CheckPAdES()
}

// VerifyChain verifies sd.Signer's certificate chain with opts, using the
// SignedData's certificates as intermediates in addition to
// opts.Intermediates. When opts.KeyUsages is empty it means any extended key
// usage (crypto/x509 would otherwise require server authentication). It
// returns the chains that x509.Certificate.Verify found.
func (sd *SignedData) VerifyChain(opts x509.VerifyOptions) ([][]*x509.Certificate, error) {
	if sd.Signer == nil {
		return nil, errors.New("cms: signer certificate is not included in the SignedData")
	}
	pool := x509.NewCertPool()
	if opts.Intermediates != nil {
		pool = opts.Intermediates.Clone()
	}
	for _, c := range sd.Certificates {
		if c != sd.Signer {
			pool.AddCert(c)
		}
	}
	opts.Intermediates = pool
	if len(opts.KeyUsages) == 0 {
		opts.KeyUsages = []x509.ExtKeyUsage{x509.ExtKeyUsageAny}
	}
	chains, err := sd.Signer.Verify(opts)
	if err != nil {
		return nil, fmt.Errorf("cms: verifying the signer certificate: %w", err)
	}
	return chains, nil
}

// essCertID is the part of an ESSCertID (RFC 2634) or ESSCertIDv2 (RFC
// 5035) that identifies a certificate.
type essCertID struct {
	hash     crypto.Hash
	certHash []byte
	// issuers holds the DER Names of the directoryName entries of
	// issuerSerial; serial is nil if issuerSerial is absent.
	issuers [][]byte
	serial  *big.Int
}

// parseSigningCertificate parses a SigningCertificateV2 value (v2) or a
// SigningCertificate value and returns its certificate identifiers.
func parseSigningCertificate(der []byte, v2 bool) ([]essCertID, error) {
	in := cryptobyte.String(der)
	var sc, certs cryptobyte.String
	if !in.ReadASN1(&sc, cbasn1.SEQUENCE) || !in.Empty() || !sc.ReadASN1(&certs, cbasn1.SEQUENCE) {
		return nil, errors.New("malformed value")
	}
	// An optional policies field may follow in sc; it is not used.
	var ids []essCertID
	for !certs.Empty() {
		var idSeq cryptobyte.String
		if !certs.ReadASN1(&idSeq, cbasn1.SEQUENCE) {
			return nil, errors.New("malformed ESSCertID")
		}
		id := essCertID{hash: crypto.SHA1}
		if v2 {
			id.hash = crypto.SHA256
			if idSeq.PeekASN1Tag(cbasn1.SEQUENCE) {
				h, err := readHashAlgorithm(&idSeq)
				if err != nil {
					return nil, fmt.Errorf("ESSCertIDv2 hashAlgorithm: %w", err)
				}
				id.hash = h
			}
		}
		if !idSeq.ReadASN1Bytes(&id.certHash, cbasn1.OCTET_STRING) {
			return nil, errors.New("malformed ESSCertID certHash")
		}
		if !idSeq.Empty() {
			var is, names cryptobyte.String
			id.serial = new(big.Int)
			if !idSeq.ReadASN1(&is, cbasn1.SEQUENCE) || !idSeq.Empty() ||
				!is.ReadASN1(&names, cbasn1.SEQUENCE) || !is.ReadASN1Integer(id.serial) || !is.Empty() {
				return nil, errors.New("malformed ESSCertID issuerSerial")
			}
			for !names.Empty() {
				var gn cryptobyte.String
				var tag cbasn1.Tag
				if !names.ReadAnyASN1(&gn, &tag) {
					return nil, errors.New("malformed ESSCertID issuer")
				}
				if tag == tagDirName {
					id.issuers = append(id.issuers, gn)
				}
			}
		}
		ids = append(ids, id)
	}
	if len(ids) == 0 {
		return nil, errors.New("lists no certificate")
	}
	return ids, nil
}

// matches reports why id does not identify cert, or nil when it does.
func (id essCertID) matches(cert *x509.Certificate) error {
	if !bytes.Equal(Digest(id.hash, cert.Raw), id.certHash) {
		return errors.New("hash does not match the signer certificate")
	}
	if id.serial != nil {
		match := false
		for _, name := range id.issuers {
			match = match || bytes.Equal(name, cert.RawIssuer)
		}
		if !match || id.serial.Cmp(cert.SerialNumber) != 0 {
			return errors.New("issuerSerial does not match the signer certificate")
		}
	}
	return nil
}
