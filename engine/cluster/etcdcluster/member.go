package etcdcluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"

	"github.com/sluicehq/sluice/engine/cluster"
	"github.com/sluicehq/sluice/internal/clock"
)

// membership is a worker's member key under its lease, kept alive by an
// etcd session.
type membership struct {
	c       *Cluster
	m       cluster.Member
	key     string
	session *concurrency.Session

	leaveOnce sync.Once
	leaveErr  error
}

var _ cluster.Membership = (*membership)(nil)

func (m *membership) Member() cluster.Member  { return m.m }
func (m *membership) Done() <-chan struct{}   { return m.session.Done() }
func (m *membership) lease() clientv3.LeaseID { return m.session.Lease() }

func (m *membership) lost() bool {
	select {
	case <-m.session.Done():
		return true
	default:
		return false
	}
}

// Fence implements cluster.Membership: a read-only transaction (etcd
// answers it linearizably) that the member key still has the create
// revision of this membership — it is deleted with the lease — and that
// the attempt is the current one.
func (m *membership) Fence(ctx context.Context, attempt int64) error {
	c := m.c
	if m.lost() {
		return fmt.Errorf("cluster: job %q: worker %q: lease lost: %w", c.job, m.m.ID, cluster.ErrFenced)
	}
	return c.do(ctx, "fence worker "+strconv.Quote(m.m.ID), func(ctx context.Context, _ int) error {
		c.stats.txns.Add(1)
		res, err := c.c.Txn(ctx).If(
			clientv3.Compare(clientv3.CreateRevision(m.key), "=", m.m.Revision),
			clientv3.Compare(clientv3.Value(c.attemptKey()), "=", pad(attempt)),
		).Else(clientv3.OpGet(m.key), clientv3.OpGet(c.attemptKey())).Commit()
		if err != nil {
			return err
		}
		if res.Succeeded {
			return nil
		}
		mk := res.Responses[0].GetResponseRange().Kvs
		if len(mk) == 0 || mk[0].CreateRevision != m.m.Revision {
			return fmt.Errorf("cluster: job %q: worker %q: lease lost (its member key is gone): %w", c.job, m.m.ID, cluster.ErrFenced)
		}
		return fmt.Errorf("cluster: job %q: worker %q: attempt %d is not the current attempt (%s): %w", c.job, m.m.ID, attempt, currentAttempt(res.Responses[1].GetResponseRange().Kvs), cluster.ErrFenced)
	})
}

func currentAttempt(kvs []*mvccpb.KeyValue) string {
	if len(kvs) == 0 {
		return "none published"
	}
	n, err := strconv.ParseInt(string(kvs[0].Value), 10, 64)
	if err != nil {
		return fmt.Sprintf("%q stored", kvs[0].Value)
	}
	return "now " + strconv.FormatInt(n, 10)
}

// Leave implements cluster.Membership: it revokes the lease, which
// deletes the member key and any election key with it.
func (m *membership) Leave(ctx context.Context) error {
	m.leaveOnce.Do(func() {
		c := m.c
		m.leaveErr = c.do(ctx, "leave as "+strconv.Quote(m.m.ID), func(ctx context.Context, _ int) error {
			c.stats.leaseOps.Add(1)
			_, err := c.c.Revoke(ctx, m.lease())
			if errors.Is(err, rpctypes.ErrLeaseNotFound) {
				return nil // expired already
			}
			return err
		})
		m.session.Orphan()
		c.mu.Lock()
		delete(c.members, m)
		c.mu.Unlock()
	})
	return m.leaveErr
}

