package shardconn

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connectors/shardlog"
	"github.com/sluicehq/sluice/engine"
)

// benchRecordBytes is the data size of the benchmarks' records (the key
// adds 4 to 6 bytes).
const benchRecordBytes = 100

// fillStream puts n records of benchRecordBytes spread over 1,000 keys.
func fillStream(b *testing.B, l *shardlog.Log, stream string, n int) {
	b.Helper()
	data := make([]byte, benchRecordBytes)
	es := make([]shardlog.PutEntry, 0, shardlog.MaxPutRecords)
	var res []shardlog.PutResult
	for i := 0; i < n; {
		es = es[:0]
		for ; len(es) < shardlog.MaxPutRecords && i < n; i++ {
			es = append(es, shardlog.PutEntry{PartitionKey: "k" + strconv.Itoa(i%1000), Data: data})
		}
		var err error
		if res, err = l.PutRecords(context.Background(), shardlog.StreamRef{Name: stream}, es, res[:0]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSource reads a 4-shard stream of b.N records to its end with a
// bounded job (source, then a counting sink) at parallelism 1 and 2.
func BenchmarkSource(b *testing.B) {
	for _, p := range []int{1, 2} {
		for _, variant := range []string{"records", "decoded"} {
			b.Run(fmt.Sprintf("%s/p%d", variant, p), func(b *testing.B) {
				l := openTestLog(b, shardlog.Options{})
				if err := l.CreateStream(shardlog.CreateStreamInput{Name: "s", ShardCount: 4}); err != nil {
					b.Fatal(err)
				}
				fillStream(b, l, "s", b.N)
				opts := SourceOptions{Stream: shardlog.StreamRef{Name: "s"}, Bounded: true}
				j := engine.NewJob("bench", engine.Config{Parallelism: p, StateBackend: "memory"})
				switch variant {
				case "records":
					src, err := NewSource(l, opts)
					if err != nil {
						b.Fatal(err)
					}
					s := engine.SourceOf(j, "log", src, engine.NoWatermarks[SourceRecord]())
					engine.ForEach(s, "count", func(SourceRecord) error { return nil })
				case "decoded":
					src, err := NewDecodingSource(l, opts, func(r *shardlog.Record) (int, error) { return len(r.Data), nil })
					if err != nil {
						b.Fatal(err)
					}
					s := SourceOfDecoded(j, "log", src, engine.SourceTimestamps[int](0))
					engine.ForEach(s, "count", func(int) error { return nil })
				}
				b.ReportAllocs()
				b.ResetTimer()
				start := time.Now()
				if err := j.Execute(context.Background()); err != nil {
					b.Fatal(err)
				}
				sec := time.Since(start).Seconds()
				b.ReportMetric(float64(b.N)/sec, "records/s")
				b.ReportMetric(float64(b.N)*benchRecordBytes/sec, "bytes/s")
			})
		}
	}
}

// BenchmarkSink writes b.N records of benchRecordBytes through one sink
// writer, in batches of 512 as the engine passes them, and waits for every
// acknowledgement; with fsync per PutRecords (sync=always, the log's
// default) and without.
func BenchmarkSink(b *testing.B) {
	for _, mode := range []struct {
		name string
		sync shardlog.SyncMode
	}{{"always", shardlog.SyncAlways}, {"none", shardlog.SyncNone}} {
		for _, inflight := range []int{1, 4} {
			b.Run(fmt.Sprintf("sync=%s/inflight=%d", mode.name, inflight), func(b *testing.B) {
				l, err := shardlog.Open(shardlog.Options{Dir: b.TempDir(), Sync: mode.sync, RetentionInterval: -1})
				if err != nil {
					b.Fatal(err)
				}
				defer l.Close()
				if err := l.CreateStream(shardlog.CreateStreamInput{Name: "s", ShardCount: 4}); err != nil {
					b.Fatal(err)
				}
				data := make([]byte, benchRecordBytes)
				keys := make([]string, 1000)
				for i := range keys {
					keys[i] = "k" + strconv.Itoa(i)
				}
				sink, err := NewSink(l, SinkOptions{Stream: shardlog.StreamRef{Name: "s"}, MaxInFlight: inflight}, func(i int, buf []byte) (shardlog.PutEntry, error) {
					return shardlog.PutEntry{PartitionKey: keys[i%len(keys)], Data: append(buf, data...)}, nil
				})
				if err != nil {
					b.Fatal(err)
				}
				w, err := sink.Open(context.Background(), engine.SinkInfo{Name: "log", Parallelism: 1})
				if err != nil {
					b.Fatal(err)
				}
				batch := make([]engine.Record[int], 512)
				b.ReportAllocs()
				b.ResetTimer()
				start := time.Now()
				for i := 0; i < b.N; {
					n := min(len(batch), b.N-i)
					for k := 0; k < n; k++ {
						batch[k].Value = i + k
					}
					if err := w.Write(batch[:n]); err != nil {
						b.Fatal(err)
					}
					i += n
				}
				if _, err := w.(engine.CommittingWriter).Prepare(1); err != nil {
					b.Fatal(err)
				}
				sec := time.Since(start).Seconds()
				b.StopTimer()
				w.Close()
				b.ReportMetric(float64(b.N)/sec, "records/s")
				b.ReportMetric(float64(b.N)*benchRecordBytes/sec, "bytes/s")
			})
		}
	}
}
