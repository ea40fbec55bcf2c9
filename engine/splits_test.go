package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/engine/enginetest"
	"github.com/sluicehq/sluice/internal/testseed"
	"github.com/sluicehq/sluice/state"
)

// The split test source models a log that reshards: splits form a lineage
// graph (a split ends and hands its keys to one or two children, or two
// splits merge into one), and splits appear over time, discovered by the
// coordinator round after round. Every key's records continue from a
// parent into its child, so a consumer that sees a child's record before
// the end of its parent sees the key's records out of order. The
// coordinator assigns a split only when its parents' ends are safe (read
// by the same subtask, or recorded in a completed checkpoint), checks on
// every restore that its snapshot and the readers' agree, and assigns the
// restored splits anew at any parallelism.

// splitDAG is the data of a split test source.
type splitDAG struct {
	parents [][]int // by split id; parents have smaller ids
	birth   []int   // the discovery round in which the split appears
	recs    [][]rec // each split's records
	rounds  int     // the last discovery round
}

// makeSplitDAG builds roots splits with keysPer keys each and gens
// generations of splits and merges, with up to maxRecs records per key and
// split; want is the output of seqSum over it.
func makeSplitDAG(rng *rand.Rand, roots, gens, keysPer, maxRecs int) (*splitDAG, map[sumOut]int) {
	d := &splitDAG{}
	var keysOf [][]string
	add := func(parents []int, birth int, keys []string) int {
		d.parents = append(d.parents, parents)
		d.birth = append(d.birth, birth)
		keysOf = append(keysOf, keys)
		return len(d.parents) - 1
	}
	var live []int
	for r := 0; r < roots; r++ {
		var keys []string
		for k := 0; k < keysPer; k++ {
			keys = append(keys, fmt.Sprintf("r%d-k%d", r, k))
		}
		live = append(live, add(nil, 1, keys))
	}
	for g := 1; g <= gens; g++ {
		rng.Shuffle(len(live), func(i, j int) { live[i], live[j] = live[j], live[i] })
		var next []int
		for i := 0; i < len(live); i++ {
			id, keys := live[i], keysOf[live[i]]
			switch x := rng.IntN(3); {
			case x == 0 && len(keys) >= 2:
				cut := 1 + rng.IntN(len(keys)-1)
				next = append(next, add([]int{id}, g+1, slices.Clone(keys[:cut])), add([]int{id}, g+1, slices.Clone(keys[cut:])))
			case x == 1 && i+1 < len(live):
				other := live[i+1]
				next = append(next, add([]int{id, other}, g+1, append(slices.Clone(keys), keysOf[other]...)))
				i++
			default:
				next = append(next, id)
			}
		}
		live = next
	}
	d.rounds = gens + 1
	want := map[sumOut]int{}
	seqs, sums := map[string]int{}, map[string]int64{}
	for id := range d.parents {
		left := map[string]int{}
		var pool []string
		for _, k := range keysOf[id] {
			if n := rng.IntN(maxRecs + 1); n > 0 {
				left[k] = n
				pool = append(pool, k)
			}
		}
		var recs []rec
		for len(pool) > 0 {
			i := rng.IntN(len(pool))
			k := pool[i]
			v := rng.Int64N(1000)
			seqs[k]++
			sums[k] += v
			recs = append(recs, rec{Key: k, Seq: seqs[k], Val: v})
			want[sumOut{k, seqs[k], sums[k]}]++
			if left[k]--; left[k] == 0 {
				pool = slices.Delete(pool, i, i+1)
			}
		}
		d.recs = append(d.recs, recs)
	}
	return d, want
}

// testSplit is the split type of the test source: a split and how many of
// its records were read before it was (re)assigned.
type testSplit struct {
	ID     int
	Offset int
}

// splitFinished is the event a reader sends when it has read a split to
// its end.
type splitFinished struct{ ID int }

// splitTestSource is a SplitSource over a splitDAG.
type splitTestSource struct {
	dag      *splitDAG
	interval time.Duration // discovery interval
	fail     func(where string) error
	// invariant counts violated coordination guarantees (see restore).
	invariant atomic.Int64
	// perRead bounds the records a Read emits, and throttle (if set) makes
	// every Read that emits sleep, so that a test can stop a job midway.
	perRead  int
	throttle atomic.Bool
	// pull makes readers ask for splits (RequestSplits) when they have
	// none, and the coordinator give each split to a reader that asked,
	// instead of to subtask id%parallelism.
	pull bool
}

