package state

import (
	"math/rand/v2"
	"testing"

	"github.com/sluicehq/sluice/internal/testseed"
)

// TestHotValueStateSpillsAndReadsBack drives a hot tier far smaller than its
// key count with random reads, in-place changes, updates and clears, and
// checks every read against a map; then a ValueState of the same name over
// the same store reads the same values (the layout and encoding are
// shared), and a hot tier reads what a ValueState wrote.
func TestHotValueStateSpillsAndReadsBack(t *testing.T) {
	seed := testseed.Seed(t)
	rng := rand.New(rand.NewPCG(seed, 7))
	store := NewMemStore()
	b, err := NewBackend(store, Options{OperatorID: "op", CacheEntries: 16})
	if err != nil {
		t.Fatal(err)
	}
	hs, err := NewHotValueState[int64](b, "sum", MustCodecFor[int64]())
	if err != nil {
		t.Fatal(err)
	}
	want := map[int64]int64{}
	for i := 0; i < 20000; i++ {
		k := rng.Int64N(500)
		setKey(b, k)
		w, ok := want[k]
		switch op := rng.IntN(10); {
		case op < 6:
			p, was, err := hs.Ref(k)
			if err != nil {
				t.Fatal(err)
			}
			if was != ok || *p != w {
				t.Fatalf("step %d key %d: Ref got (%d, %v), want (%d, %v)", i, k, *p, was, w, ok)
			}
			*p += k + 1
			want[k] = *p
		case op < 8:
			v, was, err := hs.Get(k)
			if err != nil {
				t.Fatal(err)
			}
			if was != ok || v != w {
				t.Fatalf("step %d key %d: Get got (%d, %v), want (%d, %v)", i, k, v, was, w, ok)
			}
		case op < 9:
			if err := hs.Update(k, int64(i)); err != nil {
				t.Fatal(err)
			}
			want[k] = int64(i)
		default:
			if err := hs.Clear(k); err != nil {
				t.Fatal(err)
			}
			delete(want, k)
		}
		if b.cached > 16 {
			t.Fatalf("step %d: cache holds %d entries, budget 16", i, b.cached)
		}
		if rng.IntN(2000) == 0 {
			if err := b.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}

	b2, err := NewBackend(store, Options{OperatorID: "op", CacheEntries: 1 << 10})
	if err != nil {
		t.Fatal(err)
	}
	vs, err := NewValueState(b2, "sum", MustCodecFor[int64]())
	if err != nil {
		t.Fatal(err)
	}
	for k := int64(0); k < 500; k++ {
		setKey(b2, k)
		v, ok, err := vs.Value()
		if err != nil {
			t.Fatal(err)
		}
		if w, wok := want[k]; ok != wok || v != w {
			t.Fatalf("ValueState key %d: got (%d, %v), want (%d, %v)", k, v, ok, w, wok)
		}
		if err := vs.Update(v * 3); err != nil {
			t.Fatal(err)
		}
		want[k] = v * 3
	}
	if err := b2.Flush(); err != nil {
		t.Fatal(err)
	}

	b3, err := NewBackend(store, Options{OperatorID: "op", CacheEntries: 8})
	if err != nil {
		t.Fatal(err)
	}
	hs3, err := NewHotValueState[int64](b3, "sum", MustCodecFor[int64]())
	if err != nil {
		t.Fatal(err)
	}
	for k := int64(0); k < 500; k++ {
		setKey(b3, k)
		v, _, err := hs3.Get(k)
		if err != nil {
			t.Fatal(err)
		}
		if v != want[k] {
			t.Fatalf("hot tier over ValueState's writes, key %d: got %d, want %d", k, v, want[k])
		}
	}
}

// TestHotValueStateCheckpointOverlay checks that a checkpoint's overlay
// carries the hot tier's dirty entries as a ValueState's would: applied to
// a fresh store, it gives the same values.
func TestHotValueStateCheckpointOverlay(t *testing.T) {
	b := newTestBackend(t, 1<<10)
	hs, err := NewHotValueState[int64](b, "sum", MustCodecFor[int64]())
	if err != nil {
		t.Fatal(err)
	}
	for k := int64(0); k < 100; k++ {
		setKey(b, k)
		p, _, err := hs.Ref(k)
		if err != nil {
			t.Fatal(err)
		}
		*p = k * k
	}
	setKey(b, 7)
	if err := hs.Clear(7); err != nil {
		t.Fatal(err)
	}
	w := NewOverlayWriter()
	if err := b.AppendDirty(w); err != nil {
		t.Fatal(err)
	}
	if got := w.Len(); got != 100 {
		t.Fatalf("overlay holds %d entries, want 100 (99 sets, 1 delete)", got)
	}
	ReleaseOverlay(w.Finish())
	// The entries stay dirty and reach the store at Flush.
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	b2, err := NewBackend(b.store, Options{OperatorID: "op"})
	if err != nil {
		t.Fatal(err)
	}
	vs, err := NewValueState(b2, "sum", MustCodecFor[int64]())
	if err != nil {
		t.Fatal(err)
	}
	for k := int64(0); k < 100; k++ {
		setKey(b2, k)
		v, ok, err := vs.Value()
		if err != nil {
			t.Fatal(err)
		}
		if wantOK := k != 7; ok != wantOK || (ok && v != k*k) {
			t.Fatalf("key %d: got (%d, %v)", k, v, ok)
		}
	}
}

// TestHotValueStateHitAllocatesNothing: a record whose key is in the tier
// allocates nothing.
func TestHotValueStateHitAllocatesNothing(t *testing.T) {
	b := newTestBackend(t, 1<<10)
	hs, err := NewHotValueState[int64](b, "sum", MustCodecFor[int64]())
	if err != nil {
		t.Fatal(err)
	}
	keys := make([][]byte, 64)
	for k := range keys {
		setKey(b, int64(k))
		keys[k], _ = b.CurrentKey()
		keys[k] = append([]byte(nil), keys[k]...)
		if _, _, err := hs.Ref(int64(k)); err != nil {
			t.Fatal(err)
		}
	}
	i := 0
	allocs := testing.AllocsPerRun(1000, func() {
		k := i % len(keys)
		i++
		b.SetCurrentKey(0, keys[k])
		p, _, err := hs.Ref(int64(k))
		if err != nil {
			t.Fatal(err)
		}
		*p++
	})
	if allocs != 0 {
		t.Fatalf("%.1f allocations per hit, want 0", allocs)
	}
}
