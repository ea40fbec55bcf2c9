package state

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// plainStore is a Store that cannot be snapshotted.
type plainStore struct{ *MemStore }

func TestSnapshotterFor(t *testing.T) {
	if _, f, err := SnapshotterFor(NewMemStore()); err != nil || f != SnapshotFormatFile {
		t.Fatalf("MemStore: %q, %v", f, err)
	}
	p, err := OpenPebble(t.TempDir(), PebbleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if _, f, err := SnapshotterFor(p); err != nil || f != SnapshotFormatPebble {
		t.Fatalf("PebbleStore: %q, %v", f, err)
	}
	if _, _, err := SnapshotterFor(plainStore{NewMemStore()}); err == nil {
		t.Fatal("a store without snapshots got a Snapshotter")
	}
}

// TestPebbleManifestChecks damages a Pebble snapshot's manifest: each
// damage is refused with a message that says what is wrong.
func TestPebbleManifestChecks(t *testing.T) {
	s, err := OpenPebble(filepath.Join(t.TempDir(), "s"), PebbleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	putN(t, s, 100, "a")
	all := KeyGroupRange{0, 127}
	for _, c := range []struct {
		name, from, to, want string
	}{
		{"layout", `"layout_version": 1`, `"layout_version": 99`, "layout version 99"},
		{"version", `"version": 1`, `"version": 7`, "manifest version 7"},
		{"format", `"format": "pebble"`, `"format": "rocks"`, `format "rocks"`},
		{"json", `{`, `[`, "unreadable manifest"},
		{"name", `"name": "`, `"name": "../`, "bad file name"},
		{"size", `"size": `, `"size": 1`, "the manifest says"},
	} {
		t.Run(c.name, func(t *testing.T) {
			write, err := s.Snapshot()
			if err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(t.TempDir(), "cp")
			if _, err := write(dir); err != nil {
				t.Fatal(err)
			}
			mpath := filepath.Join(dir, PebbleSnapshotManifest)
			b, err := os.ReadFile(mpath)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(b), c.from) {
				t.Fatalf("manifest has no %q:\n%s", c.from, b)
			}
			if err := os.WriteFile(mpath, []byte(strings.Replace(string(b), c.from, c.to, 1)), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err = OpenPebbleFrom(filepath.Join(t.TempDir(), "r"), PebbleOptions{}, []SnapshotPart{{Dir: dir, KeyGroups: all}}, all)
			if !errors.Is(err, ErrCorruptSnapshot) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("restore: %v, want an ErrCorruptSnapshot saying %q", err, c.want)
			}
		})
	}
}

// TestRestoreIntoExistingStore refuses to restore over a store.
func TestRestoreIntoExistingStore(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "s")
	s, err := OpenPebble(dir, PebbleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	putN(t, s, 10, "a")
	write, err := s.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	cp := filepath.Join(t.TempDir(), "cp")
	if _, err := write(cp); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	all := KeyGroupRange{0, 127}
	if _, err := OpenPebbleFrom(dir, PebbleOptions{}, []SnapshotPart{{Dir: cp, KeyGroups: all}}, all); err == nil {
		t.Fatal("restored over an existing store")
	}
	// The existing store is untouched.
	s, err = OpenPebble(dir, PebbleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := getKey(t, s, 7); !strings.HasPrefix(got, "a-7-") {
		t.Fatalf("store damaged by the refused restore: key 7 = %.10q", got)
	}
}
