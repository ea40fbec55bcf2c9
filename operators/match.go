package operators

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/state"
)

// MatchElem is one element of a row pattern: a variable (an index into
// MatchPattern.Vars) with a quantifier {Min, Max} (Max -1: unbounded),
// greedy unless Reluctant.
type MatchElem struct {
	Var       int
	Min, Max  int
	Reluctant bool
}

// MatchSkip is where matching resumes after a match (AFTER MATCH SKIP).
type MatchSkip uint8

const (
	// SkipPastLastRow resumes at the row after the match's last row.
	SkipPastLastRow MatchSkip = iota
	// SkipToNextRow resumes at the row after the match's first row.
	SkipToNextRow
	// SkipToFirst resumes at the first row mapped to MatchPattern.SkipVar.
	SkipToFirst
	// SkipToLast resumes at the last row mapped to MatchPattern.SkipVar.
	SkipToLast
)

// MatchPattern is a row pattern: a sequence of quantified variables, the
// skip strategy and the WITHIN bound.
type MatchPattern struct {
	Vars    []string
	Elems   []MatchElem
	Skip    MatchSkip
	SkipVar int
	// Within bounds a match: a row extends a partial match only if its time
	// minus the time of the match's first row is less than Within. Zero:
	// no bound.
	Within time.Duration
}

// Validate reports whether the pattern is usable.
func (p MatchPattern) Validate() error {
	if len(p.Elems) == 0 {
		return errors.New("operators: match: empty pattern")
	}
	if len(p.Vars) > 255 {
		return fmt.Errorf("operators: match: %d pattern variables, at most 255", len(p.Vars))
	}
	for i, e := range p.Elems {
		if e.Var < 0 || e.Var >= len(p.Vars) {
			return fmt.Errorf("operators: match: element %d: variable %d out of range", i, e.Var)
		}
		if e.Min < 0 || (e.Max >= 0 && e.Max < e.Min) || e.Max == 0 {
			return fmt.Errorf("operators: match: element %d (%s): bad quantifier {%d,%d}", i, p.Vars[e.Var], e.Min, e.Max)
		}
	}
	if (p.Skip == SkipToFirst || p.Skip == SkipToLast) && (p.SkipVar < 0 || p.SkipVar >= len(p.Vars)) {
		return fmt.Errorf("operators: match: skip variable %d out of range", p.SkipVar)
	}
	if p.Within < 0 {
		return fmt.Errorf("operators: match: WITHIN %v must not be negative", p.Within)
	}
	return nil
}

// MatchView is a match, or a partial match with a candidate row, as the
// conditions and the measures see it: rows 0..Len()-1 in time order, each
// mapped to a variable. It is valid during the call it is given to.
type MatchView[T any] struct {
	op   matchRows[T]
	e    *matchEntry
	cand int // the candidate row's variable, -1 when the view is a match
}

type matchRows[T any] interface {
	row(seq int64) (engine.Record[T], error)
}

// Len is the number of rows, the candidate row included.
func (m *MatchView[T]) Len() int {
	if m.cand >= 0 {
		return len(m.e.vars) + 1
	}
	return len(m.e.vars)
}

// Var is the variable row i is mapped to.
func (m *MatchView[T]) Var(i int) int {
	if i == len(m.e.vars) {
		return m.cand
	}
	return int(m.e.vars[i])
}

// Row is row i and its event time.
func (m *MatchView[T]) Row(i int) (T, int64, error) {
	r, err := m.op.row(m.e.start + int64(i))
	return r.Value, r.Time, err
}

// MatchFuncs are a pattern's conditions (DEFINE: one per variable, nil
// for a variable every row matches; the candidate row is the view's last)
// and its measures (one output per match). Each parallel instance gets its
// own (MatchSpec.New).
type MatchFuncs[T, Out any] struct {
	Define  []func(m *MatchView[T]) (bool, error)
	Measure func(m *MatchView[T]) (Out, error)
}

