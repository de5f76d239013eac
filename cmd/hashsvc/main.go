// Command hashsvc runs the remote hash-signing service.
//
// Usage:
//
//	hashsvc serve -config FILE
//	hashsvc serve -dev DIR [-addr 127.0.0.1:0]
//	hashsvc dev info DIR
//	hashsvc apikey new [-id ID] [-credentials ID,ID]
//	hashsvc audit verify (-config FILE | -dev DIR | -db FILE) [-head HEX]
//	hashsvc totp enrol -config FILE -person ID -account NAME
//	hashsvc pin hash < PIN
//	hashsvc example-config
//	hashsvc openapi
//
// serve prints "listening on URL" as its first line on standard output once
// it accepts requests, and logs (log/slog) to standard error. SIGINT or
// SIGTERM stops it after the requests in flight have finished. It refuses
// to serve plain HTTP on an address that is not loopback unless
// -insecure-plain-http (or insecure_plain_http in the configuration) says
// the operator knows. With metrics.listen in the configuration, /metrics
// is served there only.
// example-config prints a commented configuration file.
//
// serve -dev DIR runs a development service on a loopback port: on first
// start it creates a test PKI in DIR whose certificates name that port, and
// writes DIR/root.pem (the trust anchor for verifiers), DIR/chain.pem (the
// intermediate CA) and DIR/api-key (a key allowed every credential:
// dev-rsa, dev-p256, dev-p384). It serves the PKI's time-stamping authority
// (/tsa), OCSP responder (/ocsp), CRLs (/crl/...) and CA certificates
// (/ca/...) on the same port. The address is stored in DIR/addr and reused
// by later starts when -addr has port 0, because the certificates name it.
// The audit log is DIR/audit.db. After its first line, serve -dev prints
// what a client needs: the credential IDs with their key and certificate
// files, the API key file, the trust anchor, and the URLs of the TSA, the
// OCSP responder and the CRLs; dev info prints the same for a directory.
//
// apikey new prints a new API key once, and the lines to add to the
// configuration, which stores only its SHA-256.
//
// audit verify checks the hash chain of the audit log and prints the number
// of records and the head hash; with -head it also checks that a head noted
// earlier is still in the chain. It exits 1 if the chain is broken.
//
// totp enrol enrols a signer (the id of an explicit credential's signer)
// for codes from an authenticator app and prints the provisioning URI
// (otpauth://totp/...) to show as a QR code. pin hash reads a PIN from
// standard input and prints the bcrypt hash for a signer's pin_bcrypt.
//
// Every command exits 0 on success; otherwise it prints one line on standard
// error and exits non-zero (2 for usage errors).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"hashsign/hashsvc"
	"hashsign/internal/httplog"
	"hashsign/signer/pkcs11"
)

const usage = `usage:
  hashsvc serve -config FILE                   run the service
  hashsvc serve -dev DIR [-addr 127.0.0.1:0]   run a development service with a test PKI
  hashsvc dev info DIR                         what a client of the development service needs
  hashsvc apikey new [-id ID] [-credentials ID,ID]
  hashsvc audit verify (-config FILE | -dev DIR | -db FILE) [-head HEX]
  hashsvc totp enrol -config FILE -person ID -account NAME
  hashsvc pin hash < PIN                       bcrypt hash of a signer's PIN
  hashsvc evidence verify -trust ROOT.pem [-audit DB] FILE  check a request's evidence offline
  hashsvc example-config                       print a commented configuration file
  hashsvc openapi                              print the OpenAPI 3 document
`

// serveHelp follows the usage line of serve -h.
const serveHelp = `The configuration is one YAML file: 'hashsvc example-config' prints a commented
example (hashsvc/config.example.yaml in the source) with TLS, mutual TLS, API keys
and credentials; 'hashsvc apikey new' makes an API key. -dev needs no configuration.
`

// usageError is a mistake in the command line (exit status 2).
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

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
	name := args[0]
	switch name {
	case "serve":
		err = cmdServe(ctx, args[1:], stdout, stderr)
	case "apikey":
		if len(args) < 2 || args[1] != "new" {
			err = usagef("want: hashsvc apikey new")
			break
		}
		name = "apikey new"
		err = cmdAPIKeyNew(args[2:], stdout)
	case "audit":
		if len(args) < 2 || args[1] != "verify" {
			err = usagef("want: hashsvc audit verify")
			break
		}
		name = "audit verify"
		err = cmdAuditVerify(ctx, args[2:], stdout)
	case "totp":
		if len(args) < 2 || args[1] != "enrol" {
			err = usagef("want: hashsvc totp enrol")
			break
		}
		name = "totp enrol"
		err = cmdTOTPEnrol(ctx, args[2:], stdout)
	case "pin":
		if len(args) < 2 || args[1] != "hash" {
			err = usagef("want: hashsvc pin hash")
			break
		}
		name = "pin hash"
		err = cmdPINHash(args[2:], os.Stdin, stdout)
	case "dev":
		if len(args) < 2 || args[1] != "info" {
			err = usagef("want: hashsvc dev info DIR")
			break
		}
		name = "dev info"
		err = cmdDevInfo(args[2:], stdout)
	case "evidence":
		if len(args) < 2 || args[1] != "verify" {
			err = usagef("want: hashsvc evidence verify -trust ROOT.pem FILE")
			break
		}
		name = "evidence verify"
		err = cmdEvidenceVerify(ctx, args[2:], stdout)
	case "example-config":
		_, err = stdout.Write(hashsvc.ExampleConfig)
	case "openapi":
		_, err = stdout.Write(hashsvc.OpenAPI)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "hashsvc: unknown command %q\n%s", args[0], usage)
		return 2
	}
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	fmt.Fprintf(stderr, "hashsvc %s: %s\n", name, strings.Join(strings.Fields(err.Error()), " "))
	var ue *usageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}

