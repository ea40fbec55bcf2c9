package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/sluicehq/sluice/internal/clock"
)

// execution is one run of a job: its tasks and their channels.
type execution struct {
	job      *Job
	cfg      Config
	ctx      context.Context
	cancel   context.CancelCauseFunc
	chains   []*chain
	tasks    []*task
	start    time.Time
	restore  *restorePlan
	attempt  int
	stateDir string
	remote   ExchangeAttempt // the exchange transport's attempt, or nil
	coord    *coordinator
	opened   sync.WaitGroup // tasks that have not finished opening

	// splits are the split coordinators of the attempt's SplitSources,
	// splitFor the same by source node.
	splits   []*splitRuntime
	splitFor map[*node]*splitRuntime
	// committers are the global committers of GlobalCommitSinks, by uid
	// and in job order.
	committers  map[string]*globalCommit
	commitOrder []*globalCommit
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
// an operator fails (and the restart strategy gives up), or ctx is
// cancelled. It returns nil when every input ended and every operator
// finished; an error wrapping an *OperatorError when an operator failed; and
// an error wrapping ErrJobCancelled when ctx was cancelled first. Every
// goroutine of the job has stopped when Execute returns. A job can be
// executed once.
func (j *Job) Execute(ctx context.Context) error {
	r, err := j.Start(ctx)
	if err != nil {
		return err
	}
	return r.Wait()
}

// Running is a job that Start started. Its methods are safe for concurrent
// use.
type Running struct {
	job   *Job
	cfg   Config
	done  chan struct{}
	err   error
	start time.Time

	mu  sync.Mutex
	cur *execution // the current attempt
	// curChanged is closed (and replaced) when cur changes: a checkpoint
	// request waiting for the next attempt's coordinator waits on it.
	curChanged   chan struct{}
	attempt      int
	nextID       int64   // last checkpoint id used
	completed    []int64 // retained complete checkpoints, oldest first
	latestDir    string
	lastStats    CheckpointStats
	history      []CheckpointStats // the last checkpointHistory completed
	lastRecovery time.Duration
	initial      *restorePlan
	events       []Event
	stateRoot    string
	ownRoot      bool
	// cancelJob ends the whole run: the current attempt, a restart delay,
	// and an attempt that has not started yet (Cancel may come first).
	cancelJob context.CancelCauseFunc
}

// cancelledErr is the job's error when ctx ended it: ErrJobCancelled with
// the cause (Cancel's own error as it is, not wrapped twice).
func cancelledErr(ctx context.Context) error {
	cause := context.Cause(ctx)
	if errors.Is(cause, ErrJobCancelled) {
		return cause
	}
	return fmt.Errorf("%w: %w", ErrJobCancelled, cause)
}

// Start validates and plans the job, restores it if configured, starts it
// and returns at once.
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
	j.plan() // fixes every operator's parallelism
	r := &Running{job: j, cfg: j.cfg, done: make(chan struct{}), start: j.cfg.Clock.Now(), curChanged: make(chan struct{})}
	if err := r.prepareRestore(); err != nil {
		return nil, err
	}
	r.stateRoot = j.cfg.StateDir
	if r.stateRoot == "" && j.cfg.StateBackend == "pebble" {
		dir, err := os.MkdirTemp("", "sluice-state-")
		if err != nil {
			return nil, fmt.Errorf("engine: state directory: %w", err)
		}
		r.stateRoot, r.ownRoot = dir, true
	}
	ctx, r.cancelJob = context.WithCancelCause(ctx)
	go r.run(ctx)
	return r, nil
}

