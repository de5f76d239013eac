package pades_test

import (
	"bytes"
	"context"
	"crypto"
	"os"
	"os/exec"
	"strings"
	"testing"

	"hashsign/internal/devpki"
	"hashsign/internal/testenv"
	"hashsign/pades"
	"hashsign/testdata/pdfgen"
)

// TestSignXRefForms signs a generated file of every cross-reference form
// and checks the structure of the update with our reader and with qpdf.
func TestSignXRefForms(t *testing.T) {
	p := testPKI(t)
	s := newSigner(t, p.SignerRSA)
	qpdf := testenv.Need(t, "qpdf", "")
	dir := t.TempDir()
	options := []struct {
		name string
		opts pdfgen.Options
	}{
		{"plain", pdfgen.Options{Pages: 2}},
		{"form", pdfgen.Options{Form: true}},
		{"sigfield", pdfgen.Options{SignatureField: true}},
	}
	for _, kind := range pdfgen.Kinds() {
		for _, o := range options {
			name := kind.String() + "-" + o.name
			t.Run(name, func(t *testing.T) {
				in, err := pdfgen.Bytes(kind, o.opts)
				if err != nil {
					t.Fatal(err)
				}
				before, err := pades.Inspect(context.Background(), bytes.NewReader(in), int64(len(in)), nil)
				if err != nil {
					t.Fatal(err)
				}
				out, prep := signBytes(t, in, s, &pades.SignOptions{Info: pades.SignatureInfo{Reason: "table test"}}, dir, name+".pdf")
				got, err := os.ReadFile(out)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.HasPrefix(got, in) {
					t.Fatal("the signed file does not start with the input bytes")
				}
				after, err := pades.Inspect(context.Background(), bytes.NewReader(got), int64(len(got)), nil)
				if err != nil {
					t.Fatal(err)
				}
				if len(after.Revisions) != len(before.Revisions)+1 {
					t.Fatalf("revisions: got %d, want %d", len(after.Revisions), len(before.Revisions)+1)
				}
				prevKind := before.Revisions[len(before.Revisions)-1].XRef
				wantKind := prevKind
				if prevKind == "hybrid" {
					wantKind = "table"
				}
				if k := after.Revisions[len(after.Revisions)-1].XRef; k != wantKind {
					t.Errorf("new section is a %s after a %s", k, prevKind)
				}
				var sig *pades.SignatureReport
				for i := range after.Fields {
					if after.Fields[i].Field == prep.Field {
						sig = &after.Fields[i]
					}
				}
				if sig == nil || !sig.Signed || sig.Intact == nil || !*sig.Intact || sig.Covers != "whole file" || sig.SubFilter != "ETSI.CAdES.detached" {
					t.Fatalf("signature report: %+v", sig)
				}
				if o.opts.SignatureField && prep.Field != "Signature1" && len(before.Fields) == 1 && before.Fields[0].Field != prep.Field {
					t.Errorf("signed into a new field %q instead of the empty field %q", prep.Field, before.Fields[0].Field)
				}
				if o.opts.SignatureField && len(after.Fields) != len(before.Fields) {
					t.Errorf("signing into the empty field changed the number of signature fields from %d to %d", len(before.Fields), len(after.Fields))
				}
				res, err := exec.Command(qpdf, "--check", out).CombinedOutput()
				if err != nil {
					t.Fatalf("qpdf --check: %v\n%s", err, res)
				}
				if strings.Contains(string(res), "WARNING") {
					t.Errorf("qpdf --check warns:\n%s", res)
				}
			})
		}
	}
}

// TestSignAlgorithms signs with every key type and digest, and has the
// result judged by the external validators.
func TestSignAlgorithms(t *testing.T) {
	p := testPKI(t)
	shared := sharedDir(t)
	dir := t.TempDir()
	in, err := pdfgen.Bytes(pdfgen.Stream, pdfgen.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		id   *devpki.Identity
		hash crypto.Hash
		pss  bool
	}{
		{"rsa-sha256", p.SignerRSA, crypto.SHA256, false},
		{"rsa-pss-sha384", p.SignerRSA, crypto.SHA384, true},
		{"p256-sha256", p.SignerP256, crypto.SHA256, false},
		{"p384-sha512", p.SignerP384, crypto.SHA512, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			out, _ := signBytes(t, in, newSigner(t, c.id), &pades.SignOptions{Hash: c.hash, PSS: c.pss}, dir, c.name+".pdf")
			ok, report := checkSignedPDF(t, shared, out, "B-B", "", 1)
			if !ok && c.pss && onlyMuPDFFails(report) {
				// MuPDF 1.21 verifies through OpenSSL's PKCS7 API, which
				// knows no RSASSA-PSS: `openssl smime -verify` fails on the
				// same CMS while `openssl cms -verify`, NSS and Bouncy
				// Castle accept it.
				t.Logf("MuPDF cannot verify RSASSA-PSS; the other validators pass")
				return
			}
			if !ok {
				t.Fatalf("check-signed-pdf:\n%s", report)
			}
		})
	}
}

// onlyMuPDFFails reports whether the one failed check of a
// check-signed-pdf report is MuPDF's.
func onlyMuPDFFails(report string) bool {
	fails := 0
	for _, l := range strings.Split(report, "\n") {
		if strings.HasPrefix(l, "FAIL") {
			fails++
			if !strings.HasPrefix(l, "FAIL mutool") {
				return false
			}
		}
	}
	return fails == 1 && strings.Contains(report, "3 passed, 1 failed")
}
