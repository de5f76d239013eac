package hashsvc

import (
	"context"
	"crypto"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"hashsign/csc"
)

// cscRoutes registers the consent endpoints of CSC v2 and every endpoint
// of CSC v1, whose messages the v2 handlers read (package csc merges the
// v1 field names).
func (s *Server) cscRoutes(mux *http.ServeMux) {
	mux.HandleFunc(csc.PathCredentialsAuthorize, s.post(s.handleAuthorize, true))
	mux.HandleFunc(csc.PathCredentialsSendOTP, s.post(s.handleSendOTP, true))
	mux.HandleFunc(csc.PathV1Info, s.post(s.handleInfo, false))
	mux.HandleFunc(csc.PathV1CredentialsList, s.post(s.handleCredentialsList, true))
	mux.HandleFunc(csc.PathV1CredentialsInfo, s.post(s.handleCredentialsInfo, true))
	mux.HandleFunc(csc.PathV1CredentialsAuthorize, s.post(s.handleAuthorize, true))
	mux.HandleFunc(csc.PathV1CredentialsSendOTP, s.post(s.handleSendOTP, true))
	mux.HandleFunc(csc.PathV1SignHash, s.post(s.idempotent(s.handleSignHash), true))
	s.requestRoutes(mux)
}

// cscVersion adjusts an info answer to the API version of its path.
func cscVersion(r *http.Request, resp *csc.InfoResponse) {
	resp.Methods = append(resp.Methods, "credentials/authorize", "credentials/sendOTP")
	if strings.HasPrefix(r.URL.Path, "/csc/v1/") {
		resp.Specs = csc.SpecV1
	}
}

// initConsent opens the consent state and the issuing CA of one-time
// certificates.
func (s *Server) initConsent(ctx context.Context, opts Options) error {
	k, err := openConsent(ctx, s.cfg)
	if err != nil {
		return err
	}
	s.consent = k
	s.clock = opts.Now
	s.onetime = &oneTimes{creds: map[string]*oneTimeCred{}}
	s.keygen = opts.OneTimeKeys
	ot := s.cfg.Consent.OneTime
	if s.keygen == nil {
		if ot != nil && ot.KeyToken != "" {
			return errors.New("consent.one_time.key_token: this build has no PKCS#11 key generator")
		}
		s.keygen = memoryKeys{}
	}
	s.ca = opts.CA
	if s.ca == nil && ot != nil && ot.CAKey != "" {
		cr, err := openCredential(ctx, s.cfg, CredentialConfig{ID: "one-time CA", Key: ot.CAKey, Cert: ot.CACert, Chain: ot.CAChain}, opts.KeyOpeners)
		if err != nil {
			return fmt.Errorf("consent.one_time: %w", err)
		}
		s.caCloser = cr.signer
		s.ca = &CA{Signer: cr.signer, Chain: cr.chain, OCSP: ot.OCSP, CAIssuers: ot.CAIssuers, CRL: ot.CRL}
	}
	if s.ca != nil && (s.ca.Signer == nil || len(s.ca.Chain) == 0 || !s.ca.Chain[0].IsCA) {
		return errors.New("one-time certificates: the issuing CA needs a key and a CA certificate")
	}
	if s.issued, err = s.recoverOneTime(ctx); err != nil {
		return err
	}
	return s.initRequests(ctx)
}

// closeConsent ends the one-time credentials and closes the consent state.
func (s *Server) closeConsent() error {
	if s.consent == nil {
		return nil
	}
	s.closeRequests()
	s.closeOneTime()
	if s.caCloser != nil {
		closeSigner(s.caCloser)
	}
	return s.consent.close()
}

// asAPIError turns a consent refusal into an answer.
func asAPIError(w http.ResponseWriter, err error) *apiError {
	var ce *ConsentError
	if !errors.As(err, &ce) {
		return &apiError{http.StatusInternalServerError, csc.ErrServer, err.Error()}
	}
	if !ce.RetryAfter.IsZero() {
		w.Header().Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(time.Until(ce.RetryAfter).Seconds())))))
	}
	return &apiError{ce.Status, ce.Code, ce.Desc}
}

// authorizeSignature checks that key may sign digests with cr through
// operation op: the key's operations, and for an explicit credential (or
// whenever one is given) the SAD.
func (s *Server) authorizeSignature(w http.ResponseWriter, r *http.Request, key *apiKey, cr *credential, op, sad, hashOID string, digests [][]byte) *apiError {
	if !key.cfg.mayDo(op) {
		return &apiError{http.StatusForbidden, csc.ErrAccessDenied,
			fmt.Sprintf("API key %q may not use %s (it may use: %s)", key.cfg.ID, op, strings.Join(key.cfg.Operations, ", "))}
	}
	if s.authOf(cr.id) == nil && sad == "" {
		return nil
	}
	ri := info(r)
	if ce := s.useSAD(r.Context(), key.cfg.ID, ri.id, cr.id, sad, hashOID, digests); ce != nil {
		return asAPIError(w, ce)
	}
	return nil
}

