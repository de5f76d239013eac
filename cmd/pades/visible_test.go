package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"image"
	"image/color"
	"image/jpeg"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"hashsign/cms"
	"hashsign/hashsvc"
	"hashsign/hashsvc/hashsvctest"
	"hashsign/internal/devpki"
	"hashsign/internal/rendertest"
	"hashsign/internal/testenv"
	"hashsign/pades"
	"hashsign/signer"
	"hashsign/testdata/pdfgen"
)

// approverForm writes a form with an approver's field on a page and
// another on a page turned by /Rotate 90, its widget apart from the field.
func approverForm(t *testing.T, dir string) string {
	t.Helper()
	b, err := pdfgen.Layout{
		Pages: []pdfgen.Page{{}, {Rotate: 90}},
		Fields: []pdfgen.Field{
			{Name: "Approver1", Rect: [4]float64{72, 72, 272, 132}},
			{Name: "Approver2", Page: 2, Rect: [4]float64{100, 100, 160, 300}, SeparateWidget: true},
		},
	}.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return writeFile(t, dir, "form.pdf", b)
}

// sealJPEG writes a JPEG image of a blue square on white.
func sealJPEG(t *testing.T, dir string) string {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 48, 48))
	for y := range 48 {
		for x := range 48 {
			c := color.RGBA{255, 255, 255, 255}
			if x > 8 && x < 40 && y > 8 && y < 40 {
				c = color.RGBA{20, 40, 200, 255}
			}
			img.Set(x, y, c)
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, nil); err != nil {
		t.Fatal(err)
	}
	return writeFile(t, dir, "seal.jpg", b.Bytes())
}

// inspectJSON runs the built `pades inspect -json`.
func inspectJSON(t *testing.T, bin, path string) *pades.Report {
	t.Helper()
	code, stdout, stderr := runBin(t, bin, "inspect", "-json", path)
	if code != 0 {
		t.Fatalf("inspect: exit %d %s", code, stderr)
	}
	var rep pades.Report
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatal(err)
	}
	return &rep
}

func reportField(t *testing.T, rep *pades.Report, name string) pades.SignatureReport {
	t.Helper()
	for _, f := range rep.Fields {
		if f.Field == name {
			return f
		}
	}
	t.Fatalf("inspect lists no field %q", name)
	return pades.SignatureReport{}
}

// devCLI is what the tests of the built pades with a remote signer use:
// the external validator, the built pades, `hashsvc serve -dev` running on
// 127.0.0.1, and the paths of its root certificate and PKI.
type devCLI struct {
	validator, bin string
	dev            *hashsvctest.Dev
	root, pki      string
}

// startDevCLI builds pades and hashsvc and starts hashsvc serve -dev.
func startDevCLI(t *testing.T) *devCLI {
	t.Helper()
	c := &devCLI{validator: hashsvctest.Validator(t), bin: hashsvctest.Build(t, "./cmd/pades")}
	c.dev = hashsvctest.StartDev(t, hashsvctest.Build(t, "./cmd/hashsvc"), filepath.Join(t.TempDir(), "dev"), "127.0.0.1:0")
	c.root, c.pki = filepath.Join(c.dev.Dir, hashsvc.DevRootFile), filepath.Join(c.dev.Dir, hashsvc.DevPKIDir)
	return c
}

