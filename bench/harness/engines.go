package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"hashsign/hashsvc"
	"hashsign/pades"
	"hashsign/pades/batch"
	"hashsign/pades/verify"
)

// A sample is what one run of a command (or of a limit) took.
type sample struct {
	Wall float64 `json:"wall_s"`
	CPU  float64 `json:"cpu_s"`   // user and system, children and the service included
	RSS  int64   `json:"rss_kib"` // peak resident set size of the process (the largest one for the peers)
	// Limit is the limit measured with this run, of a row whose limit is
	// its own (in place on fresh copies: hashing them and signing their
	// digests, see freshCopies).
	Limit *sample `json:"limit,omitempty"`
}

// A signerSpec is one way of signing with pades.
type signerSpec struct {
	Name string
	// Key is the limit key of the signer's key (whose raw rate and
	// hash+sign rate are its limits).
	Key string
	// args returns the signer flags of pades, or why it cannot sign.
	args func(e *env) ([]string, string)
}

// signerSpecs are the signers measured, in the order of the tables.
var signerSpecs = []signerSpec{
	{"keyfile-rsa", keyRSA, func(e *env) ([]string, string) { return e.keyFile("rsa"), "" }},
	{"keyfile-p256", keyP256, func(e *env) ([]string, string) { return e.keyFile("p256"), "" }},
	{"softhsm-rsa", keySoftHSM, func(e *env) ([]string, string) {
		if e.softhsmURI == "" {
			return nil, e.missing["softhsm"]
		}
		return []string{"-pkcs11", e.softhsmURI, "-cert", filepath.Join(e.devPKI, "signer-rsa.pem"), "-chain", e.chain}, ""
	}},
	{"remote-rsa-b1", keyRSA, remoteArgs("dev-rsa", 1)},
	{"remote-rsa-b64", keyRSA, remoteArgs("dev-rsa", 64)},
	{"remote-p256-b64", keyP256, remoteArgs("dev-p256", 64)},
}

// remoteArgs returns the flags of a remote signer: hashsvc -dev on
// loopback, with batches of at most size hashes.
func remoteArgs(cred string, size int) func(e *env) ([]string, string) {
	return func(e *env) ([]string, string) {
		return []string{"-remote", e.dev.URL, "-credential", cred, "-api-key-file", e.apiKeyFile,
			"-batch-size", strconv.Itoa(size)}, ""
	}
}

// levelArgs returns the level flags of pades.
func (e *env) levelArgs(level string) []string {
	args := []string{"-level", level}
	if level != "B-B" {
		args = append(args, "-tsa", e.dev.URL+"/tsa", "-trust", e.trust)
	}
	return args
}

// A cell is one measured configuration of an input.
type cell struct {
	// Engine is batch (`pades batch`), library (pades/batch's Engine in
	// the harness's process), cli (`pades sign`, a process per
	// document), gateway, or a peer (pdfsig, mutool, openssl-cms).
	Engine string `json:"engine"`
	Signer string `json:"signer"`
	Level  string `json:"level"`
	Mode   string `json:"mode"` // copy or inplace
	key    string
	spec   *signerSpec
}

func (c cell) String() string {
	return fmt.Sprintf("%s %s %s %s", c.Engine, c.Signer, c.Level, c.Mode)
}

// Engines.
const (
	engBatch   = "batch"
	engLibrary = "library"
	engCLI     = "cli"
	engGateway = "gateway"
	engPdfsig  = "pdfsig"
	engMutool  = "mutool"
	engOpenSSL = "openssl-cms"
)

// isPeer reports whether engine is another signer than hashsign.
func isPeer(engine string) bool {
	return engine == engPdfsig || engine == engMutool || engine == engOpenSSL
}

// perProcess reports whether engine starts a process per document (and
// signs at most peerDocs documents of a run).
func perProcess(engine string) bool { return engine == engCLI || isPeer(engine) }

// peerSigners names the key store of each peer.
var peerSigners = map[string]string{engPdfsig: "rsa-2048 NSS", engMutool: "rsa-2048 PKCS#12", engOpenSSL: "rsa-2048 key file"}

