package hashsvc_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"hashsign/cms"
	"hashsign/csc"
	"hashsign/hashsvc"
	"hashsign/hashsvc/hashsvctest"
	"hashsign/internal/devpki"
	"hashsign/pades"
	"hashsign/testdata/pdfgen"
)

// send sends a request with the API key key (when not empty), the headers
// of header and body, and returns the answer's status, headers and body.
func send(method, url, key string, header http.Header, body io.Reader) (int, http.Header, []byte, error) {
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		return 0, nil, nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, data, err
}

// call POSTs body as JSON with the API key and decodes a JSON answer.
func call(t *testing.T, url, key string, body any) (int, http.Header, map[string]any) {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	code, h, data, err := send(http.MethodPost, url, key, http.Header{"Content-Type": {"application/json"}}, rd)
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("%s: answer %d is not JSON: %q", url, code, data)
	}
	return code, h, v
}

// wantAudit fails the test unless the audit log at path verifies and
// holds want records.
func wantAudit(t *testing.T, path string, want int64) {
	t.Helper()
	if n := auditCount(t, path); n != want {
		t.Errorf("audit records = %d, want %d", n, want)
	}
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func sha(s string) []byte {
	sum := sha256.Sum256([]byte(s))
	return sum[:]
}

// auditCount returns the number of records in the audit log, verifying it.
func auditCount(t *testing.T, path string) int64 {
	t.Helper()
	sum, err := hashsvc.VerifyAudit(context.Background(), path, "")
	if err != nil {
		t.Fatalf("VerifyAudit: %v", err)
	}
	return sum.Records
}

func TestAuthentication(t *testing.T) {
	s := hashsvctest.NewServer(t, hashsvctest.Options{})
	sign := s.URL + csc.PathSignHash
	req := csc.SignHashRequest{CredentialID: hashsvctest.CredP256, Hashes: []string{b64(sha("a"))}, SignAlgo: csc.OIDECDSAWithSHA256}

	t.Run("missing key", func(t *testing.T) {
		code, h, body := call(t, sign, "", req)
		if code != http.StatusUnauthorized || body["error"] != csc.ErrUnauthorized {
			t.Errorf("got %d %v, want 401 unauthorized", code, body)
		}
		if !strings.HasPrefix(h.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("WWW-Authenticate = %q", h.Get("WWW-Authenticate"))
		}
	})
	t.Run("wrong key", func(t *testing.T) {
		code, _, body := call(t, sign, s.Keys[hashsvctest.KeyAll]+"x", req)
		if code != http.StatusUnauthorized || body["error"] != csc.ErrInvalidToken {
			t.Errorf("got %d %v, want 401 invalid_token", code, body)
		}
		code, _, _ = call(t, s.URL+csc.PathCredentialsList, "hsk_notakey", struct{}{})
		if code != http.StatusUnauthorized {
			t.Errorf("credentials/list with a wrong key: %d, want 401", code)
		}
	})
	t.Run("credential not allowed", func(t *testing.T) {
		r := req
		r.CredentialID = hashsvctest.CredRSA
		r.SignAlgo = csc.OIDRSAEncryption
		r.HashAlgorithmOID = csc.OIDSHA256
		code, _, body := call(t, sign, s.Keys[hashsvctest.KeyP256], r)
		if code != http.StatusForbidden || body["error"] != csc.ErrAccessDenied {
			t.Errorf("got %d %v, want 403 access_denied", code, body)
		}
		code, _, _ = call(t, s.URL+csc.PathCredentialsInfo, s.Keys[hashsvctest.KeyP256], csc.CredentialsInfoRequest{CredentialID: hashsvctest.CredRSA})
		if code != http.StatusForbidden {
			t.Errorf("credentials/info of a credential not allowed: %d, want 403", code)
		}
		code, _, _ = call(t, s.URL+csc.PathCAdESSign, s.Keys[hashsvctest.KeyP256], csc.CAdESSignRequest{CredentialID: hashsvctest.CredRSA, Digest: b64(sha("d"))})
		if code != http.StatusForbidden {
			t.Errorf("cades/sign with a credential not allowed: %d, want 403", code)
		}
	})
	t.Run("unknown credential", func(t *testing.T) {
		r := req
		r.CredentialID = "nope"
		code, _, body := call(t, sign, s.Keys[hashsvctest.KeyAll], r)
		if code != http.StatusNotFound || body["error"] != csc.ErrNotFound {
			t.Errorf("got %d %v, want 404", code, body)
		}
	})
	t.Run("list shows only allowed credentials", func(t *testing.T) {
		code, _, body := call(t, s.URL+csc.PathCredentialsList, s.Keys[hashsvctest.KeyP256], struct{}{})
		if code != http.StatusOK || fmt.Sprint(body["credentialIDs"]) != "[p256]" {
			t.Errorf("got %d %v, want [p256]", code, body)
		}
	})
	if n := auditCount(t, s.AuditPath); n != 0 {
		t.Errorf("refused requests left %d audit records; nothing may be signed", n)
	}
	// the allowed key signs
	code, _, body := call(t, sign, s.Keys[hashsvctest.KeyP256], req)
	if code != http.StatusOK {
		t.Fatalf("allowed request: %d %v", code, body)
	}
	if n := auditCount(t, s.AuditPath); n != 1 {
		t.Errorf("audit records = %d, want 1", n)
	}
}

func TestSignHashValidation(t *testing.T) {
	s := hashsvctest.NewServer(t, hashsvctest.Options{Edit: func(c *hashsvc.Config) {
		c.Limits.MaxBatch = 8
		c.Limits.MaxBodyBytes = 4096
	}})
	key := s.Keys[hashsvctest.KeyAll]
	good := b64(sha("x"))
	pssParams, _ := csc.MarshalPSSParams(crypto.SHA256, 32)
	pss384, _ := csc.MarshalPSSParams(crypto.SHA384, 48)
	sum384 := sha512.Sum384([]byte("x"))
	tests := []struct {
		name string
		req  any
		code int
	}{
		{"hash too short", csc.SignHashRequest{CredentialID: "p256", Hashes: []string{b64(sha("x")[:31])}, SignAlgo: csc.OIDECDSAWithSHA256}, 400},
		{"hash too long", csc.SignHashRequest{CredentialID: "p256", Hashes: []string{good, b64(append(sha("x"), 0))}, SignAlgo: csc.OIDECDSAWithSHA256}, 400},
		{"SHA-256 hash for SHA-384", csc.SignHashRequest{CredentialID: "p384", Hashes: []string{good}, SignAlgo: csc.OIDECDSAWithSHA384}, 400},
		{"a DigestInfo, not a hash", csc.SignHashRequest{CredentialID: "rsa", Hashes: []string{b64(append([]byte{0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20}, sha("x")...))}, SignAlgo: csc.OIDRSAEncryption, HashAlgorithmOID: csc.OIDSHA256}, 400},
		{"document bytes", csc.SignHashRequest{CredentialID: "p256", Hashes: []string{b64([]byte("%PDF-1.7\n1 0 obj << >> endobj"))}, SignAlgo: csc.OIDECDSAWithSHA256}, 400},
		{"all zeros", csc.SignHashRequest{CredentialID: "p256", Hashes: []string{b64(make([]byte, 32))}, SignAlgo: csc.OIDECDSAWithSHA256}, 400},
		{"not base64", csc.SignHashRequest{CredentialID: "p256", Hashes: []string{"!!!"}, SignAlgo: csc.OIDECDSAWithSHA256}, 400},
		{"no hashes", csc.SignHashRequest{CredentialID: "p256", SignAlgo: csc.OIDECDSAWithSHA256}, 400},
		{"too many hashes", csc.SignHashRequest{CredentialID: "p256", Hashes: repeat(good, 9), SignAlgo: csc.OIDECDSAWithSHA256}, 400},
		{"no signAlgo", csc.SignHashRequest{CredentialID: "p256", Hashes: []string{good}}, 400},
		{"unknown signAlgo", csc.SignHashRequest{CredentialID: "p256", Hashes: []string{good}, SignAlgo: "1.2.3.4"}, 400},
		{"RSA algorithm on an EC key", csc.SignHashRequest{CredentialID: "p256", Hashes: []string{good}, SignAlgo: csc.OIDRSAEncryption, HashAlgorithmOID: csc.OIDSHA256}, 400},
		{"EC algorithm on an RSA key", csc.SignHashRequest{CredentialID: "rsa", Hashes: []string{good}, SignAlgo: csc.OIDECDSAWithSHA256}, 400},
		{"rsaEncryption without hash OID", csc.SignHashRequest{CredentialID: "rsa", Hashes: []string{good}, SignAlgo: csc.OIDRSAEncryption}, 400},
		{"contradicting hash OID", csc.SignHashRequest{CredentialID: "p256", Hashes: []string{good}, SignAlgo: csc.OIDECDSAWithSHA256, HashAlgorithmOID: csc.OIDSHA384}, 400},
		{"SHA-1", csc.SignHashRequest{CredentialID: "rsa", Hashes: []string{b64(sha("x")[:20])}, SignAlgo: csc.OIDRSAEncryption, HashAlgorithmOID: "1.3.14.3.2.26"}, 400},
		{"PSS without params", csc.SignHashRequest{CredentialID: "rsa", Hashes: []string{good}, SignAlgo: csc.OIDRSASSAPSS, HashAlgorithmOID: csc.OIDSHA256}, 400},
		{"PSS params contradict hash", csc.SignHashRequest{CredentialID: "rsa", Hashes: []string{good}, SignAlgo: csc.OIDRSASSAPSS, HashAlgorithmOID: csc.OIDSHA256, SignAlgoParams: b64(pss384)}, 400},
		{"asynchronous", csc.SignHashRequest{CredentialID: "p256", Hashes: []string{good}, SignAlgo: csc.OIDECDSAWithSHA256, OperationMode: "A"}, 400},
		{"not JSON", "hashes=abc", 400},
		{"body too large", `{"credentialID":"p256","hashes":["` + strings.Repeat("A", 5000) + `"]}`, 413},
		{"ok ECDSA", csc.SignHashRequest{CredentialID: "p256", Hashes: []string{good}, SignAlgo: csc.OIDECDSAWithSHA256}, 200},
		{"ok ecPublicKey", csc.SignHashRequest{CredentialID: "p384", Hashes: []string{b64(sum384[:])}, SignAlgo: csc.OIDECPublicKey, HashAlgorithmOID: csc.OIDSHA384}, 200},
		{"ok PSS", csc.SignHashRequest{CredentialID: "rsa", Hashes: []string{good}, SignAlgo: csc.OIDRSASSAPSS, SignAlgoParams: b64(pssParams)}, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, body := call(t, s.URL+csc.PathSignHash, key, tt.req)
			if code != tt.code {
				t.Errorf("got %d %v, want %d", code, body, tt.code)
			}
			if code != 200 && (body["error"] == nil || body["error_description"] == nil) {
				t.Errorf("error body %v lacks error or error_description", body)
			}
		})
	}
	if n := auditCount(t, s.AuditPath); n != 3 {
		t.Errorf("audit records = %d, want 3 (one per accepted hash)", n)
	}
	resp, err := http.Get(s.URL + csc.PathSignHash)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET signHash: %d, want 405", resp.StatusCode)
	}
}

