package functions

import (
	"errors"
	"fmt"
	"maps"
	"strings"

	"github.com/sluicehq/sluice/sql/types"
)

// UserError is the failure of a function registered from Go (an error
// it returned or a panic): the planner sends the row that caused it to
// the operator's error output instead of failing the job.
type UserError struct {
	Func string
	Err  error
}

func (e *UserError) Error() string { return fmt.Sprintf("function %s failed: %v", e.Func, e.Err) }

// Unwrap is the function's own error.
func (e *UserError) Unwrap() error { return e.Err }

// IsUserError reports whether err is (or wraps) a UserError.
func IsUserError(err error) bool {
	var ue *UserError
	return errors.As(err, &ue)
}

// Clone is a registry with r's functions that AddScalar and AddAggregate
// may extend without changing r (Builtins stays immutable).
func (r *Registry) Clone() *Registry {
	c := newRegistry()
	for n, ovs := range r.scalars {
		c.scalars[n] = append([]overload(nil), ovs...)
	}
	maps.Copy(c.aggs, r.aggs)
	if r.user != nil {
		c.user = maps.Clone(r.user)
	}
	return c
}

// Has reports whether name (case-insensitive) is a registered scalar or
// aggregate function.
func (r *Registry) Has(name string) bool {
	up := strings.ToUpper(name)
	_, s := r.scalars[up]
	_, a := r.aggs[up]
	return s || a
}

// Signature is the form of a call of name with params, as the errors
// show it: NAME(<BIGINT>, <STRING>).
func Signature(name string, params []types.Type) string {
	parts := make([]string, len(params))
	for i, p := range params {
		parts[i] = "<" + p.Nullable().String() + ">"
	}
	return strings.ToUpper(name) + "(" + strings.Join(parts, ", ") + ")"
}

func (r *Registry) addUser(name string, params []types.Type) (string, string, error) {
	up := strings.ToUpper(name)
	if !isWord(up) || up == "" {
		return "", "", fmt.Errorf("function name %q: want letters, digits and '_'", name)
	}
	if r.Has(up) {
		return "", "", fmt.Errorf("function %s is already registered", up)
	}
	sig := Signature(up, params)
	if r.user == nil {
		r.user = map[string]string{}
	}
	r.user[up] = sig
	return up, sig, nil
}

// matchUser matches call arguments against a user function's parameters:
// each argument must be of its parameter's type or implicitly castable
// to it (INT to BIGINT, any string to STRING). The cast types keep the
// argument's nullability; nullable reports whether a NULL may reach a
// NOT NULL parameter (the call then gives NULL for it).
func matchUser(args []types.Type, params []types.Type) (cast []types.Type, nullable bool, ok bool) {
	if len(args) != len(params) {
		return nil, false, false
	}
	cast = make([]types.Type, len(params))
	for i, p := range params {
		a := args[i]
		if a.Kind != types.Null && !a.EqualIgnoringNull(p) && !types.CanImplicitCast(a.Nullable(), p.Nullable()) {
			return nil, false, false
		}
		cast[i] = p.WithNullable(a.IsNullable())
		if a.IsNullable() && !p.IsNullable() {
			nullable = true
		}
	}
	return cast, nullable, true
}

// AddScalar registers a scalar function of fixed parameter types. A
// parameter that is NOT NULL makes the function strict in it: a NULL
// argument there gives NULL without calling eval. eval's errors should be
// UserErrors (see IsUserError).
func (r *Registry) AddScalar(name string, params []types.Type, result types.Type, eval Eval) error {
	up, sig, err := r.addUser(name, params)
	if err != nil {
		return err
	}
	strictIn := make([]bool, len(params))
	for i, p := range params {
		strictIn[i] = !p.IsNullable()
	}
	r.add(up, sig, func(_ *Context, args []Arg) (*Scalar, bool, error) {
		for _, a := range args {
			if a.Symbol != "" {
				return nil, false, nil
			}
		}
		cast, nullable, ok := matchUser(argTypes(args), params)
		if !ok {
			return nil, false, nil
		}
		f := func(vs []Value) (Value, error) {
			for i := range vs {
				if vs[i].Null && strictIn[i] {
					return Null(), nil
				}
			}
			return eval(vs)
		}
		return &Scalar{Result: result.WithNullable(result.IsNullable() || nullable), Params: cast, Eval: f}, true, nil
	})
	return nil
}

// AddAggregate registers an aggregate function of fixed parameter types;
// newAcc makes its accumulators (a Retractor too where the function can
// take rows back).
func (r *Registry) AddAggregate(name string, params []types.Type, result types.Type, newAcc func() Accumulator) error {
	up, _, err := r.addUser(name, params)
	if err != nil {
		return err
	}
	r.aggs[up] = func(args []types.Type) (*Aggregate, bool) {
		cast, _, ok := matchUser(args, params)
		if !ok {
			return nil, false
		}
		return &Aggregate{Result: result, Params: cast, newAcc: newAcc}, true
	}
	return nil
}
