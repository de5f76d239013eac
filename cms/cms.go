// Package cms encodes and decodes the CMS (RFC 5652) SignedData structures
// used by PAdES baseline signatures (ETSI EN 319 142-1, level B-B).
//
// The SignedData produced here is detached: its encapsulated content type is
// id-data and it carries no content. The caller hashes the signed byte range
// of the PDF and passes that digest in. The single SignerInfo is identified by
// issuer and serial number and carries exactly three signed attributes:
// content-type, message-digest and ESS signing-certificate-v2 (RFC 5035).
// There is no signing-time attribute; PAdES puts the claimed signing time in
// the signature dictionary instead.
//
// Supported algorithms are SHA-256, SHA-384 and SHA-512 with RSA PKCS #1 v1.5,
// RSASSA-PSS and ECDSA on P-256, P-384 and P-521.
//
// Sign is the one-step API. For signatures made elsewhere (a remote service
// that receives only a hash), call SignedAttributes, have its digest signed,
// then call Assemble. Parse and SignedData.Verify read a SignedData back.
//
// The output is DER, except that the certificates are kept in chain order,
// signer first, rather than sorted as a DER SET OF would be, as is usual for
// CMS; the signed attributes, the only signed part, are strict DER. Parse
// accepts DER-style definite lengths only.
package cms

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	_ "crypto/sha256" // register SHA-256 for crypto.Hash.New
	_ "crypto/sha512" // register SHA-384 and SHA-512
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"hashsign/signer"
)

// Object identifiers. They are never modified.
var (
	oidData       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	oidSignedData = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}

	oidAttrContentType          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 3}
	oidAttrMessageDigest        = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}
	oidAttrSigningTime          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 5}
	oidAttrSigningCertificateV2 = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 47}
	oidAttrTimeStampToken       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 14}

	oidSHA256 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidSHA384 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}
	oidSHA512 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}

	oidRSAEncryption   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}
	oidSHA256WithRSA   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}
	oidSHA384WithRSA   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 12}
	oidSHA512WithRSA   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 13}
	oidRSASSAPSS       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 10}
	oidMGF1            = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 8}
	oidECDSAWithSHA256 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
	oidECDSAWithSHA384 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}
	oidECDSAWithSHA512 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 4}
)

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

// hashOID returns the digest algorithm OID of h, which must be SHA-256,
// SHA-384 or SHA-512.
func hashOID(h crypto.Hash) (asn1.ObjectIdentifier, error) {
	switch h {
	case crypto.SHA256:
		return oidSHA256, nil
	case crypto.SHA384:
		return oidSHA384, nil
	case crypto.SHA512:
		return oidSHA512, nil
	}
	return nil, fmt.Errorf("cms: unsupported hash %v (want SHA-256, SHA-384 or SHA-512)", h)
}

// hashFromOID is the inverse of hashOID.
func hashFromOID(oid asn1.ObjectIdentifier) (crypto.Hash, bool) {
	switch {
	case oid.Equal(oidSHA256):
		return crypto.SHA256, true
	case oid.Equal(oidSHA384):
		return crypto.SHA384, true
	case oid.Equal(oidSHA512):
		return crypto.SHA512, true
	}
	return 0, false
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
	if _, err := hashOID(h); err != nil {
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

// addAlgorithmIdentifier appends the signatureAlgorithm AlgorithmIdentifier
// of sigAlg. SHA-2 hash parameters are absent (RFC 5754); the
// sha*WithRSAEncryption parameters are NULL (RFC 4055).
func addSignatureAlgorithm(b *cryptobyte.Builder, sigAlg x509.SignatureAlgorithm) {
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		switch sigAlg {
		case x509.SHA256WithRSA:
			b.AddASN1ObjectIdentifier(oidSHA256WithRSA)
			b.AddASN1NULL()
		case x509.SHA384WithRSA:
			b.AddASN1ObjectIdentifier(oidSHA384WithRSA)
			b.AddASN1NULL()
		case x509.SHA512WithRSA:
			b.AddASN1ObjectIdentifier(oidSHA512WithRSA)
			b.AddASN1NULL()
		case x509.ECDSAWithSHA256:
			b.AddASN1ObjectIdentifier(oidECDSAWithSHA256)
		case x509.ECDSAWithSHA384:
			b.AddASN1ObjectIdentifier(oidECDSAWithSHA384)
		case x509.ECDSAWithSHA512:
			b.AddASN1ObjectIdentifier(oidECDSAWithSHA512)
		case x509.SHA256WithRSAPSS:
			addPSS(b, crypto.SHA256)
		case x509.SHA384WithRSAPSS:
			addPSS(b, crypto.SHA384)
		case x509.SHA512WithRSAPSS:
			addPSS(b, crypto.SHA512)
		default:
			b.SetError(fmt.Errorf("cms: unsupported signature algorithm %v", sigAlg))
		}
	})
}

// addPSS appends id-RSASSA-PSS and its full RSASSA-PSS-params (RFC 4055):
// hashAlgorithm h, MGF1 with h, saltLength equal to the hash size and
// trailerField 1.
func addPSS(b *cryptobyte.Builder, h crypto.Hash) {
	b.AddASN1ObjectIdentifier(oidRSASSAPSS)
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
		b.AddASN1(tagExplicit2, func(b *cryptobyte.Builder) {
			b.AddASN1Int64(int64(h.Size()))
		})
		b.AddASN1(tagExplicit3, func(b *cryptobyte.Builder) {
			b.AddASN1Int64(1)
		})
	})
}

// addDigestAlgorithm appends the AlgorithmIdentifier of h with absent
// parameters.
func addDigestAlgorithm(b *cryptobyte.Builder, h crypto.Hash) {
	oid, err := hashOID(h)
	if err != nil {
		b.SetError(err)
		return
	}
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oid)
	})
}
