package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/sluicehq/sluice/internal/clock"
	"github.com/sluicehq/sluice/state"
)

// The checkpoint coordinator of one job attempt: it triggers checkpoints on
// the job's clock, collects every task's acknowledgement, times out the
// slow ones, writes the manifest that completes a checkpoint, runs the
// global committers and tells every task (checkpoint.go has the protocol).

// coordinator triggers checkpoints and completes them: one per execution
// attempt; checkpoint ids and storage persist across attempts (jobRun).
type coordinator struct {
	ex  *execution
	run *Running

	mu        sync.Mutex
	pending   *pendingCheckpoint
	ended     map[*task]bool
	dirs      map[int64]string
	completeC chan *pendingCheckpoint
	requests  chan checkpointRequest
	endedC    chan struct{}  // every task's input has ended
	stopped   chan struct{}  // closed when loop returns
	wg        sync.WaitGroup // async snapshot writers
}

type pendingCheckpoint struct {
	id        int64
	savepoint bool
	final     bool
	dir       string
	started   time.Time
	acks      map[*task][]SubtaskSnapOf
	// coordStates are the split coordinators' snapshots, by source uid.
	coordStates map[string][]byte
	waiting     int
	maxPause    time.Duration // longest synchronous part over the tasks
	maxAlign    time.Duration // longest barrier alignment over the tasks
	err         error
	done        []chan checkpointResult
}

// SubtaskSnapOf is a subtask snapshot with its operator.
type SubtaskSnapOf struct {
	UID, Name   string
	Parallelism int
	Snap        SubtaskSnap
}

type checkpointRequest struct {
	savepoint bool
	dir       string
	done      chan checkpointResult
}

type checkpointResult struct {
	id  int64
	dir string
	err error
}

func newCoordinator(ex *execution, r *Running) *coordinator {
	return &coordinator{ex: ex, run: r, ended: map[*task]bool{}, dirs: map[int64]string{},
		completeC: make(chan *pendingCheckpoint, 1), requests: make(chan checkpointRequest, 16), endedC: make(chan struct{}, 1), stopped: make(chan struct{})}
}

func (c *coordinator) dirOf(id int64) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dirs[id]
}

// loop runs until the execution ends.
func (c *coordinator) loop(ctx context.Context) {
	defer close(c.stopped)
	cfg := c.ex.cfg
	var tick <-chan time.Time
	var timer interface{ Stop() bool }
	arm := func() {
		if timer != nil {
			timer.Stop()
		}
		if cfg.Checkpoint.Interval > 0 {
			t := cfg.Clock.NewTimer(cfg.Checkpoint.Interval)
			timer, tick = t, t.C()
		}
	}
	arm()
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	var queued []checkpointRequest
	finalDue := false
	next := func() {
		switch {
		case len(queued) > 0:
			req := queued[0]
			queued = queued[1:]
			c.trigger(req.savepoint, req.dir, req.done, false)
		case finalDue:
			finalDue = false
			c.trigger(false, "", nil, true)
		}
	}
	for {
		c.mu.Lock()
		p := c.pending
		c.mu.Unlock()
		var timeout <-chan time.Time
		var tt clock.Timer
		if p != nil {
			tt = cfg.Clock.NewTimer(max(0, p.started.Add(cfg.Checkpoint.Timeout).Sub(cfg.Clock.Now())))
			timeout = tt.C()
		}
		select {
		case <-ctx.Done():
			c.abortPending(context.Cause(ctx))
			if tt != nil {
				tt.Stop()
			}
			return
		case <-tick:
			tick = nil
			if p == nil && !c.allEnded() {
				c.trigger(false, "", nil, false)
			} else {
				arm()
			}
		case req := <-c.requests:
			if p == nil {
				c.trigger(req.savepoint, req.dir, req.done, false)
			} else {
				queued = append(queued, req)
			}
		case <-c.endedC:
			finalDue = true
			if p == nil {
				next()
			}
		case done := <-c.completeC:
			c.finish(done)
			if done.final {
				if tt != nil {
					tt.Stop()
				}
				return
			}
			arm()
			next()
		case <-timeout:
			c.abortPending(fmt.Errorf("checkpoint %d timed out after %s", p.id, cfg.Checkpoint.Timeout))
			arm()
			next()
		}
		if tt != nil {
			tt.Stop()
		}
	}
}

