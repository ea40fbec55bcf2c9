package kafka

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/engine/enginetest"
	"github.com/sluicehq/sluice/engine/enginetest/conformance"
	"github.com/sluicehq/sluice/internal/testseed"
)

type msg struct {
	key, val string
	part     int32
	hasPart  bool
	ts       int64
}

func msgMessage(m msg) (Message, error) {
	out := Message{Value: []byte(m.val), Partition: m.part, HasPartition: m.hasPart,
		Headers: []Header{{Key: "src", Value: []byte("test")}}}
	if m.key != "" {
		out.Key = []byte(m.key)
	}
	if m.ts != 0 {
		out.Timestamp = time.UnixMilli(m.ts)
	}
	return out, nil
}

// TestSinkKeysPartitionsCompression writes with each codec and each
// guarantee: a message's partition is kept, a key always lands on the same
// partition, headers and timestamps arrive.
func TestSinkKeysPartitionsCompression(t *testing.T) {
	e := startCluster(t)
	for _, codec := range []string{CompressionNone, CompressionGzip, CompressionSnappy, CompressionLz4, CompressionZstd} {
		for _, g := range []string{AtLeastOnce, ExactlyOnce} {
			topic := "c-" + codec + "-" + g
			e.createTopic(t, topic, 4)
			var in [][]msg
			for p := range 2 {
				var part []msg
				for i := range 50 {
					m := msg{val: fmt.Sprintf("%d-%d", p, i), ts: 5000 + int64(i)}
					switch i % 3 {
					case 0:
						m.part, m.hasPart = 3, true
					case 1:
						m.key = fmt.Sprintf("key%d", i%5)
					}
					part = append(part, m)
				}
				in = append(in, part)
			}
			sink, err := NewSink(SinkOptions{Client: e.client(), Topic: topic, Guarantee: g, Compression: codec, TransactionalIDPrefix: topic}, msgMessage)
			if err != nil {
				t.Fatal(err)
			}
			j := engine.NewJob("w", engine.Config{Parallelism: 2, Checkpoint: engine.CheckpointConfig{Interval: 5 * time.Millisecond, Dir: t.TempDir()}})
			SinkTo(engine.FromPartitions(j, "in", in, engine.WatermarkStrategy[msg]{}), "kafka", sink)
			if err := j.Execute(context.Background()); err != nil {
				t.Fatalf("%s %s: %v", codec, g, err)
			}
			got := e.readCommitted(t, topic)
			if len(got) != 100 {
				t.Fatalf("%s %s: read %d records, want 100", codec, g, len(got))
			}
			keyPart := map[string]int32{}
			for _, r := range got {
				var p, i int
				if _, err := fmt.Sscanf(string(r.Value), "%d-%d", &p, &i); err != nil {
					t.Fatal(err)
				}
				if i%3 == 0 && r.Partition != 3 {
					t.Fatalf("%s: record %s in partition %d, want 3", topic, r.Value, r.Partition)
				}
				if k := string(r.Key); k != "" {
					if kp, ok := keyPart[k]; ok && kp != r.Partition {
						t.Fatalf("%s: key %s in partitions %d and %d", topic, k, kp, r.Partition)
					}
					keyPart[k] = r.Partition
				}
				if r.Timestamp.UnixMilli() != 5000+int64(i) || len(r.Headers) != 1 || r.Headers[0].Key != "src" {
					t.Fatalf("%s: record %s: timestamp %d, headers %v", topic, r.Value, r.Timestamp.UnixMilli(), r.Headers)
				}
			}
		}
	}
}

func TestSinkRefusesShortTransactionTimeout(t *testing.T) {
	e := startCluster(t)
	sink, err := NewSink(SinkOptions{Client: e.client(), Topic: "x", Guarantee: ExactlyOnce, TransactionalIDPrefix: "x",
		TransactionTimeout: time.Minute}, msgMessage)
	if err != nil {
		t.Fatal(err)
	}
	j := engine.NewJob("w", engine.Config{Checkpoint: engine.CheckpointConfig{Interval: 2 * time.Minute, Dir: t.TempDir()}})
	SinkTo(engine.FromPartitions(j, "in", [][]msg{{{val: "a"}}}, engine.WatermarkStrategy[msg]{}), "kafka", sink)
	err = j.Execute(context.Background())
	if err == nil || !strings.Contains(err.Error(), "transaction timeout (properties.transaction.timeout.ms, 1m0s) must be longer than the checkpoint interval (execution.checkpointing.interval, 2m0s)") {
		t.Fatalf("got %v", err)
	}
	for _, c := range []struct {
		opts SinkOptions
		want string
	}{
		{SinkOptions{Client: e.client(), Guarantee: ExactlyOnce}, "exactly-once needs a transactional id prefix"},
		{SinkOptions{Client: e.client(), Guarantee: "twice"}, `unknown delivery guarantee "twice"`},
		{SinkOptions{Client: e.client(), Compression: "brotli"}, `unknown compression "brotli"`},
	} {
		if _, err := NewSink(c.opts, msgMessage); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("NewSink(%+v) = %v, want an error with %q", c.opts, err, c.want)
		}
	}
}

