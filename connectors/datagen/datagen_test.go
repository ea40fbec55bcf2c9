package datagen

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/internal/clock"
)

func TestBoundedParallelEmitsEachIndexOnce(t *testing.T) {
	for _, p := range []int{1, 3} {
		j := engine.NewJob("gen", engine.Config{Parallelism: p})
		s := engine.SourceOf(j, "gen", Source(Options{Count: 10007}, func(i int64) int64 { return i }), engine.WatermarkStrategy[int64]{})
		c := engine.Collect(s, "sink")
		if err := j.Execute(context.Background()); err != nil {
			t.Fatal(err)
		}
		got := c.Values()
		slices.Sort(got)
		if len(got) != 10007 || got[0] != 0 || got[len(got)-1] != 10006 {
			t.Fatalf("p=%d: %d records", p, len(got))
		}
		for i := range got {
			if got[i] != int64(i) {
				t.Fatalf("p=%d: index %d missing", p, i)
			}
		}
	}
}

func TestRateLimitFollowsTheClock(t *testing.T) {
	clk := clock.NewManual(time.Unix(0, 0))
	src := Source(Options{RatePerSecond: 100}, func(i int64) int64 { return i })
	r, err := src.Open(context.Background(), engine.SourceInfo{Subtask: 0, Parallelism: 1, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	out, got := engine.NewTestSourceOutput[int64](1024)
	ctx := context.Background()
	// Nothing is due at time 0: Read waits on the clock; advance it from
	// another goroutine.
	done := make(chan error, 1)
	go func() { done <- r.Read(ctx, out) }()
	for clk.Pending() == 0 {
		time.Sleep(time.Millisecond)
	}
	clk.Advance(time.Second)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := r.Read(ctx, out); err != nil {
		t.Fatal(err)
	}
	if n := len(got()); n != 100 {
		t.Fatalf("after 1s at 100/s: %d records", n)
	}
	clk.Advance(500 * time.Millisecond)
	if err := r.Read(ctx, out); err != nil {
		t.Fatal(err)
	}
	if n := len(got()); n != 150 {
		t.Fatalf("after 1.5s: %d records", n)
	}
	pos, _ := r.(engine.CheckpointedReader).SnapshotPosition()
	r2, _ := src.Open(ctx, engine.SourceInfo{Parallelism: 1, Clock: clk, Restored: []engine.SourcePosition{{Subtask: 0, Parallelism: 1, Data: pos}}})
	out2, got2 := engine.NewTestSourceOutput[int64](1024)
	clk.Advance(time.Second)
	if err := r2.Read(ctx, out2); err != nil {
		t.Fatal(err)
	}
	if v := got2(); len(v) == 0 || v[0] != 150 {
		t.Fatalf("restored reader starts at %v", v[:min(1, len(v))])
	}
}
