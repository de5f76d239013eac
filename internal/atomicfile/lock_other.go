//go:build !unix

package atomicfile

import "os"

// lock does nothing where files have no advisory locks.
func lock(*os.File) {}

// removeIfUnlocked removes nothing where a file in use cannot be told from
// one left behind.
func removeIfUnlocked(string) {}
