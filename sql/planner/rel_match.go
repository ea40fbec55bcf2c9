package planner

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/operators"
	"github.com/sluicehq/sluice/sql/ast"
	"github.com/sluicehq/sluice/sql/diag"
	"github.com/sluicehq/sluice/sql/functions"
	"github.com/sluicehq/sluice/sql/row"
	"github.com/sluicehq/sluice/sql/types"
)

// relMatch is MATCH_RECOGNIZE: row pattern recognition per partition.
const relMatch relKind = 50

// matchPlan is a planned MATCH_RECOGNIZE: the input layout, the
// partition columns, the pattern and a factory of its compiled DEFINE
// conditions and MEASURES (one per parallel instance).
type matchPlan struct {
	in       *row.Layout
	keys     []int
	pattern  operators.MatchPattern
	out      *row.Layout
	newFuncs func() (operators.MatchFuncs[*row.Row, *row.Row], error)
}

// matchRecognize plans input MATCH_RECOGNIZE (...) [AS alias].
func (p *relPlanner) matchRecognize(mr *ast.MatchRecognize) (relInput, error) {
	c, src := p.c, p.c.src
	in, err := p.from(mr.Input)
	if err != nil {
		return in, err
	}
	if err := appendOnlyInput(src, mr.Input.Span(), "StreamPhysicalMatch", in.node); err != nil {
		return in, err
	}
	if mr.RowsPerMatch == ast.AllRowsPerMatch {
		return in, diag.New(src, mr.Span(), "All rows per match mode is not supported yet.")
	}
	if len(mr.Subsets) > 0 {
		return in, diag.New(src, mr.Subsets[0].Span(), "SUBSET is not supported yet in MATCH_RECOGNIZE")
	}
	// ORDER BY: the rowtime attribute first, ascending (Flink's checks).
	if len(mr.OrderBy) == 0 {
		return in, diag.New(src, mr.Span(), "You must specify either rowtime or proctime for order by.")
	}
	first := mr.OrderBy[0]
	rowtime := -1
	if n, ok := first.Expr.(*ast.Name); ok {
		rowtime = in.sc.index(n.Last().Name)
	}
	if rowtime < 0 || in.sc.types[rowtime].Attr == types.Regular {
		return in, diag.New(src, first.Span(), "You must specify either rowtime or proctime for order by as the first one.")
	}
	if in.sc.types[rowtime].Attr == types.Proctime {
		return in, diag.New(src, first.Span(), "MATCH_RECOGNIZE ordered by a processing-time attribute is not supported yet: order by the rowtime attribute")
	}
	if first.Desc {
		return in, diag.New(src, first.Span(), "Primary sort order of a streaming table must be ascending on time.")
	}
	if len(mr.OrderBy) > 1 {
		return in, diag.New(src, mr.OrderBy[1].Span(), "ORDER BY columns after the rowtime attribute are not supported yet in MATCH_RECOGNIZE")
	}
	mp := &matchPlan{in: in.node.layout}
	var outNames []string
	var outTypes []types.Type
	var keyNames []string
	for _, e := range mr.PartitionBy {
		n, ok := e.(*ast.Name)
		if !ok {
			return in, diag.New(src, e.Span(), "PARTITION BY of MATCH_RECOGNIZE takes columns, not %s", ast.Format(e))
		}
		if _, err := c.compile(n, in.sc); err != nil {
			return in, err
		}
		k := in.sc.index(n.Last().Name)
		mp.keys = append(mp.keys, k)
		keyNames = append(keyNames, in.sc.names[k])
		outNames = append(outNames, in.sc.names[k])
		outTypes = append(outTypes, in.sc.types[k].WithAttr(types.Regular))
	}
	pat, err := planPattern(src, mr.Pattern)
	if err != nil {
		return in, err
	}
	vars := map[string]int{}
	for i, v := range pat.Vars {
		vars[v] = i
	}
	defines := make([]ast.Expr, len(pat.Vars))
	for _, d := range mr.Defines {
		v, ok := vars[d.Var.Name]
		if !ok {
			return in, undefinedVar(src, d.Var)
		}
		if defines[v] != nil {
			return in, diag.New(src, d.Var.Span(), "Pattern variable '%s' is defined twice in DEFINE", d.Var.Name)
		}
		defines[v] = d.Cond
	}
	if w := mr.Within; w != nil {
		lit, ok := w.(*ast.IntervalLit)
		if !ok {
			return in, diag.New(src, w.Span(), "WITHIN takes an interval literal, not %s", ast.Format(w))
		}
		ms, _, err := c.interval(lit)
		if err != nil {
			return in, err
		}
		if ms <= 0 {
			return in, diag.New(src, w.Span(), "WITHIN must be a positive interval")
		}
		pat.Within = time.Duration(ms) * time.Millisecond
	}
	skip := "SKIP PAST LAST ROW"
	if a := mr.AfterMatch; a != nil {
		switch a.Kind {
		case ast.SkipToNextRow:
			pat.Skip, skip = operators.SkipToNextRow, "SKIP TO NEXT ROW"
		case ast.SkipToFirst, ast.SkipToLast:
			v, ok := vars[a.Var.Name]
			if !ok {
				return in, undefinedVar(src, a.Var)
			}
			pat.SkipVar = v
			pat.Skip, skip = operators.SkipToLast, "SKIP TO LAST "+a.Var.Name
			if a.Kind == ast.SkipToFirst {
				pat.Skip, skip = operators.SkipToFirst, "SKIP TO FIRST "+a.Var.Name
			}
		}
	}
	mp.pattern = pat
	// Compile once now, for the errors and the output types; each parallel
	// instance compiles its own.
	mc := &matchCompiler{c: c, sc: in.sc, vars: vars, varNames: pat.Vars, rowtime: rowtime}
	_, mtypes, err := mc.build(defines, mr.Measures, mp.keys)
	if err != nil {
		return in, err
	}
	var measures []string
	for i, m := range mr.Measures {
		name := m.Alias.Name
		for _, n := range outNames {
			if n == name {
				return in, diag.New(src, m.Alias.Span(), "Duplicate column name '%s' in MATCH_RECOGNIZE output", name)
			}
		}
		outNames = append(outNames, name)
		outTypes = append(outTypes, mtypes[i])
		measures = append(measures, ast.Format(m.Expr)+" AS "+name)
	}
	mp.out = layoutOf(outNames, outTypes)
	keys := mp.keys
	mp.newFuncs = func() (operators.MatchFuncs[*row.Row, *row.Row], error) {
		mc := &matchCompiler{c: c, sc: in.sc, vars: vars, varNames: pat.Vars, rowtime: rowtime}
		f, _, err := mc.build(defines, mr.Measures, keys)
		return f, err
	}
	var defs []string
	for _, d := range mr.Defines {
		defs = append(defs, d.Var.Name+" AS "+ast.Format(d.Cond))
	}
	label := fmt.Sprintf("Match(partitionBy=[%s], orderBy=[%s ASC], measures=[%s], rowsPerMatch=[ONE ROW PER MATCH], after=[%s], pattern=[%s]",
		strings.Join(keyNames, ", "), in.sc.names[rowtime], strings.Join(measures, ", "), skip, ast.Format(mr.Pattern))
	if pat.Within > 0 {
		label += fmt.Sprintf(", within=[%v]", pat.Within)
	}
	label += fmt.Sprintf(", define=[%s])", strings.Join(defs, ", "))
	n := &relNode{kind: relMatch, name: in.name, sc: &scope{names: outNames, types: outTypes}, layout: mp.out, inputs: []*relNode{in.node}, match: mp, label: label}
	out := relInput{node: n, sc: n.sc, name: in.name}
	return p.aliased(out, mr.Alias)
}