func (s *splitTestSource) SplitCoordination() SplitCoordination {
	return CoordinateSplits(func(ctx *SplitContext[testSplit]) (SplitCoordinator, error) {
		return newTestCoordinator(s, ctx)
	})
}

func (s *splitTestSource) Open(_ context.Context, info SourceInfo) (SourceReader[rec], error) {
	if info.Splits == nil {
		return nil, errors.New("no split reader context")
	}
	return &testReader{s: s, info: info}, nil
}

// Split states in the coordinator.
const (
	stUnknown   = iota // not discovered yet
	stPending          // discovered, not assigned
	stAssigned         // assigned to owner
	stFinished         // its owner read it to the end (after snapshot finishedAt)
	stCommitted        // its end is in a completed checkpoint
)

type testCoordinator struct {
	s          *splitTestSource
	ctx        *SplitContext[testSplit]
	round      int
	status     []int
	owner      []int
	offset     []int   // where a restored split resumes
	finishedAt []int64 // the reader's snapshot before it finished the split
	mine       []bool  // assigned by this coordinator (in this attempt)
	noMore     bool
	waiting    []int // pull: the subtasks that asked for splits, oldest first
}

// coordState is the coordinator's snapshot.
type coordState struct {
	Round int `json:"round"`
	// Assigned are the splits assigned in this attempt (the readers of
	// this attempt hold them); Done those that had ended in the
	// checkpoint this attempt started from.
	Assigned []int `json:"assigned"`
	Done     []int `json:"done"`
}

// readerPos is a reader's position.
type readerPos struct {
	Active   []testSplit `json:"active"`
	Finished []int       `json:"finished"`
}

func newTestCoordinator(s *splitTestSource, ctx *SplitContext[testSplit]) (*testCoordinator, error) {
	n := len(s.dag.parents)
	c := &testCoordinator{s: s, ctx: ctx, status: make([]int, n), owner: make([]int, n), offset: make([]int, n),
		finishedAt: make([]int64, n), mine: make([]bool, n)}
	if err := c.restore(); err != nil {
		return nil, err
	}
	ctx.Every(s.interval, c.discover)
	return c, c.assign()
}

// restore rebuilds the coordinator from its snapshot and the readers'
// positions, and checks the guarantee that they agree: every split the
// coordinator had assigned when it snapshotted reached a reader before
// the reader snapshotted, and no reader holds a split assigned later.
func (c *testCoordinator) restore() error {
	if c.ctx.RestoredState == nil {
		return nil
	}
	var st coordState
	if err := json.Unmarshal(c.ctx.RestoredState, &st); err != nil {
		return err
	}
	c.round = st.Round
	for _, id := range st.Done {
		c.status[id] = stCommitted
	}
	inPos := map[int]bool{}
	for _, p := range c.ctx.RestoredPositions {
		var rp readerPos
		if err := json.Unmarshal(p.Data, &rp); err != nil {
			return err
		}
		for _, id := range rp.Finished {
			inPos[id] = true
			c.status[id] = stCommitted
		}
		for _, sp := range rp.Active {
			inPos[sp.ID] = true
			c.status[sp.ID], c.offset[sp.ID] = stPending, sp.Offset
		}
	}
	assigned := map[int]bool{}
	for _, id := range st.Assigned {
		assigned[id] = true
		if !inPos[id] {
			c.s.invariant.Add(1)
			return fmt.Errorf("split %d was assigned before the checkpoint but is in no reader's snapshot", id)
		}
	}
	for id := range inPos {
		if !assigned[id] {
			c.s.invariant.Add(1)
			return fmt.Errorf("a reader's snapshot holds split %d, which the coordinator's does not", id)
		}
	}
	// Splits discovered but never assigned wait for their parents again;
	// those that were being read go to their new owners at once: their
	// parents' ends are in the checkpoint.
	for id := range c.status {
		if c.status[id] == stUnknown && c.s.dag.birth[id] <= c.round {
			c.status[id] = stPending
		}
		if c.status[id] == stPending && inPos[id] && !c.s.pull {
			if err := c.assignTo(id, id%c.ctx.Parallelism); err != nil {
				return err
			}
		}
	}
	return nil
}

