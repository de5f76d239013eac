//go:build unix

package main

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"hashsign/hashsvc/hashsvctest"
	"hashsign/internal/devpki"
)

// TestNonRegularInputRefused: a FIFO given as input is refused without
// being opened for reading, which would block until a writer comes.
func TestNonRegularInputRefused(t *testing.T) {
	pki := testPKIDir(t)
	key, cert := filepath.Join(pki, devpki.SignerRSAKeyFile), filepath.Join(pki, devpki.SignerRSACertFile)
	dir := t.TempDir()
	fifo := filepath.Join(dir, "in.pdf")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.pdf")
	for _, args := range [][]string{
		{"sign", "-key", key, "-cert", cert, fifo, out},
		{"inspect", fifo},
		{"prepare", "-size", "8192", fifo, out},
		{"extend", "-level", "B-LT", "-tsa", "http://127.0.0.1:1/tsa", fifo, out},
		{"batch", "-key", key, "-cert", cert, "-chain", filepath.Join(pki, devpki.IntermediateCertFile), "-out", filepath.Join(dir, "outs"), fifo},
	} {
		t.Run(args[0], func(t *testing.T) {
			type result struct {
				code   int
				stderr string
			}
			done := make(chan result, 1)
			go func() {
				code, _, stderr := runCLI(args...)
				done <- result{code, stderr}
			}()
			for {
				select {
				case r := <-done:
					if r.code == 0 || !strings.Contains(r.stderr, "not a regular file") {
						t.Errorf("exit %d %q, want a failure saying \"not a regular file\"", r.code, r.stderr)
					}
					return
				default:
				}
				// Opening the FIFO for writing without blocking succeeds
				// only when a reader has it open: the command did.
				w, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0)
				if err == nil {
					w.Close() // the reader gets end of file
					t.Errorf("%s opened the FIFO for reading; exit %d", args[0], (<-done).code)
					return
				}
				if !errors.Is(err, syscall.ENXIO) {
					t.Fatal(err)
				}
				time.Sleep(time.Millisecond) // poll; the outcome is the event above
			}
		})
	}
}

// TestOutputCheckedBeforeSigning: an output that cannot be written (a
// directory, a missing directory, a FIFO, a directory without write
// permission) fails the command before the remote service signs anything.
func TestOutputCheckedBeforeSigning(t *testing.T) {
	s := hashsvctest.NewServer(t, hashsvctest.Options{})
	bin := hashsvctest.Build(t, "./cmd/pades")
	hashsvctest.Searchable(t, filepath.Dir(bin), false)
	dir := t.TempDir()
	hashsvctest.Searchable(t, dir, true) // only the read-only directory stops the writer
	in := writeInputs(t, dir, 1)[0]
	keyFile := filepath.Join(dir, "api-key")
	if err := os.WriteFile(keyFile, []byte(s.Keys[hashsvctest.KeyAll]+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mkdir := func(name string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.Mkdir(p, mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(p, mode)
		return p
	}
	fifo := filepath.Join(dir, "out.fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	readOnly := mkdir("read-only", 0o555)
	batchOut := mkdir("batch-out", 0o777)
	mkdir(filepath.Join("batch-out", filepath.Base(in)), 0o755) // where the batch's output goes
	remoteArgs := []string{"-remote", s.URL, "-credential", hashsvctest.CredP256, "-api-key-file", keyFile}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"a directory", append(append([]string{"sign"}, remoteArgs...), in, mkdir("outdir", 0o755)), "is a directory"},
		{"a missing directory", append(append([]string{"sign"}, remoteArgs...), in, filepath.Join(dir, "missing", "out.pdf")), "no such file or directory"},
		{"a FIFO", append(append([]string{"sign"}, remoteArgs...), in, fifo), "not a regular file"},
		{"a read-only directory", append(append([]string{"sign"}, remoteArgs...), in, filepath.Join(readOnly, "out.pdf")), "permission denied"},
		{"a batch output that is a directory", append(append([]string{"batch"}, remoteArgs...), "-out", batchOut, in), "is a directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(bin, tc.args...)
			hashsvctest.Unprivileged(cmd) // root writes anywhere
			var stderr strings.Builder
			cmd.Stderr = &stderr
			err := cmd.Run()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("%v, %q; want exit 1 saying %q", err, stderr.String(), tc.want)
			}
			if req, sigs := signHashMetrics(t, s.URL, hashsvctest.CredP256); req != 0 || sigs != 0 {
				t.Errorf("%d signHash requests made %d signatures for an output that cannot be written, want none", req, sigs)
			}
		})
	}
	if entries, _ := os.ReadDir(readOnly); len(entries) != 0 {
		t.Errorf("the read-only directory holds %d files", len(entries))
	}
}

// Environment variables of TestKilledSign.
const (
	killSizeEnv  = "PADES_KILL_TEST_SIZE"  // input size, such as 1GiB (default 32MiB)
	killCountEnv = "PADES_KILL_TEST_KILLS" // number of kills (default 5)
)

