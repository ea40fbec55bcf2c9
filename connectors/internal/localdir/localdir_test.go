package localdir

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func read(t *testing.T, d *Dir, key string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(d.Root(), filepath.FromSlash(key)))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func walk(t *testing.T, d *Dir, prefix string) []string {
	t.Helper()
	var got []string
	if err := d.Walk(prefix, func(rel, _ string) { got = append(got, rel) }); err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	return got
}

// TestStageCommit: a staged file is invisible under its final name until
// Commit; Commit is idempotent; an exclusive Commit refuses a name another
// file holds, a replacing one replaces it.
func TestStageCommit(t *testing.T) {
	d, err := Open(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := StagedKey("a/b/obj.json")
	if err != nil {
		t.Fatal(err)
	}
	if key, ok := KeyOfStaged(st); !ok || key != "a/b/obj.json" {
		t.Fatalf("KeyOfStaged(%q) = %q, %v", st, key, ok)
	}
	if err := d.Stage(st, []byte("one")); err != nil {
		t.Fatal(err)
	}
	if got := walk(t, d, "a/b/"); !slices.Equal(got, []string{st}) {
		t.Fatalf("after Stage: %q", got)
	}
	if err := d.Stage(st, []byte("again")); err == nil {
		t.Fatal("staging an existing staged name succeeded")
	}
	for range 2 {
		if err := d.Commit(st, "a/b/obj.json", false); err != nil {
			t.Fatal(err)
		}
	}
	if got := read(t, d, "a/b/obj.json"); got != "one" {
		t.Fatalf("committed %q", got)
	}
	if got := walk(t, d, "a/"); !slices.Equal(got, []string{"a/b/obj.json"}) {
		t.Fatalf("after Commit: %q", got)
	}

	f, err := d.Create("a/b/.second.inprogress")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("two")); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := d.Commit("a/b/.second.inprogress", "a/b/obj.json", false); !errors.Is(err, ErrTaken) {
		t.Fatalf("exclusive commit over another file: %v", err)
	}
	if err := d.Commit("a/b/.second.inprogress", "a/b/obj.json", true); err != nil {
		t.Fatal(err)
	}
	if got := read(t, d, "a/b/obj.json"); got != "two" {
		t.Fatalf("replaced with %q", got)
	}
	if err := d.Commit("a/b/.gone", "a/b/missing", true); err == nil {
		t.Fatal("committing a missing staged file to a missing name succeeded")
	}
	if err := d.Remove("a/b/obj.json"); err != nil {
		t.Fatal(err)
	}
	if err := d.Remove("a/b/obj.json"); err != nil {
		t.Fatalf("removing a missing file: %v", err)
	}
	if got := walk(t, d, "nope/x"); len(got) != 0 {
		t.Fatalf("walk of a missing directory: %q", got)
	}
}

func TestKeys(t *testing.T) {
	d, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"", "/abs", "a/../../x", `a\b`} {
		if _, err := d.Path(k); err == nil {
			t.Errorf("Path(%q) accepted", k)
		}
	}
	for _, rel := range []string{"obj", "a/.obj", "a/.sluice-staged-x", ".tmp-x"} {
		if k, ok := KeyOfStaged(rel); ok {
			t.Errorf("KeyOfStaged(%q) = %q, a staged name", rel, k)
		}
	}
}
