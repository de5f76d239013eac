package verify_test

import (
	"bytes"
	"crypto/x509"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"hashsign/pades/internal/sigfield"
	"hashsign/pades/verify"
)

// TestCMSRevocationData: a signature that carries its revocation data in
// the CMS (Adobe's revocation archival attribute: a CRL and an OCSP
// response) is checked with that data, at its time, when its own root is
// the anchor: the corpus's Quartz file, signed on 2008-06-13. Its
// chain is signed with SHA-1, which crypto/x509 refuses: the path is not
// trusted, and the report says why.
func TestCMSRevocationData(t *testing.T) {
	dir := corpusDir(t)
	data, err := os.ReadFile(filepath.Join(dir, "quartz_certified_docmdp.pdf"))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := sigfield.Open(bytes.NewReader(data), int64(len(data)), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	fields, _ := doc.Fields()
	var anchors []*x509.Certificate
	for _, f := range fields {
		if s := doc.ReadSignature(f, nil); s.SignedData != nil {
			for _, c := range s.SignedData.Certificates {
				if bytes.Equal(c.RawIssuer, c.RawSubject) {
					anchors = append(anchors, c)
				}
			}
		}
	}
	if len(anchors) == 0 {
		t.Fatal("no self-signed certificate in the CMS")
	}
	at := time.Date(2008, 6, 13, 14, 10, 0, 0, time.UTC)
	rep := check(t, data, &verify.Options{Anchors: anchors, At: at})
	sig := rep.Signatures[0]
	// crypto/x509 refuses the SHA-1 signatures of its certificates, so the
	// path is not trusted; the revocation of the path's certificates is
	// still checked
	fromCMS := slices.ContainsFunc(sig.Revocation.Checks, func(c verify.RevocationCheck) bool {
		return c.Source == "cms" && c.Kind == "crl" && c.Status == verify.StatusGood
	})
	if !fromCMS {
		t.Errorf("no certificate of the path is found good by the CMS's CRL: %+v", sig.Revocation)
	}
	if !strings.Contains(sig.CertificatePath.Detail, "SHA1") {
		t.Errorf("the path's detail does not name SHA-1: %s", sig.CertificatePath.Detail)
	}
}
