package trigger

import (
	"context"
	"math/rand/v2"
	"net"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/sluicehq/sluice/connectors/shardlog"
	"github.com/sluicehq/sluice/connectors/shardlog/kinesisapi"
	"github.com/sluicehq/sluice/internal/clock"
	"github.com/sluicehq/sluice/internal/testseed"
)

// serveLog serves l over the Kinesis API on 127.0.0.1 and returns an SDK
// client for it.
func serveLog(t *testing.T, l *shardlog.Log) *kinesis.Client {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- kinesisapi.New(l, kinesisapi.Options{}).Serve(ctx, ln, nil) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return kinesis.New(kinesis.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String("http://" + ln.Addr().String()),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
	})
}

// TestKinesisSource: a trigger reading through the Kinesis API (the log's
// wire server on 127.0.0.1, an AWS SDK client) over a stream resharded
// midway, with a randomly failing function: every record processed or
// given up, in order per shard, parents first; a restart resumes from the
// checkpoints and delivers only what came after.
func TestKinesisSource(t *testing.T) {
	seed := testseed.Seed(t)
	dir := t.TempDir()
	l := openLog(t, filepath.Join(dir, "log"), shardlog.Options{})
	defer l.Close()
	client := serveLog(t, l)
	fillStream(t, l, "orders", 2, 300, 7)
	w := readWorld(t, l, "orders")
	chk := newChecker(w, false)
	all := make(chan struct{})
	var allOnce sync.Once
	count := func(f func(string)) func(string) {
		return func(seq string) {
			f(seq)
			chk.mu.Lock()
			n := len(chk.settled)
			chk.mu.Unlock()
			if n == len(w.shardOf) {
				allOnce.Do(func() { close(all) })
			}
		}
	}
	fn := &flaky{rng: rand.New(rand.NewPCG(seed, 3)), partial: true, poison: 29, processed: count(chk.process)}
	srv := httptest.NewServer(fn)
	defer srv.Close()
	dest, err := NewDestination(l, "file://"+filepath.Join(dir, "dlq"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Name: "kin", EventSourceArn: StreamARN("us-east-1", "000000000000", "orders"), StartingPosition: TrimHorizon,
		Function: Function{URL: srv.URL}, BatchSize: intp(20), MaximumRetryAttempts: intp(2), BisectBatchOnFunctionError: true,
		FunctionResponseTypes: []string{ReportBatchItemFailures}}
	state := filepath.Join(dir, "state")
	// The polls of idle shards wait on a clock that does not wait.
	clk := clock.NewManual(time.Now())
	clk.AutoAdvance(true)
	src := &KinesisSource{Client: client, Stream: "orders", Clock: clk}
	tr, err := New(cfg, Options{Source: src, StateDir: state, Retry: fastRetry, Destination: &recordingDestination{next: dest, gaveUp: count(chk.giveUp)}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tr.Run(ctx) }()
	guard := time.NewTimer(2 * time.Minute)
	defer guard.Stop()
	select {
	case <-all:
	case err := <-done:
		t.Fatalf("trigger stopped: %v", err)
	case <-guard.C:
		chk.mu.Lock()
		defer chk.mu.Unlock()
		t.Fatalf("seed %d: %d of %d records settled after 2 minutes (%v)", seed, len(chk.settled), len(w.shardOf), chk.err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if fn.bad != nil {
		t.Fatalf("seed %d: %v", seed, fn.bad)
	}
	processed, failed := chk.finish(t, seed)
	t.Logf("seed %d: %d processed, %d given up; %+v", seed, processed, failed, tr.Stats())

	// A restart delivers what arrived after the checkpoints: the new
	// records, and at most the batches in flight when it stopped again.
	res, err := l.PutRecord(context.Background(), shardlog.StreamRef{Name: "orders"}, shardlog.PutEntry{PartitionKey: "late", Data: []byte("100000")}, "")
	if err != nil {
		t.Fatal(err)
	}
	late := make(chan struct{})
	var once sync.Once
	// This time the function never fails, so the late record is
	// processed, not given up.
	fn2 := &flaky{rng: rand.New(rand.NewPCG(seed, 4)), poison: 1 << 30, never: true, processed: func(seq string) {
		if seq == res.SequenceNumber.String() {
			once.Do(func() { close(late) })
		}
	}}
	srv2 := httptest.NewServer(fn2)
	defer srv2.Close()
	cfg.Function.URL = srv2.URL
	tr, err = New(cfg, Options{Source: src, StateDir: state, Retry: fastRetry, Destination: dest})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel = context.WithCancel(context.Background())
	go func() { done <- tr.Run(ctx) }()
	guard.Reset(2 * time.Minute)
	select {
	case <-late:
	case err := <-done:
		t.Fatalf("trigger stopped: %v", err)
	case <-guard.C:
		t.Fatalf("seed %d: the record put after the first run was not delivered in 2 minutes", seed)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// Each of the 4 open shards may deliver again its last batch of the
	// first run, whose checkpoint the stop may have cut off.
	if st := tr.Stats(); st.RecordsProcessed > 4*20+1 {
		t.Fatalf("the restart processed %d records: it did not resume from its checkpoints", st.RecordsProcessed)
	}
}