// trigger starts a checkpoint (or a savepoint into dir).
func (c *coordinator) trigger(savepoint bool, dir string, done chan checkpointResult, final bool) {
	r := c.run
	storage := c.ex.cfg.Checkpoint.storage()
	if !savepoint && storage == nil {
		if done != nil {
			done <- checkpointResult{err: errors.New("engine: no checkpoint storage configured (Checkpoint.Dir)")}
		}
		if final {
			c.finishFinal()
		}
		return
	}
	r.mu.Lock()
	r.nextID++
	id := r.nextID
	r.mu.Unlock()
	var err error
	if savepoint {
		err = os.MkdirAll(dir, 0o755)
		if err == nil {
			if ents, _ := os.ReadDir(dir); len(ents) > 0 {
				err = fmt.Errorf("engine: savepoint directory %s is not empty", dir)
			}
		}
	} else {
		dir, err = storage.Begin(id)
	}
	p := &pendingCheckpoint{id: id, savepoint: savepoint, final: final, dir: dir, started: c.ex.cfg.Clock.Now(),
		acks: map[*task][]SubtaskSnapOf{}, coordStates: map[string][]byte{}}
	if done != nil {
		p.done = append(p.done, done)
	}
	if err != nil {
		p.err = err
		c.finish(p)
		return
	}
	c.mu.Lock()
	c.pending = p
	c.dirs[id] = dir
	p.waiting = len(c.ex.tasks)
	c.mu.Unlock()
	msg := taskMsg{kind: msgTrigger, id: id, savepoint: savepoint, dir: dir}
	// The tasks of a source with a split coordinator get the trigger from
	// the coordinator, in one step with its snapshot, so that it orders the
	// trigger among its assignments.
	for _, rt := range c.ex.splits {
		st, err := rt.requestSnapshot(id, msg)
		if err != nil {
			c.failPending(p, fmt.Errorf("checkpoint %d: %w", id, err))
			return
		}
		p.coordStates[rt.uid] = st
	}
	for _, t := range c.ex.tasks {
		if t.split != nil {
			continue
		}
		c.mu.Lock()
		ended := c.ended[t]
		c.mu.Unlock()
		if t.src != nil || ended {
			t.mbox.post(msg)
		}
	}
}

// failPending fails checkpoint p with err, unless every task has already
// acknowledged it (then its completion carries err).
func (c *coordinator) failPending(p *pendingCheckpoint, err error) {
	c.mu.Lock()
	if c.pending != p {
		if p.err == nil {
			p.err = err
		}
		c.mu.Unlock()
		return
	}
	c.pending = nil
	p.err = err
	c.mu.Unlock()
	c.finish(p)
}

// inputEnded is called by a task whose input has ended and that now waits
// for the final checkpoint.
func (c *coordinator) inputEnded(t *task) {
	c.mu.Lock()
	c.ended[t] = true
	p := c.pending
	acked := p != nil && p.acks[t] != nil
	all := len(c.ended) == len(c.ex.tasks)
	c.mu.Unlock()
	if p != nil && !acked {
		t.mbox.post(taskMsg{kind: msgTrigger, id: p.id, savepoint: p.savepoint, dir: p.dir})
	}
	if all {
		select {
		case c.endedC <- struct{}{}:
		default:
		}
	}
}

func (c *coordinator) allEnded() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.ended) == len(c.ex.tasks)
}

// asyncWrite writes a task's keyed state snapshots on another goroutine and
// then acknowledges the checkpoint.
func (c *coordinator) asyncWrite(t *task, cp checkpointBarrier, dir string, ops []*pendingOp, pause time.Duration) {
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		var snaps []SubtaskSnapOf
		var err error
		for _, p := range ops {
			n := p.inst.node
			snap := p.snap
			if p.write != nil && err == nil {
				rel := filepath.Join(sanitize(n.uid), fmt.Sprint(p.inst.subtask))
				err = writeStateSnapshot(p.write, filepath.Join(dir, rel), cp.savepoint, snap.StateFormat, snap.KeyGroups)
				if err != nil {
					err = fmt.Errorf("operator %q subtask %d: write state: %w", n.name, p.inst.subtask, err)
				}
				snap.StateDir = rel
				if cp.savepoint {
					snap.StateFormat = state.SnapshotFormatFile
				}
				if p.overlay != nil {
					if chunks := p.overlay(); chunks != nil {
						if err == nil {
							snap.Overlay = rel + ".overlay"
							if werr := state.WriteOverlayFile(filepath.Join(dir, snap.Overlay), chunks); werr != nil {
								err = fmt.Errorf("operator %q subtask %d: write state overlay: %w", n.name, p.inst.subtask, werr)
							}
						}
						state.ReleaseOverlay(chunks)
					}
				}
				if rs, ok := c.ex.cfg.Checkpoint.storage().(RemoteCheckpointStorage); ok && err == nil && !cp.savepoint {
					snap.Files, err = uploadSnapshot(c.ex.ctx, rs, cp.id, dir, rel, snap.StateFormat, snap.Overlay)
					if err != nil {
						err = fmt.Errorf("operator %q subtask %d: upload state: %w", n.name, p.inst.subtask, err)
					}
				}
			}
			snaps = append(snaps, SubtaskSnapOf{UID: n.uid, Name: n.name, Parallelism: p.inst.parallelism, Snap: snap})
		}
		c.ack(t, cp.id, snaps, pause, err)
	}()
}