// TestKilledSign stops `pades sign` at random moments of the signature of
// a large file, by SIGKILL and by SIGTERM: the output folder then holds
// nothing (or, when the signal came after the signature was committed, the
// whole signed file, which the external validators judge), and the input
// is byte-identical. SIGTERM must not kill the process: it stops on its
// own, cleaning up, with exit status 1 and a one-line error (or 0 when the
// signature was complete). $PADES_KILL_TEST_SIZE=1GiB and
// $PADES_KILL_TEST_KILLS=20 give the acceptance run of issue 13.
func TestKilledSign(t *testing.T) {
	size, kills := "32MiB", 5
	if v := os.Getenv(killSizeEnv); v != "" {
		size = v
	}
	if v := os.Getenv(killCountEnv); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("$%s=%q", killCountEnv, v)
		}
		kills = n
	}
	pki := testPKIDir(t)
	key, cert := filepath.Join(pki, devpki.SignerRSAKeyFile), filepath.Join(pki, devpki.SignerRSACertFile)
	bin := hashsvctest.Build(t, "./cmd/pades")
	inDir, outDir := t.TempDir(), t.TempDir()
	in := filepath.Join(inDir, "big.pdf")
	hashsvctest.GenPDF(t, size, in)
	before := fileSHA256(t, in)
	out := filepath.Join(outDir, "signed.pdf")
	var stderr strings.Builder
	sign := func() *exec.Cmd {
		cmd := exec.Command(bin, "sign", "-key", key, "-cert", cert, "-chain", filepath.Join(pki, devpki.IntermediateCertFile), in, out)
		stderr.Reset()
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	// One whole signature gives the span in which to stop it.
	start := time.Now()
	if err := sign().Wait(); err != nil {
		t.Fatalf("pades sign: %v %s", err, stderr.String())
	}
	span := time.Since(start)
	validated(t, out, "B-B")
	os.Remove(out)
	st, _ := os.Stat(in)
	t.Logf("input %s (%d bytes), one signature takes %v", size, st.Size(), span.Round(time.Millisecond))

	// A moment is a number of bytes written, where /proc tells it (every
	// signal falls inside the writing), else a time within the span.
	_, procErr := os.Stat("/proc/self/io")
	for _, sig := range []syscall.Signal{syscall.SIGKILL, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			completed := 0
			for i := range kills {
				cmd := sign()
				var at string
				if procErr == nil {
					n := rand.Int64N(st.Size())
					at = fmt.Sprintf("%d bytes written", n)
					waitWritten(cmd.Process.Pid, n)
				} else {
					d := time.Duration(rand.Int64N(int64(span)))
					at = d.String()
					time.Sleep(d) // when to stop it, not what to expect: any moment must leave the same
				}
				cmd.Process.Signal(sig)
				err := cmd.Wait()
				ps := cmd.ProcessState
				if sig == syscall.SIGTERM {
					msg := strings.TrimSuffix(stderr.String(), "\n")
					switch {
					case !ps.Exited():
						t.Errorf("SIGTERM at %s: %v; want pades to stop on its own", at, err)
					case ps.ExitCode() == 1 && (!strings.HasPrefix(msg, "pades sign: ") || strings.Contains(msg, "\n")):
						t.Errorf("SIGTERM at %s: exit 1 with %q, want one line", at, stderr.String())
					case ps.ExitCode() != 0 && ps.ExitCode() != 1:
						t.Errorf("SIGTERM at %s: exit %d, want 1 (or 0 when the signature was complete)", at, ps.ExitCode())
					}
				}
				entries, _ := os.ReadDir(outDir)
				var names []string
				for _, e := range entries {
					names = append(names, e.Name())
				}
				switch {
				case len(names) == 0:
				case len(names) == 1 && names[0] == "signed.pdf" && err == nil:
					// It finished before the signal.
					completed++
					validated(t, out, "B-B")
					os.Remove(out)
				default:
					t.Errorf("%v %d at %s (%v): the output folder holds %q", sig, i+1, at, err, names)
					for _, n := range names {
						os.Remove(filepath.Join(outDir, n))
					}
				}
				t.Logf("%v %d at %s: %v %s", sig, i+1, at, err, strings.TrimSpace(stderr.String()))
				if entries, _ := os.ReadDir(inDir); len(entries) != 1 {
					t.Errorf("%v %d: the input folder holds %d files", sig, i+1, len(entries))
				}
			}
			t.Logf("%d signals, %d after the signature was complete; the output folder empty after every other, the input unchanged", kills, completed)
		})
	}
	if after := fileSHA256(t, in); after != before {
		t.Error("the input changed")
	}
}

// waitWritten returns once the process pid has written n bytes (wchar of
// /proc/PID/io) or has exited.
func waitWritten(pid int, n int64) {
	for {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/io")
		if err != nil {
			return
		}
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "wchar: "); ok {
				if w, _ := strconv.ParseInt(v, 10, 64); w >= n {
					return
				}
			}
		}
		if state, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat"); strings.Contains(string(state), ") Z ") {
			return // exited, not yet reaped
		}
		time.Sleep(100 * time.Microsecond) // poll; the moment is the event above
	}
}

func fileSHA256(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}
