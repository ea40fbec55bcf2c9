package etcdcluster

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/engine/cluster"
	etcdtest "github.com/sluicehq/sluice/internal/testsupport/etcdcluster"
)

// The benchmarks run against a real 3-member etcd on loopback (fsync on:
// etcd's defaults), the inputs of the scale-out model in docs/scale-out.md:
//
//	go test -run '^$' -bench . -benchtime 400x ./engine/cluster/etcdcluster/

// BenchmarkCommitCheckpoint: one job's coordinator moving its checkpoint
// pointer, one compare-and-swap transaction after another (a job's
// commits are sequential by nature).
func BenchmarkCommitCheckpoint(b *testing.B) {
	ec := etcdtest.Start(b, 3)
	c := open(b, ec, "bench", 10*time.Second)
	l := campaign(b, join(b, c, "w0"))
	publish(b, l, 1, "w0")
	ctx := context.Background()
	before := c.Stats()
	b.ResetTimer()
	for i := range b.N {
		id := int64(i + 1)
		if err := l.CommitCheckpoint(ctx, id-1, ptr(id, 1, "bench")); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	s := c.Stats()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commits/s")
	b.ReportMetric(float64(s.Txns-before.Txns)/float64(b.N), "txns/commit")
	b.ReportMetric(float64(s.PutBytes-before.PutBytes)/float64(b.N), "put-bytes/commit")
}

// BenchmarkCommitCheckpointJobs: many jobs' coordinators committing at
// once on one etcd cluster (32 jobs), the cluster's transaction
// throughput.
func BenchmarkCommitCheckpointJobs(b *testing.B) {
	ec := etcdtest.Start(b, 3)
	const jobs = 32
	var ls []cluster.Leader
	for j := range jobs {
		c := open(b, ec, "job"+strconv.Itoa(j), 10*time.Second)
		l := campaign(b, join(b, c, "w0"))
		publish(b, l, 1, "w0")
		ls = append(ls, l)
	}
	b.ResetTimer()
	var wg sync.WaitGroup
	for j, l := range ls {
		n := b.N / jobs // the commits of job j
		if j < b.N%jobs {
			n++
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := int64(1); id <= int64(n); id++ {
				if err := l.CommitCheckpoint(context.Background(), id-1, ptr(id, 1, "bench")); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commits/s")
}

// BenchmarkFence: a worker's linearizable fence check before it makes
// sink output visible.
func BenchmarkFence(b *testing.B) {
	ec := etcdtest.Start(b, 3)
	c := open(b, ec, "bench", 10*time.Second)
	m := join(b, c, "w0")
	l := campaign(b, m)
	publish(b, l, 1, "w0")
	ctx := context.Background()
	b.ResetTimer()
	for range b.N {
		if err := m.Fence(ctx, 1); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "fences/s")
}

// BenchmarkMembershipWatch: the time from a worker's Join being called to
// another worker's membership watch delivering the join (lease grant,
// member key transaction, watch event), and the same for a Leave.
func BenchmarkMembershipWatch(b *testing.B) {
	ec := etcdtest.Start(b, 3)
	watcher := open(b, ec, "bench", 10*time.Second)
	joiner := open(b, ec, "bench", 10*time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	list, err := watcher.Members(ctx)
	if err != nil {
		b.Fatal(err)
	}
	events, werr := watcher.WatchMembers(ctx, list.Revision)
	next := func(kind cluster.EventKind, id string) {
		for {
			select {
			case e, ok := <-events:
				if !ok {
					b.Fatalf("watch ended: %v", werr())
				}
				if e.Kind == kind && e.Member.ID == id {
					return
				}
			case <-time.After(wait):
				b.Fatalf("no %v event of %s", kind, id)
			}
		}
	}
	joins := make([]time.Duration, 0, b.N)
	leaves := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		id := "w" + strconv.Itoa(i)
		start := time.Now()
		m, err := joiner.Join(ctx, cluster.Member{ID: id, Slots: 1})
		if err != nil {
			b.Fatal(err)
		}
		next(cluster.Joined, id)
		joins = append(joins, time.Since(start))
		start = time.Now()
		if err := m.Leave(ctx); err != nil {
			b.Fatal(err)
		}
		next(cluster.Left, id)
		leaves = append(leaves, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(joins)
	slices.Sort(leaves)
	q := func(d []time.Duration, p float64) float64 {
		return float64(d[int(p*float64(len(d)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(q(joins, 0.5), "join-p50-ms")
	b.ReportMetric(q(joins, 0.99), "join-p99-ms")
	b.ReportMetric(q(leaves, 0.5), "leave-p50-ms")
	b.ReportMetric(q(leaves, 0.99), "leave-p99-ms")
}
