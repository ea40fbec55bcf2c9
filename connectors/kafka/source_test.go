package kafka

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/engine"
)

// readBounded runs a bounded source job at parallelism p and returns the
// values read, sorted.
func readBounded(t *testing.T, opts SourceOptions, p int) ([]Record, error) {
	t.Helper()
	opts.Bounded = true
	src, err := NewSource(opts)
	if err != nil {
		return nil, err
	}
	j := engine.NewJob("read", engine.Config{Parallelism: p})
	out := engine.Collect(engine.SourceOf(j, "kafka", src, engine.NoWatermarks[Record]()), "out")
	if err := j.Execute(context.Background()); err != nil {
		return nil, err
	}
	rs := out.Values()
	slices.SortFunc(rs, func(a, b Record) int { return strings.Compare(string(a.Value), string(b.Value)) })
	return rs, nil
}

func values(rs []Record) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = string(r.Value)
	}
	return out
}

func TestSourceRecordFields(t *testing.T) {
	e := startCluster(t)
	e.createTopic(t, "f", 2)
	ts := time.UnixMilli(1_700_000_000_123)
	pc, err := kgo.NewClient(kgo.SeedBrokers(e.addrs...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	recs := []*kgo.Record{
		{Topic: "f", Partition: 1, Value: []byte("first")},
		{Topic: "f", Partition: 1, Key: []byte("k"), Value: []byte("second"), Timestamp: ts,
			Headers: []kgo.RecordHeader{{Key: "h1", Value: []byte("v1")}, {Key: "h2", Value: nil}}},
	}
	if err := pc.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	rs, err := readBounded(t, SourceOptions{Client: e.client(), Topics: []string{"f"}}, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 2 {
		t.Fatalf("read %q, want 2 records", values(rs))
	}
	r := rs[1]
	if r.Topic != "f" || r.Partition != 1 || r.Offset != 1 || string(r.Key) != "k" || !r.Timestamp.Equal(ts) || r.TimestampType != CreateTime {
		t.Fatalf("record %+v", r)
	}
	if len(r.Headers) != 2 || r.Headers[0].Key != "h1" || string(r.Headers[0].Value) != "v1" || r.Headers[1].Key != "h2" {
		t.Fatalf("headers %+v", r.Headers)
	}
	if rs[0].Offset != 0 || rs[0].Key != nil || len(rs[0].Headers) != 0 {
		t.Fatalf("first record %+v", rs[0])
	}
}

func TestSourceStartModes(t *testing.T) {
	e := startCluster(t)
	e.createTopic(t, "s", 2)
	e.produce(t, "s", 2, 10, 1000) // values s/<p>/<i>, timestamps 1000+i
	ctx := context.Background()
	os := kadm.Offsets{}
	os.Add(kadm.Offset{Topic: "s", Partition: 0, At: 8, LeaderEpoch: -1})
	if _, err := e.adm.CommitOffsets(ctx, "g", os); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		opts SourceOptions
		want func(p, i int) bool
	}{
		{"earliest", SourceOptions{}, func(p, i int) bool { return true }},
		{"latest", SourceOptions{Start: StartLatest}, func(p, i int) bool { return false }},
		{"timestamp", SourceOptions{Start: StartTimestamp, StartTimestamp: time.UnixMilli(1006)}, func(p, i int) bool { return i >= 6 }},
		{"specific", SourceOptions{Start: StartSpecificOffsets, SpecificOffsets: map[string]map[int32]int64{"s": {1: 3}}},
			func(p, i int) bool { return p == 0 || i >= 3 }},
		{"group", SourceOptions{Start: StartGroupOffsets, GroupID: "g"}, func(p, i int) bool { return p == 1 || i >= 8 }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := c.opts
			o.Client, o.Topics, o.DisableCommit = e.client(), []string{"s"}, true
			rs, err := readBounded(t, o, 2)
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for p := range 2 {
				for i := range 10 {
					if c.want(p, i) {
						want = append(want, fmt.Sprintf("s/%d/%d", p, i))
					}
				}
			}
			slices.Sort(want)
			if got := values(rs); !slices.Equal(got, want) {
				t.Fatalf("read %q, want %q", got, want)
			}
		})
	}
}

// TestSourceReadCommitted: records of an aborted transaction are not read
// (unless read_uncommitted), those of a committed one are, and a bounded
// read stops at the last stable offset, before an open transaction.
func TestSourceReadCommitted(t *testing.T) {
	e := startCluster(t)
	e.createTopic(t, "t", 1)
	ctx := context.Background()
	txn := func(id string, vals []string, commit bool) *kgo.Client {
		cl, err := kgo.NewClient(kgo.SeedBrokers(e.addrs...), kgo.TransactionalID(id), kgo.DefaultProduceTopic("t"))
		if err != nil {
			t.Fatal(err)
		}
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for _, v := range vals {
			if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte(v)}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		if commit {
			if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
				t.Fatal(err)
			}
		}
		return cl
	}
	txn("a", []string{"c1", "c2"}, true).Close()
	ab := txn("b", []string{"x1"}, false)
	if err := ab.EndTransaction(ctx, kgo.TryAbort); err != nil {
		t.Fatal(err)
	}
	ab.Close()
	txn("c", []string{"c3"}, true).Close()
	open := txn("d", []string{"o1"}, false)
	defer open.Close()

	rs, err := readBounded(t, SourceOptions{Client: e.client(), Topics: []string{"t"}}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if got := values(rs); !slices.Equal(got, []string{"c1", "c2", "c3"}) {
		t.Fatalf("read_committed read %q", got)
	}
	rs, err = readBounded(t, SourceOptions{Client: e.client(), Topics: []string{"t"}, ReadUncommitted: true}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if got := values(rs); !slices.Equal(got, []string{"c1", "c2", "c3", "o1", "x1"}) {
		t.Fatalf("read_uncommitted read %q", got)
	}
}

func TestSourceBadTopicsAndBrokers(t *testing.T) {
	e := startCluster(t)
	_, err := readBounded(t, SourceOptions{Client: e.client(), Topics: []string{"nope"}}, 1)
	if err == nil || !strings.Contains(err.Error(), `topic "nope" does not exist`) {
		t.Fatalf("unknown topic: %v", err)
	}
	_, err = readBounded(t, SourceOptions{Client: ClientOptions{Brokers: []string{"127.0.0.1:1"}, MetadataTimeout: time.Second}, Topics: []string{"x"}}, 1)
	if err == nil || !strings.Contains(err.Error(), "kafka: source: brokers 127.0.0.1:1") {
		t.Fatalf("unreachable brokers: %v", err)
	}
	for _, c := range []struct {
		opts SourceOptions
		want string
	}{
		{SourceOptions{Client: e.client()}, "a topic list or a topic pattern is required"},
		{SourceOptions{Client: e.client(), TopicPattern: "("}, `topic pattern "("`},
		{SourceOptions{Client: e.client(), Topics: []string{"a"}, Start: "bogus"}, `unknown start mode "bogus"`},
		{SourceOptions{Client: e.client(), Topics: []string{"a"}, Start: StartGroupOffsets}, "group-offsets needs a group id"},
		{SourceOptions{Topics: []string{"a"}}, "no bootstrap brokers"},
		{SourceOptions{Client: ClientOptions{Brokers: e.addrs, SASLMechanism: "GSSAPI", SASLUser: "u"}, Topics: []string{"a"}}, `unsupported SASL mechanism "GSSAPI"`},
	} {
		if _, err := NewSource(c.opts); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("NewSource(%+v) = %v, want an error with %q", c.opts, err, c.want)
		}
	}
}

// runUntil runs an unbounded job until done reports true (checked after
// every record), then cancels it.
func runUntil(t *testing.T, j *engine.Job, done func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r, err := j.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !done() {
		select {
		case <-ctx.Done():
			t.Fatalf("the condition was not met before the deadline")
		case <-tick.C:
		}
	}
	r.Cancel()
	if err := r.Wait(); err != nil && !errors.Is(err, engine.ErrJobCancelled) {
		t.Fatal(err)
	}
}

// TestSourceDiscoveryAndGroupCommit: an unbounded source over a pattern
// picks up a partition added to its topic and a topic created later, and
// commits the offsets of completed checkpoints to its group.
func TestSourceDiscoveryAndGroupCommit(t *testing.T) {
	e := startCluster(t)
	e.createTopic(t, "d-1", 1)
	e.produce(t, "d-1", 1, 5, 0)
	src, err := NewSource(SourceOptions{Client: e.client(), TopicPattern: `d-\d+`, GroupID: "mon", DiscoveryInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	j := engine.NewJob("discover", engine.Config{Parallelism: 2, Checkpoint: engine.CheckpointConfig{Interval: 5 * time.Millisecond, Dir: t.TempDir()}})
	var seen atomic.Int64
	engine.ForEach(engine.SourceOf(j, "kafka", src, engine.NoWatermarks[Record]()), "count", func(Record) error {
		seen.Add(1)
		return nil
	})
	ctx := context.Background()
	step := 0
	committed := func(topic string, p int32) int64 {
		res, err := e.adm.FetchOffsets(ctx, "mon")
		if err != nil {
			t.Fatal(err)
		}
		o, ok := res.Lookup(topic, p)
		if !ok {
			return -1
		}
		return o.At
	}
	runUntil(t, j, func() bool {
		switch {
		case step == 0 && seen.Load() == 5:
			step++
			if _, err := e.adm.CreatePartitions(ctx, 1, "d-1"); err != nil {
				t.Fatal(err)
			}
			e.produceTo(t, "d-1", 1, "late")
			e.createTopic(t, "d-2", 1)
			e.produceTo(t, "d-2", 0, "new")
		case step == 1 && seen.Load() == 7:
			step++
		case step == 2:
			return committed("d-1", 0) == 5 && committed("d-1", 1) == 1 && committed("d-2", 0) == 1
		}
		return false
	})
	if n := seen.Load(); n != 7 {
		t.Fatalf("read %d records, want 7", n)
	}
}

func (e *env) produceTo(t testing.TB, topic string, p int32, v string) {
	t.Helper()
	pc, err := kgo.NewClient(kgo.SeedBrokers(e.addrs...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	if err := pc.ProduceSync(context.Background(), &kgo.Record{Topic: topic, Partition: p, Value: []byte(v)}).FirstErr(); err != nil {
		t.Fatal(err)
	}
}
