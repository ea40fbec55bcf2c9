package trigger

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connectors/shardlog"
)

// benchRecords is how many records each iteration of the benchmarks
// below reads: a 4-shard stream of 100-byte records.
const benchRecords = 40000

func benchLog(b *testing.B) *shardlog.Log {
	b.Helper()
	l := openLog(b, filepath.Join(b.TempDir(), "log"), shardlog.Options{})
	b.Cleanup(func() { l.Close() })
	ref := shardlog.StreamRef{Name: "bench"}
	if err := l.CreateStream(shardlog.CreateStreamInput{Name: "bench", ShardCount: 4}); err != nil {
		b.Fatal(err)
	}
	data := make([]byte, 100)
	es := make([]shardlog.PutEntry, 0, 500)
	for i := 0; i < benchRecords; i++ {
		es = append(es, shardlog.PutEntry{PartitionKey: "key-" + strconv.Itoa(i%1000), Data: data})
		if len(es) == cap(es) {
			if _, err := l.PutRecords(context.Background(), ref, es, nil); err != nil {
				b.Fatal(err)
			}
			es = es[:0]
		}
	}
	return l
}

// BenchmarkTrigger: records/s through a trigger to a local HTTP function
// (an httptest server on 127.0.0.1 that reads each event and answers {}),
// from TRIM_HORIZON to the end of a 4-shard stream, checkpointing after
// every batch.
func BenchmarkTrigger(b *testing.B) {
	for _, bs := range []int{100, 1000} {
		for _, pf := range []int{1, 4} {
			b.Run("batch="+strconv.Itoa(bs)+"/parallel="+strconv.Itoa(pf), func(b *testing.B) {
				l := benchLog(b)
				var calls atomic.Int64
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					io.Copy(io.Discard, r.Body)
					calls.Add(1)
					w.Write([]byte("{}"))
				}))
				defer srv.Close()
				cfg := Config{Name: "bench", EventSourceArn: StreamARN("us-east-1", "000000000000", "bench"), StartingPosition: TrimHorizon,
					Function: Function{URL: srv.URL}, BatchSize: intp(bs), ParallelizationFactor: intp(pf)}
				b.ResetTimer()
				start := time.Now()
				var processed int64
				for i := 0; i < b.N; i++ {
					tr, err := New(cfg, Options{Log: l, StateDir: filepath.Join(b.TempDir(), "state")})
					if err != nil {
						b.Fatal(err)
					}
					runUntilCaughtUp(b, tr, 5*time.Minute)
					processed += tr.Stats().RecordsProcessed
				}
				el := time.Since(start)
				if processed != int64(b.N)*benchRecords {
					b.Fatalf("processed %d records, want %d", processed, b.N*benchRecords)
				}
				b.ReportMetric(float64(processed)/el.Seconds(), "records/s")
				b.ReportMetric(float64(calls.Load())/float64(b.N), "calls/op")
			})
		}
	}
}

// BenchmarkPlainRead: records/s of a plain read loop over the same stream
// (one ShardReader per shard in turn, each record copied as the trigger
// copies it), the baseline of BenchmarkTrigger.
func BenchmarkPlainRead(b *testing.B) {
	l := benchLog(b)
	ref := shardlog.StreamRef{Name: "bench"}
	b.ResetTimer()
	start := time.Now()
	var n int64
	for i := 0; i < b.N; i++ {
		for s := 0; s < 4; s++ {
			r, err := l.NewShardReader(ref, shardlog.ShardID(uint32(s)), shardlog.StartPosition{Type: shardlog.TrimHorizon})
			if err != nil {
				b.Fatal(err)
			}
			for {
				res, err := r.Read(context.Background(), 1000, 0, false)
				if err != nil {
					b.Fatal(err)
				}
				for _, rec := range res.Records {
					buf := make([]byte, len(rec.PartitionKey)+len(rec.Data))
					copy(buf, rec.PartitionKey)
					copy(buf[len(rec.PartitionKey):], rec.Data)
					n++
				}
				if len(res.Records) == 0 {
					break
				}
			}
		}
	}
	el := time.Since(start)
	if n != int64(b.N)*benchRecords {
		b.Fatalf("read %d records, want %d", n, b.N*benchRecords)
	}
	b.ReportMetric(float64(n)/el.Seconds(), "records/s")
}
