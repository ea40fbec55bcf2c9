package operators

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/sluicehq/sluice/engine"
)

// The randomised equivalence tests run window operators over random event
// streams — out of order, with late records, watermarks at random points,
// restores from snapshots at random points — and require, step by step,
// the output of a naive reference that keeps every window of every key
// apart and recomputes it from scratch. Set SLUICE_SEED to replay a run.

// step is one input of a random run: a record, a watermark, or a restore.
type step struct {
	kind byte // 'e' element, 'w' watermark, 's' snapshot+restore
	key  string
	ts   int64
	val  int64
}

// randomSteps returns a stream of n records over keys, with event times
// growing about one per record, disorder up to maxDelay, watermarks every
// few records (some lagging, so that records arrive late), and restores.
func randomSteps(rng *rand.Rand, n, keys int, maxDelay int64) []step {
	var out []step
	var maxTs int64
	for i := 0; i < n; i++ {
		base := int64(i)
		ts := base - rng.Int64N(maxDelay+1)
		if rng.IntN(20) == 0 {
			ts -= rng.Int64N(4*maxDelay + 4) // a straggler, likely late
		}
		maxTs = max(maxTs, ts)
		out = append(out, step{kind: 'e', key: fmt.Sprint("k", rng.IntN(keys)), ts: ts, val: 1 + rng.Int64N(100)})
		if rng.IntN(4) == 0 {
			out = append(out, step{kind: 'w', ts: maxTs - rng.Int64N(maxDelay+1)})
		}
		if rng.IntN(150) == 0 {
			out = append(out, step{kind: 's'})
		}
	}
	return append(out, step{kind: 'w', ts: engine.MaxTime})
}

// refWindows lists the windows of ts naively, by scanning candidate
// starts, in increasing order of end.
func refWindows(a assignSpec, ts int64) []TimeWindow {
	var ws []TimeWindow
	switch a.kind {
	case kindTumbling:
		st := ts - floorMod(ts-a.offset, a.size)
		ws = append(ws, TimeWindow{st, st + a.size})
	case kindSliding:
		for st := ts - a.size + 1; st <= ts; st++ {
			if floorMod(st-a.offset, a.slide) == 0 {
				ws = append(ws, TimeWindow{st, st + a.size})
			}
		}
	case kindCumulate:
		cs := ts - floorMod(ts-a.offset, a.size)
		for e := cs + a.slide; e <= cs+a.size; e += a.slide {
			if ts < e {
				ws = append(ws, TimeWindow{cs, e})
			}
		}
	}
	return ws
}

type keyWindow struct {
	key string
	w   TimeWindow
}

// refModel is the naive reference of event-time windows with the default
// trigger and allowed lateness, summing values. A window fires when the
// watermark reaches its time (refTime) and is dropped the allowed
// lateness later; a record is late when every window it could join is
// dropped — for sessions: its own window and the sessions it touches.
type refModel struct {
	spec     assignSpec
	lateness int64
	wm       int64
	sums     map[keyWindow]int64       // non-merging windows
	sessions map[string][]keyWindowSum // session windows per key
	gapOf    func(val int64) int64     // dynamic sessions: the gap of a record
}

type keyWindowSum struct {
	w   TimeWindow
	sum int64
}

func newRefModel(spec assignSpec, lateness int64) *refModel {
	return &refModel{spec: spec, lateness: lateness, wm: engine.MinTime, sums: map[keyWindow]int64{}, sessions: map[string][]keyWindowSum{}}
}

// refTime is when window w fires and the event time of its results: End-1
// for windows that do not merge, End for sessions, which a record at End
// still extends.
func (m *refModel) refTime(w TimeWindow) int64 {
	if m.spec.isMerging() {
		return w.End
	}
	return w.End - 1
}

func (m *refModel) out(key string, w TimeWindow, sum int64) string {
	return fmt.Sprintf("out %s %s %d @%d", key, w, sum, m.refTime(w))
}

func (m *refModel) element(key string, ts, val int64) []string {
	if m.spec.isMerging() {
		return m.sessionElement(key, ts, val)
	}
	var out []string
	added := false
	for _, w := range refWindows(m.spec, ts) {
		if m.refTime(w)+m.lateness <= m.wm {
			continue
		}
		added = true
		kw := keyWindow{key, w}
		m.sums[kw] += val
		if m.refTime(w) <= m.wm {
			out = append(out, m.out(key, w, m.sums[kw]))
		}
	}
	if !added {
		out = append(out, fmt.Sprintf("late %s @%d", key, ts))
	}
	return out
}

