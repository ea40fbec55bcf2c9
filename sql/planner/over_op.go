package planner

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/sql/functions"
	"github.com/sluicehq/sluice/sql/row"
	"github.com/sluicehq/sluice/state"
)

func (op *overPlan) word() string { return "over" }

func (op *overPlan) describe(in *relNode, name string) string {
	var keys []string
	for _, k := range op.keys {
		keys = append(keys, in.sc.names[k])
	}
	st := fmt.Sprintf("rows until the watermark passes them, the accumulators of %d aggregates", len(op.aggs))
	if !op.unbounded {
		st = fmt.Sprintf("rows until the watermark passes them, the rows of the frame; %d aggregates recomputed per row", len(op.aggs))
	}
	if op.ttl > 0 {
		st += fmt.Sprintf("; state TTL %v (not on the rows waiting for the watermark)", op.ttl)
	}
	ex := "hash exchange on [" + strings.Join(keys, ", ") + "]"
	if len(keys) == 0 {
		ex = "all rows to one subtask: no PARTITION BY"
	}
	return fmt.Sprintf("over %q (%s; state per partition: %s)", name, ex, st)
}

func (op *overPlan) lower(l *lowering, n *relNode, in *engine.Stream[*row.Row]) *engine.Stream[*row.Row] {
	enc := row.NewKeyEncoder(op.in, op.keys)
	ks := engine.KeyBy(in, func(r *row.Row) string { return enc.Key(r) })
	return engine.KeyedProcess[*row.Row, string, *row.Row](ks, n.opName, &overFunc{op: op})
}

// overFunc computes an OVER aggregation per partition key as Flink's
// RowTime{Rows,Range}{Bounded,Unbounded}PrecedingFunction: a row whose
// time is not after the watermark is late and dropped; the others wait in
// "over-pending" (by timestamp) for the watermark to pass their time,
// then are emitted in timestamp order (rows of one timestamp in arrival
// order), each with the aggregates over its frame. In RANGE mode the rows
// of one timestamp share one result. A bounded frame keeps its rows in
// "over-frame" and recomputes the aggregates from them; an unbounded one
// keeps the accumulators in "over-accs".
type overFunc struct {
	op *overPlan

	fold    func(*row.Row, accs) error
	agg     *rowAggregator
	pending *state.MapState[int64, []*row.Row]
	frame   *state.ListState[*row.Row]
	acc     *state.ValueState[accs]
	late    *engine.Counter
}

func (f *overFunc) Open(rc *engine.RuntimeContext) error {
	b, err := rc.KeyedState()
	if err != nil {
		return err
	}
	if f.fold, err = f.op.newAggInput(); err != nil {
		return err
	}
	f.agg = &rowAggregator{aggs: f.op.aggs}
	rc2 := rowsCodec{row.NewCodec(f.op.in)}
	if f.pending, err = state.NewMapState(b, "over-pending", state.MustCodecFor[int64](), state.Codec[[]*row.Row](rc2)); err != nil {
		return err
	}
	// The accumulators and the frame expire with the state TTL; the rows
	// waiting for the watermark do not (as Flink keeps the rows it has not
	// processed yet).
	ttl := ttlOptions(f.op.ttl)
	if f.op.unbounded {
		f.acc, err = state.NewValueState(b, "over-accs", f.agg.AccumulatorCodec(), ttl...)
	} else {
		f.frame, err = state.NewListState(b, "over-frame", state.Codec[*row.Row](row.NewCodec(f.op.in)), ttl...)
	}
	return err
}

func (f *overFunc) ProcessElement(r *row.Row, ctx *engine.KeyedContext[string, *row.Row]) error {
	if r.IsNull(f.op.timeCol) {
		return nil // no time: late by definition
	}
	ts := r.Timestamp(f.op.timeCol).Millis
	if ts <= ctx.CurrentWatermark() {
		return nil // late, as Flink drops it
	}
	rows, _, err := f.pending.Get(ts)
	if err != nil {
		return err
	}
	if len(rows) == 0 {
		if err := ctx.RegisterEventTimeTimer(ts); err != nil {
			return err
		}
	}
	c := r.Clone()
	c.Kind = row.Insert
	return f.pending.Put(ts, append(rows, c))
}

