package engine

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/engine/enginetest"
	"github.com/sluicehq/sluice/internal/testseed"
	"github.com/sluicehq/sluice/state"
)

// rec is the record of the exactly-once tests: key k's records all live in
// one partition, in order, so per-key running sums are deterministic.
type rec struct {
	Key string
	Seq int
	Val int64
}

type sumOut struct {
	Key string
	Seq int
	Sum int64
}

// makePartitions builds nParts partitions of n records each, keysPer keys
// per partition.
func makePartitions(rng *rand.Rand, nParts, n, keysPer int) ([][]rec, map[sumOut]int) {
	parts := make([][]rec, nParts)
	want := map[sumOut]int{}
	sums := map[string]int64{}
	seqs := map[string]int{}
	for j := range parts {
		for i := 0; i < n; i++ {
			k := fmt.Sprintf("p%d-k%d", j, rng.IntN(keysPer))
			v := rng.Int64N(1000)
			seqs[k]++
			sums[k] += v
			parts[j] = append(parts[j], rec{Key: k, Seq: seqs[k], Val: v})
			want[sumOut{k, seqs[k], sums[k]}]++
		}
	}
	return parts, want
}

// runningSum sums Val per key; failAt makes it fail at chosen records.
type runningSum struct {
	sum  *state.ValueState[int64]
	fail func() error
}

func (r *runningSum) Open(rc *RuntimeContext) error {
	var err error
	r.sum, err = GetValueState[int64](rc, "sum")
	return err
}

func (r *runningSum) ProcessElement(v rec, ctx *KeyedContext[string, sumOut]) error {
	if err := r.fail(); err != nil {
		return err
	}
	s, _, err := r.sum.Value()
	if err != nil {
		return err
	}
	s += v.Val
	ctx.Emit(sumOut{v.Key, v.Seq, s})
	return r.sum.Update(s)
}

func seedFrom(t *testing.T) uint64 { return testseed.Seed(t) }

func checkExactlyOnce(t *testing.T, seed uint64, got []sumOut, want map[sumOut]int) {
	t.Helper()
	enginetest.CheckExactlyOnce(t, seed, got, func(v sumOut) sumOut { return v }, want)
}

