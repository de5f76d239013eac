package pades_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"image"
	"image/color"
	"image/png"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"hashsign/internal/devpki"
	"hashsign/internal/rendertest"
	"hashsign/internal/testenv"
	"hashsign/pades"
	"hashsign/signer"
	"hashsign/testdata/pdfgen"
)

// namedSigner returns a signer with a new P-256 key whose certificate,
// issued by the intermediate CA of p, has the common name cn.
func namedSigner(t testing.TB, p *devpki.PKI, cn string) signer.Signer {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 63))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn, Organization: []string{devpki.Organization}},
		NotBefore:    time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.Intermediate.Cert, key.Public(), p.Intermediate.Key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	s, err := signer.New(key, []*x509.Certificate{cert, p.Intermediate.Cert})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// sealPNG returns a 64x64 PNG: a red disc on a transparent background.
func sealPNG(t testing.TB) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, 64, 64))
	for y := range 64 {
		for x := range 64 {
			if dx, dy := x-32, y-32; dx*dx+dy*dy < 30*30 {
				img.Set(x, y, color.NRGBA{200, 20, 20, 255})
			}
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// render renders page n of the PDF at path with pdftoppm -r 72.
func render(t testing.TB, path string, n int) image.Image {
	t.Helper()
	return rendertest.Page(t, path, n)
}

// displayedBox converts a rectangle on the displayed page to the pixels of
// a render of height h.
func displayedBox(r pades.Rect, h int) rendertest.Box {
	return rendertest.Displayed(r.X, r.Y, r.W, r.H, h)
}

// compareRenders checks that signed differs from unsigned inside box and
// nowhere else, and returns how many pixels changed inside it.
func compareRenders(t testing.TB, unsigned, signed image.Image, box rendertest.Box) int {
	t.Helper()
	return rendertest.Changed(t, unsigned, signed, box)[0]
}

// sameRender checks that two renders do not differ.
func sameRender(t testing.TB, a, b image.Image) { t.Helper(); rendertest.Same(t, a, b) }

// visibleCase is a visible signature to render: a page of a layout, the
// place of the field as displayed, and the signer.
type visibleCase struct {
	name    string
	page    pdfgen.Page
	rect    pades.Rect
	signer  string // common name of the signer's certificate
	image   bool
	embeds  bool   // the name needs an embedded font
	font    string // a font file for the name
	wantTxt string
}

// cjkFont is a font with Chinese glyphs (Debian fonts-wqy-zenhei), which
// the default font lacks.
const cjkFont = "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"

// needFile returns path, a file that the README test command installs
// (see testenv.Need).
func needFile(t testing.TB, path string) string {
	t.Helper()
	return testenv.Need(t, path, "the README test command installs it")
}

// TestVisibleRendering signs a page at a rectangle and renders it with
// pdftoppm -r 72 before and after: the field's rectangle is no longer
// blank and every pixel outside it is unchanged. It covers a Latin name
// with an image, a Chinese name (in a font given, as the default font has
// no Chinese) and an Arabic name (pdffonts lists the embedded subset font),
// pages with /Rotate 90, an inherited /Rotate 270 and /Rotate 180 with a
// /CropBox, and one whose
// /MediaBox does not start at 0,0 and that has a /CropBox; pdftotext finds
// the signer's name on each signed page.
func TestVisibleRendering(t *testing.T) {
	p := testPKI(t)
	crop := [4]float64{150, 260, 650, 960}
	cases := []visibleCase{
		{name: "latin name with image", rect: pades.Rect{X: 72, Y: 72, W: 220, H: 70}, signer: "Jürgen Müller-Lüdenscheid", image: true, wantTxt: "Jürgen Müller-Lüdenscheid"},
		{name: "chinese name", rect: pades.Rect{X: 300, Y: 500, W: 200, H: 60}, signer: "张伟明", embeds: true, font: cjkFont, wantTxt: "张伟明"},
		{name: "arabic name", rect: pades.Rect{X: 50, Y: 300, W: 220, H: 60}, signer: "محمد بن عبد الله", embeds: true, wantTxt: "محمد بن عبد الله"},
		{name: "rotate 90", page: pdfgen.Page{Rotate: 90}, rect: pades.Rect{X: 500, Y: 40, W: 200, H: 60}, signer: "Rotated Signer", wantTxt: "Rotated Signer"},
		{name: "rotate 270 inherited", page: pdfgen.Page{Rotate: 270, Inherit: true}, rect: pades.Rect{X: 30, Y: 400, W: 180, H: 50}, signer: "Inherited Rotation", wantTxt: "Inherited Rotation"},
		{name: "rotate 180 with cropbox", page: pdfgen.Page{Rotate: 180, CropBox: &[4]float64{20, 30, 580, 760}}, rect: pades.Rect{X: 300, Y: 10, W: 240, H: 60}, signer: "Upside Down", wantTxt: "Upside Down"},
		{name: "mediabox not at 0,0 with cropbox", page: pdfgen.Page{MediaBox: [4]float64{100, 200, 712, 992}, CropBox: &crop}, rect: pades.Rect{X: 10, Y: 20, W: 200, H: 60}, signer: "Offset Box", wantTxt: "Offset Box"},
	}
	dir := t.TempDir()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in, err := pdfgen.Layout{Pages: []pdfgen.Page{{}, c.page}}.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			unsignedPath := filepath.Join(dir, c.name+"-in.pdf")
			if err := os.WriteFile(unsignedPath, in, 0o644); err != nil {
				t.Fatal(err)
			}
			opts := &pades.SignOptions{Page: 2, Rect: &c.rect, Info: pades.SignatureInfo{Reason: "approval", Location: "Lyon"}}
			opts.Appearance = &pades.Appearance{}
			if c.image {
				opts.Appearance.Image = sealPNG(t)
			}
			if c.font != "" {
				font, err := os.ReadFile(needFile(t, c.font))
				if err != nil {
					t.Fatal(err)
				}
				opts.Appearance.Font = font
			}
			out, _ := signBytes(t, in, namedSigner(t, p, c.signer), opts, dir, c.name+".pdf")
			before, after := render(t, unsignedPath, 2), render(t, out, 2)
			n := compareRenders(t, before, after, displayedBox(c.rect, before.Bounds().Dy()))
			t.Logf("%d pixels drawn in the field", n)
			if c.embeds {
				fonts, err := exec.Command(testenv.Need(t, "pdffonts", ""), "-f", "2", "-l", "2", out).CombinedOutput()
				if err != nil {
					t.Fatalf("pdffonts: %v\n%s", err, fonts)
				}
				if !embeddedSubset(string(fonts)) {
					t.Errorf("pdffonts lists no embedded subset font:\n%s", fonts)
				}
			}
			text, err := exec.Command(testenv.Need(t, "pdftotext", ""), "-f", "2", "-l", "2", out, "-").CombinedOutput()
			if err != nil {
				t.Fatalf("pdftotext: %v\n%s", err, text)
			}
			if !containsText(string(text), c.wantTxt) {
				t.Errorf("pdftotext does not find %q on the signed page:\n%s", c.wantTxt, text)
			}
		})
	}
}

