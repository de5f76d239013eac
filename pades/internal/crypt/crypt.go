// Package crypt implements the PDF Standard security handler (ISO 32000-1
// §7.6.3 and ISO 32000-2 §7.6.4): password authentication, derivation of the
// file encryption key, and encryption and decryption of the strings and
// streams of individual objects.
//
// OpenDocument reads the /Encrypt dictionary and the first element of the
// trailer /ID array of a file opened with package pdf; Open takes their
// values in a Params. Revisions 2 to 6 are supported: RC4 with 40 to 128 bit keys (V1,
// V2 and V4 with the V2 crypt filter method), AES-128 (V4, AESV2) and
// AES-256 (V5, AESV3, revisions 5 and 6).
//
// A Handler is immutable once Open returns and is safe for concurrent use by
// multiple goroutines.
package crypt

import (
	"errors"
	"fmt"
)

// ErrWrongPassword is wrapped by the error Open returns when the password is
// neither the user password nor the owner password of the document.
var ErrWrongPassword = errors.New("wrong password")

// ErrUnsupported is wrapped by the error Open returns when the encryption
// dictionary asks for a security handler, version, revision or crypt filter
// method that this package does not implement.
var ErrUnsupported = errors.New("unsupported encryption")

// ErrInvalidCiphertext is wrapped by the errors the Decrypt methods return
// when AES ciphertext is too short, is not a whole number of blocks, or ends
// in invalid padding.
var ErrInvalidCiphertext = errors.New("invalid AES ciphertext")

// Crypt filter method names, as found in the /CFM entry of a crypt filter
// dictionary.
const (
	MethodNone  = "None"  // no encryption; also used for the Identity filter
	MethodRC4   = "V2"    // RC4 with an object key (Algorithm 1)
	MethodAESV2 = "AESV2" // AES-128-CBC with an object key (Algorithm 1)
	MethodAESV3 = "AESV3" // AES-256-CBC with the file key
)

// Params holds the values of a PDF /Encrypt dictionary for the Standard
// security handler. String values are the raw bytes of the PDF strings;
// strings of the encryption dictionary are never encrypted.
type Params struct {
	// Filter is the name of the security handler (/Filter, without the
	// slash). It must be "Standard".
	Filter string

	// V is the algorithm version (/V) and R the revision of the Standard
	// security handler (/R).
	V, R int

	// Length is the /Length entry, the file key length in bits, or 0 when
	// the entry is absent (40 bits is then assumed for V 1 and 2).
	Length int

	// O and U are the /O and /U entries. Bytes beyond the 32 (revisions 2
	// to 4) or 48 (revisions 5 and 6) that are used are ignored, as some
	// writers pad them with zeros.
	O, U []byte

	// OE, UE and Perms are the /OE, /UE and /Perms entries (revisions 5 and
	// 6 only).
	OE, UE, Perms []byte

	// P is the /P entry, the user access permissions.
	P int32

	// EncryptMetadata is the /EncryptMetadata entry. The entry defaults to
	// true, so the caller sets this field to true when it is absent.
	EncryptMetadata bool

	// StmF and StrF are the crypt filter methods (/CFM) of the crypt
	// filters named by /StmF and /StrF (V 4 and 5 only): one of MethodNone,
	// MethodRC4, MethodAESV2 or MethodAESV3. The caller resolves the names
	// through /CF; the Identity filter, a filter without /CFM, and an absent
	// /StmF or /StrF map to MethodNone (the empty string is accepted as
	// MethodNone too). They are ignored for V 1 and 2, which always use RC4.
	StmF, StrF string

	// CFLength is the /Length entry of the crypt filter named by /StmF (or
	// /StrF), or 0 when absent. The standard says bits but many writers put
	// bytes, so values below 40 are taken as bytes.
	CFLength int
}

// passwordError is the error Open returns for a password that matches
// neither the user nor the owner password.
type passwordError struct {
	empty bool // no password was given
}

func (e *passwordError) Error() string {
	if e.empty {
		return "a password is needed"
	}
	return "wrong password"
}

func (e *passwordError) Unwrap() error { return ErrWrongPassword }

// unsupported returns an error wrapping ErrUnsupported.
func unsupported(format string, args ...any) error {
	return fmt.Errorf("crypt: %w: %s", ErrUnsupported, fmt.Sprintf(format, args...))
}

// Handler encrypts and decrypts the objects of one document with the file
// key derived from a password. It is safe for concurrent use.
type Handler struct {
	key   []byte // file encryption key; never modified after Open
	r     int
	stm   string // method for streams
	str   string // method for strings
	owner bool
	perms int32
}

