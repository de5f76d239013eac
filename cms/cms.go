// Package cms encodes, decodes and verifies the CMS (RFC 5652) SignedData
// structures of PDF signatures: the detached signatures of PAdES (ETSI EN
// 319 142-1) and adbe.pkcs7.detached, and the RFC 3161 time-stamp tokens,
// whose SignedData encapsulates a TSTInfo.
//
// The SignedData that Sign and Assemble produce is detached: its
// encapsulated content type is id-data and it carries no content. The
// caller hashes the signed byte range of the PDF and passes that digest in.
// The single SignerInfo is identified by issuer and serial number and
// carries exactly three signed attributes: content-type, message-digest and
// ESS signing-certificate-v2 (RFC 5035). There is no signing-time
// attribute; PAdES puts the claimed signing time in the signature
// dictionary instead. Signatures are made with SHA-256, SHA-384 or SHA-512
// and RSA PKCS #1 v1.5, RSASSA-PSS (salt as long as the hash) or ECDSA on
// P-256, P-384 and P-521.
//
// Parse reads more than Sign writes, so that existing signatures can be
// checked: encapsulated content, BER, SHA-1 and SHA-224 digests,
// RSASSA-PSS with any salt length, Ed25519 (RFC 8419), ESS
// signing-certificate (v1) and signatures without signed attributes.
// SignedData.VerifyIntegrity answers whether the signature is intact;
// SignedData.CheckPAdES whether it follows the PAdES baseline profile.
//
// Sign is the one-step API. For signatures made elsewhere (a remote service
// that receives only a hash), call SignedAttributes, have its digest signed,
// then call Assemble.
//
// The output is DER, except that the certificates are kept in chain order,
// signer first, rather than sorted as a DER SET OF would be, as is usual for
// CMS; the signed attributes, the only signed part, are strict DER.
package cms

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	_ "crypto/sha1"   // register SHA-1 for crypto.Hash.New, to verify old signatures
	_ "crypto/sha256" // register SHA-224 and SHA-256
	_ "crypto/sha512" // register SHA-384 and SHA-512
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"slices"

	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"hashsign/signer"
)

// Object identifiers. They are never modified; the exported functions
// below return copies.
var (
	oidData       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	oidSignedData = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	oidTSTInfo    = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 1, 4}

	oidAttrContentType          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 3}
	oidAttrMessageDigest        = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}
	oidAttrSigningTime          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 5}
	oidAttrSigningCertificate   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 12}
	oidAttrSigningCertificateV2 = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 47}
	oidAttrTimeStampToken       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 14}

	oidSHA1   = asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}
	oidSHA224 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 4}
	oidSHA256 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidSHA384 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}
	oidSHA512 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}

	oidRSAEncryption   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}
	oidSHA1WithRSA     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 5}
	oidSHA224WithRSA   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 14}
	oidSHA256WithRSA   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}
	oidSHA384WithRSA   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 12}
	oidSHA512WithRSA   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 13}
	oidRSASSAPSS       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 10}
	oidMGF1            = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 8}
	oidECPublicKey     = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
	oidECDSAWithSHA1   = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 1}
	oidECDSAWithSHA224 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 1}
	oidECDSAWithSHA256 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
	oidECDSAWithSHA384 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}
	oidECDSAWithSHA512 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 4}
	oidEd25519         = asn1.ObjectIdentifier{1, 3, 101, 112}
)

// OIDData returns id-data (RFC 5652), the content type of a PDF signature.
func OIDData() asn1.ObjectIdentifier { return slices.Clone(oidData) }

// OIDTSTInfo returns id-ct-TSTInfo (RFC 3161), the encapsulated content
// type of a time-stamp token.
func OIDTSTInfo() asn1.ObjectIdentifier { return slices.Clone(oidTSTInfo) }

// OIDSignatureTimeStampToken returns id-aa-signatureTimeStampToken (RFC
// 3161, appendix A), the unsigned attribute that holds a signature
// time-stamp token.
func OIDSignatureTimeStampToken() asn1.ObjectIdentifier { return slices.Clone(oidAttrTimeStampToken) }

// Context-specific tags used in CMS structures.
var (
	tagExplicit0 = cbasn1.Tag(0).ContextSpecific().Constructed()
	tagImplicit0 = cbasn1.Tag(0).ContextSpecific().Constructed()
	tagImplicit1 = cbasn1.Tag(1).ContextSpecific().Constructed()
	tagExplicit1 = cbasn1.Tag(1).ContextSpecific().Constructed()
	tagExplicit2 = cbasn1.Tag(2).ContextSpecific().Constructed()
	tagExplicit3 = cbasn1.Tag(3).ContextSpecific().Constructed()
	tagDirName   = cbasn1.Tag(4).ContextSpecific().Constructed()
	tagSKI       = cbasn1.Tag(0).ContextSpecific()
)