// prepareRestore finds what the job starts from: Checkpoint.RestoreFrom,
// or with Checkpoint.Resume the newest checkpoint in the storage that is
// intact (corrupt ones are reported and skipped).
func (r *Running) prepareRestore() error {
	cc := r.cfg.Checkpoint
	storage := cc.storage()
	if storage != nil {
		ids, err := storage.List()
		if err != nil {
			return err
		}
		if len(ids) > 0 {
			r.nextID = ids[0]
		}
		if cc.Resume && cc.RestoreFrom == "" {
			for _, id := range ids {
				dir, err := storage.Open(id)
				if errors.Is(err, ErrCheckpointUnavailable) {
					return fmt.Errorf("engine: resume from checkpoint %d: %w", id, err)
				}
				if err == nil {
					var p *restorePlan
					if p, err = loadRestorePlan(dir); err == nil {
						r.initial = p
						r.completed = []int64{id}
						break
					}
				}
				r.emit(Event{Kind: EventFallback, CheckpointID: id, Err: err,
					Message: "checkpoint is not usable; trying the one before it"})
			}
		}
	}
	if cc.RestoreFrom != "" {
		p, err := loadRestorePlan(cc.RestoreFrom)
		if err != nil {
			return err
		}
		r.initial = p
	}
	if r.initial != nil {
		if err := r.initial.checkJob(r.job, cc.AllowNonRestoredState); err != nil {
			return err
		}
	}
	return nil
}

func (r *Running) emit(e Event) {
	if e.Time.IsZero() {
		e.Time = r.cfg.Clock.Now()
	}
	r.mu.Lock()
	e.Attempt = r.attempt
	r.events = append(r.events, e)
	if len(r.events) > 1000 {
		r.events = r.events[len(r.events)-1000:]
	}
	r.mu.Unlock()
	if r.cfg.Events != nil {
		r.cfg.Events(e)
	}
}

// Events returns the job's notable events so far (at most the last 1000).
func (r *Running) Events() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

// Attempt returns how many times the job has restarted.
func (r *Running) Attempt() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.attempt
}

// LatestCheckpoint returns the id and directory of the newest completed
// checkpoint, or 0 if there is none.
func (r *Running) LatestCheckpoint() (int64, string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.completed) == 0 {
		return 0, ""
	}
	return r.completed[len(r.completed)-1], r.latestDir
}

// run executes attempts until one succeeds, the restart strategy gives up,
// or ctx is cancelled.
func (r *Running) run(ctx context.Context) {
	defer close(r.done)
	defer r.cancelJob(nil) // release the run's context
	defer func() {
		if r.ownRoot {
			os.RemoveAll(r.stateRoot)
		}
	}()
	restore := r.initial
	if restore != nil {
		r.emit(Event{Kind: EventRestored, CheckpointID: restore.m.CheckpointID, Message: restore.dir})
	}
	failures := 0
	var failedAt time.Time
	var restoreErr error // the storage was unavailable: no attempt
	for {
		attemptStart := r.cfg.Clock.Now()
		err := restoreErr
		if err == nil {
			err = r.runAttempt(ctx, restore, failedAt)
		}
		if err == nil {
			return
		}
		if ctx.Err() != nil {
			r.err = cancelledErr(ctx)
			return
		}
		if errors.Is(err, ErrJobCancelled) || errors.Is(err, ErrIncompatibleState) || errors.Is(err, ErrInvalidJob) {
			r.err = err
			return
		}
		failedAt = r.cfg.Clock.Now()
		if rs := r.cfg.Restart; rs.ResetAfter > 0 && clock.Since(r.cfg.Clock, attemptStart) >= rs.ResetAfter {
			failures = 0
		}
		failures++
		delay, ok := r.cfg.Restart.delay(failures)
		if !ok {
			r.err = err
			return
		}
		r.emit(Event{Kind: EventRestarting, Err: err, Message: fmt.Sprintf("restart %d in %s", failures, delay)})
		if err := clock.Sleep(ctx, r.cfg.Clock, delay); err != nil {
			r.err = cancelledErr(ctx)
			return
		}
		restore, restoreErr = r.latestRestore()
		r.mu.Lock()
		r.attempt++
		r.mu.Unlock()
	}
}

