package pades

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"hashsign/pades/internal/mdp"
	"hashsign/pades/internal/pdf"
)

// CertifyLevel is the DocMDP permission level (/P) of a certification
// signature: the changes that it allows after it (ISO 32000-2 §12.8.2.2).
type CertifyLevel int

// The DocMDP levels.
const (
	// CertifyNoChanges allows no change; ISO 32000-2 still allows the
	// validation data (/DSS) and document timestamps of B-LT and B-LTA.
	CertifyNoChanges CertifyLevel = 1
	// CertifyFormFilling allows filling in the form and signing its
	// existing empty signature fields.
	CertifyFormFilling CertifyLevel = 2
	// CertifyAnnotations allows what CertifyFormFilling allows, and
	// creating, changing and deleting annotations.
	CertifyAnnotations CertifyLevel = 3
)

// LockAction says which fields a FieldMDP lock covers.
type LockAction string

// The lock actions of ISO 32000-2 Table 236.
const (
	LockAll     LockAction = "All"     // every field of the form
	LockInclude LockAction = "Include" // the fields named
	LockExclude LockAction = "Exclude" // every field but those named
)

// FieldLock is a FieldMDP lock: the form fields that signing a field
// locks (ISO 32000-2 §12.7.5.5). It is written as the field's /Lock and,
// in the signature, as a /Reference with /TransformMethod /FieldMDP.
type FieldLock struct {
	Action LockAction
	// Fields are the fully qualified names of the fields of LockInclude
	// and LockExclude; a name also covers the fields below it.
	Fields []string
}

// ParseLock parses a lock written as "all", "include:A,B" or
// "exclude:A,B" (fully qualified field names, separated by commas).
func ParseLock(s string) (*FieldLock, error) {
	kind, names, _ := strings.Cut(s, ":")
	var l FieldLock
	switch strings.ToLower(strings.TrimSpace(kind)) {
	case "all":
		if strings.TrimSpace(names) != "" {
			return nil, fmt.Errorf("lock %q: \"all\" takes no field names", s)
		}
		return &FieldLock{Action: LockAll}, nil
	case "include":
		l.Action = LockInclude
	case "exclude":
		l.Action = LockExclude
	default:
		return nil, fmt.Errorf("lock %q: want all, include:A,B or exclude:A,B (field names)", s)
	}
	for _, n := range strings.Split(names, ",") {
		if n = strings.TrimSpace(n); n != "" {
			l.Fields = append(l.Fields, n)
		}
	}
	if len(l.Fields) == 0 {
		return nil, fmt.Errorf("lock %q: name the fields after the colon", s)
	}
	return &l, nil
}

func (l *FieldLock) String() string { return l.mdp().String() }

func (l *FieldLock) mdp() *mdp.Lock {
	return &mdp.Lock{Action: mdp.Action(l.Action), Fields: l.Fields}
}

// Errors of the DocMDP and FieldMDP permissions, wrapped with details.
var (
	// ErrCertifiedNewField reports a certified document (DocMDP /P 2 or
	// 3) that a signature would change by adding a signature field.
	ErrCertifiedNewField = errors.New("certified PDF: its DocMDP permissions allow signing only into its existing empty signature fields")
	// ErrLocked reports a field that the FieldMDP lock of an earlier
	// signature covers.
	ErrLocked = errors.New("the field is locked by an earlier signature (FieldMDP)")
	// ErrNotFirstSignature reports a certification asked of a document
	// that already holds signatures.
	ErrNotFirstSignature = errors.New("a certification signature must be the document's first signature")
)

