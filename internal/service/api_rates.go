package service

import (
	"sync"
	"sync/atomic"
	"time"
)

// shardCounters are the records and bytes the Kinesis API stored per
// shard since the service started, with a minute of per-second samples
// for the REST API's rates (sampled when read: no goroutine).
type shardCounters struct {
	mu sync.Mutex
	m  map[[2]string]*shardCounter
}

type shardCounter struct {
	records, bytes atomic.Int64

	mu      sync.Mutex
	samples []rateSample // oldest first, at most one a second, a minute's
}

type rateSample struct {
	at             time.Time
	records, bytes int64
}

func (s *shardCounters) get(stream, shard string) *shardCounter {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[[2]string]*shardCounter{}
	}
	k := [2]string{stream, shard}
	c := s.m[k]
	if c == nil {
		c = &shardCounter{}
		s.m[k] = c
	}
	return c
}

// rates returns records and bytes per second from the oldest sample of
// the last minute to now, and keeps now as a sample. The first read has
// no earlier sample and gives 0.
func (c *shardCounter) rates() (recordsPerSec, bytesPerSec float64) {
	now := time.Now()
	cur := rateSample{at: now, records: c.records.Load(), bytes: c.bytes.Load()}
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.samples) > 1 && now.Sub(c.samples[0].at) > time.Minute {
		c.samples = c.samples[1:]
	}
	if len(c.samples) > 0 {
		old := c.samples[0]
		if dt := now.Sub(old.at).Seconds(); dt > 0 {
			recordsPerSec = float64(cur.records-old.records) / dt
			bytesPerSec = float64(cur.bytes-old.bytes) / dt
		}
	}
	if n := len(c.samples); n == 0 || now.Sub(c.samples[n-1].at) >= time.Second {
		c.samples = append(c.samples, cur)
	}
	return recordsPerSec, bytesPerSec
}
