package verify

import (
	"fmt"
	"io"
	"slices"

	"hashsign/pades/internal/pdf"
	"hashsign/pades/internal/sigfield"
)

// roles says what the objects of a revision are, for the objects that the
// judgement of a change needs: pages and their content, resources and
// annotations, form fields, the DSS and the metadata.
type roles struct {
	page       map[int]int    // page object → page number
	pagesNode  map[int]bool   // intermediate nodes of the page tree
	content    map[int]int    // content stream → page number
	resource   map[int]string // resource dictionary or object → what it is
	annotsArr  map[int]int    // indirect /Annots array → page number
	annot      map[int]int    // annotation → page number
	appearance map[int]int    // appearance stream or /AP dictionary → its annotation or field
	field      map[int]string // form field → its fully qualified name
	sigField   map[int]bool   // form fields of type /Sig
	sigValue   map[int]bool   // signature dictionaries (/V of /Sig fields)
	dss        map[int]bool   // the DSS and its arrays, VRI dictionaries and streams
	metadata   map[int]bool   // the information dictionary and XMP metadata
	acroForm   int
}

// maxWalk bounds the objects that the role walk visits.
const maxWalk = 1 << 20

// buildRoles walks the revision doc from its catalog.
func buildRoles(doc *sigfield.Doc) *roles {
	ro := &roles{
		page: map[int]int{}, pagesNode: map[int]bool{}, content: map[int]int{}, resource: map[int]string{},
		annotsArr: map[int]int{}, annot: map[int]int{}, appearance: map[int]int{}, field: map[int]string{},
		sigField: map[int]bool{}, sigValue: map[int]bool{}, dss: map[int]bool{}, metadata: map[int]bool{},
	}
	rd := doc.Reader
	cat := doc.Catalog
	if r, ok := rd.Trailer.Get("Info").(pdf.Ref); ok {
		ro.metadata[r.Num] = true
	}
	if r, ok := cat.Get("Metadata").(pdf.Ref); ok {
		ro.metadata[r.Num] = true
	}
	if r, ok := cat.Get("AcroForm").(pdf.Ref); ok {
		ro.acroForm = r.Num
	}
	visited := 0
	// pages
	pageNo := 0
	var walkPages func(o pdf.Object, depth int)
	seen := map[int]bool{}
	walkPages = func(o pdf.Object, depth int) {
		ref, ok := o.(pdf.Ref)
		if !ok || seen[ref.Num] || depth > 64 || visited > maxWalk {
			return
		}
		seen[ref.Num] = true
		visited++
		d, _ := rd.ResolveDict(ref)
		if d == nil {
			return
		}
		kidsObj, _ := rd.Resolve(d.Get("Kids"))
		kids, isNode := kidsObj.(pdf.Array)
		ro.addResources(rd, d.Get("Resources"), "", depth)
		if d.Get("Type") == pdf.Name("Pages") || isNode && d.Get("Type") != pdf.Name("Page") {
			ro.pagesNode[ref.Num] = true
			for _, k := range kids {
				walkPages(k, depth+1)
			}
			return
		}
		pageNo++
		ro.page[ref.Num] = pageNo
		ro.addResources(rd, d.Get("Resources"), fmt.Sprintf(" of page %d", pageNo), depth)
		switch c := d.Get("Contents").(type) {
		case pdf.Ref:
			ro.content[c.Num] = pageNo
			if arr, _ := rd.Resolve(c); arr != nil {
				if a, ok := arr.(pdf.Array); ok {
					for _, e := range a {
						if r, ok := e.(pdf.Ref); ok {
							ro.content[r.Num] = pageNo
						}
					}
				}
			}
		case pdf.Array:
			for _, e := range c {
				if r, ok := e.(pdf.Ref); ok {
					ro.content[r.Num] = pageNo
				}
			}
		}
		if r, ok := d.Get("Annots").(pdf.Ref); ok {
			ro.annotsArr[r.Num] = pageNo
		}
		annotsObj, _ := rd.Resolve(d.Get("Annots"))
		annots, _ := annotsObj.(pdf.Array)
		for _, a := range annots {
			r, ok := a.(pdf.Ref)
			if !ok {
				continue
			}
			ro.annot[r.Num] = pageNo
			ad, _ := rd.ResolveDict(r)
			if ad != nil {
				ro.addAppearance(rd, ad.Get("AP"), r.Num)
			}
		}
	}
	walkPages(cat.Get("Pages"), 0)
	// form fields
	acro, _, _ := doc.AcroForm()
	if acro != nil {
		fieldsObj, _ := rd.Resolve(acro.Get("Fields"))
		fields, _ := fieldsObj.(pdf.Array)
		var walkFields func(o pdf.Object, prefix string, ft pdf.Object, depth int)
		walkFields = func(o pdf.Object, prefix string, ft pdf.Object, depth int) {
			ref, ok := o.(pdf.Ref)
			if !ok || seen[ref.Num] && ro.field[ref.Num] != "" || depth > 32 || visited > maxWalk {
				return
			}
			visited++
			d, _ := rd.ResolveDict(ref)
			if d == nil {
				return
			}
			name := prefix
			if t, ok := d.Get("T").(pdf.String); ok {
				if name != "" {
					name += "."
				}
				name += pdf.DecodeTextString(t.Value)
			}
			if v := d.Get("FT"); v != nil {
				ft = v
			}
			if name == "" {
				name = fmt.Sprintf("(object %d)", ref.Num)
			}
			ro.field[ref.Num] = name
			if ft == pdf.Name("Sig") {
				ro.sigField[ref.Num] = true
				if v, ok := d.Get("V").(pdf.Ref); ok {
					ro.sigValue[v.Num] = true
				}
			}
			ro.addAppearance(rd, d.Get("AP"), ref.Num)
			kidsObj, _ := rd.Resolve(d.Get("Kids"))
			kids, _ := kidsObj.(pdf.Array)
			for _, k := range kids {
				walkFields(k, name, ft, depth+1)
			}
		}
		for _, f := range fields {
			walkFields(f, "", nil, 0)
		}
	}
	// DSS
	if r, ok := cat.Get("DSS").(pdf.Ref); ok {
		ro.dss[r.Num] = true
	}
	dss, _ := rd.ResolveDict(cat.Get("DSS"))
	if dss != nil {
		ro.markAll(rd, dss, ro.dss, 0, &visited)
	}
	return ro
}

