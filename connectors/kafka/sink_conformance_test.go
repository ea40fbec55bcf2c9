package kafka

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/engine/enginetest/conformance"
)

// topicFor names the topic (and transactional id prefix) of one case's
// directory, creating the topic on first use.
type topicFor struct {
	e    *env
	mu   sync.Mutex
	seen map[string]bool
}

func (f *topicFor) get(t testing.TB, dir string) string {
	h := fnv.New64a()
	h.Write([]byte(dir))
	name := fmt.Sprintf("out-%x", h.Sum64())
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.seen[name] {
		f.seen[name] = true
		res, err := f.e.adm.CreateTopic(context.Background(), 3, 1, nil, name)
		if err == nil {
			err = res.Err
		}
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			t.Fatal(err)
		}
	}
	return name
}

func recMessage(r conformance.Rec) (Message, error) {
	v, err := json.Marshal(r)
	return Message{Key: []byte(r.Key), Value: v}, err
}

func (e *env) committedRecs(t testing.TB, topic string) []conformance.Rec {
	var out []conformance.Rec
	for _, r := range e.readCommitted(t, topic) {
		var c conformance.Rec
		if err := json.Unmarshal(r.Value, &c); err != nil {
			t.Fatalf("record %s-%d@%d: %v", r.Topic, r.Partition, r.Offset, err)
		}
		out = append(out, c)
	}
	return out
}

// TestSinkConformance runs the suite of two-phase-commit sinks over the
// exactly-once sink against kfake: failures at random points, a rescale,
// and the end of a bounded input; the read_committed contents of the topic
// hold every record exactly once.
func TestSinkConformance(t *testing.T) {
	e := startCluster(t)
	topics := &topicFor{e: e, seen: map[string]bool{}}
	conformance.RunSink(t, conformance.Sink{
		Attach: func(t *testing.T, s *engine.Stream[conformance.Rec], dir string) {
			topic := topics.get(t, dir)
			sink, err := NewSink(SinkOptions{Client: e.client(), Topic: topic, Guarantee: ExactlyOnce,
				TransactionalIDPrefix: topic, Compression: CompressionZstd}, recMessage)
			if err != nil {
				t.Fatal(err)
			}
			SinkTo(s, "kafka", sink)
		},
		Committed: func(t *testing.T, dir string) []conformance.Rec {
			return e.committedRecs(t, topics.get(t, dir))
		},
	})
}
