// Package pkcs11 signs with private keys held on PKCS #11 tokens (hardware
// security modules, smart cards, SoftHSM) through
// github.com/ThalesIgnite/crypto11. The keys never leave the token: only
// digests are sent to it.
//
// Keys are named by RFC 7512 URIs:
//
//	pkcs11:token=hashsign;object=signer?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/run/secrets/pin
//
// A [Pool] owns the connections to the tokens. It keeps one crypto11
// context, logged in once, for each token of a module, with a bounded set
// of sessions that the [Signer]s it returns share, so that any number of
// goroutines can sign at once. A process should have one Pool, created at
// start-up and closed at shutdown.
package pkcs11

import (
	"context"
	"crypto"
	"crypto/subtle"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/ThalesIgnite/crypto11"
	p11 "github.com/miekg/pkcs11"

	"hashsign/signer"
)

// DefaultSessions is the number of signing sessions a Pool opens per
// token when Pool.Sessions is zero.
const DefaultSessions = 8

// Pool holds the connections to PKCS #11 tokens: for each token of each
// module, one crypto11 context, logged in once, with Sessions sessions
// for signing. The Signers that Open returns share them.
//
// crypto11 counts the users of a module library per process, and a
// PKCS #11 module is initialized once per process, so a process should
// have a single Pool (per module at least), which owns the module and
// which no other code in the process uses directly. Create it at start-up,
// pass it to the code that needs keys and Close it at shutdown. The zero
// Pool is ready to use. A Pool is safe for concurrent use.
type Pool struct {
	// Sessions is the number of PKCS #11 sessions per token, and so the
	// number of signatures one token makes at once; further signatures
	// wait for a free session. Zero means DefaultSessions. The token may
	// allow fewer. Set it before the first Open.
	Sessions int

	mu     sync.Mutex
	tokens map[tokenKey]*token
	closed bool
}

// tokenKey identifies a token: its module (the canonical path of the
// library) and its serial number or, for tokens without a unique one, its
// slot.
type tokenKey struct {
	module string
	serial string
	slot   uint
}

// token is a crypto11 context logged in to one token.
type token struct {
	key     tokenKey
	name    string // `token "hashsign"`, for messages
	display string // module path as the URI gave it, for messages
	ctx     *crypto11.Context
	pin     string
	sem     chan struct{} // one slot per signing session

	mu     sync.RWMutex // held for reading while signing; for writing to close
	closed bool
}

// OpenOptions holds the certificates Open uses instead of, or besides,
// those stored on the token. The zero value takes everything from the
// token.
type OpenOptions struct {
	// Certificates holds the signer certificate, and optionally CA
	// certificates, in any order. When it is empty the signer
	// certificate is the token's certificate object with the key's
	// CKA_ID or, failing that, its CKA_LABEL.
	Certificates []*x509.Certificate

	// Chain holds intermediate CA certificates. The certificates stored
	// on the token are also considered when the chain is built.
	Chain []*x509.Certificate
}

// Open returns a Signer for the private key that uri names, logging in
// to its token if the Pool has not done so yet. uri must name the module
// (module-path) and the key (object, id, or both; type, if given, must be
// "private"). When several tokens are present, its token attributes
// (token, serial, ...) must select one. The PIN comes from pin-value,
// else pin-source, else the PKCS11_PIN environment variable.
//
// The key must be an RSA key of at least signer.MinRSABits bits or an
// ECDSA key on P-256, P-384 or P-521 that may sign. Open finds its
// certificate as OpenOptions describes and builds the chain from the
// certificates given and those on the token.
//
// Errors name what was not found and wrap ErrModuleNotFound,
// ErrTokenNotFound, ErrPINRequired, ErrWrongPIN, ErrPINLocked,
// ErrKeyNotFound, ErrUnsupportedKey, ErrCertificateNotFound,
// signer.ErrKeyMismatch or ErrClosed as appropriate. They never contain
// the PIN.
func (p *Pool) Open(ctx context.Context, uri string, opts *OpenOptions) (*Signer, error) {
	if opts == nil {
		opts = &OpenOptions{}
	}
	u, err := ParseURI(uri)
	if err != nil {
		return nil, err
	}
	if u.Object == "" && u.ID == nil {
		return nil, fmt.Errorf("pkcs11: URI %s names no key: add object=LABEL or id=ID", u)
	}
	if u.Type != "" && u.Type != "private" {
		return nil, fmt.Errorf("pkcs11: URI %s has type=%s; a signing key is type=private", u, u.Type)
	}
	path, pin, hasPIN, err := moduleAndPIN(u)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, fmt.Errorf("pkcs11: opening %s: %w", u, ErrClosed)
	}
	t, err := p.token(u, path, pin, hasPIN)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return p.openKey(t, u, opts)
}

