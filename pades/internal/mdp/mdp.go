// Package mdp reads and writes the modification detection and prevention
// permissions of a PDF (ISO 32000-2 §12.8.2.2 to §12.8.2.4): the DocMDP
// level of a certification signature, and the FieldMDP locks that signing
// a field puts on other fields.
//
// A certification signature is the one that the catalog's /Perms /DocMDP
// names; its signature dictionary holds a /Reference entry with
// /TransformMethod /DocMDP whose /TransformParams /P is the level. A
// signature field's /Lock (a /SigFieldLock dictionary) names the fields
// that signing it locks; the signature dictionary then holds a /Reference
// with /TransformMethod /FieldMDP and the same /Action and /Fields.
package mdp

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"hashsign/pades/internal/pdf"
)

// Perm is a DocMDP permission level, the /P of the transform parameters.
type Perm int

// The DocMDP levels.
const (
	NoChanges   Perm = 1 // no change at all (ISO 32000-2 still allows DSS and document timestamps)
	FormFilling Perm = 2 // filling in forms, instantiating page templates, signing
	Annotations Perm = 3 // the same, and creating, deleting and changing annotations
)

func (p Perm) String() string {
	switch p {
	case NoChanges:
		return "no changes"
	case FormFilling:
		return "form filling and signing"
	case Annotations:
		return "form filling, signing and annotations"
	}
	return fmt.Sprintf("Perm(%d)", int(p))
}

// transformVersion is the /V of the transform parameters (ISO 32000-2
// Tables 257 and 258).
const transformVersion = pdf.Name("1.2")

// DocMDP returns the level of the document's certification signature and
// that signature's dictionary, or 0 and nil when the document is not
// certified. A certification signature without /P has level 2, the
// default of ISO 32000-2 Table 257.
func DocMDP(rd *pdf.Reader, catalog *pdf.Dict) (Perm, *pdf.Dict, error) {
	perms, err := rd.ResolveDict(catalog.Get("Perms"))
	if err != nil {
		return 0, nil, fmt.Errorf("reading the catalog's /Perms: %w", err)
	}
	sig, err := rd.ResolveDict(perms.Get("DocMDP"))
	if err != nil {
		return 0, nil, fmt.Errorf("reading the certification signature (/Perms /DocMDP): %w", err)
	}
	if sig == nil {
		return 0, nil, nil
	}
	p := FormFilling
	params, err := transformParams(rd, sig, "DocMDP")
	if err != nil {
		return 0, nil, err
	}
	if v, ok := pdf.Int(params.Get("P")); ok && v >= 1 && v <= 3 {
		p = Perm(v)
	}
	return p, sig, nil
}

// transformParams returns the /TransformParams of the /Reference entry of
// sig whose /TransformMethod is method, or nil.
func transformParams(rd *pdf.Reader, sig *pdf.Dict, method pdf.Name) (*pdf.Dict, error) {
	refs, err := rd.Resolve(sig.Get("Reference"))
	if err != nil {
		return nil, fmt.Errorf("reading the signature's /Reference: %w", err)
	}
	arr, _ := refs.(pdf.Array)
	for _, r := range arr {
		ref, err := rd.ResolveDict(r)
		if err != nil {
			return nil, fmt.Errorf("reading a signature reference dictionary: %w", err)
		}
		if ref == nil || ref.Get("TransformMethod") != method {
			continue
		}
		params, err := rd.ResolveDict(ref.Get("TransformParams"))
		if err != nil {
			return nil, fmt.Errorf("reading the %s transform parameters: %w", method, err)
		}
		if params == nil {
			params = pdf.NewDict()
		}
		return params, nil
	}
	return nil, nil
}

// DocMDPReference returns the signature reference dictionary that makes a
// signature a certification signature of level p.
func DocMDPReference(p Perm) *pdf.Dict {
	params := pdf.NewDict()
	params.Set("Type", pdf.Name("TransformParams"))
	params.Set("P", pdf.Integer(p))
	params.Set("V", transformVersion)
	return sigRef("DocMDP", params)
}

func sigRef(method pdf.Name, params *pdf.Dict) *pdf.Dict {
	d := pdf.NewDict()
	d.Set("Type", pdf.Name("SigRef"))
	d.Set("TransformMethod", method)
	d.Set("TransformParams", params)
	return d
}

// Action is the /Action of a lock: which fields it locks.
type Action string

