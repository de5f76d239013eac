package pkcs11

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"hashsign/cms"
	"hashsign/pades"
	"hashsign/signer"
	"hashsign/testdata/pdfgen"
)

// openPool returns a Pool closed when the test ends.
func openPool(t testing.TB, sessions int) *Pool {
	t.Helper()
	p := &Pool{Sessions: sessions}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("Pool.Close: %v", err)
		}
	})
	return p
}

func mustOpen(t testing.TB, p *Pool, uri string, opts *OpenOptions) *Signer {
	t.Helper()
	s, err := p.Open(context.Background(), uri, opts)
	if err != nil {
		t.Fatalf("Open(%s): %v", uri, err)
	}
	return s
}

// signPDF signs a generated PDF with s and checks it with pades.Inspect.
func signPDF(t testing.TB, s *Signer, in []byte, opts *pades.SignOptions) []byte {
	t.Helper()
	ctx := context.Background()
	out := new(memOutput)
	if _, err := pades.Sign(ctx, bytes.NewReader(in), int64(len(in)), out, s, opts); err != nil {
		t.Fatalf("pades.Sign with %s: %v", s, err)
	}
	signed := out.Bytes()
	checkInspect(t, signed, s.Chain()[0])
	return signed
}

// checkInspect checks that the PDF has one signature, intact and made by
// cert's subject.
func checkInspect(t testing.TB, pdf []byte, cert *x509.Certificate) {
	t.Helper()
	rep, err := pades.Inspect(context.Background(), bytes.NewReader(pdf), int64(len(pdf)), nil)
	if err != nil {
		t.Fatalf("pades.Inspect: %v", err)
	}
	if len(rep.Fields) != 1 {
		t.Fatalf("pades.Inspect found %d signature fields, want 1", len(rep.Fields))
	}
	f := rep.Fields[0]
	if !f.Signed || f.Intact == nil || !*f.Intact {
		t.Fatalf("signature not intact: %+v", f)
	}
	if f.Signer != cert.Subject.String() {
		t.Fatalf("signer %q, want %q", f.Signer, cert.Subject)
	}
}

func testPDF(t testing.TB) []byte {
	t.Helper()
	b, err := pdfgen.Bytes(pdfgen.Table, pdfgen.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSign signs through SoftHSM2 with RSA PKCS #1 v1.5 and PSS and ECDSA
// P-256 and P-384 keys generated on the token: a bare digest checked with
// crypto/rsa and crypto/ecdsa, a CMS checked with cms.Parse and Verify, and
// a PAdES B-B PDF checked with pades.Inspect and check-signed-pdf.
func TestSign(t *testing.T) {
	tt := newTestToken(t, rsaKey, p256Key, p384Key)
	p := openPool(t, 0)
	root := tt.writeRoot(t)
	pdf := testPDF(t)

	tests := []struct {
		name string
		key  string
		opts cms.Options
	}{
		{"RSA-PKCS1v15-SHA256", "rsa", cms.Options{}},
		{"RSA-PKCS1v15-SHA512", "rsa", cms.Options{Hash: crypto.SHA512}},
		{"RSA-PSS-SHA256", "rsa", cms.Options{PSS: true}},
		{"RSA-PSS-SHA384", "rsa", cms.Options{Hash: crypto.SHA384, PSS: true}},
		{"ECDSA-P256-SHA256", "p256", cms.Options{}},
		{"ECDSA-P384-SHA384", "p384", cms.Options{Hash: crypto.SHA384}},
	}
	type signed struct {
		name string
		pdf  []byte
		pss  bool
	}
	var pdfs []signed
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			s := mustOpen(t, p, tt.uri(tc.key), nil)
			if got, want := s.Chain()[0], tt.certs[tc.key]; !got.Equal(want) {
				t.Fatalf("signer certificate %s, want the token's %s", got.Subject, want.Subject)
			}
			if n := len(s.Chain()); n != 2 || !s.Chain()[1].Equal(tt.pki.Intermediate.Cert) {
				t.Fatalf("chain has %d certificates, want the signer's and the intermediate from the token", n)
			}

			// A bare signature, checked independently of our CMS code:
			// PKCS #1 v1.5 must carry the DigestInfo, ECDSA must be DER.
			h := tc.opts.DigestAlgorithm()
			d := h.New()
			d.Write([]byte("hashsign " + tc.name))
			digest := d.Sum(nil)
			var so crypto.SignerOpts = h
			if tc.opts.PSS {
				so = &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: h}
			}
			sig, err := s.SignContext(ctx, digest, so)
			if err != nil {
				t.Fatal(err)
			}
			switch pub := s.Public().(type) {
			case *rsa.PublicKey:
				if tc.opts.PSS {
					err = rsa.VerifyPSS(pub, h, digest, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
				} else {
					err = rsa.VerifyPKCS1v15(pub, h, digest, sig)
				}
			case *ecdsa.PublicKey:
				if !ecdsa.VerifyASN1(pub, digest, sig) {
					err = fmt.Errorf("ECDSA signature %x is not a valid ASN.1 DER signature", sig)
				}
			}
			if err != nil {
				t.Fatalf("verifying the token's signature: %v", err)
			}

			// A CMS SignedData.
			content := sha256.Sum256([]byte("content"))
			cd := h.New()
			cd.Write(content[:])
			contentDigest := cd.Sum(nil)
			der, err := cms.Sign(ctx, s, contentDigest, tc.opts)
			if err != nil {
				t.Fatalf("cms.Sign: %v", err)
			}
			sd, err := cms.Parse(der)
			if err != nil {
				t.Fatalf("cms.Parse: %v", err)
			}
			if err := sd.Verify(contentDigest); err != nil {
				t.Fatalf("SignedData.Verify: %v", err)
			}
			if _, err := sd.VerifyChain(x509.VerifyOptions{Roots: tt.pki.RootPool()}); err != nil {
				t.Fatalf("SignedData.VerifyChain: %v", err)
			}

			// A PAdES B-B file.
			out := signPDF(t, s, pdf, &pades.SignOptions{Hash: tc.opts.Hash, PSS: tc.opts.PSS})
			pdfs = append(pdfs, signed{tc.name, out, tc.opts.PSS})
		})
	}
	if len(p.tokens) != 1 {
		t.Errorf("the pool holds %d crypto11 contexts, want 1 for the one token", len(p.tokens))
	}

	// The external validators (Java) are slow: run them side by side.
	t.Run("check-signed-pdf", func(t *testing.T) {
		var wg sync.WaitGroup
		for _, s := range pdfs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				t.Run(s.name, func(t *testing.T) { checkSignedPDF(t, root, s.pdf, s.pss) })
			}()
		}
		wg.Wait()
	})
}

