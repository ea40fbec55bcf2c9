package shardlog

import (
	"fmt"
	"log"
	"time"

	"github.com/sluicehq/sluice/internal/clock"
)

// Clock is the time source: arrival timestamps, retention, iterator and
// next-token expiry, throttling windows and subscription lifetimes all read
// it. Use NewManualClock in tests. It is the same clock as the engine's
// (engine.Clock), so one manual clock can drive a log and a job together.
type Clock = clock.Clock

// ManualClock is a Clock that moves only when told to (Advance, Set).
type ManualClock = clock.Manual

// NewManualClock returns a ManualClock set to start.
func NewManualClock(start time.Time) *ManualClock { return clock.NewManual(start) }

// SyncMode says when an append is acknowledged.
type SyncMode int

const (
	// SyncAlways acknowledges a put only once it is fsynced (the default).
	SyncAlways SyncMode = iota
	// SyncNone acknowledges once written to the OS: survives a process
	// crash, not a machine crash.
	SyncNone
)

// Limits are the per-shard throughput limits of provisioned mode. A zero
// field disables that limit.
type Limits struct {
	// In: bytes (partition key + data) and records per second per shard.
	InBytesPerSec   int64
	InRecordsPerSec int64
	// Out: GetRecords bytes and calls per second per shard.
	OutBytesPerSec int64
	OutCallsPerSec int64
}

// KinesisLimits are Kinesis's provisioned per-shard limits: 1 MiB/s or 1,000
// records/s in, 2 MiB/s and 5 GetRecords calls/s out. (SubscribeToShard's
// rule, one subscription per consumer and shard every 5 seconds, always
// applies.)
var KinesisLimits = Limits{
	InBytesPerSec:   1 << 20,
	InRecordsPerSec: 1000,
	OutBytesPerSec:  2 << 20,
	OutCallsPerSec:  5,
}

// OnDemand configures how an ON_DEMAND stream grows.
type OnDemand struct {
	// InitialShards is the shard count of a new on-demand stream.
	// Default 4 (as Kinesis).
	InitialShards int
	// MaxShards caps automatic splitting. Default 200.
	MaxShards int
	// SplitRecordsPerSec and SplitBytesPerSec: a shard that takes more
	// than either in one second is split in two at the middle of its hash
	// range. Defaults 500 records/s and 512 KiB/s: half the provisioned
	// limit, so that a stream grows before it is throttled.
	SplitRecordsPerSec int64
	SplitBytesPerSec   int64
}

// Options configure a Log. The zero value (with Dir set) is valid; see each
// field's default.
type Options struct {
	// Dir holds the log. Required.
	Dir string
	// Clock is the time source. Default: the wall clock.
	Clock Clock
	// Sync says when a put is acknowledged. Default SyncAlways.
	Sync SyncMode
	// SegmentBytes is the size of a shard's segment files. Default 64 MiB.
	SegmentBytes int64
	// Limits are the per-shard throughput limits; nil means none (the
	// default for embedded use). The server uses KinesisLimits.
	Limits *Limits
	// OnDemand configures ON_DEMAND streams.
	OnDemand OnDemand
	// ShardLimit is the account's open shard quota (DescribeLimits).
	// Default 500.
	ShardLimit int
	// OnDemandStreamLimit is the number of ON_DEMAND streams allowed.
	// Default 50.
	OnDemandStreamLimit int
	// Region and AccountID appear in ARNs and messages. Defaults
	// "us-east-1" and "000000000000".
	Region    string
	AccountID string
	// StatusDelay is how long a stream stays CREATING, UPDATING or
	// DELETING, and a consumer CREATING or DELETING. Default 0: changes
	// complete at once (still visible as such to a ManualClock that does
	// not move when the delay is positive).
	StatusDelay time.Duration
	// IteratorTTL is how long a shard iterator stays valid. Default 5
	// minutes, as Kinesis.
	IteratorTTL time.Duration
	// SubscriptionTTL is how long a SubscribeToShard subscription lasts.
	// Default 5 minutes, as Kinesis.
	SubscriptionTTL time.Duration
	// HeartbeatInterval is how often a subscription sends an event when no
	// record arrives. Default 5 s.
	HeartbeatInterval time.Duration
	// RetentionInterval is how often the background janitor deletes
	// expired segments and closed shards. Default 1 minute; negative
	// disables the janitor (call Log.EnforceRetention yourself).
	RetentionInterval time.Duration
	// ErrorLog is told of failures of the log's background work, which
	// has no caller to return them to (retention trimming, on-demand
	// scaling), of what recovery did at open (a torn tail cut, an empty
	// segment recreated: shard, position, offset, bytes dropped) and of
	// damaged records found (see Log.Damage). It may be called from any
	// goroutine. Default: the standard logger (log.Printf).
	ErrorLog func(format string, args ...any)
}

