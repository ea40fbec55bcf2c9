package planner

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/sluicehq/sluice/sql/ast"
	"github.com/sluicehq/sluice/sql/catalog"
	"github.com/sluicehq/sluice/sql/diag"
	"github.com/sluicehq/sluice/sql/functions"
	"github.com/sluicehq/sluice/sql/row"
	"github.com/sluicehq/sluice/sql/types"
)

// rowFn maps one input row to an output row, or drops it (keep false).
type rowFn func(in *row.Row) (out *row.Row, keep bool, err error)

// pooled runs compilations of one validated expression set, one per
// concurrent caller, where the engine calls a shared function from several
// subtasks (a window's Aggregator; each datagen subtask takes one for
// good). newFn cannot fail: the plan compiled the same expressions
// already.
type pooled[F any] struct{ p sync.Pool }

func newPooled[F any](newFn func() (F, error)) *pooled[F] {
	return &pooled[F]{p: sync.Pool{New: func() any {
		f, err := newFn()
		if err != nil {
			panic(fmt.Sprintf("planner: recompiling a validated plan failed: %v", err))
		}
		return f
	}}}
}

func (p *pooled[F]) get() F  { return p.p.Get().(F) }
func (p *pooled[F]) put(f F) { p.p.Put(f) }

// sourcePlan is a table read: the physical columns the connector gives
// and the computed columns evaluated on each row, in the table's order.
type sourcePlan struct {
	table    *catalog.Table
	layout   *row.Layout
	sc       *scope
	computed *pooled[func(*row.Row) error] // fills the computed columns in place
	rowtime  int                           // column index, -1 without a watermark
	delay    time.Duration
}

// windowPlan is a TUMBLE, HOP, CUMULATE or SESSION window aggregation.
type windowPlan struct {
	timeCol int
	// kind is the table function's name. size is TUMBLE's and HOP's size,
	// CUMULATE's max size and SESSION's gap; slide is HOP's slide and
	// CUMULATE's step.
	kind        string
	size, slide time.Duration
	offset      time.Duration // TUMBLE's, HOP's and CUMULATE's OFFSET, within one period
	keys        []int         // input columns of the GROUP BY keys
	keyLayout   *row.Layout   // the keys' projection
	out         *row.Layout   // the select list's row
	items       []windowItem  // how each output column is made
	aggs        []*aggSpec    // the aggregate calls
	newAggInput func() (func(r *row.Row, accs []functions.Accumulator) error, error)
	direct      func(r *row.Row, accs []functions.Accumulator) // agg_input.go; nil unless every aggregate reads a column or nothing
}

type windowItemKind uint8

const (
	itemWindowStart windowItemKind = iota + 1
	itemWindowEnd
	itemWindowTime
	itemKey
	itemAgg
)

type windowItem struct {
	kind windowItemKind
	idx  int // key index or aggregate index
}

type aggSpec struct {
	agg    *functions.Aggregate
	call   *ast.FuncCall
	args   []ast.Expr
	params []types.Type
}

// insertPlan is one INSERT: the query's relational tree, the cast to the
// sink's column types and the sink.
type insertPlan struct {
	seq      int           // the sink is operator op(sink.Name): "name", "name#2", ...
	idle     time.Duration // buildSource: table.exec.source.idle-timeout; 0 never
	c        *compiler
	src      *sourcePlan // buildSource: the table it reads (an insertPlan per scan)
	root     *relNode
	sinkCast func() (rowFn, error) // the query's row cast to the sink's column types; one per instance; nil when the identity
	castName string
	sinkOwns bool // the sink is the only consumer of its input: it may release rows (build)
	sink     *catalog.Table
	sinkL    *row.Layout
	logical  []string
	physical []string
}

