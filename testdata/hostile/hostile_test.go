//go:build linux

package hostile

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"hashsign/internal/devpki"
	"hashsign/pades"
)

// maxRSS is the peak resident set size allowed to `pades sign` and `pades
// inspect` on each hostile file.
const maxRSS = 256 << 20

// TestCLIWithinBudget builds cmd/pades, writes every hostile case at full
// size, and runs `pades sign` and `pades inspect` on each. Each run must
// stay under 256 MiB of peak RSS (the child's rusage), and end as the case
// expects: signed (an output that Inspect finds signed and intact) or
// inspected, or refused with one line on stderr that names the limit, and no
// output left. The wall and CPU times are logged, never asserted: the work
// is bounded by the reader's counters, which the tests of
// pades/internal/pdf check.
func TestCLIWithinBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 130 MB of files and runs pades 22 times")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to build cmd/pades: %v", err)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "pades")
	if out, err := exec.Command(goTool, "build", "-o", bin, "hashsign/cmd/pades").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	pki := devpki.DefaultDir()
	if _, err := devpki.LoadOrGenerate(pki, devpki.Options{}); err != nil {
		t.Fatal(err)
	}
	key, cert, chain := filepath.Join(pki, devpki.SignerRSAKeyFile), filepath.Join(pki, devpki.SignerRSACertFile), filepath.Join(pki, devpki.ChainFile)

	const overMemory = "exceeds the memory budget of 64 MiB"
	cases := []struct {
		name    string
		refused string // a part of the one line of a refusal; "" when the file is read
	}{
		{"xref-free-8m", ""},
		{"xref-compressed-8m", ""},
		{"prev-4", ""},
		{"prev-40", ""},
		{"objstm-256m-1", "object stream 11: decoded data " + overMemory},
		{"objstm-256m-3", "object stream 11: decoded data " + overMemory},
		{"objstm-256m-6", "object stream 11: decoded data " + overMemory},
		{"flate-chain", "object stream 11: decoded data " + overMemory},
		{"png-predictor", "object stream 11: decoded data " + overMemory},
		{"string-80m", "object 1: the string at offset 71 exceeds the limit for one object of 16 MiB"},
		{"repair-2m", ""},
	}
	if len(cases) != len(Cases()) {
		t.Fatalf("%d cases here, %d in the generator", len(cases), len(Cases()))
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			hc, _ := Lookup(c.name)
			in := filepath.Join(dir, c.name+".pdf")
			if err := hc.WriteFile(in); err != nil {
				t.Fatal(err)
			}
			defer os.Remove(in)
			for _, command := range []string{"sign", "inspect"} {
				outDir := t.TempDir()
				out := filepath.Join(outDir, "signed.pdf")
				args := []string{"inspect", in}
				if command == "sign" {
					args = []string{"sign", "-key", key, "-cert", cert, "-chain", chain, in, out}
				}
				var stdout, stderr bytes.Buffer
				cmd := exec.Command(bin, args...)
				cmd.Stdout, cmd.Stderr = &stdout, &stderr
				start := time.Now()
				err := cmd.Run()
				wall := time.Since(start)
				if cmd.ProcessState == nil {
					t.Fatalf("%s: %v", command, err)
				}
				ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
				rss := ru.Maxrss << 10 // KiB on Linux
				cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
				line := strings.TrimSuffix(stderr.String(), "\n")
				t.Logf("%-7s peak RSS %5.1f MiB, wall %v, cpu %v, exit %d %s", command, float64(rss)/(1<<20),
					wall.Round(time.Millisecond), cpu.Round(time.Millisecond), cmd.ProcessState.ExitCode(), line)
				if rss > maxRSS {
					t.Errorf("%s: peak RSS %d MiB, over %d MiB", command, rss>>20, maxRSS>>20)
				}
				if c.refused != "" {
					if cmd.ProcessState.ExitCode() != 1 {
						t.Errorf("%s: exit %d, want 1 (refused)", command, cmd.ProcessState.ExitCode())
					}
					if strings.Contains(line, "\n") || !strings.Contains(line, c.refused) || !strings.HasPrefix(line, "pades "+command+": ") {
						t.Errorf("%s: stderr %q, want one line with %q", command, stderr.String(), c.refused)
					}
					if stdout.Len() > 0 {
						t.Errorf("%s: refused, but wrote %q", command, stdout.String())
					}
					if left, _ := os.ReadDir(outDir); len(left) > 0 {
						t.Errorf("%s: refused, but left %s in the output folder", command, left[0].Name())
					}
					continue
				}
				if err != nil {
					t.Errorf("%s: %v: %s", command, err, line)
					continue
				}
				if command == "inspect" {
					if !strings.Contains(stdout.String(), "revisions (") {
						t.Errorf("inspect printed %q, no revisions", stdout.String())
					}
					continue
				}
				if left, _ := os.ReadDir(outDir); len(left) != 1 {
					t.Errorf("sign left %d files in the output folder, want the output alone", len(left))
				}
				checkSigned(t, out)
			}
		})
	}
}

// checkSigned inspects the signed file and wants one intact signature
// that covers it whole.
func checkSigned(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	rep, err := pades.Inspect(context.Background(), f, fi.Size(), nil)
	if err != nil {
		t.Fatalf("inspecting the signed file: %v", err)
	}
	signed := 0
	for _, fld := range rep.Fields {
		if fld.Signed {
			signed++
			if fld.Intact == nil || !*fld.Intact || fld.Covers != "whole file" {
				t.Errorf("signature %s: intact %v, covers %q (%s)", fld.Field, fld.Intact, fld.Covers, fld.Problem)
			}
		}
	}
	if signed != 1 {
		t.Errorf("%d signatures in the signed file, want 1", signed)
	}
}
