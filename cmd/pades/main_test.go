package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"software.sslmate.com/src/go-pkcs12"

	"hashsign/cms"
	"hashsign/internal/devpki"
	"hashsign/internal/testenv"
	"hashsign/signer"
	"hashsign/testdata/pdfgen"
)

var (
	pkiOnce sync.Once
	pkiDir  string
	pkiErr  error
)

// testPKIDir returns a directory holding the test PKI as PEM files.
func testPKIDir(t *testing.T) string {
	t.Helper()
	pkiOnce.Do(func() {
		pkiDir = devpki.DefaultDir()
		_, pkiErr = devpki.LoadOrGenerate(pkiDir, devpki.Options{})
	})
	if pkiErr != nil {
		t.Fatal(pkiErr)
	}
	return pkiDir
}

// runCLI runs the command in-process and returns its exit code and output.
func runCLI(args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func samplePDF(t testing.TB) []byte {
	t.Helper()
	b, err := pdfgen.Bytes(pdfgen.Table, pdfgen.Options{Pages: 2})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// noOutput checks that dir holds no file but the inputs.
func noOutput(t *testing.T, dir string, inputs ...string) {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		keep := false
		for _, in := range inputs {
			if filepath.Base(in) == e.Name() {
				keep = true
			}
		}
		if !keep {
			t.Errorf("left a file behind: %s", e.Name())
		}
	}
}

func TestSignErrors(t *testing.T) {
	pki := testPKIDir(t)
	key, cert := filepath.Join(pki, devpki.SignerRSAKeyFile), filepath.Join(pki, devpki.SignerRSACertFile)
	ecKey := filepath.Join(pki, "signer-p256.key")
	good := samplePDF(t)

	encrypted := func(t *testing.T, dir string) string {
		qpdf := testenv.Need(t, "qpdf", "apt-get install qpdf")
		plain := writeFile(t, t.TempDir(), "plain.pdf", good)
		out := filepath.Join(dir, "in.pdf")
		if b, err := exec.Command(qpdf, "--encrypt", "secret", "owner", "256", "--", plain, out).CombinedOutput(); err != nil {
			t.Fatalf("qpdf --encrypt: %v\n%s", err, b)
		}
		return out
	}
	cases := []struct {
		name  string
		input func(t *testing.T, dir string) string
		args  []string // extra flags
		code  int
		want  string
	}{
		{"not a PDF", func(t *testing.T, dir string) string {
			return writeFile(t, dir, "in.pdf", []byte("GIF89a this is an image, not a document\n"))
		}, nil, 1, "not a PDF file"},
		{"empty file", func(t *testing.T, dir string) string {
			return writeFile(t, dir, "in.pdf", nil)
		}, nil, 1, "not a PDF file"},
		{"truncated PDF", func(t *testing.T, dir string) string {
			return writeFile(t, dir, "in.pdf", good[:len(good)*2/3])
		}, nil, 1, "truncated or incomplete PDF"},
		{"truncated inside its startxref offset", func(t *testing.T, dir string) string {
			i := bytes.LastIndex(good, []byte("startxref"))
			return writeFile(t, dir, "in.pdf", good[:i+len("startxref\n")+1])
		}, nil, 1, "truncated or incomplete PDF"},
		{"encrypted without password", encrypted, nil, 1, "encrypted PDF: a password is needed (give it with -password-file, -password or $PADES_PDF_PASSWORD)"},
		{"encrypted with wrong password", encrypted, []string{"-password", "guess"}, 1, "encrypted PDF: wrong password"},
		{"key does not match certificate", func(t *testing.T, dir string) string {
			return writeFile(t, dir, "in.pdf", good)
		}, []string{"-key", ecKey}, 1, "private key does not match the signer certificate"},
		{"missing input", func(t *testing.T, dir string) string {
			return filepath.Join(dir, "absent.pdf")
		}, nil, 1, "no such file"},
		{"bad hash", func(t *testing.T, dir string) string {
			return writeFile(t, dir, "in.pdf", good)
		}, []string{"-hash", "md5"}, 2, "use sha256, sha384 or sha512"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			in := c.input(t, dir)
			out := filepath.Join(dir, "out.pdf")
			args := []string{"sign", "-key", key, "-cert", cert, "-chain", filepath.Join(pki, devpki.IntermediateCertFile)}
			args = append(args, c.args...)
			args = append(args, in, out)
			code, _, stderr := runCLI(args...)
			if code != c.code {
				t.Errorf("exit code %d, want %d (stderr %q)", code, c.code, stderr)
			}
			if !strings.Contains(stderr, c.want) {
				t.Errorf("stderr %q does not say %q", stderr, c.want)
			}
			if n := strings.Count(strings.TrimSpace(stderr), "\n"); n != 0 {
				t.Errorf("error is not one line: %q", stderr)
			}
			noOutput(t, dir, in)
		})
	}
}

