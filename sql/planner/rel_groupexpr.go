package planner

import (
	"fmt"
	"strings"

	"github.com/sluicehq/sluice/sql/ast"
	"github.com/sluicehq/sluice/sql/diag"
)

// Two GROUP BY forms are planned by rewriting the SELECT into ones the
// planner has:
//
//   - Flink's legacy group windows, GROUP BY k, TUMBLE(ts, size) (HOP(ts,
//     slide, size), SESSION(ts, gap)) with TUMBLE_START(...) / _END /
//     _ROWTIME in the select list, are the window table function over the
//     FROM table grouped by window_start and window_end (SESSION
//     partitioned by the other GROUP BY columns), the auxiliary functions
//     window_start, window_end and window_time.
//   - GROUP BY an expression (GROUP BY DATE_FORMAT(ts, 'yyyy-MM-dd')) is a
//     GROUP BY of a column that a derived table over the FROM item adds,
//     (SELECT *, expr AS EXPR$gN FROM t) t, and every occurrence of the
//     expression in the select list and HAVING reads that column.
//
// Both apply to a SELECT of one FROM table (not a join or a table
// function); other cases keep the planner's errors.

// groupWindowFuncs are the legacy group window functions and their
// auxiliary functions' suffixes.
var groupWindowFuncs = map[string]bool{"TUMBLE": true, "HOP": true, "SESSION": true}

// rewriteGroupBy returns sel with its legacy group window and its GROUP
// BY expressions rewritten, or sel itself when it has neither.
func (p *relPlanner) rewriteGroupBy(sel *ast.Select) (*ast.Select, error) {
	if sel.GroupBy == nil || sel.From == nil {
		return sel, nil
	}
	var win *ast.FuncCall
	winAt := -1
	exprs := 0
	for i, g := range sel.GroupBy.Elements {
		if g.Kind != ast.GroupExpr || len(g.Exprs) != 1 {
			return sel, nil
		}
		switch e := g.Exprs[0].(type) {
		case *ast.Name:
		case *ast.FuncCall:
			if groupWindowFuncs[strings.ToUpper(e.Name.Last().Name)] && len(e.Name.Parts) == 1 {
				if win != nil {
					return nil, diag.New(p.c.src, e.Span(), "only one group window is allowed in GROUP BY")
				}
				win, winAt = e, i
				continue
			}
			exprs++
		default:
			exprs++
		}
	}
	if win == nil && exprs == 0 {
		return sel, nil
	}
	switch f := sel.From.(type) {
	case *ast.TableName:
		if f.SystemTime != nil {
			return sel, nil
		}
	case *ast.DerivedTable:
		if win != nil {
			return nil, diag.New(p.c.src, win.Span(), "a group window %s needs a table (or view) in FROM, not a subquery", strings.ToUpper(win.Name.Last().Name))
		}
	default:
		return sel, nil
	}
	s := *sel
	gb := *sel.GroupBy
	gb.Elements = append([]*ast.GroupingElement(nil), sel.GroupBy.Elements...)
	s.GroupBy = &gb
	if win != nil {
		if err := p.rewriteGroupWindow(&s, win, winAt); err != nil {
			return nil, err
		}
	}
	if exprs > 0 {
		p.rewriteGroupExprs(&s)
	}
	return &s, nil
}

func nameOf(sp ast.Spanned, parts ...string) *ast.Name {
	n := &ast.Name{Spanned: sp}
	for _, s := range parts {
		n.Parts = append(n.Parts, &ast.Ident{Spanned: sp, Name: s})
	}
	return n
}

// rewriteGroupWindow turns GROUP BY ..., W(ts, ...) into the window table
// function W(TABLE t, DESCRIPTOR(ts), ...) grouped by window_start and
// window_end.
func (p *relPlanner) rewriteGroupWindow(s *ast.Select, win *ast.FuncCall, at int) error {
	src := p.c.src
	kind := strings.ToUpper(win.Name.Last().Name)
	want := map[string]int{"TUMBLE": 2, "HOP": 3, "SESSION": 2}[kind]
	if len(win.Args) != want {
		return diag.New(src, win.Span(), "group window %s takes %d arguments, not %d", kind, want, len(win.Args))
	}
	ts, ok := win.Args[0].(*ast.Name)
	if !ok {
		return diag.New(src, win.Args[0].Span(), "the time attribute of group window %s must be a column, not %s", kind, ast.Format(win.Args[0]))
	}
	from := s.From.(*ast.TableName)
	sp := win.Spanned
	arg := &ast.TableArg{Spanned: from.Spanned, Table: from.Name}
	// The other GROUP BY columns: SESSION's partition.
	var elems []*ast.GroupingElement
	for i, g := range s.GroupBy.Elements {
		if i == at {
			continue
		}
		elems = append(elems, g)
		if kind == "SESSION" {
			arg.PartitionBy = append(arg.PartitionBy, g.Exprs[0])
		}
	}
	args := []ast.Expr{arg, &ast.DescriptorExpr{Spanned: ts.Spanned, Columns: []*ast.Ident{ts.Last()}}}
	args = append(args, win.Args[1:]...)
	tf := &ast.TableFunc{Spanned: from.Spanned, Call: &ast.FuncCall{Spanned: sp, Name: nameOf(win.Name.Spanned, kind), Args: args}, Alias: from.Alias}
	if from.Alias == nil {
		tf.Alias = &ast.Alias{Spanned: from.Spanned, Name: &ast.Ident{Spanned: from.Spanned, Name: from.Name.Last().Name}}
	}
	s.From = tf
	for _, c := range []string{"window_start", "window_end"} {
		elems = append(elems, &ast.GroupingElement{Spanned: sp, Kind: ast.GroupExpr, Exprs: []ast.Expr{nameOf(sp, c)}})
	}
	s.GroupBy.Elements = elems
	// The auxiliary functions.
	aux := map[string]string{kind + "_START": "window_start", kind + "_END": "window_end", kind + "_ROWTIME": "window_time"}
	winArgs := formatAll(win.Args)
	var bad error
	rewrite := func(e ast.Expr) ast.Expr {
		repl := map[ast.Node]ast.Expr{}
		ast.Inspect(e, func(x ast.Node) bool {
			f, ok := x.(*ast.FuncCall)
			if !ok || bad != nil {
				return bad == nil
			}
			up := strings.ToUpper(f.Name.Last().Name)
			if col, ok := aux[up]; ok {
				if formatAll(f.Args) != winArgs {
					bad = diag.New(src, f.Span(), "%s(%s) does not match the group window %s(%s)", up, formatAll(f.Args), kind, winArgs)
					return false
				}
				repl[f] = nameOf(f.Spanned, col)
				return false
			}
			if strings.HasPrefix(up, kind+"_") && strings.HasSuffix(up, "PROCTIME") {
				bad = diag.New(src, f.Span(), "%s is not supported yet", up)
				return false
			}
			return true
		})
		return replaceNodes(e, repl)
	}
	items := make([]*ast.SelectItem, len(s.Items))
	for i, it := range s.Items {
		ni := *it
		ni.Expr = rewrite(it.Expr)
		items[i] = &ni
	}
	s.Items = items
	if s.Having != nil {
		s.Having = rewrite(s.Having)
	}
	return bad
}

