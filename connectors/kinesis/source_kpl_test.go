package kinesis

import (
	"context"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connectors/kpl"
	"github.com/sluicehq/sluice/connectors/shardlog"
	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/engine/enginetest"
	"github.com/sluicehq/sluice/internal/testseed"
)

// putKPL puts n user records "k<key>/<seq>" through a kpl.Producer over
// the SDK (KPLPutRecords, KPLListShards) and returns each key's count.
func putKPL(t *testing.T, e *testEnv, stream string, n, nKeys int, seed uint64) map[string]int {
	t.Helper()
	ctx := context.Background()
	p, err := kpl.NewProducer(ctx, KPLPutRecords(e.client, stream), kpl.ProducerOptions{
		ListShards: KPLListShards(e.client, stream), Aggregation: kpl.AggregatorOptions{MaxSize: 3000}})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(seed, 7))
	counts := map[string]int{}
	for i := 0; i < n; i++ {
		k := "k" + strconv.Itoa(rng.IntN(nKeys))
		if err := p.Put(ctx, kpl.UserRecord{PartitionKey: k, Data: []byte(k + "/" + strconv.Itoa(counts[k]))}); err != nil {
			t.Fatal(err)
		}
		counts[k]++
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if st := p.Stats(); st.UserRecords != int64(n) || st.KinesisRecords > int64(n/10) {
		t.Fatalf("producer stats %+v: not aggregated", st)
	}
	return counts
}

// TestSourceDeaggregatesWithFailures reads, through the SDK and the wire
// server, KPL aggregates a kpl.Producer wrote, at parallelism 2 with
// small batches (reads stop inside aggregates), checkpoints every few
// milliseconds and failures injected: the exactly-once output holds every
// user record once, each key's in order.
func TestSourceDeaggregatesWithFailures(t *testing.T) {
	seed := testseed.Seed(t)
	rng := rand.New(rand.NewPCG(seed, 22))
	e := startServer(t)
	e.createStream(t, "s", 3)
	want := putKPL(t, e, "s", 5000, 25, seed)
	in := enginetest.RandomInjector(rng, 5000, 2+rng.IntN(3))
	src, err := NewSource(e.client, SourceOptions{Stream: "s", Bounded: true, MaxRecordsPerRead: 20})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	inside := 0 // user records seen with a sub-sequence number past 0
	j := engine.NewJob("kpl", engine.Config{Parallelism: 2, BatchSize: 8,
		Checkpoint: engine.CheckpointConfig{Interval: 2 * time.Millisecond, Dir: t.TempDir()},
		Restart:    engine.FixedDelay(10, time.Millisecond)})
	recs := engine.Map(engine.SourceOf(j, "kinesis", src, engine.NoWatermarks[Record]()), "fail", func(r Record) Record {
		mu.Lock()
		if r.Aggregated && r.SubSequenceNumber > 0 {
			inside++
		}
		mu.Unlock()
		// Paced, so that checkpoints complete between the failures and
		// restores start inside aggregates.
		time.Sleep(50 * time.Microsecond)
		in.Panic()
		return r
	})
	out := engine.CollectExactlyOnce(keyed(parsed(recs)), "out")
	run, err := j.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := run.Wait(); err != nil {
		t.Fatalf("seed %d (failures at %v): %v", seed, in.Points(), err)
	}
	if inside == 0 {
		t.Fatal("no user record came out of an aggregate")
	}
	t.Logf("%d failures, %d attempts", in.Fired(), run.Attempt()+1)
	checkOnceInOrder(t, out.CommittedValues(), want)
}

// TestSourceKPLPositionsAndCorrupt: a position inside an aggregate is
// AT_SEQUENCE_NUMBER with the sub-sequence number and orders between the
// AFTER positions around it; a corrupt aggregate is emitted whole,
// counted and reported.
func TestSourceKPLPositionsAndCorrupt(t *testing.T) {
	a := position{Type: AfterSequenceNumber, Seq: "10"}
	in1 := position{Type: AtSequenceNumber, Seq: "11", Sub: 1}
	in2 := position{Type: AtSequenceNumber, Seq: "11", Sub: 4}
	b := position{Type: AfterSequenceNumber, Seq: "11"}
	order := []position{a, in1, in2, b}
	for i := range order {
		for j := range order {
			if got := ahead(order[i], order[j]); got != (i > j) {
				t.Errorf("ahead(%s, %s) = %v", order[i], order[j], got)
			}
		}
	}
	enc, err := encodePositions("s", []posEntry{{ID: "shardId-000000000000", Pos: &in2}})
	if err != nil {
		t.Fatal(err)
	}
	_, ents, err := decodePositions(enc)
	if err != nil || *ents[0].Pos != in2 {
		t.Fatalf("round trip: %+v %v", ents, err)
	}

	e := startServer(t)
	e.createStream(t, "c", 1)
	ref := shardlog.StreamRef{Name: "c"}
	good := (&kpl.AggregatedRecord{PartitionKeyTable: []string{"x"}, Records: []kpl.Record{{Data: []byte("x/0")}, {Data: []byte("x/1")}}}).Marshal()
	bad := append([]byte{}, good[:len(good)-3]...)
	for _, d := range [][]byte{good, bad} {
		if _, err := e.log.PutRecord(context.Background(), ref, shardlog.PutEntry{PartitionKey: "x", Data: d}, ""); err != nil {
			t.Fatal(err)
		}
	}
	var reported []string
	src, err := NewSource(e.client, SourceOptions{Stream: "c", Bounded: true, OnCorruptAggregate: func(shard, seq string, err error) {
		reported = append(reported, shard+" "+err.Error())
	}})
	if err != nil {
		t.Fatal(err)
	}
	j := engine.NewJob("c", engine.Config{Parallelism: 1})
	out := engine.Collect(engine.SourceOf(j, "kinesis", src, engine.NoWatermarks[Record]()), "out")
	if err := j.Execute(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := out.Values()
	if len(got) != 3 || string(got[0].Data) != "x/0" || got[1].SubSequenceNumber != 1 || string(got[2].Data) != string(bad) || got[2].Aggregated {
		t.Fatalf("records %+v", got)
	}
	if src.CorruptAggregates() != 1 || len(reported) != 1 || !strings.Contains(reported[0], "MD5") {
		t.Fatalf("corrupt: %d, %q", src.CorruptAggregates(), reported)
	}
}
