package planner

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/engine/enginetest/conformance"
	"github.com/sluicehq/sluice/sql/row"
)

// TestFilesystemSourceConformance runs the suite every source runs over
// the filesystem source: failures at random points, resumes at another
// parallelism, a bounded run to its end; every row read exactly once.
// The input is partitioned JSON files of uneven sizes, and a hidden file
// and an _underscore file that must not be read.
func TestFilesystemSourceConformance(t *testing.T) {
	dir := t.TempDir()
	want := map[string]int{}
	id := 0
	for f := range 7 {
		p := filepath.Join(dir, fmt.Sprintf("dt=2024-01-0%d", f%3+1), fmt.Sprintf("part-%d", f))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		var b []byte
		for range 100 + 150*f {
			id++
			b = fmt.Appendf(b, "{\"id\": %d, \"v\": \"x%d\"}\n", id, id)
			want[strconv.Itoa(id)]++
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, hidden := range []string{".part-9.inprogress", "_SUCCESS"} {
		if err := os.WriteFile(filepath.Join(dir, "dt=2024-01-01", hidden), []byte("{\"id\": -1}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p, err := Plan(`CREATE TABLE src (id BIGINT, v STRING, dt DATE) PARTITIONED BY (dt)
  WITH ('connector' = 'filesystem', 'path' = '` + dir + `', 'format' = 'json');
CREATE TABLE snk (id BIGINT, v STRING, dt DATE) WITH ('connector' = 'blackhole');
INSERT INTO snk SELECT * FROM src;`)
	if err != nil {
		t.Fatal(err)
	}
	ip := p.inserts[0]
	conformance.RunSource(t, conformance.Source[*row.Row]{
		Build: func(t *testing.T, j *engine.Job) *engine.Stream[*row.Row] {
			s, err := ip.buildSource(j, RunOptions{})
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		Key: func(r *row.Row) string {
			if r.IsNull(2) {
				panic("a row without its partition value")
			}
			return strconv.FormatInt(r.Int(0), 10)
		},
		Want: want,
	})
}
