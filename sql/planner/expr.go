package planner

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/sluicehq/sluice/sql/ast"
	"github.com/sluicehq/sluice/sql/diag"
	"github.com/sluicehq/sluice/sql/functions"
	"github.com/sluicehq/sluice/sql/row"
	"github.com/sluicehq/sluice/sql/types"
)

// evalFn evaluates a compiled expression over one input row. It is not
// safe for concurrent use: the functions it calls keep buffers, so each
// goroutine uses its own compilation (see evalPool).
type evalFn func(r *row.Row) (functions.Value, error)

// compiled is an expression resolved and typed once, at planning time,
// into a closure over the input row's field indexes: no AST is looked at
// per record.
type compiled struct {
	typ   types.Type
	eval  evalFn
	konst *functions.Value // set for a literal (or a constant folded from literals)
	// The typed form (see expr_typed.go), at most one, for the types of
	// its class; nil where the expression has none.
	ei  intFn
	ef  floatFn
	es  strFn
	em  intFn // TIMESTAMP(p ≤ 3) and TIMESTAMP_LTZ(p ≤ 3) as epoch milliseconds (expr_millis.go)
	ref int   // field index + 1 of a bare column reference, 0 otherwise
}

// scope is the input row an expression reads: its layout's names and
// types.
type scope struct {
	names []string
	types []types.Type
}

func (s *scope) index(name string) int {
	for i, n := range s.names {
		if n == name {
			return i
		}
	}
	return -1
}

// compiler compiles expressions of one script.
type compiler struct {
	src string
	reg *functions.Registry
	ctx *functions.Context
	// generic compiles without typed closures or constant folding: the
	// reference the typed compilation is tested against.
	generic bool
	// hook, when set (on a copy of the script's compiler), compiles the
	// expressions it claims first: MATCH_RECOGNIZE's navigation calls.
	hook func(e ast.Expr) (*compiled, bool, error)
}

func (c *compiler) errorf(n ast.Node, format string, args ...any) *diag.Error {
	return diag.New(c.src, n.Span(), format, args...)
}

func konst(t types.Type, v functions.Value) *compiled {
	return typedKonst(&compiled{typ: t, konst: &v, eval: func(*row.Row) (functions.Value, error) { return v, nil }})
}

