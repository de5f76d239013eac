// Package verify validates the signatures and document timestamps of a PDF
// file and reports on them in the terms of ETSI EN 319 102-1: for each,
// its integrity, its certificate path to the trust anchors, the
// revocation status of its certificates, its time, the PAdES baseline
// level it reaches (ETSI EN 319 142-1) and what the incremental updates
// after it changed, with an indication (TOTAL-PASSED, INDETERMINATE or
// TOTAL-FAILED) and a sub-indication.
//
// Long-term validation follows the timestamps: a document timestamp
// proves that everything it covers existed at its time, so each one is
// validated at the time proven by the next (the newest at the validation
// time), and a signature at the earliest time a valid timestamp proves,
// with the certificates, OCSP responses and CRLs of the document security
// store and of the CMS. A certificate that has expired since, or was
// revoked after that time, still passes. Nothing is fetched unless
// Options.Online is set.
//
// The file is read through an io.ReaderAt: the byte ranges of all
// signatures are hashed in one pass, and memory does not grow with the
// size of the file.
package verify

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"time"

	"hashsign/ltv"
	"hashsign/pades/internal/pdf"
	"hashsign/pades/internal/sigfield"
)

// Errors that callers may want to tell apart. They are wrapped with
// details.
var (
	ErrPasswordNeeded = sigfield.ErrPasswordNeeded
	ErrWrongPassword  = sigfield.ErrWrongPassword
	ErrNotPDF         = pdf.ErrNotPDF
)

// Options controls Document. The zero value validates offline, at the
// current time, with no trust anchor: no path is then trusted.
type Options struct {
	// Anchors are the trust anchors.
	Anchors []*x509.Certificate
	// SystemRoots adds the system's root certificates to the anchors.
	SystemRoots bool
	// Online allows fetching OCSP responses and CRLs for certificates
	// whose revocation data the file does not hold, with HTTP.
	Online bool
	HTTP   *http.Client
	// At is the validation time; zero means the current time.
	At time.Time
	// Password opens encrypted files.
	Password []byte
	// MemoryBudget bounds the PDF reader (0: its default).
	MemoryBudget int64
}

// item is a signature or document timestamp being validated.
type item struct {
	sig    *sigfield.Signature
	rep    *Signature
	ok     bool  // intact
	intErr error // why not
	// for document timestamps: valid as a proof of existence, and its time
	valid   bool
	genTime time.Time
	// for signatures: the signature timestamps
	tokens []*ltv.Token
}

