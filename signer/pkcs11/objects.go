package pkcs11

import (
	"crypto/x509"
	"encoding/asn1"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math/big"

	p11 "github.com/miekg/pkcs11"

	"hashsign/signer"
)

// Key types missing from github.com/miekg/pkcs11's constants at the
// version crypto11 v1.2.5 requires (PKCS #11 v3.0).
const (
	ckkECEdwards   = 0x40
	ckkECMontgomry = 0x41
)

// ObjectInfo describes an object on a token.
type ObjectInfo struct {
	// Class is the RFC 7512 object type: "private", "public", "cert",
	// "secret-key" or "data"; other classes are given as "class 0xN".
	Class string
	// KeyType names the key type of keys: "RSA", "EC", "EC_EDWARDS",
	// "DSA", "AES" and so on.
	KeyType string
	// Bits is the RSA modulus size, the EC field size or the secret key
	// length in bits, when known.
	Bits int
	// Curve names the curve of EC keys: "P-256", "secp256k1",
	// "edwards25519" or, for others, the OID.
	Curve string
	// Label and ID are CKA_LABEL and CKA_ID.
	Label string
	ID    []byte
	// CanSign reports CKA_SIGN of private keys. Sensitive and
	// Extractable report CKA_SENSITIVE and CKA_EXTRACTABLE of private and
	// secret keys: a sensitive key that is not extractable never leaves
	// the token.
	CanSign     bool
	Sensitive   bool
	Extractable bool
	// Certificate is the parsed X.509 certificate of "cert" objects that
	// hold one.
	Certificate *x509.Certificate

	alwaysAuthenticate bool // CKA_ALWAYS_AUTHENTICATE, read for the key Open uses
}

// IDHex returns o.ID in hexadecimal.
func (o ObjectInfo) IDHex() string { return hex.EncodeToString(o.ID) }

// Algorithm returns a short description of the key such as "RSA 2048",
// "EC P-256" or "AES 256"; it is empty for objects that are not keys.
func (o ObjectInfo) Algorithm() string {
	switch {
	case o.KeyType == "":
		return ""
	case o.Curve != "":
		return o.KeyType + " " + o.Curve
	case o.Bits > 0:
		return fmt.Sprintf("%s %d", o.KeyType, o.Bits)
	}
	return o.KeyType
}

// supported reports whether o is a private key that the Signer can use,
// and if not, why.
func (o ObjectInfo) supported() (bool, string) {
	switch o.Class {
	case "private":
	case "secret-key":
		return false, fmt.Sprintf("is %s secret key, not a private key", withArticle(o.Algorithm()))
	case "public":
		return false, "is a public key, not a private key"
	case "cert":
		return false, "is a certificate, not a private key"
	case "data":
		return false, "is a data object, not a private key"
	default:
		return false, "is an object of " + o.Class + ", not a private key"
	}
	switch o.KeyType {
	case "RSA":
		if o.Bits < signer.MinRSABits {
			return false, fmt.Sprintf("is an RSA key of %d bits; at least %d bits are required", o.Bits, signer.MinRSABits)
		}
	case "EC":
		switch o.Curve {
		case "P-256", "P-384", "P-521":
		default:
			return false, fmt.Sprintf("is an EC key on curve %s; only P-256, P-384 and P-521 are supported", o.Curve)
		}
	default:
		return false, fmt.Sprintf("is %s key; only RSA and ECDSA (P-256, P-384, P-521) keys are supported", withArticle(o.Algorithm()))
	}
	if !o.CanSign {
		return false, fmt.Sprintf("is %s key that may not sign (CKA_SIGN is false)", withArticle(o.Algorithm()))
	}
	return true, ""
}

// withArticle prefixes s with "a" or "an".
func withArticle(s string) string {
	if s == "" {
		return "an unknown"
	}
	switch s[0] {
	case 'A', 'E', 'I', 'O', 'U', 'a', 'e', 'i', 'o', 'u':
		return "an " + s
	}
	return "a " + s
}

// describe names o for messages: `"label" (id 01)`.
func (o ObjectInfo) describe() string {
	return fmt.Sprintf("%q (id %s)", o.Label, hexID(o.ID))
}

