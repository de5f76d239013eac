// Command padesbench measures the memory use and speed of `pades sign` on
// large generated PDF files against two floors: copying the file with cp
// and hashing it once with openssl dgst -sha256.
//
// Usage (from within the hashsign module):
//
//	go run ./bench/padesbench [-dir DIR] [-sizes 10MiB,1GiB] [-rounds 3] [-keep]
//
// padesbench builds cmd/pades and bench/genpdf, generates a test PKI and one
// PDF per size in a new work directory under DIR (default: os.TempDir),
// then, for each size, runs -rounds rounds of four commands, each under
// /usr/bin/time -v:
//
//	cp       cp IN OUT
//	sha256   openssl dgst -sha256 IN
//	cp+sync  sh -c 'cp IN OUT && sync OUT'
//	pades    pades sign -key K -cert C -chain INTER IN OUT
//
// Within a round every command runs once; the order rotates from round to
// round so that no command always runs first or last. Outputs are deleted
// and the file system synced (untimed) after every run, so that the
// write-back of one run does not slow down the next; the page cache is
// never dropped, so every run reads a warm input. pades fsyncs its output
// (and renames it into place) while cp does not: cp+sync, whose sync(1)
// fsyncs the one file, is the like-for-like floor, and both ratios are
// printed. On tmpfs (/dev/shm) fsync costs nothing, so the ratios measure
// the engine; on a disk they include the device's write speed.
//
// The report gives, per size and command, the median wall-clock time
// ("Elapsed (wall clock) time"), the median CPU time (user + system) and
// the peak resident set size over the rounds ("Maximum resident set size"),
// then the verdicts against the acceptance thresholds of the signing
// engine: peak RSS of pades under 64 MiB, median wall time of pades at most
// 1.3 times the larger of the cp and sha256 medians, and the peak RSS of
// pades for the largest and the smallest file within 10% of each other.
// The wall-time criterion applies to the largest size; the others are
// shown for information, and /usr/bin/time measures to 10 ms only.
//
// If /usr/bin/time is missing and padesbench runs as root, it installs it
// with apt-get install -y time.
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"hashsign/internal/devpki"
)

const timeBin = "/usr/bin/time"

// Acceptance thresholds.
const (
	maxRSSKB      = 64 << 10 // 64 MiB
	maxWallRatio  = 1.3
	maxRSSSpread  = 1.10 // largest / smallest peak RSS of pades
	minTimedFloor = 0.1  // seconds: shorter floors are below /usr/bin/time's resolution
	busyWarn      = 0.25 // CPUs used by others above which wall times are flagged
)

// A tool is one of the timed commands.
type tool struct {
	name string
	args func(in, out string) []string
	// writes reports whether the command creates out.
	writes bool
}

// measurement is what /usr/bin/time -v reported for one run.
type measurement struct {
	wall, user, sys float64 // seconds
	rssKB           int64
	// clock is the wall time measured by padesbench around
	// /usr/bin/time, to the microsecond (it includes starting time).
	clock float64
}

func (m measurement) cpu() float64 { return m.user + m.sys }

type sizeResult struct {
	label    string
	bytes    int64
	runs     map[string][]measurement
	loadPre  string
	loadPost string
	// others is the CPU time, in CPUs on average, that the machine spent
	// outside the timed commands while the rounds ran: other processes,
	// and padesbench's own untimed work between runs.
	others float64
	check  string // what pades inspect said about the signed file
}

func main() {
	log.SetFlags(0)
	log.SetPrefix("padesbench: ")
	dir := flag.String("dir", os.TempDir(), "`directory` in which to create the work directory; its file system is the one measured")
	sizes := flag.String("sizes", "10MiB,1GiB", "comma-separated `sizes` of the generated PDFs (genpdf syntax)")
	rounds := flag.Int("rounds", 3, "rounds per size; medians are taken over them")
	keep := flag.Bool("keep", false, "keep the work directory (binaries, PKI, PDFs)")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: padesbench [-dir DIR] [-sizes 10MiB,1GiB] [-rounds N] [-keep]\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 0 || *rounds < 1 {
		flag.Usage()
		os.Exit(2)
	}
	var labels []string
	for s := range strings.SplitSeq(*sizes, ",") {
		if s = strings.TrimSpace(s); s != "" {
			labels = append(labels, s)
		}
	}
	if len(labels) == 0 {
		log.Fatal("-sizes is empty")
	}
	if err := run(*dir, labels, *rounds, *keep); err != nil {
		log.Fatal(err)
	}
}

