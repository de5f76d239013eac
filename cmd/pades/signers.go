package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"hashsign/pades"
	"hashsign/signer"
)

// signerFlags are the flags that choose the signer, shared by sign and
// batch: a key file, a PKCS#12 file, a PKCS#11 token or a remote service.
type signerFlags struct {
	key, cert, p12, p12Pass, p12PassFile string
	chain                                listFlag
	pk                                   pkcs11Flags
	rf                                   remoteFlags
	verbose                              bool
	// log, when not nil, receives the details that -v sends to standard
	// error (pades serve's logger)
	log *slog.Logger
}

// register adds the signer flags to fs.
func (f *signerFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.key, "key", "", "private key file (PEM: PKCS#8, PKCS#1 or SEC1)")
	fs.StringVar(&f.cert, "cert", "", "signer certificate (PEM); may also hold the chain. With -remote, the service's certificate must be this one")
	fs.Var(&f.chain, "chain", "intermediate certificates (PEM), repeatable")
	fs.StringVar(&f.p12, "p12", "", "PKCS#12 file holding the key and certificates")
	fs.StringVar(&f.p12Pass, "p12-pass", "", "password of the PKCS#12 file")
	fs.StringVar(&f.p12PassFile, "p12-pass-file", "", "file holding the password of the PKCS#12 file")
	f.pk.register(fs)
	f.rf.register(fs)
	fs.BoolVar(&f.verbose, "v", false, "log details, such as the remote signer's retries, to standard error")
}

