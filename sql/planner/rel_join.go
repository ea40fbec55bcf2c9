package planner

import (
	"fmt"
	"strings"
	"time"

	"github.com/sluicehq/sluice/sql/ast"
	"github.com/sluicehq/sluice/sql/diag"
	"github.com/sluicehq/sluice/sql/row"
	"github.com/sluicehq/sluice/sql/types"
)

// relJoin is a join of two inputs: an interval join (append-only, both
// time attributes kept) or a regular join (keyed state for both sides,
// an updating result).
const relJoin relKind = 20

// joinCol is a column of a join's output as its query names it: the
// qualifier (the FROM item's alias, table, view or CTE name) and the
// input's column name. The join's output scope has unique names (Flink's:
// a second k is k0), which the query's names are rewritten to.
type joinCol struct {
	qual, name string
}

// joinPlan is what a relJoin computes.
type joinPlan struct {
	kind         ast.JoinKind // InnerJoin, LeftJoin, RightJoin or FullJoin
	lkeys, rkeys []int        // equality keys: columns of the left and right input
	// cond is the rest of the ON condition, over the output row; nil when
	// there is none. Compiled once per parallel instance.
	cond ast.Expr
	sc   *scope // the output's scope, cond's
	// interval: the time bounds of an interval join, nil for a regular
	// join. The left row's time lt and the right's rt match when
	// lo <= lt - rt <= hi.
	interval     *joinInterval
	left, right  *row.Layout
	out          *row.Layout
	flinkType    string        // InnerJoin, LeftOuterJoin, ...
	ttl          time.Duration // table.exec.state.ttl, 0 for none
	leftOuter    bool          // left rows without a match are emitted padded
	rightOuter   bool
	whereText    string
	condCompiler *compiler
	window       bool // a window join (rel_join_window.go)
	temporal     bool // an event-time temporal join (rel_join_temporal.go)
}

type joinInterval struct {
	lo, hi         int64 // milliseconds, inclusive
	ltime, rtime   int   // the time columns in the left and right input
	lbound, ubound bool  // set while planning
}

func flinkJoinType(k ast.JoinKind) string {
	switch k {
	case ast.LeftJoin:
		return "LeftOuterJoin"
	case ast.RightJoin:
		return "RightOuterJoin"
	case ast.FullJoin:
		return "FullOuterJoin"
	}
	return "InnerJoin"
}

// whereIntoJoin moves the WHERE condition of a SELECT over an inner (or
// comma, or cross) join into the join's condition, as Flink's optimizer
// pushes it down: the same rows, and time bounds in WHERE make an
// interval join.
func whereIntoJoin(sel *ast.Select) *ast.Select {
	j, ok := sel.From.(*ast.Join)
	if !ok || sel.Where == nil {
		return sel
	}
	switch j.Kind {
	case ast.InnerJoin, ast.CrossJoin, ast.CommaJoin:
	default:
		return sel
	}
	if j.Natural || len(j.Using) > 0 {
		return sel
	}
	nj := *j
	nj.Kind = ast.InnerJoin
	if nj.On == nil {
		nj.On = sel.Where
	} else {
		nj.On = &ast.BinaryExpr{Spanned: ast.Spanned{Loc: diag.Cover(nj.On.Span(), sel.Where.Span())}, Op: ast.OpAnd, L: nj.On, R: sel.Where}
	}
	s := *sel
	s.From = &nj
	s.Where = nil
	return &s
}

