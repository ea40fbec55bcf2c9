package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
)

// execution is one run of a job: its tasks and their channels.
type execution struct {
	job    *Job
	cfg    Config
	ctx    context.Context
	cancel context.CancelCauseFunc
	chains []*chain
	tasks  []*task
	ctrl   map[*task]chan struct{}
	start  time.Time
	mu     sync.Mutex
	done   bool
}

// chain is a tree of operators that run in one task per subtask, calling
// each other directly.
type chain struct {
	head        *node
	nodes       []*node // head first, parents before children
	parallelism int
}

func (c *chain) name() string {
	names := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		names[i] = n.name
	}
	return strings.Join(names, " -> ")
}

// chained reports whether e is a plain call inside a task rather than an
// exchange between tasks.
func (j *Job) chained(e *edge) bool {
	to := e.to
	return !j.cfg.DisableChaining && !e.from.noChain && !to.noChain &&
		to.kind == kindOneInput && len(to.inputs[0]) == 1 &&
		e.resolvedPart() == partForward &&
		e.from.effectiveParallelism() == to.effectiveParallelism()
}

// plan groups the nodes into chains.
func (j *Job) plan() []*chain {
	for _, n := range j.nodes {
		n.parallelism = n.effectiveParallelism()
	}
	var chains []*chain
	for _, n := range j.nodes {
		if n.kind == kindOneInput && len(n.inputs[0]) == 1 && j.chained(n.inputs[0][0]) {
			continue // not a head
		}
		c := &chain{head: n, parallelism: n.parallelism}
		var add func(n *node)
		add = func(n *node) {
			c.nodes = append(c.nodes, n)
			for _, s := range n.slots {
				for _, e := range s.edges {
					if j.chained(e) {
						add(e.to)
					}
				}
			}
		}
		add(n)
		chains = append(chains, c)
	}
	return chains
}

// Execute validates, plans and runs the job until its bounded inputs end,
// an operator fails, or ctx is cancelled. It returns nil when every input
// ended and every operator finished; an *OperatorError (wrapped) when an
// operator failed; and an error wrapping ErrJobCancelled when ctx was
// cancelled first. Every goroutine of the job has stopped when Execute
// returns. A job can be executed once.
func (j *Job) Execute(ctx context.Context) error {
	r, err := j.Start(ctx)
	if err != nil {
		return err
	}
	return r.Wait()
}

// Running is a job that Start started.
type Running struct {
	exec *execution
	done chan struct{}
	err  error
}

// Start validates, plans and starts the job, and returns at once.
func (j *Job) Start(ctx context.Context) (*Running, error) {
	if err := j.Validate(); err != nil {
		return nil, err
	}
	j.mu.Lock()
	if j.ran {
		j.mu.Unlock()
		return nil, fmt.Errorf("%w: job %q was already executed", ErrInvalidJob, j.name)
	}
	j.ran = true
	j.mu.Unlock()

	jctx, cancel := context.WithCancelCause(ctx)
	ex := &execution{job: j, cfg: j.cfg, ctx: jctx, cancel: cancel, ctrl: map[*task]chan struct{}{}, start: time.Now()}
	ex.chains = j.plan()
	if err := ex.wire(); err != nil {
		cancel(err)
		return nil, err
	}
	r := &Running{exec: ex, done: make(chan struct{})}
	go r.run(ctx)
	return r, nil
}

func (r *Running) run(parent context.Context) {
	ex := r.exec
	var g errgroup.Group
	for _, t := range ex.tasks {
		g.Go(func() error {
			err := t.run()
			if err != nil {
				ex.cancel(err)
			}
			return err
		})
	}
	err := g.Wait()
	if err != nil {
		// The first failure is the cause; the others are its echoes.
		if cause := context.Cause(ex.ctx); cause != nil {
			err = cause
		}
		if parent.Err() != nil && errors.Is(err, parent.Err()) {
			err = fmt.Errorf("%w: %w", ErrJobCancelled, err)
		}
	}
	ex.cancel(errJobFinished)
	ex.mu.Lock()
	ex.done = true
	ex.mu.Unlock()
	r.err = err
	close(r.done)
}

var errJobFinished = errors.New("engine: job finished")

// Wait blocks until the job ends and returns its result (see Execute).
func (r *Running) Wait() error {
	<-r.done
	return r.err
}

// Done is closed when the job has ended.
func (r *Running) Done() <-chan struct{} { return r.done }