// findObjects returns the handles of the objects matching tmpl.
func findObjects(m *p11.Ctx, sh p11.SessionHandle, tmpl []*p11.Attribute) ([]p11.ObjectHandle, error) {
	if err := m.FindObjectsInit(sh, tmpl); err != nil {
		return nil, fmt.Errorf("C_FindObjectsInit: %w", err)
	}
	var all []p11.ObjectHandle
	for {
		hs, _, err := m.FindObjects(sh, 64)
		if err != nil {
			_ = m.FindObjectsFinal(sh)
			return nil, fmt.Errorf("C_FindObjects: %w", err)
		}
		if len(hs) == 0 {
			break
		}
		all = append(all, hs...)
	}
	if err := m.FindObjectsFinal(sh); err != nil {
		return nil, fmt.Errorf("C_FindObjectsFinal: %w", err)
	}
	return all, nil
}

// attr returns the value of one attribute of an object; ok is false when
// the object does not have it or will not reveal it.
func attr(m *p11.Ctx, sh p11.SessionHandle, oh p11.ObjectHandle, typ uint) (v []byte, ok bool) {
	a, err := m.GetAttributeValue(sh, oh, []*p11.Attribute{p11.NewAttribute(typ, nil)})
	if err != nil || len(a) != 1 {
		return nil, false
	}
	return a[0].Value, true
}

// ulongAttr returns a CK_ULONG attribute.
func ulongAttr(m *p11.Ctx, sh p11.SessionHandle, oh p11.ObjectHandle, typ uint) (uint64, bool) {
	v, ok := attr(m, sh, oh, typ)
	if !ok {
		return 0, false
	}
	switch len(v) {
	case 8:
		return binary.NativeEndian.Uint64(v), true
	case 4:
		return uint64(binary.NativeEndian.Uint32(v)), true
	}
	return 0, false
}

// boolAttr returns a CK_BBOOL attribute.
func boolAttr(m *p11.Ctx, sh p11.SessionHandle, oh p11.ObjectHandle, typ uint) (val, ok bool) {
	v, ok := attr(m, sh, oh, typ)
	if !ok || len(v) != 1 {
		return false, false
	}
	return v[0] != 0, true
}

// objectInfo reads what ObjectInfo holds about one object.
func objectInfo(m *p11.Ctx, sh p11.SessionHandle, oh p11.ObjectHandle) ObjectInfo {
	var o ObjectInfo
	if v, ok := attr(m, sh, oh, p11.CKA_LABEL); ok {
		o.Label = string(v)
	}
	if v, ok := attr(m, sh, oh, p11.CKA_ID); ok {
		o.ID = v
	}
	class, ok := ulongAttr(m, sh, oh, p11.CKA_CLASS)
	if !ok {
		o.Class = "unknown"
		return o
	}
	switch uint(class) {
	case p11.CKO_PRIVATE_KEY:
		o.Class = "private"
		o.CanSign, _ = boolAttr(m, sh, oh, p11.CKA_SIGN)
		o.Sensitive, _ = boolAttr(m, sh, oh, p11.CKA_SENSITIVE)
		o.Extractable, _ = boolAttr(m, sh, oh, p11.CKA_EXTRACTABLE)
	case p11.CKO_PUBLIC_KEY:
		o.Class = "public"
	case p11.CKO_SECRET_KEY:
		o.Class = "secret-key"
		o.Sensitive, _ = boolAttr(m, sh, oh, p11.CKA_SENSITIVE)
		o.Extractable, _ = boolAttr(m, sh, oh, p11.CKA_EXTRACTABLE)
	case p11.CKO_CERTIFICATE:
		o.Class = "cert"
		if ct, ok := ulongAttr(m, sh, oh, p11.CKA_CERTIFICATE_TYPE); ok && uint(ct) == p11.CKC_X_509 {
			if der, ok := attr(m, sh, oh, p11.CKA_VALUE); ok {
				if c, err := x509.ParseCertificate(der); err == nil {
					o.Certificate = c
				}
			}
		}
		return o
	case p11.CKO_DATA:
		o.Class = "data"
		return o
	default:
		o.Class = fmt.Sprintf("class 0x%X", class)
		return o
	}
	kt, ok := ulongAttr(m, sh, oh, p11.CKA_KEY_TYPE)
	if !ok {
		return o
	}
	o.KeyType = keyTypeName(uint(kt))
	switch uint(kt) {
	case p11.CKK_RSA:
		if n, ok := attr(m, sh, oh, p11.CKA_MODULUS); ok && len(n) > 0 {
			o.Bits = new(big.Int).SetBytes(n).BitLen()
		} else if bits, ok := ulongAttr(m, sh, oh, p11.CKA_MODULUS_BITS); ok {
			o.Bits = int(bits)
		}
	case p11.CKK_DSA:
		if p, ok := attr(m, sh, oh, p11.CKA_PRIME); ok {
			o.Bits = new(big.Int).SetBytes(p).BitLen()
		}
	case p11.CKK_EC, ckkECEdwards, ckkECMontgomry:
		if params, ok := attr(m, sh, oh, p11.CKA_EC_PARAMS); ok {
			o.Curve, o.Bits = curveName(params)
		}
	default:
		if n, ok := ulongAttr(m, sh, oh, p11.CKA_VALUE_LEN); ok {
			o.Bits = int(n) * 8
		}
	}
	return o
}