// Document validates the signatures and document timestamps of the PDF
// file r of the given size. An error means the file could not be read as
// a PDF at all; everything else is in the report.
func Document(ctx context.Context, r io.ReaderAt, size int64, opts *Options) (*Report, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	tv := o.At
	if tv.IsZero() {
		tv = time.Now()
	}
	tv = tv.UTC().Truncate(time.Second)
	doc, err := sigfield.Open(r, size, o.Password, o.MemoryBudget)
	if err != nil {
		return nil, err
	}
	rep := &Report{Schema: SchemaVersion, ValidationTime: tv, Size: size, Encrypted: doc.Security != nil,
		Trust: Trust{SystemRoots: o.SystemRoots, Online: o.Online, Anchors: []string{}}, Revisions: []Revision{}, Signatures: []Signature{}}
	for _, a := range o.Anchors {
		rep.Trust.Anchors = append(rep.Trust.Anchors, a.Subject.String())
	}
	fields, err := doc.Fields()
	if err != nil {
		return nil, fmt.Errorf("reading the signature fields: %w", err)
	}
	dss := doc.DSS()
	var items []*item
	for _, f := range fields {
		if f.Value == nil {
			continue
		}
		s := doc.ReadSignature(f, dss.Certs)
		items = append(items, &item{sig: s})
	}
	slices.SortStableFunc(items, func(a, b *item) int { return int(min(max(a.sig.End()-b.sig.End(), -1), 1)) })

	// revisions
	ends, revErr := revisionEnds(doc.Reader)
	for i, e := range ends {
		rep.Revisions = append(rep.Revisions, Revision{Number: i + 1, End: e})
	}
	if revErr != nil {
		rep.Notes = append(rep.Notes, "modifications after signing cannot be analysed: "+revErr.Error())
	} else if last := ends[len(ends)-1]; last < size {
		rep.Notes = append(rep.Notes, fmt.Sprintf("%d bytes follow the last %%%%EOF; they belong to no revision", size-last))
	}

	// integrity: every byte range in one pass
	var ranges []sigfield.Range
	var hashed []*item
	for i, it := range items {
		it.rep = &Signature{Number: i + 1, Field: it.sig.Field.Name, Kind: "signature", SubFilter: it.sig.SubFilter,
			ByteRange: it.sig.ByteRange, Name: it.sig.Name, Reason: it.sig.Reason, Location: it.sig.Location}
		if it.sig.IsDocTimeStamp() {
			it.rep.Kind = "document-timestamp"
		}
		it.rep.CoversWholeFile = it.sig.End() == size
		if revErr == nil {
			it.rep.Revision = revisionOf(ends, it.sig.End())
			if it.rep.Revision > 0 {
				rv := &rep.Revisions[it.rep.Revision-1]
				rv.Signatures = append(rv.Signatures, it.rep.Field)
			}
		}
		if it.sig.SignedData != nil {
			it.rep.Signer = describe(it.sig.SignedData.Signer)
		}
		if it.sig.Err == nil && it.sig.Hash != 0 {
			ranges = append(ranges, sigfield.Range{ByteRange: it.sig.ByteRange, Hash: it.sig.Hash})
			hashed = append(hashed, it)
		}
	}
	sums, err := sigfield.HashRanges(ctx, r, ranges)
	if err != nil {
		return nil, err
	}
	for i, it := range hashed {
		it.intErr = it.sig.CheckDigest(sums[i])
		it.ok = it.intErr == nil
		it.rep.Integrity = integrityCheck(it.intErr)
	}
	for _, it := range items {
		if it.rep.Integrity.Status == "" {
			it.intErr = it.sig.Err
			if it.intErr == nil {
				it.intErr = fmt.Errorf("%w: the byte range uses an unknown digest algorithm", sigfield.ErrUnsupported)
			}
			it.rep.Integrity = integrityCheck(it.intErr)
		}
		it.rep.PAdES = profileCheck(it.sig)
		if it.sig.Token != nil {
			it.genTime = it.sig.Token.GenTime.UTC()
		}
	}

	// modifications
	var changes [][]Change // by revision index
	if revErr == nil {
		changes, err = revisionChanges(ctx, r, doc, ends, o)
		if err != nil {
			rep.Notes = append(rep.Notes, "modifications after signing cannot be analysed: "+err.Error())
			changes = nil
		}
		for i := range changes {
			rep.Revisions[i].Changes = changes[i]
		}
	}

	// trust
	v := &validator{ctx: ctx, tv: tv, pool: dss.Certs, dssOCSPs: dss.OCSPs, dssCRLs: dss.CRLs, fetched: map[string]*onlineData{}}
	if len(o.Anchors) > 0 || o.SystemRoots {
		v.anchors = x509.NewCertPool()
		if o.SystemRoots {
			sys, err := x509.SystemCertPool()
			if err != nil {
				return nil, fmt.Errorf("reading the system roots: %w", err)
			}
			v.anchors = sys
		}
		for _, a := range o.Anchors {
			v.anchors.AddCert(a)
		}
	}
	v.anchorCerts = o.Anchors
	for _, it := range items {
		if sd := it.sig.SignedData; sd != nil {
			v.pool = append(v.pool, sd.Certificates...)
		}
	}
	v.paths = &ltv.Fetcher{HTTP: &http.Client{Transport: offlineTransport{}}, Extra: append(slices.Clone(v.pool), o.Anchors...),
		Roots: v.anchors, Now: func() time.Time { return tv }}
	if o.Online {
		v.online = &ltv.Fetcher{HTTP: o.HTTP, Extra: append(slices.Clone(v.pool), o.Anchors...), Roots: v.anchors, Now: time.Now}
	}

	// document timestamps, newest first: each is proven by the next valid one
	for i := len(items) - 1; i >= 0; i-- {
		it := items[i]
		if !it.sig.IsDocTimeStamp() {
			continue
		}
		v.docTimeStamp(it, items[i+1:])
	}
	for i, it := range items {
		if !it.sig.IsDocTimeStamp() {
			v.signature(it, items[i+1:], doc, ends, revErr == nil, o.Password)
		}
	}
	certLevel := 0
	if p, err := doc.DocMDP(); err == nil {
		certLevel = p
	}
	for _, it := range items {
		it.rep.Modifications = judge(it, items, changes, certLevel, doc)
		if it.rep.Modifications.Verdict == ModDisallowed {
			it.addFinding(finding{TotalFailed, FormatFailure, "the document was modified after signing in a way its signer did not allow"})
		}
		it.settle()
		rep.Signatures = append(rep.Signatures, *it.rep)
	}
	rep.Indication, rep.SubIndication = overall(rep.Signatures)
	return rep, nil
}

