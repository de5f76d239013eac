package verify

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// WriteText writes the human summary of the report: the verdict, then
// for each signature its signer, time, level, indication, and the
// modifications after it.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	verdict := r.Indication
	if r.SubIndication != "" {
		verdict += "/" + r.SubIndication
	}
	fmt.Fprintf(&b, "verdict: %s (%d signature(s), %d revision(s), validated at %s)\n", verdict, len(r.Signatures), len(r.Revisions), r.ValidationTime.Format(time.RFC3339))
	trust := "no trust anchor"
	if len(r.Trust.Anchors) > 0 {
		trust = "anchors: " + strings.Join(r.Trust.Anchors, "; ")
	}
	if r.Trust.SystemRoots {
		trust += ", system roots"
	}
	if r.Trust.Online {
		trust += ", online revocation checks"
	} else {
		trust += ", offline"
	}
	fmt.Fprintf(&b, "trust: %s\n", trust)
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	for _, s := range r.Signatures {
		b.WriteString("\n")
		b.WriteString(s.summary())
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// summary describes one signature in a few lines.
func (s *Signature) summary() string {
	var b strings.Builder
	kind := "signature"
	if s.Kind == "document-timestamp" {
		kind = "document timestamp"
	}
	ind := s.Indication
	if s.SubIndication != "" {
		ind += "/" + s.SubIndication
	}
	fmt.Fprintf(&b, "%d. %s %q (%s), revision %d: %s\n", s.Number, kind, s.Field, s.SubFilter, s.Revision, ind)
	if s.Signer != nil {
		who := "signer"
		if s.Kind == "document-timestamp" {
			who = "TSA"
		}
		fmt.Fprintf(&b, "   %s: %s\n", who, s.Signer.Subject)
	}
	fmt.Fprintf(&b, "   time: %s\n", s.Time.describe())
	fmt.Fprintf(&b, "   integrity: %s\n", s.Integrity.describe())
	fmt.Fprintf(&b, "   certificate path: %s\n", s.CertificatePath.describe())
	fmt.Fprintf(&b, "   revocation: %s\n", s.Revocation.describe())
	for _, ts := range s.Timestamps {
		fmt.Fprintf(&b, "   signature timestamp %s: integrity %s, path %s, valid %v\n", ts.Time.Format(time.RFC3339), ts.Integrity.Status, ts.CertificatePath.Status, ts.Valid)
	}
	if s.Level != nil {
		fmt.Fprintf(&b, "   PAdES level: %s", s.Level.Reached)
		if s.Level.Reason != "" {
			fmt.Fprintf(&b, " (%s)", s.Level.Reason)
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "   modifications after signing: %s\n", s.Modifications.Verdict)
	for _, c := range s.Modifications.Changes {
		verdict := "allowed"
		if !c.Allowed {
			verdict = "DISALLOWED: " + c.Why
		}
		fmt.Fprintf(&b, "     revision %d: %s (%s)\n", c.Revision, c.Description, verdict)
	}
	if s.Modifications.Detail != "" {
		fmt.Fprintf(&b, "     %s\n", s.Modifications.Detail)
	}
	for _, r := range s.Reasons {
		fmt.Fprintf(&b, "   reason: %s\n", r)
	}
	return b.String()
}

func (t Time) describe() string {
	switch {
	case t.Value == nil:
		return "unknown"
	case t.Proven:
		return fmt.Sprintf("%s (proven by a %s)", t.Value.Format(time.RFC3339), strings.ReplaceAll(t.Source, "-", " "))
	}
	return fmt.Sprintf("%s (claimed by /M, not proven)", t.Value.Format(time.RFC3339))
}

func (c Check) describe() string {
	if c.Detail == "" {
		return c.Status
	}
	return c.Status + ": " + c.Detail
}

func (p Path) describe() string {
	var names []string
	for _, c := range p.Chain {
		names = append(names, c.Subject)
	}
	s := p.Status
	if len(names) > 0 {
		s += " [" + strings.Join(names, " <- ") + "]"
	}
	if p.Detail != "" {
		s += ": " + p.Detail
	}
	return s
}

func (r Revocation) describe() string {
	if r.Status == "" {
		return NotChecked
	}
	var parts []string
	for _, c := range r.Checks {
		p := c.Certificate + " " + c.Status
		if c.Source != "" {
			p += " (" + c.Kind + " from " + c.Source + ")"
		}
		parts = append(parts, p)
	}
	if len(parts) == 0 {
		return r.Status
	}
	return r.Status + ": " + strings.Join(parts, "; ")
}