// logger returns the logger of -v: standard error when it is set,
// nowhere otherwise, so that a failure stays one line.
func (f *signerFlags) logger(stderr io.Writer) *slog.Logger {
	if f.log != nil {
		return f.log
	}
	if !f.verbose {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// open returns the signer that the flags describe, and the closer to call
// when done signing (it logs out of a PKCS#11 token).
func (f *signerFlags) open(ctx context.Context, stderr io.Writer) (signer.Signer, io.Closer, error) {
	switch {
	case f.rf.set():
		if f.key != "" || f.p12 != "" || f.pk.set() {
			return nil, nil, usagef("give one of -remote, -key, -p12 and -pkcs11")
		}
		s, err := f.rf.signer(ctx, f.logger(stderr), f.cert)
		if err != nil {
			return nil, nil, err
		}
		return s, io.NopCloser(nil), nil
	case f.pk.set():
		if f.key != "" || f.p12 != "" {
			return nil, nil, usagef("give one of -key, -p12 and -pkcs11")
		}
		return f.pk.open(ctx, f.cert, f.chain)
	case f.p12 != "" && f.key != "":
		return nil, nil, usagef("give either -key or -p12, not both")
	case f.p12 != "":
		if len(f.chain) > 0 {
			return nil, nil, usagef("-chain goes with -key; a PKCS#12 file carries its own chain")
		}
		pass := f.p12Pass
		if f.p12PassFile != "" {
			b, err := os.ReadFile(f.p12PassFile)
			if err != nil {
				return nil, nil, fmt.Errorf("reading -p12-pass-file: %w", err)
			}
			pass = strings.TrimRight(string(b), "\r\n")
		} else if pass == "" {
			pass = os.Getenv("PADES_P12_PASSWORD")
		}
		s, err := signer.LoadPKCS12(f.p12, pass)
		if errors.Is(err, signer.ErrWrongPassword) && pass == "" {
			return nil, nil, fmt.Errorf("%s is protected by a password: give it with -p12-pass-file, -p12-pass or $PADES_P12_PASSWORD", f.p12)
		}
		if err != nil {
			return nil, nil, err
		}
		return s, io.NopCloser(nil), nil
	case f.key != "":
		if f.cert == "" {
			return nil, nil, usagef("-key needs -cert")
		}
		s, err := signer.LoadKeyFile(f.key, f.cert, f.chain...)
		if err != nil {
			return nil, nil, err
		}
		return s, io.NopCloser(nil), nil
	}
	return nil, nil, usagef("no signer: give -key and -cert, -p12, -pkcs11 URI, or -remote URL -credential ID")
}

// fieldFlags are the flags that place the signature and shape what it
// shows, shared by sign, batch and prepare: a new field, a signer's field,
// a rectangle, text tags, the appearance, certification and locks.
type fieldFlags struct {
	newField                                      bool
	signer, certify                               int
	rect, tag, tagSize, image, template, fontFile string
	lock                                          string
}

// register adds the field flags to fs.
func (f *fieldFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&f.newField, "new-field", false, "add a new field named -field even when the document has empty signature fields (invisible unless -rect or -tag places it)")
	fs.IntVar(&f.signer, "signer", 0, "sign into the first empty field of signer `K`, named SignatorySignature_K_n")
	fs.StringVar(&f.rect, "rect", "", "add a visible field at `x,y,w,h` on -page: points from the bottom-left corner of the page as displayed (after /Rotate, within the /CropBox)")
	fs.StringVar(&f.tag, "tag", "", "add a visible field over each place where this `text` is drawn, its baseline the field's bottom edge")
	fs.StringVar(&f.tagSize, "tag-size", "", "`w,h` in points of the fields that -tag adds (default 180,50)")
	f.registerAppearance(fs)
	fs.IntVar(&f.certify, "certify", 0, "certify the document (the first signature only): DocMDP `level` 1 (no changes), 2 (form filling and signing) or 3 (also annotations)")
	fs.StringVar(&f.lock, "lock", "", "FieldMDP lock that signing the field sets: all, include:A,B or exclude:A,B (field names)")
}

// registerAppearance adds the flags of a visible signature's appearance
// (-image, -appearance, -font) to fs; register adds them too.
func (f *fieldFlags) registerAppearance(fs *flag.FlagSet) {
	fs.StringVar(&f.image, "image", "", "PNG or JPEG `file` shown in the visible signature")
	fs.StringVar(&f.template, "appearance", "", "layout `template` of the visible signature (default: the name, date, reason and location)")
	fs.StringVar(&f.fontFile, "font", "", "TrueType or OpenType `file` for the text of the visible signature (a subset is embedded)")
}

// fieldOptions are the options that the field flags describe.
type fieldOptions struct {
	rect       *pades.Rect
	tagSize    pades.Size
	appearance *pades.Appearance
	lock       *pades.FieldLock
}

// options parses the field flags; page is that of -page.
func (f *fieldFlags) options(page int) (*fieldOptions, error) {
	var o fieldOptions
	var err error
	if page < 1 {
		return nil, usagef("-page %d: pages are numbered from 1", page)
	}
	if f.signer < 0 {
		return nil, usagef("-signer %d: signers are numbered from 1", f.signer)
	}
	if f.rect != "" {
		r, err := pades.ParseRect(f.rect)
		if err != nil {
			return nil, usagef("-rect: %v", err)
		}
		o.rect = &r
	}
	if f.tagSize != "" {
		if f.tag == "" {
			return nil, usagef("-tag-size goes with -tag")
		}
		if o.tagSize, err = pades.ParseSize(f.tagSize); err != nil {
			return nil, usagef("-tag-size: %v", err)
		}
	}
	if f.rect != "" && f.tag != "" {
		return nil, usagef("give -rect or -tag, not both")
	}
	if f.certify < 0 || f.certify > 3 {
		return nil, usagef("-certify %d: use 1 (no changes), 2 (form filling and signing) or 3 (also annotations)", f.certify)
	}
	if f.lock != "" {
		if o.lock, err = pades.ParseLock(f.lock); err != nil {
			return nil, usagef("-lock: %v", err)
		}
	}
	if f.image != "" || f.template != "" || f.fontFile != "" {
		a := &pades.Appearance{Template: f.template}
		if f.image != "" {
			if a.Image, err = os.ReadFile(f.image); err != nil {
				return nil, fmt.Errorf("reading -image: %w", err)
			}
		}
		if f.fontFile != "" {
			if a.Font, err = os.ReadFile(f.fontFile); err != nil {
				return nil, fmt.Errorf("reading -font: %w", err)
			}
		}
		if err := a.Check(); err != nil {
			return nil, usagef("%v", err)
		}
		o.appearance = a
	}
	return &o, nil
}

// signFlags are the flags of sign and batch: the signer, the options of
// the signature, and the level.
type signFlags struct {
	common commonFlags
	field  fieldFlags
	signer signerFlags
	pss    bool
	level  ltvFlags
}

// register adds the flags to fs.
func (f *signFlags) register(fs *flag.FlagSet) {
	f.common.register(fs)
	f.field.register(fs)
	f.signer.register(fs)
	fs.BoolVar(&f.pss, "pss", false, "use RSASSA-PSS for RSA keys")
	f.level.register(fs, "B-B", "B-B, B-T, B-LT or B-LTA")
}

// options returns the signature options that the flags describe.
func (f *signFlags) options() (*pades.SignOptions, error) {
	h, err := f.common.hashAlg()
	if err != nil {
		return nil, err
	}
	setup, err := f.level.build()
	if err != nil {
		return nil, err
	}
	password, err := f.common.pdfPassword()
	if err != nil {
		return nil, err
	}
	fo, err := f.field.options(f.common.page)
	if err != nil {
		return nil, err
	}
	c, ff := &f.common, &f.field
	return &pades.SignOptions{
		Hash: h, PSS: f.pss, Info: c.info(), Password: password,
		FieldName: c.field, NewField: ff.newField, Signer: ff.signer, Page: c.page, Rect: fo.rect, Tag: ff.tag, TagSize: fo.tagSize,
		Appearance: fo.appearance, Certify: pades.CertifyLevel(ff.certify), Lock: fo.lock,
		Level: setup.level, TSA: setup.timestamper(), Validation: setup.fetcher,
	}, nil
}
