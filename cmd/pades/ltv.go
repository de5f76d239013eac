package main

import (
	"context"
	"crypto/x509"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"hashsign/internal/atomicfile"
	"hashsign/ltv"
	"hashsign/pades"
)

// ltvFlags are the flags for levels above B-B.
type ltvFlags struct {
	level        string
	tsa          listFlag
	tsaUser      string
	timeout      time.Duration
	trust, certs listFlag
}

func (l *ltvFlags) register(fs *flag.FlagSet, defaultLevel string) {
	fs.StringVar(&l.level, "level", defaultLevel, "PAdES level: B-B, B-T, B-LT or B-LTA")
	fs.Var(&l.tsa, "tsa", "RFC 3161 time-stamping authority URL, repeatable: tried in order")
	fs.StringVar(&l.tsaUser, "tsa-user", "", "HTTP basic auth user for the TSA (password from PADES_TSA_PASSWORD)")
	fs.DurationVar(&l.timeout, "timeout", 30*time.Second, "timeout of each TSA, OCSP, CRL and issuer request")
	fs.Var(&l.trust, "trust", "PEM file of trust anchors (roots that need no revocation data), repeatable")
	fs.Var(&l.certs, "certs", "PEM file of extra certificates (issuers that cannot be fetched), repeatable")
}

// build returns the level, TSA client and fetcher the flags describe.
func (l *ltvFlags) build() (pades.Level, *ltv.TSAClient, *ltv.Fetcher, error) {
	level, err := pades.ParseLevel(l.level)
	if err != nil {
		return 0, nil, nil, usagef("-level: %v", err)
	}
	if level >= pades.LevelBT && len(l.tsa) == 0 {
		return 0, nil, nil, usagef("-level %v needs -tsa URL", level)
	}
	client := &http.Client{Timeout: l.timeout}
	var roots *x509.CertPool
	var extra []*x509.Certificate
	for _, p := range l.trust {
		cs, err := readCertificates(p)
		if err != nil {
			return 0, nil, nil, fmt.Errorf("-trust: %w", err)
		}
		if roots == nil {
			roots = x509.NewCertPool()
		}
		for _, c := range cs {
			roots.AddCert(c)
			extra = append(extra, c)
		}
	}
	for _, p := range l.certs {
		cs, err := readCertificates(p)
		if err != nil {
			return 0, nil, nil, fmt.Errorf("-certs: %w", err)
		}
		extra = append(extra, cs...)
	}
	var tsa *ltv.TSAClient
	if len(l.tsa) > 0 {
		tsa = &ltv.TSAClient{URLs: l.tsa, HTTP: client, Username: l.tsaUser, Password: os.Getenv("PADES_TSA_PASSWORD")}
	}
	var fetcher *ltv.Fetcher
	if level >= pades.LevelBLT {
		fetcher = &ltv.Fetcher{HTTP: client, Roots: roots, Extra: extra}
	}
	return level, tsa, fetcher, nil
}

func cmdExtend(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("extend", flag.ContinueOnError)
	var l ltvFlags
	l.register(fs, "B-LTA")
	password := fs.String("password", "", "password of an encrypted PDF")
	pos, err := parseFlags(fs, args, "IN.pdf", "OUT.pdf")
	if err != nil {
		return err
	}
	if err := checkPaths(pos[0], pos[1]); err != nil {
		return err
	}
	level, tsa, fetcher, err := l.build()
	if err != nil {
		return err
	}
	if level < pades.LevelBLT {
		return usagef("-level %v: extend raises files to B-LT or B-LTA", level)
	}
	in, size, err := openInput(pos[0])
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := atomicfile.Create(pos[1])
	if err != nil {
		return err
	}
	defer out.Abort()
	if _, err := io.Copy(out, io.NewSectionReader(in, 0, size)); err != nil {
		return fmt.Errorf("copying %s: %w", pos[0], err)
	}
	res, err := pades.Extend(ctx, out, size, &pades.ExtendOptions{Level: level, TSA: tsa, Fetcher: fetcher, Password: []byte(*password)})
	if err != nil {
		return err
	}
	if err := out.Commit(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "extended %s to %v: validation data for %d signature(s) and timestamp(s), %d bytes\n", pos[1], level, res.Signatures, res.Size)
	if res.CertifiedNoChanges {
		fmt.Fprintln(stdout, "note: the document is certified with DocMDP /P 1; ISO 32000-2 allows DSS and document timestamp updates, but some viewers still flag them as changes")
	}
	return nil
}
