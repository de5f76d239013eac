package pades_test

import (
	"bytes"
	"context"
	"crypto"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"hashsign/pades"
	"hashsign/testdata/pdfgen"
)

// TestErrorsNameNoFlags: the library's errors say what is wrong in its own
// terms; naming a flag (-password, -tsa) is the CLI's job.
func TestErrorsNameNoFlags(t *testing.T) {
	p := testPKI(t)
	s := newSigner(t, p.SignerRSA)
	in, err := pdfgen.Bytes(pdfgen.Table, pdfgen.Options{})
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(t.TempDir(), "out.pdf"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ctx := context.Background()
	var errs []error
	for _, level := range []pades.Level{pades.LevelBT, pades.LevelBLT, pades.LevelBLTA} {
		_, err := pades.Sign(ctx, bytes.NewReader(in), int64(len(in)), f, s, &pades.SignOptions{Level: level})
		errs = append(errs, err)
	}
	signed, err := pades.Sign(ctx, bytes.NewReader(in), int64(len(in)), f, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = pades.Extend(ctx, f, signed.Size, nil)
	errs = append(errs, err, pades.ErrPasswordNeeded, pades.ErrWrongPassword, pades.ErrPermission, pades.ErrCertified, pades.ErrIncompleteChain,
		pades.ErrNoField, pades.ErrTagNotFound, pades.ErrCertifiedNewField, pades.ErrLocked, pades.ErrNotFirstSignature)
	flagName := regexp.MustCompile(`(^|[\s(])-[a-z]`)
	for _, err := range errs {
		if err == nil {
			t.Error("an error case gave no error")
			continue
		}
		if flagName.MatchString(err.Error()) {
			t.Errorf("the error %q names a flag", err)
		}
	}
}

// TestAppendPrepareDefaults: AppendPrepare normalises its options as
// Prepare does: nil options work, /M gets the current time (not year 1),
// and a hash outside SHA-2 is refused.
func TestAppendPrepareDefaults(t *testing.T) {
	in, err := pdfgen.Bytes(pdfgen.Table, pdfgen.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for name, prepare := range map[string]func(f *os.File, opts *pades.PrepareOptions) (*pades.Prepared, error){
		"Prepare": func(f *os.File, opts *pades.PrepareOptions) (*pades.Prepared, error) {
			return pades.Prepare(ctx, bytes.NewReader(in), int64(len(in)), f, opts)
		},
		"AppendPrepare": func(f *os.File, opts *pades.PrepareOptions) (*pades.Prepared, error) {
			if _, err := f.Write(in); err != nil {
				return nil, err
			}
			return pades.AppendPrepare(ctx, f, int64(len(in)), opts)
		},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			f, err := os.Create(filepath.Join(dir, "nil.pdf"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			p, err := prepare(f, nil)
			if err != nil {
				t.Fatal(err)
			}
			out, _ := os.ReadFile(f.Name())
			m := regexp.MustCompile(`/M \(D:(\d{4})`).FindSubmatch(out[len(in):])
			if m == nil || string(m[1]) != time.Now().Format("2006") {
				t.Errorf("/M of the new signature: %q, want this year", m)
			}
			if p.ContentsSize != pades.DefaultContentsSize || p.Hash != crypto.SHA256 {
				t.Errorf("placeholder of %d bytes with %v, want the defaults", p.ContentsSize, p.Hash)
			}
			g, err := os.Create(filepath.Join(dir, "md5.pdf"))
			if err != nil {
				t.Fatal(err)
			}
			defer g.Close()
			if _, err := prepare(g, &pades.PrepareOptions{Hash: crypto.MD5}); err == nil || !strings.Contains(err.Error(), "unsupported digest algorithm") {
				t.Errorf("MD5: err = %v, want it refused", err)
			}
		})
	}
}

// TestNilOptions: nil options and arguments give the defaults or an error,
// never a panic.
func TestNilOptions(t *testing.T) {
	in, err := pdfgen.Bytes(pdfgen.Table, pdfgen.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	f, err := os.Create(filepath.Join(t.TempDir(), "prepared.pdf"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p, err := pades.Prepare(ctx, bytes.NewReader(in), int64(len(in)), f, nil)
	if err != nil {
		t.Fatal(err)
	}
	found, err := pades.FindPlaceholder(ctx, f, p.Size, 0)
	if err != nil || !bytes.Equal(found.Digest, p.Digest) {
		t.Errorf("FindPlaceholder with no hash: %v, digest %x, want %x", err, found, p.Digest)
	}
	if err := pades.Embed(f, nil, nil); err == nil {
		t.Error("Embed without a prepared document gave no error")
	}
	if err := pades.EmbedTimeStamp(f, nil, nil); err == nil {
		t.Error("EmbedTimeStamp without a prepared document gave no error")
	}
	if _, err := pades.AddDSS(ctx, f, p.Size, nil, nil); err == nil {
		t.Error("AddDSS without validation data gave no error")
	}
	if d := pades.FromValidationData(nil, "KEY").WithVRI("OTHER"); len(d.VRI) != 2 {
		t.Errorf("FromValidationData(nil).WithVRI: %d VRI entries, want 2", len(d.VRI))
	}
	if d := (*pades.DSS)(nil).WithVRI("K"); d == nil || len(d.VRI) != 1 {
		t.Error("WithVRI on a nil DSS")
	}
	if _, err := pades.Inspect(ctx, f, p.Size, nil); err != nil {
		t.Errorf("Inspect with no password: %v", err)
	}
}
