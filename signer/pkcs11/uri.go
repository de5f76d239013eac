package pkcs11

import (
	"bufio"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
)

// PINEnv is the environment variable that supplies the token PIN when the
// URI has neither pin-value nor pin-source.
const PINEnv = "PKCS11_PIN"

// URI is a parsed RFC 7512 PKCS #11 URI such as
//
//	pkcs11:token=hashsign;object=signer?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/run/pin
//
// Empty fields match anything. Values are stored decoded.
type URI struct {
	// Library attributes (path), matched against C_GetInfo.
	LibraryManufacturer string
	LibraryDescription  string
	LibraryVersion      string

	// Slot attributes (path), matched against C_GetSlotInfo. HasSlotID
	// reports whether slot-id was given.
	SlotManufacturer string
	SlotDescription  string
	SlotID           uint
	HasSlotID        bool

	// Token attributes (path), matched against C_GetTokenInfo.
	Token        string // token label
	Manufacturer string
	Serial       string
	Model        string

	// Object attributes (path). Object is CKA_LABEL, ID is CKA_ID and Type
	// is one of "private", "public", "cert", "secret-key" and "data".
	Object string
	ID     []byte
	Type   string

	// Query attributes. ModulePath is the PKCS #11 module (shared
	// library) to load. PINValue and PINSource supply the user PIN;
	// PINSource is a file name or a file: URI whose first line is the PIN.
	ModulePath string
	ModuleName string
	PINValue   string
	PINSource  string
}

// pathAttrs and queryAttrs are the attributes ParseURI knows, in the order
// String writes them.
var (
	pathAttrs = []string{
		"library-manufacturer", "library-description", "library-version",
		"slot-manufacturer", "slot-description", "slot-id",
		"token", "manufacturer", "serial", "model",
		"object", "id", "type",
	}
	queryAttrs = []string{"module-path", "module-name", "pin-value", "pin-source"}
)

// ParseURI parses a PKCS #11 URI (RFC 7512). Unknown or repeated
// attributes are errors, as is an object type other than the five that
// RFC 7512 defines. Errors never quote the value of pin-value.
func ParseURI(s string) (*URI, error) {
	rest, ok := cutPrefixFold(s, "pkcs11:")
	if !ok {
		return nil, errors.New(`pkcs11: URI does not start with "pkcs11:"`)
	}
	path, query, _ := strings.Cut(rest, "?")
	u := new(URI)
	seen := make(map[string]bool)
	if err := u.parseAttrs(path, ";", pathAttrs, "path", seen); err != nil {
		return nil, err
	}
	if err := u.parseAttrs(query, "&", queryAttrs, "query", seen); err != nil {
		return nil, err
	}
	return u, nil
}

// cutPrefixFold is strings.CutPrefix with a case-insensitive prefix, as
// URI schemes are.
func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) < len(prefix) || !strings.EqualFold(s[:len(prefix)], prefix) {
		return s, false
	}
	return s[len(prefix):], true
}

