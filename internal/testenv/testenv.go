// Package testenv tells the tests what their environment provides: whether
// they run in CI, and where the tools and files they need are.
//
// In CI (the environment variable CI is set to anything but the empty
// string, as CI services and .ci/run do) a test whose tool is missing
// fails: a skipped test there would hide that nothing was checked.
// Elsewhere it is skipped.
package testenv

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// InCI reports whether the tests run in CI: $CI is not empty.
func InCI() bool { return os.Getenv("CI") != "" }

// Missing ends the test for a missing tool or file: it fails in CI and is
// skipped elsewhere. The message says what is missing and how to get it.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if InCI() {
		t.Fatalf("%s (CI=%q: a missing tool fails the test)", msg, os.Getenv("CI"))
	}
	t.Skip(msg)
}

// Need returns the path of what: a file when it holds a slash, else a
// command looked up in $PATH. When it is missing, the test fails in CI and
// is skipped elsewhere; hint (such as "apt-get install qpdf") says how to
// get it.
func Need(t testing.TB, what, hint string) string {
	t.Helper()
	path := what
	var err error
	if strings.Contains(what, "/") {
		_, err = os.Stat(what)
	} else {
		path, err = exec.LookPath(what)
	}
	if err != nil {
		if hint != "" {
			Missing(t, "%s is missing (%v): %s", what, err, hint)
		}
		Missing(t, "%s is missing (%v)", what, err)
	}
	return path
}

// SoftHSMModule is the path of Debian's SoftHSM2 PKCS #11 module.
const SoftHSMModule = "/usr/lib/softhsm/libsofthsm2.so"

// SoftHSM needs softhsm2-util and the SoftHSM2 module (see Need; hint says
// how to get them) and returns the path of softhsm2-util and of a SoftHSM2
// configuration file whose token directory is a new temporary directory:
// the commands given SOFTHSM2_CONF=conf create and find their tokens there.
func SoftHSM(t testing.TB, hint string) (util, conf string) {
	t.Helper()
	util = Need(t, "softhsm2-util", hint)
	Need(t, SoftHSMModule, hint)
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens")
	if err := os.Mkdir(tokens, 0o700); err != nil {
		t.Fatal(err)
	}
	conf = filepath.Join(dir, "softhsm2.conf")
	cfg := "directories.tokendir = " + tokens + "\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n"
	if err := os.WriteFile(conf, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return util, conf
}

// CoverDir returns the directory where the test binary writes its
// coverage counters under go test -cover (its -test.gocoverdir), or "" when
// coverage is off. A command built with -cover that writes its counters
// there (GOCOVERDIR) counts in the coverage of the package under test.
func CoverDir() string {
	f := flag.Lookup("test.gocoverdir")
	if f == nil || testing.CoverMode() == "" {
		return ""
	}
	return f.Value.String()
}

// OnlyMuPDFFails reports whether the report of check-signed-pdf fails on
// its MuPDF check alone: the one failure that every RSASSA-PSS signature
// has, whoever made it, as MuPDF 1.21 verifies through OpenSSL's PKCS7
// API, which has no RSASSA-PSS, and reports a digest error.
func OnlyMuPDFFails(report string) bool {
	var fails []string
	for _, l := range strings.Split(report, "\n") {
		if strings.HasPrefix(l, "FAIL ") {
			fails = append(fails, l)
		}
	}
	return len(fails) == 1 && strings.HasPrefix(fails[0], "FAIL mutool:")
}
