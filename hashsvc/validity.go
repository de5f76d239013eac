package hashsvc

import (
	"log/slog"
	"net/http"
	"time"

	"hashsign/csc"
)

// checkValidity refuses to sign with cr at now when now is outside its
// certificate's validity period, unless the credential allows it
// (sign_outside_validity).
func checkValidity(cr *credential, now time.Time) *apiError {
	if cr.outsideValidity {
		return nil
	}
	leaf := cr.chain[0]
	switch {
	case now.Before(leaf.NotBefore):
		return &apiError{http.StatusBadRequest, csc.ErrInvalidRequest,
			"the certificate of credential " + cr.id + " is not valid before " + leaf.NotBefore.UTC().Format(time.RFC3339) + "; no signature was made"}
	case now.After(leaf.NotAfter):
		return &apiError{http.StatusBadRequest, csc.ErrInvalidRequest,
			"the certificate of credential " + cr.id + " expired on " + leaf.NotAfter.UTC().Format(time.RFC3339) + "; no signature was made"}
	}
	return nil
}

// warnValidity logs a warning when cr cannot sign at now because of its
// certificate's validity period.
func warnValidity(log *slog.Logger, cr *credential, now time.Time) {
	if ae := checkValidity(cr, now); ae != nil {
		log.Warn("credential outside its validity period: its signing requests will be refused", "credential", cr.id, "reason", ae.desc)
	}
}
