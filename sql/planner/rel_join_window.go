package planner

import (
	"fmt"
	"strings"
	"time"

	"github.com/sluicehq/sluice/sql/ast"
	"github.com/sluicehq/sluice/sql/diag"
	"github.com/sluicehq/sluice/sql/functions"
	"github.com/sluicehq/sluice/sql/row"
	"github.com/sluicehq/sluice/sql/types"
)

// windowTVF marks a relation that is a windowing table function's output
// (SELECT ... FROM TABLE(TUMBLE(...)) without aggregation): which of its
// columns are window_start and window_end, and the window, for a window
// join to recognise.
type windowTVF struct {
	start, end int // output columns; -1 when not selected
	desc       string
	size       time.Duration
	offset     time.Duration
}

// windowingTVF plans SELECT items FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts),
// size)) [WHERE ...] without GROUP BY: each row gets the columns
// window_start, window_end and window_time (Flink's windowing table
// function; the time column stops being a time attribute, window_time is
// one). Only TUMBLE: HOP and CUMULATE put a row into several windows.
func (p *relPlanner) windowingTVF(in relInput, call *ast.FuncCall, sel *ast.Select) (*relNode, error) {
	c, src := p.c, p.c.src
	fn := strings.ToUpper(call.Name.Last().Name)
	if fn != "TUMBLE" {
		return nil, diag.New(src, call.Name.Span(), "%s without aggregation (a windowing table function as a relation) is not supported yet: only TUMBLE", fn)
	}
	// planWindow checks the arguments; the GROUP BY given here is what
	// it requires of an aggregation.
	name := func(n string) *ast.Name {
		return &ast.Name{Spanned: sel.Spanned, Parts: []*ast.Ident{{Spanned: sel.Spanned, Name: n}}}
	}
	probe := &ast.Select{Spanned: sel.Spanned,
		Items:   []*ast.SelectItem{{Spanned: sel.Spanned, Expr: name("window_start")}, {Spanned: sel.Spanned, Expr: name("window_end")}},
		GroupBy: &ast.GroupBy{Spanned: sel.Spanned, Elements: []*ast.GroupingElement{{Spanned: sel.Spanned, Kind: ast.GroupExpr, Exprs: []ast.Expr{name("window_start")}}, {Spanned: sel.Spanned, Kind: ast.GroupExpr, Exprs: []ast.Expr{name("window_end")}}}},
	}
	wp, err := planWindow(c, in, call, probe)
	if err != nil {
		return nil, err
	}
	if err := appendOnlyInput(src, call.Span(), "StreamPhysicalWindowTableFunction", in.node); err != nil {
		return nil, err
	}
	// The windowed row: the input's columns, then the window's.
	sc := &scope{names: append(append([]string(nil), in.sc.names...), windowCols...)}
	for i, t := range in.sc.types {
		if i == wp.timeCol {
			t = t.WithAttr(types.Regular)
		}
		sc.types = append(sc.types, t)
	}
	rt := types.TimestampType(3)
	if in.sc.types[wp.timeCol].Kind == types.TimestampLTZ {
		rt = types.TimestampLTZType(3)
	}
	sc.types = append(sc.types, types.TimestampType(3).AsNotNull(), types.TimestampType(3).AsNotNull(), rt.AsNotNull().WithAttr(types.Rowtime))
	wl := layoutOf(sc.names, sc.types)
	size, offset := wp.size.Milliseconds(), wp.offset.Milliseconds()
	tcol, n := wp.timeCol, len(in.sc.names)
	windowed := func() (rowFn, error) {
		return func(r *row.Row) (*row.Row, bool, error) {
			if r.IsNull(tcol) {
				return nil, false, nil // no window: Flink drops it
			}
			o := wl.New()
			o.Kind = r.Kind
			for i := range n {
				functions.Write(o, i, functions.Read(r, i))
			}
			ts := r.Timestamp(tcol).Millis
			start := ts - ((ts-offset)%size+size)%size
			o.SetTimestamp(n, row.TimestampFromMillis(start))
			o.SetTimestamp(n+1, row.TimestampFromMillis(start+size))
			o.SetTimestamp(n+2, row.TimestampFromMillis(start+size-1))
			return o, true, nil
		}, nil
	}
	desc := fmt.Sprintf("TUMBLE(time_col=[%s], size=[%v])", in.sc.names[tcol], wp.size)
	if wp.offset != 0 {
		desc = strings.TrimSuffix(desc, ")") + fmt.Sprintf(", offset=[%v])", wp.offset)
	}
	wn := &relNode{kind: relCalc, name: in.name, sc: sc, layout: wl, inputs: []*relNode{in.node}, calc: windowed, calcBase: in.name + "-windowing",
		label: fmt.Sprintf("WindowTableFunction(window=[%s])", desc)}
	// WHERE and the select list over the windowed row.
	var items []ast.Expr
	var names []string
	for i, it := range sel.Items {
		if st, ok := it.Expr.(*ast.Star); ok {
			is, ns, err := starItems(src, st, in.name, sc)
			if err != nil {
				return nil, err
			}
			items, names = append(items, is...), append(names, ns...)
			continue
		}
		if containsAggregate(c, it.Expr) {
			return nil, diag.New(src, it.Expr.Span(), "an aggregation over a window table function needs GROUP BY window_start, window_end")
		}
		items = append(items, it.Expr)
		names = append(names, itemName(it, i))
	}
	calc, outL, err := planCalc(c, sc, sel.Where, items, names)
	if err != nil {
		return nil, err
	}
	out := &relNode{kind: relCalc, name: in.name, sc: &scope{names: layoutNames(outL), types: layoutTypes(outL)}, layout: outL, inputs: []*relNode{wn}, calc: calc, calcBase: in.name + "-calc"}
	l := fmt.Sprintf("Calc(select=[%s]", strings.Join(names, ", "))
	if sel.Where != nil {
		l += fmt.Sprintf(", where=[%s]", ast.Format(sel.Where))
	}
	out.label = l + ")"
	w := &windowTVF{start: -1, end: -1, desc: desc, size: wp.size, offset: wp.offset}
	for i, x := range items {
		if nm, ok := x.(*ast.Name); ok && len(nm.Parts) == 1 {
			switch nm.Parts[0].Name {
			case "window_start":
				w.start = i
			case "window_end":
				w.end = i
			}
		}
	}
	out.wtvf = w
	return out, nil
}

