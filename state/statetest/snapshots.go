package statetest

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/sluicehq/sluice/state"
)

// Restorer opens a new store holding exactly the state of key groups want
// from snapshot parts, e.g. state.OpenPebbleFrom in a t.TempDir() or
// state.NewMemStoreFrom. The suite closes the store.
type Restorer func(t *testing.T, parts []state.SnapshotPart, want state.KeyGroupRange) (state.Store, error)

// RunSnapshots checks the snapshots of stores made by newStore, which must
// be snapshottable (state.SnapshotterFor), restoring them through each of
// restorers.
func RunSnapshots(t *testing.T, newStore NewStore, restorers map[string]Restorer) {
	for _, name := range slices.Sorted(maps.Keys(restorers)) {
		restore := restorers[name]
		t.Run(name, func(t *testing.T) {
			t.Run("PointInTime", func(t *testing.T) { snapPointInTime(t, newStore, restore) })
			t.Run("Empty", func(t *testing.T) { snapEmpty(t, newStore, restore) })
			t.Run("Rescale", func(t *testing.T) { snapRescale(t, newStore, restore) })
			t.Run("Corruption", func(t *testing.T) { snapCorruption(t, newStore, restore) })
			t.Run("BadParts", func(t *testing.T) { snapBadParts(t, newStore, restore) })
		})
	}
	t.Run("WriteOnce", func(t *testing.T) { snapWriteOnce(t, newStore) })
	t.Run("AfterClose", func(t *testing.T) { snapAfterClose(t, newStore) })
}

func snapshotter(t *testing.T, s state.Store) (state.Snapshotter, string) {
	t.Helper()
	sn, format, err := state.SnapshotterFor(s)
	if err != nil {
		t.Fatalf("store is not snapshottable: %v", err)
	}
	return sn, format
}

// take snapshots s and writes it into a new directory under the test's
// temporary directory.
func take(t *testing.T, s state.Store) state.SnapshotPart {
	t.Helper()
	must(t, s.Flush())
	sn, format := snapshotter(t, s)
	write, err := sn.Snapshot()
	must(t, err)
	dir := filepath.Join(t.TempDir(), "snap")
	files, err := write(dir)
	must(t, err)
	checkFiles(t, dir, files)
	return state.SnapshotPart{Dir: dir, Format: format, KeyGroups: state.KeyGroupRange{Start: 0, End: state.MaxMaxParallelism - 1}}
}

func checkFiles(t *testing.T, dir string, files []string) {
	t.Helper()
	if len(files) == 0 {
		t.Fatal("snapshot write returned no files")
	}
	for _, f := range files {
		if filepath.Dir(f) != filepath.Clean(dir) {
			t.Fatalf("snapshot file %s is not in %s", f, dir)
		}
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("snapshot file: %v", err)
		}
	}
}

func restoreOK(t *testing.T, restore Restorer, parts []state.SnapshotPart, want state.KeyGroupRange) state.Store {
	t.Helper()
	s, err := restore(t, parts, want)
	if err != nil {
		t.Fatalf("restore %v: %v", want, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// contents returns every entry of s.
func contents(t *testing.T, s state.Store) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, e := range scan(t, s, nil, nil) {
		m[string(e.k)] = string(e.v)
	}
	return m
}

func sameContents(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d keys, want %d", what, len(got), len(want))
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Fatalf("%s: key %x = %q (present %v), want %q", what, k, g, ok, v)
		}
	}
}

// fill writes n keys across key groups with values of about size bytes.
func fill(t *testing.T, s state.Store, n, size int, tag string) map[string]string {
	t.Helper()
	m := map[string]string{}
	for i := 0; i < n; i++ {
		key := k(i%state.DefaultMaxParallelism, fmt.Sprintf("key%06d", i))
		unit := fmt.Sprintf("%s%d.", tag, i)
		v := strings.Repeat(unit, size/len(unit)+1)[:size]
		must(t, s.Set(key, []byte(v)))
		m[string(key)] = v
	}
	return m
}

