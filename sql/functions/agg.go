package functions

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/sluicehq/sluice/sql/row"
	"github.com/sluicehq/sluice/sql/types"
)

// Accumulator is the state of one aggregate call for one group (or one
// window slice). Add folds in one row's arguments (already cast to
// Aggregate.Params; the caller drops rows that a FILTER (WHERE ...)
// rejects); Merge folds in an accumulator of the same Aggregate that
// covers later rows (HOP and CUMULATE windows merge their slices in time
// order); AppendState and DecodeState serialise it for Pebble state. Add
// does not allocate for COUNT, SUM, AVG, MIN, MAX, FIRST_VALUE and
// LAST_VALUE. Accumulators are not safe for concurrent use.
//
// Retraction (-U/-D input to a GROUP BY) is the optional Retractor
// interface.
type Accumulator interface {
	Add(args []Value)
	Merge(later Accumulator)
	Result() Value
	AppendState(dst []byte) []byte
	DecodeState(src []byte) error
	Reset()
}

// Retractor is implemented by the accumulators that can take back a row
// they were given (for -U and -D input): COUNT, SUM and AVG without
// DISTINCT. MIN, MAX, FIRST_VALUE, LAST_VALUE, LISTAGG and DISTINCT
// aggregates do not retract yet; a planner must refuse them over updating
// input.
type Retractor interface {
	Retract(args []Value)
}

// Aggregate is a resolved aggregate call: its result type, the types its
// arguments are cast to, and a factory of accumulators. Safe for
// concurrent use.
type Aggregate struct {
	Name     string
	Distinct bool
	Result   types.Type
	Params   []types.Type
	newAcc   func() Accumulator
}

// New is a fresh accumulator (the aggregate over no rows).
func (a *Aggregate) New() Accumulator { return a.newAcc() }

type aggDef func(args []types.Type) (*Aggregate, bool)

// Aggregate resolves an aggregate call. COUNT(*) is COUNT with no
// arguments. DISTINCT applies to COUNT, SUM, AVG, MIN, MAX and LISTAGG.
func (r *Registry) Aggregate(name string, args []types.Type, distinct bool) (*Aggregate, error) {
	up := strings.ToUpper(name)
	def, ok := r.aggs[up]
	if !ok {
		if _, isScalar := r.scalars[up]; isScalar {
			return nil, fmt.Errorf("%s is not an aggregate function", up)
		}
		return nil, unknown(name, r.Names())
	}
	a, ok := def(args)
	if !ok {
		parts := make([]string, len(args))
		for i, t := range args {
			parts[i] = "<" + t.Nullable().String() + ">"
		}
		if sig, ok := r.user[up]; ok {
			return nil, fmt.Errorf("Cannot apply '%s' to arguments of type '%s(%s)'. Supported form(s): '%s'", up, up, strings.Join(parts, ", "), sig)
		}
		return nil, fmt.Errorf("Cannot apply '%s' to arguments of type '%s(%s)'", up, up, strings.Join(parts, ", "))
	}
	a.Name = up
	if distinct {
		if len(args) == 0 {
			return nil, fmt.Errorf("COUNT(DISTINCT *) is not valid")
		}
		inner, t := a.newAcc, args[0]
		a.Distinct = true
		a.newAcc = func() Accumulator { return newDistinct(t, inner) }
	}
	return a, nil
}

