package mdp

import (
	"bytes"
	"fmt"
	"testing"

	"hashsign/pades/internal/pdf"
)

func TestLocks(t *testing.T) {
	for _, c := range []struct {
		lock   Lock
		name   string
		locked bool
	}{
		{Lock{Action: All}, "Anything", true},
		{Lock{Action: Include, Fields: []string{"a.b"}}, "a.b", true},
		{Lock{Action: Include, Fields: []string{"a.b"}}, "a.b.c", true}, // a field below a name
		{Lock{Action: Include, Fields: []string{"a.b"}}, "a.bc", false},
		{Lock{Action: Include, Fields: []string{"a.b"}}, "a", false},
		{Lock{Action: Exclude, Fields: []string{"a"}}, "a.x", false},
		{Lock{Action: Exclude, Fields: []string{"a"}}, "b", true},
		{Lock{Action: "Other", Fields: []string{"a"}}, "a", false},
	} {
		if got := c.lock.Locks(c.name); got != c.locked {
			t.Errorf("%s locks %q: %v, want %v", c.lock.String(), c.name, got, c.locked)
		}
	}
	var none *Lock
	if none.Locks("a") {
		t.Error("a nil lock locks")
	}
}

// doc returns a reader of a one-page file whose object 4 is obj.
func doc(t *testing.T, obj string) *pdf.Reader {
	t.Helper()
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R /Perms << /DocMDP 3 0 R >> >>",
		"<< /Type /Pages /Kids [] /Count 0 >>",
		"<< /Type /Sig /Reference [4 0 R] >>",
		obj,
	}
	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n")
	var offs []int
	for i, o := range objs {
		offs = append(offs, b.Len())
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f\r\n", len(objs)+1)
	for _, o := range offs {
		fmt.Fprintf(&b, "%010d 00000 n\r\n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, xref)
	rd, err := pdf.Open(bytes.NewReader(b.Bytes()), int64(b.Len()))
	if err != nil {
		t.Fatal(err)
	}
	return rd
}

// TestRead reads the DocMDP level of a certification signature (2 when
// its /P is missing or out of range) and the FieldMDP lock of a
// signature's reference, with a PDF 2.0 /P; references of other methods
// and malformed locks are no lock.
func TestRead(t *testing.T) {
	for _, c := range []struct {
		ref  string
		p    Perm
		lock string // Lock.String and /P, or "" for none
		err  bool
	}{
		{"<< /TransformMethod /DocMDP /TransformParams << /P 1 >> >>", NoChanges, "", false},
		{"<< /TransformMethod /DocMDP /TransformParams << /P 3 >> >>", Annotations, "", false},
		{"<< /TransformMethod /DocMDP >>", FormFilling, "", false},
		{"<< /TransformMethod /DocMDP /TransformParams << /P 9 >> >>", FormFilling, "", false},
		{"<< /TransformMethod /FieldMDP /TransformParams << /Action /Include /Fields [(A) (B.c)] >> >>", FormFilling, "include:A,B.c P0", false},
		{"<< /TransformMethod /FieldMDP /TransformParams << /Action /All /P 1 >> >>", FormFilling, "all P1", false},
		{"<< /TransformMethod /FieldMDP /TransformParams << /Action /Exclude >> >>", FormFilling, "", true},
		{"<< /TransformMethod /UR3 >>", FormFilling, "", false},
	} {
		rd := doc(t, c.ref)
		cat, _ := rd.ResolveDict(pdf.Ref{Num: 1})
		p, sig, err := DocMDP(rd, cat)
		if err != nil || sig == nil {
			t.Fatalf("%s: DocMDP: %v", c.ref, err)
		}
		if p != c.p && c.lock == "" {
			t.Errorf("%s: DocMDP level %v, want %v", c.ref, p, c.p)
		}
		l, err := FieldMDP(rd, sig)
		got := ""
		if l != nil {
			got = fmt.Sprintf("%s P%d", l, l.P)
		}
		if got != c.lock || (err != nil) != c.err {
			t.Errorf("%s: FieldMDP lock %q (%v), want %q (error %v)", c.ref, got, err, c.lock, c.err)
		}
	}
}

// TestWrite: the lock and reference dictionaries written read back.
func TestWrite(t *testing.T) {
	l := &Lock{Action: Exclude, Fields: []string{"Zoë", "b"}}
	b, err := pdf.AppendObject(nil, l.FieldMDPReference(), nil)
	if err != nil {
		t.Fatal(err)
	}
	rd := doc(t, string(b))
	sig, _ := rd.ResolveDict(pdf.Ref{Num: 3})
	got, err := FieldMDP(rd, sig)
	if err != nil || got.String() != "exclude:Zoë,b" {
		t.Errorf("read back %v (%v)", got, err)
	}
	if d := l.LockDict(); d.Get("Type") != pdf.Name("SigFieldLock") || d.Get("Action") != pdf.Name("Exclude") {
		t.Errorf("lock dictionary %v", d)
	}
	b, _ = pdf.AppendObject(nil, DocMDPReference(NoChanges), nil)
	rd = doc(t, string(b))
	cat, _ := rd.ResolveDict(pdf.Ref{Num: 1})
	if p, _, err := DocMDP(rd, cat); p != NoChanges || err != nil {
		t.Errorf("DocMDP of the reference written: %v (%v)", p, err)
	}
}
