package planner

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/operators"
	"github.com/sluicehq/sluice/sql/functions"
	"github.com/sluicehq/sluice/sql/row"
	"github.com/sluicehq/sluice/state"
)

func (rp *rankPlan) word() string {
	switch rp.kind {
	case rankKeepFirst, rankKeepLast:
		return "dedup"
	case rankWindow:
		return "window-rank"
	}
	return "rank"
}

func (rp *rankPlan) describe(in *relNode, name string) string {
	var keys []string
	for _, k := range rp.keys {
		keys = append(keys, in.sc.names[k])
	}
	ex := "hash exchange on [" + strings.Join(keys, ", ") + "]"
	if len(keys) == 0 {
		ex = "all rows to one subtask: no PARTITION BY"
	}
	var st string
	switch rp.kind {
	case rankKeepFirst:
		st = "the earliest row until the watermark passes it, then a flag; append-only"
	case rankKeepLast:
		st = "the latest row; updates -U/+U"
	case rankWindow:
		st = fmt.Sprintf("the top %d rows until the watermark passes the window; append-only", rp.n)
	default:
		st = fmt.Sprintf("the top %d rows; updates", rp.n)
	}
	if rp.ttl > 0 {
		st += fmt.Sprintf("; state TTL %v", rp.ttl)
		if rp.kind == rankKeepFirst {
			st += " (the flag; not the row waiting for the watermark)"
		}
	}
	return fmt.Sprintf("%s %q (%s; state per partition: %s)", rp.word(), name, ex, st)
}

func (rp *rankPlan) lower(l *lowering, n *relNode, in *engine.Stream[*row.Row]) *engine.Stream[*row.Row] {
	enc := row.NewKeyEncoder(rp.in, rp.keys)
	ks := engine.KeyBy(in, func(r *row.Row) string { return enc.Key(r) })
	switch rp.kind {
	case rankKeepLast:
		ch := operators.Dedup(ks, n.opName, rp.keepLastOptions())
		return engine.Map(ch, n.opName+"-changes", func(c operators.Change[*row.Row]) *row.Row {
			o := rp.output(c.Value, 0)
			o.Kind = [...]row.Kind{row.Insert, row.UpdateBefore, row.UpdateAfter, row.Delete}[c.Kind]
			return o
		})
	case rankKeepFirst:
		return engine.KeyedProcess[*row.Row, string, *row.Row](ks, n.opName, &keepFirstFunc{rp: rp})
	case rankWindow:
		return engine.KeyedProcess[*row.Row, string, *row.Row](ks, n.opName, &windowRankFunc{rp: rp})
	}
	return engine.KeyedProcess[*row.Row, string, *row.Row](ks, n.opName, &topNFunc{rp: rp})
}

// keepLastOptions are the options of a keep-last deduplication's
// operators.Dedup: by rowtime, with the state TTL.
func (rp *rankPlan) keepLastOptions() operators.DedupOptions[*row.Row] {
	return operators.DedupOptions[*row.Row]{Keep: operators.KeepLast, EventTime: true, Codec: row.NewCodec(rp.in), TTL: rp.ttl}
}

// ttlOptions are the state options of table.exec.state.ttl = ttl (0:
// none): an entry expires ttl (processing time) after its last write, as
// Flink's StateTtlConfig with OnCreateAndWrite.
func ttlOptions(ttl time.Duration) []state.Option {
	if ttl <= 0 {
		return nil
	}
	return []state.Option{state.WithTTL(state.TTL{TTL: ttl})}
}

// output is r as the rank's output row, with row number rn when the rank
// outputs it.
func (rp *rankPlan) output(r *row.Row, rn int64) *row.Row {
	o := rp.out.New()
	n := rp.in.Len()
	for j := range n {
		functions.Write(o, j, functions.Read(r, j))
	}
	if rp.out.Len() > n {
		o.SetInt(n, rn)
	}
	return o
}

// insertAt is where r goes among sorted rows: after the rows it ties
// with (a later arrival ranks after an earlier one).
func (rp *rankPlan) insertAt(sorted []*row.Row, r *row.Row) int {
	i := len(sorted)
	for i > 0 && rp.compareRows(r, sorted[i-1]) < 0 {
		i--
	}
	return i
}

// topNFunc is a continuous Top-N over an append-only input, as Flink's
// AppendOnlyTopNFunction: per partition only the top n rows are kept
// ("topn-rows", sorted). A row that enters the top n moves the rows below
// it: with the row number output, each moved rank is retracted and
// re-emitted (-U old, +U new) and a rank that was empty is inserted (+I);
// without it, the row that falls out is deleted (-D) and the new one
// inserted (+I).
type topNFunc struct {
	rp   *rankPlan
	rows *state.ListState[*row.Row]
}

func (f *topNFunc) Open(rc *engine.RuntimeContext) error {
	b, err := rc.KeyedState()
	if err != nil {
		return err
	}
	f.rows, err = state.NewListState(b, "topn-rows", state.Codec[*row.Row](row.NewCodec(f.rp.in)), ttlOptions(f.rp.ttl)...)
	return err
}

