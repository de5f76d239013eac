//go:build !unix

package regularfile

// openNonblock is 0 where opening a file never waits for a writer.
const openNonblock = 0
