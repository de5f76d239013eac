package testenv_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"hashsign/internal/testenv"
)

// TestMissingFailsInCI runs this test binary again with each value of CI,
// with a tool that does not exist: any non-empty CI fails the test, an
// empty one skips it.
func TestMissingFailsInCI(t *testing.T) {
	if os.Getenv("TESTENV_CHILD") != "" {
		testenv.Need(t, "hashsign-no-such-tool", "nothing to install")
		t.Fatal("Need returned for a missing tool")
	}
	for _, tc := range []struct {
		ci   string
		fail bool
	}{
		{"true", true},
		{"1", true},
		{"yes", true},
		{"false", true}, // set is set
		{"", false},
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestMissingFailsInCI$", "-test.v")
		cmd.Env = append(os.Environ(), "TESTENV_CHILD=1", "CI="+tc.ci)
		out, err := cmd.CombinedOutput()
		failed := err != nil
		skipped := strings.Contains(string(out), "--- SKIP")
		if failed != tc.fail || skipped == tc.fail {
			t.Errorf("CI=%q: failed %v, skipped %v; want failed %v\n%s", tc.ci, failed, skipped, tc.fail, out)
		}
	}
	if p := testenv.Need(t, "sh", ""); p == "" {
		t.Error("sh not found")
	}
}
