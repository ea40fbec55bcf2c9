package kinesis

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/sluicehq/sluice/connectors/shardlog"
	"github.com/sluicehq/sluice/connectors/shardlog/kinesisapi"
)

// testEnv is a Log served by the Kinesis wire server on 127.0.0.1 and an
// SDK client for it, built by NewClient as a user's would be.
type testEnv struct {
	log    *shardlog.Log
	client *kinesis.Client
	url    string
	rt     *countingTransport
}

func startServer(t testing.TB) *testEnv { return startServerAt(t, nil) }

// startServerAt is startServer with the log on clk (nil: the wall clock).
func startServerAt(t testing.TB, clk shardlog.Clock) *testEnv {
	t.Helper()
	l, err := shardlog.Open(shardlog.Options{Dir: t.TempDir(), RetentionInterval: -1, Sync: shardlog.SyncNone, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv := kinesisapi.New(l, kinesisapi.Options{})
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln, nil) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
		l.Close()
	})
	url := "http://" + ln.Addr().String()
	rt := &countingTransport{rt: http.DefaultTransport.(*http.Transport).Clone()}
	c, err := NewClient(context.Background(), ClientConfig{
		Region: "us-east-1", Endpoint: url, Credentials: CredentialsBasic, AccessKeyID: "AKIDEXAMPLE", SecretKey: "secret",
		HTTPClient: &http.Client{Transport: rt},
		Retryer:    connectionRetryer,
	})
	if err != nil {
		t.Fatal(err)
	}
	return &testEnv{log: l, client: c, url: url, rt: rt}
}

// countingTransport counts the HTTP requests of each Kinesis operation
// and the requests that failed below HTTP (which the SDK retries).
type countingTransport struct {
	rt       http.RoundTripper
	mu       sync.Mutex
	requests map[string]int
	failed   map[string]int
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "Kinesis_20131202.")
	res, err := c.rt.RoundTrip(r)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.requests == nil {
		c.requests, c.failed = map[string]int{}, map[string]int{}
	}
	c.requests[op]++
	if err != nil {
		c.failed[op]++
	}
	return res, err
}

func (c *countingTransport) counts() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return fmt.Sprintf("requests %v, failed below HTTP %v", c.requests, c.failed)
}

// connectionRetryer retries connection errors only (the SDK's HTTP/1.1
// transport can drop a connection whose response arrives early,
// aws/aws-sdk-go-v2#2737), so that every Kinesis error reaches the
// connector, which must handle it itself.
func connectionRetryer() aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = 5
		o.MaxBackoff = 20 * time.Millisecond
		o.Retryables = []retry.IsErrorRetryable{retry.RetryableConnectionError{}}
		o.RateLimiter = ratelimit.None
	})
}

func (e *testEnv) createStream(t testing.TB, name string, shards int) {
	t.Helper()
	if err := e.log.CreateStream(shardlog.CreateStreamInput{Name: name, ShardCount: shards}); err != nil {
		t.Fatal(err)
	}
}

// producer puts records "key/seq" of nKeys keys straight into the log,
// each key's records in order.
type producer struct {
	l      *shardlog.Log
	stream shardlog.StreamRef
	nKeys  int
	mu     sync.Mutex
	seq    map[string]int
	rng    *rand.Rand
}

func newProducer(l *shardlog.Log, stream string, nKeys int, seed uint64) *producer {
	return &producer{l: l, stream: shardlog.StreamRef{Name: stream}, nKeys: nKeys, seq: map[string]int{}, rng: rand.New(rand.NewPCG(seed, 7))}
}

// put stores n records of keys that keep(k) accepts (nil: any), one per
// key per call so that each key's order holds.
func (p *producer) put(t testing.TB, n int, keep func(key string) bool) {
	t.Helper()
	if err := p.tryPut(n, keep); err != nil {
		t.Fatal(err)
	}
}

