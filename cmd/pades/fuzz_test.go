package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"hashsign/cms"
	"hashsign/csc"
	"hashsign/hashsvc/hashsvctest"
	"hashsign/pades"
)

// FuzzEmbedInput feeds pades embed hostile signature files (DER, base64,
// PEM, or the JSON answer of hashsvc's /v1/cades/sign, with validation
// data) and runs what embed does with them on a prepared document: parse
// the CMS, find the placeholder, embed, add the DSS. Never a panic; what
// is embedded keeps the prepared bytes outside the placeholder.
func FuzzEmbedInput(f *testing.F) {
	s := hashsvctest.NewServer(f, hashsvctest.Options{TSA: true})
	var prepared bytes.Buffer
	src := samplePDF(f)
	p, err := pades.Prepare(context.Background(), bytes.NewReader(src), int64(len(src)), &prepared, nil)
	if err != nil {
		f.Fatal(err)
	}
	body, _ := json.Marshal(csc.CAdESSignRequest{CredentialID: hashsvctest.CredP256, Digest: base64.StdEncoding.EncodeToString(p.Digest), Timestamp: true})
	req, _ := http.NewRequest(http.MethodPost, s.URL+csc.PathCAdESSign, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+s.Keys[hashsvctest.KeyAll])
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.Fatal(err)
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		f.Fatalf("cades/sign: %d %s", resp.StatusCode, answer)
	}
	f.Add(answer)
	var r csc.CAdESSignResponse
	if err := json.Unmarshal(answer, &r); err != nil {
		f.Fatal(err)
	}
	der, _ := base64.StdEncoding.DecodeString(r.CMS)
	f.Add(der)
	f.Add([]byte(r.CMS + "\n"))
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "CMS", Bytes: der}))
	// the answer with validation data, as serve -dev gives it (the test
	// PKI's certificates name no responder to ask)
	for _, c := range s.PKI.Chain(s.PKI.SignerP256) {
		r.Certificates = append(r.Certificates, base64.StdEncoding.EncodeToString(c.Raw))
	}
	r.OCSPs, r.CRLs = []string{"MAMKAQY="}, []string{"MAA="}
	withVD, _ := json.Marshal(r)
	f.Add(withVD)
	f.Add([]byte(`{"cms":"MAA=","certificates":["!"],"ocsps":[""],"crls":["MAA="]}`))
	base := prepared.Bytes()
	out, err := os.Create(filepath.Join(f.TempDir(), "embedded.pdf"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { out.Close() })
	f.Fuzz(func(t *testing.T, b []byte) {
		der, dss, err := parseCMS("sig", b)
		if err != nil {
			return
		}
		sd, err := cms.Parse(der)
		if err != nil {
			return
		}
		ctx := context.Background()
		if err := out.Truncate(0); err != nil {
			t.Fatal(err)
		}
		if _, err := out.WriteAt(base, 0); err != nil {
			t.Fatal(err)
		}
		found, err := pades.FindPlaceholder(ctx, out, int64(len(base)), sd.DigestAlgorithm)
		if err != nil {
			return
		}
		if err := pades.Embed(out, found, der); err != nil {
			return
		}
		// outside the placeholder, the bytes are the prepared ones
		got := make([]byte, len(base))
		if _, err := out.ReadAt(got, 0); err != nil {
			t.Fatal(err)
		}
		hole, end := found.ContentsOffset, found.ContentsOffset+int64(2*found.ContentsSize)
		if !bytes.Equal(got[:hole], base[:hole]) || !bytes.Equal(got[end:], base[end:]) {
			t.Fatal("Embed wrote outside the placeholder")
		}
		if dss != nil {
			pades.AddDSS(ctx, out, found.Size, dss.WithVRI(found.VRIKey(der)), nil)
		}
	})
}
