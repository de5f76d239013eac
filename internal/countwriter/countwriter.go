// Package countwriter provides a writer that counts the bytes written
// through it, so that the test-PDF generators (testdata/pdfgen and
// bench/internal/bigpdf) know each object's offset for their xref.
package countwriter

import (
	"fmt"
	"io"
)

// Writer counts the bytes written to W in N. Its first error is sticky:
// it is kept in Err, and every later Write returns it without writing.
type Writer struct {
	W   io.Writer
	N   int64
	Err error
}

// Write writes p to W unless an earlier write failed.
func (c *Writer) Write(p []byte) (int, error) {
	if c.Err != nil {
		return 0, c.Err
	}
	n, err := c.W.Write(p)
	c.N += int64(n)
	c.Err = err
	return n, err
}

// Printf formats to the writer; its error, if any, is in Err.
func (c *Writer) Printf(format string, args ...any) {
	fmt.Fprintf(c, format, args...)
}
