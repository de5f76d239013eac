package pades

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"time"

	"hashsign/cms"
	"hashsign/ltv"
	"hashsign/signer"
)

// SignOptions controls Sign.
type SignOptions struct {
	// Hash is the digest algorithm (default SHA-256).
	Hash crypto.Hash
	// PSS selects RSASSA-PSS for RSA keys instead of PKCS#1 v1.5.
	PSS bool
	// Time is written to /M (default: now).
	Time time.Time
	// Info fills /Name, /Reason, /Location and /ContactInfo.
	Info SignatureInfo
	// Password opens encrypted documents.
	Password []byte
	// FieldName names the new signature field.
	FieldName string
	// Page carries the invisible widget (default 1).
	Page int
	// Level is the PAdES baseline level (default B-B). B-T and above need
	// TSA; B-LT and above need Fetcher.
	Level Level
	// TSA makes the signature timestamp (B-T) and the document timestamp
	// (B-LTA).
	TSA *ltv.TSAClient
	// Fetcher collects the certificates and revocation data (B-LT).
	Fetcher *ltv.Fetcher
}

// Output is where Sign writes: a file, or anything that can be written
// sequentially, patched in place and started over.
type Output interface {
	io.Writer
	io.WriterAt
	io.ReaderAt
	io.Seeker
	Truncate(size int64) error
}

// Sign signs the PDF in (of the given size) with s at the PAdES level that
// opts asks (B-B by default) and writes the signed file to out. The
// placeholder is sized from the signer's certificates and algorithm, plus
// room for a timestamp at B-T and above; should the CMS ever not fit, the
// document is prepared again from scratch with a larger one. B-LT appends
// the validation data in a second incremental update and B-LTA a document
// timestamp in a third, both to out.
func Sign(ctx context.Context, in io.ReaderAt, size int64, out Output, s signer.Signer, opts *SignOptions) (*Prepared, error) {
	if opts == nil {
		opts = &SignOptions{}
	}
	chain := s.Chain()
	if len(chain) == 0 {
		return nil, errors.New("sign: the signer has no certificate")
	}
	copts := cms.Options{Hash: opts.Hash, PSS: opts.PSS}
	need, err := cms.MaxSize(chain, s.Public(), copts)
	if err != nil {
		return nil, fmt.Errorf("sizing the signature: %w", err)
	}
	if opts.Level >= LevelBT {
		if opts.TSA == nil || len(opts.TSA.URLs) == 0 {
			return nil, fmt.Errorf("level %v needs a TSA (-tsa)", opts.Level)
		}
		need += timestampReserve
	}
	if opts.Level >= LevelBLT && opts.Fetcher == nil {
		return nil, fmt.Errorf("level %v needs a revocation data fetcher", opts.Level)
	}
	po := PrepareOptions{
		Hash: copts.DigestAlgorithm(), Time: opts.Time, Info: opts.Info, Password: opts.Password,
		FieldName: opts.FieldName, Page: opts.Page, ContentsSize: need,
	}
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			if err := restart(out); err != nil {
				return nil, err
			}
		}
		p, err := Prepare(ctx, in, size, out, &po)
		if err != nil {
			return nil, err
		}
		der, err := cms.Sign(ctx, s, p.Digest, copts)
		if err != nil {
			return nil, fmt.Errorf("signing: %w", err)
		}
		leaves, pool := []*x509.Certificate{chain[0]}, chain
		if opts.Level >= LevelBT {
			var tok *ltv.Token
			if der, tok, err = ltv.SignatureTimestamp(ctx, opts.TSA, der); err != nil {
				return nil, fmt.Errorf("signature timestamp: %w", err)
			}
			leaves = append(leaves, tok.Signer)
			pool = append(append([]*x509.Certificate{}, pool...), tok.Certificates...)
		}
		err = writeContents(out, p, der)
		var tooSmall *ContentsTooSmallError
		if errors.As(err, &tooSmall) && attempt == 0 {
			po.ContentsSize = tooSmall.Need + 256
			continue
		}
		if err != nil {
			return nil, err
		}
		if opts.Level >= LevelBLT {
			if p.Size, err = raise(ctx, out, p.Size, opts, p.VRIKey(der), leaves, pool); err != nil {
				return nil, err
			}
		}
		return p, nil
	}
}

// restart empties out so that the document can be prepared again.
func restart(out Output) error {
	if err := out.Truncate(0); err != nil {
		return fmt.Errorf("restarting output: %w", err)
	}
	if _, err := out.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("restarting output: %w", err)
	}
	return nil
}
