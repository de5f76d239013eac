// Some corpus files hold certificates with negative serial numbers, which
// crypto/x509 refuses by default; cmd/pades accepts them too.
//
//go:debug x509negativeserial=1
package verify_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"hashsign/internal/corpustest"
	"hashsign/internal/testenv"
	"hashsign/pades/verify"
)

// TestCorpus verifies the signed files of ../shared/corpus with no trust
// anchor: the integrity of every signature that pdfsig -nocert judges
// agrees with it, and no chain is trusted. The table of verdicts is
// logged (and written to $HASHSIGN_VERIFY_TABLE when set).
func TestCorpus(t *testing.T) {
	dir := corpusDir(t)
	pdfsig := testenv.Need(t, "pdfsig", "")
	var table strings.Builder
	table.WriteString("| file | signature | pdfsig -nocert | integrity | path | indication | level | modifications |\n|---|---|---|---|---|---|---|---|\n")
	compared := 0
	for _, cf := range corpustest.ReadManifest(t, dir) {
		if cf.Signatures == 0 {
			continue
		}
		name, pw := cf.Name, cf.Password
		path := filepath.Join(dir, name)
		args := []string{"-nocert"}
		if pw != "" {
			args = append(args, "-upw", pw)
		}
		out, _ := exec.Command(pdfsig, append(args, path)...).CombinedOutput()
		verdicts := corpustest.PdfsigVerdicts(string(out))
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		rep := check(t, data, &verify.Options{Password: []byte(pw)})
		if len(rep.Signatures) == 0 {
			t.Errorf("%s: no signature found", name)
		}
		for _, s := range rep.Signatures {
			ps := "not judged"
			if v, ok := verdicts[s.Field]; ok {
				ps = map[bool]string{true: "valid", false: "invalid"}[v]
				if (s.Integrity.Status == verify.Passed) != v {
					t.Errorf("%s: %q: pdfsig -nocert says valid=%v, integrity %s", name, s.Field, v, s.Integrity.Status)
				}
				compared++
			}
			if s.CertificatePath.Status == verify.PathTrusted {
				t.Errorf("%s: %q: a chain is trusted without anchors", name, s.Field)
			}
			if s.Integrity.Status == verify.Passed && s.SubIndication != verify.NoCertificateChainFound && s.Indication != verify.TotalFailed {
				t.Errorf("%s: %q: %s/%s, want NO_CERTIFICATE_CHAIN_FOUND", name, s.Field, s.Indication, s.SubIndication)
			}
			level := "-"
			if s.Level != nil {
				level = s.Level.Reached
			}
			fmt.Fprintf(&table, "| %s | %s (%s) | %s | %s | %s | %s/%s | %s | %s |\n", name, s.Field, s.SubFilter, ps,
				s.Integrity.Status, s.CertificatePath.Status, s.Indication, s.SubIndication, level, s.Modifications.Verdict)
		}
	}
	t.Logf("%d signatures compared with pdfsig -nocert\n%s", compared, table.String())
	if p := os.Getenv("HASHSIGN_VERIFY_TABLE"); p != "" {
		os.WriteFile(p, []byte(table.String()), 0o644)
	}
	if compared == 0 {
		t.Fatal("no signature compared: the corpus or pdfsig's output changed")
	}
}