// TestSignConcurrent signs 200 documents from 8 goroutines with one key
// and checks every output.
func TestSignConcurrent(t *testing.T) {
	tt := newTestToken(t, rsaKey)
	for _, sessions := range []int{DefaultSessions, 2} {
		t.Run(fmt.Sprintf("sessions=%d", sessions), func(t *testing.T) {
			p := openPool(t, sessions)
			s := mustOpen(t, p, tt.uri("rsa"), nil)
			if cap(s.tok.sem) != sessions {
				t.Fatalf("%d signing sessions, want %d", cap(s.tok.sem), sessions)
			}
			const docs, workers = 200, 8
			in := testPDF(t)
			start := time.Now()
			jobs := make(chan int)
			errs := make(chan error, docs)
			var wg sync.WaitGroup
			for range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range jobs {
						ctx := context.Background()
						out := new(memOutput)
						opts := &pades.SignOptions{PSS: i%2 == 1, Info: pades.SignatureInfo{Reason: fmt.Sprintf("document %d", i)}}
						if _, err := pades.Sign(ctx, bytes.NewReader(in), int64(len(in)), out, s, opts); err != nil {
							errs <- fmt.Errorf("document %d: %w", i, err)
							continue
						}
						signed := out.Bytes()
						rep, err := pades.Inspect(ctx, bytes.NewReader(signed), int64(len(signed)), nil)
						if err != nil {
							errs <- fmt.Errorf("document %d: inspect: %w", i, err)
							continue
						}
						if len(rep.Fields) != 1 || rep.Fields[0].Intact == nil || !*rep.Fields[0].Intact {
							errs <- fmt.Errorf("document %d: signature not intact: %+v", i, rep.Fields)
						}
					}
				}()
			}
			for i := range docs {
				jobs <- i
			}
			close(jobs)
			wg.Wait()
			close(errs)
			n := 0
			for err := range errs {
				n++
				if n <= 5 {
					t.Error(err)
				}
			}
			if n > 0 {
				t.Fatalf("%d of %d documents failed", n, docs)
			}
			el := time.Since(start)
			t.Logf("%d documents from %d goroutines with %d sessions in %v: %.0f docs/s", docs, workers, sessions, el.Round(time.Millisecond), docs/el.Seconds())
		})
	}
}

