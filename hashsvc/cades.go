package hashsvc

import (
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"net/http"

	"hashsign/cms"
	"hashsign/csc"
	"hashsign/ltv"
)

// handleCAdESSign builds a complete detached CAdES signature for PAdES
// over a document digest: signed attributes content-type (id-data),
// message-digest and ESS signing-certificate-v2, without signing-time, the
// certificates, and on request a signature time-stamp and the validation
// data (certificates, OCSP responses, CRLs) that a /DSS needs for B-LT, so
// that a client reaches B-LT with one round trip.
func (s *Server) handleCAdESSign(w http.ResponseWriter, r *http.Request, key *apiKey) (any, *apiError) {
	var req csc.CAdESSignRequest
	if ae := s.decode(r, &req); ae != nil {
		return nil, ae
	}
	cr, ae := s.credential(r, key, req.CredentialID)
	if ae != nil {
		return nil, ae
	}
	h := crypto.SHA256
	if req.HashAlgorithmOID != "" {
		var ok bool
		if h, ok = csc.HashFromOID(req.HashAlgorithmOID); !ok {
			return nil, badRequest("unsupported hashAlgorithmOID %q (want SHA-256, SHA-384 or SHA-512)", req.HashAlgorithmOID)
		}
	}
	digest, err := base64.StdEncoding.DecodeString(req.Digest)
	if err != nil {
		return nil, badRequest("digest is not base64")
	}
	if why := checkHash(digest, h); why != "" {
		return nil, badRequest("digest %s", why)
	}
	if oid, _ := csc.HashOID(h); true {
		if ae := s.authorizeSignature(w, r, key, cr, OpCAdES, req.SAD, oid, [][]byte{digest}); ae != nil {
			return nil, ae
		}
	}

	_, rsaKey := cr.chain[0].PublicKey.(*rsa.PublicKey)
	opts := cms.Options{Hash: h}
	switch req.SignAlgo {
	case "":
	case csc.OIDRSASSAPSS:
		if !rsaKey {
			return nil, badRequest("RSASSA-PSS needs an RSA credential; %q is ECDSA", cr.id)
		}
		opts.PSS = true
	case csc.OIDRSAEncryption:
		if !rsaKey {
			return nil, badRequest("signAlgo %s does not fit the ECDSA credential %q", req.SignAlgo, cr.id)
		}
	case csc.OIDECPublicKey:
		if rsaKey {
			return nil, badRequest("signAlgo %s does not fit the RSA credential %q", req.SignAlgo, cr.id)
		}
	default:
		return nil, badRequest("signAlgo must be empty, %s, %s or %s", csc.OIDRSAEncryption, csc.OIDRSASSAPSS, csc.OIDECPublicKey)
	}
	chain := cr.chain
	switch req.Certificates {
	case "", "chain":
	case "single":
		chain = chain[:1]
	default:
		return nil, badRequest("certificates must be chain or single, not %q (the signer certificate is always included)", req.Certificates)
	}
	var tsa *ltv.TSAClient
	if req.Timestamp {
		if s.tsa == nil {
			return nil, badRequest("timestamp requested but this service has no time-stamping authority configured")
		}
		if req.TSAURL != "" && req.TSAURL != s.tsa.URLs[0] {
			return nil, badRequest("tsaURL %q is not the time-stamping authority this service uses", req.TSAURL)
		}
		tsa = s.tsa
	} else if req.TSAURL != "" {
		return nil, badRequest("tsaURL given without timestamp: true")
	}

	attrs, err := cms.SignedAttributes(digest, h, cr.chain[0])
	if err != nil {
		s.log.Error("encoding signed attributes", "request_id", info(r).id, "err", err)
		return nil, &apiError{http.StatusInternalServerError, csc.ErrServer, "encoding the signed attributes failed"}
	}
	ah := h.New()
	ah.Write(attrs)
	alg := algorithm{hash: h, opts: h, signAlgo: csc.OIDRSAEncryption}
	alg.hashOID, _ = csc.HashOID(h)
	if opts.PSS {
		alg.opts = &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: h}
		alg.signAlgo = csc.OIDRSASSAPSS
	} else if !rsaKey {
		alg.signAlgo = csc.OIDECPublicKey
	}
	info(r).hashes = 1
	sigs, ae := s.sign(r, cr, alg, "cades", [][]byte{ah.Sum(nil)})
	if ae != nil {
		return nil, ae
	}
	der, err := cms.Assemble(chain, attrs, sigs[0], opts)
	leaves, pool := []*x509.Certificate{cr.chain[0]}, append([]*x509.Certificate{}, cr.chain...)
	if err != nil {
		s.log.Error("assembling the CMS", "request_id", info(r).id, "credential", cr.id, "err", err)
		return nil, &apiError{http.StatusInternalServerError, csc.ErrServer, "assembling the signature failed"}
	}
	if tsa != nil {
		var tok *ltv.Token
		if der, tok, err = ltv.SignatureTimestamp(r.Context(), tsa, der); err != nil {
			s.log.Error("time-stamp failed", "request_id", info(r).id, "err", err)
			return nil, &apiError{http.StatusBadGateway, csc.ErrTSA, "the time-stamping authority failed: " + err.Error()}
		}
		leaves = append(leaves, tok.Signer)
		pool = append(pool, tok.Certificates...)
	}
	resp := csc.CAdESSignResponse{CMS: base64.StdEncoding.EncodeToString(der), Timestamped: tsa != nil}
	if req.ValidationData {
		// MeSign style: the certificates and revocation data of the
		// signer's and the TSA's paths, for the client's /DSS (B-LT)
		f := &ltv.Fetcher{HTTP: s.trustHTTP, Roots: s.trustRoots}
		vd, err := f.Collect(r.Context(), leaves, pool)
		if err != nil {
			s.log.Error("collecting validation data failed", "request_id", info(r).id, "err", err)
			return nil, &apiError{http.StatusBadGateway, csc.ErrValidationData, "collecting the validation data failed: " + err.Error()}
		}
		for _, c := range vd.Certs {
			resp.Certificates = append(resp.Certificates, base64.StdEncoding.EncodeToString(c.Raw))
		}
		for _, o := range vd.OCSPs {
			resp.OCSPs = append(resp.OCSPs, base64.StdEncoding.EncodeToString(o))
		}
		for _, c := range vd.CRLs {
			resp.CRLs = append(resp.CRLs, base64.StdEncoding.EncodeToString(c))
		}
	}
	return resp, nil
}