// MatchSpec configures MatchRecognize.
type MatchSpec[T, Out any] struct {
	Pattern MatchPattern
	// New makes the conditions and measures of one parallel instance.
	New func() (MatchFuncs[T, Out], error)
	// Codec encodes T in state; nil means T's built-in codec.
	Codec state.Codec[T]
}

// MatchRecognize finds the pattern in each key's rows in event time order
// (SQL's MATCH_RECOGNIZE with ONE ROW PER MATCH) and emits one output per
// match, at the time of the match's last row.
//
// Rows are buffered in keyed state until the watermark passes them, then
// fed in time order (rows of equal time in arrival order) to a matcher:
// every partial match is a thread kept, in keyed state, in the order of
// its first row and then of preference (a greedy quantifier prefers one
// more row, a reluctant one fewer), as the SQL standard orders matches. A
// complete match is emitted once every thread before it has failed; the
// skip strategy then drops the threads it skips. WITHIN drops a thread
// whose first row is Within or more before the watermark. At the end of
// input the threads still open fail, so the complete matches behind them
// are emitted. Rows at or before the watermark on arrival are late:
// dropped and counted ("late_records").
func MatchRecognize[T any, K comparable, Out any](ks *engine.KeyedStream[T, K], name string, spec MatchSpec[T, Out]) *engine.Stream[Out] {
	s := opSpec[T, K, Out]{name: name}
	if err := spec.Pattern.Validate(); err != nil {
		s.errs = append(s.errs, err)
	}
	if _, err := millis("match WITHIN", spec.Pattern.Within); err != nil {
		s.errs = append(s.errs, err)
	}
	if spec.New == nil {
		s.errs = append(s.errs, errors.New("operators: match: nil MatchSpec.New"))
	}
	codec, err := codecOf(spec.Codec, fmt.Sprintf("match rows of type %T", *new(T)), "set MatchSpec.Codec")
	if err != nil {
		s.errs = append(s.errs, err)
	}
	keyOf := ks.KeyOf()
	s.newOp = func() engine.KeyedOperator[T, K, Out] {
		return &matchOperator[T, K, Out]{spec: spec, codec: codec, keyOf: keyOf, within: spec.Pattern.Within.Milliseconds()}
	}
	return finish(ks, s)
}

// Timer namespaces: a row time (nil), a WITHIN deadline, the end of input.
var (
	matchNSWithin = []byte{'w'}
	matchNSEnd    = []byte{'e'}
)

// matchEntry is a thread: a partial match that awaits a row for element
// elem (having mapped count rows to it), or a complete match (final).
type matchEntry struct {
	start   int64 // sequence number of the first row
	startTs int64
	elem    int
	count   int
	final   bool
	vars    []byte // the variable of each row from start
}

// matchMeta is one key's matcher: the next row's sequence number, the
// first row a new match may start at, the oldest row kept, the latest
// row time fed, and the threads in order.
type matchMeta struct {
	nextSeq, nextStart, lowSeq int64
	fed                        int64
	entries                    []matchEntry
}

type matchOperator[T any, K comparable, Out any] struct {
	spec   MatchSpec[T, Out]
	codec  state.Codec[T]
	keyOf  func(T) K
	within int64
	funcs  MatchFuncs[T, Out]

	ctx  *engine.OperatorContext[Out]
	keys *engine.Keys[K]
	col  *engine.Collector[Out]
	buf  *state.MapState[int64, []engine.Record[T]]
	rows *state.MapState[int64, engine.Record[T]]
	meta *state.ValueState[matchMeta]
	late *engine.Counter

	cache map[int64]engine.Record[T] // rows read during one timer, then dropped
}

