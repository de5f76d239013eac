package verify

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"time"

	"hashsign/ltv"
)

// validator validates certificate paths and their revocation status.
type validator struct {
	ctx         context.Context
	tv          time.Time // the validation time
	anchors     *x509.CertPool
	anchorCerts []*x509.Certificate
	pool        []*x509.Certificate // the DSS's certificates and those of every CMS and token
	dssOCSPs    [][]byte
	dssCRLs     [][]byte
	paths       *ltv.Fetcher // completes paths from the certificates at hand, offline
	online      *ltv.Fetcher // nil unless online checks are allowed
	fetched     map[string]*onlineData
}

// onlineData is what an online check found for one certificate.
type onlineData struct {
	vd  *ltv.ValidationData
	err error
}

// errOffline refuses every request of the path completion, which must use
// only the certificates at hand.
var errOffline = errors.New("offline: certificates are only taken from the file and the trust anchors")

type offlineTransport struct{}

func (offlineTransport) RoundTrip(*http.Request) (*http.Response, error) { return nil, errOffline }

// subject is a certificate to validate and what it signed.
type subject struct {
	cert  *x509.Certificate
	certs []*x509.Certificate // the certificates of its CMS or token
	crls  [][]byte            // the revocation data of its CMS
	ocsps [][]byte
	tsa   bool // a TSA certificate: it needs the timeStamping usage
	// prod is when it signed: the time proven for a signature, the
	// genTime of a timestamp. Revocation data issued after prod, or
	// current at prod, answers for it.
	prod time.Time
	// poe is when its certificates must be valid and not revoked: the
	// proven time of the signature, or of the timestamp's own proof of
	// existence; the validation time when nothing proves one.
	poe    time.Time
	proven bool
	// dssOnly limits revocation data to the DSS, to tell whether the
	// file itself holds what long-term validation needs (B-LT).
	dssOnly bool
}

// finding is an indication with its sub-indication and reason.
type finding struct {
	indication, sub, reason string
}

// validate builds and validates the path of s and checks the revocation
// status of its certificates. It returns the findings that keep s from
// passing, most severe first.
func (v *validator) validate(s subject) (Path, Revocation, []finding) {
	p, r, f, _ := v.validateChain(s)
	return p, r, f
}

// validateChain is validate that also returns the path found.
func (v *validator) validateChain(s subject) (Path, Revocation, []finding, []*x509.Certificate) {
	var fs []finding
	path := Path{At: s.poe.UTC(), Status: PathNotTrusted}
	chain, chainErr := v.paths.CompleteChain(v.ctx, append([]*x509.Certificate{s.cert}, s.certs...))
	for _, c := range chain {
		path.Chain = append(path.Chain, *describe(c))
	}
	intermediates := x509.NewCertPool()
	for _, c := range append(append(append([]*x509.Certificate(nil), chain...), s.certs...), v.pool...) {
		intermediates.AddCert(c)
	}
	usage := []x509.ExtKeyUsage{x509.ExtKeyUsageAny}
	if s.tsa {
		usage = []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping}
	}
	switch {
	case v.anchors == nil:
		path.Detail = "no trust anchor was given (-trust, -system-roots): the chain is not trusted"
		fs = append(fs, finding{Indeterminate, NoCertificateChainFound, "the certificate chain is not trusted: no trust anchor was given"})
	default:
		chains, err := s.cert.Verify(x509.VerifyOptions{Roots: v.anchors, Intermediates: intermediates, CurrentTime: s.poe, KeyUsages: usage})
		var inv x509.CertificateInvalidError
		var unknown x509.UnknownAuthorityError
		switch {
		case err == nil:
			path.Status = PathTrusted
			path.Chain = nil
			for _, c := range chains[0] {
				path.Chain = append(path.Chain, *describe(c))
			}
			chain = chains[0]
		case errors.As(err, &unknown):
			path.Detail = "the chain does not reach a trust anchor: " + err.Error()
			if chainErr != nil {
				path.Detail += "; " + chainErr.Error()
			}
			fs = append(fs, finding{Indeterminate, NoCertificateChainFound, "the certificate chain is not trusted: " + err.Error()})
		case errors.As(err, &inv) && inv.Reason == x509.Expired:
			path.Status = PathInvalid
			c := inv.Cert
			switch {
			case s.poe.Before(c.NotBefore) && s.proven:
				path.Detail = fmt.Sprintf("certificate %s is valid from %s: the time proven is before", c.Subject, c.NotBefore.UTC().Format(time.RFC3339))
				fs = append(fs, finding{TotalFailed, NotYetValid, path.Detail})
			case s.poe.Before(c.NotBefore):
				path.Detail = fmt.Sprintf("certificate %s is not valid yet at %s", c.Subject, s.poe.UTC().Format(time.RFC3339))
				fs = append(fs, finding{Indeterminate, NotYetValid, path.Detail})
			default:
				path.Detail = fmt.Sprintf("certificate %s expired at %s and nothing proves the signature existed before", c.Subject, c.NotAfter.UTC().Format(time.RFC3339))
				fs = append(fs, finding{Indeterminate, OutOfBoundsNoPOE, path.Detail})
			}
		default:
			path.Status = PathInvalid
			path.Detail = err.Error()
			fs = append(fs, finding{Indeterminate, CertificateChainGeneralFailure, "the certificate chain is not valid: " + err.Error()})
		}
	}
	rev := v.revocation(s, chain, chainErr)
	switch rev.Status {
	case StatusRevoked:
		for i, c := range rev.Checks {
			if c.Status != StatusRevoked {
				continue
			}
			reason := fmt.Sprintf("certificate %s was revoked at %s", c.Certificate, c.RevokedAt.Format(time.RFC3339))
			switch {
			case i == 0 && s.proven:
				fs = append([]finding{{TotalFailed, Revoked, reason + ", before the time proven for the signature"}}, fs...)
			case i == 0:
				fs = append(fs, finding{Indeterminate, RevokedNoPOE, reason + ", and nothing proves the signature existed before"})
			default:
				fs = append(fs, finding{Indeterminate, RevokedCANoPOE, reason})
			}
			break
		}
	case StatusUnknown:
		for _, c := range rev.Checks {
			if c.Status == StatusUnknown {
				fs = append(fs, finding{Indeterminate, TryLater, fmt.Sprintf("no revocation data for %s: %s", c.Certificate, c.Detail)})
				break
			}
		}
	}
	return path, rev, fs, chain
}

