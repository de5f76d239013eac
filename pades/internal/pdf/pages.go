package pdf

import (
	"errors"
	"fmt"
	"iter"
)

// Page is one page of a document, as the page tree gives it.
type Page struct {
	Number int // 1-based, in document order
	Ref    Ref
	// Dict is the page dictionary. When the page lacks one of the
	// inheritable attributes (/Resources, /MediaBox, /CropBox, /Rotate),
	// Dict is a copy that holds the value of the nearest ancestor that has
	// it.
	Dict *Dict
}

// maxPageTreeDepth bounds the nesting of the page tree.
const maxPageTreeDepth = 64

// inheritable lists the page attributes that a page takes from its
// ancestors in the page tree when it lacks them (ISO 32000-1, 7.7.3.4).
var inheritable = [...]Name{"Resources", "MediaBox", "CropBox", "Rotate"}

// Pages yields the pages under the /Pages entry of catalog in document
// order. It stops with an error at a page tree node that is not a
// dictionary, that loops back to an ancestor, or that is nested more than
// 64 levels deep. Nodes are read through the reader, within its budget.
func (rd *Reader) Pages(catalog *Dict) iter.Seq2[Page, error] {
	return func(yield func(Page, error) bool) {
		type frame struct {
			kids    Array
			next    int
			inherit [len(inheritable)]Object
			num     int // object number of the node, for the loop check
		}
		n := 0
		onPath := map[int]bool{}
		var stack []frame
		// visit handles node o under the attributes inherit; it reports
		// whether to go on.
		visit := func(o Object, inherit [len(inheritable)]Object) bool {
			ref, isRef := o.(Ref)
			if isRef && onPath[ref.Num] {
				return yield(Page{}, fmt.Errorf("the page tree loops at object %d", ref.Num))
			}
			d, err := rd.ResolveDict(o)
			if err != nil {
				return yield(Page{}, fmt.Errorf("page tree node %v: %w", o, err))
			}
			if d == nil {
				return yield(Page{}, fmt.Errorf("page tree node %v is not a dictionary", o))
			}
			kidsObj, err := rd.Resolve(d.Get("Kids"))
			if err != nil {
				return yield(Page{}, fmt.Errorf("page tree node %v: /Kids: %w", o, err))
			}
			kids, isNode := kidsObj.(Array)
			if d.Get("Type") == Name("Page") || !isNode {
				n++
				page := Page{Number: n, Ref: ref, Dict: d}
				for i, k := range inheritable {
					if !d.Has(k) && inherit[i] != nil {
						if page.Dict == d {
							page.Dict = d.Clone()
						}
						page.Dict.Set(k, inherit[i])
					}
				}
				return yield(page, nil)
			}
			if len(stack) >= maxPageTreeDepth {
				return yield(Page{}, errors.New("the page tree is nested more than 64 levels deep"))
			}
			for i, k := range inheritable {
				if v := d.Get(k); v != nil {
					inherit[i] = v
				}
			}
			f := frame{kids: kids, inherit: inherit, num: -1}
			if isRef {
				f.num = ref.Num
				onPath[ref.Num] = true
			}
			stack = append(stack, f)
			return true
		}
		if !visit(catalog.Get("Pages"), [len(inheritable)]Object{}) {
			return
		}
		for len(stack) > 0 {
			top := &stack[len(stack)-1]
			if top.next >= len(top.kids) {
				delete(onPath, top.num)
				stack = stack[:len(stack)-1]
				continue
			}
			kid := top.kids[top.next]
			top.next++
			if !visit(kid, top.inherit) {
				return
			}
		}
	}
}
