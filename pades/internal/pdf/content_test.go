package pdf

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
)

// operations reads all the operations of c as "op(args)" strings.
func operations(t *testing.T, c *Content) ([]string, error) {
	t.Helper()
	var out []string
	for {
		op, args, err := c.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		var b []byte
		for i, a := range args {
			if i > 0 {
				b = append(b, ' ')
			}
			b, _ = AppendObject(b, a, nil)
		}
		out = append(out, fmt.Sprintf("%s(%s)", op, b))
	}
}

func TestContent(t *testing.T) {
	for _, c := range []struct {
		name, in string
		want     string // operations joined by "; "
		err      bool
	}{
		{"operators", "q 1 0 0 1 72.5 -3 cm BT /F1 12 Tf (a\\)b) Tj [(x) -120 <41>] TJ ET Q", "q(); cm(1 0 0 1 72.5 -3); BT(); Tf(/F1 12); Tj((a\\)b)); TJ([(x) -120 <41>]); ET(); Q()", false},
		{"quotes and star", "1 2 (s) \" (t) ' T*", "\"(1 2 (s)); '((t)); T*()", false},
		{"a dictionary operand", "/P << /MCID 0 >> BDC EMC", "BDC(/P <</MCID 0>>); EMC()", false},
		{"true false null", "true false null xx", "xx(true false null)", false},
		{"comments", "% a comment\nq % another\nQ", "q(); Q()", false},
		{"stray tokens drop operands", "1 2 ) 3 Td > 4 } Tz ] Q", "Td(3); Tz(); Q()", false},
		{"inline image, searched EI", "BI /W 4 /H 1 /BPC 8 /CS /G ID \x00EI\x01\nEI Q", "BI(<</W 4/H 1/BPC 8/CS /G>>); Q()", false},
		{"inline image, /L", "BI /W 4 /H 1 /L 6 ID a EI b\n EI Q", "BI(<</W 4/H 1/L 6>>); Q()", false},
		{"inline image, /L wrong", "BI /L 2 ID abcd EI Q", "BI(<</L 2>>); Q()", false},
		{"inline image at the end", "BI /W 1 ID x EI", "BI(<</W 1>>)", false},
		{"inline image without EI", "BI /W 1 ID xyz", "", true},
		{"operands at the end", "1 2", "", false},
		{"unterminated string", "(abc", "", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := operations(t, NewContent([]byte(c.in), 0))
			if (err != nil) != c.err {
				t.Fatalf("error %v, want one: %v", err, c.err)
			}
			if s := strings.Join(got, "; "); s != c.want {
				t.Errorf("got  %s\nwant %s", s, c.want)
			}
		})
	}
}

// TestContentReset: operands at the end of one stream of a page go to the
// operator at the start of the next.
func TestContentReset(t *testing.T) {
	c := NewContent([]byte("q 1 0 0"), 0)
	first, err := operations(t, c)
	if err != nil || strings.Join(first, ";") != "q()" {
		t.Fatalf("first stream: %v %v", first, err)
	}
	c.Reset([]byte("1 0 0 cm Q"))
	rest, err := operations(t, c)
	if err != nil || strings.Join(rest, ";") != "cm(1 0 0 1 0 0);Q()" {
		t.Fatalf("second stream: %v %v", rest, err)
	}
}

// TestContentLimit: the operands of one operator stay within the limit.
func TestContentLimit(t *testing.T) {
	in := strings.Repeat("(0123456789) ", 100) + "Tj"
	_, err := operations(t, NewContent([]byte(in), 500))
	if !errors.Is(err, ErrLimit) {
		t.Fatalf("error %v, want the limit", err)
	}
	// the same operands, split among operators, fit
	in = strings.Repeat("(0123456789) Tj ", 100)
	if ops, err := operations(t, NewContent([]byte(in), 500)); err != nil || len(ops) != 100 {
		t.Fatalf("%d operations, %v", len(ops), err)
	}
}