// revocation checks the status of each certificate of chain, the trust
// anchor and self-signed certificates excepted.
func (v *validator) revocation(s subject, chain []*x509.Certificate, chainErr error) Revocation {
	rev := Revocation{Status: StatusGood}
	for i, c := range chain {
		if isSelfSigned(c) || v.isAnchor(c) || hasNoCheck(c) && i > 0 {
			continue
		}
		if i+1 >= len(chain) {
			detail := "its issuer's certificate is not in the file"
			if chainErr != nil {
				detail = chainErr.Error()
			}
			rev.Checks = append(rev.Checks, RevocationCheck{Certificate: c.Subject.String(), Status: StatusUnknown, Detail: detail})
			rev.Status = worse(rev.Status, StatusUnknown)
			continue
		}
		rc := v.status(s, c, chain[i+1])
		rev.Checks = append(rev.Checks, rc)
		rev.Status = worse(rev.Status, rc.Status)
	}
	return rev
}

func worse(a, b string) string {
	rank := map[string]int{StatusGood: 0, StatusUnknown: 1, StatusRevoked: 2}
	if rank[b] > rank[a] {
		return b
	}
	return a
}

// candidate is a stored OCSP response or CRL.
type candidate struct {
	der          []byte
	source, kind string
}

// status finds the revocation status of cert, issued by issuer, for s.
func (v *validator) status(s subject, cert, issuer *x509.Certificate) RevocationCheck {
	var cands []candidate
	for _, o := range v.dssOCSPs {
		cands = append(cands, candidate{o, "dss", "ocsp"})
	}
	for _, c := range v.dssCRLs {
		cands = append(cands, candidate{c, "dss", "crl"})
	}
	if !s.dssOnly {
		for _, o := range s.ocsps {
			cands = append(cands, candidate{o, "cms", "ocsp"})
		}
		for _, c := range s.crls {
			cands = append(cands, candidate{c, "cms", "crl"})
		}
	}
	rc, ok := v.judge(s, cert, issuer, cands)
	if ok || v.online == nil || s.dssOnly {
		if !ok {
			rc.Detail = fmt.Sprintf("no OCSP response or CRL in the DSS or the CMS answers for %s; -online fetches one", s.prod.UTC().Format(time.RFC3339))
		}
		return rc
	}
	od := v.fetchOnline(cert, issuer)
	if rev, isRev := errors.AsType[*ltv.RevokedError](od.err); isRev && bytes.Equal(rev.Cert.Raw, cert.Raw) {
		at := rev.At.UTC()
		rc = RevocationCheck{Certificate: cert.Subject.String(), Status: StatusRevoked, Source: "online", RevokedAt: &at, Detail: rev.Error()}
		if at.After(s.poe) {
			rc.Status = StatusGood
			rc.Detail = fmt.Sprintf("revoked at %s, after the time proven", at.Format(time.RFC3339))
		}
		return rc
	}
	if od.vd != nil {
		var online []candidate
		for _, o := range od.vd.OCSPs {
			online = append(online, candidate{o, "online", "ocsp"})
		}
		for _, c := range od.vd.CRLs {
			online = append(online, candidate{c, "online", "crl"})
		}
		if rc, ok := v.judge(s, cert, issuer, online); ok {
			return rc
		}
	}
	rc.Detail = "no revocation data in the file, and none online"
	if od.err != nil {
		rc.Detail += ": " + od.err.Error()
	}
	return rc
}

