package hashsvc

import (
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"

	"hashsign/hashsvc/devtrust"
	"hashsign/internal/devpki"
)

// Files of a development directory.
const (
	DevAddrFile   = "addr"     // the loopback address chosen on first start
	DevPKIDir     = "pki"      // the test PKI (devpki.WriteDir layout)
	DevRootFile   = "root.pem" // the dev root CA, the trust anchor for verifiers
	DevChainFile  = "chain.pem"
	DevAPIKeyFile = "api-key"  // the dev API key, allowed every credential (mode 0600)
	DevAuditFile  = "audit.db" // the audit log
)

// Credential IDs of the development service.
const (
	DevCredentialRSA  = "dev-rsa"  // RSA-2048
	DevCredentialP256 = "dev-p256" // ECDSA P-256
	DevCredentialP384 = "dev-p384" // ECDSA P-384
)

// DevAPIKeyID is the id of the dev API key in logs and the audit log.
const DevAPIKeyID = "dev"

// DevOptions configures NewDev.
type DevOptions struct {
	// Dir holds the development state; it is created if needed.
	Dir string
	// Addr is the loopback address to listen on. Port 0 reuses the port
	// chosen on the first start, stored in Dir, or picks a free one.
	Addr string
	// Logger receives structured logs. If nil, logs are discarded.
	Logger *slog.Logger
}

// Dev is a development service on a loopback port: hashsvc with the
// credentials of a test PKI, whose trust services (time-stamping
// authority, OCSP responder, CRLs, CA certificates) it serves on the same
// port.
type Dev struct {
	*Server
	// Listener is the open loopback listener; pass it to Serve.
	Listener net.Listener
	// URL is the base URL, http://127.0.0.1:PORT.
	URL string
	// APIKey is the dev API key.
	APIKey string
	// PKI is the test PKI.
	PKI *devpki.PKI
	// Trust serves the PKI's trust services.
	Trust *devtrust.Services
}

