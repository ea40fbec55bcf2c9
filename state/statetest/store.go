package statetest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/sluicehq/sluice/internal/testseed"
	"github.com/sluicehq/sluice/state"
)

// NewStore makes an empty store for one check. The suite closes it.
type NewStore func(t *testing.T) state.Store

// Run runs the Store contract checks and the typed-state checks against
// stores made by newStore.
func Run(t *testing.T, newStore NewStore) {
	t.Run("Store", func(t *testing.T) { runStore(t, newStore) })
	t.Run("States", func(t *testing.T) { runStates(t, newStore) })
}

// open makes a store and closes it when the test ends.
func open(t *testing.T, newStore NewStore) state.Store {
	t.Helper()
	s := newStore(t)
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// Rand returns a generator seeded by internal/testseed: SLUICE_SEED when it
// is set (to replay a failure), else the clock; the seed is logged.
func Rand(t *testing.T) *rand.Rand {
	t.Helper()
	seed := testseed.Seed(t)
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

// k builds a layout-conforming key: a two-byte key group, then rest.
func k(kg int, rest string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, uint16(kg)), rest...)
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func get(t *testing.T, s state.Store, key []byte) ([]byte, bool) {
	t.Helper()
	v, ok, err := s.Get(key)
	if err != nil {
		t.Fatalf("Get(%x): %v", key, err)
	}
	return v, ok
}

type kv struct{ k, v []byte }

func scan(t *testing.T, s state.Store, lower, upper []byte) []kv {
	t.Helper()
	var out []kv
	err := s.Scan(lower, upper, func(key, value []byte) bool {
		out = append(out, kv{bytes.Clone(key), bytes.Clone(value)})
		return true
	})
	if err != nil {
		t.Fatalf("Scan(%x, %x): %v", lower, upper, err)
	}
	return out
}

func runStore(t *testing.T, newStore NewStore) {
	t.Run("GetSetDelete", func(t *testing.T) {
		s := open(t, newStore)
		if v, ok := get(t, s, k(1, "a")); ok || v != nil {
			t.Fatalf("missing key: got %q, %v", v, ok)
		}
		must(t, s.Set(k(1, "a"), []byte("x")))
		if v, ok := get(t, s, k(1, "a")); !ok || string(v) != "x" {
			t.Fatalf("after Set: got %q, %v", v, ok)
		}
		must(t, s.Set(k(1, "a"), []byte("yy")))
		if v, _ := get(t, s, k(1, "a")); string(v) != "yy" {
			t.Fatalf("after overwrite: got %q", v)
		}
		must(t, s.Set(k(1, "empty"), nil))
		if v, ok := get(t, s, k(1, "empty")); !ok || len(v) != 0 {
			t.Fatalf("empty value: got %q, %v; an empty value is present, unlike a missing key", v, ok)
		}
		must(t, s.Delete(k(1, "a")))
		if _, ok := get(t, s, k(1, "a")); ok {
			t.Fatal("key present after Delete")
		}
		must(t, s.Delete(k(1, "never")))
		must(t, s.Flush())
		if _, ok := get(t, s, k(1, "empty")); !ok {
			t.Fatal("empty value lost by Flush")
		}
	})

	t.Run("CopiesInAndOut", func(t *testing.T) {
		s := open(t, newStore)
		key, val := k(2, "key"), []byte("value")
		must(t, s.Set(key, val))
		key[2], val[0] = 'X', 'X' // the store must have copied both
		if v, ok := get(t, s, k(2, "key")); !ok || string(v) != "value" {
			t.Fatalf("store kept the caller's buffers: got %q, %v", v, ok)
		}
		v, _ := get(t, s, k(2, "key"))
		v[0] = 'Z' // Get returns a copy
		if v2, _ := get(t, s, k(2, "key")); string(v2) != "value" {
			t.Fatalf("Get returned the store's own buffer: now %q", v2)
		}
		must(t, s.Flush())
		v, _ = get(t, s, k(2, "key"))
		v[0] = 'Z'
		if v2, _ := get(t, s, k(2, "key")); string(v2) != "value" {
			t.Fatalf("Get after Flush returned the store's own buffer: now %q", v2)
		}
	})

	t.Run("ScanOrderAndBounds", func(t *testing.T) {
		s := open(t, newStore)
		rng := Rand(t)
		keys := [][]byte{
			k(0, ""), k(0, "\x00"), k(0, "a"), k(0, "a\x00"), k(0, "a\xff"), k(0, "b"),
			k(1, ""), k(1, "z"), k(255, "m"), k(256, ""), k(256, "\xff\xff"), k(state.MaxMaxParallelism-1, "last"),
		}
		for _, i := range rng.Perm(len(keys)) {
			must(t, s.Set(keys[i], []byte(fmt.Sprintf("v%x", keys[i]))))
		}
		check := func(lower, upper []byte, want [][]byte) {
			t.Helper()
			got := scan(t, s, lower, upper)
			if len(got) != len(want) {
				t.Fatalf("Scan(%x, %x): %d keys, want %d", lower, upper, len(got), len(want))
			}
			for i := range got {
				if !bytes.Equal(got[i].k, want[i]) || string(got[i].v) != fmt.Sprintf("v%x", want[i]) {
					t.Fatalf("Scan(%x, %x)[%d] = %x=%q, want %x", lower, upper, i, got[i].k, got[i].v, want[i])
				}
			}
		}
		for _, flushed := range []bool{false, true} {
			check(k(0, ""), nil, keys)                         // nil upper: to the end
			check(k(0, "a"), k(0, "b"), keys[2:5])             // lower inclusive, upper exclusive
			check(k(0, "a\x00"), k(1, "z"), keys[3:7])         // across key groups
			check(k(1, ""), k(256, ""), keys[6:9])             // upper equal to a key excludes it
			check(k(0, "b"), k(0, "b"), nil)                   // empty range
			check(k(1, ""), k(0, ""), nil)                     // inverted range
			check(k(300, ""), nil, keys[len(keys)-1:])         // lower between keys
			check(k(state.MaxMaxParallelism-1, "m"), nil, nil) // past the last key
			if !flushed {
				must(t, s.Flush())
			}
		}
		n := 0
		must(t, s.Scan(k(0, ""), nil, func(_, _ []byte) bool { n++; return n < 3 }))
		if n != 3 {
			t.Fatalf("Scan went on after fn returned false: %d calls", n)
		}
	})

	t.Run("DeleteRange", func(t *testing.T) {
		s := open(t, newStore)
		for kg := 0; kg < 6; kg++ {
			for _, r := range []string{"a", "b", "c"} {
				must(t, s.Set(k(kg, r), []byte(r)))
			}
		}
		must(t, s.Flush())
		must(t, s.DeleteRange(k(1, "b"), k(3, "b"))) // half-open: k(3,"b") stays
		must(t, s.DeleteRange(k(5, "a"), k(5, "a"))) // empty: no-op
		var got []string
		for _, e := range scan(t, s, k(0, ""), nil) {
			got = append(got, fmt.Sprintf("%d%s", binary.BigEndian.Uint16(e.k), e.k[2:]))
		}
		want := []string{"0a", "0b", "0c", "1a", "3b", "3c", "4a", "4b", "4c", "5a", "5b", "5c"}
		if !slices.Equal(got, want) {
			t.Fatalf("after DeleteRange: %v, want %v", got, want)
		}
		// A key written into a deleted range after the deletion is visible.
		must(t, s.Set(k(2, "b"), []byte("new")))
		if v, ok := get(t, s, k(2, "b")); !ok || string(v) != "new" {
			t.Fatalf("write after DeleteRange: %q, %v", v, ok)
		}
		if _, ok := get(t, s, k(2, "a")); ok {
			t.Fatal("deleted key came back")
		}
		must(t, s.Flush())
		if v, ok := get(t, s, k(2, "b")); !ok || string(v) != "new" {
			t.Fatalf("write after DeleteRange, flushed: %q, %v", v, ok)
		}
	})

	t.Run("RandomAgainstModel", func(t *testing.T) {
		s := open(t, newStore)
		rng := Rand(t)
		model := map[string][]byte{}
		randKey := func() []byte { return k(rng.IntN(8), fmt.Sprintf("%03d", rng.IntN(300))) }
		ops := 20000
		if testing.Short() {
			ops = 5000
		}
		for i := 0; i < ops; i++ {
			switch op := rng.IntN(100); {
			case op < 45:
				key := randKey()
				// Values up to 8 KiB, so that buffered writes overflow any
				// small internal bound and get committed mid-run.
				val := make([]byte, rng.IntN(8<<10))
				for j := range val {
					val[j] = byte(rng.Uint32())
				}
				must(t, s.Set(key, val))
				model[string(key)] = val
			case op < 60:
				key := randKey()
				must(t, s.Delete(key))
				delete(model, string(key))
			case op < 63:
				a, b := randKey(), randKey()
				if bytes.Compare(a, b) > 0 {
					a, b = b, a
				}
				must(t, s.DeleteRange(a, b))
				for mk := range model {
					if mk >= string(a) && mk < string(b) {
						delete(model, mk)
					}
				}
			case op < 88:
				key := randKey()
				v, ok := get(t, s, key)
				w, wok := model[string(key)]
				if ok != wok || !bytes.Equal(v, w) {
					t.Fatalf("op %d: Get(%x) = %d bytes, %v; model has %d bytes, %v", i, key, len(v), ok, len(w), wok)
				}
			case op < 97:
				a, b := randKey(), randKey()
				if bytes.Compare(a, b) > 0 {
					a, b = b, a
				}
				if rng.IntN(4) == 0 {
					b = nil
				}
				got := scan(t, s, a, b)
				var want []string
				for mk := range model {
					if mk >= string(a) && (b == nil || mk < string(b)) {
						want = append(want, mk)
					}
				}
				slices.Sort(want)
				if len(got) != len(want) {
					t.Fatalf("op %d: Scan(%x, %x): %d keys, model %d", i, a, b, len(got), len(want))
				}
				for j := range got {
					if string(got[j].k) != want[j] || !bytes.Equal(got[j].v, model[want[j]]) {
						t.Fatalf("op %d: Scan(%x, %x)[%d] = %x, model %x", i, a, b, j, got[j].k, want[j])
					}
				}
			default:
				must(t, s.Flush())
			}
		}
	})

	t.Run("AfterClose", func(t *testing.T) {
		s := newStore(t)
		must(t, s.Set(k(0, "a"), []byte("1")))
		must(t, s.Close())
		checks := map[string]error{
			"Set":         s.Set(k(0, "b"), nil),
			"Delete":      s.Delete(k(0, "a")),
			"DeleteRange": s.DeleteRange(k(0, "a"), k(0, "b")),
			"Scan":        s.Scan(k(0, ""), nil, func(_, _ []byte) bool { return true }),
			"Flush":       s.Flush(),
		}
		_, _, checks["Get"] = s.Get(k(0, "a"))
		for name, err := range checks {
			if !errors.Is(err, state.ErrClosed) {
				t.Errorf("%s after Close: %v, want state.ErrClosed", name, err)
			}
		}
		if err := s.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
	})
}
