package state

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeTestSnapshotFile(t *testing.T, n, valueSize int) (string, map[string]string) {
	t.Helper()
	m := NewMemStore()
	want := map[string]string{}
	for i := 0; i < n; i++ {
		k := append(kgKey(i%7), fmt.Sprintf("k%05d", i)...)
		v := strings.Repeat(string(rune('a'+i%26)), valueSize+i%3)
		if err := m.Set(k, []byte(v)); err != nil {
			t.Fatal(err)
		}
		want[string(k)] = v
	}
	path := filepath.Join(t.TempDir(), SnapshotFileName)
	stats, err := WriteSnapshotFile(path, m, KeyGroupRange{Start: 0, End: 6})
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if stats.Entries != int64(n) || stats.FileBytes != fi.Size() {
		t.Fatalf("stats %+v, file %d bytes, %d entries", stats, fi.Size(), n)
	}
	return path, want
}

func TestSnapshotFileRoundTrip(t *testing.T) {
	path, want := writeTestSnapshotFile(t, 3000, 100) // several 64 KiB blocks
	for _, r := range []KeyGroupRange{{0, 6}, {2, 3}, {6, 6}, {7, 9}} {
		got := map[string]string{}
		var last []byte
		stats, err := ReadSnapshotFile(path, r, func(k, v []byte) error {
			if bytes.Compare(k, last) <= 0 {
				t.Fatalf("keys out of order: %x after %x", k, last)
			}
			last = append(last[:0], k...)
			got[string(k)] = string(v)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if stats.Blocks < 3 || stats.Entries != 3000 || stats.KeyGroups != (KeyGroupRange{0, 6}) {
			t.Fatalf("stats %+v", stats)
		}
		n := 0
		for k, v := range want {
			kg := int(k[0])<<8 | int(k[1])
			if !r.Contains(kg) {
				continue
			}
			n++
			if got[k] != v {
				t.Fatalf("range %v: key %x = %q, want %q", r, k, got[k], v)
			}
		}
		if n != len(got) {
			t.Fatalf("range %v: read %d entries, want %d", r, len(got), n)
		}
	}
	// fn's error stops the read and is returned as is.
	stop := errors.New("stop")
	if _, err := ReadSnapshotFile(path, KeyGroupRange{0, 6}, func(k, v []byte) error { return stop }); err != stop {
		t.Fatalf("fn error: %v", err)
	}
}

func TestSnapshotFileWriterRejects(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewSnapshotFileWriter(&buf, KeyGroupRange{2, 4})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Add(append(kgKey(3), 'b'), nil); err != nil {
		t.Fatal(err)
	}
	for name, key := range map[string][]byte{
		"out of order":   append(kgKey(3), 'a'),
		"duplicate":      append(kgKey(3), 'b'),
		"below range":    append(kgKey(1), 'z'),
		"above range":    append(kgKey(5), 'a'),
		"no key group":   {1},
		"empty":          nil,
		"past the range": {0xff, 0xff},
	} {
		if err := w.Add(key, nil); err == nil {
			t.Errorf("%s: Add(%x) accepted", name, key)
		}
	}
	if _, err := NewSnapshotFileWriter(&buf, KeyGroupRange{3, 2}); err == nil {
		t.Error("empty range accepted")
	}
	if _, err := NewSnapshotFileWriter(&buf, KeyGroupRange{0, MaxMaxParallelism}); err == nil {
		t.Error("range past MaxMaxParallelism accepted")
	}
	// A file of keys outside the layout cannot be written from a full scan.
	m := NewMemStore()
	_ = m.Set([]byte{0xff, 0xff, 1}, []byte("x"))
	if err := writeFullSnapshotFile(filepath.Join(t.TempDir(), "f"), m); err == nil {
		t.Error("a key outside every key group was written")
	}
}

// TestSnapshotFileDetectsEveryDamage flips each byte of a small file,
// truncates it at each length and appends a byte: every change must be
// detected, with an error naming the file.
func TestSnapshotFileDetectsEveryDamage(t *testing.T) {
	path, _ := writeTestSnapshotFile(t, 12, 5)
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	damaged := filepath.Join(t.TempDir(), "damaged.snap")
	check := func(what string, data []byte) {
		t.Helper()
		if err := os.WriteFile(damaged, data, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := ReadSnapshotFile(damaged, KeyGroupRange{0, 6}, func(k, v []byte) error { return nil })
		var se *SnapshotError
		if !errors.As(err, &se) || !errors.Is(err, ErrCorruptSnapshot) {
			t.Fatalf("%s: error %v, want a *SnapshotError", what, err)
		}
		if !strings.Contains(err.Error(), damaged) {
			t.Fatalf("%s: error does not name the file: %v", what, err)
		}
	}
	for i := range orig {
		for _, mask := range []byte{0x01, 0x80} {
			d := bytes.Clone(orig)
			d[i] ^= mask
			check(fmt.Sprintf("byte %d ^ %#x", i, mask), d)
		}
	}
	for n := 0; n < len(orig); n++ {
		check(fmt.Sprintf("truncated to %d bytes", n), orig[:n])
	}
	check("a byte appended", append(bytes.Clone(orig), 0))
	// A missing file is reported as such.
	_, err = ReadSnapshotFile(filepath.Join(t.TempDir(), "none"), KeyGroupRange{0, 1}, nil)
	if !errors.Is(err, ErrCorruptSnapshot) || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("missing file: %v", err)
	}
}

// TestSnapshotFileLargeDamage damages a multi-block file at sampled places.
func TestSnapshotFileLargeDamage(t *testing.T) {
	path, _ := writeTestSnapshotFile(t, 2000, 200)
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, off := range []int{40, len(orig) / 3, len(orig) / 2, len(orig) - 30} {
		d := bytes.Clone(orig)
		d[off] ^= 0x10
		if _, err := readSnapshotFile("x", bytes.NewReader(d), int64(len(d)), KeyGroupRange{0, 6}, func(k, v []byte) error { return nil }); !errors.Is(err, ErrCorruptSnapshot) {
			t.Fatalf("flip at %d of %d: %v", off, len(orig), err)
		}
	}
	for _, n := range []int{len(orig) / 2, len(orig) - snapTrailerLen, len(orig) - 1} {
		if _, err := readSnapshotFile("x", bytes.NewReader(orig[:n]), int64(n), KeyGroupRange{0, 6}, func(k, v []byte) error { return nil }); !errors.Is(err, ErrCorruptSnapshot) || !strings.Contains(err.Error(), "truncated") {
			t.Fatalf("truncated to %d of %d: %v", n, len(orig), err)
		}
	}
}
