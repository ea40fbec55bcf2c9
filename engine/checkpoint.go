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

	"github.com/sluicehq/sluice/state"
)

// Checkpoints follow Flink's aligned checkpoints (Chandy–Lamport for
// DAGs). The coordinator asks every source task to start checkpoint n; a
// source records its position and sends barrier n down every output, in
// order with its records. A task with several input channels holds back each
// channel that delivered barrier n until all have (alignment), so its state
// reflects exactly the records before the barrier on every input; then each
// of its operators snapshots (operator state synchronously, keyed state by
// a quick store snapshot whose files are written on another goroutine) and
// the barrier moves on. When every task has acknowledged, the coordinator
// writes the manifest, which makes the checkpoint complete, and tells every
// operator, so that sinks commit what they staged for it (two-phase commit).
//
// A task whose input has ended cannot receive barriers any more; it waits,
// and the coordinator asks it to snapshot directly: its state is final. When
// every task's input has ended, a last checkpoint is taken and committed
// before the job finishes, so that a bounded job's output is complete.

// OperatorStateHook is implemented by operators with non-keyed state: the
// engine calls InitializeState before Open (with nil on a fresh start, or
// this subtask's share of the restored entries) and SnapshotState at every
// checkpoint barrier. When restored at another parallelism, the entries of
// all old subtasks are dealt round robin to the new ones.
type OperatorStateHook interface {
	InitializeState(restored [][]byte) error
	SnapshotState(checkpointID int64) ([][]byte, error)
}

// CheckpointListener is implemented by operators that act when a
// checkpoint completes (two-phase-commit sinks commit then).
type CheckpointListener interface {
	NotifyCheckpointComplete(checkpointID int64) error
}

// SourcePosition is one subtask's position in a source, as its reader
// snapshotted it.
type SourcePosition struct {
	Subtask     int
	Parallelism int
	Data        []byte
}

// mailbox carries the coordinator's requests to a task.
type mailbox struct {
	mu   sync.Mutex
	msgs []taskMsg
	wake chan struct{}
}

type taskMsgKind int

const (
	msgTrigger      taskMsgKind = iota // start a checkpoint (source tasks) or snapshot now (ended tasks)
	msgComplete                        // a checkpoint completed
	msgExit                            // the job is done: stop
	msgSplits                          // splits for the source reader (SplitContext.Assign)
	msgNoMoreSplits                    // no more splits for the source reader
)

type taskMsg struct {
	kind      taskMsgKind
	id        int64
	savepoint bool
	dir       string
	splits    any // msgSplits: a []S of the source's split type
}

func newMailbox() *mailbox { return &mailbox{wake: make(chan struct{}, 1)} }

