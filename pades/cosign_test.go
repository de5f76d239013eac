package pades_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"hashsign/internal/devpki"
	"hashsign/internal/testenv"
	"hashsign/pades"
	"hashsign/signer"
)

// TestCosignBLTA has three signers sign one document in turn at B-LTA,
// each signing the output of the one before: the first certifies it (DocMDP
// /P 2) in a new visible field, the others sign into its empty fields.
// After each step check-signed-pdf judges every signature made so far at
// B-LTA, their DSS and document timestamps included.
func TestCosignBLTA(t *testing.T) {
	shared := sharedDir(t)
	env := startDevTrust(t)
	dir := t.TempDir()
	doc := approvalForm(t, false)
	steps := []struct {
		who  string
		id   signer.Signer
		opts pades.SignOptions
	}{
		{"author", newSignerOf(t, env, env.pki.SignerRSA), pades.SignOptions{Certify: pades.CertifyFormFilling, FieldName: "Author", Rect: &pades.Rect{X: 72, Y: 600, W: 220, H: 60}}},
		{"approver 1", newSignerOf(t, env, env.pki.SignerP256), pades.SignOptions{FieldName: "Approver1"}},
		{"approver 2", newSignerOf(t, env, env.pki.SignerP384), pades.SignOptions{FieldName: "Approver2", Info: pades.SignatureInfo{Reason: "second approval"}}},
	}
	for i, st := range steps {
		opts := env.options(pades.LevelBLTA)
		st.opts.Level, st.opts.TSA, st.opts.Validation = opts.Level, opts.TSA, opts.Validation
		path, res := signBytes(t, doc, st.id, &st.opts, dir, fmt.Sprintf("step%d.pdf", i+1))
		if res.Level != pades.LevelBLTA {
			t.Fatalf("%s: level %v", st.who, res.Level)
		}
		checkSignedLeavingEmpty(t, shared, env.root, path, "B-LTA", "", i+1, 2-i)
		var err error
		if doc, err = os.ReadFile(path); err != nil {
			t.Fatal(err)
		}
	}
	rep := inspectFile(t, filepath.Join(dir, "step3.pdf"), "")
	if rep.DocMDP != 2 {
		t.Errorf("DocMDP /P %d after the co-signatures, want 2", rep.DocMDP)
	}
	sigs := 0
	for _, f := range rep.Fields {
		if f.Intact == nil || !*f.Intact {
			t.Errorf("%s: %s", f.Field, describeIntegrity(f))
		}
		if f.Type == "Sig" {
			sigs++
		}
	}
	if sigs != 3 {
		t.Errorf("%d signatures, want 3", sigs)
	}
}

