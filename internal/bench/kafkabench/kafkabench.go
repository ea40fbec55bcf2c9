// Package kafkabench is `sluice bench kafka`: the Kafka engine source and
// sink (connectors/kafka) against franz-go's in-process cluster (kfake),
// each beside a plain franz-go consume or produce loop in the same run,
// and the exactly-once sink beside the at-least-once one. The cluster runs
// in the same process, so CPU figures include the broker's work.
package kafkabench

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/connectors/kafka"
	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/internal/bench"
)

// Config is the configuration of Run.
type Config struct {
	Runs       int           // runs per case (medians are reported)
	Records    int           // records per run
	Bytes      int           // value bytes per record
	Partitions int           // partitions of the topics
	Interval   time.Duration // checkpoint interval of the sink cases
}

// DefaultConfig is the configuration of the published figures.
var DefaultConfig = Config{Runs: 3, Records: 200_000, Bytes: 100, Partitions: 4, Interval: 100 * time.Millisecond}

type env struct {
	addrs []string
	adm   *kadm.Client
	cl    *kgo.Client
}

func (e *env) topic(ctx context.Context, name string, parts int) error {
	res, err := e.adm.CreateTopic(ctx, int32(parts), 1, nil, name)
	if err == nil {
		err = res.Err
	}
	if err != nil {
		return fmt.Errorf("create topic %s: %w", name, err)
	}
	return nil
}

// Run runs the source case, the sink case and the exactly-once case, and
// hands each result to emit as it finishes.
func Run(ctx context.Context, cfg Config, emit bench.Emit) error {
	if cfg.Runs < 1 || cfg.Records < 1 || cfg.Bytes < 1 || cfg.Partitions < 1 || cfg.Interval <= 0 {
		return bench.ConfigError("--runs, --records, --bytes, --partitions and --interval must be positive")
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		return fmt.Errorf("start kfake: %w", err)
	}
	defer c.Close()
	e := &env{addrs: c.ListenAddrs()}
	if e.cl, err = kgo.NewClient(kgo.SeedBrokers(e.addrs...), kgo.ProducerLinger(0)); err != nil {
		return err
	}
	defer e.cl.Close()
	e.adm = kadm.NewClient(e.cl)
	value := make([]byte, cfg.Bytes)
	keys := make([][]byte, 1000)
	for i := range keys {
		keys[i] = []byte("k" + strconv.Itoa(i))
	}
	n := cfg.Records
	payload := int64(n) * int64(cfg.Bytes)

	// Source: the topic is filled once; each run reads it all.
	if err := e.topic(ctx, "read", cfg.Partitions); err != nil {
		return err
	}
	if err := produceLoop(ctx, e.addrs, "read", n, keys, value); err != nil {
		return err
	}
	// One unmeasured round of each first: connections, the cluster's
	// first fetches and the Go runtime warm up.
	if _, err := readJob(ctx, e.addrs, "read"); err != nil {
		return err
	}
	if _, err := consumeLoop(ctx, e, "read"); err != nil {
		return err
	}
	var job, loop []bench.Sample
	for range cfg.Runs {
		s, err := bench.Measure(func() (int64, int64, error) {
			got, err := readJob(ctx, e.addrs, "read")
			if err == nil && got != int64(n) {
				err = fmt.Errorf("the job read %d records, want %d", got, n)
			}
			return got, payload, err
		})
		if err != nil {
			return err
		}
		job = append(job, s)
		s, err = bench.Measure(func() (int64, int64, error) {
			got, err := consumeLoop(ctx, e, "read")
			if err == nil && got != int64(n) {
				err = fmt.Errorf("the loop read %d records, want %d", got, n)
			}
			return got, payload, err
		})
		if err != nil {
			return err
		}
		loop = append(loop, s)
	}
	name := fmt.Sprintf("kafka source, bounded job p=1, %d partitions, %d B", cfg.Partitions, cfg.Bytes)
	if err := emit(withCPU(bench.FromSamples(name, job).WithBaseline(loop), loop).Set("baseline", "franz-go consume loop")); err != nil {
		return err
	}

	// Sink: a job writing n records at-least-once, beside a produce loop.
	in := make([]int, n)
	for i := range in {
		in[i] = i
	}
	sinkRun := func(topic, guarantee string) (bench.Sample, error) {
		if err := e.topic(ctx, topic, cfg.Partitions); err != nil {
			return bench.Sample{}, err
		}
		return bench.Measure(func() (int64, int64, error) {
			return int64(n), payload, writeJob(ctx, e.addrs, topic, guarantee, cfg.Interval, in, keys, value)
		})
	}
	for _, g := range []string{kafka.AtLeastOnce, kafka.ExactlyOnce} {
		if _, err := sinkRun("warm-"+g, g); err != nil {
			return err
		}
	}
	if err := e.topic(ctx, "warm-direct", cfg.Partitions); err != nil {
		return err
	}
	if err := produceLoop(ctx, e.addrs, "warm-direct", n, keys, value); err != nil {
		return err
	}
	var alo, direct, eos []bench.Sample
	for r := range cfg.Runs {
		s, err := sinkRun(fmt.Sprintf("alo-%d", r), kafka.AtLeastOnce)
		if err != nil {
			return err
		}
		alo = append(alo, s)
		topic := fmt.Sprintf("direct-%d", r)
		if err := e.topic(ctx, topic, cfg.Partitions); err != nil {
			return err
		}
		s, err = bench.Measure(func() (int64, int64, error) {
			return int64(n), payload, produceLoop(ctx, e.addrs, topic, n, keys, value)
		})
		if err != nil {
			return err
		}
		direct = append(direct, s)
		s, err = sinkRun(fmt.Sprintf("eos-%d", r), kafka.ExactlyOnce)
		if err != nil {
			return err
		}
		eos = append(eos, s)
	}
	name = fmt.Sprintf("kafka sink at-least-once, job p=1, checkpoints every %s, %d partitions, %d B", cfg.Interval, cfg.Partitions, cfg.Bytes)
	if err := emit(withCPU(bench.FromSamples(name, alo).WithBaseline(direct), direct).Set("baseline", "franz-go produce loop (idempotent, acks=all)")); err != nil {
		return err
	}
	name = fmt.Sprintf("kafka sink exactly-once, job p=1, checkpoints every %s, %d partitions, %d B", cfg.Interval, cfg.Partitions, cfg.Bytes)
	return emit(withCPU(bench.FromSamples(name, eos).WithBaseline(alo), alo).Set("baseline", "the at-least-once sink job"))
}