func (u *URI) parseAttrs(s, sep string, known []string, part string, seen map[string]bool) error {
	if s == "" {
		return nil
	}
	for _, attr := range strings.Split(s, sep) {
		if attr == "" {
			continue
		}
		name, raw, ok := strings.Cut(attr, "=")
		if !ok {
			return fmt.Errorf("pkcs11: URI %s attribute %q has no value", part, name)
		}
		// RFC 7512 puts module-path and pin-value in the query, but many
		// tools (and our own docs: pkcs11:module-path=...) write them in
		// the path; either place is accepted.
		if !contains(known, name) && !contains(pathAttrs, name) && !contains(queryAttrs, name) {
			return fmt.Errorf("pkcs11: URI %s attribute %q is not supported", part, name)
		}
		if seen[name] {
			return fmt.Errorf("pkcs11: URI attribute %q given more than once", name)
		}
		seen[name] = true
		v, err := url.PathUnescape(raw)
		if err != nil {
			// Do not quote the value: it may be the PIN.
			return fmt.Errorf("pkcs11: URI attribute %q: invalid percent-encoding", name)
		}
		if err := u.set(name, v); err != nil {
			return err
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// set stores the decoded value v of attribute name.
func (u *URI) set(name, v string) error {
	switch name {
	case "library-manufacturer":
		u.LibraryManufacturer = v
	case "library-description":
		u.LibraryDescription = v
	case "library-version":
		u.LibraryVersion = v
	case "slot-manufacturer":
		u.SlotManufacturer = v
	case "slot-description":
		u.SlotDescription = v
	case "slot-id":
		n, err := strconv.ParseUint(v, 10, 0)
		if err != nil {
			return fmt.Errorf("pkcs11: URI attribute slot-id %q is not a decimal number", v)
		}
		u.SlotID, u.HasSlotID = uint(n), true
	case "token":
		u.Token = v
	case "manufacturer":
		u.Manufacturer = v
	case "serial":
		u.Serial = v
	case "model":
		u.Model = v
	case "object":
		u.Object = v
	case "id":
		u.ID = []byte(v)
	case "type":
		switch v {
		case "private", "public", "cert", "secret-key", "data":
		default:
			return fmt.Errorf("pkcs11: URI attribute type %q is not one of private, public, cert, secret-key, data", v)
		}
		u.Type = v
	case "module-path":
		u.ModulePath = v
	case "module-name":
		u.ModuleName = v
	case "pin-value":
		u.PINValue = v
	case "pin-source":
		u.PINSource = v
	}
	return nil
}

// String returns u in RFC 7512 form with the value of pin-value replaced
// by "xxxxx", so that the result can be logged and put in error messages.
func (u *URI) String() string {
	var b strings.Builder
	b.WriteString("pkcs11:")
	sep := ""
	add := func(name, v string, inPath bool) {
		b.WriteString(sep)
		b.WriteString(name)
		b.WriteByte('=')
		b.WriteString(escape(v, inPath))
	}
	for _, name := range pathAttrs {
		if v, present := u.get(name); present {
			add(name, v, true)
			sep = ";"
		}
	}
	first := true
	for _, name := range queryAttrs {
		v, present := u.get(name)
		if !present {
			continue
		}
		if first {
			sep, first = "?", false
		} else {
			sep = "&"
		}
		if name == "pin-value" {
			v = "xxxxx"
		}
		add(name, v, false)
	}
	return b.String()
}

// get returns the value of attribute name and whether it is set.
func (u *URI) get(name string) (string, bool) {
	var v string
	switch name {
	case "library-manufacturer":
		v = u.LibraryManufacturer
	case "library-description":
		v = u.LibraryDescription
	case "library-version":
		v = u.LibraryVersion
	case "slot-manufacturer":
		v = u.SlotManufacturer
	case "slot-description":
		v = u.SlotDescription
	case "slot-id":
		return strconv.FormatUint(uint64(u.SlotID), 10), u.HasSlotID
	case "token":
		v = u.Token
	case "manufacturer":
		v = u.Manufacturer
	case "serial":
		v = u.Serial
	case "model":
		v = u.Model
	case "object":
		v = u.Object
	case "id":
		return string(u.ID), u.ID != nil
	case "type":
		v = u.Type
	case "module-path":
		v = u.ModulePath
	case "module-name":
		v = u.ModuleName
	case "pin-value":
		v = u.PINValue
	case "pin-source":
		v = u.PINSource
	}
	return v, v != ""
}

// escape percent-encodes every byte that is not an RFC 3986 unreserved
// character or one of the few that RFC 7512 lets stand unencoded; "/" is
// encoded only in the path.
func escape(s string, inPath bool) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '-', c == '.', c == '_', c == '~', c == ':', c == '[', c == ']', c == '@', c == '!', c == '$',
			c == '\'', c == '(', c == ')', c == '*', c == '+', c == ',', c == '/' && !inPath:
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// describeKey names the object that u selects for messages, such as
// `label "signer" id 01`.
func (u *URI) describeKey() string {
	var parts []string
	if u.Object != "" {
		parts = append(parts, fmt.Sprintf("label %q", u.Object))
	}
	if u.ID != nil {
		parts = append(parts, "id "+hexID(u.ID))
	}
	return strings.Join(parts, " and ")
}

// hexID formats a CKA_ID for messages.
func hexID(id []byte) string {
	if len(id) == 0 {
		return `""`
	}
	return hex.EncodeToString(id)
}

// PIN returns the user PIN that u supplies: pin-value if present, else the
// first line of the pin-source file, else the PKCS11_PIN environment
// variable. ok is false when none of them is set. Errors never contain the
// PIN.
func (u *URI) PIN() (pin string, ok bool, err error) {
	if u.PINValue != "" {
		return u.PINValue, true, nil
	}
	if u.PINSource != "" {
		name, err := pinSourcePath(u.PINSource)
		if err != nil {
			return "", false, err
		}
		f, err := os.Open(name)
		if err != nil {
			return "", false, fmt.Errorf("pkcs11: reading pin-source: %w", err)
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		if !sc.Scan() {
			if err := sc.Err(); err != nil {
				return "", false, fmt.Errorf("pkcs11: reading pin-source %s: %w", name, err)
			}
			return "", false, fmt.Errorf("pkcs11: pin-source %s is empty", name)
		}
		pin := strings.TrimRight(sc.Text(), "\r")
		if pin == "" {
			return "", false, fmt.Errorf("pkcs11: pin-source %s: first line is empty", name)
		}
		return pin, true, nil
	}
	if pin, ok := os.LookupEnv(PINEnv); ok && pin != "" {
		return pin, true, nil
	}
	return "", false, nil
}

// pinSourcePath returns the file that a pin-source value names: "file:P",
// "file://P" with an absolute P, or a plain path.
func pinSourcePath(src string) (string, error) {
	rest, ok := cutPrefixFold(src, "file:")
	if !ok {
		if strings.HasPrefix(src, "|") || strings.Contains(src, "://") {
			return "", fmt.Errorf("pkcs11: pin-source %q is not supported (want file:PATH)", src)
		}
		return src, nil
	}
	if h, ok := strings.CutPrefix(rest, "//"); ok {
		// file://host/path: only an empty host or localhost.
		host, p, _ := strings.Cut(h, "/")
		if host != "" && host != "localhost" {
			return "", fmt.Errorf("pkcs11: pin-source %q names a remote host", src)
		}
		rest = "/" + p
	}
	if rest == "" {
		return "", errors.New("pkcs11: pin-source file: names no file")
	}
	return rest, nil
}
