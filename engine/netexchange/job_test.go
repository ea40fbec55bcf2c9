package netexchange_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/engine/enginetest"
	"github.com/sluicehq/sluice/engine/netexchange"
	"github.com/sluicehq/sluice/internal/testseed"
	"github.com/sluicehq/sluice/state"
)

// rec is the input of the keyed test job: key k's records all live in one
// partition, in order, with increasing event times.
type rec struct {
	Key string
	Seq int64
	Val int64
	TS  int64
}

// recCodec is a binary codec of rec, as a user would give WithCodec.
type recCodec struct{}

func (recCodec) Append(dst []byte, r rec) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(r.Key)))
	dst = append(dst, r.Key...)
	dst = binary.AppendVarint(dst, r.Seq)
	dst = binary.AppendVarint(dst, r.Val)
	return binary.AppendVarint(dst, r.TS)
}

func (recCodec) Decode(b []byte) (rec, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k) {
		return rec{}, state.ErrCorrupt
	}
	r := rec{Key: string(b[k : k+int(n)])}
	b = b[k+int(n):]
	for _, p := range []*int64{&r.Seq, &r.Val, &r.TS} {
		v, k := binary.Varint(b)
		if k <= 0 {
			return rec{}, state.ErrCorrupt
		}
		*p, b = v, b[k:]
	}
	if len(b) != 0 {
		return rec{}, state.ErrCorrupt
	}
	return r, nil
}

const window = 100

// makeInput builds nParts partitions of n records and the job's expected
// output: a running sum per record and a count per key and window.
func makeInput(rng *rand.Rand, nParts, n, keysPer int) ([][]rec, map[string]int) {
	parts := make([][]rec, nParts)
	want := map[string]int{}
	sums, seqs, counts := map[string]int64{}, map[string]int64{}, map[string]int{}
	for j := range parts {
		ts := int64(0)
		for i := 0; i < n; i++ {
			k := fmt.Sprintf("p%d-k%d", j, rng.IntN(keysPer))
			v := rng.Int64N(1000)
			ts += rng.Int64N(7)
			seqs[k]++
			sums[k] += v
			parts[j] = append(parts[j], rec{Key: k, Seq: seqs[k], Val: v, TS: ts})
			want[fmt.Sprintf("sum %s#%d=%d", k, seqs[k], sums[k])]++
			counts[fmt.Sprintf("%s@%d", k, ts/window)]++
		}
	}
	for kw, c := range counts {
		want[fmt.Sprintf("count %s=%d", kw, c)]++
	}
	return parts, want
}

// sumAndCount keeps a running sum per key and counts records per key and
// event-time window, emitting each count when the watermark passes the
// window: a late record (a watermark that overtook a record) is an error.
type sumAndCount struct {
	sum    *state.ValueState[int64]
	counts *state.MapState[int64, int64]
	fail   func() error
}

func (s *sumAndCount) Open(rc *engine.RuntimeContext) error {
	var err error
	if s.sum, err = engine.GetValueState[int64](rc, "sum"); err != nil {
		return err
	}
	s.counts, err = engine.GetMapState[int64, int64](rc, "counts")
	return err
}

func (s *sumAndCount) ProcessElement(r rec, ctx *engine.KeyedContext[string, string]) error {
	if err := s.fail(); err != nil {
		return err
	}
	if r.TS <= ctx.CurrentWatermark() {
		return fmt.Errorf("record %+v behind the watermark %d", r, ctx.CurrentWatermark())
	}
	v, _, err := s.sum.Value()
	if err != nil {
		return err
	}
	v += r.Val
	if err := s.sum.Update(v); err != nil {
		return err
	}
	ctx.Emit(fmt.Sprintf("sum %s#%d=%d", r.Key, r.Seq, v))
	w := r.TS / window
	c, _, err := s.counts.Get(w)
	if err != nil {
		return err
	}
	if err := s.counts.Put(w, c+1); err != nil {
		return err
	}
	return ctx.RegisterEventTimeTimer(w*window + window - 1)
}