// TestExactlyOnceWithRandomFailures fails tasks at random (seeded) points;
// the job restarts from its latest checkpoint each time, and the committed
// output must equal a failure-free run's exactly.
func TestExactlyOnceWithRandomFailures(t *testing.T) {
	seed := seedFrom(t)
	rng := rand.New(rand.NewPCG(seed, 7))
	for round := 0; round < 3; round++ {
		parts, want := makePartitions(rng, 1+rng.IntN(6), 500+rng.IntN(1500), 1+rng.IntN(5))
		total := int64(len(want))
		in := enginetest.RandomInjector(rng, total, 1+rng.IntN(4))
		p := 1 + rng.IntN(4)
		backend := []string{"memory", "pebble"}[rng.IntN(2)]
		cfg := Config{
			Parallelism: p, MaxParallelism: 32, StateBackend: backend, BatchSize: []int{3, 64, 512}[rng.IntN(3)],
			Checkpoint: CheckpointConfig{Interval: time.Duration(1+rng.IntN(10)) * time.Millisecond, Dir: t.TempDir()},
			Restart:    FixedDelay(10, time.Millisecond),
		}
		j := NewJob("exactly-once", cfg)
		src := FromPartitions(j, "parts", parts, WatermarkStrategy[rec]{})
		var pre *Stream[rec]
		failInMap := rng.IntN(2) == 0
		if failInMap {
			pre = Map(src, "maybe-fail", func(v rec) rec {
				if err := in.Fail(); err != nil {
					panic(err) // a panic is a failure too
				}
				return v
			})
		} else {
			pre = Map(src, "identity", func(v rec) rec { return v })
		}
		ks := KeyBy(pre, func(v rec) string { return v.Key })
		sums := KeyedProcess(ks, "sum", KeyedProcessFunction[string, rec, sumOut](&runningSum{fail: func() error {
			if failInMap {
				return nil
			}
			return in.Fail()
		}}))
		out := CollectExactlyOnce(sums, "sink")
		r, err := j.Start(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Wait(); err != nil {
			t.Fatalf("seed %d round %d (p=%d, %s): %v", seed, round, p, backend, err)
		}
		if got := in.Fired(); got == 0 {
			t.Logf("round %d: no failure fired", round)
		}
		// Parallel subtasks may hit two failure points before the job
		// stops, so one restart can follow several failures.
		if fired := in.Fired(); r.Attempt() > fired || (fired > 0 && r.Attempt() == 0) {
			t.Fatalf("seed %d: %d restarts for %d failures", seed, r.Attempt(), fired)
		}
		checkExactlyOnce(t, seed, out.CommittedValues(), want)
	}
}

// TestRestoreAtOtherParallelism stops a job after a checkpoint and resumes
// it at another parallelism: key groups move between subtasks, and the
// committed output of both runs together is exactly the expected one.
func TestRestoreAtOtherParallelism(t *testing.T) {
	seed := seedFrom(t)
	rng := rand.New(rand.NewPCG(seed, 9))
	parts, want := makePartitions(rng, 5, 3000, 4)
	dir := t.TempDir()
	tx := NewTxCollect[sumOut]()
	build := func(p int, throttle bool) *Job {
		j := NewJob("rescale", Config{Parallelism: p, MaxParallelism: 64,
			Checkpoint: CheckpointConfig{Interval: 2 * time.Millisecond, Dir: dir, Resume: true}})
		src := FromPartitions(j, "parts", parts, WatermarkStrategy[rec]{})
		slow := Map(src, "slow", throttled[rec](throttle, 4000))
		sums := KeyedProcess(KeyBy(slow, func(v rec) string { return v.Key }), "sum",
			KeyedProcessFunction[string, rec, sumOut](&runningSum{fail: func() error { return nil }}))
		SinkTo(sums, "sink", tx)
		return j
	}
	r1, err := build(2, true).Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if id, _ := r1.LatestCheckpoint(); id >= 3 || time.Now().After(deadline) {
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
	r1.Cancel()
	if err := r1.Wait(); !errors.Is(err, ErrJobCancelled) {
		t.Fatalf("first run: %v", err)
	}
	first := len(tx.Committed())
	r2, err := build(3, false).Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := r2.Wait(); err != nil {
		t.Fatal(err)
	}
	evs := r2.Events()
	if len(evs) == 0 || evs[0].Kind != EventRestored {
		t.Fatalf("second run did not restore: %v", evs)
	}
	t.Logf("first run committed %d records, both %d", first, len(tx.Committed()))
	checkExactlyOnce(t, seed, tx.CommittedValues(), want)
}

// TestCorruptCheckpointFallsBack corrupts the newest checkpoint: resuming
// reports it with its path and uses the one before.
func TestCorruptCheckpointFallsBack(t *testing.T) {
	dir := t.TempDir()
	parts, want := makePartitions(rand.New(rand.NewPCG(1, 1)), 3, 2000, 3)
	tx := NewTxCollect[sumOut]()
	build := func(throttle bool) *Job {
		j := NewJob("corrupt", Config{Parallelism: 2, Checkpoint: CheckpointConfig{Dir: dir, Resume: true, Retain: 5}})
		src := FromPartitions(j, "parts", parts, WatermarkStrategy[rec]{})
		m := Map(src, "hold", throttled[rec](throttle, 1500))
		SinkTo(KeyedProcess(KeyBy(m, func(v rec) string { return v.Key }), "sum",
			KeyedProcessFunction[string, rec, sumOut](&runningSum{fail: func() error { return nil }})), "sink", tx)
		return j
	}
	r, err := build(true).Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if _, err := r.TriggerCheckpoint(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	r.Cancel()
	r.Wait()
	ids, _ := LocalStorage{Dir: dir}.List()
	if len(ids) < 2 {
		t.Fatalf("checkpoints %v", ids)
	}
	// Truncate a state file of the newest checkpoint.
	newest := filepath.Join(dir, fmt.Sprintf("chk-%d", ids[0]))
	var victim string
	filepath.WalkDir(newest, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && d.Name() != ManifestFile && d.Name() != state.PebbleSnapshotManifest && victim == "" {
			if fi, _ := d.Info(); fi != nil && fi.Size() > 20 {
				victim = p
			}
		}
		return nil
	})
	if victim == "" {
		t.Fatalf("no state file in %s", newest)
	}
	if err := os.Truncate(victim, 10); err != nil {
		t.Fatal(err)
	}
	r2, err := build(false).Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := r2.Wait(); err != nil {
		t.Fatal(err)
	}
	evs := r2.Events()
	if len(evs) < 2 || evs[0].Kind != EventFallback || !strings.Contains(evs[0].Err.Error(), victim) || evs[1].Kind != EventRestored || evs[1].CheckpointID != ids[1] {
		t.Fatalf("events: %v", evs)
	}
	// Falling back past a checkpoint whose output was committed repeats
	// that output (the state restored predates it): every record is there,
	// those after the older checkpoint possibly twice, and the state —
	// each key's final sum — is right.
	have := map[sumOut]int{}
	for _, v := range tx.CommittedValues() {
		have[v]++
	}
	for k := range want {
		if have[k] == 0 {
			t.Fatalf("%v never committed", k)
		}
	}
	final := map[string]sumOut{}
	for k := range want {
		if k.Seq > final[k.Key].Seq {
			final[k.Key] = k
		}
	}
	for _, f := range final {
		if have[f] == 0 {
			t.Fatalf("final sum %v missing", f)
		}
	}
}

// TestSavepointCompatibility: a savepoint restores at another parallelism,
// and is refused, naming operator and state, when a state changed type or
// an operator with state is gone.
func TestSavepointCompatibility(t *testing.T) {
	sp := filepath.Join(t.TempDir(), "sp")
	parts, _ := makePartitions(rand.New(rand.NewPCG(2, 2)), 2, 2000, 2)
	j := NewJob("sp", Config{Parallelism: 2, BatchSize: 8})
	src := FromPartitions(j, "parts", parts, WatermarkStrategy[rec]{})
	m := Map(src, "hold", throttled[rec](true, 600))
	Collect(KeyedProcess(KeyBy(m, func(v rec) string { return v.Key }), "sum",
		KeyedProcessFunction[string, rec, sumOut](&runningSum{fail: func() error { return nil }})), "sink")
	r, err := j.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Savepoint(context.Background(), sp); err != nil {
		t.Fatal(err)
	}
	r.Cancel()
	r.Wait()

	// Same job at parallelism 3: fine.
	j2 := NewJob("sp", Config{Parallelism: 3, Checkpoint: CheckpointConfig{RestoreFrom: sp}})
	src2 := FromPartitions(j2, "parts", parts, WatermarkStrategy[rec]{})
	c2 := Collect(KeyedProcess(KeyBy(Map(src2, "hold", func(v rec) rec { return v }), func(v rec) string { return v.Key }), "sum",
		KeyedProcessFunction[string, rec, sumOut](&runningSum{fail: func() error { return nil }})), "sink")
	if err := j2.Execute(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The restored run emits only what came after the savepoint, with sums
	// that continue the saved ones: every key's last sum is its total.
	last := map[string]int64{}
	for _, v := range c2.Values() {
		if v.Sum > last[v.Key] {
			last[v.Key] = v.Sum
		}
	}
	totals := map[string]int64{}
	for _, p := range parts {
		for _, r := range p {
			totals[r.Key] += r.Val
		}
	}
	for k, s := range totals {
		if last[k] != s {
			t.Fatalf("key %s: last sum %d, want %d", k, last[k], s)
		}
	}

	// The state changed type: refused, naming operator and state.
	j3 := NewJob("sp", Config{Parallelism: 2, Checkpoint: CheckpointConfig{RestoreFrom: sp}})
	src3 := FromPartitions(j3, "parts", parts, WatermarkStrategy[rec]{})
	Collect(KeyedProcess(KeyBy(Map(src3, "hold", func(v rec) rec { return v }), func(v rec) string { return v.Key }), "sum",
		KeyedProcessFunction[string, rec, string](keyedFuncOpen[string, rec, string]{
			open: func(rc *RuntimeContext) error { _, err := GetValueState[string](rc, "sum"); return err },
		})), "sink")
	err = j3.Execute(context.Background())
	if !errors.Is(err, ErrIncompatibleState) || !strings.Contains(err.Error(), `operator "sum": state "sum" was value of int64`) {
		t.Fatalf("changed type: %v", err)
	}

	// The keyed operator is gone: refused unless allowed.
	j4 := NewJob("sp", Config{Parallelism: 2, Checkpoint: CheckpointConfig{RestoreFrom: sp}})
	Collect(Map(FromPartitions(j4, "parts", parts, WatermarkStrategy[rec]{}), "hold", func(v rec) rec { return v }), "sink")
	if _, err := j4.Start(context.Background()); !errors.Is(err, ErrIncompatibleState) || !strings.Contains(err.Error(), `"sum"`) {
		t.Fatalf("missing operator: %v", err)
	}
	j5 := NewJob("sp", Config{Parallelism: 2, Checkpoint: CheckpointConfig{RestoreFrom: sp, AllowNonRestoredState: true}})
	Collect(Map(FromPartitions(j5, "parts", parts, WatermarkStrategy[rec]{}), "hold", func(v rec) rec { return v }), "sink")
	if err := j5.Execute(context.Background()); err != nil {
		t.Fatalf("allowed non-restored state: %v", err)
	}
}

// throttled returns an identity function that, when on, sleeps a
// millisecond per record after the first n, so that a job is still running
// while a test checkpoints it.
func throttled[T any](on bool, n int64) func(T) T {
	var c atomic.Int64
	return func(v T) T {
		if on && c.Add(1) > n {
			time.Sleep(time.Millisecond)
		}
		return v
	}
}

type keyedFuncOpen[K comparable, In, Out any] struct {
	open func(*RuntimeContext) error
}

func (f keyedFuncOpen[K, In, Out]) Open(rc *RuntimeContext) error { return f.open(rc) }
func (f keyedFuncOpen[K, In, Out]) ProcessElement(In, *KeyedContext[K, Out]) error {
	return nil
}

var _ = slices.Sort[[]int]