// cells returns the configurations measured on in. pades batch: every
// signer at every level on inputs of many documents; on a large file the
// RSA key file at every level and in place, the other signers at B-B (a
// batch of one document is the same for every batch size: remote-rsa-b1
// is left out). -quick measures B-T and B-LT with the RSA key file only.
// The library (the same engine in the harness's process) and the CLI
// (`pades sign`, a process per document) at B-B, then the gateway
// (`pades serve`, see gatewayCells) and the peers. On the inputs of many
// documents of the size series (small and medium: signsCopies), pades
// batch and the library also sign in place with the RSA key file at B-B,
// each run fresh copies of the documents (see freshCopies).
func cells(in *input, quick bool) []cell {
	var cs []cell
	for i := range signerSpecs {
		s := &signerSpecs[i]
		for _, level := range []string{"B-B", "B-T", "B-LT"} {
			if (quick || in.Large) && level != "B-B" && s.Name != "keyfile-rsa" {
				continue
			}
			if in.Large && s.Name == "remote-rsa-b1" {
				continue
			}
			cs = append(cs, cell{Engine: engBatch, Signer: s.Name, Level: level, Mode: "copy", key: s.Key, spec: s})
		}
	}
	if in.Large || signsCopies(in) {
		cs = append(cs, cell{Engine: engBatch, Signer: "keyfile-rsa", Level: "B-B", Mode: "inplace", key: keyRSA, spec: &signerSpecs[0]})
	}
	for i := range signerSpecs {
		s := &signerSpecs[i]
		if s.Name == "keyfile-rsa" || s.Name == "keyfile-p256" || s.Name == "remote-rsa-b64" {
			cs = append(cs, cell{Engine: engLibrary, Signer: s.Name, Level: "B-B", Mode: "copy", key: s.Key, spec: s})
		}
	}
	if signsCopies(in) {
		cs = append(cs, cell{Engine: engLibrary, Signer: "keyfile-rsa", Level: "B-B", Mode: "inplace", key: keyRSA, spec: &signerSpecs[0]})
	}
	cs = append(cs, cell{Engine: engCLI, Signer: "keyfile-rsa", Level: "B-B", Mode: "copy", key: keyRSA, spec: &signerSpecs[0]})
	cs = append(cs, gatewayCells(in)...)
	for _, peer := range []string{engPdfsig, engMutool, engOpenSSL} {
		if peer == engMutool && in.Name == "corpus" {
			continue // mutool only fills existing empty fields, which most corpus files lack
		}
		cs = append(cs, cell{Engine: peer, Signer: peerSigners[peer], Level: "B-B", Mode: "copy", key: keyRSA})
	}
	return cs
}

// signsCopies reports whether the in-place cells of in sign fresh copies of
// its documents: on the generated inputs of many documents of the size
// series (small, medium), not on the file of many objects nor on the
// corpus. A large file is signed in place itself, and cut back after.
func signsCopies(in *input) bool { return in.Series && !in.Large }

// errNotMeasured marks a cell that cannot be measured on this machine.
type errNotMeasured string

func (e errNotMeasured) Error() string { return string(e) }

// measure runs cell c once on in and returns its sample. The check of its
// output (the level reached, integrity) runs on the first run only.
func (h *harness) measure(ctx context.Context, in *input, c cell, check bool) (sample, string, error) {
	switch c.Engine {
	case engBatch:
		return h.padesBatch(ctx, in, c, check)
	case engLibrary:
		return h.library(ctx, in, c, check)
	case engGateway:
		return h.gateway(ctx, in, c, check)
	case engCLI, engPdfsig, engMutool, engOpenSSL:
		return h.perProcess(ctx, in, c, check)
	}
	return sample{}, "", fmt.Errorf("unknown engine %q", c.Engine)
}

