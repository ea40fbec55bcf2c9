package consumer

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connectors/shardlog"
	"github.com/sluicehq/sluice/internal/testseed"
)

// fastConfig is a Config with lease timings short enough for tests.
func fastConfig(stream string, store LeaseStore, worker string, proc func(string) RecordProcessor) Config {
	return Config{
		StreamName: stream, ApplicationName: "app", WorkerID: worker, Leases: store, Processor: proc,
		FailoverTime: time.Second, IdleTimeBetweenReads: 20 * time.Millisecond, ShardSyncInterval: time.Second,
		InitialPositionInStream: InitialPosition{Type: TrimHorizon},
	}
}

// runConsumer runs c until the returned stop is called, which waits for
// its graceful shutdown and fails the test on its error.
func runConsumer(t *testing.T, c *Consumer) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run of %s: %v", c.WorkerID(), err)
		}
	}
	t.Cleanup(stop)
	return stop
}

// TestOneWorkerThroughReshardAndRestart: one worker over a 4-shard
// stream read by polling and by enhanced fan-out, with a split and a
// merge while it runs, then restarted: every record once (a graceful
// shutdown checkpoints), parents before children, keys in order.
func TestOneWorkerThroughReshardAndRestart(t *testing.T) {
	for _, mode := range []Retrieval{Polling, FanOut} {
		name := map[Retrieval]string{Polling: "polling", FanOut: "fanout"}[mode]
		t.Run(name, func(t *testing.T) {
			seed := testseed.Seed(t)
			env := startServer(t)
			env.createStream(t, "s", 4)
			p := newProducer(env.log, "s", 20, seed)
			store, err := OpenLocalStore(filepath.Join(t.TempDir(), "leases"))
			if err != nil {
				t.Fatal(err)
			}
			evPath := filepath.Join(t.TempDir(), "events")
			ev, err := openEventLog(evPath)
			if err != nil {
				t.Fatal(err)
			}
			client := newClient(env.url)
			start := func(worker string) func() {
				cfg := fastConfig("s", store, worker, func(string) RecordProcessor {
					return &recordingProcessor{log: ev, worker: worker, checkpointEvery: 2}
				})
				cfg.Retrieval = mode
				c, err := New(client, cfg)
				if err != nil {
					t.Fatal(err)
				}
				return runConsumer(t, c)
			}
			processed := func(n int) func() (bool, string) {
				return func() (bool, string) {
					got := readEventLog(t, evPath).processed()
					return got >= n, ""
				}
			}
			p.put(t, 200)
			stop := start("w1")
			waitFor(t, time.Minute, "200 records", processed(200))
			ref := shardlog.StreamRef{Name: "s"}
			if err := env.log.SplitShard(ref, "shardId-000000000000", shardlog.UniformRanges(4)[0].Midpoint().String()); err != nil {
				t.Fatal(err)
			}
			p.put(t, 200)
			waitFor(t, time.Minute, "400 records", processed(400))
			stop()
			if err := env.log.MergeShards(ref, "shardId-000000000002", "shardId-000000000003"); err != nil {
				t.Fatal(err)
			}
			p.put(t, 200)
			stop = start("w2")
			waitFor(t, time.Minute, "600 records", processed(600))
			stop()
			tr := readTruth(t, client, "s")
			if tr.total() != 600 {
				t.Fatalf("stream holds %d records, 600 put", tr.total())
			}
			pl := readEventLog(t, evPath)
			if dups := pl.check(t.Errorf, tr, nil); dups != 0 {
				t.Errorf("%d records processed twice, though every stop was graceful", dups)
			}
			ls, err := store.List(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range ls {
				if l.Owner != "" {
					t.Errorf("lease of %s still held by %s after shutdown", l.ShardID, l.Owner)
				}
				if tr.closed[l.ShardID] != l.Finished() {
					t.Errorf("lease of %s: checkpoint %s, shard closed: %v", l.ShardID, l.Checkpoint, tr.closed[l.ShardID])
				}
			}
			if len(ls) != 7 {
				t.Errorf("%d leases, want 7 (4 shards, 2 children of the split, 1 of the merge): %s", len(ls), leaseOwners(ls))
			}
		})
	}
}

// stubProcessor's ProcessRecords runs a test's function.
type stubProcessor struct {
	process  func(ProcessRecordsInput) error
	shardEnd func(ShardEndedInput) error
	lost     chan string
}

func (s *stubProcessor) Initialize(InitializationInput) error { return nil }
func (s *stubProcessor) ProcessRecords(in ProcessRecordsInput) error {
	if s.process != nil {
		return s.process(in)
	}
	return nil
}
func (s *stubProcessor) LeaseLost(in LeaseLostInput) error {
	if s.lost != nil {
		s.lost <- in.ShardID
	}
	return nil
}
func (s *stubProcessor) ShardEnded(in ShardEndedInput) error {
	if s.shardEnd != nil {
		return s.shardEnd(in)
	}
	return in.Checkpointer.Checkpoint(in.Context)
}
func (s *stubProcessor) ShutdownRequested(ShutdownRequestedInput) error { return nil }

// TestCheckpointAfterLeaseTakenFails: once another worker holds the
// lease, the old holder's checkpoint fails with ErrLeaseLost, the lease
// table keeps the new holder's checkpoint, and the old processor gets
// LeaseLost and no more records.
func TestCheckpointAfterLeaseTakenFails(t *testing.T) {
	for _, k := range storeKinds {
		t.Run(k.name, func(t *testing.T) {
			env := startServer(t)
			env.createStream(t, "s", 1)
			p := newProducer(env.log, "s", 3, 1)
			p.put(t, 10)
			store := k.open(t)
			ctx := context.Background()
			type call struct {
				in   ProcessRecordsInput
				done chan error
			}
			calls := make(chan call)
			lost := make(chan string, 1)
			var afterLost []string
			proc := &stubProcessor{lost: lost, process: func(in ProcessRecordsInput) error {
				c := call{in, make(chan error)}
				calls <- c
				return <-c.done
			}}
			c, err := New(newClient(env.url), fastConfig("s", store, "old", func(string) RecordProcessor { return proc }))
			if err != nil {
				t.Fatal(err)
			}
			stop := runConsumer(t, c)
			first := <-calls
			if len(first.in.Records) != 10 {
				t.Fatalf("first batch: %d records, want 10", len(first.in.Records))
			}
			if err := first.in.Checkpointer.CheckpointAt(ctx, ExtendedSequenceNumber{SequenceNumber: "1" + first.in.Records[9].SequenceNumber}); err == nil || !strings.Contains(err.Error(), "did not fall into acceptable range") {
				t.Errorf("checkpoint past the last record delivered: %v", err)
			}
			if err := first.in.Checkpointer.CheckpointAt(ctx, first.in.Records[4].ExtendedSequenceNumber()); err != nil {
				t.Fatal(err)
			}
			if err := first.in.Checkpointer.CheckpointAt(ctx, first.in.Records[3].ExtendedSequenceNumber()); err == nil {
				t.Errorf("checkpoint before the last checkpoint succeeded")
			}
			// Another worker takes the lease (as after expiry).
			ls, err := store.List(ctx)
			if err != nil {
				t.Fatal(err)
			}
			l := ls[0]
			if l.Owner != "old" || l.Checkpoint.SequenceNumber != first.in.Records[4].SequenceNumber {
				t.Fatalf("lease before the take: %+v", l)
			}
			l.Owner, l.Counter = "new", l.Counter+1
			if _, err := store.Update(ctx, l); err != nil {
				t.Fatal(err)
			}
			err = first.in.Checkpointer.Checkpoint(ctx)
			if !errors.Is(err, ErrLeaseLost) {
				t.Fatalf("checkpoint by the old holder: %v, want ErrLeaseLost", err)
			}
			first.done <- nil
			p.put(t, 5)
			select {
			case sh := <-lost:
				if sh != "shardId-000000000000" {
					t.Errorf("LeaseLost of %s", sh)
				}
			case c := <-calls:
				afterLost = append(afterLost, c.in.Records[0].SequenceNumber)
				c.done <- nil
				t.Fatalf("records delivered after the lease was taken: %v", afterLost)
			}
			stop()
			ls, err = store.List(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if ls[0].Owner != "new" || ls[0].Checkpoint != first.in.Records[4].ExtendedSequenceNumber() {
				t.Errorf("lease after: %+v", ls[0])
			}
		})
	}
}

// TestShardEndedWithoutCheckpoint: a processor that returns from
// ShardEnded without checkpointing is an error; the children stay
// unleased until the end is checkpointed.
func TestShardEndedWithoutCheckpoint(t *testing.T) {
	env := startServer(t)
	env.createStream(t, "s", 1)
	p := newProducer(env.log, "s", 3, 1)
	p.put(t, 5)
	if err := env.log.SplitShard(shardlog.StreamRef{Name: "s"}, "shardId-000000000000", shardlog.UniformRanges(2)[1].Start.String()); err != nil {
		t.Fatal(err)
	}
	store, err := OpenLocalStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 10)
	cfg := fastConfig("s", store, "w", func(string) RecordProcessor {
		return &stubProcessor{shardEnd: func(ShardEndedInput) error { return nil }}
	})
	cfg.OnError = func(shard string, err error) { errs <- err }
	c, err := New(newClient(env.url), cfg)
	if err != nil {
		t.Fatal(err)
	}
	runConsumer(t, c)
	err = <-errs
	if !strings.Contains(err.Error(), "ShardEnded returned without checkpointing the end of the shard") {
		t.Fatalf("error: %v", err)
	}
	ls, err := store.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range ls {
		if l.ShardID != "shardId-000000000000" && l.Owner != "" {
			t.Errorf("child %s leased (by %s) before its parent ended", l.ShardID, l.Owner)
		}
	}
}

func TestConfigRefusals(t *testing.T) {
	store, err := OpenLocalStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	proc := func(string) RecordProcessor { return &stubProcessor{} }
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{Leases: store, Processor: proc}, "no stream"},
		{Config{StreamName: "s", Processor: proc}, "no lease store"},
		{Config{StreamName: "s", Leases: store}, "no record processor factory"},
		{Config{StreamName: "s", Leases: store, Processor: proc, MaxRecords: 10001}, "max records 10001 not in 1..10000"},
		{Config{StreamName: "s", Leases: store, Processor: proc, InitialPositionInStream: InitialPosition{Type: "OLDEST"}}, `initial position "OLDEST" is not LATEST, TRIM_HORIZON or AT_TIMESTAMP`},
		{Config{StreamName: "s", Leases: store, Processor: proc, InitialPositionInStream: InitialPosition{Type: AtTimestamp}}, "AT_TIMESTAMP needs a timestamp"},
		{Config{StreamName: "s", Leases: store, Processor: proc, Retrieval: FanOut}, "enhanced fan-out needs a consumer name"},
		{Config{StreamName: "s", Leases: store, Processor: proc, FailoverTime: 100 * time.Millisecond, Epsilon: 20 * time.Millisecond}, "must exceed six times epsilon"},
	} {
		if _, err := New(newClient("http://127.0.0.1:1"), tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.cfg, err, tc.want)
		}
	}
}
