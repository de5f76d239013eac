package main

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
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
		got, err := parseSize(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "MiB", "-1MiB", "0", "1XB", "ten", "1e20"} {
		if _, err := parseSize(bad); err == nil {
			t.Errorf("parseSize(%q) succeeded", bad)
		}
	}
}

// requireTool returns the path of an external program, skipping the test
// when it is missing, unless the CI environment variable is "true".
func requireTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is required under CI: %v", name, err)
		}
		t.Skipf("%s not found: %v", name, err)
	}
	return path
}

func TestWriteFile(t *testing.T) {
	qpdf := requireTool(t, "qpdf")
	const size = 20 << 20
	for _, stream := range []bool{false, true} {
		name := "table"
		if stream {
			name = "stream"
		}
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			out := filepath.Join(dir, "big.pdf")
			res, err := writeFile(out, config{size: size, stream: stream, seed: 1})
			if err != nil {
				t.Fatal(err)
			}
			fi, err := os.Stat(out)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Size() != res.bytes {
				t.Errorf("file has %d bytes, writeFile reported %d", fi.Size(), res.bytes)
			}
			if d := fi.Size() - size; d > 0 || d < -16<<10 {
				t.Errorf("file has %d bytes, want at most 16 KiB less than %d", fi.Size(), size)
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
			if err != nil || strings.TrimSpace(string(cmdOut)) != "4" {
				t.Errorf("qpdf --show-npages: %v: %s, want 4", err, cmdOut)
			}
		})
	}
}

func TestDeterministic(t *testing.T) {
	var a, b bytes.Buffer
	cfg := config{size: 3 << 20, stream: true, seed: 7}
	if _, err := write(&a, cfg); err != nil {
		t.Fatal(err)
	}
	if _, err := write(&b, cfg); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("output differs between runs with the same seed")
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
		res, err := write(io.Discard, config{size: 256 << 20, stream: stream, seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		runtime.ReadMemStats(&after)
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 4<<20 {
			t.Errorf("stream %v: writing %d bytes allocated %d bytes", stream, res.bytes, alloc)
		}
	}
}

func TestWriteFileError(t *testing.T) {
	out := filepath.Join(t.TempDir(), "missing", "big.pdf")
	if _, err := writeFile(out, config{size: 1 << 20}); err == nil {
		t.Error("writeFile into a missing directory succeeded")
	}
}
