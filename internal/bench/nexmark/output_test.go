package nexmark

import (
	"testing"
	"time"
)

// TestLatencyHistogram: percentiles land in the bucket of the true value,
// at most 12.5 % below it.
func TestLatencyHistogram(t *testing.T) {
	var h latencyHist
	for i := 1; i <= 1000; i++ {
		h.add(time.Duration(i) * time.Millisecond)
	}
	for _, c := range []struct {
		p    float64
		want time.Duration
	}{{50, 500 * time.Millisecond}, {99, 990 * time.Millisecond}, {100, 1000 * time.Millisecond}} {
		got := h.percentile(c.p)
		if got > c.want || got < c.want*7/8 {
			t.Errorf("p%g = %v, want within 12.5 %% below %v", c.p, got, c.want)
		}
	}
	var small latencyHist
	small.add(3 * time.Microsecond)
	if got := small.percentile(99); got != 3*time.Microsecond {
		t.Errorf("p99 of 3µs = %v", got)
	}
	var other latencyHist
	other.add(time.Second)
	small.merge(&other)
	if small.n != 2 || small.percentile(100) < 875*time.Millisecond {
		t.Errorf("merged: n %d, p100 %v", small.n, small.percentile(100))
	}
}