func run(base string, labels []string, rounds int, keep bool) error {
	if err := ensureTime(); err != nil {
		return err
	}
	for _, bin := range []string{"cp", "openssl", "sh", "sync"} {
		if _, err := exec.LookPath(bin); err != nil {
			return fmt.Errorf("%s is needed: %w", bin, err)
		}
	}
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(base, 0o755); err != nil {
		return err
	}
	work, err := os.MkdirTemp(base, "padesbench-")
	if err != nil {
		return err
	}
	if keep {
		defer log.Printf("kept %s", work)
	} else {
		defer os.RemoveAll(work)
	}
	fsDesc := describeFS(work)
	log.Printf("work directory %s (%s)", work, fsDesc)

	// Binaries.
	binDir := filepath.Join(work, "bin")
	padesBin := filepath.Join(binDir, "pades")
	genBin := filepath.Join(binDir, "genpdf")
	for pkg, out := range map[string]string{"./cmd/pades": padesBin, "./bench/genpdf": genBin} {
		cmd := exec.Command("go", "build", "-o", out, pkg)
		cmd.Dir = root
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("go build %s: %w", pkg, err)
		}
	}
	goVersion, _ := exec.Command("go", "env", "GOVERSION").Output()

	// PKI.
	pkiDir := filepath.Join(work, "pki")
	pki, err := devpki.Generate(devpki.Options{})
	if err != nil {
		return err
	}
	if err := devpki.WriteDir(pki, pkiDir); err != nil {
		return err
	}
	key := filepath.Join(pkiDir, devpki.SignerRSAKeyFile)
	cert := filepath.Join(pkiDir, devpki.SignerRSACertFile)
	inter := filepath.Join(pkiDir, devpki.IntermediateCertFile)

	tools := []tool{
		{"cp", func(in, out string) []string { return []string{"cp", in, out} }, true},
		{"sha256", func(in, out string) []string { return []string{"openssl", "dgst", "-sha256", in} }, false},
		{"cp+sync", func(in, out string) []string {
			return []string{"sh", "-c", `cp -- "$1" "$2" && sync -- "$2"`, "sh", in, out}
		}, true},
		{"pades", func(in, out string) []string {
			return []string{padesBin, "sign", "-key", key, "-cert", cert, "-chain", inter, in, out}
		}, true},
	}

	var results []*sizeResult
	for _, label := range labels {
		in := filepath.Join(work, "in-"+label+".pdf")
		start := time.Now()
		if out, err := exec.Command(genBin, "-size", label, "-o", in).CombinedOutput(); err != nil {
			return fmt.Errorf("genpdf -size %s: %v\n%s", label, err, out)
		}
		st, err := os.Stat(in)
		if err != nil {
			return err
		}
		log.Printf("generated %s: %d bytes in %v", in, st.Size(), time.Since(start).Round(time.Millisecond))
		res, err := measureSize(work, label, in, st.Size(), tools, rounds, padesBin)
		if err != nil {
			return err
		}
		results = append(results, res)
		if !keep {
			os.Remove(in)
		}
	}

	report(os.Stdout, results, tools, rounds, work, fsDesc, strings.TrimSpace(string(goVersion)))
	return nil
}

// measureSize runs the rounds for one input file.
func measureSize(work, label, in string, size int64, tools []tool, rounds int, padesBin string) (*sizeResult, error) {
	res := &sizeResult{label: label, bytes: size, runs: map[string][]measurement{}}
	// Warm the page cache with the input, untimed, so that even the first
	// run of the first round reads it from memory.
	if err := readAll(in); err != nil {
		return nil, err
	}
	syscall.Sync()
	out := filepath.Join(work, "out-"+label+".pdf")
	timeOut := filepath.Join(work, "time.txt")
	res.loadPre = loadAvg()
	busy0, ok0 := busyTime()
	start := time.Now()
	var timedCPU float64
	for r := range rounds {
		for i := range tools {
			t := tools[(r+i)%len(tools)]
			m, err := timed(timeOut, t.args(in, out))
			if err != nil {
				return nil, fmt.Errorf("%s, %s, round %d: %w", label, t.name, r+1, err)
			}
			if t.writes {
				st, err := os.Stat(out)
				if err != nil {
					return nil, fmt.Errorf("%s, %s, round %d: %w", label, t.name, r+1, err)
				}
				if st.Size() < size {
					return nil, fmt.Errorf("%s, %s, round %d: output has %d bytes, input %d", label, t.name, r+1, st.Size(), size)
				}
				if t.name == "pades" && res.check == "" {
					res.check = inspect(padesBin, out)
				}
			}
			log.Printf("%s round %d %-8s wall %6.2fs (%8.4fs by padesbench)  cpu %6.2fs  maxrss %7d KiB",
				label, r+1, t.name, m.wall, m.clock, m.cpu(), m.rssKB)
			res.runs[t.name] = append(res.runs[t.name], m)
			timedCPU += m.cpu()
			if err := removeOutputs(out); err != nil {
				return nil, err
			}
			// Flush what the run left dirty, untimed, so that its
			// write-back does not overlap the next run.
			syscall.Sync()
		}
	}
	res.loadPost = loadAvg()
	if busy1, ok1 := busyTime(); ok0 && ok1 {
		res.others = max(busy1-busy0-timedCPU, 0) / time.Since(start).Seconds()
	} else {
		res.others = -1
	}
	return res, nil
}