func (m *refModel) sessionElement(key string, ts, val int64) []string {
	gap := m.spec.size
	if m.gapOf != nil {
		gap = m.gapOf(val)
	}
	nw := TimeWindow{ts, ts + gap}
	result, sum := nw, val
	var kept []keyWindowSum
	for _, s := range m.sessions[key] {
		if s.w.Intersects(nw) {
			result, sum = result.Cover(s.w), sum+s.sum
		} else {
			kept = append(kept, s)
		}
	}
	if m.refTime(result)+m.lateness <= m.wm {
		return []string{fmt.Sprintf("late %s @%d", key, ts)}
	}
	m.sessions[key] = append(kept, keyWindowSum{result, sum})
	if m.refTime(result) <= m.wm {
		return []string{m.out(key, result, sum)}
	}
	return nil
}

func (m *refModel) watermark(wm int64) []string {
	if wm <= m.wm {
		return nil
	}
	var out []string
	due := func(w TimeWindow) bool { return m.refTime(w) > m.wm && m.refTime(w) <= wm }
	gone := func(w TimeWindow) bool { return addSat(m.refTime(w), m.lateness) <= wm }
	for kw, s := range m.sums {
		if due(kw.w) {
			out = append(out, m.out(kw.key, kw.w, s))
		}
		if gone(kw.w) {
			delete(m.sums, kw)
		}
	}
	for key, ss := range m.sessions {
		var kept []keyWindowSum
		for _, s := range ss {
			if due(s.w) {
				out = append(out, m.out(key, s.w, s.sum))
			}
			if !gone(s.w) {
				kept = append(kept, s)
			}
		}
		m.sessions[key] = kept
	}
	m.wm = wm
	return out
}

// runEquivalence drives the operator that factory builds and the
// reference over steps, and fails at the first step whose output differs
// (as multisets: the order across keys at one watermark is the engine's).
func runEquivalence(t *testing.T, seed uint64, desc string, steps []step, pebble bool,
	factory func() (engine.KeyedOperator[ev, string, string], error), ref *refModel) {
	t.Helper()
	runEquivalenceCache(t, seed, desc, steps, pebble, 0, factory, ref)
}

// runEquivalenceCache is runEquivalence with a state cache of cache
// entries (0: the default).
func runEquivalenceCache(t *testing.T, seed uint64, desc string, steps []step, pebble bool, cache int,
	factory func() (engine.KeyedOperator[ev, string, string], error), ref *refModel) {
	t.Helper()
	s := &scriptHarness{t: t, mode: scriptMode{pebble: pebble, cache: cache}, factory: factory, dir: t.TempDir()}
	if err := s.open(""); err != nil {
		t.Fatal(err)
	}
	defer s.close()
	restores, outs, lates := 0, 0, 0
	defer func() {
		t.Logf("%s: %d steps, %d results, %d late, %d restores", desc, len(steps), outs, lates, restores)
	}()
	for i, st := range steps {
		var want []string
		var err error
		switch st.kind {
		case 'e':
			want = ref.element(st.key, st.ts, st.val)
			err = s.h.ProcessElement(ev{Key: st.key, Val: st.val}, st.ts)
		case 'w':
			want = ref.watermark(st.ts)
			err = s.h.ProcessWatermark(st.ts)
		case 's':
			restores++
			err = s.restore()
		}
		if err != nil {
			t.Fatalf("seed %d %s: step %d: %v", seed, desc, i, err)
		}
		var got []string
		for _, r := range s.h.Output() {
			got = append(got, fmt.Sprintf("out %s @%d", r.Value, r.Time))
		}
		for _, r := range engine.SideOutputOf(s.h, LateDataTag[ev]()) {
			got = append(got, fmt.Sprintf("late %s @%d", r.Value.Key, r.Time))
		}
		s.h.ClearOutput()
		for _, g := range got {
			if g[0] == 'l' {
				lates++
			} else {
				outs++
			}
		}
		if g, w := sortedLines(got), sortedLines(want); !slices.Equal(g, w) {
			t.Fatalf("seed %d %s: step %d (%c %s %d, %d restores so far):\ngot:\n%s\nwant:\n%s",
				seed, desc, i, st.kind, st.key, st.ts, restores, joinLines(g), joinLines(w))
		}
	}
}

