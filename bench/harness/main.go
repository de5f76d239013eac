// Command harness measures the signing throughput of hashsign against its
// limits and against other signers, and writes a Markdown table, a JSON
// file and an SVG chart of the results.
//
// Usage (from within the hashsign module):
//
//	go run ./bench/harness -out bench/results [-quick] [-runs N] [-workers N] [-work DIR] [-seed N] [-corpus DIR] [-keep]
//
// It builds cmd/pades and cmd/hashsvc, starts `hashsvc serve -dev` on
// 127.0.0.1 (the remote signer, and the TSA and OCSP responder of B-T and
// B-LT), makes a SoftHSM2 token holding the development RSA key, and
// generates its inputs from -seed (hashsign/bench/internal/bigpdf): small
// (100 KiB, four pages), medium (1 MiB), large (100 MiB and 1 GiB of image
// streams), a file of 100,000 objects, each with an empty signature field;
// and the files of -corpus that pades signs.
//
// For each input it runs `pades batch` once per signer (key file RSA-2048
// and P-256, SoftHSM, remote over loopback with batches of 1 and 64) and
// level (B-B, B-T, B-LT), in copy mode, and for the large files also in
// place; at B-B the same engine in the harness's process (pades/batch, the
// library: RSA and P-256 key files, remote with batches of 64); on the
// small and medium documents `pades batch -inplace` and the library with
// Options.InPlace, RSA key file, B-B, each run on fresh copies of the
// documents made and synced before its clocks start; and `pades
// sign` (the CLI, a process per document, RSA key file); the gateway
// (`pades serve` on 127.0.0.1, with the RSA key file and the remote signer
// with batches of 64, at B-B, on the inputs of many documents: each
// document posted to POST /v1/sign by twice as many clients as workers,
// the gateway's start not timed); and, when installed, the peers on the same inputs: poppler's `pdfsig
// -add-signature`, MuPDF's `mutool sign` and `openssl cms -sign` (a
// detached CMS signature of the whole file, the hashing and signing any
// signer must do, without the PDF), each a process per document, as many
// at once as pades has workers. It runs every configuration -runs times,
// the order rotating from run to run. Each run of each input also measures
// the limits: one SHA-256 pass over the documents with Go's
// crypto/sha256, sha256sum of them, `cp` of each file, writing the
// documents of many into new files as pades batch writes its outputs,
// each key's raw crypto.Signer rate, and hashing plus signing on -workers
// goroutines (for a run in place on copies, of the copies it signs,
// measured with it). It reports medians of the runs, the peak RSS, each
// figure as a ratio to its limit (hashing plus signing for inputs of many
// documents, max(cp, SHA-256) for a large file in copy mode and SHA-256 in
// place) and as a ratio to each peer's, and judges the targets of issue 11
// on them.
//
// -quick measures small inputs (a 16 MiB large file, 10,000 objects, a few
// corpus files), B-T and B-LT with the RSA key file only, one run: a smoke
// test, whose figures mean little.
//
// -replot measures nothing: it judges the targets again and writes the
// outputs again from the results.json of -out (after a change of their
// layout).
//
// Outputs, in -out: results.md, results.json, throughput.svg. The work
// directory (default /dev/shm when it is a tmpfs, so that fsync costs
// nothing and the figures measure the engines) is removed at the end unless
// -keep. The machine's load average is recorded before and after: figures
// taken on a busy machine are noisy, and the CPU-time ratios say what the
// wall-time ratios would be with the cores to the harness.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"syscall"
)

func main() {
	log.SetFlags(log.Ltime)
	log.SetPrefix("harness: ")
	var o options
	flag.StringVar(&o.out, "out", "", "`directory` of the results (results.md, results.json, throughput.svg)")
	flag.BoolVar(&o.quick, "quick", false, "a smoke test: small inputs, one run")
	flag.IntVar(&o.runs, "runs", 0, "runs of each measurement, of which the median is taken (default 3, 1 with -quick)")
	flag.IntVar(&o.workers, "workers", runtime.NumCPU(), "workers of pades batch, goroutines of the hash+sign limit, processes of the peers")
	flag.StringVar(&o.work, "work", "", "`directory` in which to make the work directory (default /dev/shm when it is a tmpfs, else the temporary directory)")
	flag.Uint64Var(&o.seed, "seed", 1, "seed of the generated inputs")
	flag.StringVar(&o.corpus, "corpus", "", "`directory` of real-world PDFs with a manifest.tsv (default ../shared/corpus beside the module, when present)")
	flag.BoolVar(&o.keep, "keep", false, "keep the work directory")
	replot := flag.Bool("replot", false, "measure nothing: write results.md and throughput.svg again from the results.json in -out")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: harness -out DIR [-quick] [-runs N] [-workers N] [-work DIR] [-seed N] [-corpus DIR] [-keep]\n       harness -out DIR -replot\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if o.out == "" || flag.NArg() != 0 || o.runs < 0 || o.workers < 1 {
		flag.Usage()
		os.Exit(2)
	}
	if *replot {
		res, err := readResults(filepath.Join(o.out, jsonName))
		if err == nil {
			peerRatios(res.Rows)
			res.Targets = targets(res)
			err = writeOutputs(o.out, res)
		}
		if err != nil {
			log.Fatal(err)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	o.log = log.Default()
	if _, err := run(ctx, o); err != nil {
		log.Fatal(err)
	}
}
