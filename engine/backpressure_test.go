package engine

import (
	"context"
	"testing"
	"time"
)

// TestBackpressuredTime: a sink that does not take records makes the
// source's channel fill; the time the source then waits, on the job's
// (manual) clock, is its back-pressured time, and the sink's chain, which
// sends to nobody, has none.
func TestBackpressuredTime(t *testing.T) {
	clk := NewManualClock(time.Unix(1e9, 0))
	j := NewJob("backpressure", Config{Parallelism: 1, Clock: clk, BatchSize: 8, ChannelCapacity: 2})
	in := make([]int, 1000)
	src := FromSlice(j, "src", in, WatermarkStrategy[int]{})
	gate := make(chan struct{})
	first := true
	ForEach(src.Rebalance(), "slow", func(int) error {
		if first {
			first = false
			<-gate
		}
		return nil
	})
	r, err := j.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// The source blocks once the channel is full.
	srcMetrics := func() OperatorMetrics {
		for _, om := range r.Metrics().Operators {
			if om.Name == "src" {
				return om
			}
		}
		return OperatorMetrics{} // the attempt is not running yet
	}
	for srcMetrics().BackpressuredNow == 0 {
		time.Sleep(time.Millisecond)
	}
	if n := srcMetrics().RecordsOut; n >= int64(len(in)) {
		t.Fatalf("the source sent all %d records past a blocked sink", n)
	}
	clk.Advance(3 * time.Second)
	close(gate)
	if err := r.Wait(); err != nil {
		t.Fatal(err)
	}
	for _, om := range r.Metrics().Operators {
		switch om.Name {
		case "src":
			if om.Backpressured < 3*time.Second || om.BackpressuredNow != 0 {
				t.Errorf("source back-pressured %v (%d blocked at the end), want at least the 3s it waited (none)", om.Backpressured, om.BackpressuredNow)
			}
		case "slow":
			if om.Backpressured != 0 {
				t.Errorf("sink back-pressured %v, want 0", om.Backpressured)
			}
		}
	}
}
