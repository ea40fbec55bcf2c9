package consumer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/sluicehq/sluice/internal/backoff"
	"github.com/sluicehq/sluice/internal/clock"
)

// API is the part of the Kinesis API the consumer calls; *kinesis.Client
// implements it, against `sluice log serve` or Kinesis itself.
type API interface {
	ListShards(ctx context.Context, in *kinesis.ListShardsInput, opts ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error)
	GetShardIterator(ctx context.Context, in *kinesis.GetShardIteratorInput, opts ...func(*kinesis.Options)) (*kinesis.GetShardIteratorOutput, error)
	GetRecords(ctx context.Context, in *kinesis.GetRecordsInput, opts ...func(*kinesis.Options)) (*kinesis.GetRecordsOutput, error)
	DescribeStreamSummary(ctx context.Context, in *kinesis.DescribeStreamSummaryInput, opts ...func(*kinesis.Options)) (*kinesis.DescribeStreamSummaryOutput, error)
	RegisterStreamConsumer(ctx context.Context, in *kinesis.RegisterStreamConsumerInput, opts ...func(*kinesis.Options)) (*kinesis.RegisterStreamConsumerOutput, error)
	DescribeStreamConsumer(ctx context.Context, in *kinesis.DescribeStreamConsumerInput, opts ...func(*kinesis.Options)) (*kinesis.DescribeStreamConsumerOutput, error)
	SubscribeToShard(ctx context.Context, in *kinesis.SubscribeToShardInput, opts ...func(*kinesis.Options)) (*kinesis.SubscribeToShardOutput, error)
}

var _ API = (*kinesis.Client)(nil)

// Retrieval is how records are read: KCL's PollingConfig or FanOutConfig.
type Retrieval int

const (
	// Polling reads each shard with GetRecords (shared throughput).
	Polling Retrieval = iota
	// FanOut registers a stream consumer (RegisterStreamConsumer) and
	// reads each shard with SubscribeToShard (enhanced fan-out).
	FanOut
)

// InitialPosition is where a shard that has no checkpoint yet is read
// from (KCL's InitialPositionInStreamExtended).
type InitialPosition struct {
	// Type is Latest, TrimHorizon or AtTimestamp.
	Type string
	// Timestamp is AtTimestamp's.
	Timestamp time.Time
}

// Config configures a Consumer. The duration and count options carry
// KCL 2.x's names (failoverTimeMillis, idleTimeBetweenReadsInMillis,
// maxRecords, ...) and defaults.
type Config struct {
	// StreamName or StreamARN names the stream.
	StreamName, StreamARN string
	// ApplicationName names the application (KCL's applicationName): the
	// enhanced fan-out consumer's default name.
	ApplicationName string
	// WorkerID identifies this worker in the lease table (KCL's
	// workerIdentifier); default: host name, pid and a random suffix.
	WorkerID string
	// Leases is the lease table (required).
	Leases LeaseStore
	// Processor makes the record processor of a shard (KCL's
	// ShardRecordProcessorFactory); one per lease taken.
	Processor func(shardID string) RecordProcessor

	// FailoverTime is the time after which a lease whose counter has not
	// moved may be taken by another worker (failoverTimeMillis: 10 s).
	// Its holder renews every FailoverTime/3 - Epsilon and stops
	// delivering records once FailoverTime - Epsilon has passed since the
	// start of its last successful renewal.
	FailoverTime time.Duration
	// Epsilon is the margin of the lease timings (epsilonMillis: 25 ms).
	Epsilon time.Duration
	// IdleTimeBetweenReads is the least time between the starts of two
	// GetRecords calls of one shard (idleTimeBetweenReadsInMillis: 1 s).
	IdleTimeBetweenReads time.Duration
	// MaxRecords is GetRecords' limit (maxRecords: 10000).
	MaxRecords int32
	// InitialPositionInStream is where shards without a checkpoint start
	// (initialPositionInStream: LATEST).
	InitialPositionInStream InitialPosition
	// ShardSyncInterval is the time between two ListShards that create
	// the leases of new shards (shardSyncIntervalMillis: 60 s); a shard
	// reaching its end also triggers one.
	ShardSyncInterval time.Duration
	// MaxLeasesForWorker caps the leases this worker holds
	// (maxLeasesForWorker: no cap).
	MaxLeasesForWorker int
	// MaxLeasesToStealAtOneTime caps the leases one taking cycle asks
	// of the most loaded worker (maxLeasesToStealAtOneTime: 1).
	MaxLeasesToStealAtOneTime int
	// CallProcessRecordsEvenForEmptyRecordList delivers empty batches
	// too (callProcessRecordsEvenForEmptyRecordList: false).
	CallProcessRecordsEvenForEmptyRecordList bool
	// Retrieval is Polling (default) or FanOut; ConsumerName names the
	// fan-out consumer (default: ApplicationName).
	Retrieval    Retrieval
	ConsumerName string
	// ShutdownTimeout bounds a graceful shutdown's wait for processors
	// (default: FailoverTime); leases of processors still running then
	// are left to expire rather than released.
	ShutdownTimeout time.Duration

	// Transform, if set, replaces each record read by the records it
	// returns, before filtering against the checkpoint and delivery: the
	// hook of KPL de-aggregation (user records carry the aggregate's
	// sequence number and their sub-sequence numbers). An error stops the
	// shard's processing as a processor error does.
	Transform func(Record) ([]Record, error)
	// KeepAggregates turns off the default de-aggregation of records in
	// the KPL's aggregated format (without a Transform, the consumer
	// delivers their user records with sub-sequence numbers, as the KCL
	// does); with it, aggregates are delivered as stored.
	KeepAggregates bool

	// Retry is the backoff after throttling and transient failures
	// (default: 100 ms doubling to 5 s, jittered).
	Retry backoff.Policy
	// Clock drives every timer (nil: the wall clock).
	Clock clock.Clock
	// Logger receives what the consumer does not return: failed
	// renewals, processor errors (nil: slog.Default()).
	Logger *slog.Logger
	// OnError, if set, is called with each error that ends a shard's
	// processing (the lease is released for another try).
	OnError func(shardID string, err error)
}

