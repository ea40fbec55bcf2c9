package kinesis

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connectors/shardlog"
	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/engine/enginetest"
	"github.com/sluicehq/sluice/internal/testseed"
)

// keyedPass is a keyed identity: each key's records go through one
// subtask, as in a real keyed job.
type keyedPass struct{}

func (keyedPass) ProcessElement(v keySeq, ctx *engine.KeyedContext[string, keySeq]) error {
	ctx.Emit(v)
	return nil
}

func keyed(s *engine.Stream[keySeq]) *engine.Stream[keySeq] {
	return engine.KeyedProcess(engine.KeyBy(s, func(v keySeq) string { return v.Key }), "pass",
		engine.KeyedProcessFunction[string, keySeq, keySeq](keyedPass{}))
}

func parsed(s *engine.Stream[Record]) *engine.Stream[keySeq] {
	return engine.Map(s, "parse", func(r Record) keySeq {
		v, err := parseKeySeq(&r)
		if err != nil {
			panic(err)
		}
		return v
	})
}

// TestSourceReadsLineageOnceInKeyOrder reads, through the SDK and the wire
// server, a stream with closed parents and their children (a split, a
// merge, a scaling), at parallelism 1 without checkpoints and 3 with them,
// while a third of the reads are throttled: every record once, each key's
// in order, through a keyed operator.
func TestSourceReadsLineageOnceInKeyOrder(t *testing.T) {
	for _, p := range []int{1, 3} {
		t.Run(fmt.Sprintf("p%d", p), func(t *testing.T) {
			e := startServer(t)
			e.createStream(t, "s", 4)
			prod := newProducer(e.log, "s", 40, 1)
			reshardWithLineage(t, e.log, prod, 800)
			api := &faultyAPI{API: e.client, throttleEvery: 3}
			src, err := NewSource(api, SourceOptions{Stream: "s", Bounded: true, InitialBackoff: time.Millisecond, MaxBackoff: 4 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			cfg := engine.Config{Parallelism: p, BatchSize: 64}
			if p > 1 {
				cfg.Checkpoint = engine.CheckpointConfig{Interval: 5 * time.Millisecond, Dir: t.TempDir()}
			}
			j := engine.NewJob("read", cfg)
			out := engine.Collect(keyed(parsed(engine.SourceOf(j, "kinesis", src, engine.NoWatermarks[Record]()))), "out")
			if err := j.Execute(context.Background()); err != nil {
				t.Fatal(err)
			}
			if api.throttledReads.Load() == 0 {
				t.Fatal("no read was throttled")
			}
			checkOnceInOrder(t, out.Values(), prod.counts())
		})
	}
}

// TestSourceReshardMidReadRestarts splits a shard while a bounded job at
// parallelism 2 reads it — from inside the job, at a record of that shard,
// so that the shard is open when the reader meets it and closed behind it
// — writes more records into the children, and fails the job at random
// points: the job restarts from its checkpoints, and the exactly-once
// output holds every record once, each key's in order across the split.
func TestSourceReshardMidReadRestarts(t *testing.T) {
	seed := testseed.Seed(t)
	rng := rand.New(rand.NewPCG(seed, 21))
	e := startServer(t)
	e.createStream(t, "s", 3)
	prod := newProducer(e.log, "s", 30, seed)
	prod.put(t, 1500, nil)
	ref := shardlog.StreamRef{Name: "s"}
	shards, err := e.log.ListShards(ref, "", shardlog.ShardFilter{})
	if err != nil {
		t.Fatal(err)
	}
	in := enginetest.RandomInjector(rng, 2500, 1+rng.IntN(3))
	var split atomic.Bool
	var splitShard string
	src, err := NewSource(e.client, SourceOptions{Stream: "s", Bounded: true, MaxRecordsPerRead: 50})
	if err != nil {
		t.Fatal(err)
	}
	j := engine.NewJob("reshard", engine.Config{Parallelism: 2, BatchSize: 16,
		Checkpoint: engine.CheckpointConfig{Interval: 3 * time.Millisecond, Dir: t.TempDir()},
		Restart:    engine.FixedDelay(10, time.Millisecond)})
	recs := engine.Map(engine.SourceOf(j, "kinesis", src, engine.NoWatermarks[Record]()), "reshard", func(r Record) Record {
		// The 200th record of shard 1 splits that shard, once.
		if r.ShardID == shards[1].ShardID && rec200(r) && split.CompareAndSwap(false, true) {
			rng := shards[1].HashKeyRange
			mid := rng.Start.Big()
			mid.Add(mid, rng.End.Big())
			mid.Rsh(mid, 1)
			if err := e.log.SplitShard(ref, r.ShardID, mid.String()); err != nil {
				panic(err)
			}
			splitShard = r.ShardID
			// More records, only of keys the split shard held: they go
			// into its children, which the job must then read.
			prod.put(t, 600, func(k string) bool { return rng.Contains(shardlog.PartitionHash([]byte(k))) })
		}
		return r
	})
	recs = engine.Map(recs, "fail", func(r Record) Record { in.Panic(); return r })
	out := engine.CollectExactlyOnce(keyed(parsed(recs)), "out")
	run, err := j.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := run.Wait(); err != nil {
		t.Fatalf("seed %d (failures at %v): %v", seed, in.Points(), err)
	}
	if !split.Load() {
		t.Fatal("the shard was never split")
	}
	if in.Fired() > 0 && run.Attempt() == 0 {
		t.Fatalf("seed %d: %d failures fired, the job never restarted", seed, in.Fired())
	}
	after, err := e.log.ListShards(ref, "", shardlog.ShardFilter{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("split %s; %d shards after; %d failures, %d attempts", splitShard, len(after), in.Fired(), run.Attempt()+1)
	checkOnceInOrder(t, out.CommittedValues(), prod.counts())
}

// rec200 reports whether r is the 200th record of its shard (sequence
// numbers of the log count records per shard; the Record has only its
// sequence number, so this asks the log's encoding).
func rec200(r Record) bool {
	seq, ok := shardlog.ParseSequenceNumber(r.SequenceNumber)
	return ok && seq.Pos == 200
}
