package pades

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"hash"
	"io"
	"time"

	"hashsign/cms"
	"hashsign/ltv"
	"hashsign/signer"
)

// Timestamper gets RFC 3161 time-stamp tokens over a digest: the signature
// timestamps of level B-T and the document timestamps of B-T (for
// signatures made without one) and B-LTA. *ltv.TSAClient is one.
type Timestamper interface {
	Timestamp(ctx context.Context, digest []byte, h crypto.Hash) (*ltv.Token, error)
}

// ValidationSource collects the validation data of certificates: their
// paths and the OCSP responses or CRLs of every certificate on them (level
// B-LT). pool holds candidate issuers. *ltv.Fetcher is one.
type ValidationSource interface {
	Collect(ctx context.Context, leaves, pool []*x509.Certificate) (*ltv.ValidationData, error)
}

// IssuerSource finds the issuer certificates that a signer's chain lacks:
// it returns the certification path of chain[0], and with an error the part
// of it that it found. *ltv.Fetcher is one (through AIA caIssuers).
type IssuerSource interface {
	CompleteChain(ctx context.Context, chain []*x509.Certificate) ([]*x509.Certificate, error)
}

// SignOptions controls Sign. The zero value (or nil) signs at B-B with
// SHA-256, into the first empty signature field or a new invisible field
// on page 1.
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
	// FieldName, NewField, Signer, Page, Rect, Tag and TagSize choose the
	// field to sign, or place a new one, as in PrepareOptions.
	FieldName string
	NewField  bool
	Signer    int
	Page      int
	Rect      *Rect
	Tag       string
	TagSize   Size
	// Appearance is what the visible widgets of the field show (nil: the
	// default layout). Its name defaults to Info.Name, else to the common
	// name of the signer's certificate.
	Appearance *Appearance
	// Certify makes the signature a certification signature (see
	// PrepareOptions).
	Certify CertifyLevel
	// Lock writes a FieldMDP lock on the field (see PrepareOptions).
	Lock *FieldLock
	// Level is the PAdES baseline level (default B-B). B-T and above need
	// TSA; B-LT and above need Validation.
	Level Level
	// TSA makes the signature timestamp (B-T) and the document timestamp
	// (B-LTA).
	TSA Timestamper
	// Validation collects the certificates and revocation data (B-LT).
	Validation ValidationSource
	// Issuers completes a signer chain that lacks intermediate
	// certificates. When it is nil and Validation is also an
	// IssuerSource, Validation is used.
	Issuers IssuerSource
	// MemoryBudget bounds the PDF reader (see PrepareOptions).
	MemoryBudget int64
	// Prefix is, for SignInPlace, the state of the digest of the whole
	// document that the caller computed as it wrote it (see
	// PrepareOptions); Sign ignores it. Its algorithm must be the one
	// the signature uses: Hash, or SHA-256 by default.
	Prefix hash.Hash
}

// Result describes a file that Sign wrote.
type Result struct {
	// Size is the size of the final file, all its updates included.
	Size int64
	// Level is the PAdES level the file reached.
	Level Level
	// Field is the name of the signature field.
	Field string
	// Hash is the digest algorithm of the signature.
	Hash crypto.Hash
	// ByteRange is the /ByteRange of the signature; the updates that B-LT
	// and B-LTA append lie after it.
	ByteRange [4]int64
	// Digest is the digest with Hash of the bytes that ByteRange names:
	// the message-digest attribute of the signature.
	Digest []byte
	// VRIKey is the signature's key in the /DSS /VRI dictionary: the
	// uppercase hex SHA-1 of its /Contents, zero padding included.
	VRIKey string
	// Chain lists the certificates of the signature, the signer's first:
	// the signer's chain, completed through Issuers when it lacked some.
	Chain []*x509.Certificate
	// TimestampTime is the time of the signature timestamp (B-T and
	// above), zero at B-B.
	TimestampTime time.Time
}

// ErrIncompleteChain reports a signer whose certificate chain lacks the
// issuer of its certificate, which could not be fetched: validators would
// not be able to chain the signature to a trust anchor.
var ErrIncompleteChain = errors.New("the signer's certificate chain is incomplete")

