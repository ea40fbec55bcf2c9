// Package exchangebench is `sluice bench exchange`: the same keyed job —
// generated events stamped with their send time, hashed by user to a
// running sum in keyed state — with its exchange over in-process channels
// and over the TCP transport of engine/netexchange (two nodes on
// 127.0.0.1, every channel crossing the connection), interleaved in one
// run: throughput per wall and CPU second, payload MB/s, and the latency
// of a record from the source to the keyed operator.
package exchangebench

import (
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice/connectors/datagen"
	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/engine/netexchange"
	"github.com/sluicehq/sluice/internal/bench"
	"github.com/sluicehq/sluice/internal/bench/pipelinebench"
	"github.com/sluicehq/sluice/state"
)

// Config configures the benchmark.
type Config struct {
	Runs        int
	Records     int64
	Parallelism int
	BatchSize   int
	// Capacity is the batches each channel queues (engine.Config's
	// ChannelCapacity; over TCP, the credits of a channel).
	Capacity int
}

// DefaultConfig is what `sluice bench exchange` runs without flags.
var DefaultConfig = Config{Runs: 3, Records: 2_000_000, Parallelism: 2, BatchSize: 512, Capacity: 4}

// Msg is the exchanged record: 24 bytes on the wire.
type Msg struct {
	User  uint64
	Value int64
	Sent  int64 // unix nanoseconds when the source emitted it
}

// MsgBytes is a Msg's encoded size.
const MsgBytes = 24

// MsgCodec is Msg's fixed-size codec.
type MsgCodec struct{}

// Append implements state.Codec.
func (MsgCodec) Append(dst []byte, m Msg) []byte {
	dst = binary.LittleEndian.AppendUint64(dst, m.User)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(m.Value))
	return binary.LittleEndian.AppendUint64(dst, uint64(m.Sent))
}

// Decode implements state.Codec.
func (MsgCodec) Decode(b []byte) (Msg, error) {
	if len(b) != MsgBytes {
		return Msg{}, fmt.Errorf("%w: a Msg is %d bytes, got %d", state.ErrCorrupt, MsgBytes, len(b))
	}
	return Msg{
		User:  binary.LittleEndian.Uint64(b),
		Value: int64(binary.LittleEndian.Uint64(b[8:])),
		Sent:  int64(binary.LittleEndian.Uint64(b[16:])),
	}, nil
}

// latencies collects sampled source-to-operator latencies.
type latencies struct {
	mu sync.Mutex
	ns []int64
}

func (l *latencies) add(ns []int64) {
	l.mu.Lock()
	l.ns = append(l.ns, ns...)
	l.mu.Unlock()
}

// percentile returns the q-quantile in microseconds.
func (l *latencies) percentile(q float64) float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.ns) == 0 {
		return 0
	}
	s := slices.Clone(l.ns)
	slices.Sort(s)
	return float64(s[int(q*float64(len(s)-1))]) / 1e3
}

// sampleEvery is how often a record's latency is taken.
const sampleEvery = 64

// sumOp keeps a running sum per user, emits it, and samples latency
// (each subtask gets its own copy).
type sumOp struct {
	sum  *state.ValueState[int64]
	lat  *latencies
	n    int
	mine []int64
}

func (s *sumOp) Open(rc *engine.RuntimeContext) error {
	var err error
	s.sum, err = engine.GetValueState[int64](rc, "sum")
	return err
}

func (s *sumOp) ProcessElement(m Msg, ctx *engine.KeyedContext[uint64, pipelinebench.UserSum]) error {
	if s.n++; s.n%sampleEvery == 0 {
		s.mine = append(s.mine, time.Now().UnixNano()-m.Sent)
		if len(s.mine) >= 1024 {
			s.lat.add(s.mine)
			s.mine = s.mine[:0]
		}
	}
	v, _, err := s.sum.Value()
	if err != nil {
		return err
	}
	v += m.Value
	ctx.Emit(pipelinebench.UserSum{User: m.User, Sum: v})
	return s.sum.Update(v)
}

func (s *sumOp) Close() error {
	s.lat.add(s.mine)
	return nil
}

