package pades

import (
	"bytes"
	"compress/zlib"
	"context"
	"crypto"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"
	"sync"

	"hashsign/ltv"
	"hashsign/pades/internal/pdf"
	"hashsign/pades/internal/sigfield"
)

// File is a PDF file that Sign, AppendPrepare, AddDSS and Extend write:
// it is read back, patched and appended to in place (later incremental
// updates go into the file that holds the earlier ones, without copying
// it), and cut back to a given size to try again when a signature does not
// fit its placeholder. *os.File is a File.
type File interface {
	io.ReaderAt
	io.WriterAt
	Truncate(size int64) error
}

// DSS is validation data for the document security store (/DSS), as DER.
type DSS struct {
	Certs, OCSPs, CRLs [][]byte
	// VRI maps a signature's VRI key (see VRIKey) to the validation data
	// of that signature; every item must also be in Certs, OCSPs or CRLs.
	VRI map[string]*VRIData
}

// VRIData is the validation data of one signature.
type VRIData struct {
	Certs, OCSPs, CRLs [][]byte
}

// VRIKey returns the /VRI key of a signature: the uppercase hex SHA-1 of
// its whole /Contents string, zero padding included.
func VRIKey(contents []byte) string {
	sum := sha1.Sum(contents)
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

// VRIKey returns the /VRI key that the signature cmsDER has once it is
// embedded into the placeholder of p (the key covers the zero padding).
func (p *Prepared) VRIKey(cmsDER []byte) string {
	padded := make([]byte, max(p.ContentsSize, len(cmsDER)))
	copy(padded, cmsDER)
	return VRIKey(padded)
}

// WithVRI returns a copy of d whose VRI entry for the given key lists all of
// d's data.
func (d *DSS) WithVRI(key string) *DSS {
	if d == nil {
		d = &DSS{}
	}
	c := *d
	c.VRI = map[string]*VRIData{}
	for k, v := range d.VRI {
		c.VRI[k] = v
	}
	c.VRI[key] = &VRIData{Certs: d.Certs, OCSPs: d.OCSPs, CRLs: d.CRLs}
	return &c
}

// FromValidationData converts collected validation data. When vriKey is
// not empty, a VRI entry holding all of it is added under that key.
func FromValidationData(vd *ltv.ValidationData, vriKeys ...string) *DSS {
	if vd == nil {
		vd = &ltv.ValidationData{}
	}
	d := &DSS{OCSPs: vd.OCSPs, CRLs: vd.CRLs, VRI: map[string]*VRIData{}}
	for _, c := range vd.Certs {
		d.Certs = append(d.Certs, c.Raw)
	}
	for _, k := range vriKeys {
		if k != "" {
			d.VRI[k] = &VRIData{Certs: d.Certs, OCSPs: d.OCSPs, CRLs: d.CRLs}
		}
	}
	return d
}

// AddDSS appends to f, a complete PDF of the given size, an incremental
// update that adds dss to the document security store. Entries already in
// the store are kept and not written twice. It returns the new size.
func AddDSS(ctx context.Context, f File, size int64, dss *DSS, password []byte) (int64, error) {
	if dss == nil {
		return 0, errors.New("no validation data to add to the DSS")
	}
	doc, err := openDocument(f, size, password, 0)
	if err != nil {
		return 0, err
	}
	u := doc.newUpdate()
	if err := u.addDSS(dss); err != nil {
		return 0, err
	}
	p, err := u.appendTo(ctx, f, size, 0, nil)
	if err != nil {
		return 0, err
	}
	return p.Size, nil
}

// addDSS writes the merged /DSS into the update.
func (u *update) addDSS(dss *DSS) error {
	d := u.doc
	dssObj := d.catalog.Get("DSS")
	old, err := d.rd.ResolveDict(dssObj)
	if err != nil {
		return fmt.Errorf("reading the existing /DSS: %w", err)
	}
	newDSS := pdf.NewDict()
	if old != nil {
		newDSS = old.Clone()
	}
	// streams already in the store, by the SHA-256 of their data
	known := map[[32]byte]pdf.Ref{}
	lists := []struct {
		key   pdf.Name
		items [][]byte
	}{{"Certs", dss.Certs}, {"OCSPs", dss.OCSPs}, {"CRLs", dss.CRLs}}
	for _, l := range lists {
		arrObj, err := d.rd.Resolve(old.Get(l.key))
		if err != nil {
			return fmt.Errorf("reading /DSS /%s: %w", l.key, err)
		}
		arr, _ := arrObj.(pdf.Array)
		out := append(pdf.Array{}, arr...)
		for _, e := range arr {
			r, ok := e.(pdf.Ref)
			if !ok {
				continue
			}
			o, err := d.rd.Object(r.Num)
			if err != nil {
				continue
			}
			if st, ok := o.(*pdf.Stream); ok {
				if data, err := d.rd.StreamData(st, r.Num, r.Gen); err == nil {
					known[sha256.Sum256(data)] = r
				}
			}
		}
		for _, item := range l.items {
			ref, err := u.dssStream(item, known)
			if err != nil {
				return err
			}
			if ref != nil {
				out = append(out, *ref)
			}
		}
		if len(out) > 0 {
			newDSS.Set(l.key, out)
		}
	}
	if len(dss.VRI) > 0 {
		vri := pdf.NewDict()
		if v, err := d.rd.ResolveDict(old.Get("VRI")); err == nil && v != nil {
			vri = v.Clone()
		}
		for key, v := range dss.VRI {
			entry := pdf.NewDict()
			for _, l := range []struct {
				name  pdf.Name
				items [][]byte
			}{{"Cert", v.Certs}, {"OCSP", v.OCSPs}, {"CRL", v.CRLs}} {
				var refs pdf.Array
				for _, item := range l.items {
					if r, ok := known[sha256.Sum256(item)]; ok {
						refs = append(refs, r)
					}
				}
				if len(refs) > 0 {
					entry.Set(l.name, refs)
				}
			}
			vri.Set(pdf.Name(key), entry)
		}
		newDSS.Set("VRI", vri)
	}
	// The merged store is a new object and the catalog is rewritten to
	// point at it, so that the update visibly holds the /DSS (validators
	// look for it after the signature they judge).
	num := u.Alloc()
	if err := u.WriteObject(num, 0, newDSS); err != nil {
		return err
	}
	cat := d.catalog.Clone()
	cat.Set("DSS", pdf.Ref{Num: num})
	return u.WriteObject(d.rootRef.Num, d.rootRef.Gen, cat)
}

// zlibWriters holds the compressors of the DSS's streams. Each holds some
// 800 KB of state, which a batch at B-LT allocated and cleared for every
// stream of every document: with them reused, 64 documents at B-LT take
// 4.5 ms of CPU each instead of 15 (B-T: 3 ms).
var zlibWriters = sync.Pool{New: func() any { return zlib.NewWriter(nil) }}

// dssStream writes item as a compressed stream unless the store already
// holds it; it returns the reference of a new stream, or nil.
func (u *update) dssStream(item []byte, known map[[32]byte]pdf.Ref) (*pdf.Ref, error) {
	sum := sha256.Sum256(item)
	if _, ok := known[sum]; ok {
		return nil, nil
	}
	var z bytes.Buffer
	zw := zlibWriters.Get().(*zlib.Writer)
	zw.Reset(&z)
	zw.Write(item)
	zw.Close()
	zlibWriters.Put(zw)
	num := u.Alloc()
	d := pdf.NewDict()
	d.Set("Filter", pdf.Name("FlateDecode"))
	if err := u.WriteStream(num, d, z.Bytes()); err != nil {
		return nil, err
	}
	r := pdf.Ref{Num: num}
	known[sum] = r
	return &r, nil
}

// appendTo finishes the update and writes it at offset size of f. When
// the update holds a placeholder, its byte range is hashed with h: from f,
// or, given prefix (the digest state of f's first size bytes), from the
// update alone.
func (u *update) appendTo(ctx context.Context, f File, size int64, h crypto.Hash, prefix hash.Hash) (*Prepared, error) {
	if err := u.Finish(); err != nil {
		return nil, err
	}
	if _, err := f.WriteAt(u.Bytes(), size); err != nil {
		return nil, fmt.Errorf("appending the update: %w", err)
	}
	if !u.HasPlaceholder() {
		return u.prepared(0, nil), nil
	}
	if prefix != nil {
		c, ok := prefix.(hash.Cloner)
		if !ok || prefix.Size() != h.Size() {
			return nil, fmt.Errorf("the digest of the document given (%T) cannot continue a %v digest", prefix, h)
		}
		hc, err := c.Clone()
		if err != nil {
			return nil, fmt.Errorf("continuing the digest of the document: %w", err)
		}
		d := hc.(hash.Hash)
		br := u.ByteRange()
		sigfield.HashOutside(d, u.Bytes(), u.Start(), br[1], br[2])
		return u.prepared(h, d.Sum(nil)), nil
	}
	sum, err := hashByteRange(ctx, f, h, u.ByteRange())
	if err != nil {
		return nil, err
	}
	return u.prepared(h, sum), nil
}

// AppendPrepare appends to f (a complete PDF of the given size) an
// incremental update with an empty signature or document timestamp, as
// Prepare does, without copying the file. A nil opts takes the defaults.
func AppendPrepare(ctx context.Context, f File, size int64, opts *PrepareOptions) (*Prepared, error) {
	o, err := opts.normalized()
	if err != nil {
		return nil, err
	}
	doc, err := openDocument(f, size, o.Password, o.MemoryBudget)
	if err != nil {
		return nil, err
	}
	u, err := doc.buildUpdate(ctx, &o)
	if err != nil {
		return nil, err
	}
	return u.appendTo(ctx, f, size, o.Hash, o.Prefix)
}

// EmbedTimeStamp writes an RFC 3161 TimeStampToken into the placeholder of
// a prepared document timestamp, after checking that its imprint is the
// prepared digest.
func EmbedTimeStamp(f io.WriterAt, p *Prepared, token []byte) error {
	if p == nil {
		return errors.New("embed: no prepared document")
	}
	tok, err := ltv.ParseToken(token)
	if err != nil {
		return fmt.Errorf("embed: the document timestamp: %w", err)
	}
	if tok.Hash != p.Hash || !bytes.Equal(tok.Imprint, p.Digest) {
		return errors.New("embed: the document timestamp's imprint does not match the prepared byte range")
	}
	return writeContents(f, p, token)
}