// embeddedSubset reports whether pdffonts lists a font that is embedded
// and subset ("emb yes sub yes").
func embeddedSubset(pdffonts string) bool {
	for _, line := range strings.Split(pdffonts, "\n") {
		f := strings.Fields(line)
		// name type [type2] encoding emb sub uni object ID
		if len(f) >= 7 && f[len(f)-5] == "yes" && f[len(f)-4] == "yes" && strings.Contains(f[0], "+") {
			return true
		}
	}
	return false
}

// containsText reports whether text holds want, white space aside; for
// right-to-left scripts text extractors may give the words in either order.
func containsText(text, want string) bool {
	squash := func(s string) string { return strings.Join(strings.Fields(s), "") }
	if strings.Contains(squash(text), squash(want)) {
		return true
	}
	words := strings.Fields(want)
	for i, j := 0, len(words)-1; i < j; i, j = i+1, j-1 {
		words[i], words[j] = words[j], words[i]
	}
	return strings.Contains(squash(text), strings.Join(words, ""))
}

// signedReport signs in with opts and returns the output and its
// inspection.
func signedReport(t *testing.T, in []byte, s signer.Signer, opts *pades.SignOptions) ([]byte, *pades.Report) {
	t.Helper()
	var out memFile
	if _, err := pades.Sign(context.Background(), bytes.NewReader(in), int64(len(in)), &out, s, opts); err != nil {
		t.Fatal(err)
	}
	rep, err := pades.Inspect(context.Background(), bytes.NewReader(out.b), int64(len(out.b)), nil)
	if err != nil {
		t.Fatal(err)
	}
	return out.b, rep
}

