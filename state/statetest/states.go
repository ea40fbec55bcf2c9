package statetest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/clock"
	"github.com/sluicehq/sluice/state"
)

// keys routes int64 keys to key groups as the engine does.
type keys struct {
	codec state.Codec[int64]
	hash  func(int64) uint64
	maxP  int
}

func newKeys(maxP int) keys {
	c := state.MustCodecFor[int64]()
	return keys{codec: c, hash: state.KeyHasher(c), maxP: maxP}
}

func (ks keys) group(key int64) int { return state.KeyGroupForHash(ks.hash(key), ks.maxP) }

func (ks keys) set(b *state.Backend, key int64) {
	b.SetCurrentKey(ks.group(key), ks.codec.Append(nil, key))
}

func backend(t *testing.T, s state.Store, opts state.Options) *state.Backend {
	t.Helper()
	if opts.OperatorID == "" {
		opts.OperatorID = "op"
	}
	b, err := state.NewBackend(s, opts)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func newValue[V any](t *testing.T, b *state.Backend, name string, opts ...state.Option) *state.ValueState[V] {
	t.Helper()
	v, err := state.NewValueState(b, name, state.MustCodecFor[V](), opts...)
	must(t, err)
	return v
}

// avg is an Aggregator with a struct accumulator and a hand-written codec.
type avg struct{}

type avgAcc struct{ Sum, Count int64 }

func (avg) CreateAccumulator() avgAcc     { return avgAcc{} }
func (avg) Add(in int64, a avgAcc) avgAcc { return avgAcc{a.Sum + in, a.Count + 1} }
func (avg) Result(a avgAcc) float64       { return float64(a.Sum) / float64(a.Count) }
func (avg) Merge(a, b avgAcc) avgAcc      { return avgAcc{a.Sum + b.Sum, a.Count + b.Count} }
func appendAvgAcc(dst []byte, a avgAcc) []byte {
	return binary.AppendVarint(binary.AppendVarint(dst, a.Sum), a.Count)
}

func decodeAvgAcc(src []byte) (avgAcc, error) {
	s, n := binary.Varint(src)
	if n <= 0 {
		return avgAcc{}, state.ErrCorrupt
	}
	c, m := binary.Varint(src[n:])
	if m <= 0 || n+m != len(src) {
		return avgAcc{}, state.ErrCorrupt
	}
	return avgAcc{s, c}, nil
}

var avgCodec = state.FuncCodec[avgAcc]{AppendFunc: appendAvgAcc, DecodeFunc: decodeAvgAcc}

func runStates(t *testing.T, newStore NewStore) {
	t.Run("NoCurrentKey", func(t *testing.T) {
		b := backend(t, open(t, newStore), state.Options{})
		v := newValue[int64](t, b, "v")
		if _, _, err := v.Value(); !errors.Is(err, state.ErrNoCurrentKey) {
			t.Fatalf("Value without a key: %v", err)
		}
		if err := v.Update(1); !errors.Is(err, state.ErrNoCurrentKey) {
			t.Fatalf("Update without a key: %v", err)
		}
		if _, err := state.NewValueState(b, "v", state.MustCodecFor[int64]()); err == nil {
			t.Fatal("registering a state name twice succeeded")
		}
	})

	for _, cache := range []int{4, 1 << 16} {
		t.Run(fmt.Sprintf("ValueAgainstModel/cache=%d", cache), func(t *testing.T) {
			s := open(t, newStore)
			rng := Rand(t)
			ks := newKeys(state.DefaultMaxParallelism)
			b := backend(t, s, state.Options{CacheEntries: cache})
			vs := newValue[int64](t, b, "v")
			ss := newValue[string](t, b, "s")
			type mk struct {
				key int64
				ns  string
			}
			model := map[mk]int64{}
			smodel := map[int64]string{}
			nss := []string{"", "w1", "w2"}
			for i := 0; i < 6000; i++ {
				key, ns := rng.Int64N(400), nss[rng.IntN(len(nss))]
				ks.set(b, key)
				vs.SetNamespace([]byte(ns))
				got, ok, err := vs.Value()
				must(t, err)
				want, wok := model[mk{key, ns}]
				if ok != wok || got != want {
					t.Fatalf("step %d key %d ns %q: Value = %d,%v, model %d,%v", i, key, ns, got, ok, want, wok)
				}
				switch op := rng.IntN(10); {
				case op < 6:
					must(t, vs.Update(got+key+1))
					model[mk{key, ns}] = got + key + 1
				case op < 7:
					must(t, vs.Clear())
					delete(model, mk{key, ns})
				case op < 9:
					str := fmt.Sprint(rng.IntN(1000))
					must(t, ss.Update(str))
					smodel[key] = str
				default:
					if rng.IntN(20) == 0 {
						must(t, b.Flush())
					}
				}
			}
			must(t, b.Flush())
			// A new backend over the same store reads everything back from
			// the store alone.
			b2 := backend(t, s, state.Options{CacheEntries: 16})
			vs2, ss2 := newValue[int64](t, b2, "v"), newValue[string](t, b2, "s")
			for key := int64(0); key < 400; key++ {
				ks.set(b2, key)
				for _, ns := range nss {
					vs2.SetNamespace([]byte(ns))
					got, ok, err := vs2.Value()
					must(t, err)
					if want, wok := model[mk{key, ns}]; ok != wok || got != want {
						t.Fatalf("after reopen key %d ns %q: %d,%v, want %d,%v", key, ns, got, ok, want, wok)
					}
				}
				got, ok, err := ss2.Value()
				must(t, err)
				if want, wok := smodel[key]; ok != wok || got != want {
					t.Fatalf("after reopen key %d string: %q,%v, want %q,%v", key, got, ok, want, wok)
				}
			}
		})
	}

	t.Run("ListAgainstModel", func(t *testing.T) {
		s := open(t, newStore)
		rng := Rand(t)
		ks := newKeys(state.DefaultMaxParallelism)
		b := backend(t, s, state.Options{CacheEntries: 8})
		ls, err := state.NewListState(b, "l", state.MustCodecFor[string]())
		must(t, err)
		model := map[int64][]string{}
		for i := 0; i < 3000; i++ {
			key := rng.Int64N(100)
			ks.set(b, key)
			switch op := rng.IntN(10); {
			case op < 5:
				v := fmt.Sprint(i)
				must(t, ls.Add(v))
				model[key] = append(model[key], v)
			case op < 6:
				vs := []string{fmt.Sprint(i, "a"), "", fmt.Sprint(i, "b")}
				must(t, ls.AddAll(vs))
				model[key] = append(model[key], vs...)
			case op < 7:
				vs := []string{fmt.Sprint(i, "u")}
				if rng.IntN(3) == 0 {
					vs = nil
				}
				must(t, ls.Update(vs))
				model[key] = slices.Clone(vs)
			case op < 8:
				must(t, ls.Clear())
				delete(model, key)
			default:
				got, err := ls.Get()
				must(t, err)
				if !slices.Equal(got, model[key]) {
					t.Fatalf("step %d key %d: list %q, model %q", i, key, got, model[key])
				}
			}
		}
		must(t, b.Flush())
		b2 := backend(t, s, state.Options{})
		ls2, err := state.NewListState(b2, "l", state.MustCodecFor[string]())
		must(t, err)
		for key := int64(0); key < 100; key++ {
			ks.set(b2, key)
			got, err := ls2.Get()
			must(t, err)
			if !slices.Equal(got, model[key]) {
				t.Fatalf("after reopen key %d: %q, model %q", key, got, model[key])
			}
		}
	})

	t.Run("MapAgainstModel", func(t *testing.T) {
		s := open(t, newStore)
		rng := Rand(t)
		ks := newKeys(state.DefaultMaxParallelism)
		b := backend(t, s, state.Options{})
		ms, err := state.NewMapState(b, "m", state.MustCodecFor[int64](), state.MustCodecFor[string]())
		must(t, err)
		// A second map whose name extends the first's must not see its entries.
		ms2, err := state.NewMapState(b, "mm", state.MustCodecFor[int64](), state.MustCodecFor[string]())
		must(t, err)
		model := map[int64]map[int64]string{}
		for i := 0; i < 5000; i++ {
			key, uk := rng.Int64N(60), rng.Int64N(40)-20 // negative user keys too: order is numeric
			ks.set(b, key)
			switch op := rng.IntN(12); {
			case op < 5:
				v := fmt.Sprint(i)
				must(t, ms.Put(uk, v))
				if model[key] == nil {
					model[key] = map[int64]string{}
				}
				model[key][uk] = v
				must(t, ms2.Put(uk, "other"))
			case op < 7:
				must(t, ms.Remove(uk))
				delete(model[key], uk)
			case op < 8:
				must(t, ms.Clear())
				delete(model, key)
			case op < 9:
				empty, err := ms.IsEmpty()
				must(t, err)
				if empty != (len(model[key]) == 0) {
					t.Fatalf("step %d key %d: IsEmpty %v, model has %d entries", i, key, empty, len(model[key]))
				}
			case op < 10:
				v, ok, err := ms.Get(uk)
				must(t, err)
				w, wok := model[key][uk]
				if ok != wok || v != w {
					t.Fatalf("step %d key %d: Get(%d) = %q,%v, model %q,%v", i, key, uk, v, ok, w, wok)
				}
				if c, err := ms.Contains(uk); err != nil || c != wok {
					t.Fatalf("step %d: Contains(%d) = %v, %v", i, uk, c, err)
				}
			default:
				var gotK []int64
				must(t, ms.Range(func(uk int64, v string) bool {
					if model[key][uk] != v {
						t.Fatalf("step %d key %d: Range gave %d=%q, model %q", i, key, uk, v, model[key][uk])
					}
					gotK = append(gotK, uk)
					return true
				}))
				wantK := slices.Sorted(maps.Keys(model[key]))
				if !slices.Equal(gotK, wantK) {
					t.Fatalf("step %d key %d: Range keys %v, model %v (numeric order)", i, key, gotK, wantK)
				}
			}
			if rng.IntN(500) == 0 {
				must(t, b.Flush())
			}
		}
		// Range stops when fn returns false.
		for key, m := range model {
			if len(m) < 2 {
				continue
			}
			ks.set(b, key)
			n := 0
			must(t, ms.Range(func(int64, string) bool { n++; return false }))
			if n != 1 {
				t.Fatalf("Range went on after false: %d calls", n)
			}
			break
		}
	})

	t.Run("ReducingAndAggregating", func(t *testing.T) {
		s := open(t, newStore)
		rng := Rand(t)
		ks := newKeys(state.DefaultMaxParallelism)
		b := backend(t, s, state.Options{CacheEntries: 8})
		sum, err := state.NewReducingState(b, "sum", state.MustCodecFor[int64](), func(a, v int64) int64 { return a + v })
		must(t, err)
		mean, err := state.NewAggregatingState[int64, avgAcc, float64](b, "avg", avg{}, avgCodec)
		must(t, err)
		wantSum, wantAcc := map[int64]int64{}, map[int64]avgAcc{}
		for i := 0; i < 4000; i++ {
			key, v := rng.Int64N(200), rng.Int64N(1000)-500
			ks.set(b, key)
			must(t, sum.Add(v))
			must(t, mean.Add(v))
			wantSum[key] += v
			wantAcc[key] = avg{}.Add(v, wantAcc[key])
			if rng.IntN(50) == 0 {
				must(t, sum.Clear())
				delete(wantSum, key)
				extra := avgAcc{Sum: 10, Count: 2}
				must(t, mean.MergeAccumulator(extra))
				wantAcc[key] = avg{}.Merge(wantAcc[key], extra)
			}
		}
		must(t, b.Flush())
		b2 := backend(t, s, state.Options{})
		sum2, err := state.NewReducingState(b2, "sum", state.MustCodecFor[int64](), func(a, v int64) int64 { return a + v })
		must(t, err)
		mean2, err := state.NewAggregatingState[int64, avgAcc, float64](b2, "avg", avg{}, avgCodec)
		must(t, err)
		for key := int64(0); key < 200; key++ {
			ks.set(b2, key)
			got, ok, err := sum2.Get()
			must(t, err)
			if w, wok := wantSum[key]; ok != wok || got != w {
				t.Fatalf("key %d: sum %d,%v want %d,%v", key, got, ok, w, wok)
			}
			acc, ok, err := mean2.Accumulator()
			must(t, err)
			w, wok := wantAcc[key]
			if ok != wok || acc != w {
				t.Fatalf("key %d: accumulator %+v,%v want %+v,%v", key, acc, ok, w, wok)
			}
			if ok {
				r, _, err := mean2.Get()
				must(t, err)
				if want := (avg{}).Result(w); r != want {
					t.Fatalf("key %d: mean %v want %v", key, r, want)
				}
			}
		}
	})

	t.Run("Namespaces", func(t *testing.T) {
		s := open(t, newStore)
		ks := newKeys(state.DefaultMaxParallelism)
		b := backend(t, s, state.Options{})
		v := newValue[string](t, b, "v")
		l, err := state.NewListState(b, "l", state.MustCodecFor[int64]())
		must(t, err)
		m, err := state.NewMapState(b, "m", state.MustCodecFor[string](), state.MustCodecFor[int64]())
		must(t, err)
		ks.set(b, 1)
		for i, ns := range []string{"w1", "w2", ""} {
			v.SetNamespace([]byte(ns))
			l.SetNamespace([]byte(ns))
			m.SetNamespace([]byte(ns))
			must(t, v.Update("in "+ns))
			must(t, l.Add(int64(i)))
			must(t, m.Put("k", int64(i)))
		}
		v.SetNamespace([]byte("w1"))
		l.SetNamespace([]byte("w1"))
		m.SetNamespace([]byte("w1"))
		must(t, v.Clear())
		must(t, l.Clear())
		must(t, m.Clear())
		must(t, b.Flush())
		for i, ns := range []string{"w1", "w2", ""} {
			v.SetNamespace([]byte(ns))
			l.SetNamespace([]byte(ns))
			m.SetNamespace([]byte(ns))
			got, ok, err := v.Value()
			must(t, err)
			lst, err := l.Get()
			must(t, err)
			mv, mok, err := m.Get("k")
			must(t, err)
			if ns == "w1" {
				if ok || len(lst) != 0 || mok {
					t.Fatalf("namespace w1 not cleared: %q %v %v", got, lst, mok)
				}
				continue
			}
			if !ok || got != "in "+ns || !slices.Equal(lst, []int64{int64(i)}) || !mok || mv != int64(i) {
				t.Fatalf("namespace %q: value %q,%v list %v map %d,%v", ns, got, ok, lst, mv, mok)
			}
		}
	})

	t.Run("TTL", func(t *testing.T) {
		s := open(t, newStore)
		ks := newKeys(state.DefaultMaxParallelism)
		clk := clock.NewManual(time.Unix(1_700_000_000, 0))
		b := backend(t, s, state.Options{Clock: clk, CacheEntries: 4})
		ttl := state.WithTTL(state.TTL{TTL: time.Minute})
		v := newValue[int64](t, b, "v", ttl)
		r := newValue[int64](t, b, "r", state.WithTTL(state.TTL{TTL: time.Minute, UpdateOnRead: true}))
		l, err := state.NewListState(b, "l", state.MustCodecFor[int64](), ttl)
		must(t, err)
		m, err := state.NewMapState(b, "m", state.MustCodecFor[int64](), state.MustCodecFor[int64](), ttl)
		must(t, err)
		for key := int64(0); key < 20; key++ { // more keys than the cache holds
			ks.set(b, key)
			must(t, v.Update(key))
			must(t, r.Update(key))
			must(t, l.Add(key))
			must(t, m.Put(key, key))
		}
		must(t, b.Flush())
		present := func(b *state.Backend, v, r *state.ValueState[int64], key int64) (bool, bool) {
			ks.set(b, key)
			_, vok, err := v.Value()
			must(t, err)
			_, rok, err := r.Value()
			must(t, err)
			return vok, rok
		}
		clk.Advance(50 * time.Second)
		for key := int64(0); key < 20; key++ {
			if vok, rok := present(b, v, r, key); !vok || !rok {
				t.Fatalf("key %d expired early: %v %v", key, vok, rok)
			}
		}
		// The read at 50 s refreshed r; v expires at 60 s.
		must(t, b.Flush())
		clk.Advance(10 * time.Second)
		// A new backend over the store reads the stored timestamps.
		b2 := backend(t, s, state.Options{Clock: clk, CacheEntries: 4})
		v2 := newValue[int64](t, b2, "v", ttl)
		r2 := newValue[int64](t, b2, "r", state.WithTTL(state.TTL{TTL: time.Minute, UpdateOnRead: true}))
		l2, err := state.NewListState(b2, "l", state.MustCodecFor[int64](), ttl)
		must(t, err)
		m2, err := state.NewMapState(b2, "m", state.MustCodecFor[int64](), state.MustCodecFor[int64](), ttl)
		must(t, err)
		for key := int64(0); key < 20; key++ {
			vok, rok := present(b2, v2, r2, key)
			if vok || !rok {
				t.Fatalf("key %d at 60 s: value present %v (want expired), read-refreshed present %v (want present)", key, vok, rok)
			}
			lst, err := l2.Get()
			must(t, err)
			_, mok, err := m2.Get(key)
			must(t, err)
			if len(lst) != 0 || mok {
				t.Fatalf("key %d at 60 s: list %v, map entry %v: want both expired", key, lst, mok)
			}
			empty, err := m2.IsEmpty()
			must(t, err)
			if !empty {
				t.Fatalf("key %d at 60 s: Range shows an expired map entry", key)
			}
		}
		clk.Advance(60 * time.Second)
		for key := int64(0); key < 20; key++ {
			if _, rok := present(b2, v2, r2, key); rok {
				t.Fatalf("key %d: read-refreshed value outlived its refreshed TTL", key)
			}
		}
		// A value written after expiry lives again.
		ks.set(b2, 3)
		must(t, v2.Update(33))
		if got, ok, _ := v2.Value(); !ok || got != 33 {
			t.Fatalf("rewrite after expiry: %d,%v", got, ok)
		}
	})

	t.Run("EvictionAcrossStates", func(t *testing.T) {
		s := open(t, newStore)
		rng := Rand(t)
		ks := newKeys(state.DefaultMaxParallelism)
		b := backend(t, s, state.Options{CacheEntries: 3})
		a, c := newValue[int64](t, b, "a"), newValue[int64](t, b, "c")
		wa, wc := map[int64]int64{}, map[int64]int64{}
		for i := 0; i < 5000; i++ {
			key := rng.Int64N(1000)
			ks.set(b, key)
			st, w := a, wa
			if rng.IntN(2) == 0 {
				st, w = c, wc
			}
			got, _, err := st.Value()
			must(t, err)
			if got != w[key] {
				t.Fatalf("step %d key %d: %d want %d", i, key, got, w[key])
			}
			must(t, st.Update(got+1))
			w[key] = got + 1
		}
		must(t, b.Flush())
		b2 := backend(t, s, state.Options{CacheEntries: 3})
		a2, c2 := newValue[int64](t, b2, "a"), newValue[int64](t, b2, "c")
		for key := int64(0); key < 1000; key++ {
			ks.set(b2, key)
			ga, _, err := a2.Value()
			must(t, err)
			gc, _, err := c2.Value()
			must(t, err)
			if ga != wa[key] || gc != wc[key] {
				t.Fatalf("after reopen key %d: %d/%d want %d/%d", key, ga, gc, wa[key], wc[key])
			}
		}
	})

	t.Run("OperatorsIsolated", func(t *testing.T) {
		s := open(t, newStore)
		ks := newKeys(state.DefaultMaxParallelism)
		b1 := backend(t, s, state.Options{OperatorID: "op"})
		b2 := backend(t, s, state.Options{OperatorID: "op2"})
		v1, v2 := newValue[int64](t, b1, "v"), newValue[int64](t, b2, "v")
		for key := int64(0); key < 50; key++ {
			ks.set(b1, key)
			ks.set(b2, key)
			must(t, v1.Update(key))
			must(t, v2.Update(-key))
		}
		must(t, b1.Flush())
		must(t, b2.Flush())
		b3 := backend(t, s, state.Options{OperatorID: "op"})
		v3 := newValue[int64](t, b3, "v")
		for key := int64(0); key < 50; key++ {
			ks.set(b3, key)
			if got, _, _ := v3.Value(); got != key {
				t.Fatalf("operator op key %d: %d", key, got)
			}
		}
	})

	t.Run("Timers", func(t *testing.T) { runTimers(t, newStore) })
}

type timerID struct {
	ts  int64
	key int64
	ns  string
}

// runTimers checks timer queues: time order, dedup, deletes, more timers
// per key group than the in-memory buffer holds, registrations while
// popping, and a reload from the store.
func runTimers(t *testing.T, newStore NewStore) {
	s := open(t, newStore)
	rng := Rand(t)
	const maxP = 16
	ks := newKeys(maxP)
	own := state.KeyGroupRangeFor(maxP, 2, 1) // a subtask that owns half the key groups
	var owned []int64
	for key := int64(0); len(owned) < 40; key++ {
		if own.Contains(ks.group(key)) {
			owned = append(owned, key)
		}
	}
	b := backend(t, s, state.Options{MaxParallelism: maxP, KeyGroups: own})
	q, err := state.NewTimerQueue(b, "event")
	must(t, err)
	p, err := state.NewTimerQueue(b, "processing")
	must(t, err)
	live := map[timerID]bool{}
	register := func(id timerID) {
		ks.set(b, id.key)
		must(t, q.Register(id.ts, []byte(id.ns)))
		live[id] = true
	}
	for i := 0; i < 3000; i++ { // ~75 per key: beyond the per-group buffer
		register(timerID{rng.Int64N(2000) - 1000, owned[rng.IntN(len(owned))], []string{"", "w"}[rng.IntN(2)]})
	}
	for id := range live { // a registration again is a no-op
		if rng.IntN(4) == 0 {
			register(id)
		}
	}
	ks.set(b, owned[0])
	must(t, p.Register(5, nil)) // another queue is independent
	for id := range live {
		if rng.IntN(3) == 0 {
			ks.set(b, id.key)
			must(t, q.Delete(id.ts, []byte(id.ns)))
			delete(live, id)
		}
	}
	ks.set(b, owned[1])
	must(t, q.Delete(123456, []byte("none"))) // deleting a missing timer is a no-op

	pop := func(q *state.TimerQueue, upTo int64, during func(last int64)) []timerID {
		var out []timerID
		last := int64(-1 << 62)
		for {
			tm, ok, err := q.Pop(upTo)
			must(t, err)
			if !ok {
				return out
			}
			key, err := ks.codec.Decode(tm.Key)
			must(t, err)
			if tm.Time < last {
				t.Fatalf("timer at %d popped after %d", tm.Time, last)
			}
			if tm.KeyGroup != ks.group(key) {
				t.Fatalf("timer of key %d: key group %d, want %d", key, tm.KeyGroup, ks.group(key))
			}
			last = tm.Time
			out = append(out, timerID{tm.Time, key, string(tm.Namespace)})
			if during != nil {
				during(last)
			}
		}
	}
	check := func(got []timerID, upTo int64) {
		t.Helper()
		seen := map[timerID]bool{}
		for _, id := range got {
			if !live[id] || seen[id] {
				t.Fatalf("popped %+v: unknown, deleted or duplicate", id)
			}
			seen[id] = true
			delete(live, id)
		}
		for id := range live {
			if id.ts <= upTo {
				t.Fatalf("timer %+v not popped by %d", id, upTo)
			}
		}
	}
	// Pop to 0, registering timers at the current time and later while
	// popping (as OnTimer does).
	added := 0
	got := pop(q, 0, func(last int64) {
		if added < 200 && rng.IntN(5) == 0 {
			added++
			register(timerID{last + rng.Int64N(50), owned[rng.IntN(len(owned))], fmt.Sprint("late", added)})
		}
	})
	check(got, 0)
	if ts, ok := q.Peek(); len(live) > 0 && (!ok || ts <= 0) {
		t.Fatalf("Peek = %d,%v after popping to 0", ts, ok)
	}
	must(t, b.Flush())

	// A new backend over the same store sees the remaining timers.
	b2 := backend(t, s, state.Options{MaxParallelism: maxP, KeyGroups: own})
	q2, err := state.NewTimerQueue(b2, "event")
	must(t, err)
	p2, err := state.NewTimerQueue(b2, "processing")
	must(t, err)
	check(pop(q2, 1<<40, nil), 1<<40)
	if len(live) != 0 {
		t.Fatalf("%d timers left", len(live))
	}
	if tm, ok, err := p2.Pop(1 << 40); err != nil || !ok || tm.Time != 5 {
		t.Fatalf("processing queue: %+v %v %v", tm, ok, err)
	}
	if _, ok := q2.Peek(); ok {
		t.Fatal("Peek on an empty queue reported a timer")
	}
}
