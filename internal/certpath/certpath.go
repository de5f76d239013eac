// Package certpath holds the two tests that every builder of a
// certification path in hashsign needs: whether a certificate is its own
// issuer, and whether one certificate names another as its issuer.
package certpath

import (
	"bytes"
	"crypto/x509"
	"errors"
)

// SelfSigned reports whether c is signed by its own key: its subject and
// issuer are equal, its key identifiers (when both are present) agree, and
// its signature verifies with its own public key or uses an algorithm too
// weak for crypto/x509 to check (a path builder still has to stop there).
func SelfSigned(c *x509.Certificate) bool {
	if !bytes.Equal(c.RawIssuer, c.RawSubject) {
		return false
	}
	if len(c.AuthorityKeyId) > 0 && len(c.SubjectKeyId) > 0 && !bytes.Equal(c.AuthorityKeyId, c.SubjectKeyId) {
		return false
	}
	err := c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature)
	_, insecure := errors.AsType[x509.InsecureAlgorithmError](err)
	return err == nil || insecure
}

// IssuedBy reports whether parent's subject and subject key identifier
// match child's issuer and authority key identifier. It does not check the
// signature.
func IssuedBy(child, parent *x509.Certificate) bool {
	if !bytes.Equal(child.RawIssuer, parent.RawSubject) {
		return false
	}
	return len(child.AuthorityKeyId) == 0 || len(parent.SubjectKeyId) == 0 ||
		bytes.Equal(child.AuthorityKeyId, parent.SubjectKeyId)
}