// NewDev prepares a development service in opts.Dir.
//
// On the first start it opens a loopback listener (a free port when the
// port of opts.Addr is 0), generates a test PKI whose certificates name
// that address in their AIA and CRL distribution points, and writes
// Dir/root.pem, Dir/chain.pem (the intermediate CA), Dir/api-key and
// Dir/addr. The certificates name the address, so later starts reuse it:
// with port 0 they listen on the stored address, and fail if it is busy
// or if opts.Addr names another one. Remove Dir to start afresh.
//
// The caller serves with Serve(ctx, d.Listener) and then calls Close.
func NewDev(ctx context.Context, opts DevOptions) (*Dev, error) {
	dir := opts.Dir
	if dir == "" {
		return nil, errors.New("hashsvc dev: no directory")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("hashsvc dev: %w", err)
	}
	addr := opts.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("hashsvc dev: -addr %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("hashsvc dev: -addr %q: the development service listens on a loopback IP address only", addr)
	}
	addrFile := filepath.Join(dir, DevAddrFile)
	stored, err := os.ReadFile(addrFile)
	switch {
	case err == nil:
		s := strings.TrimSpace(string(stored))
		if port == "0" {
			if sh, _, _ := net.SplitHostPort(s); sh == host {
				addr = s
			}
		}
		if addr != s {
			return nil, fmt.Errorf("hashsvc dev: %s was created for %s, whose URL its certificates name; use -addr %s (or port 0), or remove %s", dir, s, s, dir)
		}
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("hashsvc dev: %w", err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		if stored != nil {
			return nil, fmt.Errorf("hashsvc dev: the port stored in %s is busy (%w); stop what uses it, or remove %s to start afresh on a new port", addrFile, err, dir)
		}
		return nil, fmt.Errorf("hashsvc dev: %w", err)
	}
	d, err := newDev(ctx, opts, ln)
	if err != nil {
		ln.Close()
		return nil, err
	}
	return d, nil
}

func newDev(ctx context.Context, opts DevOptions, ln net.Listener) (*Dev, error) {
	dir := opts.Dir
	addr := ln.Addr().String()
	base := "http://" + addr
	if err := writeFileAtomic(filepath.Join(dir, DevAddrFile), []byte(addr+"\n"), 0o644); err != nil {
		return nil, err
	}
	pkiDir := filepath.Join(dir, DevPKIDir)
	p, err := devpki.LoadOrGenerate(pkiDir, devpki.Options{BaseURL: base})
	if err != nil {
		return nil, fmt.Errorf("hashsvc dev: %w", err)
	}
	rootPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.Root.Cert.Raw})
	interPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.Intermediate.Cert.Raw})
	if err := writeFileAtomic(filepath.Join(dir, DevRootFile), rootPEM, 0o644); err != nil {
		return nil, err
	}
	if err := writeFileAtomic(filepath.Join(dir, DevChainFile), interPEM, 0o644); err != nil {
		return nil, err
	}
	keyFile := filepath.Join(dir, DevAPIKeyFile)
	var apiKey string
	if b, err := os.ReadFile(keyFile); err == nil {
		apiKey = strings.TrimSpace(string(b))
	} else if errors.Is(err, fs.ErrNotExist) {
		if apiKey, _, err = NewAPIKey(); err != nil {
			return nil, err
		}
		if err := writeFileAtomic(keyFile, []byte(apiKey+"\n"), 0o600); err != nil {
			return nil, err
		}
	} else {
		return nil, fmt.Errorf("hashsvc dev: %w", err)
	}
	if apiKey == "" {
		return nil, fmt.Errorf("hashsvc dev: %s is empty", keyFile)
	}

	trust, err := devtrust.New(p, devtrust.Options{Logger: opts.Logger})
	if err != nil {
		return nil, fmt.Errorf("hashsvc dev: %w", err)
	}
	th := trust.Handler()
	inter := filepath.Join(pkiDir, devpki.IntermediateCertFile)
	cred := func(id, key, cert, desc string) CredentialConfig {
		return CredentialConfig{ID: id, Description: desc, Key: filepath.Join(pkiDir, key), Cert: filepath.Join(pkiDir, cert), Chain: []string{inter}}
	}
	cfg := &Config{
		Listen: addr,
		Audit:  AuditConfig{Path: filepath.Join(dir, DevAuditFile)},
		APIKeys: []APIKeyConfig{{
			ID: DevAPIKeyID, SHA256: HashAPIKey(apiKey), Credentials: []string{AllCredentials},
		}},
		Credentials: []CredentialConfig{
			cred(DevCredentialRSA, devpki.SignerRSAKeyFile, devpki.SignerRSACertFile, "development RSA-2048 key"),
			cred(DevCredentialP256, devpki.SignerP256KeyFile, devpki.SignerP256CertFile, "development ECDSA P-256 key"),
			cred(DevCredentialP384, devpki.SignerP384KeyFile, devpki.SignerP384CertFile, "development ECDSA P-384 key"),
		},
		TSA:  TSAConfig{URL: base + devtrust.TSAPath, Roots: filepath.Join(dir, DevRootFile)},
		Info: InfoConfig{Name: "hashsvc (development)", Description: "Development hash-signing service with a test PKI. Not for real signatures."},
	}
	srv, err := New(ctx, Options{
		Config: cfg,
		Logger: opts.Logger,
		Mount: map[string]http.Handler{
			devtrust.TSAPath:      th,
			devpki.OCSPPath:       th,
			devpki.OCSPPath + "/": th,
			"/crl/":               th,
			"/ca/":                th,
		},
		// The service asks its own time-stamping authority in process,
		// so that requests in flight still get time-stamps while the
		// listener shuts down.
		TSATransport: handlerTransport{th},
	})
	if err != nil {
		return nil, err
	}
	return &Dev{Server: srv, Listener: ln, URL: base, APIKey: apiKey, PKI: p, Trust: trust}, nil
}

// handlerTransport is an http.RoundTripper that serves requests with a
// handler in process.
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	sreq := req.Clone(req.Context())
	sreq.RequestURI = req.URL.RequestURI()
	sreq.RemoteAddr = "127.0.0.1:0"
	t.h.ServeHTTP(rec, sreq)
	resp := rec.Result()
	resp.Request = req
	return resp, nil
}

// writeFileAtomic writes name through a temporary file and a rename.
func writeFileAtomic(name string, data []byte, perm fs.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".tmp-*")
	if err != nil {
		return fmt.Errorf("hashsvc dev: %w", err)
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("hashsvc dev: writing %s: %w", name, err)
	}
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return fmt.Errorf("hashsvc dev: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("hashsvc dev: writing %s: %w", name, err)
	}
	if err := os.Rename(f.Name(), name); err != nil {
		return fmt.Errorf("hashsvc dev: %w", err)
	}
	return nil
}
