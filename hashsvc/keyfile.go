package hashsvc

import (
	"fmt"
	"os"
	"runtime"
)

// checkKeyFile refuses a file holding a secret (a private key, a password)
// that users other than its owner may read or write, as ssh refuses such a
// private key. what names the configuration field. On Windows, whose
// permissions are not mode bits, it accepts every file.
func checkKeyFile(what, path string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("%s %s is accessible by other users (mode %04o); the service refuses it: chmod 600 %s", what, path, perm, path)
	}
	return nil
}
