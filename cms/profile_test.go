package cms

import (
	"context"
	"crypto"
	"crypto/rand"
	"encoding/asn1"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// TestCheckPAdES builds signatures that are intact but break one rule of
// the PAdES profile each: VerifyIntegrity must accept them all, CheckPAdES
// must name the broken rule.
func TestCheckPAdES(t *testing.T) {
	pki := newPKI(t, testKeys()["p256"])
	digest := digestOf(crypto.SHA256, []byte("profile"))
	alg, err := newAlgorithm(pki.leaf.PublicKey, Options{})
	if err != nil {
		t.Fatal(err)
	}
	attr := func(oid asn1.ObjectIdentifier, value []byte) []byte {
		a, err := encodeAttribute(oid, value)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	ours, err := SignedAttributes(digest, crypto.SHA256, pki.leaf)
	if err != nil {
		t.Fatal(err)
	}
	// The attributes of ours, one by one, so that rows can drop or add.
	var set cryptobyte.String
	in := cryptobyte.String(ours)
	if !in.ReadASN1(&set, cbasn1.SET) {
		t.Fatal("SignedAttributes is not a SET")
	}
	elems, err := elements(set)
	if err != nil || len(elems) != 3 {
		t.Fatalf("SignedAttributes has %d attributes (%v)", len(elems), err)
	}
	contentType, messageDigest, ess := elems[0], elems[1], elems[2]
	var tb cryptobyte.Builder
	tb.AddASN1UTCTime(time.Now())
	signingTime := attr(oidAttrSigningTime, tb.BytesOrPanic())
	essValue, err := encodeSigningCertificateV2(crypto.SHA256, pki.leaf)
	if err != nil {
		t.Fatal(err)
	}
	interESS, err := encodeSigningCertificateV2(crypto.SHA256, pki.inter)
	if err != nil {
		t.Fatal(err)
	}

	for _, tt := range []struct {
		name  string
		attrs [][]byte
		edit  func(*SignedData)
		want  string
	}{
		{"ours", [][]byte{contentType, messageDigest, ess}, nil, ""},
		{"signing-time", [][]byte{contentType, messageDigest, ess, signingTime}, nil,
			"cms: signing-time attribute present"},
		{"no ESS", [][]byte{contentType, messageDigest}, nil,
			"cms: no ESS signing-certificate-v2 or signing-certificate attribute"},
		{"two ESS attributes", [][]byte{contentType, messageDigest, ess, attr(oidAttrSigningCertificateV2, essValue)}, nil,
			"cms: found 2 signing-certificate-v2 attributes, want 1"},
		{"ESS of the intermediate", [][]byte{contentType, messageDigest, attr(oidAttrSigningCertificateV2, interESS)}, nil,
			"cms: signing-certificate-v2 hash does not match the signer certificate"},
		{"no content-type", [][]byte{messageDigest, ess}, nil,
			"cms: found 0 content-type attributes, want 1"},
		{"content-type TSTInfo", [][]byte{attr(oidAttrContentType, encodeOID(oidTSTInfo)), messageDigest, ess}, nil,
			"cms: the content-type attribute does not name the encapsulated content type 1.2.840.113549.1.7.1"},
		{"signer certificate left out", [][]byte{contentType, messageDigest, ess},
			func(sd *SignedData) { sd.Certificates, sd.Signer = sd.Certificates[1:], nil },
			"cms: signer certificate is not included in the SignedData"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			attrs, err := encodeSetOf(cbasn1.SET, tt.attrs)
			if err != nil {
				t.Fatal(err)
			}
			sig, err := pki.leafKey.Sign(rand.Reader, digestOf(crypto.SHA256, attrs), crypto.SHA256)
			if err != nil {
				t.Fatal(err)
			}
			der, err := build(pki.chain(), attrs, sig, alg)
			if err != nil {
				t.Fatal(err)
			}
			sd, err := Parse(der)
			if err != nil {
				t.Fatal(err)
			}
			if tt.edit != nil {
				tt.edit(sd)
			} else if err := sd.VerifyIntegrity(digest); err != nil {
				t.Errorf("VerifyIntegrity: %v", err)
			}
			err = sd.CheckPAdES()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("CheckPAdES: %v", err)
			case tt.want != "" && (err == nil || !strings.HasPrefix(err.Error(), tt.want)):
				t.Errorf("CheckPAdES: %v, want %q", err, tt.want)
			}
			if (sd.Verify(digest) == nil) != (tt.want == "" && tt.edit == nil) {
				t.Errorf("Verify disagrees with VerifyIntegrity and CheckPAdES")
			}
		})
	}

	// Ours still passes the whole flow through Sign.
	der, err := Sign(context.Background(), pki.signer(), digest, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if sd, err := Parse(der); err != nil || sd.Verify(digest) != nil {
		t.Errorf("Sign's output does not verify: %v", err)
	}
}