func (f *overFunc) OnTimer(ts int64, ctx *engine.KeyedContext[string, *row.Row]) error {
	rows, ok, err := f.pending.Get(ts)
	if err != nil || !ok {
		return err
	}
	if err := f.pending.Remove(ts); err != nil {
		return err
	}
	op := f.op
	if op.unbounded {
		acc, ok, err := f.acc.Value()
		if err != nil {
			return err
		}
		if !ok {
			acc = f.agg.CreateAccumulator()
		}
		for i, r := range rows {
			if err := f.fold(r, acc); err != nil {
				return err
			}
			if op.rows {
				ctx.EmitAt(f.result(r, acc), ts)
			} else if i == len(rows)-1 {
				for _, r := range rows {
					ctx.EmitAt(f.result(r, acc), ts)
				}
			}
		}
		return f.acc.Update(acc)
	}
	frame, err := f.frame.Get()
	if err != nil {
		return err
	}
	frame = slices.Clone(frame)
	if op.rows {
		for _, r := range rows {
			frame = append(frame, r)
			if extra := len(frame) - int(op.preceding) - 1; extra > 0 {
				frame = frame[extra:]
			}
			acc, err := f.aggregate(frame)
			if err != nil {
				return err
			}
			ctx.EmitAt(f.result(r, acc), ts)
		}
	} else {
		frame = append(frame, rows...)
		first := 0
		for first < len(frame) && frame[first].Timestamp(op.timeCol).Millis < ts-op.preceding {
			first++
		}
		frame = frame[first:]
		acc, err := f.aggregate(frame)
		if err != nil {
			return err
		}
		for _, r := range rows {
			ctx.EmitAt(f.result(r, acc), ts)
		}
	}
	if len(frame) == 0 {
		return f.frame.Clear()
	}
	return f.frame.Update(frame)
}

func (f *overFunc) aggregate(frame []*row.Row) (accs, error) {
	acc := f.agg.CreateAccumulator()
	for _, r := range frame {
		if err := f.fold(r, acc); err != nil {
			return nil, err
		}
	}
	return acc, nil
}

// result is r with the aggregates' results appended.
func (f *overFunc) result(r *row.Row, acc accs) *row.Row {
	o := f.op.out.New()
	n := f.op.in.Len()
	for j := range n {
		functions.Write(o, j, functions.Read(r, j))
	}
	for k, a := range acc {
		functions.Write(o, n+k, a.Result())
	}
	return o
}

// rowsCodec encodes a list of rows of one layout: a count, then each
// row length-prefixed.
type rowsCodec struct{ c row.Codec }

func (rc rowsCodec) Append(dst []byte, rs []*row.Row) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(rs)))
	var buf []byte
	for _, r := range rs {
		buf = rc.c.Append(buf[:0], r)
		dst = binary.AppendUvarint(dst, uint64(len(buf)))
		dst = append(dst, buf...)
	}
	return dst
}

func (rc rowsCodec) Decode(src []byte) ([]*row.Row, error) {
	n, k := binary.Uvarint(src)
	if k <= 0 || n > uint64(len(src)) {
		return nil, errors.New("planner: corrupt row list state")
	}
	src = src[k:]
	rs := make([]*row.Row, 0, n)
	for range n {
		m, k := binary.Uvarint(src)
		if k <= 0 || uint64(len(src)-k) < m {
			return nil, errors.New("planner: corrupt row list state")
		}
		r, err := rc.c.Decode(src[k : k+int(m)])
		if err != nil {
			return nil, fmt.Errorf("planner: row list state: %w", err)
		}
		rs = append(rs, r)
		src = src[k+int(m):]
	}
	return rs, nil
}
