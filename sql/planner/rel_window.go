package planner

import (
	"fmt"
	"reflect"
	"slices"

	"github.com/sluicehq/sluice/sql/ast"
	"github.com/sluicehq/sluice/sql/diag"
)

// windowOuter reports whether a window aggregation's select list needs a
// calc after the window: an item other than a grouped column or an
// aggregate call (a literal, COUNT(*) + 1, a function of a key).
func windowOuter(c *compiler, sel *ast.Select) bool {
	for _, it := range sel.Items {
		switch e := it.Expr.(type) {
		case *ast.Name:
		case *ast.Star:
			return false // refused by planWindow
		case *ast.FuncCall:
			if !c.reg.IsAggregate(e.Name.Last().Name) {
				return true
			}
		default:
			return true
		}
	}
	return false
}

// splitWindowSelect splits a window aggregation's select list into the
// window's (the GROUP BY columns, window_time when used, and each
// aggregate call as a column $aggN) and the expressions a calc computes
// over the window's rows, with the aggregate calls replaced by their
// columns.
func splitWindowSelect(c *compiler, sel *ast.Select, in *scope) (*ast.Select, []ast.Expr, []string, error) {
	inner := *sel
	inner.Items = nil
	var groups []string
	if sel.GroupBy != nil {
		for _, g := range sel.GroupBy.Elements {
			if g.Kind == ast.GroupExpr && len(g.Exprs) == 1 {
				if n, ok := g.Exprs[0].(*ast.Name); ok {
					groups = append(groups, n.Last().Name)
					inner.Items = append(inner.Items, &ast.SelectItem{Spanned: n.Spanned, Expr: n})
				}
			}
		}
	}
	usesTime := false
	repl := map[ast.Node]ast.Expr{}
	for _, it := range sel.Items {
		ast.Inspect(it.Expr, func(x ast.Node) bool {
			switch e := x.(type) {
			case *ast.FuncCall:
				if c.reg.IsAggregate(e.Name.Last().Name) {
					col := fmt.Sprintf("$agg%d", len(repl))
					id := &ast.Ident{Spanned: e.Spanned, Name: col}
					repl[e] = &ast.Name{Spanned: e.Spanned, Parts: []*ast.Ident{id}}
					inner.Items = append(inner.Items, &ast.SelectItem{Spanned: e.Spanned, Expr: e, Alias: id})
					return false
				}
			case *ast.Name:
				usesTime = usesTime || (len(e.Parts) <= 2 && e.Last().Name == "window_time")
			}
			return true
		})
	}
	if usesTime && !slices.Contains(groups, "window_time") {
		groups = append(groups, "window_time")
		n := &ast.Name{Spanned: sel.Spanned, Parts: []*ast.Ident{{Spanned: sel.Spanned, Name: "window_time"}}}
		inner.Items = append(inner.Items, &ast.SelectItem{Spanned: sel.Spanned, Expr: n})
	}
	var items []ast.Expr
	var names []string
	for i, it := range sel.Items {
		e := replaceNodes(it.Expr, repl)
		if n := firstUngrouped(e, groups, in); n != nil {
			return nil, nil, nil, diag.New(c.src, n.Span(), "Expression '%s' is not being grouped", n.Last().Name)
		}
		items = append(items, e)
		names = append(names, itemName(it, i))
	}
	return &inner, items, names, nil
}

// replaceNodes is e with each node of repl replaced; the nodes on the way
// to a replaced one are copied, the rest shared.
func replaceNodes(e ast.Expr, repl map[ast.Node]ast.Expr) ast.Expr {
	if len(repl) == 0 {
		return e
	}
	v, _ := rewriteValue(reflect.ValueOf(e), repl)
	return v.Interface().(ast.Expr)
}

var nodeIface = reflect.TypeOf((*ast.Node)(nil)).Elem()

// rewriteValue rewrites v, a node pointer or a field of one, and reports
// whether anything under it was replaced.
func rewriteValue(v reflect.Value, repl map[ast.Node]ast.Expr) (reflect.Value, bool) {
	switch v.Kind() {
	case reflect.Interface:
		if v.IsNil() {
			return v, false
		}
		nv, changed := rewriteValue(v.Elem(), repl)
		if !changed {
			return v, false
		}
		out := reflect.New(v.Type()).Elem()
		if !nv.Type().AssignableTo(v.Type()) {
			return v, false
		}
		out.Set(nv)
		return out, true
	case reflect.Pointer:
		if v.IsNil() || v.Elem().Kind() != reflect.Struct {
			return v, false
		}
		if v.Type().Implements(nodeIface) {
			if r, ok := repl[v.Interface().(ast.Node)]; ok {
				return reflect.ValueOf(r), true
			}
		}
		cp := reflect.New(v.Elem().Type())
		cp.Elem().Set(v.Elem())
		changed := false
		for i := range cp.Elem().NumField() {
			f := cp.Elem().Field(i)
			if !f.CanSet() {
				continue
			}
			nv, ch := rewriteValue(f, repl)
			if ch && nv.Type().AssignableTo(f.Type()) {
				f.Set(nv)
				changed = true
			}
		}
		if !changed {
			return v, false
		}
		return cp, true
	case reflect.Slice:
		changed := false
		var out reflect.Value
		for i := range v.Len() {
			nv, ch := rewriteValue(v.Index(i), repl)
			if ch && nv.Type().AssignableTo(v.Type().Elem()) {
				if !changed {
					out = reflect.MakeSlice(v.Type(), v.Len(), v.Len())
					reflect.Copy(out, v)
					changed = true
				}
				out.Index(i).Set(nv)
			}
		}
		if !changed {
			return v, false
		}
		return out, true
	}
	return v, false
}
