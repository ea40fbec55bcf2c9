package planner

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/sql/functions"
	"github.com/sluicehq/sluice/sql/row"
	"github.com/sluicehq/sluice/sql/types"
	"github.com/sluicehq/sluice/state"
)

// buildAgg is the group aggregation of ap over s: a hash exchange on the
// group key, then groupAgg per key.
func buildAgg(s *engine.Stream[*row.Row], ap *aggPlan, name string) *engine.Stream[*row.Row] {
	enc := row.NewKeyEncoder(ap.in, ap.keys)
	ks := engine.KeyBy(s, func(r *row.Row) string { return enc.Key(r) })
	return engine.KeyedProcess[*row.Row, string, *row.Row](ks, name, &groupAgg{plan: ap})
}

// groupAgg is Flink's GroupAggFunction over rows: per key, in keyed
// state, the accumulators with a count of the rows they hold
// ("agg-acc"), the last result emitted ("agg-last") and, for the
// MIN/MAX/DISTINCT calls over an updating input, the multiset of their
// values ("agg-values", one namespace per call). Each input row
// (accumulated when +I/+U, retracted when -U/-D) changes the result: the
// first result of a key is +I, a changed one -U old, +U new, an unchanged
// one nothing (with a state TTL Flink emits it anyway, so that the
// downstream's state is refreshed too; so does this), and the last row of
// a key retracted -D of its last result, its state cleared. A retraction
// for a key without state (expired, or never seen) is dropped, as Flink.
//
// engine.KeyedProcess copies the struct per instance; Open fills the
// rest.
type groupAgg struct {
	plan *aggPlan

	input  func(r *row.Row, visit func(k int, args []functions.Value)) error
	keyEnc *row.KeyEncoder
	keyRow *row.Row
	accs   *state.ValueState[[]byte]
	last   *state.ValueState[*row.Row]
	values *state.MapState[string, int64]
	setVal []setValue // per call; used where plan.set
	codec  row.Codec
	buf    []byte
	err    error
}

// setValue encodes one call's argument as a map key and back.
type setValue struct {
	r   *row.Row
	enc *row.KeyEncoder
}

func (g *groupAgg) Open(rc *engine.RuntimeContext) error {
	ap := g.plan
	var err error
	if g.input, err = ap.newInput(); err != nil {
		return err
	}
	b, err := rc.KeyedState()
	if err != nil {
		return err
	}
	var opts []state.Option
	if ap.ttl > 0 {
		opts = append(opts, state.WithTTL(state.TTL{TTL: ap.ttl}))
	}
	if g.accs, err = state.NewValueState(b, "agg-acc", state.MustCodecFor[[]byte](), opts...); err != nil {
		return err
	}
	g.codec = row.NewCodec(ap.out)
	if g.last, err = state.NewValueState[*row.Row](b, "agg-last", g.codec, opts...); err != nil {
		return err
	}
	if g.values, err = state.NewMapState(b, "agg-values", state.MustCodecFor[string](), state.MustCodecFor[int64](), opts...); err != nil {
		return err
	}
	g.setVal = make([]setValue, len(ap.aggs))
	for k, s := range ap.set {
		if s {
			l := row.NewLayout([]types.Type{ap.aggs[k].params[0]}, nil)
			g.setVal[k] = setValue{r: l.New(), enc: row.NewKeyEncoder(l, []int{0})}
		}
	}
	g.keyEnc = row.NewKeyEncoder(ap.in, ap.keys)
	g.keyRow = ap.keyLayout.New()
	return nil
}

// decode is the key's accumulators and row count; fresh ones when the
// key has no state.
func (g *groupAgg) decode(blob []byte, have bool) ([]functions.Accumulator, int64, error) {
	ap := g.plan
	accs := make([]functions.Accumulator, len(ap.aggs))
	for k, a := range ap.aggs {
		if !ap.set[k] {
			accs[k] = a.agg.New()
		}
	}
	if !have {
		return accs, 0, nil
	}
	n, k := binary.Varint(blob)
	if k <= 0 {
		return nil, 0, errors.New("planner: corrupt aggregate state")
	}
	blob = blob[k:]
	for _, acc := range accs {
		if acc == nil {
			continue
		}
		l, k := binary.Uvarint(blob)
		if k <= 0 || uint64(len(blob)-k) < l {
			return nil, 0, errors.New("planner: corrupt aggregate state")
		}
		if err := acc.DecodeState(blob[k : k+int(l)]); err != nil {
			return nil, 0, fmt.Errorf("planner: aggregate state: %w", err)
		}
		blob = blob[k+int(l):]
	}
	return accs, n, nil
}