// addResources records a resource dictionary and the objects it names.
func (ro *roles) addResources(rd *pdf.Reader, o pdf.Object, where string, depth int) {
	if r, ok := o.(pdf.Ref); ok {
		ro.resource[r.Num] = "resources" + where
	}
	res, _ := rd.ResolveDict(o)
	if res == nil {
		return
	}
	for _, cat := range res.Keys() {
		v := res.Get(cat)
		if r, ok := v.(pdf.Ref); ok {
			ro.resource[r.Num] = fmt.Sprintf("/%s resources%s", cat, where)
		}
		sub, _ := rd.ResolveDict(v)
		if sub == nil {
			continue
		}
		for _, name := range sub.Keys() {
			if r, ok := sub.Get(name).(pdf.Ref); ok {
				kind := map[pdf.Name]string{"Font": "font", "XObject": "XObject", "ExtGState": "graphics state",
					"ColorSpace": "colour space", "Pattern": "pattern", "Shading": "shading"}[cat]
				if kind == "" {
					kind = "/" + string(cat) + " resource"
				}
				ro.resource[r.Num] = fmt.Sprintf("%s /%s%s", kind, name, where)
			}
		}
	}
}

// addAppearance records the appearance streams of /AP dictionary o as
// belonging to object owner.
func (ro *roles) addAppearance(rd *pdf.Reader, o pdf.Object, owner int) {
	if r, ok := o.(pdf.Ref); ok {
		ro.appearance[r.Num] = owner
	}
	ap, _ := rd.ResolveDict(o)
	if ap == nil {
		return
	}
	for _, k := range []pdf.Name{"N", "R", "D"} {
		v := ap.Get(k)
		if r, ok := v.(pdf.Ref); ok {
			ro.appearance[r.Num] = owner
		}
		if states, _ := rd.Resolve(v); states != nil {
			if sd, ok := states.(*pdf.Dict); ok {
				for _, s := range sd.Keys() {
					if r, ok := sd.Get(s).(pdf.Ref); ok {
						ro.appearance[r.Num] = owner
					}
				}
			}
		}
	}
}