func TestSignHashBatchVerifies(t *testing.T) {
	s := hashsvctest.NewServer(t, hashsvctest.Options{})
	key := s.Keys[hashsvctest.KeyAll]
	p := s.PKI
	pssParams, _ := csc.MarshalPSSParams(crypto.SHA512, 64)
	cases := []struct {
		cred, algo, hashOID string
		params              []byte
		h                   crypto.Hash
		pub                 crypto.PublicKey
	}{
		{"rsa", csc.OIDRSAEncryption, csc.OIDSHA256, nil, crypto.SHA256, p.SignerRSA.Cert.PublicKey},
		{"rsa", csc.OIDSHA384WithRSA, "", nil, crypto.SHA384, p.SignerRSA.Cert.PublicKey},
		{"rsa", csc.OIDRSASSAPSS, csc.OIDSHA512, pssParams, crypto.SHA512, p.SignerRSA.Cert.PublicKey},
		{"p256", csc.OIDECDSAWithSHA256, csc.OIDSHA256, nil, crypto.SHA256, p.SignerP256.Cert.PublicKey},
		{"p384", csc.OIDECDSAWithSHA384, "", nil, crypto.SHA384, p.SignerP384.Cert.PublicKey},
	}
	total := 0
	for _, c := range cases {
		digests := make([][]byte, 64)
		req := csc.SignHashRequest{CredentialID: c.cred, SignAlgo: c.algo, HashAlgorithmOID: c.hashOID}
		if c.params != nil {
			req.SignAlgoParams = b64(c.params)
		}
		for i := range digests {
			d := c.h.New()
			fmt.Fprintf(d, "doc %d", i)
			digests[i] = d.Sum(nil)
			req.Hashes = append(req.Hashes, b64(digests[i]))
		}
		code, _, body := call(t, s.URL+csc.PathSignHash, key, req)
		if code != 200 {
			t.Fatalf("%s %s: %d %v", c.cred, c.algo, code, body)
		}
		sigs := body["signatures"].([]any)
		if len(sigs) != len(digests) {
			t.Fatalf("%d signatures for %d hashes", len(sigs), len(digests))
		}
		for i, sv := range sigs {
			sig, _ := base64.StdEncoding.DecodeString(sv.(string))
			var err error
			switch pub := c.pub.(type) {
			case *rsa.PublicKey:
				if c.params != nil {
					err = rsa.VerifyPSS(pub, c.h, digests[i], sig, &rsa.PSSOptions{SaltLength: c.h.Size()})
				} else {
					err = rsa.VerifyPKCS1v15(pub, c.h, digests[i], sig)
				}
			case *ecdsa.PublicKey:
				if !ecdsa.VerifyASN1(pub, digests[i], sig) {
					err = errors.New("ECDSA signature does not verify")
				}
			}
			if err != nil {
				t.Fatalf("%s %s: signature %d (in order) does not verify: %v", c.cred, c.algo, i, err)
			}
		}
		total += len(digests)
	}
	if n := auditCount(t, s.AuditPath); n != int64(total) {
		t.Errorf("audit records = %d, want %d", n, total)
	}
}