// undefinedVar is the error of a variable that is not in PATTERN.
func undefinedVar(src string, id *ast.Ident) error {
	return diag.New(src, id.Span(), "Pattern variable '%s' is not defined in PATTERN", id.Name)
}

// planPattern flattens a pattern into a sequence of quantified variables:
// groups, alternation, PERMUTE and anchors are refused by name, as Flink
// refuses them.
func planPattern(src string, pt ast.Pattern) (operators.MatchPattern, error) {
	var mp operators.MatchPattern
	index := map[string]int{}
	var walk func(pt ast.Pattern, top bool) error
	elem := func(v *ast.PatternVar, min, max int, reluctant bool) {
		i, ok := index[v.Name.Name]
		if !ok {
			i = len(mp.Vars)
			index[v.Name.Name] = i
			mp.Vars = append(mp.Vars, v.Name.Name)
		}
		mp.Elems = append(mp.Elems, operators.MatchElem{Var: i, Min: min, Max: max, Reluctant: reluctant})
	}
	walk = func(pt ast.Pattern, top bool) error {
		switch x := pt.(type) {
		case *ast.PatternVar:
			elem(x, 1, 1, false)
			return nil
		case *ast.PatternSeq:
			for _, it := range x.Items {
				if err := walk(it, false); err != nil {
					return err
				}
			}
			return nil
		case *ast.PatternGroup:
			if x.Pattern == nil {
				return diag.New(src, x.Span(), "the empty pattern () is not supported in MATCH_RECOGNIZE")
			}
			if top {
				return walk(x.Pattern, true)
			}
			if v, ok := x.Pattern.(*ast.PatternVar); ok {
				return walk(v, false)
			}
			return diag.New(src, x.Span(), "pattern groups are not supported in MATCH_RECOGNIZE (as in Flink): a quantifier applies to one variable")
		case *ast.PatternQuant:
			inner := x.Pattern
			for {
				g, ok := inner.(*ast.PatternGroup)
				if !ok || g.Pattern == nil {
					break
				}
				inner = g.Pattern
			}
			v, ok := inner.(*ast.PatternVar)
			if !ok {
				return diag.New(src, x.Span(), "pattern groups are not supported in MATCH_RECOGNIZE (as in Flink): a quantifier applies to one variable")
			}
			if x.Max == 0 {
				return diag.New(src, x.Span(), "a quantifier of at most 0 rows is not supported in MATCH_RECOGNIZE")
			}
			elem(v, x.Min, x.Max, x.Reluctant)
			return nil
		case *ast.PatternAlt:
			return diag.New(src, x.Span(), "alternation (|) in PATTERN is not supported in MATCH_RECOGNIZE (as in Flink)")
		case *ast.PatternPermute:
			return diag.New(src, x.Span(), "PERMUTE is not supported in MATCH_RECOGNIZE (as in Flink)")
		case *ast.PatternAnchor:
			return diag.New(src, x.Span(), "anchors (^, $) are not supported in MATCH_RECOGNIZE (as in Flink)")
		}
		return diag.New(src, pt.Span(), "pattern %s is not supported in MATCH_RECOGNIZE", ast.Format(pt))
	}
	if err := walk(pt, true); err != nil {
		return mp, err
	}
	if len(mp.Vars) > 255 {
		return mp, diag.New(src, pt.Span(), "a pattern of %d variables is too many: at most 255", len(mp.Vars))
	}
	return mp, nil
}