func formatAll(es []ast.Expr) string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = ast.Format(e)
	}
	return strings.Join(parts, ", ")
}

// rewriteGroupExprs makes each GROUP BY expression a column of a derived
// table over the FROM item.
func (p *relPlanner) rewriteGroupExprs(s *ast.Select) {
	var inner []*ast.SelectItem
	names := map[string]string{} // formatted expression → column
	for i, g := range s.GroupBy.Elements {
		e := g.Exprs[0]
		if _, ok := e.(*ast.Name); ok {
			continue
		}
		if f, ok := e.(*ast.FuncCall); ok && groupWindowFuncs[strings.ToUpper(f.Name.Last().Name)] {
			continue
		}
		k := ast.Format(e)
		col, ok := names[k]
		if !ok {
			col = fmt.Sprintf("EXPR$g%d", len(names))
			names[k] = col
			inner = append(inner, &ast.SelectItem{Spanned: g.Spanned, Expr: e, Alias: &ast.Ident{Spanned: g.Spanned, Name: col}})
		}
		ng := *g
		ng.Exprs = []ast.Expr{nameOf(g.Spanned, col)}
		s.GroupBy.Elements[i] = &ng
	}
	items := make([]*ast.SelectItem, len(s.Items))
	for i, it := range s.Items {
		ni := *it
		ni.Expr = p.replaceGroupExprs(it.Expr, names)
		if ni.Alias == nil && ni.Expr != it.Expr {
			if _, ok := it.Expr.(*ast.Name); !ok {
				ni.Alias = &ast.Ident{Spanned: it.Spanned, Name: fmt.Sprintf("EXPR$%d", i)}
			}
		}
		items[i] = &ni
	}
	s.Items = items
	if s.Having != nil {
		s.Having = p.replaceGroupExprs(s.Having, names)
	}
	sp := ast.Spanned{Loc: s.From.Span()}
	alias := &ast.Alias{Spanned: sp}
	switch f := s.From.(type) {
	case *ast.TableName:
		if f.Alias != nil {
			alias.Name = f.Alias.Name
		} else {
			alias.Name = f.Name.Last()
		}
	case *ast.DerivedTable:
		if f.Alias != nil {
			alias.Name = f.Alias.Name
		}
	}
	body := &ast.Select{Spanned: sp, Items: append([]*ast.SelectItem{{Spanned: sp, Expr: &ast.Star{Spanned: sp}}}, inner...), From: s.From}
	dt := &ast.DerivedTable{Spanned: sp, Query: &ast.Query{Spanned: sp, Body: body}}
	if alias.Name != nil {
		dt.Alias = alias
	}
	s.From = dt
}

// replaceGroupExprs replaces each subexpression of e that is a GROUP BY
// expression by its column.
func (p *relPlanner) replaceGroupExprs(e ast.Expr, names map[string]string) ast.Expr {
	repl := map[ast.Node]ast.Expr{}
	ast.Inspect(e, func(x ast.Node) bool {
		ex, ok := x.(ast.Expr)
		if !ok {
			return true
		}
		if _, isName := ex.(*ast.Name); isName {
			return true
		}
		if col, ok := names[ast.Format(ex)]; ok {
			repl[x] = nameOf(ast.Spanned{Loc: ex.Span()}, col)
			return false
		}
		return true
	})
	return replaceNodes(e, repl)
}

// resolveJoinGroupBy is a join's GROUP BY with its columns named as the
// join's output (A.id, B.id are id, id0).
func (p *relPlanner) resolveJoinGroupBy(in relInput, gb *ast.GroupBy) (*ast.GroupBy, error) {
	out := *gb
	out.Elements = make([]*ast.GroupingElement, len(gb.Elements))
	for i, g := range gb.Elements {
		ng := *g
		ng.Exprs = make([]ast.Expr, len(g.Exprs))
		for k, e := range g.Exprs {
			r, err := p.resolveJoinNames(in, e)
			if err != nil {
				return nil, err
			}
			ng.Exprs[k] = r
		}
		out.Elements[i] = &ng
	}
	return &out, nil
}