// Open checks password against the encryption dictionary values p, with id0
// the first element of the trailer /ID array (empty when the trailer has
// none), and returns a Handler holding the file encryption key.
//
// The password is tried as the user password and then as the owner
// password. For revisions 2 to 4 the password is a PDFDocEncoding (Latin-1)
// string, of which 32 bytes are used; a UTF-8 password that does not match
// as given is retried after conversion to PDFDocEncoding. For revisions 5
// and 6 the password is UTF-8 (no SASLprep normalization is done) of which
// 127 bytes are used.
//
// When the password matches neither, the error wraps ErrWrongPassword; an
// unsupported security handler, version, revision or method gives an error
// wrapping ErrUnsupported.
func Open(p Params, id0 []byte, password []byte) (*Handler, error) {
	if p.Filter != "Standard" {
		return nil, unsupported("security handler /%s", p.Filter)
	}
	h := &Handler{r: p.R, perms: p.P}
	var err error
	switch p.V {
	case 1, 2:
		if p.R < 2 || p.R > 3 {
			return nil, unsupported("revision %d with V %d", p.R, p.V)
		}
		h.stm, h.str = MethodRC4, MethodRC4
	case 4:
		if p.R != 4 {
			return nil, unsupported("revision %d with V 4", p.R)
		}
		if h.stm, err = method(p.StmF, 4); err != nil {
			return nil, err
		}
		if h.str, err = method(p.StrF, 4); err != nil {
			return nil, err
		}
	case 5:
		if p.R != 5 && p.R != 6 {
			return nil, unsupported("revision %d with V 5", p.R)
		}
		if h.stm, err = method(p.StmF, 5); err != nil {
			return nil, err
		}
		if h.str, err = method(p.StrF, 5); err != nil {
			return nil, err
		}
	default:
		return nil, unsupported("algorithm version V %d", p.V)
	}

	if p.R >= 5 {
		err = h.authenticateAES256(&p, password)
	} else {
		n, lerr := keyLength(&p, h.stm, h.str)
		if lerr != nil {
			return nil, lerr
		}
		err = h.authenticateRC4(&p, id0, password, n)
	}
	if err != nil {
		return nil, err
	}
	return h, nil
}

// method validates a crypt filter method name for version v.
func method(cfm string, v int) (string, error) {
	switch cfm {
	case "", MethodNone, "Identity":
		return MethodNone, nil
	case MethodRC4, MethodAESV2:
		if v == 4 {
			return cfm, nil
		}
	case MethodAESV3:
		if v == 5 {
			return cfm, nil
		}
	default:
		return "", unsupported("crypt filter method /%s", cfm)
	}
	return "", unsupported("crypt filter method /%s with V %d", cfm, v)
}

// keyLength returns the file key length in bytes for revisions 2 to 4.
func keyLength(p *Params, stm, str string) (int, error) {
	if p.R == 2 {
		return 5, nil // Algorithm 2, step (i): always 5 for revision 2.
	}
	bits := p.Length
	switch p.V {
	case 1:
		bits = 40
	case 2:
		if bits == 0 {
			bits = 40
		}
	case 4:
		if stm == MethodAESV2 || str == MethodAESV2 {
			return 16, nil
		}
		switch {
		case p.CFLength > 0 && p.CFLength < 40:
			bits = p.CFLength * 8
		case p.CFLength > 0:
			bits = p.CFLength
		case bits == 0:
			bits = 128
		}
	}
	if bits < 40 || bits > 128 || bits%8 != 0 {
		return 0, unsupported("key length of %d bits", bits)
	}
	return bits / 8, nil
}

// AuthenticatedAsOwner reports whether the password given to Open is the
// owner password. It is true also when the user and owner passwords are the
// same.
func (h *Handler) AuthenticatedAsOwner() bool { return h.owner }

// Permissions returns the /P value, the permissions granted to users who
// authenticate with the user password.
func (h *Handler) Permissions() int32 { return h.perms }

// Revision returns the revision of the Standard security handler (/R).
func (h *Handler) Revision() int { return h.r }

// KeyLength returns the length of the file encryption key in bytes: 5 to 16
// for RC4 and AES-128, 32 for AES-256.
func (h *Handler) KeyLength() int { return len(h.key) }

// EncryptedLen returns the length of the ciphertext that EncryptStream
// (stream true) or EncryptString (stream false) produces for n bytes of
// plaintext: n for RC4 and for no encryption, and the 16-byte IV followed by
// the PKCS#7-padded data for AES.
func (h *Handler) EncryptedLen(n int, stream bool) int {
	m := h.str
	if stream {
		m = h.stm
	}
	switch m {
	case MethodAESV2, MethodAESV3:
		return 16 + (n/16+1)*16
	}
	return n
}
