package cms

import (
	"bytes"
	"context"
	"crypto"
	"testing"

	"hashsign/signer"
)

// toIndefinite re-encodes every constructed element of DER with the BER
// indefinite length form, as NSS writes CMS, and splits OCTET STRINGs of
// more than 8 bytes into a constructed string of segments.
func toIndefinite(t *testing.T, der []byte) []byte {
	t.Helper()
	var out []byte
	for len(der) > 0 {
		tag, hdr, l, err := derHeader(der)
		if err != nil {
			t.Fatal(err)
		}
		content := der[hdr : hdr+l]
		switch {
		case tag&0x20 != 0:
			out = append(out, tag, 0x80)
			out = append(out, toIndefinite(t, content)...)
			out = append(out, 0, 0)
		case tag == 0x04 && len(content) > 8:
			out = append(out, 0x24, 0x80)
			for i := 0; i < len(content); i += 8 {
				out = appendTLV(out, []byte{0x04}, content[i:min(i+8, len(content))])
			}
			out = append(out, 0, 0)
		default:
			out = append(out, der[:hdr+l]...)
		}
		der = der[hdr+l:]
	}
	return out
}

func TestParseBER(t *testing.T) {
	key := testKeys()["p256"]
	pki := newPKI(t, key)
	s, err := signer.New(key, pki.chain())
	if err != nil {
		t.Fatal(err)
	}
	digest := digestOf(crypto.SHA256, testContent(t))
	der, err := Sign(context.Background(), s, digest, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ber := toIndefinite(t, der)
	if bytes.Equal(ber, der) {
		t.Fatal("the BER form equals the DER form")
	}
	back, err := ToDER(ber)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(back, der) {
		t.Fatal("ToDER did not give back the DER encoding")
	}
	for name, in := range map[string][]byte{"BER": ber, "BER with padding": append(append([]byte{}, ber...), make([]byte, 100)...)} {
		sd, err := Parse(in)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := sd.Verify(digest); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	if _, err := Parse(append(append([]byte{}, ber...), 1, 2, 3)); err == nil {
		t.Error("BER followed by data that is not padding was accepted")
	}
	for _, bad := range [][]byte{{0x30, 0x80, 0x02, 0x01, 0x01}, {0x30, 0x85, 1, 1, 1, 1, 1}, {0x04, 0x80, 0, 0}, {0x24, 0x80, 0x02, 0x01, 0x00, 0, 0}} {
		if _, err := ToDER(bad); err == nil {
			t.Errorf("ToDER(% x) gave no error", bad)
		}
	}
}
