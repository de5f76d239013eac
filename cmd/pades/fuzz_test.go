package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"testing"

	"hashsign/cms"
	"hashsign/csc"
	"hashsign/hashsvc/hashsvctest"
	"hashsign/pades"
)

// memFile is a pades.File in memory.
type memFile struct{ b []byte }

func (m *memFile) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(len(m.b)) {
		return 0, io.EOF
	}
	n := copy(p, m.b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (m *memFile) WriteAt(p []byte, off int64) (int, error) {
	if end := off + int64(len(p)); end > int64(len(m.b)) {
		m.b = append(m.b, make([]byte, end-int64(len(m.b)))...)
	}
	return copy(m.b[off:], p), nil
}

func (m *memFile) Truncate(size int64) error {
	if size > int64(len(m.b)) {
		return errors.New("memFile: cannot grow by Truncate")
	}
	m.b = m.b[:size]
	return nil
}

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
		m := &memFile{b: bytes.Clone(base)}
		found, err := pades.FindPlaceholder(ctx, m, int64(len(m.b)), sd.DigestAlgorithm)
		if err != nil {
			return
		}
		if err := pades.Embed(m, found, der); err != nil {
			return
		}
		// outside the placeholder, the bytes are the prepared ones
		hole := found.ContentsOffset
		if !bytes.Equal(m.b[:hole], base[:hole]) || !bytes.Equal(m.b[hole+int64(2*found.ContentsSize):], base[hole+int64(2*found.ContentsSize):]) {
			t.Fatal("Embed wrote outside the placeholder")
		}
		if dss != nil {
			pades.AddDSS(ctx, m, found.Size, dss.WithVRI(found.VRIKey(der)), nil)
		}
	})
}
