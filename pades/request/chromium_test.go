package request_test

import (
	"context"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp/totp"

	"hashsign/csc"
	"hashsign/internal/testenv"
	"hashsign/pades/request"
)

// browser starts Debian's headless Chromium with a fresh profile. In CI
// a missing chromium fails the test (testenv).
func browser(t *testing.T) context.Context {
	t.Helper()
	bin := testenv.Need(t, "chromium", ".ci/test installs it")
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.UserDataDir(t.TempDir()),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	// The first call starts the browser. No deadline: go test -timeout ends a hang.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	return ctx
}

// TestTOTPSignerInChromium: the first signer identifies with the code of an
// authenticator app (TOTP), the second with an e-mailed code, both on the
// consent page in headless Chromium; the result passes at B-LT, the events
// arrived, the evidence verifies and says how each signer identified.
func TestTOTPSignerInChromium(t *testing.T) {
	e := newEnv(t)
	b := browser(t)
	ctx := context.Background()
	uri, err := e.dev.EnrolTOTP(ctx, "cat", "cat@example.org")
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(uri)
	secret := u.Query().Get("secret")
	dir := t.TempDir()
	in := e.copyCorpus(t, "pyhanko_pdf20_2_empty_sigfields.pdf", dir)
	out := filepath.Join(dir, "signed.pdf")
	create := csc.CreateRequest{
		Sender: "Example GmbH", Level: "B-LT",
		Signers: []csc.RequestSigner{
			{ID: "cat", Name: "Cat Example", Email: "cat@example.org", OTP: "totp"},
			{ID: "dan", Name: "Dan Example", Email: "dan@example.org"},
		},
		CallbackURLs: []string{e.hooks.URL},
	}
	docs := []request.Document{{Name: "contract.pdf", In: in, Out: out, Fields: []string{"Sig1", "Sig2"}}}
	done := runAsync(ctx, e.client, create, docs, e.sender(t))

	// Cat: the page asks for the app's code; no code is sent
	link := e.invitation(t, "cat@example.org")
	if err := chromedp.Do(b, chromedp.Navigate(link), chromedp.WaitVisible("#code")); err != nil {
		t.Fatal(err)
	}
	html, err := chromedp.Run(b, chromedp.OuterHTML("html"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(html, `id="send-code"`) || !strings.Contains(html, "authenticator app") || !strings.Contains(html, "Example GmbH") {
		t.Fatalf("the TOTP signer's page:\n%s", html)
	}
	code, err := totp.GenerateCode(secret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(b, chromedp.SendKeys("#code", code), chromedp.Click("#consent"),
		chromedp.WaitVisible(`#status[data-state="signed"]`)); err != nil {
		t.Fatal(err)
	}

	// Dan: asks for a code by e-mail, reads it, signs
	link = e.invitation(t, "dan@example.org")
	if err := chromedp.Do(b, chromedp.Navigate(link), chromedp.Click("#send-code"), chromedp.WaitVisible("#notice")); err != nil {
		t.Fatal(err)
	}
	notice, err := chromedp.Run(b, chromedp.Text("#notice"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(notice, "d*n@example.org") {
		t.Errorf("notice %q does not name the masked address", notice)
	}
	m := e.nextMail(t)
	if err := chromedp.Do(b, chromedp.SendKeys("#code", m.Code()), chromedp.Click("#consent"),
		chromedp.WaitVisible(`#status[data-state="signed"]`)); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	e.checkFinal(t, out, "Cat Example", "Dan Example")
	e.checkPrivacy(t, out)
	rec := e.verifyEvidence(t, r.st.ID)
	if m := rec.Signers[0].Identified; m == nil || m.Method != "totp" || !strings.Contains(m.UserAgent, "Chrome") {
		t.Errorf("signer 1 identified as %+v, want totp from Chromium", m)
	}
	if m := rec.Signers[1].Identified; m == nil || m.Method != "otp-email" {
		t.Errorf("signer 2 identified as %+v, want otp-email", m)
	}
	e.checkEvents(t, r.st.ID, rec, wantEvents...)
}