func (c *testCoordinator) assignTo(id, target int) error {
	c.owner[id] = target
	c.status[id] = stAssigned
	c.mine[id] = true
	return c.ctx.Assign(c.owner[id], testSplit{ID: id, Offset: c.offset[id]})
}

func (c *testCoordinator) discover() error {
	if err := c.s.fail("discover"); err != nil {
		return err
	}
	if c.round < c.s.dag.rounds {
		c.round++
		for id, b := range c.s.dag.birth {
			if b == c.round && c.status[id] == stUnknown {
				c.status[id] = stPending
			}
		}
	}
	return c.assign()
}

// assign assigns every pending split whose parents' ends are safe to build
// on, and ends the assignments once every split is out.
func (c *testCoordinator) assign() error {
	for id, st := range c.status {
		if st != stPending {
			continue
		}
		target := id % c.ctx.Parallelism
		if c.s.pull {
			if target = c.pickWaiting(id); target < 0 {
				continue
			}
		}
		ok := true
		for _, p := range c.s.dag.parents[id] {
			switch {
			case c.status[p] == stCommitted:
			case c.status[p] == stFinished && (c.owner[p] == target || !c.ctx.Checkpointing):
			default:
				ok = false
			}
		}
		if ok {
			if err := c.assignTo(id, target); err != nil {
				return err
			}
			if c.s.pull {
				c.waiting = slices.DeleteFunc(c.waiting, func(s int) bool { return s == target })
			}
		}
	}
	out := c.round == c.s.dag.rounds
	for _, st := range c.status {
		out = out && st != stUnknown && st != stPending
	}
	if out && !c.noMore {
		c.noMore = true
		for s := 0; s < c.ctx.Parallelism; s++ {
			if err := c.ctx.NoMoreSplits(s); err != nil {
				return err
			}
		}
	}
	return nil
}

// pickWaiting picks the reader for split id among those that asked: the
// one that read a parent, which may take the split before the parent's end
// is checkpointed, else the one that asked first; -1 if none asked.
func (c *testCoordinator) pickWaiting(id int) int {
	if len(c.waiting) == 0 {
		return -1
	}
	for _, p := range c.s.dag.parents[id] {
		if c.status[p] == stFinished && slices.Contains(c.waiting, c.owner[p]) {
			return c.owner[p]
		}
	}
	return c.waiting[0]
}

func (c *testCoordinator) HandleReaderEvent(ev ReaderEvent) error {
	if err := c.s.fail("event"); err != nil {
		return err
	}
	if _, ok := ev.Event.(SplitRequest); ok {
		if !c.s.pull {
			return fmt.Errorf("subtask %d requested splits from a push coordinator", ev.Subtask)
		}
		if !slices.Contains(c.waiting, ev.Subtask) {
			c.waiting = append(c.waiting, ev.Subtask)
		}
		return c.assign()
	}
	f, ok := ev.Event.(splitFinished)
	if !ok {
		return fmt.Errorf("unknown event %T", ev.Event)
	}
	if c.status[f.ID] != stAssigned || c.owner[f.ID] != ev.Subtask {
		return fmt.Errorf("subtask %d finished split %d, which is not its own (status %d, owner %d)", ev.Subtask, f.ID, c.status[f.ID], c.owner[f.ID])
	}
	c.status[f.ID], c.finishedAt[f.ID] = stFinished, ev.Snapshot
	return c.assign()
}

func (c *testCoordinator) SnapshotState(int64) ([]byte, error) {
	st := coordState{Round: c.round, Assigned: []int{}, Done: []int{}}
	for id, s := range c.status {
		switch {
		case c.mine[id]:
			st.Assigned = append(st.Assigned, id)
		case s == stCommitted:
			st.Done = append(st.Done, id)
		}
	}
	return json.Marshal(st)
}

func (c *testCoordinator) NotifyCheckpointComplete(id int64) error {
	for i, s := range c.status {
		if s == stFinished && c.finishedAt[i] < id {
			c.status[i] = stCommitted
		}
	}
	return c.assign()
}

func (c *testCoordinator) Close() error { return nil }

// testReader reads the splits its coordinator assigns.
type testReader struct {
	s        *splitTestSource
	info     SourceInfo
	active   []testSplit
	finished []int
	noMore   bool
	next     int
	// requested is set while a pull reader waits for the answer to its
	// request.
	requested bool
}