// The actions of ISO 32000-2 Table 236.
const (
	All     Action = "All"     // every field of the document
	Include Action = "Include" // the fields named
	Exclude Action = "Exclude" // every field but those named
)

// Lock is a FieldMDP lock: the fields that a signature locks.
type Lock struct {
	Action Action
	Fields []string // fully qualified field names (Include and Exclude)
	// P is the /P of a PDF 2.0 lock: the DocMDP level that the document
	// has once the field is signed (0: none).
	P Perm
}

// Locks reports whether the lock covers the field of the fully qualified
// name. A name in Fields covers that field and the fields below it.
func (l *Lock) Locks(name string) bool {
	if l == nil {
		return false
	}
	named := slices.ContainsFunc(l.Fields, func(f string) bool {
		return f == name || strings.HasPrefix(name, f+".")
	})
	switch l.Action {
	case All:
		return true
	case Include:
		return named
	case Exclude:
		return !named
	}
	return false
}

// String returns the lock in the command-line form: all, include:A,B or
// exclude:A,B.
func (l *Lock) String() string {
	if l.Action == All {
		return "all"
	}
	return strings.ToLower(string(l.Action)) + ":" + strings.Join(l.Fields, ",")
}

// Check reports an action that ISO 32000-2 does not define, or Include
// and Exclude without field names.
func (l *Lock) Check() error {
	switch l.Action {
	case All:
		return nil
	case Include, Exclude:
		if len(l.Fields) == 0 {
			return fmt.Errorf("a lock with /Action /%s needs field names", l.Action)
		}
		return nil
	}
	return fmt.Errorf("unknown lock action %q: use All, Include or Exclude", l.Action)
}

// ErrNoLock reports a dictionary that holds no lock.
var ErrNoLock = errors.New("no lock")

// ReadLock reads a lock from a field's /Lock dictionary or from FieldMDP
// transform parameters. It returns ErrNoLock when o is null.
func ReadLock(rd *pdf.Reader, o pdf.Object) (*Lock, error) {
	d, err := rd.ResolveDict(o)
	if err != nil {
		return nil, err
	}
	if d == nil {
		return nil, ErrNoLock
	}
	a, _ := d.Get("Action").(pdf.Name)
	l := &Lock{Action: Action(a)}
	fields, err := rd.Resolve(d.Get("Fields"))
	if err != nil {
		return nil, fmt.Errorf("reading the lock's /Fields: %w", err)
	}
	arr, _ := fields.(pdf.Array)
	for _, f := range arr {
		f, err := rd.Resolve(f)
		if err != nil {
			return nil, fmt.Errorf("reading the lock's /Fields: %w", err)
		}
		if s, ok := f.(pdf.String); ok {
			l.Fields = append(l.Fields, pdf.DecodeTextString(s.Value))
		}
	}
	if p, ok := pdf.Int(d.Get("P")); ok && p >= 1 && p <= 3 {
		l.P = Perm(p)
	}
	if err := l.Check(); err != nil {
		return nil, err
	}
	return l, nil
}

// FieldMDP returns the lock that the signature dictionary sig records in
// its FieldMDP reference, or nil.
func FieldMDP(rd *pdf.Reader, sig *pdf.Dict) (*Lock, error) {
	params, err := transformParams(rd, sig, "FieldMDP")
	if err != nil || params == nil {
		return nil, err
	}
	return ReadLock(rd, params)
}

func (l *Lock) entries(d *pdf.Dict) {
	d.Set("Action", pdf.Name(l.Action))
	if l.Action != All {
		fields := make(pdf.Array, len(l.Fields))
		for i, f := range l.Fields {
			fields[i] = pdf.TextString(f)
		}
		d.Set("Fields", fields)
	}
}

// LockDict returns the field's /Lock dictionary of l.
func (l *Lock) LockDict() *pdf.Dict {
	d := pdf.NewDict()
	d.Set("Type", pdf.Name("SigFieldLock"))
	l.entries(d)
	return d
}

// FieldMDPReference returns the signature reference dictionary that
// records l in the signature of the locking field.
func (l *Lock) FieldMDPReference() *pdf.Dict {
	params := pdf.NewDict()
	params.Set("Type", pdf.Name("TransformParams"))
	l.entries(params)
	params.Set("V", transformVersion)
	return sigRef("FieldMDP", params)
}