// tryPut is put for goroutines other than the test's.
func (p *producer) tryPut(n int, keep func(key string) bool) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	var keys []string
	for i := 0; i < p.nKeys; i++ {
		if k := "k" + strconv.Itoa(i); keep == nil || keep(k) {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return fmt.Errorf("producer: no key to write")
	}
	for n > 0 {
		m := min(n, len(keys), 1+p.rng.IntN(100))
		var es []shardlog.PutEntry
		for _, i := range p.rng.Perm(len(keys))[:m] {
			k := keys[i]
			es = append(es, shardlog.PutEntry{PartitionKey: k, Data: []byte(k + "/" + strconv.Itoa(p.seq[k]))})
			p.seq[k]++
		}
		res, err := p.l.PutRecords(context.Background(), p.stream, es, nil)
		if err != nil {
			return err
		}
		for _, r := range res {
			if r.ErrorCode != "" {
				return fmt.Errorf("put: %s %w", r.ErrorCode, r.Err)
			}
		}
		n -= m
	}
	return nil
}

func (p *producer) counts() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	m := make(map[string]int, len(p.seq))
	for k, v := range p.seq {
		m[k] = v
	}
	return m
}

// want is every record identity ("key/seq") written, once.
func (p *producer) want() map[string]int {
	w := map[string]int{}
	for k, n := range p.counts() {
		for i := 0; i < n; i++ {
			w[k+"/"+strconv.Itoa(i)]++
		}
	}
	return w
}

// reshardWithLineage gives a 4-shard stream a history: a split, a merge and
// a scaling, with records before and after each.
func reshardWithLineage(t testing.TB, l *shardlog.Log, p *producer, per int) {
	t.Helper()
	ref := p.stream
	p.put(t, per, nil)
	if err := l.SplitShard(ref, "shardId-000000000000", shardlog.UniformRanges(4)[0].Midpoint().String()); err != nil {
		t.Fatal(err)
	}
	p.put(t, per, nil)
	if err := l.MergeShards(ref, "shardId-000000000001", "shardId-000000000002"); err != nil {
		t.Fatal(err)
	}
	p.put(t, per, nil)
	if _, err := l.UpdateShardCount(ref, 3, shardlog.UniformScaling); err != nil {
		t.Fatal(err)
	}
	p.put(t, per, nil)
}

type keySeq struct {
	Key string
	Seq int
}

func (k keySeq) ID() string { return k.Key + "/" + strconv.Itoa(k.Seq) }

func parseKeySeq(r *Record) (keySeq, error) {
	k, s, ok := strings.Cut(string(r.Data), "/")
	n, err := strconv.Atoi(s)
	if !ok || err != nil || k != r.PartitionKey {
		return keySeq{}, fmt.Errorf("record %s of %s: %q under key %q", r.SequenceNumber, r.ShardID, r.Data, r.PartitionKey)
	}
	return keySeq{Key: k, Seq: n}, nil
}

// checkOnceInOrder checks that got holds every record of want once, each
// key's in order.
func checkOnceInOrder(t testing.TB, got []keySeq, want map[string]int) {
	t.Helper()
	next := map[string]int{}
	bad := 0
	for _, v := range got {
		if v.Seq != next[v.Key] {
			if bad++; bad <= 5 {
				t.Errorf("key %s: record %d where %d was due", v.Key, v.Seq, next[v.Key])
			}
			if v.Seq < next[v.Key] {
				continue
			}
		}
		next[v.Key] = v.Seq + 1
	}
	total := 0
	for k, n := range want {
		total += n
		if next[k] != n {
			t.Errorf("key %s: %d records read, %d written", k, next[k], n)
		}
	}
	if len(got) != total {
		t.Errorf("%d records read, %d written", len(got), total)
	}
}

