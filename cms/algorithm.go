package cms

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"slices"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// HashOID returns the digest algorithm identifier of h: SHA-1, SHA-224,
// SHA-256, SHA-384 or SHA-512. It reports false for other hashes.
func HashOID(h crypto.Hash) (asn1.ObjectIdentifier, bool) {
	var oid asn1.ObjectIdentifier
	switch h {
	case crypto.SHA1:
		oid = oidSHA1
	case crypto.SHA224:
		oid = oidSHA224
	case crypto.SHA256:
		oid = oidSHA256
	case crypto.SHA384:
		oid = oidSHA384
	case crypto.SHA512:
		oid = oidSHA512
	default:
		return nil, false
	}
	return append(asn1.ObjectIdentifier(nil), oid...), true
}

// HashFromOID returns the hash that the digest algorithm identifier oid
// names, among those of HashOID.
func HashFromOID(oid asn1.ObjectIdentifier) (crypto.Hash, bool) {
	switch {
	case oid.Equal(oidSHA1):
		return crypto.SHA1, true
	case oid.Equal(oidSHA224):
		return crypto.SHA224, true
	case oid.Equal(oidSHA256):
		return crypto.SHA256, true
	case oid.Equal(oidSHA384):
		return crypto.SHA384, true
	case oid.Equal(oidSHA512):
		return crypto.SHA512, true
	}
	return 0, false
}

// Digest returns the hash of data with h, one of the hashes of HashOID.
func Digest(h crypto.Hash, data []byte) []byte {
	d := h.New()
	d.Write(data)
	return d.Sum(nil)
}

// checkSigningHash reports whether h may be used to make a signature:
// SHA-256, SHA-384 or SHA-512. SHA-1 and SHA-224 are read, never written.
func checkSigningHash(h crypto.Hash) error {
	switch h {
	case crypto.SHA256, crypto.SHA384, crypto.SHA512:
		return nil
	}
	return fmt.Errorf("cms: unsupported hash %v (want SHA-256, SHA-384 or SHA-512)", h)
}

// Kinds of signature algorithm.
const (
	kindRSA     = iota + 1 // RSASSA-PKCS1-v1_5
	kindPSS                // RSASSA-PSS
	kindECDSA              // ECDSA, DER signature value
	kindEd25519            // Ed25519 (RFC 8419), over the message itself
)

// signatureAlgorithm is a parsed signature AlgorithmIdentifier.
type signatureAlgorithm struct {
	kind int
	hash crypto.Hash // zero for Ed25519
	salt int         // RSASSA-PSS salt length
}

// signatureAlgorithmInfo relates a signature algorithm's OID, its kind and
// hash (zero when the OID names none) and crypto/x509's constant.
type signatureAlgorithmInfo struct {
	oid  asn1.ObjectIdentifier
	kind int
	hash crypto.Hash
	x509 x509.SignatureAlgorithm
}

// signatureAlgorithms returns the signature algorithms read and written
// here, except RSASSA-PSS, whose hash is in its parameters.
func signatureAlgorithms() []signatureAlgorithmInfo {
	return []signatureAlgorithmInfo{
		{oidRSAEncryption, kindRSA, 0, x509.UnknownSignatureAlgorithm},
		{oidSHA1WithRSA, kindRSA, crypto.SHA1, x509.SHA1WithRSA},
		{oidSHA224WithRSA, kindRSA, crypto.SHA224, x509.UnknownSignatureAlgorithm},
		{oidSHA256WithRSA, kindRSA, crypto.SHA256, x509.SHA256WithRSA},
		{oidSHA384WithRSA, kindRSA, crypto.SHA384, x509.SHA384WithRSA},
		{oidSHA512WithRSA, kindRSA, crypto.SHA512, x509.SHA512WithRSA},
		{oidECPublicKey, kindECDSA, 0, x509.UnknownSignatureAlgorithm},
		{oidECDSAWithSHA1, kindECDSA, crypto.SHA1, x509.ECDSAWithSHA1},
		{oidECDSAWithSHA224, kindECDSA, crypto.SHA224, x509.UnknownSignatureAlgorithm},
		{oidECDSAWithSHA256, kindECDSA, crypto.SHA256, x509.ECDSAWithSHA256},
		{oidECDSAWithSHA384, kindECDSA, crypto.SHA384, x509.ECDSAWithSHA384},
		{oidECDSAWithSHA512, kindECDSA, crypto.SHA512, x509.ECDSAWithSHA512},
		{oidEd25519, kindEd25519, 0, x509.PureEd25519},
	}
}

