package engine

import (
	"context"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/engine/enginetest"
)

// TestJobTimersRunOnTheJobClock drives a job's every timer — checkpoint
// interval and timeout, restart delay, buffer timeout, processing time —
// with one manual clock that the test moves: the restart delay and the
// checkpoint interval (an hour and ten minutes of clock time) pass in
// milliseconds of real time, and the job's events are stamped with the
// clock's time.
func TestJobTimersRunOnTheJobClock(t *testing.T) {
	seed := seedFrom(t)
	rng := rand.New(rand.NewPCG(seed, 41))
	parts, want := makePartitions(rng, 2, 300, 3)
	in := enginetest.NewInjector(1 + rng.Int64N(int64(len(want))))
	clk := NewManualClock(time.Unix(1e9, 0))
	const (
		interval = 10 * time.Minute
		delay    = time.Hour
	)
	cfg := Config{Parallelism: 2, StateBackend: "memory", Clock: clk, BufferTimeout: time.Minute, BatchSize: 4,
		Checkpoint: CheckpointConfig{Interval: interval, Timeout: 24 * time.Hour, Dir: t.TempDir()},
		Restart:    FixedDelay(3, delay)}
	j := NewJob("clock", cfg)
	src := FromPartitions(j, "parts", parts, WatermarkStrategy[rec]{})
	slow := Map(src, "slow", func(v rec) rec {
		time.Sleep(200 * time.Microsecond) // real time: the test moves the clock meanwhile
		return v
	})
	sums := KeyedProcess(KeyBy(slow, func(v rec) string { return v.Key }), "sum",
		KeyedProcessFunction[string, rec, sumOut](&runningSum{fail: in.Fail}))
	out := CollectExactlyOnce(sums, "sink")
	start := clk.Now()
	r, err := j.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// One minute of clock time per millisecond of real time.
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for done := false; !done; {
		select {
		case <-r.Done():
			done = true
		case <-tick.C:
			clk.Advance(time.Minute)
		}
	}
	if err := r.Wait(); err != nil {
		t.Fatalf("seed %d: %v", seed, err)
	}
	if r.Attempt() != 1 {
		t.Fatalf("seed %d: %d restarts, want 1", seed, r.Attempt())
	}
	if got := r.LastRecovery(); got < delay {
		t.Fatalf("seed %d: recovery took %s of clock time, less than the restart delay %s", seed, got, delay)
	}
	var completed []time.Time
	var restartAt time.Time
	for _, e := range r.Events() {
		if e.Time.Before(start) || e.Time.After(clk.Now()) {
			t.Fatalf("seed %d: event %v not stamped with the job clock (from %s to %s)", seed, e, start, clk.Now())
		}
		switch e.Kind {
		case EventCheckpointCompleted:
			completed = append(completed, e.Time)
		case EventRestarting:
			restartAt = e.Time
		}
	}
	if len(completed) < 3 {
		t.Fatalf("seed %d: %d checkpoints completed, want periodic ones and the final one", seed, len(completed))
	}
	// Periodic checkpoints are an interval of clock time apart; the final
	// one follows the end of input at once.
	for i := 1; i < len(completed)-1; i++ {
		if gap := completed[i].Sub(completed[i-1]); gap < interval {
			t.Fatalf("seed %d: checkpoints %s apart on the clock, interval %s", seed, gap, interval)
		}
	}
	if restartAt.IsZero() || clk.Now().Sub(restartAt) < delay {
		t.Fatalf("seed %d: restart at %s, job ended at %s: the restart delay was not waited on the clock", seed, restartAt, clk.Now())
	}
	t.Logf("%d checkpoints, %s of clock time", len(completed), clk.Now().Sub(start))
	checkExactlyOnce(t, seed, out.CommittedValues(), want)
}