// padesBatch runs `pades batch` on the documents of in.
func (h *harness) padesBatch(ctx context.Context, in *input, c cell, check bool) (sample, string, error) {
	e := h.env
	sargs, why := c.spec.args(e)
	if why != "" {
		return sample{}, "", errNotMeasured(why)
	}
	out, err := h.outDir()
	if err != nil {
		return sample{}, "", err
	}
	defer os.RemoveAll(out)
	args := append([]string{"batch"}, sargs...)
	args = append(args, e.levelArgs(c.Level)...)
	args = append(args, "-workers", strconv.Itoa(h.o.workers), "-out", out)
	var outputs []string
	var copies *inPlaceCopies
	var size int64 // of a large file signed in place, before
	switch {
	case c.Mode == "inplace" && in.Large:
		file := in.Docs[0]
		st, err := os.Stat(file)
		if err != nil {
			return sample{}, "", err
		}
		size = st.Size()
		defer os.Truncate(file, size)
		args = append(args, "-inplace", file)
		outputs = []string{file}
	case c.Mode == "inplace":
		if copies, err = h.freshCopies(in, c.key); err != nil {
			return sample{}, "", err
		}
		defer os.RemoveAll(copies.dir)
		args = append(args, "-inplace", "-in", copies.dir)
		outputs = copies.files
	default:
		args = append(args, "-manifest", h.manifest(in))
		for i := range in.Docs {
			outputs = append(outputs, filepath.Join(out, outName(i)))
		}
	}
	s, err := h.run(ctx, e.pades, args, nil)
	if copies != nil {
		s.Limit = &copies.limit
	}
	if err != nil {
		return s, "", err
	}
	if size > 0 && fileSize(outputs[0]) <= size {
		return s, "", fmt.Errorf("%s signed in place is not larger than it was", outputs[0])
	}
	check2, err := h.checkOutputs(ctx, in.Docs, outputs, c, check)
	return s, check2, err
}

// inPlaceCopies are the fresh copies that one in-place run signs.
type inPlaceCopies struct {
	dir   string
	files []string // the copy of each document of the input, in order
	// limit is that of the run: each copy hashed and its digest signed,
	// on the workers.
	limit sample
}

// freshCopies writes a copy of each document of in into a new directory of
// the work directory (as writeFiles writes outputs), syncs the file
// systems (syscall.Sync) so that the copies' own write-back is no part of
// what is timed next, and measures the limit of the run that signs them in
// place: hashing each copy and signing its digest with key, on the workers
// (hashSign says why the copies). Nothing of it is part of the run's time;
// the caller signs each copy once and removes dir.
func (h *harness) freshCopies(in *input, key string) (*inPlaceCopies, error) {
	s := h.env.keys[key]
	if s == nil {
		return nil, fmt.Errorf("no key %s", key)
	}
	data, err := readDocs(in.Docs)
	if err != nil {
		return nil, err
	}
	cp := &inPlaceCopies{dir: filepath.Join(h.work, "inplace")}
	if err := os.RemoveAll(cp.dir); err != nil {
		return nil, err
	}
	if err := os.Mkdir(cp.dir, 0o755); err != nil {
		return nil, err
	}
	if err := h.writeFiles(in.Docs, data, cp.dir); err != nil {
		os.RemoveAll(cp.dir)
		return nil, fmt.Errorf("copying the documents: %w", err)
	}
	for i := range in.Docs {
		cp.files = append(cp.files, filepath.Join(cp.dir, outName(i)))
	}
	syscall.Sync()
	if cp.limit, err = inProcess(func() error { return h.hashSign(cp.files, s) }); err != nil {
		os.RemoveAll(cp.dir)
		return nil, fmt.Errorf("hash+sign of the copies: %w", err)
	}
	return cp, nil
}

// checkOutputs checks that each output of docs exists and, unless it is
// its document itself (a large file signed in place), is larger than the
// document (in place on copies: than the document copied); and, when
// check is set, what pades/verify says of the last one: its newest
// signature intact and at c's level.
func (h *harness) checkOutputs(ctx context.Context, docs, outputs []string, c cell, check bool) (string, error) {
	for i, o := range outputs {
		st, err := os.Stat(o)
		if err == nil && o != docs[i] && st.Size() <= fileSize(docs[i]) {
			err = errors.New("not larger than its input")
		}
		if err != nil {
			return "", fmt.Errorf("output %s: %w", o, err)
		}
	}
	if !check {
		return "", nil
	}
	return h.verify(ctx, outputs[len(outputs)-1], c.Level), nil
}