// parseSignatureAlgorithm reads the signature AlgorithmIdentifier oid with
// parameters params (empty when absent). digest is the hash named
// elsewhere (a SignerInfo's digestAlgorithm) or zero: the algorithms that
// name no hash (rsaEncryption, id-ecPublicKey) use it, the others must agree
// with it. Ed25519 needs none.
func parseSignatureAlgorithm(oid asn1.ObjectIdentifier, params []byte, digest crypto.Hash) (signatureAlgorithm, error) {
	if oid.Equal(oidRSASSAPSS) {
		h, salt, err := ParsePSSParams(params)
		if err != nil {
			return signatureAlgorithm{}, err
		}
		if digest != 0 && h != digest {
			return signatureAlgorithm{}, fmt.Errorf("cms: RSASSA-PSS hash %v does not match the digest algorithm %v", h, digest)
		}
		return signatureAlgorithm{kind: kindPSS, hash: h, salt: salt}, nil
	}
	i := slices.IndexFunc(signatureAlgorithms(), func(info signatureAlgorithmInfo) bool { return info.oid.Equal(oid) })
	if i < 0 {
		return signatureAlgorithm{}, fmt.Errorf("cms: unsupported signature algorithm %v", oid)
	}
	info := signatureAlgorithms()[i]
	a := signatureAlgorithm{kind: info.kind, hash: info.hash}
	// id-ecPublicKey may carry the curve, which is the certificate's
	// business; the others have absent or (wrongly, but seen) NULL
	// parameters.
	if !oid.Equal(oidECPublicKey) && !absentOrNULL(params) {
		return a, fmt.Errorf("cms: signature algorithm %v has unexpected parameters", oid)
	}
	switch {
	case a.kind == kindEd25519:
	case a.hash == 0 && digest == 0:
		return a, fmt.Errorf("cms: signature algorithm %v names no hash", oid)
	case a.hash == 0:
		a.hash = digest
	case digest != 0 && a.hash != digest:
		return a, fmt.Errorf("cms: signature algorithm %v does not use the digest algorithm %v", oid, digest)
	}
	return a, nil
}

// x509 returns the crypto/x509 constant of a, or
// x509.UnknownSignatureAlgorithm when there is none (SHA-224).
func (a signatureAlgorithm) x509() x509.SignatureAlgorithm {
	if a.kind == kindPSS {
		switch a.hash {
		case crypto.SHA256:
			return x509.SHA256WithRSAPSS
		case crypto.SHA384:
			return x509.SHA384WithRSAPSS
		case crypto.SHA512:
			return x509.SHA512WithRSAPSS
		}
		return x509.UnknownSignatureAlgorithm
	}
	for _, info := range signatureAlgorithms() {
		if info.kind == a.kind && info.hash == a.hash && info.x509 != x509.UnknownSignatureAlgorithm {
			return info.x509
		}
	}
	return x509.UnknownSignatureAlgorithm
}

// verify checks that sig is a signature with a over signed by the key pub.
func (a signatureAlgorithm) verify(pub crypto.PublicKey, signed, sig []byte) error {
	if a.kind == kindEd25519 {
		k, ok := pub.(ed25519.PublicKey)
		if !ok {
			return fmt.Errorf("an Ed25519 signature needs an Ed25519 key, the certificate has %T", pub)
		}
		if !ed25519.Verify(k, signed, sig) {
			return errors.New("Ed25519 verification failure")
		}
		return nil
	}
	return a.verifyDigest(pub, Digest(a.hash, signed), sig)
}

// verifyDigest checks that sig is a signature with a over a message whose
// hash is digest. Ed25519 signs the message itself, not a hash, and fails.
func (a signatureAlgorithm) verifyDigest(pub crypto.PublicKey, digest, sig []byte) error {
	switch a.kind {
	case kindRSA, kindPSS:
		k, ok := pub.(*rsa.PublicKey)
		if !ok {
			return fmt.Errorf("an RSA signature needs an RSA key, the certificate has %T", pub)
		}
		if a.kind == kindRSA {
			return rsa.VerifyPKCS1v15(k, a.hash, digest, sig)
		}
		return rsa.VerifyPSS(k, a.hash, digest, sig, &rsa.PSSOptions{SaltLength: a.salt, Hash: a.hash})
	case kindECDSA:
		k, ok := pub.(*ecdsa.PublicKey)
		if !ok {
			return fmt.Errorf("an ECDSA signature needs an ECDSA key, the certificate has %T", pub)
		}
		if !ecdsa.VerifyASN1(k, digest, sig) {
			return errors.New("ECDSA verification failure")
		}
		return nil
	}
	return errors.New("an Ed25519 signature covers the content itself, which is not at hand, not its digest")
}

