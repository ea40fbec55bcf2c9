// Package conformance is the suite every source and every
// two-phase-commit sink of Sluice runs, so that a connector's exactly-once
// claim is checked the same way everywhere: the job fails at random points
// and restarts from its checkpoints, it is stopped and resumed at another
// parallelism, and a bounded input runs to its end. Each case compares the
// committed output with the whole input, record for record.
//
//	func TestConformance(t *testing.T) {
//		conformance.RunSource(t, conformance.Source[Event]{
//			Build: func(t *testing.T, j *engine.Job) *engine.Stream[Event] { ... },
//			Want:  want, Key: func(e Event) string { return e.ID },
//		})
//	}
//
// Seeds come from internal/testseed (SLUICE_SEED replays a failure).
package conformance

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/engine/enginetest"
	"github.com/sluicehq/sluice/internal/testseed"
)

// Source describes a source under test. Its input must be bounded and the
// same each time Build is called: the suite builds the job several times and
// compares every run's committed output with Want.
type Source[T any] struct {
	// Build adds the source to j (the job's name, parallelism and
	// checkpoint settings are the suite's) and returns its stream.
	Build func(t *testing.T, j *engine.Job) *engine.Stream[T]
	// Key gives a record's identity.
	Key func(T) string
	// Want is how often each identity occurs in the whole input.
	Want map[string]int
	// Parallelisms the source can run at; default 1, 2 and 3.
	Parallelisms []int
}