// The navigation references of DEFINE and MEASURES: each becomes a
// field of a scratch row that is filled from the (partial) match before
// the expression over it is evaluated.
type matchRefKind uint8

const (
	refLast    matchRefKind = iota // v.col, col, LAST(v.col, n)
	refFirst                       // FIRST(v.col, n)
	refPrev                        // PREV(v.col, n): n rows before v's last
	refAgg                         // AVG(v.col), ...
	refRowtime                     // MATCH_ROWTIME()
	refClassif                     // CLASSIFIER()
)

type matchRef struct {
	kind matchRefKind
	v    int // pattern variable, -1 for every row
	col  int
	off  int
	typ  types.Type

	agg  *functions.Aggregate
	acc  functions.Accumulator
	args []evalFn
	buf  []functions.Value
}

// matchCompiler compiles one instance's DEFINE and MEASURES.
type matchCompiler struct {
	c        *compiler
	sc       *scope // the input's columns
	vars     map[string]int
	varNames []string
	rowtime  int
	defining bool // compiling a DEFINE condition
	refs     []*matchRef
}

func (mc *matchCompiler) build(defines []ast.Expr, measures []*ast.Measure, keys []int) (operators.MatchFuncs[*row.Row, *row.Row], []types.Type, error) {
	var f operators.MatchFuncs[*row.Row, *row.Row]
	cc := *mc.c
	cc.hook = mc.hook
	src := mc.c.src
	type cond struct {
		refs []*matchRef
		sl   *row.Layout
		ev   evalFn
	}
	compileOne := func(e ast.Expr) (*cond, *compiled, error) {
		mc.refs = nil
		x, err := cc.compile(e, &scope{})
		if err != nil {
			return nil, nil, err
		}
		var ts []types.Type
		var ns []string
		for i, r := range mc.refs {
			ts = append(ts, r.typ)
			ns = append(ns, "$m"+strconv.Itoa(i))
		}
		return &cond{refs: mc.refs, sl: layoutOf(ns, ts), ev: x.eval}, x, nil
	}
	for v, d := range defines {
		if d == nil {
			f.Define = append(f.Define, nil)
			continue
		}
		mc.defining = true
		cd, x, err := compileOne(d)
		mc.defining = false
		if err != nil {
			return f, nil, err
		}
		if x.typ.Kind != types.Boolean {
			return f, nil, diag.New(src, d.Span(), "DEFINE condition of '%s' must be a condition, not %s", mc.varNames[v], x.typ)
		}
		scratch := cd.sl.New()
		f.Define = append(f.Define, func(m *operators.MatchView[*row.Row]) (bool, error) {
			if err := mc.fill(cd.refs, scratch, m); err != nil {
				return false, err
			}
			r, err := cd.ev(scratch)
			if err != nil {
				return false, err
			}
			return !r.Null && r.Bool(), nil
		})
	}
	conds := make([]*cond, len(measures))
	var mtypes []types.Type
	for i, m := range measures {
		cd, x, err := compileOne(m.Expr)
		if err != nil {
			return f, nil, err
		}
		conds[i] = cd
		mtypes = append(mtypes, x.typ)
	}
	var outNames []string
	var outTypes []types.Type
	for _, k := range keys {
		outNames = append(outNames, mc.sc.names[k])
		outTypes = append(outTypes, mc.sc.types[k].WithAttr(types.Regular))
	}
	for i, m := range measures {
		outNames = append(outNames, m.Alias.Name)
		outTypes = append(outTypes, mtypes[i])
	}
	outL := layoutOf(outNames, outTypes)
	scratch := make([]*row.Row, len(conds))
	for i, cd := range conds {
		scratch[i] = cd.sl.New()
	}
	f.Measure = func(m *operators.MatchView[*row.Row]) (*row.Row, error) {
		out := outL.New()
		r0, _, err := m.Row(0)
		if err != nil {
			return nil, err
		}
		for i, k := range keys {
			functions.Write(out, i, functions.Read(r0, k))
		}
		for i, cd := range conds {
			if err := mc.fill(cd.refs, scratch[i], m); err != nil {
				return nil, err
			}
			v, err := cd.ev(scratch[i])
			if err != nil {
				return nil, err
			}
			functions.Write(out, len(keys)+i, v)
		}
		return out, nil
	}
	return f, mtypes, nil
}