func TestSignEncryptedWithPassword(t *testing.T) {
	qpdf := testenv.Need(t, "qpdf", "apt-get install qpdf")
	pki := testPKIDir(t)
	dir := t.TempDir()
	plain := writeFile(t, dir, "plain.pdf", samplePDF(t))
	for _, c := range []struct{ name, bits, aes string }{{"rc4-40", "40", ""}, {"rc4-128", "128", "n"}, {"aes-128", "128", "y"}, {"aes-256", "256", ""}} {
		t.Run(c.name, func(t *testing.T) {
			in := filepath.Join(dir, c.name+".pdf")
			args := []string{"--allow-weak-crypto", "--encrypt", "user pw", "owner", c.bits}
			if c.aes != "" {
				args = append(args, "--use-aes="+c.aes)
			}
			args = append(args, "--", plain, in)
			if b, err := exec.Command(qpdf, args...).CombinedOutput(); err != nil {
				t.Fatalf("qpdf: %v\n%s", err, b)
			}
			out := filepath.Join(dir, c.name+"-signed.pdf")
			code, _, stderr := runCLI("sign", "-key", filepath.Join(pki, devpki.SignerRSAKeyFile), "-cert", filepath.Join(pki, devpki.SignerRSACertFile), "-chain", filepath.Join(pki, devpki.IntermediateCertFile),
				"-password", "user pw", "-reason", "encrypted test", in, out)
			if code != 0 {
				t.Fatalf("sign: %s", stderr)
			}
			if b, err := exec.Command(qpdf, "--password=user pw", "--check", out).CombinedOutput(); err != nil {
				t.Fatalf("qpdf --check: %v\n%s", err, b)
			}
			// the new strings are encrypted: the reason does not appear in
			// clear, and qpdf decrypts it with the file's key
			b, _ := os.ReadFile(out)
			if bytes.Contains(b, []byte("encrypted test")) {
				t.Error("the /Reason was written unencrypted into an encrypted file")
			}
			dec := filepath.Join(dir, c.name+"-decrypted.pdf")
			if b, err := exec.Command(qpdf, "--password=user pw", "--decrypt", "--qdf", "--object-streams=disable", out, dec).CombinedOutput(); err != nil {
				t.Fatalf("qpdf --decrypt: %v\n%s", err, b)
			}
			if b, _ := os.ReadFile(dec); !bytes.Contains(b, []byte("/Reason (encrypted test)")) {
				t.Error(`the /Reason does not decrypt to "encrypted test" with the file's key`)
			}
			validated(t, out, "B-B", "--password", "user pw")
		})
	}
}