// CheckSignature verifies that signature is a signature over signed by the
// key pub with the algorithm that algorithmIdentifier, a DER
// AlgorithmIdentifier, names: RSA PKCS #1 v1.5, RSASSA-PSS with any salt
// length, ECDSA (each with SHA-1, SHA-224, SHA-256, SHA-384 or SHA-512) or
// Ed25519. It serves the signatures of other structures than CMS, such as
// OCSP responses; the algorithm must name its hash. As with
// x509.Certificate.CheckSignature, a signature that does not verify gives
// the error of crypto/rsa, crypto/ecdsa or crypto/ed25519 unwrapped.
func CheckSignature(pub crypto.PublicKey, algorithmIdentifier, signed, signature []byte) error {
	in := cryptobyte.String(algorithmIdentifier)
	oid, params, err := readAlgorithmIdentifier(&in)
	if err != nil || !in.Empty() {
		return errors.New("cms: malformed signature AlgorithmIdentifier")
	}
	a, err := parseSignatureAlgorithm(oid, params, 0)
	if err != nil {
		return err
	}
	return a.verify(pub, signed, signature)
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
func absentOrNULL(params []byte) bool {
	return len(params) == 0 || bytes.Equal(params, []byte{0x05, 0x00})
}

// readHashAlgorithm reads a digest AlgorithmIdentifier with absent or NULL
// parameters.
func readHashAlgorithm(s *cryptobyte.String) (crypto.Hash, error) {
	oid, params, err := readAlgorithmIdentifier(s)
	if err != nil {
		return 0, err
	}
	if !absentOrNULL(params) {
		return 0, fmt.Errorf("digest algorithm %v has unexpected parameters", oid)
	}
	h, ok := HashFromOID(oid)
	if !ok {
		return 0, fmt.Errorf("unsupported digest algorithm %v", oid)
	}
	return h, nil
}

// addSignatureAlgorithm appends the signatureAlgorithm AlgorithmIdentifier
// of sigAlg, one that Sign uses. SHA-2 hash parameters are absent (RFC
// 5754); the sha*WithRSAEncryption parameters are NULL (RFC 4055); the
// RSASSA-PSS salt is as long as the hash.
func addSignatureAlgorithm(b *cryptobyte.Builder, sigAlg x509.SignatureAlgorithm) {
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		switch sigAlg {
		case x509.SHA256WithRSAPSS, x509.SHA384WithRSAPSS, x509.SHA512WithRSAPSS:
			h := map[x509.SignatureAlgorithm]crypto.Hash{
				x509.SHA256WithRSAPSS: crypto.SHA256, x509.SHA384WithRSAPSS: crypto.SHA384, x509.SHA512WithRSAPSS: crypto.SHA512,
			}[sigAlg]
			b.AddASN1ObjectIdentifier(oidRSASSAPSS)
			addPSSParams(b, h, h.Size())
			return
		}
		for _, info := range signatureAlgorithms() {
			if info.x509 != sigAlg || checkSigningHash(info.hash) != nil {
				continue
			}
			b.AddASN1ObjectIdentifier(info.oid)
			if info.kind == kindRSA {
				b.AddASN1NULL()
			}
			return
		}
		b.SetError(fmt.Errorf("cms: unsupported signature algorithm %v", sigAlg))
	})
}

// addDigestAlgorithm appends the AlgorithmIdentifier of h with absent
// parameters.
func addDigestAlgorithm(b *cryptobyte.Builder, h crypto.Hash) {
	oid, ok := HashOID(h)
	if !ok {
		b.SetError(fmt.Errorf("cms: unsupported hash %v", h))
		return
	}
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oid)
	})
}

