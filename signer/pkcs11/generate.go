package pkcs11

import (
	"context"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"slices"
)

// moduleAndPIN returns the checked module path and the PIN that u names.
func moduleAndPIN(u *URI) (path, pin string, hasPIN bool, err error) {
	if path, err = modulePath(u); err != nil {
		return "", "", false, err
	}
	pin, hasPIN, err = u.PIN()
	return path, pin, hasPIN, err
}

// tokenOf returns the logged-in token that uri selects (module, token
// attributes, PIN); uri need not name a key.
func (p *Pool) tokenOf(ctx context.Context, uri string) (*token, error) {
	u, err := ParseURI(uri)
	if err != nil {
		return nil, err
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
	return p.token(u, path, pin, hasPIN)
}

// GenerateKey generates an ECDSA P-256 key pair on the token that uri
// selects, labelled label with a random 16-byte CKA_ID, and returns a
// Signer for it with no certificate (Chain is empty) and the CKA_ID that
// DestroyKey takes. The private key is sensitive and not extractable, as
// crypto11 makes it. Such keys serve short-lived credentials: destroy
// them when they have served.
func (p *Pool) GenerateKey(ctx context.Context, uri, label string) (*Signer, []byte, error) {
	t, err := p.tokenOf(ctx, uri)
	if err != nil {
		return nil, nil, err
	}
	id := make([]byte, 16)
	if _, err := rand.Read(id); err != nil {
		return nil, nil, err
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.closed {
		return nil, nil, fmt.Errorf("pkcs11: generating a key on %s: %w", t.name, ErrClosed)
	}
	k, err := t.ctx.GenerateECDSAKeyPairWithLabel(id, []byte(label), elliptic.P256())
	if err != nil {
		return nil, nil, fmt.Errorf("pkcs11: generating a key on %s: %w", t.name, err)
	}
	name := fmt.Sprintf("key %q (id %s) on %s", label, hexID(id), t.name)
	return &Signer{tok: t, key: k, pub: k.Public(), label: label, id: slices.Clone(id), name: name}, id, nil
}

// DestroyKey destroys the key pair with CKA_ID id on the token that uri
// selects. A key that is not there is not an error.
func (p *Pool) DestroyKey(ctx context.Context, uri string, id []byte) error {
	t, err := p.tokenOf(ctx, uri)
	if err != nil {
		return err
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.closed {
		return fmt.Errorf("pkcs11: destroying a key on %s: %w", t.name, ErrClosed)
	}
	k, err := t.ctx.FindKeyPair(id, nil)
	if err != nil {
		return fmt.Errorf("pkcs11: finding key %s on %s: %w", hexID(id), t.name, err)
	}
	if k == nil {
		return nil
	}
	if err := k.Delete(); err != nil {
		return fmt.Errorf("pkcs11: destroying key %s on %s: %w", hexID(id), t.name, err)
	}
	return nil
}
