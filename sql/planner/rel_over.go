package planner

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/sql/ast"
	"github.com/sluicehq/sluice/sql/diag"
	"github.com/sluicehq/sluice/sql/row"
	"github.com/sluicehq/sluice/sql/types"
)

// The node kinds of OVER aggregations, Top-N and deduplication.
const (
	relOver relKind = 30 // an OVER aggregation (rel_over.go)
	relRank relKind = 31 // Top-N or deduplication (rel_rank.go)
)

// relOp is the planning of a node kind that lives in its own file: how
// EXPLAIN describes its operator and how it is lowered to the engine.
type relOp interface {
	// describe is the engine job's line of the operator (after "-> ").
	describe(in *relNode, name string) string
	// lower is the operator over its input stream.
	lower(l *lowering, n *relNode, in *engine.Stream[*row.Row]) *engine.Stream[*row.Row]
	// word is the operator's kind in EXPLAIN ("over", "rank").
	word() string
}

// opNode names and describes a relOp node for EXPLAIN (physWriter.node).
func (w *physWriter) opNode(n *relNode) {
	in := n.inputs[0]
	n.opName, _ = w.p.unique(w.ip.sink.Name + "-" + n.op.word())
	d := n.op.describe(in, n.opName)
	if in.opName != w.last {
		d = strings.Replace(d, "(", fmt.Sprintf("(reads %q; ", in.opName), 1)
	}
	w.ip.physical = append(w.ip.physical, "  -> "+d)
}

// overPlan is an OVER aggregation: per partition, rows in event-time
// order, each with aggregates over a frame of the rows before it.
type overPlan struct {
	keys      []int // partition columns of the input
	timeCol   int   // the ORDER BY rowtime column
	rows      bool  // ROWS (else RANGE)
	unbounded bool  // UNBOUNDED PRECEDING
	preceding int64 // ROWS: rows before the current one; RANGE: milliseconds
	aggs      []*aggSpec
	in, out   *row.Layout // out: the input's columns, then one per aggregate
	// newAggInput folds one input row into the accumulators (one per
	// instance: it holds compiled evaluators).
	newAggInput func() (func(r *row.Row, accs accs) error, error)
	spec        string // EXPLAIN's window
	// ttl is table.exec.state.ttl: a partition's accumulators or frame
	// expire this long (processing time) after their last write; 0: never.
	ttl time.Duration
}

// overCall is an aggregate call with OVER in a select list.
type overCall struct {
	call *ast.FuncCall
	spec *ast.WindowSpec
}

// usesOver reports whether a select list has an OVER call (so that its
// WINDOW clause is read by overSelect).
func usesOver(sel *ast.Select) bool {
	found := false
	for _, it := range sel.Items {
		ast.Inspect(it.Expr, func(x ast.Node) bool {
			if f, ok := x.(*ast.FuncCall); ok && (f.Over != nil || f.OverName != nil) {
				found = true
			}
			return !found
		})
	}
	return found
}