// Sign signs the PDF in (of the given size) with s at the PAdES level that
// opts asks (B-B by default) and writes the signed file to out, from its
// offset 0. The placeholder is sized from the signer's certificates and
// algorithm, plus room for a timestamp at B-T and above; should the CMS
// ever not fit, the document is prepared again from scratch with a larger
// one. B-LT appends the validation data in a second incremental update and
// B-LTA a document timestamp in a third, both to out.
//
// When the signer's chain lacks the issuer of its certificate, Sign fetches
// it through opts.Issuers (or opts.Validation) and fails with
// ErrIncompleteChain when it cannot.
func Sign(ctx context.Context, in io.ReaderAt, size int64, out File, s signer.Signer, opts *SignOptions) (*Result, error) {
	return sign(ctx, s, opts, out, func(po *PrepareOptions, retry bool) (*Prepared, error) {
		if retry {
			if err := out.Truncate(0); err != nil {
				return nil, fmt.Errorf("restarting the output: %w", err)
			}
		}
		return Prepare(ctx, in, size, &fileWriter{f: out}, po)
	})
}

// SignInPlace signs the PDF f (of the given size) as Sign does, but appends
// the incremental updates to f itself instead of writing a copy: the bytes
// of f are read once, to hash them, and never written. When it fails, for
// whatever reason, f is cut back to size, so that it holds the bytes it had;
// should that cut fail too, the error says so. f is not synced.
func SignInPlace(ctx context.Context, f File, size int64, s signer.Signer, opts *SignOptions) (res *Result, err error) {
	defer func() {
		if err == nil {
			return
		}
		if terr := f.Truncate(size); terr != nil {
			err = fmt.Errorf("%w; cutting the file back to its %d bytes failed too: %w", err, size, terr)
		}
	}()
	return sign(ctx, s, opts, f, func(po *PrepareOptions, retry bool) (*Prepared, error) {
		if retry {
			if err := f.Truncate(size); err != nil {
				return nil, fmt.Errorf("cutting the file back to try again: %w", err)
			}
		}
		return AppendPrepare(ctx, f, size, po)
	})
}

// sign is Sign and SignInPlace: prepare writes the prepared document to
// out (again, when retry is set, with a larger placeholder).
func sign(ctx context.Context, s signer.Signer, opts *SignOptions, out File, prepare func(po *PrepareOptions, retry bool) (*Prepared, error)) (*Result, error) {
	var o SignOptions
	if opts != nil {
		o = *opts
	}
	if o.Level < LevelBB || o.Level > LevelBLTA {
		return nil, fmt.Errorf("unknown PAdES level %v", o.Level)
	}
	if o.Level >= LevelBT && o.TSA == nil {
		return nil, fmt.Errorf("level %v needs a time-stamping authority (TSA)", o.Level)
	}
	if o.Level >= LevelBLT && o.Validation == nil {
		return nil, fmt.Errorf("level %v needs a source of validation data", o.Level)
	}
	if o.Issuers == nil {
		o.Issuers, _ = o.Validation.(IssuerSource)
	}
	s, err := CompleteChain(ctx, s, o.Issuers)
	if err != nil {
		return nil, err
	}
	chain := s.Chain()
	copts := cms.Options{Hash: o.Hash, PSS: o.PSS}
	need, err := cms.MaxSize(chain, s.Public(), copts)
	if err != nil {
		return nil, fmt.Errorf("sizing the signature: %w", err)
	}
	if o.Level >= LevelBT {
		need += timestampReserve
	}
	po := PrepareOptions{
		Hash: copts.DigestAlgorithm(), Time: o.Time, Info: o.Info, Password: o.Password,
		FieldName: o.FieldName, NewField: o.NewField, Signer: o.Signer, Page: o.Page, Rect: o.Rect, Tag: o.Tag, TagSize: o.TagSize,
		Appearance: o.Appearance.withName(o.Info, chain[0]), Certify: o.Certify, Lock: o.Lock,
		ContentsSize: need, MemoryBudget: o.MemoryBudget, Prefix: o.Prefix,
	}
	for attempt := 0; ; attempt++ {
		p, err := prepare(&po, attempt > 0)
		if err != nil {
			return nil, err
		}
		der, err := cms.Sign(ctx, s, p.Digest, copts)
		if err != nil {
			return nil, fmt.Errorf("signing: %w", err)
		}
		res := &Result{Level: LevelBB, Field: p.Field, Hash: p.Hash, ByteRange: p.ByteRange, Digest: p.Digest, Chain: chain, Size: p.Size}
		leaves, pool := []*x509.Certificate{chain[0]}, chain
		if o.Level >= LevelBT {
			var tok *ltv.Token
			if der, tok, err = ltv.SignatureTimestamp(ctx, o.TSA, der); err != nil {
				return nil, fmt.Errorf("signature timestamp: %w", err)
			}
			leaves = append(leaves, tok.Signer)
			pool = append(append([]*x509.Certificate{}, pool...), tok.Certificates...)
			res.Level, res.TimestampTime = LevelBT, tok.GenTime
		}
		err = writeContents(out, p, der)
		if tooSmall, ok := errors.AsType[*ContentsTooSmallError](err); ok && attempt == 0 {
			po.ContentsSize = tooSmall.Need + 256
			continue
		}
		if err != nil {
			return nil, err
		}
		res.VRIKey = p.VRIKey(der)
		if o.Level >= LevelBLT {
			if res.Size, err = raise(ctx, out, p.Size, &o, res.VRIKey, leaves, pool); err != nil {
				return nil, err
			}
			res.Level = o.Level
		}
		return res, nil
	}
}