func (p *relPlanner) planInsert(ins *ast.Insert) (*insertPlan, error) {
	c, cat := p.c, p.cat
	src := c.src
	if ins.Overwrite {
		return nil, diag.New(src, ins.Span(), "INSERT OVERWRITE is not supported yet")
	}
	if len(ins.Partition) > 0 || len(ins.Columns) > 0 {
		return nil, diag.New(src, ins.Span(), "INSERT with a column list or PARTITION is not supported yet")
	}
	if _, isV := cat.View(ins.Table.Last().Name); isV {
		return nil, diag.New(src, ins.Table.Span(), "INSERT INTO a view is not supported: '%s' is a view", ins.Table.Last().Name)
	}
	sink, err := cat.Lookup(ins.Table.Last().Name, ins.Table.Span())
	if err != nil {
		return nil, err
	}
	if n := sink.Factory.Name(); n == "datagen" || n == "nexmark" {
		return nil, diag.New(src, ins.Table.Span(), "Connector '%s' can only be used as a source", n)
	}
	idle := time.Duration(0)
	if v, ok := cat.Settings["table.exec.source.idle-timeout"]; ok {
		d, err := parseDuration(v)
		if err != nil || d < 0 {
			return nil, fmt.Errorf("SET 'table.exec.source.idle-timeout' = '%s': want a duration such as '10 s'", v)
		}
		idle = d
	}
	root, err := p.query(ins.Query)
	if err != nil {
		return nil, err
	}
	if m := root.changelog(); m.updates && !acceptsUpdates(sink) {
		e := diag.New(src, ins.Table.Span(), "Table sink '%s' doesn't support consuming update and delete changes which is produced by node %s", sink.Name, m.producer)
		e.Hint = appendOnlySinkHint
		return nil, e
	}
	ip := &insertPlan{c: c, sink: sink, root: root, idle: idle}
	if ip.sinkCast, ip.sinkL, err = planSinkCast(c, ins, root.layout, sink); err != nil {
		return nil, err
	}
	p.nameInsert(ip)
	return ip, nil
}

func itemName(it *ast.SelectItem, i int) string {
	if it.Alias != nil {
		return it.Alias.Name
	}
	if n, ok := it.Expr.(*ast.Name); ok {
		return n.Last().Name
	}
	return fmt.Sprintf("EXPR$%d", i)
}

func containsAggregate(c *compiler, e ast.Expr) bool {
	found := false
	ast.Inspect(e, func(n ast.Node) bool {
		if f, ok := n.(*ast.FuncCall); ok && c.reg.IsAggregate(f.Name.Last().Name) {
			found = true
		}
		return !found
	})
	return found
}

// argAt is a table function's argument by position or by name.
func argAt(call *ast.FuncCall, i int, name string) ast.Expr {
	for _, a := range call.Args {
		if na, ok := a.(*ast.NamedArg); ok && strings.EqualFold(na.Name.Name, name) {
			return na.Value
		}
	}
	if i < len(call.Args) {
		if _, named := call.Args[i].(*ast.NamedArg); !named {
			return call.Args[i]
		}
	}
	return nil
}

