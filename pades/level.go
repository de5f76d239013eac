package pades

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"

	"hashsign/cms"
	"hashsign/ltv"
	"hashsign/pades/internal/pdf"
)

// Level is a PAdES baseline level (ETSI EN 319 142-1).
type Level int

// The PAdES baseline levels.
const (
	LevelBB   Level = iota // B-B: the signature
	LevelBT                // B-T: plus a signature timestamp
	LevelBLT               // B-LT: plus the validation data in the /DSS
	LevelBLTA              // B-LTA: plus a document timestamp over it all
)

func (l Level) String() string {
	switch l {
	case LevelBB:
		return "B-B"
	case LevelBT:
		return "B-T"
	case LevelBLT:
		return "B-LT"
	case LevelBLTA:
		return "B-LTA"
	}
	return fmt.Sprintf("Level(%d)", int(l))
}

// ParseLevel parses "B-B", "B-T", "B-LT" or "B-LTA".
func ParseLevel(s string) (Level, error) {
	switch strings.ToUpper(strings.TrimPrefix(strings.ToUpper(s), "PADES-")) {
	case "B-B", "BB":
		return LevelBB, nil
	case "B-T", "BT":
		return LevelBT, nil
	case "B-LT", "BLT":
		return LevelBLT, nil
	case "B-LTA", "BLTA":
		return LevelBLTA, nil
	}
	return 0, fmt.Errorf("unknown PAdES level %q: use B-B, B-T, B-LT or B-LTA", s)
}

// timestampReserve is the room kept for a timestamp token before its size
// is known (a token with a two-certificate RSA chain takes about 3.5 KB).
// Should a token not fit, the document is prepared again with its size.
const timestampReserve = 6144

// raise takes a document just signed at B-T to the level asked: it
// appends the DSS and, for B-LTA, a document timestamp.
func raise(ctx context.Context, f File, size int64, o *SignOptions, vriKey string, leaves, pool []*x509.Certificate) (int64, error) {
	vd, err := o.Validation.Collect(ctx, leaves, pool)
	if err != nil {
		return 0, fmt.Errorf("collecting validation data for B-LT: %w", err)
	}
	size, err = AddDSS(ctx, f, size, FromValidationData(vd, vriKey), o.Password)
	if err != nil {
		return 0, fmt.Errorf("adding the DSS: %w", err)
	}
	if o.Level < LevelBLTA {
		return size, nil
	}
	return archiveTimestamp(ctx, f, size, o.TSA, o.Validation, o.Hash, o.Password, vd)
}

// archiveTimestamp appends the document timestamp of B-LTA over a file
// whose DSS holds the validation data have, and, when that lacks the
// validation data of the timestamp's TSA, a DSS update with it (for the
// next renewal).
func archiveTimestamp(ctx context.Context, f File, size int64, tsa Timestamper, vs ValidationSource, h crypto.Hash, password []byte, have *ltv.ValidationData) (int64, error) {
	size, tok, _, err := appendDocTimeStamp(ctx, f, size, tsa, h, password)
	if err != nil {
		return 0, err
	}
	if have != nil && containsCert(have.Certs, tok.Signer) {
		return size, nil
	}
	vd, err := vs.Collect(ctx, []*x509.Certificate{tok.Signer}, tok.Certificates)
	if err != nil {
		return 0, fmt.Errorf("collecting validation data for the document timestamp: %w", err)
	}
	return AddDSS(ctx, f, size, FromValidationData(vd), password)
}