// Campaign implements cluster.Membership.
func (m *membership) Campaign(ctx context.Context) (cluster.Leader, error) {
	c := m.c
	e := concurrency.NewElection(m.session, strings.TrimSuffix(c.electionPrefix(), "/")) // it adds the /
	failures := 0
	for {
		if m.lost() {
			return nil, fmt.Errorf("cluster: job %q: worker %q cannot campaign: lease lost: %w", c.job, m.m.ID, cluster.ErrFenced)
		}
		c.stats.txns.Add(1)
		c.countPut(fmt.Sprintf("%s%x", c.electionPrefix(), m.lease()), m.m.ID)
		err := e.Campaign(ctx, m.m.ID)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return nil, &cluster.UnavailableError{Op: "campaign of worker " + strconv.Quote(m.m.ID) + " in job " + strconv.Quote(c.job), Attempts: failures + 1, Err: errors.Join(err, ctx.Err())}
		}
		if errors.Is(err, rpctypes.ErrLeaseNotFound) {
			return nil, fmt.Errorf("cluster: job %q: worker %q cannot campaign: lease lost: %w", c.job, m.m.ID, errors.Join(cluster.ErrFenced, err))
		}
		if !retryable(err) {
			return nil, fmt.Errorf("cluster: job %q: campaign of worker %q: %w", c.job, m.m.ID, err)
		}
		failures++
		if serr := clock.Sleep(ctx, c.clock, c.retry.Wait(failures)); serr != nil {
			return nil, &cluster.UnavailableError{Op: "campaign of worker " + strconv.Quote(m.m.ID) + " in job " + strconv.Quote(c.job), Attempts: failures, Err: errors.Join(err, serr)}
		}
	}
	l := &leader{m: m, e: e, key: e.Key(), token: e.Rev(), done: make(chan struct{})}
	go func() {
		select {
		case <-m.session.Done():
		case <-l.resigned():
		}
		l.closeDone()
	}()
	return l, nil
}

// leader is a membership that won the election.
type leader struct {
	m     *membership
	e     *concurrency.Election
	key   string
	token int64

	once     sync.Once
	done     chan struct{}
	resignMu sync.Mutex
	resignC  chan struct{}
}

var _ cluster.Leader = (*leader)(nil)

func (l *leader) Leadership() cluster.Leadership {
	return cluster.Leadership{ID: l.m.m.ID, Token: l.token}
}

func (l *leader) Done() <-chan struct{} { return l.done }
func (l *leader) closeDone()            { l.once.Do(func() { close(l.done) }) }

func (l *leader) resigned() <-chan struct{} {
	l.resignMu.Lock()
	defer l.resignMu.Unlock()
	return l.resignChan()
}

// resignChan returns the channel closed on Resign; resignMu is held.
func (l *leader) resignChan() chan struct{} {
	if l.resignC == nil {
		l.resignC = make(chan struct{})
	}
	return l.resignC
}

// Resign implements cluster.Leader: it deletes the election key if it is
// still this leader's.
func (l *leader) Resign(ctx context.Context) error {
	c := l.m.c
	err := c.do(ctx, "resign of worker "+strconv.Quote(l.m.m.ID), func(ctx context.Context, _ int) error {
		c.stats.txns.Add(1)
		_, err := c.c.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(l.key), "=", l.token)).
			Then(clientv3.OpDelete(l.key)).Commit()
		return err
	})
	if err == nil {
		l.resignMu.Lock()
		ch := l.resignChan()
		select {
		case <-ch:
		default:
			close(ch)
		}
		l.resignMu.Unlock()
	}
	return err
}

func (l *leader) notLeader(what string) error {
	return fmt.Errorf("cluster: job %q: %s: worker %q (token %d) no longer holds the election: %w", l.m.c.job, what, l.m.m.ID, l.token, cluster.ErrNotLeader)
}

// PublishAssignment implements cluster.Leader.
func (l *leader) PublishAssignment(ctx context.Context, a cluster.Assignment) error {
	c := l.m.c
	if err := a.Validate(); err != nil {
		return err
	}
	if a.Attempt < 1 {
		return fmt.Errorf("cluster: job %q: assignment of attempt %d: attempts count from 1", c.job, a.Attempt)
	}
	a.Token = l.token
	val, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("etcdcluster: encode assignment: %w", err)
	}
	what := fmt.Sprintf("publish the assignment of attempt %d", a.Attempt)
	return c.do(ctx, what, func(ctx context.Context, try int) error {
		c.stats.reads.Add(1)
		cur, err := c.c.Get(ctx, c.attemptKey())
		if err != nil {
			return err
		}
		var rev, n int64
		if len(cur.Kvs) == 1 {
			rev = cur.Kvs[0].ModRevision
			if n, err = strconv.ParseInt(string(cur.Kvs[0].Value), 10, 64); err != nil {
				return fmt.Errorf("etcdcluster: %s holds %q, not an attempt: %w", c.attemptKey(), cur.Kvs[0].Value, err)
			}
		}
		if n >= a.Attempt {
			if n == a.Attempt && try > 1 {
				if same, err := l.sameAssignment(ctx, val); err != nil || same {
					return err
				}
			}
			return fmt.Errorf("cluster: job %q: %s: the current attempt is %d already: %w", c.job, what, n, cluster.ErrConflict)
		}
		c.stats.txns.Add(1)
		c.countPut(c.attemptKey(), pad(a.Attempt), c.assignmentKey(), string(val))
		res, err := c.c.Txn(ctx).If(
			clientv3.Compare(clientv3.CreateRevision(l.key), "=", l.token),
			clientv3.Compare(clientv3.ModRevision(c.attemptKey()), "=", rev),
		).Then(
			clientv3.OpPut(c.attemptKey(), pad(a.Attempt)),
			clientv3.OpPut(c.assignmentKey(), string(val)),
		).Else(clientv3.OpGet(l.key)).Commit()
		if err != nil {
			return err
		}
		if res.Succeeded {
			return c.lost(what)
		}
		if lk := res.Responses[0].GetResponseRange().Kvs; len(lk) == 0 || lk[0].CreateRevision != l.token {
			return l.notLeader(what)
		}
		return fmt.Errorf("cluster: job %q: %s: the attempt moved on meanwhile: %w", c.job, what, cluster.ErrConflict)
	})
}

