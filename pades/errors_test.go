package pades_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"testing"

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
	errs = append(errs, err, pades.ErrPasswordNeeded, pades.ErrWrongPassword, pades.ErrPermission, pades.ErrCertified, pades.ErrIncompleteChain)
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