// pageTreeFile writes a file whose page tree is given as the bodies of
// objects 2 on (object 1 is the catalog).
func pageTreeFile(objs ...string) []byte {
	f := newTestFile("1.7")
	f.obj(1, "<</Type/Catalog/Pages 2 0 R>>")
	for i, o := range objs {
		f.obj(i+2, o)
	}
	xref := f.Len()
	fmt.Fprintf(f, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+2)
	for n := 1; n <= len(objs)+1; n++ {
		fmt.Fprintf(f, "%010d 00000 n \n", f.offs[n])
	}
	fmt.Fprintf(f, "trailer\n<</Size %d/Root 1 0 R>>\nstartxref\n%d\n%%%%EOF\n", len(objs)+2, xref)
	return f.Bytes()
}

func TestPages(t *testing.T) {
	for _, c := range []struct {
		name string
		file []byte
		want string // per page: number, object, inherited /Rotate and /Resources
		err  string
	}{
		{"inherited", pageTreeFile(
			"<</Type/Pages/Kids[3 0 R 4 0 R]/Count 3/Rotate 90/Resources<</A 1>>/MediaBox[0 0 10 10]>>",
			"<</Type/Page/Parent 2 0 R/Rotate 0>>",
			"<</Type/Pages/Parent 2 0 R/Kids[5 0 R 6 0 R]/Count 2/Resources<</B 2>>>>",
			"<</Type/Page/Parent 4 0 R>>",
			"<</Type/Page/Parent 4 0 R/MediaBox[1 1 2 2]/Resources<</C 3>>>>",
		), "1:3 0 <</A 1>> [0 0 10 10]; 2:5 90 <</B 2>> [0 0 10 10]; 3:6 90 <</C 3>> [1 1 2 2]", ""},
		{"a page without /Type", pageTreeFile("<</Type/Pages/Kids[3 0 R]/Count 1>>", "<</Contents 9 0 R>>"), "1:3 <nil> null null", ""},
		{"a loop", pageTreeFile("<</Type/Pages/Kids[3 0 R]/Count 1>>", "<</Type/Pages/Kids[2 0 R]/Count 1>>"), "", "loops at object 2"},
		{"a kid that is no dictionary", pageTreeFile("<</Type/Pages/Kids[3 0 R 4 0 R]/Count 2>>", "<</Type/Page>>", "42"), "1:3 <nil> null null", "is not a dictionary"},
		{"too deep", pageTreeFile(func() []string {
			var objs []string
			for i := 2; i < 80; i++ {
				objs = append(objs, fmt.Sprintf("<</Type/Pages/Kids[%d 0 R]/Count 1>>", i+1))
			}
			return append(objs, "<</Type/Page>>")
		}()...), "", "nested more than 64 levels deep"},
	} {
		t.Run(c.name, func(t *testing.T) {
			rd, err := Open(bytes.NewReader(c.file), int64(len(c.file)))
			if err != nil {
				t.Fatal(err)
			}
			cat, _ := rd.ResolveDict(rd.Trailer.Get("Root"))
			var got []string
			var gotErr error
			for p, err := range rd.Pages(cat) {
				if err != nil {
					gotErr = err
					continue
				}
				res, _ := AppendObject(nil, p.Dict.Get("Resources"), nil)
				mb, _ := AppendObject(nil, p.Dict.Get("MediaBox"), nil)
				got = append(got, fmt.Sprintf("%d:%d %v %s %s", p.Number, p.Ref.Num, p.Dict.Get("Rotate"), res, mb))
			}
			if s := strings.Join(got, "; "); s != c.want {
				t.Errorf("got  %s\nwant %s", s, c.want)
			}
			if c.err == "" && gotErr != nil || c.err != "" && (gotErr == nil || !strings.Contains(gotErr.Error(), c.err)) {
				t.Errorf("error %v, want %q", gotErr, c.err)
			}
		})
	}
}
