package planner

import (
	"encoding/binary"
	"fmt"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/sql/functions"
	"github.com/sluicehq/sluice/sql/row"
	"github.com/sluicehq/sluice/state"
)

// buildJoin is a join's engine operator: both inputs hashed on the
// equality keys into one keyed two-input operator, whose state (in the
// job's state backend) holds each side's rows of a key.
func buildJoin(a, b *engine.Stream[*row.Row], jp *joinPlan, name string) (*engine.Stream[*row.Row], error) {
	lenc, renc := row.NewKeyEncoder(jp.left, jp.lkeys), row.NewKeyEncoder(jp.right, jp.rkeys)
	ka := engine.KeyBy(a, func(r *row.Row) string { return lenc.Key(r) })
	kb := engine.KeyBy(b, func(r *row.Row) string { return renc.Key(r) })
	opts, err := joinStateOptions(jp)
	if err != nil {
		return nil, err
	}
	return engine.TransformKeyed2(ka, kb, name, func() engine.KeyedTwoInputOperator[*row.Row, *row.Row, string, *row.Row] {
		return &joinOp{jp: jp, opts: opts}
	}), nil
}

// joinStateOptions are the options of a regular join's state: the TTL
// of table.exec.state.ttl (processing time since a row was last
// written), as Flink's.
func joinStateOptions(jp *joinPlan) ([]state.Option, error) {
	if jp.ttl <= 0 {
		return nil, nil
	}
	return []state.Option{state.WithTTL(state.TTL{TTL: jp.ttl})}, nil
}

// joinCount is a regular join's state of one distinct row of a side: how
// often it is there, and how many rows of the other side it joins with.
type joinCount struct{ n, matches int64 }

type joinCountCodec struct{}

func (joinCountCodec) Append(dst []byte, c joinCount) []byte {
	return binary.AppendVarint(binary.AppendVarint(dst, c.n), c.matches)
}

func (joinCountCodec) Decode(src []byte) (joinCount, error) {
	n, k := binary.Varint(src)
	if k <= 0 {
		return joinCount{}, fmt.Errorf("planner: join row count: %w", state.ErrCorrupt)
	}
	m, k2 := binary.Varint(src[k:])
	if k2 <= 0 {
		return joinCount{}, fmt.Errorf("planner: join row matches: %w", state.ErrCorrupt)
	}
	return joinCount{n: n, matches: m}, nil
}

// ivRow is a row buffered by an interval join: its encoding and whether
// it has met a row of the other side.
type ivRow struct {
	enc     string
	matched bool
}

type ivRowsCodec struct{}

func (ivRowsCodec) Append(dst []byte, rs []ivRow) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(rs)))
	for _, r := range rs {
		b := byte(0)
		if r.matched {
			b = 1
		}
		dst = append(dst, b)
		dst = binary.AppendUvarint(dst, uint64(len(r.enc)))
		dst = append(dst, r.enc...)
	}
	return dst
}

func (ivRowsCodec) Decode(src []byte) ([]ivRow, error) {
	n, k := binary.Uvarint(src)
	if k <= 0 || n > uint64(len(src)) {
		return nil, fmt.Errorf("planner: interval join rows: %w", state.ErrCorrupt)
	}
	src = src[k:]
	rs := make([]ivRow, 0, n)
	for range n {
		if len(src) == 0 {
			return nil, fmt.Errorf("planner: interval join row: %w", state.ErrCorrupt)
		}
		m := src[0] == 1
		l, k := binary.Uvarint(src[1:])
		if k <= 0 || l > uint64(len(src)-1-k) {
			return nil, fmt.Errorf("planner: interval join row: %w", state.ErrCorrupt)
		}
		rs = append(rs, ivRow{enc: string(src[1+k : 1+k+int(l)]), matched: m})
		src = src[1+k+int(l):]
	}
	return rs, nil
}

