package hashsvc

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"time"

	"hashsign/csc"
	"hashsign/signer"
)

func (s *Server) handleInfo(w http.ResponseWriter, r *http.Request, _ *apiKey) (any, *apiError) {
	// The body, {"lang": ...}, is optional and may be empty.
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, &apiError{http.StatusRequestEntityTooLarge, csc.ErrTooLarge, "the request body is too large"}
	}
	var req csc.InfoRequest
	if len(bytes.TrimSpace(body)) > 0 && json.Unmarshal(body, &req) != nil {
		return nil, badRequest("the body is not valid JSON")
	}
	ic := s.cfg.Info
	resp := csc.InfoResponse{
		Specs: csc.Spec, Name: ic.Name, Logo: ic.Logo, Region: ic.Region, Lang: ic.Lang, Description: ic.Description,
		// "external": the bearer API keys are issued outside the CSC
		// authorization flows (by `hashsvc apikey new`).
		AuthType: []string{"external"},
		Methods:  []string{"credentials/list", "credentials/info", "signatures/signHash"},
	}
	if resp.Name == "" {
		resp.Name = "hashsvc"
	}
	if resp.Region == "" {
		resp.Region = "ZZ"
	}
	if resp.Lang == "" {
		resp.Lang = "en-US"
	}
	if resp.Description == "" {
		resp.Description = "Remote hash-signing service: signs hashes, never documents."
	}
	if s.cfg.TLS != nil && s.cfg.TLS.ClientCA != "" {
		resp.AuthType = append(resp.AuthType, "TLS")
	}
	cscVersion(r, &resp)
	return resp, nil
}

func (s *Server) handleCredentialsList(w http.ResponseWriter, r *http.Request, key *apiKey) (any, *apiError) {
	var req csc.CredentialsListRequest
	if ae := s.decode(r, &req); ae != nil {
		return nil, ae
	}
	if req.PageToken != "" {
		return nil, badRequest("invalid pageToken")
	}
	if req.MaxResults < 0 {
		return nil, badRequest("maxResults must not be negative")
	}
	resp := csc.CredentialsListResponse{CredentialIDs: []string{}, OnlyValid: req.OnlyValid}
	now := time.Now()
	for _, id := range s.credIDs {
		if !key.cfg.allows(id) {
			continue
		}
		cr := s.creds[id]
		if req.OnlyValid && (now.Before(cr.chain[0].NotBefore) || now.After(cr.chain[0].NotAfter)) {
			continue
		}
		resp.CredentialIDs = append(resp.CredentialIDs, id)
		if req.CredentialInfo {
			ci, ae := s.credentialInfo(cr, req.Certificates, req.CertInfo)
			if ae != nil {
				return nil, ae
			}
			ci.CredentialID = id
			resp.CredentialInfos = append(resp.CredentialInfos, ci)
		}
	}
	return resp, nil
}

func (s *Server) handleCredentialsInfo(w http.ResponseWriter, r *http.Request, key *apiKey) (any, *apiError) {
	var req csc.CredentialsInfoRequest
	if ae := s.decode(r, &req); ae != nil {
		return nil, ae
	}
	cr, ae := s.credential(r, key, req.CredentialID)
	if ae != nil {
		return nil, ae
	}
	return s.credentialInfo(cr, req.Certificates, req.CertInfo)
}

// credentialInfo describes cr. certs is "none", "single" (the default) or
// "chain".
func (s *Server) credentialInfo(cr *credential, certs string, certInfo bool) (csc.CredentialInfo, *apiError) {
	leaf := cr.chain[0]
	ci := csc.CredentialInfo{
		Description: cr.description,
		Key:         csc.KeyInfo{Status: "enabled", Algo: cr.algos, Len: cr.keyLen, Curve: cr.curve},
		Multisign:   s.cfg.Limits.MaxBatch,
	}
	s.describeAuth(&ci, cr.id)
	ci.Cert.Status = "valid"
	if now := time.Now(); now.Before(leaf.NotBefore) || now.After(leaf.NotAfter) {
		ci.Cert.Status = "expired"
		if now.Before(leaf.NotBefore) {
			ci.Cert.Status = "not_yet_valid"
		}
	}
	var list []*x509.Certificate
	switch certs {
	case "none":
	case "", "single":
		list = cr.chain[:1]
	case "chain":
		list = cr.chain
	default:
		return ci, badRequest("certificates must be none, single or chain, not %q", certs)
	}
	for _, c := range list {
		ci.Cert.Certificates = append(ci.Cert.Certificates, base64.StdEncoding.EncodeToString(c.Raw))
	}
	if certInfo {
		ci.Cert.IssuerDN = leaf.Issuer.String()
		ci.Cert.SubjectDN = leaf.Subject.String()
		ci.Cert.SerialNumber = strings.ToUpper(leaf.SerialNumber.Text(16))
		ci.Cert.ValidFrom = leaf.NotBefore.UTC().Format("20060102150405Z")
		ci.Cert.ValidTo = leaf.NotAfter.UTC().Format("20060102150405Z")
	}
	return ci, nil
}