// library signs the documents of in with pades/batch's Engine in the
// harness's process: pades batch without the process, its start and its
// flags. The CPU time is the process's (and the development service's)
// meanwhile; the peak RSS is not measured (it would be the harness's).
func (h *harness) library(ctx context.Context, in *input, c cell, check bool) (sample, string, error) {
	s, batchSize, err := h.env.libSigner(ctx, c.Signer)
	if err != nil {
		return sample{}, "", err
	}
	out, err := h.outDir()
	if err != nil {
		return sample{}, "", err
	}
	defer os.RemoveAll(out)
	level, err := pades.ParseLevel(c.Level)
	if err != nil {
		return sample{}, "", err
	}
	jobs := make([]batch.Job, len(in.Docs))
	outputs := make([]string, len(in.Docs))
	var copies *inPlaceCopies
	if c.Mode == "inplace" {
		if copies, err = h.freshCopies(in, c.key); err != nil {
			return sample{}, "", err
		}
		defer os.RemoveAll(copies.dir)
		copy(outputs, copies.files)
	} else {
		for i := range in.Docs {
			outputs[i] = filepath.Join(out, outName(i))
		}
	}
	for i, d := range in.Docs {
		if copies != nil {
			d = outputs[i] // in place, the copy is the input
		}
		jobs[i] = batch.Job{In: d, Out: outputs[i]}
	}
	pid := h.env.dev.Cmd.Process.Pid
	svc0 := procCPU(pid)
	smp, err := inProcess(func() error {
		eng, err := batch.New(ctx, s, &batch.Options{Sign: pades.SignOptions{Level: level}, Workers: h.o.workers, BatchSize: batchSize,
			InPlace: copies != nil})
		if err != nil {
			return err
		}
		sum := eng.Run(ctx, jobs, nil)
		switch {
		case sum.Stopped != nil:
			return fmt.Errorf("the batch stopped: %w", sum.Stopped)
		case sum.Signed != len(jobs):
			return fmt.Errorf("signed %d of %d documents (%d failed)", sum.Signed, len(jobs), sum.Failed)
		}
		return nil
	})
	smp.CPU += procCPU(pid) - svc0
	if copies != nil {
		smp.Limit = &copies.limit
	}
	if err != nil {
		return smp, "", fmt.Errorf("library, %s: %w", c.Signer, err)
	}
	check2, err := h.checkOutputs(ctx, in.Docs, outputs, c, check)
	return smp, check2, err
}

// outDir returns the output directory of a run, new and empty; the
// caller removes it.
func (h *harness) outDir() (string, error) {
	out := filepath.Join(h.work, "out")
	if err := os.RemoveAll(out); err != nil {
		return "", err
	}
	return out, os.Mkdir(out, 0o755)
}

// manifest returns the batch manifest of in, written once.
func (h *harness) manifest(in *input) string {
	name := filepath.Join(h.work, "inputs", in.Name+".jsonl")
	if _, err := os.Stat(name); err != nil {
		if err := writeManifest(name, in.Docs); err != nil {
			h.o.log.Printf("writing %s: %v", name, err)
		}
	}
	return name
}

// verify validates a signed file with pades/verify and says "ok" when its
// newest signature is intact and at level (pdfsig and mutool make
// adbe.pkcs7.detached signatures: integrity only), else what is wrong.
func (h *harness) verify(ctx context.Context, file, level string) string {
	f, err := os.Open(file)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err.Error()
	}
	roots, err := hashsvc.LoadCertificates(h.env.trust)
	if err != nil {
		return err.Error()
	}
	rep, err := verify.Document(ctx, f, st.Size(), &verify.Options{Anchors: roots})
	if err != nil {
		return "pades verify: " + err.Error()
	}
	if len(rep.Signatures) == 0 {
		return "no signature"
	}
	sig := rep.Signatures[len(rep.Signatures)-1]
	if sig.Integrity.Status != "passed" {
		return fmt.Sprintf("integrity %s: %s", sig.Integrity.Status, sig.Integrity.Detail)
	}
	if level != "" && (sig.Level == nil || sig.Level.Reached != level) {
		got := "none"
		if sig.Level != nil {
			got = sig.Level.Reached + " (" + sig.Level.Reason + ")"
		}
		return fmt.Sprintf("level %s, want %s", got, level)
	}
	return "ok"
}

