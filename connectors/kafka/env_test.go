package kafka

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// env is a kfake cluster started by the test on 127.0.0.1, and an admin
// client of it.
type env struct {
	c     *kfake.Cluster
	addrs []string
	cl    *kgo.Client
	adm   *kadm.Client
}

func startCluster(t testing.TB, opts ...kfake.Opt) *env {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	e := &env{c: c, addrs: c.ListenAddrs()}
	if e.cl, err = kgo.NewClient(kgo.SeedBrokers(e.addrs...)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.cl.Close)
	e.adm = kadm.NewClient(e.cl)
	return e
}

func (e *env) client() ClientOptions {
	return ClientOptions{Brokers: e.addrs, MetadataTimeout: 10 * time.Second}
}

func (e *env) createTopic(t testing.TB, name string, partitions int32) {
	t.Helper()
	res, err := e.adm.CreateTopic(context.Background(), partitions, 1, nil, name)
	if err == nil {
		err = res.Err
	}
	if err != nil {
		t.Fatalf("create topic %s: %v", name, err)
	}
}

// produce writes n records per partition of topic, value "<topic>/<p>/<i>",
// key "k<i%4>", timestamps ts0 + i ms, and returns the identities.
func (e *env) produce(t testing.TB, topic string, partitions int32, n int, ts0 int64) map[string]int {
	t.Helper()
	want := map[string]int{}
	var rs []*kgo.Record
	for p := range partitions {
		for i := range n {
			v := fmt.Sprintf("%s/%d/%d", topic, p, i)
			rs = append(rs, &kgo.Record{Topic: topic, Partition: p, Key: fmt.Appendf(nil, "k%d", i%4), Value: []byte(v),
				Timestamp: time.UnixMilli(ts0 + int64(i))})
			want[v]++
		}
	}
	pc, err := kgo.NewClient(kgo.SeedBrokers(e.addrs...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	if err := pc.ProduceSync(context.Background(), rs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	return want
}

// readCommitted reads every committed record of topic (read_committed,
// up to the last stable offset).
func (e *env) readCommitted(t testing.TB, topic string) []*kgo.Record {
	t.Helper()
	ctx := context.Background()
	ends, err := e.adm.ListCommittedOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		t.Fatal(err)
	}
	left := 0
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			left++
		}
	})
	if left == 0 {
		return nil
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.addrs...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var out []*kgo.Record
	done := map[int32]bool{}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for len(done) < left {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("read %s: %v (%d of %d partitions read)", topic, err, len(done), left)
		}
		for _, fe := range fs.Errors() {
			t.Fatalf("read %s: %v", topic, fe.Err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			end, _ := ends.Lookup(r.Topic, r.Partition)
			if r.Offset >= end.Offset {
				return
			}
			if !r.Attrs.IsControl() {
				out = append(out, r)
			}
			if r.Offset == end.Offset-1 {
				done[r.Partition] = true
			}
		})
	}
	return out
}
