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

var windowCols = []string{"window_start", "window_end", "window_time"}

// planWindow plans SELECT ... FROM TABLE(TUMBLE|HOP(...)) GROUP BY
// window_start, window_end, keys over the relation in (a table, view, CTE
// or anything else whose time column is a rowtime attribute).
func planWindow(c *compiler, in relInput, call *ast.FuncCall, sel *ast.Select) (*windowPlan, error) {
	sp := struct {
		sc     *scope
		layout *row.Layout
	}{in.sc, in.node.layout}
	src := c.src
	fn := strings.ToUpper(call.Name.Last().Name)
	wp := &windowPlan{kind: fn}
	d, ok := argAt(call, 1, "TIMECOL").(*ast.DescriptorExpr)
	if !ok || len(d.Columns) != 1 {
		return nil, diag.New(src, call.Span(), "%s needs DESCRIPTOR(time column) as its second argument", fn)
	}
	tc := d.Columns[0].Name
	wp.timeCol = sp.sc.index(tc)
	if wp.timeCol < 0 {
		e := diag.New(src, d.Columns[0].Span(), "Column '%s' not found in table '%s'", tc, in.name)
		if best, ok := diag.Closest(tc, sp.sc.names); ok {
			e.Hint = fmt.Sprintf("did you mean '%s'?", best)
		}
		return nil, e
	}
	if sp.sc.types[wp.timeCol].Attr != types.Rowtime {
		return nil, diag.New(src, d.Columns[0].Span(), "The window function requires the timecol to be a time attribute, but '%s' is %s without a WATERMARK in table '%s'", tc, sp.sc.types[wp.timeCol], in.name)
	}
	dur := func(i int, name string) (time.Duration, error) {
		iv, ok := argAt(call, i, name).(*ast.IntervalLit)
		if !ok {
			return 0, diag.New(src, call.Span(), "%s needs an INTERVAL literal as its %s argument", fn, name)
		}
		ms, _, err := c.interval(iv)
		if err != nil {
			return 0, err
		}
		if ms <= 0 {
			return 0, diag.New(src, iv.Span(), "%s: the %s must be positive", fn, name)
		}
		return time.Duration(ms) * time.Millisecond, nil
	}
	var err error
	switch fn {
	case "CUMULATE":
		if wp.slide, err = dur(2, "STEP"); err != nil {
			return nil, err
		}
		if wp.size, err = dur(3, "SIZE"); err != nil {
			return nil, err
		}
		if wp.size%wp.slide != 0 {
			return nil, diag.New(src, call.Span(), "CUMULATE table function based aggregate requires maxSize must be an integral multiple of step, but got maxSize %v and step %v", wp.size, wp.slide)
		}
	case "SESSION":
		if wp.size, err = dur(2, "GAP"); err != nil {
			return nil, err
		}
	case "HOP":
		if wp.slide, err = dur(2, "SLIDE"); err != nil {
			return nil, err
		}
		if wp.size, err = dur(3, "SIZE"); err != nil {
			return nil, err
		}
		if wp.size%wp.slide != 0 {
			// Flink's rule: its HOP aggregation slices windows by slide.
			return nil, diag.New(src, call.Span(), "HOP table function based aggregate requires size must be an integral multiple of slide, but got size %v and slide %v", wp.size, wp.slide)
		}
	default:
		if wp.size, err = dur(2, "SIZE"); err != nil {
			return nil, err
		}
	}
	// The optional OFFSET (Flink's last argument of TUMBLE, HOP and
	// CUMULATE) shifts the window boundaries; it is normalised into one
	// period (the size, HOP's slide), which gives the same windows.
	offsetAt, unit := 3, wp.size
	switch fn {
	case "HOP":
		offsetAt, unit = 4, wp.slide
	case "CUMULATE":
		offsetAt = 4
	case "SESSION":
		offsetAt = -1
	}
	maxArgs := offsetAt + 1
	if offsetAt < 0 {
		maxArgs = 3
	}
	if len(call.Args) > maxArgs {
		return nil, diag.New(src, call.Args[maxArgs].Span(), "%s takes %d arguments, not %d", fn, maxArgs, len(call.Args))
	}
	if offsetAt > 0 {
		if a := argAt(call, offsetAt, "OFFSET"); a != nil {
			iv, ok := a.(*ast.IntervalLit)
			if !ok {
				return nil, diag.New(src, a.Span(), "%s needs an INTERVAL literal as its OFFSET argument", fn)
			}
			ms, _, err := c.interval(iv)
			if err != nil {
				return nil, err
			}
			wp.offset = time.Duration(ms) * time.Millisecond % unit
		}
	}
	if sel.GroupBy == nil {
		return nil, diag.New(src, sel.Span(), "a window table function needs GROUP BY window_start, window_end: window table functions without aggregation are not supported yet")
	}
	var groupNames []string
	for _, g := range sel.GroupBy.Elements {
		if g.Kind != ast.GroupExpr || len(g.Exprs) != 1 {
			return nil, diag.New(src, g.Span(), "GROUPING SETS, ROLLUP and CUBE are not supported yet")
		}
		n, ok := g.Exprs[0].(*ast.Name)
		if !ok {
			return nil, diag.New(src, g.Span(), "GROUP BY an expression is not supported yet: group by columns")
		}
		name := n.Last().Name
		if !slices.Contains(windowCols, name) {
			i := sp.sc.index(name)
			if i < 0 {
				e := diag.New(src, n.Span(), "Column '%s' not found in any table", name)
				if best, ok := diag.Closest(name, append(slices.Clone(sp.sc.names), windowCols...)); ok {
					e.Hint = fmt.Sprintf("did you mean '%s'?", best)
				}
				return nil, e
			}
			wp.keys = append(wp.keys, i)
		}
		groupNames = append(groupNames, name)
	}
	if !slices.Contains(groupNames, "window_start") || !slices.Contains(groupNames, "window_end") {
		return nil, diag.New(src, sel.GroupBy.Span(), "a window aggregation must GROUP BY window_start and window_end")
	}
	if ta, ok := argAt(call, 0, "DATA").(*ast.TableArg); ok && (len(ta.PartitionBy) > 0 || len(ta.OrderBy) > 0) {
		if fn != "SESSION" || len(ta.OrderBy) > 0 {
			return nil, diag.New(src, ta.Span(), "%s does not take PARTITION BY or ORDER BY on its table argument", fn)
		}
		// Sessions are kept per GROUP BY key, so the partition keys must be
		// those keys: anything else would merge sessions across partitions.
		var part []int
		for _, pe := range ta.PartitionBy {
			n, ok := pe.(*ast.Name)
			i := -1
			if ok {
				i = sp.sc.index(n.Last().Name)
			}
			if i < 0 {
				return nil, diag.New(src, pe.Span(), "SESSION's PARTITION BY takes columns of table '%s'", in.name)
			}
			part = append(part, i)
		}
		a, b := slices.Clone(part), slices.Clone(wp.keys)
		slices.Sort(a)
		slices.Sort(b)
		if !slices.Equal(slices.Compact(a), slices.Compact(b)) {
			return nil, diag.New(src, ta.Span(), "SESSION's PARTITION BY columns must be the GROUP BY columns besides window_start and window_end")
		}
	}
	wp.keyLayout, _ = sp.layout.Project(wp.keys)
	var names []string
	var ts []types.Type
	rtType := types.TimestampType(3)
	if sp.sc.types[wp.timeCol].Kind == types.TimestampLTZ {
		rtType = types.TimestampLTZType(3)
	}
	for i, it := range sel.Items {
		name := itemName(it, i)
		switch e := it.Expr.(type) {
		case *ast.Name:
			col := e.Last().Name
			switch col {
			case "window_start":
				wp.items = append(wp.items, windowItem{kind: itemWindowStart})
				ts = append(ts, types.TimestampType(3).AsNotNull())
			case "window_end":
				wp.items = append(wp.items, windowItem{kind: itemWindowEnd})
				ts = append(ts, types.TimestampType(3).AsNotNull())
			case "window_time":
				// window_time follows from window_end, so it needs no
				// GROUP BY entry of its own.
				wp.items = append(wp.items, windowItem{kind: itemWindowTime})
				ts = append(ts, rtType.AsNotNull().WithAttr(types.Rowtime))
			default:
				k := slices.Index(groupNames, col)
				if k < 0 {
					if sp.sc.index(col) < 0 {
						_, err := c.compile(e, sp.sc)
						return nil, err
					}
					return nil, diag.New(src, e.Span(), "Expression '%s' is not being grouped", col)
				}
				ki := slices.Index(wp.keys, sp.sc.index(col))
				wp.items = append(wp.items, windowItem{kind: itemKey, idx: ki})
				ts = append(ts, sp.sc.types[wp.keys[ki]].WithAttr(types.Regular))
			}
		case *ast.FuncCall:
			if !c.reg.IsAggregate(e.Name.Last().Name) {
				return nil, diag.New(src, e.Span(), "only grouped columns and aggregate calls are supported in a window aggregation's select list yet")
			}
			a, err := planAgg(c, sp.sc, e)
			if err != nil {
				return nil, err
			}
			wp.items = append(wp.items, windowItem{kind: itemAgg, idx: len(wp.aggs)})
			wp.aggs = append(wp.aggs, a)
			ts = append(ts, a.agg.Result)
		default:
			if n := firstUngrouped(it.Expr, groupNames, sp.sc); n != nil {
				return nil, diag.New(src, n.Span(), "Expression '%s' is not being grouped", n.Last().Name)
			}
			return nil, diag.New(src, it.Expr.Span(), "only grouped columns and aggregate calls are supported in a window aggregation's select list yet")
		}
		names = append(names, name)
	}
	wp.out = layoutOf(names, ts)
	wp.newAggInput = func() (func(r *row.Row, accs []functions.Accumulator) error, error) {
		return newAggInput(c, sp.sc, wp.aggs)
	}
	if _, err := wp.newAggInput(); err != nil {
		return nil, err
	}
	wp.direct = directAggInput(c, sp.sc, wp.aggs)
	return wp, nil
}

