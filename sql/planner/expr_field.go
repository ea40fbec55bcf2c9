package planner

import (
	"fmt"
	"strings"

	"github.com/sluicehq/sluice/sql/ast"
	"github.com/sluicehq/sluice/sql/diag"
	"github.com/sluicehq/sluice/sql/functions"
	"github.com/sluicehq/sluice/sql/row"
	"github.com/sluicehq/sluice/sql/types"
)

// ROW field access: `r.f` for a column r of a ROW type (Flink resolves a
// qualifier as a table first; the planner has already refused qualifiers
// that are neither the FROM item nor a ROW column, see rowColumn), and
// `(expr).f` for any expression of a ROW type. The field of a NULL row is
// NULL, so its type is nullable when the row's is.

// rowColumn reports whether name is a column of a ROW type in sc.
func rowColumn(sc *scope, name string) bool {
	i := sc.index(name)
	return i >= 0 && sc.types[i].Kind == types.Row
}

// rowFieldName compiles a two-part name whose first part is a ROW column
// of sc and whose second is not a column; ok is false for any other name.
func (c *compiler) rowFieldName(e *ast.Name, sc *scope) (*compiled, bool, error) {
	if len(e.Parts) != 2 || !rowColumn(sc, e.Parts[0].Name) {
		return nil, false, nil
	}
	i := sc.index(e.Parts[0].Name)
	y, err := c.rowField(e.Parts[1], column(i, sc.types[i]), i)
	return y, true, err
}

// fieldExpr compiles (expr).f.
func (c *compiler) fieldExpr(e *ast.FieldExpr, sc *scope) (*compiled, error) {
	x, err := c.compile(e.X, sc)
	if err != nil {
		return nil, err
	}
	if x.typ.Kind != types.Row {
		return nil, c.errorf(e, "Cannot access field '%s' of %s: it is of type %s, not a ROW", e.Field.Name, ast.Format(e.X), x.typ)
	}
	return c.rowField(e.Field, x, -1)
}

// rowField is field f of the ROW value x, which is column col of the
// input row when col >= 0.
func (c *compiler) rowField(f *ast.Ident, x *compiled, col int) (*compiled, error) {
	t := x.typ
	j := -1
	var names []string
	for k, fl := range t.Fields {
		names = append(names, fl.Name)
		if fl.Name == f.Name {
			j = k
		}
	}
	if j < 0 {
		for k, fl := range t.Fields { // unquoted names match case-insensitively when unique
			if !f.Quoted && strings.EqualFold(fl.Name, f.Name) {
				if j >= 0 {
					j = -1
					break
				}
				j = k
			}
		}
	}
	if j < 0 {
		e := diag.New(c.src, f.Span(), "Unknown field '%s' of ROW type %s", f.Name, t)
		if best, ok := diag.Closest(f.Name, names); ok {
			e.Hint = fmt.Sprintf("did you mean '%s'?", best)
		}
		return nil, e
	}
	ft := t.Fields[j].Type
	if t.IsNullable() {
		ft = ft.Nullable()
	}
	inner := column(j, ft)
	get := x.eval
	nested := func(r *row.Row) (*row.Row, error) {
		v, err := get(r)
		if err != nil || v.Null || v.R == nil {
			return nil, err
		}
		return v.R.(*row.Row), nil
	}
	if i := col; i >= 0 {
		nested = func(r *row.Row) (*row.Row, error) {
			if r.IsNull(i) {
				return nil, nil
			}
			return r.Ref(i).(*row.Row), nil
		}
	}
	out := &compiled{typ: ft}
	out.eval = func(r *row.Row) (functions.Value, error) {
		n, err := nested(r)
		if err != nil || n == nil {
			return functions.Null(), err
		}
		return inner.eval(n)
	}
	through := func(fn intFn) intFn {
		return func(r *row.Row) (int64, bool, error) {
			n, err := nested(r)
			if err != nil || n == nil {
				return 0, true, err
			}
			return fn(n)
		}
	}
	switch {
	case inner.ei != nil:
		out.ei = through(inner.ei)
	case inner.ef != nil:
		fn := inner.ef
		out.ef = func(r *row.Row) (float64, bool, error) {
			n, err := nested(r)
			if err != nil || n == nil {
				return 0, true, err
			}
			return fn(n)
		}
	case inner.es != nil:
		fn := inner.es
		out.es = func(r *row.Row) (string, bool, error) {
			n, err := nested(r)
			if err != nil || n == nil {
				return "", true, err
			}
			return fn(n)
		}
	case isMillis(ft):
		out.em = through(func(n *row.Row) (int64, bool, error) {
			if n.IsNull(j) {
				return 0, true, nil
			}
			return n.Timestamp(j).Millis, false, nil
		})
	}
	return out, nil
}