// perProcess runs `pades sign`, pdfsig, mutool or openssl cms on the
// first peerDocs documents of in, h.o.workers processes at once, each
// document into its own output.
func (h *harness) perProcess(ctx context.Context, in *input, c cell, check bool) (sample, string, error) {
	e := h.env
	if why := e.missing[c.Engine]; why != "" {
		return sample{}, "", errNotMeasured(why)
	}
	out, err := h.outDir()
	if err != nil {
		return sample{}, "", err
	}
	defer os.RemoveAll(out)
	docs := in.Docs[:min(len(in.Docs), h.peerDocs())]
	outputs := make([]string, len(docs))
	for i := range docs {
		outputs[i] = filepath.Join(out, outName(i))
	}
	argv := func(i int) []string {
		switch c.Engine {
		case engCLI:
			a := append([]string{e.pades, "sign"}, e.keyFile("rsa")...)
			a = append(a, e.levelArgs(c.Level)...)
			return append(a, docs[i], outputs[i])
		case engPdfsig:
			return []string{"pdfsig", "-nssdir", "sql:" + e.nssDir, "-add-signature", "-nick", e.nssNick, docs[i], outputs[i]}
		case engMutool:
			return []string{"mutool", "sign", "-s", e.p12, "-P", p12Password, "-o", outputs[i], docs[i]}
		}
		// A detached CMS signature of the whole file: the hashing and
		// signing that any signer of the file must do, by a C program,
		// without the PDF.
		a := []string{"openssl", "cms", "-sign", "-binary", "-md", "sha256", "-outform", "DER", "-in", docs[i], "-out", outputs[i]}
		return append(a, e.opensslKeyArgs()...)
	}
	// NSS measures the speed of its database's file system at every
	// start (about a second here) unless told to trust its cache: the
	// best case of pdfsig is measured.
	env := append(slices.Clone(e.childEnv), "NSS_SDB_USE_CACHE=yes")
	var mu sync.Mutex
	var total sample
	t0 := time.Now()
	err = h.parallel(len(docs), func(i int, _ []byte) error {
		a := argv(i)
		s, err := h.run(ctx, a[0], a[1:], env)
		mu.Lock()
		total.CPU += s.CPU
		total.RSS = max(total.RSS, s.RSS)
		mu.Unlock()
		return err
	})
	total.Wall = time.Since(t0).Seconds()
	if err != nil {
		return total, "", err
	}
	last := len(docs) - 1
	switch c.Engine {
	case engOpenSSL:
		for _, o := range outputs {
			if fileSize(o) == 0 {
				return total, "", fmt.Errorf("openssl cms wrote no signature %s", o)
			}
		}
		if !check {
			return total, "", nil
		}
		return total, h.opensslCheck(ctx, docs[last], outputs[last]), nil
	case engPdfsig:
		if _, err := h.checkOutputs(ctx, docs, outputs, c, false); err != nil {
			return total, "", err
		}
		if !check {
			return total, "", nil
		}
		// pdfsig adds its field to the page's /Annots but not to the
		// /Fields of an existing AcroForm, where pades/verify (and
		// qpdf) look for fields: its own reader judges it.
		return total, h.pdfsigCheck(ctx, outputs[last]), nil
	case engMutool:
		c.Level = "" // adbe.pkcs7.detached: integrity only
	}
	check2, err := h.checkOutputs(ctx, docs, outputs, c, check)
	return total, check2, err
}

