package kpl

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// benchRecords are n records of size bytes over 100 partition keys.
func benchRecords(n, size int) []UserRecord {
	rng := rand.New(rand.NewPCG(1, 2))
	out := make([]UserRecord, n)
	for i := range out {
		d := make([]byte, size)
		for j := range d {
			d[j] = byte(rng.Uint32())
		}
		out[i] = UserRecord{PartitionKey: fmt.Sprintf("partition-%d", rng.IntN(100)), Data: d}
	}
	return out
}

// BenchmarkAggregate: user records through the aggregator over four
// shards with the KPL's limits; bytes/op is the user data.
func BenchmarkAggregate(b *testing.B) {
	for _, size := range []int{100, 1000} {
		b.Run(fmt.Sprintf("record=%dB", size), func(b *testing.B) {
			recs := benchRecords(4096, size)
			a, err := NewAggregator(AggregatorOptions{}, fourShards(b))
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(size))
			b.ReportAllocs()
			var es []Entry
			i := 0
			for b.Loop() {
				es, _ = a.Add(es[:0], recs[i%len(recs)])
				i++
			}
		})
	}
}

// BenchmarkDeaggregate: one full aggregate (51200 bytes) of user records
// per op, checked and split; reported per user record.
func BenchmarkDeaggregate(b *testing.B) {
	for _, size := range []int{100, 1000} {
		b.Run(fmt.Sprintf("record=%dB", size), func(b *testing.B) {
			a, _ := NewAggregator(AggregatorOptions{}, oneShard(b))
			var es []Entry
			for _, u := range benchRecords(2000, size) {
				es, _ = a.Add(es, u)
			}
			agg := es[0]
			var d Deaggregator
			var out []UserRecord
			b.SetBytes(int64(len(agg.Data)))
			b.ReportAllocs()
			for b.Loop() {
				out, _ = d.Append(out[:0], agg.PartitionKey, agg.ExplicitHashKey, agg.Data)
			}
			b.ReportMetric(float64(agg.UserRecords), "records/op")
		})
	}
}