// compile types e against sc and returns its evaluator.
func (c *compiler) compile(e ast.Expr, sc *scope) (*compiled, error) {
	if c.hook != nil {
		if x, ok, err := c.hook(e); ok || err != nil {
			return x, err
		}
	}
	switch e := e.(type) {
	case *ast.Name:
		if x, ok, err := c.rowFieldName(e, sc); ok || err != nil {
			return x, err
		}
		name := e.Last().Name
		if len(e.Parts) > 2 {
			return nil, c.errorf(e, "qualified name %s is not supported", ast.Format(e))
		}
		i := sc.index(name)
		if i < 0 {
			err := c.errorf(e, "Column '%s' not found in any table", name)
			if best, ok := diag.Closest(name, sc.names); ok {
				err.Hint = fmt.Sprintf("did you mean '%s'?", best)
			}
			return nil, err
		}
		if c.generic {
			return &compiled{typ: sc.types[i], eval: func(r *row.Row) (functions.Value, error) { return functions.Read(r, i), nil }}, nil
		}
		return column(i, sc.types[i]), nil
	case *ast.NumberLit:
		return c.number(e)
	case *ast.StringLit:
		return konst(types.CharType(max(1, len([]rune(e.Value)))).AsNotNull(), functions.Str(e.Value)), nil
	case *ast.IndexExpr:
		// x[i] is ITEM(x, i): an array element from 1, a map's value.
		x, err := c.compile(e.X, sc)
		if err != nil {
			return nil, err
		}
		i, err := c.compile(e.Index, sc)
		if err != nil {
			return nil, err
		}
		return c.call(e, "ITEM", x, i)
	case *ast.CollectionExpr:
		if e.Query == nil && (e.Kind == "ARRAY" || e.Kind == "MAP") {
			return c.collection(e, sc)
		}
	case *ast.BinaryLit:
		b, err := hex.DecodeString(e.Hex)
		if err != nil {
			return nil, c.errorf(e, "binary literal %s: %v", ast.Format(e), err)
		}
		return konst(types.BinaryType(max(1, len(b))).AsNotNull(), functions.Str(string(b))), nil
	case *ast.BoolLit:
		return konst(types.BooleanType().AsNotNull(), functions.Bool(e.Value)), nil
	case *ast.NullLit:
		return konst(types.NullType(), functions.Null()), nil
	case *ast.IntervalLit:
		ms, res, err := c.interval(e)
		if err != nil {
			return nil, err
		}
		return konst(types.DayTimeInterval(res, 2, 3).AsNotNull(), functions.Int(ms)), nil
	case *ast.UnaryExpr:
		x, err := c.compile(e.X, sc)
		if err != nil {
			return nil, err
		}
		switch e.Op {
		case ast.OpPlus:
			return x, nil
		case ast.OpNeg:
			return c.call(e, "-", x)
		}
		return c.call(e, "NOT", x)
	case *ast.BinaryExpr:
		l, err := c.compile(e.L, sc)
		if err != nil {
			return nil, err
		}
		r, err := c.compile(e.R, sc)
		if err != nil {
			return nil, err
		}
		name := e.Op.String()
		if e.Op == ast.OpMod {
			name = "MOD"
		}
		return c.call(e, name, l, r)
	case *ast.IsExpr:
		x, err := c.compile(e.X, sc)
		if err != nil {
			return nil, err
		}
		var what string
		switch e.What {
		case ast.IsNull:
			what = "NULL"
		case ast.IsTrue:
			what = "TRUE"
		case ast.IsFalse:
			what = "FALSE"
		default:
			return nil, c.errorf(e, "%s is not supported yet", ast.Format(e))
		}
		name := "IS " + what
		if e.Not {
			name = "IS NOT " + what
		}
		return c.call(e, name, x)
	case *ast.BetweenExpr:
		return c.between(e, sc)
	case *ast.InExpr:
		return c.in(e, sc)
	case *ast.LikeExpr:
		return c.like(e, sc)
	case *ast.CaseExpr:
		return c.caseExpr(e, sc)
	case *ast.CastExpr:
		x, err := c.compile(e.X, sc)
		if err != nil {
			return nil, err
		}
		to, err := convertType(c.src, e.Type)
		if err != nil {
			return nil, err
		}
		return c.cast(e, x, to, e.Try)
	case *ast.FieldExpr:
		return c.fieldExpr(e, sc)
	case *ast.FuncCall:
		name := e.Name.Last().Name
		if c.reg.IsAggregate(name) {
			return nil, c.errorf(e, "Aggregate function %s is only valid in a SELECT with GROUP BY or a window aggregation", strings.ToUpper(name))
		}
		if e.Over != nil || e.OverName != nil {
			return nil, c.errorf(e, "OVER windows are not supported yet")
		}
		if e.Filter != nil || e.Distinct {
			return nil, c.errorf(e, "DISTINCT and FILTER apply to aggregate functions only")
		}
		args := make([]*compiled, len(e.Args))
		for i, a := range e.Args {
			x, err := c.compile(a, sc)
			if err != nil {
				return nil, err
			}
			args[i] = x
		}
		return c.call(e, name, args...)
	}
	return nil, c.errorf(e, "expression %s is not supported yet", ast.Format(e))
}