func snapPointInTime(t *testing.T, newStore NewStore, restore Restorer) {
	s := open(t, newStore)
	rng := Rand(t)
	model := fill(t, s, 3000, 100, "a")
	must(t, s.Set(k(7, "empty"), nil))
	model[string(k(7, "empty"))] = ""
	must(t, s.Flush())
	sn, format := snapshotter(t, s)
	write, err := sn.Snapshot()
	must(t, err)
	at := maps.Clone(model)

	// Write to the store after the snapshot, before and while its image is
	// being written on another goroutine.
	mutate := func(n int) {
		for i := 0; i < n; i++ {
			key := k(rng.IntN(state.DefaultMaxParallelism), fmt.Sprintf("key%06d", rng.IntN(4000)))
			switch rng.IntN(3) {
			case 0:
				must(t, s.Delete(key))
				delete(model, string(key))
			default:
				v := fmt.Sprintf("b%d", i)
				must(t, s.Set(key, []byte(v)))
				model[string(key)] = v
			}
		}
		must(t, s.DeleteRange(k(3, ""), k(5, "")))
		for mk := range model {
			if mk >= string(k(3, "")) && mk < string(k(5, "")) {
				delete(model, mk)
			}
		}
		must(t, s.Flush())
	}
	mutate(2000)
	dir := filepath.Join(t.TempDir(), "cp1")
	var files []string
	var werr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		files, werr = write(dir)
	}()
	mutate(2000)
	wg.Wait()
	must(t, werr)
	checkFiles(t, dir, files)
	must(t, state.VerifySnapshot(dir))

	all := state.KeyGroupRange{Start: 0, End: state.MaxMaxParallelism - 1}
	r := restoreOK(t, restore, []state.SnapshotPart{{Dir: dir, Format: format, KeyGroups: all}}, all)
	sameContents(t, "restored snapshot", contents(t, r), at)
	if v, ok := get(t, r, k(7, "empty")); !ok || len(v) != 0 {
		t.Fatalf("empty value after restore: %q, %v", v, ok)
	}

	// A second snapshot of the same store sees the later writes, and the
	// first is unchanged by it (Pebble snapshots share files by links).
	p2 := take(t, s)
	r2 := restoreOK(t, restore, []state.SnapshotPart{{Dir: p2.Dir, KeyGroups: all}}, all) // format detected
	sameContents(t, "second snapshot", contents(t, r2), model)
	must(t, state.VerifySnapshot(dir))
	// The restored store is a working store, and can be snapshotted and
	// restored in turn (recovery after recovery).
	must(t, r.Set(k(9, "new"), []byte("x")))
	must(t, r.Flush())
	if v, ok := get(t, r, k(9, "new")); !ok || string(v) != "x" {
		t.Fatalf("write to restored store: %q, %v", v, ok)
	}
	if _, _, err := state.SnapshotterFor(r); err == nil {
		at[string(k(9, "new"))] = "x"
		p3 := take(t, r)
		r3 := restoreOK(t, restore, []state.SnapshotPart{p3}, all)
		sameContents(t, "snapshot of a restored store", contents(t, r3), at)
	}
}

func snapEmpty(t *testing.T, newStore NewStore, restore Restorer) {
	s := open(t, newStore)
	p := take(t, s)
	r := restoreOK(t, restore, []state.SnapshotPart{p}, state.KeyGroupRange{Start: 0, End: 9})
	if n := len(contents(t, r)); n != 0 {
		t.Fatalf("restored empty snapshot holds %d keys", n)
	}
}

