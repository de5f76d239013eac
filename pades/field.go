package pades

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"hashsign/pades/internal/mdp"
	"hashsign/pades/internal/pdf"
	"hashsign/pades/internal/sigfield"
)

// formField is a terminal field of the interactive form, with the
// FieldMDP lock that a signature field sets when signed.
type formField struct {
	sigfield.Field
	lock *mdp.Lock // the /Lock of a signature field
}

// signed reports whether f is a signature field with a value.
func (f *formField) signed() bool { return f.Type == "Sig" && f.Value != nil }

// emptySig reports whether f is a signature field without a value.
func (f *formField) emptySig() bool { return f.Type == "Sig" && f.Value == nil }

// formFields returns the terminal fields of the form, in the order of the
// tree, and the locks of its signature fields.
func (d *document) formFields() ([]formField, error) {
	fields, err := d.doc.FormFields()
	if err != nil {
		return nil, err
	}
	out := make([]formField, len(fields))
	for i, f := range fields {
		out[i].Field = f
		if f.Type == "Sig" && f.Dict.Has("Lock") {
			// a lock that does not parse locks nothing for validators either
			l, err := mdp.ReadLock(d.rd, f.Dict.Get("Lock"))
			if errors.Is(err, pdf.ErrLimit) {
				return nil, fmt.Errorf("reading the /Lock of signature field %q: %w", f.Name, err)
			}
			out[i].lock = l
		}
	}
	return out, nil
}

// signatureFields returns the signature fields of the form.
func (d *document) signatureFields() ([]formField, error) {
	fields, err := d.formFields()
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(fields, func(f formField) bool { return f.Type != "Sig" }), nil
}

// fieldPlan is what an update does to the form: the existing empty field
// it signs into, or the new field it adds and the widgets of that field.
type fieldPlan struct {
	name     string
	existing *formField
	widgets  []newWidget // of a new field; none for an invisible one
	page     *pageInfo   // the page of a new invisible field
	lock     *mdp.Lock   // the /Lock written on the field (nil: none, or the existing one)
}

// newWidget is a widget of a new visible field.
type newWidget struct {
	page   *pageInfo
	rect   [4]float64 // in default user space
	rotate int        // the turn of its appearance (0, 90, 180, 270)
}

// signatoryField matches the field names SignatorySignature_<signer>_<n>.
var signatoryField = regexp.MustCompile(`^SignatorySignature_(\d+)_(\d+)$`)

