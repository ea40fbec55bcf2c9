package ast

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

var (
	spannedType = reflect.TypeFor[Spanned]()
	nodeType    = reflect.TypeFor[Node]()
)

// Dump prints the structure of n, one field per line, indented by depth:
// every field that is set, and no spans. Two trees with the same Dump are
// equal but for their spans, which is what the parser's round-trip tests
// compare.
func Dump(n Node) string {
	var b strings.Builder
	dumpValue(&b, reflect.ValueOf(n), 0)
	return b.String()
}

// DumpSpans prints every node of n with the source text its span covers,
// one per line in tree order, as "Type line:col-line:col `text`".
func DumpSpans(n Node, src string) string {
	var b strings.Builder
	depth := 0
	var walk func(v reflect.Value)
	walk = func(v reflect.Value) {
		forEachChild(v, func(c Node) {
			sp := c.Span()
			fmt.Fprintf(&b, "%s%s %s %q\n", strings.Repeat("  ", depth), reflect.TypeOf(c).Elem().Name(), sp, sp.Text(src))
			depth++
			walk(reflect.ValueOf(c))
			depth--
		})
	}
	if n != nil && !reflect.ValueOf(n).IsNil() {
		sp := n.Span()
		fmt.Fprintf(&b, "%s %s %q\n", reflect.TypeOf(n).Elem().Name(), sp, sp.Text(src))
		walk(reflect.ValueOf(n))
	}
	return b.String()
}

func dumpValue(b *strings.Builder, v reflect.Value, depth int) {
	switch v.Kind() {
	case reflect.Interface, reflect.Pointer:
		if v.IsNil() {
			b.WriteString("nil\n")
			return
		}
		dumpValue(b, v.Elem(), depth)
	case reflect.Struct:
		b.WriteString(v.Type().Name())
		b.WriteByte('\n')
		for i := 0; i < v.NumField(); i++ {
			f := v.Type().Field(i)
			fv := v.Field(i)
			if f.Type == spannedType || fv.IsZero() {
				continue
			}
			if fv.Kind() == reflect.Slice && fv.Len() == 0 {
				// An empty but non-nil slice: WITH () has options, none of them.
				b.WriteString(strings.Repeat("  ", depth+1))
				b.WriteString(f.Name)
				b.WriteString(": []\n")
				continue
			}
			b.WriteString(strings.Repeat("  ", depth+1))
			b.WriteString(f.Name)
			b.WriteString(": ")
			dumpValue(b, fv, depth+1)
		}
	case reflect.Slice:
		b.WriteByte('\n')
		for i := 0; i < v.Len(); i++ {
			b.WriteString(strings.Repeat("  ", depth+1))
			b.WriteString("- ")
			dumpValue(b, v.Index(i), depth+1)
		}
	case reflect.String:
		b.WriteString(strconv.Quote(v.String()))
		b.WriteByte('\n')
	default:
		if s, ok := v.Interface().(fmt.Stringer); ok {
			fmt.Fprintf(b, "%s\n", s)
			return
		}
		fmt.Fprintf(b, "%v\n", v.Interface())
	}
}

// Inspect walks the tree below n in depth-first order, calling f for n and
// then for each node under it. When f returns false, Inspect does not go
// below that node. Nil nodes are not visited.
func Inspect(n Node, f func(Node) bool) {
	if n == nil || reflect.ValueOf(n).IsNil() {
		return
	}
	if !f(n) {
		return
	}
	forEachChild(reflect.ValueOf(n), func(c Node) { Inspect(c, f) })
}

// forEachChild calls f for each node held directly by the node v, in field
// order (and slice order). Nodes inside plain structs and slices of slices
// (Values.Rows) count as direct children.
func forEachChild(v reflect.Value, f func(Node)) {
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return
		}
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return
	}
	for i := 0; i < v.NumField(); i++ {
		if v.Type().Field(i).Type == spannedType {
			continue
		}
		visitValue(v.Field(i), f)
	}
}

func visitValue(v reflect.Value, f func(Node)) {
	switch v.Kind() {
	case reflect.Interface, reflect.Pointer:
		if v.IsNil() {
			return
		}
		if v.Type().Implements(nodeType) || (v.Kind() == reflect.Interface && v.Elem().Type().Implements(nodeType)) {
			f(v.Interface().(Node))
		}
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			visitValue(v.Index(i), f)
		}
	}
}
