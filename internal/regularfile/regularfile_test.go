//go:build unix

package regularfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestOpen(t *testing.T) {
	dir := t.TempDir()
	regular := filepath.Join(dir, "in.pdf")
	if err := os.WriteFile(regular, []byte("%PDF-1.7\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo.pdf")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path string
		flag       int
		size       int64
		err        string
	}{
		{"regular", regular, os.O_RDONLY, 9, ""},
		{"regular, read and write", regular, os.O_RDWR, 9, ""},
		{"FIFO", fifo, os.O_RDONLY, 0, "not a regular file"},
		{"directory", dir, os.O_RDONLY, 0, "not a regular file"},
		{"missing", filepath.Join(dir, "missing.pdf"), os.O_RDONLY, 0, "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, size, err := Open(tc.path, tc.flag)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				if tc.name == "missing" && !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("%v is not fs.ErrNotExist", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if size != tc.size {
				t.Errorf("size %d, want %d", size, tc.size)
			}
			if _, err := f.WriteAt([]byte("x"), 9); (err == nil) != (tc.flag == os.O_RDWR) {
				t.Errorf("write with flag %#x: %v", tc.flag, err)
			}
		})
	}
}