func (c *compiler) number(e *ast.NumberLit) (*compiled, error) {
	if e.Approx {
		f, err := strconv.ParseFloat(e.Text, 64)
		if err != nil {
			return nil, c.errorf(e, "bad number %s", e.Text)
		}
		return konst(types.DoubleType().AsNotNull(), functions.Float(f)), nil
	}
	if !strings.Contains(e.Text, ".") {
		if v, err := strconv.ParseInt(e.Text, 10, 64); err == nil {
			if v >= -1<<31 && v < 1<<31 {
				return konst(types.IntType().AsNotNull(), functions.Int(v)), nil
			}
			return konst(types.BigIntType().AsNotNull(), functions.Int(v)), nil
		}
	}
	d, err := row.ParseDecimal(e.Text)
	if err != nil {
		return nil, c.errorf(e, "bad number %s: %v", e.Text, err)
	}
	return konst(types.DecimalType(max(1, d.Precision()), d.Scale()).AsNotNull(), functions.Dec(d)), nil
}

// interval reads a single-unit day-time interval literal as milliseconds.
func (c *compiler) interval(e *ast.IntervalLit) (int64, types.Resolution, error) {
	q := e.Qualifier
	if q.End != "" {
		return 0, 0, c.errorf(e, "interval %s TO %s is not supported yet", q.Start, q.End)
	}
	unit := map[ast.TimeUnit]struct {
		ms  int64
		res types.Resolution
	}{"DAY": {86_400_000, types.ResDay}, "HOUR": {3_600_000, types.ResHour}, "MINUTE": {60_000, types.ResMinute}, "SECOND": {1000, types.ResSecond}}
	u, ok := unit[q.Start]
	if !ok {
		return 0, 0, c.errorf(e, "INTERVAL ... %s is not supported yet", q.Start)
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(e.Value), 64)
	if err != nil {
		return 0, 0, c.errorf(e, "Illegal interval literal '%s'", e.Value)
	}
	ms := int64(f * float64(u.ms))
	if e.Negative {
		ms = -ms
	}
	return ms, u.res, nil
}

// call resolves a function or operator once and casts its arguments to
// the overload's parameter types.
func (c *compiler) call(n ast.Node, name string, args ...*compiled) (*compiled, error) {
	as := make([]functions.Arg, len(args))
	for i, a := range args {
		as[i] = functions.Arg{Type: a.typ, Const: a.konst}
	}
	s, err := c.reg.Scalar(c.ctx, name, as)
	if err != nil {
		return nil, c.errorf(n, "%v", err)
	}
	for i := range args {
		if i < len(s.Params) && !args[i].typ.Equal(s.Params[i]) && args[i].typ.Kind != types.Null {
			if args[i], err = c.cast(n, args[i], s.Params[i], false); err != nil {
				return nil, err
			}
		}
	}
	if x := typedCall(s, args); x != nil && !c.generic {
		return foldConst(x, args), nil
	}
	evals := make([]evalFn, len(args))
	for i, a := range args {
		evals[i] = a.eval
	}
	buf := make([]functions.Value, len(args))
	f := s.Eval
	return &compiled{typ: s.Result, eval: func(r *row.Row) (functions.Value, error) {
		for i, ev := range evals {
			v, err := ev(r)
			if err != nil {
				return functions.Value{}, err
			}
			buf[i] = v
		}
		return f(buf)
	}}, nil
}

// cast converts x to type to (CAST, TRY_CAST, or an implicit cast).
func (c *compiler) cast(n ast.Node, x *compiled, to types.Type, try bool) (*compiled, error) {
	if x.typ.Equal(to) {
		return x, nil
	}
	s, err := functions.Cast(c.ctx, x.typ, to, try)
	if err != nil {
		return nil, c.errorf(n, "%v", err)
	}
	if y := typedCast(s, x); y != nil && !c.generic {
		return foldConst(y, []*compiled{x}), nil
	}
	ev, f := x.eval, s.Eval
	buf := make([]functions.Value, 1)
	y := &compiled{typ: s.Result, eval: func(r *row.Row) (functions.Value, error) {
		v, err := ev(r)
		if err != nil {
			return functions.Value{}, err
		}
		buf[0] = v
		return f(buf)
	}}
	if c.generic {
		return y, nil
	}
	// A cast is deterministic: a cast literal is a literal.
	return foldConst(y, []*compiled{x}), nil
}