// faultyAPI wraps an API: every throttleEvery-th GetRecords and
// GetShardIterator call fails with ProvisionedThroughputExceededException
// (as Kinesis answers a shard read too often), and PutRecords refuses
// every refuseEvery-th record with a per-record throttling error.
type faultyAPI struct {
	API
	throttleEvery, refuseEvery int64
	// expireEvery makes every expireEvery-th GetRecords fail with
	// ExpiredIteratorException, as Kinesis does for an iterator older
	// than five minutes.
	expireEvery int64
	// failCallEvery fails every failCallEvery-th PutRecords call whole
	// with InternalFailureException, before it reaches the server.
	failCallEvery    int64
	calls            atomic.Int64
	failedCalls      atomic.Int64
	reads, puts      atomic.Int64
	getRecords       atomic.Int64
	throttledReads   atomic.Int64
	refused, expired atomic.Int64
	afterSeqIters    atomic.Int64 // GetShardIterator calls AFTER_SEQUENCE_NUMBER
}

func (f *faultyAPI) throttle() error {
	if f.throttleEvery > 0 && f.reads.Add(1)%f.throttleEvery == 0 {
		f.throttledReads.Add(1)
		return &types.ProvisionedThroughputExceededException{Message: aws.String("Rate exceeded for shard")}
	}
	return nil
}

func (f *faultyAPI) GetRecords(ctx context.Context, in *kinesis.GetRecordsInput, opts ...func(*kinesis.Options)) (*kinesis.GetRecordsOutput, error) {
	if err := f.throttle(); err != nil {
		return nil, err
	}
	if f.expireEvery > 0 && f.getRecords.Add(1)%f.expireEvery == 0 {
		f.expired.Add(1)
		return nil, &types.ExpiredIteratorException{Message: aws.String("Iterator expired. The iterator was created at time Mon Dec 07 14:00:00 UTC 2026 while right now it is Mon Dec 07 14:06:00 UTC 2026 which is further in the future than the tolerated delay of 300000 milliseconds.")}
	}
	return f.API.GetRecords(ctx, in, opts...)
}

func (f *faultyAPI) GetShardIterator(ctx context.Context, in *kinesis.GetShardIteratorInput, opts ...func(*kinesis.Options)) (*kinesis.GetShardIteratorOutput, error) {
	if err := f.throttle(); err != nil {
		return nil, err
	}
	if in.ShardIteratorType == types.ShardIteratorTypeAfterSequenceNumber {
		f.afterSeqIters.Add(1)
	}
	return f.API.GetShardIterator(ctx, in, opts...)
}

// PutRecords sends the records it does not refuse and answers for all, as
// Kinesis does when part of a call is throttled.
func (f *faultyAPI) PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, opts ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error) {
	if f.failCallEvery > 0 && f.calls.Add(1)%f.failCallEvery == 0 {
		f.failedCalls.Add(1)
		return nil, &types.InternalFailureException{Message: aws.String("Internal service failure.")}
	}
	if f.refuseEvery == 0 {
		return f.API.PutRecords(ctx, in, opts...)
	}
	var pass []types.PutRecordsRequestEntry
	refuse := make([]bool, len(in.Records))
	for i, r := range in.Records {
		if f.puts.Add(1)%f.refuseEvery == 0 {
			refuse[i] = true
			continue
		}
		pass = append(pass, r)
	}
	var got []types.PutRecordsResultEntry
	if len(pass) > 0 {
		sub := *in
		sub.Records = pass
		res, err := f.API.PutRecords(ctx, &sub, opts...)
		if err != nil {
			return nil, err
		}
		got = res.Records
	}
	out := &kinesis.PutRecordsOutput{}
	for i := range in.Records {
		if refuse[i] {
			f.refused.Add(1)
			out.Records = append(out.Records, types.PutRecordsResultEntry{ErrorCode: aws.String("ProvisionedThroughputExceededException"),
				ErrorMessage: aws.String("Rate exceeded for shard shardId-000000000000 in stream s under account 000000000000.")})
			out.FailedRecordCount = aws.Int32(aws.ToInt32(out.FailedRecordCount) + 1)
			continue
		}
		out.Records = append(out.Records, got[0])
		got = got[1:]
	}
	return out, nil
}
