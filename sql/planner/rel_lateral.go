package planner

import (
	"fmt"
	"slices"
	"strings"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/sql/ast"
	"github.com/sluicehq/sluice/sql/diag"
	"github.com/sluicehq/sluice/sql/functions"
	"github.com/sluicehq/sluice/sql/row"
	"github.com/sluicehq/sluice/sql/types"
)

// relLateral is a correlated table function call: each left row joined
// with the rows the function makes from it (Flink's Correlate).
const relLateral relKind = 60

// TableFunc is a table function an embedding program registers
// (Extensions.TableFuncs): FROM t, LATERAL TABLE(f(args)) [AS x(cols)],
// t CROSS JOIN LATERAL TABLE(...), t [INNER] JOIN LATERAL TABLE(...) ON
// TRUE and t LEFT JOIN LATERAL TABLE(...) ON TRUE.
type TableFunc struct {
	Name string
	// Params are the argument types; a NOT NULL one makes the function
	// strict in it: a NULL argument there gives no rows.
	Params []types.Type
	// Columns and Types are the rows' columns.
	Columns []string
	Types   []types.Type
	// Eval calls the function on one row's arguments (of Params' types)
	// and emits each output row's values (emit does not keep the slice).
	// A functions.UserError sends the input row to the error output. Eval
	// is called from several subtasks at once.
	Eval func(args []functions.Value, emit func([]functions.Value)) error
}

// lateralPlan is what a relLateral computes.
type lateralPlan struct {
	fn     *TableFunc
	args   []ast.Expr // over the left input's scope, cast to fn.Params
	sc     *scope     // the left input's
	left   bool       // LEFT JOIN: a row without output rows is kept, padded with NULLs
	in     *row.Layout
	out    *row.Layout
	c      *compiler
	newArg func() ([]evalFn, error)
}

// lateralFunc reports whether a join's right side is LATERAL TABLE(f)
// planned here: in a program with table functions (an embedding
// program's), any f but the anomaly functions; fn is nil when f is not
// registered.
func (p *relPlanner) lateralFunc(j *ast.Join) (*ast.TableFunc, *TableFunc, bool) {
	tf, ok := j.R.(*ast.TableFunc)
	if !ok || !tf.Lateral || p.tableFuncs == nil || isAnomalyCall(tf) {
		return nil, nil, false
	}
	return tf, p.tableFuncs[strings.ToUpper(tf.Call.Name.Last().Name)], true
}