// judge returns the status that the candidates give cert: revoked when a
// current one says it was revoked before s.poe, good when a current one
// says otherwise, and false when none is current for s.prod.
func (v *validator) judge(s subject, cert, issuer *x509.Certificate, cands []candidate) (RevocationCheck, bool) {
	rc := RevocationCheck{Certificate: cert.Subject.String(), Status: StatusUnknown}
	var good *RevocationCheck
	for _, cand := range cands {
		var st *ltv.RevocationStatus
		var err error
		if cand.kind == "ocsp" {
			st, err = ltv.CheckOCSP(cand.der, cert, issuer)
		} else {
			st, err = ltv.CheckCRL(cand.der, cert, issuer)
		}
		if err != nil || !current(st, s.prod) {
			continue
		}
		r := RevocationCheck{Certificate: cert.Subject.String(), Status: StatusGood, Source: cand.source, Kind: cand.kind}
		tu := st.ThisUpdate.UTC()
		r.ThisUpdate = &tu
		if !st.NextUpdate.IsZero() {
			nu := st.NextUpdate.UTC()
			r.NextUpdate = &nu
		}
		if st.Revoked != nil {
			at := st.Revoked.At.UTC()
			r.RevokedAt = &at
			if !at.After(s.poe) {
				r.Status = StatusRevoked
				r.Detail = st.Revoked.Error()
				return r, true
			}
			r.Detail = fmt.Sprintf("revoked at %s, after the time proven", at.Format(time.RFC3339))
		}
		if good == nil {
			good = &r
		}
	}
	if good != nil {
		return *good, true
	}
	return rc, false
}

// current reports whether a status answers for a certificate used at
// prod: it was issued after prod, or it was current at prod.
func current(st *ltv.RevocationStatus, prod time.Time) bool {
	if !st.ThisUpdate.Before(prod.Add(-ltv.ClockSkew)) {
		return true
	}
	return !st.NextUpdate.IsZero() && !prod.After(st.NextUpdate.Add(ltv.ClockSkew))
}

// fetchOnline collects the revocation data of cert's path online, once
// per certificate.
func (v *validator) fetchOnline(cert, issuer *x509.Certificate) *onlineData {
	key := string(cert.Raw)
	if od, ok := v.fetched[key]; ok {
		return od
	}
	vd, err := v.online.Collect(v.ctx, []*x509.Certificate{cert}, append([]*x509.Certificate{issuer}, v.pool...))
	od := &onlineData{vd: vd, err: err}
	v.fetched[key] = od
	return od
}

func (v *validator) isAnchor(c *x509.Certificate) bool {
	for _, a := range v.anchorCerts {
		if a.Equal(c) || bytes.Equal(a.RawSubject, c.RawSubject) && bytes.Equal(a.RawSubjectPublicKeyInfo, c.RawSubjectPublicKeyInfo) {
			return true
		}
	}
	return false
}

func isSelfSigned(c *x509.Certificate) bool {
	return bytes.Equal(c.RawIssuer, c.RawSubject) && c.CheckSignatureFrom(c) == nil
}

// hasNoCheck reports whether c carries id-pkix-ocsp-nocheck: an OCSP
// responder whose status is not checked.
func hasNoCheck(c *x509.Certificate) bool {
	for _, ext := range c.Extensions {
		if ext.Id.String() == "1.3.6.1.5.5.7.48.1.5" {
			return true
		}
	}
	return false
}