// newSignerOf returns a signer of id, an identity of env's PKI.
func newSignerOf(t *testing.T, env *devEnv, id *devpki.Identity) signer.Signer {
	t.Helper()
	s, err := signer.New(id.Key, env.pki.Chain(id))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestCorpusEmptyFields signs every corpus file that has empty signature
// fields into each of them in turn, a different signer for each field, at
// B-B and at B-LTA; after each step check-signed-pdf judges every
// signature made so far.
func TestCorpusEmptyFields(t *testing.T) {
	if testing.Short() {
		t.Skip("corpus test skipped in -short mode")
	}
	shared := sharedDir(t)
	corpus := filepath.Join(shared, "corpus")
	env := startDevTrust(t)
	signers := []signer.Signer{
		newSignerOf(t, env, env.pki.SignerRSA), newSignerOf(t, env, env.pki.SignerP256), newSignerOf(t, env, env.pki.SignerP384),
	}
	files, fields := 0, 0
	for _, cf := range readManifest(t, corpus) {
		if cf.EmptyFields == 0 {
			continue
		}
		files++
		for _, level := range []pades.Level{pades.LevelBB, pades.LevelBLTA} {
			t.Run(cf.Name+"/"+level.String(), func(t *testing.T) {
				path := filepath.Join(corpus, cf.Name)
				var empty []string
				for _, f := range inspectFile(t, path, cf.Password).Fields {
					if !f.Signed {
						empty = append(empty, f.Field)
					}
				}
				if len(empty) != cf.EmptyFields {
					t.Fatalf("inspect lists %d empty signature fields %q, the manifest %d", len(empty), empty, cf.EmptyFields)
				}
				doc, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				dir := t.TempDir()
				prev := path
				for i, name := range empty {
					opts := env.options(level)
					opts.FieldName, opts.Password = name, []byte(cf.Password)
					out, res := signBytes(t, doc, signers[i%len(signers)], opts, dir, fmt.Sprintf("step%d.pdf", i+1))
					if res.Field != name {
						t.Fatalf("signed field %q, want %q", res.Field, name)
					}
					checkSignedLeavingEmpty(t, shared, env.root, out, level.String(), cf.Password, i+1, len(empty)-i-1)
					if bytes.Contains(doc, []byte("pdfaid:part")) {
						// PDF/A: the appearance embeds its fonts
						if before, after := unembeddedFonts(t, prev), unembeddedFonts(t, out); after != before {
							t.Errorf("PDF/A: the signature adds fonts that are not embedded: %d before, %d after", before, after)
						}
					}
					if doc, err = os.ReadFile(out); err != nil {
						t.Fatal(err)
					}
					prev = out
					if level == pades.LevelBB {
						fields++
					}
				}
			})
		}
	}
	t.Logf("%d corpus files, %d empty signature fields signed in turn at B-B and at B-LTA", files, fields)
	if files == 0 {
		t.Fatal("the manifest lists no file with empty signature fields")
	}
}

// checkSignedLeavingEmpty runs check-signed-pdf on a file that still has
// empty signature fields, which pdfsig counts as signatures that are not
// valid: it passes when its only failure is pdfsig's, for exactly those
// fields, and pdfsig itself says that each of them is not signed and every
// other signature is valid.
func checkSignedLeavingEmpty(t *testing.T, shared, root, path, level, password string, newest, empty int) {
	t.Helper()
	ok, report := checkSignedPDFRoot(t, shared, root, path, level, password, newest)
	if ok && empty == 0 {
		return
	}
	var fails []string
	for _, l := range strings.Split(report, "\n") {
		if strings.HasPrefix(l, "FAIL") {
			fails = append(fails, l)
		}
	}
	m := pdfsigLine.FindStringSubmatch(strings.Join(fails, "\n"))
	valid, all := 0, 0
	if m != nil {
		valid, _ = strconv.Atoi(m[1])
		all, _ = strconv.Atoi(m[2])
	}
	if len(fails) != 1 || m == nil || all-valid != empty {
		t.Fatalf("check-signed-pdf --newest %d with %d empty fields left:\n%s", newest, empty, report)
	}
	args := []string{"-nocert"}
	if password != "" {
		args = append(args, "-upw", password)
	}
	out, _ := exec.Command(testenv.Need(t, "pdfsig", ""), append(args, path)...).CombinedOutput()
	if n := strings.Count(string(out), "The signature form field is not signed."); n != empty {
		t.Fatalf("pdfsig finds %d unsigned fields, want %d:\n%s", n, empty, out)
	}
	if n := strings.Count(string(out), "Signature is Valid."); n != valid {
		t.Fatalf("pdfsig finds %d valid signatures, check-signed-pdf %d:\n%s", n, valid, out)
	}
}

// unembeddedFonts counts the fonts that pdffonts lists as not embedded.
func unembeddedFonts(t *testing.T, path string) int {
	t.Helper()
	out, err := exec.Command(testenv.Need(t, "pdffonts", ""), path).CombinedOutput()
	if err != nil {
		t.Fatalf("pdffonts: %v\n%s", err, out)
	}
	n := 0
	for _, line := range strings.Split(string(out), "\n")[2:] {
		// name type [type2] encoding emb sub uni object ID
		if f := strings.Fields(line); len(f) >= 7 && f[len(f)-5] == "no" {
			n++
		}
	}
	return n
}