func (o *matchOperator[T, K, Out]) Open(ctx *engine.OperatorContext[Out], keys *engine.Keys[K]) error {
	o.ctx, o.keys, o.col = ctx, keys, ctx.Output()
	f, err := o.spec.New()
	if err != nil {
		return fmt.Errorf("operators: match %q: %w", ctx.Name(), err)
	}
	if len(f.Define) != len(o.spec.Pattern.Vars) || f.Measure == nil {
		return fmt.Errorf("operators: match %q: %d conditions for %d variables, or no measures", ctx.Name(), len(f.Define), len(o.spec.Pattern.Vars))
	}
	o.funcs = f
	tc := timedCodec[T]{o.codec}
	if o.buf, err = state.NewMapState(keys.Backend(), "match-buffer", state.MustCodecFor[int64](), state.Codec[[]engine.Record[T]](recordsCodec[T]{o.codec})); err != nil {
		return err
	}
	if o.rows, err = state.NewMapState(keys.Backend(), "match-rows", state.MustCodecFor[int64](), state.Codec[engine.Record[T]](tc)); err != nil {
		return err
	}
	if o.meta, err = state.NewValueState(keys.Backend(), "match-threads", state.Codec[matchMeta](matchMetaCodec{})); err != nil {
		return err
	}
	o.late = ctx.Counter(CounterLate)
	o.cache = map[int64]engine.Record[T]{}
	return nil
}

func (o *matchOperator[T, K, Out]) ProcessBatch(b []engine.Record[T]) error {
	wm := o.ctx.CurrentWatermark()
	for i := range b {
		ts := b[i].Time
		if ts == engine.NoTimestamp || ts <= wm || ts >= engine.MaxTime-1 {
			o.late.Inc()
			continue
		}
		o.keys.SetCurrentKey(o.keyOf(b[i].Value))
		m, ok, err := o.meta.Value()
		if err != nil {
			return err
		}
		if ok && ts <= m.fed {
			o.late.Inc()
			continue
		}
		if !ok {
			// The key's first row: the end-of-input timer flushes it.
			if err := o.keys.RegisterEventTimer(engine.MaxTime, matchNSEnd); err != nil {
				return err
			}
			m = matchMeta{fed: engine.MinTime}
			if err := o.meta.Update(m); err != nil {
				return err
			}
		}
		old, _, err := o.buf.Get(ts)
		if err != nil {
			return err
		}
		if len(old) == 0 {
			if err := o.keys.RegisterEventTimer(ts, nil); err != nil {
				return err
			}
		}
		if err := o.buf.Put(ts, append(old, b[i])); err != nil {
			return err
		}
	}
	return nil
}

func (o *matchOperator[T, K, Out]) OnTimer(t engine.TimerFiring) error {
	clear(o.cache)
	m, ok, err := o.meta.Value()
	if err != nil || !ok {
		return err
	}
	switch {
	case len(t.Namespace) == 0:
		recs, _, err := o.buf.Get(t.Time)
		if err != nil {
			return err
		}
		if err := o.buf.Remove(t.Time); err != nil {
			return err
		}
		for _, r := range recs {
			if err := o.feed(&m, r); err != nil {
				return err
			}
		}
		m.fed = max(m.fed, t.Time)
	case t.Namespace[0] == 'e':
		// End of input: no thread can go on.
		m.entries = keepFinal(m.entries)
	}
	if o.within > 0 {
		n := len(m.entries)
		m.entries = o.prune(m.entries, t.Time)
		if len(t.Namespace) > 0 && t.Namespace[0] == 'w' && len(m.entries) == n {
			return nil // a deadline of a match already done: nothing changes
		}
	}
	if err := o.accept(&m); err != nil {
		return err
	}
	if err := o.trim(&m); err != nil {
		return err
	}
	clear(o.cache)
	return o.meta.Update(m)
}

func (o *matchOperator[T, K, Out]) Close() error { return nil }

func keepFinal(es []matchEntry) []matchEntry {
	out := es[:0]
	for _, e := range es {
		if e.final {
			out = append(out, e)
		}
	}
	return out
}

// prune drops the open threads that no row after time now can extend.
func (o *matchOperator[T, K, Out]) prune(es []matchEntry, now int64) []matchEntry {
	out := es[:0]
	for _, e := range es {
		if e.final || now-e.startTs < o.within {
			out = append(out, e)
		}
	}
	return out
}