// ErrKeyMismatch is wrapped by the errors that Sign and Assemble return when
// the signature does not verify with the signer certificate's public key. It
// is signer.ErrKeyMismatch.
var ErrKeyMismatch = signer.ErrKeyMismatch

// Options selects the algorithms of a signature. The zero value means SHA-256
// and, for RSA keys, PKCS #1 v1.5.
type Options struct {
	// Hash is the digest algorithm: crypto.SHA256 (the default when zero),
	// crypto.SHA384 or crypto.SHA512. It is used for the content digest, the
	// signed attributes and the ESS certificate hash.
	Hash crypto.Hash

	// PSS selects RSASSA-PSS (MGF1 with Hash, salt length equal to the hash
	// length) instead of PKCS #1 v1.5. It is an error with a non-RSA key.
	PSS bool
}

// DigestAlgorithm returns o.Hash, or crypto.SHA256 when o.Hash is zero. It is
// the hash the caller must use for the content digest and, in the two-step
// flow, to hash the signed attributes before they are signed.
func (o Options) DigestAlgorithm() crypto.Hash {
	if o.Hash == 0 {
		return crypto.SHA256
	}
	return o.Hash
}

// algorithm describes how a signature is made for one key and Options.
type algorithm struct {
	hash       crypto.Hash
	sigAlg     x509.SignatureAlgorithm
	signerOpts crypto.SignerOpts
	maxSigLen  int // upper bound of the encoded signature value length
}

// newAlgorithm checks that pub and opts are supported together and returns
// the resulting algorithm.
func newAlgorithm(pub crypto.PublicKey, opts Options) (algorithm, error) {
	h := opts.DigestAlgorithm()
	if err := checkSigningHash(h); err != nil {
		return algorithm{}, err
	}
	a := algorithm{hash: h, signerOpts: h}
	switch pub := pub.(type) {
	case *rsa.PublicKey:
		a.maxSigLen = (pub.N.BitLen() + 7) / 8
		if opts.PSS {
			a.signerOpts = &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: h}
			a.sigAlg = byHash(h, x509.SHA256WithRSAPSS, x509.SHA384WithRSAPSS, x509.SHA512WithRSAPSS)
		} else {
			a.sigAlg = byHash(h, x509.SHA256WithRSA, x509.SHA384WithRSA, x509.SHA512WithRSA)
		}
	case *ecdsa.PublicKey:
		if opts.PSS {
			return algorithm{}, errors.New("cms: RSASSA-PSS requested with an ECDSA key")
		}
		switch pub.Curve {
		case elliptic.P256(), elliptic.P384(), elliptic.P521():
		default:
			return algorithm{}, fmt.Errorf("cms: unsupported ECDSA curve %s", pub.Curve.Params().Name)
		}
		a.maxSigLen = maxECDSASignatureLen(pub.Curve)
		a.sigAlg = byHash(h, x509.ECDSAWithSHA256, x509.ECDSAWithSHA384, x509.ECDSAWithSHA512)
	default:
		return algorithm{}, fmt.Errorf("cms: unsupported public key type %T (want RSA or ECDSA)", pub)
	}
	return a, nil
}

// byHash returns the one of a256, a384 and a512 that uses h, which
// newAlgorithm has checked.
func byHash(h crypto.Hash, a256, a384, a512 x509.SignatureAlgorithm) x509.SignatureAlgorithm {
	switch h {
	case crypto.SHA256:
		return a256
	case crypto.SHA384:
		return a384
	}
	return a512
}

// maxECDSASignatureLen returns the longest DER encoding of an ECDSA signature
// on curve: a SEQUENCE of two INTEGERs, each at most as long as the group
// order plus a leading zero byte.
func maxECDSASignatureLen(curve elliptic.Curve) int {
	n := curve.Params().N.BitLen()/8 + 1
	content := 2 * derLen(n)
	return derLen(content)
}

// derLen returns the length of a DER element whose contents are n bytes long.
func derLen(n int) int {
	switch {
	case n < 0x80:
		return 2 + n
	case n <= 0xff:
		return 3 + n
	case n <= 0xffff:
		return 4 + n
	case n <= 0xffffff:
		return 5 + n
	}
	return 6 + n
}