func registerAggregates(r *Registry) {
	r.aggs["COUNT"] = func(args []types.Type) (*Aggregate, bool) {
		if len(args) > 1 {
			return nil, false
		}
		star := len(args) == 0
		return &Aggregate{Result: types.BigIntType().AsNotNull(), Params: args,
			newAcc: func() Accumulator { return &countAcc{star: star} }}, true
	}
	r.aggs["SUM"] = func(args []types.Type) (*Aggregate, bool) {
		if len(args) != 1 || !args[0].IsNumeric() {
			return nil, false
		}
		t := args[0]
		rt := types.SumType(t).Nullable()
		return &Aggregate{Result: rt, Params: args, newAcc: func() Accumulator { return &sumAcc{t: t, rt: rt} }}, true
	}
	r.aggs["AVG"] = func(args []types.Type) (*Aggregate, bool) {
		if len(args) != 1 || !args[0].IsNumeric() {
			return nil, false
		}
		t := args[0]
		rt := types.AvgType(t).Nullable()
		return &Aggregate{Result: rt, Params: args, newAcc: func() Accumulator {
			st := t
			if t.IsInteger() {
				st = types.BigIntType() // Flink's AVG of INT sums in a long
			}
			return &avgAcc{sum: sumAcc{t: st, rt: types.SumType(st)}, at: t, rt: rt}
		}}, true
	}
	for _, name := range []string{"MIN", "MAX"} {
		isMax := name == "MAX"
		r.aggs[name] = func(args []types.Type) (*Aggregate, bool) {
			if len(args) != 1 || args[0].Kind == types.Map || args[0].Kind == types.Multiset || args[0].Kind == types.Null {
				return nil, false
			}
			t := args[0]
			return &Aggregate{Result: t.Nullable(), Params: args, newAcc: func() Accumulator {
				return &extremeAcc{t: t, max: isMax}
			}}, true
		}
	}
	for _, name := range []string{"FIRST_VALUE", "LAST_VALUE"} {
		last := name == "LAST_VALUE"
		r.aggs[name] = func(args []types.Type) (*Aggregate, bool) {
			if len(args) != 1 || args[0].Kind == types.Null {
				return nil, false
			}
			t := args[0]
			return &Aggregate{Result: t.Nullable(), Params: args, newAcc: func() Accumulator {
				return &pickAcc{t: t, last: last}
			}}, true
		}
	}
	// LISTAGG(expr[, separator]): the non-NULL values joined by the
	// separator (',' by default; it must be a literal, so the caller
	// passes it as the second Param's value on every row).
	r.aggs["LISTAGG"] = func(args []types.Type) (*Aggregate, bool) {
		if len(args) < 1 || len(args) > 2 {
			return nil, false
		}
		for _, t := range args {
			if !t.IsCharString() && t.Kind != types.Null {
				return nil, false
			}
		}
		params := []types.Type{types.StringType().WithNullable(args[0].IsNullable())}
		if len(args) == 2 {
			params = append(params, types.StringType().AsNotNull())
		}
		return &Aggregate{Result: types.StringType(), Params: params, newAcc: func() Accumulator { return &listAggAcc{sep: ","} }}, true
	}
}

var errCorruptState = errors.New("functions: corrupt accumulator state")

func uvarint(src []byte) (uint64, []byte, error) {
	v, n := binary.Uvarint(src)
	if n <= 0 {
		return 0, nil, errCorruptState
	}
	return v, src[n:], nil
}

func varint(src []byte) (int64, []byte, error) {
	v, n := binary.Varint(src)
	if n <= 0 {
		return 0, nil, errCorruptState
	}
	return v, src[n:], nil
}

// appendTyped and decodeTyped serialise one Value of type t.
func appendTyped(dst []byte, t types.Type, v Value) []byte {
	return row.AppendValue(dst, t, ToAny(t, v))
}

func decodeTyped(src []byte, t types.Type) (Value, []byte, error) {
	x, rest, err := row.DecodeValue(src, t)
	if err != nil {
		return Value{}, nil, err
	}
	return FromAny(t, x), rest, nil
}

type countAcc struct {
	star bool
	n    int64
}

func (a *countAcc) Add(args []Value) {
	if a.star || !args[0].Null {
		a.n++
	}
}
func (a *countAcc) Retract(args []Value) {
	if a.star || !args[0].Null {
		a.n--
	}
}
func (a *countAcc) Merge(o Accumulator)         { a.n += o.(*countAcc).n }
func (a *countAcc) Result() Value               { return Int(a.n) }
func (a *countAcc) Reset()                      { a.n = 0 }
func (a *countAcc) AppendState(d []byte) []byte { return binary.AppendVarint(d, a.n) }
func (a *countAcc) DecodeState(src []byte) error {
	n, rest, err := varint(src)
	if err != nil || len(rest) != 0 {
		return errCorruptState
	}
	a.n = n
	return nil
}