// planField picks the field that the signature goes into, or plans the new
// one, as the options ask.
func (d *document) planField(ctx context.Context, o *PrepareOptions, fields []formField) (*fieldPlan, error) {
	plan := &fieldPlan{}
	if o.Lock != nil {
		l := o.Lock.mdp()
		if err := l.Check(); err != nil {
			return nil, err
		}
		plan.lock = l
	}
	if o.DocTimeStamp {
		// a document timestamp never takes a field meant for a signer
		page, err := d.page(o.Page)
		if err != nil {
			return nil, fmt.Errorf("finding the page for the document timestamp's widget: %w", err)
		}
		plan.page, plan.name = page, freeFieldName(fields)
		return plan, nil
	}
	placed := o.Rect != nil || o.Tag != ""
	switch {
	case o.Rect != nil && o.Tag != "":
		return nil, errors.New("a new field goes either at a rectangle or over a text tag, not both")
	case o.Signer < 0:
		return nil, fmt.Errorf("signer %d: signers are numbered from 1", o.Signer)
	case o.Signer > 0 && (o.FieldName != "" || placed || o.NewField):
		return nil, fmt.Errorf("signer %d picks the signer's own field: it goes with neither a field name nor a new field", o.Signer)
	}

	var target *formField
	switch {
	case o.Signer > 0:
		var err error
		if target, err = signatoryTarget(fields, o.Signer); err != nil {
			return nil, err
		}
	case o.FieldName != "":
		i := slices.IndexFunc(fields, func(f formField) bool { return f.Name == o.FieldName })
		switch {
		case i < 0 && (placed || o.NewField):
			plan.name = o.FieldName
		case i < 0:
			return nil, fmt.Errorf("%w: no field is named %q; %s", ErrNoField, o.FieldName, emptyFieldList(fields))
		case placed || o.NewField:
			return nil, fmt.Errorf("a field named %q already exists: a new field needs another name", o.FieldName)
		case fields[i].Type != "Sig":
			return nil, fmt.Errorf("%w: field %q is a %s field, not a signature field; %s", ErrNoField, o.FieldName, fieldType(fields[i].Type), emptyFieldList(fields))
		case fields[i].signed():
			return nil, fmt.Errorf("%w: signature field %q is already signed; %s", ErrNoField, o.FieldName, emptyFieldList(fields))
		default:
			target = &fields[i]
		}
	case !placed && !o.NewField:
		// the first empty signature field that no earlier signature
		// locked and that locks no other field when signed
		locks, err := d.fieldLocks(fields)
		if err != nil {
			return nil, err
		}
		for i := range fields {
			f := &fields[i]
			if f.emptySig() && f.lock == nil && lockedBy(locks, f.Name) == "" {
				target = f
				break
			}
		}
	}
	if target != nil {
		if target.Ref.Num == 0 {
			return nil, fmt.Errorf("signature field %q is not an indirect object and cannot be signed into", target.Name)
		}
		if plan.lock != nil && target.lock != nil {
			return nil, fmt.Errorf("signature field %q already has a lock (%s); it is kept, and no other can be set", target.Name, target.lock)
		}
		plan.existing, plan.name = target, target.Name
		return plan, nil
	}

	if plan.name == "" {
		plan.name = freeFieldName(fields)
	}
	switch {
	case o.Rect != nil:
		page, err := d.page(o.Page)
		if err != nil {
			return nil, fmt.Errorf("finding the page of the new field: %w", err)
		}
		r, err := page.userRect(*o.Rect)
		if err != nil {
			return nil, err
		}
		plan.widgets = []newWidget{{page: page, rect: r, rotate: page.rotate}}
	case o.Tag != "":
		w, err := d.tagWidgets(ctx, o.Tag, o.TagSize)
		if err != nil {
			return nil, err
		}
		plan.widgets = w
	default:
		page, err := d.page(o.Page)
		if err != nil {
			return nil, fmt.Errorf("finding the page for the signature widget: %w", err)
		}
		plan.page = page
	}
	return plan, nil
}

// ErrNoField reports a signature field that cannot be signed into: it is
// missing, not a signature field, or already signed. The message lists the
// empty signature fields.
var ErrNoField = errors.New("no such empty signature field")

// signatoryTarget returns the first empty field of signer k under the
// naming SignatorySignature_<k>_<n>, the lowest n first.
func signatoryTarget(fields []formField, k int) (*formField, error) {
	type numbered struct {
		f *formField
		n int
	}
	var mine []numbered
	for i := range fields {
		f := &fields[i]
		m := signatoryField.FindStringSubmatch(f.Name[strings.LastIndex(f.Name, ".")+1:])
		if m == nil || f.Type != "Sig" {
			continue
		}
		if s, _ := strconv.Atoi(m[1]); s == k {
			n, _ := strconv.Atoi(m[2])
			mine = append(mine, numbered{f, n})
		}
	}
	slices.SortStableFunc(mine, func(a, b numbered) int { return cmp.Compare(a.n, b.n) })
	for _, m := range mine {
		if m.f.emptySig() {
			return m.f, nil
		}
	}
	if len(mine) == 0 {
		return nil, fmt.Errorf("%w: no field of signer %d (named SignatorySignature_%d_<n>); %s", ErrNoField, k, k, emptyFieldList(fields))
	}
	return nil, fmt.Errorf("%w: the fields of signer %d are all signed; %s", ErrNoField, k, emptyFieldList(fields))
}

// emptyFieldList says which signature fields are empty.
func emptyFieldList(fields []formField) string {
	var names []string
	for _, f := range fields {
		if f.emptySig() {
			names = append(names, strconv.Quote(f.Name))
		}
	}
	if len(names) == 0 {
		return "the document has no empty signature field"
	}
	return "the empty signature fields are " + strings.Join(names, ", ")
}