func (r *testReader) AddSplits(splits []testSplit) error {
	for _, sp := range splits {
		for _, a := range r.active {
			if a.ID == sp.ID {
				return fmt.Errorf("split %d assigned twice", sp.ID)
			}
		}
		r.active = append(r.active, sp)
	}
	r.requested = false
	return nil
}

func (r *testReader) NoMoreSplits() error {
	r.noMore = true
	return nil
}

func (r *testReader) Read(ctx context.Context, out *SourceOutput[rec]) error {
	if err := r.s.fail("read"); err != nil {
		return err
	}
	if len(r.active) == 0 {
		if r.noMore {
			return io.EOF
		}
		if r.s.pull && !r.requested {
			r.requested = true
			return r.info.Splits.RequestSplits()
		}
		t := time.NewTimer(time.Millisecond)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.info.Interrupt:
		case <-ctx.Done():
		}
		return nil
	}
	r.next++
	i := r.next % len(r.active)
	sp := &r.active[i]
	recs := r.s.dag.recs[sp.ID]
	split := out.Split(strconv.Itoa(sp.ID))
	if r.s.throttle.Load() {
		time.Sleep(100 * time.Microsecond)
	}
	for n := min(len(recs)-sp.Offset, out.Room(), max(r.s.perRead, 1)); n > 0; n-- {
		split.Collect(recs[sp.Offset])
		sp.Offset++
	}
	if sp.Offset == len(recs) {
		id := sp.ID
		out.ReleaseSplit(strconv.Itoa(id))
		r.active = slices.Delete(r.active, i, i+1)
		r.finished = append(r.finished, id)
		// The position now says the split ended: tell the coordinator.
		return r.info.Splits.SendEvent(splitFinished{ID: id})
	}
	return nil
}

func (r *testReader) SnapshotPosition() ([]byte, error) {
	return json.Marshal(readerPos{Active: r.active, Finished: r.finished})
}

func (r *testReader) Close() error { return nil }

// seqSum is runningSum that also counts records seen out of their key's
// order.
type seqSum struct {
	sum, seq *state.ValueState[int64]
	fail     func(string) error
	disorder *atomic.Int64
}

func (f *seqSum) Open(rc *RuntimeContext) error {
	var err error
	if f.sum, err = GetValueState[int64](rc, "sum"); err != nil {
		return err
	}
	f.seq, err = GetValueState[int64](rc, "seq")
	return err
}

func (f *seqSum) ProcessElement(v rec, ctx *KeyedContext[string, sumOut]) error {
	if err := f.fail("sum"); err != nil {
		return err
	}
	s, _, err := f.sum.Value()
	if err != nil {
		return err
	}
	last, _, err := f.seq.Value()
	if err != nil {
		return err
	}
	if int64(v.Seq) != last+1 {
		f.disorder.Add(1)
	}
	s += v.Val
	ctx.Emit(sumOut{v.Key, v.Seq, s})
	if err := f.seq.Update(int64(v.Seq)); err != nil {
		return err
	}
	return f.sum.Update(s)
}

// siteFail fails the calls in chooses, saying where: one shared count
// across the coordinator, the readers and the operator.
func siteFail(in *enginetest.Injector) func(where string) error {
	return func(where string) error {
		if err := in.Fail(); err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
		return nil
	}
}

