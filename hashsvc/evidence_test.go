package hashsvc_test

import (
	"crypto/x509"
	"strings"
	"testing"

	"hashsign/hashsvc"
)

// FuzzVerifyEvidence: an evidence file is untrusted input; whatever it
// holds, VerifyEvidence answers with an error, never a panic, and never
// accepts one without a seal that chains to the roots.
func FuzzVerifyEvidence(f *testing.F) {
	for _, seed := range []string{
		`{"record":{"version":1,"request":"sr-1"},"signature":"MAA="}`,
		`{"record":{},"signature":""}`,
		`{"record":[1,2],"signature":"not base64"}`,
		`{"record":{"version":1},"signature":"MIIBCgYJKoZIhvcNAQcCoIIB+zCCAfcCAQEx"}`,
		`{"record":null}`,
		`[]`,
		``,
	} {
		f.Add([]byte(seed))
	}
	roots := x509.NewCertPool()
	f.Fuzz(func(t *testing.T, data []byte) {
		rep, err := hashsvc.VerifyEvidence(data, roots)
		if err == nil {
			t.Fatalf("accepted without a trusted seal: %+v", rep)
		}
		if !strings.HasPrefix(err.Error(), "evidence: ") {
			t.Errorf("error %q does not say what failed", err)
		}
	})
}
