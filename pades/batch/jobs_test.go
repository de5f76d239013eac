package batch_test

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"hashsign/pades/batch"
)

func TestReadManifest(t *testing.T) {
	base, out := filepath.FromSlash("/data/in"), filepath.FromSlash("/data/out")
	for _, tc := range []struct {
		name     string
		manifest string
		inPlace  bool
		want     []batch.Job // nil when an error is wanted
		err      string
	}{
		{"defaults", `{"in": "a.pdf"}` + "\n\n" + `{"in": "/abs/b.pdf"}`, false, []batch.Job{
			{In: "/data/in/a.pdf", Out: "/data/out/a.pdf"},
			{In: "/abs/b.pdf", Out: "/data/out/b.pdf"},
		}, ""},
		{"every field, no final newline", `{"in": "x/a.pdf", "out": "signed/a-signed.pdf", "password": "", "field": "Approval", "reason": "OK"}`, false, []batch.Job{
			{In: "/data/in/x/a.pdf", Out: "/data/out/signed/a-signed.pdf", Password: []byte{}, Field: "Approval", Reason: "OK"},
		}, ""},
		{"in place", `{"in": "a.pdf"}` + "\n" + `{"in": "b.pdf", "out": "b.pdf"}`, true, []batch.Job{
			{In: "/data/in/a.pdf", Out: "/data/in/a.pdf"},
			{In: "/data/in/b.pdf", Out: "/data/in/b.pdf"},
		}, ""},
		{"empty", "\n  \n", false, nil, "names no document"},
		{"no in", `{"out": "a.pdf"}`, false, nil, `line 1: no "in"`},
		{"unknown key", `{"in": "a.pdf", "level": "B-LT"}`, false, nil, `line 1: not a manifest entry: json: unknown field "level"`},
		{"not an object", `["a.pdf"]`, false, nil, "line 1: not a manifest entry"},
		{"two values", `{"in": "a.pdf"} {"in": "b.pdf"}`, false, nil, "line 1: more than one JSON value"},
		{"output outside", `{"in": "a.pdf", "out": "../a.pdf"}`, false, nil, "not a relative path inside the output directory"},
		{"absolute output", `{"in": "a.pdf", "out": "/tmp/a.pdf"}`, false, nil, "not a relative path inside the output directory"},
		{"same output twice", `{"in": "a.pdf"}` + "\n" + `{"in": "x/a.pdf"}`, false, nil, "line 2: its output /data/out/a.pdf is already that of line 1"},
		{"output in place", `{"in": "a.pdf", "out": "b.pdf"}`, true, nil, `signing in place, "out" must be absent`},
		{"long line", `{"in": "` + strings.Repeat("a", batch.MaxManifestLine) + `"}`, false, nil, "line 1 is longer than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			jobs, err := batch.ReadManifest(strings.NewReader(tc.manifest), base, out, tc.inPlace)
			if tc.want == nil {
				if err == nil || !strings.Contains(filepath.ToSlash(err.Error()), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(jobs) != len(tc.want) {
				t.Fatalf("%d jobs, want %d", len(jobs), len(tc.want))
			}
			for i, w := range tc.want {
				g := jobs[i]
				if filepath.ToSlash(g.In) != w.In || filepath.ToSlash(g.Out) != w.Out || g.Field != w.Field || g.Reason != w.Reason ||
					(g.Password == nil) != (w.Password == nil) || !bytes.Equal(g.Password, w.Password) {
					t.Errorf("job %d = %+v, want %+v", i, g, w)
				}
			}
		})
	}
}

// FuzzReadManifest: whatever the manifest, ReadManifest returns jobs or an
// error, never panics, and every job it returns has an input and an output
// inside the output directory (or, in place, the input).
func FuzzReadManifest(f *testing.F) {
	f.Add([]byte(`{"in": "a.pdf"}`+"\n"+`{"in": "b.pdf", "out": "s/b.pdf", "password": "p", "field": "F", "reason": "R"}`), false)
	f.Add([]byte(`{"in": "a.pdf", "out": "a.pdf"}`), true)
	f.Add([]byte(`{"in": "a.pdf", "out": "../../etc/passwd"}`), false)
	f.Add([]byte("{\"in\": \"\\u0000\"}\n\n\n"), false)
	f.Fuzz(func(t *testing.T, manifest []byte, inPlace bool) {
		out := filepath.FromSlash("/out")
		jobs, err := batch.ReadManifest(bytes.NewReader(manifest), filepath.FromSlash("/in"), out, inPlace)
		if err != nil {
			return
		}
		if len(jobs) == 0 {
			t.Fatal("no jobs and no error")
		}
		for _, j := range jobs {
			if j.In == "" || j.Out == "" {
				t.Fatalf("job %+v lacks a path", j)
			}
			if inPlace && j.Out != j.In {
				t.Fatalf("in place, job %+v writes elsewhere", j)
			}
			if rel, err := filepath.Rel(out, j.Out); !inPlace && (err != nil || !filepath.IsLocal(rel)) {
				t.Fatalf("job %+v writes outside %s", j, out)
			}
		}
	})
}
