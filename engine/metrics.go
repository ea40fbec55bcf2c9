package engine

import (
	"maps"
	"slices"
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice/internal/clock"
)

// Metrics is a snapshot of a running job's counters.
type Metrics struct {
	Elapsed time.Duration
	// Operators, in the order they were added to the job, each summed over
	// its subtasks.
	Operators []OperatorMetrics
	// Watermark is the smallest watermark among the sinks' subtasks: how far
	// event time has progressed through the whole job.
	Watermark int64
}

// OperatorMetrics are one operator's counters, summed over its subtasks.
type OperatorMetrics struct {
	Name        string
	Parallelism int
	RecordsIn   int64
	RecordsOut  int64 // main output
	// SideOutputs counts records emitted per side output tag, including
	// those no stream consumes (which are dropped).
	SideOutputs map[string]int64
	// Counters are the operator's own counters (see
	// OperatorContext.Counter), e.g. late records of a window.
	Counters map[string]int64
	// Watermark is the smallest watermark among the operator's subtasks.
	Watermark int64
	IsSource  bool
	IsSink    bool
	// Backpressured is the time the subtasks of the operator's chain (its
	// task) have spent blocked sending to a full exchange channel, summed
	// over the subtasks: Flink's back-pressured time. Every operator of a
	// chain shows its chain's; divided by the elapsed time and the
	// parallelism it is the share of time the chain could not send.
	Backpressured time.Duration
	// BackpressuredNow counts the chain's subtasks blocked on a full
	// channel at the time of the snapshot (Flink's isBackPressured).
	BackpressuredNow int
}

// Counter is a metric an operator increments; reading it is safe from any
// goroutine.
type Counter struct{ v atomic.Int64 }

// Add adds n.
func (c *Counter) Add(n int64) { c.v.Add(n) }

// Inc adds one.
func (c *Counter) Inc() { c.v.Add(1) }

// Value returns the count.
func (c *Counter) Value() int64 { return c.v.Load() }

// Counter returns the operator instance's counter with the given name,
// creating it on first use.
func (c *OperatorContext[Out]) Counter(name string) *Counter {
	inst := c.inst
	inst.mu.Lock()
	defer inst.mu.Unlock()
	if inst.counters == nil {
		inst.counters = map[string]*Counter{}
	}
	ctr, ok := inst.counters[name]
	if !ok {
		ctr = &Counter{}
		inst.counters[name] = ctr
	}
	return ctr
}

// Metrics returns a snapshot of the job's counters, for the current attempt
// (they restart from zero when the job restarts). It is safe to call from
// any goroutine while the job runs and after it ended.
func (r *Running) Metrics() Metrics {
	r.mu.Lock()
	ex := r.cur
	r.mu.Unlock()
	m := Metrics{Elapsed: clock.Since(r.cfg.Clock, r.start), Watermark: MaxTime}
	if ex == nil {
		m.Watermark = MinTime
		return m
	}
	byNode := map[*node]*OperatorMetrics{}
	var order []*node
	for _, t := range ex.tasks {
		for _, inst := range t.insts {
			om := byNode[inst.node]
			if om == nil {
				om = &OperatorMetrics{Name: inst.node.name, Parallelism: inst.parallelism, Watermark: MaxTime,
					SideOutputs: map[string]int64{}, Counters: map[string]int64{}, IsSink: inst.node.isSink, IsSource: inst.node.kind == kindSource}
				byNode[inst.node] = om
				order = append(order, inst.node)
			}
			om.RecordsIn += inst.in.Load()
			om.Backpressured += t.backpressure.blocked()
			if t.backpressure.waiting.Load() {
				om.BackpressuredNow++
			}
			wm := inst.wmShown.Load()
			om.Watermark = min(om.Watermark, wm)
			if inst.node.isSink {
				m.Watermark = min(m.Watermark, wm)
			}
			inst.mu.Lock()
			for i, f := range inst.outs {
				if i == 0 {
					om.RecordsOut += f.counted()
				} else {
					om.SideOutputs[inst.sideNames[i-1]] += f.counted()
				}
			}
			for name, c := range inst.counters {
				om.Counters[name] += c.Value()
			}
			inst.mu.Unlock()
		}
	}
	slices.SortFunc(order, func(a, b *node) int { return a.id - b.id })
	for _, n := range order {
		m.Operators = append(m.Operators, *byNode[n])
	}
	if m.Watermark == MaxTime && !r.finished() {
		m.Watermark = MinTime
	}
	return m
}

func (r *Running) finished() bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

// Clone returns a deep copy of m.
func (om OperatorMetrics) Clone() OperatorMetrics {
	om.SideOutputs = maps.Clone(om.SideOutputs)
	om.Counters = maps.Clone(om.Counters)
	return om
}
