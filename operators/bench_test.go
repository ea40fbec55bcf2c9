package operators_test

import (
	"context"
	"testing"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/internal/bench/windowbench"
)

// The window benchmarks run the workloads of `sluice bench windows`: a
// count per user in tumbling 10 s and hop 10 s / 2 s windows, as a job and
// as the hand-written loop (the Baseline twins).

func benchJob(b *testing.B, s windowbench.Spec) {
	b.SetBytes(windowbench.RecordBytes)
	if _, _, err := windowbench.Job(context.Background(), s, int64(b.N), 1, engine.Config{}); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(b.N)*windowbench.RecordBytes/b.Elapsed().Seconds(), "bytes/s")
}

func benchBaseline(b *testing.B, s windowbench.Spec) {
	b.SetBytes(windowbench.RecordBytes)
	windowbench.Baseline(s, int64(b.N))
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(b.N)*windowbench.RecordBytes/b.Elapsed().Seconds(), "bytes/s")
}

func BenchmarkWindowTumbling(b *testing.B)         { benchJob(b, windowbench.Tumbling10s) }
func BenchmarkWindowHop(b *testing.B)              { benchJob(b, windowbench.Hop10s2s) }
func BenchmarkWindowTumblingBaseline(b *testing.B) { benchBaseline(b, windowbench.Tumbling10s) }
func BenchmarkWindowHopBaseline(b *testing.B)      { benchBaseline(b, windowbench.Hop10s2s) }
func BenchmarkWindowSession(b *testing.B)          { benchJob(b, windowbench.Session500ms) }
func BenchmarkWindowSessionBaseline(b *testing.B)  { benchBaseline(b, windowbench.Session500ms) }