// sumAcc sums in the result type: integers wrap at their width as Java's
// do (SUM of INT is an INT), DECIMAL is exact and NULL once it exceeds 38
// digits, FLOAT and DOUBLE in float64. SUM over no non-NULL rows is NULL.
type sumAcc struct {
	t, rt    types.Type
	n        int64 // non-NULL values in the sum
	overflow bool
	i        int64
	f        float64
	d        row.Decimal
}

func (a *sumAcc) Add(args []Value) {
	v := args[0]
	if v.Null {
		return
	}
	a.n++
	switch {
	case a.t.IsInteger():
		a.i = wrap(a.i+v.I, intBits(a.t.Kind))
	case a.t.IsApproximate():
		a.f += v.F
	default:
		a.d = a.d.Add(v.D)
		// Past DECIMAL(38) the sum is NULL, and stays NULL: Flink's
		// accumulator would restart from the next value instead.
		a.overflow = a.overflow || !a.d.FitsPrecision(types.MaxDecimalPrecision)
	}
}

// Retract takes back a value Add was given.
func (a *sumAcc) Retract(args []Value) {
	v := args[0]
	if v.Null {
		return
	}
	a.n--
	switch {
	case a.t.IsInteger():
		a.i = wrap(a.i-v.I, intBits(a.t.Kind))
	case a.t.IsApproximate():
		a.f -= v.F
	default:
		a.d = a.d.Sub(v.D)
	}
}

func (a *sumAcc) Merge(o Accumulator) {
	b := o.(*sumAcc)
	if b.n == 0 && !b.overflow {
		return
	}
	a.n += b.n
	a.overflow = a.overflow || b.overflow
	a.i = wrap(a.i+b.i, intBits(a.t.Kind))
	a.f += b.f
	a.d = a.d.Add(b.d)
	if a.t.Kind == types.Decimal && !a.d.FitsPrecision(types.MaxDecimalPrecision) {
		a.overflow = true
	}
}

func (a *sumAcc) Result() Value {
	if a.n <= 0 || a.overflow {
		return Null()
	}
	switch {
	case a.t.IsInteger():
		return Int(a.i)
	case a.t.IsApproximate():
		return Float(a.f)
	}
	return decResult(a.d, a.rt)
}

func (a *sumAcc) Reset() { *a = sumAcc{t: a.t, rt: a.rt} }

func (a *sumAcc) AppendState(dst []byte) []byte {
	flags := byte(0)
	if a.overflow {
		flags |= 2
	}
	dst = append(dst, flags)
	dst = binary.AppendVarint(dst, a.n)
	dst = binary.AppendVarint(dst, a.i)
	dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(a.f))
	return appendTyped(dst, types.DecimalType(38, 0), Dec(a.d))
}

func (a *sumAcc) DecodeState(src []byte) error {
	_, err := a.decode(src)
	return err
}

func (a *sumAcc) decode(src []byte) ([]byte, error) {
	if len(src) < 1 {
		return nil, errCorruptState
	}
	a.overflow = src[0]&2 != 0
	n, rest, err := varint(src[1:])
	if err != nil {
		return nil, err
	}
	a.n = n
	i, rest, err := varint(rest)
	if err != nil || len(rest) < 8 {
		return nil, errCorruptState
	}
	a.i = i
	a.f = math.Float64frombits(binary.LittleEndian.Uint64(rest))
	d, rest, err := decodeTyped(rest[8:], types.DecimalType(38, 0))
	if err != nil {
		return nil, err
	}
	a.d = d.D
	return rest, nil
}

// avgAcc is AVG: sum / count in the result type (integer division for
// integers, as Flink).
type avgAcc struct {
	sum    sumAcc
	n      int64
	at, rt types.Type
}

func (a *avgAcc) Add(args []Value) {
	if args[0].Null {
		return
	}
	a.sum.Add(args)
	a.n++
}

// Retract takes back a value Add was given.
func (a *avgAcc) Retract(args []Value) {
	if args[0].Null {
		return
	}
	a.sum.Retract(args)
	a.n--
}