// RunSource runs the source suite.
func RunSource[T any](t *testing.T, s Source[T]) {
	if len(s.Parallelisms) == 0 {
		s.Parallelisms = []int{1, 2, 3}
	}
	total := int64(0)
	for _, n := range s.Want {
		total += int64(n)
	}
	pipe := func(t *testing.T, j *engine.Job, mid func(T)) *engine.TxCollect[T] {
		src := s.Build(t, j)
		return engine.CollectExactlyOnce(engine.Map(src, "conformance", func(v T) T { mid(v); return v }), "committed")
	}
	t.Run("EndOfInput", func(t *testing.T) {
		for _, p := range s.Parallelisms {
			j := engine.NewJob("conformance", engine.Config{Parallelism: p})
			out := pipe(t, j, func(T) {})
			if err := j.Execute(context.Background()); err != nil {
				t.Fatalf("parallelism %d: %v", p, err)
			}
			enginetest.CheckExactlyOnce(t, 0, out.CommittedValues(), s.Key, s.Want)
		}
	})
	t.Run("RestartAtRandomPoints", func(t *testing.T) {
		seed := testseed.Seed(t)
		rng := rand.New(rand.NewPCG(seed, 0xc0f))
		for round := range 3 {
			p := s.Parallelisms[rng.IntN(len(s.Parallelisms))]
			in := enginetest.RandomInjector(rng, total, 1+rng.IntN(3))
			j := engine.NewJob("conformance", engine.Config{
				Parallelism: p, StateBackend: []string{"memory", "pebble"}[rng.IntN(2)], BatchSize: []int{1, 16, 256}[rng.IntN(3)],
				Checkpoint: engine.CheckpointConfig{Interval: time.Duration(1+rng.IntN(5)) * time.Millisecond, Dir: t.TempDir()},
				Restart:    engine.FixedDelay(10, time.Millisecond),
			})
			out := pipe(t, j, func(T) { slow(); in.Panic() })
			r, err := j.Start(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if err := r.Wait(); err != nil {
				t.Fatalf("seed %d round %d (parallelism %d, failures at %v): %v", seed, round, p, in.Points(), err)
			}
			if in.Fired() > 0 && r.Attempt() == 0 {
				t.Fatalf("seed %d: %d failures fired but the job never restarted", seed, in.Fired())
			}
			enginetest.CheckExactlyOnce(t, seed, out.CommittedValues(), s.Key, s.Want)
		}
	})
	t.Run("Rescale", func(t *testing.T) {
		if len(s.Parallelisms) < 2 {
			t.Skip("the source runs at one parallelism only")
		}
		seed := testseed.Seed(t)
		rng := rand.New(rand.NewPCG(seed, 0x5ca1e))
		p1 := s.Parallelisms[rng.IntN(len(s.Parallelisms))]
		p2 := s.Parallelisms[rng.IntN(len(s.Parallelisms))]
		for p2 == p1 {
			p2 = s.Parallelisms[rng.IntN(len(s.Parallelisms))]
		}
		dir := t.TempDir()
		tx := engine.NewTxCollect[T]()
		build := func(p int, throttle bool) *engine.Job {
			j := engine.NewJob("conformance", engine.Config{Parallelism: p,
				Checkpoint: engine.CheckpointConfig{Interval: 2 * time.Millisecond, Dir: dir, Resume: true}})
			src := s.Build(t, j)
			engine.SinkTo(engine.Map(src, "conformance", func(v T) T {
				if throttle {
					time.Sleep(time.Millisecond) // the first run is stopped long before its end
				}
				return v
			}), "committed", tx)
			return j
		}
		stopAfterCheckpoints(t, build(p1, true), 2)
		first := len(tx.Committed())
		if err := build(p2, false).Execute(context.Background()); err != nil {
			t.Fatalf("resumed at parallelism %d: %v", p2, err)
		}
		t.Logf("parallelism %d then %d: %d records committed by the first run", p1, p2, first)
		enginetest.CheckExactlyOnce(t, seed, tx.CommittedValues(), s.Key, s.Want)
	})
}

// Rec is the record the sink suite writes: key k's records carry Seq 1, 2,
// ... in order, so a record's identity is its key and sequence number.
type Rec struct {
	Key string `json:"key"`
	Seq int    `json:"seq"`
	Val int64  `json:"val"`
}

// ID is the record's identity.
func (r Rec) ID() string { return fmt.Sprintf("%s/%d", r.Key, r.Seq) }

// Sink describes a two-phase-commit sink under test.
type Sink struct {
	// Attach adds the sink to s, writing under dir (a fresh directory per
	// case, shared by the runs of one case).
	Attach func(t *testing.T, s *engine.Stream[Rec], dir string)
	// Committed reads back every record the sink has made visible in dir.
	Committed func(t *testing.T, dir string) []Rec
	// Parallelisms the sink can run at; default 1, 2 and 3.
	Parallelisms []int
}

// Input returns the suite's input: parts partitions of n records over a few
// keys each, and how often each record identity occurs (once).
func Input(rng *rand.Rand, parts, n int) ([][]Rec, map[string]int) {
	in := make([][]Rec, parts)
	want := map[string]int{}
	seqs := map[string]int{}
	for p := range in {
		for range n {
			k := fmt.Sprintf("p%d-k%d", p, rng.IntN(4))
			seqs[k]++
			r := Rec{Key: k, Seq: seqs[k], Val: rng.Int64N(1000)}
			in[p] = append(in[p], r)
			want[r.ID()]++
		}
	}
	return in, want
}

// RunSink runs the sink suite.
func RunSink(t *testing.T, s Sink) {
	if len(s.Parallelisms) == 0 {
		s.Parallelisms = []int{1, 2, 3}
	}
	id := func(r Rec) string { return r.ID() }
	t.Run("EndOfInput", func(t *testing.T) {
		rng := rand.New(rand.NewPCG(1, 1))
		for _, p := range s.Parallelisms {
			parts, want := Input(rng, 3, 500)
			dir := t.TempDir()
			j := engine.NewJob("conformance", engine.Config{Parallelism: p})
			s.Attach(t, engine.FromPartitions(j, "input", parts, engine.WatermarkStrategy[Rec]{}), dir)
			if err := j.Execute(context.Background()); err != nil {
				t.Fatalf("parallelism %d: %v", p, err)
			}
			enginetest.CheckExactlyOnce(t, 0, s.Committed(t, dir), id, want)
		}
	})
	t.Run("RestartAtRandomPoints", func(t *testing.T) {
		seed := testseed.Seed(t)
		rng := rand.New(rand.NewPCG(seed, 0x5eed))
		for round := range 3 {
			parts, want := Input(rng, 1+rng.IntN(4), 300+rng.IntN(700))
			p := s.Parallelisms[rng.IntN(len(s.Parallelisms))]
			in := enginetest.RandomInjector(rng, int64(len(want)), 1+rng.IntN(3))
			dir := t.TempDir()
			j := engine.NewJob("conformance", engine.Config{
				Parallelism: p, BatchSize: []int{1, 16, 256}[rng.IntN(3)],
				Checkpoint: engine.CheckpointConfig{Interval: time.Duration(1+rng.IntN(5)) * time.Millisecond, Dir: filepath(dir, "checkpoints")},
				Restart:    engine.FixedDelay(10, time.Millisecond),
			})
			src := engine.FromPartitions(j, "input", parts, engine.WatermarkStrategy[Rec]{})
			s.Attach(t, engine.Map(src, "maybe-fail", func(r Rec) Rec { slow(); in.Panic(); return r }), filepath(dir, "out"))
			r, err := j.Start(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if err := r.Wait(); err != nil {
				t.Fatalf("seed %d round %d (parallelism %d, failures at %v): %v", seed, round, p, in.Points(), err)
			}
			if in.Fired() > 0 && r.Attempt() == 0 {
				t.Fatalf("seed %d: %d failures fired but the job never restarted", seed, in.Fired())
			}
			enginetest.CheckExactlyOnce(t, seed, s.Committed(t, filepath(dir, "out")), id, want)
		}
	})
	t.Run("Rescale", func(t *testing.T) {
		if len(s.Parallelisms) < 2 {
			t.Skip("the sink runs at one parallelism only")
		}
		seed := testseed.Seed(t)
		rng := rand.New(rand.NewPCG(seed, 0x5ca1e))
		parts, want := Input(rng, 3, 2000)
		p1 := s.Parallelisms[rng.IntN(len(s.Parallelisms))]
		p2 := s.Parallelisms[rng.IntN(len(s.Parallelisms))]
		for p2 == p1 {
			p2 = s.Parallelisms[rng.IntN(len(s.Parallelisms))]
		}
		dir := t.TempDir()
		build := func(p int, throttle bool) *engine.Job {
			j := engine.NewJob("conformance", engine.Config{Parallelism: p,
				Checkpoint: engine.CheckpointConfig{Interval: 2 * time.Millisecond, Dir: filepath(dir, "checkpoints"), Resume: true}})
			src := engine.FromPartitions(j, "input", parts, engine.WatermarkStrategy[Rec]{})
			s.Attach(t, engine.Map(src, "throttle", func(r Rec) Rec {
				if throttle {
					time.Sleep(time.Millisecond) // the first run is stopped long before its end
				}
				return r
			}), filepath(dir, "out"))
			return j
		}
		stopAfterCheckpoints(t, build(p1, true), 2)
		if err := build(p2, false).Execute(context.Background()); err != nil {
			t.Fatalf("resumed at parallelism %d: %v", p2, err)
		}
		enginetest.CheckExactlyOnce(t, seed, s.Committed(t, filepath(dir, "out")), id, want)
	})
}

// stopAfterCheckpoints starts j, waits for n completed checkpoints and
// cancels it, as an operator stopping a job would.
func stopAfterCheckpoints(t *testing.T, j *engine.Job, n int64) {
	t.Helper()
	r, err := j.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if id, _ := r.LatestCheckpoint(); id >= n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %d checkpoints within 30s", n)
		}
		time.Sleep(2 * time.Millisecond)
	}
	r.Cancel()
	if err := r.Wait(); err != nil && !errors.Is(err, engine.ErrJobCancelled) {
		t.Fatalf("first run: %v", err)
	}
}

var slowCalls atomic.Int64

// slow sleeps a little every few calls, so that checkpoints complete
// between the failures of a small input and restarts restore state.
func slow() {
	if slowCalls.Add(1)%8 == 0 {
		time.Sleep(200 * time.Microsecond)
	}
}

func filepath(dir, name string) string { return dir + "/" + name }
