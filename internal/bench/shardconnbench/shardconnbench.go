// Package shardconnbench is `sluice bench shardconn`: the shardlog engine
// source and sink, a job reading a 4-shard stream and a sink writer putting
// one, each beside a hand-written loop on the embedded API.
package shardconnbench

import (
	"context"
	"fmt"
	"os"
	"strconv"

	"github.com/sluicehq/sluice/connectors/shardlog"
	"github.com/sluicehq/sluice/connectors/shardlog/shardconn"
	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/internal/bench"
)

const shardconnDataBytes = 100

// Config is the configuration of Run.
type Config struct {
	Runs        int    // runs per case (medians are reported)
	Records     int    // records per run
	Parallelism int    // parallelism of the reading job
	Sync        string // log acknowledgement for the sink case: always (fsync) or none
}

// DefaultConfig is the configuration of the published figures.
var DefaultConfig = Config{Runs: 5, Records: 500_000, Parallelism: 1, Sync: "always"}

// Run runs the source case, then the sink case, and hands each result to
// emit as it finishes. It blocks until both are done or ctx ends.
func Run(ctx context.Context, cfg Config, emit bench.Emit) error {
	// Read through pointers, as the code read its flags before it moved
	// here from cmd/sluice (keeps the move's diff, and merges, small).
	runs, n, par, syncMode := &cfg.Runs, &cfg.Records, &cfg.Parallelism, &cfg.Sync
	if *runs < 1 || *n < 1 || *par < 1 {
		return bench.ConfigError("--runs, --records and --parallelism must be positive")
	}
	sm := shardlog.SyncAlways
	switch *syncMode {
	case "always":
	case "none":
		sm = shardlog.SyncNone
	default:
		return bench.ConfigError("--sync must be always or none")
	}
	dir, err := os.MkdirTemp("", "sluice-bench-shardconn-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	l, err := shardlog.Open(shardlog.Options{Dir: dir, Sync: sm, RetentionInterval: -1})
	if err != nil {
		return err
	}
	defer l.Close()
	data := make([]byte, shardconnDataBytes)
	keys := make([]string, 1000)
	for i := range keys {
		keys[i] = "k" + strconv.Itoa(i)
	}
	payload := int64(*n) * shardconnDataBytes

	// Source: the stream is filled once; each run reads it all with a new
	// bounded job; the baseline reads every shard with ShardReader.
	if err := l.CreateStream(shardlog.CreateStreamInput{Name: "read", ShardCount: 4}); err != nil {
		return err
	}
	if err := putDirect(ctx, l, "read", *n, keys, data); err != nil {
		return err
	}
	var job, loop []bench.Sample
	for r := 0; r < *runs; r++ {
		s, err := bench.Measure(func() (int64, int64, error) {
			src, err := shardconn.NewSource(l, shardconn.SourceOptions{Stream: shardlog.StreamRef{Name: "read"}, Bounded: true})
			if err != nil {
				return 0, 0, err
			}
			j := engine.NewJob("bench-source", engine.Config{Parallelism: *par, StateBackend: "memory"})
			var got [64]int64 // per subtask, no sharing on the hot path
			engine.Process(engine.SourceOf(j, "log", src, engine.SourceTimestamps[shardconn.SourceRecord](0)), "count",
				engine.ProcessFunction[shardconn.SourceRecord, struct{}](&countRecords{counts: got[:]}))
			if err := j.Execute(ctx); err != nil {
				return 0, 0, err
			}
			var total int64
			for _, c := range got {
				total += c
			}
			if total != int64(*n) {
				return 0, 0, fmt.Errorf("read %d records, want %d", total, *n)
			}
			return total, payload, nil
		})
		if err != nil {
			return err
		}
		job = append(job, s)
		s, err = bench.Measure(func() (int64, int64, error) {
			total, err := readDirect(ctx, l, "read")
			return total, payload, err
		})
		if err != nil {
			return err
		}
		loop = append(loop, s)
	}
	name := fmt.Sprintf("shardlog source, bounded job p=%d, 4 shards, %d B", *par, shardconnDataBytes)
	if err := emit(bench.FromSamples(name, job).WithBaseline(loop).Set("baseline", "ShardReader loop")); err != nil {
		return err
	}

	// Sink: each run puts n records into a new stream through one sink
	// writer; the baseline puts them with PutRecords of 500 in a loop.
	var sink, direct []bench.Sample
	for r := 0; r < *runs; r++ {
		stream := fmt.Sprintf("write-%d", r)
		if err := l.CreateStream(shardlog.CreateStreamInput{Name: stream, ShardCount: 4}); err != nil {
			return err
		}
		s, err := bench.Measure(func() (int64, int64, error) {
			return int64(*n), payload, writeSink(ctx, l, stream, *n, keys, data)
		})
		if err != nil {
			return err
		}
		sink = append(sink, s)
		stream = fmt.Sprintf("direct-%d", r)
		if err := l.CreateStream(shardlog.CreateStreamInput{Name: stream, ShardCount: 4}); err != nil {
			return err
		}
		s, err = bench.Measure(func() (int64, int64, error) {
			return int64(*n), payload, putDirect(ctx, l, stream, *n, keys, data)
		})
		if err != nil {
			return err
		}
		direct = append(direct, s)
	}
	name = fmt.Sprintf("shardlog sink, 1 writer, sync=%s, 4 shards, %d B", *syncMode, shardconnDataBytes)
	return emit(bench.FromSamples(name, sink).WithBaseline(direct).Set("baseline", "PutRecords loop"))
}

type countRecords struct {
	counts []int64
	sub    int
}

func (c *countRecords) Open(rc *engine.RuntimeContext) error { c.sub = rc.Subtask; return nil }
func (c *countRecords) ProcessElement(shardconn.SourceRecord, *engine.Context[struct{}]) error {
	c.counts[c.sub]++
	return nil
}

func putDirect(ctx context.Context, l *shardlog.Log, stream string, n int, keys []string, data []byte) error {
	es := make([]shardlog.PutEntry, 0, shardlog.MaxPutRecords)
	var res []shardlog.PutResult
	for i := 0; i < n; {
		es = es[:0]
		for ; len(es) < shardlog.MaxPutRecords && i < n; i++ {
			es = append(es, shardlog.PutEntry{PartitionKey: keys[i%len(keys)], Data: data})
		}
		var err error
		if res, err = l.PutRecords(ctx, shardlog.StreamRef{Name: stream}, es, res[:0]); err != nil {
			return err
		}
		for _, r := range res {
			if r.ErrorCode != "" {
				return fmt.Errorf("put: %w", r.Err)
			}
		}
	}
	return nil
}

func readDirect(ctx context.Context, l *shardlog.Log, stream string) (int64, error) {
	ref := shardlog.StreamRef{Name: stream}
	shards, err := l.ListShards(ref, "", shardlog.ShardFilter{})
	if err != nil {
		return 0, err
	}
	var total, sum int64
	for _, sh := range shards {
		r, err := l.NewShardReader(ref, sh.ShardID, shardlog.StartPosition{Type: shardlog.TrimHorizon})
		if err != nil {
			return 0, err
		}
		for {
			res, err := r.Read(ctx, 0, 0, false)
			if err != nil {
				return 0, err
			}
			for i := range res.Records {
				sum += int64(len(res.Records[i].Data))
			}
			total += int64(len(res.Records))
			if len(res.Records) == 0 || res.ShardEnded {
				break
			}
		}
	}
	_ = sum
	return total, nil
}

func writeSink(ctx context.Context, l *shardlog.Log, stream string, n int, keys []string, data []byte) error {
	s, err := shardconn.NewSink(l, shardconn.SinkOptions{Stream: shardlog.StreamRef{Name: stream}}, func(i int, buf []byte) (shardlog.PutEntry, error) {
		return shardlog.PutEntry{PartitionKey: keys[i%len(keys)], Data: append(buf, data...)}, nil
	})
	if err != nil {
		return err
	}
	w, err := s.Open(ctx, engine.SinkInfo{Name: "bench", Parallelism: 1})
	if err != nil {
		return err
	}
	defer w.Close()
	batch := make([]engine.Record[int], 512)
	for i := 0; i < n; {
		m := min(len(batch), n-i)
		for k := 0; k < m; k++ {
			batch[k].Value = i + k
		}
		if err := w.Write(batch[:m]); err != nil {
			return err
		}
		i += m
	}
	_, err = w.(engine.CommittingWriter).Prepare(1)
	return err
}
