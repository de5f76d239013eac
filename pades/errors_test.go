package pades_test

import (
	"bytes"
	"context"
	"crypto"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"hashsign/internal/testenv"
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

// TestEncryptionPermissions: with the user password, a signature field is
// added only when the permissions allow it (bits 4 and 6, or bit 9 from
// revision 3, where it means "fill in forms and sign"); the owner password
// overrides them. qpdf makes the encrypted files.
func TestEncryptionPermissions(t *testing.T) {
	qpdf := testenv.Need(t, "qpdf", "")
	s := newSigner(t, testPKI(t).SignerRSA)
	in, err := pdfgen.Bytes(pdfgen.Table, pdfgen.Options{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain.pdf")
	if err := os.WriteFile(plain, in, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		qpdf    []string // key length and restrictions
		refused bool     // with the user password
	}{
		// revision 2 sets bit 9, which it does not define (/P -44)
		{"R2 no modify, no annotate", []string{"40", "--modify=n", "--annotate=n"}, true},
		{"R2 modify, no annotate", []string{"40", "--modify=y", "--annotate=n"}, true},
		{"R2 modify and annotate", []string{"40", "--modify=y", "--annotate=y"}, false},
		{"R3 no modification", []string{"128", "--use-aes=n", "--modify=none"}, true},
		{"R3 fill in forms and sign", []string{"128", "--use-aes=n", "--modify=form"}, false},
		{"R4 fill in forms and sign", []string{"128", "--use-aes=y", "--modify=form"}, false},
		{"R6 no modification", []string{"256", "--modify=none"}, true},
		{"R6 all", []string{"256", "--modify=all"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			enc := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".pdf")
			args := append([]string{"--allow-weak-crypto", "--encrypt", "user", "owner"}, tc.qpdf...)
			if out, err := exec.Command(qpdf, append(args, "--", plain, enc)...).CombinedOutput(); err != nil {
				t.Fatalf("qpdf: %v\n%s", err, out)
			}
			data, err := os.ReadFile(enc)
			if err != nil {
				t.Fatal(err)
			}
			for _, pw := range []string{"user", "owner"} {
				err := signFile(data, filepath.Join(dir, "out.pdf"), s, &pades.SignOptions{Password: []byte(pw)})
				want := tc.refused && pw == "user"
				if want && !errors.Is(err, pades.ErrPermission) || !want && err != nil {
					t.Errorf("%s password: err = %v, want refused: %v", pw, err, want)
				}
			}
		})
	}
}
