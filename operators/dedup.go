package operators

import (
	"errors"
	"fmt"
	"time"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/state"
)

// ChangeKind is the kind of a changelog row, as Flink's RowKind.
type ChangeKind uint8

const (
	// Insert adds a row.
	Insert ChangeKind = iota
	// UpdateBefore retracts the previous version of a row; the matching
	// UpdateAfter follows it at once.
	UpdateBefore
	// UpdateAfter is the new version of a row.
	UpdateAfter
	// Delete removes a row.
	Delete
)

func (k ChangeKind) String() string {
	return [...]string{"+I", "-U", "+U", "-D"}[k&3]
}

// Change is a row of a changelog stream: an insert, the two halves of an
// update, or a delete. A sink that applies changes by key (an upsert
// table, a key-value store) reproduces the current result; an append-only
// sink sees the history.
type Change[T any] struct {
	Kind  ChangeKind
	Value T
}

func (c Change[T]) String() string { return fmt.Sprintf("%v %v", c.Kind, c.Value) }

// DedupOptions configure Dedup.
type DedupOptions[T any] struct {
	// Keep says which record per key is the result. Default KeepFirst.
	Keep Keep
	// EventTime orders records by event time instead of arrival: KeepFirst
	// keeps the earliest, KeepLast the latest (ties: by arrival). Records
	// without a timestamp then go to the error side output. Default false.
	EventTime bool
	// TTL forgets a key this long (processing time) after its result last
	// changed; its next record is then a new first one, emitted as an
	// Insert. Zero (the default) keeps every key forever: bound it when
	// keys do not repeat.
	TTL time.Duration
	// Codec encodes T in state; nil means T's built-in codec.
	Codec state.Codec[T]
}

// Validate reports whether the options are usable.
func (o DedupOptions[T]) Validate() error {
	if o.Keep != KeepFirst && o.Keep != KeepLast {
		return fmt.Errorf("operators: unknown dedup keep %d", o.Keep)
	}
	if o.TTL < 0 {
		return fmt.Errorf("operators: dedup TTL %v must not be negative", o.TTL)
	}
	return nil
}

// Dedup keeps one record per key and emits the changelog of that result
// (Flink SQL's deduplication, ROW_NUMBER() = 1): the key's first record as
// an Insert, then, each time the kept record changes (every later record
// with KeepLast; an earlier one in event time with KeepFirst and
// EventTime), an UpdateBefore of the old record and an UpdateAfter of the
// new one. Records that do not change the result are dropped and counted
// ("duplicate_records").
//
// Why a changelog: "keep last" cannot be an append-only stream without
// either waiting for the end of input or emitting every record; the
// updates say precisely which earlier result a new one replaces, as
// Flink's changelog rows do, so that an upsert sink keyed like the stream
// holds the right answer at every checkpoint. For one record per key and
// window instead, see DedupWindow; for the first record by arrival as a
// plain stream, DedupFirst.
func Dedup[T any, K comparable](ks *engine.KeyedStream[T, K], name string, opts DedupOptions[T]) *engine.Stream[Change[T]] {
	return finish(ks, dedupOp(ks.KeyOf(), name, opts, func(kind ChangeKind, v T) Change[T] {
		return Change[T]{Kind: kind, Value: v}
	}))
}

// NewDedupOperator is the keyed operator Dedup adds, on its own: for
// engine.TransformKeyed or a test harness (engine.NewKeyedHarness).
func NewDedupOperator[T any, K comparable](keyOf func(T) K, opts DedupOptions[T]) (engine.KeyedOperator[T, K, Change[T]], error) {
	s := dedupOp(keyOf, "dedup", opts, func(kind ChangeKind, v T) Change[T] {
		return Change[T]{Kind: kind, Value: v}
	})
	if err := s.err(); err != nil {
		return nil, err
	}
	return s.newOp(), nil
}

// DedupFirst emits the first record (by arrival) of each key and drops the
// rest: an append-only stream. With ttl > 0 a key is forgotten ttl
// (processing time) after its first record, and its next record passes
// again.
func DedupFirst[T any, K comparable](ks *engine.KeyedStream[T, K], name string, ttl time.Duration) *engine.Stream[T] {
	s := dedupOp(ks.KeyOf(), name, DedupOptions[T]{TTL: ttl}, func(_ ChangeKind, v T) T { return v })
	s.newOp = firstOnly(s.newOp)
	return finish(ks, s)
}

