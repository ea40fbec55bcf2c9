package consumer

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// collector gathers what a worker's processors are given.
type collector struct {
	mu      sync.Mutex
	records []Record
	batches int
	onBatch func(in ProcessRecordsInput) error
}

func (c *collector) processor(string) RecordProcessor { return &collectingProcessor{c: c} }

func (c *collector) got() []Record {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Record(nil), c.records...)
}

type collectingProcessor struct {
	stubProcessor
	c *collector
}

func (p *collectingProcessor) ProcessRecords(in ProcessRecordsInput) error {
	p.c.mu.Lock()
	p.c.records = append(p.c.records, in.Records...)
	p.c.batches++
	f := p.c.onBatch
	p.c.mu.Unlock()
	if f != nil {
		return f(in)
	}
	return nil
}

func shardRecords(t *testing.T, c *kinesis.Client) []types.Record {
	t.Helper()
	ctx := context.Background()
	it, err := c.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String("s"), ShardId: aws.String("shardId-000000000000"), ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it.ShardIterator})
	if err != nil {
		t.Fatal(err)
	}
	return res.Records
}

// TestTransformSubSequenceResume: a Transform splitting each record into
// user records with sub-sequence numbers (as KPL de-aggregation will); a
// checkpoint in the middle of one record's user records resumes right
// after that user record, not at the next record.
func TestTransformSubSequenceResume(t *testing.T) {
	env := startServer(t)
	env.createStream(t, "s", 1)
	p := newProducer(env.log, "s", 1, 1)
	p.put(t, 4)
	store, err := OpenLocalStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	split := func(r Record) ([]Record, error) {
		out := make([]Record, 3)
		for i := range out {
			out[i] = r
			out[i].SubSequenceNumber, out[i].Aggregated = int64(i), true
			out[i].Data = []byte(fmt.Sprintf("%s#%d", r.Data, i))
		}
		return out, nil
	}
	client := newClient(env.url)
	first := &collector{}
	ckpt := make(chan error, 1)
	first.onBatch = func(in ProcessRecordsInput) error {
		// Processed up to the second user record of the second record.
		ckpt <- in.Checkpointer.CheckpointAt(in.Context, in.Records[4].ExtendedSequenceNumber())
		return nil
	}
	cfg := fastConfig("s", store, "w1", first.processor)
	cfg.Transform = split
	c, err := New(client, cfg)
	if err != nil {
		t.Fatal(err)
	}
	stop := runConsumer(t, c)
	if err := <-ckpt; err != nil {
		t.Fatal(err)
	}
	stop()
	if got := first.got(); len(got) != 12 {
		t.Fatalf("first worker got %d user records, want 12", len(got))
	}
	second := &collector{}
	cfg = fastConfig("s", store, "w2", second.processor)
	cfg.Transform = split
	c, err = New(client, cfg)
	if err != nil {
		t.Fatal(err)
	}
	stop = runConsumer(t, c)
	waitFor(t, time.Minute, "the second worker's records", func() (bool, string) { return len(second.got()) >= 7, strconv.Itoa(len(second.got())) })
	stop()
	var got []string
	for _, r := range second.got() {
		got = append(got, string(r.Data))
	}
	want := []string{"k0/1#2", "k0/2#0", "k0/2#1", "k0/2#2", "k0/3#0", "k0/3#1", "k0/3#2"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after the checkpoint at k0/1#1: %v, want %v", got, want)
	}
}

// TestInitialPositions: LATEST skips what the stream held before the
// worker's iterator, AT_TIMESTAMP starts at the first record that arrived
// at or after the timestamp.
func TestInitialPositions(t *testing.T) {
	t.Run("LATEST", func(t *testing.T) {
		env := startServer(t)
		env.createStream(t, "s", 1)
		p := newProducer(env.log, "s", 1, 1)
		p.put(t, 5)
		store, err := OpenLocalStore(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		col := &collector{}
		cfg := fastConfig("s", store, "w", col.processor)
		cfg.InitialPositionInStream = InitialPosition{Type: Latest}
		// An empty first batch says the iterator exists.
		cfg.CallProcessRecordsEvenForEmptyRecordList = true
		c, err := New(newClient(env.url), cfg)
		if err != nil {
			t.Fatal(err)
		}
		runConsumer(t, c)
		waitFor(t, time.Minute, "a first (empty) batch", func() (bool, string) {
			col.mu.Lock()
			defer col.mu.Unlock()
			return col.batches > 0, ""
		})
		p.put(t, 3)
		waitFor(t, time.Minute, "3 records", func() (bool, string) { return len(col.got()) >= 3, "" })
		var got []string
		for _, r := range col.got() {
			got = append(got, string(r.Data))
		}
		if fmt.Sprint(got) != "[k0/5 k0/6 k0/7]" {
			t.Fatalf("LATEST: %v, want the 3 records put after the start", got)
		}
	})
	t.Run("AT_TIMESTAMP", func(t *testing.T) {
		env := startServer(t)
		env.createStream(t, "s", 1)
		p := newProducer(env.log, "s", 1, 1)
		p.put(t, 30)
		client := newClient(env.url)
		all := shardRecords(t, client)
		at := aws.ToTime(all[len(all)/2].ApproximateArrivalTimestamp)
		var want []string
		for _, r := range all {
			if !aws.ToTime(r.ApproximateArrivalTimestamp).Before(at) {
				want = append(want, string(r.Data))
			}
		}
		store, err := OpenLocalStore(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		col := &collector{}
		cfg := fastConfig("s", store, "w", col.processor)
		cfg.InitialPositionInStream = InitialPosition{Type: AtTimestamp, Timestamp: at}
		c, err := New(client, cfg)
		if err != nil {
			t.Fatal(err)
		}
		runConsumer(t, c)
		waitFor(t, time.Minute, fmt.Sprintf("%d records", len(want)), func() (bool, string) { return len(col.got()) >= len(want), "" })
		var got []string
		for _, r := range col.got() {
			got = append(got, string(r.Data))
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("AT_TIMESTAMP %v: %v, want %v", at, got, want)
		}
	})
}