// planSource types a table's columns (computed ones by their expression)
// and its watermark.
func planSource(c *compiler, t *catalog.Table, ref diag.Span) (*sourcePlan, error) {
	if _, ok := t.Factory.(ExternalSource); ok {
		return planExternalSource(t), nil
	}
	if n := t.Factory.Name(); n != "datagen" && n != "filesystem" && n != "shardlog" && n != "kinesis" && n != "upsert-shardlog" && n != "kafka" && n != "upsert-kafka" && n != "nexmark" {
		return nil, diag.New(c.src, ref, "reading connector '%s' is not supported yet (datagen, filesystem, shardlog and kinesis are)", n)
	}
	sc := &scope{}
	var phys []int
	for i, col := range t.Columns {
		if col.Expr == nil {
			phys = append(phys, i)
			sc.names = append(sc.names, col.Name)
			sc.types = append(sc.types, col.Type)
		}
	}
	// Computed columns may use the physical columns and the computed
	// columns before them, as Flink's.
	var comp []int
	for i, col := range t.Columns {
		if col.Expr == nil {
			continue
		}
		x, err := c.compile(col.Expr, sc)
		if err != nil {
			return nil, err
		}
		t.Columns[i].Type = x.typ
		sc.names = append(sc.names, col.Name)
		sc.types = append(sc.types, x.typ)
		comp = append(comp, i)
	}
	sp := &sourcePlan{table: t, sc: sc, rowtime: -1, layout: layoutOf(sc.names, sc.types)}
	if t.Watermark != nil {
		i := sc.index(t.Watermark.Column)
		rt := sc.types[i]
		if !rt.IsTimestamp() || rt.Precision > 3 {
			return nil, diag.New(c.src, t.Watermark.Span, "Invalid data type of time field for watermark definition. The field must be of type TIMESTAMP(p) or TIMESTAMP_LTZ(p), the supported precision 'p' is from 0 to 3, but the time field type is %s", rt)
		}
		w, err := c.compile(t.Watermark.Expr, sc)
		if err != nil {
			return nil, err
		}
		if w.typ.Kind != rt.Kind {
			return nil, diag.New(c.src, t.Watermark.Expr.Span(), "Watermark strategy %s must be of type %s, but is of type %s", ast.Format(t.Watermark.Expr), rt.Nullable(), w.typ.Nullable())
		}
		d, err := watermarkDelay(c, t.Watermark)
		if err != nil {
			return nil, err
		}
		sp.rowtime, sp.delay = i, d
		sc.types[i] = rt.WithAttr(types.Rowtime)
		sp.layout = layoutOf(sc.names, sc.types)
	}
	base := &scope{names: sc.names, types: sc.types}
	newComputed := func() (func(*row.Row) error, error) {
		// Computed columns follow the physical ones in the row.
		var sets []setter
		for k, ti := range comp {
			x, err := c.compile(t.Columns[ti].Expr, base)
			if err != nil {
				return nil, err
			}
			sets = append(sets, newSetter(x, len(phys)+k))
		}
		return func(r *row.Row) error {
			for _, set := range sets {
				if _, err := set(r, r); err != nil {
					return err
				}
			}
			return nil
		}, nil
	}
	if _, err := newComputed(); err != nil {
		return nil, err
	}
	sp.computed = newPooled(newComputed)
	return sp, nil
}

// watermarkDelay reads WATERMARK FOR ts AS ts [- INTERVAL 'n' unit]: the
// bounded out-of-orderness strategies the engine runs.
func watermarkDelay(c *compiler, w *catalog.Watermark) (time.Duration, error) {
	switch e := w.Expr.(type) {
	case *ast.Name:
		if e.Last().Name == w.Column {
			return 0, nil
		}
	case *ast.BinaryExpr:
		n, ok := e.L.(*ast.Name)
		iv, ok2 := e.R.(*ast.IntervalLit)
		if ok && ok2 && e.Op == ast.OpSub && n.Last().Name == w.Column {
			ms, _, err := c.interval(iv)
			if err != nil {
				return 0, err
			}
			if ms < 0 {
				return 0, diag.New(c.src, iv.Span(), "the watermark delay must not be negative")
			}
			return time.Duration(ms) * time.Millisecond, nil
		}
	}
	return 0, diag.New(c.src, w.Expr.Span(), "watermark expression %s is not supported yet: use %s or %s - INTERVAL '...' unit", ast.Format(w.Expr), w.Column, w.Column)
}

// planCalc is WHERE and the select list over sc. Without items the row
// passes through unchanged (a filter before a window).
func planCalc(c *compiler, sc *scope, where ast.Expr, items []ast.Expr, names []string) (func() (rowFn, error), *row.Layout, error) {
	var outL *row.Layout
	var outRec *row.Recycler // shared by the instances (it is safe for concurrent use)
	newFn := func() (rowFn, error) {
		var cond predicate
		if where != nil {
			w, err := c.compile(where, sc)
			if err != nil {
				return nil, err
			}
			cond = newPredicate(w)
		}
		sets := make([]setter, len(items))
		ts := make([]types.Type, len(items))
		for i, it := range items {
			x, err := c.compile(it, sc)
			if err != nil {
				return nil, err
			}
			sets[i], ts[i] = newSetter(x, i), x.typ
		}
		if items != nil && outL == nil {
			// Set by the first, synchronous compilation only; the pool's
			// later ones read it.
			outL = layoutOf(names, ts)
		}
		var rec *row.Cache // this instance's
		if items != nil {
			if outRec == nil {
				outRec = outL.NewRecycler()
			}
			rec = outRec.NewCache()
		}
		l := outL
		return func(in *row.Row) (*row.Row, bool, error) {
			if cond != nil {
				keep, err := cond(in)
				if err != nil || !keep {
					return nil, false, err
				}
			}
			if l == nil {
				return in, true, nil
			}
			out := rec.Get()
			out.Kind = in.Kind
			for _, set := range sets {
				if _, err := set(in, out); err != nil {
					return nil, false, err
				}
			}
			return out, true, nil
		}, nil
	}
	if _, err := newFn(); err != nil {
		return nil, nil, err
	}
	return newFn, outL, nil
}

