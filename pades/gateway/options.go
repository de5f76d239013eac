package gateway

import (
	"fmt"
	"net/http"
	"net/textproto"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"hashsign/pades"
)

// PasswordHeader carries the password of an encrypted PDF. It is taken
// from this header only, never from the query, so that it stays out of
// URLs and logs.
const PasswordHeader = "X-PDF-Password"

// OptionHeaderPrefix starts the headers that carry signature options, as
// the query parameters do: Pades-Level: B-T is ?level=B-T.
const OptionHeaderPrefix = "Pades-"

// maxOptionBytes bounds the value of one option.
const maxOptionBytes = 4 << 10

// option is a signature option of a request: a query parameter, or the
// header OptionHeaderPrefix + its name.
type option struct {
	name string
	set  func(s *Server, o *pades.SignOptions, v string) error
}

// options are the signature options that requests may give.
var options = []option{
	{"level", func(s *Server, o *pades.SignOptions, v string) error {
		l, err := pades.ParseLevel(v)
		if err != nil {
			return err
		}
		if l >= pades.LevelBT && o.TSA == nil {
			return fmt.Errorf("level %v needs a time-stamping authority: the gateway has none (signature.tsa)", l)
		}
		o.Level = l
		return nil
	}},
	{"hash", func(s *Server, o *pades.SignOptions, v string) error {
		h, err := pades.ParseHash(v)
		o.Hash = h
		return err
	}},
	{"field", func(s *Server, o *pades.SignOptions, v string) error { o.FieldName = v; return nil }},
	{"new-field", func(s *Server, o *pades.SignOptions, v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("%q is not true or false", v)
		}
		o.NewField = b
		return nil
	}},
	{"page", func(s *Server, o *pades.SignOptions, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return fmt.Errorf("%q is not a page number", v)
		}
		o.Page = n
		return nil
	}},
	{"signer", func(s *Server, o *pades.SignOptions, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return fmt.Errorf("%q is not a signer number (1 or more)", v)
		}
		o.Signer = n
		return nil
	}},
	{"rect", func(s *Server, o *pades.SignOptions, v string) error {
		r, err := pades.ParseRect(v)
		o.Rect = &r
		return err
	}},
	{"tag", func(s *Server, o *pades.SignOptions, v string) error { o.Tag = v; return nil }},
	{"tag-size", func(s *Server, o *pades.SignOptions, v string) error {
		sz, err := pades.ParseSize(v)
		o.TagSize = sz
		return err
	}},
	{"appearance", func(s *Server, o *pades.SignOptions, v string) error {
		a := &pades.Appearance{}
		if o.Appearance != nil {
			*a = *o.Appearance // keeps a configured image and font
		}
		a.Template = v
		if err := a.Check(); err != nil {
			return err
		}
		o.Appearance = a
		return nil
	}},
	{"certify", func(s *Server, o *pades.SignOptions, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 3 {
			return fmt.Errorf("%q: use 1 (no changes), 2 (form filling and signing) or 3 (also annotations)", v)
		}
		o.Certify = pades.CertifyLevel(n)
		return nil
	}},
	{"lock", func(s *Server, o *pades.SignOptions, v string) error {
		l, err := pades.ParseLock(v)
		o.Lock = l
		return err
	}},
	{"reason", func(s *Server, o *pades.SignOptions, v string) error { o.Info.Reason = v; return nil }},
	{"location", func(s *Server, o *pades.SignOptions, v string) error { o.Info.Location = v; return nil }},
	{"name", func(s *Server, o *pades.SignOptions, v string) error { o.Info.Name = v; return nil }},
	{"contact", func(s *Server, o *pades.SignOptions, v string) error { o.Info.ContactInfo = v; return nil }},
}

// OptionNames lists the names of the signature options that /v1/sign and
// /v1/batches take, as query parameters or headers.
func OptionNames() []string {
	var names []string
	for _, o := range options {
		names = append(names, o.name)
	}
	return names
}

// requestOptions returns the signature options of r: the configured
// defaults, changed by r's query parameters and option headers, and the
// password of X-PDF-Password. An unknown option, one given twice with two
// values, or a bad value is a 400.
func (s *Server) requestOptions(r *http.Request) (*pades.SignOptions, []byte, *apiError) {
	o := s.defaults
	query := r.URL.Query()
	for name := range query {
		if !slices.ContainsFunc(options, func(op option) bool { return op.name == name }) {
			return nil, nil, badRequest("unknown query parameter %q (the options are %s)", name, strings.Join(OptionNames(), ", "))
		}
	}
	for name := range r.Header {
		if rest, ok := strings.CutPrefix(name, OptionHeaderPrefix); ok {
			if !slices.ContainsFunc(options, func(op option) bool { return strings.EqualFold(op.name, rest) }) {
				return nil, nil, badRequest("unknown option header %s (the options are %s, after %s)", name, strings.Join(OptionNames(), ", "), OptionHeaderPrefix)
			}
		}
	}
	for _, op := range options {
		var vals []string
		vals = append(vals, query[op.name]...)
		vals = append(vals, r.Header.Values(textproto.CanonicalMIMEHeaderKey(OptionHeaderPrefix+op.name))...)
		if len(vals) == 0 {
			continue
		}
		for _, v := range vals[1:] {
			if v != vals[0] {
				return nil, nil, badRequest("option %s is given twice, with two values", op.name)
			}
		}
		v := vals[0]
		if len(v) > maxOptionBytes || !utf8.ValidString(v) {
			return nil, nil, badRequest("option %s: the value is not UTF-8 text of at most %d bytes", op.name, maxOptionBytes)
		}
		if err := op.set(s, &o, v); err != nil {
			return nil, nil, badRequest("option %s: %v", op.name, err)
		}
	}
	var password []byte
	if p := r.Header.Get(PasswordHeader); p != "" {
		password = []byte(p)
	}
	return &o, password, nil
}
