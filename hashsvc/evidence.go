package hashsvc

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"hashsign/cms"
	"hashsign/csc"
	"hashsign/ltv"
)

// EvidenceFile is the evidence of an ended request, as served and as
// `hashsvc evidence verify` reads it: the record (JSON, kept byte for
// byte) and a detached CAdES signature over exactly those bytes, with a
// signature time-stamp.
type EvidenceFile struct {
	Record    json.RawMessage `json:"record"`
	Signature string          `json:"signature"` // base64 DER CMS ContentInfo
}

// EvidenceRecord says who signed what, when, and how they identified.
type EvidenceRecord struct {
	Version   int                   `json:"version"`
	Made      time.Time             `json:"made"`
	Request   string                `json:"request"`
	State     string                `json:"state"`
	Sender    string                `json:"sender"`
	Message   string                `json:"message,omitempty"`
	Order     string                `json:"order"`
	Level     string                `json:"level,omitempty"`
	Created   time.Time             `json:"created"`
	Expires   time.Time             `json:"expires"`
	Ended     time.Time             `json:"ended"`
	Documents []csc.RequestDocument `json:"documents"`
	Signers   []EvidenceSigner      `json:"signers"`
	Events    []csc.Event           `json:"events"`
	// Audit lists the request's records in the service's audit log, by
	// their hash in the chain (`hashsvc audit verify` checks the chain).
	Audit []EvidenceAudit `json:"audit"`
}

// EvidenceSigner is one signer's step in an evidence record.
type EvidenceSigner struct {
	csc.SignerStatus
	Credential     string `json:"credential,omitempty"`
	OneTime        bool   `json:"oneTime,omitempty"`
	SignAlgoParams string `json:"signAlgoParams,omitempty"`
}

// EvidenceAudit is one audit record of a request.
type EvidenceAudit struct {
	Seq        int64     `json:"seq"`
	Time       time.Time `json:"time"`
	Operation  string    `json:"operation"`
	Credential string    `json:"credential,omitempty"`
	RecordHash string    `json:"recordHash"` // hex
}