// TestCheckpointRequestWaitsForNextAttempt: a checkpoint requested while
// the job waits out its restart delay (on a clock that stands still) waits
// for the next attempt's coordinator, and completes in that attempt once
// the clock passes the delay.
func TestCheckpointRequestWaitsForNextAttempt(t *testing.T) {
	parts, want := makePartitions(rand.New(rand.NewPCG(4, 4)), 2, 300, 2)
	in := enginetest.NewInjector(1)
	clk := NewManualClock(time.Unix(1e9, 0))
	j := NewJob("request", Config{Parallelism: 2, StateBackend: "memory", Clock: clk,
		Checkpoint: CheckpointConfig{Dir: t.TempDir()}, Restart: FixedDelay(1, time.Hour)})
	src := FromPartitions(j, "parts", parts, WatermarkStrategy[rec]{})
	sums := KeyedProcess(KeyBy(Map(src, "slow", throttled[rec](true, 0)), func(v rec) string { return v.Key }), "sum",
		KeyedProcessFunction[string, rec, sumOut](&runningSum{fail: in.Fail}))
	out := CollectExactlyOnce(sums, "sink")
	r, err := j.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	restarting := func() bool {
		for _, e := range r.Events() {
			if e.Kind == EventRestarting {
				return true
			}
		}
		return false
	}
	for !restarting() {
		time.Sleep(time.Millisecond)
	}
	type result struct {
		id  int64
		err error
	}
	res := make(chan result, 1)
	go func() {
		id, err := r.TriggerCheckpoint(context.Background())
		res <- result{id, err}
	}()
	select {
	case got := <-res:
		t.Fatalf("checkpoint request returned %v during the restart delay", got)
	case <-time.After(20 * time.Millisecond):
	}
	clk.Advance(time.Hour)
	got := <-res
	if got.err != nil {
		t.Fatal(got.err)
	}
	if err := r.Wait(); err != nil {
		t.Fatal(err)
	}
	var attempt = -1
	for _, e := range r.Events() {
		if e.Kind == EventCheckpointCompleted && e.CheckpointID == got.id {
			attempt = e.Attempt
		}
	}
	if attempt != 1 {
		t.Fatalf("checkpoint %d completed in attempt %d, want 1", got.id, attempt)
	}
	checkExactlyOnce(t, 0, out.CommittedValues(), want)
}

// blockingSink's writer blocks in its first Prepare until release closes,
// so that the first checkpoint cannot complete.
type blockingSink struct {
	entered, release chan struct{}
	once             atomic.Bool
}

func (s *blockingSink) Open(context.Context, SinkInfo) (SinkWriter[int], error) { return s, nil }
func (s *blockingSink) Write([]Record[int]) error                               { return nil }
func (s *blockingSink) Close() error                                            { return nil }
func (s *blockingSink) Commit([][]byte) error                                   { return nil }

func (s *blockingSink) Prepare(int64) ([]byte, error) {
	if s.once.CompareAndSwap(false, true) {
		close(s.entered)
		<-s.release
	}
	return nil, nil
}

// TestCheckpointTimeoutOnTheJobClock: a checkpoint that cannot complete
// times out when the job's clock passes Checkpoint.Timeout, and not
// before.
func TestCheckpointTimeoutOnTheJobClock(t *testing.T) {
	clk := NewManualClock(time.Unix(1e9, 0))
	sink := &blockingSink{entered: make(chan struct{}), release: make(chan struct{})}
	j := NewJob("timeout", Config{Parallelism: 1, StateBackend: "memory", Clock: clk,
		Checkpoint: CheckpointConfig{Dir: t.TempDir(), Timeout: time.Hour}})
	SinkTo(FromSlice(j, "in", []int{1, 2, 3}, WatermarkStrategy[int]{}), "sink", sink)
	r, err := j.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	<-sink.entered // the final checkpoint is pending, its sink snapshot blocked
	failed := func() bool {
		for _, e := range r.Events() {
			if e.Kind == EventCheckpointFailed {
				return true
			}
		}
		return false
	}
	clk.Advance(59 * time.Minute)
	time.Sleep(10 * time.Millisecond)
	if failed() {
		t.Fatalf("checkpoint failed before its timeout: %v", r.Events())
	}
	for !failed() {
		// The coordinator arms its timeout timer when it next waits;
		// advancing in steps catches it either way.
		clk.Advance(time.Minute)
		time.Sleep(time.Millisecond)
	}
	close(sink.release)
	err = r.Wait()
	if err == nil || !strings.Contains(err.Error(), "timed out after 1h0m0s") {
		t.Fatalf("job ended with %v, want the final checkpoint's timeout", err)
	}
}
