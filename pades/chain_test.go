package pades_test

import (
	"crypto/x509"
	"encoding/hex"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"hashsign/cms"
	"hashsign/ltv"
	"hashsign/pades"
	"hashsign/signer"
	"hashsign/testdata/pdfgen"
)

// TestSignWithoutIntermediates signs with a signer that holds only its own
// certificate (as a PKCS#11 token without the chain, or -key without
// -chain): the intermediate is fetched through AIA caIssuers at every
// level, B-B included, and the result chains for the validators. Without
// a way to fetch it, Sign fails naming the missing issuer.
func TestSignWithoutIntermediates(t *testing.T) {
	shared := sharedDir(t)
	env := startDevTrust(t)
	p := env.pki
	leafOnly, err := signer.New(p.SignerP256.Key, []*x509.Certificate{p.SignerP256.Cert})
	if err != nil {
		t.Fatal(err)
	}
	in, err := pdfgen.Bytes(pdfgen.Table, pdfgen.Options{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()

	for _, level := range []pades.Level{pades.LevelBB, pades.LevelBLTA} {
		t.Run(level.String(), func(t *testing.T) {
			opts := env.options(level)
			if level == pades.LevelBB {
				opts = &pades.SignOptions{Issuers: &ltv.Fetcher{}}
			}
			out, res := signBytes(t, in, leafOnly, opts, dir, level.String()+".pdf")
			if len(res.Chain) < 2 || !res.Chain[1].Equal(p.Intermediate.Cert) {
				t.Fatalf("the result's chain has %d certificates, want the signer's and the fetched intermediate", len(res.Chain))
			}
			data, _ := os.ReadFile(out)
			der, err := hex.DecodeString(string(data[res.ByteRange[1]+1 : res.ByteRange[2]-1]))
			if err != nil {
				t.Fatal(err)
			}
			sd, err := cms.Parse(der)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.ContainsFunc(sd.Certificates, p.Intermediate.Cert.Equal) {
				t.Error("the CMS does not carry the fetched intermediate")
			}
			if ok, report := checkSignedPDFRoot(t, shared, env.root, out, level.String(), "", 1); !ok {
				t.Fatalf("check-signed-pdf:\n%s", report)
			}
		})
	}

	// an AIA server that is down, and no source at all
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := "http://" + l.Addr().String()
	l.Close()
	leaf := *p.SignerP256.Cert
	leaf.IssuingCertificateURL = []string{down + "/inter.cer"}
	broken, err := signer.New(p.SignerP256.Key, []*x509.Certificate{&leaf})
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		s    signer.Signer
		opts *pades.SignOptions
		want string
	}{
		"no source":   {leafOnly, nil, "no source of issuer certificates"},
		"server down": {broken, &pades.SignOptions{Issuers: &ltv.Fetcher{}}, down},
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, "fail.pdf")
			err := signFile(in, path, c.s, c.opts)
			if !errors.Is(err, pades.ErrIncompleteChain) || !strings.Contains(err.Error(), p.Intermediate.Cert.Subject.String()) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want ErrIncompleteChain naming the issuer %q and %q", err, p.Intermediate.Cert.Subject, c.want)
			}
		})
	}
}
