//go:build linux

package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"hashsign/hashsvc/hashsvctest"
	"hashsign/internal/devpki"
)

// TestInputChangedRefused: when the input changes while pades sign copies
// it (copy_file_range copies while another goroutine hashes, so that a
// change in between would sign other bytes than the output holds), the
// signature is refused with one line and nothing is left behind. The
// change is made once a MiB of the output is written; should the whole
// signature be done before it lands, the output must be a valid signature
// of what was read, and the test tries again, up to five times.
func TestInputChangedRefused(t *testing.T) {
	if testing.Short() {
		t.Skip("builds pades, writes 128 MiB")
	}
	validator := hashsvctest.Validator(t)
	c := buildPades(t)
	pki := testPKIDir(t)
	in := filepath.Join(t.TempDir(), "big.pdf")
	hashsvctest.GenPDF(t, "128MiB", in)
	outDir := t.TempDir()
	out := filepath.Join(outDir, "signed.pdf")
	for attempt := 1; ; attempt++ {
		if attempt > 5 {
			t.Fatal("five changes of the input during the signature went unnoticed")
		}
		cmd := c.command("sign", "-key", filepath.Join(pki, devpki.SignerRSAKeyFile), "-cert", filepath.Join(pki, devpki.SignerRSACertFile),
			"-chain", filepath.Join(pki, devpki.IntermediateCertFile), in, out)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		waitWritten(cmd.Process.Pid, 1<<20)
		// the same first byte, written again: the file has changed
		f, err := os.OpenFile(in, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		_, werr := f.WriteAt([]byte("%"), 0)
		if cerr := f.Close(); werr != nil || cerr != nil {
			t.Fatal(werr, cerr)
		}
		err = cmd.Wait()
		var exit *exec.ExitError
		switch {
		case errors.As(err, &exit) && exit.ExitCode() == 1:
			refused(t, "a change of the input", 1, stderr.String(), 1, "the input file changed while it was being signed")
			if entries, _ := os.ReadDir(outDir); len(entries) != 0 {
				t.Errorf("the refusal left %d files in the output folder", len(entries))
			}
			t.Logf("attempt %d: %s", attempt, strings.TrimSpace(stderr.String()))
			return
		case err == nil:
			t.Logf("attempt %d: the signature was done before the change", attempt)
			hashsvctest.Validate(t, validator, filepath.Join(pki, devpki.RootCertFile), "B-B", out)
			os.Remove(out)
		default:
			t.Fatalf("pades sign: %v %s", err, stderr.String())
		}
	}
}
