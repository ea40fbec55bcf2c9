package kinesis

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/engine/enginetest"
	"github.com/sluicehq/sluice/internal/testseed"
)

func keySeqs(nKeys, n int) []keySeq {
	var vs []keySeq
	seq := map[string]int{}
	for i := 0; i < n; i++ {
		k := "k" + strconv.Itoa(i%nKeys)
		vs = append(vs, keySeq{Key: k, Seq: seq[k]})
		seq[k]++
	}
	return vs
}

func encodeKeySeq(v keySeq) (Entry, error) {
	return Entry{PartitionKey: v.Key, Data: []byte(v.ID())}, nil
}

// readBack reads the whole stream with the connector's own source.
func readBack(t *testing.T, e *testEnv, stream string) []keySeq {
	t.Helper()
	src, err := NewSource(e.client, SourceOptions{Stream: stream, Bounded: true})
	if err != nil {
		t.Fatal(err)
	}
	j := engine.NewJob("readback", engine.Config{Parallelism: 1})
	out := engine.Collect(parsed(engine.SourceOf(j, "kinesis", src, engine.NoWatermarks[Record]())), "out")
	if err := j.Execute(context.Background()); err != nil {
		t.Fatal(err)
	}
	return out.Values()
}

// TestSinkBatchesAndRetriesRefusedRecords writes through a client whose
// PutRecords refuses every 7th record with a throttling error and fails
// every 10th call whole with InternalFailureException: every record is
// stored, and the refused ones are counted as retried.
func TestSinkBatchesAndRetriesRefusedRecords(t *testing.T) {
	e := startServer(t)
	e.createStream(t, "out", 3)
	api := &faultyAPI{API: e.client, refuseEvery: 7, failCallEvery: 10}
	sink, err := NewSink(api, SinkOptions{Stream: "out", MaxBatchRecords: 100, InitialBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond}, encodeKeySeq)
	if err != nil {
		t.Fatal(err)
	}
	in := keySeqs(20, 3000)
	j := engine.NewJob("write", engine.Config{Parallelism: 2, BatchSize: 64})
	engine.SinkTo(engine.FromSlice(j, "in", in, engine.NoWatermarks[keySeq]()), "kinesis", sink)
	if err := j.Execute(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := sink.Stats()
	if st.Records != 3000 || st.Retried != api.refused.Load() || st.Retried == 0 || api.failedCalls.Load() == 0 {
		t.Fatalf("stats %+v, %d refused", st, api.refused.Load())
	}
	// Each record is in the stream; the sink stored each once, but the
	// SDK's transport may send a call again after a dropped connection
	// (aws/aws-sdk-go-v2#2737), which stores it twice: at least once.
	got := map[string]int{}
	for _, v := range readBack(t, e, "out") {
		got[v.ID()]++
	}
	dups := 0
	for _, v := range in {
		if got[v.ID()] == 0 {
			t.Fatalf("record %s lost", v.ID())
		}
		dups += got[v.ID()] - 1
	}
	if len(got) != len(in) {
		t.Fatalf("%d distinct records in the stream, %d written", len(got), len(in))
	}
	t.Logf("%d calls, %d records retried, %d stored twice; %s", st.Calls, st.Retried, dups, e.rt.counts())
}

// TestSinkBatchLimits checks the two bounds of a call: 1200 small records
// at parallelism 1 take three calls of 500, 500 and 200; 40 records of
// 300 KiB take calls of at most 5 MiB (17 records each).
func TestSinkBatchLimits(t *testing.T) {
	for _, tc := range []struct {
		n, size, calls int
	}{{1200, 10, 3}, {40, 300 << 10, 3}} {
		t.Run(fmt.Sprintf("%dx%d", tc.n, tc.size), func(t *testing.T) {
			e := startServer(t)
			e.createStream(t, "out", 2)
			pad := strings.Repeat("x", tc.size)
			sink, err := NewSink(e.client, SinkOptions{Stream: "out"}, func(v keySeq) (Entry, error) {
				return Entry{PartitionKey: v.Key, Data: []byte(v.ID() + "/" + pad)}, nil
			})
			if err != nil {
				t.Fatal(err)
			}
			j := engine.NewJob("write", engine.Config{Parallelism: 1, BatchSize: 32})
			engine.SinkTo(engine.FromSlice(j, "in", keySeqs(5, tc.n), engine.NoWatermarks[keySeq]()), "kinesis", sink)
			if err := j.Execute(context.Background()); err != nil {
				t.Fatal(err)
			}
			if st := sink.Stats(); st.Records != int64(tc.n) || st.Calls != int64(tc.calls) {
				t.Fatalf("stats %+v, want %d records in %d calls", st, tc.n, tc.calls)
			}
		})
	}
}

// TestSinkAtLeastOnceAcrossRestarts fails a checkpointed job at random
// points: after the restarts every record is in the stream at least once
// (the records since the restored checkpoint are written again).
func TestSinkAtLeastOnceAcrossRestarts(t *testing.T) {
	seed := testseed.Seed(t)
	rng := rand.New(rand.NewPCG(seed, 5))
	e := startServer(t)
	e.createStream(t, "out", 2)
	sink, err := NewSink(e.client, SinkOptions{Stream: "out", MaxBatchRecords: 50}, encodeKeySeq)
	if err != nil {
		t.Fatal(err)
	}
	in := keySeqs(10, 2000)
	inj := enginetest.RandomInjector(rng, 2000, 1+rng.IntN(3))
	j := engine.NewJob("write", engine.Config{Parallelism: 2, BatchSize: 16,
		Checkpoint: engine.CheckpointConfig{Interval: 2 * time.Millisecond, Dir: t.TempDir()},
		Restart:    engine.FixedDelay(10, time.Millisecond)})
	s := engine.Map(engine.FromSlice(j, "in", in, engine.NoWatermarks[keySeq]()), "fail", func(v keySeq) keySeq { inj.Panic(); return v })
	engine.SinkTo(s, "kinesis", sink)
	r, err := j.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Wait(); err != nil {
		t.Fatalf("seed %d: %v", seed, err)
	}
	got := map[string]int{}
	for _, v := range readBack(t, e, "out") {
		got[v.ID()]++
	}
	dups := 0
	for _, v := range in {
		if got[v.ID()] == 0 {
			t.Fatalf("seed %d: record %s lost", seed, v.ID())
		}
		dups += got[v.ID()] - 1
	}
	t.Logf("%d failures, %d attempts, %d records written twice or more", inj.Fired(), r.Attempt()+1, dups)
}

// TestSinkRefusesBadRecords fails the job with an error naming the
// problem, before any call.
func TestSinkRefusesBadRecords(t *testing.T) {
	for _, tc := range []struct {
		e    Entry
		want string
	}{
		{Entry{PartitionKey: "", Data: []byte("x")}, "partition key of 0 characters (Kinesis takes 1 to 256)"},
		{Entry{PartitionKey: strings.Repeat("é", 257), Data: []byte("x")}, "partition key of 257 characters"},
		{Entry{PartitionKey: "k", Data: make([]byte, 1<<20)}, "record of 1048577 bytes with its partition key (Kinesis takes at most 1048576)"},
		{Entry{PartitionKey: "k", ExplicitHashKey: "340282366920938463463374607431768211456"}, `explicit hash key "340282366920938463463374607431768211456" is not a decimal in [0, 2^128-1]`},
	} {
		e := startServer(t)
		e.createStream(t, "out", 1)
		api := &faultyAPI{API: e.client}
		sink, err := NewSink(api, SinkOptions{Stream: "out"}, func(keySeq) (Entry, error) { return tc.e, nil })
		if err != nil {
			t.Fatal(err)
		}
		j := engine.NewJob("write", engine.Config{Parallelism: 1})
		engine.SinkTo(engine.FromSlice(j, "in", keySeqs(1, 1), engine.NoWatermarks[keySeq]()), "kinesis", sink)
		err = j.Execute(context.Background())
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Fatalf("got %v, want %q", err, tc.want)
		}
		if sink.Stats().Calls != 0 {
			t.Fatalf("%d calls", sink.Stats().Calls)
		}
	}
}

