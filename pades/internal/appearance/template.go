package appearance

import (
	"fmt"
	"strconv"
	"strings"
)

// Field is one line of the appearance's text.
type Field int

// The fields a template can show.
const (
	FieldName Field = iota
	FieldDate
	FieldReason
	FieldLocation
	FieldContact
)

var fieldNames = map[string]Field{
	"name": FieldName, "date": FieldDate, "reason": FieldReason, "location": FieldLocation, "contact": FieldContact,
}

var fieldLabels = [...]string{FieldDate: "Date: ", FieldReason: "Reason: ", FieldLocation: "Location: ", FieldContact: "Contact: "}

// ImagePlace says where the image goes.
type ImagePlace int

// The places of the image.
const (
	ImageLeft   ImagePlace = iota // left of the text, which takes the rest of the box
	ImageBehind                   // behind the text, filling the box
	ImageNone                     // not drawn
)

var imagePlaces = map[string]ImagePlace{"left": ImageLeft, "behind": ImageBehind, "none": ImageNone}

// Template is the layout of an appearance.
type Template struct {
	Lines      []Field    // the lines, top to bottom; an empty field is left out
	Image      ImagePlace // where the image goes, when there is one
	Labels     bool       // "Date: ", "Reason: ", ... before the fields other than the name
	DateLayout string     // time.Time.Format layout of the date
	MaxSize    float64    // largest font size in points
	MinSize    float64    // smallest font size in points before the text is refused
}

// DefaultTemplate returns the layout used when a Spec has none: the name,
// the date, the reason, the location and the contact, labelled, with the
// image left of the text, in a font of 4 to 24 points.
func DefaultTemplate() *Template {
	return &Template{
		Lines:      []Field{FieldName, FieldDate, FieldReason, FieldLocation, FieldContact},
		Image:      ImageLeft,
		Labels:     true,
		DateLayout: "2006-01-02 15:04:05 -07:00",
		MaxSize:    24,
		MinSize:    4,
	}
}

// ParseTemplate reads the -appearance syntax: settings separated by
// semicolons, each key=value, on top of DefaultTemplate.
//
//	lines=name,date,reason,location,contact   the lines, in order
//	image=left|behind|none                     where the image goes
//	labels=on|off                              "Date: ", "Reason: ", ... before the fields
//	date=LAYOUT                                the date in Go's time layout, e.g. 02.01.2006 15:04 MST
//	size=N                                     largest font size in points
//	minsize=N                                  smallest font size in points
//
// Examples: "lines=name,date" shows two lines; "image=behind;labels=off"
// draws the image under unlabelled text; "lines=name;size=36" a name only.
func ParseTemplate(s string) (*Template, error) {
	t := DefaultTemplate()
	for part := range strings.SplitSeq(s, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		key, val, ok := strings.Cut(part, "=")
		if !ok {
			return nil, fmt.Errorf("appearance setting %q is not key=value", part)
		}
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		switch key {
		case "lines":
			t.Lines = nil
			seen := map[Field]bool{}
			for name := range strings.SplitSeq(val, ",") {
				f, ok := fieldNames[strings.TrimSpace(name)]
				if !ok {
					return nil, fmt.Errorf("appearance lines: unknown field %q (name, date, reason, location, contact)", name)
				}
				if seen[f] {
					return nil, fmt.Errorf("appearance lines: field %q given twice", name)
				}
				seen[f] = true
				t.Lines = append(t.Lines, f)
			}
		case "image":
			v, ok := imagePlaces[val]
			if !ok {
				return nil, fmt.Errorf("appearance image=%q: want left, behind or none", val)
			}
			t.Image = v
		case "labels":
			v, ok := map[string]bool{"on": true, "off": false}[val]
			if !ok {
				return nil, fmt.Errorf("appearance labels=%q: want on or off", val)
			}
			t.Labels = v
		case "date":
			if val == "" {
				return nil, fmt.Errorf("appearance date: empty layout")
			}
			t.DateLayout = val
		case "size", "minsize":
			v, err := strconv.ParseFloat(val, 64)
			if err != nil || v < 1 || v > 200 {
				return nil, fmt.Errorf("appearance %s=%q: want a size from 1 to 200 points", key, val)
			}
			if key == "size" {
				t.MaxSize = v
			} else {
				t.MinSize = v
			}
		default:
			return nil, fmt.Errorf("unknown appearance setting %q (lines, image, labels, date, size, minsize)", key)
		}
	}
	if t.MinSize > t.MaxSize {
		return nil, fmt.Errorf("appearance minsize %g is larger than size %g", t.MinSize, t.MaxSize)
	}
	return t, nil
}
