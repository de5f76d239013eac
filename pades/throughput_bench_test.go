package pades_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"hashsign/pades"
)

// BenchmarkSignThroughput signs 1 MiB documents at B-B with an RSA-2048
// key file on as many goroutines as -cpu says (2 by default on the 2-core
// target), each into its own output file, and reports:
//
//	docs/s        documents signed per second
//	limit-docs/s  what hashing the bytes plus one RSA-2048 signature per document allow on the same goroutines,
//	              measured in the same run: read the input through a 1 MiB buffer, SHA-256 it, sign a digest
//	ratio         docs/s over limit-docs/s
//
// The two are measured in turns of 32 documents per goroutine, so that
// noise from the machine falls on both alike.
//
//	go test -run '^$' -bench SignThroughput -benchtime 20x ./pades
func BenchmarkSignThroughput(b *testing.B) {
	b.Run("out=file", func(b *testing.B) { benchSignThroughput(b, false) })
	b.Run("out=memory", func(b *testing.B) { benchSignThroughput(b, true) })
}

// memFile is a pades.File in memory.
type memFile struct{ b []byte }

func (m *memFile) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(len(m.b)) {
		return 0, io.EOF
	}
	n := copy(p, m.b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (m *memFile) WriteAt(p []byte, off int64) (int, error) {
	if end := off + int64(len(p)); end > int64(len(m.b)) {
		m.b = append(m.b, make([]byte, end-int64(len(m.b)))...)
	}
	return copy(m.b[off:], p), nil
}

func (m *memFile) Truncate(n int64) error { m.b = m.b[:n]; return nil }

func benchSignThroughput(b *testing.B, memory bool) {
	in, size := benchInput(b, 1<<20)
	s := newSigner(b, testPKI(b).SignerRSA)
	workers := 2
	dir := b.TempDir()
	outs := make([]pades.File, workers)
	for i := range outs {
		if memory {
			outs[i] = &memFile{}
			continue
		}
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("out%d.pdf", i)))
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		outs[i] = f
	}
	const perTurn = 32
	ctx := context.Background()
	sign := func(w int) error {
		for range perTurn {
			if err := outs[w].Truncate(0); err != nil {
				return err
			}
			if _, err := pades.Sign(ctx, in, size, outs[w], s, nil); err != nil {
				return err
			}
		}
		return nil
	}
	limit := func(w int) error {
		buf := make([]byte, 1<<20)
		for range perTurn {
			h := sha256.New()
			if _, err := io.CopyBuffer(h, io.NewSectionReader(in, 0, size), buf); err != nil {
				return err
			}
			if _, err := s.Sign(rand.Reader, h.Sum(nil), crypto.SHA256); err != nil {
				return err
			}
		}
		return nil
	}
	var signTime, limitTime, signCPU, limitCPU time.Duration
	b.ResetTimer()
	for b.Loop() {
		c := cpuTime()
		limitTime += parallel(b, workers, limit)
		c2 := cpuTime()
		signTime += parallel(b, workers, sign)
		limitCPU, signCPU = limitCPU+c2-c, signCPU+cpuTime()-c2
	}
	docs := float64(b.N * workers * perTurn)
	b.ReportMetric(docs/signTime.Seconds(), "docs/s")
	b.ReportMetric(docs/limitTime.Seconds(), "limit-docs/s")
	b.ReportMetric(limitTime.Seconds()/signTime.Seconds(), "ratio")
	b.ReportMetric(float64(signCPU.Microseconds())/1000/docs, "cpu-ms/doc")
	b.ReportMetric(float64(limitCPU.Microseconds())/1000/docs, "limit-cpu-ms/doc")
}

// cpuTime returns the CPU time (user and system) of the process so far:
// on a machine shared with other work, the ratio of CPU times tells what
// the ratio of rates would be with the cores to itself.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// parallel runs f on n goroutines and returns the time they took.
func parallel(b *testing.B, n int, f func(w int) error) time.Duration {
	start := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, n)
	for w := range n {
		wg.Go(func() { errs[w] = f(w) })
	}
	wg.Wait()
	d := time.Since(start)
	for _, err := range errs {
		if err != nil {
			b.Fatal(err)
		}
	}
	return d
}
