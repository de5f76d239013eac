// Command verifybench measures `pades verify` on a large signed PDF: its
// wall time against one SHA-256 pass over the same file (crypto/sha256,
// reading the file in 1 MiB chunks), taken in the same run, and its peak
// RSS.
//
// Usage:
//
//	go run ./bench/verifybench [-dir DIR] [-size 1GiB] [-rounds 3] [-sigs 1,2]
//
// It builds pades and genpdf, generates a file of the size asked, signs it
// with a test key (at B-B, then again for a file with two signatures), and
// alternates the SHA-256 pass and pades verify on each file, rounds times,
// reporting medians. The file is in the page cache for both. The ratio is
// verify's wall time over that of one SHA-256 pass; the target is at most
// 1.3 per signature.
package main

import (
	"crypto/sha256"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"hashsign/internal/devpki"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("verifybench: ")
	dir := flag.String("dir", os.TempDir(), "`directory` for the work directory")
	size := flag.String("size", "1GiB", "`size` of the generated PDF (genpdf syntax)")
	rounds := flag.Int("rounds", 3, "rounds; medians are taken")
	flag.Parse()
	if err := run(*dir, *size, *rounds); err != nil {
		log.Fatal(err)
	}
}

func run(base, size string, rounds int) error {
	work, err := os.MkdirTemp(base, "verifybench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	root, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		return fmt.Errorf("finding the module root: %w", err)
	}
	pades, genpdf := filepath.Join(work, "pades"), filepath.Join(work, "genpdf")
	for pkg, out := range map[string]string{"./cmd/pades": pades, "./bench/genpdf": genpdf} {
		cmd := exec.Command("go", "build", "-o", out, pkg)
		cmd.Dir = strings.TrimSpace(string(root))
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("go build %s: %w", pkg, err)
		}
	}
	pki, err := devpki.Generate(devpki.Options{})
	if err != nil {
		return err
	}
	pkiDir := filepath.Join(work, "pki")
	if err := devpki.WriteDir(pki, pkiDir); err != nil {
		return err
	}
	in := filepath.Join(work, "in.pdf")
	if out, err := exec.Command(genpdf, "-size", size, "-o", in).CombinedOutput(); err != nil {
		return fmt.Errorf("genpdf: %v\n%s", err, out)
	}
	one, two := filepath.Join(work, "one.pdf"), filepath.Join(work, "two.pdf")
	signArgs := []string{"sign", "-key", filepath.Join(pkiDir, devpki.SignerRSAKeyFile),
		"-cert", filepath.Join(pkiDir, devpki.SignerRSACertFile), "-chain", filepath.Join(pkiDir, devpki.IntermediateCertFile)}
	for _, p := range [][2]string{{in, one}, {one, two}} {
		if out, err := exec.Command(pades, append(signArgs, p[0], p[1])...).CombinedOutput(); err != nil {
			return fmt.Errorf("pades sign: %v\n%s", err, out)
		}
	}
	os.Remove(in)
	trust := filepath.Join(pkiDir, devpki.RootCertFile)
	fmt.Printf("pades verify on a %s file (page cache warm), %d rounds, medians; %d CPUs shared with other work\n", size, rounds, nproc())
	fmt.Printf("%-14s %12s %12s %8s %12s %12s %12s %9s\n", "file", "sha256 wall", "verify wall", "ratio", "peak RSS", "sha256 CPU", "verify CPU", "CPU ratio")
	for _, f := range []struct {
		name string
		path string
		sigs int
	}{{"1 signature", one, 1}, {"2 signatures", two, 2}} {
		var hashes, verifies, hashCPU, verifyCPU []float64
		var rss int64
		for range rounds {
			before := selfCPU()
			d, err := sha256Pass(f.path)
			if err != nil {
				return err
			}
			hashes = append(hashes, d.Seconds())
			hashCPU = append(hashCPU, selfCPU()-before)
			start := time.Now()
			cmd := exec.Command(pades, "verify", "-trust", trust, f.path)
			cmd.Stdout = io.Discard
			if err := cmd.Run(); err != nil && cmd.ProcessState == nil {
				return fmt.Errorf("pades verify: %w", err)
			}
			verifies = append(verifies, time.Since(start).Seconds())
			rss = max(rss, cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss)
			verifyCPU = append(verifyCPU, (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds())
		}
		h, v := median(hashes), median(verifies)
		hc, vc := median(hashCPU), median(verifyCPU)
		fmt.Printf("%-14s %11.3fs %11.3fs %8.2f %8.1f MiB %11.3fs %11.3fs %9.2f   (per signature: wall %.2f, CPU %.2f)\n",
			f.name, h, v, v/h, float64(rss)/1024, hc, vc, vc/hc, v/h/float64(f.sigs), vc/hc/float64(f.sigs))
	}
	return nil
}

// sha256Pass reads the file in 1 MiB chunks and hashes it.
func sha256Pass(path string) (time.Duration, error) {
	start := time.Now()
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	h := sha256.New()
	buf := make([]byte, 1<<20)
	if _, err := io.CopyBuffer(h, f, buf); err != nil {
		return 0, err
	}
	h.Sum(nil)
	return time.Since(start), nil
}

// selfCPU returns the CPU time this process has used, in seconds.
func selfCPU() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

func nproc() int {
	out, err := exec.Command("nproc").Output()
	if err != nil {
		return 0
	}
	var n int
	fmt.Sscan(string(out), &n)
	return n
}