func fieldType(ft pdf.Name) string {
	switch ft {
	case "Tx":
		return "text"
	case "Btn":
		return "button"
	case "Ch":
		return "choice"
	case "":
		return "typeless"
	}
	return string(ft)
}

// freeFieldName returns the first of Signature1, Signature2, ... that no
// field of the form is named.
func freeFieldName(fields []formField) string {
	for i := 1; ; i++ {
		name := "Signature" + strconv.Itoa(i)
		if !slices.ContainsFunc(fields, func(f formField) bool {
			return f.Name == name || strings.HasPrefix(f.Name, name+".")
		}) {
			return name
		}
	}
}

// tagWidgets plans a widget of size s over each place where tag is drawn.
func (d *document) tagWidgets(ctx context.Context, tag string, s Size) ([]newWidget, error) {
	if s == (Size{}) {
		s = DefaultTagSize
	}
	places, pages, err := d.findText(ctx, tag)
	if err != nil {
		return nil, err
	}
	if len(places) == 0 {
		return nil, fmt.Errorf("%w: %q is not drawn on any of the %d pages", ErrTagNotFound, tag, len(pages))
	}
	var out []newWidget
	for _, pl := range places {
		page := pages[pl.Page]
		if page == nil {
			return nil, fmt.Errorf("text tag %q: found on page %d, which the page tree lacks", tag, pl.Page)
		}
		r, turn := tagRect(pl.X, pl.Y, pl.Angle, s)
		const eps = 1e-6
		b := page.box
		if r[0] < b[0]-eps || r[1] < b[1]-eps || r[2] > b[2]+eps || r[3] > b[3]+eps {
			return nil, fmt.Errorf("text tag %q on page %d: a field of %s by %s points from its baseline at (%s, %s) reaches off the page",
				tag, pl.Page, formatNum(s.W), formatNum(s.H), formatNum(pl.X), formatNum(pl.Y))
		}
		out = append(out, newWidget{page: page, rect: r, rotate: (turn + 360) % 360})
	}
	return out, nil
}

// ErrTagNotFound reports a text tag that no page draws.
var ErrTagNotFound = errors.New("text tag not found")

// writeField writes the signature field of the plan, with sigNum as its
// value, its widgets and their appearances, and the pages and the form
// that list them. certified makes the catalog name sigNum as its
// certification signature.
func (u *update) writeField(plan *fieldPlan, sigNum int, o *PrepareOptions, certified bool) error {
	d := u.doc
	acro, acroRef, err := d.doc.AcroForm()
	if err != nil {
		return err
	}
	var newField *pdf.Ref
	if f := plan.existing; f != nil {
		if err := u.fillField(f, sigNum, plan.lock, o); err != nil {
			return err
		}
	} else {
		ref, err := u.addField(plan, sigNum, o)
		if err != nil {
			return err
		}
		newField = &ref
	}
	return u.writeForm(acro, acroRef, newField, certified, sigNum)
}

// fillField writes the existing field f with the value sigNum, and a new
// appearance for each of its visible widgets. Everything else it holds,
// its flags and /Lock included, is kept.
func (u *update) fillField(f *formField, sigNum int, lock *mdp.Lock, o *PrepareOptions) error {
	d := u.doc
	fd := f.Dict.Clone()
	fd.Set("V", pdf.Ref{Num: sigNum})
	if lock != nil {
		fd.Set("Lock", lock.LockDict())
	}
	var annots map[int]*pageInfo
	for _, w := range f.Widgets {
		wd := fd
		if w.Ref != f.Ref {
			wd = w.Dict.Clone()
			// poppler and MuPDF take a widget that has a /Parent for a
			// field of its own and look for the signature in it
			wd.Set("V", pdf.Ref{Num: sigNum})
		}
		r, err := d.rect(wd.Get("Rect"))
		if err != nil {
			r = [4]float64{}
		}
		if widgetVisible(wd, r) {
			if annots == nil {
				if annots, err = d.annotationPages(); err != nil {
					return err
				}
			}
			page, err := d.widgetPage(w, annots)
			if err != nil {
				return fmt.Errorf("signature field %q: %w", f.Name, err)
			}
			turn := page.rotate
			if mk, _ := d.rd.ResolveDict(wd.Get("MK")); mk != nil {
				if v, ok := pdf.Int(mk.Get("R")); ok {
					turn = int((v%360+360)%360) / 90 * 90
				}
			}
			ap, err := u.renderAppearance(r, turn, o)
			if err != nil {
				return fmt.Errorf("signature field %q: %w", f.Name, err)
			}
			wd.Set("AP", ap)
		} else if !wd.Has("AP") {
			ap, err := u.emptyAppearance(r)
			if err != nil {
				return err
			}
			wd.Set("AP", ap)
		}
		if w.Ref != f.Ref {
			if err := u.WriteObject(w.Ref.Num, w.Ref.Gen, wd); err != nil {
				return err
			}
		}
	}
	return u.WriteObject(f.Ref.Num, f.Ref.Gen, fd)
}

