package main

// The remote signer: `pades sign -remote URL -credential ID -api-key-file F
// IN.pdf OUT.pdf` signs through a CSC API v2 service (such as hashsvc),
// sending it only the hash of the signed attributes. The batch form
//
//	pades sign -remote URL -credential ID -api-key-file F -batch -out-dir DIR IN1.pdf IN2.pdf ...
//
// signs many documents, their hashes going out in batched signHash calls
// (-batch-size, default 64), and writes DIR/<name of each input>.

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"hashsign/pades"
	"hashsign/signer"
	"hashsign/signer/remote"
)

// APIKeyEnv is the environment variable that holds the API key when no
// -api-key-file is given.
const APIKeyEnv = "HASHSVC_API_KEY"

// remoteFlags are the flags of the remote signer.
type remoteFlags struct {
	url, credential, apiKeyFile   string
	caFile, clientCert, clientKey string
	timeout                       time.Duration
	retries                       int
}

// register adds the remote signer's flags to fs.
func (f *remoteFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.url, "remote", "", "sign through the CSC API v2 service at `URL` (only hashes are sent)")
	fs.StringVar(&f.credential, "credential", "", "credential `ID` of the remote signer")
	fs.StringVar(&f.apiKeyFile, "api-key-file", "", "`file` holding the API key of the remote signer (default $"+APIKeyEnv+")")
	fs.StringVar(&f.caFile, "remote-ca", "", "PEM CA certificates that the remote signer's TLS certificate must chain to (default: system roots)")
	fs.StringVar(&f.clientCert, "remote-client-cert", "", "PEM client certificate for mutual TLS with the remote signer")
	fs.StringVar(&f.clientKey, "remote-client-key", "", "PEM private key of -remote-client-cert")
	fs.DurationVar(&f.timeout, "remote-timeout", time.Minute, "timeout of one request to the remote signer")
	fs.IntVar(&f.retries, "remote-attempts", 4, "attempts per request on connection errors and 5xx answers (never on 4xx)")
}

// set reports whether -remote was given.
func (f *remoteFlags) set() bool { return f.url != "" }

// client returns the client that the flags describe.
func (f *remoteFlags) client(stderr io.Writer) (*remote.Client, error) {
	if f.credential == "" {
		return nil, usagef("-remote needs -credential")
	}
	key, err := readAPIKey(f.apiKeyFile)
	if err != nil {
		return nil, err
	}
	opts := remote.Options{
		APIKey: key, Timeout: f.timeout, Retry: remote.RetryPolicy{Attempts: f.retries},
		Logger: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	if f.caFile != "" || f.clientCert != "" || f.clientKey != "" {
		tc := &tls.Config{MinVersion: tls.VersionTLS12}
		if f.caFile != "" {
			pem, err := os.ReadFile(f.caFile)
			if err != nil {
				return nil, fmt.Errorf("reading -remote-ca: %w", err)
			}
			tc.RootCAs = x509.NewCertPool()
			if !tc.RootCAs.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("-remote-ca %s: no PEM certificate", f.caFile)
			}
		}
		if (f.clientCert == "") != (f.clientKey == "") {
			return nil, usagef("-remote-client-cert and -remote-client-key go together")
		}
		if f.clientCert != "" {
			cert, err := tls.LoadX509KeyPair(f.clientCert, f.clientKey)
			if err != nil {
				return nil, fmt.Errorf("loading the client certificate: %w", err)
			}
			tc.Certificates = []tls.Certificate{cert}
		}
		opts.TLSConfig = tc
	}
	return remote.NewClient(f.url, opts)
}

// signer returns the remote Signer that the flags describe.
func (f *remoteFlags) signer(ctx context.Context, stderr io.Writer) (*remote.Signer, error) {
	c, err := f.client(stderr)
	if err != nil {
		return nil, err
	}
	return remote.NewSigner(ctx, c, f.credential)
}

// readAPIKey reads the API key from path, or from $HASHSVC_API_KEY when
// path is empty.
func readAPIKey(path string) (string, error) {
	if path == "" {
		if k := strings.TrimSpace(os.Getenv(APIKeyEnv)); k != "" {
			return k, nil
		}
		return "", usagef("-remote needs -api-key-file (or $%s)", APIKeyEnv)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("reading -api-key-file: %w", err)
	}
	k := strings.TrimSpace(string(b))
	if k == "" {
		return "", fmt.Errorf("-api-key-file %s is empty", path)
	}
	return k, nil
}

