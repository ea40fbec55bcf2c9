package engine

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/engine/enginetest"
)

// globalTx is a GlobalCommitSink for tests: writers stage their records
// per checkpoint in a shared store, one committer per attempt makes them
// visible. It checks the global committer's contract as it goes and
// counts every breach in violations:
//
//   - Cleanup runs once per attempt, before any writer of the attempt
//     opens (and so before any stages);
//   - a Commit for checkpoint n of attempt a is given every transaction
//     that a writer of attempt a staged for a checkpoint up to n and that
//     is not yet visible, from all subtasks;
//   - a transaction a Commit is given exists (Cleanup never removes one
//     that a checkpoint covers).
//
// failCommit (if set) may fail a Commit before it makes anything visible
// or after it made half of it visible: the retry must be idempotent.
type globalTx struct {
	failCommit func() (fail bool, afterHalf bool)
	failWrite  func() error

	mu sync.Mutex
	// run counts the jobs that used the sink (one job resumed from
	// another's checkpoints has the next run); attempts are per run.
	run        int
	staged     map[string]stagedTxn
	committed  map[string]bool
	out        []sumOut
	cleaned    map[[2]int]int // cleanups per run and attempt
	commits    []commitCall
	violations []string
}

type stagedTxn struct {
	run        int
	attempt    int
	subtask    int
	checkpoint int64
	recs       []sumOut
}

type commitCall struct {
	attempt    int
	checkpoint int64
	subtasks   []int // of the committables, in order
}

func newGlobalTx() *globalTx {
	return &globalTx{staged: map[string]stagedTxn{}, committed: map[string]bool{}, cleaned: map[[2]int]int{}}
}

func (g *globalTx) violate(format string, args ...any) {
	g.violations = append(g.violations, fmt.Sprintf(format, args...))
}

func (g *globalTx) Open(_ context.Context, info SinkInfo) (SinkWriter[sumOut], error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if n := g.cleaned[[2]int{g.run, info.Attempt}]; n != 1 {
		g.violate("writer %d of run %d attempt %d opened after %d cleanups", info.Subtask, g.run, info.Attempt, n)
	}
	return &globalTxWriter{g: g, info: info, run: g.run}, nil
}

func (g *globalTx) NewGlobalCommitter(_ context.Context, info CommitterInfo) (GlobalCommitter, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return &globalTxCommitter{g: g, info: info, run: g.run}, nil
}

func (g *globalTx) values() []sumOut {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.out)
}

func (g *globalTx) check(t *testing.T, seed uint64) {
	t.Helper()
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.violations) > 0 {
		t.Fatalf("seed %d: global committer contract broken:\n%v", seed, g.violations)
	}
}

type globalTxWriter struct {
	g    *globalTx
	info SinkInfo
	run  int
	buf  []sumOut
}

func (w *globalTxWriter) Write(b []Record[sumOut]) error {
	if w.g.failWrite != nil {
		if err := w.g.failWrite(); err != nil {
			return err
		}
	}
	for _, r := range b {
		w.buf = append(w.buf, r.Value)
	}
	return nil
}

func (w *globalTxWriter) Prepare(id int64) ([]byte, error) {
	if len(w.buf) == 0 {
		return nil, nil
	}
	txn := fmt.Sprintf("r%d/%d/a%d/c%d", w.run, w.info.Subtask, w.info.Attempt, id)
	w.g.mu.Lock()
	w.g.staged[txn] = stagedTxn{run: w.run, attempt: w.info.Attempt, subtask: w.info.Subtask, checkpoint: id, recs: w.buf}
	w.g.mu.Unlock()
	w.buf = nil
	return []byte(txn), nil
}

func (w *globalTxWriter) Close() error { return nil }

type globalTxCommitter struct {
	g    *globalTx
	info CommitterInfo
	run  int
}

