package consumer

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/clock"
)

// cutStore is a lease store that a test can cut off, as a network
// partition would cut a worker off from etcd.
type cutStore struct {
	LeaseStore
	cut atomic.Bool
}

var errCut = errors.New("lease store unreachable (cut by the test)")

func (s *cutStore) List(ctx context.Context) ([]Lease, error) {
	if s.cut.Load() {
		return nil, errCut
	}
	return s.LeaseStore.List(ctx)
}

func (s *cutStore) Update(ctx context.Context, l Lease) (Lease, error) {
	if s.cut.Load() {
		return l, errCut
	}
	return s.LeaseStore.Update(ctx, l)
}

// TestCutOffWorkerStopsBeforeTakeover is the lease invariant on a manual
// clock: a worker cut off from the lease table delivers no batch once its
// lease's time is up (FailoverTime - Epsilon after its last renewal was
// sent), and the worker that takes the shard over does so only after that
// — never while the first could still deliver — and the first processor
// hears LeaseLost.
func TestCutOffWorkerStopsBeforeTakeover(t *testing.T) {
	for _, k := range storeKinds {
		t.Run(k.name, func(t *testing.T) {
			env := startServer(t)
			env.createStream(t, "s", 1)
			p := newProducer(env.log, "s", 3, 1)
			p.put(t, 5)
			inner := k.open(t)
			cutA := &cutStore{LeaseStore: inner}
			m := clock.NewManual(time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC))
			client := newClient(env.url)
			var mu sync.Mutex
			var deliveredA []time.Time
			var tookB []time.Time
			lostA := make(chan struct{}, 1)
			initB := make(chan struct{}, 1)
			mk := func(name string, store LeaseStore, proc RecordProcessor) *Consumer {
				cfg := fastConfig("s", store, name, func(string) RecordProcessor { return proc })
				cfg.Clock = m
				cfg.IdleTimeBetweenReads = 10 * time.Millisecond
				cfg.ShardSyncInterval = time.Hour
				cfg.Logger = discardLogger()
				c, err := New(client, cfg)
				if err != nil {
					t.Fatal(err)
				}
				return c
			}
			a := mk("a", cutA, &notifyProcessor{lost: lostA})
			a.hooks.deliver = func(_ string, at time.Time) {
				mu.Lock()
				deliveredA = append(deliveredA, at)
				mu.Unlock()
			}
			runConsumer(t, a)
			// A takes the shard at once (its first taking cycle).
			waitFor(t, time.Minute, "a to deliver", func() (bool, string) {
				mu.Lock()
				defer mu.Unlock()
				return len(deliveredA) > 0, ""
			})
			cutA.cut.Store(true)
			a.mu.Lock()
			h := a.held["shardId-000000000000"]
			a.mu.Unlock()
			h.mu.Lock()
			validUntil := h.validUntil
			h.mu.Unlock()

			b := mk("b", inner, &notifyProcessor{init: initB})
			b.hooks.took = func(_ string, at time.Time) {
				mu.Lock()
				tookB = append(tookB, at)
				mu.Unlock()
			}
			runConsumer(t, b)
			// Drive the clock in small steps, with records to deliver, until
			// B has the shard and A has heard it lost it.
			gotLost, gotInit := false, false
			deadline := time.Now().Add(time.Minute)
			for !gotLost || !gotInit {
				if time.Now().After(deadline) {
					t.Fatalf("after a minute: a lost %v, b initialized %v, clock at +%v", gotLost, gotInit, m.Now().Sub(validUntil))
				}
				p.put(t, 1)
				m.Advance(20 * time.Millisecond)
				select {
				case <-lostA:
					gotLost = true
				case <-initB:
					gotInit = true
				case <-time.After(5 * time.Millisecond): // let the workers run before the next step
				}
			}
			cutA.cut.Store(false) // for a's graceful shutdown
			mu.Lock()
			defer mu.Unlock()
			for _, at := range deliveredA {
				if !at.Before(validUntil) {
					t.Errorf("a delivered a batch at +%v past its lease's end", at.Sub(validUntil))
				}
			}
			if len(tookB) != 1 || !tookB[0].After(validUntil) {
				t.Fatalf("b took the lease at %v, a's lease ran until %v", tookB, validUntil)
			}
			t.Logf("a delivered %d batches; its lease ended %v before b took it", len(deliveredA), tookB[0].Sub(validUntil))
		})
	}
}

type notifyProcessor struct {
	stubProcessor
	init, lost chan struct{}
}

func (n *notifyProcessor) Initialize(InitializationInput) error {
	if n.init != nil {
		select {
		case n.init <- struct{}{}:
		default:
		}
	}
	return nil
}

func (n *notifyProcessor) LeaseLost(LeaseLostInput) error {
	if n.lost != nil {
		select {
		case n.lost <- struct{}{}:
		default:
		}
	}
	return nil
}