// annotationPages maps the object number of each annotation that a page
// lists in its /Annots to that page.
func (d *document) annotationPages() (map[int]*pageInfo, error) {
	m := map[int]*pageInfo{}
	var err error
	werr := d.walkPages(func(p *pageInfo) bool {
		var annots pdf.Object
		if annots, err = d.rd.Resolve(p.dict.Get("Annots")); err != nil {
			err = fmt.Errorf("reading /Annots of page %d: %w", p.number, err)
			return false
		}
		arr, _ := annots.(pdf.Array)
		for _, a := range arr {
			if r, ok := a.(pdf.Ref); ok {
				if _, dup := m[r.Num]; !dup {
					m[r.Num] = p
				}
			}
		}
		return true
	})
	if werr != nil {
		return nil, werr
	}
	return m, err
}

// widgetPage returns the page that shows widget w: the page whose /Annots
// lists it, else its /P.
func (d *document) widgetPage(w sigfield.Widget, annots map[int]*pageInfo) (*pageInfo, error) {
	if p, ok := annots[w.Ref.Num]; ok {
		return p, nil
	}
	if p, ok := w.Dict.Get("P").(pdf.Ref); ok {
		for _, q := range annots {
			if q.ref == p {
				return q, nil
			}
		}
		var found *pageInfo
		if err := d.walkPages(func(q *pageInfo) bool {
			if q.ref == p {
				found = q
			}
			return found == nil
		}); err != nil {
			return nil, err
		}
		if found != nil {
			return found, nil
		}
	}
	return nil, fmt.Errorf("its widget (object %d) is on no page", w.Ref.Num)
}

// widgetVisible reports whether a widget shows something: it has an area
// and is neither hidden nor without view.
func widgetVisible(wd *pdf.Dict, rect [4]float64) bool {
	flags, _ := pdf.Int(wd.Get("F"))
	const hidden, noView = 1 << 1, 1 << 5
	return rect[2]-rect[0] > 0 && rect[3]-rect[1] > 0 && flags&(hidden|noView) == 0
}

