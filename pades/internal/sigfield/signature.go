package sigfield

import (
	"bytes"
	"crypto"
	"crypto/subtle"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"hashsign/cms"
	"hashsign/ltv"
	"hashsign/pades/internal/pdf"
)

// Sub-filters of PDF signatures.
const (
	SubFilterCAdES    = "ETSI.CAdES.detached"
	SubFilterPKCS7    = "adbe.pkcs7.detached"
	SubFilterSHA1     = "adbe.pkcs7.sha1"
	SubFilterRFC3161  = "ETSI.RFC3161"
	SubFilterX509SHA1 = "adbe.x509.rsa_sha1"
)

// Kinds of integrity failure.
var (
	// ErrByteRange reports a /ByteRange that is missing, does not fit the
	// file or does not bracket exactly the /Contents string.
	ErrByteRange = errors.New("malformed byte range")
	// ErrParse reports a /Contents value that does not parse.
	ErrParse = errors.New("malformed signature value")
	// ErrNoSigner reports a signature whose signer certificate is nowhere
	// to be found: its value cannot be checked.
	ErrNoSigner = errors.New("no signer certificate")
	// ErrDigest reports a digest over the byte range that does not match
	// the one the signature or the time-stamp token carries.
	ErrDigest = errors.New("the digest does not match")
	// ErrCrypto reports a signature value that does not verify.
	ErrCrypto = errors.New("the signature value does not verify")
	// ErrUnsupported reports a signature of a kind that is recognised but
	// not checked (adbe.x509.rsa_sha1, an unknown sub-filter).
	ErrUnsupported = errors.New("unsupported signature")
)

// Signature is a signed signature field: its dictionary, read and parsed.
type Signature struct {
	Field     Field
	Type      string // /Type: Sig or DocTimeStamp (Sig when absent)
	SubFilter string
	ByteRange [4]int64
	Contents  []byte // the /Contents value, zero padding included
	M         string // /M, the claimed signing time, as written
	Name      string // /Name, /Reason, /Location as text
	Reason    string
	Location  string

	// SignedData is the parsed CMS of a signature, or the SignedData of
	// a document timestamp's token.
	SignedData *cms.SignedData
	// Token is the document timestamp's token, with its signature
	// verified, when its TSA certificate was found.
	Token *ltv.Token
	// Hash is the digest algorithm over the byte range: the
	// SignerInfo's, SHA-1 for adbe.pkcs7.sha1, the imprint's for a
	// document timestamp. Zero when Err is set.
	Hash crypto.Hash

	// Err is set when the signature cannot be checked at all; it wraps
	// ErrByteRange, ErrParse, ErrNoSigner, ErrCrypto or ErrUnsupported.
	Err error
}

// IsDocTimeStamp reports whether s is a document timestamp.
func (s *Signature) IsDocTimeStamp() bool {
	return s.SubFilter == SubFilterRFC3161 || s.Type == "DocTimeStamp"
}

// End returns the end of the signed byte range: the end of the revision
// that the signature signs.
func (s *Signature) End() int64 { return s.ByteRange[2] + s.ByteRange[3] }

// maxContents bounds the /Contents string whose placement is checked.
const maxContents = 16 << 20

// ReadSignature reads the signature dictionary of the signed field f and
// checks that its /ByteRange fits the file and brackets exactly its
// /Contents string. pool holds certificates from elsewhere (the DSS) for
// time-stamp tokens that leave out the TSA certificate.
func (d *Doc) ReadSignature(f Field, pool []*x509.Certificate) *Signature {
	s := &Signature{Field: f, Type: "Sig"}
	v := f.Value
	if t, ok := v.Get("Type").(pdf.Name); ok {
		s.Type = string(t)
	}
	if sf, ok := v.Get("SubFilter").(pdf.Name); ok {
		s.SubFilter = string(sf)
	}
	for _, kv := range []struct {
		key pdf.Name
		dst *string
	}{{"M", &s.M}, {"Name", &s.Name}, {"Reason", &s.Reason}, {"Location", &s.Location}} {
		if str, ok := v.Get(kv.key).(pdf.String); ok {
			*kv.dst = pdf.DecodeTextString(str.Value)
		}
	}
	contents, ok := v.Get("Contents").(pdf.String)
	s.Contents = contents.Value
	br, _ := v.Get("ByteRange").(pdf.Array)
	if len(br) != 4 {
		s.Err = fmt.Errorf("%w: no /ByteRange of four numbers", ErrByteRange)
		return s
	}
	for i, x := range br {
		s.ByteRange[i], _ = pdf.Int(x)
	}
	if !ok {
		s.Err = fmt.Errorf("%w: no /Contents string", ErrByteRange)
		return s
	}
	b := s.ByteRange
	if b[0] != 0 || b[1] < 0 || b[2] < b[1] || b[3] < 0 || b[2]+b[3] > d.Reader.Size() {
		s.Err = fmt.Errorf("%w: the /ByteRange %v does not fit the file", ErrByteRange, b)
		return s
	}
	if err := checkBrackets(d.Reader.ReaderAt(), b, s.Contents); err != nil {
		s.Err = fmt.Errorf("%w: %w", ErrByteRange, err)
		return s
	}
	switch s.SubFilter {
	case SubFilterCAdES, SubFilterPKCS7, SubFilterSHA1:
		s.readCMS()
	case SubFilterRFC3161:
		s.readToken(pool)
	case SubFilterX509SHA1:
		s.Err = fmt.Errorf("%w: sub-filter %s (a PKCS #1 signature with the certificates in /Cert) is not checked", ErrUnsupported, s.SubFilter)
	default:
		s.Err = fmt.Errorf("%w: sub-filter %q", ErrUnsupported, s.SubFilter)
	}
	return s
}