// writeStateSnapshot writes a store snapshot into dir; for a savepoint, in
// the portable file format whatever the store (the native snapshot is
// exported after the pause, in the background).
func writeStateSnapshot(write func(string) ([]string, error), dir string, savepoint bool, format string, kgs state.KeyGroupRange) error {
	if !savepoint || format == state.SnapshotFormatFile {
		_, err := write(dir)
		return err
	}
	tmp := dir + ".native"
	defer os.RemoveAll(tmp)
	if _, err := write(tmp); err != nil {
		return err
	}
	_, err := state.ExportSnapshot([]state.SnapshotPart{{Dir: tmp, Format: format, KeyGroups: kgs}}, kgs, dir)
	return err
}

// ack records task t's part of checkpoint id.
func (c *coordinator) ack(t *task, id int64, snaps []SubtaskSnapOf, pause time.Duration, err error) {
	c.mu.Lock()
	p := c.pending
	if p == nil || p.id != id || p.acks[t] != nil {
		c.mu.Unlock()
		return
	}
	p.maxPause = max(p.maxPause, pause)
	if snaps == nil {
		snaps = []SubtaskSnapOf{}
	}
	p.acks[t] = snaps
	if err != nil && p.err == nil {
		p.err = err
	}
	p.waiting--
	complete := p.waiting == 0
	if complete {
		c.pending = nil
	}
	c.mu.Unlock()
	if complete {
		c.completeC <- p
	}
}

// abortPending abandons the pending checkpoint.
func (c *coordinator) abortPending(err error) {
	c.mu.Lock()
	p := c.pending
	c.pending = nil
	c.mu.Unlock()
	if p != nil {
		p.err = err
		c.finish(p)
	}
}

// finish completes (or fails) checkpoint p: manifest, retention, and the
// completion notice to every task.
func (c *coordinator) finish(p *pendingCheckpoint) {
	r := c.run
	cfg := c.ex.cfg
	storage := cfg.Checkpoint.storage()
	err := p.err
	if err == nil {
		m := &Manifest{Version: ManifestVersion, Job: c.ex.job.name, CheckpointID: p.id, Savepoint: p.savepoint,
			Time: cfg.Clock.Now().UTC(), MaxParallelism: cfg.MaxParallelism, LayoutVersion: state.LayoutVersion}
		byUID := map[string]*ManifestOperator{}
		for _, t := range c.ex.tasks {
			for _, s := range p.acks[t] {
				op := byUID[s.UID]
				if op == nil {
					op = &ManifestOperator{UID: s.UID, Name: s.Name, Parallelism: s.Parallelism}
					byUID[s.UID] = op
				}
				op.Subtasks = append(op.Subtasks, s.Snap)
			}
		}
		for _, n := range c.ex.job.nodes {
			if st, ok := p.coordStates[n.uid]; ok {
				op := byUID[n.uid]
				if op == nil {
					op = &ManifestOperator{UID: n.uid, Name: n.name, Parallelism: n.parallelism}
					byUID[n.uid] = op
				}
				op.HasCoordinator, op.CoordinatorState = true, st
			}
			if op := byUID[n.uid]; op != nil {
				slices.SortFunc(op.Subtasks, func(a, b SubtaskSnap) int { return a.Subtask - b.Subtask })
				m.Operators = append(m.Operators, *op)
			}
		}
		var b []byte
		b, err = encodeManifest(m)
		if err == nil {
			if p.savepoint {
				err = writeFileAtomic(filepath.Join(p.dir, ManifestFile), b)
			} else {
				err = storage.Complete(p.id, b)
			}
		}
	}
	if err != nil {
		if !p.savepoint && storage != nil && p.dir != "" {
			storage.Abort(p.id)
		}
		r.emit(Event{Kind: EventCheckpointFailed, CheckpointID: p.id, Err: err})
		for _, d := range p.done {
			d <- checkpointResult{id: p.id, err: err}
		}
		if p.final {
			// Without a final checkpoint the staged output of the end of
			// the job cannot be committed: fail rather than lose it.
			c.ex.cancel(fmt.Errorf("engine: final checkpoint %d failed: %w", p.id, err))
		}
		return
	}
	if p.savepoint {
		r.emit(Event{Kind: EventSavepointCompleted, CheckpointID: p.id, Message: p.dir})
	} else {
		r.mu.Lock()
		r.completed = append(r.completed, p.id)
		r.latestDir = p.dir
		r.lastStats = CheckpointStats{ID: p.id, Dir: p.dir, Duration: clock.Since(cfg.Clock, p.started), MaxSyncPause: p.maxPause,
			Completed: cfg.Clock.Now(), Size: dirSize(p.dir), Alignment: p.maxAlign}
		r.history = append(r.history, r.lastStats)
		if len(r.history) > checkpointHistory {
			r.history = r.history[len(r.history)-checkpointHistory:]
		}
		var drop []int64
		for len(r.completed) > cfg.Checkpoint.Retain {
			drop = append(drop, r.completed[0])
			r.completed = r.completed[1:]
		}
		r.mu.Unlock()
		for _, id := range drop {
			storage.Remove(id)
		}
		r.emit(Event{Kind: EventCheckpointCompleted, CheckpointID: p.id, Message: fmt.Sprintf("%s in %s (longest synchronous pause %s)",
			p.dir, clock.Since(cfg.Clock, p.started).Round(time.Millisecond), p.maxPause.Round(time.Microsecond))})
	}
	// The global committers make the checkpoint's output visible before
	// any writer hears of the completion. A failed commit fails the
	// attempt; the next one commits again from this checkpoint.
	if err := c.ex.commitCheckpoint(p); err != nil {
		for _, d := range p.done {
			d <- checkpointResult{id: p.id, err: err}
		}
		c.ex.cancel(err)
		return
	}
	for _, t := range c.ex.tasks {
		t.mbox.post(taskMsg{kind: msgComplete, id: p.id})
	}
	for _, rt := range c.ex.splits {
		rt.notifyComplete(p.id)
	}
	for _, d := range p.done {
		d <- checkpointResult{id: p.id, dir: p.dir}
	}
	if p.final {
		c.finishFinal()
	}
}