func (a *avgAcc) Merge(o Accumulator) {
	b := o.(*avgAcc)
	a.sum.Merge(&b.sum)
	a.n += b.n
}

func (a *avgAcc) Result() Value {
	if a.n <= 0 || a.sum.overflow {
		return Null()
	}
	t := a.at
	switch {
	case t.IsInteger():
		return Int(wrap(a.sum.i/a.n, intBits(t.Kind)))
	case t.IsApproximate():
		return Float(a.sum.f / float64(a.n))
	}
	q, err := a.sum.d.Quo(row.NewDecimal(a.n, 0), a.rt.Scale)
	if err != nil {
		return Null()
	}
	return decResult(q, a.rt)
}

func (a *avgAcc) Reset() { a.sum.Reset(); a.n = 0 }

func (a *avgAcc) AppendState(dst []byte) []byte {
	dst = binary.AppendVarint(dst, a.n)
	return a.sum.AppendState(dst)
}

func (a *avgAcc) DecodeState(src []byte) error {
	n, rest, err := varint(src)
	if err != nil {
		return err
	}
	a.n = n
	rest, err = a.sum.decode(rest)
	if err == nil && len(rest) != 0 {
		err = errCorruptState
	}
	return err
}

// extremeAcc is MIN or MAX, ignoring NULLs.
type extremeAcc struct {
	t   types.Type
	max bool
	has bool
	v   Value
}

func (a *extremeAcc) Add(args []Value) {
	v := args[0]
	if v.Null {
		return
	}
	if !a.has {
		a.v, a.has = v, true
		return
	}
	c := Compare(a.t, v, a.v)
	if (a.max && c > 0) || (!a.max && c < 0) {
		a.v = v
	}
}

func (a *extremeAcc) Merge(o Accumulator) {
	b := o.(*extremeAcc)
	if b.has {
		a.Add([]Value{b.v})
	}
}

func (a *extremeAcc) Result() Value {
	if !a.has {
		return Null()
	}
	return a.v
}

func (a *extremeAcc) Reset() { a.has, a.v = false, Value{} }

func (a *extremeAcc) AppendState(dst []byte) []byte {
	if !a.has {
		return appendTyped(dst, a.t, Null())
	}
	return appendTyped(dst, a.t, a.v)
}

func (a *extremeAcc) DecodeState(src []byte) error {
	v, rest, err := decodeTyped(src, a.t)
	if err != nil || len(rest) != 0 {
		return errCorruptState
	}
	a.v, a.has = v, !v.Null
	return nil
}

// pickAcc is FIRST_VALUE or LAST_VALUE: the first or last non-NULL value
// in arrival order.
type pickAcc struct {
	t    types.Type
	last bool
	has  bool
	v    Value
}

func (a *pickAcc) Add(args []Value) {
	if args[0].Null || (a.has && !a.last) {
		return
	}
	a.v, a.has = args[0], true
}

func (a *pickAcc) Merge(o Accumulator) {
	b := o.(*pickAcc)
	if b.has {
		a.Add([]Value{b.v})
	}
}

func (a *pickAcc) Result() Value {
	if !a.has {
		return Null()
	}
	return a.v
}

func (a *pickAcc) Reset() { a.has, a.v = false, Value{} }

func (a *pickAcc) AppendState(dst []byte) []byte {
	if !a.has {
		return appendTyped(dst, a.t, Null())
	}
	return appendTyped(dst, a.t, a.v)
}

func (a *pickAcc) DecodeState(src []byte) error {
	v, rest, err := decodeTyped(src, a.t)
	if err != nil || len(rest) != 0 {
		return errCorruptState
	}
	a.v, a.has = v, !v.Null
	return nil
}

// listAggAcc is LISTAGG.
type listAggAcc struct {
	sep string
	has bool
	buf []byte
}

func (a *listAggAcc) Add(args []Value) {
	if len(args) == 2 && !args[1].Null {
		a.sep = args[1].S
	}
	if args[0].Null {
		return
	}
	if a.has {
		a.buf = append(a.buf, a.sep...)
	}
	a.buf = append(a.buf, args[0].S...)
	a.has = true
}

