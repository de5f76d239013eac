package certpath

import (
	"testing"

	"hashsign/internal/devpki"
)

func TestSelfSignedAndIssuedBy(t *testing.T) {
	p, err := devpki.Generate(devpki.Options{})
	if err != nil {
		t.Fatal(err)
	}
	other, err := devpki.Generate(devpki.Options{})
	if err != nil {
		t.Fatal(err)
	}
	root, inter, leaf := p.Root.Cert, p.Intermediate.Cert, p.SignerRSA.Cert
	if string(other.Root.Cert.RawSubject) != string(root.RawSubject) {
		t.Fatal("two generated PKIs give their roots different names; the key identifier case below needs equal names")
	}
	for _, tc := range []struct {
		name string
		got  bool
		want bool
	}{
		{"root is self-signed", SelfSigned(root), true},
		{"intermediate is not self-signed", SelfSigned(inter), false},
		{"leaf is not self-signed", SelfSigned(leaf), false},
		{"leaf issued by intermediate", IssuedBy(leaf, inter), true},
		{"intermediate issued by root", IssuedBy(inter, root), true},
		{"leaf not issued by root", IssuedBy(leaf, root), false},
		{"root not issued by leaf", IssuedBy(root, leaf), false},
		{"same name, other key: not the issuer", IssuedBy(inter, other.Root.Cert), false},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, tc.got, tc.want)
		}
	}
}
