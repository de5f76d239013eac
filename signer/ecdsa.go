package signer

import (
	"crypto/ecdsa"
	"math/big"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// ECDSARawToDER converts a raw r||s ECDSA signature for pub, as PKCS#11
// CKM_ECDSA and some remote services return it, to the ASN.1 DER form that
// CMS needs. It returns nil if sig does not have the raw length.
func ECDSARawToDER(pub *ecdsa.PublicKey, sig []byte) []byte {
	size := (pub.Curve.Params().N.BitLen() + 7) / 8
	if len(sig) != 2*size {
		return nil
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1BigInt(new(big.Int).SetBytes(sig[:size]))
		b.AddASN1BigInt(new(big.Int).SetBytes(sig[size:]))
	})
	der, err := b.Bytes()
	if err != nil {
		return nil
	}
	return der
}