// addFinding records a finding on the item's report.
func (it *item) addFinding(f finding) {
	it.rep.Reasons = append(it.rep.Reasons, f.reason)
	if rank(f.indication) > rank(it.rep.Indication) {
		it.rep.Indication, it.rep.SubIndication = f.indication, f.sub
	}
}

// settle sets the indication of a report without findings.
func (it *item) settle() {
	if it.rep.Indication == "" {
		it.rep.Indication = TotalPassed
	}
}

func rank(ind string) int {
	switch ind {
	case TotalFailed:
		return 3
	case Indeterminate:
		return 2
	case TotalPassed:
		return 1
	}
	return 0
}

// overall is the verdict on the document.
func overall(sigs []Signature) (string, string) {
	if len(sigs) == 0 {
		return Indeterminate, SignedDataNotFound
	}
	ind, sub := TotalPassed, ""
	for _, s := range sigs {
		if rank(s.Indication) > rank(ind) {
			ind, sub = s.Indication, s.SubIndication
		}
	}
	return ind, sub
}

// integrityCheck turns an integrity error into a check.
func integrityCheck(err error) Check {
	switch {
	case err == nil:
		return Check{Status: Passed}
	case errors.Is(err, sigfield.ErrUnsupported), errors.Is(err, sigfield.ErrNoSigner):
		return Check{Status: NotChecked, Detail: err.Error()}
	}
	return Check{Status: Failed, Detail: err.Error()}
}

// integrityFinding is the finding of a failed or unchecked integrity.
func integrityFinding(err error) finding {
	switch {
	case errors.Is(err, sigfield.ErrDigest):
		return finding{TotalFailed, HashFailure, err.Error()}
	case errors.Is(err, sigfield.ErrCrypto):
		return finding{TotalFailed, SigCryptoFailure, err.Error()}
	case errors.Is(err, sigfield.ErrNoSigner):
		return finding{Indeterminate, NoSigningCertificateFound, err.Error()}
	case errors.Is(err, sigfield.ErrUnsupported):
		return finding{Indeterminate, Generic, err.Error()}
	}
	return finding{TotalFailed, FormatFailure, err.Error()}
}

// profileCheck says whether s follows the PAdES baseline profile.
func profileCheck(s *sigfield.Signature) Check {
	switch {
	case s.IsDocTimeStamp() && s.SignedData != nil:
		return Check{Status: Passed}
	case s.SignedData == nil:
		return Check{Status: NotChecked, Detail: "the signature value could not be read"}
	case s.SubFilter != sigfield.SubFilterCAdES:
		return Check{Status: Failed, Detail: fmt.Sprintf("sub-filter %s: PAdES baseline signatures are ETSI.CAdES.detached", s.SubFilter)}
	}
	if err := s.SignedData.CheckPAdES(); err != nil {
		return Check{Status: Failed, Detail: err.Error()}
	}
	if s.M == "" {
		return Check{Status: Failed, Detail: "the signature dictionary has no /M"}
	}
	return Check{Status: Passed}
}

