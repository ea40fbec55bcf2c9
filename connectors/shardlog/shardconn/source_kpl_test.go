package shardconn

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connectors/kpl"
	"github.com/sluicehq/sluice/connectors/shardlog"
	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/internal/testseed"
)

// putAggregated puts n user records "k<key>/<seq>" over nKeys keys as KPL
// aggregates per shard (of at most maxSize bytes), with every tenth
// Kinesis record a plain one, and returns each key's count.
func putAggregated(t *testing.T, l *shardlog.Log, ref shardlog.StreamRef, n, nKeys, maxSize int, seed uint64, counts map[string]int) {
	t.Helper()
	m, err := ShardMap(l, ref)
	if err != nil {
		t.Fatal(err)
	}
	a, err := kpl.NewAggregator(kpl.AggregatorOptions{MaxSize: maxSize}, m)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(seed, 5))
	var es []kpl.Entry
	for i := 0; i < n; i++ {
		k := "k" + strconv.Itoa(rng.IntN(nKeys))
		u := kpl.UserRecord{PartitionKey: k, Data: []byte(k + "/" + strconv.Itoa(counts[k]))}
		counts[k]++
		if i%10 == 0 {
			// A plain record between aggregates: flush that shard's
			// aggregate first so the key's order holds.
			es = a.Flush(es)
			es = append(es, kpl.Entry{PartitionKey: u.PartitionKey, Data: u.Data})
			continue
		}
		if es, err = a.Add(es, u); err != nil {
			t.Fatal(err)
		}
	}
	es = a.Flush(es)
	for len(es) > 0 {
		b := es[:min(len(es), 100)]
		es = es[len(b):]
		pe := make([]shardlog.PutEntry, len(b))
		for i, e := range b {
			pe[i] = shardlog.PutEntry{PartitionKey: e.PartitionKey, ExplicitHashKey: e.ExplicitHashKey, Data: e.Data}
		}
		res, err := l.PutRecords(context.Background(), ref, pe, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			if r.ErrorCode != "" {
				t.Fatalf("put: %s %v", r.ErrorCode, r.Err)
			}
		}
	}
}

// TestSourceDeaggregatesAndRestoresInsideAggregates reads aggregates with
// a small output batch, so that reads stop inside aggregates, snapshots
// there, and restores into new readers: every user record comes out once,
// in order, with its sub-sequence number; the position names the
// sub-sequence number.
func TestSourceDeaggregatesAndRestoresInsideAggregates(t *testing.T) {
	l := openTestLog(t, shardlog.Options{})
	ref := shardlog.StreamRef{Name: "s"}
	if err := l.CreateStream(shardlog.CreateStreamInput{Name: "s", ShardCount: 3}); err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	putAggregated(t, l, ref, 3000, 12, 2000, testseed.Seed(t), counts)
	ctx := context.Background()
	var got []SourceRecord
	var positions []engine.SourcePosition
	sawSub := false
	for round := 0; ; round++ {
		src, err := NewSource(l, SourceOptions{Stream: ref, Bounded: true})
		if err != nil {
			t.Fatal(err)
		}
		r, err := src.Open(ctx, engine.SourceInfo{Subtask: 0, Parallelism: 1, Restored: positions})
		if err != nil {
			t.Fatal(err)
		}
		out, read := engine.NewTestSourceOutput[SourceRecord](7)
		var eof bool
		for i := 0; i < 5; i++ {
			if err := r.Read(ctx, out); errors.Is(err, io.EOF) {
				eof = true
				break
			} else if err != nil {
				t.Fatal(err)
			}
		}
		got = append(got, read()...)
		pos, err := r.(engine.CheckpointedReader).SnapshotPosition()
		if err != nil {
			t.Fatal(err)
		}
		r.Close()
		if _, _, ents, err := decodePositions(pos); err != nil {
			t.Fatal(err)
		} else {
			for _, e := range ents {
				sawSub = sawSub || e.sub > 0
			}
		}
		positions = []engine.SourcePosition{{Subtask: 0, Parallelism: 1, Data: pos}}
		if eof {
			break
		}
		if round > 10000 {
			t.Fatal("no end")
		}
	}
	if !sawSub {
		t.Fatal("no snapshot fell inside an aggregate")
	}
	var ks []keySeq
	subs := map[string]uint64{}
	for _, r := range got {
		k, err := parseKeySeq(r.Data)
		if err != nil {
			t.Fatal(err)
		}
		if r.PartitionKey != k.Key {
			t.Fatalf("user record %s has partition key %s", r.Data, r.PartitionKey)
		}
		seq := r.SequenceNumber.String()
		if r.Aggregated {
			if want := subs[seq]; r.SubSequenceNumber != want {
				t.Fatalf("%s: sub-sequence %d, want %d", seq, r.SubSequenceNumber, want)
			}
			subs[seq]++
		} else if r.SubSequenceNumber != 0 {
			t.Fatalf("plain record with sub-sequence %d", r.SubSequenceNumber)
		}
		ks = append(ks, k)
	}
	checkOnceInOrder(t, ks, counts)
}

