package state

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/clock"
)

func newTestBackend(t *testing.T, cache int) *Backend {
	t.Helper()
	b, err := NewBackend(NewMemStore(), Options{OperatorID: "op", CacheEntries: cache})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func setKey(b *Backend, k int64) {
	key := MustCodecFor[int64]().Append(nil, k)
	b.SetCurrentKey(KeyGroupForHash(KeyHasher(MustCodecFor[int64]())(k), b.opts.MaxParallelism), key)
}

// TestValueStateSurvivesEviction checks that a cache much smaller than the
// key count still returns every key's latest value, before and after Flush.
func TestValueStateSurvivesEviction(t *testing.T) {
	b := newTestBackend(t, 16)
	vs, err := NewValueState(b, "sum", MustCodecFor[int64]())
	if err != nil {
		t.Fatal(err)
	}
	want := map[int64]int64{}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 5000; i++ {
		k := rng.Int64N(300)
		setKey(b, k)
		v, _, err := vs.Value()
		if err != nil {
			t.Fatal(err)
		}
		if v != want[k] {
			t.Fatalf("key %d: got %d, want %d (step %d)", k, v, want[k], i)
		}
		if err := vs.Update(v + k); err != nil {
			t.Fatal(err)
		}
		want[k] = v + k
		if i%1000 == 999 {
			if err := b.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if b.cached > 16 {
		t.Fatalf("cache holds %d entries, budget 16", b.cached)
	}
	// A fresh backend over the same store sees what was flushed.
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	b2, _ := NewBackend(b.store, Options{OperatorID: "op"})
	vs2, _ := NewValueState(b2, "sum", MustCodecFor[int64]())
	for k, w := range want {
		setKey(b2, k)
		if v, ok, _ := vs2.Value(); !ok || v != w {
			t.Fatalf("after reopen key %d: got %d,%v want %d", k, v, ok, w)
		}
	}
}

func TestTimerQueueOrderAndDedup(t *testing.T) {
	b := newTestBackend(t, 1024)
	q, err := NewTimerQueue(b, "event")
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	type tk struct {
		ts int64
		k  int64
	}
	set := map[tk]bool{}
	for i := 0; i < 3000; i++ {
		k, ts := rng.Int64N(50), rng.Int64N(1000)
		setKey(b, k)
		if err := q.Register(ts, []byte("w")); err != nil {
			t.Fatal(err)
		}
		set[tk{ts, k}] = true
	}
	// Delete a third.
	for x := range set {
		if x.k%3 == 0 {
			setKey(b, x.k)
			if err := q.Delete(x.ts, []byte("w")); err != nil {
				t.Fatal(err)
			}
			delete(set, x)
		}
	}
	var got []int64
	for {
		tm, ok, err := q.Pop(500)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		k, _ := MustCodecFor[int64]().Decode(tm.Key)
		if !set[tk{tm.Time, k}] {
			t.Fatalf("popped unknown or duplicate timer %d/%d", tm.Time, k)
		}
		delete(set, tk{tm.Time, k})
		if string(tm.Namespace) != "w" {
			t.Fatalf("namespace %q", tm.Namespace)
		}
		got = append(got, tm.Time)
	}
	if !slices.IsSorted(got) {
		t.Fatal("timers not popped in time order")
	}
	for x := range set {
		if x.ts <= 500 {
			t.Fatalf("timer %v not popped", x)
		}
	}
	if ts, ok := q.Peek(); !ok || ts <= 500 {
		t.Fatalf("peek = %d,%v", ts, ok)
	}
	// Reload from the store gives the same remaining timers.
	q2, _ := NewTimerQueue(newBackendOver(t, b.store), "event")
	n := 0
	for {
		_, ok, err := q2.Pop(1 << 40)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		n++
	}
	if n != len(set) {
		t.Fatalf("reloaded queue has %d timers, want %d", n, len(set))
	}
}

func newBackendOver(t *testing.T, s Store) *Backend {
	b, err := NewBackend(s, Options{OperatorID: "op"})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestTTLExpiry(t *testing.T) {
	clk := clock.NewManual(time.Unix(1000, 0))
	b, _ := NewBackend(NewMemStore(), Options{OperatorID: "op", Clock: clk})
	vs, _ := NewValueState(b, "v", MustCodecFor[string](), WithTTL(TTL{TTL: time.Minute}))
	ms, _ := NewMapState(b, "m", MustCodecFor[int64](), MustCodecFor[string](), WithTTL(TTL{TTL: time.Minute}))
	setKey(b, 7)
	_ = vs.Update("x")
	_ = ms.Put(1, "a")
	clk.Advance(59 * time.Second)
	if v, ok, _ := vs.Value(); !ok || v != "x" {
		t.Fatal("value expired early")
	}
	clk.Advance(time.Second)
	if _, ok, _ := vs.Value(); ok {
		t.Fatal("value did not expire")
	}
	if _, ok, _ := ms.Get(1); ok {
		t.Fatal("map entry did not expire")
	}
}

func TestListAndMapState(t *testing.T) {
	b := newTestBackend(t, 4)
	ls, _ := NewListState(b, "l", MustCodecFor[string]())
	ms, _ := NewMapState(b, "m", MustCodecFor[int64](), MustCodecFor[string]())
	for k := int64(0); k < 20; k++ {
		setKey(b, k)
		for i := int64(0); i < k%4; i++ {
			_ = ls.Add(fmt.Sprint(k, i))
			_ = ms.Put(10-i, fmt.Sprint(i))
		}
	}
	for k := int64(0); k < 20; k++ {
		setKey(b, k)
		l, err := ls.Get()
		if err != nil || len(l) != int(k%4) {
			t.Fatalf("key %d list %v %v", k, l, err)
		}
		var keys []int64
		_ = ms.Range(func(uk int64, _ string) bool { keys = append(keys, uk); return true })
		if len(keys) != int(k%4) || !slices.IsSorted(keys) {
			t.Fatalf("key %d map keys %v", k, keys)
		}
	}
	setKey(b, 3)
	_ = ms.Clear()
	if e, _ := ms.IsEmpty(); !e {
		t.Fatal("map not cleared")
	}
}

func TestKeyGroupRanges(t *testing.T) {
	for _, maxP := range []int{1, 7, 128, 1000} {
		for p := 1; p <= min(maxP, 9); p++ {
			next := 0
			for i := 0; i < p; i++ {
				r := KeyGroupRangeFor(maxP, p, i)
				if r.Start != next || r.Len() == 0 {
					t.Fatalf("maxP %d p %d subtask %d: range %v, want start %d", maxP, p, i, r, next)
				}
				for kg := r.Start; kg <= r.End; kg++ {
					if SubtaskForKeyGroup(maxP, p, kg) != i {
						t.Fatalf("kg %d maps to %d, range says %d", kg, SubtaskForKeyGroup(maxP, p, kg), i)
					}
				}
				next = r.End + 1
			}
			if next != maxP {
				t.Fatalf("ranges end at %d, want %d", next, maxP)
			}
		}
	}
}

func TestCodecsRoundTripAndOrder(t *testing.T) {
	type UserID string
	c := MustCodecFor[UserID]()
	if v, _ := c.Decode(c.Append(nil, "ab")); v != "ab" {
		t.Fatal(v)
	}
	ic := MustCodecFor[int64]()
	vals := []int64{-1 << 62, -5, -1, 0, 1, 7, 1 << 61}
	for i := 1; i < len(vals); i++ {
		if string(ic.Append(nil, vals[i-1])) >= string(ic.Append(nil, vals[i])) {
			t.Fatalf("int64 encoding not order-preserving at %d", vals[i])
		}
	}
	fc := MustCodecFor[float64]()
	if v, _ := fc.Decode(fc.Append(nil, 2.5)); v != 2.5 {
		t.Fatal(v)
	}
	if _, err := CodecFor[struct{ A int }](); err == nil {
		t.Fatal("struct should have no built-in codec")
	}
	if _, err := ic.Decode([]byte{1}); err == nil {
		t.Fatal("short int64 should fail to decode")
	}
}

func TestWithMaxCachedBoundsOneState(t *testing.T) {
	b := newTestBackend(t, 1<<16)
	big, _ := NewValueState(b, "big", MustCodecFor[string](), WithMaxCached(10))
	small, _ := NewValueState(b, "small", MustCodecFor[int64]())
	for k := int64(0); k < 500; k++ {
		setKey(b, k)
		if err := big.Update(fmt.Sprint("model-", k)); err != nil {
			t.Fatal(err)
		}
		_ = small.Update(k)
		if n := len(big.c.m); n > 10 {
			t.Fatalf("big state caches %d entries, cap 10", n)
		}
	}
	for k := int64(0); k < 500; k++ {
		setKey(b, k)
		if v, ok, _ := big.Value(); !ok || v != fmt.Sprint("model-", k) {
			t.Fatalf("key %d: %q %v", k, v, ok)
		}
	}
	if len(small.c.m) < 400 {
		t.Fatalf("the uncapped state was evicted too: %d entries", len(small.c.m))
	}
}

// TestOverlayCapturesDirtyEntries: a store snapshot plus the overlay of the
// dirty cache entries equals the backend's state, with deletes.
func TestOverlayCapturesDirtyEntries(t *testing.T) {
	b := newTestBackend(t, 1<<16)
	vs, _ := NewValueState(b, "v", MustCodecFor[int64]())
	for k := int64(0); k < 100; k++ {
		setKey(b, k)
		_ = vs.Update(k)
	}
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	for k := int64(0); k < 100; k += 2 {
		setKey(b, k)
		if k%4 == 0 {
			_ = vs.Clear()
		} else {
			_ = vs.Update(k * 10)
		}
	}
	w := NewOverlayWriter()
	if err := b.AppendDirty(w); err != nil {
		t.Fatal(err)
	}
	if w.Len() != 50 {
		t.Fatalf("overlay has %d entries, want 50 dirty", w.Len())
	}
	data := bytes.Join(w.Finish(), nil)
	base := b.store.(*MemStore).Snapshot()
	if err := ApplyOverlay(base, "test", data, KeyGroupRange{Start: 0, End: 127}); err != nil {
		t.Fatal(err)
	}
	b2 := newBackendOver(t, base)
	vs2, _ := NewValueState(b2, "v", MustCodecFor[int64]())
	for k := int64(0); k < 100; k++ {
		setKey(b2, k)
		v, ok, _ := vs2.Value()
		switch {
		case k%4 == 0:
			if ok {
				t.Fatalf("key %d should be deleted", k)
			}
		case k%2 == 0:
			if v != k*10 {
				t.Fatalf("key %d = %d", k, v)
			}
		default:
			if v != k {
				t.Fatalf("key %d = %d", k, v)
			}
		}
	}
	data[len(data)-10] ^= 1
	if err := CheckOverlay("x", data); err == nil {
		t.Fatal("damaged overlay accepted")
	}
}

// TestFreezeDirtyCopiesOnWrite: entries frozen for a checkpoint keep the
// values they had at the freeze while the backend goes on changing them on
// another goroutine; the overlay holds exactly the frozen values.
func TestFreezeDirtyCopiesOnWrite(t *testing.T) {
	b := newTestBackend(t, 1<<16)
	vs, _ := NewValueState(b, "n", MustCodecFor[int64]())
	ls, _ := NewListState(b, "l", MustCodecFor[int64]())
	for k := int64(0); k < 1000; k++ {
		setKey(b, k)
		_ = vs.Update(k)
		_ = ls.Add(k)
	}
	base := b.store.(*MemStore).Snapshot()
	encode := b.FreezeDirty()
	done := make(chan [][]byte)
	go func() { done <- encode() }()
	// Change every key while the encoding runs.
	for k := int64(0); k < 1000; k++ {
		setKey(b, k)
		_ = vs.Update(-k)
		_ = ls.Add(-k)
		if k%3 == 0 {
			_ = vs.Clear()
		}
	}
	ov := bytes.Join(<-done, nil)
	if err := ApplyOverlay(base, "t", ov, KeyGroupRange{Start: 0, End: 127}); err != nil {
		t.Fatal(err)
	}
	b2 := newBackendOver(t, base)
	vs2, _ := NewValueState(b2, "n", MustCodecFor[int64]())
	ls2, _ := NewListState(b2, "l", MustCodecFor[int64]())
	for k := int64(0); k < 1000; k++ {
		setKey(b2, k)
		if v, ok, _ := vs2.Value(); !ok || v != k {
			t.Fatalf("key %d: snapshot has %d,%v, want the frozen %d", k, v, ok, k)
		}
		if l, _ := ls2.Get(); len(l) != 1 || l[0] != k {
			t.Fatalf("key %d: snapshot list %v", k, l)
		}
	}
	// The live backend has the new values.
	for k := int64(0); k < 1000; k++ {
		setKey(b, k)
		v, ok, _ := vs.Value()
		if k%3 == 0 && ok || k%3 != 0 && v != -k {
			t.Fatalf("live key %d: %d,%v", k, v, ok)
		}
	}
}