// fileWriter writes a File sequentially from offset 0. copyHashing copies
// into it in the kernel when the File has a descriptor.
type fileWriter struct {
	f   File
	off int64
}

func (w *fileWriter) Write(p []byte) (int, error) {
	n, err := w.f.WriteAt(p, w.off)
	w.off += int64(n)
	return n, err
}

// CompleteChain returns a signer that signs with s and whose chain is that
// of s, completed through src when it lacks the issuer of the signer's
// certificate, as Sign completes it; it fails with ErrIncompleteChain when
// it cannot. Sign takes the chain of a signer that CompleteChain returned as
// it is: a batch of documents completes it once.
func CompleteChain(ctx context.Context, s signer.Signer, src IssuerSource) (signer.Signer, error) {
	if cs, ok := s.(chainSigner); ok {
		return cs, nil
	}
	chain, err := completeChain(ctx, s.Chain(), src)
	if err != nil {
		return nil, err
	}
	return chainSigner{s, chain}, nil
}

// chainSigner is a signer with a completed chain.
type chainSigner struct {
	signer.Signer
	chain []*x509.Certificate
}

func (s chainSigner) Chain() []*x509.Certificate { return s.chain }

// SignContext signs through the signer's SignContext when it has one, so
// that a remote signature stops waiting when ctx ends.
func (s chainSigner) SignContext(ctx context.Context, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return signer.Sign(ctx, s.Signer, rand.Reader, digest, opts)
}

// completeChain returns chain, completed through src when it lacks the
// issuer of the signer's certificate: without it no validator can chain
// the signature. A chain that holds that issuer is used as it is, without
// going to the network: its topmost certificate is taken to be issued by a
// trust anchor that validators hold.
func completeChain(ctx context.Context, chain []*x509.Certificate, src IssuerSource) ([]*x509.Certificate, error) {
	if len(chain) == 0 || chain[0] == nil {
		return nil, errors.New("the signer has no certificate")
	}
	leaf := chain[0]
	if bytes.Equal(leaf.RawIssuer, leaf.RawSubject) || issuerOf(leaf, chain[1:]) != nil {
		return chain, nil // self-issued, or its issuer is there
	}
	if src == nil {
		return nil, fmt.Errorf("%w: the issuer %q of the signer certificate %q is missing, and no source of issuer certificates was given",
			ErrIncompleteChain, leaf.Issuer.String(), leaf.Subject.String())
	}
	got, err := src.CompleteChain(ctx, chain)
	if len(got) > 1 && got[0].Equal(leaf) {
		for _, c := range chain[1:] {
			if !containsCert(got, c) {
				got = append(got, c) // keep what was given
			}
		}
		chain = got
	}
	if issuerOf(leaf, chain[1:]) != nil {
		return chain, nil
	}
	if err == nil {
		err = fmt.Errorf("the issuer %q of the signer certificate %q is missing", leaf.Issuer.String(), leaf.Subject.String())
	}
	return nil, fmt.Errorf("%w: %w", ErrIncompleteChain, err)
}

// issuerOf returns the certificate of pool that issued c, or nil.
func issuerOf(c *x509.Certificate, pool []*x509.Certificate) *x509.Certificate {
	for _, p := range pool {
		if p != nil && !p.Equal(c) && issues(p, c) {
			return p
		}
	}
	return nil
}

// issues reports whether issuer signed c.
func issues(issuer, c *x509.Certificate) bool {
	if !bytes.Equal(issuer.RawSubject, c.RawIssuer) {
		return false
	}
	err := c.CheckSignatureFrom(issuer)
	_, insecure := errors.AsType[x509.InsecureAlgorithmError](err)
	return err == nil || insecure
}
