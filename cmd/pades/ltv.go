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

	"hashsign/ltv"
	"hashsign/pades"
)

// ltvFlags are the flags for levels above B-B, and for the certificates
// that the signer's chain lacks.
type ltvFlags struct {
	level        string
	tsa          listFlag
	tsaUser      string
	timeout      time.Duration
	trust, certs listFlag
}

// register adds the flags to fs; levels lists the levels the command takes
// for -level's help.
func (l *ltvFlags) register(fs *flag.FlagSet, defaultLevel, levels string) {
	fs.StringVar(&l.level, "level", defaultLevel, "PAdES level: "+levels)
	fs.Var(&l.tsa, "tsa", "RFC 3161 time-stamping authority URL, repeatable: tried in order")
	fs.StringVar(&l.tsaUser, "tsa-user", "", "HTTP basic auth user for the TSA (password from PADES_TSA_PASSWORD)")
	fs.DurationVar(&l.timeout, "timeout", 30*time.Second, "timeout of each TSA, OCSP, CRL and issuer request")
	fs.Var(&l.trust, "trust", "PEM file of trust anchors (roots that need no revocation data), repeatable")
	fs.Var(&l.certs, "certs", "PEM file of extra certificates (issuers that cannot be fetched), repeatable")
}

// ltvSetup is what the flags describe.
type ltvSetup struct {
	level   pades.Level
	tsa     *ltv.TSAClient // nil without -tsa
	fetcher *ltv.Fetcher   // issuers at every level, validation data from B-LT
}

// timestamper returns the TSA as a pades.Timestamper, nil without -tsa.
func (s *ltvSetup) timestamper() pades.Timestamper {
	if s.tsa == nil {
		return nil
	}
	return s.tsa
}

// build returns the level, TSA client and fetcher the flags describe.
func (l *ltvFlags) build() (*ltvSetup, error) {
	level, err := pades.ParseLevel(l.level)
	if err != nil {
		return nil, usagef("-level: %v", err)
	}
	if level >= pades.LevelBT && len(l.tsa) == 0 {
		return nil, usagef("-level %v needs -tsa URL", level)
	}
	client := &http.Client{Timeout: l.timeout}
	var roots *x509.CertPool
	var extra []*x509.Certificate
	for _, p := range l.trust {
		cs, err := readCertificates(p)
		if err != nil {
			return nil, fmt.Errorf("-trust: %w", err)
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
			return nil, fmt.Errorf("-certs: %w", err)
		}
		extra = append(extra, cs...)
	}
	s := &ltvSetup{level: level, fetcher: &ltv.Fetcher{HTTP: client, Roots: roots, Extra: extra}}
	if len(l.tsa) > 0 {
		s.tsa = &ltv.TSAClient{URLs: l.tsa, HTTP: client, Username: l.tsaUser, Password: os.Getenv("PADES_TSA_PASSWORD")}
	}
	return s, nil
}

func cmdExtend(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("extend", flag.ContinueOnError)
	fs.SetOutput(stdout)
	var l ltvFlags
	l.register(fs, "B-LTA", "B-LT or B-LTA")
	password := fs.String("password", "", "password of an encrypted PDF")
	var of outputFlags
	of.register(fs)
	pos, err := parseFlags(fs, args, "IN.pdf", "OUT.pdf")
	if err != nil {
		return err
	}
	if err := checkPaths(pos[0], pos[1]); err != nil {
		return err
	}
	setup, err := l.build()
	if err != nil {
		return err
	}
	if setup.level < pades.LevelBLT {
		return usagef("-level %v: extend raises files to B-LT or B-LTA", setup.level)
	}
	in, size, err := openInput(pos[0])
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := of.create(pos[1], in)
	if err != nil {
		return err
	}
	defer out.Abort()
	if _, err := io.Copy(out, io.NewSectionReader(in, 0, size)); err != nil {
		return fmt.Errorf("copying %s: %w", pos[0], err)
	}
	res, err := pades.Extend(ctx, out, size, &pades.ExtendOptions{
		Level: setup.level, TSA: setup.timestamper(), Validation: setup.fetcher, Password: []byte(*password),
	})
	if err != nil {
		return err
	}
	if err := out.Commit(); err != nil {
		return err
	}
	first := ""
	if res.Timestamped {
		first = "a document timestamp first (signatures without a timestamp of their own), then "
	}
	fmt.Fprintf(stdout, "extended %s to %v: %svalidation data for %d signature(s) and timestamp(s), %d bytes\n", pos[1], res.Level, first, res.Signatures, res.Size)
	if res.CertifiedNoChanges {
		fmt.Fprintln(stdout, "note: the document is certified with DocMDP /P 1; ISO 32000-2 allows DSS and document timestamp updates, but some viewers still flag them as changes")
	}
	return nil
}
