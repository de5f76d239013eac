package pkcs11

import (
	"bytes"
	"strings"
	"testing"
)

func TestParseURI(t *testing.T) {
	u, err := ParseURI("PKCS11:token=my%20token;manufacturer=SoftHSM%20project;serial=0a81;model=SoftHSM%20v2;" +
		"object=signer;id=%01%AB;type=private;slot-id=3;library-manufacturer=X" +
		"?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-value=12%2634&pin-source=file:/run/pin")
	if err != nil {
		t.Fatal(err)
	}
	want := URI{
		Token: "my token", Manufacturer: "SoftHSM project", Serial: "0a81", Model: "SoftHSM v2",
		Object: "signer", ID: []byte{0x01, 0xAB}, Type: "private", SlotID: 3, HasSlotID: true, LibraryManufacturer: "X",
		ModulePath: "/usr/lib/softhsm/libsofthsm2.so", PINValue: "12&34", PINSource: "file:/run/pin",
	}
	if u.Token != want.Token || u.Manufacturer != want.Manufacturer || u.Serial != want.Serial || u.Model != want.Model ||
		u.Object != want.Object || !bytes.Equal(u.ID, want.ID) || u.Type != want.Type || u.SlotID != 3 || !u.HasSlotID ||
		u.LibraryManufacturer != "X" || u.ModulePath != want.ModulePath || u.PINValue != want.PINValue || u.PINSource != want.PINSource {
		t.Fatalf("ParseURI = %+v, want %+v", u, want)
	}
	s := u.String()
	if strings.Contains(s, "12") && strings.Contains(s, "34") && strings.Contains(s, "pin-value=12") {
		t.Fatalf("String() shows the PIN: %s", s)
	}
	const wantS = "pkcs11:library-manufacturer=X;slot-id=3;token=my%20token;manufacturer=SoftHSM%20project;serial=0a81;" +
		"model=SoftHSM%20v2;object=signer;id=%01%AB;type=private" +
		"?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-value=xxxxx&pin-source=file:/run/pin"
	if s != wantS {
		t.Fatalf("String() = %s\nwant       %s", s, wantS)
	}
	// String's output parses back to the same URI, PIN aside.
	u2, err := ParseURI(s)
	if err != nil {
		t.Fatal(err)
	}
	u2.PINValue = u.PINValue
	if u2.String() != s || !bytes.Equal(u2.ID, u.ID) || u2.Token != u.Token {
		t.Fatalf("round trip: %+v", u2)
	}
}

func TestParseURIErrors(t *testing.T) {
	const secret = "s3cr%ZZet"
	tests := []struct{ uri, want string }{
		{"pkcs12:token=x", `does not start with "pkcs11:"`},
		{"pkcs11:token=a;token=b", `"token" given more than once`},
		{"pkcs11:tokken=a", `path attribute "tokken" is not supported`},
		{"pkcs11:token=a?module-path=/x&foo=1", `query attribute "foo" is not supported`},
		{"pkcs11:token", `"token" has no value`},
		{"pkcs11:type=secret", `type "secret" is not one of`},
		{"pkcs11:slot-id=x", `slot-id "x" is not a decimal number`},
		{"pkcs11:token=a?pin-value=" + secret, `attribute "pin-value": invalid percent-encoding`},
	}
	for _, tc := range tests {
		_, err := ParseURI(tc.uri)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseURI(%q) = %v, want an error containing %q", tc.uri, err, tc.want)
		}
		if err != nil && (strings.Contains(err.Error(), "s3cr") || strings.Contains(err.Error(), "%ZZ")) {
			t.Errorf("ParseURI(%q): error shows the PIN: %v", tc.uri, err)
		}
	}
}

// TestParseURIModulePathInPath accepts module-path written in the path, as
// `pades pkcs11 list 'pkcs11:module-path=...'` does.
func TestParseURIModulePathInPath(t *testing.T) {
	u, err := ParseURI("pkcs11:module-path=/usr/lib/softhsm/libsofthsm2.so;token=hashsign")
	if err != nil {
		t.Fatal(err)
	}
	if u.ModulePath != "/usr/lib/softhsm/libsofthsm2.so" || u.Token != "hashsign" {
		t.Fatalf("ParseURI = %+v", u)
	}
}
