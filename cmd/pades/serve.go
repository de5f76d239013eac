package main

// `pades serve -config FILE` runs the signing gateway (package
// pades/gateway): business systems post a PDF to it and get it back
// signed, while only hashes go to the signer.
//
//	pades serve -config FILE [-addr HOST:PORT] [-log-format json|text] [-log-level info]
//	pades serve example-config     print a commented configuration
//	pades serve openapi            print the OpenAPI 3 description
//	pades serve apikey [-id ID]    make an API key for a caller
//
// serve prints "listening on URL" as its first line on standard output
// once it accepts requests, and logs (log/slog) to standard error. SIGINT
// or SIGTERM stops it once the requests and batches running have finished
// (limits.shutdown_timeout at most).

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"hashsign/internal/apikey"
	"hashsign/internal/httplog"
	"hashsign/pades/gateway"
	"hashsign/signer/pkcs11"
)

// gatewayKeyPrefix starts the API keys of the gateway's callers.
const gatewayKeyPrefix = "pgk_"

// serveHelp follows the usage line of serve -h.
const serveHelp = `Runs the signing gateway: POST /v1/sign takes a PDF and answers it signed,
POST /v1/batches signs files below the configured roots. The configuration is
one YAML file: 'pades serve example-config' prints a commented example
(pades/gateway/config.example.yaml in the source); 'pades serve apikey' makes
an API key for a caller; 'pades serve openapi' prints the API's description.
`

func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "example-config":
			_, err := stdout.Write(gateway.ExampleConfig)
			return err
		case "openapi":
			_, err := stdout.Write(gateway.OpenAPI)
			return err
		case "apikey":
			return cmdServeAPIKey(args[1:], stdout)
		}
	}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stdout)
	config := fs.String("config", "", "YAML configuration `file` (pades serve example-config prints an example)")
	addr := fs.String("addr", "", "listen address, such as 127.0.0.1:0 (overrides listen in the configuration)")
	logFormat := fs.String("log-format", "json", "log format: json or text")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn or error")
	if _, err := parseFlags(fs, args); err != nil {
		if err == flag.ErrHelp {
			fmt.Fprint(stdout, serveHelp)
		}
		return err
	}
	if *config == "" {
		return usagef("give the configuration: -config FILE (pades serve example-config prints an example)")
	}
	log, err := httplog.NewLogger(stderr, *logFormat, *logLevel)
	if err != nil {
		return usagef("%v", err)
	}
	cfg, err := gateway.LoadConfig(*config)
	if err != nil {
		return err
	}
	if *addr != "" {
		cfg.Listen = *addr
	}
	a, err := net.ResolveTCPAddr("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	if err := cfg.CheckPlainHTTP(a); err != nil {
		return err
	}
	sf := configSigner(cfg)
	sf.log = log
	s, closer, err := sf.open(ctx, stderr)
	if err != nil {
		return fmt.Errorf("the signer: %w", err)
	}
	// the signer outlives the gateway, which finishes its signatures first
	defer closer.Close()
	srv, err := gateway.New(ctx, gateway.Options{Config: cfg, Signer: s, Logger: log})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	scheme := "http"
	if cfg.TLS != nil {
		scheme = "https"
	}
	url := scheme + "://" + ln.Addr().String()
	// The first line is what scripts and tests wait for.
	if _, err := fmt.Fprintf(stdout, "listening on %s\n", url); err != nil {
		ln.Close()
		return err
	}
	if f, ok := stdout.(*os.File); ok {
		f.Sync()
	}
	log.Info("listening", "url", url)
	return srv.Serve(ctx, ln)
}

// configSigner returns the signer flags that the signer section of cfg
// describes, its paths resolved from the configuration's directory.
func configSigner(cfg *gateway.Config) *signerFlags {
	sc := &cfg.Signer
	sf := &signerFlags{key: cfg.Path(sc.Key), cert: cfg.Path(sc.Cert), p12: cfg.Path(sc.P12), p12PassFile: cfg.Path(sc.PasswordFile)}
	for _, c := range sc.Chain {
		sf.chain = append(sf.chain, cfg.Path(c))
	}
	sf.pk = pkcs11Flags{uri: sc.PKCS11, sessions: sc.PKCS11Sessions}
	if sf.pk.sessions == 0 {
		sf.pk.sessions = pkcs11.DefaultSessions
	}
	if r := sc.Remote; r != nil {
		sf.rf = remoteFlags{
			url: r.URL, credential: r.Credential, apiKeyFile: cfg.Path(r.APIKeyFile),
			caFile: cfg.Path(r.CA), clientCert: cfg.Path(r.ClientCert), clientKey: cfg.Path(r.ClientKey),
			timeout: r.Timeout, retries: r.Attempts,
		}
		if sf.rf.timeout == 0 {
			sf.rf.timeout = time.Minute
		}
		if sf.rf.retries == 0 {
			sf.rf.retries = 4
		}
	}
	return sf
}

func cmdServeAPIKey(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("serve apikey", flag.ContinueOnError)
	fs.SetOutput(stdout)
	id := fs.String("id", "client", "id of the key in the configuration and the logs")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	key, sum, err := apikey.New(gatewayKeyPrefix)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "API key (shown once; give it to the caller, who sends it as Authorization: Bearer KEY):\n%s\n\n", key)
	fmt.Fprintf(stdout, "add to api_keys in the configuration:\n  - id: %q\n    sha256: %q\n", *id, sum)
	return nil
}
