package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"hashsign/cms"
	"hashsign/csc"
	"hashsign/internal/atomicfile"
	"hashsign/internal/regularfile"
	"hashsign/pades"
)

// commonFlags are the flags shared by sign and prepare.
type commonFlags struct {
	hash, reason, location, name, contact, password, passwordFile, field string
	page                                                                 int
}

func (c *commonFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.hash, "hash", "sha256", "digest algorithm: sha256, sha384 or sha512")
	fs.StringVar(&c.reason, "reason", "", "/Reason of the signature")
	fs.StringVar(&c.location, "location", "", "/Location of the signature")
	fs.StringVar(&c.name, "name", "", "/Name of the signer")
	fs.StringVar(&c.contact, "contact", "", "/ContactInfo of the signer")
	fs.StringVar(&c.password, "password", "", "password of an encrypted input PDF")
	fs.StringVar(&c.passwordFile, "password-file", "", "file holding the password of an encrypted input PDF")
	fs.StringVar(&c.field, "field", "", "signature field to sign: an existing empty signature field of that `name` (parts joined with '.'), or the name of the new field of -new-field, -rect or -tag (default: the first empty signature field, else a new SignatureN)")
	fs.IntVar(&c.page, "page", 1, "page of the new field that -rect places, or of the invisible signature widget")
}

func (c *commonFlags) hashAlg() (crypto.Hash, error) {
	h, err := pades.ParseHash(c.hash)
	if err != nil {
		return 0, usagef("-hash: %v", err)
	}
	return h, nil
}

func (c *commonFlags) pdfPassword() ([]byte, error) {
	if c.passwordFile != "" {
		b, err := os.ReadFile(c.passwordFile)
		if err != nil {
			return nil, fmt.Errorf("reading -password-file: %w", err)
		}
		return []byte(strings.TrimRight(string(b), "\r\n")), nil
	}
	if c.password != "" {
		return []byte(c.password), nil
	}
	if p, ok := os.LookupEnv("PADES_PDF_PASSWORD"); ok {
		return []byte(p), nil
	}
	return nil, nil
}

func (c *commonFlags) info() pades.SignatureInfo {
	return pades.SignatureInfo{Name: c.name, Reason: c.reason, Location: c.location, ContactInfo: c.contact}
}

// outputFlags are the flags that shape output files.
type outputFlags struct {
	keepMode bool
}

func (o *outputFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&o.keepMode, "keep-mode", false, "give the output the input's permission bits (default: as cp and os.Create, 0666 less the umask, or an existing output's)")
}

// create starts the output file target for the input in.
func (o *outputFlags) create(target string, in *os.File) (*atomicfile.File, error) {
	if !o.keepMode {
		return atomicfile.Create(target)
	}
	st, err := in.Stat()
	if err != nil {
		return nil, err
	}
	return atomicfile.CreateMode(target, st.Mode().Perm())
}

// openInput opens a PDF input, which must be a regular file: a FIFO or a
// device is refused before it is opened (see regularfile.Open).
func openInput(path string) (*os.File, int64, error) {
	return regularfile.Open(path, os.O_RDONLY)
}

func checkPaths(in, out string) error {
	if in == out {
		return usagef("the output must not be the input file (%s): bytes already signed are never rewritten", in)
	}
	if a, err := os.Stat(in); err == nil {
		if b, err := os.Stat(out); err == nil && os.SameFile(a, b) {
			return usagef("the output %s is the input file", out)
		}
	}
	return nil
}

func cmdSign(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("sign", flag.ContinueOnError)
	fs.SetOutput(stdout)
	var sf signFlags
	sf.register(fs)
	var of outputFlags
	of.register(fs)
	pos, err := parseFlags(fs, args, "IN.pdf", "OUT.pdf")
	if err != nil {
		return err
	}
	opts, err := sf.options()
	if err != nil {
		return err
	}
	if err := checkPaths(pos[0], pos[1]); err != nil {
		return err
	}
	s, closer, err := sf.signer.open(ctx, stderr)
	if err != nil {
		return err
	}
	defer closer.Close()
	in, size, err := openInput(pos[0])
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := of.create(pos[1], in)
	if err != nil {
		return err
	}
	defer out.Abort()
	res, err := pades.Sign(ctx, in, size, out, s, opts)
	if err != nil {
		return err
	}
	if err := out.Commit(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "signed %s: field %s, %d bytes, level %v\n", pos[1], res.Field, res.Size, res.Level)
	return nil
}

