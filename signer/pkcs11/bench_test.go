package pkcs11

import (
	"bytes"
	"context"
	"os"
	"testing"

	"hashsign/pades"
	"hashsign/signer"
)

// benchSign signs the same small PDF b.N times with s, from one goroutine
// ("serial") or from GOMAXPROCS goroutines ("parallel"), each writing to
// its own temporary file, and reports documents per second.
func benchSign(b *testing.B, s signer.Signer) {
	in := testPDF(b)
	run := func(b *testing.B, out *os.File) {
		if err := out.Truncate(0); err != nil {
			b.Fatal(err)
		}
		if _, err := out.Seek(0, 0); err != nil {
			b.Fatal(err)
		}
		if _, err := pades.Sign(context.Background(), bytes.NewReader(in), int64(len(in)), out, s, nil); err != nil {
			b.Fatal(err)
		}
	}
	tempFile := func(b *testing.B) *os.File {
		f, err := os.CreateTemp(b.TempDir(), "signed-*.pdf")
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { f.Close() })
		return f
	}
	b.Run("serial", func(b *testing.B) {
		out := tempFile(b)
		b.ResetTimer()
		for range b.N {
			run(b, out)
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "docs/s")
	})
	b.Run("parallel", func(b *testing.B) {
		dir := b.TempDir()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			out, err := os.CreateTemp(dir, "signed-*.pdf")
			if err != nil {
				b.Error(err)
				return
			}
			defer out.Close()
			for pb.Next() {
				run(b, out)
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "docs/s")
	})
}

// BenchmarkSignPKCS11 signs with an RSA-2048 key held by SoftHSM2.
func BenchmarkSignPKCS11(b *testing.B) {
	tt := newTestToken(b, rsaKey)
	p := openPool(b, 0)
	benchSign(b, mustOpen(b, p, tt.uri("rsa"), nil))
}

// BenchmarkSignKeyFile signs with the test PKI's RSA-2048 key through the
// key-file signer, for comparison.
func BenchmarkSignKeyFile(b *testing.B) {
	pki := testPKI(b)
	s, err := signer.New(pki.SignerRSA.Key, pki.Chain(pki.SignerRSA))
	if err != nil {
		b.Fatal(err)
	}
	benchSign(b, s)
}