// markAll records every object that o refers to, directly or not, in set.
func (ro *roles) markAll(rd *pdf.Reader, o pdf.Object, set map[int]bool, depth int, visited *int) {
	if depth > 16 || *visited > maxWalk {
		return
	}
	switch x := o.(type) {
	case pdf.Ref:
		if set[x.Num] && depth > 0 {
			return
		}
		set[x.Num] = true
		*visited++
		v, _ := rd.Object(x.Num)
		if st, ok := v.(*pdf.Stream); ok {
			v = st.Dict
		}
		ro.markAll(rd, v, set, depth+1, visited)
	case pdf.Array:
		for _, e := range x {
			ro.markAll(rd, e, set, depth+1, visited)
		}
	case *pdf.Dict:
		for _, k := range x.Keys() {
			ro.markAll(rd, x.Get(k), set, depth+1, visited)
		}
	}
}

// differ compares two consecutive revisions.
type differ struct {
	r        io.ReaderAt
	old, new *sigfield.Doc
	ro       *roles
	newObjs  map[int]bool // objects the update added
	reached  map[int]bool // new objects a classified change accounts for
	changes  []Change
}

// diffRevisions lists what the update that turns old into new changed:
// listed holds the objects that its cross-reference sections list.
func diffRevisions(r io.ReaderAt, old, new *sigfield.Doc, listed []int) []Change {
	d := &differ{r: r, old: old, new: new, newObjs: map[int]bool{}, reached: map[int]bool{}}
	type mod struct {
		num      int
		old, new pdf.Object
	}
	var mods []mod
	slices.Sort(listed)
	for _, num := range slices.Compact(listed) {
		n, err := new.Reader.Object(num)
		if err != nil {
			d.add(ChangeOther, num, "", fmt.Sprintf("object %d cannot be read: %v", num, err))
			continue
		}
		if st, ok := n.(*pdf.Stream); ok {
			if t := st.Dict.Get("Type"); t == pdf.Name("XRef") || t == pdf.Name("ObjStm") {
				continue // structure, not content
			}
		}
		o, err := old.Reader.Object(num)
		if err != nil {
			d.add(ChangeOther, num, "", fmt.Sprintf("object %d of the earlier revision cannot be read: %v", num, err))
			continue
		}
		switch {
		case o == nil && n == nil:
		case o == nil:
			d.newObjs[num] = true
		case !equalObjects(r, o, n, 0):
			mods = append(mods, mod{num, o, n})
		}
	}
	if len(mods) == 0 && old.Root == new.Root {
		return d.changes
	}
	d.ro = buildRoles(old)
	if old.Root != new.Root {
		d.reached[new.Root.Num] = true
		d.catalog(old.Catalog, new.Catalog)
	}
	for _, m := range mods {
		if m.num == old.Root.Num && old.Root == new.Root {
			od, _ := m.old.(*pdf.Dict)
			nd, _ := m.new.(*pdf.Dict)
			if od != nil && nd != nil {
				d.catalog(od, nd)
				continue
			}
		}
		d.modified(m.num, m.old, m.new)
	}
	return d.changes
}