// covers reports whether document timestamp dt covers item it: it signs a
// later revision that includes it.
func covers(dt, it *item) bool {
	return dt.sig.End() > it.sig.End()
}

// proof returns the earliest time a valid document timestamp among later
// proves for it, and whether there is one.
func proof(it *item, later []*item) (time.Time, bool) {
	var t time.Time
	for _, dt := range later {
		if dt.sig.IsDocTimeStamp() && dt.valid && covers(dt, it) && (t.IsZero() || dt.genTime.Before(t)) {
			t = dt.genTime
		}
	}
	return t, !t.IsZero()
}

// docTimeStamp validates a document timestamp at the time the later ones
// prove, or at the validation time.
func (v *validator) docTimeStamp(it *item, later []*item) {
	rep := it.rep
	rep.Level = nil
	if !it.ok {
		rep.Time = Time{Source: TimeNone}
		rep.CertificatePath, rep.Revocation = Path{Status: NotChecked, At: v.tv}, Revocation{Status: NotChecked}
		it.addFinding(integrityFinding(it.intErr))
		return
	}
	t := it.genTime
	rep.Time = Time{Value: &t, Source: TimeDocumentTimestamp, Proven: true}
	poe, proven := proof(it, later)
	if !proven {
		poe = v.tv
	}
	tok := it.sig.Token
	path, revo, fs := v.validate(subject{cert: tok.Signer, certs: tok.Certificates, tsa: true, prod: t, poe: poe, proven: proven})
	rep.CertificatePath, rep.Revocation = path, revo
	for _, f := range fs {
		it.addFinding(f)
	}
	it.valid = len(fs) == 0
}

// signature validates a signature at the earliest time proven for it.
func (v *validator) signature(it *item, later []*item, doc *sigfield.Doc, ends []int64, haveRevs bool, password []byte) {
	rep := it.rep
	rep.Level = &Level{Reached: "none"}
	claimed := it.sig.M
	rep.Time = Time{Source: TimeNone, Claimed: claimed}
	if mt, err := parsePDFDate(claimed); err == nil {
		mt = mt.UTC()
		rep.Time = Time{Value: &mt, Source: TimeClaimed, Claimed: claimed}
	}
	if !it.ok {
		rep.CertificatePath, rep.Revocation = Path{Status: NotChecked, At: v.tv}, Revocation{Status: NotChecked}
		it.addFinding(integrityFinding(it.intErr))
		rep.Level.Reason = "the signature is not intact"
		if errors.Is(it.sig.Err, sigfield.ErrUnsupported) {
			rep.Level.Reason = it.sig.Err.Error()
		}
		return
	}
	sd := it.sig.SignedData
	crls, ocsps := sd.RevocationInfo()
	// signature timestamps
	var best time.Time
	source := ""
	poeTS, provenTS := proof(it, later)
	if !provenTS {
		poeTS = v.tv
	}
	for _, der := range sd.SignatureTimeStampTokens() {
		ts := Timestamp{}
		tok, err := ltv.ParseTokenWithCertificates(der, v.pool)
		if err != nil {
			ts.Integrity = Check{Status: Failed, Detail: err.Error()}
			rep.Timestamps = append(rep.Timestamps, ts)
			it.rep.Reasons = append(it.rep.Reasons, "a signature timestamp is broken: "+err.Error())
			continue
		}
		ts.Time = tok.GenTime.UTC()
		ts.TSA = describe(tok.Signer)
		if imprint := digest(tok.Hash, sd.Signature); !slices.Equal(imprint, tok.Imprint) {
			ts.Integrity = Check{Status: Failed, Detail: "the timestamp imprint is not the digest of the signature value"}
			rep.Timestamps = append(rep.Timestamps, ts)
			it.rep.Reasons = append(it.rep.Reasons, "a signature timestamp is broken: "+ts.Integrity.Detail)
			continue
		}
		ts.Integrity = Check{Status: Passed}
		path, revo, fs := v.validate(subject{cert: tok.Signer, certs: tok.Certificates, tsa: true, prod: ts.Time, poe: poeTS, proven: provenTS})
		ts.CertificatePath, ts.Revocation = path, revo
		ts.Valid = len(fs) == 0
		for _, f := range fs {
			it.rep.Reasons = append(it.rep.Reasons, "signature timestamp: "+f.reason)
		}
		if ts.Valid {
			it.tokens = append(it.tokens, tok)
			if best.IsZero() || ts.Time.Before(best) {
				best, source = ts.Time, TimeSignatureTimestamp
			}
		}
		rep.Timestamps = append(rep.Timestamps, ts)
	}
	if t, ok := proof(it, later); ok && (best.IsZero() || t.Before(best)) {
		best, source = t, TimeDocumentTimestamp
	}
	proven := !best.IsZero()
	prod, poe := best, best
	if proven {
		rep.Time = Time{Value: &best, Source: source, Proven: true, Claimed: claimed}
	} else {
		prod, poe = v.tv, v.tv
	}
	sub := subject{cert: sd.Signer, certs: sd.Certificates, crls: crls, ocsps: ocsps, prod: prod, poe: poe, proven: proven}
	path, revo, fs, chain := v.validateChain(sub)
	rep.CertificatePath, rep.Revocation = path, revo
	for _, f := range fs {
		it.addFinding(f)
	}
	// The level is a matter of what the file holds, whether or not the
	// anchors make its timestamps trusted: its time is that of the
	// earliest intact timestamp, and B-LT asks for the DSS's data then.
	structural := v.tv
	for _, ts := range rep.Timestamps {
		if ts.Integrity.Status == Passed && ts.Time.Before(structural) {
			structural = ts.Time
		}
	}
	for _, dt := range later {
		if dt.sig.IsDocTimeStamp() && dt.ok && covers(dt, it) && dt.genTime.Before(structural) {
			structural = dt.genTime
		}
	}
	sub.prod, sub.poe, sub.dssOnly = structural, structural, true
	rep.Level = level(it, later, v.revocation(sub, chain, nil), doc, ends, haveRevs, password)
}