func TestCredentialsInfo(t *testing.T) {
	s := hashsvctest.NewServer(t, hashsvctest.Options{})
	code, _, body := call(t, s.URL+csc.PathCredentialsInfo, s.Keys[hashsvctest.KeyAll],
		csc.CredentialsInfoRequest{CredentialID: "rsa", Certificates: "chain", CertInfo: true})
	if code != 200 {
		t.Fatalf("%d %v", code, body)
	}
	data, _ := json.Marshal(body)
	var ci csc.CredentialInfo
	json.Unmarshal(data, &ci)
	if ci.Key.Len != 2048 || ci.Key.Status != "enabled" || ci.AuthMode != "implicit" || ci.Multisign < 64 {
		t.Errorf("key %+v authMode %q multisign %d", ci.Key, ci.AuthMode, ci.Multisign)
	}
	if len(ci.Cert.Certificates) != 2 {
		t.Fatalf("%d certificates, want signer and intermediate", len(ci.Cert.Certificates))
	}
	der, _ := base64.StdEncoding.DecodeString(ci.Cert.Certificates[0])
	if c, err := x509.ParseCertificate(der); err != nil || !c.Equal(s.PKI.SignerRSA.Cert) {
		t.Errorf("first certificate is not the signer's: %v", err)
	}
	if ci.Cert.SubjectDN == "" || ci.Cert.ValidTo == "" || ci.Cert.SerialNumber == "" {
		t.Errorf("cert info missing: %+v", ci.Cert)
	}
	code, _, body = call(t, s.URL+csc.PathInfo, "", struct{}{})
	if code != 200 || body["specs"] != csc.Spec {
		t.Errorf("info: %d %v", code, body)
	}
}