// latestRestore returns the newest intact completed checkpoint, falling
// back to older ones (and finally to what the job started from). A
// storage that cannot be reached (ErrCheckpointUnavailable) is an error,
// not a reason to fall back: the restart is retried.
func (r *Running) latestRestore() (*restorePlan, error) {
	storage := r.cfg.Checkpoint.storage()
	r.mu.Lock()
	ids := slices.Clone(r.completed)
	r.mu.Unlock()
	for i := len(ids) - 1; i >= 0 && storage != nil; i-- {
		dir, err := storage.Open(ids[i])
		if errors.Is(err, ErrCheckpointUnavailable) {
			return nil, fmt.Errorf("engine: restore checkpoint %d: %w", ids[i], err)
		}
		if err == nil {
			var p *restorePlan
			if p, err = loadRestorePlan(dir); err == nil {
				r.emit(Event{Kind: EventRestored, CheckpointID: ids[i], Message: dir})
				return p, nil
			}
		}
		r.emit(Event{Kind: EventFallback, CheckpointID: ids[i], Err: err, Message: "checkpoint is not usable; trying the one before it"})
	}
	return r.initial, nil
}

// runAttemptOn wires and runs one attempt of the job, its exchanges over
// xa if it is not nil (runAttempt, remote_exchange.go).
func (r *Running) runAttemptOn(parent context.Context, restore *restorePlan, failedAt time.Time, xa ExchangeAttempt) error {
	j := r.job
	jctx, cancel := context.WithCancelCause(parent)
	defer cancel(errJobFinished)
	r.mu.Lock()
	attempt := r.attempt
	r.mu.Unlock()
	ex := &execution{job: j, cfg: j.cfg, ctx: jctx, cancel: cancel, start: j.cfg.Clock.Now(), restore: restore, attempt: attempt, remote: xa}
	if r.stateRoot != "" {
		ex.stateDir = filepath.Join(r.stateRoot, fmt.Sprintf("attempt-%d", attempt))
		defer os.RemoveAll(ex.stateDir)
	}
	ex.chains = j.plan()
	ex.prepareSplits()
	if err := ex.wire(); err != nil {
		return err
	}
	ex.coord = newCoordinator(ex, r)
	// Global committers and split coordinators exist before any writer or
	// reader of the attempt opens.
	err := ex.startCommitters()
	if err == nil {
		err = ex.startSplits()
	}
	if err != nil {
		errs := []error{err}
		for _, rt := range ex.splits {
			errs = append(errs, rt.close())
		}
		errs = append(errs, ex.closeCommitters())
		return firstOrJoin(errs)
	}
	r.mu.Lock()
	r.cur = ex
	close(r.curChanged)
	r.curChanged = make(chan struct{})
	r.mu.Unlock()
	coordCtx, stopCoord := context.WithCancelCause(jctx)
	coordDone := make(chan struct{})
	go func() {
		defer close(coordDone)
		ex.coord.loop(coordCtx)
	}()
	for _, rt := range ex.splits {
		go rt.run(func(err error) { cancel(err) })
	}
	ex.opened.Add(len(ex.tasks))
	if !failedAt.IsZero() {
		go func() {
			ex.opened.Wait()
			if jctx.Err() == nil {
				r.mu.Lock()
				r.lastRecovery = clock.Since(r.cfg.Clock, failedAt)
				r.mu.Unlock()
			}
		}()
	}
	var g errgroup.Group
	for _, t := range ex.tasks {
		g.Go(func() error {
			err := t.run()
			if err != nil {
				cancel(err)
			}
			return err
		})
	}
	err = g.Wait()
	stopCoord(errJobFinished)
	<-coordDone
	ex.coord.wg.Wait()
	var closeErrs []error
	for _, rt := range ex.splits {
		close(rt.quit)
		<-rt.stopped
		closeErrs = append(closeErrs, rt.closeErr)
	}
	closeErrs = append(closeErrs, ex.closeCommitters())
	if err == nil {
		// A split coordinator or global committer that failed after the
		// last task ended.
		var oe *OperatorError
		if cause := context.Cause(jctx); errors.As(cause, &oe) {
			err = cause
		}
	}
	if err == nil {
		err = firstOrJoin(closeErrs)
	}
	if err != nil {
		// The first failure is the cause; the others are its echoes.
		if cause := context.Cause(jctx); cause != nil && !errors.Is(cause, errJobFinished) {
			err = cause
		}
	}
	return err
}