// level returns the PAdES baseline level that signature it reaches.
func level(it *item, later []*item, revo Revocation, doc *sigfield.Doc, ends []int64, haveRevs bool, password []byte) *Level {
	if it.rep.PAdES.Status != Passed {
		return &Level{Reached: "none", Reason: "not a PAdES baseline signature: " + it.rep.PAdES.Detail}
	}
	l := &Level{Reached: "B-B"}
	timed := false
	for _, ts := range it.rep.Timestamps {
		timed = timed || ts.Integrity.Status == Passed
	}
	for _, dt := range later {
		timed = timed || dt.sig.IsDocTimeStamp() && dt.ok && covers(dt, it)
	}
	if !timed {
		l.Reason = "no intact timestamp covers it (B-T)"
		return l
	}
	l.Reached = "B-T"
	fromDSS := revo.Status == StatusGood
	for _, c := range revo.Checks {
		fromDSS = fromDSS && c.Source == "dss"
	}
	if !fromDSS {
		l.Reason = "the DSS does not hold the revocation data of its certificate path (B-LT)"
		return l
	}
	l.Reached = "B-LT"
	for _, dt := range later {
		if dt.sig.IsDocTimeStamp() && dt.ok && covers(dt, it) && dssBefore(doc, dt, ends, haveRevs, password) {
			l.Reached, l.Reason = "B-LTA", ""
			return l
		}
	}
	l.Reason = "no document timestamp covers the DSS (B-LTA)"
	return l
}

// dssBefore reports whether the revision that document timestamp dt
// signs holds a DSS: the DSS is then among what dt covers.
func dssBefore(doc *sigfield.Doc, dt *item, ends []int64, haveRevs bool, password []byte) bool {
	end := dt.sig.End()
	if !haveRevs || end == doc.Reader.Size() {
		return doc.Catalog.Has("DSS")
	}
	sub, err := sigfield.Open(io.NewSectionReader(doc.Reader.ReaderAt(), 0, end), end, password, 0)
	return err == nil && sub.Catalog.Has("DSS")
}

func digest(h crypto.Hash, b []byte) []byte {
	hh := h.New()
	hh.Write(b)
	return hh.Sum(nil)
}