// parseFlags parses fs and refuses positional arguments. help, if not
// empty, follows the usage line of -h.
func parseFlags(fs *flag.FlagSet, args []string, help string) error {
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(os.Stdout)
			fmt.Fprintf(os.Stdout, "usage: hashsvc %s [flags]\n%s", fs.Name(), help)
			fs.PrintDefaults()
			return err
		}
		return usagef("%v", err)
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	config := fs.String("config", "", "YAML configuration file")
	dev := fs.String("dev", "", "run a development service with a test PKI kept in `DIR`")
	addr := fs.String("addr", "", "listen address (overrides the configuration; with -dev, default 127.0.0.1:0)")
	logFormat := fs.String("log-format", "json", "log format: json or text")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn or error")
	insecure := fs.Bool("insecure-plain-http", false, "serve plain HTTP even on an address that is not loopback (API keys and hashes cross the network in clear)")
	if err := parseFlags(fs, args, serveHelp); err != nil {
		return err
	}
	log, err := httplog.NewLogger(stderr, *logFormat, *logLevel)
	if err != nil {
		return usagef("%v", err)
	}
	var (
		srv  *hashsvc.Server
		ln   net.Listener
		mln  net.Listener // of /metrics, when it has its own address
		url  string
		info *hashsvc.DevInfo
	)
	switch {
	case *config != "" && *dev != "":
		return usagef("give -config or -dev, not both")
	case *dev != "":
		d, err := hashsvc.NewDev(ctx, hashsvc.DevOptions{Dir: *dev, Addr: *addr, Logger: log})
		if err != nil {
			return err
		}
		srv, ln, url, info = d.Server, d.Listener, d.URL, d.Info
		log.Info("development service", "dir", *dev, "url", url, "root", info.RootFile, "api_key_file", info.APIKeyFile)
	case *config != "":
		cfg, err := hashsvc.LoadConfig(*config)
		if err != nil {
			return err
		}
		if *addr != "" {
			cfg.Listen = *addr
		}
		cfg.InsecurePlainHTTP = cfg.InsecurePlainHTTP || *insecure
		if err := checkAddrs(cfg); err != nil {
			return err
		}
		// The PKCS #11 pool outlives the server, whose Close ends the
		// signatures under way (deferred calls run last in, first out).
		pool := &pkcs11.Pool{}
		defer pool.Close()
		srv, err = hashsvc.New(ctx, hashsvc.Options{Config: cfg, Logger: log, KeyOpeners: keyOpeners(pool), OneTimeKeys: oneTimeKeys(cfg, pool)})
		if err != nil {
			return err
		}
		if ln, mln, err = listen(cfg); err != nil {
			srv.Close()
			return err
		}
		scheme := "http"
		if cfg.TLS != nil {
			scheme = "https"
		}
		url = scheme + "://" + ln.Addr().String()
	default:
		return usagef("give -config FILE or -dev DIR")
	}
	defer srv.Close()
	// The first line is what scripts wait for (.ci/demo, hashsvctest).
	if _, err := fmt.Fprintf(stdout, "listening on %s\n", url); err != nil {
		ln.Close()
		return err
	}
	if info != nil {
		printDevInfo(stdout, info)
	}
	if f, ok := stdout.(*os.File); ok {
		f.Sync()
	}
	log.Info("listening", "url", url)
	if mln == nil {
		return srv.Serve(ctx, ln)
	}
	log.Info("serving /metrics", "addr", mln.Addr().String())
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	merr := make(chan error, 1)
	go func() {
		err := srv.ServeMetrics(ctx, mln)
		cancel() // a failure of either stops both
		merr <- err
	}()
	err = srv.Serve(ctx, ln)
	cancel()
	return errors.Join(err, <-merr)
}

// checkAddrs refuses plain HTTP on the addresses of the configuration
// that are not loopback, unless it allows it, before anything is loaded.
func checkAddrs(cfg *hashsvc.Config) error {
	for _, l := range []struct{ what, addr string }{{"listen", cfg.Listen}, {"metrics.listen", cfg.Metrics.Listen}} {
		if l.addr == "" {
			continue
		}
		a, err := net.ResolveTCPAddr("tcp", l.addr)
		if err != nil {
			return fmt.Errorf("%s: %w", l.what, err)
		}
		if err := cfg.CheckPlainHTTP(a); err != nil {
			return fmt.Errorf("%s: %w", l.what, err)
		}
	}
	return nil
}