func (d *differ) add(kind string, obj int, field, desc string) {
	d.changes = append(d.changes, Change{Kind: kind, Object: obj, Field: field, Description: desc})
}

// explain marks the new objects that o refers to, directly or through
// other new objects, as accounted for.
func (d *differ) explain(o pdf.Object) {
	d.explainDepth(o, 0)
}

func (d *differ) explainDepth(o pdf.Object, depth int) {
	if depth > 32 {
		return
	}
	switch x := o.(type) {
	case pdf.Ref:
		if !d.newObjs[x.Num] || d.reached[x.Num] {
			return
		}
		d.reached[x.Num] = true
		v, _ := d.new.Reader.Object(x.Num)
		if st, ok := v.(*pdf.Stream); ok {
			v = st.Dict
		}
		d.explainDepth(v, depth+1)
	case pdf.Array:
		for _, e := range x {
			d.explainDepth(e, depth+1)
		}
	case *pdf.Dict:
		for _, k := range x.Keys() {
			d.explainDepth(x.Get(k), depth+1)
		}
	}
}

// changedKeys returns the keys whose values differ between a and b.
func (d *differ) changedKeys(a, b *pdf.Dict) []pdf.Name {
	var out []pdf.Name
	for _, k := range a.Keys() {
		if !equalObjects(d.r, a.Get(k), b.Get(k), 0) {
			out = append(out, k)
		}
	}
	for _, k := range b.Keys() {
		if !a.Has(k) {
			out = append(out, k)
		}
	}
	return out
}

// catalog judges a changed document catalog, key by key.
func (d *differ) catalog(o, n *pdf.Dict) {
	for _, k := range d.changedKeys(o, n) {
		switch k {
		case "DSS":
			d.add(ChangeDSS, 0, "", "the document security store (/DSS) is added or replaced")
			d.explain(n.Get(k))
		case "AcroForm":
			oa, _ := d.old.Reader.ResolveDict(o.Get(k))
			na, _ := d.new.Reader.ResolveDict(n.Get(k))
			if r, ok := n.Get(k).(pdf.Ref); ok {
				d.reached[r.Num] = true
			}
			if oa == nil {
				oa = pdf.NewDict()
			}
			if na == nil {
				d.add(ChangeFormStructure, 0, "", "the interactive form (/AcroForm) is removed")
				continue
			}
			d.acroForm(oa, na)
		case "Metadata", "Extensions":
			d.add(ChangeMetadata, 0, "", fmt.Sprintf("the catalog's /%s is changed", k))
			d.explain(n.Get(k))
		case "Pages":
			d.add(ChangePages, 0, "", "the catalog points to another page tree")
		case "Perms":
			d.add(ChangeSignatureField, 0, "", "the catalog's /Perms (certification and usage rights) is changed")
		default:
			d.add(ChangeCatalog, 0, "", fmt.Sprintf("the catalog's /%s is changed", k))
		}
	}
}

// arrays returns the arrays that entry k of the old and the new
// dictionary hold, and marks a new indirect array as accounted for: its
// entries are judged one by one.
func (d *differ) arrays(o, n *pdf.Dict, k pdf.Name) (pdf.Array, pdf.Array) {
	oo, _ := d.old.Reader.Resolve(o.Get(k))
	no, _ := d.new.Reader.Resolve(n.Get(k))
	oa, _ := oo.(pdf.Array)
	na, _ := no.(pdf.Array)
	if r, ok := n.Get(k).(pdf.Ref); ok {
		d.reached[r.Num] = true
	}
	return oa, na
}

