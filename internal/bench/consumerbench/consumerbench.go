// Package consumerbench is `sluice bench consumer`: records/s through the
// KCL-style consumer library (connectors/kinesis/consumer) reading a
// 4-shard stream from the log's Kinesis wire server on 127.0.0.1, by
// polling and by enhanced fan-out, and through a Lambda-style trigger
// (connectors/trigger) to a local HTTP function, each run beside a plain
// GetRecords loop (one goroutine per shard) over the same SDK client in
// the same process.
package consumerbench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/sluicehq/sluice/connectors/kinesis/consumer"
	"github.com/sluicehq/sluice/connectors/shardlog"
	"github.com/sluicehq/sluice/connectors/shardlog/kinesisapi"
	"github.com/sluicehq/sluice/connectors/trigger"
	"github.com/sluicehq/sluice/internal/bench"
)

const dataBytes = 100

// Config is the configuration of Run.
type Config struct {
	Runs    int // runs per case (medians are reported)
	Records int // records in the stream, read whole by each run
	// CheckpointEvery: the processor checkpoints after every this many
	// batches (1: each batch).
	CheckpointEvery int
	// Idle is the consumer's IdleTimeBetweenReads.
	Idle time.Duration
}

// DefaultConfig is the configuration of the published figures.
var DefaultConfig = Config{Runs: 5, Records: 200_000, CheckpointEvery: 1, Idle: time.Millisecond}

// Run fills a stream once, then runs each case and its baseline
// interleaved, handing each result to emit.
func Run(ctx context.Context, cfg Config, emit bench.Emit) error {
	if cfg.Runs < 1 || cfg.Records < 1 || cfg.CheckpointEvery < 1 {
		return bench.ConfigError("--runs, --records and --checkpoint-every must be positive")
	}
	if cfg.Idle <= 0 {
		return bench.ConfigError("--idle must be positive (the consumer's IdleTimeBetweenReads)")
	}
	dir, err := os.MkdirTemp("", "sluice-bench-consumer-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	l, err := shardlog.Open(shardlog.Options{Dir: filepath.Join(dir, "log"), Sync: shardlog.SyncNone, RetentionInterval: -1})
	if err != nil {
		return err
	}
	defer l.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	sctx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- kinesisapi.New(l, kinesisapi.Options{}).Serve(sctx, ln, nil) }()
	defer func() {
		stop()
		<-served
	}()
	client := newClient("http://" + ln.Addr().String())
	if err := l.CreateStream(shardlog.CreateStreamInput{Name: "bench", ShardCount: 4}); err != nil {
		return err
	}
	if err := put(ctx, l, "bench", cfg.Records); err != nil {
		return err
	}
	payload := int64(cfg.Records) * dataBytes
	// The trigger's function: a local HTTP server that reads each event
	// and answers success.
	fn := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Write([]byte("{}"))
	}))
	defer fn.Close()
	var loop, trig []bench.Sample
	cases := []struct {
		name      string
		retrieval consumer.Retrieval
		samples   []bench.Sample
	}{
		{"polling", consumer.Polling, nil},
		{"enhanced fan-out", consumer.FanOut, nil},
	}
	for r := 0; r < cfg.Runs; r++ {
		for i := range cases {
			c := &cases[i]
			s, err := bench.Measure(func() (int64, int64, error) {
				n, err := viaConsumer(ctx, client, filepath.Join(dir, fmt.Sprintf("leases-%d-%d", r, i)), c.retrieval, cfg)
				return n, payload, err
			})
			if err != nil {
				return fmt.Errorf("consumer, %s: %w", c.name, err)
			}
			c.samples = append(c.samples, s)
		}
		s, err := bench.Measure(func() (int64, int64, error) {
			n, err := viaTrigger(ctx, l, filepath.Join(dir, fmt.Sprintf("trigger-%d", r)), fn.URL)
			return n, payload, err
		})
		if err != nil {
			return fmt.Errorf("trigger: %w", err)
		}
		trig = append(trig, s)
		s, err = bench.Measure(func() (int64, int64, error) {
			n, err := plainLoop(ctx, client, cfg.Records)
			return n, payload, err
		})
		if err != nil {
			return fmt.Errorf("GetRecords loop: %w", err)
		}
		loop = append(loop, s)
	}
	for _, c := range cases {
		name := fmt.Sprintf("consumer library, %s, 4 shards, %d B, local lease store, checkpoint every %d batch(es)", c.name, dataBytes, cfg.CheckpointEvery)
		if err := emit(bench.FromSamples(name, c.samples).WithBaseline(loop).Set("baseline", "GetRecords loop, a goroutine per shard").Set("idle_ms", float64(cfg.Idle)/float64(time.Millisecond))); err != nil {
			return err
		}
	}
	name := fmt.Sprintf("trigger reading the embedded log (as in sluice serve) to a local HTTP function, 4 shards, %d B, BatchSize %d, a durable checkpoint per call", dataBytes, triggerBatch)
	if err := emit(bench.FromSamples(name, trig).WithBaseline(loop).Set("baseline", "GetRecords loop, a goroutine per shard")); err != nil {
		return err
	}
	return emit(bench.FromSamples(fmt.Sprintf("GetRecords loop, a goroutine per shard, 4 shards, %d B", dataBytes), loop))
}

// triggerBatch is the trigger case's BatchSize (Lambda's default is 100;
// a trigger is bound by its calls, see BENCHMARKS.md).
const triggerBatch = 1000

