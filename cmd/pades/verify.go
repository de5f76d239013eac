package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"hashsign/internal/atomicfile"
	"hashsign/ltv"
	"hashsign/pades/verify"
)

// Exit statuses of pades verify.
const (
	verifyPassed        = 0
	verifyFailed        = 1
	verifyIndeterminate = 2
	verifyUsage         = 3
)

// cmdVerify runs pades verify and returns its exit status: 0 when every
// signature passed, 1 when one failed (or the file is not a readable
// PDF), 2 when one is indeterminate, 3 on usage errors.
func cmdVerify(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	fs.SetOutput(stdout)
	var trust listFlag
	fs.Var(&trust, "trust", "PEM `file` of trust anchors (repeatable)")
	systemRoots := fs.Bool("system-roots", false, "trust the system's root certificates too")
	online := fs.Bool("online", false, "fetch OCSP responses and CRLs that the file lacks (default: offline)")
	at := fs.String("at", "", "validation `time` (RFC 3339, or YYYY-MM-DD; default: now)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	reportPath := fs.String("report", "", "also write a one-page report to `FILE`.pdf or FILE.html")
	timeout := fs.Duration("timeout", ltv.DefaultTimeout, "timeout of each online request")
	var pw commonFlags
	fs.StringVar(&pw.password, "password", "", "password of an encrypted PDF")
	fs.StringVar(&pw.passwordFile, "password-file", "", "file holding the password of an encrypted PDF")
	fail := func(code int, err error) int {
		fmt.Fprintf(stderr, "pades verify: %s\n", oneLine(err.Error()))
		return code
	}
	pos, err := parseFlags(fs, args, "FILE.pdf")
	if errors.Is(err, flag.ErrHelp) {
		return verifyPassed
	}
	if err != nil {
		return fail(verifyUsage, err)
	}
	opts := &verify.Options{SystemRoots: *systemRoots, Online: *online, HTTP: &http.Client{Timeout: *timeout}}
	for _, t := range trust {
		certs, err := readCertificates(t)
		if err != nil {
			return fail(verifyUsage, fmt.Errorf("-trust: %w", err))
		}
		opts.Anchors = append(opts.Anchors, certs...)
	}
	if *at != "" {
		if opts.At, err = parseTime(*at); err != nil {
			return fail(verifyUsage, err)
		}
	}
	kind := strings.ToLower(filepath.Ext(*reportPath))
	if *reportPath != "" && kind != ".pdf" && kind != ".html" && kind != ".htm" {
		return fail(verifyUsage, fmt.Errorf("-report %s: the name must end in .pdf or .html", *reportPath))
	}
	if opts.Password, err = pw.pdfPassword(); err != nil {
		return fail(verifyUsage, err)
	}
	in, size, err := openInput(pos[0])
	if err != nil {
		return fail(verifyUsage, err)
	}
	defer in.Close()
	rep, err := verify.Document(ctx, in, size, opts)
	switch {
	case errors.Is(err, verify.ErrPasswordNeeded), errors.Is(err, verify.ErrWrongPassword):
		return fail(verifyUsage, fmt.Errorf("%w (give it with -password-file, -password or $PADES_PDF_PASSWORD)", err))
	case err != nil:
		return fail(verifyFailed, err)
	}
	if *reportPath != "" {
		if err := writeReport(*reportPath, kind, rep); err != nil {
			return fail(verifyFailed, err)
		}
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return fail(verifyFailed, err)
		}
	} else if err := rep.WriteText(stdout); err != nil {
		return fail(verifyFailed, err)
	}
	switch rep.Indication {
	case verify.TotalPassed:
		return verifyPassed
	case verify.TotalFailed:
		return verifyFailed
	}
	return verifyIndeterminate
}

// writeReport writes the one-page report, whole or not at all.
func writeReport(path, kind string, rep *verify.Report) error {
	f, err := atomicfile.Create(path)
	if err != nil {
		return fmt.Errorf("-report: %w", err)
	}
	if kind == ".pdf" {
		err = rep.WritePDF(f)
	} else {
		err = rep.WriteHTML(f)
	}
	if err == nil {
		err = f.Commit()
	}
	if err != nil {
		f.Abort()
		return fmt.Errorf("-report %s: %w", path, err)
	}
	return nil
}

// parseTime reads an RFC 3339 time or a date (midnight UTC).
func parseTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("-at %q: use RFC 3339 (2030-01-02T15:04:05Z) or a date (2030-01-02)", s)
}