func (c *globalTxCommitter) Commit(_ context.Context, id int64, cs []Committable) error {
	g := c.g
	g.mu.Lock()
	defer g.mu.Unlock()
	call := commitCall{attempt: c.info.Attempt, checkpoint: id}
	given := map[string]bool{}
	for _, cm := range cs {
		call.subtasks = append(call.subtasks, cm.Subtask)
		given[string(cm.Data)] = true
		if cm.Checkpoint > id {
			g.violate("commit of checkpoint %d given a committable of checkpoint %d", id, cm.Checkpoint)
		}
	}
	g.commits = append(g.commits, call)
	fail, afterHalf := false, false
	if c.g.failCommit != nil {
		fail, afterHalf = c.g.failCommit()
	}
	if fail && !afterHalf {
		return fmt.Errorf("injected commit failure (checkpoint %d)", id)
	}
	for i, cm := range cs {
		if fail && i >= len(cs)/2 {
			return fmt.Errorf("injected commit failure after %d of %d (checkpoint %d)", i, len(cs), id)
		}
		txn := string(cm.Data)
		if g.committed[txn] {
			continue
		}
		st, ok := g.staged[txn]
		if !ok {
			g.violate("commit of checkpoint %d: unknown transaction %s", id, txn)
			continue
		}
		g.out = append(g.out, st.recs...)
		g.committed[txn] = true
		delete(g.staged, txn)
	}
	if fail {
		return fmt.Errorf("injected commit failure after all of %d (checkpoint %d)", len(cs), id)
	}
	// Everything this attempt staged up to id must be visible now. (id 0:
	// the end of a bounded input, which covers everything.)
	for txn, st := range g.staged {
		if st.run == c.run && st.attempt == c.info.Attempt && (id == 0 || st.checkpoint <= id) && !given[txn] {
			g.violate("commit of checkpoint %d (attempt %d) missed %s", id, c.info.Attempt, txn)
		}
	}
	return nil
}

func (c *globalTxCommitter) Cleanup(context.Context) error {
	g := c.g
	g.mu.Lock()
	defer g.mu.Unlock()
	g.cleaned[[2]int{c.run, c.info.Attempt}]++
	for txn, st := range g.staged {
		if st.run == c.run && st.attempt >= c.info.Attempt {
			g.violate("attempt %d cleans up after its writer staged %s", c.info.Attempt, txn)
		}
		delete(g.staged, txn)
	}
	return nil
}

func (c *globalTxCommitter) Close() error { return nil }

// TestGlobalCommitBoundedWithoutCheckpoints: without checkpoint storage a
// bounded job's output is committed once, at the end of its input, by one
// Commit with every subtask's committable.
func TestGlobalCommitBoundedWithoutCheckpoints(t *testing.T) {
	var in []sumOut
	for i := 0; i < 300; i++ {
		in = append(in, sumOut{Key: fmt.Sprint(i % 7), Seq: i})
	}
	g := newGlobalTx()
	j := NewJob("bounded", Config{Parallelism: 3, StateBackend: "memory"})
	src := FromSlice(j, "in", in, WatermarkStrategy[sumOut]{})
	// Rebalance spreads the records over all three sink subtasks.
	SinkTo(src.SetParallelism(1).Rebalance(), "sink", g)
	if err := j.Execute(context.Background()); err != nil {
		t.Fatal(err)
	}
	g.check(t, 0)
	if len(g.commits) != 1 || g.commits[0].checkpoint != 0 || !slices.Equal(g.commits[0].subtasks, []int{0, 1, 2}) {
		t.Fatalf("commits %+v, want one of checkpoint 0 with subtasks 0, 1, 2", g.commits)
	}
	got := g.values()
	slices.SortFunc(got, func(a, b sumOut) int { return a.Seq - b.Seq })
	if !slices.Equal(got, in) {
		t.Fatalf("committed %d records, want the %d input records", len(got), len(in))
	}
}