// joinSide is one input's state and description.
type joinSide struct {
	layout *row.Layout
	codec  row.Codec
	keys   []int
	outer  bool // its rows without a match are emitted padded with NULLs
	left   bool
	rows   *state.MapState[string, joinCount] // regular join
	buf    *state.MapState[int64, []ivRow]    // interval join: rows by time
	tcol   int                                // interval join: the time column
	kenc   *row.KeyEncoder
}

// joinOp is a join's operator instance (one per parallel subtask).
type joinOp struct {
	jp   *joinPlan
	opts []state.Option
	ctx  *engine.OperatorContext[*row.Row]
	keys *engine.Keys[string]
	l, r joinSide
	cond predicate // nil: none
	enc  []byte
}

func (o *joinOp) Open(ctx *engine.OperatorContext[*row.Row], keys *engine.Keys[string]) error {
	jp := o.jp
	o.ctx, o.keys = ctx, keys
	o.l = joinSide{layout: jp.left, codec: row.NewCodec(jp.left), keys: jp.lkeys, outer: jp.leftOuter, left: true}
	o.r = joinSide{layout: jp.right, codec: row.NewCodec(jp.right), keys: jp.rkeys, outer: jp.rightOuter}
	if jp.cond != nil {
		x, err := jp.condCompiler.compile(jp.cond, jp.sc)
		if err != nil {
			return fmt.Errorf("planner: join condition: %w", err)
		}
		o.cond = newPredicate(x)
	}
	var err error
	if iv := jp.interval; iv != nil {
		o.l.tcol, o.r.tcol = iv.ltime, iv.rtime
		ts := state.MustCodecFor[int64]()
		if o.l.buf, err = state.NewMapState(keys.Backend(), "join-left", ts, state.Codec[[]ivRow](ivRowsCodec{})); err != nil {
			return err
		}
		o.r.buf, err = state.NewMapState(keys.Backend(), "join-right", ts, state.Codec[[]ivRow](ivRowsCodec{}))
		return err
	}
	str := state.MustCodecFor[string]()
	if o.l.rows, err = state.NewMapState(keys.Backend(), "join-left", str, state.Codec[joinCount](joinCountCodec{}), o.opts...); err != nil {
		return err
	}
	o.r.rows, err = state.NewMapState(keys.Backend(), "join-right", str, state.Codec[joinCount](joinCountCodec{}), o.opts...)
	return err
}

func (o *joinOp) Close() error { return nil }

func (o *joinOp) ProcessBatch1(b []engine.Record[*row.Row]) error { return o.process(b, &o.l, &o.r) }
func (o *joinOp) ProcessBatch2(b []engine.Record[*row.Row]) error { return o.process(b, &o.r, &o.l) }

