package textpos

import (
	"math"
	"strconv"

	"hashsign/pades/internal/pdf"
)

// matrix is an affine transformation [a b c d e f]: it maps the point
// (x, y) to (a·x + c·y + e, b·x + d·y + f), as PDF matrices do.
type matrix [6]float64

var identity = matrix{1, 0, 0, 1, 0, 0}

// mul returns the transformation that applies m, then n (m × n in PDF's
// notation).
func (m matrix) mul(n matrix) matrix {
	return matrix{
		m[0]*n[0] + m[1]*n[2], m[0]*n[1] + m[1]*n[3],
		m[2]*n[0] + m[3]*n[2], m[2]*n[1] + m[3]*n[3],
		m[4]*n[0] + m[5]*n[2] + n[4], m[4]*n[1] + m[5]*n[3] + n[5],
	}
}

// point maps the point (x, y).
func (m matrix) point(x, y float64) (float64, float64) {
	return m[0]*x + m[2]*y + m[4], m[1]*x + m[3]*y + m[5]
}

// vector maps the vector (x, y), leaving out the translation.
func (m matrix) vector(x, y float64) (float64, float64) {
	return m[0]*x + m[2]*y, m[1]*x + m[3]*y
}

// translate returns the translation by (x, y).
func translate(x, y float64) matrix { return matrix{1, 0, 0, 1, x, y} }

// number returns o as a float64 when it is a finite PDF number.
func number(o pdf.Object) (float64, bool) {
	var v float64
	switch n := o.(type) {
	case pdf.Integer:
		v = float64(n)
	case pdf.Real:
		var err error
		if v, err = strconv.ParseFloat(string(n), 64); err != nil {
			return 0, false
		}
	default:
		return 0, false
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, false
	}
	return v, true
}

// toMatrix reads an array of six numbers; ok is false for anything else.
func toMatrix(o pdf.Object) (m matrix, ok bool) {
	a, isArr := o.(pdf.Array)
	if !isArr || len(a) != 6 {
		return m, false
	}
	return numbers6(a)
}

// numbers6 reads six numbers.
func numbers6(a []pdf.Object) (m matrix, ok bool) {
	if len(a) != 6 {
		return m, false
	}
	for i, o := range a {
		if m[i], ok = number(o); !ok {
			return m, false
		}
	}
	return m, true
}
