package main

// The remote signer: `pades sign -remote URL -credential ID -api-key-file F
// IN.pdf OUT.pdf` signs through a CSC API v2 service (such as hashsvc),
// sending it only the hash of the signed attributes. `pades batch` with the
// same flags sends the hashes of many documents in each signHash call.

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

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

// client returns the client that the flags describe. It logs its retries
// to log.
func (f *remoteFlags) client(log *slog.Logger) (*remote.Client, error) {
	if f.credential == "" {
		return nil, usagef("-remote needs -credential")
	}
	return f.service(log)
}

// service returns the client of the service, for commands that need no
// credential.
func (f *remoteFlags) service(log *slog.Logger) (*remote.Client, error) {
	key, err := readAPIKey(f.apiKeyFile)
	if err != nil {
		return nil, err
	}
	opts := remote.Options{
		APIKey: key, Timeout: f.timeout, Retry: remote.RetryPolicy{Attempts: f.retries},
		Logger: log,
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

// signer returns the remote Signer that the flags describe. When certPath
// is not empty (-cert), the service's certificate for the credential must
// be the first certificate of that file.
func (f *remoteFlags) signer(ctx context.Context, log *slog.Logger, certPath string) (*remote.Signer, error) {
	var pin *x509.Certificate
	if certPath != "" {
		certs, err := readCertificates(certPath)
		if err != nil {
			return nil, fmt.Errorf("reading -cert: %w", err)
		}
		pin = certs[0]
	}
	c, err := f.client(log)
	if err != nil {
		return nil, err
	}
	if pin != nil {
		return remote.NewPinnedSigner(ctx, c, f.credential, pin)
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
