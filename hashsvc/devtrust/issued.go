package devtrust

import (
	"crypto/x509"
	"errors"
	"fmt"
)

// AddCertificate makes the OCSP responder answer "good" for cert, a
// certificate that the intermediate CA issued after New, such as a
// one-time certificate of hashsvc.
func (s *Services) AddCertificate(cert *x509.Certificate) error {
	if cert == nil {
		return errors.New("devtrust: adding a nil certificate")
	}
	if err := cert.CheckSignatureFrom(s.pki.Intermediate.Cert); err != nil {
		return fmt.Errorf("devtrust: certificate %q was not issued by the intermediate CA: %w", cert.Subject.CommonName, err)
	}
	s.mu.Lock()
	s.leaves[serialKey(cert.SerialNumber)] = true
	s.mu.Unlock()
	return nil
}
