package planner

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sluicehq/sluice/sql/ast"
	"github.com/sluicehq/sluice/sql/diag"
	"github.com/sluicehq/sluice/sql/functions"
	"github.com/sluicehq/sluice/sql/row"
	"github.com/sluicehq/sluice/sql/types"
)

// relAgg is a group aggregation without a window (GROUP BY, a global
// aggregate, SELECT DISTINCT): an updating result, as Flink's
// GroupAggregate.
const relAgg relKind = 10

// aggPlan is a group aggregation: the input columns of its keys, the
// aggregate calls, and its output row (the keys, then one column per
// call).
type aggPlan struct {
	in        *row.Layout
	keys      []int
	keyLayout *row.Layout
	aggs      []*aggSpec
	// set marks the aggregates kept as a multiset of their argument
	// (value → count) in keyed state, so that a retraction can take a
	// value back: MIN, MAX and DISTINCT aggregates over an updating
	// input (Flink's retractable MIN/MAX and distinct views).
	set []bool
	out *row.Layout
	// ttl is table.exec.state.ttl: a key's state expires this long
	// (processing time) after it was last written; 0 keeps it forever.
	ttl time.Duration
	// newInput compiles, per operator instance, the evaluation of the
	// aggregate calls' arguments over an input row: visit is called for
	// each call whose FILTER passes, with its arguments.
	newInput func() (func(r *row.Row, visit func(k int, args []functions.Value)) error, error)
	label    string
}

// tvfFrom reports whether sel reads a window table function (whose
// aggregation is the window's, not a group aggregation).
func tvfFrom(sel *ast.Select) bool {
	_, ok := sel.From.(*ast.TableFunc)
	return ok
}

// needsAgg reports whether a SELECT without a window table function is a
// group aggregation: GROUP BY, HAVING, DISTINCT or an aggregate call in
// its select list.
func needsAgg(c *compiler, sel *ast.Select) bool {
	if sel.GroupBy != nil || sel.Having != nil || sel.Distinct {
		return true
	}
	for _, it := range sel.Items {
		if containsAggregate(c, it.Expr) {
			return true
		}
	}
	return false
}

// stateTTL is the table.exec.state.ttl setting, 0 when unset.
func (p *relPlanner) stateTTL() (time.Duration, error) {
	v, ok := p.cat.Settings["table.exec.state.ttl"]
	if !ok {
		return 0, nil
	}
	d, err := parseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("SET 'table.exec.state.ttl' = '%s': want a duration such as '1 h'", v)
	}
	return d, nil
}