// timed runs args under /usr/bin/time -v and parses its report.
func timed(timeOut string, args []string) (measurement, error) {
	os.Remove(timeOut)
	cmd := exec.Command(timeBin, append([]string{"-v", "-o", timeOut}, args...)...)
	var stderr bytes.Buffer
	cmd.Stdout = io.Discard
	cmd.Stderr = &stderr
	start := time.Now()
	runErr := cmd.Run()
	elapsed := time.Since(start)
	report, err := os.ReadFile(timeOut)
	if runErr != nil {
		return measurement{}, fmt.Errorf("%s: %v\n%s%s", strings.Join(args, " "), runErr, stderr.Bytes(), report)
	}
	if err != nil {
		return measurement{}, err
	}
	m, err := parseTime(report)
	m.clock = elapsed.Seconds()
	return m, err
}

// parseTime parses the report of GNU time -v.
func parseTime(report []byte) (measurement, error) {
	var m measurement
	var seen int
	sc := bufio.NewScanner(bytes.NewReader(report))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		i := strings.LastIndex(line, ": ")
		if i < 0 {
			continue
		}
		key, val := line[:i], strings.TrimSpace(line[i+2:])
		var err error
		switch {
		case key == "Maximum resident set size (kbytes)":
			m.rssKB, err = strconv.ParseInt(val, 10, 64)
			seen |= 1
		case strings.HasPrefix(key, "Elapsed (wall clock) time"):
			m.wall, err = parseClock(val)
			seen |= 2
		case key == "User time (seconds)":
			m.user, err = strconv.ParseFloat(val, 64)
		case key == "System time (seconds)":
			m.sys, err = strconv.ParseFloat(val, 64)
		case key == "Exit status" && val != "0":
			err = fmt.Errorf("exit status %s", val)
		}
		if err != nil {
			return m, fmt.Errorf("time -v: %q: %w", line, err)
		}
	}
	if seen != 3 {
		return m, fmt.Errorf("time -v: no maximum resident set size or elapsed time in:\n%s", report)
	}
	return m, nil
}

// parseClock parses [h:]m:ss[.ss] into seconds.
func parseClock(s string) (float64, error) {
	parts := strings.Split(s, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return 0, fmt.Errorf("bad clock %q", s)
	}
	var total float64
	for i, p := range parts {
		v, err := strconv.ParseFloat(p, 64)
		if err != nil || v < 0 {
			return 0, fmt.Errorf("bad clock %q", s)
		}
		if i < len(parts)-1 {
			total = (total + v) * 60
		} else {
			total += v
		}
	}
	return total, nil
}

// removeOutputs removes out and any temporary file that an interrupted
// pades left next to it.
func removeOutputs(out string) error {
	if err := os.Remove(out); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	tmps, _ := filepath.Glob(filepath.Join(filepath.Dir(out), "."+filepath.Base(out)+".tmp-*"))
	for _, t := range tmps {
		os.Remove(t)
	}
	return nil
}

// inspect runs pades inspect on a signed file and returns its line about
// the signature field.
func inspect(padesBin, file string) string {
	out, err := exec.Command(padesBin, "inspect", file).CombinedOutput()
	if err != nil {
		return fmt.Sprintf("pades inspect failed: %v", err)
	}
	for line := range strings.Lines(string(out)) {
		if strings.Contains(line, "Signature1:") {
			return strings.TrimSpace(line)
		}
	}
	return "pades inspect found no Signature1 field"
}