// TestSplitCoordinatorExactlyOnce runs the split test source at one
// parallelism, stops it after a few checkpoints, and resumes it at
// another, with failures injected at random points in the readers, the
// coordinator and a keyed operator (each restarting the attempt): the
// committed output is exactly the failure-free one, no key is ever seen
// out of order, and coordinator and readers always agree on restore.
func TestSplitCoordinatorExactlyOnce(t *testing.T) {
	seed := testseed.Seed(t)
	rng := rand.New(rand.NewPCG(seed, 21))
	for round := 0; round < 4; round++ {
		dag, want := makeSplitDAG(rng, 1+rng.IntN(4), 1+rng.IntN(5), 1+rng.IntN(6), 1+rng.IntN(60))
		in := enginetest.NewInjector()
		if round > 0 {
			in = enginetest.RandomInjector(rng, int64(len(want))+200, 1+rng.IntN(5))
		}
		src := &splitTestSource{dag: dag, interval: time.Duration(1+rng.IntN(3)) * time.Millisecond, fail: siteFail(in), perRead: 1 + rng.IntN(16),
			pull: rng.IntN(2) == 0}
		var disorder atomic.Int64
		dir := t.TempDir()
		tx := NewTxCollect[sumOut]()
		// Long buffer timeouts and large batches keep a split's last records
		// in an exchange buffer while the subtask reads on: without the
		// coordinator's rule, a child read by another subtask overtakes them.
		batch := []int{1, 7, 64, 256}[rng.IntN(4)]
		bufferTimeout := []time.Duration{time.Millisecond, 20 * time.Millisecond, 100 * time.Millisecond}[rng.IntN(3)]
		run := func(p int, stopAfter int64) error {
			cfg := Config{Parallelism: p, MaxParallelism: 32, StateBackend: "memory", BatchSize: batch, BufferTimeout: bufferTimeout,
				Checkpoint: CheckpointConfig{Interval: time.Duration(1+rng.IntN(4)) * time.Millisecond, Dir: dir, Resume: true},
				Restart:    FixedDelay(30, time.Millisecond)}
			j := NewJob("splits", cfg)
			s := SourceOf[rec](j, "log", src, WatermarkStrategy[rec]{})
			sums := KeyedProcess(KeyBy(s, func(v rec) string { return v.Key }), "sum",
				KeyedProcessFunction[string, rec, sumOut](&seqSum{fail: siteFail(in), disorder: &disorder}))
			SinkTo(sums, "sink", tx)
			r, err := j.Start(context.Background())
			if err != nil {
				return err
			}
			if stopAfter > 0 {
				deadline := time.Now().Add(20 * time.Second)
				for {
					id, _ := r.LatestCheckpoint()
					select {
					case <-r.Done():
					case <-time.After(time.Millisecond):
						if id < stopAfter && time.Now().Before(deadline) {
							continue
						}
						r.Cancel()
					}
					break
				}
				if err := r.Wait(); err != nil && !errors.Is(err, ErrJobCancelled) {
					return err
				}
				return nil
			}
			return r.Wait()
		}
		p1, p2 := 1+rng.IntN(4), 1+rng.IntN(4)
		stop := int64(2 + rng.IntN(6))
		src.throttle.Store(true)
		err := run(p1, stop)
		src.throttle.Store(false)
		if err != nil {
			t.Fatalf("seed %d round %d: first run (p=%d): %v", seed, round, p1, err)
		}
		first := len(tx.Committed())
		if err := run(p2, 0); err != nil {
			t.Fatalf("seed %d round %d: second run (p=%d): %v", seed, round, p2, err)
		}
		t.Logf("round %d: %d splits, %d records, pull %v, p %d -> %d, %d failures injected, %d records committed by the first run",
			round, len(dag.parents), len(want), src.pull, p1, p2, in.Fired(), first)
		if n := src.invariant.Load(); n > 0 {
			t.Fatalf("seed %d round %d: coordinator and readers disagreed %d times on restore", seed, round, n)
		}
		if n := disorder.Load(); n > 0 {
			t.Fatalf("seed %d round %d: %d records seen out of their key's order", seed, round, n)
		}
		checkExactlyOnce(t, seed, tx.CommittedValues(), want)
	}
}

// TestSplitCoordinatorErrorFailsAttempt: an error of a split coordinator
// fails the attempt with an OperatorError naming the source and the
// coordinator.
func TestSplitCoordinatorErrorFailsAttempt(t *testing.T) {
	dag, _ := makeSplitDAG(rand.New(rand.NewPCG(3, 3)), 2, 2, 2, 5)
	src := &splitTestSource{dag: dag, interval: time.Millisecond, fail: func(where string) error {
		if where == "discover" {
			return errors.New("listing failed")
		}
		return nil
	}}
	j := NewJob("splits", Config{Parallelism: 2, StateBackend: "memory"})
	Collect(SourceOf[rec](j, "log", src, WatermarkStrategy[rec]{}), "sink")
	err := j.Execute(context.Background())
	var oe *OperatorError
	if !errors.As(err, &oe) || oe.Operator != "log" || oe.Role != RoleSplitCoordinator {
		t.Fatalf("got %v", err)
	}
	if want := `operator "log" (split coordinator) failed: listing failed`; err.Error() != want {
		t.Fatalf("got %q, want %q", err, want)
	}
}