// hook compiles the navigation references into fields of the scratch row.
func (mc *matchCompiler) hook(e ast.Expr) (*compiled, bool, error) {
	src := mc.c.src
	add := func(r *matchRef) (*compiled, bool, error) {
		mc.refs = append(mc.refs, r)
		return column(len(mc.refs)-1, r.typ), true, nil
	}
	switch x := e.(type) {
	case *ast.Name:
		r, err := mc.column(x)
		if err != nil {
			return nil, false, err
		}
		return add(r)
	case *ast.FuncCall:
		name := strings.ToUpper(x.Name.Last().Name)
		switch name {
		case "PREV", "LAST", "FIRST":
			if name == "PREV" && !mc.defining {
				return nil, false, diag.New(src, x.Span(), "PREV is only supported in DEFINE (as in Flink): use LAST(var.col, n) in MEASURES")
			}
			if len(x.Args) < 1 || len(x.Args) > 2 {
				return nil, false, diag.New(src, x.Span(), "%s takes a column and an optional constant offset: %s(var.col[, n])", name, name)
			}
			n, ok := x.Args[0].(*ast.Name)
			if !ok {
				return nil, false, diag.New(src, x.Args[0].Span(), "%s takes a column of a pattern variable (var.col), not %s", name, ast.Format(x.Args[0]))
			}
			r, err := mc.column(n)
			if err != nil {
				return nil, false, err
			}
			if name == "PREV" {
				r.off = 1
			}
			if len(x.Args) == 2 {
				lit, ok := x.Args[1].(*ast.NumberLit)
				off, perr := 0, error(nil)
				if ok {
					off, perr = strconv.Atoi(lit.Text)
				}
				if !ok || perr != nil || off < 0 {
					return nil, false, diag.New(src, x.Args[1].Span(), "the offset of %s must be a non-negative integer literal", name)
				}
				r.off = off
			}
			switch name {
			case "PREV":
				r.kind = refPrev
			case "FIRST":
				r.kind = refFirst
			}
			return add(r)
		case "NEXT":
			return nil, false, diag.New(src, x.Span(), "NEXT is not supported in MATCH_RECOGNIZE (as in Flink): use PREV in DEFINE")
		case "MATCH_ROWTIME":
			if mc.defining {
				return nil, false, diag.New(src, x.Span(), "MATCH_ROWTIME() is only supported in MEASURES")
			}
			if len(x.Args) > 0 {
				return nil, false, diag.New(src, x.Span(), "MATCH_ROWTIME() takes no arguments")
			}
			return add(&matchRef{kind: refRowtime, v: -1, col: mc.rowtime, typ: mc.sc.types[mc.rowtime].WithAttr(types.Rowtime)})
		case "CLASSIFIER":
			if len(x.Args) > 0 {
				return nil, false, diag.New(src, x.Span(), "CLASSIFIER() takes no arguments")
			}
			return add(&matchRef{kind: refClassif, v: -1, typ: types.StringType().AsNotNull()})
		case "MATCH_PROCTIME", "MATCH_NUMBER", "RUNNING", "FINAL":
			return nil, false, diag.New(src, x.Span(), "%s is not supported yet in MATCH_RECOGNIZE", name)
		}
		if mc.c.reg.IsAggregate(name) {
			r, err := mc.aggregate(x, name)
			if err != nil {
				return nil, false, err
			}
			return add(r)
		}
	}
	return nil, false, nil
}

