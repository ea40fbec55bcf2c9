package planner

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sluicehq/sluice/sql/ast"
	"github.com/sluicehq/sluice/sql/catalog"
	"github.com/sluicehq/sluice/sql/diag"
	"github.com/sluicehq/sluice/sql/functions"
	"github.com/sluicehq/sluice/sql/row"
	"github.com/sluicehq/sluice/sql/types"
)

// relKind is what a node of the relational tree computes.
type relKind uint8

const (
	relScan   relKind = iota + 1 // a table read
	relCalc                      // WHERE and a projection (or only WHERE)
	relWindow                    // a window aggregation
	relUnion                     // UNION ALL of its inputs
)

// relNode is one node of a query's relational tree. Each knows its output
// row: the layout, the column names and types, and which columns are the
// rowtime attribute (their type carries types.Rowtime; on every row such a
// column holds the record's event time, which the engine's watermarks
// follow). A node read by several others (a table read by two branches of
// a union or by two INSERTs of a statement set, a CTE read twice) is one
// node, and becomes one engine operator.
type relNode struct {
	kind   relKind
	name   string // the relation's name in messages: table, view, CTE or alias
	sc     *scope // output columns
	layout *row.Layout
	inputs []*relNode

	src  *sourcePlan   // relScan
	idle time.Duration // relScan: table.exec.source.idle-timeout; 0 never

	calc     func() (rowFn, error) // relCalc: one per parallel instance
	filter   bool                  // relCalc: WHERE only, before a window
	calcBase string                // relCalc: the operator name's base

	window *windowPlan // relWindow
	join   *joinPlan   // relJoin (rel_join.go)
	wtvf   *windowTVF  // a windowing table function's output (rel_join_window.go)
	op     relOp       // relOver, relRank: the kind's own planning (rel_over.go)

	anomaly *anomalyPlan // relAnomaly
	match   *matchPlan   // relMatch
	lateral *lateralPlan // relLateral (rel_lateral.go)

	label string // EXPLAIN's logical line

	// mode is set by a node that makes a changelog (nil: derived, see
	// relNode.changelog).
	mode *changelogMode
	agg  *aggPlan // relAgg (rel_agg.go)

	// Set when the tree is named for the engine (relPlanner.nameTree).
	opName string
	seq    int // relScan: the k of "name#k+1" when the table's name was taken
}

// relInput is a relation as a query reads it: a node under a name, with
// its columns possibly renamed (AS s(a, b), a view's or CTE's column list).
type relInput struct {
	node *relNode
	sc   *scope
	name string
	cols []joinCol // a join's: each column's qualifier (rel_join.go)
}

// relPlanner plans the queries of one script into relational trees. Table
// reads are shared by the whole script, so that each table is one engine
// source however often it is read.
type relPlanner struct {
	c         *compiler
	cat       *catalog.Catalog
	scans     map[*catalog.Table]*relNode
	views     map[*catalog.View]viewPlan
	gen       int             // bumped by every DDL statement: a view's plan is kept while it is unchanged
	expanding map[string]bool // views being planned, to refuse a cycle
	ctes      []map[string]relInput
	used      map[string]bool // engine operator names taken

	streams map[string]*kdaStream // KDA's in-application streams (kda.go)

	tableFuncs map[string]*TableFunc // an embedding program's (embed.go)
}

func newRelPlanner(c *compiler, cat *catalog.Catalog) *relPlanner {
	return &relPlanner{c: c, cat: cat, scans: map[*catalog.Table]*relNode{}, views: map[*catalog.View]viewPlan{}, expanding: map[string]bool{}, used: map[string]bool{}}
}

// query plans WITH ... body.
func (p *relPlanner) query(q *ast.Query) (*relNode, error) {
	src := p.c.src
	switch {
	case len(q.OrderBy) > 0:
		return nil, diag.New(src, q.OrderBy[0].Span(), "ORDER BY is not supported yet")
	case q.Limit != nil:
		return nil, diag.New(src, q.Limit.Span(), "LIMIT is not supported yet")
	case q.Offset != nil:
		return nil, diag.New(src, q.Offset.Span(), "OFFSET is not supported yet")
	}
	if len(q.With) > 0 {
		// Each CTE sees the ones before it, as Flink's.
		frame := map[string]relInput{}
		p.ctes = append(p.ctes, frame)
		defer func() { p.ctes = p.ctes[:len(p.ctes)-1] }()
		for _, cte := range q.With {
			name := cte.Name.Name
			if _, dup := frame[name]; dup {
				return nil, diag.New(src, cte.Name.Span(), "Duplicate name '%s' in WITH clause", name)
			}
			n, err := p.query(cte.Query)
			if err != nil {
				return nil, err
			}
			in, err := p.renamed(relInput{node: n, sc: n.sc, name: name}, cte.Columns, cte.Span())
			if err != nil {
				return nil, err
			}
			frame[name] = in
		}
	}
	return p.body(q.Body)
}