// foldConst evaluates x once when its operands are all literals and x is
// deterministic (a cast, or a function with a typed form: operators,
// comparisons, MOD), so that `v * 2` does not cast 2 to BIGINT per row.
// An evaluation error (1 / 0) is left to run time, where it belongs.
func foldConst(x *compiled, args []*compiled) *compiled {
	for _, a := range args {
		if a.konst == nil {
			return x
		}
	}
	v, err := x.eval(nil)
	if err != nil {
		return x
	}
	return konst(x.typ, v)
}

// collection compiles the value constructors ARRAY[a, b, ...] and
// MAP[k1, v1, k2, v2, ...]: elements (keys, values) cast to their common
// type; a key given twice keeps its last value, as Flink's.
func (c *compiler) collection(e *ast.CollectionExpr, sc *scope) (*compiled, error) {
	if len(e.Elems) == 0 {
		return nil, c.errorf(e, "%s[] needs at least one element", e.Kind)
	}
	if e.Kind == "MAP" && len(e.Elems)%2 != 0 {
		return nil, c.errorf(e, "MAP[...] takes keys and values in pairs: %d arguments", len(e.Elems))
	}
	args := make([]*compiled, len(e.Elems))
	for i, x := range e.Elems {
		a, err := c.compile(x, sc)
		if err != nil {
			return nil, err
		}
		args[i] = a
	}
	// unify casts the arguments at start, start+step, ... to their common
	// type.
	unify := func(start, step int, what string) (types.Type, error) {
		var ts []types.Type
		for i := start; i < len(args); i += step {
			ts = append(ts, args[i].typ)
		}
		t, ok := types.CommonType(ts...)
		if !ok {
			return types.Type{}, c.errorf(e, "%s[...]: the %s have no common type (%s)", e.Kind, what, typeList(ts))
		}
		for i := start; i < len(args); i += step {
			a, err := c.cast(e.Elems[i], args[i], t, false)
			if err != nil {
				return types.Type{}, err
			}
			args[i] = a
		}
		return t, nil
	}
	evalAll := func(r *row.Row, vs []functions.Value) error {
		for i, a := range args {
			v, err := a.eval(r)
			if err != nil {
				return err
			}
			vs[i] = v
		}
		return nil
	}
	if e.Kind == "ARRAY" {
		et, err := unify(0, 1, "elements")
		if err != nil {
			return nil, err
		}
		return &compiled{typ: types.ArrayType(et).AsNotNull(), eval: func(r *row.Row) (functions.Value, error) {
			vs := make([]functions.Value, len(args))
			if err := evalAll(r, vs); err != nil {
				return functions.Value{}, err
			}
			out := make([]any, len(vs))
			for i, v := range vs {
				out[i] = functions.ToAny(et, v)
			}
			return functions.Value{R: out}, nil
		}}, nil
	}
	kt, err := unify(0, 2, "keys")
	if err != nil {
		return nil, err
	}
	vt, err := unify(1, 2, "values")
	if err != nil {
		return nil, err
	}
	return &compiled{typ: types.MapType(kt, vt).AsNotNull(), eval: func(r *row.Row) (functions.Value, error) {
		vs := make([]functions.Value, len(args))
		if err := evalAll(r, vs); err != nil {
			return functions.Value{}, err
		}
		m := &row.MapValue{}
	pairs:
		for i := 0; i < len(vs); i += 2 {
			k := functions.ToAny(kt, vs[i])
			for j, have := range m.Keys {
				if (have == nil && vs[i].Null) || (have != nil && !vs[i].Null && functions.Compare(kt, functions.FromAny(kt, have), vs[i]) == 0) {
					m.Values[j] = functions.ToAny(vt, vs[i+1])
					continue pairs
				}
			}
			m.Keys = append(m.Keys, k)
			m.Values = append(m.Values, functions.ToAny(vt, vs[i+1]))
		}
		return functions.Value{R: m}, nil
	}}, nil
}
