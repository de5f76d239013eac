package hashsvc

import (
	"errors"
	"net/http"
	"strconv"

	"hashsign/csc"
)

// requestRoutes registers the signature-request endpoints and the consent
// page.
func (s *Server) requestRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST "+csc.PathRequests, s.post(s.idempotent(s.handleCreateRequest), true))
	mux.HandleFunc("GET "+csc.PathRequests, s.get(s.handleListRequests))
	mux.HandleFunc("GET "+csc.PathRequest, s.get(s.handleGetRequest))
	mux.HandleFunc("POST "+csc.PathRequestStart, s.post(s.handleStartRequest, true))
	mux.HandleFunc("POST "+csc.PathRequestCancel, s.post(s.handleCancelRequest, true))
	mux.HandleFunc("POST "+csc.PathRequestHashes, s.post(s.idempotent(s.handleStepHashes), true))
	mux.HandleFunc("GET "+csc.PathRequestDelivery, s.get(s.handleDeliveries))
	mux.HandleFunc("GET "+csc.PathRequestEvidence, s.handleEvidence)
	mux.HandleFunc("GET "+csc.PathConsent, s.handleConsentPage)
	mux.HandleFunc("POST "+csc.PathConsent, s.handleConsentPost)
}

// get wraps a GET endpoint that needs an API key.
func (s *Server) get(h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		key, ae := s.authKey(r)
		if ae != nil {
			writeError(w, r, ae)
			return
		}
		v, ae := h(w, r, key)
		if ae != nil {
			writeError(w, r, ae)
			return
		}
		writeJSON(w, http.StatusOK, v)
	}
}

func (s *Server) authKey(r *http.Request) (*apiKey, *apiError) {
	k, ae := s.keys.authenticate(r)
	if ae != nil {
		return nil, &apiError{http.StatusUnauthorized, ae.code, ae.desc}
	}
	info(r).keyID = k.cfg.ID
	return k, nil
}

// requestAPIError turns an error of the request functions into an answer.
func requestAPIError(w http.ResponseWriter, err error) *apiError {
	var re *RequestError
	if errors.As(err, &re) {
		return &apiError{re.Status, re.Code, re.Desc}
	}
	return asAPIError(w, err)
}

func (s *Server) handleCreateRequest(w http.ResponseWriter, r *http.Request, key *apiKey) (any, *apiError) {
	var req csc.CreateRequest
	if ae := s.decode(r, &req); ae != nil {
		return nil, ae
	}
	st, err := s.CreateRequest(r.Context(), key.cfg.ID, req)
	if err != nil {
		return nil, requestAPIError(w, err)
	}
	return st, nil
}

func (s *Server) handleListRequests(w http.ResponseWriter, r *http.Request, key *apiKey) (any, *apiError) {
	limit := 100
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return nil, badRequest("limit must be 1 to 1000")
		}
		limit = n
	}
	list, err := s.Requests(r.Context(), key.cfg.ID, r.URL.Query().Get("state"), limit)
	if err != nil {
		return nil, requestAPIError(w, err)
	}
	return csc.RequestList{Requests: list}, nil
}

func (s *Server) handleGetRequest(w http.ResponseWriter, r *http.Request, key *apiKey) (any, *apiError) {
	st, err := s.Request(r.Context(), key.cfg.ID, r.PathValue("id"))
	if err != nil {
		return nil, requestAPIError(w, err)
	}
	return st, nil
}

func (s *Server) handleStartRequest(w http.ResponseWriter, r *http.Request, key *apiKey) (any, *apiError) {
	st, err := s.StartRequest(r.Context(), key.cfg.ID, r.PathValue("id"))
	if err != nil {
		return nil, requestAPIError(w, err)
	}
	return st, nil
}

func (s *Server) handleCancelRequest(w http.ResponseWriter, r *http.Request, key *apiKey) (any, *apiError) {
	st, err := s.CancelRequest(r.Context(), key.cfg.ID, r.PathValue("id"))
	if err != nil {
		return nil, requestAPIError(w, err)
	}
	return st, nil
}

func (s *Server) handleStepHashes(w http.ResponseWriter, r *http.Request, key *apiKey) (any, *apiError) {
	k, err := strconv.Atoi(r.PathValue("k"))
	if err != nil {
		return nil, badRequest("signer step %q is not a number", r.PathValue("k"))
	}
	var req csc.StepHashesRequest
	if ae := s.decode(r, &req); ae != nil {
		return nil, ae
	}
	info(r).hashes = len(req.Hashes)
	st, err := s.SubmitHashes(r.Context(), key.cfg.ID, r.PathValue("id"), k, req, baseURL(r))
	if err != nil {
		return nil, requestAPIError(w, err)
	}
	return st, nil
}

func (s *Server) handleDeliveries(w http.ResponseWriter, r *http.Request, key *apiKey) (any, *apiError) {
	list, err := s.Deliveries(r.Context(), key.cfg.ID, r.PathValue("id"))
	if err != nil {
		return nil, requestAPIError(w, err)
	}
	return csc.DeliveryList{Deliveries: list}, nil
}

func (s *Server) handleEvidence(w http.ResponseWriter, r *http.Request) {
	key, ae := s.authKey(r)
	if ae != nil {
		writeError(w, r, ae)
		return
	}
	data, err := s.Evidence(r.Context(), key.cfg.ID, r.PathValue("id"))
	if err != nil {
		writeError(w, r, requestAPIError(w, err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Disposition", `attachment; filename="`+r.PathValue("id")+`.evidence.json"`)
	w.Write(data)
}

// baseURL is the scheme and host that r reached.
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}