// preparedJSON is what `pades prepare` prints.
type preparedJSON struct {
	File             string   `json:"file"`
	Field            string   `json:"field"`
	Hash             string   `json:"hash"`
	Digest           string   `json:"digest"`       // hex
	DigestBase64     string   `json:"digestBase64"` // the same, base64
	ByteRange        [4]int64 `json:"byteRange"`
	PlaceholderBytes int      `json:"placeholderBytes"`
	SignedAttributes string   `json:"signedAttributes,omitempty"` // base64 DER, when -cert is given
	SignedAttrsHash  string   `json:"signedAttributesDigest,omitempty"`
}

func cmdPrepare(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("prepare", flag.ContinueOnError)
	fs.SetOutput(stdout)
	var c commonFlags
	c.register(fs)
	var ff fieldFlags
	ff.register(fs)
	var chain listFlag
	cert := fs.String("cert", "", "signer certificate (PEM), used to size the placeholder")
	fs.Var(&chain, "chain", "intermediate certificates (PEM), repeatable")
	size := fs.Int("size", 0, "placeholder size in bytes (default: computed from -cert and -chain)")
	extra := fs.Int("extra", 0, "bytes to reserve beyond the computed size (for unsigned attributes such as a timestamp)")
	pss := fs.Bool("pss", false, "size the placeholder for RSASSA-PSS")
	var of outputFlags
	of.register(fs)
	pos, err := parseFlags(fs, args, "IN.pdf", "PREPARED.pdf")
	if err != nil {
		return err
	}
	h, err := c.hashAlg()
	if err != nil {
		return err
	}
	if err := checkPaths(pos[0], pos[1]); err != nil {
		return err
	}
	var certs []*x509.Certificate
	if *cert != "" {
		paths := append([]string{*cert}, chain...)
		for _, p := range paths {
			cs, err := readCertificates(p)
			if err != nil {
				return err
			}
			certs = append(certs, cs...)
		}
	}
	n := *size
	if n == 0 {
		if len(certs) == 0 {
			return usagef("give -cert (to size the placeholder) or -size")
		}
		if n, err = cms.MaxSize(certs, certs[0].PublicKey, cms.Options{Hash: h, PSS: *pss}); err != nil {
			return fmt.Errorf("sizing the placeholder: %w", err)
		}
	}
	n += *extra
	password, err := c.pdfPassword()
	if err != nil {
		return err
	}
	in, insize, err := openInput(pos[0])
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := of.create(pos[1], in)
	if err != nil {
		return err
	}
	defer out.Abort()
	fo, err := ff.options(c.page)
	if err != nil {
		return err
	}
	if len(certs) > 0 && c.name == "" {
		// the visible signature shows the signer's name, as sign does
		if fo.appearance == nil {
			fo.appearance = &pades.Appearance{}
		}
		fo.appearance.Name = certs[0].Subject.CommonName
	}
	p, err := pades.Prepare(ctx, in, insize, out, &pades.PrepareOptions{
		Hash: h, ContentsSize: n, Info: c.info(), Password: password, Time: time.Now(),
		FieldName: c.field, NewField: ff.newField, Signer: ff.signer, Page: c.page, Rect: fo.rect, Tag: ff.tag, TagSize: fo.tagSize,
		Appearance: fo.appearance, Certify: pades.CertifyLevel(ff.certify), Lock: fo.lock,
	})
	if err != nil {
		return err
	}
	res := preparedJSON{
		File: pos[1], Field: p.Field, Hash: pades.HashName(h), Digest: hex.EncodeToString(p.Digest),
		DigestBase64: base64.StdEncoding.EncodeToString(p.Digest), ByteRange: p.ByteRange, PlaceholderBytes: p.ContentsSize,
	}
	if len(certs) > 0 {
		attrs, err := cms.SignedAttributes(p.Digest, h, certs[0])
		if err != nil {
			return fmt.Errorf("encoding the signed attributes: %w", err)
		}
		ah := h.New()
		ah.Write(attrs)
		res.SignedAttributes = base64.StdEncoding.EncodeToString(attrs)
		res.SignedAttrsHash = hex.EncodeToString(ah.Sum(nil))
	}
	if err := out.Commit(); err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(res)
}