// TestSourceDeaggregationWithFailures runs a bounded job at parallelism 2
// over aggregates with failures injected and restarts from checkpoints
// taken every few milliseconds (so inside aggregates): the committed
// output is every user record exactly once, each key's in order.
func TestSourceDeaggregationWithFailures(t *testing.T) {
	seed := testseed.Seed(t)
	rng := rand.New(rand.NewPCG(seed, 12))
	l := openTestLog(t, shardlog.Options{})
	ref := shardlog.StreamRef{Name: "s"}
	if err := l.CreateStream(shardlog.CreateStreamInput{Name: "s", ShardCount: 4}); err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	putAggregated(t, l, ref, 6000, 30, 4000, seed, counts)
	f := &failer{}
	for i := 0; i < 4; i++ {
		f.points = append(f.points, 1+rng.Int64N(6000))
	}
	src, err := NewSource(l, SourceOptions{Stream: ref, Bounded: true, Checkpointed: true})
	if err != nil {
		t.Fatal(err)
	}
	tx := engine.NewTxCollect[keySeq]()
	j := engine.NewJob("kpl", engine.Config{Parallelism: 2, BatchSize: 8, MaxParallelism: 16,
		Checkpoint: engine.CheckpointConfig{Interval: 2 * time.Millisecond, Dir: t.TempDir()},
		Restart:    engine.FixedDelay(10, time.Millisecond)})
	var n atomic.Int64
	recs := engine.Map(parseRecords(engine.SourceOf(j, "log", src, engine.NoWatermarks[SourceRecord]())), "fail", func(v keySeq) keySeq {
		if n.Add(1)%64 == 0 {
			time.Sleep(100 * time.Microsecond) // let checkpoints happen mid-stream
		}
		f.check()
		return v
	})
	engine.SinkTo(engine.KeyedProcess(engine.KeyBy(recs, func(v keySeq) string { return v.Key }), "pass",
		engine.KeyedProcessFunction[string, keySeq, keySeq](keyedPass{})), "out", tx)
	r, err := j.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Wait(); err != nil {
		t.Fatalf("seed %d: %v", seed, err)
	}
	t.Logf("%d failures injected, %d attempts", f.fired.Load(), r.Attempt())
	if f.fired.Load() == 0 {
		t.Fatal("no failure was injected")
	}
	checkOnceInOrder(t, tx.CommittedValues(), counts)
}

