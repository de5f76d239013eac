package appearance

import (
	"os"
	"os/exec"
	"testing"
)

// inCI reports whether the tests run under CI, where a missing tool or
// file fails the test instead of skipping it.
func inCI() bool { return os.Getenv("CI") == "true" }

// requireTool returns the path of an external program, skipping the test
// when it is missing (failing under CI).
func requireTool(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if inCI() {
			t.Fatalf("%s is required under CI: %v", name, err)
		}
		t.Skipf("%s not found: %v", name, err)
	}
	return path
}

// requireFile skips the test when the file is missing (failing under CI).
func requireFile(t testing.TB, name string) {
	t.Helper()
	if _, err := os.Stat(name); err != nil {
		if inCI() {
			t.Fatalf("%s is required under CI: %v", name, err)
		}
		t.Skipf("%s not found: %v", name, err)
	}
}