// modulePath returns the canonical path of the module that u names, after
// checking that the file exists.
func modulePath(u *URI) (string, error) {
	if u.ModulePath == "" {
		if u.ModuleName != "" {
			return "", fmt.Errorf("pkcs11: URI %s: module-name is not supported; give the library's file with module-path", u)
		}
		return "", fmt.Errorf("pkcs11: URI %s names no module: add ?module-path=/path/to/module.so", u)
	}
	if _, err := os.Stat(u.ModulePath); err != nil {
		return "", &kindError{kind: ErrModuleNotFound, msg: fmt.Sprintf("pkcs11: PKCS#11 module %s not found", u.ModulePath), err: err}
	}
	abs, err := filepath.Abs(u.ModulePath)
	if err != nil {
		return "", fmt.Errorf("pkcs11: PKCS#11 module %s: %w", u.ModulePath, err)
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	}
	return abs, nil
}

// withModule loads the module at path and calls f with a handle on it for
// the lookups that crypto11 does not offer. The module shares its state
// with the crypto11 contexts of the same library: when one is open, the
// module is already initialized and stays so, and f is told so by shared;
// otherwise it is initialized for the call only, so that crypto11 can
// initialize it later.
func withModule(path, display string, f func(m *p11.Ctx, shared bool) error) error {
	m := p11.New(path)
	if m == nil {
		return fmt.Errorf("pkcs11: cannot load PKCS#11 module %s: not a shared library with C_GetFunctionList", display)
	}
	defer m.Destroy()
	err := m.Initialize()
	if err != nil && !isCKR(err, p11.CKR_CRYPTOKI_ALREADY_INITIALIZED) {
		return fmt.Errorf("pkcs11: initializing PKCS#11 module %s: %w", display, err)
	}
	if err == nil {
		defer m.Finalize()
	}
	return f(m, err != nil)
}

// slotToken is a slot and the token in it.
type slotToken struct {
	slot uint
	info p11.TokenInfo
}

// tokenName names a token for messages.
func tokenName(info p11.TokenInfo) string {
	if info.Label != "" {
		return fmt.Sprintf("token %q", info.Label)
	}
	return fmt.Sprintf("token with serial %q", info.SerialNumber)
}

// tokenSelector describes the token attributes of u for messages.
func tokenSelector(u *URI) string {
	var parts []string
	add := func(name, v string) {
		if v != "" {
			parts = append(parts, fmt.Sprintf("%s %q", name, v))
		}
	}
	add("label", u.Token)
	add("serial", u.Serial)
	add("manufacturer", u.Manufacturer)
	add("model", u.Model)
	if u.HasSlotID {
		parts = append(parts, fmt.Sprintf("in slot %d", u.SlotID))
	}
	add("slot description", u.SlotDescription)
	add("slot manufacturer", u.SlotManufacturer)
	if len(parts) == 0 {
		return "token"
	}
	return "token with " + strings.Join(parts, ", ")
}