// windowJoin makes jp a window join when both inputs are windowing
// table functions of the same window and the condition equates their
// window_start and window_end: the join of each window's rows, kept
// until the watermark passes the window's end (an interval join on
// window_end with bounds [0, 0]); rows of an outer side that met none
// are emitted padded then. It returns the EXPLAIN label, "" when jp is
// not a window join.
func windowJoin(jp *joinPlan, l, r *relNode) (string, bool) {
	lw, rw := l.wtvf, r.wtvf
	if lw == nil || rw == nil || lw.start < 0 || lw.end < 0 || rw.start < 0 || rw.end < 0 {
		return "", false
	}
	var onStart, onEnd bool
	for i, k := range jp.lkeys {
		onStart = onStart || (k == lw.start && jp.rkeys[i] == rw.start)
		onEnd = onEnd || (k == lw.end && jp.rkeys[i] == rw.end)
	}
	if !onStart || !onEnd {
		return "", false
	}
	if lw.size != rw.size || lw.offset != rw.offset {
		return "", true
	}
	jp.interval = &joinInterval{lo: 0, hi: 0, ltime: lw.end, rtime: rw.end, lbound: true, ubound: true}
	jp.window = true
	return fmt.Sprintf("WindowJoin(leftWindow=[%s], rightWindow=[%s], joinType=[%s], where=[%s], select=[%s])",
		lw.desc, rw.desc, jp.flinkType, jp.whereText, strings.Join(jp.sc.names, ", ")), true
}

// containsAggregateItem reports whether an item of sel's select list
// calls an aggregate.
func containsAggregateItem(c *compiler, sel *ast.Select) bool {
	for _, it := range sel.Items {
		if _, star := it.Expr.(*ast.Star); !star && containsAggregate(c, it.Expr) {
			return true
		}
	}
	return false
}