func readCertificates(path string) ([]*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []*x509.Certificate
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		if c, err := x509.ParseCertificate(b); err == nil {
			return []*x509.Certificate{c}, nil
		}
		return nil, fmt.Errorf("%s: no PEM certificate", path)
	}
	return out, nil
}

// readCMS reads a CMS signature file: DER, base64, PEM (PKCS7/CMS), or the
// JSON answer of a hashsvc /v1/cades/sign request, whose validation data
// (when it holds some) is returned too.
func readCMS(path string) ([]byte, *pades.DSS, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	return parseCMS(path, b)
}

// parseCMS reads the contents b of the signature file path: see readCMS.
func parseCMS(path string, b []byte) ([]byte, *pades.DSS, error) {
	if t := bytes.TrimSpace(b); len(t) > 0 && t[0] == '{' {
		var resp csc.CAdESSignResponse
		if err := json.Unmarshal(t, &resp); err != nil || resp.CMS == "" {
			return nil, nil, fmt.Errorf("%s: JSON without a \"cms\" member: not a /v1/cades/sign response", path)
		}
		sig, err := resp.Decode()
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", path, err)
		}
		if len(sig.Certs)+len(sig.OCSPs)+len(sig.CRLs) == 0 {
			return sig.CMS, nil, nil
		}
		return sig.CMS, &pades.DSS{Certs: sig.Certs, OCSPs: sig.OCSPs, CRLs: sig.CRLs}, nil
	}
	if blk, _ := pem.Decode(b); blk != nil {
		return blk.Bytes, nil, nil
	}
	if len(b) > 0 && b[0] == 0x30 {
		return b, nil, nil
	}
	if d, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b))); err == nil && len(d) > 0 && d[0] == 0x30 {
		return d, nil, nil
	}
	return nil, nil, fmt.Errorf("%s: not a CMS signature (DER, base64, PEM or a /v1/cades/sign JSON response)", path)
}

func cmdEmbed(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("embed", flag.ContinueOnError)
	fs.SetOutput(stdout)
	password := fs.String("password", "", "password of an encrypted PDF (for the DSS update)")
	var of outputFlags
	of.register(fs)
	pos, err := parseFlags(fs, args, "PREPARED.pdf", "SIG.p7s|RESPONSE.json", "OUT.pdf")
	if err != nil {
		return err
	}
	if err := checkPaths(pos[0], pos[2]); err != nil {
		return err
	}
	der, dss, err := readCMS(pos[1])
	if err != nil {
		return err
	}
	sd, err := cms.Parse(der)
	if err != nil {
		return fmt.Errorf("%s: %w", pos[1], err)
	}
	in, size, err := openInput(pos[0])
	if err != nil {
		return err
	}
	defer in.Close()
	p, err := pades.FindPlaceholder(ctx, in, size, sd.DigestAlgorithm)
	if err != nil {
		return fmt.Errorf("%s: %w", pos[0], err)
	}
	out, err := of.create(pos[2], in)
	if err != nil {
		return err
	}
	defer out.Abort()
	if _, err := io.Copy(out, io.NewSectionReader(in, 0, size)); err != nil {
		return fmt.Errorf("copying %s: %w", pos[0], err)
	}
	if err := pades.Embed(out, p, der); err != nil {
		return err
	}
	level := "the signature"
	if dss != nil {
		// the validation data that came with the signature: B-LT
		if _, err := pades.AddDSS(ctx, out, p.Size, dss.WithVRI(p.VRIKey(der)), []byte(*password)); err != nil {
			return fmt.Errorf("adding the validation data: %w", err)
		}
		level = "the signature and its validation data (/DSS)"
	}
	if err := out.Commit(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "embedded %s into %s\n", level, pos[2])
	return nil
}