// MarshalPSSParams returns the DER RSASSA-PSS-params (RFC 4055) for the
// hash h (SHA-256, SHA-384 or SHA-512), MGF1 with h, and the salt length
// saltLen. DER leaves out the default values: a salt length of 20 and the
// trailer field, 1.
func MarshalPSSParams(h crypto.Hash, saltLen int) ([]byte, error) {
	if err := checkSigningHash(h); err != nil {
		return nil, err
	}
	if saltLen < 0 {
		return nil, fmt.Errorf("cms: negative RSASSA-PSS salt length %d", saltLen)
	}
	var b cryptobyte.Builder
	addPSSParams(&b, h, saltLen)
	return b.Bytes()
}

// addPSSParams appends RSASSA-PSS-params as MarshalPSSParams describes.
func addPSSParams(b *cryptobyte.Builder, h crypto.Hash, saltLen int) {
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(tagExplicit0, func(b *cryptobyte.Builder) {
			addDigestAlgorithm(b, h)
		})
		b.AddASN1(tagExplicit1, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1ObjectIdentifier(oidMGF1)
				addDigestAlgorithm(b, h)
			})
		})
		if saltLen != 20 {
			b.AddASN1(tagExplicit2, func(b *cryptobyte.Builder) {
				b.AddASN1Int64(int64(saltLen))
			})
		}
	})
}

// ParsePSSParams parses DER (or BER-tolerant) RSASSA-PSS-params (RFC 4055)
// and returns the hash and the salt length. Absent fields take their
// defaults: SHA-1, MGF1 with SHA-1, a 20-byte salt. The MGF1 hash must be
// the signature hash and the trailer field 1. Any salt length from 0 to
// 1024 bytes is accepted; whether it fits the key is for the verifier.
func ParsePSSParams(der []byte) (crypto.Hash, int, error) {
	in := cryptobyte.String(der)
	var seq, hashField, mgfField cryptobyte.String
	var hasHash, hasMGF bool
	if !in.ReadASN1(&seq, cbasn1.SEQUENCE) || !in.Empty() ||
		!seq.ReadOptionalASN1(&hashField, &hasHash, tagExplicit0) ||
		!seq.ReadOptionalASN1(&mgfField, &hasMGF, tagExplicit1) {
		return 0, 0, errors.New("cms: malformed RSASSA-PSS parameters")
	}
	salt, trailer := int64(20), int64(1)
	if !readOptionalExplicitInt(&seq, &salt, tagExplicit2) ||
		!readOptionalExplicitInt(&seq, &trailer, tagExplicit3) || !seq.Empty() {
		return 0, 0, errors.New("cms: malformed RSASSA-PSS parameters")
	}
	h := crypto.SHA1
	if hasHash {
		var err error
		if h, err = readHashAlgorithm(&hashField); err != nil || !hashField.Empty() {
			return 0, 0, fmt.Errorf("cms: RSASSA-PSS hash algorithm: %v", errOr(err, "trailing data"))
		}
	}
	mgfHash := crypto.SHA1
	if hasMGF {
		oid, params, err := readAlgorithmIdentifier(&mgfField)
		if err != nil || !mgfField.Empty() || !oid.Equal(oidMGF1) {
			return 0, 0, errors.New("cms: unsupported RSASSA-PSS mask generation function")
		}
		if mgfHash, err = readHashAlgorithm(&params); err != nil || !params.Empty() {
			return 0, 0, fmt.Errorf("cms: RSASSA-PSS MGF1 hash: %v", errOr(err, "trailing data"))
		}
	}
	if mgfHash != h {
		return 0, 0, fmt.Errorf("cms: RSASSA-PSS MGF1 hash %v differs from the signature hash %v", mgfHash, h)
	}
	if trailer != 1 {
		return 0, 0, fmt.Errorf("cms: RSASSA-PSS trailer field %d is not 1", trailer)
	}
	if salt < 0 || salt > 1024 {
		return 0, 0, fmt.Errorf("cms: RSASSA-PSS salt length %d out of range", salt)
	}
	return h, int(salt), nil
}

// errOr returns err's text, or text when err is nil.
func errOr(err error, text string) string {
	if err != nil {
		return err.Error()
	}
	return text
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

// SignatureAlgorithmIdentifier returns the DER AlgorithmIdentifier of alg,
// one of the algorithms Sign uses: SHA-256, SHA-384 or SHA-512 with RSA
// PKCS #1 v1.5 (NULL parameters), RSASSA-PSS (salt as long as the hash) or
// ECDSA (absent parameters).
func SignatureAlgorithmIdentifier(alg x509.SignatureAlgorithm) ([]byte, error) {
	var b cryptobyte.Builder
	addSignatureAlgorithm(&b, alg)
	return b.Bytes()
}
