package shardconn

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connectors/shardlog"
	"github.com/sluicehq/sluice/engine"
)

// encodeKeySeq is the tests' Encoder: partition key Key, data "Key/Seq"
// appended to buf.
func encodeKeySeq(v keySeq, buf []byte) (shardlog.PutEntry, error) {
	buf = append(buf, v.Key...)
	buf = append(buf, '/')
	buf = strconv.AppendInt(buf, int64(v.Seq), 10)
	return shardlog.PutEntry{PartitionKey: v.Key, Data: buf}, nil
}

// readStream returns every record of every shard, shard by shard.
func readStream(t *testing.T, l *shardlog.Log, stream string) []keySeq {
	t.Helper()
	ref := shardlog.StreamRef{Name: stream}
	shards, err := l.ListShards(ref, "", shardlog.ShardFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var out []keySeq
	for _, sh := range shards {
		r, err := l.NewShardReader(ref, sh.ShardID, shardlog.StartPosition{Type: shardlog.TrimHorizon})
		if err != nil {
			t.Fatal(err)
		}
		for {
			res, err := r.Read(context.Background(), 0, 0, false)
			if err != nil {
				t.Fatal(err)
			}
			for _, rec := range res.Records {
				v, err := parseKeySeq(rec.Data)
				if err != nil || v.Key != string(rec.PartitionKey) {
					t.Fatalf("record %s: %q under %s: %v", rec.SequenceNumber, rec.Data, rec.PartitionKey, err)
				}
				out = append(out, v)
			}
			if len(res.Records) == 0 || res.ShardEnded {
				break
			}
		}
	}
	return out
}

func makeKeySeqs(nKeys, n int) ([]keySeq, map[string]int) {
	want := map[string]int{}
	vs := make([]keySeq, n)
	for i := range vs {
		k := "k" + strconv.Itoa((i*7)%nKeys)
		vs[i] = keySeq{k, want[k]}
		want[k]++
	}
	return vs, want
}

// perKey groups records by key, in the order given.
func perKey(vs []keySeq) []keySeq {
	var keys []string
	by := map[string][]keySeq{}
	for _, v := range vs {
		if by[v.Key] == nil {
			keys = append(keys, v.Key)
		}
		by[v.Key] = append(by[v.Key], v)
	}
	var out []keySeq
	for _, k := range keys {
		out = append(out, by[k]...)
	}
	return out
}

// TestSinkJobDelivers writes a bounded stream with a job: every record is
// in the log once, each key's in order.
func TestSinkJobDelivers(t *testing.T) {
	l := openTestLog(t, shardlog.Options{})
	if err := l.CreateStream(shardlog.CreateStreamInput{Name: "out", ShardCount: 3}); err != nil {
		t.Fatal(err)
	}
	vs, want := makeKeySeqs(17, 5000)
	sink, err := NewSink(l, SinkOptions{Stream: shardlog.StreamRef{Name: "out"}}, encodeKeySeq)
	if err != nil {
		t.Fatal(err)
	}
	j := engine.NewJob("put", engine.Config{Parallelism: 1, BatchSize: 100})
	engine.SinkTo(engine.FromSlice(j, "values", vs, engine.NoWatermarks[keySeq]()), "log", sink)
	if err := j.Execute(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Shard by shard, a key's records are in one shard and in order.
	checkOnceInOrder(t, perKey(readStream(t, l, "out")), want)
	st := sink.Stats()
	if st.Records != 5000 || st.Retried != 0 || st.Calls < 10 {
		t.Fatalf("stats %+v", st)
	}
}

// TestSinkThrottled writes into a stream whose shards take 300 records a
// second (Limits on): throttled records are retried until every one is stored, once.
func TestSinkThrottled(t *testing.T) {
	l := openTestLog(t, shardlog.Options{Limits: &shardlog.Limits{InRecordsPerSec: 300}})
	if err := l.CreateStream(shardlog.CreateStreamInput{Name: "out", ShardCount: 2}); err != nil {
		t.Fatal(err)
	}
	vs, _ := makeKeySeqs(10, 1200)
	sink, err := NewSink(l, SinkOptions{Stream: shardlog.StreamRef{Name: "out"}, InitialBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond, MaxInFlight: 2}, encodeKeySeq)
	if err != nil {
		t.Fatal(err)
	}
	j := engine.NewJob("put", engine.Config{Parallelism: 2, BatchSize: 64})
	engine.SinkTo(engine.FromSlice(j, "values", vs, engine.NoWatermarks[keySeq]()), "log", sink)
	if err := j.Execute(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := readStream(t, l, "out")
	seen := map[keySeq]int{}
	for _, v := range got {
		seen[v]++
	}
	for _, v := range vs {
		if seen[v] != 1 {
			t.Fatalf("%v stored %d times", v, seen[v])
		}
	}
	if len(got) != len(vs) {
		t.Fatalf("%d records stored, want %d", len(got), len(vs))
	}
	st := sink.Stats()
	t.Logf("stats %+v", st)
	if st.Throttled == 0 || st.Retried < st.Throttled || st.Records != int64(len(vs)) {
		t.Fatalf("stats %+v: want throttled records retried", st)
	}
}

// TestSinkFlushAtCheckpoint: Prepare returns only once every record written
// before it is in the log.
func TestSinkFlushAtCheckpoint(t *testing.T) {
	l := openTestLog(t, shardlog.Options{Sync: shardlog.SyncAlways, Dir: t.TempDir()})
	if err := l.CreateStream(shardlog.CreateStreamInput{Name: "out", ShardCount: 4}); err != nil {
		t.Fatal(err)
	}
	sink, err := NewSink(l, SinkOptions{Stream: shardlog.StreamRef{Name: "out"}, MaxBatchRecords: 7}, encodeKeySeq)
	if err != nil {
		t.Fatal(err)
	}
	w, err := sink.Open(context.Background(), engine.SinkInfo{Name: "log", Parallelism: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	cw := w.(engine.CommittingWriter)
	total := 0
	for round := 1; round <= 5; round++ {
		vs, _ := makeKeySeqs(5, 37*round)
		for i := range vs {
			vs[i].Seq += 1000 * round
		}
		recs := make([]engine.Record[keySeq], len(vs))
		for i, v := range vs {
			recs[i] = engine.Record[keySeq]{Value: v}
		}
		if err := w.Write(recs); err != nil {
			t.Fatal(err)
		}
		total += len(vs)
		c, err := cw.Prepare(int64(round))
		if err != nil || c != nil {
			t.Fatalf("prepare: %q %v", c, err)
		}
		if n := len(readStream(t, l, "out")); n != total {
			t.Fatalf("round %d: %d records in the log after the barrier, want %d", round, n, total)
		}
	}
}

// TestSinkAtLeastOnceWithFailures fails a checkpointed job at random points:
// after its restarts every record is in the log at least once.
func TestSinkAtLeastOnceWithFailures(t *testing.T) {
	l := openTestLog(t, shardlog.Options{})
	if err := l.CreateStream(shardlog.CreateStreamInput{Name: "out", ShardCount: 3}); err != nil {
		t.Fatal(err)
	}
	parts := make([][]keySeq, 3)
	var all []keySeq
	for p := range parts {
		for i := 0; i < 1500; i++ {
			v := keySeq{fmt.Sprintf("p%d-k%d", p, i%9), i}
			parts[p] = append(parts[p], v)
			all = append(all, v)
		}
	}
	sink, err := NewSink(l, SinkOptions{Stream: shardlog.StreamRef{Name: "out"}}, encodeKeySeq)
	if err != nil {
		t.Fatal(err)
	}
	f := &failer{points: []int64{700, 2100, 3900}}
	j := engine.NewJob("put", engine.Config{Parallelism: 2, BatchSize: 32,
		Checkpoint: engine.CheckpointConfig{Interval: 2 * time.Millisecond, Dir: t.TempDir()},
		Restart:    engine.FixedDelay(10, time.Millisecond)})
	src := engine.FromPartitions(j, "parts", parts, engine.NoWatermarks[keySeq]())
	m := engine.Map(src, "fail", func(v keySeq) keySeq { f.check(); return v })
	engine.SinkTo(m, "log", sink)
	r, err := j.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Wait(); err != nil {
		t.Fatal(err)
	}
	seen := map[keySeq]int{}
	got := readStream(t, l, "out")
	for _, v := range got {
		seen[v]++
	}
	for _, v := range all {
		if seen[v] == 0 {
			t.Fatalf("%v lost", v)
		}
	}
	t.Logf("%d failures, %d restarts; %d records stored for %d written", f.fired.Load(), r.Attempt(), len(got), len(all))
	if r.Attempt() == 0 {
		t.Fatal("no restart happened")
	}
}

// TestSinkRefusals: a record the log refuses for good fails the job with
// the log's refusal (its kind and reason; the service messages rendered
// from them are kinesisapi's, tested there), as does a missing stream.
func TestSinkRefusals(t *testing.T) {
	l := openTestLog(t, shardlog.Options{})
	if err := l.CreateStream(shardlog.CreateStreamInput{Name: "out", ShardCount: 1}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		stream string
		enc    Encoder[int]
		want   string
		reason shardlog.Reason
	}{
		{"empty key", "out", func(int, []byte) (shardlog.PutEntry, error) { return shardlog.PutEntry{Data: []byte("x")}, nil }, "partition key", shardlog.ReasonPartitionKeyLength},
		{"oversize", "out", func(_ int, b []byte) (shardlog.PutEntry, error) {
			return shardlog.PutEntry{PartitionKey: "k", Data: make([]byte, shardlog.MaxRecordBytes)}, nil
		}, "1048577 bytes", shardlog.ReasonRecordTooLarge},
		{"bad hash key", "out", func(int, []byte) (shardlog.PutEntry, error) {
			return shardlog.PutEntry{PartitionKey: "k", ExplicitHashKey: "340282366920938463463374607431768211456", Data: []byte("x")}, nil
		}, "ExplicitHashKey", shardlog.ReasonExplicitHashKeyInvalid},
		{"encoder error", "out", func(int, []byte) (shardlog.PutEntry, error) { return shardlog.PutEntry{}, errors.New("no encoding") }, "no encoding", 0},
		{"no stream", "missing", func(int, []byte) (shardlog.PutEntry, error) { return shardlog.PutEntry{PartitionKey: "k"}, nil }, "missing", shardlog.ReasonStreamNotFound},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sink, err := NewSink(l, SinkOptions{Stream: shardlog.StreamRef{Name: c.stream}}, c.enc)
			if err != nil {
				t.Fatal(err)
			}
			j := engine.NewJob("put", engine.Config{})
			engine.SinkTo(engine.FromSlice(j, "v", []int{1, 2, 3}, engine.NoWatermarks[int]()), "log", sink)
			err = j.Execute(context.Background())
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error mentioning %q", err, c.want)
			}
			if e := (*shardlog.Error)(nil); c.reason != 0 && (!errors.As(err, &e) || e.Reason != c.reason) {
				t.Fatalf("got %v, want the log's refusal of reason %d", err, c.reason)
			}
		})
	}
	for _, o := range []SinkOptions{{}, {Stream: shardlog.StreamRef{Name: "out"}, MaxBatchRecords: 501}, {Stream: shardlog.StreamRef{Name: "out"}, MaxBatchBytes: 6 << 20}, {Stream: shardlog.StreamRef{Name: "out"}, MaxInFlight: -1}} {
		if _, err := NewSink(l, o, encodeKeySeq); err == nil {
			t.Errorf("options %+v accepted", o)
		}
	}
}

// TestSinkBackpressure: with the log taking almost nothing, a writer holds
// a bounded number of batches and Write blocks; closing releases it.
func TestSinkBackpressure(t *testing.T) {
	l := openTestLog(t, shardlog.Options{Limits: &shardlog.Limits{InRecordsPerSec: 1}})
	if err := l.CreateStream(shardlog.CreateStreamInput{Name: "out", ShardCount: 1}); err != nil {
		t.Fatal(err)
	}
	sink, err := NewSink(l, SinkOptions{Stream: shardlog.StreamRef{Name: "out"}, MaxBatchRecords: 10, InitialBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond}, encodeKeySeq)
	if err != nil {
		t.Fatal(err)
	}
	w, err := sink.Open(context.Background(), engine.SinkInfo{Name: "log", Parallelism: 1})
	if err != nil {
		t.Fatal(err)
	}
	written := make(chan int, 100)
	done := make(chan error, 1)
	go func() {
		for i := 0; i < 100; i++ {
			recs := make([]engine.Record[keySeq], 10)
			for k := range recs {
				recs[k] = engine.Record[keySeq]{Value: keySeq{"k", i*10 + k}}
			}
			if err := w.Write(recs); err != nil {
				done <- err
				return
			}
			written <- i
		}
		done <- nil
	}()
	// One batch in flight, one queued, one filling: the fourth Write
	// blocks.
	deadline := time.After(300 * time.Millisecond)
	n := 0
wait:
	for {
		select {
		case <-written:
			n++
		case err := <-done:
			t.Fatalf("all writes returned (%v) while the log throttles", err)
		case <-deadline:
			break wait
		}
	}
	if n > 4 {
		t.Fatalf("%d batches of 10 accepted by a writer that holds 3", n)
	}
	w.Close()
	// The blocked Write returns an error: either it sees the writer closing,
	// or a sender's put that Close cancelled failed first.
	if err := <-done; err == nil || !strings.Contains(err.Error(), "canceled") && !strings.Contains(err.Error(), "writer closed") {
		t.Fatalf("blocked Write after Close: %v", err)
	}
}