// finishFinal lets every task that waits at the end of its input exit.
func (c *coordinator) finishFinal() {
	for _, t := range c.ex.tasks {
		t.mbox.post(taskMsg{kind: msgExit})
	}
}

// CheckpointStats describe a completed checkpoint.
type CheckpointStats struct {
	ID  int64
	Dir string
	// Duration from trigger to completion (including the files written in
	// the background).
	Duration time.Duration
	// MaxSyncPause is the longest time a task stopped processing for its
	// part of the checkpoint (operator snapshots, state cache flush, store
	// snapshot).
	MaxSyncPause time.Duration
	// Completed is when the checkpoint completed (by the job's clock).
	Completed time.Time
	// Size is the bytes of the files in the checkpoint's directory.
	Size int64
	// Alignment is the longest time a task with several input channels
	// spent aligning the checkpoint's barriers: from the first barrier's
	// arrival to the last's (Flink's alignment duration).
	Alignment time.Duration
}

// LastCheckpointStats returns the stats of the newest completed checkpoint
// (zero if none).
func (r *Running) LastCheckpointStats() CheckpointStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lastStats
}

// TriggerCheckpoint takes a checkpoint now and waits for it to complete.
func (r *Running) TriggerCheckpoint(ctx context.Context) (int64, error) {
	res, err := r.request(ctx, checkpointRequest{})
	return res.id, err
}

// Savepoint takes a savepoint into dir (which must be empty or absent) and
// waits for it to complete. A savepoint holds every operator's state in a
// portable format; a job started with Checkpoint.RestoreFrom set to dir
// resumes from it, at the same or another parallelism.
func (r *Running) Savepoint(ctx context.Context, dir string) error {
	_, err := r.request(ctx, checkpointRequest{savepoint: true, dir: dir})
	return err
}

func (r *Running) request(ctx context.Context, req checkpointRequest) (checkpointResult, error) {
	req.done = make(chan checkpointResult, 1)
	for {
		// The current attempt's coordinator takes the request; during a
		// restart, wait for the next attempt's.
		r.mu.Lock()
		ex, changed := r.cur, r.curChanged
		r.mu.Unlock()
		var reqs chan checkpointRequest
		if ex != nil {
			select {
			case <-ex.coord.stopped:
				// The attempt is over: only its successor can take the
				// request, and installing it closes changed.
			default:
				reqs = ex.coord.requests
			}
		}
		select {
		case reqs <- req:
		case <-changed:
			continue
		case <-ctx.Done():
			return checkpointResult{}, ctx.Err()
		case <-r.done:
			return checkpointResult{}, errors.New("engine: the job has ended")
		}
		select {
		case res := <-req.done:
			return res, res.err
		case <-ctx.Done():
			return checkpointResult{}, ctx.Err()
		case <-r.done:
			return checkpointResult{}, errors.New("engine: the job ended before the checkpoint completed")
		}
	}
}
