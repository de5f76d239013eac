// Command pades signs PDF documents with PAdES baseline signatures.
//
// Usage:
//
//	pades sign -key K.pem -cert C.pem [-chain CHAIN.pem] [-p12 F -p12-pass P] [-hash sha256]
//	           [-reason R] [-location L] [-name N] IN.pdf OUT.pdf
//	pades batch [the flags of sign] [-workers N] [-inplace] [-report FILE] (-in DIR | -manifest FILE.jsonl | IN.pdf...) -out DIR
//	pades prepare -cert C.pem [-chain CHAIN.pem] IN.pdf PREPARED.pdf
//	pades embed PREPARED.pdf SIG.p7s OUT.pdf
//	pades extend -level B-LT|B-LTA [-tsa URL] IN.pdf OUT.pdf
//	pades inspect FILE.pdf
//	pades verify [-trust ROOT.pem]... [-system-roots] [-online] [-at TIME] [-json] [-report R.pdf|R.html] FILE.pdf
//	pades request -remote URL -sender NAME -signer id=..,name=..,email=.. [-signer ...] IN.pdf OUT.pdf
//	pades serve -config FILE   (the signing gateway; pades serve example-config prints a configuration)
//	pades pkcs11 list 'pkcs11:module-path=...'
//	pades version
//
// pades sign also takes -pkcs11 'pkcs11:token=...;object=...?module-path=...' for keys held in an HSM, and
// -level B-T|B-LT|B-LTA -tsa URL for the levels above B-B.
//
// Every command exits 0 on success. Otherwise it prints one line naming the
// problem on standard error, exits non-zero and leaves no output file.
//
// Certificates with negative serial numbers, which crypto/x509 refuses by
// default, are accepted: some signed PDFs carry them, and inspect and
// extend must still read those signatures.
//
//go:debug x509negativeserial=1
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"hashsign/pades"
)

// usageError is a mistake in the command line (exit status 2).
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

const usage = `usage:
  pades sign [flags] IN.pdf OUT.pdf       sign (key file, PKCS#12, PKCS#11 or a remote hashsvc)
  pades batch [flags] (-in DIR | -manifest F.jsonl | IN.pdf...) -out DIR  sign many documents with the flags of sign
  pades prepare [flags] IN.pdf PREPARED.pdf  add an empty signature; print its digest as JSON
  pades embed PREPARED.pdf SIG.p7s OUT.pdf   put a CMS made elsewhere into a prepared file
  pades extend -level B-LT|B-LTA [-tsa URL] IN.pdf OUT.pdf  add validation data (and a document timestamp)
  pades inspect [-json] FILE.pdf          list revisions, xref kinds and signature fields
  pades verify [-trust ROOT.pem] [-json] [-report R.pdf|R.html] FILE.pdf  validate the signatures (exit 0 passed, 1 failed, 2 indeterminate, 3 usage)
  pades request -remote URL -sender NAME -signer id=ID,name=NAME,email=ADDR... IN.pdf OUT.pdf
                                          ask people to sign through a hashsvc; only hashes leave
  pades serve -config FILE                the signing gateway: POST a PDF, get it back signed (pades serve example-config)
  pades pkcs11 list 'pkcs11:module-path=...'  list the tokens, keys and certificates of a PKCS#11 module
  pades version                           print the version and the versions of the modules built in
Run 'pades COMMAND -h' for the flags of a command.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "sign":
		err = cmdSign(ctx, args[1:], stdout, stderr)
	case "batch":
		err = cmdBatch(ctx, args[1:], stdout, stderr)
	case "prepare":
		err = cmdPrepare(ctx, args[1:], stdout, stderr)
	case "embed":
		err = cmdEmbed(ctx, args[1:], stdout, stderr)
	case "pkcs11":
		err = cmdPKCS11(ctx, args[1:], stdout, stderr)
	case "extend":
		err = cmdExtend(ctx, args[1:], stdout, stderr)
	case "inspect":
		err = cmdInspect(ctx, args[1:], stdout, stderr)
	case "verify":
		return cmdVerify(ctx, args[1:], stdout, stderr)
	case "request":
		err = cmdRequest(ctx, args[1:], stdout, stderr)
	case "serve":
		err = cmdServe(ctx, args[1:], stdout, stderr)
	case "version", "-version", "--version":
		printVersion(stdout)
		return 0
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "pades: unknown command %q\n%s", args[0], usage)
		return 2
	}
	if err == nil {
		return 0
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	msg := oneLine(err.Error())
	if _, ok := errors.AsType[*usageError](err); ok {
		fmt.Fprintf(stderr, "pades %s: %s\n", args[0], msg)
		return 2
	}
	if h := hint(err); h != "" {
		msg += " (" + h + ")"
	}
	fmt.Fprintf(stderr, "pades %s: %s\n", args[0], msg)
	return 1
}

// hint returns what the user can do about an error of the pades library,
// in terms of the command's flags, or "".
func hint(err error) string {
	switch {
	case errors.Is(err, pades.ErrPasswordNeeded):
		return "give it with -password-file, -password or $PADES_PDF_PASSWORD"
	case errors.Is(err, pades.ErrPermission):
		return "with -password"
	case errors.Is(err, pades.ErrIncompleteChain):
		return "give the issuer certificates with -chain or -certs"
	case errors.Is(err, pades.ErrNoField):
		return "name an empty one with -field or -signer, or add a field with -new-field, -rect or -tag"
	case errors.Is(err, pades.ErrCertifiedNewField):
		return "sign into one of them with -field"
	}
	return ""
}

// printVersion writes the version of pades and of the modules built into
// it, from the build information.
func printVersion(w io.Writer) {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		fmt.Fprintln(w, "pades (no build information)")
		return
	}
	version := bi.Main.Version
	if version == "" || version == "(devel)" {
		version = "devel"
		var rev, dirty string
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				if s.Value == "true" {
					dirty = "+dirty"
				}
			}
		}
		if rev != "" {
			version += " " + rev[:min(12, len(rev))] + dirty
		}
	}
	fmt.Fprintf(w, "pades %s (%s, %s)\n", version, bi.Main.Path, bi.GoVersion)
	for _, m := range bi.Deps {
		if m.Replace != nil {
			m = m.Replace
		}
		fmt.Fprintf(w, "  %s %s\n", m.Path, m.Version)
	}
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// parseFlags parses fs, also accepting flags after the positional
// arguments, and checks the number of positional arguments. -h prints the
// usage to fs's output when the command set one, else to os.Stdout.
func parseFlags(fs *flag.FlagSet, args []string, names ...string) ([]string, error) {
	help := fs.Output() // os.Stderr unless the command set its stdout
	if help == os.Stderr {
		help = os.Stdout
	}
	fs.SetOutput(io.Discard)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fs.SetOutput(help)
				fmt.Fprintf(help, "usage: pades %s [flags] %s\n", fs.Name(), strings.Join(names, " "))
				fs.PrintDefaults()
				return nil, err
			}
			return nil, usagef("%v", err)
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	if n := len(names); n > 0 && strings.Contains(names[n-1], "...") {
		// the last name takes any number of arguments, none included
		if len(pos) < n-1 {
			return nil, usagef("want at least %d arguments (%s), got %d", n-1, strings.Join(names, " "), len(pos))
		}
		return pos, nil
	}
	if len(pos) != len(names) {
		return nil, usagef("want %d arguments (%s), got %d", len(names), strings.Join(names, " "), len(pos))
	}
	return pos, nil
}

// listFlag collects a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }
