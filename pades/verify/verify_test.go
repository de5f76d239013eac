package verify_test

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"hashsign/internal/devpki"
	"hashsign/internal/testenv"
	"hashsign/pades"
	"hashsign/pades/internal/pdf"
	"hashsign/pades/verify"
)

// describeReport is a one-line account of a report for failure messages.
func describeReport(rep *verify.Report) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s/%s:", rep.Indication, rep.SubIndication)
	for _, s := range rep.Signatures {
		lvl := ""
		if s.Level != nil {
			lvl = s.Level.Reached + " (" + s.Level.Reason + ")"
		}
		fmt.Fprintf(&b, " [%d %s %s/%s level %s mods %s %q]", s.Number, s.Kind, s.Indication, s.SubIndication, lvl, s.Modifications.Verdict, s.Reasons)
	}
	return b.String()
}

// TestLevels: our outputs at every level pass with the test PKI as the
// anchor (B-B and B-T fetch their revocation data online from the dev
// trust services, B-LT and B-LTA need only their DSS), reach the level
// they were signed at, and give TOTAL-FAILED/HASH_FAILURE once a byte of
// the signed range is flipped.
func TestLevels(t *testing.T) {
	env := sharedEnv(t)
	root := env.pki.Root.Cert
	for _, level := range []pades.Level{pades.LevelBB, pades.LevelBT, pades.LevelBLT, pades.LevelBLTA} {
		t.Run(level.String(), func(t *testing.T) {
			signed := sign(t, testDoc(t), env.signer, signOptions(level, env, root))
			opts := &verify.Options{Anchors: []*x509.Certificate{root}, Online: level < pades.LevelBLT}
			rep := check(t, signed, opts)
			if rep.Indication != verify.TotalPassed {
				t.Fatalf("want TOTAL-PASSED, got %s", describeReport(rep))
			}
			sig := rep.Signatures[0]
			if sig.Level == nil || sig.Level.Reached != level.String() {
				t.Errorf("level: want %s, got %s", level, describeReport(rep))
			}
			if sig.CertificatePath.Status != verify.PathTrusted || sig.Integrity.Status != verify.Passed {
				t.Errorf("path %s, integrity %s", sig.CertificatePath.Status, sig.Integrity.Status)
			}
			if level >= pades.LevelBLT {
				for _, c := range sig.Revocation.Checks {
					if c.Source != "dss" {
						t.Errorf("revocation of %s from %q, want the DSS", c.Certificate, c.Source)
					}
				}
			}
			// one byte flipped inside the first part of the signed range
			flipped := bytes.Clone(signed)
			flipped[sig.ByteRange[1]/2] ^= 0x01
			rep = check(t, flipped, opts)
			if rep.Indication != verify.TotalFailed || rep.Signatures[0].SubIndication != verify.HashFailure {
				t.Errorf("flipped byte: want TOTAL-FAILED/HASH_FAILURE, got %s", describeReport(rep))
			}
		})
	}
}

// TestLongTerm: a B-LTA file made today still passes two years after its
// signer's certificate expired, with nothing but its DSS; the same
// signature at B-T (no DSS, no document timestamp), or the B-LTA file cut
// back to its signature's revision, does not.
func TestLongTerm(t *testing.T) {
	short := newTrustEnv(t, devpki.Options{Validity: 72 * time.Hour}) // the signer's PKI
	long := sharedEnv(t)                                              // the TSA's
	roots := []*x509.Certificate{short.pki.Root.Cert, long.pki.Root.Cert}
	signedLTA := sign(t, testDoc(t), short.signer, signOptions(pades.LevelBLTA, long, roots...))
	signedBT := sign(t, testDoc(t), short.signer, signOptions(pades.LevelBT, long, roots...))
	expiry := short.pki.SignerP256.Cert.NotAfter
	later := expiry.AddDate(2, 0, 0)
	opts := &verify.Options{Anchors: roots, At: later}

	rep := check(t, signedLTA, opts)
	if rep.Indication != verify.TotalPassed {
		t.Fatalf("B-LTA at %s: want TOTAL-PASSED, got %s", later, describeReport(rep))
	}
	if !rep.ValidationTime.Equal(later.UTC().Truncate(time.Second)) {
		t.Errorf("validation time %s, want %s", rep.ValidationTime, later)
	}
	sig := rep.Signatures[0]
	if !sig.Time.Proven || sig.CertificatePath.At.After(expiry) {
		t.Errorf("the signature's path was validated at %s, after the expiry %s", sig.CertificatePath.At, expiry)
	}

	rep = check(t, signedBT, opts)
	if rep.Indication == verify.TotalPassed {
		t.Errorf("B-T without DSS at %s: want not passed, got %s", later, describeReport(rep))
	}
	cut := signedLTA[:sig.ByteRange[2]+sig.ByteRange[3]]
	rep = check(t, cut, opts)
	if rep.Indication == verify.TotalPassed {
		t.Errorf("B-LTA cut to the signature's revision at %s: want not passed, got %s", later, describeReport(rep))
	}
	// and today, the same cut file passes only with online revocation data
	rep = check(t, cut, &verify.Options{Anchors: roots, Online: true})
	if rep.Indication != verify.TotalPassed {
		t.Errorf("cut file today, online: want TOTAL-PASSED, got %s", describeReport(rep))
	}
}

// TestDocTimeStampChain: each document timestamp of a chain is validated at
// the time the next proves. The first archive timestamp comes from a TSA
// whose certificate expires soon; a second one, from a long-lived TSA,
// keeps the file valid after that expiry, and without it the file does not
// pass.
func TestDocTimeStampChain(t *testing.T) {
	short := newTrustEnv(t, devpki.Options{Validity: 72 * time.Hour})
	long := sharedEnv(t)
	roots := []*x509.Certificate{short.pki.Root.Cert, long.pki.Root.Cert}
	once := sign(t, testDoc(t), short.signer, signOptions(pades.LevelBLTA, short, roots...))
	twice := extend(t, once, signOptions(pades.LevelBLTA, long, roots...))
	later := short.pki.TSA.Cert.NotAfter.AddDate(2, 0, 0)
	opts := &verify.Options{Anchors: roots, At: later}
	if rep := check(t, twice, opts); rep.Indication != verify.TotalPassed {
		t.Errorf("renewed B-LTA: want TOTAL-PASSED, got %s", describeReport(rep))
	}
	rep := check(t, once, opts)
	if rep.Indication == verify.TotalPassed {
		t.Errorf("B-LTA whose only archive timestamp expired: want not passed, got %s", describeReport(rep))
	}
}

// extend raises signed with pades.Extend.
func extend(t *testing.T, signed []byte, o *pades.SignOptions) []byte {
	t.Helper()
	f := writeTemp(t, signed)
	res, err := pades.Extend(t.Context(), f, int64(len(signed)), &pades.ExtendOptions{Level: o.Level, TSA: o.TSA, Validation: o.Validation})
	if err != nil {
		t.Fatal(err)
	}
	out := make([]byte, res.Size)
	if _, err := f.ReadAt(out, 0); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestModifications builds each kind of change after a signature with the
// update writer and checks the verdict.
func TestModifications(t *testing.T) {
	env := sharedEnv(t)
	root := env.pki.Root.Cert
	doc := testDoc(t)
	approval := sign(t, doc, env.signer, nil)
	p2 := certify(t, doc, env.signer, 2)
	p3 := certify(t, doc, env.signer, 3)
	fillForm := func(in []byte) []byte {
		return update(t, in, func(rd *pdf.Reader, u *pdf.Update) {
			f := dict(t, rd, 8)
			f.Set("V", pdf.TextString("filled in"))
			u.WriteObject(8, 0, f)
		})
	}
	addAnnot := func(in []byte) []byte {
		return update(t, in, func(rd *pdf.Reader, u *pdf.Update) {
			num := u.Alloc()
			a := pdf.NewDict()
			a.Set("Type", pdf.Name("Annot"))
			a.Set("Subtype", pdf.Name("Text"))
			a.Set("Rect", pdf.Array{pdf.Integer(10), pdf.Integer(10), pdf.Integer(30), pdf.Integer(30)})
			a.Set("Contents", pdf.TextString("a note"))
			u.WriteObject(num, 0, a)
			page := dict(t, rd, 5)
			page.Set("Annots", append(slices.Clone(page.Get("Annots").(pdf.Array)), pdf.Ref{Num: num}))
			u.WriteObject(5, 0, page)
		})
	}
	cases := []struct {
		name    string
		file    func() []byte
		verdict string
		kind    string // a kind of change that must be listed
	}{
		{"second signature", func() []byte { return sign(t, approval, env.signer, nil) }, verify.ModAllowed, verify.ChangeSignature},
		{"DSS and document timestamp", func() []byte {
			return extend(t, approval, signOptions(pades.LevelBLTA, env, root))
		}, verify.ModAllowed, verify.ChangeDocTimeStamp},
		{"form filling under P=2", func() []byte { return fillForm(p2) }, verify.ModAllowed, verify.ChangeFormFill},
		{"annotation under P=2", func() []byte { return addAnnot(p2) }, verify.ModDisallowed, verify.ChangeAnnotation},
		{"annotation under P=3", func() []byte { return addAnnot(p3) }, verify.ModAllowed, verify.ChangeAnnotation},
		{"page content changed", func() []byte {
			return update(t, approval, func(rd *pdf.Reader, u *pdf.Update) {
				d := pdf.NewDict()
				u.WriteStream(6, d, []byte("0 g /F1 24 Tf 72 742 Td (pay 1000 EUR) Tj"))
			})
		}, verify.ModDisallowed, verify.ChangePageContent},
		{"font replaced", func() []byte {
			return update(t, approval, func(rd *pdf.Reader, u *pdf.Update) {
				f := dict(t, rd, 4)
				f.Set("BaseFont", pdf.Name("Courier"))
				u.WriteObject(4, 0, f)
			})
		}, verify.ModDisallowed, verify.ChangePageResources},
		{"new page", func() []byte {
			return update(t, approval, func(rd *pdf.Reader, u *pdf.Update) {
				num := u.Alloc()
				p := dict(t, rd, 5)
				p.Delete("Annots")
				u.WriteObject(num, 0, p)
				pages := dict(t, rd, 2)
				pages.Set("Kids", pdf.Array{pdf.Ref{Num: 5}, pdf.Ref{Num: num}})
				pages.Set("Count", pdf.Integer(2))
				u.WriteObject(2, 0, pages)
			})
		}, verify.ModDisallowed, verify.ChangePages},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rep := check(t, c.file(), &verify.Options{Anchors: []*x509.Certificate{root}, Online: true})
			sig := rep.Signatures[0]
			m := sig.Modifications
			if m.Verdict != c.verdict {
				t.Errorf("verdict %s, want %s: %+v", m.Verdict, c.verdict, m.Changes)
			}
			if !slices.ContainsFunc(m.Changes, func(ch verify.JudgedChange) bool { return ch.Kind == c.kind }) {
				t.Errorf("no %s change listed: %+v", c.kind, m.Changes)
			}
			disallowed := c.verdict == verify.ModDisallowed
			if failed := sig.Indication == verify.TotalFailed; failed != disallowed {
				t.Errorf("indication %s/%s with verdict %s", sig.Indication, sig.SubIndication, m.Verdict)
			}
		})
	}
}

