package consumer

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/sluicehq/sluice/connectors/shardlog"
	"github.com/sluicehq/sluice/connectors/shardlog/kinesisapi"
)

// testEnv is a log served by the Kinesis wire server on 127.0.0.1.
type testEnv struct {
	log *shardlog.Log
	url string
}

func startServer(t testing.TB) *testEnv {
	t.Helper()
	l, err := shardlog.Open(shardlog.Options{Dir: t.TempDir(), RetentionInterval: -1, Sync: shardlog.SyncNone})
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
	return &testEnv{log: l, url: "http://" + ln.Addr().String()}
}

// newClient is an SDK client of the server at url, as an application
// would build it (connection errors retried only, so that every Kinesis
// error reaches the consumer).
func newClient(url string) *kinesis.Client {
	// HTTP/2 without TLS (h2c), as SubscribeToShard needs HTTP/2 on
	// Kinesis.
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Protocols = new(http.Protocols)
	tr.Protocols.SetUnencryptedHTTP2(true)
	return kinesis.New(kinesis.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(url),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
		HTTPClient:   &http.Client{Transport: tr},
		Retryer: retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = 5
			o.MaxBackoff = 20 * time.Millisecond
			o.Retryables = []retry.IsErrorRetryable{retry.RetryableConnectionError{}}
			o.RateLimiter = ratelimit.None
		}),
	})
}

func (e *testEnv) createStream(t testing.TB, name string, shards int) {
	t.Helper()
	if err := e.log.CreateStream(shardlog.CreateStreamInput{Name: name, ShardCount: shards}); err != nil {
		t.Fatal(err)
	}
}

// producer puts records "key/n" of nKeys keys, each key's in order.
type producer struct {
	l      *shardlog.Log
	stream shardlog.StreamRef
	nKeys  int
	mu     sync.Mutex
	seq    map[string]int
	rng    *rand.Rand
	total  int
}

func newProducer(l *shardlog.Log, stream string, nKeys int, seed uint64) *producer {
	return &producer{l: l, stream: shardlog.StreamRef{Name: stream}, nKeys: nKeys, seq: map[string]int{}, rng: rand.New(rand.NewPCG(seed, 11))}
}

func (p *producer) put(t testing.TB, n int) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	for n > 0 {
		m := min(n, 1+p.rng.IntN(50))
		es := make([]shardlog.PutEntry, 0, m)
		for i := 0; i < m; i++ {
			k := "k" + strconv.Itoa(p.rng.IntN(p.nKeys))
			es = append(es, shardlog.PutEntry{PartitionKey: k, Data: []byte(k + "/" + strconv.Itoa(p.seq[k]))})
			p.seq[k]++
		}
		res, err := p.l.PutRecords(context.Background(), p.stream, es, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			if r.ErrorCode != "" {
				t.Fatal(fmt.Errorf("put: %s %w", r.ErrorCode, r.Err))
			}
		}
		n -= m
		p.total += m
	}
}

// waitFor polls cond until it holds, failing the test after limit with
// what describe says.
func waitFor(t testing.TB, limit time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s; state: %s", limit, what, state)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