// lateral plans L JOIN LATERAL TABLE(f(args)) [AS alias(cols)].
func (p *relPlanner) lateral(j *ast.Join, tf *ast.TableFunc, fn *TableFunc) (relInput, error) {
	src, c := p.c.src, p.c
	if fn == nil {
		name := strings.ToUpper(tf.Call.Name.Last().Name)
		var known []string
		for n := range p.tableFuncs {
			known = append(known, n)
		}
		slices.Sort(known)
		e := diag.New(src, tf.Call.Name.Span(), "No match found for function signature %s: unknown table function", name)
		if best, ok := diag.Closest(name, known); ok {
			e.Hint = fmt.Sprintf("did you mean %s?", best)
		}
		return relInput{}, e
	}
	left := false
	switch j.Kind {
	case ast.CommaJoin, ast.CrossJoin:
	case ast.InnerJoin:
	case ast.LeftJoin:
		left = true
	default:
		return relInput{}, diag.New(src, j.Span(), "%s JOIN LATERAL TABLE(%s(...)) is not supported: use a comma, CROSS JOIN, JOIN ... ON TRUE or LEFT JOIN ... ON TRUE", joinWord(j.Kind), fn.Name)
	}
	if j.Natural || len(j.Using) > 0 {
		return relInput{}, diag.New(src, j.Span(), "NATURAL JOIN and JOIN ... USING with LATERAL TABLE(%s(...)) are not supported", fn.Name)
	}
	var filter ast.Expr
	if j.On != nil {
		if b, ok := j.On.(*ast.BoolLit); !ok || !b.Value {
			if left {
				return relInput{}, diag.New(src, j.On.Span(), "LEFT JOIN LATERAL TABLE(%s(...)) takes only ON TRUE as its condition", fn.Name)
			}
			filter = j.On
		}
	}
	l, err := p.from(j.L)
	if err != nil {
		return l, err
	}
	lin := relInput{node: l.node, sc: l.sc, name: l.name, cols: l.joinCols()}
	// The arguments, over the left input.
	for _, a := range tf.Call.Args {
		if _, ok := a.(*ast.NamedArg); ok {
			return l, diag.New(src, a.Span(), "%s takes positional arguments only", fn.Name)
		}
	}
	if tf.Call.Distinct || tf.Call.Star || tf.Call.Filter != nil || tf.Call.Over != nil {
		return l, diag.New(src, tf.Call.Span(), "%s is a table function: DISTINCT, *, FILTER and OVER do not apply", fn.Name)
	}
	var args []ast.Expr
	var argTs []types.Type
	for _, a := range tf.Call.Args {
		ra, err := p.resolveJoinNames(lin, a)
		if err != nil {
			return l, err
		}
		x, err := c.compile(ra, l.sc)
		if err != nil {
			return l, err
		}
		args = append(args, ra)
		argTs = append(argTs, x.typ)
	}
	if !tableFuncArgsMatch(argTs, fn.Params) {
		parts := make([]string, len(argTs))
		for i, t := range argTs {
			parts[i] = "<" + t.Nullable().String() + ">"
		}
		return l, diag.New(src, tf.Call.Span(), "Cannot apply '%s' to arguments of type '%s(%s)'. Supported form(s): '%s'",
			fn.Name, fn.Name, strings.Join(parts, ", "), functions.Signature(fn.Name, fn.Params))
	}
	// The function's columns, renamed by AS x(cols).
	fin := relInput{sc: &scope{names: append([]string(nil), fn.Columns...), types: append([]types.Type(nil), fn.Types...)}, name: fn.Name}
	if tf.Alias != nil {
		fin.name = tf.Alias.Name.Name
		if fin, err = p.renamed(fin, tf.Alias.Columns, tf.Alias.Span()); err != nil {
			return l, err
		}
	}
	lcols, rcols := lin.cols, fin.joinCols()
	cols := append(append([]joinCol(nil), lcols...), rcols...)
	sc := &scope{names: uniquify(cols, map[string]bool{})}
	sc.types = append(sc.types, l.sc.types...)
	for _, t := range fin.sc.types {
		if left {
			t = t.Nullable()
		}
		sc.types = append(sc.types, t)
	}
	lp := &lateralPlan{fn: fn, args: args, sc: l.sc, left: left, in: l.node.layout, out: layoutOf(sc.names, sc.types), c: c}
	lp.newArg = func() ([]evalFn, error) {
		evs := make([]evalFn, len(args))
		for i, a := range args {
			x, err := c.compile(a, l.sc)
			if err != nil {
				return nil, err
			}
			to := fn.Params[i].WithNullable(x.typ.IsNullable())
			if x.typ.Kind != types.Null && !x.typ.Equal(to) {
				if x, err = c.cast(a, x, to, false); err != nil {
					return nil, err
				}
			}
			evs[i] = x.eval
		}
		return evs, nil
	}
	if _, err := lp.newArg(); err != nil {
		return l, err
	}
	joinType := "INNER"
	if left {
		joinType = "LEFT"
	}
	argText := make([]string, len(args))
	for i, a := range args {
		argText[i] = ast.Format(a)
	}
	n := &relNode{kind: relLateral, name: "correlate", sc: sc, layout: lp.out, inputs: []*relNode{l.node}, lateral: lp,
		label: fmt.Sprintf("Correlate(invocation=[%s(%s)], correlate=[table(%s)], select=[%s], joinType=[%s])",
			fn.Name, strings.Join(argText, ", "), fn.Name, strings.Join(sc.names, ", "), joinType)}
	if m := l.node.changelog(); m.updates {
		// Each output row keeps its input row's kind.
		m.upsertKey = nil
		n.mode = &m
	}
	out := relInput{node: n, sc: sc, cols: cols, name: "correlate"}
	if filter == nil {
		return out, nil
	}
	on, err := p.resolveJoinNames(out, filter)
	if err != nil {
		return out, err
	}
	calc, _, err := planCalc(c, sc, on, nil, nil)
	if err != nil {
		return out, err
	}
	out.node = &relNode{kind: relCalc, name: "correlate", sc: sc, layout: lp.out, inputs: []*relNode{n}, calc: calc, filter: true, calcBase: "correlate-calc",
		label: fmt.Sprintf("Calc(where=[%s])", ast.Format(filter))}
	return out, nil
}

