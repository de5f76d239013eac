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

// Verify checks that sd is a valid signature over content whose digest under
// sd.DigestAlgorithm is contentDigest:
//
//   - the content-type attribute is id-data and the message-digest
//     attribute equals contentDigest;
//   - there is exactly one signing-certificate-v2 attribute and its first
//     ESSCertIDv2 identifies sd.Signer by hash (and by issuer and serial
//     number when present);
//   - sd.Signature verifies over the signed attributes with sd.Signer's
//     public key.
//
// Verify does not check the certificate chain; see VerifyChain.
func (sd *SignedData) Verify(contentDigest []byte) error {
	if sd.Signer == nil {
		return errors.New("cms: signer certificate is not included in the SignedData")
	}
	ct, err := attributeValue(sd.SignedAttributes, oidAttrContentType, "content-type")
	if err != nil {
		return err
	}
	if !bytes.Equal(ct, encodeOID(oidData)) {
		return errors.New("cms: content-type attribute is not id-data")
	}
	if subtle.ConstantTimeCompare(sd.MessageDigest, contentDigest) != 1 {
		return errors.New("cms: message-digest attribute does not match the content digest")
	}
	if err := checkSigningCertificateV2(sd.SignedAttributes, sd.Signer); err != nil {
		return err
	}
	if err := sd.Signer.CheckSignature(sd.SignatureAlgorithm, sd.RawSignedAttributes, sd.Signature); err != nil {
		return fmt.Errorf("cms: signature verification failed: %w", err)
	}
	return nil
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

// essCertIDv2 is the part of an ESSCertIDv2 that identifies a certificate.
type essCertIDv2 struct {
	hash     crypto.Hash
	certHash []byte
	// issuers holds the DER Names of the directoryName entries of
	// issuerSerial; serial is nil if issuerSerial is absent.
	issuers [][]byte
	serial  *big.Int
}

// parseSigningCertificateV2 parses a SigningCertificateV2 value and returns
// its ESSCertIDv2 entries.
func parseSigningCertificateV2(der []byte) ([]essCertIDv2, error) {
	in := cryptobyte.String(der)
	var sc, certs cryptobyte.String
	if !in.ReadASN1(&sc, cbasn1.SEQUENCE) || !in.Empty() || !sc.ReadASN1(&certs, cbasn1.SEQUENCE) {
		return nil, errors.New("cms: malformed signing-certificate-v2 attribute")
	}
	// An optional policies field may follow in sc; it is not used.
	var ids []essCertIDv2
	for !certs.Empty() {
		var idSeq cryptobyte.String
		if !certs.ReadASN1(&idSeq, cbasn1.SEQUENCE) {
			return nil, errors.New("cms: malformed ESSCertIDv2")
		}
		id := essCertIDv2{hash: crypto.SHA256}
		if idSeq.PeekASN1Tag(cbasn1.SEQUENCE) {
			oid, params, err := readAlgorithmIdentifier(&idSeq)
			if err != nil || !absentOrNULL(params) {
				return nil, errors.New("cms: malformed ESSCertIDv2 hashAlgorithm")
			}
			h, ok := hashFromOID(oid)
			if !ok {
				return nil, fmt.Errorf("cms: unsupported ESSCertIDv2 hash algorithm %v", oid)
			}
			id.hash = h
		}
		if !idSeq.ReadASN1Bytes(&id.certHash, cbasn1.OCTET_STRING) {
			return nil, errors.New("cms: malformed ESSCertIDv2 certHash")
		}
		if !idSeq.Empty() {
			var is, names cryptobyte.String
			id.serial = new(big.Int)
			if !idSeq.ReadASN1(&is, cbasn1.SEQUENCE) || !idSeq.Empty() ||
				!is.ReadASN1(&names, cbasn1.SEQUENCE) || !is.ReadASN1Integer(id.serial) || !is.Empty() {
				return nil, errors.New("cms: malformed ESSCertIDv2 issuerSerial")
			}
			for !names.Empty() {
				var gn cryptobyte.String
				var tag cbasn1.Tag
				if !names.ReadAnyASN1(&gn, &tag) {
					return nil, errors.New("cms: malformed ESSCertIDv2 issuer")
				}
				if tag == tagDirName {
					id.issuers = append(id.issuers, gn)
				}
			}
		}
		ids = append(ids, id)
	}
	if len(ids) == 0 {
		return nil, errors.New("cms: signing-certificate-v2 attribute lists no certificate")
	}
	return ids, nil
}

// checkSigningCertificateV2 checks that attrs hold exactly one
// signing-certificate-v2 attribute whose first ESSCertIDv2 matches cert.
func checkSigningCertificateV2(attrs []Attribute, cert *x509.Certificate) error {
	v, err := attributeValue(attrs, oidAttrSigningCertificateV2, "signing-certificate-v2")
	if err != nil {
		return err
	}
	ids, err := parseSigningCertificateV2(v)
	if err != nil {
		return err
	}
	id := ids[0]
	d := id.hash.New()
	d.Write(cert.Raw)
	if !bytes.Equal(d.Sum(nil), id.certHash) {
		return errors.New("cms: signing-certificate-v2 hash does not match the signer certificate")
	}
	if id.serial != nil {
		match := false
		for _, name := range id.issuers {
			if bytes.Equal(name, cert.RawIssuer) {
				match = true
			}
		}
		if !match || id.serial.Cmp(cert.SerialNumber) != 0 {
			return errors.New("cms: signing-certificate-v2 issuerSerial does not match the signer certificate")
		}
	}
	return nil
}