// algorithm is a resolved signature algorithm.
type algorithm struct {
	hash     crypto.Hash
	opts     crypto.SignerOpts
	hashOID  string
	signAlgo string
}

// resolveAlgorithm checks signAlgo, hashAlgorithmOID and signAlgoParams
// against each other and against cr's key.
func resolveAlgorithm(cr *credential, signAlgo, hashOID, paramsB64 string) (algorithm, *apiError) {
	var (
		h       crypto.Hash
		implied crypto.Hash // the hash named by signAlgo itself
		rsaKey  bool
	)
	switch cr.chain[0].PublicKey.(type) {
	case *rsa.PublicKey:
		rsaKey = true
	}
	if hashOID != "" {
		var ok bool
		if h, ok = csc.HashFromOID(hashOID); !ok {
			return algorithm{}, badRequest("unsupported hashAlgorithmOID %q (want SHA-256, SHA-384 or SHA-512)", hashOID)
		}
	}
	var params []byte
	if paramsB64 != "" {
		var err error
		if params, err = base64.StdEncoding.DecodeString(paramsB64); err != nil {
			return algorithm{}, badRequest("signAlgoParams is not base64")
		}
	}
	a := algorithm{signAlgo: signAlgo}
	keyFits := true
	switch signAlgo {
	case "":
		return algorithm{}, badRequest("signAlgo is required")
	case csc.OIDRSAEncryption:
		keyFits = rsaKey
	case csc.OIDSHA256WithRSA, csc.OIDSHA384WithRSA, csc.OIDSHA512WithRSA:
		keyFits = rsaKey
		implied = map[string]crypto.Hash{csc.OIDSHA256WithRSA: crypto.SHA256, csc.OIDSHA384WithRSA: crypto.SHA384, csc.OIDSHA512WithRSA: crypto.SHA512}[signAlgo]
	case csc.OIDECPublicKey:
		keyFits = !rsaKey
	case csc.OIDECDSAWithSHA256, csc.OIDECDSAWithSHA384, csc.OIDECDSAWithSHA512:
		keyFits = !rsaKey
		implied = map[string]crypto.Hash{csc.OIDECDSAWithSHA256: crypto.SHA256, csc.OIDECDSAWithSHA384: crypto.SHA384, csc.OIDECDSAWithSHA512: crypto.SHA512}[signAlgo]
	case csc.OIDRSASSAPSS:
		keyFits = rsaKey
		if params == nil {
			return algorithm{}, badRequest("RSASSA-PSS needs signAlgoParams (DER RSASSA-PSS-params)")
		}
		ph, salt, err := csc.ParsePSSParams(params)
		if err != nil {
			return algorithm{}, badRequest("signAlgoParams: %v", err)
		}
		if salt == 0 {
			// crypto/rsa reads a SaltLength of 0 as "as long as
			// possible", which would not verify under these parameters.
			return algorithm{}, badRequest("RSASSA-PSS saltLength 0 is not supported; use a salt as long as the hash (%d bytes)", ph.Size())
		}
		if pub, ok := cr.chain[0].PublicKey.(*rsa.PublicKey); ok {
			if most := (pub.N.BitLen()-1+7)/8 - ph.Size() - 2; salt > most {
				return algorithm{}, badRequest("RSASSA-PSS saltLength %d is too long for a %d-bit key (at most %d)", salt, pub.N.BitLen(), most)
			}
		}
		implied = ph
		a.opts = &rsa.PSSOptions{SaltLength: salt, Hash: ph}
	default:
		return algorithm{}, badRequest("unsupported signAlgo %q", signAlgo)
	}
	if !keyFits {
		kind := "an ECDSA"
		if rsaKey {
			kind = "an RSA"
		}
		return algorithm{}, badRequest("signAlgo %s does not fit credential %q, which has %s key", signAlgo, cr.id, kind)
	}
	if signAlgo != csc.OIDRSASSAPSS && params != nil && !isDERNull(params) {
		return algorithm{}, badRequest("signAlgoParams are only for RSASSA-PSS")
	}
	switch {
	case implied != 0 && h != 0 && implied != h:
		return algorithm{}, badRequest("hashAlgorithmOID %s contradicts signAlgo %s", hashOID, signAlgo)
	case implied != 0:
		h = implied
	case h == 0:
		return algorithm{}, badRequest("hashAlgorithmOID is required with signAlgo %s", signAlgo)
	}
	a.hash = h
	a.hashOID, _ = csc.HashOID(h)
	if a.opts == nil {
		a.opts = h
	}
	return a, nil
}

