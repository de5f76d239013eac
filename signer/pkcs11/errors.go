package pkcs11

import (
	"errors"
	"fmt"

	p11 "github.com/miekg/pkcs11"
)

// Errors that the errors returned by this package wrap, for errors.Is.
var (
	// ErrModuleNotFound: the module-path file does not exist.
	ErrModuleNotFound = errors.New("PKCS#11 module not found")
	// ErrTokenNotFound: no initialized token matches the URI.
	ErrTokenNotFound = errors.New("token not found")
	// ErrKeyNotFound: no private key matches the URI's object and id.
	ErrKeyNotFound = errors.New("key not found")
	// ErrCertificateNotFound: neither the token nor the caller supplies a
	// certificate for the key.
	ErrCertificateNotFound = errors.New("certificate not found")
	// ErrPINRequired: the token needs a login and no PIN was supplied.
	ErrPINRequired = errors.New("PIN required")
	// ErrWrongPIN: the token refused the PIN.
	ErrWrongPIN = errors.New("wrong PIN")
	// ErrPINLocked: the token locked the user PIN after too many wrong ones.
	ErrPINLocked = errors.New("PIN locked")
	// ErrUnsupportedKey: the object is not an RSA or ECDSA (P-256, P-384,
	// P-521) private key that may sign.
	ErrUnsupportedKey = errors.New("unsupported key")
	// ErrClosed: the Pool was closed.
	ErrClosed = errors.New("pkcs11 pool closed")
)

// kindError is an error with a self-contained message that also matches
// kind, one of the Err values, and err, its cause, if any.
type kindError struct {
	kind error
	msg  string
	err  error
}

func (e *kindError) Error() string {
	if e.err != nil {
		return e.msg + ": " + e.err.Error()
	}
	return e.msg
}

func (e *kindError) Unwrap() []error {
	if e.err != nil {
		return []error{e.kind, e.err}
	}
	return []error{e.kind}
}

// errorf returns a *kindError matching kind with a formatted message.
func errorf(kind error, format string, args ...any) error {
	return &kindError{kind: kind, msg: fmt.Sprintf(format, args...)}
}

// ckr returns the PKCS #11 return value that err carries. It follows both
// Unwrap and the Cause method of github.com/pkg/errors, which crypto11
// uses.
func ckr(err error) (p11.Error, bool) {
	for i := 0; err != nil && i < 100; i++ {
		if e, ok := err.(p11.Error); ok {
			return e, true
		}
		switch x := err.(type) {
		case interface{ Unwrap() error }:
			err = x.Unwrap()
		case interface{ Cause() error }:
			if c := x.Cause(); c != err {
				err = c
			} else {
				return 0, false
			}
		default:
			return 0, false
		}
	}
	return 0, false
}

// isCKR reports whether err carries the PKCS #11 return value code.
func isCKR(err error, code uint) bool {
	e, ok := ckr(err)
	return ok && uint(e) == code
}

// loginError turns a failed C_Login on the named token into an error
// that says what went wrong. The PIN is never part of it.
func loginError(tokenName string, err error) error {
	e, _ := ckr(err)
	switch uint(e) {
	case p11.CKR_PIN_INCORRECT, p11.CKR_PIN_LEN_RANGE, p11.CKR_PIN_INVALID:
		return &kindError{kind: ErrWrongPIN, msg: fmt.Sprintf("pkcs11: log in to %s: wrong PIN", tokenName), err: e}
	case p11.CKR_PIN_LOCKED:
		return &kindError{kind: ErrPINLocked, msg: fmt.Sprintf("pkcs11: log in to %s: the user PIN is locked", tokenName), err: e}
	case p11.CKR_PIN_EXPIRED:
		return fmt.Errorf("pkcs11: log in to %s: the user PIN has expired: %w", tokenName, e)
	case p11.CKR_USER_PIN_NOT_INITIALIZED:
		return fmt.Errorf("pkcs11: log in to %s: the user PIN is not initialized: %w", tokenName, e)
	}
	return fmt.Errorf("pkcs11: log in to %s: %w", tokenName, err)
}
