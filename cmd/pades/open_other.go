//go:build !unix

package main

// openNonblock is 0 where opening a file never waits for a writer.
const openNonblock = 0
