package state

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func openTestPebble(t *testing.T, dir string) *PebbleStore {
	t.Helper()
	s, err := OpenPebble(dir, PebbleOptions{BatchBytes: 16 << 10, MemTableBytes: 1 << 20, CacheBytes: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func putN(t *testing.T, s Store, n int, tag string) {
	t.Helper()
	for i := 0; i < n; i++ {
		k := append(kgKey(i%16), fmt.Sprintf("key%06d", i)...)
		if err := s.Set(k, []byte(fmt.Sprintf("%s-%d-%s", tag, i, strings.Repeat("x", 100)))); err != nil {
			t.Fatal(err)
		}
	}
}

func getKey(t *testing.T, s Store, i int) string {
	t.Helper()
	v, _, err := s.Get(append(kgKey(i%16), fmt.Sprintf("key%06d", i)...))
	if err != nil {
		t.Fatal(err)
	}
	return string(v)
}

func TestPebbleOptionsValidate(t *testing.T) {
	for _, o := range []PebbleOptions{
		{CacheBytes: -1},
		{MemTableBytes: 1000},
		{MemTableBytes: 2 << 30},
		{BatchBytes: -5},
	} {
		if _, err := OpenPebble(t.TempDir(), o); err == nil {
			t.Errorf("options %+v accepted", o)
		}
	}
}

// TestPebbleReopen checks that a store closed and reopened in the same
// directory holds what was written, flushed or not.
func TestPebbleReopen(t *testing.T) {
	dir := t.TempDir()
	s := openTestPebble(t, dir)
	putN(t, s, 5000, "a")
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	putN(t, s, 10, "b") // unflushed: Close commits it
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTestPebble(t, dir)
	defer s.Close()
	if got := getKey(t, s, 3); !strings.HasPrefix(got, "b-3-") {
		t.Fatalf("key 3 = %.10q", got)
	}
	if got := getKey(t, s, 4999); !strings.HasPrefix(got, "a-4999-") {
		t.Fatalf("key 4999 = %.10q", got)
	}
}

// TestPebbleSnapshotSharesFiles checks the incremental property: a snapshot
// hard-links the store's sstables rather than copying them (two snapshots
// with no write between them share their sstables' inodes), and a restore
// links the snapshot's.
func TestPebbleSnapshotSharesFiles(t *testing.T) {
	s := openTestPebble(t, filepath.Join(t.TempDir(), "s"))
	defer s.Close()
	putN(t, s, 20000, "a") // a few MiB: memtable flushes make sstables
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	snapshot := func() (string, []string) {
		write, err := s.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(t.TempDir(), "cp")
		files, err := write(dir)
		if err != nil {
			t.Fatal(err)
		}
		if filepath.Base(files[len(files)-1]) != PebbleSnapshotManifest {
			t.Fatalf("manifest is not the last file: %v", files)
		}
		return dir, files
	}
	var snap string
	shared := 0
	// A compaction between the two snapshots may replace every sstable;
	// try again until two snapshots have sstables in common.
	for try := 0; try < 20 && shared == 0; try++ {
		a, files := snapshot()
		b, _ := snapshot()
		snap = a
		for _, f := range files {
			if name := filepath.Base(f); immutableFile(name) {
				if _, err := os.Stat(filepath.Join(b, name)); err != nil {
					continue
				}
				if !sameFile(t, f, filepath.Join(b, name)) {
					t.Fatalf("sstable %s copied into a snapshot, not linked", name)
				}
				shared++
			}
		}
	}
	if shared == 0 {
		t.Fatal("no two snapshots shared an sstable")
	}
	if entries, _ := os.ReadDir(filepath.Join(s.dir, pebbleStagingDir)); len(entries) != 0 {
		t.Fatalf("staging directory not emptied: %d entries", len(entries))
	}

	// The working copy of a restore links the snapshot's sstables.
	man, err := readPebbleManifest(snap, true)
	if err != nil {
		t.Fatal(err)
	}
	work := filepath.Join(t.TempDir(), "work")
	if err := linkPebbleSnapshot(snap, man, work); err != nil {
		t.Fatal(err)
	}
	for _, f := range man.Files {
		if got := sameFile(t, filepath.Join(snap, f.Name), filepath.Join(work, f.Name)); got != immutableFile(f.Name) {
			t.Fatalf("%s: linked %v, want %v (link sstables, copy the rest)", f.Name, got, immutableFile(f.Name))
		}
	}

	// Writing to and compacting a store restored from the snapshot leaves
	// the snapshot intact.
	r, err := OpenPebbleFrom(filepath.Join(t.TempDir(), "r"), PebbleOptions{}, []SnapshotPart{{Dir: snap, Format: SnapshotFormatPebble, KeyGroups: KeyGroupRange{0, 127}}}, KeyGroupRange{0, 127})
	if err != nil {
		t.Fatal(err)
	}
	putN(t, r, 20000, "c")
	if err := r.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := r.db.Compact(t.Context(), []byte{0}, []byte{0xff}, false); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := VerifySnapshot(snap); err != nil {
		t.Fatalf("snapshot damaged by its restored store: %v", err)
	}
}

func sameFile(t *testing.T, a, b string) bool {
	t.Helper()
	fa, err := os.Stat(a)
	if err != nil {
		return false
	}
	fb, err := os.Stat(b)
	if err != nil {
		return false
	}
	return os.SameFile(fa, fb)
}

// TestPebbleSnapshotStagingCleanup checks that snapshots whose write
// function never runs leave nothing behind after Close or a reopen.
func TestPebbleSnapshotStagingCleanup(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "s")
	s := openTestPebble(t, dir)
	putN(t, s, 100, "a")
	if _, err := s.Snapshot(); err != nil {
		t.Fatal(err)
	}
	write, err := s.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	staging := filepath.Join(dir, pebbleStagingDir)
	if entries, _ := os.ReadDir(staging); len(entries) != 2 {
		t.Fatalf("%d staged snapshots, want 2", len(entries))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(staging); len(entries) != 0 {
		t.Fatalf("Close left %d staged snapshots", len(entries))
	}
	if _, err := write(filepath.Join(t.TempDir(), "late")); !errors.Is(err, ErrClosed) {
		t.Fatalf("write after Close: %v, want ErrClosed", err)
	}
	// A staging directory left by a crashed process is removed on open.
	if err := os.MkdirAll(filepath.Join(staging, "snap-000009"), 0o755); err != nil {
		t.Fatal(err)
	}
	s = openTestPebble(t, dir)
	defer s.Close()
	if entries, _ := os.ReadDir(staging); len(entries) != 0 {
		t.Fatalf("open left %d stale staged snapshots", len(entries))
	}
}

// TestPebbleSnapshotAcrossFileSystems writes a snapshot to another file
// system (tmpfs), where links are impossible and files are copied.
func TestPebbleSnapshotAcrossFileSystems(t *testing.T) {
	other, err := os.MkdirTemp("/dev/shm", "sluice-state-test-*")
	if err != nil {
		t.Skipf("no /dev/shm to test a snapshot across file systems: %v", err)
	}
	defer os.RemoveAll(other)
	s := openTestPebble(t, filepath.Join(t.TempDir(), "s"))
	defer s.Close()
	if err := os.Link(filepath.Join(s.dir, pebbleDBDir, "LOCK"), filepath.Join(other, "probe")); !errors.Is(err, syscall.EXDEV) {
		t.Skipf("%s is on the same file system (%v)", other, err)
	}
	putN(t, s, 3000, "a")
	write, err := s.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	snap := filepath.Join(other, "cp")
	if _, err := write(snap); err != nil {
		t.Fatal(err)
	}
	m, err := NewMemStoreFrom([]SnapshotPart{{Dir: snap, KeyGroups: KeyGroupRange{0, 127}}}, KeyGroupRange{0, 127})
	if err != nil {
		t.Fatal(err)
	}
	if m.Len() != 3000 || !strings.HasPrefix(getKey(t, m, 2999), "a-2999-") {
		t.Fatalf("restored %d keys", m.Len())
	}
	r, err := OpenPebbleFrom(filepath.Join(t.TempDir(), "r"), PebbleOptions{}, []SnapshotPart{{Dir: snap, KeyGroups: KeyGroupRange{0, 127}}}, KeyGroupRange{0, 63})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got := getKey(t, r, 17); !strings.HasPrefix(got, "a-17-") {
		t.Fatalf("restored across file systems: key 17 = %.10q", got)
	}
}

// TestPebblePointReads checks reads through the point iterator (see Get)
// across its refreshes (batch writes, range deletions), its renewal after
// pointIterReads reads, and commits, against a map.
func TestPebblePointReads(t *testing.T) {
	s, err := OpenPebble(t.TempDir(), PebbleOptions{BatchBytes: 256 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	model := map[string]string{}
	key := func(i int) []byte { return append(kgKey(i%5), fmt.Sprintf("%04d", i)...) }
	for i := 0; i < 3*pointIterReads; i++ { // half are reads: more than pointIterReads
		j := (i * 7919) % 3000
		switch i % 10 {
		case 0, 1, 2:
			v := fmt.Sprint(i)
			if err := s.Set(key(j), []byte(v)); err != nil {
				t.Fatal(err)
			}
			model[string(key(j))] = v
		case 3:
			if err := s.Delete(key(j)); err != nil {
				t.Fatal(err)
			}
			delete(model, string(key(j)))
		case 4:
			if i%1000 == 4 {
				lo, hi := key(j), key(j+40)
				if err := s.DeleteRange(lo, hi); err != nil {
					t.Fatal(err)
				}
				for k := range model {
					if k >= string(lo) && k < string(hi) {
						delete(model, k)
					}
				}
			}
		default:
			v, ok, err := s.Get(key(j))
			if err != nil {
				t.Fatal(err)
			}
			if w, wok := model[string(key(j))]; ok != wok || string(v) != w {
				t.Fatalf("step %d: Get(%x) = %q,%v, want %q,%v", i, key(j), v, ok, w, wok)
			}
		}
	}
}
