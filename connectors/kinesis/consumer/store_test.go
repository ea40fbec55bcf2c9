package consumer

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
)

// storeKinds opens a fresh store of each kind for a test.
var storeKinds = []struct {
	name string
	open func(t testing.TB) LeaseStore
}{
	{"local", func(t testing.TB) LeaseStore {
		s, err := OpenLocalStore(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return s
	}},
	{"etcd", func(t testing.TB) LeaseStore {
		s, err := OpenEtcdStore([]string{startEtcd(t)}, "/sluice-test/leases/")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}},
}

// TestStoreCompareAndSwap: create once, update only at the read revision,
// and no lost update when many writers race on one row.
func TestStoreCompareAndSwap(t *testing.T) {
	for _, k := range storeKinds {
		t.Run(k.name, func(t *testing.T) {
			ctx := context.Background()
			s := k.open(t)
			a, err := s.Create(ctx, Lease{ShardID: "shardId-000000000001", Checkpoint: ExtendedSequenceNumber{SequenceNumber: TrimHorizon}, ParentShardIDs: []string{"shardId-000000000000"}})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Create(ctx, Lease{ShardID: "shardId-000000000001"}); !errors.Is(err, ErrLeaseExists) {
				t.Fatalf("second create: %v, want ErrLeaseExists", err)
			}
			if _, err := s.Create(ctx, Lease{ShardID: "shardId-000000000000"}); err != nil {
				t.Fatal(err)
			}
			b := a
			b.Owner, b.Counter = "w1", 1
			b, err = s.Update(ctx, b)
			if err != nil {
				t.Fatal(err)
			}
			if b.Revision == a.Revision {
				t.Fatalf("revision did not move: %d", b.Revision)
			}
			stale := a
			stale.Owner = "w2"
			if _, err := s.Update(ctx, stale); !errors.Is(err, ErrRevisionChanged) {
				t.Fatalf("stale update: %v, want ErrRevisionChanged", err)
			}
			if _, err := s.Update(ctx, Lease{ShardID: "shardId-000000000009", Revision: 5}); !errors.Is(err, ErrLeaseNotFound) {
				t.Fatalf("update of a missing lease: %v, want ErrLeaseNotFound", err)
			}
			ls, err := s.List(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(ls) != 2 || ls[1].ShardID != "shardId-000000000001" || ls[1].Owner != "w1" || ls[1].Revision != b.Revision ||
				len(ls[1].ParentShardIDs) != 1 || ls[1].Checkpoint.SequenceNumber != TrimHorizon {
				t.Fatalf("list: %+v", ls)
			}

			// Racing read-modify-write loops: every increment that
			// succeeded is in the final counter.
			const writers, each = 4, 15
			var wg sync.WaitGroup
			errs := make(chan error, writers)
			for w := 0; w < writers; w++ {
				wg.Add(1)
				go func(w int) {
					defer wg.Done()
					for done := 0; done < each; {
						ls, err := s.List(ctx)
						if err != nil {
							errs <- err
							return
						}
						l := ls[0]
						l.Counter++
						l.Owner = "w" + strconv.Itoa(w)
						if _, err := s.Update(ctx, l); errors.Is(err, ErrRevisionChanged) {
							continue
						} else if err != nil {
							errs <- err
							return
						}
						done++
					}
				}(w)
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			ls, err = s.List(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if ls[0].Counter != writers*each {
				t.Fatalf("counter %d after %d successful increments", ls[0].Counter, writers*each)
			}
		})
	}
}
