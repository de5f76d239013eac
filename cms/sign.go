package cms

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"slices"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"hashsign/internal/certpath"
	"hashsign/signer"
)

// SignedAttributes returns the DER encoding of the signed attributes for a
// signature by cert over content whose digest under h is contentDigest. The
// result is a SET OF Attribute (tag 0x31) holding, in DER order,
// content-type (id-data), message-digest and signing-certificate-v2 with the
// h hash of cert and its issuer and serial number. A zero h means SHA-256.
//
// These are the bytes whose h digest is signed. Assemble embeds them in the
// SignerInfo with their tag changed to [0] IMPLICIT.
func SignedAttributes(contentDigest []byte, h crypto.Hash, cert *x509.Certificate) ([]byte, error) {
	if h == 0 {
		h = crypto.SHA256
	}
	if err := checkSigningHash(h); err != nil {
		return nil, err
	}
	if cert == nil {
		return nil, errors.New("cms: no signer certificate")
	}
	if len(contentDigest) != h.Size() {
		return nil, fmt.Errorf("cms: content digest is %d bytes, want %d for %v", len(contentDigest), h.Size(), h)
	}

	contentType, err := encodeAttribute(oidAttrContentType, encodeOID(oidData))
	if err != nil {
		return nil, err
	}
	messageDigest, err := encodeAttribute(oidAttrMessageDigest, encodeOctetString(contentDigest))
	if err != nil {
		return nil, err
	}
	essValue, err := encodeSigningCertificateV2(h, cert)
	if err != nil {
		return nil, err
	}
	signingCert, err := encodeAttribute(oidAttrSigningCertificateV2, essValue)
	if err != nil {
		return nil, err
	}
	return encodeSetOf(cbasn1.SET, [][]byte{contentType, messageDigest, signingCert})
}

// encodeSigningCertificateV2 returns the DER SigningCertificateV2 value
// (RFC 5035) with one ESSCertIDv2 for cert: hashAlgorithm (omitted for the
// default SHA-256), certHash and issuerSerial.
func encodeSigningCertificateV2(h crypto.Hash, cert *x509.Certificate) ([]byte, error) {
	if cert.SerialNumber == nil {
		return nil, errors.New("cms: signer certificate has no serial number")
	}
	d := h.New()
	d.Write(cert.Raw)
	certHash := d.Sum(nil)

	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // SigningCertificateV2
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // certs
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // ESSCertIDv2
				if h != crypto.SHA256 {
					addDigestAlgorithm(b, h)
				}
				b.AddASN1OctetString(certHash)
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // IssuerSerial
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // GeneralNames
						b.AddASN1(tagDirName, func(b *cryptobyte.Builder) {
							b.AddBytes(cert.RawIssuer)
						})
					})
					b.AddASN1BigInt(cert.SerialNumber)
				})
			})
		})
	})
	der, err := b.Bytes()
	if err != nil {
		return nil, fmt.Errorf("cms: encoding signing-certificate-v2: %w", err)
	}
	return der, nil
}

// encodeAttribute returns the DER Attribute with type oid and the given DER
// values.
func encodeAttribute(oid asn1.ObjectIdentifier, values ...[]byte) ([]byte, error) {
	set, err := encodeSetOf(cbasn1.SET, values)
	if err != nil {
		return nil, err
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oid)
		b.AddBytes(set)
	})
	der, err := b.Bytes()
	if err != nil {
		return nil, fmt.Errorf("cms: encoding attribute %v: %w", oid, err)
	}
	return der, nil
}

// encodeSetOf returns a SET OF (or [n] IMPLICIT SET OF, per tag) holding
// elems sorted as DER requires: by their encodings compared as octet strings.
func encodeSetOf(tag cbasn1.Tag, elems [][]byte) ([]byte, error) {
	sorted := slices.Clone(elems)
	slices.SortFunc(sorted, bytes.Compare)
	var b cryptobyte.Builder
	b.AddASN1(tag, func(b *cryptobyte.Builder) {
		for _, e := range sorted {
			b.AddBytes(e)
		}
	})
	der, err := b.Bytes()
	if err != nil {
		return nil, fmt.Errorf("cms: encoding SET OF: %w", err)
	}
	return der, nil
}

