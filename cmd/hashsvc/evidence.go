package main

import (
	"context"
	"crypto/x509"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"hashsign/hashsvc"
)

// maxEvidence bounds the evidence file read.
const maxEvidence = 64 << 20

// cmdEvidenceVerify is `hashsvc evidence verify -trust ROOT.pem FILE`.
func cmdEvidenceVerify(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("evidence verify", flag.ContinueOnError)
	trust := fs.String("trust", "", "PEM file of the trust anchors (roots) of the sealer's, the TSA's and the signers' certificates")
	audit := fs.String("audit", "", "also check the record's audit records against the service's audit `database` (its chain, and each record's hash)")
	var file string
	if len(args) > 0 && args[len(args)-1] != "" && args[len(args)-1][0] != '-' {
		file, args = args[len(args)-1], args[:len(args)-1]
	}
	if err := parseFlags(fs, args, "Checks the evidence file of a signature request offline: its CAdES seal over the record,\nthe seal's time-stamp, the chains to -trust, and each signature in the record.\n"); err != nil {
		return err
	}
	if file == "" || *trust == "" {
		return usagef("give -trust ROOT.pem and the evidence FILE")
	}
	roots, err := hashsvc.LoadCertificates(*trust)
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	for _, c := range roots {
		pool.AddCert(c)
	}
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxEvidence+1))
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	if len(data) > maxEvidence {
		return fmt.Errorf("%s: larger than %d bytes: not an evidence file", file, maxEvidence)
	}
	rep, err := hashsvc.VerifyEvidence(data, pool)
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	r := rep.Record
	if *audit != "" {
		if err := hashsvc.CheckEvidenceAudit(ctx, r, *audit); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "evidence intact: request %s, %s, %d signers, %d audit records; sealed by %q, time-stamped %s by %q\n",
		r.Request, r.State, len(r.Signers), len(r.Audit), rep.Sealer.Subject.CommonName, rep.SealedAt.UTC().Format(time.RFC3339), rep.TSA.Subject.CommonName)
	if *audit != "" {
		fmt.Fprintf(stdout, "  the %d audit records are in the intact chain of %s\n", len(r.Audit), *audit)
	}
	for _, sg := range r.Signers {
		how := "-"
		if sg.Identified != nil {
			how = fmt.Sprintf("%s at %s from %s", sg.Identified.Method, sg.Identified.At.UTC().Format(time.RFC3339), sg.Identified.IP)
		}
		fmt.Fprintf(stdout, "  signer %d %s (%s): %s, %d signatures, identified %s\n", sg.Step, sg.Name, sg.ID, sg.State, len(sg.Signatures), how)
	}
	return nil
}