func (a *listAggAcc) Merge(o Accumulator) {
	b := o.(*listAggAcc)
	if !b.has {
		return
	}
	if a.has {
		a.buf = append(a.buf, b.sep...)
	}
	a.buf = append(a.buf, b.buf...)
	a.has = true
	a.sep = b.sep
}

func (a *listAggAcc) Result() Value {
	if !a.has {
		return Null()
	}
	return Str(string(a.buf))
}

func (a *listAggAcc) Reset() { a.has, a.buf = false, a.buf[:0] }

func (a *listAggAcc) AppendState(dst []byte) []byte {
	if a.has {
		dst = append(dst, 1)
	} else {
		dst = append(dst, 0)
	}
	dst = binary.AppendUvarint(dst, uint64(len(a.sep)))
	dst = append(dst, a.sep...)
	dst = binary.AppendUvarint(dst, uint64(len(a.buf)))
	return append(dst, a.buf...)
}

func (a *listAggAcc) DecodeState(src []byte) error {
	if len(src) < 1 {
		return errCorruptState
	}
	a.has = src[0] == 1
	n, rest, err := uvarint(src[1:])
	if err != nil || uint64(len(rest)) < n {
		return errCorruptState
	}
	a.sep = string(rest[:n])
	m, rest, err := uvarint(rest[n:])
	if err != nil || uint64(len(rest)) != m {
		return errCorruptState
	}
	a.buf = append(a.buf[:0], rest...)
	return nil
}

// distinctAcc feeds each distinct non-NULL value to the inner
// accumulator once. It keeps the values seen, keyed by their key encoding,
// so merging adds only the later slice's new values.
type distinctAcc struct {
	t     types.Type
	inner Accumulator
	seen  map[string]Value
	order []string // first-seen order, for a deterministic state encoding
	enc   *row.KeyEncoder
	tmp   *row.Row
	key   []byte
	arg   [1]Value
}

func newDistinct(t types.Type, inner func() Accumulator) *distinctAcc {
	l := row.NewLayout([]types.Type{t}, nil)
	return &distinctAcc{t: t, inner: inner(), seen: map[string]Value{}, enc: row.NewKeyEncoder(l, []int{0}), tmp: l.New()}
}

func (a *distinctAcc) Add(args []Value) {
	v := args[0]
	if v.Null {
		return
	}
	Write(a.tmp, 0, v)
	a.key = a.enc.Append(a.key[:0], a.tmp)
	if _, ok := a.seen[string(a.key)]; ok {
		return
	}
	k := string(a.key)
	a.seen[k] = v
	a.order = append(a.order, k)
	a.inner.Add(args)
}

func (a *distinctAcc) Merge(o Accumulator) {
	b := o.(*distinctAcc)
	for _, k := range b.order {
		if _, ok := a.seen[k]; ok {
			continue
		}
		v := b.seen[k]
		a.seen[k] = v
		a.order = append(a.order, k)
		a.arg[0] = v
		a.inner.Add(a.arg[:])
	}
}

func (a *distinctAcc) Result() Value { return a.inner.Result() }

func (a *distinctAcc) Reset() {
	a.inner.Reset()
	clear(a.seen)
	a.order = a.order[:0]
}

// The state is the distinct values; the inner accumulator is rebuilt
// from them on decode.
func (a *distinctAcc) AppendState(dst []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(a.order)))
	for _, k := range a.order {
		dst = appendTyped(dst, a.t, a.seen[k])
	}
	return dst
}

func (a *distinctAcc) DecodeState(src []byte) error {
	a.Reset()
	n, rest, err := uvarint(src)
	if err != nil || n > uint64(len(rest)) {
		return errCorruptState
	}
	for range n {
		v, r, err := decodeTyped(rest, a.t)
		if err != nil {
			return err
		}
		rest = r
		a.arg[0] = v
		a.Add(a.arg[:])
	}
	if len(rest) != 0 {
		return errCorruptState
	}
	return nil
}
