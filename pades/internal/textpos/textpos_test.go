package textpos

import (
	"fmt"
	"math"
	"testing"
)

// tolerance is the issue's: a field lands over its tag within 2 points.
const tolerance = 2.0

// ends returns the start and end of the baseline of p in the device space
// of the tools: from the top left corner of the page box pb as the page is
// shown (turned by its /Rotate), y downwards.
func ends(p Place, pb box) (x0, y0, x1, y1 float64) {
	a := p.Angle * math.Pi / 180
	ex, ey := p.X+p.Width*math.Cos(a), p.Y+p.Width*math.Sin(a)
	x0, y0 = pb.device(p.X, p.Y)
	x1, y1 = pb.device(ex, ey)
	return x0, y0, x1, y1
}

// device maps a point of default user space to the device space of the
// tools.
func (b box) device(x, y float64) (float64, float64) {
	switch b.rotate {
	case 90:
		return y - b.y0, x - b.x0
	case 180:
		return b.x1 - x, y - b.y0
	case 270:
		return b.y1 - y, b.x1 - x
	}
	return x - b.x0, b.y1 - y
}

// shownAngle returns the angle of p's baseline as the page is shown.
func shownAngle(p Place, pb box) float64 {
	a := math.Mod(p.Angle-float64(pb.rotate)+360, 360)
	if a > 180 {
		a -= 360
	}
	return a
}

// compareMuPDF checks the places of text against mutool's characters:
// the origin of the first, the direction of the line, and, when
// trueWidths says that the font's /Widths are those of the glyphs mutool
// draws, the end of the last glyph's box, all within the tolerance. It
// returns the largest distance seen.
func compareMuPDF(t *testing.T, file, password, text string, places []Place, pb box, trueWidths bool) float64 {
	t.Helper()
	runs := mupdfRuns(t, file, password, text)
	worst := 0.0
	for _, p := range places {
		x0, y0, x1, y1 := ends(p, pb)
		a := shownAngle(p, pb) * math.Pi / 180
		best := math.Inf(1)
		for _, r := range runs {
			if r.page != p.Page || math.Abs(r.dirX-math.Cos(a)) > 0.01 || math.Abs(r.dirY+math.Sin(a)) > 0.01 {
				continue
			}
			d := math.Hypot(r.x0-x0, r.y0-y0)
			if trueWidths {
				d = math.Max(d, math.Hypot(r.x1-x1, r.y1-y1))
			}
			best = math.Min(best, d)
		}
		if best > tolerance {
			t.Errorf("%s: %+v: mutool has no %q within %v points of baseline (%.2f,%.2f)-(%.2f,%.2f); its runs: %+v", text, p, text, tolerance, x0, y0, x1, y1, runs)
		}
		worst = math.Max(worst, best)
	}
	if len(runs) != len(places) {
		t.Errorf("%s: mutool finds %d, Find %d", text, len(runs), len(places))
	}
	return worst
}

// popplerRuns returns the boxes of text in pdftotext's words: a word, or
// consecutive words of one line that spell it together (pdftotext splits
// words at gaps that kerning and spacing leave).
func popplerRuns(words []toolWord, text string) []toolWord {
	var out []toolWord
	for i := range words {
		run, s := words[i], ""
		for j := i; j < len(words) && len(s) < len(text); j++ {
			w := words[j]
			if w.page != run.page || math.Abs(w.yMin-run.yMin) > 0.5 && math.Abs(w.xMin-run.xMin) > 0.5 {
				break
			}
			s += w.text
			run.xMin, run.yMin = math.Min(run.xMin, w.xMin), math.Min(run.yMin, w.yMin)
			run.xMax, run.yMax = math.Max(run.xMax, w.xMax), math.Max(run.yMax, w.yMax)
			if s == text {
				run.text = s
				out = append(out, run)
			}
		}
	}
	return out
}

// offWord returns how far the baseline of p, drawn upright, upside down
// or turned by 90 degrees as the page is shown, lies from the box of word
// w: the largest distance of its ends from the box's edges across it, or
// infinity when it does not lie between the box's other two edges.
func offWord(p Place, w toolWord, pb box) float64 {
	x0, y0, x1, y1 := ends(p, pb)
	var d float64
	switch a := math.Round(shownAngle(p, pb)); a {
	case 0, 180, -180:
		d = math.Max(math.Abs(w.xMin-min(x0, x1)), math.Abs(w.xMax-max(x0, x1)))
		if y0 < w.yMin-tolerance || y0 > w.yMax+tolerance {
			d = math.Inf(1)
		}
	case 90, -90:
		d = math.Max(math.Abs(w.yMin-min(y0, y1)), math.Abs(w.yMax-max(y0, y1)))
		if x0 < w.xMin-tolerance || x0 > w.xMax+tolerance {
			d = math.Inf(1)
		}
	default:
		d = math.Inf(1)
	}
	return d
}

// comparePoppler checks the places of text, drawn upright or turned by a
// multiple of 90 degrees, against pdftotext's word boxes: the baseline's
// ends within the tolerance of the box's edges across it, and the
// baseline between its other two edges. It returns the largest distance
// seen.
func comparePoppler(t *testing.T, file, password, text string, places []Place, pb box) float64 {
	t.Helper()
	runs := popplerRuns(popplerWords(t, file, password), text)
	worst := 0.0
	for _, p := range places {
		x0, y0, x1, y1 := ends(p, pb)
		best := math.Inf(1)
		for _, w := range runs {
			if w.page == p.Page {
				best = math.Min(best, offWord(p, w, pb))
			}
		}
		if best > tolerance {
			t.Errorf("%s: %+v: pdftotext has no word %q within %v points of baseline (%.2f,%.2f)-(%.2f,%.2f)", text, p, text, tolerance, x0, y0, x1, y1)
		}
		worst = math.Max(worst, best)
	}
	return worst
}

// TestHandBuilt finds the tags of the hand-built hard cases and checks
// them against mutool's characters and pdftotext's words.
func TestHandBuilt(t *testing.T) {
	for _, c := range handCases() {
		t.Run(c.name, func(t *testing.T) {
			file := writeTemp(t, c.name+".pdf", c.file)
			for _, w := range c.want {
				places := findIn(t, c.file, "", w.tag)
				if len(places) != 1 {
					t.Fatalf("%s: %d places, want 1: %+v", w.tag, len(places), places)
				}
				p := places[0]
				if p.Page != w.page || math.Abs(p.FontSize-w.size) > 0.01 || math.Abs(p.Angle-w.angle) > 0.01 {
					t.Errorf("%s: %+v, want page %d, size %v, angle %v", w.tag, p, w.page, w.size, w.angle)
				}
				dm := compareMuPDF(t, file, "", w.tag, places, c.mediaBox, c.trueWidths)
				msg := fmt.Sprintf("%s %s: mutool %.3f", c.name, w.tag, dm)
				if math.Mod(w.angle, 90) == 0 && !c.vertical {
					msg += fmt.Sprintf(", pdftotext %.3f", comparePoppler(t, file, "", w.tag, places, c.mediaBox))
				}
				t.Log(msg + " points off")
			}
		})
	}
}
