package sqlbench

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/sluicehq/sluice/internal/bench"
	"github.com/sluicehq/sluice/sql/planner"
)

// TestSameResults checks that the SQL job and the hand-written Go job (the
// reference) produce the same rows on a short input.
func TestSameResults(t *testing.T) {
	ctx := context.Background()
	for _, n := range []int64{1, 2, 1001} {
		got, err := SQLSummary(ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		want, err := GoSummary(ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("n=%d: SQL %+v, Go %+v", n, got, want)
		}
		if want.Rows != (n+1)/2 {
			t.Fatalf("n=%d: Go job gave %d rows, want %d", n, want.Rows, (n+1)/2)
		}
	}
}

func BenchmarkFilterProjectSQL(b *testing.B) {
	ctx := context.Background()
	cpu := bench.CPUTime()
	for b.Loop() {
		if err := SQLJob(ctx, 1_000_000); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(bench.CPUTime()-cpu)/float64(b.N)/1e6, "cpu-ns/row")
}

func BenchmarkFilterProjectGo(b *testing.B) {
	ctx := context.Background()
	cpu := bench.CPUTime()
	for b.Loop() {
		if err := GoJob(ctx, 1_000_000, func(Out) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(bench.CPUTime()-cpu)/float64(b.N)/1e6, "cpu-ns/row")
}

// TestWindowCasesSameResults checks each window case's SQL job against its
// hand-written Go API job on inputs spanning several windows (and a
// partial last one).
func TestWindowCasesSameResults(t *testing.T) {
	ctx := context.Background()
	for _, c := range WindowCases {
		t.Run(c.Name, func(t *testing.T) {
			for _, n := range []int64{1, 25_001} {
				got, err := SQLWindowSummary(ctx, c, n)
				if err != nil {
					t.Fatal(err)
				}
				want, err := GoWindowSummary(ctx, c, n)
				if err != nil {
					t.Fatal(err)
				}
				if !got.Equal(want) {
					t.Fatalf("n=%d: SQL %+v, Go %+v", n, got, want)
				}
				if want.Rows == 0 {
					t.Fatalf("n=%d: no rows", n)
				}
			}
		})
	}
}

func BenchmarkWindowSQL(b *testing.B) {
	ctx := context.Background()
	for _, c := range WindowCases {
		b.Run(c.Name, func(b *testing.B) {
			cpu := bench.CPUTime()
			for b.Loop() {
				if err := runSQL(ctx, c.SQL(200_000, "blackhole"), planner.RunOptions{}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(bench.CPUTime()-cpu)/float64(b.N)/200_000, "cpu-ns/row")
		})
	}
}

// TestChangeCasesSameResults checks each changelog case's SQL job against
// its hand-written Go API job: the same changelog (as a multiset of rows;
// parallelism 1, so each key's rows come in the same order), and the
// table it leaves equal to a plain loop's result.
func TestChangeCasesSameResults(t *testing.T) {
	ctx := context.Background()
	for _, c := range ChangeCases {
		t.Run(c.Name, func(t *testing.T) {
			for _, n := range []int64{1, 25_001} {
				got, err := SQLChanges(ctx, c, n)
				if err != nil {
					t.Fatal(err)
				}
				want, err := GoChanges(ctx, c, n)
				if err != nil {
					t.Fatal(err)
				}
				if g, w := Sorted(got), Sorted(want); !slices.Equal(g, w) {
					t.Fatalf("n=%d: SQL changelog (%d rows) differs from the Go job's (%d rows):\n%s", n, len(g), len(w), firstDiff(g, w))
				}
				table, err := Apply(want)
				if err != nil {
					t.Fatal(err)
				}
				if g, w := Sorted(table), Sorted(c.Final(n)); !slices.Equal(g, w) {
					t.Fatalf("n=%d: the changelog leaves %d rows, the loop %d:\n%s", n, len(g), len(w), firstDiff(g, w))
				}
				if len(table) == 0 {
					t.Fatalf("n=%d: no rows", n)
				}
			}
		})
	}
}

func firstDiff(a, b []string) string {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return fmt.Sprintf("at %d: %s vs %s", i, a[i], b[i])
		}
	}
	return fmt.Sprintf("one is a prefix of the other (%d vs %d)", len(a), len(b))
}

func BenchmarkChanges(b *testing.B) {
	ctx := context.Background()
	for _, c := range ChangeCases {
		for _, side := range []string{"SQL", "Go"} {
			b.Run(c.Name+"/"+side, func(b *testing.B) {
				cpu := bench.CPUTime()
				for b.Loop() {
					var err error
					if side == "SQL" {
						err = runSQL(ctx, c.SQL(200_000, "blackhole"), planner.RunOptions{})
					} else {
						err = c.Go(ctx, 200_000, nil)
					}
					if err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(bench.CPUTime()-cpu)/float64(b.N)/float64(c.Records(200_000)), "cpu-ns/row")
			})
		}
	}
}