func encodeOID(oid asn1.ObjectIdentifier) []byte {
	var b cryptobyte.Builder
	b.AddASN1ObjectIdentifier(oid)
	return b.BytesOrPanic() // oid is one of ours and valid
}

func encodeOctetString(v []byte) []byte {
	var b cryptobyte.Builder
	b.AddASN1OctetString(v)
	return b.BytesOrPanic() // cannot fail
}

// Sign returns a DER ContentInfo holding a detached SignedData signature by s
// over content whose digest is contentDigest, computed by the caller with
// opts.DigestAlgorithm(). The certificates field holds s.Chain() without
// duplicates or self-signed certificates (other than the signer's own).
//
// Sign verifies the signature it obtained with the signer certificate's
// public key before returning; when that fails the error wraps
// ErrKeyMismatch.
func Sign(ctx context.Context, s signer.Signer, contentDigest []byte, opts Options) ([]byte, error) {
	chain := s.Chain()
	if len(chain) == 0 || chain[0] == nil {
		return nil, errors.New("cms: signer has no certificate")
	}
	cert := chain[0]
	alg, err := newAlgorithm(cert.PublicKey, opts)
	if err != nil {
		return nil, err
	}
	if k, ok := s.Public().(interface{ Equal(crypto.PublicKey) bool }); ok && !k.Equal(cert.PublicKey) {
		return nil, fmt.Errorf("cms: %w (CN=%s)", ErrKeyMismatch, cert.Subject.CommonName)
	}
	attrs, err := SignedAttributes(contentDigest, alg.hash, cert)
	if err != nil {
		return nil, err
	}
	d := alg.hash.New()
	d.Write(attrs)
	sig, err := signer.Sign(ctx, s, rand.Reader, d.Sum(nil), alg.signerOpts)
	if err != nil {
		return nil, fmt.Errorf("cms: signing the signed attributes: %w", err)
	}
	return Assemble(chain, attrs, sig, opts)
}

// Assemble returns a DER ContentInfo holding a detached SignedData built from
// signedAttrs, as returned by SignedAttributes, and signature, a signature
// over the opts.DigestAlgorithm() digest of signedAttrs made by the key of
// chain[0] with the algorithm that opts selects. chain lists the signer
// certificate first, then its intermediates; duplicates and self-signed CA
// certificates are left out of the SignedData.
//
// An ECDSA signature may be given in ASN.1 DER or as the raw concatenation
// r||s of two coordinate-sized integers; an RSA signature shorter than the
// modulus is left-padded with zeros. Assemble verifies the signature with
// chain[0]'s public key; when that fails the error wraps ErrKeyMismatch.
func Assemble(chain []*x509.Certificate, signedAttrs, signature []byte, opts Options) ([]byte, error) {
	if len(chain) == 0 || chain[0] == nil {
		return nil, errors.New("cms: no signer certificate")
	}
	cert := chain[0]
	alg, err := newAlgorithm(cert.PublicKey, opts)
	if err != nil {
		return nil, err
	}
	if err := checkSignedAttributes(signedAttrs, alg.hash); err != nil {
		return nil, err
	}
	sig, err := checkSignature(cert, alg, signedAttrs, signature)
	if err != nil {
		return nil, err
	}
	return build(chain, signedAttrs, sig, alg)
}

// checkSignedAttributes reports whether signedAttrs is a DER SET OF
// attributes with a message digest of h's size.
func checkSignedAttributes(signedAttrs []byte, h crypto.Hash) error {
	in := cryptobyte.String(signedAttrs)
	var set cryptobyte.String
	if !in.ReadASN1(&set, cbasn1.SET) || !in.Empty() {
		return errors.New("cms: signed attributes are not a DER SET")
	}
	attrs, err := parseAttributes(set)
	if err != nil {
		return fmt.Errorf("cms: signed attributes: %w", err)
	}
	md, err := messageDigest(attrs)
	if err != nil {
		return err
	}
	if len(md) != h.Size() {
		return fmt.Errorf("cms: message digest is %d bytes, want %d for %v", len(md), h.Size(), h)
	}
	return nil
}