// snapRescale writes keyed state at one parallelism, snapshots every
// subtask, and restores at another: every key must be in exactly one new
// subtask (the one owning its key group) with its state and timers.
func snapRescale(t *testing.T, newStore NewStore, restore Restorer) {
	const maxP, nKeys = 16, 600
	ks := newKeys(maxP)
	for _, pp := range [][2]int{{2, 2}, {1, 3}, {3, 2}, {4, 1}} {
		pOld, pNew := pp[0], pp[1]
		t.Run(fmt.Sprintf("%dto%d", pOld, pNew), func(t *testing.T) {
			var parts []state.SnapshotPart
			before := map[string]string{}
			for i := 0; i < pOld; i++ {
				kgs := state.KeyGroupRangeFor(maxP, pOld, i)
				s := open(t, newStore)
				b := backend(t, s, state.Options{MaxParallelism: maxP, KeyGroups: kgs, CacheEntries: 32})
				count := newValue[int64](t, b, "count")
				m, err := state.NewMapState(b, "m", state.MustCodecFor[int64](), state.MustCodecFor[string]())
				must(t, err)
				l, err := state.NewListState(b, "l", state.MustCodecFor[int64]())
				must(t, err)
				q, err := state.NewTimerQueue(b, "event")
				must(t, err)
				for key := int64(0); key < nKeys; key++ {
					if !kgs.Contains(ks.group(key)) {
						continue
					}
					ks.set(b, key)
					must(t, count.Update(key*7))
					for j := int64(0); j < key%4; j++ {
						must(t, m.Put(j, fmt.Sprint(key, "/", j)))
					}
					must(t, l.AddAll([]int64{key, -key}))
					must(t, q.Register(key, []byte("w")))
				}
				must(t, b.Flush())
				for kk, v := range contents(t, s) {
					before[kk] = v
				}
				p := take(t, s)
				p.KeyGroups = kgs
				parts = append(parts, p)
				// Later writes must not leak into the restore.
				ks.set(b, 0)
				must(t, count.Update(-1))
				must(t, b.Flush())
			}
			after := map[string]string{}
			for j := 0; j < pNew; j++ {
				want := state.KeyGroupRangeFor(maxP, pNew, j)
				r := restoreOK(t, restore, parts, want)
				got := contents(t, r)
				// The same key groups exported to a portable file and
				// restored from it hold the same state.
				exp := filepath.Join(t.TempDir(), "export")
				files, err := state.ExportSnapshot(parts, want, exp)
				must(t, err)
				checkFiles(t, exp, files)
				sameContents(t, "restore of an exported snapshot", contents(t, restoreOK(t, restore, []state.SnapshotPart{{Dir: exp, Format: state.SnapshotFormatFile, KeyGroups: want}}, want)), got)
				for kk, v := range got {
					kg := int(kk[0])<<8 | int(kk[1])
					if !want.Contains(kg) {
						t.Fatalf("subtask %d of %d (key groups %v) holds a key of key group %d", j, pNew, want, kg)
					}
					if _, dup := after[kk]; dup {
						t.Fatalf("key %x restored twice", kk)
					}
					after[kk] = v
				}
				b := backend(t, r, state.Options{MaxParallelism: maxP, KeyGroups: want})
				count := newValue[int64](t, b, "count")
				m, err := state.NewMapState(b, "m", state.MustCodecFor[int64](), state.MustCodecFor[string]())
				must(t, err)
				l, err := state.NewListState(b, "l", state.MustCodecFor[int64]())
				must(t, err)
				q, err := state.NewTimerQueue(b, "event")
				must(t, err)
				var wantTimers []int64
				for key := int64(0); key < nKeys; key++ {
					if !want.Contains(ks.group(key)) {
						continue
					}
					wantTimers = append(wantTimers, key)
					ks.set(b, key)
					if v, ok, err := count.Value(); err != nil || !ok || v != key*7 {
						t.Fatalf("key %d: count %d,%v,%v want %d", key, v, ok, err, key*7)
					}
					n := int64(0)
					must(t, m.Range(func(uk int64, v string) bool {
						if uk != n || v != fmt.Sprint(key, "/", uk) {
							t.Fatalf("key %d: map entry %d=%q", key, uk, v)
						}
						n++
						return true
					}))
					if n != key%4 {
						t.Fatalf("key %d: map has %d entries, want %d", key, n, key%4)
					}
					if got, err := l.Get(); err != nil || !slices.Equal(got, []int64{key, -key}) {
						t.Fatalf("key %d: list %v %v", key, got, err)
					}
				}
				var gotTimers []int64
				for {
					tm, ok, err := q.Pop(1 << 40)
					must(t, err)
					if !ok {
						break
					}
					key, err := ks.codec.Decode(tm.Key)
					must(t, err)
					if tm.Time != key || string(tm.Namespace) != "w" {
						t.Fatalf("timer %+v", tm)
					}
					gotTimers = append(gotTimers, key)
				}
				slices.Sort(gotTimers)
				if !slices.Equal(gotTimers, wantTimers) {
					t.Fatalf("subtask %d of %d: timers %v, want %v", j, pNew, gotTimers, wantTimers)
				}
			}
			sameContents(t, "union of restored subtasks", after, before)
		})
	}
}

// corrupt damages a snapshot's data in one of several ways.
func snapCorruption(t *testing.T, newStore NewStore, restore Restorer) {
	s := open(t, newStore)
	fill(t, s, 4000, 200, "c")
	all := state.KeyGroupRange{Start: 0, End: state.MaxMaxParallelism - 1}
	largest := func(dir string) string {
		entries, err := os.ReadDir(dir)
		must(t, err)
		var best string
		var size int64 = -1
		for _, e := range entries {
			fi, err := e.Info()
			must(t, err)
			if fi.Size() > size {
				best, size = filepath.Join(dir, e.Name()), fi.Size()
			}
		}
		return best
	}
	cases := map[string]func(dir string) string{
		"FlippedByte": func(dir string) string {
			f := largest(dir)
			b, err := os.ReadFile(f)
			must(t, err)
			b[len(b)/2] ^= 0x5a
			must(t, os.WriteFile(f, b, 0o644))
			return f
		},
		"Truncated": func(dir string) string {
			f := largest(dir)
			fi, err := os.Stat(f)
			must(t, err)
			must(t, os.Truncate(f, fi.Size()*2/3))
			return f
		},
		"FileMissing": func(dir string) string {
			f := largest(dir)
			must(t, os.Remove(f))
			return dir
		},
		"DirectoryMissing": func(dir string) string {
			must(t, os.RemoveAll(dir))
			return dir
		},
	}
	for _, name := range slices.Sorted(maps.Keys(cases)) {
		t.Run(name, func(t *testing.T) {
			p := take(t, s)
			must(t, state.VerifySnapshot(p.Dir))
			named := cases[name](p.Dir)
			r, err := restore(t, []state.SnapshotPart{p}, all)
			if err == nil {
				_ = r.Close()
				t.Fatalf("restore of a damaged snapshot (%s) succeeded", named)
			}
			if !errors.Is(err, state.ErrCorruptSnapshot) {
				t.Fatalf("restore error does not wrap state.ErrCorruptSnapshot: %v", err)
			}
			if !strings.Contains(err.Error(), named) {
				t.Fatalf("restore error does not name %s: %v", named, err)
			}
			if verr := state.VerifySnapshot(p.Dir); !errors.Is(verr, state.ErrCorruptSnapshot) {
				t.Fatalf("VerifySnapshot: %v", verr)
			}
		})
	}
}

