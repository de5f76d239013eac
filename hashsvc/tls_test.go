package hashsvc_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"hashsign/hashsvc"
	"hashsign/hashsvc/hashsvctest"
	"hashsign/signer/remote"
)

// tlsCert issues a certificate for key from parent (self-signed when parent
// is nil) and writes it and its key as PEM files named name.pem and
// name.key in dir.
func tlsCert(t *testing.T, dir, name string, tmpl *x509.Certificate, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl.SerialNumber = big.NewInt(time.Now().UnixNano())
	tmpl.NotBefore = time.Now().Add(-time.Hour)
	tmpl.NotAfter = time.Now().Add(time.Hour)
	signKey := key
	if parent == nil {
		parent = tmpl
	} else {
		signKey = parentKey
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, signKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	kd, _ := x509.MarshalPKCS8PrivateKey(key)
	os.WriteFile(filepath.Join(dir, name+".pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(filepath.Join(dir, name+".key"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd}), 0o600)
	return cert, key
}

func TestMutualTLS(t *testing.T) {
	dir := t.TempDir()
	ca, caKey := tlsCert(t, dir, "ca", &x509.Certificate{
		Subject: pkix.Name{CommonName: "test CA"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign,
	}, nil, nil)
	tlsCert(t, dir, "server", &x509.Certificate{
		Subject: pkix.Name{CommonName: "hashsvc"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature,
	}, ca, caKey)
	clientA, _ := tlsCert(t, dir, "client-a", &x509.Certificate{
		Subject: pkix.Name{CommonName: "client a"}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, KeyUsage: x509.KeyUsageDigitalSignature,
	}, ca, caKey)
	tlsCert(t, dir, "client-b", &x509.Certificate{
		Subject: pkix.Name{CommonName: "client b"}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, KeyUsage: x509.KeyUsageDigitalSignature,
	}, ca, caKey)
	bound := sha256.Sum256(clientA.Raw)

	s := hashsvctest.NewServer(t, hashsvctest.Options{Edit: func(c *hashsvc.Config) {
		c.TLS = &hashsvc.TLSConfig{Cert: filepath.Join(dir, "server.pem"), Key: filepath.Join(dir, "server.key"), ClientCA: filepath.Join(dir, "ca.pem")}
		for i := range c.APIKeys {
			if c.APIKeys[i].ID == hashsvctest.KeyP256 {
				c.APIKeys[i].ClientCertSHA256 = hex.EncodeToString(bound[:])
			}
		}
	}})
	ctx := context.Background()
	url := "https://" + hashsvctest.Serve(t, s.Service.Serve)
	roots := x509.NewCertPool()
	roots.AddCert(ca)

	client := func(cert string, key string) *remote.Client {
		tc := &tls.Config{RootCAs: roots}
		if cert != "" {
			pair, err := tls.LoadX509KeyPair(filepath.Join(dir, cert+".pem"), filepath.Join(dir, cert+".key"))
			if err != nil {
				t.Fatal(err)
			}
			tc.Certificates = []tls.Certificate{pair}
		}
		c, err := remote.NewClient(url, remote.Options{APIKey: key, TLSConfig: tc, Retry: remote.RetryPolicy{Attempts: 1}})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	// no client certificate: the TLS handshake fails, nothing is served
	if _, err := client("", s.Keys[hashsvctest.KeyAll]).Credentials(ctx); err == nil {
		t.Error("served without a client certificate")
	}
	// a client certificate and a key not bound to one
	ids, err := client("client-b", s.Keys[hashsvctest.KeyAll]).Credentials(ctx)
	if err != nil || len(ids) != 3 {
		t.Errorf("client b with the unbound key: %v %v", ids, err)
	}
	info, err := client("client-b", s.Keys[hashsvctest.KeyAll]).Info(ctx)
	if err != nil || len(info.AuthType) != 2 || info.AuthType[1] != "TLS" {
		t.Errorf("info: %+v %v", info, err)
	}
	// the bound key with its certificate, and with another one
	if _, err := remote.NewSigner(ctx, client("client-a", s.Keys[hashsvctest.KeyP256]), hashsvctest.CredP256); err != nil {
		t.Errorf("client a with its bound key: %v", err)
	}
	_, err = remote.NewSigner(ctx, client("client-b", s.Keys[hashsvctest.KeyP256]), hashsvctest.CredP256)
	if !errors.Is(err, remote.ErrUnauthorized) {
		t.Errorf("client b with a key bound to client a: %v, want 401", err)
	}
}
