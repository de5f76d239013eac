package hashsvc

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
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
	"time"

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
	// DevSecretFile keys the stored codes and derives the TOTP secrets
	// (consent.secret_file).
	DevSecretFile = "consent-secret"
	// DevWebhookSecretFile keys the signatures of the posts to signature
	// requests' callback URLs (requests.webhook_secret_file).
	DevWebhookSecretFile = "webhook-secret"
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
	// Edit, if not nil, adjusts the configuration before the service
	// starts (such as consent.smtp, for tests with a mail server).
	Edit func(*Config)
	// Now, if not nil, is the service's clock (Options.Now).
	Now func() time.Time
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
	// Info describes the service for its clients.
	Info *DevInfo
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
		return nil, errors.New("no development directory")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating the development directory: %w", err)
	}
	addr := opts.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("address %q: the development service listens on a loopback IP address only", addr)
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
			return nil, fmt.Errorf("%s was created for %s, whose URL its certificates name; listen there (or on port 0), or remove %s", dir, s, dir)
		}
	case !errors.Is(err, fs.ErrNotExist):
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		if stored != nil {
			return nil, fmt.Errorf("the port stored in %s is busy (%w); stop what uses it, or remove %s to start afresh on a new port", addrFile, err, dir)
		}
		return nil, err
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
	info := devInfo(dir, addr)
	if err := writeFileAtomic(filepath.Join(dir, DevAddrFile), []byte(addr+"\n"), 0o644); err != nil {
		return nil, err
	}
	pkiDir := filepath.Join(dir, DevPKIDir)
	p, err := devpki.LoadOrGenerate(pkiDir, devpki.Options{BaseURL: info.URL})
	if err != nil {
		return nil, fmt.Errorf("the test PKI in %s: %w", pkiDir, err)
	}
	rootPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.Root.Cert.Raw})
	interPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.Intermediate.Cert.Raw})
	if err := writeFileAtomic(info.RootFile, rootPEM, 0o644); err != nil {
		return nil, err
	}
	if err := writeFileAtomic(info.ChainFile, interPEM, 0o644); err != nil {
		return nil, err
	}
	keyFile := info.APIKeyFile
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
		return nil, err
	}
	if apiKey == "" {
		return nil, fmt.Errorf("%s is empty", keyFile)
	}
	secretFile, webhookSecret := filepath.Join(dir, DevSecretFile), filepath.Join(dir, DevWebhookSecretFile)
	for _, f := range []string{secretFile, webhookSecret} {
		if _, err := os.Stat(f); errors.Is(err, fs.ErrNotExist) {
			b := make([]byte, 32)
			rand.Read(b)
			if err := writeFileAtomic(f, []byte(hex.EncodeToString(b)+"\n"), 0o600); err != nil {
				return nil, err
			}
		}
	}

	trust, err := devtrust.New(p, devtrust.Options{Logger: opts.Logger})
	if err != nil {
		return nil, fmt.Errorf("the test PKI's trust services: %w", err)
	}
	th := trust.Handler()
	var creds []CredentialConfig
	for _, c := range info.Credentials {
		creds = append(creds, CredentialConfig{
			ID: c.ID, Description: c.Description, Key: c.KeyFile, Cert: c.CertFile,
			Chain: []string{filepath.Join(pkiDir, devpki.IntermediateCertFile)},
		})
	}
	cfg := &Config{
		Listen: addr,
		Audit:  AuditConfig{Path: filepath.Join(dir, DevAuditFile)},
		APIKeys: []APIKeyConfig{{
			ID: DevAPIKeyID, SHA256: HashAPIKey(apiKey), Credentials: []string{AllCredentials},
		}},
		Credentials: creds,
		TSA:         TSAConfig{URL: info.TSA, Roots: info.RootFile},
		Info:        InfoConfig{Name: "hashsvc (development)", Description: "Development hash-signing service with a test PKI. Not for real signatures."},
		Consent:     ConsentConfig{SecretFile: secretFile},
		Requests:    RequestsConfig{WebhookSecretFile: webhookSecret, EvidenceCredential: DevCredentialP256},
	}
	if opts.Edit != nil {
		opts.Edit(cfg)
	}
	// One-time certificates come from the intermediate CA, and the OCSP
	// responder answers for them.
	ca := &CA{
		Signer: p.Intermediate.Key, Chain: []*x509.Certificate{p.Intermediate.Cert},
		OCSP: info.OCSP, CAIssuers: info.URL + devpki.IntermediateCertPath, CRL: info.URL + devpki.IntermediateCRLPath,
		Issued: func(c *x509.Certificate) { trust.AddCertificate(c) },
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
		CA:           ca,
		Now:          opts.Now,
	})
	if err != nil {
		return nil, err
	}
	for _, c := range srv.OneTimeCertificates() {
		trust.AddCertificate(c)
	}
	return &Dev{Server: srv, Listener: ln, URL: info.URL, APIKey: apiKey, PKI: p, Trust: trust, Info: info}, nil
}