// viaTrigger runs a Lambda-style trigger (connectors/trigger) from
// TRIM_HORIZON over the embedded log until it has called the function
// with every record, and returns the records it processed.
func viaTrigger(ctx context.Context, l *shardlog.Log, stateDir, url string) (int64, error) {
	bs := triggerBatch
	cfg := trigger.Config{Name: "bench", EventSourceArn: trigger.StreamARN(l.Options().Region, l.Options().AccountID, "bench"),
		StartingPosition: trigger.TrimHorizon, Function: trigger.Function{URL: url}, BatchSize: &bs}
	tr, err := trigger.New(cfg, trigger.Options{Log: l, StateDir: stateDir})
	if err != nil {
		return 0, err
	}
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- tr.Run(rctx) }()
	for {
		ch := tr.Changed()
		ok, err := tr.CaughtUp()
		if err != nil {
			return 0, err
		}
		if ok {
			break
		}
		select {
		case <-ch:
		case err := <-done:
			return 0, fmt.Errorf("the trigger stopped: %w", err)
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		return 0, err
	}
	return tr.Stats().RecordsProcessed, nil
}

func newClient(url string) *kinesis.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Protocols = new(http.Protocols)
	tr.Protocols.SetUnencryptedHTTP2(true) // SubscribeToShard needs HTTP/2
	tr.MaxIdleConnsPerHost = 16
	return kinesis.New(kinesis.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(url),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
		HTTPClient:  &http.Client{Transport: tr},
	})
}

func put(ctx context.Context, l *shardlog.Log, stream string, n int) error {
	data := make([]byte, dataBytes)
	es := make([]shardlog.PutEntry, 0, shardlog.MaxPutRecords)
	var res []shardlog.PutResult
	for i := 0; i < n; {
		es = es[:0]
		for ; len(es) < shardlog.MaxPutRecords && i < n; i++ {
			es = append(es, shardlog.PutEntry{PartitionKey: "k" + strconv.Itoa(i%1000), Data: data})
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

// counter is the benchmark's record processor: it counts, checkpoints
// every few batches, and at shutdown.
type counter struct {
	total   *atomic.Int64
	want    int64
	every   int
	batches int
	done    func()
}

func (c *counter) Initialize(consumer.InitializationInput) error { return nil }
func (c *counter) ProcessRecords(in consumer.ProcessRecordsInput) error {
	c.batches++
	if c.batches%c.every == 0 {
		if err := in.Checkpointer.Checkpoint(in.Context); err != nil {
			return err
		}
	}
	if c.total.Add(int64(len(in.Records))) >= c.want {
		c.done()
	}
	return nil
}
func (c *counter) LeaseLost(consumer.LeaseLostInput) error { return nil }
func (c *counter) ShardEnded(in consumer.ShardEndedInput) error {
	return in.Checkpointer.Checkpoint(in.Context)
}
func (c *counter) ShutdownRequested(in consumer.ShutdownRequestedInput) error {
	return in.Checkpointer.Checkpoint(in.Context)
}

// viaConsumer reads the whole stream with a new Consumer (a fresh lease
// table: TRIM_HORIZON) and returns once it has shut down gracefully.
func viaConsumer(ctx context.Context, client *kinesis.Client, leaseDir string, r consumer.Retrieval, cfg Config) (int64, error) {
	store, err := consumer.OpenLocalStore(leaseDir)
	if err != nil {
		return 0, err
	}
	defer store.Close()
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var total atomic.Int64
	var failed error
	var mu sync.Mutex
	c, err := consumer.New(client, consumer.Config{
		StreamName: "bench", ApplicationName: "bench", WorkerID: "bench", Leases: store,
		Processor: func(string) consumer.RecordProcessor {
			return &counter{total: &total, want: int64(cfg.Records), every: cfg.CheckpointEvery, done: cancel}
		},
		InitialPositionInStream: consumer.InitialPosition{Type: consumer.TrimHorizon},
		IdleTimeBetweenReads:    cfg.Idle,
		Retrieval:               r,
		Logger:                  slog.New(slog.DiscardHandler),
		OnError: func(shard string, err error) {
			mu.Lock()
			failed = errors.Join(failed, err)
			mu.Unlock()
			cancel()
		},
	})
	if err != nil {
		return 0, err
	}
	if err := c.Run(rctx); err != nil {
		return 0, err
	}
	if failed != nil {
		return 0, failed
	}
	if ctx.Err() != nil {
		return 0, ctx.Err()
	}
	if n := total.Load(); n != int64(cfg.Records) {
		return 0, fmt.Errorf("consumer processed %d records, the stream holds %d", n, cfg.Records)
	}
	return total.Load(), nil
}

// plainLoop reads every shard from TRIM_HORIZON to its tip with
// GetShardIterator and GetRecords, a goroutine per shard.
func plainLoop(ctx context.Context, client *kinesis.Client, want int) (int64, error) {
	ls, err := client.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String("bench")})
	if err != nil {
		return 0, err
	}
	var total atomic.Int64
	errs := make(chan error, len(ls.Shards))
	for _, s := range ls.Shards {
		go func() {
			errs <- func() error {
				it, err := client.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String("bench"), ShardId: s.ShardId, ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
				if err != nil {
					return err
				}
				iter := it.ShardIterator
				for iter != nil {
					res, err := client.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter, Limit: aws.Int32(10000)})
					if err != nil {
						return err
					}
					total.Add(int64(len(res.Records)))
					if len(res.Records) == 0 && aws.ToInt64(res.MillisBehindLatest) == 0 {
						return nil // at the tip
					}
					iter = res.NextShardIterator
				}
				return nil
			}()
		}()
	}
	for range ls.Shards {
		if err := <-errs; err != nil {
			return 0, err
		}
	}
	if n := total.Load(); n != int64(want) {
		return 0, fmt.Errorf("loop read %d records, the stream holds %d", n, want)
	}
	return total.Load(), nil
}