// TestPrepareEmbed runs the two-phase flow through the CLI: prepare, sign
// the digest elsewhere, embed.
func TestPrepareEmbed(t *testing.T) {
	pki := testPKIDir(t)
	dir := t.TempDir()
	in := writeFile(t, dir, "in.pdf", samplePDF(t))
	prepared := filepath.Join(dir, "prepared.pdf")
	code, stdout, stderr := runCLI("prepare", "-cert", filepath.Join(pki, devpki.SignerRSACertFile), "-chain", filepath.Join(pki, devpki.IntermediateCertFile), "-chain", filepath.Join(pki, devpki.IntermediateCertFile), in, prepared)
	if code != 0 {
		t.Fatalf("prepare: %s", stderr)
	}
	var res preparedJSON
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("prepare output: %v\n%s", err, stdout)
	}
	digest, err := hex.DecodeString(res.Digest)
	if err != nil || len(digest) != 32 {
		t.Fatalf("digest %q", res.Digest)
	}
	s, err := signer.LoadKeyFile(filepath.Join(pki, devpki.SignerRSAKeyFile), filepath.Join(pki, devpki.SignerRSACertFile), filepath.Join(pki, devpki.IntermediateCertFile))
	if err != nil {
		t.Fatal(err)
	}
	// a CMS over another digest is refused, and leaves no output
	other := append([]byte(nil), digest...)
	other[0] ^= 1
	bad, err := cms.Sign(context.Background(), s, other, cms.Options{})
	if err != nil {
		t.Fatal(err)
	}
	badPath := writeFile(t, dir, "bad.p7s", bad)
	out := filepath.Join(dir, "out.pdf")
	if code, _, stderr := runCLI("embed", prepared, badPath, out); code == 0 || !strings.Contains(stderr, "message-digest does not match") {
		t.Fatalf("embed of a foreign CMS: exit %d, %q", code, stderr)
	}
	if _, err := os.Stat(out); err == nil {
		t.Fatal("embed of a foreign CMS left an output file")
	}
	der, err := cms.Sign(context.Background(), s, digest, cms.Options{})
	if err != nil {
		t.Fatal(err)
	}
	sig := writeFile(t, dir, "sig.p7s", der)
	if code, _, stderr := runCLI("embed", prepared, sig, out); code != 0 {
		t.Fatalf("embed: %s", stderr)
	}
	code, stdout, stderr = runCLI("inspect", out)
	if code != 0 || !strings.Contains(stdout, "ETSI.CAdES.detached, covers whole file, intact") {
		t.Fatalf("inspect: exit %d\n%s%s", code, stdout, stderr)
	}
}

// TestLevelFailuresLeaveNoOutput: when the TSA or the revocation servers
// cannot be reached the level is not reached, the command says which
// server failed, and no output is written.
func TestLevelFailuresLeaveNoOutput(t *testing.T) {
	pki := testPKIDir(t)
	// a port with nothing listening: bind one, then close it
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := "http://" + l.Addr().String() + "/tsa"
	l.Close()
	dir := t.TempDir()
	in := writeFile(t, dir, "in.pdf", samplePDF(t))
	for _, level := range []string{"B-T", "B-LT", "B-LTA"} {
		out := filepath.Join(dir, "out-"+level+".pdf")
		code, _, stderr := runCLI("sign", "-key", filepath.Join(pki, devpki.SignerRSAKeyFile), "-cert", filepath.Join(pki, devpki.SignerRSACertFile), "-chain", filepath.Join(pki, devpki.IntermediateCertFile),
			"-level", level, "-tsa", down, "-timeout", "5s", in, out)
		if code != 1 || !strings.Contains(stderr, down) {
			t.Errorf("%s with the TSA down: exit %d, stderr %q (want the TSA's URL named)", level, code, stderr)
		}
	}
	if code, _, stderr := runCLI("sign", "-key", filepath.Join(pki, devpki.SignerRSAKeyFile), "-cert", filepath.Join(pki, devpki.SignerRSACertFile), "-chain", filepath.Join(pki, devpki.IntermediateCertFile),
		"-level", "B-T", in, filepath.Join(dir, "x.pdf")); code != 2 || !strings.Contains(stderr, "needs -tsa") {
		t.Errorf("B-T without -tsa: exit %d, %q", code, stderr)
	}
	noOutput(t, dir, in)
}

