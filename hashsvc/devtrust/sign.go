package devtrust

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
)

// Object identifiers. They are functions so that no caller can modify them.

// oidSHA256 returns id-sha256 (RFC 5754).
func oidSHA256() asn1.ObjectIdentifier { return asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1} }

// oidSHA384 returns id-sha384 (RFC 5754).
func oidSHA384() asn1.ObjectIdentifier { return asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2} }

// oidSHA512 returns id-sha512 (RFC 5754).
func oidSHA512() asn1.ObjectIdentifier { return asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3} }

// oidSHA1 returns id-sha1 (RFC 3279).
func oidSHA1() asn1.ObjectIdentifier { return asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26} }

// oidSHA256WithRSA returns sha256WithRSAEncryption (RFC 4055).
func oidSHA256WithRSA() asn1.ObjectIdentifier {
	return asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}
}

// oidECDSAWithSHA256 returns ecdsa-with-SHA256 (RFC 5758).
func oidECDSAWithSHA256() asn1.ObjectIdentifier {
	return asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
}

// hashAlgorithmOID returns the hash algorithm named by oid, or 0.
func hashAlgorithmOID(oid asn1.ObjectIdentifier) crypto.Hash {
	switch {
	case oid.Equal(oidSHA1()):
		return crypto.SHA1
	case oid.Equal(oidSHA256()):
		return crypto.SHA256
	case oid.Equal(oidSHA384()):
		return crypto.SHA384
	case oid.Equal(oidSHA512()):
		return crypto.SHA512
	}
	return 0
}

// signatureAlgorithm returns the algorithm identifier of SHA-256 signatures
// made with the private key of pub: sha256WithRSAEncryption, whose
// parameters are NULL, or ecdsa-with-SHA256, which has none.
func signatureAlgorithm(pub crypto.PublicKey) (pkix.AlgorithmIdentifier, error) {
	switch pub.(type) {
	case *rsa.PublicKey:
		return pkix.AlgorithmIdentifier{Algorithm: oidSHA256WithRSA(), Parameters: asn1.NullRawValue}, nil
	case *ecdsa.PublicKey:
		return pkix.AlgorithmIdentifier{Algorithm: oidECDSAWithSHA256()}, nil
	}
	return pkix.AlgorithmIdentifier{}, fmt.Errorf("unsupported key type %T", pub)
}

// sign signs the SHA-256 hash of data with key: an RSA PKCS #1 v1.5
// signature or a DER-encoded ECDSA signature, as signatureAlgorithm names.
func sign(key crypto.Signer, data []byte) ([]byte, error) {
	if key == nil {
		return nil, errors.New("no signing key")
	}
	sum := sha256.Sum256(data)
	sig, err := key.Sign(rand.Reader, sum[:], crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("signing: %w", err)
	}
	return sig, nil
}