// remoteSigner returns a signer for credential of the CSC API v2 service
// at url, authenticated with the API key in apiKeyFile (or
// $HASHSVC_API_KEY when it is empty). It fetches the credential's
// certificate chain; signing then sends only hashes.
func remoteSigner(ctx context.Context, url, credential, apiKeyFile string) (signer.Signer, error) {
	f := remoteFlags{url: url, credential: credential, apiKeyFile: apiKeyFile, timeout: time.Minute, retries: 4}
	return f.signer(ctx, os.Stderr)
}

// isBatchSign reports whether the arguments of `pades sign` ask for the
// batch form (-batch).
func isBatchSign(args []string) bool {
	for _, a := range args {
		if a == "--" {
			return false
		}
		switch strings.TrimLeft(a, "-") {
		case "batch", "batch=true", "batch=1":
			return strings.HasPrefix(a, "-")
		}
	}
	return false
}

// cmdSignBatch is `pades sign -remote URL -credential ID -api-key-file F
// -batch -out-dir DIR IN.pdf...`: it signs every input through the remote
// signer, their hashes going out in batched signHash calls, and writes
// DIR/<input name>. Each output appears complete or not at all; if any
// document is not signed the command fails after the others are done,
// except that a failed signing call stops the run.
func cmdSignBatch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("sign", flag.ContinueOnError)
	var c commonFlags
	c.register(fs)
	var rf remoteFlags
	rf.register(fs)
	fs.Bool("batch", true, "sign several documents in batches (needs -remote and -out-dir)")
	outDir := fs.String("out-dir", "", "directory for the signed files, named as their inputs")
	batchSize := fs.Int("batch-size", remote.DefaultBatchSize, "documents per signHash call")
	pss := fs.Bool("pss", false, "use RSASSA-PSS for RSA keys")
	fs.SetOutput(io.Discard)
	var inputs []string
	for rest := args; ; {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fs.SetOutput(stdout)
				fmt.Fprintln(stdout, "usage: pades sign -remote URL -credential ID -api-key-file F -batch -out-dir DIR [flags] IN.pdf...")
				fs.PrintDefaults()
				return err
			}
			return usagef("%v", err)
		}
		if fs.NArg() == 0 {
			break
		}
		inputs = append(inputs, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	if !rf.set() {
		return usagef("-batch needs -remote (the batch form signs through a remote signer)")
	}
	if *outDir == "" {
		return usagef("-batch needs -out-dir")
	}
	if len(inputs) == 0 {
		return usagef("-batch needs at least one input PDF")
	}
	h, err := c.hashAlg()
	if err != nil {
		return err
	}
	password, err := c.pdfPassword()
	if err != nil {
		return err
	}
	if st, err := os.Stat(*outDir); err != nil || !st.IsDir() {
		return fmt.Errorf("-out-dir %s is not a directory", *outDir)
	}
	docs := make([]remote.Document, len(inputs))
	names := map[string]string{}
	for i, in := range inputs {
		name := filepath.Base(in)
		if prev, dup := names[name]; dup {
			return usagef("%s and %s would both be written to %s", prev, in, filepath.Join(*outDir, name))
		}
		names[name] = in
		docs[i] = remote.Document{In: in, Out: filepath.Join(*outDir, name)}
	}
	s, err := rf.signer(ctx, stderr)
	if err != nil {
		return err
	}
	start := time.Now()
	results, err := remote.SignDocuments(ctx, s, docs, &remote.BatchOptions{
		Sign: pades.SignOptions{
			Hash: h, PSS: *pss, Info: c.info(), Password: password, FieldName: c.field, Page: c.page,
		},
		BatchSize: *batchSize,
		Progress: func(batch []remote.Result) {
			for _, r := range batch {
				if r.Err == nil {
					fmt.Fprintf(stdout, "signed %s: field %s, %d bytes, level B-B\n", r.Out, r.Field, r.Size)
				}
			}
		},
	})
	shown := 0
	for _, r := range results {
		if r.Err == nil {
			continue
		}
		if shown++; shown > 10 {
			fmt.Fprintf(stderr, "pades sign: ... and more documents not signed\n")
			break
		}
		fmt.Fprintf(stderr, "pades sign: %s: not signed: %s\n", r.In, oneLine(r.Err.Error()))
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "signed %d documents in %.1fs through %s (credential %s)\n", len(results), time.Since(start).Seconds(), rf.url, rf.credential)
	return nil
}