// listen opens the listeners of the service and, with metrics.listen, of
// /metrics.
func listen(cfg *hashsvc.Config) (ln, mln net.Listener, err error) {
	if ln, err = net.Listen("tcp", cfg.Listen); err != nil {
		return nil, nil, fmt.Errorf("listen: %w", err)
	}
	if cfg.Metrics.Listen != "" {
		if mln, err = net.Listen("tcp", cfg.Metrics.Listen); err != nil {
			ln.Close()
			return nil, nil, fmt.Errorf("metrics.listen: %w", err)
		}
	}
	return ln, mln, nil
}

func cmdAPIKeyNew(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("apikey new", flag.ContinueOnError)
	id := fs.String("id", "client", "id of the key in the configuration and the audit log")
	creds := fs.String("credentials", "*", "comma-separated credential IDs the key may use (* for all)")
	if err := parseFlags(fs, args, ""); err != nil {
		return err
	}
	key, sum, err := hashsvc.NewAPIKey()
	if err != nil {
		return err
	}
	var list []string
	for _, c := range strings.Split(*creds, ",") {
		if c = strings.TrimSpace(c); c != "" {
			list = append(list, fmt.Sprintf("%q", c))
		}
	}
	if len(list) == 0 {
		return usagef("-credentials: name at least one credential")
	}
	fmt.Fprintf(stdout, "API key (shown once; give it to the client, e.g. in a file for pades -api-key-file):\n%s\n\n", key)
	fmt.Fprintf(stdout, "add to api_keys in the configuration:\n  - id: %q\n    sha256: %q\n    credentials: [%s]\n", *id, sum, strings.Join(list, ", "))
	return nil
}

func cmdAuditVerify(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("audit verify", flag.ContinueOnError)
	config := fs.String("config", "", "YAML configuration file naming the audit database")
	dev := fs.String("dev", "", "development directory")
	db := fs.String("db", "", "audit database file")
	head := fs.String("head", "", "a head hash noted earlier that must still be in the chain")
	if err := parseFlags(fs, args, ""); err != nil {
		return err
	}
	path := *db
	n := 0
	for _, s := range []string{*config, *dev, *db} {
		if s != "" {
			n++
		}
	}
	if n != 1 {
		return usagef("give one of -config, -dev and -db")
	}
	switch {
	case *config != "":
		cfg, err := hashsvc.LoadConfig(*config)
		if err != nil {
			return err
		}
		path = cfg.Audit.Path
		if !filepath.IsAbs(path) {
			path = filepath.Join(filepath.Dir(*config), path)
		}
	case *dev != "":
		path = filepath.Join(*dev, hashsvc.DevAuditFile)
	}
	if _, err := os.Stat(path); err != nil {
		return err
	}
	sum, err := hashsvc.VerifyAudit(ctx, path, *head)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "audit log %s: %d records, chain intact, head %s\n", path, sum.Records, sum.Head)
	return nil
}

// cmdDevInfo is `hashsvc dev info DIR`.
func cmdDevInfo(args []string, stdout io.Writer) error {
	switch {
	case len(args) == 1 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help"):
		fmt.Fprintln(stdout, "usage: hashsvc dev info DIR\n  print what a client of the development service in DIR needs: its URL, credentials, files and trust services")
		return flag.ErrHelp
	case len(args) != 1:
		return usagef("want: hashsvc dev info DIR")
	}
	info, err := hashsvc.ReadDevInfo(args[0])
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "url %s\n", info.URL)
	printDevInfo(stdout, info)
	return nil
}

// printDevInfo writes what a client of a development service needs, one
// item a line.
func printDevInfo(w io.Writer, info *hashsvc.DevInfo) {
	fmt.Fprintf(w, "development service in %s (a test PKI: never for real signatures)\n", info.Dir)
	fmt.Fprintf(w, "  api key file   %s (may use every credential)\n", info.APIKeyFile)
	fmt.Fprintf(w, "  trust anchor   %s\n", info.RootFile)
	fmt.Fprintf(w, "  intermediate   %s\n", info.ChainFile)
	for _, c := range info.Credentials {
		fmt.Fprintf(w, "  credential     %s: key %s, certificate %s (%s)\n", c.ID, c.KeyFile, c.CertFile, c.Description)
	}
	fmt.Fprintf(w, "  tsa            %s\n", info.TSA)
	fmt.Fprintf(w, "  ocsp           %s\n", info.OCSP)
	fmt.Fprintf(w, "  crls           %s\n", strings.Join(info.CRLs, " "))
	fmt.Fprintf(w, "  ca certs       %s\n", strings.Join(info.CACerts, " "))
	fmt.Fprintf(w, "  try            pades sign -remote %s -credential %s -api-key-file %s -level B-LTA -tsa %s -trust %s IN.pdf OUT.pdf\n",
		info.URL, info.Credentials[0].ID, info.APIKeyFile, info.TSA, info.RootFile)
}
