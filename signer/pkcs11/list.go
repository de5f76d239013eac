package pkcs11

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	p11 "github.com/miekg/pkcs11"
)

// TokenInfo describes a token found by List.
type TokenInfo struct {
	Slot         uint
	Label        string
	Manufacturer string
	Model        string
	Serial       string

	// Initialized reports whether the token has been initialized;
	// uninitialized tokens have no objects and no label.
	Initialized bool
	// LoginRequired reports whether private objects need a PIN.
	LoginRequired bool
	// LoggedIn reports whether List logged in, so that Objects includes
	// private objects. LoginError says why logging in failed.
	LoggedIn   bool
	LoginError error

	// Objects lists the keys, certificates and other objects that the
	// URI's object, id and type select, ordered by label, class and id.
	Objects []ObjectInfo
}

// List returns the tokens of the module that uri names which match its
// token attributes, with their objects that match its object, id and type
// attributes. uri needs only module-path, as in
// "pkcs11:?module-path=/usr/lib/softhsm/libsofthsm2.so".
//
// When a PIN is available (pin-value, pin-source or PKCS11_PIN), List logs
// in to each matching token that needs a login to list its private objects
// too; a refused PIN is reported in TokenInfo.LoginError and the token's
// public objects are listed. Otherwise only public objects are listed.
// List never reads secret values.
func (p *Pool) List(ctx context.Context, uri string) ([]TokenInfo, error) {
	u, err := ParseURI(uri)
	if err != nil {
		return nil, err
	}
	path, pin, hasPIN, err := moduleAndPIN(u)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, fmt.Errorf("pkcs11: listing %s: %w", u, ErrClosed)
	}
	var out []TokenInfo
	err = withModule(path, u.ModulePath, func(m *p11.Ctx, _ bool) error {
		matches, all, err := findTokens(m, u, u.ModulePath)
		if err != nil {
			return err
		}
		for _, st := range all {
			if err := ctx.Err(); err != nil {
				return err
			}
			ti := TokenInfo{
				Slot: st.slot, Label: st.info.Label, Manufacturer: st.info.ManufacturerID,
				Model: st.info.Model, Serial: st.info.SerialNumber,
				Initialized:   st.info.Flags&p11.CKF_TOKEN_INITIALIZED != 0,
				LoginRequired: st.info.Flags&p11.CKF_LOGIN_REQUIRED != 0,
			}
			matched := false
			for _, mt := range matches {
				matched = matched || mt.slot == st.slot
			}
			if !matched {
				// Uninitialized tokens never match, but are shown when
				// no particular token was asked for.
				if !ti.Initialized && tokenAttrsEmpty(u) {
					out = append(out, ti)
				}
				continue
			}
			if err := listObjects(m, st, u, pin, hasPIN, &ti); err != nil {
				return err
			}
			out = append(out, ti)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// tokenAttrsEmpty reports whether u selects no particular token.
func tokenAttrsEmpty(u *URI) bool {
	return u.Token == "" && u.Serial == "" && u.Manufacturer == "" && u.Model == "" &&
		!u.HasSlotID && u.SlotDescription == "" && u.SlotManufacturer == ""
}

// listObjects fills ti.Objects for the token st, logging in first when a
// PIN is available and needed.
func listObjects(m *p11.Ctx, st slotToken, u *URI, pin string, hasPIN bool, ti *TokenInfo) error {
	sh, err := m.OpenSession(st.slot, p11.CKF_SERIAL_SESSION)
	if err != nil {
		return fmt.Errorf("pkcs11: opening a session on %s: %w", tokenName(st.info), err)
	}
	// Closing the last session of the application on a token logs out.
	defer m.CloseSession(sh)
	if ti.LoginRequired && hasPIN {
		if st.info.Flags&p11.CKF_USER_PIN_LOCKED != 0 {
			ti.LoginError = errorf(ErrPINLocked, "pkcs11: %s: the user PIN is locked", tokenName(st.info))
		} else if err := m.Login(sh, p11.CKU_USER, pin); err != nil && !isCKR(err, p11.CKR_USER_ALREADY_LOGGED_IN) {
			ti.LoginError = loginError(tokenName(st.info), err)
		} else {
			ti.LoggedIn = true
		}
	}
	var tmpl []*p11.Attribute
	if u.Object != "" {
		tmpl = append(tmpl, p11.NewAttribute(p11.CKA_LABEL, u.Object))
	}
	if u.ID != nil {
		tmpl = append(tmpl, p11.NewAttribute(p11.CKA_ID, u.ID))
	}
	if class, ok := map[string]uint{
		"private": p11.CKO_PRIVATE_KEY, "public": p11.CKO_PUBLIC_KEY, "cert": p11.CKO_CERTIFICATE,
		"secret-key": p11.CKO_SECRET_KEY, "data": p11.CKO_DATA,
	}[u.Type]; ok {
		tmpl = append(tmpl, p11.NewAttribute(p11.CKA_CLASS, class))
	}
	hs, err := findObjects(m, sh, tmpl)
	if err != nil {
		return fmt.Errorf("pkcs11: listing the objects of %s: %w", tokenName(st.info), err)
	}
	for _, h := range hs {
		ti.Objects = append(ti.Objects, objectInfo(m, sh, h))
	}
	order := map[string]int{"private": 1, "public": 2, "cert": 3, "secret-key": 4, "data": 5}
	slices.SortStableFunc(ti.Objects, func(a, b ObjectInfo) int {
		return cmp.Or(strings.Compare(a.Label, b.Label), cmp.Compare(order[a.Class], order[b.Class]),
			strings.Compare(a.Class, b.Class), bytes.Compare(a.ID, b.ID))
	})
	return nil
}