// sumOp builds a window operator summing ev.Val that prints like
// refModel.out.
func sumOp(w *WindowedStream[ev, string]) (func() (engine.KeyedOperator[ev, string, string], error), error) {
	spec := aggregateOp(w, Sum(func(e ev) int64 { return e.Val }), func() resultFunc[string, int64, string] {
		return func(key string, r int64, wc *WindowContext[string]) error {
			wc.Emit(fmt.Sprintf("%s %s %d", key, wc.Window(), r))
			return nil
		}
	})
	if err := spec.err(); err != nil {
		return nil, err
	}
	return func() (engine.KeyedOperator[ev, string, string], error) { return spec.newOp(), nil }, nil
}

// TestSlidingEquivalence: tumbling, sliding and cumulating windows, on
// slices and through the general operator, against the reference.
func TestSlidingEquivalence(t *testing.T) {
	seed := seedFrom(t)
	rng := rand.New(rand.NewPCG(seed, 4))
	for round := 0; round < 24; round++ {
		var a Assigner
		size := 2 + rng.Int64N(30)
		switch rng.IntN(4) {
		case 0:
			a = Tumbling(time.Duration(size) * time.Millisecond)
		case 1, 2:
			slide := 1 + rng.Int64N(size)
			a = Sliding(time.Duration(size)*time.Millisecond, time.Duration(slide)*time.Millisecond)
		case 3:
			step := 1 + rng.Int64N(6)
			a = Cumulate(time.Duration(step)*time.Millisecond, time.Duration(step*(1+rng.Int64N(6)))*time.Millisecond)
		}
		spec, err := a.spec()
		if err != nil {
			t.Fatal(err)
		}
		if rng.IntN(3) == 0 {
			period := spec.size
			if spec.kind == kindSliding {
				period = spec.slide
			}
			a = a.WithOffset(time.Duration(rng.Int64N(period)) * time.Millisecond)
			spec, _ = a.spec()
		}
		lateness := []int64{0, 0, 3, 20}[rng.IntN(4)]
		general := rng.IntN(3) == 0
		w := Window(testKeyed(), "operator", a).AllowedLateness(time.Duration(lateness) * time.Millisecond)
		if general {
			w.Trigger(EventTimeTrigger[ev]())
		}
		factory, err := sumOp(w)
		if err != nil {
			t.Fatal(err)
		}
		keys := 1 + rng.IntN(6)
		// Every third round the state cache holds fewer entries than
		// there are keys, so that the slice sets (the hot tier) spill to
		// the store and are read back between restores.
		cache := 0
		if round%3 == 1 {
			keys, cache = 6+rng.IntN(20), 1+rng.IntN(3)
		}
		steps := randomSteps(rng, 300+rng.IntN(700), keys, rng.Int64N(15))
		desc := fmt.Sprintf("round %d: %v lateness %d general %v cache %d", round, a, lateness, general, cache)
		runEquivalenceCache(t, seed, desc, steps, rng.IntN(8) == 0, cache, factory, newRefModel(spec, lateness))
	}
}

// TestSessionEquivalence: session windows (merging), with a fixed or a
// dynamic gap, against the reference.
func TestSessionEquivalence(t *testing.T) {
	seed := seedFrom(t)
	rng := rand.New(rand.NewPCG(seed, 5))
	for round := 0; round < 16; round++ {
		gap := 1 + rng.Int64N(12)
		a := Session(time.Duration(gap) * time.Millisecond)
		var gapOf func(int64) int64
		if rng.IntN(3) == 0 {
			gapOf = func(val int64) int64 { return 1 + val%gap } // val is 1..100
			a = DynamicSession(func(e ev) time.Duration { return time.Duration(gapOf(e.Val)) * time.Millisecond })
		}
		spec, _ := a.spec()
		lateness := []int64{0, 0, 3, 20}[rng.IntN(4)]
		w := Window(testKeyed(), "operator", a).AllowedLateness(time.Duration(lateness) * time.Millisecond)
		general := rng.IntN(3) == 0 // windowOp with its merging set, else sessionOp
		if general {
			w.Trigger(EventTimeTrigger[ev]())
		}
		factory, err := sumOp(w)
		if err != nil {
			t.Fatal(err)
		}
		// Sparse keys so that sessions both merge and close.
		steps := randomSteps(rng, 300+rng.IntN(700), 1+rng.IntN(12), rng.Int64N(15))
		desc := fmt.Sprintf("round %d: %v lateness %d general %v", round, a, lateness, general)
		if gapOf != nil {
			desc += fmt.Sprintf(" (gaps 1..%d ms)", gap)
		}
		ref := newRefModel(spec, lateness)
		ref.gapOf = gapOf
		runEquivalence(t, seed, desc, steps, rng.IntN(8) == 0, factory, ref)
	}
}