// join plans L JOIN R ON cond.
func (p *relPlanner) join(j *ast.Join) (relInput, error) {
	src := p.c.src
	if tf, fn, ok := p.lateralFunc(j); ok {
		return p.lateral(j, tf, fn)
	}
	switch {
	case j.Natural:
		return relInput{}, diag.New(src, j.Span(), "NATURAL JOIN is not supported yet: use JOIN ... ON")
	case len(j.Using) > 0:
		return relInput{}, diag.New(src, j.Using[0].Span(), "JOIN ... USING is not supported yet: use JOIN ... ON")
	}
	l, err := p.from(j.L)
	if err != nil {
		return l, err
	}
	rightFrom, asOf := j.R, ast.Expr(nil)
	if tn, ok := j.R.(*ast.TableName); ok && tn.SystemTime != nil {
		cp := *tn
		cp.SystemTime, asOf = nil, tn.SystemTime
		rightFrom = &cp
	}
	r, err := p.from(rightFrom)
	if err != nil {
		return r, err
	}
	kind := j.Kind
	if kind == ast.CrossJoin || kind == ast.CommaJoin {
		kind = ast.InnerJoin
	}
	lcols, rcols := l.joinCols(), r.joinCols()
	cols := append(append([]joinCol(nil), lcols...), rcols...)
	nl := len(lcols)
	names := uniquify(cols, map[string]bool{})
	sc := &scope{names: names}
	for i := range cols {
		var t types.Type
		if i < nl {
			t = l.sc.types[i]
			if kind == ast.RightJoin || kind == ast.FullJoin {
				t = t.Nullable()
			}
		} else {
			t = r.sc.types[i-nl]
			if kind == ast.LeftJoin || kind == ast.FullJoin {
				t = t.Nullable()
			}
		}
		sc.types = append(sc.types, t)
	}
	in := relInput{sc: sc, cols: cols}
	if j.On == nil {
		return in, diag.New(src, j.Span(), "Cannot generate a valid execution plan for the given query: a join needs an equality condition between its inputs (ON a.k = b.k)")
	}
	on, err := p.resolveJoinNames(in, j.On)
	if err != nil {
		return in, err
	}
	c := p.c
	onc, err := c.compile(on, sc)
	if err != nil {
		return in, err
	}
	if onc.typ.Kind != types.Boolean {
		return in, diag.New(src, j.On.Span(), "JOIN condition must be a condition, not %s", onc.typ)
	}
	jp := &joinPlan{kind: kind, sc: sc, left: l.node.layout, right: r.node.layout, flinkType: flinkJoinType(kind), condCompiler: c}
	jp.leftOuter = kind == ast.LeftJoin || kind == ast.FullJoin
	jp.rightOuter = kind == ast.RightJoin || kind == ast.FullJoin
	var rest []ast.Expr
	iv := &joinInterval{lo: minBound, hi: maxBound, ltime: -1, rtime: -1}
	var timeConds []ast.Expr
	for _, x := range conjuncts(on) {
		if li, ri, ok := equiKey(x, sc, nl); ok {
			lt, rt := l.sc.types[li], r.sc.types[ri]
			if !keyCompatible(lt, rt) {
				return in, diag.New(src, x.Span(), "the join keys '%s' (%s) and '%s' (%s) are of different types: CAST one to the other's type", cols[li].name, lt, cols[nl+ri].name, rt)
			}
			jp.lkeys = append(jp.lkeys, li)
			jp.rkeys = append(jp.rkeys, ri)
			continue
		}
		if timeBound(x, sc, nl, l.sc, r.sc, iv, c) {
			timeConds = append(timeConds, x)
			continue
		}
		rest = append(rest, x)
	}
	if len(jp.lkeys) == 0 {
		return in, diag.New(src, j.On.Span(), "Cannot generate a valid execution plan for the given query: a join without an equality condition between its inputs (ON a.k = b.k) is not supported")
	}
	jp.whereText = ast.Format(on)
	if asOf != nil {
		return p.temporalJoin(j, in, jp, l, r, asOf, append(rest, timeConds...))
	}
	wlabel, windowed := windowJoin(jp, l.node, r.node)
	if windowed && wlabel == "" {
		return in, diag.New(src, j.On.Span(), "a window join needs the same window on both inputs: %s and %s", l.node.wtvf.desc, r.node.wtvf.desc)
	}
	if windowed {
		rest = append(rest, timeConds...)
	} else if iv.lbound && iv.ubound {
		jp.interval = iv
		// The output's rows carry the left row's time: its time
		// attribute stays one, the right one's becomes a plain TIMESTAMP
		// (Flink keeps both; the engine's records have one time).
		for i := nl; i < len(sc.types); i++ {
			sc.types[i] = sc.types[i].WithAttr(types.Regular)
		}
		if iv.lo > iv.hi {
			return in, diag.New(src, j.On.Span(), "the time bounds of the interval join are empty: %d ms <= %s - %s <= %d ms", iv.lo, cols[iv.ltime].name, cols[nl+iv.rtime].name, iv.hi)
		}
	} else {
		// Not an interval join: the time conditions are plain ones, and
		// the time attributes of both sides become regular TIMESTAMPs.
		rest = append(rest, timeConds...)
		for i, t := range sc.types {
			if t.Attr == types.Rowtime {
				sc.types[i] = t.WithAttr(types.Regular)
			}
		}
	}
	if len(rest) > 0 {
		jp.cond = andAll(rest)
		if _, err := c.compile(jp.cond, sc); err != nil {
			return in, err
		}
	}
	jp.out = layoutOf(sc.names, sc.types)
	var sel []string
	sel = append(sel, sc.names...)
	n := &relNode{kind: relJoin, name: "join", sc: sc, layout: jp.out, inputs: []*relNode{l.node, r.node}, join: jp}
	if windowed {
		for _, side := range []relInput{l, r} {
			if err := appendOnlyInput(src, j.Span(), "StreamPhysicalWindowJoin", side.node); err != nil {
				return in, err
			}
		}
		n.label = wlabel
	} else if jp.interval != nil {
		for _, side := range []relInput{l, r} {
			if err := appendOnlyInput(src, j.Span(), "StreamPhysicalIntervalJoin", side.node); err != nil {
				return in, err
			}
		}
		n.label = fmt.Sprintf("IntervalJoin(joinType=[%s], windowBounds=[isRowTime=true, leftLowerBound=%d, leftUpperBound=%d, leftTimeIndex=%d, rightTimeIndex=%d], where=[%s], select=[%s])",
			jp.flinkType, iv.lo, iv.hi, iv.ltime, iv.rtime, jp.whereText, strings.Join(sel, ", "))
	} else {
		ttl, err := p.stateTTL()
		if err != nil {
			return in, err
		}
		jp.ttl = ttl
		n.label = fmt.Sprintf("Join(joinType=[%s], where=[%s], select=[%s], leftInputSpec=[NoUniqueKey], rightInputSpec=[NoUniqueKey])", jp.flinkType, jp.whereText, strings.Join(sel, ", "))
		// As Flink's: an inner join of append-only inputs appends; an
		// outer join, or an updating input, makes a changelog.
		if jp.leftOuter || jp.rightOuter || l.node.changelog().updates || r.node.changelog().updates {
			n.mode = &changelogMode{updates: true, producer: n.label}
		}
	}
	in.node = n
	in.name = "join"
	return in, nil
}