// addField writes a new signature field with the value sigNum: merged
// with its widget when it has one, with its widgets as kids when it has
// several. It returns the field's reference.
func (u *update) addField(plan *fieldPlan, sigNum int, o *PrepareOptions) (pdf.Ref, error) {
	fieldNum := u.Alloc()
	field := pdf.NewDict()
	field.Set("FT", pdf.Name("Sig"))
	field.Set("T", pdf.TextString(plan.name))
	field.Set("V", pdf.Ref{Num: sigNum})
	if plan.lock != nil {
		field.Set("Lock", plan.lock.LockDict())
	}
	widgetDict := func(d *pdf.Dict, page *pageInfo, rect [4]float64, turn int) error {
		d.Set("Type", pdf.Name("Annot"))
		d.Set("Subtype", pdf.Name("Widget"))
		d.Set("F", pdf.Integer(132)) // print, locked
		d.Set("Rect", pdf.Array{realNum(rect[0]), realNum(rect[1]), realNum(rect[2]), realNum(rect[3])})
		d.Set("P", page.ref)
		var ap *pdf.Dict
		var err error
		if rect[2] > rect[0] && rect[3] > rect[1] {
			if turn != 0 {
				mk := pdf.NewDict()
				mk.Set("R", pdf.Integer(turn))
				d.Set("MK", mk)
			}
			ap, err = u.renderAppearance(rect, turn, o)
		} else {
			// an empty appearance, which PDF/A requires even for invisible widgets
			ap, err = u.emptyAppearance(rect)
		}
		d.Set("AP", ap)
		return err
	}
	// the widgets of each page, in the order of the plan
	type onPage struct {
		page *pageInfo
		refs pdf.Array
	}
	var pages []*onPage
	addToPage := func(p *pageInfo, ref pdf.Ref) {
		i := slices.IndexFunc(pages, func(x *onPage) bool { return x.page.ref == p.ref })
		if i < 0 {
			pages = append(pages, &onPage{page: p})
			i = len(pages) - 1
		}
		pages[i].refs = append(pages[i].refs, ref)
	}
	switch len(plan.widgets) {
	case 0:
		if err := widgetDict(field, plan.page, [4]float64{}, 0); err != nil {
			return pdf.Ref{}, err
		}
		addToPage(plan.page, pdf.Ref{Num: fieldNum})
	case 1:
		w := plan.widgets[0]
		if err := widgetDict(field, w.page, w.rect, w.rotate); err != nil {
			return pdf.Ref{}, err
		}
		addToPage(w.page, pdf.Ref{Num: fieldNum})
	default:
		var kids pdf.Array
		for _, w := range plan.widgets {
			num := u.Alloc()
			wd := pdf.NewDict()
			wd.Set("Parent", pdf.Ref{Num: fieldNum})
			wd.Set("V", pdf.Ref{Num: sigNum}) // as fillField does, for poppler and MuPDF
			if err := widgetDict(wd, w.page, w.rect, w.rotate); err != nil {
				return pdf.Ref{}, err
			}
			if err := u.WriteObject(num, 0, wd); err != nil {
				return pdf.Ref{}, err
			}
			kids = append(kids, pdf.Ref{Num: num})
			addToPage(w.page, pdf.Ref{Num: num})
		}
		field.Set("Kids", kids)
	}
	if err := u.WriteObject(fieldNum, 0, field); err != nil {
		return pdf.Ref{}, err
	}
	for _, p := range pages {
		if err := u.appendAnnots(p.page, p.refs); err != nil {
			return pdf.Ref{}, err
		}
	}
	return pdf.Ref{Num: fieldNum}, nil
}

// appendAnnots adds annotations to the /Annots of page p: to the array
// object when /Annots refers to one, else to the page dictionary.
func (u *update) appendAnnots(p *pageInfo, refs pdf.Array) error {
	if a, ok := p.dict.Get("Annots").(pdf.Ref); ok {
		arrObj, err := u.doc.rd.Resolve(a)
		if err != nil {
			return fmt.Errorf("reading /Annots of page %d: %w", p.number, err)
		}
		if arr, ok := arrObj.(pdf.Array); ok {
			return u.WriteObject(a.Num, a.Gen, append(append(pdf.Array{}, arr...), refs...))
		}
	}
	arrObj, err := u.doc.rd.Resolve(p.dict.Get("Annots"))
	if err != nil {
		return fmt.Errorf("reading /Annots of page %d: %w", p.number, err)
	}
	arr, _ := arrObj.(pdf.Array)
	pd := p.dict.Clone()
	pd.Set("Annots", append(append(pdf.Array{}, arr...), refs...))
	return u.WriteObject(p.ref.Num, p.ref.Gen, pd)
}