// Cancel stops the job; Wait then returns an error wrapping ErrJobCancelled.
func (r *Running) Cancel() {
	r.exec.cancel(fmt.Errorf("%w: cancelled", ErrJobCancelled))
}

// wire instantiates every task and connects them with channels.
func (ex *execution) wire() error {
	cfg := ex.cfg
	// Channels of every exchange edge: chans[e][sender][receiver].
	type edgeChans = [][]any
	chans := map[*edge]edgeChans{}
	gates := map[*chain][]*inputGate{}
	chainOf := map[*node]*chain{}
	for _, c := range ex.chains {
		for _, n := range c.nodes {
			chainOf[n] = c
		}
		if c.head.kind != kindSource {
			gs := make([]*inputGate, c.parallelism)
			for i := range gs {
				gs[i] = newInputGate()
			}
			gates[c] = gs
		}
	}
	for _, c := range ex.chains {
		for _, idx := range []int{0, 1} {
			for _, e := range c.head.inputs[idx] {
				from := e.from
				k := from.slots[e.fromSlot].kit
				cs := make(edgeChans, from.parallelism)
				for s := range cs {
					cs[s] = make([]any, c.parallelism)
					for r := 0; r < c.parallelism; r++ {
						if e.resolvedPart() == partForward && r != s {
							continue
						}
						cs[s][r] = k.channel(cfg.ChannelCapacity, cfg.BatchSize, gates[c][r])
					}
				}
				chans[e] = cs
			}
		}
	}
	for _, c := range ex.chains {
		for sub := 0; sub < c.parallelism; sub++ {
			t := &task{
				exec: ex, ctx: ex.ctx, cfg: cfg, subtask: sub, parallelism: c.parallelism,
				batchSize: cfg.BatchSize, lastWm: MinTime, procAt: MaxTime,
				name: fmt.Sprintf("%s (%d/%d)", c.name(), sub+1, c.parallelism),
			}
			inputs := map[*node][]any{}
			instOf := map[*node]*opInstance{}
			writersOf := map[*node][]controlTarget{}
			// Children before parents: each node's consumers exist when it
			// is instantiated.
			for i := len(c.nodes) - 1; i >= 0; i-- {
				n := c.nodes[i]
				outs := make([][]any, len(n.slots))
				for si, s := range n.slots {
					for _, e := range s.edges {
						if chainOf[e.to] == c && ex.job.chained(e) {
							outs[si] = append(outs[si], inputs[e.to][0])
							continue
						}
						var targets []any
						if e.resolvedPart() == partForward {
							targets = []any{chans[e][sub][sub]}
						} else {
							targets = chans[e][sub]
						}
						w, in := s.kit.writer(ex.ctx, writerSpec{
							part: e.resolvedPart(), subtask: sub, maxPar: cfg.MaxParallelism,
							keyGroupOf: e.keyGroupOf, batchSize: cfg.BatchSize, onPending: t.onPending,
						}, targets)
						t.writers = append(t.writers, w)
						outs[si] = append(outs[si], in)
						writersOf[n] = append(writersOf[n], w)
					}
				}
				inst, ins, err := n.instantiate(t, sub, outs)
				if err != nil {
					return fmt.Errorf("engine: operator %q: %w", n.name, err)
				}
				inst.downs = append(inst.downs, writersOf[n]...)
				for _, s := range n.slots {
					for _, e := range s.edges {
						if chainOf[e.to] == c && ex.job.chained(e) {
							inst.downs = append(inst.downs, instOf[e.to])
						}
					}
				}
				inputs[n], instOf[n] = ins, inst
				t.insts = append([]*opInstance{inst}, t.insts...)
			}
			t.head = instOf[c.head]
			if g := gates[c]; g != nil {
				t.gate = g[sub]
				for _, idx := range []int{0, 1} {
					for _, e := range c.head.inputs[idx] {
						k := e.from.slots[e.fromSlot].kit
						for s := 0; s < e.from.parallelism; s++ {
							ch := chans[e][s][sub]
							if ch == nil {
								continue
							}
							t.gate.add(k.inputChannel(ch, inputs[c.head][idx]), idx)
						}
					}
				}
			}
			ex.tasks = append(ex.tasks, t)
		}
	}
	return nil
}

// controlC returns the channel on which the coordinator wakes task t.
func (ex *execution) controlC(t *task) <-chan struct{} { return ex.ctrl[t] }