// overSelect plans a SELECT whose select list has OVER aggregate calls:
// WHERE (a calc), the OVER aggregation, then a calc computing the select
// list with each OVER call replaced by the aggregation's column. ok is
// false when the select list has no OVER call.
func (p *relPlanner) overSelect(sel *ast.Select, in relInput, where ast.Expr) (*relNode, bool, error) {
	c, src := p.c, p.c.src
	if !usesOver(sel) {
		return nil, false, nil
	}
	if sel.GroupBy != nil {
		return nil, true, diag.New(src, sel.GroupBy.Span(), "OVER aggregations with GROUP BY are not supported yet")
	}
	named := map[string]*ast.WindowSpec{}
	for _, w := range sel.Windows {
		if _, dup := named[w.Name.Name]; dup {
			return nil, true, diag.New(src, w.Name.Span(), "Duplicate window name '%s'", w.Name.Name)
		}
		if w.Spec.Base != nil {
			return nil, true, diag.New(src, w.Spec.Base.Span(), "a window extending another window is not supported yet")
		}
		named[w.Name.Name] = w.Spec
	}
	var calls []overCall
	var err error
	for _, it := range sel.Items {
		ast.Inspect(it.Expr, func(x ast.Node) bool {
			f, ok := x.(*ast.FuncCall)
			if !ok || err != nil {
				return err == nil
			}
			if f.Over == nil && f.OverName == nil {
				if c.reg.IsAggregate(f.Name.Last().Name) {
					err = diag.New(src, f.Span(), "Aggregate function %s without OVER cannot be mixed with OVER aggregations", strings.ToUpper(f.Name.Last().Name))
				}
				return err == nil
			}
			spec := f.Over
			if f.OverName != nil {
				if spec = named[f.OverName.Name]; spec == nil {
					err = diag.New(src, f.OverName.Span(), "Window '%s' not found", f.OverName.Name)
					return false
				}
			}
			calls = append(calls, overCall{call: f, spec: spec})
			return false
		})
		if err != nil {
			return nil, true, err
		}
	}
	for _, oc := range calls[1:] {
		if ast.Format(oc.spec) != ast.Format(calls[0].spec) {
			return nil, true, diag.New(src, oc.call.Span(), "All aggregates must be computed on the same window.")
		}
	}
	if err := appendOnlyInput(src, sel.From.Span(), "StreamPhysicalOverAggregate", in.node); err != nil {
		return nil, true, err
	}
	op, err := planOver(c, in, calls)
	if err != nil {
		return nil, true, err
	}
	if op.ttl, err = p.stateTTL(); err != nil {
		return nil, true, err
	}
	fn := in.node
	if where != nil {
		calc, _, err := planCalc(c, in.sc, where, nil, nil)
		if err != nil {
			return nil, true, err
		}
		fn = &relNode{kind: relCalc, name: in.name, sc: in.sc, layout: in.node.layout, inputs: []*relNode{in.node}, calc: calc, filter: true, calcBase: in.name + "-calc",
			label: fmt.Sprintf("Calc(where=[%s])", ast.Format(where))}
	}
	over := &relNode{kind: relOver, name: in.name, sc: &scope{names: layoutNames(op.out), types: layoutTypes(op.out)}, layout: op.out, inputs: []*relNode{fn}, op: op}
	var aggLabels []string
	repl := map[ast.Node]ast.Expr{}
	for i, oc := range calls {
		col := op.out.Name(in.node.layout.Len() + i)
		aggLabels = append(aggLabels, fmt.Sprintf("%s AS %s", ast.Format(overCallNoWindow(oc.call)), col))
		repl[oc.call] = &ast.Name{Spanned: oc.call.Spanned, Parts: []*ast.Ident{{Spanned: oc.call.Spanned, Name: col}}}
	}
	over.label = fmt.Sprintf("OverAggregate(%s, select=[%s, %s])", op.spec, strings.Join(in.sc.names, ", "), strings.Join(aggLabels, ", "))
	var items []ast.Expr
	var names []string
	for i, it := range sel.Items {
		if st, ok := it.Expr.(*ast.Star); ok {
			is, ns, err := starItems(src, st, in.name, in.sc)
			if err != nil {
				return nil, true, err
			}
			items, names = append(items, is...), append(names, ns...)
			continue
		}
		items = append(items, replaceNodes(it.Expr, repl))
		names = append(names, itemName(it, i))
	}
	calc, outL, err := planCalc(c, over.sc, nil, items, names)
	if err != nil {
		return nil, true, err
	}
	return &relNode{kind: relCalc, name: in.name, sc: &scope{names: layoutNames(outL), types: layoutTypes(outL)}, layout: outL, inputs: []*relNode{over}, calc: calc, calcBase: in.name + "-over-calc",
		label: fmt.Sprintf("Calc(select=[%s])", strings.Join(names, ", "))}, true, nil
}

// overCallNoWindow is call without its OVER, for EXPLAIN.
func overCallNoWindow(call *ast.FuncCall) *ast.FuncCall {
	cp := *call
	cp.Over, cp.OverName = nil, nil
	return &cp
}