// TestHelpAndVersion: extend -h offers only the levels extend takes, -field
// says that it picks an existing empty field too, and version prints the
// module versions.
func TestHelpAndVersion(t *testing.T) {
	code, stdout, _ := runCLI("extend", "-h")
	if code != 0 || !strings.Contains(stdout, "PAdES level: B-LT or B-LTA") || strings.Contains(stdout, "B-B") {
		t.Errorf("extend -h: exit %d\n%s", code, stdout)
	}
	code, stdout, _ = runCLI("sign", "-h")
	if code != 0 || !strings.Contains(stdout, "an existing empty signature field of that name") {
		t.Errorf("sign -h does not say that -field picks an existing empty field: exit %d\n%s", code, stdout)
	}
	code, stdout, _ = runCLI("version")
	if code != 0 || !strings.HasPrefix(stdout, "pades ") || !strings.Contains(stdout, "golang.org/x/crypto v") {
		t.Errorf("version: exit %d\n%s", code, stdout)
	}
}

// TestP12WithoutPassword: a protected PKCS#12 file without a password
// says that a password is needed and how to give it.
func TestP12WithoutPassword(t *testing.T) {
	pki, err := devpki.LoadOrGenerate(testPKIDir(t), devpki.Options{})
	if err != nil {
		t.Fatal(err)
	}
	der, err := pkcs12.Modern.Encode(pki.SignerRSA.Key, pki.SignerRSA.Cert, []*x509.Certificate{pki.Intermediate.Cert}, "secret")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	p12 := writeFile(t, dir, "signer.p12", der)
	in := writeFile(t, dir, "in.pdf", samplePDF(t))
	t.Setenv("PADES_P12_PASSWORD", "")
	code, _, stderr := runCLI("sign", "-p12", p12, in, filepath.Join(dir, "out.pdf"))
	if code != 1 || !strings.Contains(stderr, "protected by a password: give it with -p12-pass-file") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
	if code, _, stderr := runCLI("sign", "-p12", p12, "-p12-pass", "secret", in, filepath.Join(dir, "out.pdf")); code != 0 {
		t.Errorf("with the password: exit %d, %q", code, stderr)
	}
}

// TestOutputMode: outputs get the mode os.Create gives (0666 less the
// umask), or the input's with -keep-mode.
func TestOutputMode(t *testing.T) {
	pki := testPKIDir(t)
	dir := t.TempDir()
	in := writeFile(t, dir, "in.pdf", samplePDF(t))
	if err := os.Chmod(in, 0o640); err != nil {
		t.Fatal(err)
	}
	// the mode os.Create gives under this process's umask
	want := os.FileMode(0)
	if ref, err := os.Create(filepath.Join(dir, "reference")); err == nil {
		st, _ := ref.Stat()
		want = st.Mode().Perm()
		ref.Close()
	}
	for _, c := range []struct {
		args []string
		want os.FileMode
	}{{nil, want}, {[]string{"-keep-mode"}, 0o640}} {
		out := filepath.Join(dir, fmt.Sprintf("out%d.pdf", len(c.args)))
		args := append([]string{"sign", "-key", filepath.Join(pki, devpki.SignerRSAKeyFile), "-cert", filepath.Join(pki, devpki.SignerRSACertFile), "-chain", filepath.Join(pki, devpki.IntermediateCertFile)}, c.args...)
		if code, _, stderr := runCLI(append(args, in, out)...); code != 0 {
			t.Fatalf("sign %v: %s", c.args, stderr)
		}
		st, err := os.Stat(out)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != c.want {
			t.Errorf("sign %v: output mode %v, want %v", c.args, st.Mode().Perm(), c.want)
		}
	}
}