// checkMDP refuses a signature that the permissions of the document forbid:
// any under DocMDP /P 1, a new field under /P 2 or 3, a field that an
// earlier signature's FieldMDP lock covers, and a certification that would
// not be the first signature. Document timestamps are always allowed
// (ISO 32000-2 §12.8.2.2.1).
func (d *document) checkMDP(o *PrepareOptions, plan *fieldPlan, fields []formField) error {
	perm, _, err := mdp.DocMDP(d.rd, d.catalog)
	if err != nil {
		return fmt.Errorf("reading the certification signature: %w", err)
	}
	if o.DocTimeStamp {
		return nil
	}
	locks, err := d.fieldLocks(fields)
	if err != nil {
		return err
	}
	// a PDF 2.0 lock with /P sets the DocMDP level once its field is signed
	lockP, lockBy := mdp.Perm(0), ""
	for name, l := range locks {
		if l.P != 0 && (lockP == 0 || l.P < lockP || l.P == lockP && name < lockBy) {
			lockP, lockBy = l.P, name
		}
	}
	if o.Certify != 0 {
		if o.Certify < CertifyNoChanges || o.Certify > CertifyAnnotations {
			return fmt.Errorf("certification level %d: use 1 (no changes), 2 (form filling and signing) or 3 (also annotations)", int(o.Certify))
		}
		var signed []string
		for _, f := range fields {
			if f.signed() {
				signed = append(signed, strconv.Quote(f.Name))
			}
		}
		switch {
		case perm != 0:
			return fmt.Errorf("%w: the document is already certified (DocMDP /P %d)", ErrNotFirstSignature, int(perm))
		case len(signed) > 0:
			return fmt.Errorf("%w: it already holds signatures in %s", ErrNotFirstSignature, strings.Join(signed, ", "))
		}
	}
	if perm == mdp.NoChanges {
		return ErrCertified
	}
	if lockP == mdp.NoChanges {
		return fmt.Errorf("%w: the signature in field %q locked the document: its lock sets DocMDP /P 1, which allows no change", ErrLocked, lockBy)
	}
	if perm != 0 && plan.existing == nil {
		return fmt.Errorf("%w (/P %d: %v): a new signature field is a change that Acrobat counts against the certification; %s",
			ErrCertifiedNewField, int(perm), perm, emptyFieldList(fields))
	}
	if lockP != 0 && plan.existing == nil {
		return fmt.Errorf("%w: the lock of the signature in field %q sets DocMDP /P %d (%v), which allows signing only into existing empty signature fields; %s",
			ErrLocked, lockBy, int(lockP), lockP, emptyFieldList(fields))
	}
	if f := plan.existing; f != nil {
		if by := lockedBy(locks, f.Name); by != "" {
			return fmt.Errorf("%w: signature field %q is locked by the signature in field %q (lock %s)", ErrLocked, f.Name, by, locks[by])
		}
	}
	if l := plan.lock; l != nil && l.Action != mdp.All {
		for _, n := range l.Fields {
			if n != plan.name && !slices.ContainsFunc(fields, func(f formField) bool {
				return f.Name == n || strings.HasPrefix(f.Name, n+".")
			}) {
				return fmt.Errorf("the lock names field %q, which the document lacks", n)
			}
		}
	}
	return nil
}

// sigReferences returns the signature reference dictionaries of the new
// signature: DocMDP when it certifies, FieldMDP when its field locks
// others.
func sigReferences(o *PrepareOptions, plan *fieldPlan) pdf.Array {
	var refs pdf.Array
	if o.Certify != 0 && !o.DocTimeStamp {
		refs = append(refs, mdp.DocMDPReference(mdp.Perm(o.Certify)))
	}
	lock := plan.lock
	if lock == nil && plan.existing != nil {
		lock = plan.existing.lock
	}
	if lock != nil && !o.DocTimeStamp {
		refs = append(refs, lock.FieldMDPReference())
	}
	return refs
}

// fieldLocks returns the locks in force: for each signed field whose
// signature locks other fields, its lock, read from the field's /Lock or
// from the FieldMDP reference of its signature.
func (d *document) fieldLocks(fields []formField) (map[string]*mdp.Lock, error) {
	locks := map[string]*mdp.Lock{}
	for _, f := range fields {
		if !f.signed() {
			continue
		}
		l := f.lock
		if l == nil {
			var err error
			// a lock that does not parse locks nothing for validators either
			if l, err = mdp.FieldMDP(d.rd, f.Value); errors.Is(err, pdf.ErrLimit) {
				return nil, fmt.Errorf("reading the FieldMDP lock of signature field %q: %w", f.Name, err)
			}
		}
		if l != nil {
			locks[f.Name] = l
		}
	}
	return locks, nil
}

// lockedBy returns the name of a signed field whose lock covers the field
// name, or "".
func lockedBy(locks map[string]*mdp.Lock, name string) string {
	var by []string
	for signer, l := range locks {
		if signer != name && l.Locks(name) {
			by = append(by, signer)
		}
	}
	if len(by) == 0 {
		return ""
	}
	return slices.Min(by)
}