// column resolves var.col or col (every row: the last one, in DEFINE the
// candidate).
func (mc *matchCompiler) column(n *ast.Name) (*matchRef, error) {
	src := mc.c.src
	if len(n.Parts) > 2 {
		return nil, diag.New(src, n.Span(), "qualified name %s is not supported", ast.Format(n))
	}
	r := &matchRef{kind: refLast, v: -1}
	if len(n.Parts) == 2 {
		v, ok := mc.vars[n.Parts[0].Name]
		if !ok {
			return nil, undefinedVar(src, n.Parts[0])
		}
		r.v = v
	}
	name := n.Last().Name
	r.col = mc.sc.index(name)
	if r.col < 0 {
		err := diag.New(src, n.Last().Span(), "Column '%s' not found in any table", name)
		if best, ok := diag.Closest(name, mc.sc.names); ok {
			err.Hint = fmt.Sprintf("did you mean '%s'?", best)
		}
		return nil, err
	}
	r.typ = mc.sc.types[r.col].WithAttr(types.Regular).Nullable()
	return r, nil
}

// aggregate plans an aggregate over the rows of one pattern variable (or
// of every row, unqualified).
func (mc *matchCompiler) aggregate(call *ast.FuncCall, name string) (*matchRef, error) {
	src := mc.c.src
	if call.Distinct {
		return nil, diag.New(src, call.Span(), "DISTINCT aggregations are not supported in MATCH_RECOGNIZE (as in Flink)")
	}
	if call.Filter != nil || call.Over != nil || call.OverName != nil || len(call.WithinGroup) > 0 {
		return nil, diag.New(src, call.Span(), "FILTER, OVER and WITHIN GROUP are not supported in MATCH_RECOGNIZE aggregates")
	}
	v := -1
	var bad error
	for _, a := range call.Args {
		ast.Inspect(a, func(nd ast.Node) bool {
			if bad != nil {
				return false
			}
			switch e := nd.(type) {
			case *ast.FuncCall:
				switch strings.ToUpper(e.Name.Last().Name) {
				case "PREV", "LAST", "FIRST", "NEXT", "MATCH_ROWTIME", "CLASSIFIER":
					bad = diag.New(src, e.Span(), "%s is not supported inside an aggregate in MATCH_RECOGNIZE", strings.ToUpper(e.Name.Last().Name))
				}
				if mc.c.reg.IsAggregate(e.Name.Last().Name) {
					bad = diag.New(src, e.Span(), "aggregate calls cannot be nested")
				}
			case *ast.Name:
				if len(e.Parts) != 2 {
					return true
				}
				w, ok := mc.vars[e.Parts[0].Name]
				if !ok {
					bad = undefinedVar(src, e.Parts[0])
					return false
				}
				if v >= 0 && w != v {
					bad = diag.New(src, call.Span(), "Aggregation must be applied to a single pattern variable")
					return false
				}
				v = w
			}
			return true
		})
	}
	if bad != nil {
		return nil, bad
	}
	plain := *mc.c
	plain.hook = nil
	var argTypes []types.Type
	var args []*compiled
	for _, a := range call.Args {
		x, err := plain.compile(a, mc.sc)
		if err != nil {
			return nil, err
		}
		args = append(args, x)
		argTypes = append(argTypes, x.typ.WithAttr(types.Regular))
	}
	agg, err := mc.c.reg.Aggregate(name, argTypes, false)
	if err != nil {
		return nil, diag.New(src, call.Span(), "%v", err)
	}
	r := &matchRef{kind: refAgg, v: v, agg: agg, acc: agg.New(), typ: agg.Result, buf: make([]functions.Value, len(args))}
	for j, x := range args {
		y, err := plain.cast(call.Args[j], x, agg.Params[j], false)
		if err != nil {
			return nil, err
		}
		r.args = append(r.args, y.eval)
	}
	return r, nil
}