// appendDocTimeStamp appends a document timestamp to f and returns the new
// size, the token and its VRI key.
func appendDocTimeStamp(ctx context.Context, f File, size int64, tsa Timestamper, h crypto.Hash, password []byte) (int64, *ltv.Token, string, error) {
	if tsa == nil {
		return 0, nil, "", errors.New("a document timestamp needs a time-stamping authority (TSA)")
	}
	if h == 0 {
		h = crypto.SHA256
	}
	reserve := timestampReserve
	for attempt := 0; ; attempt++ {
		p, err := AppendPrepare(ctx, f, size, &PrepareOptions{Hash: h, ContentsSize: reserve, Password: password, DocTimeStamp: true})
		if err != nil {
			return 0, nil, "", err
		}
		tok, err := tsa.Timestamp(ctx, p.Digest, h)
		if err != nil {
			return 0, nil, "", fmt.Errorf("document timestamp: %w", err)
		}
		err = EmbedTimeStamp(f, p, tok.DER)
		if tooSmall, ok := errors.AsType[*ContentsTooSmallError](err); ok && attempt == 0 {
			reserve = tooSmall.Need + 512
			if err := f.Truncate(size); err != nil {
				return 0, nil, "", fmt.Errorf("cutting the output back to try again: %w", err)
			}
			continue
		}
		if err != nil {
			return 0, nil, "", err
		}
		return p.Size, tok, p.VRIKey(tok.DER), nil
	}
}

func containsCert(list []*x509.Certificate, c *x509.Certificate) bool {
	for _, x := range list {
		if c != nil && x.Equal(c) {
			return true
		}
	}
	return false
}

// ExtendOptions controls Extend. Level B-LT and B-LTA need Validation;
// B-LTA, and a signature without a timestamp of its own at any level, need
// TSA.
type ExtendOptions struct {
	// Level is B-LT or B-LTA; zero means B-LTA.
	Level Level
	// TSA makes the document timestamps.
	TSA Timestamper
	// Validation collects the certificates and revocation data.
	Validation ValidationSource
	// Hash is the digest algorithm of the document timestamps (default
	// SHA-256).
	Hash crypto.Hash
	// Password opens encrypted documents.
	Password []byte
}

// ExtendResult says what Extend did.
type ExtendResult struct {
	// Size is the new size of the file.
	Size int64
	// Level is the level the file reached.
	Level Level
	// Signatures counts the signatures and document timestamps whose
	// validation data was added, the one Extend added first included.
	Signatures int
	// Timestamped is set when a document timestamp was added first, to
	// give signatures that had no timestamp of their own a proven time
	// (B-T).
	Timestamped bool
	// CertifiedNoChanges is set when the document is certified with
	// DocMDP /P 1: ISO 32000-2 allows DSS and document timestamp updates,
	// but some viewers still flag them.
	CertifiedNoChanges bool
}

// Extend raises the signed PDF f (of the given size) to B-LT or B-LTA,
// whoever made its signatures, without touching the earlier bytes.
//
// A signature that has no time of its own (no signature timestamp, no
// document timestamp after it: any B-B signature) first gets one: a
// document timestamp over the file, which takes it to B-T. Then the
// validation data of every signature and document timestamp, gathered
// after that time, goes into the /DSS (B-LT), and for B-LTA another
// document timestamp covers the DSS. On a B-LTA file this renews the
// archive timestamp.
func Extend(ctx context.Context, f File, size int64, opts *ExtendOptions) (*ExtendResult, error) {
	var o ExtendOptions
	if opts != nil {
		o = *opts
	}
	if o.Level == LevelBB {
		o.Level = LevelBLTA
	}
	if o.Level != LevelBLT && o.Level != LevelBLTA {
		return nil, fmt.Errorf("extend: level %v: use B-LT or B-LTA", o.Level)
	}
	if o.Validation == nil {
		return nil, errors.New("extend: a source of validation data is needed")
	}
	if o.Level == LevelBLTA && o.TSA == nil {
		return nil, errors.New("extend: B-LTA needs a time-stamping authority (TSA)")
	}
	doc, err := openDocument(f, size, o.Password, 0)
	if err != nil {
		return nil, err
	}
	res := &ExtendResult{Level: o.Level}
	if p, err := doc.docMDP(); err == nil && p == 1 {
		res.CertifiedNoChanges = true
	}
	sigs, err := doc.signedFields()
	if err != nil {
		return nil, err
	}
	if len(sigs) == 0 {
		return nil, errors.New("extend: the document has no signature")
	}
	var leaves, pool []*x509.Certificate
	var vriKeys []string
	var untimed []string
	for _, s := range sigs {
		leaves = append(leaves, s.leaves...)
		pool = append(pool, s.pool...)
		vriKeys = append(vriKeys, s.vriKey)
		if !s.timed && !timestampedAfter(sigs, s) {
			untimed = append(untimed, s.name)
		}
	}
	res.Signatures = len(sigs)
	if len(untimed) > 0 {
		if o.TSA == nil {
			return nil, fmt.Errorf("extend: signature %q has no timestamp of its own: giving it its time needs a time-stamping authority (TSA)", untimed[0])
		}
		var tok *ltv.Token
		var key string
		if size, tok, key, err = appendDocTimeStamp(ctx, f, size, o.TSA, o.Hash, o.Password); err != nil {
			return nil, err
		}
		leaves = append(leaves, tok.Signer)
		pool = append(pool, tok.Certificates...)
		vriKeys = append(vriKeys, key)
		res.Signatures++
		res.Timestamped = true
	}
	vd, err := o.Validation.Collect(ctx, leaves, pool)
	if err != nil {
		return nil, fmt.Errorf("collecting validation data: %w", err)
	}
	if size, err = AddDSS(ctx, f, size, FromValidationData(vd, vriKeys...), o.Password); err != nil {
		return nil, fmt.Errorf("adding the DSS: %w", err)
	}
	if o.Level == LevelBLTA {
		if size, err = archiveTimestamp(ctx, f, size, o.TSA, o.Validation, o.Hash, o.Password, vd); err != nil {
			return nil, err
		}
	}
	res.Size = size
	return res, nil
}