func joinWord(k ast.JoinKind) string {
	switch k {
	case ast.RightJoin:
		return "RIGHT"
	case ast.FullJoin:
		return "FULL"
	}
	return "this"
}

// tableFuncArgsMatch is functions' rule for Go functions: the arity, and
// each argument of its parameter's type or implicitly castable to it.
func tableFuncArgsMatch(args, params []types.Type) bool {
	if len(args) != len(params) {
		return false
	}
	for i, p := range params {
		a := args[i]
		if a.Kind != types.Null && !a.EqualIgnoringNull(p) && !types.CanImplicitCast(a.Nullable().WithAttr(types.Regular), p.Nullable()) {
			return false
		}
	}
	return true
}

func (w *physWriter) lateralLine(n *relNode) {
	n.opName, _ = w.p.unique(w.ip.sink.Name + "-correlate")
	w.line(n.inputs[0], fmt.Sprintf("correlate %q", n.opName), fmt.Sprintf("stateless; the rows of %s per input row; failed calls to the error output", n.lateral.fn.Name))
}

// buildLateral lowers a relLateral: a process operator per subtask with
// its own argument evaluators.
func buildLateral(l *lowering, n *relNode, in *engine.Stream[*row.Row]) *engine.Stream[*row.Row] {
	s := engine.Process[*row.Row, *row.Row](in, n.opName, &lateralProcess{lp: n.lateral})
	l.badRows(n.opName, s)
	return s
}

type lateralProcess struct {
	lp   *lateralPlan
	args []evalFn
	vals []functions.Value
	name string
}

func (p *lateralProcess) Open(rc *engine.RuntimeContext) error {
	args, err := p.lp.newArg()
	p.args, p.vals, p.name = args, make([]functions.Value, len(args)), rc.Name
	return err
}

func (p *lateralProcess) ProcessElement(in *row.Row, ctx *engine.Context[*row.Row]) error {
	lp := p.lp
	nl := lp.in.Len()
	strictNull := false
	for i, ev := range p.args {
		v, err := ev(in)
		if err != nil {
			if functions.IsUserError(err) {
				sendBad(ctx, p.name, in, err)
				return nil
			}
			return err
		}
		p.vals[i] = v
		if v.Null && !lp.fn.Params[i].IsNullable() {
			strictNull = true
		}
	}
	emitted := false
	emit := func(vs []functions.Value) {
		o := lp.out.New()
		o.Kind = in.Kind
		for i := range nl {
			functions.Write(o, i, functions.Read(in, i))
		}
		for k, v := range vs {
			functions.Write(o, nl+k, v)
		}
		ctx.Emit(o)
		emitted = true
	}
	if !strictNull {
		if err := lp.fn.Eval(p.vals, emit); err != nil {
			if functions.IsUserError(err) {
				sendBad(ctx, p.name, in, err)
				return nil
			}
			return err
		}
	}
	if !emitted && lp.left {
		o := lp.out.New()
		o.Kind = in.Kind
		for i := range nl {
			functions.Write(o, i, functions.Read(in, i))
		}
		ctx.Emit(o)
	}
	return nil
}