// planOver checks the window of calls (all alike) and plans the
// aggregation: partitioned by columns, ordered by the rowtime attribute
// ascending, a frame of ROWS or RANGE from n (or UNBOUNDED) PRECEDING to
// CURRENT ROW; Flink's refusals otherwise.
func planOver(c *compiler, in relInput, calls []overCall) (*overPlan, error) {
	src := c.src
	spec := calls[0].spec
	sc := in.sc
	op := &overPlan{in: in.node.layout}
	var parts []string
	for _, pe := range spec.PartitionBy {
		n, ok := pe.(*ast.Name)
		i := -1
		if ok {
			i = sc.index(n.Last().Name)
		}
		if i < 0 {
			if ok {
				_, err := c.compile(n, sc)
				return nil, err
			}
			return nil, diag.New(src, pe.Span(), "PARTITION BY an expression is not supported yet: partition by columns")
		}
		op.keys = append(op.keys, i)
		parts = append(parts, sc.names[i])
	}
	if len(spec.OrderBy) == 0 {
		return nil, diag.New(src, spec.Span(), "OVER windows' ordering in stream mode must be defined on a time attribute.")
	}
	if len(spec.OrderBy) != 1 {
		return nil, diag.New(src, spec.OrderBy[1].Span(), "The window can only be ordered by a single time column.")
	}
	ob := spec.OrderBy[0]
	op.timeCol = -1
	if n, ok := ob.Expr.(*ast.Name); ok {
		op.timeCol = sc.index(n.Last().Name)
		if op.timeCol < 0 {
			_, err := c.compile(n, sc)
			return nil, err
		}
	}
	if f, ok := ob.Expr.(*ast.FuncCall); ok && strings.EqualFold(f.Name.Last().Name, "PROCTIME") {
		return nil, diag.New(src, ob.Span(), "OVER windows ordered by processing time (PROCTIME()) are not supported yet: order by the rowtime attribute")
	}
	if op.timeCol < 0 || sc.types[op.timeCol].Attr != types.Rowtime {
		return nil, diag.New(src, ob.Expr.Span(), "OVER windows' ordering in stream mode must be defined on a time attribute.")
	}
	if ob.Desc {
		return nil, diag.New(src, ob.Span(), "The window can only be ordered in ASCENDING mode.")
	}
	order := sc.names[op.timeCol]
	op.unbounded = true
	frame := "RANG BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW"
	if f := spec.Frame; f != nil {
		op.rows = f.Unit == ast.FrameRows
		if f.End != nil && f.End.Kind != ast.CurrentRow || f.Start.Kind == ast.Following || f.Start.Kind == ast.UnboundedFollowing {
			bad := f.Start
			if f.End != nil && f.End.Kind != ast.CurrentRow {
				bad = f.End
			}
			if bad.Kind == ast.Following || bad.Kind == ast.UnboundedFollowing {
				return nil, diag.New(src, bad.Span(), "OVER RANGE FOLLOWING windows are not supported yet.")
			}
			return nil, diag.New(src, bad.Span(), "an OVER window's frame must end at CURRENT ROW")
		}
		unit := "RANG"
		if op.rows {
			unit = "ROWS"
		}
		switch f.Start.Kind {
		case ast.UnboundedPreceding:
			frame = unit + " BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW"
		case ast.CurrentRow:
			op.unbounded = false
			frame = unit + " BETWEEN CURRENT ROW AND CURRENT ROW"
		case ast.Preceding:
			op.unbounded = false
			if op.rows {
				nl, ok := f.Start.Offset.(*ast.NumberLit)
				var n int64
				var err error
				if ok {
					n, err = strconv.ParseInt(nl.Text, 10, 64)
				}
				if !ok || err != nil || n < 0 {
					return nil, diag.New(src, f.Start.Offset.Span(), "ROWS n PRECEDING takes a non-negative integer literal")
				}
				op.preceding = n
				frame = fmt.Sprintf("ROWS BETWEEN %d PRECEDING AND CURRENT ROW", n)
			} else {
				iv, ok := f.Start.Offset.(*ast.IntervalLit)
				if !ok {
					return nil, diag.New(src, f.Start.Offset.Span(), "RANGE over a time attribute takes an INTERVAL: RANGE BETWEEN INTERVAL '1' MINUTE PRECEDING AND CURRENT ROW")
				}
				ms, _, err := c.interval(iv)
				if err != nil {
					return nil, err
				}
				if ms < 0 {
					return nil, diag.New(src, iv.Span(), "an OVER window's RANGE must not be negative")
				}
				op.preceding = ms
				frame = fmt.Sprintf("RANG BETWEEN %d PRECEDING AND CURRENT ROW", ms)
			}
		}
	}
	op.spec = fmt.Sprintf("partitionBy=[%s], orderBy=[%s ASC], window=[%s]", strings.Join(parts, ", "), order, frame)
	if len(parts) == 0 {
		op.spec = fmt.Sprintf("orderBy=[%s ASC], window=[%s]", order, frame)
	}
	for _, oc := range calls {
		name := strings.ToUpper(oc.call.Name.Last().Name)
		switch name {
		case "ROW_NUMBER", "RANK", "DENSE_RANK":
			d := diag.New(src, oc.call.Span(), "%s() is only supported in a Top-N or deduplication query", name)
			d.Hint = fmt.Sprintf("select it in a subquery and filter it in the outer query: SELECT * FROM (SELECT *, %s() OVER (...) AS rn FROM t) WHERE rn <= N", name)
			if name != "ROW_NUMBER" {
				d = diag.New(src, oc.call.Span(), "%s() is not supported yet: use ROW_NUMBER()", name)
			}
			return nil, d
		}
		if !c.reg.IsAggregate(oc.call.Name.Last().Name) {
			return nil, diag.New(src, oc.call.Span(), "%s is not an aggregate function: OVER takes aggregate functions", name)
		}
	}
	names := append([]string(nil), sc.names...)
	ts := append([]types.Type(nil), op.in.Types()...)
	for i, oc := range calls {
		a, err := planAgg(c, sc, overCallNoWindow(oc.call))
		if err != nil {
			return nil, err
		}
		op.aggs = append(op.aggs, a)
		names = append(names, fmt.Sprintf("w0$o%d", i))
		ts = append(ts, a.agg.Result)
	}
	op.out = layoutOf(names, ts)
	op.newAggInput = func() (func(*row.Row, accs) error, error) {
		f, err := newAggInput(c, sc, op.aggs)
		if err != nil {
			return nil, err
		}
		return func(r *row.Row, acc accs) error { return f(r, acc) }, nil
	}
	if _, err := op.newAggInput(); err != nil {
		return nil, err
	}
	return op, nil
}