// TestSinkNamesKinesisErrors: a stream that does not exist fails the job
// with Kinesis's own error.
func TestSinkNamesKinesisErrors(t *testing.T) {
	e := startServer(t)
	sink, err := NewSink(e.client, SinkOptions{Stream: "missing"}, encodeKeySeq)
	if err != nil {
		t.Fatal(err)
	}
	j := engine.NewJob("write", engine.Config{Parallelism: 1})
	engine.SinkTo(engine.FromSlice(j, "in", keySeqs(1, 3), engine.NoWatermarks[keySeq]()), "kinesis", sink)
	err = j.Execute(context.Background())
	if err == nil || !strings.Contains(err.Error(), "ResourceNotFoundException") || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("got %v", err)
	}
	t.Log(err)
}

// TestSinkFlushTimeout: a partial batch is sent once its first record is
// FlushTimeout old by the job's clock, without another Write or a
// checkpoint.
func TestSinkFlushTimeout(t *testing.T) {
	e := startServer(t)
	e.createStream(t, "out", 1)
	sink, err := NewSink(e.client, SinkOptions{Stream: "out", FlushTimeout: time.Second}, encodeKeySeq)
	if err != nil {
		t.Fatal(err)
	}
	clk := engine.NewManualClock(time.Unix(0, 0))
	w, err := sink.Open(context.Background(), engine.SinkInfo{Name: "kinesis", Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	var recs []engine.Record[keySeq]
	for _, v := range keySeqs(3, 3) {
		recs = append(recs, engine.Record[keySeq]{Value: v})
	}
	if err := w.Write(recs); err != nil {
		t.Fatal(err)
	}
	clk.Advance(999 * time.Millisecond)
	if n := sink.Stats().Calls; n != 0 {
		t.Fatalf("%d calls before the timeout", n)
	}
	clk.Advance(time.Millisecond)
	deadline := time.Now().Add(30 * time.Second)
	for sink.Stats().Records < 3 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond) // the writer's goroutine sends
	}
	if st := sink.Stats(); st.Records != 3 || st.Calls != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// TestSinkFailOnError: with FailOnError a throttled record fails the job
// with Kinesis's code and message instead of being sent again.
func TestSinkFailOnError(t *testing.T) {
	e := startServer(t)
	e.createStream(t, "out", 1)
	api := &faultyAPI{API: e.client, refuseEvery: 5}
	sink, err := NewSink(api, SinkOptions{Stream: "out", FailOnError: true}, encodeKeySeq)
	if err != nil {
		t.Fatal(err)
	}
	j := engine.NewJob("write", engine.Config{Parallelism: 1})
	engine.SinkTo(engine.FromSlice(j, "in", keySeqs(2, 20), engine.NoWatermarks[keySeq]()), "kinesis", sink)
	err = j.Execute(context.Background())
	if err == nil || !strings.Contains(err.Error(), "refused a record: ProvisionedThroughputExceededException: Rate exceeded for shard") {
		t.Fatalf("got %v", err)
	}
	if st := sink.Stats(); st.Retried != 0 {
		t.Fatalf("stats %+v", st)
	}
}
