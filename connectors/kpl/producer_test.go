package kpl

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/backoff"
	"github.com/sluicehq/sluice/internal/clock"
)

// fakeStream is a four-shard stream behind a PutRecords function: it
// places each entry by its hash key, fails the entries failNext names
// once, and keeps what each shard received.
type fakeStream struct {
	mu       sync.Mutex
	m        *ShardMap
	shards   map[string][]Entry
	calls    int
	failNext int // fail this many entries of the next call
}

func (f *fakeStream) put(_ context.Context, es []Entry) ([]PutResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if len(es) > MaxRecordsPerRequest {
		return nil, fmt.Errorf("%d records in one call", len(es))
	}
	out := make([]PutResult, len(es))
	for i, e := range es {
		if f.failNext > 0 {
			f.failNext--
			out[i] = PutResult{ErrorCode: "ProvisionedThroughputExceededException", ErrorMessage: "Rate exceeded for shard"}
			continue
		}
		h, err := EffectiveHashKey(e.PartitionKey, e.ExplicitHashKey)
		if err != nil {
			return nil, err
		}
		_, id, _ := f.m.Shard(h)
		f.shards[id] = append(f.shards[id], e)
		out[i] = PutResult{ShardID: id, SequenceNumber: fmt.Sprint(len(f.shards[id]))}
	}
	return out, nil
}

func (f *fakeStream) list(context.Context) ([]ShardRange, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]ShardRange(nil), f.m.ranges...), nil
}

// userRecords de-aggregates what shard id received.
func (f *fakeStream) userRecords(t *testing.T, id string) []string {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, e := range f.shards[id] {
		us, err := Deaggregate(e.PartitionKey, e.ExplicitHashKey, e.Data)
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range us {
			out = append(out, u.PartitionKey+"="+string(u.Data))
		}
	}
	return out
}

func TestProducerAggregatesPerShardAndFlushes(t *testing.T) {
	ctx := context.Background()
	f := &fakeStream{m: fourShards(t), shards: map[string][]Entry{}}
	clk := clock.NewManual(time.Unix(1e9, 0))
	p, err := NewProducer(ctx, f.put, ProducerOptions{ListShards: f.list, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{}
	for i := 0; i < 5000; i++ {
		u := UserRecord{PartitionKey: fmt.Sprint("key-", i%97), Data: []byte(fmt.Sprint("value-", i))}
		_, id, _ := f.m.Shard(PartitionHash(u.PartitionKey))
		want[id] = append(want[id], u.PartitionKey+"="+string(u.Data))
		if err := p.Put(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	st := p.Stats()
	if st.UserRecords != 5000 || st.KinesisRecords >= 100 {
		t.Fatalf("stats %+v: expected 5000 user records in few aggregates", st)
	}
	for id, w := range want {
		if got := f.userRecords(t, id); fmt.Sprint(got) != fmt.Sprint(w) {
			t.Fatalf("shard %s: %d user records, want %d in order", id, len(got), len(w))
		}
	}
}

func TestProducerLingerRetryAndReshard(t *testing.T) {
	ctx := context.Background()
	f := &fakeStream{m: fourShards(t), shards: map[string][]Entry{}}
	clk := clock.NewManual(time.Unix(1e9, 0))
	p, err := NewProducer(ctx, f.put, ProducerOptions{
		ListShards: f.list, Clock: clk, MaxBufferedTime: time.Second,
		Retry: backoff.Policy{Initial: time.Millisecond, MaxAttempts: 5},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(ctx)
	if err := p.Put(ctx, UserRecord{PartitionKey: "a", Data: []byte("1")}); err != nil {
		t.Fatal(err)
	}
	if err := p.Put(ctx, UserRecord{PartitionKey: "a", Data: []byte("2")}); err != nil {
		t.Fatal(err)
	}
	// Nothing is sent before the linger time.
	if s := p.Stats(); s.Requests != 0 {
		t.Fatalf("sent before linger: %+v", s)
	}
	// The linger goroutine waits on the clock; advance past it and wait
	// for the send (driven by the manual clock, no sleep).
	// A timer pending before the linger goroutine armed its own would
	// let one advance pass before the linger timer's deadline was set, so
	// advance a linger time whenever one is pending, until the send.
	for p.Stats().UserRecords != 2 {
		if clk.Pending() > 0 {
			clk.Advance(time.Second)
		}
		waitGoroutine()
	}
	_, id, _ := f.m.Shard(PartitionHash("a"))
	if got := f.userRecords(t, id); fmt.Sprint(got) != "[a=1 a=2]" {
		t.Fatalf("after linger: %v", got)
	}

	// A throttled entry is retried.
	f.mu.Lock()
	f.failNext = 1
	f.mu.Unlock()
	clk.AutoAdvance(true)
	if err := p.Put(ctx, UserRecord{PartitionKey: "b", Data: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if s := p.Stats(); s.RetriedEntries != 1 || s.UserRecords != 3 {
		t.Fatalf("after a throttled entry: %+v", s)
	}

	// A reshard: the stream now has one shard; the first put lands on
	// another shard than predicted and the map is loaded again.
	f.mu.Lock()
	f.m = oneShard(t)
	f.mu.Unlock()
	loads := p.Stats().ShardMapLoads
	for i := 0; i < 2; i++ {
		for _, k := range []string{"c", "d", "e", "f"} {
			if err := p.Put(ctx, UserRecord{PartitionKey: k, Data: []byte(k)}); err != nil {
				t.Fatal(err)
			}
		}
		if err := p.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if p.Stats().ShardMapLoads != loads+1 {
		t.Fatalf("shard map loads %d, want %d", p.Stats().ShardMapLoads, loads+1)
	}
	// A failure past the retry policy is returned and sticks.
	f.mu.Lock()
	f.failNext = 1000
	f.mu.Unlock()
	_ = p.Put(ctx, UserRecord{PartitionKey: "g", Data: []byte("g")})
	err = p.Flush(ctx)
	if err == nil || !strings.Contains(err.Error(), "ProvisionedThroughputExceededException") {
		t.Fatalf("Flush: %v", err)
	}
	if err2 := p.Put(ctx, UserRecord{PartitionKey: "h", Data: []byte("h")}); err2 == nil {
		t.Fatal("Put after a failure succeeded")
	}
}

func TestProducerOptions(t *testing.T) {
	put := func(context.Context, []Entry) ([]PutResult, error) { return nil, nil }
	for _, tc := range []struct {
		o    ProducerOptions
		want string
	}{
		{ProducerOptions{RecordsPerRequest: 501}, "RecordsPerRequest 501"},
		{ProducerOptions{BytesPerRequest: 6 << 20}, "BytesPerRequest"},
		{ProducerOptions{Aggregation: AggregatorOptions{MaxSize: 2 << 20}}, "MaxSize"},
		{ProducerOptions{MaxBufferedTime: -1}, "MaxBufferedTime"},
	} {
		if _, err := NewProducer(context.Background(), put, tc.o); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v", tc.o, err)
		}
	}
}

// waitGoroutine lets the producer's linger goroutine run.
func waitGoroutine() { runtime.Gosched() }