// integrity says whether the bytes and the signature value of a signature
// verify: intact, BROKEN or not checked, with the reason.
func integrity(f pades.SignatureReport) string {
	switch {
	case f.Intact == nil:
		return "not checked (" + f.Problem + ")"
	case *f.Intact:
		return "intact"
	}
	return "BROKEN (" + f.Problem + ")"
}

func cmdInspect(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("inspect", flag.ContinueOnError)
	fs.SetOutput(stdout)
	asJSON := fs.Bool("json", false, "print JSON")
	password := fs.String("password", "", "password of an encrypted PDF")
	pos, err := parseFlags(fs, args, "FILE.pdf")
	if err != nil {
		return err
	}
	in, size, err := openInput(pos[0])
	if err != nil {
		return err
	}
	defer in.Close()
	rep, err := pades.Inspect(ctx, in, size, []byte(*password))
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	fmt.Fprintf(stdout, "%s: PDF %s, %d bytes", pos[0], rep.Version, rep.Size)
	if rep.Encrypted {
		fmt.Fprint(stdout, ", encrypted")
	}
	if rep.DocMDP != 0 {
		fmt.Fprintf(stdout, ", certified (DocMDP /P %d)", rep.DocMDP)
	}
	fmt.Fprintln(stdout)
	if rep.Repaired != "" {
		fmt.Fprintf(stdout, "cross-reference damaged, rebuilt by scanning: %s\n", rep.Repaired)
	}
	fmt.Fprintf(stdout, "revisions (%d, oldest first):\n", len(rep.Revisions))
	for i, r := range rep.Revisions {
		fmt.Fprintf(stdout, "  %d. xref %-6s at %d, %d entries\n", i+1, r.XRef, r.Offset, r.Objects)
	}
	fmt.Fprintf(stdout, "signature fields (%d):\n", len(rep.Fields))
	for _, f := range rep.Fields {
		if !f.Signed {
			fmt.Fprintf(stdout, "  %s: empty%s\n", f.Field, fieldLayout(f))
			continue
		}
		fmt.Fprintf(stdout, "  %s: %s %s, covers %s, %s", f.Field, f.Type, f.SubFilter, f.Covers, integrity(f))
		switch {
		case f.PAdES == nil:
		case *f.PAdES:
			fmt.Fprint(stdout, ", PAdES")
		default:
			fmt.Fprintf(stdout, ", not PAdES (%s)", f.NotPAdES)
		}
		if f.Signer != "" {
			fmt.Fprintf(stdout, ", signer %s", f.Signer)
		}
		fmt.Fprintln(stdout, fieldLayout(f))
	}
	return nil
}

// fieldLayout says where the widgets of a signature field are, whether
// they show, and the FieldMDP locks of the field: "; visible on page 1 at
// x,y,w,h; lock include:A; locked by B".
func fieldLayout(f pades.SignatureReport) string {
	var b strings.Builder
	if len(f.Widgets) == 0 {
		b.WriteString("; no widget")
	}
	for _, w := range f.Widgets {
		vis := "invisible"
		if w.Visible {
			vis = "visible"
		}
		if w.Page == 0 {
			fmt.Fprintf(&b, "; %s, on no page", vis)
			continue
		}
		fmt.Fprintf(&b, "; %s on page %d at %s", vis, w.Page, pades.Rect{X: w.Rect[0], Y: w.Rect[1], W: w.Rect[2], H: w.Rect[3]})
	}
	if f.Lock != "" {
		fmt.Fprintf(&b, "; lock %s", f.Lock)
	}
	if f.LockedBy != "" {
		fmt.Fprintf(&b, "; locked by %s", f.LockedBy)
	}
	return b.String()
}