// acroForm judges a changed /AcroForm dictionary.
func (d *differ) acroForm(o, n *pdf.Dict) {
	for _, k := range d.changedKeys(o, n) {
		switch k {
		case "Fields":
			oa, na := d.arrays(o, n, k)
			for _, f := range na {
				if !containsObject(oa, f) {
					d.newField(f)
				}
			}
			for _, f := range oa {
				if !containsObject(na, f) {
					d.add(ChangeFormStructure, refNum(f), "", fmt.Sprintf("form field %s is removed", d.fieldName(f)))
				}
			}
		case "SigFlags":
			// set when a signature is added
		case "DR", "DA", "NeedAppearances":
			d.add(ChangeFormFill, 0, "", fmt.Sprintf("the form's /%s is changed", k))
			d.explain(n.Get(k))
		default:
			d.add(ChangeFormStructure, 0, "", fmt.Sprintf("the form's /%s is changed", k))
		}
	}
}

// fieldName names field f of the old revision, or of the new one.
func (d *differ) fieldName(f pdf.Object) string {
	if r, ok := f.(pdf.Ref); ok {
		if name := d.ro.field[r.Num]; name != "" {
			return fmt.Sprintf("%q", name)
		}
	}
	for _, doc := range []*sigfield.Doc{d.new, d.old} {
		if fd, _ := doc.Reader.ResolveDict(f); fd != nil {
			if t, ok := fd.Get("T").(pdf.String); ok {
				return fmt.Sprintf("%q", pdf.DecodeTextString(t.Value))
			}
		}
	}
	return fmt.Sprintf("(object %d)", refNum(f))
}

// newField judges a field added to the form's /Fields.
func (d *differ) newField(f pdf.Object) {
	fd, _ := d.new.Reader.ResolveDict(f)
	name := d.fieldName(f)
	num := refNum(f)
	if fd == nil {
		d.add(ChangeFormStructure, num, "", fmt.Sprintf("form field %s is added and is not a dictionary", name))
		return
	}
	d.explain(f)
	if d.new.Reader != nil && fd.Get("FT") == pdf.Name("Sig") {
		v, _ := d.new.Reader.ResolveDict(fd.Get("V"))
		switch {
		case v == nil:
			d.add(ChangeSignature, num, "", fmt.Sprintf("empty signature field %s is added", name))
		case v.Get("Type") == pdf.Name("DocTimeStamp") || v.Get("SubFilter") == pdf.Name("ETSI.RFC3161"):
			d.add(ChangeDocTimeStamp, num, "", fmt.Sprintf("document timestamp %s is added", name))
		default:
			d.add(ChangeSignature, num, "", fmt.Sprintf("signature %s is added", name))
		}
		return
	}
	d.add(ChangeFormStructure, num, "", fmt.Sprintf("form field %s is added", name))
}