// findTokens returns the initialized tokens of the module that match u,
// and all tokens present.
func findTokens(m *p11.Ctx, u *URI, display string) (matches, all []slotToken, err error) {
	if u.LibraryManufacturer != "" || u.LibraryDescription != "" || u.LibraryVersion != "" {
		info, err := m.GetInfo()
		if err != nil {
			return nil, nil, fmt.Errorf("pkcs11: module %s: C_GetInfo: %w", display, err)
		}
		lib := fmt.Sprintf("%d.%d", info.LibraryVersion.Major, info.LibraryVersion.Minor)
		if !matchAttr(u.LibraryManufacturer, info.ManufacturerID) || !matchAttr(u.LibraryDescription, info.LibraryDescription) ||
			!matchAttr(u.LibraryVersion, lib) {
			return nil, nil, errorf(ErrTokenNotFound, "pkcs11: module %s (%s, %s, version %s) does not match the library attributes of the URI",
				display, strings.TrimSpace(info.ManufacturerID), strings.TrimSpace(info.LibraryDescription), lib)
		}
	}
	slots, err := m.GetSlotList(true)
	if err != nil {
		return nil, nil, fmt.Errorf("pkcs11: module %s: listing slots: %w", display, err)
	}
	for _, slot := range slots {
		info, err := m.GetTokenInfo(slot)
		if err != nil {
			continue // removed meanwhile
		}
		st := slotToken{slot, info}
		all = append(all, st)
		if info.Flags&p11.CKF_TOKEN_INITIALIZED == 0 {
			continue
		}
		if u.HasSlotID && slot != u.SlotID {
			continue
		}
		if !matchAttr(u.Token, info.Label) || !matchAttr(u.Serial, info.SerialNumber) ||
			!matchAttr(u.Manufacturer, info.ManufacturerID) || !matchAttr(u.Model, info.Model) {
			continue
		}
		if u.SlotDescription != "" || u.SlotManufacturer != "" {
			si, err := m.GetSlotInfo(slot)
			if err != nil || !matchAttr(u.SlotDescription, si.SlotDescription) || !matchAttr(u.SlotManufacturer, si.ManufacturerID) {
				continue
			}
		}
		matches = append(matches, st)
	}
	return matches, all, nil
}

// matchAttr reports whether a token or library field matches a URI
// attribute: equal, ignoring the padding blanks of PKCS #11 fields, or
// the attribute is absent.
func matchAttr(want, have string) bool {
	return want == "" || strings.TrimRight(want, " ") == strings.TrimRight(have, " \x00")
}

// listTokens describes tokens for messages.
func listTokens(all []slotToken) string {
	var names []string
	for _, st := range all {
		if st.info.Flags&p11.CKF_TOKEN_INITIALIZED == 0 {
			continue
		}
		names = append(names, fmt.Sprintf("%q (serial %s)", st.info.Label, st.info.SerialNumber))
	}
	if len(names) == 0 {
		return "the module has no initialized token"
	}
	return "tokens: " + strings.Join(names, ", ")
}

// selectToken returns the one token of matches, or an error naming what
// was looked for and what is there.
func selectToken(u *URI, display string, matches, all []slotToken) (slotToken, error) {
	switch len(matches) {
	case 1:
		return matches[0], nil
	case 0:
		return slotToken{}, errorf(ErrTokenNotFound, "pkcs11: no %s in PKCS#11 module %s (%s)", tokenSelector(u), display, listTokens(all))
	}
	return slotToken{}, fmt.Errorf("pkcs11: %d tokens in PKCS#11 module %s match the URI; select one with token= or serial= (%s)",
		len(matches), display, listTokens(matches))
}

// keyFor returns the key of the token st: by serial number when no other
// token in all has the same one, else by slot.
func keyFor(path string, st slotToken, all []slotToken) tokenKey {
	serial := st.info.SerialNumber
	if serial != "" {
		n := 0
		for _, o := range all {
			if o.info.SerialNumber == serial {
				n++
			}
		}
		if n == 1 {
			return tokenKey{module: path, serial: serial}
		}
	}
	return tokenKey{module: path, slot: st.slot}
}

// slot returns the slot that holds t's token now.
func (t *token) slot(m *p11.Ctx) (uint, error) {
	if t.key.serial == "" {
		return t.key.slot, nil
	}
	slots, err := m.GetSlotList(true)
	if err != nil {
		return 0, fmt.Errorf("pkcs11: module %s: listing slots: %w", t.display, err)
	}
	for _, s := range slots {
		if info, err := m.GetTokenInfo(s); err == nil && info.SerialNumber == t.key.serial {
			return s, nil
		}
	}
	return 0, errorf(ErrTokenNotFound, "pkcs11: %s (serial %s) is no longer present in PKCS#11 module %s", t.name, t.key.serial, t.display)
}