func firstUngrouped(e ast.Expr, groups []string, sc *scope) *ast.Name {
	var found *ast.Name
	ast.Inspect(e, func(n ast.Node) bool {
		if nm, ok := n.(*ast.Name); ok && found == nil && !slices.Contains(groups, nm.Last().Name) && sc.index(nm.Last().Name) >= 0 {
			found = nm
		}
		return found == nil
	})
	return found
}

func planAgg(c *compiler, sc *scope, call *ast.FuncCall) (*aggSpec, error) {
	name := strings.ToUpper(call.Name.Last().Name)
	if call.Over != nil || call.OverName != nil || len(call.WithinGroup) > 0 {
		return nil, diag.New(c.src, call.Span(), "OVER and WITHIN GROUP are not supported yet")
	}
	var argTypes []types.Type
	for _, a := range call.Args {
		if containsAggregate(c, a) {
			return nil, diag.New(c.src, a.Span(), "aggregate calls cannot be nested")
		}
		x, err := c.compile(a, sc)
		if err != nil {
			return nil, err
		}
		argTypes = append(argTypes, x.typ.WithAttr(types.Regular))
	}
	if call.Filter != nil {
		x, err := c.compile(call.Filter, sc)
		if err != nil {
			return nil, err
		}
		if x.typ.Kind != types.Boolean {
			return nil, diag.New(c.src, call.Filter.Span(), "FILTER must be a condition, not %s", x.typ)
		}
	}
	agg, err := c.reg.Aggregate(name, argTypes, call.Distinct)
	if err != nil {
		return nil, diag.New(c.src, call.Span(), "%v", err)
	}
	return &aggSpec{agg: agg, call: call, args: call.Args, params: agg.Params}, nil
}