// TestSignContextCancel checks that a signature waiting for a session
// gives up when its context ends.
func TestSignContextCancel(t *testing.T) {
	tt := newTestToken(t, p256Key)
	p := openPool(t, 2)
	s := mustOpen(t, p, tt.uri("p256"), nil)
	for range cap(s.tok.sem) {
		s.tok.sem <- struct{}{} // take every session
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	digest := sha256.Sum256(nil)
	_, err := s.SignContext(ctx, digest[:], crypto.SHA256)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("SignContext with every session busy: %v, want context.DeadlineExceeded", err)
	}
	for range cap(s.tok.sem) {
		<-s.tok.sem
	}
	if _, err := s.SignContext(context.Background(), digest[:], crypto.SHA256); err != nil {
		t.Fatal(err)
	}
}

// TestSignOptions checks what Sign refuses rather than sign wrongly.
func TestSignOptions(t *testing.T) {
	tt := newTestToken(t, rsaKey, p256Key)
	p := openPool(t, 0)
	rsaS := mustOpen(t, p, tt.uri("rsa"), nil)
	ecS := mustOpen(t, p, tt.uri("p256"), nil)
	d := sha256.Sum256([]byte("x"))
	tests := []struct {
		name   string
		s      *Signer
		digest []byte
		opts   crypto.SignerOpts
		want   string
	}{
		{"RSA without hash", rsaS, d[:], crypto.Hash(0), "hash none is not supported for RSA"},
		{"RSA SHA-1", rsaS, make([]byte, 20), crypto.SHA1, "hash SHA-1 is not supported"},
		{"RSA short digest", rsaS, d[:16], crypto.SHA256, "digest is 16 bytes; SHA-256 needs 32"},
		{"PSS auto salt", rsaS, d[:], &rsa.PSSOptions{Hash: crypto.SHA256}, "salt length auto is not supported"},
		{"nil opts", ecS, d[:], nil, "no signer options"},
		{"ECDSA wrong length", ecS, d[:], crypto.SHA384, "digest is 32 bytes; SHA-384 needs 48"},
	}
	for _, tc := range tests {
		_, err := tc.s.Sign(nil, tc.digest, tc.opts)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.s.String()) {
			t.Errorf("%s: %v, want an error naming the key and containing %q", tc.name, err, tc.want)
		}
	}
	// ECDSA without a hash signs the digest as given, as crypto/ecdsa does.
	sig, err := ecS.Sign(nil, d[:], crypto.Hash(0))
	if err != nil || !ecdsa.VerifyASN1(ecS.Public().(*ecdsa.PublicKey), d[:], sig) {
		t.Fatalf("ECDSA without hash: %v", err)
	}
}

// TestCertificateFromCaller uses a certificate and chain supplied by the
// caller, as pades sign -cert -chain does.
func TestCertificateFromCaller(t *testing.T) {
	tt := newTestToken(t, keySpec{label: "bare", id: 0x21, kind: "p256", cert: "none"})
	p := openPool(t, 0)
	ctx := context.Background()
	_, err := p.Open(ctx, tt.uri("bare"), nil)
	if !errors.Is(err, ErrCertificateNotFound) || !strings.Contains(err.Error(), `key "bare" (id 21) on token "hashsign"`) {
		t.Fatalf("Open of a key without certificate: %v, want ErrCertificateNotFound naming the key", err)
	}
	_, err = p.Open(ctx, tt.uri("bare"), &OpenOptions{Certificates: []*x509.Certificate{tt.pki.SignerP256.Cert}})
	if !errors.Is(err, signer.ErrKeyMismatch) || !strings.Contains(err.Error(), `"bare"`) {
		t.Fatalf("Open with a certificate for another key: %v, want signer.ErrKeyMismatch", err)
	}

	cert := tt.issue(t, "hashsign PKCS#11 bare", tt.pubs["bare"])
	s := mustOpen(t, p, tt.uri("bare"), &OpenOptions{
		Certificates: []*x509.Certificate{cert},
		Chain:        []*x509.Certificate{tt.pki.Intermediate.Cert, tt.pki.Root.Cert},
	})
	if c := s.Chain(); len(c) != 2 || !c[0].Equal(cert) || !c[1].Equal(tt.pki.Intermediate.Cert) {
		t.Fatalf("chain %v, want the given certificate and the intermediate", c)
	}
	signPDF(t, s, testPDF(t), nil)
}
