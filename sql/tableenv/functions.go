package tableenv

import (
	"fmt"
	"reflect"

	"github.com/sluicehq/sluice/sql/functions"
	"github.com/sluicehq/sluice/sql/planner"
	"github.com/sluicehq/sluice/sql/types"
)

var errorType = reflect.TypeFor[error]()

// ScalarFunc1 registers f as the scalar function name(A).
func ScalarFunc1[A, R any](e *Env, name string, f func(A) R) error { return e.RegisterFunc(name, f) }

// ScalarFunc2 registers f as the scalar function name(A, B).
func ScalarFunc2[A, B, R any](e *Env, name string, f func(A, B) R) error {
	return e.RegisterFunc(name, f)
}

// ScalarFunc3 registers f as the scalar function name(A, B, C).
func ScalarFunc3[A, B, C, R any](e *Env, name string, f func(A, B, C) R) error {
	return e.RegisterFunc(name, f)
}

// ScalarFuncErr1 registers f as name(A); an error f returns sends the
// row to the error output.
func ScalarFuncErr1[A, R any](e *Env, name string, f func(A) (R, error)) error {
	return e.RegisterFunc(name, f)
}

// ScalarFuncErr2 registers f as name(A, B); an error f returns sends the
// row to the error output.
func ScalarFuncErr2[A, B, R any](e *Env, name string, f func(A, B) (R, error)) error {
	return e.RegisterFunc(name, f)
}

// signature is a Go function's parameters and result, checked once.
type signature struct {
	params  []goType
	result  goType
	withErr bool
}

// funcSignature checks f's type: parameters and one result of the type
// map, optionally followed by an error; not variadic.
func funcSignature(name string, f any, results func(reflect.Type) (goType, error)) (reflect.Value, signature, error) {
	var sig signature
	fv := reflect.ValueOf(f)
	if f == nil || fv.Kind() != reflect.Func || fv.IsNil() {
		return fv, sig, fmt.Errorf("tableenv: function %s: %T is not a Go function", name, f)
	}
	ft := fv.Type()
	if ft.IsVariadic() {
		return fv, sig, fmt.Errorf("tableenv: function %s: variadic functions are not supported", name)
	}
	for i := range ft.NumIn() {
		g, err := typeOf(ft.In(i))
		if err != nil {
			return fv, sig, fmt.Errorf("tableenv: function %s: parameter %d: %w", name, i+1, err)
		}
		sig.params = append(sig.params, g)
	}
	switch {
	case ft.NumOut() == 1:
	case ft.NumOut() == 2 && ft.Out(1) == errorType:
		sig.withErr = true
	default:
		return fv, sig, fmt.Errorf("tableenv: function %s: want one result, or a result and an error; %s has %d", name, ft, ft.NumOut())
	}
	g, err := results(ft.Out(0))
	if err != nil {
		return fv, sig, fmt.Errorf("tableenv: function %s: result: %w", name, err)
	}
	sig.result = g
	return fv, sig, nil
}

func (s signature) sqlParams() []types.Type {
	ps := make([]types.Type, len(s.params))
	for i, p := range s.params {
		ps[i] = p.sql
	}
	return ps
}

// call calls f with args converted, turning a panic or a returned error
// into a functions.UserError.
func call(name string, fv reflect.Value, sig signature, args []functions.Value) (out []reflect.Value, err error) {
	in := make([]reflect.Value, len(args))
	for i, a := range args {
		in[i] = sig.params[i].from(a)
	}
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, &functions.UserError{Func: name, Err: fmt.Errorf("panic: %v", r)}
		}
	}()
	out = fv.Call(in)
	if sig.withErr && !out[1].IsNil() {
		return nil, &functions.UserError{Func: name, Err: out[1].Interface().(error)}
	}
	return out, nil
}

// RegisterFunc registers any Go function of the type map's types as a
// scalar SQL function: func(P1, ..., Pn) R or func(P1, ..., Pn) (R,
// error). The signature is checked here; a call with other argument
// types or count is refused when a query is planned. A NULL argument
// for a parameter of a non-pointer type gives NULL without calling f. A
// panic or a returned error sends the row to the error output.
func (e *Env) RegisterFunc(name string, f any) error {
	fv, sig, err := funcSignature(name, f, typeOf)
	if err != nil {
		return err
	}
	if e.tfuncs[upper(name)] != nil {
		return fmt.Errorf("tableenv: function %s is already registered", upper(name))
	}
	eval := func(args []functions.Value) (functions.Value, error) {
		out, err := call(upper(name), fv, sig, args)
		if err != nil {
			return functions.Value{}, err
		}
		return sig.result.toV(out[0]), nil
	}
	if err := e.reg.AddScalar(name, sig.sqlParams(), sig.result.sql, eval); err != nil {
		return fmt.Errorf("tableenv: %w", err)
	}
	return nil
}

// TableFunc1 registers f as the table function name(A): each call's rows
// are the structs f returns (columns as a table's from a struct).
func TableFunc1[A, R any](e *Env, name string, f func(A) []R) error {
	return e.RegisterTableFunc(name, f)
}

// TableFunc2 registers f as the table function name(A, B).
func TableFunc2[A, B, R any](e *Env, name string, f func(A, B) []R) error {
	return e.RegisterTableFunc(name, f)
}

// RegisterTableFunc registers a Go function returning a slice of structs
// (optionally with an error) as a table function, called as LATERAL
// TABLE(name(args)): func(P1, ..., Pn) []R or func(...) ([]R, error).
// A failed call (error or panic) sends the input row to the error output
// and emits none of the call's rows.
func (e *Env) RegisterTableFunc(name string, f any) error {
	var cols []field
	fv, sig, err := funcSignature(name, f, func(t reflect.Type) (goType, error) {
		if t.Kind() != reflect.Slice {
			return goType{}, fmt.Errorf("%s is not a slice of structs", t)
		}
		fs, err := schemaOf(t.Elem())
		if err != nil {
			return goType{}, err
		}
		cols = fs
		return goType{t: t}, nil
	})
	if err != nil {
		return err
	}
	up := upper(name)
	if e.tfuncs[up] != nil || e.reg.Has(up) {
		return fmt.Errorf("tableenv: function %s is already registered", up)
	}
	tf := &planner.TableFunc{Name: up, Params: sig.sqlParams()}
	for _, c := range cols {
		tf.Columns = append(tf.Columns, c.name)
		tf.Types = append(tf.Types, c.sql)
	}
	tf.Eval = func(args []functions.Value, emit func([]functions.Value)) error {
		out, err := call(up, fv, sig, args)
		if err != nil {
			return err
		}
		rows := out[0]
		vals := make([]functions.Value, len(cols))
		for i := range rows.Len() {
			r := rows.Index(i)
			for k, c := range cols {
				vals[k] = c.toV(r.Field(c.index))
			}
			emit(vals)
		}
		return nil
	}
	e.tfuncs[up] = tf
	return nil
}
