package durable

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
)

func TestWriteFileReplacesAtomically(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "meta.json")
	if err := WriteFile(p, []byte("one"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(p, []byte("two"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "two" {
		t.Fatalf("contents %q, want %q", got, "two")
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Fatalf("directory holds %d entries, want only meta.json: %v", len(entries), entries)
	}
}

func TestWriteFileConcurrentWritersNeverMix(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	a := make([]byte, 1<<16)
	b := make([]byte, 1<<16)
	for i := range a {
		a[i], b[i] = 'a', 'b'
	}
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(data []byte) {
			defer wg.Done()
			if err := WriteFile(p, data, 0o644); err != nil {
				t.Error(err)
			}
		}([][]byte{a, b}[i%2])
	}
	wg.Wait()
	got, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(a) && string(got) != string(b) {
		t.Fatalf("contents are a mix of two writers")
	}
}

func TestWriteFileErrorLeavesNoTemp(t *testing.T) {
	dir := t.TempDir()
	// A missing parent fails before anything is written; a target that is
	// a non-empty directory fails at the rename, after the temp file is
	// written. Neither may leave a temp file behind.
	if err := WriteFile(filepath.Join(dir, "missing", "f"), []byte("x"), 0o644); err == nil {
		t.Fatal("WriteFile into a missing directory succeeded")
	}
	if err := os.MkdirAll(filepath.Join(dir, "d", "child"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(filepath.Join(dir, "d"), []byte("x"), 0o644); err == nil {
		t.Fatal("WriteFile over a directory succeeded")
	}
	if err := os.RemoveAll(filepath.Join(dir, "d")); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Fatalf("left %v", entries)
	}
}

func TestTempNames(t *testing.T) {
	n1, err := TempName("/x/y/meta")
	if err != nil {
		t.Fatal(err)
	}
	n2, _ := TempName("/x/y/meta")
	if n1 == n2 {
		t.Fatalf("two temp names are equal: %s", n1)
	}
	if filepath.Dir(n1) != "/x/y" || !IsTemp(filepath.Base(n1)) {
		t.Fatalf("temp name %s is not a temp beside /x/y/meta", n1)
	}
	if IsTemp("meta") || IsTemp(TempPrefix) {
		t.Fatal("IsTemp accepts a non-temp name")
	}
}

func TestRenameAcrossDirectories(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "a", "f")
	dst := filepath.Join(dir, "b", "f")
	for _, d := range []string{filepath.Dir(src), filepath.Dir(dst)} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := WriteFileSync(src, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Rename(src, dst); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dst); err != nil {
		t.Fatal(err)
	}
	if err := SyncDir(filepath.Join(dir, "nope")); err == nil {
		t.Fatal("SyncDir of a missing directory succeeded")
	}
}
