package engine

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/testseed"
	"github.com/sluicehq/sluice/state"
)

// event is the record type of the randomised equivalence test.
type event struct {
	Key string
	Val int64
}

// windowSum sums Val per key in 100 ms event-time windows.
type windowSum struct {
	sums *state.MapState[int64, int64]
}

func (w *windowSum) Open(rc *RuntimeContext) error {
	var err error
	w.sums, err = GetMapState[int64, int64](rc, "sums")
	return err
}

func (w *windowSum) ProcessElement(r Record[event], ctx *KeyedContext[string, string]) error {
	if r.Time <= ctx.CurrentWatermark() {
		return fmt.Errorf("late record %v at watermark %d", r, ctx.CurrentWatermark())
	}
	end := r.Time - r.Time%100 + 99
	s, _, err := w.sums.Get(end)
	if err != nil {
		return err
	}
	if err := w.sums.Put(end, s+r.Value.Val); err != nil {
		return err
	}
	return ctx.RegisterEventTimeTimer(end)
}

func (w *windowSum) OnTimer(ts int64, ctx *KeyedContext[string, string]) error {
	s, _, err := w.sums.Get(ts)
	if err != nil {
		return err
	}
	ctx.Emit(fmt.Sprintf("%s@%d=%d", ctx.CurrentKey(), ts, s))
	return w.sums.Remove(ts)
}

// TestRandomisedEquivalence runs one job over random input under random
// configurations — parallelism 1, 2 and 4, chaining on and off, batch
// sizes, channel capacities, watermark intervals — and requires the same
// multiset of output as a plain Go computation. Set SLUICE_SEED to replay.
func TestRandomisedEquivalence(t *testing.T) {
	seed := testseed.Seed(t)
	rng := rand.New(rand.NewPCG(seed, 1))
	const disorder = 50
	n := 2000 + rng.IntN(3000)
	keys := 1 + rng.IntN(40)
	in := make([]Record[event], n)
	for i := range in {
		in[i] = Record[event]{Value: event{Key: fmt.Sprint("k", rng.IntN(keys)), Val: rng.Int64N(1000)}, Time: int64(i*3) + rng.Int64N(disorder)}
	}
	// Split into two sources that the job unions.
	cut := rng.IntN(n)
	left, right := in[:cut], in[cut:]

	want := map[string]int64{}
	for _, r := range in {
		v := r.Value.Val * 2
		if v%5 == 0 {
			continue
		}
		want[fmt.Sprintf("%s@%d", r.Value.Key, r.Time-r.Time%100+99)] += v
	}
	var wantOut []string
	for k, s := range want {
		wantOut = append(wantOut, fmt.Sprintf("%s=%d", k, s))
	}
	slices.Sort(wantOut)

	for _, p := range []int{1, 2, 4} {
		for trial := 0; trial < 2; trial++ {
			cfg := Config{
				Parallelism:       p,
				DisableChaining:   rng.IntN(2) == 0,
				BatchSize:         []int{1, 7, 64, 512}[rng.IntN(4)],
				ChannelCapacity:   1 + rng.IntN(4),
				WatermarkInterval: []time.Duration{-1, time.Millisecond}[rng.IntN(2)],
			}
			j := NewJob("equivalence", cfg)
			a := FromRecords(j, "left", left, disorder)
			b := FromRecords(j, "right", right, disorder)
			if rng.IntN(2) == 0 {
				b = b.Rebalance()
			}
			u := Union(a, b)
			m := Map(u, "double", func(r Record[event]) Record[event] { r.Value.Val *= 2; return r })
			f := m.Filter("drop-fives", func(r Record[event]) bool { return r.Value.Val%5 != 0 })
			ks := KeyBy(f, func(r Record[event]) string { return r.Value.Key })
			out := KeyedProcess(ks, "window-sum", KeyedProcessFunction[string, Record[event], string](&windowSum{}))
			c := Collect(out, "sink")
			if err := j.Execute(context.Background()); err != nil {
				t.Fatalf("seed %d, config %+v: %v", seed, cfg, err)
			}
			got := c.Values()
			slices.Sort(got)
			if !slices.Equal(got, wantOut) {
				t.Fatalf("seed %d (replay with SLUICE_SEED=%d), config %+v: got %d results, want %d; first difference at %d",
					seed, seed, cfg, len(got), len(wantOut), firstDiff(got, wantOut))
			}
		}
	}
}

func firstDiff(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
