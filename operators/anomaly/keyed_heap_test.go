package anomaly

import (
	"context"
	"fmt"
	"runtime/metrics"
	"testing"
	"time"

	"github.com/sluicehq/sluice/engine"
)

// Ten thousand devices, each with its own forest at KDA's defaults (100
// trees, 256 samples), live in the Pebble state backend: the operator
// keeps MaxCachedModels of them decoded and the rest encoded, so the live
// heap stays bounded by the cache, far below what holding every forest
// would take. Every seventh device has a second row after all the first
// rows, so its forest is written out and restored.
func TestOperatorTenThousandForestsHeapBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 forests")
	}
	const devices, cached = 10000, 16
	var rows []Row
	for round := 1; round <= 2; round++ {
		for d := 0; d < devices; d += round*round*round - round + 1 { // round 2: every 7th device
			rows = append(rows, Row{fmt.Sprintf("dev-%05d", d), round, 20 + float64(d%7), int64(500 + round)})
		}
	}
	o, err := PlanRandomCutForest(streamSchema, RCFParams{}, OperatorOptions{KeyColumns: []string{"device"}, MaxCachedModels: cached})
	if err != nil {
		t.Fatal(err)
	}
	// What one forest holds on the heap, to size the bound.
	f := mustForest(t, ForestConfig{Dimensions: 2})
	if _, err := f.Process([]float64{1, 2}, nil); err != nil {
		t.Fatal(err)
	}
	perForest := f.HeapBytes()

	j := engine.NewJob("ten-thousand", engine.Config{Parallelism: 1, StateBackend: "pebble", StateDir: t.TempDir()})
	src := engine.FromSlice(j, "rows", rows, engine.WatermarkStrategy[Row]{})
	out := engine.Collect(ApplyByKey(o, KeyByColumn(src, streamSchema, "device"), "rcf"), "sink")

	peak := make(chan uint64)
	stop := make(chan struct{})
	go func() {
		sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
		var peakLive uint64
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			metrics.Read(sample)
			peakLive = max(peakLive, sample[0].Value.Uint64())
			select {
			case <-stop:
				peak <- peakLive
				return
			case <-tick.C:
			}
		}
	}()
	r, err := j.Start(context.Background())
	if err == nil {
		err = r.Wait()
	}
	close(stop)
	live := <-peak
	if err != nil {
		t.Fatal(err)
	}
	if n := len(out.Values()); n != len(rows) {
		t.Fatalf("%d rows out, want %d", n, len(rows))
	}
	for _, m := range r.Metrics().Operators {
		if m.Name == "rcf" && m.Counters[CounterModels] != devices {
			t.Fatalf("%d models created, want %d", m.Counters[CounterModels], devices)
		}
	}
	all := uint64(devices * perForest)
	bound := uint64(4*cached*perForest) + 256<<20
	t.Logf("peak live heap %d MB; one forest %d KB; all %d forests would be %d MB; bound %d MB",
		live>>20, perForest>>10, devices, all>>20, bound>>20)
	if live > bound {
		t.Fatalf("peak live heap %d MB, above the bound %d MB (the cache of %d forests of %d KB and slack)", live>>20, bound>>20, cached, perForest>>10)
	}
}