// TestSubFilters: adbe.x509.rsa_sha1 and unknown sub-filters are
// recognised and reported as not checked (INDETERMINATE), never a crash or
// a pass; adbe.pkcs7.detached signatures are checked but reach no PAdES
// level.
func TestSubFilters(t *testing.T) {
	env := sharedEnv(t)
	signed := sign(t, testDoc(t), env.signer, nil)
	opts := &verify.Options{Anchors: []*x509.Certificate{env.pki.Root.Cert}, Online: true}
	for _, c := range []struct {
		subFilter string
		sub       string
	}{
		{"/adbe.x509.rsa_sha1 ", verify.Generic},
		{"/x.unknown.filter   ", verify.Generic},
		{"/adbe.pkcs7.detached", verify.HashFailure},
	} {
		t.Run(strings.TrimSpace(c.subFilter), func(t *testing.T) {
			data := bytes.Replace(signed, []byte("/ETSI.CAdES.detached"), []byte(c.subFilter), 1)
			rep := check(t, data, opts)
			sig := rep.Signatures[0]
			if sig.SubIndication != c.sub || sig.Indication == verify.TotalPassed {
				t.Errorf("%s: got %s", c.subFilter, describeReport(rep))
			}
			if c.sub == verify.Generic && sig.Integrity.Status != verify.NotChecked {
				t.Errorf("%s: integrity %s, want not-checked", c.subFilter, sig.Integrity.Status)
			}
		})
	}
}

// TestEncrypted: a file encrypted with a user password (qpdf, AES-256)
// and then signed is verified with the password, and refused without.
func TestEncrypted(t *testing.T) {
	qpdf := testenv.Need(t, "qpdf", "")
	env := sharedEnv(t)
	dir := t.TempDir()
	plain := writeTemp(t, testDoc(t)).Name()
	enc := dir + "/enc.pdf"
	if out, err := exec.Command(qpdf, "--encrypt", "secret", "owner", "256", "--", plain, enc).CombinedOutput(); err != nil {
		t.Fatalf("qpdf: %v\n%s", err, out)
	}
	in, err := os.ReadFile(enc)
	if err != nil {
		t.Fatal(err)
	}
	signed := sign(t, in, env.signer, &pades.SignOptions{Password: []byte("secret")})
	rep := check(t, signed, &verify.Options{Anchors: []*x509.Certificate{env.pki.Root.Cert}, Online: true, Password: []byte("secret")})
	if rep.Indication != verify.TotalPassed || !rep.Encrypted {
		t.Errorf("with the password: %s", describeReport(rep))
	}
	_, err = verify.Document(t.Context(), bytes.NewReader(signed), int64(len(signed)), nil)
	if !errors.Is(err, verify.ErrPasswordNeeded) {
		t.Errorf("without the password: %v, want ErrPasswordNeeded", err)
	}
}
