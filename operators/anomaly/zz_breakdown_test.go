package anomaly

import (
	"os"
	"syscall"
	"testing"
	"time"
)

func cpuNow() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func TestZZBreakdown(t *testing.T) {
	if os.Getenv("BREAKDOWN") == "" {
		t.Skip()
	}
	for _, dims := range []int{1, 10} {
		data := mixture(40000, dims, 5)
		f, _ := NewForest(ForestConfig{Dimensions: dims, TimeDecay: 2560, Seed: 1})
		for _, rec := range data[:20000] {
			f.Process(rec, nil)
		}
		qs := data[20000:]
		best := map[string]time.Duration{}
		for round := 0; round < 5; round++ {
			c0 := cpuNow()
			for _, q := range qs {
				for i := 0; i < len(f.trees); i += groupSize {
					descendGroup(f.trees[i:min(i+groupSize, len(f.trees))], q, f.gs)
				}
			}
			c1 := cpuNow()
			for _, q := range qs {
				f.score(q)
			}
			c2 := cpuNow()
			g, _ := NewForest(ForestConfig{Dimensions: dims, TimeDecay: 2560, Seed: 1})
			for _, rec := range data[:20000] {
				g.Process(rec, nil)
			}
			c3 := cpuNow()
			for _, q := range qs {
				g.update(q)
			}
			c4 := cpuNow()
			for k, d := range map[string]time.Duration{"descend": c1 - c0, "score": c2 - c1, "update": c4 - c3} {
				if best[k] == 0 || d < best[k] {
					best[k] = d
				}
			}
		}
		n := float64(len(qs))
		t.Logf("dims %d: descend %.2f µs, score %.2f µs, update %.2f µs per record (best of 5, CPU time)",
			dims, float64(best["descend"].Nanoseconds())/n/1000, float64(best["score"].Nanoseconds())/n/1000, float64(best["update"].Nanoseconds())/n/1000)
	}
}
