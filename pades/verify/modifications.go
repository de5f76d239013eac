package verify

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"hashsign/pades/internal/pdf"
	"hashsign/pades/internal/sigfield"
)

// revisionChanges compares each revision with the one before it and
// returns the changes of each, by revision index (the first has none).
func revisionChanges(ctx context.Context, r io.ReaderAt, doc *sigfield.Doc, ends []int64, o Options) ([][]Change, error) {
	out := make([][]Change, len(ends))
	if len(ends) < 2 {
		return out, nil
	}
	open := func(end int64) (*sigfield.Doc, error) {
		d, err := sigfield.Open(io.NewSectionReader(r, 0, end), end, o.Password, o.MemoryBudget)
		if err != nil {
			return nil, fmt.Errorf("opening the revision that ends at byte %d: %w", end, err)
		}
		return d, nil
	}
	prev, err := open(ends[0])
	if err != nil {
		return nil, err
	}
	for i := 1; i < len(ends); i++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var listed []int
		for j, s := range doc.Reader.Sections {
			if s.Offset < ends[i-1] || s.Offset >= ends[i] {
				continue
			}
			entries, err := doc.Reader.SectionEntries(j)
			if err != nil {
				return nil, fmt.Errorf("reading the cross-reference section at byte %d: %w", s.Offset, err)
			}
			for num := range entries {
				listed = append(listed, num)
			}
		}
		cur, err := open(ends[i])
		if err != nil {
			return nil, err
		}
		out[i] = diffRevisions(r, prev, cur, listed)
		prev = cur
	}
	return out, nil
}

// permissions are what the signers allowed for the changes after a
// revision.
type permissions struct {
	p         int // DocMDP level: 1, 2 or 3 (3 when the document is not certified)
	certified bool
	all       bool            // a FieldMDP lock freezes every field
	locked    map[string]bool // fields a FieldMDP lock freezes
	except    []map[string]bool
}

// permissionsAfter returns the permissions in force for an update that
// follows revision rev: the certification's DocMDP level, and the FieldMDP
// locks of the signatures of revisions up to rev.
func permissionsAfter(rev int, items []*item, certLevel int, doc *sigfield.Doc) *permissions {
	pm := &permissions{p: 3, locked: map[string]bool{}}
	if certLevel > 0 {
		pm.p, pm.certified = certLevel, true
	}
	for _, it := range items {
		if it.rep.Revision == 0 || it.rep.Revision > rev {
			continue
		}
		lock, _ := doc.Reader.ResolveDict(it.sig.Field.Dict.Get("Lock"))
		if lock == nil {
			continue
		}
		if p, ok := pdf.Int(lock.Get("P")); ok && p >= 1 && int(p) < pm.p {
			pm.p = int(p)
		}
		fieldsObj, _ := doc.Reader.Resolve(lock.Get("Fields"))
		fields, _ := fieldsObj.(pdf.Array)
		names := map[string]bool{}
		for _, f := range fields {
			if s, ok := f.(pdf.String); ok {
				names[pdf.DecodeTextString(s.Value)] = true
			}
		}
		switch lock.Get("Action") {
		case pdf.Name("All"):
			pm.all = true
		case pdf.Name("Include"):
			for n := range names {
				pm.locked[n] = true
			}
		case pdf.Name("Exclude"):
			pm.except = append(pm.except, names)
		}
	}
	return pm
}

// isLocked reports whether a FieldMDP lock freezes field name (or one of
// its ancestors).
func (pm *permissions) isLocked(name string) bool {
	if pm.all && name != "" {
		return true
	}
	for n := name; n != ""; {
		if pm.locked[n] {
			return true
		}
		for _, ex := range pm.except {
			if !ex[n] {
				return true
			}
		}
		i := strings.LastIndexByte(n, '.')
		if i < 0 {
			break
		}
		n = n[:i]
	}
	return false
}