func (o *matchOperator[T, K, Out]) row(seq int64) (engine.Record[T], error) {
	if r, ok := o.cache[seq]; ok {
		return r, nil
	}
	r, ok, err := o.rows.Get(seq)
	if err != nil {
		return r, err
	}
	if !ok {
		return r, fmt.Errorf("operators: match %q: row %d of the key is not in state", o.ctx.Name(), seq)
	}
	o.cache[seq] = r
	return r, nil
}

// feed gives the matcher the key's next row in time order.
func (o *matchOperator[T, K, Out]) feed(m *matchMeta, r engine.Record[T]) error {
	seq := m.nextSeq
	m.nextSeq++
	if err := o.rows.Put(seq, r); err != nil {
		return err
	}
	o.cache[seq] = r
	es := m.entries
	if o.within > 0 {
		es = o.prune(es, r.Time)
	}
	if seq >= m.nextStart {
		es = o.closure(es, matchEntry{start: seq, startTs: r.Time})
	}
	next := make([]matchEntry, 0, len(es))
	seen := map[string]bool{}
	view := MatchView[T]{op: o}
	for i := range es {
		e := es[i]
		if e.final {
			next = append(next, e)
			continue
		}
		v := o.spec.Pattern.Elems[e.elem].Var
		if def := o.funcs.Define[v]; def != nil {
			view.e, view.cand = &e, v
			ok, err := def(&view)
			if err != nil {
				return fmt.Errorf("operators: match %q: DEFINE %s: %w", o.ctx.Name(), o.spec.Pattern.Vars[v], err)
			}
			if !ok {
				continue
			}
		}
		ne := matchEntry{start: e.start, startTs: e.startTs, elem: e.elem, count: e.count + 1, vars: append(append(make([]byte, 0, len(e.vars)+1), e.vars...), byte(v))}
		for _, x := range o.closure(nil, ne) {
			k := entryKey(x)
			if seen[k] {
				continue
			}
			seen[k] = true
			next = append(next, x)
		}
	}
	m.entries = next
	if o.within > 0 {
		// A WITHIN deadline for a match that starts here and is still open
		// (most starts fail at once and need none).
		for _, e := range next {
			if e.start == seq && !e.final {
				if err := o.keys.RegisterEventTimer(r.Time+o.within, matchNSWithin); err != nil {
					return err
				}
				break
			}
		}
	}
	return o.accept(m)
}