// aggregateRel plans a group aggregation over in (WHERE before it): an
// aggregate node with the GROUP BY columns and the aggregate calls of
// the select list and HAVING, then a calc for the select list's
// expressions and HAVING.
func (p *relPlanner) aggregateRel(sel *ast.Select, in relInput, where ast.Expr) (*relNode, error) {
	c, src := p.c, p.c.src
	fn := in.node
	if where != nil {
		calc, _, err := planCalc(c, in.sc, where, nil, nil)
		if err != nil {
			return nil, err
		}
		fn = &relNode{kind: relCalc, name: in.name, sc: in.sc, layout: in.node.layout, inputs: []*relNode{in.node}, calc: calc, filter: true, calcBase: in.name + "-calc",
			label: fmt.Sprintf("Calc(where=[%s])", ast.Format(where))}
	}
	if sel.Distinct {
		return p.distinctRel(sel, in, fn)
	}
	ttl, err := p.stateTTL()
	if err != nil {
		return nil, err
	}
	ap := &aggPlan{in: fn.layout, ttl: ttl}
	var groupNames []string
	if sel.GroupBy != nil {
		for _, g := range sel.GroupBy.Elements {
			if g.Kind != ast.GroupExpr || len(g.Exprs) != 1 {
				return nil, diag.New(src, g.Span(), "GROUPING SETS, ROLLUP and CUBE are not supported yet")
			}
			n, ok := g.Exprs[0].(*ast.Name)
			if !ok {
				return nil, diag.New(src, g.Span(), "GROUP BY an expression is not supported yet: group by columns")
			}
			name := n.Last().Name
			i := in.sc.index(name)
			if i < 0 {
				e := diag.New(src, n.Span(), "Column '%s' not found in any table", name)
				if best, ok := diag.Closest(name, in.sc.names); ok {
					e.Hint = fmt.Sprintf("did you mean '%s'?", best)
				}
				return nil, e
			}
			if slices.Contains(ap.keys, i) {
				continue
			}
			ap.keys = append(ap.keys, i)
			groupNames = append(groupNames, name)
		}
	}
	// The aggregate calls of the select list and HAVING, each a column
	// of the aggregate's output.
	var outNames []string
	var outTypes []types.Type
	for _, k := range ap.keys {
		outNames = append(outNames, in.sc.names[k])
		outTypes = append(outTypes, in.sc.types[k].WithAttr(types.Regular))
	}
	repl := map[ast.Node]ast.Expr{}
	seen := map[string]ast.Expr{} // a call written twice is one aggregate
	var selParts []string
	for _, k := range ap.keys {
		selParts = append(selParts, in.sc.names[k])
	}
	collect := func(e ast.Expr, direct string) error {
		var err error
		ast.Inspect(e, func(x ast.Node) bool {
			if err != nil {
				return false
			}
			f, ok := x.(*ast.FuncCall)
			if !ok || !c.reg.IsAggregate(f.Name.Last().Name) {
				_, sub := x.(*ast.SubqueryExpr)
				return !sub
			}
			text := ast.Format(f)
			if col, ok := seen[text]; ok {
				repl[f] = col
				return false
			}
			var a *aggSpec
			if a, err = planAgg(c, in.sc, f); err != nil {
				return false
			}
			col := direct
			if col == "" || slices.Contains(outNames, col) || in.sc.index(col) >= 0 {
				col = fmt.Sprintf("$agg%d", len(ap.aggs))
			}
			repl[f] = &ast.Name{Spanned: f.Spanned, Parts: []*ast.Ident{{Spanned: f.Spanned, Name: col}}}
			seen[text] = repl[f]
			ap.aggs = append(ap.aggs, a)
			outNames = append(outNames, col)
			outTypes = append(outTypes, a.agg.Result)
			selParts = append(selParts, fmt.Sprintf("%s AS %s", ast.Format(f), col))
			return false
		})
		return err
	}
	var items []ast.Expr
	var names []string
	for i, it := range sel.Items {
		if st, ok := it.Expr.(*ast.Star); ok {
			is, ns, err := starItems(src, st, in.name, in.sc)
			if err != nil {
				return nil, err
			}
			items, names = append(items, is...), append(names, ns...)
			continue
		}
		direct := ""
		if f, ok := it.Expr.(*ast.FuncCall); ok && c.reg.IsAggregate(f.Name.Last().Name) {
			direct = itemName(it, i)
		}
		if err := collect(it.Expr, direct); err != nil {
			return nil, err
		}
		items = append(items, it.Expr)
		names = append(names, itemName(it, i))
	}
	if sel.Having != nil {
		if err := collect(sel.Having, ""); err != nil {
			return nil, err
		}
	}
	upd := fn.changelog()
	ap.set = make([]bool, len(ap.aggs))
	for k, a := range ap.aggs {
		if !upd.updates {
			continue
		}
		switch {
		case a.agg.Distinct, a.agg.Name == "MIN", a.agg.Name == "MAX":
			ap.set[k] = true
		default:
			if _, ok := a.agg.New().(functions.Retractor); !ok {
				return nil, diag.New(src, a.call.Span(), "%s over an updating input (produced by node %s) is not supported yet: it cannot take back a retracted row", a.agg.Name, upd.producer)
			}
		}
	}
	ap.keyLayout, _ = fn.layout.Project(ap.keys)
	ap.out = layoutOf(outNames, outTypes)
	ap.newInput = aggInput(c, in.sc, ap.aggs)
	if _, err := ap.newInput(); err != nil {
		return nil, err
	}
	if len(ap.keys) > 0 {
		ap.label = fmt.Sprintf("GroupAggregate(groupBy=[%s], select=[%s])", strings.Join(groupNames, ", "), strings.Join(selParts, ", "))
	} else {
		ap.label = fmt.Sprintf("GroupAggregate(select=[%s])", strings.Join(selParts, ", "))
	}
	n := p.aggNode(in.name, fn, ap)

	// The select list and HAVING over the aggregate's columns.
	aggSc := n.sc
	groups := slices.Clone(outNames)
	for i, e := range items {
		items[i] = replaceNodes(e, repl)
		if u := firstUngrouped(items[i], groups, in.sc); u != nil {
			return nil, diag.New(src, u.Span(), "Expression '%s' is not being grouped", u.Last().Name)
		}
	}
	var having ast.Expr
	if sel.Having != nil {
		having = replaceNodes(sel.Having, repl)
		if u := firstUngrouped(having, groups, in.sc); u != nil {
			return nil, diag.New(src, u.Span(), "Expression '%s' is not being grouped", u.Last().Name)
		}
		h, err := c.compile(having, aggSc)
		if err != nil {
			return nil, err
		}
		if h.typ.Kind != types.Boolean {
			return nil, diag.New(src, sel.Having.Span(), "HAVING clause must be a condition, not %s", h.typ)
		}
	}
	if having == nil && identityItems(items, names, outNames) {
		return n, nil
	}
	calc, outL, err := planCalc(c, aggSc, having, items, names)
	if err != nil {
		return nil, err
	}
	l := fmt.Sprintf("Calc(select=[%s]", strings.Join(names, ", "))
	if having != nil {
		l += fmt.Sprintf(", where=[%s]", ast.Format(having))
	}
	return &relNode{kind: relCalc, name: in.name, sc: &scope{names: layoutNames(outL), types: layoutTypes(outL)}, layout: outL, inputs: []*relNode{n}, calc: calc, calcBase: in.name + "-agg-calc",
		label: l + ")"}, nil
}