// planSinkCast checks the query's columns against the sink's and casts
// each to the sink's type, as Flink's implicit insert casts. The cast is
// nil (no operator) when it would be the identity: see castIsIdentity.
func planSinkCast(c *compiler, ins *ast.Insert, q *row.Layout, sink *catalog.Table) (func() (rowFn, error), *row.Layout, error) {
	cols, err := sinkColumns(c, sink)
	if err != nil {
		return nil, nil, err
	}
	if len(cols) != q.Len() {
		return nil, nil, diag.New(c.src, ins.Query.Span(), "Column types of query result and sink for '%s' do not match: the query has %d columns, the sink %d", sink.Name, q.Len(), len(cols))
	}
	var names []string
	var ts []types.Type
	for i, col := range cols {
		if col.Expr != nil {
			return nil, nil, diag.New(c.src, col.Span, "a sink table cannot have computed columns")
		}
		from := q.Type(i)
		if !from.EqualIgnoringNull(col.Type) && !types.CanImplicitCast(from.WithAttr(types.Regular), col.Type) {
			return nil, nil, diag.New(c.src, ins.Query.Span(), "Column types of query result and sink for '%s' do not match: column %d ('%s') is %s, the sink's '%s' is %s", sink.Name, i+1, q.Name(i), from, col.Name, col.Type)
		}
		names = append(names, col.Name)
		ts = append(ts, col.Type)
	}
	outL := layoutOf(names, ts)
	if castIsIdentity(q, outL, sink.Factory.Name()) {
		// The query's rows already are the sink's: no cast operator.
		return nil, outL, nil
	}
	outRec := outL.NewRecycler()
	sc := &scope{}
	for i := range q.Len() {
		sc.names = append(sc.names, fmt.Sprintf("$%d", i))
		sc.types = append(sc.types, q.Type(i))
	}
	newFn := func() (rowFn, error) {
		sets := make([]setter, q.Len())
		for i := range sets {
			x := column(i, q.Type(i).WithAttr(types.Regular))
			to := outL.Type(i)
			if x.typ.IsNullable() && !to.IsNullable() {
				to = to.Nullable()
			}
			y, err := c.cast(ins.Query, x, to, false)
			if err != nil {
				return nil, err
			}
			sets[i] = newSetter(y, i)
		}
		rec := outRec.NewCache()
		return func(in *row.Row) (*row.Row, bool, error) {
			out := rec.Get()
			out.Kind = in.Kind
			for i, set := range sets {
				null, err := set(in, out)
				if err != nil {
					return nil, false, err
				}
				if null && !outL.Type(i).IsNullable() {
					return nil, false, fmt.Errorf("column '%s' of sink '%s' is NOT NULL, but the query gave NULL", outL.Name(i), sink.Name)
				}
			}
			return out, true, nil
		}, nil
	}
	if _, err := newFn(); err != nil {
		return nil, nil, err
	}
	return newFn, outL, nil
}

// castIsIdentity reports whether the query's rows (layout q) can go to
// the sink (layout to) as they are: every column of the same type but for
// nullability, no NOT NULL column fed by a nullable one (which needs the
// cast's check), and either the same column names or a sink connector
// that writes values by position only (print, blackhole), since a row
// keeps q's names.
func castIsIdentity(q, to *row.Layout, connector string) bool {
	for i := range q.Len() {
		from, t := q.Type(i), to.Type(i)
		if !from.EqualIgnoringNull(t) || (from.IsNullable() && !t.IsNullable()) {
			return false
		}
	}
	if connector == "print" || connector == "blackhole" {
		return true
	}
	for i := range q.Len() {
		if q.Name(i) != to.Name(i) {
			return false
		}
	}
	return true
}