// TestSourceCorruptAggregatePassedThrough: a record with the magic prefix
// and a bad MD5 comes out whole, counted and reported to the hook, between
// the user records around it; KeepAggregates passes aggregates on whole.
func TestSourceCorruptAggregatePassedThrough(t *testing.T) {
	l := openTestLog(t, shardlog.Options{})
	ref := shardlog.StreamRef{Name: "s"}
	if err := l.CreateStream(shardlog.CreateStreamInput{Name: "s", ShardCount: 1}); err != nil {
		t.Fatal(err)
	}
	m, _ := ShardMap(l, ref)
	a, _ := kpl.NewAggregator(kpl.AggregatorOptions{}, m)
	es, _ := a.Add(nil, kpl.UserRecord{PartitionKey: "a", Data: []byte("a/0")})
	es, _ = a.Add(es, kpl.UserRecord{PartitionKey: "b", Data: []byte("b/0")})
	es = a.Flush(es)
	bad := append([]byte{}, es[0].Data...)
	bad[len(bad)-1] ^= 1
	for _, d := range [][]byte{es[0].Data, bad, []byte("plain")} {
		if _, err := l.PutRecord(context.Background(), ref, shardlog.PutEntry{PartitionKey: "a", Data: d}, ""); err != nil {
			t.Fatal(err)
		}
	}
	var reported []string
	src, err := NewSource(l, SourceOptions{Stream: ref, Bounded: true, OnCorruptAggregate: func(shard string, seq shardlog.SequenceNumber, err error) {
		reported = append(reported, fmt.Sprintf("%s %d %v", shard, seq.Pos, err))
	}})
	if err != nil {
		t.Fatal(err)
	}
	got := readSource(t, src)
	want := []string{"a/0 0 true", "b/0 1 true", string(bad) + " 0 false", "plain 0 false"}
	if len(got) != len(want) {
		t.Fatalf("%d records, want %d", len(got), len(want))
	}
	for i, r := range got {
		if s := fmt.Sprintf("%s %d %v", r.Data, r.SubSequenceNumber, r.Aggregated); s != want[i] {
			t.Errorf("record %d: %q, want %q", i, s, want[i])
		}
	}
	if src.CorruptAggregates() != 1 || len(reported) != 1 || reported[0] != "shardId-000000000000 2 kpl: corrupt aggregated record: MD5 of the body does not match the trailer" {
		t.Fatalf("counted %d, reported %q", src.CorruptAggregates(), reported)
	}
	keep, _ := NewSource(l, SourceOptions{Stream: ref, Bounded: true, KeepAggregates: true})
	if got := readSource(t, keep); len(got) != 3 || !kpl.IsAggregated(got[0].Data) {
		t.Fatalf("KeepAggregates: %d records", len(got))
	}
}

func readSource(t *testing.T, src *Source[SourceRecord]) []SourceRecord {
	t.Helper()
	r, err := src.Open(context.Background(), engine.SourceInfo{Parallelism: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	out, got := engine.NewTestSourceOutput[SourceRecord](16)
	readAll(t, r, out, func() bool { return false })
	return got()
}

// TestPositionsWithSubSequence: a position inside an aggregate is written
// as version 2 and read back; positions without one stay version 1, and a
// version-1 position with flag 4 is refused.
func TestPositionsWithSubSequence(t *testing.T) {
	plain := encodePositions(7, false, []posEntry{{idx: 1, pos: 5, bound: noBound}})
	if plain[0] != 1 {
		t.Fatalf("version %d without sub-sequence numbers", plain[0])
	}
	b := encodePositions(7, true, []posEntry{{idx: 1, pos: 5, sub: 3, bound: 9}, {idx: 2, finished: true, bound: noBound}})
	if b[0] != 2 {
		t.Fatalf("version %d with a sub-sequence number", b[0])
	}
	_, _, ents, err := decodePositions(b)
	if err != nil || len(ents) != 2 || ents[0].sub != 3 || ents[0].bound != 9 || ents[0].pos != 5 {
		t.Fatalf("%+v %v", ents, err)
	}
	b[0] = 1
	if _, _, _, err := decodePositions(b); err == nil {
		t.Fatal("flag 4 accepted in version 1")
	}
}
