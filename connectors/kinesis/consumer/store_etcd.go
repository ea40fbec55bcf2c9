package consumer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// EtcdStore is a lease table in etcd, for workers on several machines:
// one key per shard under a prefix, holding the lease as JSON, changed
// only in transactions conditional on the key's mod revision (create:
// on its create revision being 0). Lease expiry is KCL's, by the counter
// not moving for the failover time as each worker observes it, not by
// etcd leases, so that the rules are the same in every store.
//
// It uses the KV Range, Put and Txn calls only, which etcd servers 3.4 and
// later answer the same (tested against Debian's etcd 3.4).
type EtcdStore struct {
	c      *clientv3.Client
	prefix string
	owned  bool
}

// NewEtcdStore keeps the lease table under prefix (e.g.
// "/sluice/leases/app/") through c, which the caller keeps and closes.
func NewEtcdStore(c *clientv3.Client, prefix string) (*EtcdStore, error) {
	if c == nil {
		return nil, errors.New("etcd lease store: no client given")
	}
	if prefix == "" {
		return nil, errors.New("etcd lease store: empty key prefix (the table would take the whole key space)")
	}
	if !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	return &EtcdStore{c: c, prefix: prefix}, nil
}

// OpenEtcdStore connects to endpoints (e.g. "127.0.0.1:2379") and keeps
// the lease table under prefix; Close closes the connection.
func OpenEtcdStore(endpoints []string, prefix string) (*EtcdStore, error) {
	if len(endpoints) == 0 {
		return nil, errors.New("etcd lease store: no endpoints given")
	}
	c, err := clientv3.New(clientv3.Config{Endpoints: endpoints, Logger: nopLogger()})
	if err != nil {
		return nil, fmt.Errorf("etcd lease store: connect %v: %w", endpoints, err)
	}
	s, err := NewEtcdStore(c, prefix)
	if err != nil {
		c.Close()
		return nil, err
	}
	s.owned = true
	return s, nil
}

func (s *EtcdStore) key(shard string) string { return s.prefix + shard }

// List implements LeaseStore.
func (s *EtcdStore) List(ctx context.Context) ([]Lease, error) {
	res, err := s.c.Get(ctx, s.prefix, clientv3.WithPrefix(), clientv3.WithSort(clientv3.SortByKey, clientv3.SortAscend))
	if err != nil {
		return nil, fmt.Errorf("etcd lease store: list %s: %w", s.prefix, err)
	}
	out := make([]Lease, 0, len(res.Kvs))
	for _, kv := range res.Kvs {
		var l Lease
		if err := json.Unmarshal(kv.Value, &l); err != nil {
			return nil, fmt.Errorf("etcd lease store: %s is not a lease: %w", kv.Key, err)
		}
		l.Revision = kv.ModRevision
		out = append(out, l)
	}
	return out, nil
}

// Create implements LeaseStore.
func (s *EtcdStore) Create(ctx context.Context, l Lease) (Lease, error) {
	b, err := json.Marshal(&l)
	if err != nil {
		return l, fmt.Errorf("etcd lease store: %w", err)
	}
	k := s.key(l.ShardID)
	res, err := s.c.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(k), "=", 0)).Then(clientv3.OpPut(k, string(b))).Commit()
	if err != nil {
		return l, fmt.Errorf("etcd lease store: create %s: %w", k, err)
	}
	if !res.Succeeded {
		return l, fmt.Errorf("create lease of %s: %w", l.ShardID, ErrLeaseExists)
	}
	l.Revision = res.Header.Revision
	return l, nil
}

// Update implements LeaseStore.
func (s *EtcdStore) Update(ctx context.Context, l Lease) (Lease, error) {
	b, err := json.Marshal(&l)
	if err != nil {
		return l, fmt.Errorf("etcd lease store: %w", err)
	}
	k := s.key(l.ShardID)
	res, err := s.c.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(k), "=", l.Revision)).
		Then(clientv3.OpPut(k, string(b))).
		Else(clientv3.OpGet(k, clientv3.WithCountOnly())).Commit()
	if err != nil {
		return l, fmt.Errorf("etcd lease store: update %s: %w", k, err)
	}
	if !res.Succeeded {
		if len(res.Responses) > 0 && res.Responses[0].GetResponseRange().GetCount() == 0 {
			return l, fmt.Errorf("update lease of %s: %w", l.ShardID, ErrLeaseNotFound)
		}
		return l, fmt.Errorf("update lease of %s: %w", l.ShardID, ErrRevisionChanged)
	}
	l.Revision = res.Header.Revision
	return l, nil
}

// Close implements LeaseStore: it closes the connection if OpenEtcdStore
// made it.
func (s *EtcdStore) Close() error {
	if s.owned {
		return s.c.Close()
	}
	return nil
}