// EnsureDefaults fills zero fields with their defaults.
func (o *Options) EnsureDefaults() {
	if o.Clock == nil {
		o.Clock = clock.Real
	}
	if o.ErrorLog == nil {
		o.ErrorLog = log.Printf
	}
	if o.SegmentBytes == 0 {
		o.SegmentBytes = 64 << 20
	}
	if o.OnDemand.InitialShards == 0 {
		o.OnDemand.InitialShards = 4
	}
	if o.OnDemand.MaxShards == 0 {
		o.OnDemand.MaxShards = 200
	}
	if o.OnDemand.SplitRecordsPerSec == 0 {
		o.OnDemand.SplitRecordsPerSec = 500
	}
	if o.OnDemand.SplitBytesPerSec == 0 {
		o.OnDemand.SplitBytesPerSec = 512 << 10
	}
	if o.ShardLimit == 0 {
		o.ShardLimit = 500
	}
	if o.OnDemandStreamLimit == 0 {
		o.OnDemandStreamLimit = 50
	}
	if o.Region == "" {
		o.Region = "us-east-1"
	}
	if o.AccountID == "" {
		o.AccountID = "000000000000"
	}
	if o.IteratorTTL == 0 {
		o.IteratorTTL = 5 * time.Minute
	}
	if o.SubscriptionTTL == 0 {
		o.SubscriptionTTL = 5 * time.Minute
	}
	if o.HeartbeatInterval == 0 {
		o.HeartbeatInterval = 5 * time.Second
	}
	if o.RetentionInterval == 0 {
		o.RetentionInterval = time.Minute
	}
}

// Validate reports options that cannot work.
func (o *Options) Validate() error {
	switch {
	case o.Dir == "":
		return fmt.Errorf("shardlog: Options.Dir is required")
	case o.Sync != SyncAlways && o.Sync != SyncNone:
		return fmt.Errorf("shardlog: unknown SyncMode %d", o.Sync)
	case o.SegmentBytes < 4<<10:
		return fmt.Errorf("shardlog: SegmentBytes %d is below 4 KiB", o.SegmentBytes)
	case o.OnDemand.InitialShards < 1 || o.OnDemand.MaxShards < o.OnDemand.InitialShards:
		return fmt.Errorf("shardlog: OnDemand shards: initial %d, max %d", o.OnDemand.InitialShards, o.OnDemand.MaxShards)
	case o.StatusDelay < 0 || o.IteratorTTL < 0 || o.SubscriptionTTL < 0 || o.HeartbeatInterval < 0:
		return fmt.Errorf("shardlog: negative duration in options")
	case len(o.AccountID) != 12:
		return fmt.Errorf("shardlog: AccountID %q must be 12 digits", o.AccountID)
	}
	if l := o.Limits; l != nil && (l.InBytesPerSec < 0 || l.InRecordsPerSec < 0 || l.OutBytesPerSec < 0 || l.OutCallsPerSec < 0) {
		return fmt.Errorf("shardlog: negative limit")
	}
	return nil
}