// KeyedJob runs datagen → stamp → (hash by user) → running sum → last-sum
// sink at parallelism p over n records, its exchange over x (nil:
// in-process), and returns the sinks' total, which must equal
// pipelinebench.KeyedSumBaseline(n).
func KeyedJob(ctx context.Context, n int64, p, batch, capacity int, x engine.ExchangeTransport, lat *latencies) (int64, error) {
	j := engine.NewJob("exchange", engine.Config{Parallelism: p, BatchSize: batch, ChannelCapacity: capacity, StateBackend: "memory", Exchange: x})
	src := engine.SourceOf(j, "datagen", datagen.Source(datagen.Options{Count: n}, pipelinebench.Gen), engine.NoWatermarks[pipelinebench.Event]())
	stamped := engine.Map(src, "stamp", func(e pipelinebench.Event) Msg {
		return Msg{User: e.User, Value: e.Value, Sent: time.Now().UnixNano()}
	}).WithCodec(MsgCodec{})
	ks := engine.KeyBy(stamped, func(m Msg) uint64 { return m.User })
	sums := engine.KeyedProcess(ks, "running-sum", engine.KeyedProcessFunction[uint64, Msg, pipelinebench.UserSum](&sumOp{lat: lat}))
	var total atomic.Int64
	engine.SinkTo(sums, "last", &lastSink{total: &total})
	err := j.Execute(ctx)
	return total.Load(), err
}

// Run runs the two cases interleaved and emits one result for each; the
// transport's carries baseline_ratio against the in-process one.
func Run(ctx context.Context, cfg Config, emit bench.Emit) error {
	if cfg.Runs < 1 || cfg.Records < 1 || cfg.Parallelism < 1 || cfg.BatchSize < 1 || cfg.Capacity < 1 {
		return bench.ConfigError("--runs, --records, --parallelism, --batch and --capacity must each be at least 1")
	}
	lb, err := netexchange.NewLoopback(ctx, netexchange.Options{})
	if err != nil {
		return err
	}
	defer lb.Close()
	want := pipelinebench.KeyedSumBaseline(cfg.Records)
	var local, tcp []bench.Sample
	var latLocal, latTCP latencies
	for r := 0; r < cfg.Runs; r++ {
		for _, c := range []struct {
			x       engine.ExchangeTransport
			lat     *latencies
			samples *[]bench.Sample
		}{{nil, &latLocal, &local}, {lb, &latTCP, &tcp}} {
			var got int64
			s, err := bench.Measure(func() (int64, int64, error) {
				var err error
				got, err = KeyedJob(ctx, cfg.Records, cfg.Parallelism, cfg.BatchSize, cfg.Capacity, c.x, c.lat)
				return cfg.Records, cfg.Records * MsgBytes, err
			})
			if err != nil {
				return err
			}
			if got != want {
				return fmt.Errorf("exchangebench: the job computed %d, the loop %d", got, want)
			}
			*c.samples = append(*c.samples, s)
		}
	}
	name := fmt.Sprintf("exchange/keyed-running-sum/p%d/batch%d/capacity%d", cfg.Parallelism, cfg.BatchSize, cfg.Capacity)
	lr := bench.FromSamples(name+"/in-process", local).
		Set("latency_p50_us", latLocal.percentile(0.5)).Set("latency_p99_us", latLocal.percentile(0.99))
	if err := emit(lr); err != nil {
		return err
	}
	tr := bench.FromSamples(name+"/tcp-loopback", tcp).WithBaseline(local).
		Set("latency_p50_us", latTCP.percentile(0.5)).Set("latency_p99_us", latTCP.percentile(0.99))
	return emit(tr)
}

// lastSink keeps the last sum per user per subtask and adds them up when
// the subtask ends.
type lastSink struct{ total *atomic.Int64 }

func (s *lastSink) Open(context.Context, engine.SinkInfo) (engine.SinkWriter[pipelinebench.UserSum], error) {
	return &lastWriter{total: s.total, last: map[uint64]int64{}}, nil
}

type lastWriter struct {
	total *atomic.Int64
	last  map[uint64]int64
}

func (w *lastWriter) Write(b []engine.Record[pipelinebench.UserSum]) error {
	for i := range b {
		w.last[b[i].Value.User] = b[i].Value.Sum
	}
	return nil
}

func (w *lastWriter) Close() error {
	var t int64
	for _, v := range w.last {
		t += v
	}
	w.total.Add(t)
	return nil
}