// describeAuth fills in how credential id is authorized.
func (s *Server) describeAuth(ci *csc.CredentialInfo, id string) {
	a := s.authOf(id)
	if a == nil {
		ci.AuthMode = csc.AuthImplicit
		return
	}
	ci.AuthMode = csc.AuthExplicit
	ci.SCAL = "SCAL2"
	if a.pinBcrypt != nil {
		ci.PIN = &csc.PINInfo{Presence: "true", Format: "A", Label: "PIN", Description: "the signer's PIN"}
	}
	switch a.channel {
	case ChannelEmail, ChannelSMS:
		ci.OTP = &csc.OTPInfo{Presence: "true", Type: "online", Format: "N", Label: "code",
			Description: "a code sent by " + map[Channel]string{ChannelEmail: "e-mail", ChannelSMS: "SMS"}[a.channel] + " (credentials/sendOTP)", Provider: "hashsvc"}
	case ChannelTOTP:
		ci.OTP = &csc.OTPInfo{Presence: "true", Type: "offline", Format: "N", Label: "code",
			Description: "the code of the signer's authenticator app (TOTP)", Provider: "hashsvc"}
	}
}

func (s *Server) handleSendOTP(w http.ResponseWriter, r *http.Request, key *apiKey) (any, *apiError) {
	var req csc.SendOTPRequest
	if ae := s.decode(r, &req); ae != nil {
		return nil, ae
	}
	cr, ae := s.credential(r, key, req.CredentialID)
	if ae != nil {
		return nil, ae
	}
	if _, err := s.SendCode(r.Context(), key.cfg.ID, info(r).id, cr.id, ""); err != nil {
		return nil, asAPIError(w, err)
	}
	return struct{}{}, nil
}

func (s *Server) handleAuthorize(w http.ResponseWriter, r *http.Request, key *apiKey) (any, *apiError) {
	var req csc.AuthorizeRequest
	if ae := s.decode(r, &req); ae != nil {
		return nil, ae
	}
	if err := req.Normalize(); err != nil {
		return nil, badRequest("%v", err)
	}
	cr, ae := s.credential(r, key, req.CredentialID)
	if ae != nil {
		return nil, ae
	}
	if len(req.Hashes) == 0 {
		return nil, badRequest("hashes are required: a SAD is bound to the hashes it signs")
	}
	if len(req.Hashes) > s.cfg.Limits.MaxBatch {
		return nil, badRequest("%d hashes exceed the batch limit (multisign) of %d", len(req.Hashes), s.cfg.Limits.MaxBatch)
	}
	if req.NumSignatures == 0 {
		return nil, badRequest("numSignatures is required")
	}
	digests := make([][]byte, len(req.Hashes))
	for i, b64 := range req.Hashes {
		d, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			return nil, badRequest("hashes[%d] is not base64", i)
		}
		digests[i] = d
	}
	var h crypto.Hash
	if req.HashAlgorithmOID != "" {
		var ok bool
		if h, ok = csc.HashFromOID(req.HashAlgorithmOID); !ok {
			return nil, badRequest("unsupported hashAlgorithmOID %q (want SHA-256, SHA-384 or SHA-512)", req.HashAlgorithmOID)
		}
	} else {
		// CSC v1 names no hash algorithm here: the length tells.
		h = map[int]crypto.Hash{32: crypto.SHA256, 48: crypto.SHA384, 64: crypto.SHA512}[len(digests[0])]
		if h == 0 {
			return nil, badRequest("hashes[0] is %d bytes long: not a SHA-256, SHA-384 or SHA-512 hash", len(digests[0]))
		}
	}
	for i, d := range digests {
		if why := checkHash(d, h); why != "" {
			return nil, badRequest("hashes[%d] %s", i, why)
		}
	}
	if req.NumSignatures != len(digests) {
		return nil, badRequest("numSignatures %d differs from the %d hashes given", req.NumSignatures, len(digests))
	}
	ri := info(r)
	ri.hashes = len(digests)
	if s.authOf(cr.id) != nil {
		if err := s.CheckCode(r.Context(), key.cfg.ID, ri.id, cr.id, req.PIN, req.OTP); err != nil {
			return nil, asAPIError(w, err)
		}
	}
	sad, exp, err := s.IssueSAD(r.Context(), SADRequest{KeyID: key.cfg.ID, RequestID: ri.id, CredentialID: cr.id, Hash: h, Hashes: digests, NumSignatures: req.NumSignatures})
	if err != nil {
		return nil, asAPIError(w, err)
	}
	return csc.AuthorizeResponse{SAD: sad, ExpiresIn: max(1, int(exp.Sub(s.now()).Seconds()))}, nil
}