func (g *groupAgg) encode(accs []functions.Accumulator, n int64) []byte {
	out := binary.AppendVarint(nil, n)
	for _, acc := range accs {
		if acc == nil {
			continue
		}
		g.buf = acc.AppendState(g.buf[:0])
		out = binary.AppendUvarint(out, uint64(len(g.buf)))
		out = append(out, g.buf...)
	}
	return out
}

// ns is the namespace of call k's multiset.
func ns(k int) []byte { return []byte{byte(k >> 8), byte(k)} }

// count adds d to the count of value v in call k's multiset.
func (g *groupAgg) count(k int, v functions.Value, d int64) error {
	if v.Null {
		return nil // MIN, MAX and DISTINCT aggregates skip NULLs
	}
	sv := &g.setVal[k]
	functions.Write(sv.r, 0, v)
	key := sv.enc.Key(sv.r)
	g.values.SetNamespace(ns(k))
	n, _, err := g.values.Get(key)
	if err != nil {
		return err
	}
	n += d
	if n <= 0 {
		return g.values.Remove(key)
	}
	return g.values.Put(key, n)
}

// setResult is call k's result over its multiset.
func (g *groupAgg) setResult(k int) (functions.Value, error) {
	acc := g.plan.aggs[k].agg.New()
	sv := &g.setVal[k]
	g.values.SetNamespace(ns(k))
	var derr error
	err := g.values.Range(func(key string, n int64) bool {
		if _, derr = sv.enc.Decode([]byte(key), sv.r); derr != nil {
			return false
		}
		acc.Add([]functions.Value{functions.Read(sv.r, 0)})
		return true
	})
	if err == nil {
		err = derr
	}
	return acc.Result(), err
}

func (g *groupAgg) ProcessElement(in *row.Row, ctx *engine.KeyedContext[string, *row.Row]) error {
	ap := g.plan
	retract := in.Kind.IsRetract()
	blob, have, err := g.accs.Value()
	if err != nil {
		return err
	}
	if !have && retract {
		return nil
	}
	accs, n, err := g.decode(blob, have)
	if err != nil {
		return err
	}
	g.err = nil
	err = g.input(in, func(k int, args []functions.Value) {
		switch {
		case g.err != nil:
		case ap.set[k]:
			d := int64(1)
			if retract {
				d = -1
			}
			g.err = g.count(k, args[0], d)
		case retract:
			accs[k].(functions.Retractor).Retract(args)
		default:
			accs[k].Add(args)
		}
	})
	if err == nil {
		err = g.err
	}
	if err != nil {
		return err
	}
	if retract {
		n--
	} else {
		n++
	}
	prev, hadPrev, err := g.last.Value()
	if err != nil {
		return err
	}
	if n <= 0 {
		if hadPrev {
			d := prev.Clone() // prev may be the state cache's
			d.Kind = row.Delete
			ctx.Emit(d)
		}
		return g.clear()
	}
	out := ap.out.New()
	if _, err := g.keyEnc.Decode([]byte(ctx.CurrentKey()), g.keyRow); err != nil {
		return err
	}
	nk := len(ap.keys)
	for i := range nk {
		functions.Write(out, i, functions.Read(g.keyRow, i))
	}
	for k := range ap.aggs {
		v := functions.Value{}
		if ap.set[k] {
			if v, err = g.setResult(k); err != nil {
				return err
			}
		} else {
			v = accs[k].Result()
		}
		functions.Write(out, nk+k, v)
	}
	if err := g.accs.Update(g.encode(accs, n)); err != nil {
		return err
	}
	switch {
	case !hadPrev:
		out.Kind = row.Insert
	case ap.ttl == 0 && g.sameRow(prev, out):
		return nil
	default:
		b := prev.Clone() // prev may be the state cache's
		b.Kind = row.UpdateBefore
		ctx.Emit(b)
		out.Kind = row.UpdateAfter
	}
	ctx.Emit(out)
	// The state keeps its own copy: the row emitted goes downstream.
	return g.last.Update(out.Clone())
}

// sameRow compares two results, ignoring their kinds.
func (g *groupAgg) sameRow(a, b *row.Row) bool {
	ka, kb := a.Kind, b.Kind
	a.Kind, b.Kind = row.Insert, row.Insert
	same := bytes.Equal(g.codec.Append(nil, a), g.codec.Append(nil, b))
	a.Kind, b.Kind = ka, kb
	return same
}

// clear drops the current key's state.
func (g *groupAgg) clear() error {
	if err := g.accs.Clear(); err != nil {
		return err
	}
	if err := g.last.Clear(); err != nil {
		return err
	}
	for k, s := range g.plan.set {
		if s {
			g.values.SetNamespace(ns(k))
			if err := g.values.Clear(); err != nil {
				return err
			}
		}
	}
	return nil
}