func readAll(name string) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.CopyBuffer(io.Discard, f, make([]byte, 1<<20))
	return err
}

// busyTime returns the CPU time, in seconds, that all CPUs have spent
// outside the idle and iowait states since boot, from /proc/stat.
func busyTime() (float64, bool) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, false
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return 0, false
	}
	var busy float64
	for i, v := range f[1:8] { // user nice system idle iowait irq softirq
		if i == 3 || i == 4 {
			continue
		}
		n, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return 0, false
		}
		busy += n
	}
	return busy / clockTicks, true
}

// clockTicks is USER_HZ, the unit of /proc/stat, which is 100 on Linux.
const clockTicks = 100

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// ensureTime installs GNU time if it is missing.
func ensureTime() error {
	if _, err := os.Stat(timeBin); err == nil {
		return nil
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("%s is missing: install GNU time (apt-get install time)", timeBin)
	}
	log.Printf("%s is missing: apt-get install -y time", timeBin)
	cmd := exec.Command("apt-get", "install", "-y", "time")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("installing GNU time: %w", err)
	}
	_, err := os.Stat(timeBin)
	return err
}

// moduleRoot returns the directory of the hashsign module containing the
// working directory.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("run padesbench from within the hashsign module")
	}
	data, err := os.ReadFile(mod)
	if err != nil {
		return "", err
	}
	if !bytes.HasPrefix(data, []byte("module hashsign\n")) {
		return "", fmt.Errorf("%s is not the hashsign module", mod)
	}
	return filepath.Dir(mod), nil
}

// describeFS names the file system holding dir, as "tmpfs on /dev/shm",
// from /proc/self/mountinfo.
func describeFS(dir string) string {
	abs, err := filepath.EvalSymlinks(dir)
	if err != nil {
		abs = dir
	}
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return "unknown file system"
	}
	best, desc := -1, "unknown file system"
	for line := range strings.Lines(string(data)) {
		// id parent major:minor root mountpoint options... - fstype source superoptions
		pre, post, ok := strings.Cut(line, " - ")
		f, g := strings.Fields(pre), strings.Fields(post)
		if !ok || len(f) < 5 || len(g) < 2 {
			continue
		}
		mp := unescapeMount(f[4])
		if !within(abs, mp) || len(mp) < best {
			continue
		}
		best, desc = len(mp), fmt.Sprintf("%s on %s, device %s", g[0], mp, g[1])
	}
	return desc
}

func within(path, mountPoint string) bool {
	if mountPoint == "/" {
		return true
	}
	return path == mountPoint || strings.HasPrefix(path, mountPoint+"/")
}

// unescapeMount undoes the octal escapes (\040 for a space) of mountinfo.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n == 0 {
		return 0
	}
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func walls(ms []measurement) []float64 {
	v := make([]float64, len(ms))
	for i, m := range ms {
		v[i] = m.wall
	}
	return v
}

func cpus(ms []measurement) []float64 {
	v := make([]float64, len(ms))
	for i, m := range ms {
		v[i] = m.cpu()
	}
	return v
}

func peakRSS(ms []measurement) int64 {
	var p int64
	for _, m := range ms {
		p = max(p, m.rssKB)
	}
	return p
}

func verdict(ok bool) string {
	if ok {
		return "PASS"
	}
	return "FAIL"
}

func mib(kb int64) string { return fmt.Sprintf("%.1f MiB", float64(kb)/1024) }

