// Package listen holds the checks and the TLS set-up that hashsvc and the
// signing gateway of `pades serve` make before they serve on an address.
package listen

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
)

// OnLoopback reports whether a listener's address is reachable from this
// machine only: a loopback IP address, or a Unix socket.
func OnLoopback(a net.Addr) bool {
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.Network() == "unix"
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// TLSFiles names the files of a server's TLS configuration, as the
// configuration files of hashsvc and of the gateway give them.
type TLSFiles struct {
	Cert string `yaml:"cert"` // PEM certificate chain of the server
	Key  string `yaml:"key"`  // PEM private key of the server

	// ClientCA, when set, is a PEM file of the CAs that issue client
	// certificates. Clients must then present a certificate issued by one
	// of them (mutual TLS), in addition to their API key.
	ClientCA string `yaml:"client_ca"`
}

// ServerTLS returns the TLS configuration of a server with the PEM
// certificate chain certFile and key keyFile (TLS 1.2 at least). With
// clientCAFile, clients must present a certificate that one of its CAs
// issued (mutual TLS).
func ServerTLS(certFile, keyFile, clientCAFile string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	if clientCAFile != "" {
		pem, err := os.ReadFile(clientCAFile)
		if err != nil {
			return nil, fmt.Errorf("tls.client_ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls.client_ca %s: no PEM certificate", clientCAFile)
		}
		tc.ClientCAs = pool
		tc.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return tc, nil
}