// TestVisibleSignaturesCLI runs the built pades with `hashsvc serve -dev`
// as the remote signer: an author certifies a form (DocMDP /P 2) at B-LTA
// in a new visible field with a Chinese name and a JPEG image; a new field
// is then refused with the reason; a second signer signs into an existing
// field at B-LTA; a third signs into the widget on the turned page through
// prepare and embed, and extend takes it to B-LTA. check-signed-pdf judges
// the result at B-LTA, inspect lists each field where it was put, and the
// rendered pages differ from the form's inside those fields only.
// Two signers sign over the text tags of a document that groff made, at
// B-LTA too, and a tag drawn nowhere is an error. Then certification /P 1 refuses any later signature, a FieldMDP lock
// refuses a signature into the field it covers, and batch places a
// visible field in every document.
func TestVisibleSignaturesCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs pades and hashsvc")
	}
	c := startDevCLI(t)
	validator, bin, dev, root, pki := c.validator, c.bin, c.dev, c.root, c.pki
	remote := func(cred string) []string {
		return []string{"-remote", dev.URL, "-credential", cred, "-api-key-file", filepath.Join(dev.Dir, hashsvc.DevAPIKeyFile)}
	}
	lta := []string{"-level", "B-LTA", "-tsa", dev.URL + "/tsa", "-trust", root}
	dir := t.TempDir()
	form := approverForm(t, dir)
	seal := sealJPEG(t, dir)
	step := func(want int, args ...string) (string, string) {
		t.Helper()
		code, stdout, stderr := runBin(t, bin, args...)
		if code != want {
			t.Fatalf("pades %s: exit %d, want %d\n%s%s", strings.Join(args, " "), code, want, stdout, stderr)
		}
		return stdout, stderr
	}
	path := func(name string) string { return filepath.Join(dir, name) }

	args := append(append([]string{"sign"}, remote(hashsvc.DevCredentialRSA)...), lta...)
	cjk := "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc" // Debian fonts-wqy-zenhei: the default font has no Chinese
	testenv.Need(t, cjk, "apt-get install fonts-wqy-zenhei")
	step(0, append(args, "-certify", "2", "-field", "Author", "-page", "1", "-rect", "300,650,250,70", "-name", "张伟明", "-font", cjk, "-image", seal, "-reason", "author", form, path("s1.pdf"))...)
	_, stderr := step(1, append(args, "-rect", "10,10,100,40", path("s1.pdf"), path("refused.pdf"))...)
	if !strings.Contains(stderr, "allow signing only into its existing empty signature fields") || !strings.Contains(stderr, `"Approver1", "Approver2"`) {
		t.Errorf("a new field in a certified document: %s", stderr)
	}
	args = append(append([]string{"sign"}, remote(hashsvc.DevCredentialP256)...), lta...)
	step(0, append(args, "-field", "Approver1", "-location", "Québec", path("s1.pdf"), path("s2.pdf"))...)

	// the third signer: prepare, a CMS made elsewhere, embed, extend
	stdout, _ := step(0, "prepare", "-cert", filepath.Join(pki, devpki.SignerP384CertFile), "-chain", filepath.Join(pki, devpki.IntermediateCertFile),
		"-field", "Approver2", "-extra", "8192", path("s2.pdf"), path("prepared.pdf"))
	var prep preparedJSON
	if err := json.Unmarshal([]byte(stdout), &prep); err != nil {
		t.Fatal(err)
	}
	digest, _ := hex.DecodeString(prep.Digest)
	s, err := signer.LoadKeyFile(filepath.Join(pki, devpki.SignerP384KeyFile), filepath.Join(pki, devpki.SignerP384CertFile), filepath.Join(pki, devpki.IntermediateCertFile))
	if err != nil {
		t.Fatal(err)
	}
	der, err := cms.Sign(context.Background(), s, digest, cms.Options{})
	if err != nil {
		t.Fatal(err)
	}
	step(0, "embed", path("prepared.pdf"), writeFile(t, dir, "sig.p7s", der), path("s3.pdf"))
	step(0, "extend", "-level", "B-LTA", "-tsa", dev.URL+"/tsa", "-trust", root, path("s3.pdf"), path("s4.pdf"))
	hashsvctest.Validate(t, validator, root, "B-LTA", path("s4.pdf"))

	rep := inspectJSON(t, bin, path("s4.pdf"))
	if rep.DocMDP != 2 {
		t.Errorf("DocMDP /P %d, want 2", rep.DocMDP)
	}
	for _, c := range []struct {
		name string
		page int
		rect [4]float64
	}{{"Author", 1, [4]float64{300, 650, 250, 70}}, {"Approver1", 1, [4]float64{72, 72, 200, 60}}, {"Approver2", 2, [4]float64{100, 435, 200, 60}}} {
		f := reportField(t, rep, c.name)
		if !f.Signed || !f.Visible || len(f.Widgets) != 1 || f.Widgets[0].Page != c.page || f.Widgets[0].Rect != c.rect {
			t.Errorf("%s: %+v, want signed and visible on page %d at %v", c.name, f, c.page, c.rect)
		}
	}
	// rendered, each page differs from the unsigned form inside its fields
	// and nowhere else
	for page, fields := range map[int][][4]float64{1: {{300, 650, 250, 70}, {72, 72, 200, 60}}, 2: {{100, 435, 200, 60}}} {
		before, after := rendertest.Page(t, form, page), rendertest.Page(t, path("s4.pdf"), page)
		var boxes []rendertest.Box
		for _, r := range fields {
			boxes = append(boxes, rendertest.Displayed(r[0], r[1], r[2], r[3], before.Bounds().Dy()))
		}
		t.Logf("page %d: %v pixels drawn in the fields", page, rendertest.Changed(t, before, after, boxes...))
	}
	stdout, _ = step(0, "inspect", path("s4.pdf"))
	if !strings.Contains(stdout, "Approver2: Sig ETSI.CAdES.detached") || !strings.Contains(stdout, "visible on page 2 at 100,435,200,60") {
		t.Errorf("inspect does not list the fields where they are:\n%s", stdout)
	}
	for _, c := range []struct{ page, name string }{{"1", "张伟明"}, {"2", "hashsign Test Signer P-384"}} {
		// the author's name given, the name of prepare's -cert
		text, err := exec.Command(testenv.Need(t, "pdftotext", ""), "-f", c.page, "-l", c.page, path("s4.pdf"), "-").CombinedOutput()
		if err != nil || !strings.Contains(string(text), c.name) {
			t.Errorf("pdftotext does not find %q on page %s (%v):\n%s", c.name, c.page, err, text)
		}
	}

	// text tags in a document that groff made: one signer over each
	tags := groffContract(t, dir)
	args = append(append([]string{"sign"}, remote(hashsvc.DevCredentialRSA)...), lta...)
	step(0, append(args, "-tag", "#signature1#", "-tag-size", "160,40", "-field", "Customer", tags, path("t1.pdf"))...)
	args = append(append([]string{"sign"}, remote(hashsvc.DevCredentialP384)...), lta...)
	step(0, append(args, "-tag", "#signature2#", "-field", "Provider", path("t1.pdf"), path("t2.pdf"))...)
	hashsvctest.Validate(t, validator, root, "B-LTA", path("t2.pdf"))
	rep = inspectJSON(t, bin, path("t2.pdf"))
	for _, name := range []string{"Customer", "Provider"} {
		if f := reportField(t, rep, name); !f.Signed || !f.Visible || len(f.Widgets) != 1 || f.Widgets[0].Page != 1 {
			t.Errorf("%s: %+v", name, f)
		}
	}
	if _, stderr := step(1, append(args, "-tag", "#signature3#", path("t2.pdf"), path("x.pdf"))...); !strings.Contains(stderr, `text tag not found: "#signature3#" is not drawn on any of the 1 pages`) {
		t.Errorf("a tag drawn nowhere: %s", stderr)
	}

	// certification /P 1: no signature after it
	args = append([]string{"sign"}, remote(hashsvc.DevCredentialRSA)...)
	step(0, append(args, "-certify", "1", "-page", "2", "-rect", "20,20,200,60", form, path("p1.pdf"))...)
	if _, stderr := step(1, append(args, "-field", "Approver1", path("p1.pdf"), path("x.pdf"))...); !strings.Contains(stderr, "DocMDP permissions (/P 1) allow no change") {
		t.Errorf("signing after /P 1: %s", stderr)
	}
	// a FieldMDP lock set on an existing field
	step(0, append(args, "-field", "Approver1", "-lock", "include:Approver2", form, path("l1.pdf"))...)
	if _, stderr := step(1, append(args, "-field", "Approver2", path("l1.pdf"), path("x.pdf"))...); !strings.Contains(stderr, `signature field "Approver2" is locked by the signature in field "Approver1" (lock include:Approver2)`) {
		t.Errorf("signing a locked field: %s", stderr)
	}
	noOutput(t, dir, "form.pdf", "seal.jpg", "s1.pdf", "s2.pdf", "s3.pdf", "s4.pdf", "prepared.pdf", "sig.p7s", "p1.pdf", "l1.pdf",
		"contract.ms", "contract.pdf", "t1.pdf", "t2.pdf")

	// batch: a visible field at the same place of each document
	in, names := batchInputs(t, 3)
	os.Remove(filepath.Join(in, "broken.pdf"))
	out := t.TempDir()
	step(0, append(append([]string{"batch"}, remote(hashsvc.DevCredentialP256)...), "-rect", "72,300,200,60", "-name", "Batch Signer", "-in", in, "-out", out)...)
	for _, n := range names {
		rep := inspectJSON(t, bin, filepath.Join(out, n))
		if f := reportField(t, rep, "Signature1"); !f.Visible || f.Widgets[0].Rect != [4]float64{72, 300, 200, 60} {
			t.Errorf("%s: the batch signature is at %+v", n, f.Widgets)
		}
	}
	hashsvctest.Validate(t, validator, root, "B-B", filepath.Join(out, names[0]))
}

