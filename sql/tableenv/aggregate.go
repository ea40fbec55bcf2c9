package tableenv

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"

	"github.com/sluicehq/sluice/sql/functions"
	"github.com/sluicehq/sluice/sql/types"
	"github.com/sluicehq/sluice/state"
)

func upper(s string) string { return strings.ToUpper(s) }

// Aggregate1 is an aggregate function of one argument, as Flink's
// AggregateFunction: an accumulator of type ACC per group (or window),
// folded in row by row, merged (HOP and CUMULATE windows merge their
// slices; SESSION windows their sessions) and read as R. Methods must
// not keep acc after they return it; they may change and return it.
type Aggregate1[A, ACC, R any] interface {
	CreateAccumulator() ACC
	Accumulate(acc ACC, a A) ACC
	Merge(acc, other ACC) ACC
	Result(acc ACC) R
}

// Aggregate2 is Aggregate1 of two arguments.
type Aggregate2[A, B, ACC, R any] interface {
	CreateAccumulator() ACC
	Accumulate(acc ACC, a A, b B) ACC
	Merge(acc, other ACC) ACC
	Result(acc ACC) R
}

// Retract1 is implemented by an Aggregate1 that can take a row back: it
// may then aggregate an updating input (a GROUP BY over a GROUP BY, or
// over an outer join), as Flink's retract method.
type Retract1[A, ACC any] interface {
	Retract(acc ACC, a A) ACC
}

// Retract2 is Retract1 for an Aggregate2.
type Retract2[A, B, ACC any] interface {
	Retract(acc ACC, a A, b B) ACC
}

// AccumulatorCodec is implemented by an aggregate that serialises its
// accumulators itself; others are stored as JSON (encoding/json), so ACC
// must then round-trip through JSON: exported fields of JSON-able types.
type AccumulatorCodec[ACC any] interface {
	AccumulatorCodec() state.Codec[ACC]
}

type jsonCodec[ACC any] struct{}

func (jsonCodec[ACC]) Append(dst []byte, v ACC) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Errorf("tableenv: accumulator %T: %w", v, err))
	}
	return append(dst, b...)
}

func (jsonCodec[ACC]) Decode(src []byte) (ACC, error) {
	var v ACC
	err := json.Unmarshal(src, &v)
	return v, err
}

// AggregateFunc1 registers agg as the aggregate function name(A). Rows
// whose argument is NULL are skipped when A is not a pointer, as SQL's
// aggregates skip NULLs.
func AggregateFunc1[A, ACC, R any](e *Env, name string, agg Aggregate1[A, ACC, R]) error {
	var ret func(ACC, []reflect.Value) ACC
	if r, ok := agg.(Retract1[A, ACC]); ok {
		ret = func(acc ACC, vs []reflect.Value) ACC { return r.Retract(acc, vs[0].Interface().(A)) }
	}
	return registerAgg[ACC, R](e, name, agg, []reflect.Type{reflect.TypeFor[A]()},
		func(acc ACC, vs []reflect.Value) ACC { return agg.Accumulate(acc, vs[0].Interface().(A)) }, ret)
}

// AggregateFunc2 registers agg as the aggregate function name(A, B).
func AggregateFunc2[A, B, ACC, R any](e *Env, name string, agg Aggregate2[A, B, ACC, R]) error {
	var ret func(ACC, []reflect.Value) ACC
	if r, ok := agg.(Retract2[A, B, ACC]); ok {
		ret = func(acc ACC, vs []reflect.Value) ACC {
			return r.Retract(acc, vs[0].Interface().(A), vs[1].Interface().(B))
		}
	}
	return registerAgg[ACC, R](e, name, agg, []reflect.Type{reflect.TypeFor[A](), reflect.TypeFor[B]()},
		func(acc ACC, vs []reflect.Value) ACC {
			return agg.Accumulate(acc, vs[0].Interface().(A), vs[1].Interface().(B))
		}, ret)
}

// aggCore is what every accumulator of one registered aggregate shares.
type aggCore[ACC, R any] struct {
	name    string
	create  func() ACC
	add     func(ACC, []reflect.Value) ACC
	retract func(ACC, []reflect.Value) ACC
	merge   func(ACC, ACC) ACC
	result  func(ACC) R
	params  []goType
	res     goType
	codec   state.Codec[ACC]
}