// fill evaluates refs over match m into the scratch row.
func (mc *matchCompiler) fill(refs []*matchRef, scratch *row.Row, m *operators.MatchView[*row.Row]) error {
	n := m.Len()
	for i, r := range refs {
		v, err := r.value(m, n, mc.varNames)
		if err != nil {
			return err
		}
		functions.Write(scratch, i, v)
	}
	return nil
}

func (r *matchRef) value(m *operators.MatchView[*row.Row], n int, varNames []string) (functions.Value, error) {
	read := func(i int) (functions.Value, error) {
		if i < 0 || i >= n {
			return functions.Null(), nil
		}
		rr, _, err := m.Row(i)
		if err != nil {
			return functions.Value{}, err
		}
		return functions.Read(rr, r.col), nil
	}
	switch r.kind {
	case refLast, refPrev:
		last := -1
		k := 0
		for i := n - 1; i >= 0; i-- {
			if r.v >= 0 && m.Var(i) != r.v {
				continue
			}
			if r.kind == refPrev {
				return read(i - r.off)
			}
			if k == r.off {
				last = i
				break
			}
			k++
		}
		return read(last)
	case refFirst:
		k := 0
		for i := 0; i < n; i++ {
			if r.v >= 0 && m.Var(i) != r.v {
				continue
			}
			if k == r.off {
				return read(i)
			}
			k++
		}
		return functions.Null(), nil
	case refAgg:
		r.acc.Reset()
		for i := 0; i < n; i++ {
			if r.v >= 0 && m.Var(i) != r.v {
				continue
			}
			rr, _, err := m.Row(i)
			if err != nil {
				return functions.Value{}, err
			}
			for j, ev := range r.args {
				v, err := ev(rr)
				if err != nil {
					return functions.Value{}, err
				}
				r.buf[j] = v
			}
			r.acc.Add(r.buf)
		}
		return r.acc.Result(), nil
	case refRowtime:
		return read(n - 1)
	}
	return functions.Str(varNames[m.Var(n-1)]), nil
}

// buildMatch is the MATCH_RECOGNIZE operator over s, keyed by the
// partition columns.
func buildMatch(s *engine.Stream[*row.Row], mp *matchPlan, name string) *engine.Stream[*row.Row] {
	enc := row.NewKeyEncoder(mp.in, mp.keys)
	ks := engine.KeyBy(s, func(r *row.Row) string { return enc.Key(r) })
	return operators.MatchRecognize(ks, name, operators.MatchSpec[*row.Row, *row.Row]{
		Pattern: mp.pattern,
		New:     mp.newFuncs,
		Codec:   row.NewCodec(mp.in),
	})
}

// matchDesc is the operator's line in EXPLAIN's engine job; last is the
// operator of the line above.
func (n *relNode) matchDesc(last string) string {
	in := n.inputs[0]
	var keys []string
	for _, k := range n.match.keys {
		keys = append(keys, in.sc.names[k])
	}
	ex := fmt.Sprintf("hash exchange on [%s]", strings.Join(keys, ", "))
	if len(keys) == 0 {
		ex = "hash exchange on no columns: one partition"
	}
	if in.opName != last {
		ex = fmt.Sprintf("reads %q; %s", in.opName, ex)
	}
	return fmt.Sprintf("match %q (%s; state: rows until the watermark passes them, and the partial matches of each key)", n.opName, ex)
}
