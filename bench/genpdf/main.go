// Command genpdf writes a large, valid PDF file for measuring the memory use
// and throughput of hashsign on big documents.
//
// Usage:
//
//	genpdf -size SIZE -o FILE [-form table|stream] [-seed N] [-pages N] [-objects N] [-sigfield]
//
// SIZE is a byte count with an optional unit: B, KiB, MiB, GiB, TiB (or K,
// M, G, T) for powers of 1024, KB, MB, GB, TB for powers of 1000, such as
// 10MiB or 1GiB. The output comes within a few kilobytes of SIZE.
//
// Each page shows an uncompressed RGB image of pseudo-random pixels, so the
// file is a real, viewable document whose size is almost all image data
// (-pages shares it out over at least that many pages; -objects adds text
// pages until the file has that many objects; -sigfield adds an empty
// signature field). The data is streamed from a deterministic generator
// through a fixed-size buffer: memory use does not depend on SIZE. With
// -form table the file has a classic cross-reference table, with -form
// stream a cross-reference stream (PDF 1.5). The generator is package
// hashsign/bench/internal/bigpdf.
//
// genpdf writes to a temporary file in the directory of FILE and renames it
// to FILE once complete.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"time"

	"hashsign/bench/internal/bigpdf"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("genpdf: ")
	sizeFlag := flag.String("size", "", "approximate output `size`, such as 10MiB or 1GiB")
	out := flag.String("o", "", "output `file`")
	form := flag.String("form", "table", "cross-reference `form`: table or stream")
	seed := flag.Uint64("seed", 1, "seed of the pseudo-random image data")
	pages := flag.Int("pages", 0, "least `number` of image pages (default: one per 6 MiB)")
	objects := flag.Int("objects", 0, "least `number` of objects (text pages are added to reach it)")
	sigField := flag.Bool("sigfield", false, "add an empty signature field")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: genpdf -size SIZE -o FILE [-form table|stream] [-seed N] [-pages N] [-objects N] [-sigfield]\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if *sizeFlag == "" || *out == "" || flag.NArg() != 0 || *pages < 0 || *objects < 0 {
		flag.Usage()
		os.Exit(2)
	}
	size, err := bigpdf.ParseSize(*sizeFlag)
	if err != nil {
		log.Fatal(err)
	}
	cfg := bigpdf.Config{Size: size, Pages: *pages, Objects: *objects, SigField: *sigField, Seed: *seed}
	switch *form {
	case "table":
	case "stream":
		cfg.Stream = true
	default:
		log.Fatalf("unknown -form %q: want table or stream", *form)
	}

	start := time.Now()
	res, err := bigpdf.WriteFile(*out, cfg)
	if err != nil {
		log.Fatal(err)
	}
	elapsed := time.Since(start)
	fmt.Fprintf(os.Stderr, "wrote %s: %d bytes (%.1f MiB), %d pages, %d objects, in %v (%.0f MiB/s)\n",
		*out, res.Bytes, float64(res.Bytes)/(1<<20), res.Pages, res.Objects, elapsed.Round(time.Millisecond),
		float64(res.Bytes)/(1<<20)/elapsed.Seconds())
}