func (l *leader) sameAssignment(ctx context.Context, val []byte) (bool, error) {
	c := l.m.c
	c.stats.reads.Add(1)
	res, err := c.c.Get(ctx, c.assignmentKey())
	if err != nil {
		return false, err
	}
	if len(res.Kvs) == 1 && string(res.Kvs[0].Value) == string(val) {
		c.stats.redundant.Add(1)
		return true, nil
	}
	return false, nil
}

// CommitCheckpoint implements cluster.Leader: one transaction, comparing
// the election key's create revision with the token, the attempt key with
// p.Attempt and the id key with prev, that writes the id and the pointer.
func (l *leader) CommitCheckpoint(ctx context.Context, prev int64, p cluster.CheckpointPointer) error {
	c := l.m.c
	what := fmt.Sprintf("commit checkpoint %d", p.ID)
	if p.ID <= prev {
		return fmt.Errorf("cluster: job %q: %s: its id must be above the previous checkpoint's, %d", c.job, what, prev)
	}
	val, err := json.Marshal(storedPointer{CheckpointPointer: p, Token: l.token})
	if err != nil {
		return fmt.Errorf("etcdcluster: encode checkpoint pointer: %w", err)
	}
	prevCmp := clientv3.Compare(clientv3.Value(c.idKey()), "=", pad(prev))
	if prev == 0 {
		prevCmp = clientv3.Compare(clientv3.CreateRevision(c.idKey()), "=", 0)
	}
	return c.do(ctx, what, func(ctx context.Context, _ int) error {
		c.stats.txns.Add(1)
		c.countPut(c.idKey(), pad(p.ID), c.pointerKey(), string(val))
		res, err := c.c.Txn(ctx).If(
			clientv3.Compare(clientv3.CreateRevision(l.key), "=", l.token),
			clientv3.Compare(clientv3.Value(c.attemptKey()), "=", pad(p.Attempt)),
			prevCmp,
		).Then(
			clientv3.OpPut(c.idKey(), pad(p.ID)),
			clientv3.OpPut(c.pointerKey(), string(val)),
		).Else(
			clientv3.OpGet(c.pointerKey()),
			clientv3.OpGet(l.key),
			clientv3.OpGet(c.attemptKey()),
		).Commit()
		if err != nil {
			return err
		}
		if res.Succeeded {
			return c.lost(what)
		}
		pk := res.Responses[0].GetResponseRange().Kvs
		var cur storedPointer
		if len(pk) == 1 {
			if err := decode(pk[0], &cur); err != nil {
				return err
			}
			if string(pk[0].Value) == string(val) { // this leader's, an answer lost
				c.stats.redundant.Add(1)
				return nil
			}
		}
		if lk := res.Responses[1].GetResponseRange().Kvs; len(lk) == 0 || lk[0].CreateRevision != l.token {
			return l.notLeader(what)
		}
		if ak := res.Responses[2].GetResponseRange().Kvs; len(ak) == 0 || string(ak[0].Value) != pad(p.Attempt) {
			return fmt.Errorf("cluster: job %q: %s: attempt %d is not the current attempt (%s): %w", c.job, what, p.Attempt, currentAttempt(ak), cluster.ErrFenced)
		}
		if len(pk) == 0 {
			return fmt.Errorf("cluster: job %q: %s: no checkpoint is committed yet, not %d: %w", c.job, what, prev, cluster.ErrConflict)
		}
		return fmt.Errorf("cluster: job %q: %s: the pointer is at checkpoint %d, not %d: %w", c.job, what, cur.ID, prev, cluster.ErrConflict)
	})
}
