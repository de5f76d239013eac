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

// raise takes a document just signed at B-T (or B-B) to the level asked:
// it appends the DSS and, for B-LTA, a document timestamp.
func raise(ctx context.Context, f File, size int64, opts *SignOptions, vriKey string, leaves, pool []*x509.Certificate) (int64, error) {
	if opts.Level < LevelBLT {
		return size, nil
	}
	if opts.Fetcher == nil {
		return 0, errors.New("B-LT needs a revocation data fetcher")
	}
	vd, err := opts.Fetcher.Collect(ctx, leaves, pool)
	if err != nil {
		return 0, fmt.Errorf("collecting validation data for B-LT: %w", err)
	}
	size, err = AddDSS(ctx, f, size, FromValidationData(vd, vriKey), opts.Password)
	if err != nil {
		return 0, fmt.Errorf("adding the DSS: %w", err)
	}
	if opts.Level < LevelBLTA {
		return size, nil
	}
	return addDocTimeStamp(ctx, f, size, opts.TSA, opts.Fetcher, opts.Hash, opts.Password, vd)
}

// addDocTimeStamp appends a document timestamp and, when its TSA's
// validation data is not in the DSS yet, a DSS update with it.
func addDocTimeStamp(ctx context.Context, f File, size int64, tsa *ltv.TSAClient, fetcher *ltv.Fetcher, h crypto.Hash, password []byte, have *ltv.ValidationData) (int64, error) {
	if tsa == nil || len(tsa.URLs) == 0 {
		return 0, errors.New("a document timestamp needs a TSA (-tsa)")
	}
	if h == 0 {
		h = crypto.SHA256
	}
	reserve := timestampReserve
	for attempt := 0; ; attempt++ {
		p, err := AppendPrepare(ctx, f, size, &PrepareOptions{Hash: h, ContentsSize: reserve, Password: password, DocTimeStamp: true})
		if err != nil {
			return 0, err
		}
		tok, err := tsa.Timestamp(ctx, p.Digest, h)
		if err != nil {
			return 0, fmt.Errorf("document timestamp: %w", err)
		}
		err = EmbedTimeStamp(f, p, tok.DER)
		var tooSmall *ContentsTooSmallError
		if errors.As(err, &tooSmall) && attempt == 0 {
			reserve = tooSmall.Need + 512
			if err := truncate(f, size); err != nil {
				return 0, err
			}
			continue
		}
		if err != nil {
			return 0, err
		}
		size = p.Size
		if fetcher == nil || (have != nil && containsCert(have.Certs, tok.Signer)) {
			return size, nil
		}
		vd, err := fetcher.Collect(ctx, []*x509.Certificate{tok.Signer}, tok.Certificates)
		if err != nil {
			return 0, fmt.Errorf("collecting validation data for the document timestamp: %w", err)
		}
		return AddDSS(ctx, f, size, FromValidationData(vd), password)
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

// truncate cuts f back to size when it can be.
func truncate(f File, size int64) error {
	t, ok := f.(interface{ Truncate(int64) error })
	if !ok {
		return errors.New("the timestamp did not fit its placeholder and the output cannot be truncated to try again")
	}
	return t.Truncate(size)
}

// ExtendOptions controls Extend.
type ExtendOptions struct {
	Level    Level // B-LT or B-LTA
	TSA      *ltv.TSAClient
	Fetcher  *ltv.Fetcher
	Hash     crypto.Hash
	Password []byte
}

// ExtendResult says what Extend did.
type ExtendResult struct {
	Signatures int   // signatures and document timestamps covered
	Size       int64 // new size of the file
	// CertifiedNoChanges is set when the document is certified with
	// DocMDP /P 1: ISO 32000-2 allows DSS and document timestamp updates,
	// but some viewers still flag them.
	CertifiedNoChanges bool
}

// Extend raises the signed PDF f (of the given size) to B-LT or B-LTA: it
// appends the validation data of every signature and document timestamp
// in the file, whoever made them, and for B-LTA a document timestamp. On a
// B-LTA file this renews the archive timestamp. Earlier bytes are never
// touched.
func Extend(ctx context.Context, f File, size int64, opts *ExtendOptions) (*ExtendResult, error) {
	if opts.Level < LevelBLT {
		return nil, fmt.Errorf("extend: level %v: use B-LT or B-LTA", opts.Level)
	}
	if opts.Fetcher == nil {
		return nil, errors.New("extend: a revocation data fetcher is needed")
	}
	doc, err := Open(f, size, opts.Password)
	if err != nil {
		return nil, err
	}
	res := &ExtendResult{}
	if p, err := doc.docMDP(); err == nil && p == 1 {
		res.CertifiedNoChanges = true
	}
	fields, err := doc.signatureFields()
	if err != nil {
		return nil, err
	}
	var leaves, pool []*x509.Certificate
	var vriKeys []string
	for _, fl := range fields {
		if fl.value == nil {
			continue
		}
		contents, _ := fl.value.Get("Contents").(pdf.String)
		if len(contents.Value) == 0 {
			continue
		}
		der := contents.Value // both parsers skip the zero padding
		if fl.value.Get("SubFilter") == pdf.Name("ETSI.RFC3161") {
			tok, err := ltv.ParseToken(der)
			if err != nil {
				return nil, fmt.Errorf("document timestamp %q: %w", fl.name, err)
			}
			leaves = append(leaves, tok.Signer)
			pool = append(pool, tok.Certificates...)
		} else {
			sd, err := cms.Parse(der)
			if err != nil {
				return nil, fmt.Errorf("signature %q: %w", fl.name, err)
			}
			if sd.Signer == nil {
				return nil, fmt.Errorf("signature %q: its CMS does not carry the signer's certificate", fl.name)
			}
			leaves = append(leaves, sd.Signer)
			pool = append(pool, sd.Certificates...)
			for _, v := range sd.SignatureTimeStampTokens() {
				tok, err := ltv.ParseToken(v)
				if err != nil {
					return nil, fmt.Errorf("signature %q: its signature timestamp: %w", fl.name, err)
				}
				leaves = append(leaves, tok.Signer)
				pool = append(pool, tok.Certificates...)
			}
		}
		vriKeys = append(vriKeys, VRIKey(contents.Value))
		res.Signatures++
	}
	if res.Signatures == 0 {
		return nil, errors.New("extend: the document has no signature")
	}
	vd, err := opts.Fetcher.Collect(ctx, leaves, pool)
	if err != nil {
		return nil, fmt.Errorf("collecting validation data: %w", err)
	}
	size, err = AddDSS(ctx, f, size, FromValidationData(vd, vriKeys...), opts.Password)
	if err != nil {
		return nil, fmt.Errorf("adding the DSS: %w", err)
	}
	if opts.Level == LevelBLTA {
		if size, err = addDocTimeStamp(ctx, f, size, opts.TSA, opts.Fetcher, opts.Hash, opts.Password, vd); err != nil {
			return nil, err
		}
	}
	res.Size = size
	return res, nil
}
