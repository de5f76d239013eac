package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"
)

// options are the flags of the harness.
type options struct {
	out, work, corpus string
	quick, keep       bool
	runs, workers     int
	seed              uint64
	log               logger
}

// logger is where progress goes (a *log.Logger).
type logger interface {
	Printf(format string, args ...any)
}

// harness holds what the measurements share.
type harness struct {
	o    options
	env  *env
	work string
}

// Results is the content of results.json.
type Results struct {
	Schema   int       `json:"schema"`
	Command  string    `json:"command"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	Host     Host      `json:"host"`
	// LoadBefore and LoadAfter are uptime(1)'s line before and after
	// the measurements; BusyOthers is the CPU time, in CPUs on average,
	// that the machine spent outside the harness and its children
	// meanwhile.
	LoadBefore string  `json:"load_before"`
	LoadAfter  string  `json:"load_after"`
	BusyOthers float64 `json:"busy_others_cpus"`
	Quick      bool    `json:"quick"`
	Runs       int     `json:"runs"`
	Workers    int     `json:"workers"`
	// Missing names, by tool, what could not be measured and why.
	Missing map[string]string `json:"missing,omitempty"`
	Inputs  []*input          `json:"inputs"`
	Limits  []LimitRow        `json:"limits"`
	Rows    []Row             `json:"rows"`
	Targets []Target          `json:"targets"`
}

// Host describes the machine.
type Host struct {
	CPUs   int    `json:"cpus"`
	Model  string `json:"cpu_model"`
	Go     string `json:"go"`
	Kernel string `json:"kernel"`
	WorkFS string `json:"work_fs"`
}

// LimitRow holds the medians of the limits of an input.
type LimitRow struct {
	Input string `json:"input"`
	// SHA256 is one pass of crypto/sha256 over one document (for many
	// documents, the average), CP one cp of it.
	SHA256WallS float64 `json:"sha256_wall_s"`
	SHA256MBs   float64 `json:"sha256_mb_s"`
	// SHA256sum is coreutils' sha256sum over the documents of a run, in
	// one process.
	SHA256sumMBs float64 `json:"sha256sum_mb_s"`
	CPWallS      float64 `json:"cp_wall_s"`
	CPMBs        float64 `json:"cp_mb_s"`
	// Write is writing the documents of a run of many into new files as
	// pades batch writes its outputs, with nothing else to do, on the
	// workers (writeFiles): documents per second, CPU time of each.
	WritePerS      float64 `json:"write_docs_per_s,omitempty"`
	WriteMBs       float64 `json:"write_mb_s,omitempty"`
	WriteCPUmsEach float64 `json:"write_cpu_ms_each,omitempty"`
	// HashSign and Raw are per key.
	HashSign []KeyRate `json:"hash_sign"`
	Raw      []KeyRate `json:"raw_sign"`
}

// KeyRate is a rate of a key: documents hashed and signed, or signatures
// made, per second, and the CPU time each took.
type KeyRate struct {
	Key        string  `json:"key"`
	PerS       float64 `json:"per_s"`
	CPUmsEach  float64 `json:"cpu_ms_each"`
	WallS      float64 `json:"wall_s"`
	Goroutines int     `json:"goroutines"`
}

// Row is the medians of one cell on one input.
type Row struct {
	Input    string `json:"input"`
	DocBytes int64  `json:"doc_bytes"` // average size of a document
	Docs     int    `json:"docs"`      // documents of one run
	cell
	Runs        []sample `json:"runs,omitempty"`
	WallS       float64  `json:"wall_s"`
	CPUS        float64  `json:"cpu_s"`
	DocsPerS    float64  `json:"docs_per_s"`
	MBPerS      float64  `json:"mb_per_s"` // 10^6 bytes of input per second
	PeakRSSMiB  float64  `json:"peak_rss_mib"`
	CPUmsPerDoc float64  `json:"cpu_ms_per_doc"`
	// Limit names the limit of the row; LimitDocsPerS and
	// LimitCPUmsPerDoc are its figures. Ratio is DocsPerS over
	// LimitDocsPerS; CPURatio the limit's CPU time per document over the
	// row's (what Ratio would be on idle cores, for a CPU-bound engine).
	Limit            string  `json:"limit,omitempty"`
	LimitDocsPerS    float64 `json:"limit_docs_per_s,omitempty"`
	LimitCPUmsPerDoc float64 `json:"limit_cpu_ms_per_doc,omitempty"`
	Ratio            float64 `json:"ratio,omitempty"`
	CPURatio         float64 `json:"cpu_ratio,omitempty"`
	// VsPdfsig, VsMutool and VsOpenSSL are DocsPerS over the peer's on
	// the same input (B-B rows of hashsign).
	VsPdfsig  float64 `json:"vs_pdfsig,omitempty"`
	VsMutool  float64 `json:"vs_mutool,omitempty"`
	VsOpenSSL float64 `json:"vs_openssl_cms,omitempty"`
	// Check is what pades/verify says of an output of the first run:
	// "ok" (intact, at the level asked) or the problem.
	Check       string `json:"check,omitempty"`
	NotMeasured string `json:"not_measured,omitempty"`
	Error       string `json:"error,omitempty"`
}

// run measures everything and writes the outputs.
func run(ctx context.Context, o options) (*Results, error) {
	if o.runs == 0 {
		o.runs = 3
		if o.quick {
			o.runs = 1
		}
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return nil, err
	}
	base := o.work
	if base == "" {
		base = defaultWorkBase()
	}
	work, err := os.MkdirTemp(base, "hashsign-bench-")
	if err != nil {
		return nil, err
	}
	if o.keep {
		defer o.log.Printf("kept %s", work)
	} else {
		defer os.RemoveAll(work)
	}
	res := &Results{Schema: 1, Command: commandLine(o), Started: time.Now().UTC(), Quick: o.quick, Runs: o.runs, Workers: o.workers,
		Host: host(work), LoadBefore: uptime()}
	o.log.Printf("work directory %s (%s); load: %s", work, res.Host.WorkFS, res.LoadBefore)

	e, err := setup(ctx, o, work)
	defer e.close()
	if err != nil {
		return nil, err
	}
	h := &harness{o: o, env: e, work: work}
	ins, err := makeInputs(ctx, o, e, filepath.Join(work, "inputs"))
	if err != nil {
		return nil, err
	}
	res.Inputs = ins
	// The measurements add the gateway when it does not start.
	res.Missing = e.missing

	busy0, own0 := busyTime(), ownCPU(e)
	t0 := time.Now()
	// The large files last: they take the longest.
	order := slices.Clone(ins)
	slices.SortStableFunc(order, func(a, b *input) int { return boolInt(a.Large) - boolInt(b.Large) })
	for _, in := range order {
		rows, lim, err := h.measureInput(ctx, in)
		if err != nil {
			return nil, err
		}
		res.Rows = append(res.Rows, rows...)
		res.Limits = append(res.Limits, lim)
	}
	if elapsed := time.Since(t0).Seconds(); elapsed > 0 {
		res.BusyOthers = max(busyTime()-busy0-(ownCPU(e)-own0), 0) / elapsed
	}
	res.LoadAfter = uptime()
	res.Finished = time.Now().UTC()
	peerRatios(res.Rows)
	res.Targets = targets(res)
	if err := writeOutputs(o.out, res); err != nil {
		return nil, err
	}
	o.log.Printf("wrote %s, %s and %s; load: %s", filepath.Join(o.out, "results.md"), filepath.Join(o.out, "results.json"),
		filepath.Join(o.out, "throughput.svg"), res.LoadAfter)
	return res, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// measureInput runs the rounds of one input: in each, the limits, then
// every cell, the order rotating from round to round.
func (h *harness) measureInput(ctx context.Context, in *input) ([]Row, LimitRow, error) {
	cs := cells(in, h.o.quick)
	samples := make([][]sample, len(cs))
	notMeasured := make([]string, len(cs))
	errs := make([]string, len(cs))
	checks := make([]string, len(cs))
	var lims []limitSample
	for r := range h.o.runs {
		ls, err := h.measureLimits(ctx, in)
		if err != nil {
			return nil, LimitRow{}, fmt.Errorf("%s: limits: %w", in.Name, err)
		}
		lims = append(lims, ls)
		for k := range cs {
			i := (k + r) % len(cs)
			if notMeasured[i] != "" || errs[i] != "" {
				continue
			}
			if err := ctx.Err(); err != nil {
				return nil, LimitRow{}, err
			}
			s, check, err := h.measure(ctx, in, cs[i], r == 0)
			if why, ok := isNotMeasured(err); ok {
				notMeasured[i] = why
				continue
			}
			if err != nil {
				errs[i] = err.Error()
				h.o.log.Printf("%s, %s: %v", in.Name, cs[i], err)
				continue
			}
			if r == 0 {
				checks[i] = check
				if !strings.HasPrefix(check, "ok") {
					h.o.log.Printf("%s, %s: the output fails its check: %s", in.Name, cs[i], check)
				}
			}
			samples[i] = append(samples[i], s)
			h.o.log.Printf("%s run %d: %-40s %7.3fs  cpu %7.3fs  rss %6.1f MiB", in.Name, r+1, cs[i], s.Wall, s.CPU, float64(s.RSS)/1024)
		}
	}
	lim := summarizeLimits(in, lims, h.o.workers)
	var rows []Row
	for i, c := range cs {
		row := Row{Input: in.Name, DocBytes: int64(in.docBytes()), Docs: in.NDocs, cell: c, Runs: samples[i],
			Check: checks[i], NotMeasured: notMeasured[i], Error: errs[i]}
		if perProcess(c.Engine) {
			row.Docs = min(in.NDocs, h.peerDocs())
		}
		if len(samples[i]) > 0 {
			fill(&row, in, lim, lims)
		}
		rows = append(rows, row)
	}
	return rows, lim, nil
}

// fill computes the medians, rates and ratios of a row from its runs.
func fill(row *Row, in *input, lim LimitRow, lims []limitSample) {
	row.WallS = median(field(row.Runs, func(s sample) float64 { return s.Wall }))
	row.CPUS = median(field(row.Runs, func(s sample) float64 { return s.CPU }))
	var peak int64
	for _, s := range row.Runs {
		peak = max(peak, s.RSS)
	}
	row.PeakRSSMiB = float64(peak) / 1024
	docs := float64(row.Docs)
	row.DocsPerS = docs / row.WallS
	row.MBPerS = docs * in.docBytes() / 1e6 / row.WallS
	row.CPUmsPerDoc = row.CPUS / docs * 1000
	if isPeer(row.Engine) {
		return // compared with hashsign in peerRatios
	}
	switch {
	case !in.Large && row.Mode == "inplace":
		// Its own limit, measured with each run on the copies it signs.
		var ls []sample
		for _, s := range row.Runs {
			if s.Limit != nil {
				ls = append(ls, *s.Limit)
			}
		}
		row.Limit = fmt.Sprintf("hash+sign of the run's copies, %s, %d goroutines", row.key, keyRate(lim.HashSign, row.key).Goroutines)
		row.LimitDocsPerS = docs / median(field(ls, func(s sample) float64 { return s.Wall }))
		row.LimitCPUmsPerDoc = median(field(ls, func(s sample) float64 { return s.CPU })) / docs * 1000
	case !in.Large:
		hs := keyRate(lim.HashSign, row.key)
		row.Limit = fmt.Sprintf("hash+sign, %s, %d goroutines", row.key, hs.Goroutines)
		row.LimitDocsPerS, row.LimitCPUmsPerDoc = hs.PerS, hs.CPUmsEach
	case row.Mode == "inplace":
		row.Limit = "one SHA-256 pass"
		row.LimitDocsPerS = 1 / lim.SHA256WallS
		row.LimitCPUmsPerDoc = median(field(limitField(lims, func(l limitSample) sample { return l.SHA256 }), func(s sample) float64 { return s.CPU })) * 1000
	default:
		row.Limit = "max(cp, one SHA-256 pass)"
		row.LimitDocsPerS = 1 / max(lim.CPWallS, lim.SHA256WallS)
		// The CPU that copying and hashing need, done by one process.
		row.LimitCPUmsPerDoc = 1000 * (median(field(limitField(lims, func(l limitSample) sample { return l.SHA256 }), func(s sample) float64 { return s.CPU })) +
			median(field(limitField(lims, func(l limitSample) sample { return l.CP }), func(s sample) float64 { return s.CPU })))
	}
	row.Ratio = row.DocsPerS / row.LimitDocsPerS
	if row.CPUmsPerDoc > 0 {
		row.CPURatio = row.LimitCPUmsPerDoc / row.CPUmsPerDoc
	}
}

// summarizeLimits takes the medians of the limit runs of an input.
func summarizeLimits(in *input, lims []limitSample, workers int) LimitRow {
	lr := LimitRow{Input: in.Name}
	docs := float64(in.NDocs)
	sha := median(field(limitField(lims, func(l limitSample) sample { return l.SHA256 }), func(s sample) float64 { return s.Wall }))
	lr.SHA256WallS = sha / docs
	lr.SHA256MBs = float64(in.Bytes) / 1e6 / sha
	lr.SHA256sumMBs = float64(in.Bytes) / 1e6 / median(field(limitField(lims, func(l limitSample) sample { return l.SHA256sum }), func(s sample) float64 { return s.Wall }))
	cp := median(field(limitField(lims, func(l limitSample) sample { return l.CP }), func(s sample) float64 { return s.Wall }))
	cpDocs := float64(lims[0].CPDocs)
	lr.CPWallS = cp / cpDocs
	lr.CPMBs = cpDocs * in.docBytes() / 1e6 / cp
	if !in.Large {
		w := limitField(lims, func(l limitSample) sample { return l.Write })
		wall := median(field(w, func(s sample) float64 { return s.Wall }))
		lr.WritePerS = docs / wall
		lr.WriteMBs = float64(in.Bytes) / 1e6 / wall
		lr.WriteCPUmsEach = median(field(w, func(s sample) float64 { return s.CPU })) / docs * 1000
	}
	var keys []string
	for k := range lims[0].HashSign {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		hs := limitField(lims, func(l limitSample) sample { return l.HashSign[k] })
		wall := median(field(hs, func(s sample) float64 { return s.Wall }))
		cpu := median(field(hs, func(s sample) float64 { return s.CPU }))
		lr.HashSign = append(lr.HashSign, KeyRate{Key: k, PerS: docs / wall, CPUmsEach: cpu / docs * 1000, WallS: wall, Goroutines: workers})
		var rates, cpus []float64
		for _, l := range lims {
			n := float64(l.RawSigs[k])
			rates = append(rates, n/l.Raw[k].Wall)
			cpus = append(cpus, l.Raw[k].CPU/n*1000)
		}
		lr.Raw = append(lr.Raw, KeyRate{Key: k, PerS: median(rates), CPUmsEach: median(cpus), Goroutines: workers})
	}
	return lr
}

// keyRate returns the rate of key in rates.
func keyRate(rates []KeyRate, key string) KeyRate {
	for _, r := range rates {
		if r.Key == key {
			return r
		}
	}
	return KeyRate{PerS: math.NaN()}
}

// peerRatios sets, on each B-B row of hashsign, its docs/s over those of
// each peer on the same input.
func peerRatios(rows []Row) {
	peers := map[string]float64{}
	for _, r := range rows {
		if isPeer(r.Engine) && r.DocsPerS > 0 {
			peers[r.Input+"/"+r.Engine] = r.DocsPerS
		}
	}
	for i := range rows {
		r := &rows[i]
		if isPeer(r.Engine) || r.Level != "B-B" || r.DocsPerS == 0 {
			continue
		}
		for peer, vs := range map[string]*float64{engPdfsig: &r.VsPdfsig, engMutool: &r.VsMutool, engOpenSSL: &r.VsOpenSSL} {
			if p := peers[r.Input+"/"+peer]; p > 0 {
				*vs = r.DocsPerS / p
			}
		}
	}
}

func limitField(lims []limitSample, f func(limitSample) sample) []sample {
	var s []sample
	for _, l := range lims {
		s = append(s, f(l))
	}
	return s
}

func field(ss []sample, f func(sample) float64) []float64 {
	v := make([]float64, len(ss))
	for i, s := range ss {
		v[i] = f(s)
	}
	return v
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	switch {
	case n == 0:
		return math.NaN()
	case n%2 == 1:
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// defaultWorkBase is /dev/shm when it is a tmpfs, else the temporary
// directory.
func defaultWorkBase() string {
	if strings.HasPrefix(describeFS("/dev/shm"), "tmpfs ") {
		return "/dev/shm"
	}
	return os.TempDir()
}

// describeFS names the file system that holds dir, such as "tmpfs on
// /dev/shm", from /proc/self/mounts.
func describeFS(dir string) string {
	abs, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return "unknown file system"
	}
	data, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		return "unknown file system"
	}
	best, desc := -1, "unknown file system"
	for line := range strings.Lines(string(data)) {
		f := strings.Fields(line) // source mountpoint fstype options ...
		if len(f) < 3 {
			continue
		}
		mp := strings.ReplaceAll(f[1], `\040`, " ")
		if !(mp == "/" || abs == mp || strings.HasPrefix(abs, mp+"/")) || len(mp) <= best {
			continue
		}
		best, desc = len(mp), fmt.Sprintf("%s on %s", f[2], mp)
	}
	return desc
}

// host describes the machine, with the file system of the work directory.
func host(work string) Host {
	h := Host{CPUs: runtime.NumCPU(), Go: runtime.Version(), Kernel: runtime.GOOS, WorkFS: describeFS(work)}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		h.Kernel += " " + strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				h.Model = strings.TrimSpace(v)
				break
			}
		}
	}
	return h
}

// uptime returns the line of uptime(1), or the load averages of
// /proc/loadavg when it is missing.
func uptime() string {
	if out, err := exec.Command("uptime").Output(); err == nil {
		return strings.TrimSpace(string(out))
	}
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return "load average: " + strings.Join(strings.Fields(string(b))[:3], ", ")
}

// busyTime returns the CPU time, in seconds, that all CPUs have spent
// outside the idle and iowait states since boot, from /proc/stat.
func busyTime() float64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return 0
	}
	var busy float64
	for i, v := range f[1:8] { // user nice system idle iowait irq softirq
		if i == 3 || i == 4 {
			continue
		}
		var n float64
		fmt.Sscan(v, &n)
		busy += n
	}
	return busy / clockTicks
}

// ownCPU returns the CPU time of the harness, of its children that were
// waited for, and of the development service.
func ownCPU(e *env) float64 {
	var ru syscall.Rusage
	var children float64
	if err := syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru); err == nil {
		children = time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
	}
	return cpuTime() + children + procCPU(e.dev.Cmd.Process.Pid)
}

// commandLine returns the command that reproduces a run with o.
func commandLine(o options) string {
	args := []string{"go run ./bench/harness -out", o.out}
	if o.quick {
		args = append(args, "-quick")
	}
	if o.runs != 3 && !(o.quick && o.runs == 1) {
		args = append(args, fmt.Sprintf("-runs %d", o.runs))
	}
	if o.workers != runtime.NumCPU() {
		args = append(args, fmt.Sprintf("-workers %d", o.workers))
	}
	if o.seed != 1 {
		args = append(args, fmt.Sprintf("-seed %d", o.seed))
	}
	return strings.Join(args, " ")
}