func (c *Config) setDefaults() error {
	if c.StreamName == "" && c.StreamARN == "" {
		return errors.New("consumer: no stream: set StreamName or StreamARN")
	}
	if c.Leases == nil {
		return errors.New("consumer: no lease store (Config.Leases)")
	}
	if c.Processor == nil {
		return errors.New("consumer: no record processor factory (Config.Processor)")
	}
	if c.WorkerID == "" {
		h, _ := os.Hostname() // an empty host name still leaves pid and suffix
		c.WorkerID = fmt.Sprintf("%s:%d:%s", h, os.Getpid(), strconv.FormatInt(time.Now().UnixNano()%1e9, 36))
	}
	if c.FailoverTime == 0 {
		c.FailoverTime = 10 * time.Second
	}
	if c.Epsilon == 0 {
		c.Epsilon = 25 * time.Millisecond
	}
	if c.FailoverTime <= 6*c.Epsilon {
		return fmt.Errorf("consumer: failover time %v must exceed six times epsilon (%v)", c.FailoverTime, c.Epsilon)
	}
	if c.IdleTimeBetweenReads == 0 {
		c.IdleTimeBetweenReads = time.Second
	}
	if c.IdleTimeBetweenReads < 0 {
		return fmt.Errorf("consumer: negative idle time between reads %v", c.IdleTimeBetweenReads)
	}
	if c.MaxRecords == 0 {
		c.MaxRecords = 10000
	}
	if c.MaxRecords < 1 || c.MaxRecords > 10000 {
		return fmt.Errorf("consumer: max records %d not in 1..10000 (GetRecords' limit)", c.MaxRecords)
	}
	switch c.InitialPositionInStream.Type {
	case "":
		c.InitialPositionInStream.Type = Latest
	case Latest, TrimHorizon:
	case AtTimestamp:
		if c.InitialPositionInStream.Timestamp.IsZero() {
			return errors.New("consumer: initial position AT_TIMESTAMP needs a timestamp")
		}
	default:
		return fmt.Errorf("consumer: initial position %q is not LATEST, TRIM_HORIZON or AT_TIMESTAMP", c.InitialPositionInStream.Type)
	}
	if c.ShardSyncInterval == 0 {
		c.ShardSyncInterval = time.Minute
	}
	if c.MaxLeasesToStealAtOneTime == 0 {
		c.MaxLeasesToStealAtOneTime = 1
	}
	if c.MaxLeasesForWorker < 0 || c.MaxLeasesToStealAtOneTime < 0 {
		return errors.New("consumer: negative lease limit")
	}
	switch c.Retrieval {
	case Polling:
	case FanOut:
		if c.ConsumerName == "" {
			c.ConsumerName = c.ApplicationName
		}
		if c.ConsumerName == "" {
			return errors.New("consumer: enhanced fan-out needs a consumer name (ConsumerName or ApplicationName)")
		}
	default:
		return fmt.Errorf("consumer: unknown retrieval %d", c.Retrieval)
	}
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = c.FailoverTime
	}
	if c.Retry == (backoff.Policy{}) {
		c.Retry = backoff.Policy{Initial: 100 * time.Millisecond, Multiplier: 2, Max: 5 * time.Second, Jitter: true}
	}
	if err := c.Retry.Validate(); err != nil {
		return fmt.Errorf("consumer: retry: %w", err)
	}
	c.Clock = clock.Or(c.Clock)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

func (c *Config) renewInterval() time.Duration { return c.FailoverTime/3 - c.Epsilon }
func (c *Config) takeInterval() time.Duration  { return (c.FailoverTime + c.Epsilon) * 2 }