func (s *sumAndCount) OnTimer(ts int64, ctx *engine.KeyedContext[string, string]) error {
	w := ts / window
	c, _, err := s.counts.Get(w)
	if err != nil {
		return err
	}
	ctx.Emit(fmt.Sprintf("count %s@%d=%d", ctx.CurrentKey(), w, c))
	return s.counts.Remove(w)
}

// buildJob builds source → (hash) → sum-and-count → (rebalance) → tag →
// sink; with chaining disabled every edge is an exchange.
func buildJob(cfg engine.Config, parts [][]rec, fail func() error, sink engine.Sink[string]) *engine.Job {
	j := engine.NewJob("netx", cfg)
	src := engine.FromPartitions(j, "parts", parts, engine.BoundedOutOfOrderness(0, func(r rec) int64 { return r.TS })).WithCodec(recCodec{})
	ks := engine.KeyBy(src, func(r rec) string { return r.Key })
	out := engine.KeyedProcess(ks, "sum-and-count", engine.KeyedProcessFunction[string, rec, string](&sumAndCount{fail: fail}))
	tagged := engine.Map(out.Rebalance(), "tag", func(s string) string { return s })
	engine.SinkTo(tagged, "sink", sink)
	return j
}

func newLoopback(t *testing.T) *netexchange.Loopback {
	t.Helper()
	lb, err := netexchange.NewLoopback(context.Background(), netexchange.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := lb.Close(); err != nil {
			t.Error(err)
		}
		checkNoLeak(t)
	})
	return lb
}

// checkNoLeak fails if a goroutine of the transport or of a job outlives
// the test.
func checkNoLeak(t *testing.T) {
	t.Helper()
	var stacks string
	for i := 0; i < 2000; i++ {
		buf := make([]byte, 1<<20)
		stacks = string(buf[:runtime.Stack(buf, true)])
		if !strings.Contains(stacks, "netexchange.(*") && !strings.Contains(stacks, "sluice/engine.(*") {
			return
		}
		runtime.Gosched()
		time.Sleep(time.Millisecond)
	}
	t.Errorf("goroutines still running after the job and the transport closed:\n%s", stacks)
}

// TestJobOverLoopbackEqualsInProcess runs the keyed job with every
// exchange over the TCP transport under random configurations and requires
// exactly the output of the same job over in-process channels (and of a
// plain Go computation): ordering per channel, watermarks in band and end
// of input carry over.
func TestJobOverLoopbackEqualsInProcess(t *testing.T) {
	seed := testseed.Seed(t)
	rng := rand.New(rand.NewPCG(seed, 20))
	lb := newLoopback(t)
	for round := 0; round < 4; round++ {
		parts, want := makeInput(rng, 1+rng.IntN(4), 300+rng.IntN(1500), 1+rng.IntN(6))
		cfg := engine.Config{
			Parallelism: 1 + rng.IntN(3), MaxParallelism: 32, DisableChaining: rng.IntN(3) > 0,
			BatchSize: []int{1, 5, 64, 512}[rng.IntN(4)], ChannelCapacity: 1 + rng.IntN(4),
			WatermarkInterval: []time.Duration{-1, time.Millisecond}[rng.IntN(2)], StateBackend: "memory",
		}
		var outs [2][]string
		for i, x := range []engine.ExchangeTransport{nil, lb} {
			c := cfg
			c.Exchange = x
			sink := engine.NewTxCollect[string]()
			if err := buildJob(c, parts, func() error { return nil }, sink).Execute(context.Background()); err != nil {
				t.Fatalf("seed %d round %d (%+v, transport %v): %v", seed, round, cfg, x != nil, err)
			}
			outs[i] = sink.CommittedValues()
			slices.Sort(outs[i])
		}
		if !slices.Equal(outs[0], outs[1]) {
			t.Fatalf("seed %d round %d (%+v): %d results over TCP, %d in process", seed, round, cfg, len(outs[1]), len(outs[0]))
		}
		enginetest.CheckExactlyOnce(t, seed, outs[1], func(s string) string { return s }, want)
	}
}