// allows judges one change.
func (pm *permissions) allows(c Change) (bool, string) {
	switch c.Kind {
	case ChangeDSS, ChangeDocTimeStamp:
		return true, ""
	case ChangeMetadata:
		return true, ""
	case ChangeSignature:
		if pm.p < 2 {
			return false, "the certification allows no change but DSS and document timestamps (DocMDP P=1)"
		}
		return true, ""
	case ChangeFormFill:
		if pm.p < 2 {
			return false, "the certification allows no form filling (DocMDP P=1)"
		}
		if pm.isLocked(c.Field) {
			return false, fmt.Sprintf("field %q is locked by a signature (FieldMDP)", c.Field)
		}
		return true, ""
	case ChangeAnnotation:
		if pm.p < 3 {
			return false, fmt.Sprintf("the certification allows no annotation (DocMDP P=%d)", pm.p)
		}
		return true, ""
	}
	return false, "never allowed after signing"
}

func (pm *permissions) String() string {
	var s string
	switch {
	case !pm.certified && pm.p == 3:
		s = "not certified: signatures, form filling and annotations are allowed"
	case pm.p == 1:
		s = "DocMDP P=1: no change but DSS and document timestamps"
	case pm.p == 2:
		s = "DocMDP P=2: form filling and signing"
	default:
		s = "DocMDP P=3: form filling, signing and annotations"
	}
	switch {
	case pm.all:
		s += "; FieldMDP locks every field"
	case len(pm.locked) > 0 || len(pm.except) > 0:
		s += "; FieldMDP locks some fields"
	}
	return s
}

// judge judges the changes made after signature it.
func judge(it *item, items []*item, changes [][]Change, certLevel int, doc *sigfield.Doc) Modifications {
	rev := it.rep.Revision
	switch {
	case changes == nil:
		return Modifications{Verdict: ModUnknown, Detail: "the revisions of the file could not be told apart"}
	case rev == 0:
		return Modifications{Verdict: ModUnknown, Detail: "the byte range does not end where a revision ends"}
	}
	m := Modifications{Verdict: ModNone}
	for r := rev; r < len(changes); r++ {
		pm := permissionsAfter(r, items, certLevel, doc)
		m.Permissions = permissionsAfter(rev, items, certLevel, doc).String()
		for _, c := range changes[r] {
			ok, why := pm.allows(c)
			m.Changes = append(m.Changes, JudgedChange{Revision: r + 1, Change: c, Allowed: ok, Why: why})
			switch {
			case !ok:
				m.Verdict = ModDisallowed
			case m.Verdict == ModNone:
				m.Verdict = ModAllowed
			}
		}
	}
	return m
}

// parsePDFDate parses a PDF date string, D:YYYYMMDDHHmmSSOHH'mm', with
// every part after the year optional.
func parsePDFDate(s string) (time.Time, error) {
	s = strings.TrimPrefix(strings.TrimSpace(s), "D:")
	if len(s) < 4 {
		return time.Time{}, fmt.Errorf("date %q is too short", s)
	}
	num := func(from, n, def int) (int, bool) {
		if len(s) < from+n {
			return def, true
		}
		v, err := strconv.Atoi(s[from : from+n])
		return v, err == nil
	}
	parts := []struct{ from, n, def int }{{0, 4, 0}, {4, 2, 1}, {6, 2, 1}, {8, 2, 0}, {10, 2, 0}, {12, 2, 0}}
	var v [6]int
	for i, p := range parts {
		x, ok := num(p.from, p.n, p.def)
		if !ok {
			return time.Time{}, fmt.Errorf("date %q is malformed", s)
		}
		v[i] = x
	}
	loc := time.UTC
	if len(s) > 14 && (s[14] == '+' || s[14] == '-') {
		tz := strings.NewReplacer("'", "").Replace(s[15:])
		h, _ := strconv.Atoi(tz[:min(2, len(tz))])
		mm := 0
		if len(tz) >= 4 {
			mm, _ = strconv.Atoi(tz[2:4])
		}
		off := h*3600 + mm*60
		if s[14] == '-' {
			off = -off
		}
		loc = time.FixedZone("", off)
	}
	return time.Date(v[0], time.Month(v[1]), v[2], v[3], v[4], v[5], 0, loc), nil
}