// writeForm writes the AcroForm with /SigFlags 3 and, when field is not
// nil, with field added to /Fields. An AcroForm that is not an indirect
// object is written into a new one, and the catalog is updated to point at
// it. When certified, the catalog's /Perms names sigNum as the
// certification signature. Every other entry is kept as it was.
func (u *update) writeForm(acro *pdf.Dict, acroRef *pdf.Ref, field *pdf.Ref, certified bool, sigNum int) error {
	d := u.doc
	newAcro := acro.Clone()
	flags, _ := pdf.Int(acro.Get("SigFlags"))
	newAcro.Set("SigFlags", pdf.Integer(flags|3))
	if field != nil {
		fieldsObj, err := d.rd.Resolve(acro.Get("Fields"))
		if err != nil {
			return fmt.Errorf("reading the AcroForm /Fields: %w", err)
		}
		fields, _ := fieldsObj.(pdf.Array)
		all := append(append(pdf.Array{}, fields...), *field)
		if fr, ok := acro.Get("Fields").(pdf.Ref); ok && fieldsObj != nil {
			if err := u.WriteObject(fr.Num, fr.Gen, all); err != nil {
				return err
			}
		} else {
			newAcro.Set("Fields", all)
		}
	}
	cat := d.catalog.Clone()
	if acroRef != nil {
		if err := u.WriteObject(acroRef.Num, acroRef.Gen, newAcro); err != nil {
			return err
		}
	} else {
		num := u.Alloc()
		if err := u.WriteObject(num, 0, newAcro); err != nil {
			return err
		}
		cat.Set("AcroForm", pdf.Ref{Num: num})
	}
	if certified {
		perms, err := d.rd.ResolveDict(cat.Get("Perms"))
		if err != nil {
			return fmt.Errorf("reading the catalog's /Perms: %w", err)
		}
		np := pdf.NewDict()
		if perms != nil {
			np = perms.Clone()
		}
		np.Set("DocMDP", pdf.Ref{Num: sigNum})
		cat.Set("Perms", np)
	}
	if acroRef != nil && !certified {
		return nil
	}
	return u.WriteObject(d.rootRef.Num, d.rootRef.Gen, cat)
}

// emptyAppearance writes an empty form XObject the size of rect and returns
// the /AP dictionary that names it.
func (u *update) emptyAppearance(rect [4]float64) (*pdf.Dict, error) {
	num := u.Alloc()
	d := pdf.NewDict()
	d.Set("Type", pdf.Name("XObject"))
	d.Set("Subtype", pdf.Name("Form"))
	d.Set("BBox", pdf.Array{pdf.Integer(0), pdf.Integer(0), realNum(rect[2] - rect[0]), realNum(rect[3] - rect[1])})
	d.Set("Resources", pdf.NewDict())
	if err := u.WriteStream(num, d, nil); err != nil {
		return nil, err
	}
	return apDict(num), nil
}

func apDict(num int) *pdf.Dict {
	ap := pdf.NewDict()
	ap.Set("N", pdf.Ref{Num: num})
	return ap
}

// realNum writes f as a PDF number with at most 4 decimals.
func realNum(f float64) pdf.Object {
	f = math.Round(f*1e4) / 1e4
	if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
		return pdf.Integer(int64(f))
	}
	return pdf.Real(strconv.FormatFloat(f, 'f', -1, 64))
}

// WidgetReport describes a widget of a signature field.
type WidgetReport struct {
	Page int `json:"page,omitempty"` // 0: on no page
	// Rect is x, y, w, h on the page as displayed, as Rect has them.
	Rect    [4]float64 `json:"rect"`
	Visible bool       `json:"visible"`
}

// describeField fills in the layout and the locks of field f: its widgets,
// the lock that signing it sets, and the signed field whose lock covers it.
func (d *document) describeField(f *formField, annots map[int]*pageInfo, locks map[string]*mdp.Lock, sr *SignatureReport) {
	if f.lock != nil {
		sr.Lock = f.lock.String()
	} else if l := locks[f.Name]; l != nil {
		sr.Lock = l.String()
	}
	sr.LockedBy = lockedBy(locks, f.Name)
	for _, w := range f.Widgets {
		r, err := d.rect(w.Dict.Get("Rect"))
		if err != nil {
			r = [4]float64{}
		}
		wr := WidgetReport{Visible: widgetVisible(w.Dict, r)}
		if p, err := d.widgetPage(w, annots); err == nil {
			wr.Page = p.number
			dr := p.displayRect(r)
			wr.Rect = [4]float64{round2(dr.X), round2(dr.Y), round2(dr.W), round2(dr.H)}
		} else {
			wr.Rect = [4]float64{r[0], r[1], r[2] - r[0], r[3] - r[1]}
		}
		sr.Visible = sr.Visible || wr.Visible
		sr.Widgets = append(sr.Widgets, wr)
	}
}

func round2(f float64) float64 { return math.Round(f*100) / 100 }