// modified judges an object of the old revision that the update changed.
func (d *differ) modified(num int, o, n pdf.Object) {
	ro := d.ro
	od, _ := dictOf(o)
	nd, _ := dictOf(n)
	switch {
	case ro.metadata[num]:
		d.add(ChangeMetadata, num, "", "the document metadata is changed")
		d.explain(n)
	case ro.dss[num]:
		d.add(ChangeDSS, num, "", "the document security store is updated")
		d.explain(n)
	case num == ro.acroForm && od != nil && nd != nil:
		d.acroForm(od, nd)
	case ro.sigValue[num]:
		d.add(ChangeSignatureField, num, "", "the signature dictionary of an earlier signature is rewritten")
	case ro.page[num] > 0 && od != nil && nd != nil:
		d.page(num, od, nd)
	case ro.pagesNode[num]:
		d.add(ChangePages, num, "", "the page tree is changed (pages added, removed or moved, or inherited attributes)")
	case ro.annotsArr[num] > 0:
		oa, _ := o.(pdf.Array)
		na, _ := n.(pdf.Array)
		d.annots(ro.annotsArr[num], oa, na)
	case ro.field[num] != "" && od != nil && nd != nil:
		d.field(num, od, nd)
	case ro.annot[num] > 0 && od != nil && nd != nil:
		d.annotation(num, od, nd)
	case ro.content[num] > 0:
		d.add(ChangePageContent, num, "", fmt.Sprintf("a content stream of page %d is changed", ro.content[num]))
	case ro.resource[num] != "":
		d.add(ChangePageResources, num, "", fmt.Sprintf("the %s is changed", ro.resource[num]))
	case hasKey(ro.appearance, num):
		owner := ro.appearance[num]
		switch {
		case ro.field[owner] != "" && ro.sigField[owner]:
			d.add(ChangeSignature, num, ro.field[owner], fmt.Sprintf("the appearance of signature field %q is changed", ro.field[owner]))
		case ro.field[owner] != "":
			d.add(ChangeFormFill, num, ro.field[owner], fmt.Sprintf("the appearance of field %q is changed", ro.field[owner]))
		default:
			d.add(ChangeAnnotation, num, "", fmt.Sprintf("the appearance of an annotation on page %d is changed", ro.annot[owner]))
		}
		d.explain(n)
	default:
		what := fmt.Sprintf("object %d is changed", num)
		if nd != nil {
			if t, ok := nd.Get("Type").(pdf.Name); ok {
				what = fmt.Sprintf("object %d (/Type /%s) is changed", num, t)
				if t == "Font" || t == "XObject" || t == "FontDescriptor" {
					d.add(ChangePageResources, num, "", what)
					return
				}
			}
		}
		d.add(ChangeOther, num, "", what)
	}
}

// page judges a changed page dictionary.
func (d *differ) page(num int, o, n *pdf.Dict) {
	pageNo := d.ro.page[num]
	for _, k := range d.changedKeys(o, n) {
		switch k {
		case "Annots":
			oa, na := d.arrays(o, n, k)
			d.annots(pageNo, oa, na)
		case "Contents":
			d.add(ChangePageContent, num, "", fmt.Sprintf("the content of page %d is replaced", pageNo))
		case "Resources":
			d.add(ChangePageResources, num, "", fmt.Sprintf("the resources of page %d are replaced", pageNo))
		default:
			d.add(ChangePages, num, "", fmt.Sprintf("page %d's /%s is changed", pageNo, k))
		}
	}
}

// annots judges the annotations added to and removed from a page.
func (d *differ) annots(pageNo int, o, n pdf.Array) {
	for _, a := range n {
		if containsObject(o, a) || d.reached[refNum(a)] {
			continue
		}
		ad, _ := d.new.Reader.ResolveDict(a)
		num := refNum(a)
		switch {
		case ad == nil:
			d.add(ChangeAnnotation, num, "", fmt.Sprintf("an annotation that is not a dictionary is added to page %d", pageNo))
		case ad.Get("Subtype") == pdf.Name("Widget"):
			if d.isSigWidget(ad) {
				d.add(ChangeSignature, num, "", fmt.Sprintf("a signature field's widget is added to page %d", pageNo))
			} else {
				d.add(ChangeFormStructure, num, "", fmt.Sprintf("a form field's widget is added to page %d", pageNo))
			}
		default:
			sub, _ := ad.Get("Subtype").(pdf.Name)
			d.add(ChangeAnnotation, num, "", fmt.Sprintf("a /%s annotation is added to page %d", sub, pageNo))
		}
		d.explain(a)
	}
	for _, a := range o {
		if containsObject(n, a) {
			continue
		}
		ad, _ := d.old.Reader.ResolveDict(a)
		if ad != nil && ad.Get("Subtype") == pdf.Name("Widget") {
			d.add(ChangeFormStructure, refNum(a), "", fmt.Sprintf("a form field's widget is removed from page %d", pageNo))
			continue
		}
		d.add(ChangeAnnotation, refNum(a), "", fmt.Sprintf("an annotation is removed from page %d", pageNo))
	}
}

