// Command loadtest measures hashsvc's signHash throughput and latency on
// the loopback interface, and compares it with the raw crypto.Signer rate
// of the same keys measured in the same run.
//
// Usage:
//
//	loadtest [-duration 10s] [-rounds 5] [-clients 4] [-batches 1,64] [-keys rsa,p256] [-audit FILE]
//
// It starts hashsvc in process on 127.0.0.1:0 with the RSA-2048 and ECDSA
// P-256 file keys of the shared test PKI (devpki.DefaultDir), and an audit
// log in a temporary directory (or FILE), so every signature is recorded as
// in production. Each case runs for -duration in total: -clients
// goroutines calling crypto.Signer.Sign directly (the raw rate), or
// sending signHash requests of each batch size. The cases take turns in
// -rounds rounds, so that other load on the machine affects them alike. It
// prints one table row per case: signatures per second, requests per
// second, the p50 and p99 request latency, and the rate relative to the
// raw rate of the same key. Client and service share the machine's CPUs.
package main

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"hashsign/csc"
	"hashsign/hashsvc"
	"hashsign/internal/devpki"
	"hashsign/signer/remote"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("loadtest: ")
	duration := flag.Duration("duration", 10*time.Second, "total length of each case")
	rounds := flag.Int("rounds", 5, "rounds in which the cases take turns")
	clients := flag.Int("clients", 4, "concurrent clients (and raw signing goroutines)")
	batches := flag.String("batches", "1,64", "comma-separated signHash batch sizes")
	keys := flag.String("keys", "rsa,p256", "keys to measure: rsa (RSA-2048), p256 (ECDSA P-256)")
	auditPath := flag.String("audit", "", "audit database (default: in a temporary directory)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to `file`")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatal(err)
		}
		defer pprof.StopCPUProfile()
	}
	if err := run(*duration, *rounds, *clients, *batches, *keys, *auditPath); err != nil {
		pprof.StopCPUProfile()
		log.Fatal(err)
	}
}

// keyCase is a key under test.
type keyCase struct {
	name, credential string
	key              crypto.Signer
	signAlgo         string
}

// result is one measured case.
type result struct {
	key, mode string
	batch     int
	sigs      int64
	reqs      int64
	elapsed   time.Duration
	lat       []time.Duration
	errors    int64
}

func run(duration time.Duration, rounds, clients int, batchList, keyList, auditPath string) error {
	if duration <= 0 || clients <= 0 || rounds <= 0 {
		return errors.New("-duration, -rounds and -clients must be positive")
	}
	var sizes []int
	for _, s := range strings.Split(batchList, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 {
			return fmt.Errorf("-batches: bad size %q", s)
		}
		sizes = append(sizes, n)
	}
	dir := devpki.DefaultDir()
	p, err := devpki.LoadOrGenerate(dir, devpki.Options{})
	if err != nil {
		return err
	}
	all := map[string]keyCase{
		"rsa":  {"RSA-2048", "rsa", p.SignerRSA.Key, csc.OIDRSAEncryption},
		"p256": {"ECDSA P-256", "p256", p.SignerP256.Key, csc.OIDECDSAWithSHA256},
	}
	var cases []keyCase
	for _, k := range strings.Split(keyList, ",") {
		kc, ok := all[strings.TrimSpace(k)]
		if !ok {
			return fmt.Errorf("-keys: unknown key %q (want rsa or p256)", k)
		}
		cases = append(cases, kc)
	}

	tmp, err := os.MkdirTemp("", "hashsvc-loadtest-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if auditPath == "" {
		auditPath = filepath.Join(tmp, "audit.db")
	}
	apiKey, sum, err := hashsvc.NewAPIKey()
	if err != nil {
		return err
	}
	inter := filepath.Join(dir, devpki.IntermediateCertFile)
	maxBatch := slices.Max(sizes)
	cfg := &hashsvc.Config{
		Listen:  "127.0.0.1:0",
		Audit:   hashsvc.AuditConfig{Path: auditPath},
		APIKeys: []hashsvc.APIKeyConfig{{ID: "loadtest", SHA256: sum, Credentials: []string{hashsvc.AllCredentials}}},
		Credentials: []hashsvc.CredentialConfig{
			{ID: "rsa", Key: filepath.Join(dir, devpki.SignerRSAKeyFile), Cert: filepath.Join(dir, devpki.SignerRSACertFile), Chain: []string{inter}},
			{ID: "p256", Key: filepath.Join(dir, devpki.SignerP256KeyFile), Cert: filepath.Join(dir, devpki.SignerP256CertFile), Chain: []string{inter}},
		},
		// The rate limit would measure itself, not the service.
		Limits: hashsvc.LimitsConfig{MaxBatch: max(maxBatch, hashsvc.DefaultMaxBatch), RatePerKey: 1e9, BurstPerKey: 1 << 30},
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv, err := hashsvc.New(ctx, hashsvc.Options{Config: cfg})
	if err != nil {
		return err
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln) }()
	client, err := remote.NewClient("http://"+ln.Addr().String(), remote.Options{APIKey: apiKey, Retry: remote.RetryPolicy{Attempts: 1}})
	if err != nil {
		return err
	}

	fmt.Printf("hashsvc load test: %d clients, %v per case in %d rounds, GOMAXPROCS %d, %s/%s, audit log %s\n\n",
		clients, duration, rounds, runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH, auditPath)
	slice := duration / time.Duration(rounds)
	raws := make([]result, len(cases))
	svc := make([][]result, len(cases))
	for range rounds {
		for i, kc := range cases {
			raws[i].add(measureRaw(kc, clients, slice))
			svc[i] = slices.Grow(svc[i], len(sizes))[:len(sizes)]
			for j, n := range sizes {
				svc[i][j].add(measureService(ctx, client, kc, n, clients, slice))
			}
		}
	}
	fmt.Printf("%-12s %-16s %6s %12s %10s %10s %10s %8s\n", "key", "mode", "batch", "sigs/s", "req/s", "p50", "p99", "vs raw")
	for i := range cases {
		printRow(raws[i], nil)
		for j := range sizes {
			printRow(svc[i][j], &raws[i])
		}
	}
	cancel()
	if err := <-served; err != nil {
		return err
	}
	sum2, err := hashsvc.VerifyAudit(context.Background(), auditPath, "")
	if err != nil {
		return err
	}
	fmt.Printf("\naudit log: %d records, chain intact\n", sum2.Records)
	return nil
}