// checkBrackets checks that the hole of the byte range b is exactly the
// /Contents hex string: '<', the hex digits of contents, '>'.
func checkBrackets(r io.ReaderAt, b [4]int64, contents []byte) error {
	hole := b[2] - b[1]
	if hole != 2*int64(len(contents))+2 {
		return fmt.Errorf("the /ByteRange leaves %d bytes unsigned, but the /Contents string takes %d", hole, 2*len(contents)+2)
	}
	if len(contents) > maxContents {
		return fmt.Errorf("the /Contents string is longer than %d bytes", maxContents)
	}
	var one [1]byte
	if _, err := r.ReadAt(one[:], b[1]); err != nil || one[0] != '<' {
		return errors.New("the unsigned part of the /ByteRange does not start with the '<' of the /Contents string")
	}
	if _, err := r.ReadAt(one[:], b[2]-1); err != nil || one[0] != '>' {
		return errors.New("the unsigned part of the /ByteRange does not end with the '>' of the /Contents string")
	}
	buf := make([]byte, 64<<10)
	dec := make([]byte, len(buf)/2)
	for off := 0; off < len(contents); {
		n := min(len(dec), len(contents)-off)
		if _, err := r.ReadAt(buf[:2*n], b[1]+1+2*int64(off)); err != nil {
			return fmt.Errorf("reading the /Contents string: %w", err)
		}
		if _, err := hex.Decode(dec[:n], buf[:2*n]); err != nil || !bytes.Equal(dec[:n], contents[off:off+n]) {
			return errors.New("the unsigned part of the /ByteRange is not the signature's /Contents string")
		}
		off += n
	}
	return nil
}

// readCMS parses the CMS of a signature.
func (s *Signature) readCMS() {
	sd, err := cms.Parse(s.Contents) // Parse skips the zero padding and reads BER
	if err != nil {
		s.Err = fmt.Errorf("%w: the CMS does not parse: %w", ErrParse, err)
		return
	}
	s.SignedData = sd
	if sd.Signer == nil {
		s.Err = fmt.Errorf("%w: the CMS does not carry the signer's certificate: its signature value cannot be checked", ErrNoSigner)
		return
	}
	s.Hash = sd.DigestAlgorithm
	if s.SubFilter == SubFilterSHA1 {
		s.Hash = crypto.SHA1 // the signed content is the SHA-1 digest of the byte range
	}
}

// readToken parses and verifies the token of a document timestamp.
func (s *Signature) readToken(pool []*x509.Certificate) {
	sd, err := cms.Parse(s.Contents)
	if err != nil {
		s.Err = fmt.Errorf("%w: the time-stamp token does not parse: %w", ErrParse, err)
		return
	}
	s.SignedData = sd
	tok, err := ltv.ParseTokenWithCertificates(s.Contents, pool)
	if err != nil {
		if sd.Signer == nil && !containsSigner(sd, pool) {
			s.Err = fmt.Errorf("%w: the TSA certificate is neither in the time-stamp token nor in the DSS: its signature value cannot be checked", ErrNoSigner)
			return
		}
		s.Err = fmt.Errorf("%w: %w", ErrCrypto, err)
		return
	}
	if sd.Signer == nil {
		sd.Signer = tok.Signer
	}
	s.Token = tok
	s.Hash = tok.Hash
}

func containsSigner(sd *cms.SignedData, pool []*x509.Certificate) bool {
	for _, c := range pool {
		if sd.IsSigner(c) {
			return true
		}
	}
	return false
}

// CheckDigest checks the integrity of s against sum, the digest of its
// byte range with s.Hash: the message digest (or the imprint) matches and
// the signature value verifies. The error wraps ErrDigest or ErrCrypto.
func (s *Signature) CheckDigest(sum []byte) error {
	if s.Err != nil {
		return s.Err
	}
	if s.Token != nil {
		if subtle.ConstantTimeCompare(sum, s.Token.Imprint) != 1 {
			return fmt.Errorf("%w: the timestamp imprint does not match the byte range", ErrDigest)
		}
		return nil // ParseTokenWithCertificates verified the signature
	}
	sd := s.SignedData
	if s.SubFilter == SubFilterSHA1 {
		if sd.Content == nil || !bytes.Equal(sd.Content, sum) {
			return fmt.Errorf("%w: the signed SHA-1 digest does not match the byte range", ErrDigest)
		}
		if err := sd.VerifyIntegrity(nil); err != nil {
			return fmt.Errorf("%w: %w", ErrCrypto, err)
		}
		return nil
	}
	if sd.RawSignedAttributes != nil && subtle.ConstantTimeCompare(sd.MessageDigest, sum) != 1 {
		return fmt.Errorf("%w: the message-digest attribute does not match the byte range", ErrDigest)
	}
	if err := sd.VerifyIntegrity(sum); err != nil {
		return fmt.Errorf("%w: %w", ErrCrypto, err)
	}
	return nil
}