// TestIntervalJoinEquivalence joins random streams (bounded disorder,
// watermarks that never make a record late, restores at random points)
// and requires exactly the pairs a nested loop finds.
func TestIntervalJoinEquivalence(t *testing.T) {
	seed := seedFrom(t)
	rng := rand.New(rand.NewPCG(seed, 10))
	for round := 0; round < 8; round++ {
		lower := rng.Int64N(21) - 10
		upper := lower + rng.Int64N(15)
		two := intervalJoinOp(keyOfEv, keyOfEv, "operator", IntervalJoinOptions[ev, ev]{
			Lower: time.Duration(lower) * time.Millisecond, Upper: time.Duration(upper) * time.Millisecond,
			LeftCodec: evCodec, RightCodec: evCodec,
		}, JoinFunc[ev, ev, string](func(l, r ev, ctx *JoinContext[string]) error {
			ctx.Emit(fmt.Sprintf("%s %d+%d", l.Key, l.Val, r.Val))
			return nil
		}))
		s := &scriptHarness{t: t, mode: scriptMode{pebble: rng.IntN(6) == 0}, dir: t.TempDir(),
			factory: func() (engine.KeyedOperator[ev, string, string], error) { return &sidesOp{inner: two.newOp()}, nil }}
		if err := s.open(""); err != nil {
			t.Fatal(err)
		}
		const d = 8
		keys := 1 + rng.IntN(4)
		var recs []engine.Record[ev]
		var got []string
		maxTs := int64(0)
		for i := 0; i < 400+rng.IntN(400); i++ {
			ts := int64(i) - rng.Int64N(d)
			side := byte('L')
			if rng.IntN(2) == 0 {
				side = 'R'
			}
			e := ev{Key: fmt.Sprint("k", rng.IntN(keys)), Val: int64(i), Side: side}
			recs = append(recs, engine.Record[ev]{Value: e, Time: ts})
			if err := s.h.ProcessElement(e, ts); err != nil {
				t.Fatal(err)
			}
			maxTs = max(maxTs, ts)
			if rng.IntN(5) == 0 {
				if err := s.h.ProcessWatermark(maxTs - d); err != nil {
					t.Fatal(err)
				}
			}
			for _, r := range s.h.Output() {
				got = append(got, r.Value)
			}
			if late := append(engine.SideOutputOf(s.h, LateLeftTag[ev]()), engine.SideOutputOf(s.h, LateRightTag[ev]())...); len(late) > 0 {
				t.Fatalf("seed %d: late records %v", seed, late)
			}
			s.h.ClearOutput()
			if rng.IntN(100) == 0 {
				if err := s.restore(); err != nil {
					t.Fatal(err)
				}
			}
		}
		s.close()
		var want []string
		for _, a := range recs {
			for _, b := range recs {
				if a.Value.Side == 'L' && b.Value.Side == 'R' && a.Value.Key == b.Value.Key &&
					b.Time >= a.Time+lower && b.Time <= a.Time+upper {
					want = append(want, fmt.Sprintf("%s %d+%d", a.Value.Key, a.Value.Val, b.Value.Val))
				}
			}
		}
		if g, w := sortedLines(got), sortedLines(want); !slices.Equal(g, w) {
			t.Fatalf("seed %d round %d [%d, %d]: %d pairs, want %d\n%s", seed, round, lower, upper, len(g), len(w), diffLines(g, w))
		}
		t.Logf("round %d: bounds [%d, %d], %d pairs", round, lower, upper, len(want))
	}
}