func (p *relPlanner) body(b ast.QueryBody) (*relNode, error) {
	switch b := b.(type) {
	case *ast.Select:
		return p.selectRel(b)
	case *ast.SetOp:
		return p.union(b)
	case *ast.Query:
		return p.query(b)
	}
	return nil, diag.New(p.c.src, b.Span(), "VALUES is not supported yet")
}

// renamed gives in's columns the names of cols, when there are any.
func (p *relPlanner) renamed(in relInput, cols []*ast.Ident, at diag.Span) (relInput, error) {
	if len(cols) == 0 {
		return in, nil
	}
	if len(cols) != len(in.sc.names) {
		return in, diag.New(p.c.src, at, "List of column aliases must have same degree as table; table has %d columns %s, whereas alias list has %d columns", len(in.sc.names), bracketNames(in.sc.names), len(cols))
	}
	sc := &scope{types: in.sc.types}
	for _, id := range cols {
		if sc.index(id.Name) >= 0 {
			return in, diag.New(p.c.src, id.Span(), "Duplicate name '%s' in column alias list", id.Name)
		}
		sc.names = append(sc.names, id.Name)
	}
	in.sc = sc
	return in, nil
}

func bracketNames(ns []string) string {
	q := make([]string, len(ns))
	for i, n := range ns {
		q[i] = "'" + n + "'"
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// named resolves a name in FROM or a window function's TABLE argument: a
// CTE of an enclosing WITH, a view, or a table.
func (p *relPlanner) named(n *ast.Name) (relInput, error) {
	name := n.Last().Name
	if in, ok, err := p.streamInput(n); ok {
		return in, err
	}
	for i := len(p.ctes) - 1; i >= 0; i-- {
		if in, ok := p.ctes[i][name]; ok {
			return in, nil
		}
	}
	if v, ok := p.cat.View(name); ok {
		return p.view(v, n)
	}
	t, err := p.cat.Lookup(name, n.Span())
	if err != nil {
		return relInput{}, err
	}
	s, err := p.scan(t, n.Span())
	if err != nil {
		return relInput{}, err
	}
	return relInput{node: s, sc: s.sc, name: name}, nil
}

// viewPlan is a view's planned query, valid while no DDL statement has
// run since (a table it reads may have been dropped and created anew).
type viewPlan struct {
	node *relNode
	gen  int
}

// view plans a view's query, once while the catalog is unchanged (so a
// view read twice is one set of operators); it does not see the CTEs of
// the query that reads it.
func (p *relPlanner) view(v *catalog.View, ref *ast.Name) (relInput, error) {
	vp, ok := p.views[v]
	n := vp.node
	if !ok || vp.gen != p.gen {
		if p.expanding[v.Name] {
			return relInput{}, diag.New(p.c.src, ref.Span(), "view '%s' reads itself", v.Name)
		}
		p.expanding[v.Name] = true
		saved := p.ctes
		p.ctes = nil
		var err error
		n, err = p.query(v.Query)
		p.ctes = saved
		delete(p.expanding, v.Name)
		if err != nil {
			return relInput{}, err
		}
		p.views[v] = viewPlan{node: n, gen: p.gen}
	}
	at := v.Span
	if len(v.Columns) > 0 {
		at = diag.Cover(v.Columns[0].Span(), v.Columns[len(v.Columns)-1].Span())
	}
	return p.renamed(relInput{node: n, sc: n.sc, name: v.Name}, v.Columns, at)
}

// scan is the one read of table t in the script.
func (p *relPlanner) scan(t *catalog.Table, ref diag.Span) (*relNode, error) {
	if n, ok := p.scans[t]; ok {
		return n, nil
	}
	sp, err := planSource(p.c, t, ref)
	if err != nil {
		return nil, err
	}
	n := &relNode{kind: relScan, name: t.Name, sc: sp.sc, layout: sp.layout, src: sp}
	scan := fmt.Sprintf("TableSourceScan(table=[%s], connector=[%s], fields=[%s]", t.Name, t.Factory.Name(), strings.Join(sp.sc.names, ", "))
	if w := t.Watermark; w != nil {
		scan += fmt.Sprintf(", watermark=[%s])", ast.Format(w.Expr))
	} else {
		scan += ")"
	}
	n.label = scan
	n.mode = upsertScanMode(t)
	p.scans[t] = n
	return n, nil
}

// from plans a FROM item other than a window function.
func (p *relPlanner) from(t ast.TableExpr) (relInput, error) {
	src := p.c.src
	switch f := t.(type) {
	case *ast.TableName:
		if f.SystemTime != nil {
			return relInput{}, diag.New(src, f.SystemTime.Span(), "FOR SYSTEM_TIME AS OF is not supported yet")
		}
		in, err := p.named(f.Name)
		if err != nil {
			return in, err
		}
		return p.aliased(in, f.Alias)
	case *ast.DerivedTable:
		if f.Lateral {
			return relInput{}, diag.New(src, f.Span(), "LATERAL is not supported yet")
		}
		n, err := p.query(f.Query)
		if err != nil {
			return relInput{}, err
		}
		return p.aliased(relInput{node: n, sc: n.sc, name: "subquery"}, f.Alias)
	case *ast.ParenTable:
		in, err := p.from(f.Table)
		if err != nil {
			return in, err
		}
		return p.aliased(in, f.Alias)
	case *ast.Join:
		return p.join(f)
	case *ast.Unnest:
		return relInput{}, diag.New(src, t.Span(), "UNNEST is not supported yet")
	case *ast.TableFunc:
		return p.tableFunc(f)
	case *ast.MatchRecognize:
		return p.matchRecognize(f)
	}
	return relInput{}, diag.New(src, t.Span(), "MATCH_RECOGNIZE is not supported yet")
}

func (p *relPlanner) aliased(in relInput, a *ast.Alias) (relInput, error) {
	if a == nil {
		return in, nil
	}
	in.name, in.cols = a.Name.Name, nil
	return p.renamed(in, a.Columns, a.Span())
}

// selectRel plans one SELECT: its input, then a window aggregation over
// a window function (WHERE before it), or WHERE and the select list.
func (p *relPlanner) selectRel(sel *ast.Select) (*relNode, error) {
	c, src := p.c, p.c.src
	switch {
	case sel.Distinct && tvfFrom(sel):
		return nil, diag.New(src, sel.Span(), "SELECT DISTINCT is not supported yet")
	case sel.Having != nil && tvfFrom(sel):
		return nil, diag.New(src, sel.Having.Span(), "HAVING is not supported yet")
	case len(sel.Windows) > 0 && !usesOver(sel):
		return nil, diag.New(src, sel.Windows[0].Span(), "WINDOW clauses are not supported yet")
	case sel.Stagger != nil:
		return nil, diag.New(src, sel.Stagger.Span(), "WINDOWED BY STAGGER is not supported yet")
	case sel.From == nil:
		return nil, diag.New(src, sel.Span(), "SELECT without FROM is not supported yet")
	}
	sel = whereIntoJoin(sel)
	sel, rerr := p.rewriteGroupBy(sel) // rel_groupexpr.go
	if rerr != nil {
		return nil, rerr
	}
	if n, ok, err := p.rankSelect(sel); ok {
		return n, err
	}
	var tvf *ast.FuncCall
	var in relInput
	var err error
	if f, ok := sel.From.(*ast.TableFunc); ok && !isAnomalyCall(f) {
		name := strings.ToUpper(f.Call.Name.Last().Name)
		if name != "TUMBLE" && name != "HOP" && name != "CUMULATE" && name != "SESSION" {
			return nil, diag.New(src, f.Call.Name.Span(), "table function %s is not supported yet", name)
		}
		if f.Lateral {
			return nil, diag.New(src, f.Span(), "LATERAL is not supported yet")
		}
		tvf = f.Call
		ta, ok := argAt(f.Call, 0, "DATA").(*ast.TableArg)
		if !ok {
			return nil, diag.New(src, f.Call.Span(), "%s needs a table argument: %s(TABLE t, DESCRIPTOR(ts), size)", name, name)
		}
		if in, err = p.named(ta.Table); err != nil {
			return nil, err
		}
		if f.Alias != nil {
			in.name = f.Alias.Name.Name
		}
	} else if in, err = p.from(sel.From); err != nil {
		return nil, err
	} else if in.cols != nil {
		if sel, err = p.joinSelect(in, sel); err != nil {
			return nil, err
		}
	}
	if err := p.checkQualifiers(in, sel); err != nil {
		return nil, err
	}
	var where ast.Expr
	if sel.Where != nil {
		w, err := c.compile(sel.Where, in.sc)
		if err != nil {
			return nil, err
		}
		if w.typ.Kind != types.Boolean {
			return nil, diag.New(src, sel.Where.Span(), "WHERE clause must be a condition, not %s", w.typ)
		}
		where = sel.Where
	}
	if tvf != nil && sel.GroupBy == nil && !containsAggregateItem(c, sel) {
		return p.windowingTVF(in, tvf, sel)
	}
	if tvf != nil {
		calc, _, err := planCalc(c, in.sc, where, nil, nil)
		if err != nil {
			return nil, err
		}
		// Without WHERE the window reads its input directly.
		fn := in.node
		if where != nil {
			fn = &relNode{kind: relCalc, name: in.name, sc: in.sc, layout: in.node.layout, inputs: []*relNode{in.node}, calc: calc, filter: true, calcBase: in.name + "-calc",
				label: fmt.Sprintf("Calc(where=[%s])", ast.Format(where))}
		}
		wsel := sel
		var outer []ast.Expr
		var outerNames []string
		if windowOuter(c, sel) {
			// Expressions over the grouped columns and aggregates: the
			// window computes those, a calc after it the expressions.
			if wsel, outer, outerNames, err = splitWindowSelect(c, sel, in.sc); err != nil {
				return nil, err
			}
		}
		if err := appendOnlyInput(src, sel.From.Span(), "StreamPhysicalWindowAggregate", in.node); err != nil {
			return nil, err
		}
		wp, err := planWindow(c, in, tvf, wsel)
		if err != nil {
			return nil, err
		}
		n := &relNode{kind: relWindow, name: in.name, sc: &scope{names: layoutNames(wp.out), types: layoutTypes(wp.out)}, layout: wp.out, inputs: []*relNode{fn}, window: wp}
		n.label = windowLabel(wp, in.sc, wsel)
		if outer == nil {
			return n, nil
		}
		calc, outL, err := planCalc(c, n.sc, nil, outer, outerNames)
		if err != nil {
			return nil, err
		}
		return &relNode{kind: relCalc, name: in.name, sc: &scope{names: layoutNames(outL), types: layoutTypes(outL)}, layout: outL, inputs: []*relNode{n}, calc: calc, calcBase: in.name + "-window-calc",
			label: fmt.Sprintf("Calc(select=[%s])", strings.Join(outerNames, ", "))}, nil
	}
	if n, ok, err := p.overSelect(sel, in, where); ok {
		return n, err
	}
	if needsAgg(c, sel) {
		return p.aggregateRel(sel, in, where)
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
			return nil, diag.New(src, it.Expr.Span(), "aggregation without GROUP BY over a window table function (an updating result) is not supported yet")
		}
		items = append(items, it.Expr)
		names = append(names, itemName(it, i))
	}
	calc, outL, err := planCalc(c, in.sc, where, items, names)
	if err != nil {
		return nil, err
	}
	n := &relNode{kind: relCalc, name: in.name, sc: &scope{names: layoutNames(outL), types: layoutTypes(outL)}, layout: outL, inputs: []*relNode{in.node}, calc: calc, calcBase: in.name + "-calc"}
	l := fmt.Sprintf("Calc(select=[%s]", strings.Join(names, ", "))
	if where != nil {
		l += fmt.Sprintf(", where=[%s]", ast.Format(where))
	}
	n.label = l + ")"
	return n, nil
}

// starItems expands a * (or q.*) of the select list over the columns of
// sc, the relation called name: the column references and their names.
func starItems(src string, st *ast.Star, name string, sc *scope) ([]ast.Expr, []string, error) {
	if st.Qualifier != nil && st.Qualifier.Last().Name != name {
		return nil, nil, diag.New(src, st.Span(), "Unknown identifier '%s'", st.Qualifier.Last().Name)
	}
	items := make([]ast.Expr, 0, len(sc.names))
	for _, n := range sc.names {
		items = append(items, &ast.Name{Spanned: st.Spanned, Parts: []*ast.Ident{{Spanned: st.Spanned, Name: n}}})
	}
	return items, slices.Clone(sc.names), nil
}

func layoutTypes(l *row.Layout) []types.Type {
	ts := make([]types.Type, l.Len())
	for i := range ts {
		ts[i] = l.Type(i)
	}
	return ts
}

// windowLabel is a window aggregation's line in EXPLAIN.
func windowLabel(wp *windowPlan, in *scope, sel *ast.Select) string {
	tc := in.names[wp.timeCol]
	var w string
	switch wp.kind {
	case "HOP":
		w = fmt.Sprintf("HOP(time_col=[%s], slide=[%v], size=[%v])", tc, wp.slide, wp.size)
	case "CUMULATE":
		w = fmt.Sprintf("CUMULATE(time_col=[%s], max_size=[%v], step=[%v])", tc, wp.size, wp.slide)
	case "SESSION":
		w = fmt.Sprintf("SESSION(time_col=[%s], gap=[%v])", tc, wp.size)
	default:
		w = fmt.Sprintf("TUMBLE(time_col=[%s], size=[%v])", tc, wp.size)
	}
	if wp.offset != 0 {
		w = strings.TrimSuffix(w, ")") + fmt.Sprintf(", offset=[%v])", wp.offset)
	}
	var keys, items []string
	for _, k := range wp.keys {
		keys = append(keys, in.names[k])
	}
	for _, it := range sel.Items {
		items = append(items, ast.Format(it.Expr))
	}
	return fmt.Sprintf("WindowAggregate(window=[%s], groupBy=[%s], select=[%s])", w, strings.Join(keys, ", "), strings.Join(items, ", "))
}

// union plans UNION ALL: each input's columns are cast to the common row
// type (Flink's least restrictive type of each column); a column is a
// rowtime attribute when it is one in every input. The engine's union
// reads every input; its watermark is the minimum of theirs.
func (p *relPlanner) union(s *ast.SetOp) (*relNode, error) {
	src := p.c.src
	var bodies []ast.QueryBody
	var flatten func(b ast.QueryBody) error
	flatten = func(b ast.QueryBody) error {
		so, ok := b.(*ast.SetOp)
		if !ok {
			bodies = append(bodies, b)
			return nil
		}
		switch {
		case so.Op != ast.Union:
			return diag.New(src, so.Span(), "%s is not supported yet", so.Op)
		case !so.All:
			return diag.New(src, so.Span(), "UNION without ALL (a deduplicating, updating result) is not supported yet: use UNION ALL")
		}
		if err := flatten(so.L); err != nil {
			return err
		}
		return flatten(so.R)
	}
	if err := flatten(s); err != nil {
		return nil, err
	}
	nodes := make([]*relNode, len(bodies))
	for i, b := range bodies {
		n, err := p.body(b)
		if err != nil {
			return nil, err
		}
		nodes[i] = n
	}
	width := len(nodes[0].sc.names)
	for i, n := range nodes {
		if len(n.sc.names) != width {
			return nil, diag.New(src, selectListSpan(bodies[i]), "Column count mismatch in UNION ALL")
		}
	}
	out := &scope{names: nodes[0].sc.names}
	for j := range width {
		ts := make([]types.Type, len(nodes))
		rowtime := true
		for i, n := range nodes {
			ts[i] = n.sc.types[j]
			rowtime = rowtime && ts[i].Attr == types.Rowtime
		}
		t, ok := types.CommonType(ts...)
		if !ok {
			at := bodies[0].Span()
			for i := 1; i < len(nodes); i++ {
				if _, ok := types.CommonType(ts[0], ts[i]); !ok {
					at = itemSpan(bodies[i], j)
					break
				}
			}
			return nil, diag.New(src, at, "Type mismatch in column %d of UNION ALL: %s", j+1, unionTypes(ts))
		}
		if rowtime && t.IsTimestamp() {
			t = t.WithAttr(types.Rowtime)
		}
		out.types = append(out.types, t)
	}
	outL := layoutOf(out.names, out.types)
	u := &relNode{kind: relUnion, name: "union", sc: out, layout: outL}
	u.label = fmt.Sprintf("Union(all=[true], union=[%s])", strings.Join(out.names, ", "))
	for i, n := range nodes {
		in, err := p.castTo(n, outL, bodies[i])
		if err != nil {
			return nil, err
		}
		u.inputs = append(u.inputs, in)
	}
	return u, nil
}

func unionTypes(ts []types.Type) string {
	s := make([]string, len(ts))
	for i, t := range ts {
		s[i] = t.String()
	}
	return strings.Join(s, ", ")
}

func selectListSpan(b ast.QueryBody) diag.Span {
	if sel, ok := b.(*ast.Select); ok && len(sel.Items) > 0 {
		return diag.Cover(sel.Items[0].Span(), sel.Items[len(sel.Items)-1].Span())
	}
	return b.Span()
}

func itemSpan(b ast.QueryBody, j int) diag.Span {
	if sel, ok := b.(*ast.Select); ok && j < len(sel.Items) {
		if _, star := sel.Items[j].Expr.(*ast.Star); !star {
			return sel.Items[j].Span()
		}
	}
	return selectListSpan(b)
}

// castTo is n with its columns cast to out's types, or n itself when the
// types already agree (up to nullability and time attributes).
func (p *relPlanner) castTo(n *relNode, out *row.Layout, at ast.Node) (*relNode, error) {
	need := false
	var sel []string
	for j := range out.Len() {
		from, to := n.sc.types[j].WithAttr(types.Regular), out.Type(j).WithAttr(types.Regular)
		if from.EqualIgnoringNull(to) {
			sel = append(sel, n.sc.names[j])
			continue
		}
		need = true
		sel = append(sel, fmt.Sprintf("CAST(%s AS %s) AS %s", n.sc.names[j], to.Nullable(), out.Name(j)))
	}
	if !need {
		return n, nil
	}
	c := p.c
	in := n.layout
	newFn := func() (rowFn, error) {
		evs := make([]evalFn, out.Len())
		for j := range evs {
			idx := j
			x := &compiled{typ: in.Type(j).WithAttr(types.Regular), eval: func(r *row.Row) (functions.Value, error) { return functions.Read(r, idx), nil }}
			to := out.Type(j).WithAttr(types.Regular)
			if x.typ.IsNullable() {
				to = to.Nullable()
			}
			y, err := c.cast(at, x, to, false)
			if err != nil {
				return nil, err
			}
			evs[j] = y.eval
		}
		return func(r *row.Row) (*row.Row, bool, error) {
			o := out.New()
			o.Kind = r.Kind
			for j, ev := range evs {
				v, err := ev(r)
				if err != nil {
					return nil, false, err
				}
				functions.Write(o, j, v)
			}
			return o, true, nil
		}, nil
	}
	if _, err := newFn(); err != nil {
		return nil, err
	}
	return &relNode{kind: relCalc, name: n.name, sc: &scope{names: layoutNames(out), types: layoutTypes(out)}, layout: out, inputs: []*relNode{n}, calc: newFn, calcBase: "union-cast",
		label: fmt.Sprintf("Calc(select=[%s])", strings.Join(sel, ", "))}, nil
}

// checkQualifiers refuses a column qualified by a name other than the FROM
// item's (its alias, or the table, view or CTE name), in the select list,
// WHERE and GROUP BY of sel.
func (p *relPlanner) checkQualifiers(in relInput, sel *ast.Select) error {
	var nodes []ast.Node
	for _, it := range sel.Items {
		nodes = append(nodes, it.Expr)
	}
	if sel.Where != nil {
		nodes = append(nodes, sel.Where)
	}
	if sel.GroupBy != nil {
		nodes = append(nodes, sel.GroupBy)
	}
	funcNames := map[*ast.Name]bool{}
	var err error
	for _, n := range nodes {
		ast.Inspect(n, func(x ast.Node) bool {
			if err != nil {
				return false
			}
			switch e := x.(type) {
			case *ast.FuncCall:
				funcNames[e.Name] = true
			case *ast.SubqueryExpr:
				return false // refused by the expression compiler
			case *ast.Name:
				if len(e.Parts) == 2 && !funcNames[e] && e.Parts[0].Name != in.name && !rowColumn(in.sc, e.Parts[0].Name) {
					q := e.Parts[0]
					d := diag.New(p.c.src, q.Span(), "Table '%s' not found", q.Name)
					d.Hint = fmt.Sprintf("the FROM item is '%s'", in.name)
					err = d
				}
			}
			return true
		})
	}
	return err
}
