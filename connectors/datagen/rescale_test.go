package datagen

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/internal/testseed"
)

// TestRescaleChainEmitsEveryIndexOnce restores the generator's positions
// through a chain of parallelism changes, emitting a random number of
// indexes between them: every index below Count is emitted exactly once.
func TestRescaleChainEmitsEveryIndexOnce(t *testing.T) {
	seed := testseed.Seed(t)
	rng := rand.New(rand.NewPCG(seed, 3))
	for round := range 20 {
		const count = 5000
		src := &source[int64]{opts: Options{Count: count}, gen: func(i int64) int64 { return i }}
		seen := make([]int, count)
		p := 1 + rng.IntN(5)
		var restored []engine.SourcePosition
		for step := 0; ; step++ {
			var next []engine.SourcePosition
			done := true
			for s := range p {
				rd, err := src.Open(context.Background(), engine.SourceInfo{Subtask: s, Parallelism: p, Restored: restored})
				if err != nil {
					t.Fatalf("seed %d: %v", seed, err)
				}
				r := rd.(*reader[int64])
				budget := rng.IntN(400)
				if step > 8 {
					budget = count // finish
				}
				for ; budget > 0; budget-- {
					r.progs = dropExhausted(r)
					if len(r.progs) == 0 {
						break
					}
					pr := &r.progs[0]
					seen[pr.next]++
					pr.next += pr.step
				}
				if len(dropExhausted(r)) > 0 {
					done = false
				}
				pos, err := r.SnapshotPosition()
				if err != nil {
					t.Fatal(err)
				}
				next = append(next, engine.SourcePosition{Subtask: s, Parallelism: p, Data: pos})
			}
			if done {
				break
			}
			restored = next
			if rng.IntN(2) == 0 {
				p = 1 + rng.IntN(6)
			}
		}
		for i, n := range seen {
			if n != 1 {
				t.Fatalf("seed %d round %d: index %d emitted %d times", seed, round, i, n)
			}
		}
	}
}

func dropExhausted(r *reader[int64]) []progression {
	var out []progression
	for _, p := range r.progs {
		if r.remaining(p) > 0 {
			out = append(out, p)
		}
	}
	return out
}