// identityItems reports whether the select list is the aggregate's
// columns in order, under their names.
func identityItems(items []ast.Expr, names, cols []string) bool {
	if len(items) != len(cols) {
		return false
	}
	for i, e := range items {
		n, ok := e.(*ast.Name)
		if !ok || len(n.Parts) != 1 || n.Last().Name != cols[i] || names[i] != cols[i] {
			return false
		}
	}
	return true
}

// distinctRel plans SELECT DISTINCT items: a calc computing the items,
// then a group aggregation keyed by all of them, without aggregates.
func (p *relPlanner) distinctRel(sel *ast.Select, in relInput, fn *relNode) (*relNode, error) {
	c, src := p.c, p.c.src
	if sel.GroupBy != nil || sel.Having != nil {
		at := sel.Span()
		if sel.GroupBy != nil {
			at = sel.GroupBy.Span()
		}
		return nil, diag.New(src, at, "SELECT DISTINCT with GROUP BY or HAVING is not supported yet")
	}
	var items []ast.Expr
	var names []string
	for i, it := range sel.Items {
		if st, ok := it.Expr.(*ast.Star); ok {
			is, ns, err := starItems(src, st, in.name, in.sc)
			if err != nil {
				return nil, err
			}
			items, names = append(items, is...), append(names, ns...)
			continue
		}
		if containsAggregate(c, it.Expr) {
			return nil, diag.New(src, it.Expr.Span(), "SELECT DISTINCT with aggregate calls is not supported yet")
		}
		items = append(items, it.Expr)
		names = append(names, itemName(it, i))
	}
	for i, n := range names {
		if slices.Contains(names[:i], n) {
			return nil, diag.New(src, sel.Items[min(i, len(sel.Items)-1)].Span(), "Duplicate column name '%s' in SELECT DISTINCT", n)
		}
	}
	calc, outL, err := planCalc(c, in.sc, nil, items, names)
	if err != nil {
		return nil, err
	}
	pre := &relNode{kind: relCalc, name: in.name, sc: &scope{names: layoutNames(outL), types: layoutTypes(outL)}, layout: outL, inputs: []*relNode{fn}, calc: calc, calcBase: in.name + "-calc",
		label: fmt.Sprintf("Calc(select=[%s])", strings.Join(names, ", "))}
	ttl, err := p.stateTTL()
	if err != nil {
		return nil, err
	}
	ap := &aggPlan{in: outL, ttl: ttl}
	var ts []types.Type
	for i := range names {
		ap.keys = append(ap.keys, i)
		ts = append(ts, outL.Type(i).WithAttr(types.Regular))
	}
	ap.keyLayout, _ = outL.Project(ap.keys)
	ap.out = layoutOf(names, ts)
	ap.newInput = aggInput(c, pre.sc, nil)
	ap.label = fmt.Sprintf("GroupAggregate(groupBy=[%s], select=[%s])", strings.Join(names, ", "), strings.Join(names, ", "))
	return p.aggNode(in.name, pre, ap), nil
}

