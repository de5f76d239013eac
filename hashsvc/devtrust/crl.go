package devtrust

import (
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"log/slog"
	"maps"
	"math/big"
	"net/http"
	"slices"
	"time"
)

// Media types of RFC 2585, section 4.
const (
	crlType  = "application/pkix-crl"
	certType = "application/pkix-cert"
)

// crlHandler returns a handler serving the CRL of a, in DER.
func (s *Services) crlHandler(a *authority) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		der, err := s.crl(a)
		if err != nil {
			s.log.LogAttrs(r.Context(), slog.LevelError, "devtrust: creating CRL",
				slog.String("path", a.crlPath), slog.Any("error", err))
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		writeBody(w, http.StatusOK, crlType, der)
	}
}

// crl returns the current CRL of a. A CRL is reused until a certificate of
// a is revoked, until half its validity has passed or until the clock goes
// back before its thisUpdate; every new CRL has a larger CRL number.
func (s *Services) crl(a *authority) ([]byte, error) {
	now := s.now().UTC().Truncate(time.Second)
	s.mu.Lock()
	defer s.mu.Unlock()
	if a.crl != nil && !now.Before(a.crlUpdate) && now.Sub(a.crlUpdate) < s.crlValidity/2 {
		return a.crl, nil
	}

	revs := slices.SortedFunc(maps.Values(a.revoked), func(x, y revocation) int {
		return x.serial.Cmp(y.serial)
	})
	entries := make([]x509.RevocationListEntry, len(revs))
	for i, rev := range revs {
		entries[i] = x509.RevocationListEntry{
			SerialNumber:   rev.serial,
			RevocationTime: rev.at,
			ReasonCode:     rev.reason, // 0 leaves the extension out
		}
	}
	number := new(big.Int).Add(a.crlNumber, big.NewInt(1))
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number:                    number,
		ThisUpdate:                now,
		NextUpdate:                now.Add(s.crlValidity),
		RevokedCertificateEntries: entries,
	}, a.id.Cert, a.id.Key)
	if err != nil {
		return nil, fmt.Errorf("signing CRL: %w", err)
	}
	a.crlNumber = number
	a.crl = der
	a.crlUpdate = now
	return der, nil
}

// certHandler returns a handler serving cert in DER.
func (s *Services) certHandler(cert *x509.Certificate) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		writeBody(w, http.StatusOK, certType, cert.Raw)
	}
}