func (f *topNFunc) ProcessElement(r *row.Row, ctx *engine.KeyedContext[string, *row.Row]) error {
	rp := f.rp
	cur, err := f.rows.Get()
	if err != nil {
		return err
	}
	pos := rp.insertAt(cur, r)
	if int64(pos) >= rp.n {
		return nil
	}
	r = r.Clone()
	r.Kind = row.Insert
	next := slices.Insert(slices.Clone(cur), pos, r)
	if rp.withRN {
		for j := pos; j < len(cur) && int64(j) < rp.n; j++ {
			before := rp.output(cur[j], int64(j+1))
			before.Kind = row.UpdateBefore
			after := rp.output(next[j], int64(j+1))
			after.Kind = row.UpdateAfter
			ctx.Emit(before)
			ctx.Emit(after)
		}
		if int64(len(cur)) < rp.n {
			ctx.Emit(rp.output(next[len(cur)], int64(len(cur)+1)))
		}
	} else {
		if int64(len(cur)) >= rp.n {
			d := rp.output(cur[len(cur)-1], 0)
			d.Kind = row.Delete
			ctx.Emit(d)
		}
		ctx.Emit(rp.output(r, 0))
	}
	if int64(len(next)) > rp.n {
		next = next[:rp.n]
	}
	return f.rows.Update(next)
}

// keepFirstFunc keeps the first row of each partition by rowtime, as an
// append-only stream: the earliest row seen ("dedup-first") waits until
// the watermark passes its time (no earlier row can come then: later
// ones are late), is emitted, and the partition is marked done
// ("dedup-done"); rows of a done partition and late rows are dropped.
type keepFirstFunc struct {
	rp    *rankPlan
	first *state.ValueState[*row.Row]
	done  *state.ValueState[bool]
}

func (f *keepFirstFunc) Open(rc *engine.RuntimeContext) error {
	b, err := rc.KeyedState()
	if err != nil {
		return err
	}
	if f.first, err = state.NewValueState(b, "dedup-first", state.Codec[*row.Row](row.NewCodec(f.rp.in))); err != nil {
		return err
	}
	// The row waiting for the watermark has no TTL (as Flink keeps the
	// rows an operator has not processed yet); the flag that the key is
	// done, kept for ever otherwise, has.
	f.done, err = state.NewValueState(b, "dedup-done", state.MustCodecFor[bool](), ttlOptions(f.rp.ttl)...)
	return err
}

func (f *keepFirstFunc) ProcessElement(r *row.Row, ctx *engine.KeyedContext[string, *row.Row]) error {
	tc := f.rp.timeCol
	if r.IsNull(tc) {
		return nil
	}
	ts := r.Timestamp(tc).Millis
	if ts <= ctx.CurrentWatermark() {
		return nil // late
	}
	done, _, err := f.done.Value()
	if err != nil || done {
		return err
	}
	old, ok, err := f.first.Value()
	if err != nil {
		return err
	}
	if ok && old.Timestamp(tc).Millis <= ts {
		return nil
	}
	if err := ctx.RegisterEventTimeTimer(ts); err != nil {
		return err
	}
	c := r.Clone()
	c.Kind = row.Insert
	return f.first.Update(c)
}

func (f *keepFirstFunc) OnTimer(ts int64, ctx *engine.KeyedContext[string, *row.Row]) error {
	r, ok, err := f.first.Value()
	if err != nil || !ok || r.Timestamp(f.rp.timeCol).Millis > ts {
		return err
	}
	ctx.EmitAt(f.rp.output(r, 0), r.Timestamp(f.rp.timeCol).Millis)
	if err := f.first.Clear(); err != nil {
		return err
	}
	return f.done.Update(true)
}

// windowRankFunc is a window Top-N (or deduplication) over a window
// aggregation's rows, partitioned by their window: per partition the top
// n rows ("window-rank-rows") until the watermark passes the rows' time
// (the window's), then each as an insert, best first, and the partition's
// state is cleared: append-only.
type windowRankFunc struct {
	rp   *rankPlan
	rows *state.ListState[*row.Row]
}

func (f *windowRankFunc) Open(rc *engine.RuntimeContext) error {
	b, err := rc.KeyedState()
	if err != nil {
		return err
	}
	f.rows, err = state.NewListState(b, "window-rank-rows", state.Codec[*row.Row](row.NewCodec(f.rp.in)))
	return err
}

func (f *windowRankFunc) ProcessElement(r *row.Row, ctx *engine.KeyedContext[string, *row.Row]) error {
	ts := ctx.Timestamp()
	if ts <= ctx.CurrentWatermark() {
		return nil // late
	}
	cur, err := f.rows.Get()
	if err != nil {
		return err
	}
	pos := f.rp.insertAt(cur, r)
	if int64(pos) >= f.rp.n {
		return nil
	}
	if len(cur) == 0 {
		if err := ctx.RegisterEventTimeTimer(ts); err != nil {
			return err
		}
	}
	c := r.Clone()
	c.Kind = row.Insert
	next := slices.Insert(slices.Clone(cur), pos, c)
	if int64(len(next)) > f.rp.n {
		next = next[:f.rp.n]
	}
	return f.rows.Update(next)
}

func (f *windowRankFunc) OnTimer(ts int64, ctx *engine.KeyedContext[string, *row.Row]) error {
	cur, err := f.rows.Get()
	if err != nil {
		return err
	}
	for i, r := range cur {
		ctx.EmitAt(f.rp.output(r, int64(i+1)), ts)
	}
	return f.rows.Clear()
}