// TestMissingIntermediate: -key and -cert without -chain, for a
// certificate that names no caIssuers URL, fail naming the missing issuer
// and the flags that give it, and write nothing.
func TestMissingIntermediate(t *testing.T) {
	pki := testPKIDir(t)
	dir := t.TempDir()
	in := writeFile(t, dir, "in.pdf", samplePDF(t))
	code, _, stderr := runCLI("sign", "-key", filepath.Join(pki, devpki.SignerRSAKeyFile), "-cert", filepath.Join(pki, devpki.SignerRSACertFile), in, filepath.Join(dir, "out.pdf"))
	if code != 1 || !strings.Contains(stderr, `issuer "CN=hashsign Test Intermediate CA`) || !strings.Contains(stderr, "give the issuer certificates with -chain or -certs") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
	noOutput(t, dir, in)
}

// TestFlagErrors: the flags of the remote signer, the password file and
// the pkcs11 command refuse what they cannot use with one line (usage
// errors exit 2, others 1), before any network or token is reached, and
// leave no output.
func TestFlagErrors(t *testing.T) {
	t.Setenv(APIKeyEnv, "")
	pki := testPKIDir(t)
	dir := t.TempDir()
	in := writeFile(t, dir, "in.pdf", samplePDF(t))
	out := filepath.Join(dir, "out.pdf")
	apiKey := writeFile(t, dir, "api-key", []byte("hsk_test\n"))
	notPEM := writeFile(t, dir, "not.pem", []byte("not a certificate\n"))
	remote := []string{"sign", "-remote", "http://127.0.0.1:1", "-credential", "c", "-api-key-file", apiKey}
	for _, c := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"remote without credential", []string{"sign", "-remote", "http://127.0.0.1:1", in, out}, 2, "-remote needs -credential"},
		{"remote without API key", []string{"sign", "-remote", "http://127.0.0.1:1", "-credential", "c", in, out}, 2, "-remote needs -api-key-file (or $HASHSVC_API_KEY)"},
		{"API key file missing", []string{"sign", "-remote", "http://127.0.0.1:1", "-credential", "c", "-api-key-file", filepath.Join(dir, "absent"), in, out}, 1, "reading -api-key-file"},
		{"API key file empty", []string{"sign", "-remote", "http://127.0.0.1:1", "-credential", "c", "-api-key-file", writeFile(t, dir, "empty", []byte(" \n")), in, out}, 1, "is empty"},
		{"remote CA missing", append(slices.Clone(remote), "-remote-ca", filepath.Join(dir, "absent.pem"), in, out), 1, "reading -remote-ca"},
		{"remote CA not PEM", append(slices.Clone(remote), "-remote-ca", notPEM, in, out), 1, "no PEM certificate"},
		{"client certificate without key", append(slices.Clone(remote), "-remote-client-cert", notPEM, in, out), 2, "-remote-client-cert and -remote-client-key go together"},
		{"client certificate unreadable", append(slices.Clone(remote), "-remote-client-cert", notPEM, "-remote-client-key", notPEM, in, out), 1, "loading the client certificate"},
		{"password file missing", []string{"sign", "-key", filepath.Join(pki, devpki.SignerRSAKeyFile), "-cert", filepath.Join(pki, devpki.SignerRSACertFile),
			"-password-file", filepath.Join(dir, "absent"), in, out}, 1, "reading -password-file"},
		{"pkcs11 without subcommand", []string{"pkcs11"}, 2, "missing subcommand"},
		{"pkcs11 unknown subcommand", []string{"pkcs11", "show"}, 2, `unknown subcommand "show" (want list)`},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(c.args...)
			if code != c.code || !strings.Contains(stderr, c.want) || stdout != "" {
				t.Errorf("pades %q: exit %d, stdout %q, stderr %q; want exit %d saying %q", c.args, code, stdout, stderr, c.code, c.want)
			}
			if c.args[0] == "sign" && strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
				t.Errorf("error is not one line: %q", stderr)
			}
			noOutput(t, dir, in, apiKey, notPEM, "empty")
		})
	}
	code, stdout, stderr := runCLI("pkcs11", "-h")
	if code != 0 || !strings.Contains(stdout, "pades pkcs11 list") || stderr != "" {
		t.Errorf("pkcs11 -h: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}
