package kafka

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/engine"
)

// Every partition has its own watermark: one partition far ahead in event
// time does not make another's records late. The fast partition's records
// are produced first, so a single watermark across the partitions would
// pass the slow partition's timestamps before they are read.
func TestPerPartitionWatermarks(t *testing.T) {
	e := startCluster(t)
	e.createTopic(t, "wm", 2)
	var rs []*kgo.Record
	add := func(p int32, n int, step time.Duration) {
		for i := range n {
			rs = append(rs, &kgo.Record{Topic: "wm", Partition: p, Value: fmt.Appendf(nil, "%d/%d", p, i),
				Timestamp: time.UnixMilli(0).Add(time.Duration(i) * step)})
		}
	}
	add(0, 2000, 100*time.Millisecond) // 0 to 199.9 s
	add(1, 20, 100*time.Millisecond)   // 0 to 1.9 s
	pc, err := kgo.NewClient(kgo.SeedBrokers(e.addrs...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	if err := pc.ProduceSync(context.Background(), rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	for _, p := range []int{1, 2} {
		t.Run(fmt.Sprintf("p=%d", p), func(t *testing.T) {
			src, err := NewSource(SourceOptions{Client: e.client(), Topics: []string{"wm"}, Bounded: true})
			if err != nil {
				t.Fatal(err)
			}
			var mu sync.Mutex
			late, seen := map[int32]int{}, map[int32]int{}
			var maxFast int64 = -1
			behind := 0 // slow records read after a fast one of a later time
			j := engine.NewJob("wm", engine.Config{Parallelism: p})
			s := engine.SourceOf(j, "kafka", src, engine.BoundedOutOfOrderness(0, func(r Record) int64 { return r.Timestamp.UnixMilli() }))
			// One subtask downstream sees every partition's watermark.
			checked := engine.Process(s.Rebalance(), "check", engine.ProcessFunc[Record, int](func(r Record, ctx *engine.Context[int]) error {
				mu.Lock()
				defer mu.Unlock()
				seen[r.Partition]++
				if r.Partition == 0 {
					maxFast = max(maxFast, ctx.Timestamp())
				} else if ctx.Timestamp() < maxFast {
					behind++
				}
				if ctx.Timestamp() <= ctx.CurrentWatermark() {
					late[r.Partition]++
				}
				return nil
			})).SetParallelism(1)
			engine.Collect(checked, "out")
			if err := j.Execute(context.Background()); err != nil {
				t.Fatal(err)
			}
			if seen[0] != 2000 || seen[1] != 20 {
				t.Fatalf("read %v records per partition, want 2000 and 20", seen)
			}
			t.Logf("%d of the slow partition's records were read after a later record of the fast one", behind)
			if len(late) != 0 {
				t.Fatalf("late records per partition: %v (each partition's watermark must hold back the others')", late)
			}
		})
	}
}