func (o *joinOp) process(b []engine.Record[*row.Row], self, other *joinSide) error {
	for i := range b {
		var err error
		if o.jp.temporal {
			err = o.temporalRow(b[i].Value, self)
		} else if o.jp.interval != nil {
			err = o.interval(b[i].Value, self, other)
		} else {
			err = o.regular(b[i].Value, b[i].Time, self, other)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func nullKey(r *row.Row, keys []int) bool {
	for _, k := range keys {
		if r.IsNull(k) {
			return true
		}
	}
	return false
}

// combine is the output row of x (a row of side self) and y (of the
// other side; nil pads with NULLs).
func (o *joinOp) combine(x *row.Row, self *joinSide, y *row.Row, kind row.Kind) *row.Row {
	l, r := x, y
	if !self.left {
		l, r = y, x
	}
	out := o.jp.out.New()
	out.Kind = kind
	nl := o.jp.left.Len()
	if l != nil {
		for i := range nl {
			functions.Write(out, i, functions.Read(l, i))
		}
	}
	if r != nil {
		for i := range o.jp.right.Len() {
			functions.Write(out, nl+i, functions.Read(r, i))
		}
	}
	return out
}

// matches reports whether x and y join: the rest of the ON condition.
func (o *joinOp) matches(x *row.Row, self *joinSide, y *row.Row) (bool, error) {
	if o.cond == nil {
		return true, nil
	}
	return o.cond(o.combine(x, self, y, row.Insert))
}

func (o *joinOp) emit(r *row.Row, ts int64) { o.ctx.Output().Collect(r, ts) }

// encode is r's encoding as an insert (state keys are the rows without
// their kind).
func (o *joinOp) encode(r *row.Row, s *joinSide) string {
	o.enc = s.codec.Append(o.enc[:0], r)
	o.enc[1] = byte(row.Insert)
	return string(o.enc)
}

type joinMatch struct {
	enc string
	cnt joinCount
	row *row.Row
}

// regular joins x, a row of side self of any kind, with the other side's
// rows of its key: an accumulating row (+I, +U) joins and is added, a
// retracting one (-U, -D) takes back its joined rows and is removed; a
// row of an outer side without a match is emitted padded with NULLs
// until its first match (then -D of the padded row), and again after
// its last match goes (+I).
func (o *joinOp) regular(x *row.Row, ts int64, self, other *joinSide) error {
	acc := !x.Kind.IsRetract()
	if nullKey(x, self.keys) {
		// NULL never equals anything: the row joins with nothing.
		if self.outer {
			o.emit(o.combine(x, self, nil, kindOf(acc)), ts)
		}
		return nil
	}
	o.keys.SetCurrentKey(o.keysOf(x, self))
	enc := o.encode(x, self)
	cnt, found, err := self.rows.Get(enc)
	if err != nil {
		return err
	}
	if !acc && !found {
		return nil // a retraction of a row never added (its state expired)
	}
	var ms []joinMatch
	if err := other.rows.Range(func(k string, c joinCount) bool {
		ms = append(ms, joinMatch{enc: k, cnt: c})
		return true
	}); err != nil {
		return err
	}
	var total int64
	for _, m := range ms {
		y, err := other.codec.Decode([]byte(m.enc))
		if err != nil {
			return err
		}
		ok, err := o.matches(x, self, y)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		total += m.cnt.n
		if acc {
			if other.outer && m.cnt.matches == 0 {
				for range m.cnt.n {
					o.emit(o.combine(y, other, nil, row.Delete), ts)
				}
			}
			for range m.cnt.n {
				o.emit(o.combine(x, self, y, row.Insert), ts)
			}
			m.cnt.matches++
		} else {
			for range m.cnt.n {
				o.emit(o.combine(x, self, y, row.Delete), ts)
			}
			m.cnt.matches--
			if other.outer && m.cnt.matches == 0 {
				for range m.cnt.n {
					o.emit(o.combine(y, other, nil, row.Insert), ts)
				}
			}
		}
		if err := other.rows.Put(m.enc, m.cnt); err != nil {
			return err
		}
	}
	if total == 0 && self.outer {
		o.emit(o.combine(x, self, nil, kindOf(acc)), ts)
	}
	if acc {
		cnt.n++
		cnt.matches = total
		return self.rows.Put(enc, cnt)
	}
	if cnt.n--; cnt.n <= 0 {
		return self.rows.Remove(enc)
	}
	return self.rows.Put(enc, cnt)
}

func kindOf(acc bool) row.Kind {
	if acc {
		return row.Insert
	}
	return row.Delete
}

func (o *joinOp) keysOf(x *row.Row, s *joinSide) string {
	if s.kenc == nil {
		s.kenc = row.NewKeyEncoder(s.layout, s.keys)
	}
	return s.kenc.Key(x)
}

// interval joins x, a row of side self, with the other side's buffered
// rows of its key in the time bounds, and buffers it until the watermark
// passes the last time a row of the other side could meet it; then a row
// of an outer side that met none is emitted padded with NULLs.
func (o *joinOp) interval(x *row.Row, self, other *joinSide) error {
	if x.Kind != row.Insert {
		return fmt.Errorf("planner: interval join: a %v row in an append-only input", x.Kind)
	}
	iv := o.jp.interval
	if x.IsNull(self.tcol) || nullKey(x, self.keys) {
		if self.outer {
			t := int64(0)
			if !x.IsNull(self.tcol) {
				t = x.Timestamp(self.tcol).Millis
			}
			o.emit(o.combine(x, self, nil, row.Insert), t)
		}
		return nil
	}
	t := x.Timestamp(self.tcol).Millis
	// lo <= lt - rt <= hi: the other side's times, and when this row can
	// meet no more.
	var from, to, expires int64
	if self.left {
		from, to, expires = t-iv.hi, t-iv.lo, t-iv.lo+1
	} else {
		from, to, expires = t+iv.lo, t+iv.hi, t+iv.hi+1
	}
	o.keys.SetCurrentKey(o.keysOf(x, self))
	type hit struct {
		ts  int64
		rs  []ivRow
		chg bool
	}
	var hits []hit
	if err := other.buf.Range(func(ts int64, rs []ivRow) bool {
		if ts > to {
			return false
		}
		if ts >= from {
			hits = append(hits, hit{ts: ts, rs: rs})
		}
		return true
	}); err != nil {
		return err
	}
	matched := false
	for _, h := range hits {
		chg := false
		for i := range h.rs {
			y, err := other.codec.Decode([]byte(h.rs[i].enc))
			if err != nil {
				return err
			}
			ok, err := o.matches(x, self, y)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			matched = true
			lt := t
			if !self.left {
				lt = h.ts
			}
			o.emit(o.combine(x, self, y, row.Insert), o.outTime(lt))
			if !h.rs[i].matched {
				h.rs[i].matched, chg = true, true
			}
		}
		if chg && other.outer {
			if err := other.buf.Put(h.ts, h.rs); err != nil {
				return err
			}
		}
	}
	if wm := o.ctx.CurrentWatermark(); wm != engine.MinTime && wm >= expires {
		// No row of the other side can come to meet it any more.
		if !matched && self.outer {
			o.emit(o.combine(x, self, nil, row.Insert), o.outTime(t))
		}
		return nil
	}
	rs, _, err := self.buf.Get(t)
	if err != nil {
		return err
	}
	if err := self.buf.Put(t, append(rs, ivRow{enc: o.encode(x, self), matched: matched})); err != nil {
		return err
	}
	ns := byte('R')
	if self.left {
		ns = 'L'
	}
	return o.keys.RegisterEventTimer(expires, []byte{ns})
}

func (o *joinOp) OnTimer(t engine.TimerFiring) error {
	if o.jp.temporal {
		return o.temporalFire(t)
	}
	if o.jp.interval == nil || len(t.Namespace) != 1 {
		return fmt.Errorf("planner: join timer namespace %x", t.Namespace)
	}
	iv := o.jp.interval
	var s *joinSide
	var ts int64
	switch t.Namespace[0] {
	case 'L':
		s, ts = &o.l, t.Time-1+iv.lo
	case 'R':
		s, ts = &o.r, t.Time-1-iv.hi
	default:
		return fmt.Errorf("planner: join timer namespace %x", t.Namespace)
	}
	if s.outer {
		rs, _, err := s.buf.Get(ts)
		if err != nil {
			return err
		}
		for _, r := range rs {
			if r.matched {
				continue
			}
			x, err := s.codec.Decode([]byte(r.enc))
			if err != nil {
				return err
			}
			o.emit(o.combine(x, s, nil, row.Insert), o.outTime(ts))
		}
	}
	return s.buf.Remove(ts)
}

// outTime is the event time of an interval or window join's output row
// from the time t of its left row (of its one row when padded): the left
// time attribute's value, which is the one the output keeps as a
// rowtime attribute; for a window join the window's time (its end - 1:
// window_time).
func (o *joinOp) outTime(t int64) int64 {
	if o.jp.window {
		return t - 1
	}
	return t
}
