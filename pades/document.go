// Package pades signs PDF documents with PAdES baseline signatures
// (ETSI EN 319 142-1) by appending one incremental update, and embeds CMS
// signatures made elsewhere into prepared documents.
//
// The input is read through an io.ReaderAt and copied to the output while
// its byte-range digest is computed, so memory use does not grow with the
// size of the file. Bytes already in the file are never rewritten.
package pades

import (
	"errors"
	"fmt"
	"io"

	"hashsign/pades/internal/crypt"
	"hashsign/pades/internal/pdf"
	"hashsign/pades/internal/sigfield"
)

// Errors that callers may want to tell apart. They are wrapped with details.
var (
	// ErrNotPDF reports input that is not a PDF file.
	ErrNotPDF = pdf.ErrNotPDF
	// ErrPasswordNeeded reports an encrypted PDF whose user password is not
	// empty, opened without a password.
	ErrPasswordNeeded = sigfield.ErrPasswordNeeded
	// ErrWrongPassword reports an encrypted PDF opened with a wrong password.
	ErrWrongPassword = sigfield.ErrWrongPassword
	// ErrCertified reports a document certified with DocMDP /P 1, which
	// allows no change at all.
	ErrCertified = errors.New("certified PDF: its DocMDP permissions (/P 1) allow no change, not even a new signature")
	// ErrPermission reports an encrypted PDF whose permissions forbid
	// adding a signature with the password given.
	ErrPermission = errors.New("encrypted PDF: its permissions forbid adding a signature field; give the owner password")
	// ErrTruncated reports a file cut short: its end lacks the startxref
	// offset or the %%EOF marker that follows it.
	ErrTruncated = pdf.ErrTruncated
)

// document is a PDF file opened for signing or inspection.
type document struct {
	rd      *pdf.Reader
	sec     *crypt.Handler
	catalog *pdf.Dict
	rootRef pdf.Ref
	doc     *sigfield.Doc
}

// openDocument opens the PDF file r of the given size. password is used when
// the file is encrypted; it may be nil for files without a user password.
// memoryBudget bounds the PDF reader (0: its default, see
// PrepareOptions.MemoryBudget).
func openDocument(r io.ReaderAt, size int64, password []byte, memoryBudget int64) (*document, error) {
	doc, err := sigfield.Open(r, size, password, memoryBudget)
	if err != nil {
		return nil, err
	}
	return &document{rd: doc.Reader, sec: doc.Security, catalog: doc.Catalog, rootRef: doc.Root, doc: doc}, nil
}

// encrypter returns what encrypts new objects, or nil.
func (d *document) encrypter() pdf.Encrypter {
	if d.sec == nil {
		return nil
	}
	return d.sec
}

// docMDP returns the /P value of the document's certification signature,
// or 0 when the document is not certified.
func (d *document) docMDP() (int, error) { return d.doc.DocMDP() }

// canAddSignature checks the encryption permissions: creating a signature
// field needs bits 4 and 6 (modify, annotate) or, from revision 3 of the
// security handler, bit 9 (fill in forms, which Acrobat takes to include
// signing; in revision 2 the bit means nothing), unless the owner password
// was given.
func (d *document) canAddSignature() error {
	if d.sec == nil || d.sec.AuthenticatedAsOwner() {
		return nil
	}
	p := uint32(d.sec.Permissions())
	const modify, annots, fill = 1 << 3, 1 << 5, 1 << 8
	if p&(modify|annots) == modify|annots || p&fill != 0 && d.sec.Revision() >= 3 {
		return nil
	}
	return fmt.Errorf("%w (/P %d)", ErrPermission, int32(p))
}
