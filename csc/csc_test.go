package csc

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"math/big"
	"reflect"
	"testing"
)

func TestPSSParamsRoundTrip(t *testing.T) {
	for _, h := range []crypto.Hash{crypto.SHA256, crypto.SHA384, crypto.SHA512} {
		der, err := MarshalPSSParams(h, h.Size())
		if err != nil {
			t.Fatal(err)
		}
		gh, salt, err := ParsePSSParams(der)
		if err != nil || gh != h || salt != h.Size() {
			t.Errorf("%v: got %v %d %v", h, gh, salt, err)
		}
	}
	// the RFC 4055 defaults (SHA-1) are refused
	empty, _ := asn1.Marshal(asn1.RawValue{Tag: asn1.TagSequence, IsCompound: true})
	if _, _, err := ParsePSSParams(empty); err == nil {
		t.Error("default (SHA-1) PSS parameters accepted")
	}
	if _, _, err := ParsePSSParams([]byte{0x30, 0x03, 0x01, 0x01, 0xff}); err == nil {
		t.Error("garbage accepted")
	}
}

// TestPSSParamsMatchX509 reads the RSASSA-PSS parameters crypto/x509
// writes into certificates (with NULL hash parameters).
func TestPSSParamsMatchX509(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: bigOne(), SignatureAlgorithm: x509.SHA256WithRSAPSS}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	var cert struct {
		TBS    asn1.RawValue
		SigAlg struct {
			Algorithm asn1.ObjectIdentifier
			Params    asn1.RawValue
		}
	}
	if _, err := asn1.Unmarshal(der, &cert); err != nil {
		t.Fatal(err)
	}
	h, salt, err := ParsePSSParams(cert.SigAlg.Params.FullBytes)
	if err != nil || h != crypto.SHA256 || salt != 32 {
		t.Fatalf("x509's parameters: %v %d %v", h, salt, err)
	}
}

func TestSignAlgo(t *testing.T) {
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	ek, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if oid, p, err := SignAlgo(&rk.PublicKey, crypto.SHA256); oid != OIDRSAEncryption || p != nil || err != nil {
		t.Errorf("RSA: %s %x %v", oid, p, err)
	}
	if oid, p, err := SignAlgo(&rk.PublicKey, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA512}); oid != OIDRSASSAPSS || p == nil || err != nil {
		t.Errorf("PSS: %s %x %v", oid, p, err)
	}
	if oid, _, err := SignAlgo(&ek.PublicKey, crypto.SHA384); oid != OIDECDSAWithSHA384 || err != nil {
		t.Errorf("ECDSA: %s %v", oid, err)
	}
	if _, _, err := SignAlgo(&ek.PublicKey, crypto.SHA1); err == nil {
		t.Error("SHA-1 accepted")
	}
}

func bigOne() *big.Int { return big.NewInt(1) }

func TestCAdESSignResponseDecode(t *testing.T) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	for _, tc := range []struct {
		name string
		resp CAdESSignResponse
		want *CAdESSignature // nil: an error
	}{
		{"signature only", CAdESSignResponse{CMS: b64("cms")}, &CAdESSignature{CMS: []byte("cms")}},
		{"with validation data", CAdESSignResponse{CMS: b64("cms"), Timestamped: true, Certificates: []string{b64("c1"), b64("c2")}, OCSPs: []string{b64("o")}, CRLs: []string{b64("r")}},
			&CAdESSignature{CMS: []byte("cms"), Timestamped: true, Certs: [][]byte{[]byte("c1"), []byte("c2")}, OCSPs: [][]byte{[]byte("o")}, CRLs: [][]byte{[]byte("r")}}},
		{"no cms", CAdESSignResponse{}, nil},
		{"cms not base64", CAdESSignResponse{CMS: "!!"}, nil},
		{"ocsp not base64", CAdESSignResponse{CMS: b64("cms"), OCSPs: []string{"!!"}}, nil},
		{"crl not base64", CAdESSignResponse{CMS: b64("cms"), CRLs: []string{b64("r"), "%"}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.resp.Decode()
			if tc.want == nil {
				if err == nil {
					t.Fatalf("decoded %+v, want an error", got)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}