// preparePDF prepares a small PDF into a file and returns it with its
// placeholder.
func preparePDF(t *testing.T, h crypto.Hash, size int) (string, *pades.Prepared) {
	t.Helper()
	src, err := pdfgen.Bytes(pdfgen.Table, pdfgen.Options{})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "prepared.pdf")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p, err := pades.Prepare(context.Background(), bytes.NewReader(src), int64(len(src)), f, &pades.PrepareOptions{Hash: h, ContentsSize: size})
	if err != nil {
		t.Fatal(err)
	}
	return path, p
}

func TestCAdESSign(t *testing.T) {
	validator := hashsvctest.Validator(t)
	s := hashsvctest.NewServer(t, hashsvctest.Options{TSA: true})
	root := filepath.Join(devpki.DefaultDir(), devpki.RootCertFile)
	key := s.Keys[hashsvctest.KeyAll]
	for _, tc := range []struct {
		cred      string
		h         crypto.Hash
		signAlgo  string
		timestamp bool
	}{
		{"rsa", crypto.SHA256, "", false},
		{"rsa", crypto.SHA256, csc.OIDRSASSAPSS, true},
		{"p256", crypto.SHA256, "", true},
		{"p384", crypto.SHA384, "", false},
	} {
		t.Run(fmt.Sprintf("%s-%v-%s-ts%v", tc.cred, tc.h, tc.signAlgo, tc.timestamp), func(t *testing.T) {
			path, p := preparePDF(t, tc.h, 16384)
			hashOID, _ := csc.HashOID(tc.h)
			code, _, body := call(t, s.URL+csc.PathCAdESSign, key, csc.CAdESSignRequest{
				CredentialID: tc.cred, Digest: b64(p.Digest), HashAlgorithmOID: hashOID, SignAlgo: tc.signAlgo, Timestamp: tc.timestamp,
			})
			if code != 200 {
				t.Fatalf("%d %v", code, body)
			}
			der, _ := base64.StdEncoding.DecodeString(body["cms"].(string))
			sd, err := cms.Parse(der)
			if err != nil {
				t.Fatal(err)
			}
			if err := sd.Verify(p.Digest); err != nil {
				t.Fatalf("CMS does not verify: %v", err)
			}
			if _, err := sd.VerifyChain(x509.VerifyOptions{Roots: s.PKI.RootPool()}); err != nil {
				t.Errorf("chain: %v", err)
			}
			for _, a := range sd.SignedAttributes {
				if a.Type.String() == "1.2.840.113549.1.9.5" {
					t.Error("signing-time attribute present")
				}
			}
			if len(sd.SignedAttributes) != 3 {
				t.Errorf("%d signed attributes, want 3", len(sd.SignedAttributes))
			}
			hasTS := false
			for _, a := range sd.UnsignedAttributes {
				hasTS = hasTS || a.Type.String() == "1.2.840.113549.1.9.16.2.14"
			}
			if hasTS != tc.timestamp || body["timestamped"] != tc.timestamp {
				t.Errorf("time-stamp present = %v, want %v", hasTS, tc.timestamp)
			}
			f, err := os.OpenFile(path, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if err := pades.Embed(f, p, der); err != nil {
				t.Fatal(err)
			}
			level := "B-B"
			if tc.timestamp {
				level = "B-T"
			}
			if tc.signAlgo == csc.OIDRSASSAPSS {
				hashsvctest.ValidatePSS(t, validator, root, level, path)
			} else {
				hashsvctest.Validate(t, validator, root, level, path)
			}
		})
	}
	// a digest of the wrong length, and a TSA that is not the configured one
	code, _, _ := call(t, s.URL+csc.PathCAdESSign, key, csc.CAdESSignRequest{CredentialID: "p256", Digest: b64(sha("d")[:20])})
	if code != 400 {
		t.Errorf("short digest: %d, want 400", code)
	}
	code, _, _ = call(t, s.URL+csc.PathCAdESSign, key, csc.CAdESSignRequest{CredentialID: "p256", Digest: b64(sha("d")), Timestamp: true, TSAURL: "http://127.0.0.1:1/tsa"})
	if code != 400 {
		t.Errorf("foreign tsaURL: %d, want 400", code)
	}
	if n := auditCount(t, s.AuditPath); n != 4 {
		t.Errorf("audit records = %d, want 4", n)
	}
}

func TestAuditFailureWithholdsSignatures(t *testing.T) {
	audit, err := hashsvc.OpenAudit(context.Background(), filepath.Join(t.TempDir(), "audit.db"))
	if err != nil {
		t.Fatal(err)
	}
	s := hashsvctest.NewServer(t, hashsvctest.Options{Audit: audit})
	audit.Close() // the log can no longer be written
	code, _, body := call(t, s.URL+csc.PathSignHash, s.Keys[hashsvctest.KeyAll],
		csc.SignHashRequest{CredentialID: "p256", Hashes: []string{b64(sha("x"))}, SignAlgo: csc.OIDECDSAWithSHA256})
	if code != http.StatusInternalServerError || body["signatures"] != nil {
		t.Errorf("got %d %v, want 500 without signatures", code, body)
	}
	resp, err := http.Get(s.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("readyz with a closed audit log: %d, want 503", resp.StatusCode)
	}
}

func TestAuditTamperDetected(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name, sql string
		edit      func(t *testing.T, db *sql.DB) // instead of sql
		seq       int64                          // the record reported, 0 for the head
		reason    string                         // what the error says of it
	}{
		{name: "edit hash", sql: `UPDATE audit SET hash = '00' || substr(hash, 3) WHERE seq = 3`, seq: 3, reason: "contents do not match"},
		{name: "edit key id", sql: `UPDATE audit SET key_id = 'someone-else' WHERE seq = 2`, seq: 2, reason: "contents do not match"},
		// the record's own hash is right again: only the next record's
		// link to it tells
		{name: "edit key id and its record hash", edit: rehash(3, func(r *hashsvc.Record) { r.KeyID = "someone-else" }), seq: 4, reason: "does not link to the previous record"},
		{name: "edit the last record and its record hash", edit: rehash(5, func(r *hashsvc.Record) { r.Hash = sha("forged") }), seq: 0, reason: "stored head does not match the last record"},
		{name: "delete middle", sql: `DELETE FROM audit WHERE seq = 3`, seq: 4, reason: "record 3 before it is missing"},
		{name: "delete first", sql: `DELETE FROM audit WHERE seq = 1`, seq: 2, reason: "record 1 before it is missing"},
		{name: "delete last", sql: `DELETE FROM audit WHERE seq = 5`, seq: 0, reason: "the stored head says 5 records, the chain has 4"},
		{name: "delete last and fix count", sql: `DELETE FROM audit WHERE seq = 5; UPDATE audit_head SET count = 4`, seq: 0, reason: "stored head does not match the last record"},
		{name: "reorder", sql: `UPDATE audit SET seq = 99 WHERE seq = 2; UPDATE audit SET seq = 2 WHERE seq = 4; UPDATE audit SET seq = 4 WHERE seq = 99`, seq: 2, reason: "does not link to the previous record"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "audit.db")
			a, err := hashsvc.OpenAudit(ctx, path)
			if err != nil {
				t.Fatal(err)
			}
			for i := range 5 {
				err := a.Append(ctx, []hashsvc.Record{{
					Time: time.Now(), KeyID: "k", Credential: "c", Operation: "signHash",
					HashAlgorithm: csc.OIDSHA256, SignAlgorithm: csc.OIDECDSAWithSHA256, Hash: sha(fmt.Sprint(i)), RequestID: fmt.Sprint(i),
				}})
				if err != nil {
					t.Fatal(err)
				}
			}
			a.Close()
			sum, err := hashsvc.VerifyAudit(ctx, path, "")
			if err != nil || sum.Records != 5 {
				t.Fatalf("untouched log: %v, %d records", err, sum.Records)
			}
			db, err := sql.Open("sqlite", path)
			if err != nil {
				t.Fatal(err)
			}
			if tc.edit != nil {
				tc.edit(t, db)
			} else if _, err := db.Exec(tc.sql); err != nil {
				t.Fatal(err)
			}
			db.Close()
			_, err = hashsvc.VerifyAudit(ctx, path, "")
			var ae *hashsvc.AuditError
			if !errors.As(err, &ae) {
				t.Fatalf("tampering not detected: %v", err)
			}
			if ae.Seq != tc.seq || !strings.Contains(ae.Reason, tc.reason) {
				t.Errorf("reported record %d: %q; want record %d: %q", ae.Seq, ae.Reason, tc.seq, tc.reason)
			}
		})
	}
	// an expected head that is gone
	path := filepath.Join(t.TempDir(), "audit.db")
	a, err := hashsvc.OpenAudit(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	a.Append(ctx, []hashsvc.Record{{Time: time.Now(), Hash: sha("1")}, {Time: time.Now(), Hash: sha("2")}})
	a.Close()
	sum, err := hashsvc.VerifyAudit(ctx, path, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := hashsvc.VerifyAudit(ctx, path, sum.Head); err != nil {
		t.Errorf("expected head present: %v", err)
	}
	if _, err := hashsvc.VerifyAudit(ctx, path, strings.Repeat("ab", 32)); err == nil {
		t.Error("an unknown expected head was accepted")
	}
}

// rehash returns an edit of the audit database that changes record seq
// with change and stores the record hash of its new contents, as someone
// who knows the hash's definition would.
func rehash(seq int64, change func(*hashsvc.Record)) func(t *testing.T, db *sql.DB) {
	return func(t *testing.T, db *sql.DB) {
		t.Helper()
		r := hashsvc.Record{Seq: seq}
		var tm, hashHex, prevHex string
		err := db.QueryRow(`SELECT time, key_id, credential, operation, hash_alg, sign_alg, hash, request_id, prev_hash
			FROM audit WHERE seq = ?`, seq).Scan(&tm, &r.KeyID, &r.Credential, &r.Operation, &r.HashAlgorithm,
			&r.SignAlgorithm, &hashHex, &r.RequestID, &prevHex)
		if err != nil {
			t.Fatal(err)
		}
		if r.Time, err = time.Parse(time.RFC3339Nano, tm); err != nil {
			t.Fatal(err)
		}
		r.Hash, _ = hex.DecodeString(hashHex)
		r.PrevHash, _ = hex.DecodeString(prevHex)
		change(&r)
		_, err = db.Exec(`UPDATE audit SET key_id = ?, hash = ?, record_hash = ? WHERE seq = ?`,
			r.KeyID, hex.EncodeToString(r.Hash), hex.EncodeToString(hashsvc.RecordHash(&r)), seq)
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestOperationsEndpoints(t *testing.T) {
	s := hashsvctest.NewServer(t, hashsvctest.Options{})
	call(t, s.URL+csc.PathSignHash, s.Keys[hashsvctest.KeyAll],
		csc.SignHashRequest{CredentialID: "p256", Hashes: []string{b64(sha("x"))}, SignAlgo: csc.OIDECDSAWithSHA256})
	call(t, s.URL+csc.PathSignHash, "bad", struct{}{})
	get := func(path string) (int, string) {
		resp, err := http.Get(s.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Errorf("healthz: %d", code)
	}
	if code, _ := get("/readyz"); code != 200 {
		t.Errorf("readyz: %d", code)
	}
	code, m := get("/metrics")
	for _, want := range []string{
		`hashsvc_requests_total{route="/csc/v2/signatures/signHash",code="200"} 1`,
		`hashsvc_requests_total{route="/csc/v2/signatures/signHash",code="401"} 1`,
		`hashsvc_signatures_total{credential="p256",operation="signHash"} 1`,
		`hashsvc_errors_total{route="/csc/v2/signatures/signHash",error="invalid_token"} 1`,
		`hashsvc_request_duration_seconds_count{route="/csc/v2/signatures/signHash"} 2`,
		`# TYPE hashsvc_request_duration_seconds histogram`,
	} {
		if code != 200 || !strings.Contains(m, want) {
			t.Errorf("metrics lack %q:\n%s", want, m)
		}
	}
	code, doc := get("/openapi.yaml")
	file, err := os.ReadFile("openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if code != 200 || doc != string(file) {
		t.Error("/openapi.yaml is not the repository's openapi.yaml")
	}
	for _, p := range []string{csc.PathInfo, csc.PathCredentialsList, csc.PathCredentialsInfo, csc.PathSignHash, csc.PathCAdESSign, csc.PathCredentialsAuthorize, csc.PathCredentialsSendOTP, "/healthz", "/readyz", "/metrics", "/openapi.yaml"} {
		if !strings.Contains(doc, "\n  "+p+":\n") {
			t.Errorf("openapi.yaml does not describe %s", p)
		}
	}
	if code, body := get("/nope"); code != 404 || !strings.Contains(body, `"error"`) {
		t.Errorf("unknown path: %d %s", code, body)
	}
}

func TestGracefulShutdownFinishesRequests(t *testing.T) {
	s := hashsvctest.NewServer(t, hashsvctest.Options{})
	// Serve the same service on a listener of our own, to shut it down.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Service.Serve(ctx, ln) }()
	url := "http://" + ln.Addr().String()

	body, _ := json.Marshal(csc.SignHashRequest{CredentialID: "rsa", Hashes: []string{b64(sha("slow"))}, SignAlgo: csc.OIDRSAEncryption, HashAlgorithmOID: csc.OIDSHA256})
	req := hashsvctest.StartSlow(t, url, csc.PathSignHash, s.Keys[hashsvctest.KeyAll], body)
	cancel()                                   // what SIGTERM does in hashsvc serve
	hashsvctest.WaitClosed(ln.Addr().String()) // the shutdown has begun
	select {
	case err := <-served:
		t.Fatalf("Serve returned before the request in flight finished: %v", err)
	default:
	}
	r := req.Finish()
	if r.Err != nil || r.Code != 200 || !bytes.Contains(r.Body, []byte("signatures")) {
		t.Fatalf("request in flight: %d %s %v", r.Code, r.Body, r.Err)
	}
	if err := <-served; err != nil {
		t.Fatalf("Serve: %v", err)
	}
}

func TestLogsHoldNoSecrets(t *testing.T) {
	var logs hashsvctest.SyncBuffer
	s := hashsvctest.NewServer(t, hashsvctest.Options{Logger: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	key := s.Keys[hashsvctest.KeyAll]
	wrong := key[:len(key)-4] + "AAAA"
	call(t, s.URL+csc.PathSignHash, key, csc.SignHashRequest{CredentialID: "p256", Hashes: []string{b64(sha("x"))}, SignAlgo: csc.OIDECDSAWithSHA256})
	call(t, s.URL+csc.PathSignHash, wrong, csc.SignHashRequest{CredentialID: "p256", Hashes: []string{b64(sha("x"))}, SignAlgo: csc.OIDECDSAWithSHA256})
	call(t, s.URL+csc.PathCredentialsList, key, "{not json")
	out := logs.String()
	for _, secret := range []string{key, wrong, key[len(hashsvc.APIKeyPrefix):], "Bearer"} {
		if strings.Contains(out, secret) {
			t.Errorf("the logs contain %q:\n%s", secret, out)
		}
	}
	if !strings.Contains(out, `"key_id":"all"`) || !strings.Contains(out, `"error":"invalid_token"`) {
		t.Errorf("the logs lack the key id or the error:\n%s", out)
	}
}

func TestExampleConfig(t *testing.T) {
	c, err := hashsvc.LoadConfig("config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.APIKeys) == 0 || len(c.Credentials) == 0 || c.TLS == nil || c.TLS.ClientCA == "" {
		t.Errorf("example config incomplete: %+v", c)
	}
}

func TestAPIKey(t *testing.T) {
	k, sum, err := hashsvc.NewAPIKey()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(k, hashsvc.APIKeyPrefix) || len(k) < 40 || hashsvc.HashAPIKey(k) != sum {
		t.Errorf("key %q hash %q", k, sum)
	}
	k2, _, _ := hashsvc.NewAPIKey()
	if k == k2 {
		t.Error("two keys are equal")
	}
}

func repeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

// addrListener is a listener on 127.0.0.1 that reports another address.
type addrListener struct {
	net.Listener
	addr net.Addr
}

func (l addrListener) Addr() net.Addr { return l.addr }