// report prints the table and the verdicts.
func report(w io.Writer, results []*sizeResult, tools []tool, rounds int, work, fsDesc, goVersion string) {
	fmt.Fprintf(w, "padesbench: %s, %d CPUs, %s; work dir %s (%s)\n", goVersion, runtime.NumCPU(), kernel(), work, fsDesc)
	fmt.Fprintf(w, "%d rounds per size, order rotating per round, warm page cache, untimed sync between runs\n\n", rounds)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "size\tbytes\tcommand\twall median\twall per round\tcpu median\tpeak RSS\t\n")
	for _, r := range results {
		for i, t := range tools {
			ms := r.runs[t.name]
			var per []string
			for _, x := range walls(ms) {
				per = append(per, fmt.Sprintf("%.2f", x))
			}
			label, bytes := "", ""
			if i == 0 {
				label, bytes = r.label, strconv.FormatInt(r.bytes, 10)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%.2fs\t%s\t%.2fs\t%s\t\n", label, bytes, t.name,
				median(walls(ms)), strings.Join(per, " "), median(cpus(ms)), mib(peakRSS(ms)))
		}
	}
	tw.Flush()
	fmt.Fprintln(w)

	for _, r := range results {
		cp, sha := median(walls(r.runs["cp"])), median(walls(r.runs["sha256"]))
		cps, pd := median(walls(r.runs["cp+sync"])), median(walls(r.runs["pades"]))
		floor, floorSync := max(cp, sha), max(cps, sha)
		rss := peakRSS(r.runs["pades"])
		timeVerdict := func(pd, floor float64) string {
			if floor < minTimedFloor {
				return "n/a: floor below the 10 ms resolution of /usr/bin/time"
			}
			return verdict(pd <= maxWallRatio*floor)
		}
		fmt.Fprintf(w, "%s (%d bytes), load average %s -> %s\n", r.label, r.bytes, r.loadPre, r.loadPost)
		if r.others >= 0 {
			fmt.Fprintf(w, "  CPU used outside the timed commands during the rounds: %.2f of %d CPUs on average\n", r.others, runtime.NumCPU())
			if r.others > busyWarn {
				fmt.Fprintf(w, "  WARNING: the machine was busy: wall times are unreliable, and they penalise pades,\n"+
					"  which needs two CPUs (hashing and writing overlap), more than the single-threaded floors\n")
			}
		}
		fmt.Fprintf(w, "  pades / max(cp, sha256)      = %.2f / %.2f = %s  [<= %.1f %s]\n",
			pd, floor, ratio(pd, floor), maxWallRatio, timeVerdict(pd, floor))
		fmt.Fprintf(w, "  pades / max(cp+sync, sha256) = %.2f / %.2f = %s  [<= %.1f %s; like-for-like, both fsync]\n",
			pd, floorSync, ratio(pd, floorSync), maxWallRatio, timeVerdict(pd, floorSync))
		fmt.Fprintf(w, "  pades cpu / sha256 cpu       = %.2f / %.2f = %s\n",
			median(cpus(r.runs["pades"])), median(cpus(r.runs["sha256"])),
			ratio(median(cpus(r.runs["pades"])), median(cpus(r.runs["sha256"]))))
		fmt.Fprintf(w, "  pades peak RSS               = %s  [< 64 MiB %s]\n", mib(rss), verdict(rss < maxRSSKB))
		fmt.Fprintf(w, "  check: %s\n", r.check)
	}

	// The acceptance: the wall-time criterion on the largest file, RSS on
	// every file, and the RSS spread between the largest and the smallest.
	small, large := results[0], results[0]
	for _, r := range results {
		if r.bytes < small.bytes {
			small = r
		}
		if r.bytes > large.bytes {
			large = r
		}
	}
	pass := true
	for _, r := range results {
		pass = pass && peakRSS(r.runs["pades"]) < maxRSSKB
	}
	pd := median(walls(large.runs["pades"]))
	floor := max(median(walls(large.runs["cp"])), median(walls(large.runs["sha256"])))
	floorSync := max(median(walls(large.runs["cp+sync"])), median(walls(large.runs["sha256"])))
	pass = pass && pd <= maxWallRatio*floor
	fmt.Fprintln(w)
	if small != large {
		rs, rl := peakRSS(small.runs["pades"]), peakRSS(large.runs["pades"])
		spread := float64(max(rs, rl)) / float64(max(min(rs, rl), 1))
		ok := spread <= maxRSSSpread
		pass = pass && ok
		fmt.Fprintf(w, "peak RSS %s / %s = %s / %s = %.3f  [within 10%% %s]\n",
			large.label, small.label, mib(rl), mib(rs), float64(rl)/float64(max(rs, 1)), verdict(ok))
	} else {
		fmt.Fprintf(w, "peak RSS spread: needs two sizes\n")
	}
	fmt.Fprintf(w, "acceptance (RSS < 64 MiB, %s wall <= 1.3 x max(cp, sha256), RSS within 10%%): %s\n", large.label, verdict(pass))
	fmt.Fprintf(w, "with the fsync-fair floor (cp+sync): %s wall ratio %s: %s\n", large.label, ratio(pd, floorSync), verdict(pd <= maxWallRatio*floorSync))
}

func ratio(a, b float64) string {
	if b <= 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2fx", a/b)
}

func kernel() string {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return runtime.GOOS
	}
	return runtime.GOOS + " " + strings.TrimSpace(string(b))
}