func (m *mailbox) post(msg taskMsg) {
	m.mu.Lock()
	m.msgs = append(m.msgs, msg)
	m.mu.Unlock()
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

func (m *mailbox) take() []taskMsg {
	// The wake-up is consumed here too: a source task never waits on it
	// (its reader may, through SourceInfo.Interrupt), and every message
	// posted before this point is taken below.
	select {
	case <-m.wake:
	default:
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	msgs := m.msgs
	m.msgs = nil
	return msgs
}

// alignment tracks the barriers of one checkpoint at a task's input gate.
type alignment struct {
	cp   checkpointBarrier
	seen []bool
}

// pendingOp is what a task's operator contributed to a checkpoint before
// its keyed state files are written.
type pendingOp struct {
	inst *opInstance
	snap SubtaskSnap
	// write writes the keyed state snapshot (nil without keyed state).
	write func(dir string) ([]string, error)
	// overlay encodes the dirty cache entries the store snapshot lacks.
	overlay func() [][]byte
	// savepoint: the store whose snapshot must be converted to the
	// portable format.
	opts state.PebbleOptions
}

// checkControl handles the coordinator's requests, if any.
func (t *task) checkControl() error {
	if t.mbox == nil {
		return nil
	}
	for _, m := range t.mbox.take() {
		switch m.kind {
		case msgTrigger:
			if m.id <= t.lastSnapshot {
				continue
			}
			if t.src != nil && !t.inputEnded {
				// A source task starts the checkpoint: the barrier goes
				// down the chain and out to every receiver.
				if err := t.snapshot(checkpointBarrier{id: m.id, savepoint: m.savepoint}, m.dir, true); err != nil {
					return err
				}
			} else if t.inputEnded {
				if err := t.snapshot(checkpointBarrier{id: m.id, savepoint: m.savepoint}, m.dir, false); err != nil {
					return err
				}
			}
			// A running non-source task ignores the trigger: the barrier
			// reaches it in-band.
		case msgComplete:
			for _, inst := range t.insts {
				if l, ok := inst.checkpointListener(); ok {
					if err := inst.call(func() error { return l.NotifyCheckpointComplete(m.id) }); err != nil {
						return err
					}
				}
			}
		case msgExit:
			t.exitRequested = true
		case msgSplits:
			if t.src == nil || t.inputEnded {
				return t.head.wrap(fmt.Errorf("split coordinator assigned splits to subtask %d, whose reader has ended", t.subtask))
			}
			if err := t.src.addSplits(m.splits); err != nil {
				return err
			}
		case msgNoMoreSplits:
			if t.src != nil && !t.inputEnded {
				if err := t.src.noMoreSplits(); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// onBarrier handles barrier cp arriving on input channel i.
func (t *task) onBarrier(i int, cp checkpointBarrier) error {
	if cp.id <= t.lastSnapshot {
		return nil // a late barrier of a checkpoint this task already took
	}
	g := t.gate
	if t.align == nil || t.align.cp.id < cp.id {
		if t.align != nil {
			t.unblockAll() // a newer checkpoint supersedes one that never aligned
		}
		t.align = &alignment{cp: cp, seen: make([]bool, len(g.channels))}
	} else if cp.id < t.align.cp.id {
		return nil
	}
	t.align.seen[i] = true
	g.blocked[i] = true
	return t.maybeAligned()
}

// maybeAligned completes the alignment when every channel that has not
// ended delivered the barrier.
func (t *task) maybeAligned() error {
	a := t.align
	if a == nil {
		return nil
	}
	g := t.gate
	for i := range g.channels {
		if !a.seen[i] && !g.ended[i] {
			return nil
		}
	}
	t.unblockAll()
	t.align = nil
	return t.snapshot(a.cp, t.cpDir(a.cp), true)
}

func (t *task) unblockAll() {
	for i := range t.gate.blocked {
		t.gate.blocked[i] = false
	}
}

// cpDir returns the directory the coordinator assigned to checkpoint cp.
func (t *task) cpDir(cp checkpointBarrier) string {
	if t.exec == nil || t.exec.coord == nil {
		return ""
	}
	return t.exec.coord.dirOf(cp.id)
}

// snapshotOperator records an operator's non-keyed state as the barrier
// passes it, before the barrier moves on.
func (t *task) snapshotOperator(inst *opInstance, cp checkpointBarrier) error {
	p := &pendingOp{inst: inst, snap: SubtaskSnap{Subtask: inst.subtask}}
	if h := inst.stateHook; h != nil {
		var entries [][]byte
		err := inst.call(func() error {
			var err error
			entries, err = h.SnapshotState(cp.id)
			return err
		})
		if err != nil {
			return err
		}
		p.snap.OperatorState = entries
	}
	t.pendingOps = append(t.pendingOps, p)
	return nil
}

// snapshot takes this task's part of checkpoint cp. With viaBarrier the
// barrier travels down the chain and out of the task's exchanges (each
// operator snapshots as it passes); otherwise (the task's input has ended)
// each operator snapshots in place.
func (t *task) snapshot(cp checkpointBarrier, dir string, viaBarrier bool) error {
	began := time.Now()
	t.lastSnapshot = cp.id
	t.pendingOps = t.pendingOps[:0]
	if viaBarrier {
		if err := t.head.control(control{kind: ctlBarrier, cp: cp}); err != nil {
			return err
		}
		if err := t.flushWriters(); err != nil {
			return err
		}
	} else {
		for _, inst := range t.insts {
			if err := t.snapshotOperator(inst, cp); err != nil {
				return err
			}
		}
	}
	// Source position: the reader has emitted exactly the records before
	// the barrier.
	var srcPos []byte
	var hasPos bool
	if t.src != nil {
		var err error
		srcPos, hasPos, err = t.src.snapshotPosition()
		if err != nil {
			return t.head.wrap(fmt.Errorf("snapshot source position: %w", err))
		}
	}
	ops := slices.Clone(t.pendingOps)
	for _, p := range ops {
		inst := p.inst
		if inst == t.head && hasPos {
			p.snap.Position, p.snap.HasPosition = srcPos, true
		}
		if ks := inst.keyedStore; ks != nil {
			if cp.savepoint {
				// A savepoint is exported to the portable format from the
				// store alone: write the cache through first.
				if err := ks.backend.Flush(); err != nil {
					return inst.wrap(fmt.Errorf("checkpoint %d: flush state: %w", cp.id, err))
				}
			} else {
				// The dirty cache entries go into an overlay beside the store
				// snapshot, encoded after the pause (the cache copies an
				// entry before changing it meanwhile): far quicker than
				// writing them into the store during the pause.
				p.overlay = ks.backend.FreezeDirty()
				if err := ks.store.Flush(); err != nil {
					return inst.wrap(fmt.Errorf("checkpoint %d: flush state: %w", cp.id, err))
				}
			}
			sn, format, err := state.SnapshotterFor(ks.store)
			if err != nil {
				return inst.wrap(err)
			}
			write, err := sn.Snapshot()
			if err != nil {
				return inst.wrap(fmt.Errorf("checkpoint %d: snapshot state: %w", cp.id, err))
			}
			p.write = write
			p.snap.Keyed = true
			p.snap.KeyGroups = ks.backend.Options().KeyGroups
			p.snap.States = ks.backend.Registered()
			p.snap.StateFormat = format
		}
	}
	pause := time.Since(began)
	if t.exec.coord == nil {
		t.lastOps = ops // a harness writes them itself
		return nil
	}
	t.exec.coord.asyncWrite(t, cp, dir, ops, pause)
	return nil
}

// keyedStore is a keyed operator instance's state store.
type keyedStore struct {
	store   state.Store
	backend *state.Backend
	dir     string // Pebble working directory ("" for memory)
}

// newKeyedStore opens the store of a keyed operator instance, restored
// from the job's restore plan when there is one.
func (t *task) newKeyedStore(inst *opInstance, kgs state.KeyGroupRange) (state.Store, string, error) {
	uid := inst.node.uid
	var parts []state.SnapshotPart
	var overlays []string
	if rp := t.exec.restore; rp != nil {
		parts = rp.keyedParts(uid, kgs)
		overlays = rp.keyedOverlays(uid, kgs)
	}
	var s state.Store
	var dir string
	var err error
	switch {
	case t.cfg.StateBackend == "memory" && len(parts) == 0:
		return state.NewMemStore(), "", nil
	case t.cfg.StateBackend == "memory":
		s, err = state.NewMemStoreFrom(parts, kgs)
	default:
		dir = filepath.Join(t.exec.stateDir, fmt.Sprintf("%s-%d", sanitize(uid), inst.subtask))
		if err := os.RemoveAll(dir); err != nil {
			return nil, "", err
		}
		if len(parts) == 0 {
			s, err = state.OpenPebble(dir, state.PebbleOptions{})
			return s, dir, err
		}
		s, err = state.OpenPebbleFrom(dir, state.PebbleOptions{}, parts, kgs)
	}
	if err != nil {
		return nil, "", err
	}
	for _, path := range overlays {
		data, err := state.ReadOverlayFile(path)
		if err == nil {
			err = state.ApplyOverlay(s, path, data, kgs)
		}
		if err != nil {
			s.Close()
			return nil, "", err
		}
	}
	return s, dir, nil
}

// sanitize makes a uid usable as a file name.
func sanitize(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			b[i] = '_'
		}
	}
	return string(b)
}

// restoredPosition returns the source positions of node n in the restore
// plan.
func (t *task) restoredPosition(n *node) []SourcePosition {
	if t.exec.restore == nil {
		return nil
	}
	return t.exec.restore.positions(n.uid)
}

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
		var tt *time.Timer
		if p != nil {
			tt = time.NewTimer(max(0, time.Until(p.started.Add(cfg.Checkpoint.Timeout))))
			timeout = tt.C
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
	p := &pendingCheckpoint{id: id, savepoint: savepoint, final: final, dir: dir, started: time.Now(),
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
			Time: time.Now().UTC(), MaxParallelism: cfg.MaxParallelism, LayoutVersion: state.LayoutVersion}
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
		r.lastStats = CheckpointStats{ID: p.id, Dir: p.dir, Duration: time.Since(p.started), MaxSyncPause: p.maxPause}
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
			p.dir, time.Since(p.started).Round(time.Millisecond), p.maxPause.Round(time.Microsecond))})
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
		ex := r.cur
		r.mu.Unlock()
		var stopped <-chan struct{}
		var reqs chan checkpointRequest
		if ex != nil {
			stopped, reqs = ex.coord.stopped, ex.coord.requests
		}
		select {
		case reqs <- req:
		case <-stopped:
			time.Sleep(time.Millisecond)
			continue
		case <-time.After(time.Millisecond):
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