// TestStreamWithoutCodecIsRefused: a stream that crosses the transport
// must have a codec; Validate names the operator, the stream's consumer and
// its record type.
func TestStreamWithoutCodecIsRefused(t *testing.T) {
	type point struct{ X, Y int }
	j := engine.NewJob("no-codec", engine.Config{Parallelism: 2, Exchange: &netexchange.Loopback{}})
	src := engine.FromSlice(j, "points", []point{{1, 2}}, engine.WatermarkStrategy[point]{})
	engine.ForEach(src.Rebalance(), "print", func(point) error { return nil })
	err := j.Validate()
	if !errors.Is(err, engine.ErrInvalidJob) {
		t.Fatalf("Validate = %v, want ErrInvalidJob", err)
	}
	for _, w := range []string{`operator "points"`, `to "print"`, "netexchange_test.point", "WithCodec"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not say %s", err, w)
		}
	}
	// With a codec it is accepted.
	j2 := engine.NewJob("codec", engine.Config{Parallelism: 2, Exchange: &netexchange.Loopback{}})
	src2 := engine.FromSlice(j2, "points", []point{{1, 2}}, engine.WatermarkStrategy[point]{}).WithCodec(state.JSONCodec[point]{})
	engine.ForEach(src2.Rebalance(), "print", func(point) error { return nil })
	if err := j2.Validate(); err != nil {
		t.Fatal(err)
	}
}

// cutSink wraps a TxCollect: its writer's Prepare — called when a
// checkpoint's barrier reaches the sink subtask, while the checkpoint is
// still in progress — first calls cut with the records the sink's writers
// have been given so far.
type cutSink struct {
	inner   *engine.TxCollect[string]
	written atomic.Int64
	cut     func(checkpoint, written int64)
}

type committingWriter interface {
	engine.SinkWriter[string]
	engine.CommittingWriter
}

func (s *cutSink) Open(ctx context.Context, info engine.SinkInfo) (engine.SinkWriter[string], error) {
	w, err := s.inner.Open(ctx, info)
	if err != nil {
		return nil, err
	}
	return &cutWriter{committingWriter: w.(committingWriter), s: s}, nil
}

type cutWriter struct {
	committingWriter
	s *cutSink
}

func (w *cutWriter) Write(b []engine.Record[string]) error {
	w.s.written.Add(int64(len(b)))
	return w.committingWriter.Write(b)
}

func (w *cutWriter) Prepare(id int64) ([]byte, error) {
	w.s.cut(id, w.s.written.Load())
	return w.committingWriter.Prepare(id)
}