// aggNode is the aggregate node of ap over input: an updating result
// whose upsert key is its group columns.
func (p *relPlanner) aggNode(name string, input *relNode, ap *aggPlan) *relNode {
	n := &relNode{kind: relAgg, name: name, sc: &scope{names: layoutNames(ap.out), types: layoutTypes(ap.out)}, layout: ap.out, inputs: []*relNode{input}, agg: ap, label: ap.label}
	key := make([]int, len(ap.keys))
	for i := range key {
		key[i] = i
	}
	n.mode = &changelogMode{updates: true, upsertKey: key, producer: ap.label}
	return n
}

// aggInput compiles the evaluation of aggs' arguments (cast to their
// parameter types) and FILTERs over rows of scope sc.
func aggInput(c *compiler, sc *scope, aggs []*aggSpec) func() (func(r *row.Row, visit func(k int, args []functions.Value)) error, error) {
	return func() (func(r *row.Row, visit func(k int, args []functions.Value)) error, error) {
		type aggIn struct {
			args   []evalFn
			filter evalFn
			buf    []functions.Value
		}
		ins := make([]aggIn, len(aggs))
		for k, a := range aggs {
			for j, ae := range a.args {
				x, err := c.compile(ae, sc)
				if err != nil {
					return nil, err
				}
				if x, err = c.cast(ae, x, a.params[j], false); err != nil {
					return nil, err
				}
				ins[k].args = append(ins[k].args, x.eval)
			}
			if a.call.Filter != nil {
				x, err := c.compile(a.call.Filter, sc)
				if err != nil {
					return nil, err
				}
				ins[k].filter = x.eval
			}
			ins[k].buf = make([]functions.Value, len(a.args))
		}
		return func(r *row.Row, visit func(k int, args []functions.Value)) error {
			for k := range ins {
				in := &ins[k]
				if in.filter != nil {
					v, err := in.filter(r)
					if err != nil {
						return err
					}
					if v.Null || !v.Bool() {
						continue
					}
				}
				for j, ev := range in.args {
					v, err := ev(r)
					if err != nil {
						return err
					}
					in.buf[j] = v
				}
				visit(k, in.buf)
			}
			return nil
		}, nil
	}
}

// aggLine is the aggregate's line of EXPLAIN's engine job.
func (w *physWriter) aggLine(n *relNode) {
	ip, p := w.ip, w.p
	n.opName, _ = p.unique(ip.sink.Name + "-aggregate")
	in := n.inputs[0]
	ap := n.agg
	var keys []string
	for _, k := range ap.keys {
		keys = append(keys, in.sc.names[k])
	}
	how := fmt.Sprintf("hash exchange on [%s]", strings.Join(keys, ", "))
	if len(keys) == 0 {
		how = "all rows to one subtask: no GROUP BY key"
	}
	if in.opName != w.last {
		how = fmt.Sprintf("reads %q; %s", in.opName, how)
	}
	st := fmt.Sprintf("state per key: %d accumulators, a row count and the last result", len(ap.aggs))
	sets := 0
	for _, s := range ap.set {
		if s {
			sets++
		}
	}
	if sets > 0 {
		st += fmt.Sprintf(", the value counts of %d retractable MIN/MAX/DISTINCT calls", sets)
	}
	if ap.ttl > 0 {
		st += fmt.Sprintf("; state TTL %v", ap.ttl)
	}
	ip.physical = append(ip.physical, fmt.Sprintf("  -> aggregate %q (%s; %s; emits a changelog: +I, -U/+U, -D)", n.opName, how, st))
}