const (
	minBound = -1 << 62
	maxBound = 1 << 62
)

// joinCols is in's columns with their qualifiers.
func (in relInput) joinCols() []joinCol {
	if in.cols != nil {
		return in.cols
	}
	cs := make([]joinCol, len(in.sc.names))
	for i, n := range in.sc.names {
		cs[i] = joinCol{qual: in.name, name: n}
	}
	return cs
}

// uniquify gives the columns unique names, as Flink's: a name taken
// before gets the first free suffix 0, 1, ...
func uniquify(cols []joinCol, taken map[string]bool) []string {
	out := make([]string, len(cols))
	for i, c := range cols {
		n := c.name
		for k := 0; taken[n]; k++ {
			n = fmt.Sprintf("%s%d", c.name, k)
		}
		taken[n] = true
		out[i] = n
	}
	return out
}

// resolveJoinNames rewrites the column names of e (q.c or c) to the
// join's output names: an unknown qualifier, a column not in the named
// input, or a name in both inputs without a qualifier is an error.
func (p *relPlanner) resolveJoinNames(in relInput, e ast.Expr) (ast.Expr, error) {
	repl := map[ast.Node]ast.Expr{}
	funcNames := map[*ast.Name]bool{}
	var err error
	ast.Inspect(e, func(x ast.Node) bool {
		if err != nil {
			return false
		}
		switch n := x.(type) {
		case *ast.FuncCall:
			funcNames[n.Name] = true
		case *ast.SubqueryExpr:
			return false
		case *ast.Name:
			if funcNames[n] || len(n.Parts) > 2 {
				return true
			}
			i, e2 := p.joinColumn(in, n)
			if e2 != nil {
				err = e2
				return false
			}
			if i >= 0 {
				id := &ast.Ident{Spanned: n.Spanned, Name: in.sc.names[i]}
				repl[n] = &ast.Name{Spanned: n.Spanned, Parts: []*ast.Ident{id}}
			}
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	return replaceNodes(e, repl), nil
}

// joinColumn is the index of column n in a join's output, -1 for a
// name of neither input (the compiler reports it).
func (p *relPlanner) joinColumn(in relInput, n *ast.Name) (int, error) {
	src := p.c.src
	name := n.Last().Name
	if len(n.Parts) == 2 {
		q := n.Parts[0].Name
		known := false
		for i, c := range in.cols {
			if c.qual == q {
				known = true
				if c.name == name {
					return i, nil
				}
			}
		}
		if !known {
			d := diag.New(src, n.Parts[0].Span(), "Table '%s' not found", q)
			d.Hint = fmt.Sprintf("the join's inputs are %s", bracketNames(joinQuals(in.cols)))
			return -1, d
		}
		return -1, diag.New(src, n.Parts[1].Span(), "Column '%s' not found in table '%s'", name, q)
	}
	found := -1
	for i, c := range in.cols {
		if c.name == name {
			if found >= 0 {
				return -1, diag.New(src, n.Span(), "Column '%s' is ambiguous", name)
			}
			found = i
		}
	}
	return found, nil
}

func joinQuals(cols []joinCol) []string {
	var qs []string
	for _, c := range cols {
		if len(qs) == 0 || qs[len(qs)-1] != c.qual {
			qs = append(qs, c.qual)
		}
	}
	return qs
}

// joinSelect rewrites the select list, WHERE and GROUP BY of a SELECT
// over a join to the join's output names, expanding q.* to the columns
// of input q.
func (p *relPlanner) joinSelect(in relInput, sel *ast.Select) (*ast.Select, error) {
	s := *sel
	s.Items = nil
	taken := map[string]bool{}
	for _, it := range sel.Items {
		if st, ok := it.Expr.(*ast.Star); ok && st.Qualifier != nil {
			q := st.Qualifier.Last().Name
			n := 0
			for i, c := range in.cols {
				if c.qual == q {
					id := &ast.Ident{Spanned: st.Spanned, Name: in.sc.names[i]}
					s.Items = append(s.Items, &ast.SelectItem{Spanned: st.Spanned, Expr: &ast.Name{Spanned: st.Spanned, Parts: []*ast.Ident{id}}})
					n++
				}
			}
			if n == 0 {
				return nil, diag.New(p.c.src, st.Span(), "Unknown identifier '%s'", q)
			}
			continue
		}
		e, err := p.resolveJoinNames(in, it.Expr)
		if err != nil {
			return nil, err
		}
		ni := *it
		ni.Expr = e
		if ni.Alias == nil {
			if nm, ok := it.Expr.(*ast.Name); ok {
				// The column keeps the name the query gave it (v, not
				// the join's name v0), made unique as Flink's: a.id,
				// b.id are id, id0.
				name := uniquify([]joinCol{{name: nm.Last().Name}}, taken)[0]
				ni.Alias = &ast.Ident{Spanned: nm.Spanned, Name: name}
			}
		}
		if ni.Alias != nil {
			taken[ni.Alias.Name] = true
		}
		s.Items = append(s.Items, &ni)
	}
	if sel.Where != nil {
		w, err := p.resolveJoinNames(in, sel.Where)
		if err != nil {
			return nil, err
		}
		s.Where = w
	}
	var err error
	if sel.GroupBy != nil {
		if s.GroupBy, err = p.resolveJoinGroupBy(in, sel.GroupBy); err != nil {
			return nil, err
		}
	}
	if sel.Having != nil {
		if s.Having, err = p.resolveJoinNames(in, sel.Having); err != nil {
			return nil, err
		}
	}
	return &s, nil
}

// conjuncts splits x AND y AND ... into its terms.
func conjuncts(e ast.Expr) []ast.Expr {
	switch x := e.(type) {
	case *ast.BinaryExpr:
		if x.Op == ast.OpAnd {
			return append(conjuncts(x.L), conjuncts(x.R)...)
		}
	}
	return []ast.Expr{e}
}

func andAll(es []ast.Expr) ast.Expr {
	e := es[0]
	for _, x := range es[1:] {
		e = &ast.BinaryExpr{Spanned: ast.Spanned{Loc: diag.Cover(e.Span(), x.Span())}, Op: ast.OpAnd, L: e, R: x}
	}
	return e
}

// colRef is the output column a bare name refers to, -1 otherwise.
func colRef(e ast.Expr, sc *scope) int {
	n, ok := e.(*ast.Name)
	if !ok || len(n.Parts) != 1 {
		return -1
	}
	return sc.index(n.Parts[0].Name)
}

// equiKey reports whether x is l.a = r.b (either way round) and gives the
// columns in the inputs.
func equiKey(x ast.Expr, sc *scope, nl int) (int, int, bool) {
	b, ok := x.(*ast.BinaryExpr)
	if !ok || b.Op != ast.OpEq {
		return 0, 0, false
	}
	i, j := colRef(b.L, sc), colRef(b.R, sc)
	if i < 0 || j < 0 {
		return 0, 0, false
	}
	if i > j {
		i, j = j, i
	}
	if i >= nl || j < nl {
		return 0, 0, false
	}
	return i, j - nl, true
}

// timeTerm reads e as a time attribute column plus a constant interval:
// ts, ts + INTERVAL .., ts - INTERVAL ...
func timeTerm(e ast.Expr, sc *scope, c *compiler) (col int, off int64, ok bool) {
	switch x := e.(type) {
	case *ast.Name:
		i := colRef(x, sc)
		if i < 0 || sc.types[i].Attr != types.Rowtime {
			return 0, 0, false
		}
		return i, 0, true
	case *ast.BinaryExpr:
		if x.Op != ast.OpAdd && x.Op != ast.OpSub {
			return 0, 0, false
		}
		il, ok := x.R.(*ast.IntervalLit)
		if !ok {
			return 0, 0, false
		}
		ms, _, err := c.interval(il)
		if err != nil {
			return 0, 0, false
		}
		i, o, ok := timeTerm(x.L, sc, c)
		if !ok {
			return 0, 0, false
		}
		if x.Op == ast.OpSub {
			ms = -ms
		}
		return i, o + ms, true
	}
	return 0, 0, false
}

// timeBound reads x as a bound between a left and a right time attribute
// (a.ts >= b.ts - INTERVAL ..., a.ts BETWEEN b.ts - .. AND b.ts + ..)
// and narrows iv's bounds on lt - rt.
func timeBound(x ast.Expr, sc *scope, nl int, _, _ *scope, iv *joinInterval, c *compiler) bool {
	type cmp struct {
		l, r ast.Expr
		op   ast.BinaryOp
	}
	var cs []cmp
	switch e := x.(type) {
	case *ast.BinaryExpr:
		switch e.Op {
		case ast.OpLt, ast.OpLe, ast.OpGt, ast.OpGe:
			cs = []cmp{{e.L, e.R, e.Op}}
		default:
			return false
		}
	case *ast.BetweenExpr:
		if e.Not || e.Symmetric {
			return false
		}
		cs = []cmp{{e.X, e.Lo, ast.OpGe}, {e.X, e.Hi, ast.OpLe}}
	default:
		return false
	}
	type bound struct {
		lower bool // a lower bound on lt - rt
		v     int64
	}
	var bs []bound
	lt, rt := -1, -1
	for _, k := range cs {
		i, a, ok1 := timeTerm(k.l, sc, c)
		j, b, ok2 := timeTerm(k.r, sc, c)
		if !ok1 || !ok2 {
			return false
		}
		op := k.op
		if i >= nl && j < nl {
			// r-side op l-side: swap to l op r.
			i, j, a, b = j, i, b, a
			op = map[ast.BinaryOp]ast.BinaryOp{ast.OpLt: ast.OpGt, ast.OpLe: ast.OpGe, ast.OpGt: ast.OpLt, ast.OpGe: ast.OpLe}[op]
		}
		if i >= nl || j < nl {
			return false
		}
		if (lt >= 0 && lt != i) || (rt >= 0 && rt != j-nl) {
			return false
		}
		lt, rt = i, j-nl
		// lt + a op rt + b  <=>  lt - rt op b - a
		d := b - a
		switch op {
		case ast.OpGe:
			bs = append(bs, bound{true, d})
		case ast.OpGt:
			bs = append(bs, bound{true, d + 1})
		case ast.OpLe:
			bs = append(bs, bound{false, d})
		case ast.OpLt:
			bs = append(bs, bound{false, d - 1})
		}
	}
	if (iv.ltime >= 0 && iv.ltime != lt) || (iv.rtime >= 0 && iv.rtime != rt) {
		return false
	}
	iv.ltime, iv.rtime = lt, rt
	for _, b := range bs {
		if b.lower {
			iv.lo, iv.lbound = max(iv.lo, b.v), true
		} else {
			iv.hi, iv.ubound = min(iv.hi, b.v), true
		}
	}
	return true
}

// joinLine names a join's operator and writes its EXPLAIN line.
func (w *physWriter) joinLine(n *relNode) {
	jp := n.join
	n.opName, _ = w.p.unique(w.ip.sink.Name + "-join")
	l, r := n.inputs[0], n.inputs[1]
	var lk, rk []string
	for _, k := range jp.lkeys {
		lk = append(lk, l.sc.names[k])
	}
	for _, k := range jp.rkeys {
		rk = append(rk, r.sc.names[k])
	}
	what := "regular join"
	st := "state: every row of both inputs by key"
	if jp.ttl > 0 {
		st += fmt.Sprintf("; state TTL %v", jp.ttl)
	}
	if jp.interval != nil {
		what = "interval join"
		st = "state: each input's rows by key and time, until the watermark passes their bound"
	}
	if jp.temporal {
		what = "temporal join"
		st = "state: the left input's rows by key and time until the watermark passes them, the right input's versions by key and time"
	}
	if jp.window {
		what = "window join"
		st = "state: each input's rows by key and window, until the watermark passes the window's end"
	}
	w.ip.physical = append(w.ip.physical, fmt.Sprintf("  -> %s %q (reads %q hashed on [%s] and %q hashed on [%s]; %s)",
		what, n.opName, l.opName, strings.Join(lk, ", "), r.opName, strings.Join(rk, ", "), st))
}

// keyCompatible reports whether join keys of types a and b are hashed
// and compared alike: integers of any width, character strings of any
// length, or one type (up to nullability and time attributes).
func keyCompatible(a, b types.Type) bool {
	switch {
	case a.IsInteger() && b.IsInteger(), a.IsCharString() && b.IsCharString():
		return true
	}
	return a.WithAttr(types.Regular).EqualIgnoringNull(b.WithAttr(types.Regular))
}