// TestVisibleCertifiedBLTA certifies a document at DocMDP /P 1 at B-LTA in
// a new visible field on a page turned by /Rotate 90 whose /MediaBox does
// not start at 0,0, with a Cyrillic name (the embedded default font) and
// an image. The render changes only inside the field, pdffonts lists the
// embedded subset, pdftotext returns the name, and check-signed-pdf passes
// at B-LTA: the DSS and document timestamp after the certification are
// changes that ISO 32000-2 allows under /P 1. Extend adds a second
// document timestamp, which passes too, while any later signature is
// refused.
func TestVisibleCertifiedBLTA(t *testing.T) {
	shared := sharedDir(t)
	env := startDevTrust(t)
	dir := t.TempDir()
	in, err := pdfgen.Layout{Pages: []pdfgen.Page{{}, {Rotate: 90, MediaBox: [4]float64{-50, 100, 562, 892}}}}.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	unsigned := filepath.Join(dir, "in.pdf")
	if err := os.WriteFile(unsigned, in, 0o644); err != nil {
		t.Fatal(err)
	}
	const name = "Анна Сергеевна Иванова"
	rect := pades.Rect{X: 400, Y: 300, W: 250, H: 70}
	opts := env.options(pades.LevelBLTA)
	opts.Certify, opts.Page, opts.Rect = pades.CertifyNoChanges, 2, &rect
	opts.Info = pades.SignatureInfo{Reason: "certified copy", Location: "Минск"}
	opts.Appearance = &pades.Appearance{Name: name, Image: sealPNG(t)}
	path, res := signBytes(t, in, newSignerOf(t, env, env.pki.SignerP384), opts, dir, "certified.pdf")
	if res.Level != pades.LevelBLTA {
		t.Fatalf("level %v, want B-LTA", res.Level)
	}
	before := render(t, unsigned, 2)
	n := compareRenders(t, before, render(t, path, 2), displayedBox(rect, before.Bounds().Dy()))
	t.Logf("%d pixels drawn in the field", n)
	fonts, err := exec.Command(testenv.Need(t, "pdffonts", ""), "-f", "2", "-l", "2", path).CombinedOutput()
	if err != nil || !embeddedSubset(string(fonts)) {
		t.Errorf("pdffonts lists no embedded subset font (%v):\n%s", err, fonts)
	}
	text, err := exec.Command(testenv.Need(t, "pdftotext", ""), "-f", "2", "-l", "2", path, "-").CombinedOutput()
	if err != nil || !containsText(string(text), name) {
		t.Errorf("pdftotext does not find %q on the signed page (%v):\n%s", name, err, text)
	}
	if ok, report := checkSignedPDFRoot(t, shared, env.root, path, "B-LTA", "", 1); !ok {
		t.Fatalf("check-signed-pdf after the certification:\n%s", report)
	}
	if rep := inspectFile(t, path, ""); rep.DocMDP != 1 {
		t.Errorf("inspect says DocMDP /P %d, want 1", rep.DocMDP)
	}

	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := f.Stat()
	o := env.options(pades.LevelBLTA)
	_, err = pades.Extend(context.Background(), f, st.Size(), &pades.ExtendOptions{Level: pades.LevelBLTA, TSA: o.TSA, Validation: o.Validation})
	f.Close()
	if err != nil {
		t.Fatalf("a document timestamp after /P 1: %v", err)
	}
	if ok, report := checkSignedPDFRoot(t, shared, env.root, path, "B-LTA", "", 1); !ok {
		t.Fatalf("check-signed-pdf after extend:\n%s", report)
	}
	extended, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	later := env.options(pades.LevelBLTA)
	later.Rect = &pades.Rect{X: 10, Y: 10, W: 100, H: 40}
	checkErr(t, trySign(t, extended, env.signer, later), pades.ErrCertified, "allow no change")
}

// TestVisibleEncrypted signs encrypted corpus files (RC4 and AES, with and
// without a user password) in a new visible field with an Arabic name and
// an image: the appearance, its embedded font and its image are encrypted
// as the rest of the file, so the page renders with the field drawn and
// nothing else changed, pdftotext finds the name, and check-signed-pdf
// passes.
func TestVisibleEncrypted(t *testing.T) {
	shared := sharedDir(t)
	p := testPKI(t)
	corpus := filepath.Join(shared, "corpus")
	const name = "ليلى حداد"
	rect := pades.Rect{X: 36, Y: 36, W: 220, H: 60}
	dir := t.TempDir()
	for _, c := range []struct{ file, password string }{
		// RC4-40 is revision 2, where bit 9 means nothing: a signature
		// field needs bits 4 and 6, which reportbuilder_rc4_40 forbids
		{"epo_v12_rc4_40_empty_pw_no_id.pdf", ""},
		{"novapdf_rc4_128_pw_test.pdf", "test"},
		{"rasteredge_aes128_empty_pw_form.pdf", ""},
		{"acrobat10_aes256_pw_user.pdf", "user"},
	} {
		t.Run(c.file, func(t *testing.T) {
			in := filepath.Join(corpus, c.file)
			doc, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			opts := &pades.SignOptions{Password: []byte(c.password), NewField: true, Page: 1, Rect: &rect,
				Appearance: &pades.Appearance{Name: name, Image: sealPNG(t)}}
			out, _ := signBytes(t, doc, newSigner(t, p.SignerRSA), opts, dir, c.file)
			before := rendertest.EncryptedPage(t, in, c.password, 1)
			n := compareRenders(t, before, rendertest.EncryptedPage(t, out, c.password, 1), displayedBox(rect, before.Bounds().Dy()))
			t.Logf("%d pixels drawn in the field", n)
			args := []string{"-f", "1", "-l", "1"}
			if c.password != "" {
				args = append(args, "-upw", c.password)
			}
			text, err := exec.Command(testenv.Need(t, "pdftotext", ""), append(args, out, "-")...).CombinedOutput()
			if err != nil || !containsText(string(text), name) {
				t.Errorf("pdftotext does not find %q on the signed page (%v):\n%s", name, err, text)
			}
			if ok, report := checkSignedPDF(t, shared, out, "B-B", c.password, 1); !ok {
				t.Errorf("check-signed-pdf:\n%s", report)
			}
		})
	}
}