func isDERNull(b []byte) bool { return len(b) == 2 && b[0] == 0x05 && b[1] == 0x00 }

// checkHash reports why d is not a hash of h: the wrong length, or all
// zeros (a placeholder, never a real digest).
func checkHash(d []byte, h crypto.Hash) string {
	if len(d) != h.Size() {
		return fmt.Sprintf("is %d bytes long; a %v hash has %d", len(d), h, h.Size())
	}
	for _, b := range d {
		if b != 0 {
			return ""
		}
	}
	return "is all zeros, not a hash"
}

func (s *Server) handleSignHash(w http.ResponseWriter, r *http.Request, key *apiKey) (any, *apiError) {
	var req csc.SignHashRequest
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
	switch req.OperationMode {
	case "", "S":
	case "A":
		return nil, badRequest("operationMode A (asynchronous) is not supported; use S")
	default:
		return nil, badRequest("operationMode must be S")
	}
	if len(req.Hashes) == 0 {
		return nil, badRequest("hashes is empty")
	}
	if len(req.Hashes) > s.cfg.Limits.MaxBatch {
		return nil, badRequest("%d hashes exceed the batch limit (multisign) of %d", len(req.Hashes), s.cfg.Limits.MaxBatch)
	}
	alg, ae := resolveAlgorithm(cr, req.SignAlgo, req.HashAlgorithmOID, req.SignAlgoParams)
	if ae != nil {
		return nil, ae
	}
	digests := make([][]byte, len(req.Hashes))
	for i, b64 := range req.Hashes {
		d, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			return nil, badRequest("hashes[%d] is not base64", i)
		}
		if why := checkHash(d, alg.hash); why != "" {
			return nil, badRequest("hashes[%d] %s", i, why)
		}
		digests[i] = d
	}
	info(r).hashes = len(digests)
	if ae := s.authorizeSignature(w, r, key, cr, OpSignHash, req.SAD, alg.hashOID, digests); ae != nil {
		return nil, ae
	}
	sigs, ae := s.sign(r, cr, alg, "signHash", digests)
	if ae != nil {
		return nil, ae
	}
	resp := csc.SignHashResponse{Signatures: make([]string, len(sigs))}
	for i, sig := range sigs {
		resp.Signatures[i] = base64.StdEncoding.EncodeToString(sig)
	}
	return resp, nil
}

// sign signs digests with cr and records every signature in the audit log
// before returning them. Nothing is returned if the audit log fails.
func (s *Server) sign(r *http.Request, cr *credential, alg algorithm, op string, digests [][]byte) ([][]byte, *apiError) {
	ctx := r.Context()
	if ae := checkValidity(cr, s.now()); ae != nil {
		return nil, ae
	}
	done, ae := s.guards.startSigning(r)
	if ae != nil {
		return nil, ae
	}
	defer done()
	sigs, err := signAll(ctx, cr.signer, digests, alg.opts)
	if err != nil {
		if ctx.Err() != nil {
			return nil, &apiError{http.StatusServiceUnavailable, csc.ErrUnavailable, "signing timed out"}
		}
		s.log.Error("signing failed", "request_id", info(r).id, "credential", cr.id, "err", err)
		return nil, &apiError{http.StatusInternalServerError, csc.ErrServer, "signing failed"}
	}
	ri := info(r)
	now := time.Now()
	recs := make([]Record, len(digests))
	for i, d := range digests {
		recs[i] = Record{
			Time: now, KeyID: ri.keyID, Credential: cr.id, Operation: op,
			HashAlgorithm: alg.hashOID, SignAlgorithm: alg.signAlgo, Hash: d, RequestID: ri.id,
		}
	}
	// The audit write is not cut short by the request's deadline: a
	// signature that was made is recorded.
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := s.audit.Append(actx, recs); err != nil {
		s.metrics.auditFailed()
		s.log.Error("audit log append failed; signatures withheld", "request_id", ri.id, "credential", cr.id, "err", err)
		return nil, &apiError{http.StatusInternalServerError, csc.ErrServer, "the audit log could not be written; no signature was returned"}
	}
	s.metrics.signed(cr.id, op, len(sigs))
	return sigs, nil
}

// signAll signs each digest with s, spreading a batch over the CPUs.
func signAll(ctx context.Context, s signer.Signer, digests [][]byte, opts crypto.SignerOpts) ([][]byte, error) {
	sigs := make([][]byte, len(digests))
	workers := min(len(digests), runtime.GOMAXPROCS(0))
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(digests); i += workers {
				sig, err := signer.Sign(ctx, s, rand.Reader, digests[i], opts)
				if err != nil {
					errs[w] = fmt.Errorf("hash %d: %w", i, err)
					return
				}
				sigs[i] = sig
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return sigs, nil
}