// signedField is a signature or document timestamp of a file, as Extend
// sees it.
type signedField struct {
	name   string
	docTS  bool  // a document timestamp
	end    int64 // the end of its byte range
	timed  bool  // it carries its own time: a signature timestamp, or it is a timestamp
	vriKey string
	leaves []*x509.Certificate // the signer and the TSAs
	pool   []*x509.Certificate // the certificates it carries
}

// timestampedAfter reports whether a document timestamp of sigs covers s.
func timestampedAfter(sigs []signedField, s signedField) bool {
	for _, t := range sigs {
		if t.docTS && t.end > s.end {
			return true
		}
	}
	return false
}

// signedFields reads the signatures and document timestamps of the file.
func (d *document) signedFields() ([]signedField, error) {
	fields, err := d.signatureFields()
	if err != nil {
		return nil, err
	}
	var out []signedField
	for _, fl := range fields {
		if fl.Value == nil {
			continue
		}
		contents, _ := fl.Value.Get("Contents").(pdf.String)
		if len(contents.Value) == 0 {
			continue
		}
		s := signedField{name: fl.Name, vriKey: VRIKey(contents.Value)}
		if br, ok := fl.Value.Get("ByteRange").(pdf.Array); ok && len(br) == 4 {
			a, _ := pdf.Int(br[2])
			b, _ := pdf.Int(br[3])
			s.end = a + b
		}
		der := contents.Value // both parsers skip the zero padding
		if fl.Value.Get("SubFilter") == pdf.Name("ETSI.RFC3161") {
			tok, err := ltv.ParseToken(der)
			if err != nil {
				return nil, fmt.Errorf("document timestamp %q: %w", fl.Name, err)
			}
			s.docTS, s.timed = true, true
			s.leaves, s.pool = []*x509.Certificate{tok.Signer}, tok.Certificates
			out = append(out, s)
			continue
		}
		sd, err := cms.Parse(der)
		if err != nil {
			return nil, fmt.Errorf("signature %q: %w", fl.Name, err)
		}
		if sd.Signer == nil {
			return nil, fmt.Errorf("signature %q: its CMS does not carry the signer's certificate", fl.Name)
		}
		s.leaves, s.pool = []*x509.Certificate{sd.Signer}, sd.Certificates
		for _, v := range sd.SignatureTimeStampTokens() {
			tok, err := ltv.ParseToken(v)
			if err != nil {
				return nil, fmt.Errorf("signature %q: its signature timestamp: %w", fl.Name, err)
			}
			s.timed = true
			s.leaves = append(s.leaves, tok.Signer)
			s.pool = append(s.pool, tok.Certificates...)
		}
		out = append(out, s)
	}
	return out, nil
}