// TestGlobalCommitOncePerCheckpoint: with checkpoints, the committer commits
// once per completed checkpoint, each checkpoint's committables of all
// subtasks at once, in checkpoint order.
func TestGlobalCommitOncePerCheckpoint(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	parts, want := makePartitions(rng, 4, 2000, 3)
	g := newGlobalTx()
	j := NewJob("per-checkpoint", Config{Parallelism: 3, StateBackend: "memory",
		Checkpoint: CheckpointConfig{Interval: time.Millisecond, Dir: t.TempDir()}})
	src := FromPartitions(j, "parts", parts, WatermarkStrategy[rec]{})
	sums := KeyedProcess(KeyBy(Map(src, "slow", throttled[rec](true, 7000)), func(v rec) string { return v.Key }), "sum",
		KeyedProcessFunction[string, rec, sumOut](&runningSum{fail: func() error { return nil }}))
	SinkTo(sums, "sink", g)
	r, err := j.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Wait(); err != nil {
		t.Fatal(err)
	}
	g.check(t, 0)
	completed := map[int64]bool{}
	for _, e := range r.Events() {
		if e.Kind == EventCheckpointCompleted {
			completed[e.CheckpointID] = true
		}
	}
	var last int64
	for _, c := range g.commits {
		if c.attempt != 0 || c.checkpoint <= last || !completed[c.checkpoint] {
			t.Fatalf("commits %+v: not one per completed checkpoint in order (completed %v)", g.commits, completed)
		}
		last = c.checkpoint
	}
	if len(g.commits) != len(completed) {
		t.Fatalf("%d commits for %d completed checkpoints", len(g.commits), len(completed))
	}
	checkExactlyOnce(t, 0, g.values(), want)
}

// TestGlobalCommitWithRandomFailures fails writers, a keyed operator and
// the global committer (before or in the middle of a commit) at random
// points, and stops the job midway to resume it at another parallelism:
// the committed output is exactly a failure-free run's, every commit holds
// all subtasks' staged transactions, and each attempt cleans up once,
// before its writers open.
func TestGlobalCommitWithRandomFailures(t *testing.T) {
	seed := seedFrom(t)
	rng := rand.New(rand.NewPCG(seed, 31))
	for round := 0; round < 4; round++ {
		parts, want := makePartitions(rng, 1+rng.IntN(5), 300+rng.IntN(1200), 1+rng.IntN(5))
		in := enginetest.NewInjector()
		if round > 0 {
			in = enginetest.RandomInjector(rng, int64(2*len(want)), 1+rng.IntN(4))
		}
		var commitFailures atomic.Int64
		commitPlan := rng.Uint64()
		g := newGlobalTx()
		var commitCalls atomic.Int64
		g.failCommit = func() (bool, bool) {
			// Each of the first 32 commits fails with probability 1/4 by
			// the plan's bits; how by the next commit's.
			n := commitCalls.Add(1)
			if n > 32 || round == 0 || (commitPlan>>(2*n%64))&3 != 0 {
				return false, false
			}
			commitFailures.Add(1)
			return true, (commitPlan>>((2*n+1)%64))&1 == 1
		}
		g.failWrite = in.Fail
		dir := t.TempDir()
		var throttle atomic.Bool
		run := func(p int, stopAfter int64) error {
			cfg := Config{Parallelism: p, MaxParallelism: 32, StateBackend: "memory", BatchSize: []int{5, 64}[rng.IntN(2)],
				Checkpoint: CheckpointConfig{Interval: time.Duration(1+rng.IntN(4)) * time.Millisecond, Dir: dir, Resume: true},
				Restart:    FixedDelay(100, time.Millisecond)}
			j := NewJob("global-commit", cfg)
			src := FromPartitions(j, "parts", parts, WatermarkStrategy[rec]{})
			slow := Map(src, "slow", func(v rec) rec {
				if throttle.Load() {
					time.Sleep(20 * time.Microsecond)
				}
				return v
			})
			sums := KeyedProcess(KeyBy(slow, func(v rec) string { return v.Key }), "sum",
				KeyedProcessFunction[string, rec, sumOut](&runningSum{fail: in.Fail}))
			SinkTo(sums, "sink", g)
			r, err := j.Start(context.Background())
			if err != nil {
				return err
			}
			if stopAfter == 0 {
				return r.Wait()
			}
			deadline := time.Now().Add(20 * time.Second)
			for {
				if id, _ := r.LatestCheckpoint(); id >= stopAfter || time.Now().After(deadline) {
					break
				}
				select {
				case <-r.Done():
				case <-time.After(time.Millisecond):
					continue
				}
				break
			}
			r.Cancel()
			if err := r.Wait(); err != nil && !errors.Is(err, ErrJobCancelled) {
				return err
			}
			return nil
		}
		p1, p2 := 1+rng.IntN(4), 1+rng.IntN(4)
		throttle.Store(true)
		err := run(p1, int64(2+rng.IntN(5)))
		throttle.Store(false)
		if err != nil {
			t.Fatalf("seed %d round %d: first run (p=%d): %v", seed, round, p1, err)
		}
		first := len(g.values())
		g.mu.Lock()
		g.run++
		g.mu.Unlock()
		if err := run(p2, 0); err != nil {
			t.Fatalf("seed %d round %d: second run (p=%d): %v", seed, round, p2, err)
		}
		t.Logf("round %d: p %d -> %d, %d failures injected, %d commit failures, %d commits, %d of %d records committed by the first run",
			round, p1, p2, in.Fired(), commitFailures.Load(), len(g.commits), first, len(want))
		g.check(t, seed)
		checkExactlyOnce(t, seed, g.values(), want)
	}
}