// TestExactlyOnceOverLoopbackWithFailures cuts the TCP connection in the
// middle of a checkpoint (its barrier at one sink subtask, the others still
// travelling, output still to come), or fails the keyed operator at random
// records; the job restarts from its latest checkpoint each time, over a
// new connection, and the committed output equals a failure-free run's
// exactly.
func TestExactlyOnceOverLoopbackWithFailures(t *testing.T) {
	seed := testseed.Seed(t)
	rng := rand.New(rand.NewPCG(seed, 21))
	lb := newLoopback(t)
	totalCuts := 0
	for round := 0; round < 4; round++ {
		// Even rounds cut the connection, odd ones fail the operator, so
		// that each restart's cause is known.
		cutting := round%2 == 0
		parts, want := makeInput(rng, 1+rng.IntN(4), 2000+rng.IntN(2000), 1+rng.IntN(5))
		in := enginetest.RandomInjector(rng, int64(len(want)/2), 1+rng.IntN(2)).ArmLater()
		if cutting {
			in = enginetest.NewInjector()
		}
		cutAt := int64(1 + rng.IntN(2))
		total := int64(len(want))
		var cuts atomic.Int32
		var cutErr atomic.Bool
		sink := &cutSink{inner: engine.NewTxCollect[string](), cut: func(id, written int64) {
			// Output still to come: some sender must use the connection
			// again, so the cut fails the attempt.
			if cutting && id >= cutAt && written < total && cuts.CompareAndSwap(0, 1) {
				lb.Cut()
			}
		}}
		cfg := engine.Config{
			Parallelism: 1 + rng.IntN(3), MaxParallelism: 32, DisableChaining: true,
			BatchSize: []int{3, 16, 64}[rng.IntN(3)], ChannelCapacity: 1 + rng.IntN(4),
			StateBackend: []string{"memory", "pebble"}[rng.IntN(2)],
			Checkpoint:   engine.CheckpointConfig{Interval: time.Duration(1+rng.IntN(3)) * time.Millisecond, Dir: t.TempDir()},
			Restart:      engine.FixedDelay(20, time.Millisecond),
			Exchange:     lb,
			Events: func(e engine.Event) {
				switch e.Kind {
				case engine.EventCheckpointCompleted:
					in.Arm()
				case engine.EventRestarting:
					if e.Err != nil && strings.Contains(e.Err.Error(), "lost: cut") {
						cutErr.Store(true)
					}
				}
			},
		}
		j := buildJob(cfg, parts, in.Fail, sink)
		r, err := j.Start(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Wait(); err != nil {
			t.Fatalf("seed %d round %d (%+v): %v", seed, round, cfg, err)
		}
		t.Logf("seed %d round %d: %d restarts, %d injected failures, connection cut %d times (at checkpoint ≥ %d)", seed, round, r.Attempt(), in.Fired(), cuts.Load(), cutAt)
		if cuts.Load() > 0 {
			totalCuts++
			if !cutErr.Load() {
				t.Fatalf("seed %d round %d: the connection was cut mid-job and no restart named the lost connection", seed, round)
			}
		}
		enginetest.CheckExactlyOnce(t, seed, sink.inner.CommittedValues(), func(s string) string { return s }, want)
	}
	if totalCuts == 0 {
		t.Fatalf("seed %d: no round cut the connection during a checkpoint", seed)
	}
}

// TestBackpressureCrossesTheConnection: a sink that stops taking records
// stops its remote sender once the credits are used; the source's
// back-pressured metric shows it, and no side holds more receive buffers
// than the channels' queues (capacity + the one being processed).
func TestBackpressureCrossesTheConnection(t *testing.T) {
	lb := newLoopback(t)
	const p, capacity = 2, 2
	clk := engine.NewManualClock(time.Unix(1e9, 0))
	j := engine.NewJob("backpressure", engine.Config{Parallelism: p, Clock: clk, BatchSize: 8, ChannelCapacity: capacity, Exchange: lb})
	in := make([]int, 20000)
	src := engine.FromSlice(j, "src", in, engine.WatermarkStrategy[int]{})
	gate := make(chan struct{})
	var first atomic.Bool
	engine.ForEach(src.Rebalance(), "slow", func(int) error {
		if first.CompareAndSwap(false, true) {
			<-gate
		}
		return nil
	})
	r, err := j.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	srcMetrics := func() engine.OperatorMetrics {
		for _, om := range r.Metrics().Operators {
			if om.Name == "src" {
				return om
			}
		}
		return engine.OperatorMetrics{}
	}
	for srcMetrics().BackpressuredNow == 0 {
		time.Sleep(time.Millisecond)
	}
	if n := srcMetrics().RecordsOut; n >= int64(len(in)) {
		t.Fatalf("the source sent all %d records past a blocked sink", n)
	}
	clk.Advance(3 * time.Second)
	close(gate)
	if err := r.Wait(); err != nil {
		t.Fatal(err)
	}
	if bp := srcMetrics().Backpressured; bp < 3*time.Second {
		t.Errorf("source back-pressured %v, want at least the 3s it waited", bp)
	}
	// p×p channels, each receiver holding at most its queue and one frame.
	if _, peak := lb.Buffers(); peak > p*p*(capacity+1) || peak == 0 {
		t.Errorf("receive buffers peaked at %d, want 1..%d", peak, p*p*(capacity+1))
	}
	if now, _ := lb.Buffers(); now != 0 {
		t.Errorf("%d receive buffers held after the job ended", now)
	}
}
