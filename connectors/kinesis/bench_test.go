package kinesis

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connectors/shardlog"
	"github.com/sluicehq/sluice/engine"
)

// BenchmarkSourceRead reads 100,000 records of 100 bytes from 4 shards
// through the SDK and the wire server on 127.0.0.1, bounded, at
// parallelism 1 and 4: records/s.
func BenchmarkSourceRead(b *testing.B) {
	const n = 100_000
	e := startServer(b)
	e.createStream(b, "s", 4)
	pad := strings.Repeat("x", 90)
	for i := 0; i < n; i += 500 {
		es := make([]shardlog.PutEntry, 500)
		for k := range es {
			es[k] = shardlog.PutEntry{PartitionKey: fmt.Sprint(i + k), Data: []byte(pad)}
		}
		if _, err := e.log.PutRecords(context.Background(), shardlog.StreamRef{Name: "s"}, es, nil); err != nil {
			b.Fatal(err)
		}
	}
	for _, p := range []int{1, 4} {
		b.Run(fmt.Sprintf("p%d", p), func(b *testing.B) {
			start := time.Now()
			for i := 0; i < b.N; i++ {
				src, err := NewSource(e.client, SourceOptions{Stream: "s", Bounded: true})
				if err != nil {
					b.Fatal(err)
				}
				j := engine.NewJob("bench", engine.Config{Parallelism: p})
				var count atomic.Int64
				engine.ForEach(engine.SourceOf(j, "kinesis", src, engine.NoWatermarks[Record]()), "count", func(Record) error {
					count.Add(1)
					return nil
				})
				if err := j.Execute(context.Background()); err != nil {
					b.Fatal(err)
				}
				if count.Load() != n {
					b.Fatalf("%d records", count.Load())
				}
			}
			b.ReportMetric(float64(n*b.N)/time.Since(start).Seconds(), "records/s")
		})
	}
}

// BenchmarkSinkWrite writes 100,000 records of 100 bytes into 4 shards
// through the SDK and the wire server, at parallelism 1 and 4: records/s.
func BenchmarkSinkWrite(b *testing.B) {
	const n = 100_000
	in := keySeqs(1000, n)
	pad := strings.Repeat("x", 90)
	for _, p := range []int{1, 4} {
		b.Run(fmt.Sprintf("p%d", p), func(b *testing.B) {
			e := startServer(b)
			e.createStream(b, "out", 4)
			start := time.Now()
			for i := 0; i < b.N; i++ {
				sink, err := NewSink(e.client, SinkOptions{Stream: "out"}, func(v keySeq) (Entry, error) {
					return Entry{PartitionKey: v.Key, Data: []byte(pad)}, nil
				})
				if err != nil {
					b.Fatal(err)
				}
				j := engine.NewJob("bench", engine.Config{Parallelism: p})
				engine.SinkTo(engine.FromSlice(j, "in", in, engine.NoWatermarks[keySeq]()), "kinesis", sink)
				if err := j.Execute(context.Background()); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n*b.N)/time.Since(start).Seconds(), "records/s")
		})
	}
}
