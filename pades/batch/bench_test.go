package batch_test

// Throughput benchmarks of the batch engine, each with its baseline
// measured in the same run and reported as a ratio (b.ReportMetric):
//
//	BenchmarkBatch/signer=keyfile   1 MiB documents, B-B, RSA-2048 key file, 2 workers, outputs committed (fsync,
//	                                rename): docs/s against the limit that hashing the bytes plus one RSA-2048
//	                                signature per document allow on 2 goroutines (ratio; target 0.8); and, as
//	                                write-only-docs/s, how fast the same outputs are written and committed with
//	                                nothing else to do, and ratio-with-writes, docs/s against the limit of
//	                                hashing, signing and writing the outputs on the same cores
//	BenchmarkBatch/inplace/signer=keyfile
//	                                the same with Options.InPlace, on 256 copies of the document: against the
//	                                limit that hashing those copies plus one signature each allow (ratio;
//	                                target 0.8)
//	BenchmarkBatch/signer=remote64  the same through hashsvc on 127.0.0.1 with batches of 64: docs/s against the key
//	                                file's in the same run (ratio-to-keyfile; target 0.8)
//	BenchmarkInPlace                `pades batch -inplace` (the built command) on a 1 GiB file at B-B: wall time
//	                                against one SHA-256 pass over the file (time-ratio; target 1.1; cpu-time-ratio
//	                                compares the CPU times), and the peak RSS of the command (peak-rss-MiB; target 24)
//
// On a machine that other work shares, wall-time ratios are noisy; the
// cpu-ratio metrics (CPU time of the baseline over that of the engine,
// user and system; cpu-time-ratio the other way round, as time-ratio) tell
// what the ratio would be with the cores to itself.
//
//	go test -run '^$' -bench 'Batch|InPlace' -benchtime 3x ./pades/batch
//
// BenchmarkInPlace writes a 1 GiB file to the temporary directory;
// HASHSIGN_BENCH_INPLACE_SIZE (such as 256MiB) changes its size.

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"hashsign/hashsvc/hashsvctest"
	"hashsign/internal/atomicfile"
	"hashsign/internal/devpki"
	"hashsign/internal/groupsync"
	"hashsign/pades/batch"
	"hashsign/signer"
	"hashsign/signer/remote"
)

// benchDocs is the number of documents of one measured batch.
const benchDocs = 256