// firstOnly marks the operator to keep no values: only whether a key was
// seen.
func firstOnly[T any, K comparable, Out any](newOp func() engine.KeyedOperator[T, K, Out]) func() engine.KeyedOperator[T, K, Out] {
	return func() engine.KeyedOperator[T, K, Out] {
		op := newOp()
		op.(*dedupOperator[T, K, Out]).seenOnly = true
		return op
	}
}

const counterDuplicates = "duplicate_records"

func dedupOp[T any, K comparable, Out any](keyOf func(T) K, name string, opts DedupOptions[T], out func(ChangeKind, T) Out) opSpec[T, K, Out] {
	s := opSpec[T, K, Out]{name: name}
	if err := opts.Validate(); err != nil {
		s.errs = append(s.errs, err)
	}
	if _, err := millis("dedup TTL", opts.TTL); err != nil {
		s.errs = append(s.errs, err)
	}
	codec, err := codecOf(opts.Codec, fmt.Sprintf("dedup records of type %T", *new(T)), "set DedupOptions.Codec")
	if err != nil {
		s.errs = append(s.errs, err)
	}
	if keyOf == nil {
		s.errs = append(s.errs, errors.New("operators: nil key selector"))
	}
	s.newOp = func() engine.KeyedOperator[T, K, Out] {
		return &dedupOperator[T, K, Out]{opts: opts, codec: codec, keyOf: keyOf, out: out}
	}
	return s
}

// dedupOperator keeps per key the kept record and its timestamp
// ("dedup-kept"), or only a seen flag ("dedup-seen") for DedupFirst.
type dedupOperator[T any, K comparable, Out any] struct {
	opts     DedupOptions[T]
	codec    state.Codec[T]
	keyOf    func(T) K
	out      func(ChangeKind, T) Out
	seenOnly bool

	keys   *engine.Keys[K]
	col    *engine.Collector[Out]
	kept   *state.ValueState[engine.Record[T]]
	seen   *state.ValueState[bool]
	dups   *engine.Counter
	errs   *engine.Counter
	errOut *engine.Collector[T]
}

func (o *dedupOperator[T, K, Out]) Open(ctx *engine.OperatorContext[Out], keys *engine.Keys[K]) error {
	o.keys, o.col = keys, ctx.Output()
	var opts []state.Option
	if o.opts.TTL > 0 {
		opts = append(opts, state.WithTTL(state.TTL{TTL: o.opts.TTL}))
	}
	var err error
	if o.seenOnly {
		o.seen, err = state.NewValueState(keys.Backend(), "dedup-seen", state.MustCodecFor[bool](), opts...)
	} else {
		o.kept, err = state.NewValueState(keys.Backend(), "dedup-kept", state.Codec[engine.Record[T]](timedCodec[T]{o.codec}), opts...)
	}
	o.dups, o.errs = ctx.Counter(counterDuplicates), ctx.Counter(CounterErrors)
	o.errOut = engine.SideCollector(ctx, ErrorTag[T]())
	return err
}

func (o *dedupOperator[T, K, Out]) ProcessBatch(b []engine.Record[T]) error {
	for i := range b {
		v, ts := b[i].Value, b[i].Time
		if o.opts.EventTime && ts == engine.NoTimestamp {
			o.errs.Inc()
			o.errOut.Collect(v, ts)
			continue
		}
		o.keys.SetCurrentKey(o.keyOf(v))
		if o.seenOnly {
			_, seen, err := o.seen.Value()
			if err != nil {
				return err
			}
			if seen {
				o.dups.Inc()
				continue
			}
			o.col.Collect(o.out(Insert, v), ts)
			if err := o.seen.Update(true); err != nil {
				return err
			}
			continue
		}
		old, present, err := o.kept.Value()
		if err != nil {
			return err
		}
		if !present {
			o.col.Collect(o.out(Insert, v), ts)
		} else if o.replaces(old, ts) {
			o.col.Collect(o.out(UpdateBefore, old.Value), ts)
			o.col.Collect(o.out(UpdateAfter, v), ts)
		} else {
			o.dups.Inc()
			continue
		}
		if err := o.kept.Update(engine.Record[T]{Value: v, Time: ts}); err != nil {
			return err
		}
	}
	return nil
}

// replaces reports whether a record at ts replaces the kept one.
func (o *dedupOperator[T, K, Out]) replaces(old engine.Record[T], ts int64) bool {
	switch {
	case !o.opts.EventTime:
		return o.opts.Keep == KeepLast
	case o.opts.Keep == KeepFirst:
		return ts < old.Time
	default:
		return ts >= old.Time
	}
}

func (o *dedupOperator[T, K, Out]) OnTimer(engine.TimerFiring) error { return nil }
func (o *dedupOperator[T, K, Out]) Close() error                     { return nil }
