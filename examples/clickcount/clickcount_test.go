package clickcount

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestRunCountsEveryClick runs the example job and checks its output files
// against counts computed directly from the generator.
func TestRunCountsEveryClick(t *testing.T) {
	dir := t.TempDir()
	o := Options{Events: 50_000, Users: 37, Window: 10 * time.Second, OutDir: dir, Parallelism: 3}
	if err := Run(context.Background(), o, nil); err != nil {
		t.Fatal(err)
	}
	o.defaults()
	gen := Gen(o)
	want := map[[2]string]int64{}
	for i := int64(0); i < o.Events; i++ {
		c := gen(i)
		w := o.Window.Milliseconds()
		start := c.Time - mod(c.Time, w)
		want[[2]string{c.User, time.UnixMilli(start).UTC().Format(time.RFC3339)}]++
	}
	got := map[[2]string]int64{}
	files, _ := filepath.Glob(filepath.Join(dir, "part-*.jsonl"))
	if len(files) != 3 {
		t.Fatalf("%d part files, want 3", len(files))
	}
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			var c Count
			if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			k := [2]string{c.User, c.WindowStart}
			if _, dup := got[k]; dup {
				t.Fatalf("window %v emitted twice", k)
			}
			got[k] = c.Clicks
		}
		fh.Close()
	}
	if len(got) != len(want) {
		t.Fatalf("%d windows, want %d", len(got), len(want))
	}
	for k, n := range want {
		if got[k] != n {
			t.Fatalf("window %v: %d clicks, want %d", k, got[k], n)
		}
	}
}