// TestFieldFlagErrors: the field flags are checked before anything is
// signed, with exit status 2.
func TestFieldFlagErrors(t *testing.T) {
	pki := testPKIDir(t)
	dir := t.TempDir()
	in := writeFile(t, dir, "in.pdf", samplePDF(t))
	key := []string{"sign", "-key", filepath.Join(pki, devpki.SignerRSAKeyFile), "-cert", filepath.Join(pki, devpki.SignerRSACertFile), "-chain", filepath.Join(pki, devpki.IntermediateCertFile)}
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"-rect", "1,2,3"}, 2, "-rect: rectangle \"1,2,3\": 3 numbers instead of 4"},
		{[]string{"-rect", "10,10,0,5"}, 2, "the width and height must be positive"},
		{[]string{"-rect", "1,1,5,5", "-tag", "#s#"}, 2, "give -rect or -tag, not both"},
		{[]string{"-tag-size", "10,10"}, 2, "-tag-size goes with -tag"},
		{[]string{"-certify", "4"}, 2, "-certify 4: use 1 (no changes)"},
		{[]string{"-page", "0", "-rect", "1,1,50,20"}, 2, "-page 0: pages are numbered from 1"},
		{[]string{"-signer", "-1"}, 2, "-signer -1: signers are numbered from 1"},
		{[]string{"-lock", "some:A"}, 2, "-lock: lock \"some:A\": want all, include:A,B or exclude:A,B"},
		{[]string{"-image", filepath.Join(dir, "absent.png")}, 1, "reading -image"},
		{[]string{"-image", writeFile(t, t.TempDir(), "seal.gif", []byte("GIF89a"))}, 2, "the appearance image: the image is neither PNG nor JPEG"},
		{[]string{"-field", "Nope"}, 1, `no such empty signature field: no field is named "Nope"; the document has no empty signature field`},
		{[]string{"-page", "1", "-rect", "500,700,200,200"}, 1, "is off page 1"},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			out := filepath.Join(dir, "out.pdf")
			code, _, stderr := runCLI(append(append(append([]string{}, key...), c.args...), in, out)...)
			if code != c.code || !strings.Contains(stderr, c.want) {
				t.Errorf("exit %d (want %d), stderr %q, want %q", code, c.code, stderr, c.want)
			}
			noOutput(t, dir, in)
		})
	}
}