// DevInfo is what a client of a development service needs: its URL, the
// files of its directory, its credentials with their key and certificate
// files, and the URLs of the test PKI's trust services.
type DevInfo struct {
	Dir, URL string
	// APIKeyFile holds the dev API key, which may use every credential.
	APIKeyFile string
	// RootFile is the dev root CA, the trust anchor for verifiers, and
	// ChainFile the intermediate CA.
	RootFile, ChainFile string
	Credentials         []DevCredential
	// TSA is the time-stamping authority's URL and OCSP the OCSP
	// responder's; CRLs and CACerts are the URLs of the CAs' CRLs and
	// certificates.
	TSA, OCSP     string
	CRLs, CACerts []string
}

// DevCredential is a credential of the development service.
type DevCredential struct {
	ID, Description   string
	KeyFile, CertFile string // PEM files in Dir/pki
}

// ReadDevInfo describes the development directory dir, which NewDev has
// set up before.
func ReadDevInfo(dir string) (*DevInfo, error) {
	b, err := os.ReadFile(filepath.Join(dir, DevAddrFile))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s is not a development directory (no %s): start `hashsvc serve -dev %s` once", dir, DevAddrFile, dir)
		}
		return nil, err
	}
	return devInfo(dir, strings.TrimSpace(string(b))), nil
}

// devInfo describes the development directory dir whose service listens
// on addr.
func devInfo(dir, addr string) *DevInfo {
	base := "http://" + addr
	pki := filepath.Join(dir, DevPKIDir)
	cred := func(id, desc, key, cert string) DevCredential {
		return DevCredential{ID: id, Description: desc, KeyFile: filepath.Join(pki, key), CertFile: filepath.Join(pki, cert)}
	}
	return &DevInfo{
		Dir: dir, URL: base,
		APIKeyFile: filepath.Join(dir, DevAPIKeyFile),
		RootFile:   filepath.Join(dir, DevRootFile),
		ChainFile:  filepath.Join(dir, DevChainFile),
		Credentials: []DevCredential{
			cred(DevCredentialRSA, "development RSA-2048 key", devpki.SignerRSAKeyFile, devpki.SignerRSACertFile),
			cred(DevCredentialP256, "development ECDSA P-256 key", devpki.SignerP256KeyFile, devpki.SignerP256CertFile),
			cred(DevCredentialP384, "development ECDSA P-384 key", devpki.SignerP384KeyFile, devpki.SignerP384CertFile),
		},
		TSA:     base + devtrust.TSAPath,
		OCSP:    base + devpki.OCSPPath,
		CRLs:    []string{base + devpki.RootCRLPath, base + devpki.IntermediateCRLPath},
		CACerts: []string{base + devpki.RootCertPath, base + devpki.IntermediateCertPath},
	}
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
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", name, err)
	}
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	if err := os.Rename(f.Name(), name); err != nil {
		return err
	}
	return nil
}