// hasEvidence reports whether request id's evidence is ready.
func (s *Server) hasEvidence(ctx context.Context, id string) bool {
	var n int
	s.consent.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM sigreq_evidence WHERE request = ?`, id).Scan(&n)
	return n > 0
}

// Evidence returns the evidence file of request id of API key keyID.
func (s *Server) Evidence(ctx context.Context, keyID, id string) ([]byte, error) {
	r, err := s.load(ctx, id, keyID)
	if err != nil {
		return nil, err
	}
	if !ended(r.State) {
		return nil, reqErr(http.StatusConflict, csc.ErrInvalidRequest, "request %s is %s: its evidence is made when it ends", id, r.State)
	}
	s.ensureEvidence(ctx, id)
	var data []byte
	err = s.consent.db.QueryRowContext(ctx, `SELECT data FROM sigreq_evidence WHERE request = ?`, id).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, reqErr(http.StatusServiceUnavailable, csc.ErrUnavailable, "the evidence of request %s could not be made yet (see the service's log); try again later", id)
	}
	return data, err
}

// ensureEvidence makes the evidence of an ended request if it is missing.
// Failures are logged; the next sweep or read tries again.
func (s *Server) ensureEvidence(ctx context.Context, id string) {
	if s.hasEvidence(ctx, id) {
		return
	}
	if err := s.makeEvidence(ctx, id); err != nil {
		s.log.Error("making the evidence record", "request", id, "err", err)
	}
}

// makeEvidence builds, seals and stores the evidence of request id.
func (s *Server) makeEvidence(ctx context.Context, id string) error {
	r, err := s.load(ctx, id, "")
	if err != nil {
		return err
	}
	ev := EvidenceRecord{
		Version: 1, Made: s.now().UTC(), Request: r.ID, State: r.State, Sender: r.Sender, Message: r.Message,
		Order: r.Order, Level: r.Level, Created: r.Created, Expires: r.Expires, Ended: r.Ended,
		Documents: r.Documents, Events: r.Events,
	}
	creds := map[string]bool{}
	for k, sg := range r.Signers {
		st := r.Steps[k]
		sg.ConsentURL = ""
		ev.Signers = append(ev.Signers, EvidenceSigner{SignerStatus: sg, Credential: st.Credential, OneTime: st.OneTime, SignAlgoParams: st.SignAlgoParams})
		if st.OneTime && st.Credential != "" {
			creds[st.Credential] = true
		}
	}
	rows, err := s.consent.db.QueryContext(ctx, `SELECT seq, time, operation, credential, record_hash FROM audit WHERE request_id = ? OR credential IN (SELECT value FROM json_each(?)) ORDER BY seq`, r.ID, jsonKeys(creds))
	if err != nil {
		return fmt.Errorf("reading the audit records: %w", err)
	}
	for rows.Next() {
		var (
			a  EvidenceAudit
			tm string
		)
		if err := rows.Scan(&a.Seq, &tm, &a.Operation, &a.Credential, &a.RecordHash); err != nil {
			rows.Close()
			return err
		}
		a.Time, _ = time.Parse(time.RFC3339Nano, tm)
		ev.Audit = append(ev.Audit, a)
	}
	rows.Close()
	record, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	sig, err := s.seal(ctx, r, record)
	if err != nil {
		return err
	}
	file, err := json.Marshal(EvidenceFile{Record: record, Signature: base64.StdEncoding.EncodeToString(sig)})
	if err != nil {
		return err
	}
	_, err = s.consent.db.ExecContext(ctx, `INSERT INTO sigreq_evidence (request, data) VALUES (?, ?) ON CONFLICT (request) DO NOTHING`, r.ID, file)
	return err
}

func jsonKeys(m map[string]bool) string {
	keys := []string{}
	for k := range m {
		keys = append(keys, k)
	}
	b, _ := json.Marshal(keys)
	return string(b)
}

// evidenceCredential returns the seal that signs evidence records.
func (s *Server) evidenceCredential() (*credential, error) {
	if id := s.cfg.Requests.EvidenceCredential; id != "" {
		return s.creds[id], nil
	}
	for _, id := range s.credIDs {
		if s.consent.auth[id] == nil {
			return s.creds[id], nil
		}
	}
	return nil, errors.New("no implicit credential to seal evidence records (requests.evidence_credential)")
}

// seal signs record (detached CAdES over its SHA-256, with the evidence
// credential) and time-stamps the signature with the configured TSA. The
// signature is audited.
func (s *Server) seal(ctx context.Context, r *sigRequest, record []byte) ([]byte, error) {
	cr, err := s.evidenceCredential()
	if err != nil {
		return nil, err
	}
	if s.tsa == nil {
		return nil, errors.New("evidence records are time-stamped: configure tsa.url")
	}
	h := crypto.SHA256
	digest := cms.Digest(h, record)
	attrs, err := cms.SignedAttributes(digest, h, cr.chain[0])
	if err != nil {
		return nil, err
	}
	ah := cms.Digest(h, attrs)
	sigs, err := signAll(ctx, cr.signer, [][]byte{ah}, h)
	if err != nil {
		return nil, fmt.Errorf("sealing the evidence with %q: %w", cr.id, err)
	}
	oid, _ := csc.HashOID(h)
	if err := s.auditEvent(ctx, Record{KeyID: r.KeyID, Credential: cr.id, RequestID: r.ID, Operation: "evidence.sealed", HashAlgorithm: oid, Hash: ah}); err != nil {
		return nil, err
	}
	der, err := cms.Assemble(cr.chain, attrs, sigs[0], cms.Options{Hash: h})
	if err != nil {
		return nil, err
	}
	der, _, err = ltv.SignatureTimestamp(ctx, s.tsa, der)
	if err != nil {
		return nil, fmt.Errorf("time-stamping the evidence: %w", err)
	}
	return der, nil
}

// EvidenceReport is what VerifyEvidence found.
type EvidenceReport struct {
	Record *EvidenceRecord
	// Sealer is the certificate that signed the record, and SealedAt the
	// time of its signature time-stamp, by TSA.
	Sealer   *x509.Certificate
	SealedAt time.Time
	TSA      *x509.Certificate
}

// VerifyEvidence checks an evidence file offline: the CAdES signature over
// the record's exact bytes, its signature time-stamp (imprint and token
// signature), the chains of the sealer's and the TSA's certificates to
// roots, and the record itself: each signer's certificate chains to roots,
// and each signature verifies over its hash with that certificate.
func VerifyEvidence(data []byte, roots *x509.CertPool) (*EvidenceReport, error) {
	var f EvidenceFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("evidence: not an evidence file: %w", err)
	}
	if len(f.Record) == 0 || f.Signature == "" {
		return nil, errors.New("evidence: the record or its signature is missing")
	}
	der, err := base64.StdEncoding.DecodeString(f.Signature)
	if err != nil {
		return nil, errors.New("evidence: the signature is not base64")
	}
	sd, err := cms.Parse(der)
	if err != nil {
		return nil, fmt.Errorf("evidence: signature: %w", err)
	}
	if sd.Signer == nil {
		return nil, errors.New("evidence: the signature does not carry its signer's certificate")
	}
	if err := sd.VerifyIntegrity(cms.Digest(sd.DigestAlgorithm, f.Record)); err != nil {
		return nil, fmt.Errorf("evidence: the signature does not cover this record (was it changed?): %w", err)
	}
	toks := sd.SignatureTimeStampTokens()
	if len(toks) == 0 {
		return nil, errors.New("evidence: the signature has no time-stamp")
	}
	tok, err := ltv.ParseToken(toks[0])
	if err != nil {
		return nil, fmt.Errorf("evidence: time-stamp: %w", err)
	}
	if !bytes.Equal(tok.Imprint, cms.Digest(tok.Hash, sd.Signature)) {
		return nil, errors.New("evidence: the time-stamp is not over this signature")
	}
	inter := x509.NewCertPool()
	for _, c := range append(append([]*x509.Certificate{}, sd.Certificates...), tok.Certificates...) {
		inter.AddCert(c)
	}
	chain := func(what string, c *x509.Certificate, at time.Time, eku x509.ExtKeyUsage) error {
		if _, err := c.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: at, KeyUsages: []x509.ExtKeyUsage{eku}}); err != nil {
			return fmt.Errorf("evidence: %s %q: %w", what, c.Subject.String(), err)
		}
		return nil
	}
	if err := chain("sealer", sd.Signer, tok.GenTime, x509.ExtKeyUsageAny); err != nil {
		return nil, err
	}
	if err := chain("TSA", tok.Signer, tok.GenTime, x509.ExtKeyUsageTimeStamping); err != nil {
		return nil, err
	}
	var rec EvidenceRecord
	if err := json.Unmarshal(f.Record, &rec); err != nil {
		return nil, fmt.Errorf("evidence: record: %w", err)
	}
	if rec.Version != 1 || rec.Request == "" {
		return nil, fmt.Errorf("evidence: record version %d of request %q: not a record this verifier knows", rec.Version, rec.Request)
	}
	for _, sg := range rec.Signers {
		if err := checkEvidenceSigner(&rec, &sg, roots, inter); err != nil {
			return nil, fmt.Errorf("evidence: signer %d (%s): %w", sg.Step, sg.ID, err)
		}
	}
	if rec.State == csc.StateCompleted {
		for _, sg := range rec.Signers {
			if sg.State != csc.StepSigned {
				return nil, fmt.Errorf("evidence: the request is completed, but signer %d is %s", sg.Step, sg.State)
			}
		}
	}
	return &EvidenceReport{Record: &rec, Sealer: sd.Signer, SealedAt: tok.GenTime, TSA: tok.Signer}, nil
}

// checkEvidenceSigner checks one signer's signatures in a record.
func checkEvidenceSigner(rec *EvidenceRecord, sg *EvidenceSigner, roots, inter *x509.CertPool) error {
	if len(sg.Signatures) == 0 {
		if sg.State == csc.StepSigned {
			return errors.New("signed, but no signature is recorded")
		}
		return nil
	}
	if len(sg.Certificates) == 0 || len(sg.Signatures) != len(sg.Hashes) || len(sg.Hashes) != len(rec.Documents) {
		return errors.New("the certificates, hashes, signatures and documents do not match up")
	}
	var certs []*x509.Certificate
	for i, b64 := range sg.Certificates {
		der, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			return fmt.Errorf("certificate %d is not base64", i)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return fmt.Errorf("certificate %d: %w", i, err)
		}
		certs = append(certs, c)
	}
	pool := inter.Clone()
	for _, c := range certs[1:] {
		pool.AddCert(c)
	}
	if _, err := certs[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: pool, CurrentTime: sg.Signed, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return fmt.Errorf("certificate %q: %w", certs[0].Subject.String(), err)
	}
	if certs[0].Subject.CommonName != sg.Name {
		return fmt.Errorf("the certificate names %q, the signer is %q", certs[0].Subject.CommonName, sg.Name)
	}
	h, ok := csc.HashFromOID(sg.HashAlgorithmOID)
	if !ok {
		return fmt.Errorf("unknown hash algorithm %q", sg.HashAlgorithmOID)
	}
	var opts crypto.SignerOpts = h
	if sg.SignAlgo == csc.OIDRSASSAPSS {
		params, err := base64.StdEncoding.DecodeString(sg.SignAlgoParams)
		if err != nil {
			return errors.New("signAlgoParams is not base64")
		}
		ph, salt, err := csc.ParsePSSParams(params)
		if err != nil {
			return err
		}
		opts = &rsa.PSSOptions{Hash: ph, SaltLength: salt}
	}
	for i, hs := range sg.Hashes {
		if hs.Document != rec.Documents[i].Name {
			return fmt.Errorf("hash %d is for %q, document %d is %q", i, hs.Document, i+1, rec.Documents[i].Name)
		}
		digest, err1 := base64.StdEncoding.DecodeString(hs.Hash)
		sig, err2 := base64.StdEncoding.DecodeString(sg.Signatures[i])
		if err1 != nil || err2 != nil {
			return fmt.Errorf("hash or signature %d is not base64", i)
		}
		if err := verifyRaw(certs[0].PublicKey, digest, sig, opts); err != nil {
			return fmt.Errorf("the signature of %q does not verify: %w", hs.Document, err)
		}
	}
	return nil
}

// verifyRaw checks a signature over a digest.
func verifyRaw(pub crypto.PublicKey, digest, sig []byte, opts crypto.SignerOpts) error {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(k, digest, sig) {
			return errors.New("ECDSA verification failed")
		}
		return nil
	case *rsa.PublicKey:
		if pss, ok := opts.(*rsa.PSSOptions); ok {
			return rsa.VerifyPSS(k, pss.Hash, digest, sig, pss)
		}
		return rsa.VerifyPKCS1v15(k, opts.HashFunc(), digest, sig)
	}
	return fmt.Errorf("unsupported key %T", pub)
}

// CheckEvidenceAudit checks the audit records that an evidence record
// lists against the service's audit database at path: the chain is intact
// (VerifyAudit), and each listed record is in it with the same hash.
func CheckEvidenceAudit(ctx context.Context, rec *EvidenceRecord, path string) error {
	if _, err := VerifyAudit(ctx, path, ""); err != nil {
		return err
	}
	db, err := openAuditDB(path, true)
	if err != nil {
		return err
	}
	defer db.Close()
	for _, a := range rec.Audit {
		var h string
		err := db.QueryRowContext(ctx, `SELECT record_hash FROM audit WHERE seq = ?`, a.Seq).Scan(&h)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("evidence: audit record %d (%s) is not in %s", a.Seq, a.Operation, path)
		}
		if err != nil {
			return fmt.Errorf("evidence: reading %s: %w", path, err)
		}
		if h != a.RecordHash {
			return fmt.Errorf("evidence: audit record %d (%s) has another hash in %s", a.Seq, a.Operation, path)
		}
	}
	return nil
}
