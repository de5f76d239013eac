// Package pdf reads the object structure of a PDF file through an io.ReaderAt
// and writes new objects for an incremental update.
//
// It reads classic cross-reference tables, cross-reference streams, hybrid
// files (a table trailer with /XRefStm), object streams, linearized files and
// files with earlier incremental updates, and rebuilds the cross-reference
// information of damaged files by scanning them. It never loads a whole file
// into memory: objects are parsed where they lie and stream data is read only
// for the object and cross-reference streams it must decode.
//
// A Reader stays within a Budget: what it holds at once (entries, decoded
// object streams, cached objects, the stream being decoded) and what it
// decodes in total are bounded, whatever the file declares, and a file that
// needs more is refused with a *LimitError that names the object and the
// limit.
package pdf

import (
	"fmt"
	"strconv"
)

// Object is a PDF object: nil (null), Bool, Integer, Real, Name, String,
// Array, *Dict, Ref or *Stream.
type Object any

// Bool is a PDF boolean.
type Bool bool

// Integer is a PDF integer.
type Integer int64

// Real is a PDF real number, kept in the form it was written in.
type Real string

// Name is a PDF name, without its leading slash and with #xx escapes decoded.
type Name string

// String is a PDF string. Hex records whether it was written as <hex>, so
// that it can be written back the same way.
type String struct {
	Value []byte
	Hex   bool
}

// Array is a PDF array.
type Array []Object

// Ref is an indirect reference "Num Gen R".
type Ref struct {
	Num int
	Gen int
}

func (r Ref) String() string { return fmt.Sprintf("%d %d R", r.Num, r.Gen) }

// Dict is a PDF dictionary that keeps the order of its entries.
type Dict struct {
	keys []Name
	vals map[Name]Object
}

// NewDict returns an empty dictionary.
func NewDict() *Dict { return &Dict{vals: make(map[Name]Object)} }

// Get returns the value of key, or nil.
func (d *Dict) Get(key Name) Object {
	if d == nil {
		return nil
	}
	return d.vals[key]
}

// Has reports whether key is present.
func (d *Dict) Has(key Name) bool {
	if d == nil {
		return false
	}
	_, ok := d.vals[key]
	return ok
}

// Set sets key to v, keeping the key's position when it already exists.
func (d *Dict) Set(key Name, v Object) {
	if _, ok := d.vals[key]; !ok {
		d.keys = append(d.keys, key)
	}
	d.vals[key] = v
}

// Delete removes key.
func (d *Dict) Delete(key Name) {
	if _, ok := d.vals[key]; !ok {
		return
	}
	delete(d.vals, key)
	for i, k := range d.keys {
		if k == key {
			d.keys = append(d.keys[:i:i], d.keys[i+1:]...)
			break
		}
	}
}

// Keys returns the keys in their order.
func (d *Dict) Keys() []Name {
	if d == nil {
		return nil
	}
	return d.keys
}

// Len returns the number of entries.
func (d *Dict) Len() int {
	if d == nil {
		return 0
	}
	return len(d.keys)
}

// Clone returns a shallow copy of d.
func (d *Dict) Clone() *Dict {
	c := &Dict{keys: append([]Name(nil), d.keys...), vals: make(map[Name]Object, len(d.vals))}
	for k, v := range d.vals {
		c.vals[k] = v
	}
	return c
}

// Stream is a stream object: its dictionary and where its data lies in the
// file. Streams built in memory carry their encoded data in Data instead.
type Stream struct {
	Dict   *Dict
	Offset int64 // offset of the first data byte in the file
	Length int64 // length of the encoded data
	Data   []byte
}

// Int returns o as an int when it is an Integer (or a Real with an integral
// value, as some writers produce).
func Int(o Object) (int64, bool) {
	switch v := o.(type) {
	case Integer:
		return int64(v), true
	case Real:
		f, err := strconv.ParseFloat(string(v), 64)
		if err == nil && f == float64(int64(f)) {
			return int64(f), true
		}
	}
	return 0, false
}

// TypeName returns the PDF type of o for error messages.
func TypeName(o Object) string {
	switch o.(type) {
	case nil:
		return "null"
	case Bool:
		return "boolean"
	case Integer:
		return "integer"
	case Real:
		return "real"
	case Name:
		return "name"
	case String:
		return "string"
	case Array:
		return "array"
	case *Dict:
		return "dictionary"
	case Ref:
		return "reference"
	case *Stream:
		return "stream"
	}
	return fmt.Sprintf("%T", o)
}