// token returns the logged-in context for the token that u selects,
// creating it if needed. p.mu is held.
func (p *Pool) token(u *URI, path, pin string, hasPIN bool) (*token, error) {
	display := u.ModulePath
	var (
		st            slotToken
		key           tokenKey
		loginRequired bool
	)
	err := withModule(path, display, func(m *p11.Ctx, shared bool) error {
		matches, all, err := findTokens(m, u, display)
		if err != nil {
			return err
		}
		if st, err = selectToken(u, display, matches, all); err != nil {
			return err
		}
		key = keyFor(path, st, all)
		loginRequired = st.info.Flags&p11.CKF_LOGIN_REQUIRED != 0
		if !loginRequired {
			return nil
		}
		name := tokenName(st.info)
		if !hasPIN {
			return errorf(ErrPINRequired, "pkcs11: %s needs a PIN: give pin-value or pin-source in the URI, or set %s", name, PINEnv)
		}
		if p.tokens[key] != nil {
			return nil
		}
		if st.info.Flags&p11.CKF_USER_PIN_LOCKED != 0 {
			return errorf(ErrPINLocked, "pkcs11: %s: the user PIN is locked", name)
		}
		if st.info.Flags&p11.CKF_PROTECTED_AUTHENTICATION_PATH != 0 {
			return fmt.Errorf("pkcs11: %s wants the PIN on its own PIN pad, which is not supported", name)
		}
		if shared {
			// crypto11 finalizes the module when logging in fails, which
			// would break the contexts already open on it: check the PIN
			// first with a session of our own.
			return checkPIN(m, st, pin)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	name := tokenName(st.info)
	if t := p.tokens[key]; t != nil {
		if loginRequired && subtle.ConstantTimeCompare([]byte(t.pin), []byte(pin)) != 1 {
			return nil, &kindError{kind: ErrWrongPIN, msg: fmt.Sprintf("pkcs11: log in to %s: wrong PIN (it differs from the PIN the token was opened with)", name)}
		}
		return t, nil
	}

	n := p.Sessions
	if n <= 0 {
		n = DefaultSessions
	}
	if limit := st.info.MaxRwSessionCount; limit != p11.CK_EFFECTIVELY_INFINITE && limit != p11.CK_UNAVAILABLE_INFORMATION {
		if limit < 2 {
			return nil, fmt.Errorf("pkcs11: %s allows %d read/write session(s); at least 2 are needed", name, limit)
		}
		n = min(n, int(min(limit-1, 1<<20)))
	}
	cfg := &crypto11.Config{
		Path:              path,
		Pin:               pin,
		MaxSessions:       n + 1, // one more, which crypto11 keeps logged in
		LoginNotSupported: !loginRequired,
	}
	if key.serial != "" {
		cfg.TokenSerial = key.serial
	} else {
		slot := int(st.slot)
		cfg.SlotNumber = &slot
	}
	c, err := crypto11.Configure(cfg)
	if err != nil {
		if e, ok := ckr(err); ok {
			switch uint(e) {
			case p11.CKR_PIN_INCORRECT, p11.CKR_PIN_LEN_RANGE, p11.CKR_PIN_INVALID, p11.CKR_PIN_LOCKED,
				p11.CKR_PIN_EXPIRED, p11.CKR_USER_PIN_NOT_INITIALIZED:
				return nil, loginError(name, e)
			}
		}
		return nil, fmt.Errorf("pkcs11: opening %s in PKCS#11 module %s: %w", name, display, err)
	}
	t := &token{key: key, name: name, display: display, ctx: c, pin: pin, sem: make(chan struct{}, n)}
	if p.tokens == nil {
		p.tokens = make(map[tokenKey]*token)
	}
	p.tokens[key] = t
	return t, nil
}

// checkPIN logs in to the token st with a session of its own and closes
// it, which logs out again unless the application was logged in already.
func checkPIN(m *p11.Ctx, st slotToken, pin string) error {
	sh, err := m.OpenSession(st.slot, p11.CKF_SERIAL_SESSION)
	if err != nil {
		return fmt.Errorf("pkcs11: opening a session on %s: %w", tokenName(st.info), err)
	}
	defer m.CloseSession(sh)
	if err := m.Login(sh, p11.CKU_USER, pin); err != nil && !isCKR(err, p11.CKR_USER_ALREADY_LOGGED_IN) {
		return loginError(tokenName(st.info), err)
	}
	return nil
}

// openKey finds the key that u names on t and returns its Signer.
// p.mu is held.
func (p *Pool) openKey(t *token, u *URI, opts *OpenOptions) (*Signer, error) {
	var (
		obj       ObjectInfo
		tokenCert *x509.Certificate
		others    []*x509.Certificate
	)
	err := withModule(t.key.module, t.display, func(m *p11.Ctx, _ bool) error {
		slot, err := t.slot(m)
		if err != nil {
			return err
		}
		sh, err := m.OpenSession(slot, p11.CKF_SERIAL_SESSION)
		if err != nil {
			return fmt.Errorf("pkcs11: opening a session on %s: %w", t.name, err)
		}
		defer m.CloseSession(sh)
		if obj, err = findPrivateKey(m, sh, t.name, u); err != nil {
			return err
		}
		tokenCert, others, err = tokenCertificates(m, sh, t.name, obj)
		return err
	})
	if err != nil {
		return nil, err
	}
	name := fmt.Sprintf("key %s on %s", obj.describe(), t.name)
	if obj.alwaysAuthenticate {
		return nil, errorf(ErrUnsupportedKey, "pkcs11: %s needs the PIN again for every signature (CKA_ALWAYS_AUTHENTICATE), which is not supported", name)
	}
	if len(obj.ID) == 0 {
		return nil, errorf(ErrUnsupportedKey, "pkcs11: %s has no CKA_ID, which crypto11 needs to pair it with its public key", name)
	}
	var label []byte
	if obj.Label != "" {
		label = []byte(obj.Label)
	}
	k, err := t.ctx.FindKeyPair(obj.ID, label)
	if err != nil {
		return nil, fmt.Errorf("pkcs11: loading %s: %w", name, err)
	}
	if k == nil {
		return nil, errorf(ErrKeyNotFound, "pkcs11: %s has neither a public key nor a certificate with id %s on the token, which crypto11 needs", name, hexID(obj.ID))
	}

	// The signer certificate comes first so that signer.New picks it.
	var certs []*x509.Certificate
	switch {
	case len(opts.Certificates) > 0:
		leaf := slices.IndexFunc(opts.Certificates, func(c *x509.Certificate) bool { return samePublicKey(k.Public(), c) })
		if leaf < 0 {
			return nil, fmt.Errorf("pkcs11: %s: %w (CN=%s)", name, signer.ErrKeyMismatch, opts.Certificates[0].Subject.CommonName)
		}
		certs = append(certs, opts.Certificates[leaf])
		certs = append(certs, opts.Certificates...)
	case tokenCert != nil:
		if !samePublicKey(k.Public(), tokenCert) {
			return nil, fmt.Errorf("pkcs11: %s: the certificate stored with it: %w (CN=%s)", name, signer.ErrKeyMismatch, tokenCert.Subject.CommonName)
		}
		certs = append(certs, tokenCert)
	default:
		return nil, errorf(ErrCertificateNotFound, "pkcs11: no certificate for %s: none on the token has id %s or label %q; give one with -cert", name, hexID(obj.ID), obj.Label)
	}
	certs = append(certs, opts.Chain...)
	certs = append(certs, others...)
	s, err := signer.New(k, certs)
	if err != nil {
		return nil, fmt.Errorf("pkcs11: %s: %w", name, err)
	}
	return &Signer{tok: t, key: k, pub: k.Public(), chain: s.Chain(), label: obj.Label, id: slices.Clone(obj.ID), name: name}, nil
}

// samePublicKey reports whether c certifies pub.
func samePublicKey(pub crypto.PublicKey, c *x509.Certificate) bool {
	k, ok := pub.(interface{ Equal(crypto.PublicKey) bool })
	return ok && c != nil && k.Equal(c.PublicKey)
}

// findPrivateKey finds the one private key that u's object and id select
// and checks that it can sign.
func findPrivateKey(m *p11.Ctx, sh p11.SessionHandle, tokName string, u *URI) (ObjectInfo, error) {
	var sel []*p11.Attribute
	if u.Object != "" {
		sel = append(sel, p11.NewAttribute(p11.CKA_LABEL, u.Object))
	}
	if u.ID != nil {
		sel = append(sel, p11.NewAttribute(p11.CKA_ID, u.ID))
	}
	tmpl := append([]*p11.Attribute{p11.NewAttribute(p11.CKA_CLASS, p11.CKO_PRIVATE_KEY)}, sel...)
	hs, err := findObjects(m, sh, tmpl)
	if err != nil {
		return ObjectInfo{}, fmt.Errorf("pkcs11: looking for the key with %s on %s: %w", u.describeKey(), tokName, err)
	}
	switch len(hs) {
	case 1:
		o := objectInfo(m, sh, hs[0])
		if ok, why := o.supported(); !ok {
			return o, errorf(ErrUnsupportedKey, "pkcs11: key %s on %s %s", o.describe(), tokName, why)
		}
		o.alwaysAuthenticate, _ = boolAttr(m, sh, hs[0], p11.CKA_ALWAYS_AUTHENTICATE)
		return o, nil
	case 0:
	default:
		var ids []string
		for _, h := range hs {
			ids = append(ids, objectInfo(m, sh, h).describe())
		}
		slices.Sort(ids)
		return ObjectInfo{}, fmt.Errorf("pkcs11: %d private keys with %s on %s: %s; add id= or object= to select one",
			len(hs), u.describeKey(), tokName, strings.Join(ids, ", "))
	}

	// No private key: say what the URI names instead, if anything.
	others, err := findObjects(m, sh, sel)
	if err != nil {
		return ObjectInfo{}, fmt.Errorf("pkcs11: looking for objects with %s on %s: %w", u.describeKey(), tokName, err)
	}
	var described []string
	for _, h := range others {
		o := objectInfo(m, sh, h)
		if o.Class == "secret-key" {
			_, why := o.supported()
			return o, errorf(ErrUnsupportedKey, "pkcs11: key %s on %s %s", o.describe(), tokName, why)
		}
		described = append(described, fmt.Sprintf("%s %s", o.Class, o.describe()))
	}
	if len(described) > 0 {
		return ObjectInfo{}, errorf(ErrKeyNotFound, "pkcs11: no private key with %s on %s, only: %s",
			u.describeKey(), tokName, strings.Join(described, ", "))
	}
	keys, _ := findObjects(m, sh, []*p11.Attribute{p11.NewAttribute(p11.CKA_CLASS, p11.CKO_PRIVATE_KEY)})
	var names []string
	for _, h := range keys {
		names = append(names, objectInfo(m, sh, h).describe())
	}
	slices.Sort(names)
	have := "there are no private keys"
	if len(names) > 0 {
		have = "private keys: " + strings.Join(names, ", ")
	}
	return ObjectInfo{}, errorf(ErrKeyNotFound, "pkcs11: no private key with %s on %s (%s)", u.describeKey(), tokName, have)
}

// tokenCertificates returns the certificate on the token for the key obj
// (same CKA_ID, else same CKA_LABEL), if any, and all the other X.509
// certificates on the token.
func tokenCertificates(m *p11.Ctx, sh p11.SessionHandle, tokName string, obj ObjectInfo) (*x509.Certificate, []*x509.Certificate, error) {
	hs, err := findObjects(m, sh, []*p11.Attribute{p11.NewAttribute(p11.CKA_CLASS, p11.CKO_CERTIFICATE)})
	if err != nil {
		return nil, nil, fmt.Errorf("pkcs11: listing the certificates on %s: %w", tokName, err)
	}
	var byID, byLabel *x509.Certificate
	var all []*x509.Certificate
	for _, h := range hs {
		o := objectInfo(m, sh, h)
		if o.Certificate == nil {
			continue
		}
		switch {
		case byID == nil && len(obj.ID) > 0 && string(o.ID) == string(obj.ID):
			byID = o.Certificate
		case byLabel == nil && obj.Label != "" && o.Label == obj.Label:
			byLabel = o.Certificate
		}
		all = append(all, o.Certificate)
	}
	if byID != nil {
		return byID, all, nil
	}
	return byLabel, all, nil
}

// Close logs out of every token, closing the crypto11 contexts and their
// sessions after the signatures under way have finished, and unloads the
// modules. Signers from p fail with ErrClosed afterwards, as do Open and
// List. Closing a closed Pool does nothing.
func (p *Pool) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	var errs []error
	for _, t := range p.tokens {
		if err := t.close(); err != nil {
			errs = append(errs, err)
		}
	}
	p.tokens = nil
	return errors.Join(errs...)
}

// close closes t's context once the signatures under way are done.
func (t *token) close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil
	}
	t.closed = true
	if err := t.ctx.Close(); err != nil {
		return fmt.Errorf("pkcs11: closing %s in PKCS#11 module %s: %w", t.name, t.display, err)
	}
	return nil
}