var errJobFinished = errors.New("engine: job finished")

// firstOrJoin returns the only non-nil error of errs as it is, or all of
// them joined.
func firstOrJoin(errs []error) error {
	var nonNil []error
	for _, e := range errs {
		if e != nil {
			nonNil = append(nonNil, e)
		}
	}
	if len(nonNil) == 1 {
		return nonNil[0]
	}
	return errors.Join(nonNil...)
}

// prepareSplits makes a split runtime for every SplitSource, so that wire
// can connect its tasks to it.
func (ex *execution) prepareSplits() {
	ex.splitFor = map[*node]*splitRuntime{}
	for _, c := range ex.chains {
		n := c.head
		if n.kind != kindSource || n.splits == nil {
			continue
		}
		rt := newSplitRuntime(n.splits, n.name, n.uid, n.parallelism)
		rt.attempt, rt.ctx, rt.clock = ex.attempt, ex.ctx, ex.cfg.Clock
		rt.checkpointing = ex.cfg.Checkpoint.Interval > 0 && ex.cfg.Checkpoint.storage() != nil
		rt.tasks = make([]*task, n.parallelism)
		rt.post = func(s int, m taskMsg) { rt.tasks[s].mbox.post(m) }
		if rp := ex.restore; rp != nil {
			rt.restored = true
			rt.restoredPositions = rp.positions(n.uid)
			rt.restoredState = rp.coordinatorState(n.uid)
		}
		ex.splits = append(ex.splits, rt)
		ex.splitFor[n] = rt
	}
}

// startSplits creates the attempt's split coordinators.
func (ex *execution) startSplits() error {
	for _, rt := range ex.splits {
		if err := rt.start(); err != nil {
			return err
		}
	}
	return nil
}

// LastRecovery returns how long the latest restart took, from the failure
// to every task running again with its state restored (including the
// restart delay); zero if the job never restarted.
func (r *Running) LastRecovery() time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lastRecovery
}

// Wait blocks until the job ends and returns its result (see Execute).
func (r *Running) Wait() error {
	<-r.done
	return r.err
}

// Done is closed when the job has ended.
func (r *Running) Done() <-chan struct{} { return r.done }

// Cancel stops the job; Wait then returns an error wrapping ErrJobCancelled.
func (r *Running) Cancel() {
	cause := fmt.Errorf("%w: cancelled", ErrJobCancelled)
	// The run's context first: a Cancel that comes before the first
	// attempt is set up, or during a restart delay, must not be lost.
	r.cancelJob(cause)
	r.mu.Lock()
	ex := r.cur
	r.mu.Unlock()
	if ex != nil {
		ex.cancel(cause)
	}
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
	edgeIdx := 0
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
						if ex.remote != nil {
							id := ChannelID{Edge: edgeIdx, From: from.name, To: c.head.name, Sender: s, Receiver: r}
							ch, err := ex.openRemoteChannel(k, from.slots[e.fromSlot].codec, id, gates[c][r])
							if err != nil {
								return err
							}
							cs[s][r] = ch
							continue
						}
						cs[s][r] = k.channel(cfg.ChannelCapacity, cfg.BatchSize, gates[c][r])
					}
				}
				edgeIdx++
				chans[e] = cs
			}
		}
	}
	for _, c := range ex.chains {
		for sub := 0; sub < c.parallelism; sub++ {
			t := &task{
				exec: ex, ctx: ex.ctx, cfg: cfg, subtask: sub, parallelism: c.parallelism,
				batchSize: cfg.BatchSize, lastWm: MinTime, procAt: MaxTime, mbox: newMailbox(),
				name: fmt.Sprintf("%s (%d/%d)", c.name(), sub+1, c.parallelism),
			}
			t.backpressure.clk = cfg.Clock
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
							backpressure: &t.backpressure,
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