type aggBase[ACC, R any] interface {
	CreateAccumulator() ACC
	Merge(acc, other ACC) ACC
	Result(acc ACC) R
}

func registerAgg[ACC, R any](e *Env, name string, agg aggBase[ACC, R], in []reflect.Type,
	add, retract func(ACC, []reflect.Value) ACC) error {
	up := upper(name)
	if agg == nil {
		return fmt.Errorf("tableenv: aggregate %s is nil", up)
	}
	core := &aggCore[ACC, R]{name: up, create: agg.CreateAccumulator, add: add, retract: retract, merge: agg.Merge, result: agg.Result, codec: jsonCodec[ACC]{}}
	if c, ok := agg.(AccumulatorCodec[ACC]); ok {
		core.codec = c.AccumulatorCodec()
	}
	var ps []types.Type
	for i, t := range in {
		g, err := typeOf(t)
		if err != nil {
			return fmt.Errorf("tableenv: aggregate %s: argument %d: %w", up, i+1, err)
		}
		core.params = append(core.params, g)
		ps = append(ps, g.sql)
	}
	g, err := typeOf(reflect.TypeFor[R]())
	if err != nil {
		return fmt.Errorf("tableenv: aggregate %s: result: %w", up, err)
	}
	core.res = g
	if e.tfuncs[up] != nil {
		return fmt.Errorf("tableenv: function %s is already registered", up)
	}
	newAcc := func() functions.Accumulator {
		a := &goAcc[ACC, R]{c: core, acc: core.create(), vs: make([]reflect.Value, len(core.params))}
		if core.retract != nil {
			return &goRetractAcc[ACC, R]{a}
		}
		return a
	}
	if err := e.reg.AddAggregate(up, ps, g.sql, newAcc); err != nil {
		return fmt.Errorf("tableenv: %w", err)
	}
	return nil
}

// goAcc is a registered aggregate's functions.Accumulator: its Go
// accumulator, serialised by the codec into the operator's keyed state.
type goAcc[ACC, R any] struct {
	c   *aggCore[ACC, R]
	acc ACC
	vs  []reflect.Value
}

// args converts a row's arguments, false when the row is skipped (a
// NULL for a non-pointer parameter).
func (a *goAcc[ACC, R]) args(args []functions.Value) bool {
	for i, v := range args {
		p := a.c.params[i]
		if v.Null && !p.sql.IsNullable() {
			return false
		}
		a.vs[i] = p.from(v)
	}
	return true
}

func (a *goAcc[ACC, R]) Add(args []functions.Value) {
	if a.args(args) {
		a.acc = a.c.add(a.acc, a.vs)
	}
}

func (a *goAcc[ACC, R]) Merge(later functions.Accumulator) {
	var o *goAcc[ACC, R]
	switch l := later.(type) {
	case *goAcc[ACC, R]:
		o = l
	case *goRetractAcc[ACC, R]:
		o = l.goAcc
	default:
		panic(fmt.Sprintf("tableenv: aggregate %s: merging a %T", a.c.name, later))
	}
	a.acc = a.c.merge(a.acc, o.acc)
}

func (a *goAcc[ACC, R]) Result() functions.Value {
	return a.c.res.toV(reflect.ValueOf(a.c.result(a.acc)))
}

func (a *goAcc[ACC, R]) AppendState(dst []byte) []byte { return a.c.codec.Append(dst, a.acc) }

func (a *goAcc[ACC, R]) DecodeState(src []byte) error {
	v, err := a.c.codec.Decode(src)
	if err != nil {
		return fmt.Errorf("aggregate %s: decoding an accumulator: %w", a.c.name, err)
	}
	a.acc = v
	return nil
}

func (a *goAcc[ACC, R]) Reset() { a.acc = a.c.create() }

// goRetractAcc is a goAcc whose aggregate can retract.
type goRetractAcc[ACC, R any] struct{ *goAcc[ACC, R] }

func (a *goRetractAcc[ACC, R]) Retract(args []functions.Value) {
	if a.args(args) {
		a.acc = a.c.retract(a.acc, a.vs)
	}
}
