package engine_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/internal/bench/pipelinebench"
)

// The engine's benchmarks run the workloads of `sluice bench pipeline`;
// each has a Baseline twin, the hand-written loop doing the same work.

func BenchmarkChained(b *testing.B) {
	for _, bs := range []int{128, 256, 512, 1024} {
		b.Run(fmt.Sprint("batch", bs), func(b *testing.B) {
			n := int64(b.N)
			b.SetBytes(32)
			if _, err := pipelinebench.Chained(context.Background(), n, 1, engine.Config{BatchSize: bs}); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

func BenchmarkChainedBaseline(b *testing.B) {
	b.SetBytes(32)
	pipelinebench.ChainedBaseline(int64(b.N))
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

func BenchmarkKeyedSum(b *testing.B) {
	for _, p := range []int{1, 2} {
		b.Run(map[int]string{1: "p1", 2: "p2"}[p], func(b *testing.B) {
			b.SetBytes(32)
			if _, err := pipelinebench.KeyedSum(context.Background(), int64(b.N), p, engine.Config{}); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

func BenchmarkKeyedSumBaseline(b *testing.B) {
	b.SetBytes(32)
	pipelinebench.KeyedSumBaseline(int64(b.N))
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}