// opensslCheck says "ok (openssl cms -verify)" when sig is a valid
// signature of doc by a certificate of the development PKI.
func (h *harness) opensslCheck(ctx context.Context, doc, sig string) string {
	out, err := exec.CommandContext(ctx, "openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", sig, "-content", doc,
		"-CAfile", h.env.trust, "-certfile", h.env.chain, "-purpose", "any", "-out", os.DevNull).CombinedOutput()
	if err == nil && strings.Contains(string(out), "Verification successful") {
		return "ok (openssl cms -verify)"
	}
	return fmt.Sprintf("openssl cms -verify: %v: %s", err, lastLines(string(out), 3))
}

// pdfsigCheck says "ok" when pdfsig finds a valid signature in file.
func (h *harness) pdfsigCheck(ctx context.Context, file string) string {
	out, _ := exec.CommandContext(ctx, "pdfsig", file).CombinedOutput()
	if strings.Contains(string(out), "Signature Validation: Signature is Valid.") {
		return "ok (pdfsig)"
	}
	return "pdfsig finds no valid signature: " + lastLines(string(out), 3)
}

// peerDocs is the most documents a peer signs in one run (they sign one
// process per document, much slower than pades).
func (h *harness) peerDocs() int {
	if h.o.quick {
		return 4
	}
	return 64
}

// timeBin is GNU time, which gives the peak RSS of a command.
const timeBin = "/usr/bin/time"

// run runs a command and returns its wall time, its CPU time plus that
// of the development service meanwhile, and its peak RSS.
//
// The peak RSS comes from GNU time when it is installed: Linux sets a
// process's maxrss, at exec, to at least the RSS of the memory it had
// before, and os/exec starts children on the harness's own memory (vfork),
// so that their rusage would show the harness's RSS whenever it is
// larger. time forks from its own small process.
func (h *harness) run(ctx context.Context, bin string, args []string, env []string) (sample, error) {
	argv := append([]string{bin}, args...)
	rssFile := ""
	if h.env.missing["time"] == "" {
		f, err := os.CreateTemp(h.work, "rss-")
		if err != nil {
			return sample{}, err
		}
		f.Close()
		rssFile = f.Name()
		defer os.Remove(rssFile)
		argv = append([]string{timeBin, "-f", "%M", "-o", rssFile}, argv...)
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = h.env.childEnv
	if env != nil {
		cmd.Env = env
	}
	var outBuf strings.Builder
	cmd.Stdout, cmd.Stderr = &outBuf, &outBuf
	pid := h.env.dev.Cmd.Process.Pid
	svc0 := procCPU(pid)
	t0 := time.Now()
	err := cmd.Run()
	s := sample{Wall: time.Since(t0).Seconds()}
	s.CPU = procCPU(pid) - svc0
	if ps := cmd.ProcessState; ps != nil {
		// With time, its rusage holds that of the command it waited for.
		s.CPU += ps.UserTime().Seconds() + ps.SystemTime().Seconds()
		if ru, ok := ps.SysUsage().(*syscall.Rusage); ok && rssFile == "" {
			s.RSS = ru.Maxrss // KiB on Linux
		}
	}
	if rssFile != "" {
		b, rerr := os.ReadFile(rssFile)
		// time writes "Command exited with non-zero status N" first
		// when the command fails.
		lines := strings.Fields(string(b))
		if rerr == nil && len(lines) > 0 {
			s.RSS, rerr = strconv.ParseInt(lines[len(lines)-1], 10, 64)
		}
		if rerr != nil && err == nil {
			err = fmt.Errorf("reading the peak RSS that time measured: %v (%q)", rerr, b)
		}
	}
	if err != nil {
		return s, fmt.Errorf("%s %s: %v\n%s", filepath.Base(bin), strings.Join(args, " "), err, lastLines(outBuf.String(), 10))
	}
	return s, nil
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(len(lines)-n, 0):], "\n")
}

func fileSize(name string) int64 {
	st, err := os.Stat(name)
	if err != nil {
		return 0
	}
	return st.Size()
}

// isNotMeasured reports whether err says that a cell cannot be measured.
func isNotMeasured(err error) (string, bool) {
	var nm errNotMeasured
	if errors.As(err, &nm) {
		return string(nm), true
	}
	return "", false
}