// checkSignature verifies sig over signedAttrs with cert's public key and
// returns it in the form CMS requires: DER for ECDSA, modulus-sized for RSA.
func checkSignature(cert *x509.Certificate, alg algorithm, signedAttrs, sig []byte) ([]byte, error) {
	var alt []byte // another reading of sig, tried if sig fails
	switch pub := cert.PublicKey.(type) {
	case *rsa.PublicKey:
		if k := pub.Size(); len(sig) < k {
			sig = append(make([]byte, k-len(sig), k), sig...)
		}
	case *ecdsa.PublicKey:
		alt = signer.ECDSARawToDER(pub, sig)
	}
	err := cert.CheckSignature(alg.sigAlg, signedAttrs, sig)
	if err == nil {
		return sig, nil
	}
	if alt != nil && cert.CheckSignature(alg.sigAlg, signedAttrs, alt) == nil {
		return alt, nil
	}
	return nil, fmt.Errorf("cms: %w (CN=%s): %v", ErrKeyMismatch, cert.Subject.CommonName, err)
}

// build encodes the ContentInfo. It does not check sig.
func build(chain []*x509.Certificate, signedAttrs, sig []byte, alg algorithm) ([]byte, error) {
	cert := chain[0]
	if cert.SerialNumber == nil {
		return nil, errors.New("cms: signer certificate has no serial number")
	}
	certs := certificateSet(chain)
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // ContentInfo
		b.AddASN1ObjectIdentifier(oidSignedData)
		b.AddASN1(tagExplicit0, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // SignedData
				b.AddASN1Int64(1)
				b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
					addDigestAlgorithm(b, alg.hash)
				})
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // EncapsulatedContentInfo
					b.AddASN1ObjectIdentifier(oidData)
				})
				b.AddASN1(tagImplicit0, func(b *cryptobyte.Builder) {
					for _, c := range certs {
						b.AddBytes(c.Raw)
					}
				})
				b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // SignerInfo
						b.AddASN1Int64(1)
						b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // IssuerAndSerialNumber
							b.AddBytes(cert.RawIssuer)
							b.AddASN1BigInt(cert.SerialNumber)
						})
						addDigestAlgorithm(b, alg.hash)
						b.AddASN1(tagImplicit0, func(b *cryptobyte.Builder) {
							b.AddBytes(signedAttrs[setHeaderLen(signedAttrs):])
						})
						addSignatureAlgorithm(b, alg.sigAlg)
						b.AddASN1OctetString(sig)
					})
				})
			})
		})
	})
	der, err := b.Bytes()
	if err != nil {
		return nil, fmt.Errorf("cms: encoding SignedData: %w", err)
	}
	return der, nil
}

// setHeaderLen returns the length of the tag and length octets of the DER
// element der, which the caller has already checked.
func setHeaderLen(der []byte) int {
	if der[1]&0x80 == 0 {
		return 2
	}
	return 2 + int(der[1]&0x7f)
}

// certificateSet returns the certificates to embed: chain[0] first, then
// the rest of chain in order without nils, duplicates and self-signed
// certificates.
func certificateSet(chain []*x509.Certificate) []*x509.Certificate {
	out := []*x509.Certificate{chain[0]}
	for _, c := range chain[1:] {
		if c == nil || certpath.SelfSigned(c) {
			continue
		}
		if slices.ContainsFunc(out, func(o *x509.Certificate) bool { return bytes.Equal(o.Raw, c.Raw) }) {
			continue
		}
		out = append(out, c)
	}
	return out
}

// MaxSize returns an upper bound of the length of the DER that Sign (or
// Assemble) produces for chain, the signer's public key pub and opts, for
// sizing a PDF signature placeholder. With RSA the bound is exact; with
// ECDSA it exceeds the actual length by the few bytes that a shorter DER
// signature saves. pub, if not nil, must equal chain[0]'s public key. Unsigned
// attributes added later, such as a signature time-stamp, are not included.
func MaxSize(chain []*x509.Certificate, pub crypto.PublicKey, opts Options) (int, error) {
	if len(chain) == 0 || chain[0] == nil {
		return 0, errors.New("cms: no signer certificate")
	}
	cert := chain[0]
	if k, ok := pub.(interface{ Equal(crypto.PublicKey) bool }); ok && !k.Equal(cert.PublicKey) {
		return 0, fmt.Errorf("cms: public key does not match the signer certificate (CN=%s)", cert.Subject.CommonName)
	}
	alg, err := newAlgorithm(cert.PublicKey, opts)
	if err != nil {
		return 0, err
	}
	attrs, err := SignedAttributes(make([]byte, alg.hash.Size()), alg.hash, cert)
	if err != nil {
		return 0, err
	}
	der, err := build(chain, attrs, make([]byte, alg.maxSigLen), alg)
	if err != nil {
		return 0, err
	}
	return len(der), nil
}