// TestVisiblePKCS11 signs with a key on a SoftHSM2 token through the built
// pades, at B-LTA with the PKI and TSA of hashsvc -dev: it certifies a
// form (DocMDP /P 3) in a new visible field with an image, then two more
// signatures fill the form's fields, and check-signed-pdf passes all three
// at B-LTA.
func TestVisiblePKCS11(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs pades")
	}
	const module = testenv.SoftHSMModule
	util, conf := testenv.SoftHSM(t, "apt-get install softhsm2")
	c := startDevCLI(t)
	validator, bin, dev, root, pki := c.validator, c.bin, c.dev, c.root, c.pki
	dir := t.TempDir()
	env := append(os.Environ(), "SOFTHSM2_CONF="+conf)
	run := func(name string, args ...string) string {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run(util, "--init-token", "--free", "--label", "hashsign", "--pin", "1234", "--so-pin", "5678")
	run(util, "--import", filepath.Join(pki, devpki.SignerP256KeyFile), "--token", "hashsign", "--label", "signer", "--id", "01", "--pin", "1234")
	uri := "pkcs11:token=hashsign;object=signer?module-path=" + module + "&pin-value=1234"
	form := approverForm(t, dir)
	token := []string{"sign", "-pkcs11", uri, "-cert", filepath.Join(pki, devpki.SignerP256CertFile), "-chain", filepath.Join(pki, devpki.IntermediateCertFile),
		"-level", "B-LTA", "-tsa", dev.URL + "/tsa", "-trust", root}
	run(bin, append(token, "-certify", "3", "-page", "2", "-rect", "400,300,300,80", "-image", sealJPEG(t, dir), "-name", "Token Holder", form, filepath.Join(dir, "c.pdf"))...)
	run(bin, append(token, "-field", "Approver1", filepath.Join(dir, "c.pdf"), filepath.Join(dir, "c1.pdf"))...)
	run(bin, append(token, "-field", "Approver2", filepath.Join(dir, "c1.pdf"), filepath.Join(dir, "c2.pdf"))...)
	rep := inspectJSON(t, bin, filepath.Join(dir, "c2.pdf"))
	if rep.DocMDP != 3 {
		t.Errorf("DocMDP /P %d, want 3", rep.DocMDP)
	}
	if f := reportField(t, rep, "Signature1"); !f.Visible || f.Widgets[0].Page != 2 || f.Widgets[0].Rect != [4]float64{400, 300, 300, 80} {
		t.Errorf("the certification's field: %+v", f)
	}
	hashsvctest.Validate(t, validator, root, "B-LTA", filepath.Join(dir, "c2.pdf"))
}

// groffContract makes the PDF of testdata/tags/contract.ms with groff.
func groffContract(t *testing.T, dir string) string {
	t.Helper()
	testenv.Need(t, "gropdf", "")
	src, err := os.ReadFile(filepath.Join("..", "..", "testdata", "tags", "contract.ms"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "contract.ms", src)
	out := filepath.Join(dir, "contract.pdf")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command(testenv.Need(t, "groff", ""), "-ms", "-Tpdf", "contract.ms")
	var stderr bytes.Buffer
	cmd.Dir, cmd.Stdout, cmd.Stderr = dir, f, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("groff: %v\n%s", err, stderr.Bytes())
	}
	return out
}
