package engine

import (
	"io/fs"
	"path/filepath"
	"slices"
	"time"

	"github.com/sluicehq/sluice/internal/clock"
)

// What a running job shows of itself to a UI or a REST API: its planned
// graph (Graph), per-subtask counters (Subtasks) and its recent
// checkpoints (CheckpointHistory). All are safe to call from any
// goroutine while the job runs and after it ended.

// checkpointHistory is how many completed checkpoints Running keeps.
const checkpointHistory = 100

// Graph is a job's planned dataflow: operators, the chains they run in
// (one task per chain and subtask) and the edges between operators.
type Graph struct {
	Operators []GraphOperator
	Chains    []GraphChain
	Edges     []GraphEdge
}

// GraphOperator is one operator of the graph.
type GraphOperator struct {
	ID          int
	Name        string
	UID         string
	Parallelism int
	// Kind is "source", "operator" or "sink".
	Kind string
	// Chain is the index in Graph.Chains of the chain the operator runs in.
	Chain int
}

// GraphChain is operators that run in one task per subtask, calling each
// other directly.
type GraphChain struct {
	Name        string
	Parallelism int
	Operators   []int // GraphOperator IDs, head first
}

// GraphEdge connects two operators.
type GraphEdge struct {
	From, To int
	// Partitioning is "forward", "rebalance", "hash" or "broadcast".
	Partitioning string
	// Chained: a plain call inside a task, not an exchange.
	Chained bool
	// SideOutput is the side output tag the edge carries ("" the main
	// output).
	SideOutput string
}

// Graph returns the job's planned graph (of the current attempt; empty
// before the first attempt is planned).
func (r *Running) Graph() Graph {
	r.mu.Lock()
	ex := r.cur
	r.mu.Unlock()
	var g Graph
	if ex == nil {
		return g
	}
	chainOf := map[*node]int{}
	for ci, c := range ex.chains {
		gc := GraphChain{Name: c.name(), Parallelism: c.parallelism}
		for _, n := range c.nodes {
			chainOf[n] = ci
			gc.Operators = append(gc.Operators, n.id)
		}
		g.Chains = append(g.Chains, gc)
	}
	for _, n := range r.job.nodes {
		kind := "operator"
		switch {
		case n.kind == kindSource:
			kind = "source"
		case n.isSink:
			kind = "sink"
		}
		g.Operators = append(g.Operators, GraphOperator{ID: n.id, Name: n.name, UID: n.uid, Parallelism: n.parallelism, Kind: kind, Chain: chainOf[n]})
		for _, s := range n.slots {
			for _, e := range s.edges {
				g.Edges = append(g.Edges, GraphEdge{From: n.id, To: e.to.id, Partitioning: e.resolvedPart().String(),
					Chained: r.job.chained(e), SideOutput: s.tag})
			}
		}
	}
	return g
}

// SubtaskMetrics are one subtask of one operator's counters.
type SubtaskMetrics struct {
	Operator   int // GraphOperator ID
	Subtask    int
	RecordsIn  int64
	RecordsOut int64 // main output
	Watermark  int64
	// Backpressured is the time the subtask's task spent blocked on a
	// full exchange channel, Idle the time it waited for input with none
	// to read; the rest of its elapsed time it was busy. Every operator
	// of a chain shows its task's.
	Backpressured, Idle time.Duration
	// BackpressuredNow: the task is blocked on a full channel now.
	BackpressuredNow bool
}

// Subtasks returns every operator subtask's counters for the current
// attempt, by operator then subtask.
func (r *Running) Subtasks() []SubtaskMetrics {
	r.mu.Lock()
	ex := r.cur
	r.mu.Unlock()
	if ex == nil {
		return nil
	}
	var out []SubtaskMetrics
	for _, t := range ex.tasks {
		for _, inst := range t.insts {
			sm := SubtaskMetrics{Operator: inst.node.id, Subtask: inst.subtask, RecordsIn: inst.in.Load(),
				Watermark: inst.wmShown.Load(), Backpressured: t.backpressure.blocked(),
				Idle: time.Duration(t.idleNs.Load()), BackpressuredNow: t.backpressure.waiting.Load()}
			inst.mu.Lock()
			if len(inst.outs) > 0 {
				sm.RecordsOut = inst.outs[0].counted()
			}
			inst.mu.Unlock()
			out = append(out, sm)
		}
	}
	slices.SortFunc(out, func(a, b SubtaskMetrics) int {
		if a.Operator != b.Operator {
			return a.Operator - b.Operator
		}
		return a.Subtask - b.Subtask
	})
	return out
}

// AttemptStarted is when the current attempt started (zero before the
// first): the elapsed time of Subtasks' counters.
func (r *Running) AttemptStarted() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cur == nil {
		return time.Time{}
	}
	return r.cur.start
}

// Now is the time by the job's clock.
func (r *Running) Now() time.Time { return r.cfg.Clock.Now() }

// CheckpointHistory returns the last completed checkpoints (at most 100),
// oldest first.
func (r *Running) CheckpointHistory() []CheckpointStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.history)
}

// addIdle adds the time since from to the task's idle time.
func (t *task) addIdle(from time.Time) {
	t.idleNs.Add(int64(clock.Since(t.cfg.Clock, from)))
}

// noteAlignment records a task's barrier alignment time for checkpoint id.
func (c *coordinator) noteAlignment(id int64, d time.Duration) {
	c.mu.Lock()
	if p := c.pending; p != nil && p.id == id {
		p.maxAlign = max(p.maxAlign, d)
	}
	c.mu.Unlock()
}

// dirSize is the bytes of the regular files under dir (0 when it cannot
// be read: the size is a figure shown, not one relied on).
func dirSize(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}