// isSigWidget reports whether widget annotation w belongs to a signature
// field.
func (d *differ) isSigWidget(w *pdf.Dict) bool {
	for i := 0; w != nil && i < 32; i++ {
		if ft := w.Get("FT"); ft != nil {
			return ft == pdf.Name("Sig")
		}
		w, _ = d.new.Reader.ResolveDict(w.Get("Parent"))
	}
	return false
}

// formFillKeys are the entries of a field or widget that filling in a
// form changes.
var formFillKeys = map[pdf.Name]bool{"V": true, "AS": true, "AP": true, "RV": true, "MK": true}

// field judges a changed form field (or a field merged with its widget).
func (d *differ) field(num int, o, n *pdf.Dict) {
	name := d.ro.field[num]
	sig := d.ro.sigField[num]
	for _, k := range d.changedKeys(o, n) {
		switch {
		case sig && k == "V" && o.Get("V") == nil:
			v, _ := d.new.Reader.ResolveDict(n.Get("V"))
			if v != nil && (v.Get("Type") == pdf.Name("DocTimeStamp") || v.Get("SubFilter") == pdf.Name("ETSI.RFC3161")) {
				d.add(ChangeDocTimeStamp, num, name, fmt.Sprintf("empty signature field %q is filled with a document timestamp", name))
			} else {
				d.add(ChangeSignature, num, name, fmt.Sprintf("empty signature field %q is signed", name))
			}
			d.explain(n.Get(k))
		case sig && k == "V":
			d.add(ChangeSignatureField, num, name, fmt.Sprintf("the value of signature field %q is replaced", name))
		case sig && (k == "AP" || k == "MK" || k == "Lock" || k == "SV"):
			d.add(ChangeSignature, num, name, fmt.Sprintf("signature field %q's /%s is set as it is signed", name, k))
			d.explain(n.Get(k))
		case !sig && formFillKeys[k]:
			d.add(ChangeFormFill, num, name, fmt.Sprintf("field %q's /%s is changed", name, k))
			d.explain(n.Get(k))
		default:
			d.add(ChangeFormStructure, num, name, fmt.Sprintf("field %q's /%s is changed", name, k))
		}
	}
}

// annotation judges a changed annotation that is not a form field.
func (d *differ) annotation(num int, o, n *pdf.Dict) {
	pageNo := d.ro.annot[num]
	if o.Get("Subtype") == pdf.Name("Widget") {
		for _, k := range d.changedKeys(o, n) {
			if formFillKeys[k] {
				d.add(ChangeFormFill, num, "", fmt.Sprintf("a widget's /%s on page %d is changed", k, pageNo))
				d.explain(n.Get(k))
			} else {
				d.add(ChangeFormStructure, num, "", fmt.Sprintf("a widget's /%s on page %d is changed", k, pageNo))
			}
		}
		return
	}
	sub, _ := o.Get("Subtype").(pdf.Name)
	d.add(ChangeAnnotation, num, "", fmt.Sprintf("a /%s annotation on page %d is changed", sub, pageNo))
	d.explain(n)
}

func dictOf(o pdf.Object) (*pdf.Dict, bool) {
	switch x := o.(type) {
	case *pdf.Dict:
		return x, true
	case *pdf.Stream:
		return x.Dict, false
	}
	return nil, false
}

func hasKey[K comparable, V any](m map[K]V, k K) bool {
	_, ok := m[k]
	return ok
}

func refNum(o pdf.Object) int {
	if r, ok := o.(pdf.Ref); ok {
		return r.Num
	}
	return 0
}

// containsObject reports whether arr holds o (references by number,
// direct objects by value).
func containsObject(arr pdf.Array, o pdf.Object) bool {
	for _, e := range arr {
		if e == o {
			return true
		}
		if _, ok := o.(pdf.Ref); !ok {
			if ed, ok := e.(*pdf.Dict); ok {
				if od, ok := o.(*pdf.Dict); ok && ed == od {
					return true
				}
			}
		}
	}
	return false
}