func BenchmarkBatch(b *testing.B) {
	p := hashsvctest.PKI(b)
	key, err := signer.New(p.SignerRSA.Key, p.Chain(p.SignerRSA))
	if err != nil {
		b.Fatal(err)
	}
	in := filepath.Join(b.TempDir(), "in.pdf")
	hashsvctest.GenPDF(b, "1MiB", in)
	st, err := os.Stat(in)
	if err != nil {
		b.Fatal(err)
	}
	jobs := func(dir string) []batch.Job {
		var js []batch.Job
		for i := range benchDocs {
			js = append(js, batch.Job{In: in, Out: filepath.Join(dir, fmt.Sprintf("out%03d.pdf", i))})
		}
		return js
	}
	// runBatch signs one batch of benchDocs with s into a new directory
	// and returns its wall and CPU time.
	runBatch := func(b *testing.B, s signer.Signer, batchSize int) (time.Duration, time.Duration) {
		b.StopTimer()
		dir, err := os.MkdirTemp(b.TempDir(), "out")
		if err != nil {
			b.Fatal(err)
		}
		eng, err := batch.New(context.Background(), s, &batch.Options{Workers: 2, BatchSize: batchSize})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		c0, t0 := cpuTime(), time.Now()
		sum := eng.Run(context.Background(), jobs(dir), nil)
		wall, cpu := time.Since(t0), cpuTime()-c0
		if sum.Signed != benchDocs {
			b.Fatalf("signed %+v of %d", sum, benchDocs)
		}
		b.StopTimer()
		os.RemoveAll(dir)
		b.StartTimer()
		return wall, cpu
	}
	// limit hashes each document of inputs (benchDocs of them) and signs
	// a digest for each, on 2 goroutines.
	limit := func(b *testing.B, inputs []string) (time.Duration, time.Duration) {
		c0, t0 := cpuTime(), time.Now()
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for w := range 2 {
			wg.Go(func() {
				buf := make([]byte, 1<<20)
				for i := w; i < benchDocs; i += 2 {
					errs[w] = hashAndSign(key, inputs[i], buf)
					if errs[w] != nil {
						return
					}
				}
			})
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				b.Fatal(err)
			}
		}
		return time.Since(t0), cpuTime() - c0
	}
	sameInput := make([]string, benchDocs)
	for i := range sameInput {
		sameInput[i] = in
	}
	report := func(b *testing.B, wall, cpu, baseWall, baseCPU time.Duration, base string) {
		docs := float64(b.N * benchDocs)
		b.ReportMetric(docs/wall.Seconds(), "docs/s")
		b.ReportMetric(docs/baseWall.Seconds(), base+"-docs/s")
		b.ReportMetric(baseWall.Seconds()/wall.Seconds(), "ratio")
		b.ReportMetric(baseCPU.Seconds()/cpu.Seconds(), "cpu-ratio")
	}

	b.Run("signer=keyfile", func(b *testing.B) {
		var wall, cpu, lwall, lcpu, fwall time.Duration
		for b.Loop() {
			w, c := limit(b, sameInput)
			lwall, lcpu = lwall+w, lcpu+c
			w, c = runBatch(b, key, 0)
			wall, cpu = wall+w, cpu+c
			b.StopTimer()
			fwall += writeFloor(b, in, benchDocs)
			b.StartTimer()
		}
		report(b, wall, cpu, lwall, lcpu, "limit")
		// what writing the copies alone allows; the work of writing and
		// that of hashing and signing add up on the same cores, so that
		// together they allow 1/(1/limit + 1/write-only) docs/s
		docs := float64(b.N * benchDocs)
		b.ReportMetric(docs/fwall.Seconds(), "write-only-docs/s")
		b.ReportMetric((lwall+fwall).Seconds()/wall.Seconds(), "ratio-with-writes")
	})

	// in place: benchDocs copies of the input, each cut back to its
	// original length after a run
	b.Run("inplace/signer=keyfile", func(b *testing.B) {
		dir := b.TempDir()
		src, err := os.ReadFile(in)
		if err != nil {
			b.Fatal(err)
		}
		var (
			js     []batch.Job
			inputs []string
		)
		for i := range benchDocs {
			p := filepath.Join(dir, fmt.Sprintf("doc%03d.pdf", i))
			if err := os.WriteFile(p, src, 0o644); err != nil {
				b.Fatal(err)
			}
			js = append(js, batch.Job{In: p, Out: p})
			inputs = append(inputs, p)
		}
		eng, err := batch.New(context.Background(), key, &batch.Options{Workers: 2, InPlace: true})
		if err != nil {
			b.Fatal(err)
		}
		var wall, cpu, lwall, lcpu time.Duration
		for b.Loop() {
			b.StopTimer()
			for _, j := range js {
				if err := os.Truncate(j.In, st.Size()); err != nil {
					b.Fatal(err)
				}
			}
			syscall.Sync() // the copies and cuts on disk before the clocks start
			b.StartTimer()
			w, c := limit(b, inputs)
			lwall, lcpu = lwall+w, lcpu+c
			c0, t0 := cpuTime(), time.Now()
			sum := eng.Run(context.Background(), js, nil)
			wall, cpu = wall+time.Since(t0), cpu+cpuTime()-c0
			if sum.Signed != benchDocs {
				b.Fatalf("signed %+v of %d", sum, benchDocs)
			}
		}
		report(b, wall, cpu, lwall, lcpu, "limit")
	})

	b.Run("signer=remote64", func(b *testing.B) {
		srv := hashsvctest.NewServer(b, hashsvctest.Options{})
		c, err := remote.NewClient(srv.URL, remote.Options{APIKey: srv.Keys[hashsvctest.KeyAll]})
		if err != nil {
			b.Fatal(err)
		}
		rs, err := remote.NewSigner(context.Background(), c, hashsvctest.CredRSA)
		if err != nil {
			b.Fatal(err)
		}
		var wall, cpu, kwall, kcpu time.Duration
		for b.Loop() {
			w, c := runBatch(b, key, 0)
			kwall, kcpu = kwall+w, kcpu+c
			w, c = runBatch(b, rs, 64)
			wall, cpu = wall+w, cpu+c
		}
		report(b, wall, cpu, kwall, kcpu, "keyfile")
	})
}

