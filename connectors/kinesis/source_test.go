package kinesis

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
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
			if err := prod.tryPut(600, func(k string) bool { return rng.Contains(shardlog.PartitionHash([]byte(k))) }); err != nil {
				panic(err)
			}
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

// TestSourceExpiredIterators: every fifth GetRecords finds its iterator
// expired; the reader gets a new one AFTER_SEQUENCE_NUMBER of the last
// record it emitted, and every record is read once, in order.
func TestSourceExpiredIterators(t *testing.T) {
	e := startServer(t)
	e.createStream(t, "s", 2)
	prod := newProducer(e.log, "s", 10, 3)
	prod.put(t, 2000, nil)
	api := &faultyAPI{API: e.client, expireEvery: 5}
	src, err := NewSource(api, SourceOptions{Stream: "s", Bounded: true, MaxRecordsPerRead: 100})
	if err != nil {
		t.Fatal(err)
	}
	j := engine.NewJob("read", engine.Config{Parallelism: 1})
	out := engine.Collect(parsed(engine.SourceOf(j, "kinesis", src, engine.NoWatermarks[Record]())), "out")
	if err := j.Execute(context.Background()); err != nil {
		t.Fatal(err)
	}
	if api.expired.Load() == 0 || api.afterSeqIters.Load() == 0 {
		t.Fatalf("%d expired, %d AFTER_SEQUENCE_NUMBER iterators", api.expired.Load(), api.afterSeqIters.Load())
	}
	checkOnceInOrder(t, out.Values(), prod.counts())
}

// TestSourceUnboundedDiscoversReshards runs an unbounded job at
// parallelism 3 with checkpoints while the stream is split, merged and
// rescaled under it; new shards are found by listing every 20 ms. The
// committed output holds every record once, each key's in order.
func TestSourceUnboundedDiscoversReshards(t *testing.T) {
	e := startServer(t)
	e.createStream(t, "s", 2)
	prod := newProducer(e.log, "s", 30, 2)
	src, err := NewSource(e.client, SourceOptions{Stream: "s", DiscoveryInterval: 20 * time.Millisecond, PollInterval: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	j := engine.NewJob("live", engine.Config{Parallelism: 3, BatchSize: 32,
		Checkpoint: engine.CheckpointConfig{Interval: 10 * time.Millisecond, Dir: t.TempDir()}})
	out := engine.CollectExactlyOnce(keyed(parsed(engine.SourceOf(j, "kinesis", src, engine.NoWatermarks[Record]()))), "out")
	r, err := j.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ref := shardlog.StreamRef{Name: "s"}
	// openAt is the id of the i-th open shard in hash key order.
	openAt := func(i int) string {
		sh, err := e.log.ListShards(ref, "", shardlog.ShardFilter{Type: shardlog.FilterAtLatest})
		if err != nil || i >= len(sh) {
			return fmt.Sprintf("(no open shard %d: %v)", i, err)
		}
		sort.Slice(sh, func(a, b int) bool { return sh[a].HashKeyRange.Start.Cmp(sh[b].HashKeyRange.Start) < 0 })
		return sh[i].ShardID
	}
	steps := []func() error{
		func() error {
			return e.log.SplitShard(ref, "shardId-000000000000", shardlog.UniformRanges(2)[0].Midpoint().String())
		},
		func() error { _, err := e.log.UpdateShardCount(ref, 4, shardlog.UniformScaling); return err },
		func() error { return e.log.MergeShards(ref, openAt(1), openAt(2)) },
	}
	for _, step := range steps {
		prod.put(t, 500, nil)
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	prod.put(t, 500, nil)
	total := 0
	for _, n := range prod.counts() {
		total += n
	}
	deadline := time.Now().Add(60 * time.Second)
	for len(out.Committed()) < total && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	r.Cancel()
	if err := r.Wait(); !errors.Is(err, engine.ErrJobCancelled) {
		t.Fatalf("job: %v", err)
	}
	checkOnceInOrder(t, out.CommittedValues(), prod.counts())
}

// TestSourceStartPositions: LATEST reads only what arrives after the job
// starts (and no closed shard), AT_TIMESTAMP what arrived from then on.
func TestSourceStartPositions(t *testing.T) {
	e := startServer(t)
	e.createStream(t, "s", 2)
	put := func(tag string, n int) {
		for i := 0; i < n; i++ {
			k := fmt.Sprintf("%s%d", tag, i)
			if _, err := e.log.PutRecord(context.Background(), shardlog.StreamRef{Name: "s"}, shardlog.PutEntry{PartitionKey: k, Data: []byte(k)}, ""); err != nil {
				t.Fatal(err)
			}
		}
	}
	put("old", 20)
	time.Sleep(5 * time.Millisecond) // arrival times have millisecond precision
	mid := time.Now()
	time.Sleep(5 * time.Millisecond)
	put("new", 20)
	read := func(o SourceOptions) []string {
		o.Stream, o.Bounded = "s", true
		src, err := NewSource(e.client, o)
		if err != nil {
			t.Fatal(err)
		}
		j := engine.NewJob("read", engine.Config{Parallelism: 2})
		s := engine.Map(engine.SourceOf(j, "kinesis", src, engine.NoWatermarks[Record]()), "data", func(r Record) string { return string(r.Data) })
		out := engine.Collect(s, "out")
		if err := j.Execute(context.Background()); err != nil {
			t.Fatal(err)
		}
		return out.Values()
	}
	count := func(vs []string, prefix string) int {
		n := 0
		for _, v := range vs {
			if strings.HasPrefix(v, prefix) {
				n++
			}
		}
		return n
	}
	got := read(SourceOptions{Start: AtTimestamp, StartTimestamp: mid})
	if count(got, "old") != 0 || count(got, "new") != 20 {
		t.Fatalf("AT_TIMESTAMP: %v", got)
	}
	got = read(SourceOptions{Start: TrimHorizon})
	if count(got, "old") != 20 || count(got, "new") != 20 {
		t.Fatalf("TRIM_HORIZON: %v", got)
	}
	got = read(SourceOptions{Start: Latest})
	if len(got) != 0 {
		t.Fatalf("LATEST over a quiet stream: %v", got)
	}
}

// TestSourceLatestWithAnEndpointBehind: LATEST starts AT_TIMESTAMP of the
// job's clock; an endpoint whose clock is behind refuses that time as in
// the future, and the shard is read from LATEST instead.
func TestSourceLatestWithAnEndpointBehind(t *testing.T) {
	e := startServerAt(t, shardlog.NewManualClock(time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)))
	e.createStream(t, "s", 1)
	prod := newProducer(e.log, "s", 3, 1)
	prod.put(t, 10, nil)
	api := &faultyAPI{API: e.client}
	src, err := NewSource(api, SourceOptions{Stream: "s", Start: Latest, Bounded: true})
	if err != nil {
		t.Fatal(err)
	}
	j := engine.NewJob("read", engine.Config{Parallelism: 1})
	out := engine.Collect(engine.SourceOf(j, "kinesis", src, engine.NoWatermarks[Record]()), "out")
	if err := j.Execute(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(out.Values()); n != 0 {
		t.Fatalf("%d records read from LATEST", n)
	}
}