// withCPU adds the baseline's records per CPU second and the ratio of the
// case's to it: on a shared machine the wall-clock ratio mostly measures
// the neighbours, the CPU ratio the work (the in-process cluster's
// included, on both sides).
func withCPU(r bench.Result, baseline []bench.Sample) bench.Result {
	b := bench.Median(baseline, bench.Sample.RecordsPerCPUSec)
	r = r.Set("baseline_records_per_cpu_sec", int64(b))
	if b > 0 {
		r = r.Set("baseline_cpu_ratio", float64(int(r.RecordsPerCPUSec/b*1000))/1000)
	}
	return r
}

func readJob(ctx context.Context, addrs []string, topic string) (int64, error) {
	src, err := kafka.NewSource(kafka.SourceOptions{Client: kafka.ClientOptions{Brokers: addrs}, Topics: []string{topic}, Bounded: true})
	if err != nil {
		return 0, err
	}
	j := engine.NewJob("bench-kafka-source", engine.Config{Parallelism: 1, StateBackend: "memory"})
	var got int64
	engine.ForEach(engine.SourceOf(j, "kafka", src, engine.NoWatermarks[kafka.Record]()), "count", func(kafka.Record) error {
		got++ // parallelism 1: one goroutine
		return nil
	})
	if err := j.Execute(ctx); err != nil {
		return 0, err
	}
	return got, nil
}

// consumeLoop reads every partition of topic to its end with a plain
// direct consumer.
func consumeLoop(ctx context.Context, e *env, topic string) (int64, error) {
	ends, err := e.adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return 0, err
	}
	left := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			left[o.Partition] = o.Offset
		}
	})
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.addrs...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	var got int64
	for len(left) > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return got, err
		}
		for _, fe := range fs.Errors() {
			return got, fmt.Errorf("fetch %s-%d: %w", fe.Topic, fe.Partition, fe.Err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			got++
			if end, ok := left[r.Partition]; ok && r.Offset >= end-1 {
				delete(left, r.Partition)
			}
		})
	}
	return got, nil
}

// produceLoop writes n records with a plain idempotent producer
// (acks=all), asynchronously, then flushes.
func produceLoop(ctx context.Context, addrs []string, topic string, n int, keys [][]byte, value []byte) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.DefaultProduceTopic(topic), kgo.RequiredAcks(kgo.AllISRAcks()))
	if err != nil {
		return err
	}
	defer cl.Close()
	var first error
	promise := func(_ *kgo.Record, err error) {
		if err != nil && first == nil {
			first = err
		}
	}
	for i := range n {
		cl.Produce(ctx, &kgo.Record{Key: keys[i%len(keys)], Value: value}, promise)
	}
	if err := cl.Flush(ctx); err != nil {
		return err
	}
	return first
}

func writeJob(ctx context.Context, addrs []string, topic, guarantee string, interval time.Duration, in []int, keys [][]byte, value []byte) error {
	dir, err := os.MkdirTemp("", "sluice-bench-kafka-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	sink, err := kafka.NewSink[int](kafka.SinkOptions{Client: kafka.ClientOptions{Brokers: addrs}, Topic: topic, Guarantee: guarantee,
		TransactionalIDPrefix: "bench-" + topic}, func(i int) (kafka.Message, error) {
		return kafka.Message{Key: keys[i%len(keys)], Value: value}, nil
	})
	if err != nil {
		return err
	}
	j := engine.NewJob("bench-kafka-sink", engine.Config{Parallelism: 1, StateBackend: "memory",
		Checkpoint: engine.CheckpointConfig{Interval: interval, Dir: dir}})
	kafka.SinkTo(engine.FromPartitions(j, "in", [][]int{in}, engine.WatermarkStrategy[int]{}), "kafka", sink)
	return j.Execute(ctx)
}