// TestSinkFencedProducerFailsOver: the brokers answer one transactional
// produce with INVALID_PRODUCER_EPOCH (what a produce of a producer that a
// newer instance with its transactional id fenced is answered); the
// job fails over, restarts from its checkpoint, and every record is
// committed once.
func TestSinkFencedProducerFailsOver(t *testing.T) {
	e := startCluster(t)
	e.createTopic(t, "fenced", 3)
	var produces, fenced atomic.Int64
	e.c.ControlKey(int16(kmsg.Produce), func(kr kmsg.Request) (kmsg.Response, error, bool) {
		req := kr.(*kmsg.ProduceRequest)
		if req.TransactionID == nil || produces.Add(1) != 5 {
			return nil, nil, false // not handled: observe and go on
		}
		e.c.KeepControl()
		fenced.Add(1)
		resp := req.ResponseKind().(*kmsg.ProduceResponse)
		for _, rt := range req.Topics {
			st := kmsg.NewProduceResponseTopic()
			st.Topic, st.TopicID = rt.Topic, rt.TopicID
			for _, rp := range rt.Partitions {
				sp := kmsg.NewProduceResponseTopicPartition()
				sp.Partition = rp.Partition
				sp.ErrorCode = kerr.ProducerFenced.Code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	rng := rand.New(rand.NewPCG(7, 7))
	parts, want := conformance.Input(rng, 2, 400)
	sink, err := NewSink(SinkOptions{Client: e.client(), Topic: "fenced", Guarantee: ExactlyOnce, TransactionalIDPrefix: "fenced"}, recMessage)
	if err != nil {
		t.Fatal(err)
	}
	j := engine.NewJob("w", engine.Config{Parallelism: 2, BatchSize: 16,
		Checkpoint: engine.CheckpointConfig{Interval: 2 * time.Millisecond, Dir: t.TempDir()}, Restart: engine.FixedDelay(5, time.Millisecond)})
	src := engine.FromPartitions(j, "in", parts, engine.WatermarkStrategy[conformance.Rec]{})
	SinkTo(engine.Map(src, "slow", func(r conformance.Rec) conformance.Rec { time.Sleep(50 * time.Microsecond); return r }), "kafka", sink)
	r, err := j.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Wait(); err != nil {
		t.Fatal(err)
	}
	if fenced.Load() == 0 || r.Attempt() == 0 {
		t.Fatalf("fenced %d produces, attempt %d: the fence never hit the job", fenced.Load(), r.Attempt())
	}
	enginetest.CheckExactlyOnce(t, 0, e.committedRecs(t, "fenced"), func(r conformance.Rec) string { return r.ID() }, want)
}

// TestKafkaToKafkaRandomFailures reads a topic, transforms each record and
// writes another exactly-once, failing at random points; the
// read_committed output equals that of a failure-free run.
func TestKafkaToKafkaRandomFailures(t *testing.T) {
	e := startCluster(t)
	e.createTopic(t, "in", 4)
	want := e.produce(t, "in", 4, 300, 0)
	run := func(out string, in *enginetest.Injector, p int) []string {
		e.createTopic(t, out, 2)
		src, err := NewSource(SourceOptions{Client: e.client(), Topics: []string{"in"}, Bounded: true})
		if err != nil {
			t.Fatal(err)
		}
		sink, err := NewSink(SinkOptions{Client: e.client(), Topic: out, Guarantee: ExactlyOnce, TransactionalIDPrefix: out,
			Compression: CompressionLz4}, func(r Record) (Message, error) {
			return Message{Key: r.Key, Value: []byte(strings.ToUpper(string(r.Value)))}, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		j := engine.NewJob("k2k", engine.Config{Parallelism: p, BatchSize: 32,
			Checkpoint: engine.CheckpointConfig{Interval: 3 * time.Millisecond, Dir: t.TempDir()}, Restart: engine.FixedDelay(10, time.Millisecond)})
		s := engine.SourceOf(j, "kafka", src, engine.NoWatermarks[Record]())
		SinkTo(engine.Map(s, "maybe-fail", func(r Record) Record {
			if in != nil {
				in.Panic()
			}
			return r
		}), "kafka-out", sink)
		r, err := j.Start(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Wait(); err != nil {
			t.Fatal(err)
		}
		if in != nil && in.Fired() > 0 && r.Attempt() == 0 {
			t.Fatal("failures fired but the job never restarted")
		}
		var vs []string
		for _, rec := range e.readCommitted(t, out) {
			vs = append(vs, string(rec.Value))
		}
		slices.Sort(vs)
		return vs
	}
	clean := run("out-clean", nil, 2)
	if len(clean) != len(want) {
		t.Fatalf("the failure-free run wrote %d records, want %d", len(clean), len(want))
	}
	seed := testseed.Seed(t)
	rng := rand.New(rand.NewPCG(seed, 0x4af))
	for round := range 3 {
		in := enginetest.RandomInjector(rng, int64(len(want)), 1+rng.IntN(3))
		got := run(fmt.Sprintf("out-%d", round), in, 1+rng.IntN(3))
		if !slices.Equal(got, clean) {
			t.Fatalf("seed %d round %d (failures at %v): %d records differ from the failure-free run's %d", seed, round, in.Points(), len(got), len(clean))
		}
	}
}