// add accumulates o into r.
func (r *result) add(o result) {
	r.key, r.mode, r.batch = o.key, o.mode, o.batch
	r.sigs += o.sigs
	r.reqs += o.reqs
	r.elapsed += o.elapsed
	r.lat = append(r.lat, o.lat...)
	r.errors += o.errors
}

// printRow prints r, with its rate relative to raw when raw is not nil.
func printRow(r result, raw *result) {
	rate := float64(r.sigs) / r.elapsed.Seconds()
	reqs := float64(r.reqs) / r.elapsed.Seconds()
	p50, p99 := "-", "-"
	if len(r.lat) > 0 {
		slices.Sort(r.lat)
		p50 = fmtDur(r.lat[len(r.lat)*50/100])
		p99 = fmtDur(r.lat[min(len(r.lat)-1, len(r.lat)*99/100)])
	}
	vs := "-"
	batch := "-"
	if raw != nil {
		vs = fmt.Sprintf("%.0f%%", 100*rate/(float64(raw.sigs)/raw.elapsed.Seconds()))
		batch = strconv.Itoa(r.batch)
	}
	line := fmt.Sprintf("%-12s %-16s %6s %12.0f %10.0f %10s %10s %8s", r.key, r.mode, batch, rate, reqs, p50, p99, vs)
	if r.errors > 0 {
		line += fmt.Sprintf("  (%d errors)", r.errors)
	}
	fmt.Println(line)
}

func fmtDur(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%.0fµs", float64(d.Microseconds()))
	case d < 100*time.Millisecond:
		return fmt.Sprintf("%.2fms", float64(d.Microseconds())/1000)
	}
	return fmt.Sprintf("%.0fms", float64(d.Microseconds())/1000)
}

// measureRaw signs with kc.key directly from clients goroutines.
func measureRaw(kc keyCase, clients int, d time.Duration) result {
	digest := sha256.Sum256([]byte("loadtest"))
	var (
		mu    sync.Mutex
		total int64
		lat   []time.Duration
		wg    sync.WaitGroup
	)
	start := time.Now()
	deadline := start.Add(d)
	for range clients {
		wg.Go(func() {
			var n int64
			var l []time.Duration
			for time.Now().Before(deadline) {
				t0 := time.Now()
				if _, err := kc.key.Sign(rand.Reader, digest[:], crypto.SHA256); err != nil {
					log.Fatal(err)
				}
				l = append(l, time.Since(t0))
				n++
			}
			mu.Lock()
			total += n
			lat = append(lat, l...)
			mu.Unlock()
		})
	}
	wg.Wait()
	return result{key: kc.name, mode: "crypto.Signer", sigs: total, reqs: total, elapsed: time.Since(start), lat: lat}
}

// measureService sends signHash requests of batch hashes from clients
// goroutines.
func measureService(ctx context.Context, c *remote.Client, kc keyCase, batch, clients int, d time.Duration) result {
	var (
		mu         sync.Mutex
		sigs, reqs int64
		errs       int64
		lat        []time.Duration
		wg         sync.WaitGroup
	)
	start := time.Now()
	deadline := start.Add(d)
	for w := range clients {
		wg.Go(func() {
			req := csc.SignHashRequest{CredentialID: kc.credential, SignAlgo: kc.signAlgo, HashAlgorithmOID: csc.OIDSHA256}
			for i := range batch {
				sum := sha256.Sum256([]byte(fmt.Sprint(w, i)))
				req.Hashes = append(req.Hashes, base64.StdEncoding.EncodeToString(sum[:]))
			}
			var n, r, e int64
			var l []time.Duration
			for time.Now().Before(deadline) {
				t0 := time.Now()
				out, err := c.SignHash(ctx, &req)
				if err != nil {
					e++
					continue
				}
				l = append(l, time.Since(t0))
				n += int64(len(out))
				r++
			}
			mu.Lock()
			sigs += n
			reqs += r
			errs += e
			lat = append(lat, l...)
			mu.Unlock()
		})
	}
	wg.Wait()
	return result{key: kc.name, mode: "hashsvc signHash", batch: batch, sigs: sigs, reqs: reqs, elapsed: time.Since(start), lat: lat, errors: errs}
}
