package main

// PKCS#11 keys: `pades sign -pkcs11 URI [-cert C.pem] [-chain CHAIN.pem]
// IN.pdf OUT.pdf` signs with a key held on a token (HSM, smart card,
// SoftHSM2), and `pades pkcs11 list URI` shows what a module's tokens hold.
//
// The URI follows RFC 7512, for example
//
//	pkcs11:token=hashsign;object=signer?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/run/pin
//
// The PIN comes from pin-value, else from the first line of the pin-source
// file, else from $PKCS11_PIN, so that it need not appear on a command line.

import (
	"context"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"hashsign/signer"
	"hashsign/signer/pkcs11"
)

// pkcs11Flags are the flags of `pades sign` that select a key on a
// PKCS#11 token.
type pkcs11Flags struct {
	uri      string
	sessions int
}

// register adds -pkcs11 and -pkcs11-sessions to fs.
func (f *pkcs11Flags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.uri, "pkcs11", "", "sign with the key on a PKCS#11 token that the RFC 7512 `URI` names "+
		"(pkcs11:token=T;object=LABEL?module-path=LIB.so&pin-source=file:PINFILE; the PIN may also come from $"+pkcs11.PINEnv+"); "+
		"the certificate is taken from the token unless -cert is given")
	fs.IntVar(&f.sessions, "pkcs11-sessions", pkcs11.DefaultSessions, "number of PKCS#11 sessions per token, i.e. signatures made at once")
}

// set reports whether -pkcs11 was given.
func (f *pkcs11Flags) set() bool { return f.uri != "" }

// open returns the signer that the flags select, with the certificate and
// chain files of -cert and -chain, and the closer that logs out of the
// token. See openPKCS11Signer.
func (f *pkcs11Flags) open(ctx context.Context, certPath string, chainPaths []string) (signer.Signer, io.Closer, error) {
	return openPKCS11Signer(ctx, f.uri, certPath, chainPaths, f.sessions)
}

// openPKCS11Signer opens the private key that uri names on a PKCS#11 token
// through a new pkcs11.Pool with sessions sessions per token.
//
// The signer certificate comes from certPath (PEM, which may also hold the
// chain) when it is not empty, else from the token: the certificate object
// with the key's id or label. chainPaths name PEM files of intermediate CA
// certificates; CA certificates stored on the token are used as well.
//
// The caller must Close the returned io.Closer, the Pool, when it is done
// signing: that logs out and unloads the module. On error nothing is left
// open.
func openPKCS11Signer(ctx context.Context, uri, certPath string, chainPaths []string, sessions int) (signer.Signer, io.Closer, error) {
	if sessions < 1 {
		return nil, nil, usagef("-pkcs11-sessions must be at least 1, not %d", sessions)
	}
	var opts pkcs11.OpenOptions
	if certPath != "" {
		certs, err := readCertificates(certPath)
		if err != nil {
			return nil, nil, fmt.Errorf("reading -cert: %w", err)
		}
		opts.Certificates = certs
	}
	for _, p := range chainPaths {
		certs, err := readCertificates(p)
		if err != nil {
			return nil, nil, fmt.Errorf("reading -chain: %w", err)
		}
		opts.Chain = append(opts.Chain, certs...)
	}
	pool := &pkcs11.Pool{Sessions: sessions}
	s, err := pool.Open(ctx, uri, &opts)
	if err != nil {
		return nil, nil, errors.Join(err, pool.Close())
	}
	return s, pool, nil
}

const pkcs11Usage = `usage: pades pkcs11 list URI
  list the tokens of the module that URI names (pkcs11:?module-path=LIB.so, optionally with
  token=, object=, id= or type= to narrow the list) and their keys and certificates.
  With a PIN (pin-value, pin-source or $PKCS11_PIN) private keys are listed too.`

// cmdPKCS11 runs `pades pkcs11 list URI`.
func cmdPKCS11(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usagef("missing subcommand\n%s", pkcs11Usage)
	}
	switch args[0] {
	case "list":
	case "-h", "-help", "--help", "help":
		fmt.Fprintln(stdout, pkcs11Usage)
		return flag.ErrHelp
	default:
		return usagef("unknown subcommand %q (want list)", args[0])
	}
	fs := flag.NewFlagSet("pkcs11 list", flag.ContinueOnError)
	pos, err := parseFlags(fs, args[1:], "URI")
	if err != nil {
		return err
	}
	var pool pkcs11.Pool
	toks, err := pool.List(ctx, pos[0])
	if cerr := pool.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if len(toks) == 0 {
		fmt.Fprintln(stdout, "no token matches")
		return nil
	}
	failed := 0
	for _, t := range toks {
		if t.LoginError != nil {
			failed++
		}
		printToken(stdout, t)
	}
	if failed > 0 {
		return fmt.Errorf("could not log in to %d token(s); only their public objects are listed", failed)
	}
	return nil
}

// printToken writes one token and its objects.
func printToken(w io.Writer, t pkcs11.TokenInfo) {
	if !t.Initialized {
		fmt.Fprintf(w, "slot %d: uninitialized token\n\n", t.Slot)
		return
	}
	fmt.Fprintf(w, "token %q  serial %s  model %q  manufacturer %q  slot %d\n",
		t.Label, t.Serial, t.Model, t.Manufacturer, t.Slot)
	switch {
	case t.LoginError != nil:
		fmt.Fprintf(w, "  login failed: %s\n", t.LoginError)
	case t.LoginRequired && !t.LoggedIn:
		fmt.Fprintf(w, "  not logged in: public objects only (give a PIN to list private keys)\n")
	case t.LoggedIn:
		fmt.Fprintf(w, "  logged in\n")
	}
	if len(t.Objects) == 0 {
		fmt.Fprintf(w, "  no objects\n\n")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  CLASS\tTYPE\tLABEL\tID\tDETAILS")
	for _, o := range t.Objects {
		fmt.Fprintf(tw, "  %s\t%s\t%q\t%s\t%s\n", o.Class, dash(o.Algorithm()), o.Label, dash(o.IDHex()), objectDetails(o))
	}
	tw.Flush()
	fmt.Fprintln(w)
}

// objectDetails describes the flags of a key or the subject of a
// certificate.
func objectDetails(o pkcs11.ObjectInfo) string {
	switch o.Class {
	case "cert":
		if o.Certificate == nil {
			return "not an X.509 certificate"
		}
		return certSummary(o.Certificate)
	case "private", "secret-key":
		var d []string
		if o.Class == "private" {
			if o.CanSign {
				d = append(d, "sign")
			} else {
				d = append(d, "no sign")
			}
		}
		if o.Sensitive {
			d = append(d, "sensitive")
		}
		if !o.Extractable {
			d = append(d, "not extractable")
		}
		return strings.Join(d, ", ")
	}
	return ""
}

// certSummary is the subject and expiry of a certificate.
func certSummary(c *x509.Certificate) string {
	return fmt.Sprintf("%s (until %s)", c.Subject, c.NotAfter.Format("2006-01-02"))
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
