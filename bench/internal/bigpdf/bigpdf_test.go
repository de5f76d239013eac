package bigpdf

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"hashsign/internal/testenv"
)

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
	}{
		{"1", 1},
		{"1048576", 1 << 20},
		{"10MiB", 10 << 20},
		{"1GiB", 1 << 30},
		{"1gib", 1 << 30},
		{"1.5GiB", 3 << 29},
		{"512KiB", 512 << 10},
		{"20M", 20 << 20},
		{"2G", 2 << 30},
		{"500MB", 500e6},
		{"1GB", 1e9},
		{"100B", 100},
		{" 3 MiB ", 3 << 20},
	} {
		got, err := ParseSize(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "MiB", "-1MiB", "0", "1XB", "ten", "1e20"} {
		if _, err := ParseSize(bad); err == nil {
			t.Errorf("ParseSize(%q) succeeded", bad)
		}
	}
}

func TestWriteFile(t *testing.T) {
	qpdf := testenv.Need(t, "qpdf", "apt-get install qpdf")
	for _, tc := range []struct {
		name string
		cfg  Config
		// pages and objects are what qpdf must count; slack is how many
		// bytes the file may fall short of cfg.Size.
		pages, objects int
		slack          int64
		sigField       bool
	}{
		{"table", Config{Size: 20 << 20, Seed: 1}, 4, 0, 16 << 10, false},
		{"stream", Config{Size: 20 << 20, Stream: true, Seed: 1}, 4, 0, 16 << 10, false},
		{"pages", Config{Size: 100 << 10, Pages: 4, SigField: true, Seed: 2}, 4, 0, 16 << 10, true},
		{"objects-table", Config{Size: 1 << 20, Objects: 3000, Seed: 3}, 0, 3000, -1, false},
		{"objects-stream", Config{Size: 1 << 20, Objects: 3000, Stream: true, SigField: true, Seed: 3}, 0, 3000, -1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			out := filepath.Join(dir, "big.pdf")
			res, err := WriteFile(out, tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			fi, err := os.Stat(out)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Size() != res.Bytes {
				t.Errorf("file has %d bytes, WriteFile reported %d", fi.Size(), res.Bytes)
			}
			if d := fi.Size() - tc.cfg.Size; tc.slack >= 0 && (d > 0 || d < -tc.slack) {
				t.Errorf("file has %d bytes, want at most %d less than %d", fi.Size(), tc.slack, tc.cfg.Size)
			}
			if fi.Mode().Perm() != 0o644 {
				t.Errorf("file mode %v, want 0644", fi.Mode().Perm())
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 1 {
				t.Errorf("directory holds %d entries, want only the output", len(entries))
			}

			cmdOut, err := exec.Command(qpdf, "--check", out).CombinedOutput()
			if err != nil || bytes.Contains(bytes.ToLower(cmdOut), []byte("warning")) {
				t.Fatalf("qpdf --check: %v\n%s", err, cmdOut)
			}
			cmdOut, err = exec.Command(qpdf, "--show-npages", out).CombinedOutput()
			if err != nil || strings.TrimSpace(string(cmdOut)) != strconv.Itoa(res.Pages) {
				t.Errorf("qpdf --show-npages: %v: %s, want %d", err, cmdOut, res.Pages)
			}
			if tc.pages > 0 && res.Pages != tc.pages {
				t.Errorf("%d pages, want %d", res.Pages, tc.pages)
			}
			if tc.objects > 0 {
				// qpdf --show-xref lists one line per object.
				cmdOut, err = exec.Command(qpdf, "--show-xref", out).CombinedOutput()
				if err != nil {
					t.Fatalf("qpdf --show-xref: %v\n%s", err, cmdOut)
				}
				n := strings.Count(string(cmdOut), "\n")
				if n != res.Objects || n < tc.objects || n > tc.objects+2 {
					t.Errorf("qpdf lists %d objects, Result says %d, want %d to %d", n, res.Objects, tc.objects, tc.objects+2)
				}
			}
			cmdOut, err = exec.Command(qpdf, "--json", "--json-key=acroform", out).CombinedOutput()
			if err != nil {
				t.Fatalf("qpdf --json: %v\n%s", err, cmdOut)
			}
			if got := strings.Contains(string(cmdOut), `"fieldtype": "/Sig"`); got != tc.sigField {
				t.Errorf("signature field present %v, want %v:\n%s", got, tc.sigField, cmdOut)
			}
		})
	}
}

func TestDeterministic(t *testing.T) {
	for _, cfg := range []Config{
		{Size: 3 << 20, Stream: true, Seed: 7},
		{Size: 200 << 10, Pages: 3, Objects: 1000, SigField: true, Seed: 7},
	} {
		var a, b bytes.Buffer
		if _, err := Write(&a, cfg); err != nil {
			t.Fatal(err)
		}
		if _, err := Write(&b, cfg); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a.Bytes(), b.Bytes()) {
			t.Errorf("%+v: output differs between runs with the same seed", cfg)
		}
		cfg.Seed++
		var c bytes.Buffer
		if _, err := Write(&c, cfg); err != nil {
			t.Fatal(err)
		}
		if bytes.Equal(a.Bytes(), c.Bytes()) {
			t.Errorf("%+v: output does not depend on the seed", cfg)
		}
	}
}

// TestConstantMemory checks that memory allocated while writing does not
// grow with the file size.
func TestConstantMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 256 MiB")
	}
	for _, stream := range []bool{false, true} {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		res, err := Write(io.Discard, Config{Size: 256 << 20, Stream: stream, Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		runtime.ReadMemStats(&after)
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 4<<20 {
			t.Errorf("stream %v: writing %d bytes allocated %d bytes", stream, res.Bytes, alloc)
		}
	}
}

func TestWriteFileError(t *testing.T) {
	out := filepath.Join(t.TempDir(), "missing", "big.pdf")
	if _, err := WriteFile(out, Config{Size: 1 << 20}); err == nil {
		t.Error("WriteFile into a missing directory succeeded")
	}
}
