package planner

import (
	"github.com/sluicehq/sluice/sql/ast"
	"github.com/sluicehq/sluice/sql/functions"
	"github.com/sluicehq/sluice/sql/row"
	"github.com/sluicehq/sluice/sql/types"
)

// The conditional forms below are built from the registry's comparison
// and boolean functions, so they inherit their implicit casts and their
// three-valued logic: x IN (a, NULL) with no match is NULL, as is
// NULL BETWEEN 1 AND 2. x is compiled once and read by each comparison.

// between is x [NOT] BETWEEN [SYMMETRIC] lo AND hi: lo <= x AND x <= hi,
// or either order when SYMMETRIC.
func (c *compiler) between(e *ast.BetweenExpr, sc *scope) (*compiled, error) {
	x, err := c.compile(e.X, sc)
	if err != nil {
		return nil, err
	}
	lo, err := c.compile(e.Lo, sc)
	if err != nil {
		return nil, err
	}
	hi, err := c.compile(e.Hi, sc)
	if err != nil {
		return nil, err
	}
	within := func(lo, hi *compiled) (*compiled, error) {
		ge, err := c.call(e, ">=", x, lo)
		if err != nil {
			return nil, err
		}
		le, err := c.call(e, "<=", x, hi)
		if err != nil {
			return nil, err
		}
		return c.call(e, "AND", ge, le)
	}
	out, err := within(lo, hi)
	if err != nil {
		return nil, err
	}
	if e.Symmetric {
		rev, err := within(hi, lo)
		if err != nil {
			return nil, err
		}
		if out, err = c.call(e, "OR", out, rev); err != nil {
			return nil, err
		}
	}
	if e.Not {
		return c.call(e, "NOT", out)
	}
	return out, nil
}

// in is x [NOT] IN (v1, v2, ...): x = v1 OR x = v2 OR ...
func (c *compiler) in(e *ast.InExpr, sc *scope) (*compiled, error) {
	if e.Query != nil {
		return nil, c.errorf(e, "IN (subquery) is not supported yet")
	}
	x, err := c.compile(e.X, sc)
	if err != nil {
		return nil, err
	}
	var out *compiled
	for _, item := range e.List {
		v, err := c.compile(item, sc)
		if err != nil {
			return nil, err
		}
		eq, err := c.call(item, "=", x, v)
		if err != nil {
			return nil, err
		}
		if out == nil {
			out = eq
		} else if out, err = c.call(e, "OR", out, eq); err != nil {
			return nil, err
		}
	}
	if e.Not {
		return c.call(e, "NOT", out)
	}
	return out, nil
}

// like is x [NOT] LIKE pattern [ESCAPE 'c'], through the registry's LIKE
// (which compiles a constant pattern once). SIMILAR TO is refused.
func (c *compiler) like(e *ast.LikeExpr, sc *scope) (*compiled, error) {
	if e.Similar {
		return nil, c.errorf(e, "SIMILAR TO is not supported yet")
	}
	args := []ast.Expr{e.X, e.Pattern}
	if e.Escape != nil {
		args = append(args, e.Escape)
	}
	cs := make([]*compiled, len(args))
	for i, a := range args {
		x, err := c.compile(a, sc)
		if err != nil {
			return nil, err
		}
		cs[i] = x
	}
	out, err := c.call(e, "LIKE", cs...)
	if err != nil {
		return nil, err
	}
	if e.Not {
		return c.call(e, "NOT", out)
	}
	return out, nil
}

// caseExpr is CASE [operand] WHEN ... THEN ... [ELSE ...] END. Its type is
// the common type of the THEN and ELSE results (nullable when there is
// no ELSE); branches are evaluated lazily, the first true condition wins,
// and a NULL condition is not true.
func (c *compiler) caseExpr(e *ast.CaseExpr, sc *scope) (*compiled, error) {
	var operand *compiled
	if e.Operand != nil {
		x, err := c.compile(e.Operand, sc)
		if err != nil {
			return nil, err
		}
		operand = x
	}
	conds := make([]*compiled, len(e.Whens))
	results := make([]*compiled, 0, len(e.Whens)+1)
	for i, w := range e.Whens {
		cond, err := c.compile(w.Cond, sc)
		if err != nil {
			return nil, err
		}
		if operand != nil {
			if cond, err = c.call(w.Cond, "=", operand, cond); err != nil {
				return nil, err
			}
		} else if cond.typ.Kind != types.Boolean && cond.typ.Kind != types.Null {
			return nil, c.errorf(w.Cond, "WHEN condition must be BOOLEAN, not %s", cond.typ)
		}
		conds[i] = cond
		res, err := c.compile(w.Result, sc)
		if err != nil {
			return nil, err
		}
		results = append(results, res)
	}
	var elseX *compiled
	if e.Else != nil {
		x, err := c.compile(e.Else, sc)
		if err != nil {
			return nil, err
		}
		elseX = x
		results = append(results, x)
	}
	ts := make([]types.Type, len(results))
	for i, r := range results {
		ts[i] = r.typ
	}
	typ, ok := types.CommonType(ts...)
	if !ok {
		return nil, c.errorf(e, "Cannot find a common type for the results of CASE: %s", typeList(ts))
	}
	if elseX == nil {
		typ = typ.WithNullable(true)
	}
	for i, r := range results {
		if !r.typ.Equal(typ) && r.typ.Kind != types.Null {
			x, err := c.cast(e, r, typ, false)
			if err != nil {
				return nil, err
			}
			results[i] = x
		}
	}
	condFns := make([]evalFn, len(conds))
	for i, k := range conds {
		condFns[i] = k.eval
	}
	thenFns := make([]evalFn, len(e.Whens))
	for i := range e.Whens {
		thenFns[i] = results[i].eval
	}
	var elseFn evalFn
	if elseX != nil {
		elseFn = results[len(results)-1].eval
	}
	return &compiled{typ: typ, eval: func(r *row.Row) (functions.Value, error) {
		for i, cond := range condFns {
			v, err := cond(r)
			if err != nil {
				return functions.Value{}, err
			}
			if !v.Null && v.Bool() {
				return thenFns[i](r)
			}
		}
		if elseFn != nil {
			return elseFn(r)
		}
		return functions.Null(), nil
	}}, nil
}

func typeList(ts []types.Type) string {
	s := ""
	for i, t := range ts {
		if i > 0 {
			s += ", "
		}
		s += t.String()
	}
	return s
}