// AddUnsignedAttribute returns a copy of the ContentInfo cmsDER whose single
// SignerInfo has an additional unsigned attribute of type oid with the one
// DER-encoded value valueDER, such as a signature time-stamp token
// (id-aa-signatureTimeStampToken, 1.2.840.113549.1.9.16.2.14). Existing
// unsigned attributes are kept; the set is re-sorted in DER order. Trailing
// zero bytes after cmsDER's ContentInfo are dropped.
func AddUnsignedAttribute(cmsDER []byte, oid asn1.ObjectIdentifier, valueDER []byte) ([]byte, error) {
	v := cryptobyte.String(valueDER)
	var elem cryptobyte.String
	var tag cbasn1.Tag
	if !v.ReadAnyASN1Element(&elem, &tag) || !v.Empty() {
		return nil, errors.New("cms: attribute value is not a single DER element")
	}
	attr, err := encodeAttribute(oid, valueDER)
	if err != nil {
		return nil, err
	}

	sd, _, err := signedDataContents(cmsDER)
	if err != nil {
		return nil, err
	}
	sdElems, err := elements(sd)
	if err != nil || len(sdElems) == 0 {
		return nil, errors.New("cms: malformed SignedData")
	}
	signerInfos := cryptobyte.String(sdElems[len(sdElems)-1])
	var set, si cryptobyte.String
	if !signerInfos.ReadASN1(&set, cbasn1.SET) || !set.ReadASN1(&si, cbasn1.SEQUENCE) {
		return nil, errors.New("cms: malformed signerInfos")
	}
	if !set.Empty() {
		return nil, errors.New("cms: SignedData has more than one SignerInfo")
	}
	siElems, err := elements(si)
	if err != nil || len(siElems) < 5 {
		return nil, errors.New("cms: malformed SignerInfo")
	}
	var unsigned [][]byte
	if last := cryptobyte.String(siElems[len(siElems)-1]); last.PeekASN1Tag(tagImplicit1) {
		var contents cryptobyte.String
		if !last.ReadASN1(&contents, tagImplicit1) {
			return nil, errors.New("cms: malformed unsigned attributes")
		}
		unsigned, err = elements(contents)
		if err != nil {
			return nil, errors.New("cms: malformed unsigned attributes")
		}
		if _, err := parseAttributes(contents); err != nil {
			return nil, fmt.Errorf("cms: unsigned attributes: %w", err)
		}
		siElems = siElems[:len(siElems)-1]
	}
	unsignedSet, err := encodeSetOf(tagImplicit1, append(unsigned, attr))
	if err != nil {
		return nil, err
	}

	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oidSignedData)
		b.AddASN1(tagExplicit0, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				for _, e := range sdElems[:len(sdElems)-1] {
					b.AddBytes(e)
				}
				b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						for _, e := range siElems {
							b.AddBytes(e)
						}
						b.AddBytes(unsignedSet)
					})
				})
			})
		})
	})
	der, err := b.Bytes()
	if err != nil {
		return nil, fmt.Errorf("cms: encoding SignedData: %w", err)
	}
	return der, nil
}

// elements splits s into its DER elements, headers included.
func elements(s cryptobyte.String) ([][]byte, error) {
	var out [][]byte
	for !s.Empty() {
		var e cryptobyte.String
		var tag cbasn1.Tag
		if !s.ReadAnyASN1Element(&e, &tag) {
			return nil, errors.New("cms: malformed DER")
		}
		out = append(out, e)
	}
	return out, nil
}