func entryKey(e matchEntry) string {
	b := binary.AppendVarint(nil, e.start)
	b = binary.AppendUvarint(b, uint64(e.elem))
	b = binary.AppendUvarint(b, uint64(e.count))
	if e.final {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	return string(append(b, e.vars...))
}

// closure appends to out what e (an element's count rows mapped) may do
// next, in preference order: take a row for its element, or leave it for
// the next (or complete the match: a final entry). An empty match is not
// a match.
func (o *matchOperator[T, K, Out]) closure(out []matchEntry, e matchEntry) []matchEntry {
	els := o.spec.Pattern.Elems
	if e.elem == len(els) {
		if len(e.vars) == 0 {
			return out
		}
		e.final = true
		return append(out, e)
	}
	p := els[e.elem]
	stay := p.Max < 0 || e.count < p.Max
	leave := e.count >= p.Min
	add := func(first bool) {
		if first && stay {
			out = append(out, e)
		}
		if !first && leave {
			out = o.closure(out, matchEntry{start: e.start, startTs: e.startTs, elem: e.elem + 1, vars: e.vars})
		}
	}
	if p.Reluctant {
		add(false)
		add(true)
	} else {
		add(true)
		add(false)
	}
	return out
}

// accept emits the complete matches that lead the threads, skipping as the
// pattern says after each.
func (o *matchOperator[T, K, Out]) accept(m *matchMeta) error {
	view := MatchView[T]{op: o, cand: -1}
	for len(m.entries) > 0 && m.entries[0].final {
		e := m.entries[0]
		view.e = &e
		out, err := o.funcs.Measure(&view)
		if err != nil {
			return fmt.Errorf("operators: match %q: MEASURES: %w", o.ctx.Name(), err)
		}
		last := e.start + int64(len(e.vars)) - 1
		lr, err := o.row(last)
		if err != nil {
			return err
		}
		o.col.Collect(out, lr.Time)
		next := skipTo(o.spec.Pattern, e)
		m.nextStart = max(m.nextStart, next)
		rest := m.entries[:0]
		for _, x := range m.entries[1:] {
			if x.start >= next {
				rest = append(rest, x)
			}
		}
		m.entries = rest
	}
	return nil
}

// skipTo is the first row a match may start at after match e.
func skipTo(p MatchPattern, e matchEntry) int64 {
	last := e.start + int64(len(e.vars)) - 1
	next := e.start + 1
	switch p.Skip {
	case SkipPastLastRow:
		next = last + 1
	case SkipToFirst, SkipToLast:
		for i, v := range e.vars {
			if int(v) != p.SkipVar {
				continue
			}
			next = e.start + int64(i)
			if p.Skip == SkipToFirst {
				break
			}
		}
	}
	// A target at or before the match's first row (or a variable the
	// match has no row for) resumes at the next row.
	return max(next, e.start+1)
}

// trim deletes the rows no thread reads any more.
func (o *matchOperator[T, K, Out]) trim(m *matchMeta) error {
	low := m.nextSeq
	for _, e := range m.entries {
		low = min(low, e.start)
	}
	for s := m.lowSeq; s < low; s++ {
		if err := o.rows.Remove(s); err != nil {
			return err
		}
	}
	m.lowSeq = max(m.lowSeq, low)
	return nil
}

// matchMetaCodec encodes a key's matcher state.
type matchMetaCodec struct{}

func (matchMetaCodec) Append(dst []byte, m matchMeta) []byte {
	dst = binary.AppendVarint(dst, m.nextSeq)
	dst = binary.AppendVarint(dst, m.nextStart)
	dst = binary.AppendVarint(dst, m.lowSeq)
	dst = binary.AppendVarint(dst, m.fed)
	dst = binary.AppendUvarint(dst, uint64(len(m.entries)))
	for _, e := range m.entries {
		dst = binary.AppendVarint(dst, e.start)
		dst = binary.AppendVarint(dst, e.startTs)
		dst = binary.AppendUvarint(dst, uint64(e.elem))
		dst = binary.AppendUvarint(dst, uint64(e.count))
		f := uint64(len(e.vars)) << 1
		if e.final {
			f |= 1
		}
		dst = binary.AppendUvarint(dst, f)
		dst = append(dst, e.vars...)
	}
	return dst
}

func (matchMetaCodec) Decode(src []byte) (matchMeta, error) {
	var m matchMeta
	bad := fmt.Errorf("%w: match threads", state.ErrCorrupt)
	vi := func() int64 {
		v, k := binary.Varint(src)
		if k <= 0 {
			src = nil
			return 0
		}
		src = src[k:]
		return v
	}
	ui := func() uint64 {
		v, k := binary.Uvarint(src)
		if k <= 0 {
			src = nil
			return 0
		}
		src = src[k:]
		return v
	}
	if len(src) == 0 {
		return m, bad
	}
	m.nextSeq, m.nextStart, m.lowSeq, m.fed = vi(), vi(), vi(), vi()
	n := ui()
	if src == nil || n > uint64(len(src)) {
		return m, bad
	}
	m.entries = make([]matchEntry, 0, n)
	for range n {
		var e matchEntry
		e.start, e.startTs = vi(), vi()
		e.elem, e.count = int(ui()), int(ui())
		f := ui()
		if src == nil {
			return m, bad
		}
		e.final = f&1 == 1
		l := f >> 1
		if l > uint64(len(src)) {
			return m, bad
		}
		e.vars = append([]byte(nil), src[:l]...)
		src = src[l:]
		m.entries = append(m.entries, e)
	}
	return m, nil
}