// TestGlobalCommitFailureRecommitsOnRestore: a commit that fails after it
// made its output visible fails the attempt; the next attempt commits the
// same checkpoint again before its writers open, and nothing is doubled.
func TestGlobalCommitFailureRecommitsOnRestore(t *testing.T) {
	parts, want := makePartitions(rand.New(rand.NewPCG(8, 8)), 2, 500, 2)
	g := newGlobalTx()
	var failed atomic.Bool
	g.failCommit = func() (bool, bool) {
		// The first commit that has something to commit fails after it
		// has made all of it visible.
		if len(g.staged) > 0 && failed.CompareAndSwap(false, true) {
			return true, false
		}
		return false, false
	}
	j := NewJob("recommit", Config{Parallelism: 2, StateBackend: "memory",
		Checkpoint: CheckpointConfig{Interval: time.Millisecond, Dir: t.TempDir()},
		Restart:    FixedDelay(3, time.Millisecond)})
	src := FromPartitions(j, "parts", parts, WatermarkStrategy[rec]{})
	sums := KeyedProcess(KeyBy(Map(src, "slow", throttled[rec](true, 2000)), func(v rec) string { return v.Key }), "sum",
		KeyedProcessFunction[string, rec, sumOut](&runningSum{fail: func() error { return nil }}))
	SinkTo(sums, "sink", g)
	r, err := j.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Wait(); err != nil {
		t.Fatal(err)
	}
	if !failed.Load() || r.Attempt() != 1 {
		t.Fatalf("failed %v, %d restarts; want one failed commit and one restart", failed.Load(), r.Attempt())
	}
	var failedAt commitCall
	for _, c := range g.commits {
		if c.attempt == 0 {
			failedAt = c
		}
	}
	if first := g.commits[slices.IndexFunc(g.commits, func(c commitCall) bool { return c.attempt == 1 })]; first.checkpoint != failedAt.checkpoint ||
		!slices.Equal(first.subtasks, failedAt.subtasks) {
		t.Fatalf("attempt 1 first committed %+v, want the failed commit %+v again", first, failedAt)
	}
	for _, e := range r.Events() {
		var oe *OperatorError
		if e.Kind == EventRestarting && (!errors.As(e.Err, &oe) || oe.Role != RoleGlobalCommitter || oe.Operator != "sink") {
			t.Fatalf("restart for %v, want for the global committer of sink", e.Err)
		}
	}
	g.check(t, 0)
	checkExactlyOnce(t, 0, g.values(), want)
}

// TestGlobalCommitterErrorNamesSink: a committer's error fails the job
// with an OperatorError naming the sink and the committer.
func TestGlobalCommitterErrorNamesSink(t *testing.T) {
	g := newGlobalTx()
	g.failCommit = func() (bool, bool) { return true, false }
	j := NewJob("fails", Config{Parallelism: 2, StateBackend: "memory"})
	SinkTo(FromSlice(j, "in", []sumOut{{Key: "a"}, {Key: "b"}}, WatermarkStrategy[sumOut]{}), "out", g)
	err := j.Execute(context.Background())
	var oe *OperatorError
	if !errors.As(err, &oe) || oe.Operator != "out" || oe.Role != RoleGlobalCommitter {
		t.Fatalf("got %v", err)
	}
	if want := `operator "out" (global committer) failed: commit checkpoint 0: injected commit failure (checkpoint 0)`; err.Error() != want {
		t.Fatalf("got %q, want %q", err, want)
	}
}