// keyTypeName names a CKK_ value.
func keyTypeName(kt uint) string {
	switch kt {
	case p11.CKK_RSA:
		return "RSA"
	case p11.CKK_DSA:
		return "DSA"
	case p11.CKK_DH:
		return "DH"
	case p11.CKK_EC:
		return "EC"
	case ckkECEdwards:
		return "EC_EDWARDS"
	case ckkECMontgomry:
		return "EC_MONTGOMERY"
	case p11.CKK_GENERIC_SECRET:
		return "GENERIC_SECRET"
	case p11.CKK_DES:
		return "DES"
	case p11.CKK_DES2:
		return "DES2"
	case p11.CKK_DES3:
		return "DES3"
	case p11.CKK_AES:
		return "AES"
	case p11.CKK_GOSTR3410:
		return "GOSTR3410"
	case p11.CKK_GOSTR3411:
		return "GOSTR3411"
	case p11.CKK_GOST28147:
		return "GOST28147"
	}
	return fmt.Sprintf("key type 0x%X", kt)
}

// curves maps the named-curve OIDs of CKA_EC_PARAMS to names and sizes.
var curves = []struct {
	oid  asn1.ObjectIdentifier
	name string
	bits int
}{
	{asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7}, "P-256", 256},
	{asn1.ObjectIdentifier{1, 3, 132, 0, 34}, "P-384", 384},
	{asn1.ObjectIdentifier{1, 3, 132, 0, 35}, "P-521", 521},
	{asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 1}, "P-192", 192},
	{asn1.ObjectIdentifier{1, 3, 132, 0, 33}, "P-224", 224},
	{asn1.ObjectIdentifier{1, 3, 132, 0, 10}, "secp256k1", 256},
	{asn1.ObjectIdentifier{1, 3, 36, 3, 3, 2, 8, 1, 1, 7}, "brainpoolP256r1", 256},
	{asn1.ObjectIdentifier{1, 3, 36, 3, 3, 2, 8, 1, 1, 11}, "brainpoolP384r1", 384},
	{asn1.ObjectIdentifier{1, 3, 36, 3, 3, 2, 8, 1, 1, 13}, "brainpoolP512r1", 512},
	{asn1.ObjectIdentifier{1, 3, 101, 110}, "X25519", 255},
	{asn1.ObjectIdentifier{1, 3, 101, 111}, "X448", 448},
	{asn1.ObjectIdentifier{1, 3, 101, 112}, "Ed25519", 255},
	{asn1.ObjectIdentifier{1, 3, 101, 113}, "Ed448", 448},
}

// curveName names the curve of DER CKA_EC_PARAMS: a named-curve OID or,
// for Edwards and Montgomery curves, a PrintableString such as
// "edwards25519".
func curveName(params []byte) (string, int) {
	var oid asn1.ObjectIdentifier
	if rest, err := asn1.Unmarshal(params, &oid); err == nil && len(rest) == 0 {
		for _, c := range curves {
			if c.oid.Equal(oid) {
				return c.name, c.bits
			}
		}
		return oid.String(), 0
	}
	var name string
	if rest, err := asn1.UnmarshalWithParams(params, &name, "printable"); err == nil && len(rest) == 0 {
		switch name {
		case "edwards25519", "curve25519":
			return name, 255
		case "edwards448", "curve448":
			return name, 448
		}
		return name, 0
	}
	return "with explicit parameters", 0
}
