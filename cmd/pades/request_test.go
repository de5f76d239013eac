package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"hashsign/hashsvc"
	"hashsign/hashsvc/hashsvctest"
	"hashsign/internal/rendertest"
	"hashsign/internal/testenv"
	"hashsign/testdata/pdfgen"
)

// TestRequestCommand: `pades request` asks two signers to sign two PDFs
// through a development hashsvc: one with an authenticator app (TOTP), one
// with an e-mailed code; it writes both signed files (at B-T, each signed
// by the two, in order, each in their own visible field, which shows their
// name and the -image) and the evidence, which verifies.
func TestRequestCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the development service")
	}
	ctx := context.Background()
	mailbox := hashsvctest.NewMailbox(t)
	dir := t.TempDir()
	d := hashsvctest.ServeDev(t, hashsvc.DevOptions{Dir: filepath.Join(dir, "dev"), Edit: func(c *hashsvc.Config) {
		c.Consent.SMTP = &hashsvc.SMTPConfig{Addr: mailbox.Addr, From: "hashsvc <signing@example.org>", TLS: "none"}
	}})
	uri, err := d.EnrolTOTP(ctx, "eve", "eve@example.org")
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(uri)
	fields := map[string][4]float64{"Sig1": {72, 72, 200, 60}, "Sig2": {320, 72, 200, 60}}
	form, err := pdfgen.Layout{Fields: []pdfgen.Field{
		{Name: "Sig1", Rect: [4]float64{72, 72, 272, 132}}, {Name: "Sig2", Rect: [4]float64{320, 72, 520, 132}},
	}}.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	ins := []string{writeFile(t, dir, "a.pdf", form), writeFile(t, dir, "b.pdf", form)}
	out := filepath.Join(dir, "out")
	os.Mkdir(out, 0o755)
	evidence := filepath.Join(dir, "evidence.json")
	args := []string{"request", "-remote", d.URL, "-api-key-file", d.Info.APIKeyFile, "-sender", "Example GmbH",
		"-signer", "id=eve,name=Eve Example,email=eve@example.org,otp=totp,field=Sig1",
		"-signer", "name=Fay Example,email=fay@example.org,field=Sig2", "-image", sealJPEG(t, dir),
		"-level", "B-T", "-tsa", d.Info.TSA, "-trust", d.Info.RootFile, "-poll", "50ms", "-evidence", evidence,
		"-out", out, ins[0], ins[1]}
	var stdout, stderr bytes.Buffer
	done := make(chan int, 1)
	// running ends when pades request returns: no mail can come after it.
	running, ended := context.WithCancel(t.Context())
	go func() {
		done <- run(ctx, args, &stdout, &stderr)
		ended()
	}()

	link := regexp.MustCompile(`/consent/([A-Za-z0-9_-]+)`)
	next := func(to string) *hashsvctest.Mail {
		t.Helper()
		m, err := mailbox.Next(running)
		if err != nil {
			t.Fatalf("%v before pades request ended: %s", err, stderr.String())
		}
		if m.To != to {
			t.Fatalf("mail to %s, want %s: %q", m.To, to, m.Body)
		}
		return m
	}
	// Eve answers with her app's code
	token := link.FindStringSubmatch(next("eve@example.org").Body)[1]
	code, _ := totp.GenerateCode(u.Query().Get("secret"), time.Now())
	if err := d.AnswerConsent(ctx, token, hashsvc.Consent{OTP: code, IP: "127.0.0.1", UserAgent: "test"}); err != nil {
		t.Fatal(err)
	}
	// Fay asks for a code by e-mail
	token = link.FindStringSubmatch(next("fay@example.org").Body)[1]
	if _, err := d.SendConsentCode(ctx, token); err != nil {
		t.Fatal(err)
	}
	if err := d.AnswerConsent(ctx, token, hashsvc.Consent{OTP: next("fay@example.org").Code(), IP: "127.0.0.1", UserAgent: "test"}); err != nil {
		t.Fatal(err)
	}
	if c := <-done; c != 0 {
		t.Fatalf("pades request: exit %d: %s", c, stderr.String())
	}
	if !strings.Contains(stdout.String(), "completed: 2 signers") {
		t.Errorf("stdout: %s", stdout.String())
	}
	for _, in := range ins {
		f := filepath.Join(out, filepath.Base(in))
		intact(t, f)
		data, _ := os.ReadFile(f)
		if n := bytes.Count(data, []byte("/ETSI.CAdES.detached")); n != 2 {
			t.Errorf("%s: %d signatures, want 2", f, n)
		}
		// each field drawn, nothing else; each signer's name shown
		before, after := rendertest.Page(t, in, 1), rendertest.Page(t, f, 1)
		var boxes []rendertest.Box
		for _, r := range []string{"Sig1", "Sig2"} {
			b := fields[r]
			boxes = append(boxes, rendertest.Displayed(b[0], b[1], b[2], b[3], before.Bounds().Dy()))
		}
		t.Logf("%s: %v pixels drawn in the fields", filepath.Base(f), rendertest.Changed(t, before, after, boxes...))
		// the -image (a blue square) is in the appearance
		blue := 0
		for y := after.Bounds().Min.Y; y < after.Bounds().Max.Y; y++ {
			for x := after.Bounds().Min.X; x < after.Bounds().Max.X; x++ {
				r, g, b, _ := after.At(x, y).RGBA()
				if b>>8 > 150 && r>>8 < 80 && g>>8 < 100 {
					blue++
				}
			}
		}
		if blue == 0 {
			t.Errorf("%s: the -image is not drawn", f)
		}
		text, err := exec.Command(testenv.Need(t, "pdftotext", ""), f, "-").CombinedOutput()
		for _, name := range []string{"Eve Example", "Fay Example"} {
			if err != nil || !strings.Contains(string(text), name) {
				t.Errorf("%s: pdftotext does not find %q (%v):\n%s", f, name, err, text)
			}
		}
	}
	data, err := os.ReadFile(evidence)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(d.PKI.Root.Cert)
	rep, err := hashsvc.VerifyEvidence(data, roots)
	if err != nil {
		t.Fatal(err)
	}
	if s := rep.Record.Signers; len(s) != 2 || s[0].Identified.Method != "totp" || s[1].Identified.Method != "otp-email" || len(s[1].Signatures) != 2 {
		t.Errorf("evidence signers: %+v", s)
	}
}