func snapBadParts(t *testing.T, newStore NewStore, restore Restorer) {
	s := open(t, newStore)
	fill(t, s, 100, 10, "d")
	p := take(t, s)
	a, b := p, p
	a.KeyGroups = state.KeyGroupRange{Start: 0, End: 9}
	b.KeyGroups = state.KeyGroupRange{Start: 5, End: 20}
	cases := map[string]struct {
		parts []state.SnapshotPart
		want  state.KeyGroupRange
	}{
		"Gap":          {[]state.SnapshotPart{a}, state.KeyGroupRange{Start: 0, End: 15}},
		"Overlap":      {[]state.SnapshotPart{a, b}, state.KeyGroupRange{Start: 0, End: 15}},
		"NoParts":      {nil, state.KeyGroupRange{Start: 0, End: 3}},
		"EmptyWant":    {[]state.SnapshotPart{a}, state.KeyGroupRange{Start: 3, End: 2}},
		"WrongFormat":  {[]state.SnapshotPart{{Dir: p.Dir, Format: "bogus", KeyGroups: a.KeyGroups}}, a.KeyGroups},
		"OtherFormat":  {[]state.SnapshotPart{{Dir: p.Dir, Format: otherFormat(p.Format), KeyGroups: a.KeyGroups}}, a.KeyGroups},
		"NotASnapshot": {[]state.SnapshotPart{{Dir: t.TempDir(), KeyGroups: a.KeyGroups}}, a.KeyGroups},
	}
	for _, name := range slices.Sorted(maps.Keys(cases)) {
		c := cases[name]
		if r, err := restore(t, c.parts, c.want); err == nil {
			_ = r.Close()
			t.Errorf("%s: restore succeeded", name)
		}
	}
	// The part's own restore still works.
	r := restoreOK(t, restore, []state.SnapshotPart{a}, a.KeyGroups)
	if n := len(contents(t, r)); n != 10 { // fill puts key i in key group i
		t.Fatalf("restore of key groups %v holds %d keys, want 10", a.KeyGroups, n)
	}
}

func otherFormat(f string) string {
	if f == state.SnapshotFormatPebble {
		return state.SnapshotFormatFile
	}
	return state.SnapshotFormatPebble
}

func snapWriteOnce(t *testing.T, newStore NewStore) {
	s := open(t, newStore)
	fill(t, s, 10, 10, "e")
	must(t, s.Flush())
	sn, _ := snapshotter(t, s)
	write, err := sn.Snapshot()
	must(t, err)
	dir := filepath.Join(t.TempDir(), "a")
	_, err = write(dir)
	must(t, err)
	if _, err := write(filepath.Join(t.TempDir(), "b")); err == nil {
		t.Fatal("a snapshot's write function ran twice")
	}
	write2, err := sn.Snapshot()
	must(t, err)
	if _, err := write2(dir); err == nil {
		t.Fatal("a snapshot was written into an existing directory")
	}
}

func snapAfterClose(t *testing.T, newStore NewStore) {
	s := newStore(t)
	fill(t, s, 10, 10, "f")
	must(t, s.Flush())
	sn, _ := snapshotter(t, s)
	write, err := sn.Snapshot()
	must(t, err)
	must(t, s.Close())
	// A write function may fail once its store is closed, but cleanly; if
	// it succeeds, the snapshot must be complete.
	dir := filepath.Join(t.TempDir(), "late")
	if _, err := write(dir); err == nil {
		must(t, state.VerifySnapshot(dir))
	}
	if _, err := sn.Snapshot(); err == nil {
		t.Fatal("Snapshot after Close succeeded")
	}
}
