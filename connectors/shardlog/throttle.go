package shardlog

import (
	"sync"
	"time"
)

// bucket is a token bucket on the log's clock: rate tokens per second, at
// most one second's worth saved. A zero rate never throttles.
type bucket struct {
	rate   float64
	tokens float64
	last   time.Time
}

func newBucket(rate int64, now time.Time) bucket {
	return bucket{rate: float64(rate), tokens: float64(rate), last: now}
}

func (b *bucket) refill(now time.Time) {
	if d := now.Sub(b.last); d > 0 {
		b.tokens = min(b.rate, b.tokens+b.rate*d.Seconds())
		b.last = now
	}
}

// take takes n tokens if there are that many.
func (b *bucket) take(now time.Time, n float64) bool {
	if b.rate == 0 {
		return true
	}
	b.refill(now)
	if b.tokens < n {
		return false
	}
	b.tokens -= n
	return true
}

// allowDebt reports whether any token is left; spend then charges the real
// cost, which may go negative. GetRecords works this way: a call that
// returns 10 MiB is allowed, and the calls of the next few seconds are
// throttled, as in Kinesis.
func (b *bucket) allowDebt(now time.Time) bool {
	if b.rate == 0 {
		return true
	}
	b.refill(now)
	return b.tokens > 0
}

func (b *bucket) spend(n float64) {
	if b.rate != 0 {
		b.tokens -= n
	}
}

// limiter holds one shard's throttles and its observed write rate (for
// on-demand scaling).
type limiter struct {
	mu       sync.Mutex
	inBytes  bucket
	inRecs   bucket
	outBytes bucket
	outCalls bucket
	// window counters: the current second's writes, and whether the last
	// full second went over the on-demand split threshold.
	winStart       int64 // unix second
	winRecs        int64
	winBytes       int64
	hot            bool
	subscribeTimes map[string]time.Time     // consumer ARN -> last SubscribeToShard
	subs           map[string]*Subscription // consumer ARN -> live subscription
}

func newLimiter(l *Limits, now time.Time) *limiter {
	lim := &limiter{}
	if l != nil {
		lim.inBytes = newBucket(l.InBytesPerSec, now)
		lim.inRecs = newBucket(l.InRecordsPerSec, now)
		lim.outBytes = newBucket(l.OutBytesPerSec, now)
		lim.outCalls = newBucket(l.OutCallsPerSec, now)
	}
	return lim
}