func BenchmarkInPlace(b *testing.B) {
	size := "1GiB"
	if s := os.Getenv("HASHSIGN_BENCH_INPLACE_SIZE"); s != "" {
		size = s
	}
	bin := hashsvctest.Build(b, "./cmd/pades")
	hashsvctest.PKI(b)
	pki := devpki.DefaultDir()
	dir := b.TempDir()
	in := filepath.Join(dir, "in.pdf")
	hashsvctest.GenPDF(b, size, in)
	st, err := os.Stat(in)
	if err != nil {
		b.Fatal(err)
	}
	journal := filepath.Join(dir, batch.JournalName)
	shaPass := func() time.Duration {
		t0 := time.Now()
		f, err := os.Open(in)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		h := sha256.New()
		if _, err := io.CopyBuffer(h, io.NewSectionReader(f, 0, st.Size()), make([]byte, 1<<20)); err != nil {
			b.Fatal(err)
		}
		h.Sum(nil)
		return time.Since(t0)
	}
	shaPass() // the file in the page cache for both, as a second run finds it
	var wall, base, cpu, baseCPU time.Duration
	var peak int64
	b.SetBytes(st.Size())
	for b.Loop() {
		c0 := cpuTime()
		base += shaPass()
		baseCPU += cpuTime() - c0
		cmd := exec.Command(bin, "batch", "-inplace", "-key", filepath.Join(pki, devpki.SignerRSAKeyFile),
			"-cert", filepath.Join(pki, devpki.SignerRSACertFile), "-chain", filepath.Join(pki, devpki.IntermediateCertFile), in)
		t0 := time.Now()
		out, err := cmd.CombinedOutput()
		wall += time.Since(t0)
		if err != nil {
			b.Fatalf("pades batch -inplace: %v\n%s", err, out)
		}
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			peak = max(peak, ru.Maxrss) // KiB on Linux
		}
		cpu += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
		b.StopTimer()
		if err := os.Truncate(in, st.Size()); err != nil {
			b.Fatal(err)
		}
		os.Remove(journal)
		b.StartTimer()
	}
	b.ReportMetric(wall.Seconds()/base.Seconds(), "time-ratio")
	b.ReportMetric(cpu.Seconds()/baseCPU.Seconds(), "cpu-time-ratio")
	b.ReportMetric(float64(st.Size())/1e6/base.Seconds()*float64(b.N), "sha256-MB/s")
	b.ReportMetric(float64(peak)/1024, "peak-rss-MiB")
}

// writeFloor writes n copies of the file in, as the batch writes its
// outputs (a temporary file each, synced in groups, renamed), from 2
// goroutines and with nothing else: no parsing, hashing or signing. It
// returns the wall time, whose docs/s bounds that of a batch in copy mode
// on this machine.
func writeFloor(b *testing.B, in string, n int) time.Duration {
	data, err := os.ReadFile(in)
	if err != nil {
		b.Fatal(err)
	}
	dir, err := os.MkdirTemp(b.TempDir(), "floor")
	if err != nil {
		b.Fatal(err)
	}
	defer os.RemoveAll(dir)
	group := &groupsync.Syncer{Min: batch.GroupPerWorker * 2}
	commits := make(chan struct{}, batch.GroupsInFlight*group.Min)
	var wg, cwg sync.WaitGroup
	errs := make(chan error, n)
	t0 := time.Now()
	for w := range 2 {
		wg.Go(func() {
			for i := w; i < n; i += 2 {
				f, err := atomicfile.CreateWith(filepath.Join(dir, fmt.Sprintf("out%04d.pdf", i)), &atomicfile.Options{Swept: true, Syncer: group})
				if err != nil {
					errs <- err
					return
				}
				if _, err := f.Write(data); err != nil {
					f.Abort()
					errs <- err
					return
				}
				commits <- struct{}{}
				cwg.Go(func() {
					defer func() { <-commits }()
					if err := f.Commit(); err != nil {
						errs <- err
					}
				})
			}
		})
	}
	wg.Wait()
	group.Drain()
	cwg.Wait()
	elapsed := time.Since(t0)
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	return elapsed
}

// hashAndSign hashes the file at path through buf and signs the digest
// with key: the work the engine cannot avoid for one document.
func hashAndSign(key crypto.Signer, path string, buf []byte) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.CopyBuffer(h, f, buf); err != nil {
		return err
	}
	_, err = key.Sign(rand.Reader, h.Sum(nil), crypto.SHA256)
	return err
}

// cpuTime returns the CPU time (user and system) of the process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
