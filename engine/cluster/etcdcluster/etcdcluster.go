// Package etcdcluster implements engine/cluster on etcd: members as keys
// under their worker's lease, the coordinator elected with etcd's
// concurrency.Election on the same lease (the election key's create
// revision is the fencing token), the assignment and the checkpoint pointer
// written in transactions conditional on that token, and Fence as a
// linearizable read-only transaction.
//
// Keys, under Prefix + "jobs/" + job + "/":
//
//	members/<id>        a member's JSON, under its lease
//	election/<lease>    etcd's election keys, under the members' leases
//	attempt             the current attempt, 20 digits
//	assignment          the current attempt's assignment, JSON
//	checkpoint/id       the latest completed checkpoint's id, 20 digits
//	checkpoint/pointer  its pointer, JSON (with the committing leader's token)
//	definition          the job's canonical definition, JSON
//
// Each call retries what etcd failed to answer (no leader, a member gone,
// a request timed out) by internal/backoff until the call's context ends,
// then returns a *cluster.UnavailableError; it never outlives its context.
// It uses the KV, Lease and Watch calls of etcd 3.4 and later.
package etcdcluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
	"go.uber.org/zap"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sluicehq/sluice/engine/cluster"
	"github.com/sluicehq/sluice/internal/backoff"
	"github.com/sluicehq/sluice/internal/clock"
)

// Config configures a Cluster.
type Config struct {
	// Client is the etcd client to use (the caller closes it); or
	// Endpoints, to connect (Close closes the connection).
	Client    *clientv3.Client
	Endpoints []string
	// Job names the job; its keys are under Prefix + "jobs/" + Job + "/".
	Job string
	// Prefix is the key space of Sluice in etcd; default "/sluice/".
	Prefix string
	// LeaseTTL is the members' lease: a worker not heard from for this
	// long leaves. Whole seconds, at least 1 (etcd may round it up to its
	// minimum); default 10s.
	LeaseTTL time.Duration
	// RequestTimeout bounds each request to etcd; default 5s.
	RequestTimeout time.Duration
	// Retry is the policy between failed requests; its MaxAttempts and
	// Within bound a call besides its context. Default: 50ms doubling to
	// 2s, jittered, until the context ends.
	Retry *backoff.Policy
	// Clock times the retries; default the real clock.
	Clock clock.Clock
}

// Cluster is a job's coordination in etcd, as one worker process sees it.
// It is safe for concurrent use.
type Cluster struct {
	c       *clientv3.Client
	owned   bool
	job     string
	base    string
	ttl     int
	timeout time.Duration
	retry   backoff.Policy
	clock   clock.Clock
	stats   counters

	mu      sync.Mutex
	members map[*membership]struct{}
	closed  bool

	// loseAnswer, set by tests, makes a committed transaction's answer
	// look lost (as when the etcd member dies before replying).
	loseAnswer func(what string) bool
}

// lost is the error of a transaction whose answer a test hook dropped.
func (c *Cluster) lost(what string) error {
	if c.loseAnswer != nil && c.loseAnswer(what) {
		return status.Error(codes.Unavailable, "etcdcluster test: answer lost after the commit")
	}
	return nil
}

var _ cluster.Cluster = (*Cluster)(nil)

// Open opens the job's coordination.
func Open(cfg Config) (*Cluster, error) {
	if cfg.Job == "" {
		return nil, errors.New("etcdcluster: no job name given")
	}
	if strings.ContainsAny(cfg.Job, "/\x00") {
		return nil, fmt.Errorf("etcdcluster: job name %q contains '/' (not allowed in job names)", cfg.Job)
	}
	prefix := cfg.Prefix
	if prefix == "" {
		prefix = "/sluice/"
	}
	if !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	ttl := cfg.LeaseTTL
	if ttl == 0 {
		ttl = 10 * time.Second
	}
	if ttl < time.Second || ttl%time.Second != 0 {
		return nil, fmt.Errorf("etcdcluster: lease TTL %v must be whole seconds, at least 1s", ttl)
	}
	timeout := cfg.RequestTimeout
	if timeout == 0 {
		timeout = 5 * time.Second
	}
	if timeout < 0 {
		return nil, fmt.Errorf("etcdcluster: request timeout %v is negative", timeout)
	}
	retry := backoff.Policy{Initial: 50 * time.Millisecond, Multiplier: 2, Max: 2 * time.Second, Jitter: true}
	if cfg.Retry != nil {
		retry = *cfg.Retry
	}
	if err := retry.Validate(); err != nil {
		return nil, fmt.Errorf("etcdcluster: retry policy: %w", err)
	}
	c := &Cluster{
		c: cfg.Client, job: cfg.Job, base: prefix + "jobs/" + cfg.Job + "/",
		ttl: int(ttl / time.Second), timeout: timeout, retry: retry, clock: clock.Or(cfg.Clock),
		members: map[*membership]struct{}{},
	}
	if c.c == nil {
		if len(cfg.Endpoints) == 0 {
			return nil, errors.New("etcdcluster: neither a client nor endpoints given")
		}
		cl, err := clientv3.New(clientv3.Config{Endpoints: cfg.Endpoints, DialTimeout: timeout, Logger: zap.NewNop()})
		if err != nil {
			return nil, fmt.Errorf("etcdcluster: connect %v: %w", cfg.Endpoints, err)
		}
		c.c, c.owned = cl, true
	}
	return c, nil
}

func (c *Cluster) memberKey(id string) string { return c.base + "members/" + id }
func (c *Cluster) electionPrefix() string     { return c.base + "election/" }
func (c *Cluster) attemptKey() string         { return c.base + "attempt" }
func (c *Cluster) assignmentKey() string      { return c.base + "assignment" }
func (c *Cluster) idKey() string              { return c.base + "checkpoint/id" }
func (c *Cluster) pointerKey() string         { return c.base + "checkpoint/pointer" }
func (c *Cluster) definitionKey() string      { return c.base + "definition" }

// pad writes a counter so that etcd's byte comparison of values is
// numeric.
func pad(n int64) string { return fmt.Sprintf("%020d", n) }

// Stats counts the requests this Cluster sent to etcd, for the scale-out
// model (docs/scale-out.md): transactions, plain reads, lease calls, and
// the bytes of the keys and values it wrote.
type Stats struct {
	Txns, Reads, LeaseOps, Puts, PutBytes int64
	// Redundant counts commits and publications found already done on a
	// retry (their first answer was lost).
	Redundant int64
}

type counters struct {
	txns, reads, leaseOps, puts, putBytes, redundant atomic.Int64
}

// Stats returns the counts so far.
func (c *Cluster) Stats() Stats {
	return Stats{
		Txns: c.stats.txns.Load(), Reads: c.stats.reads.Load(), LeaseOps: c.stats.leaseOps.Load(),
		Puts: c.stats.puts.Load(), PutBytes: c.stats.putBytes.Load(), Redundant: c.stats.redundant.Load(),
	}
}

func (c *Cluster) countPut(kvs ...string) {
	c.stats.puts.Add(int64(len(kvs) / 2))
	for _, s := range kvs {
		c.stats.putBytes.Add(int64(len(s)))
	}
}

// retryable reports an error etcd may not give again: no answer, no
// leader, a timeout, too many requests.
func retryable(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return true
	}
	var code codes.Code
	var ee rpctypes.EtcdError
	if errors.As(err, &ee) {
		code = ee.Code()
	} else if s, ok := status.FromError(err); ok {
		code = s.Code()
	} else {
		return false
	}
	switch code {
	case codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted, codes.Aborted, codes.Canceled, codes.Unknown:
		return true
	}
	return false
}

// do runs op, each try under the request timeout, retrying what etcd
// failed to answer until the policy or ctx gives up.
func (c *Cluster) do(ctx context.Context, what string, op func(ctx context.Context, try int) error) error {
	attempts, err := backoff.Retry(ctx, c.clock, c.retry, func(try int) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		actx, cancel := context.WithTimeout(ctx, c.timeout)
		defer cancel()
		err := op(actx, try)
		if err == nil || retryable(err) {
			return err
		}
		return backoff.Permanent(err)
	})
	if err == nil {
		return nil
	}
	if retryable(err) {
		return &cluster.UnavailableError{Op: what + " of job " + strconv.Quote(c.job), Attempts: attempts, Err: err}
	}
	return err
}

// Join implements cluster.Cluster.
func (c *Cluster) Join(ctx context.Context, m cluster.Member) (cluster.Membership, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	m.Revision = 0
	val, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("etcdcluster: encode member: %w", err)
	}
	what := "join as " + strconv.Quote(m.ID)
	var lease clientv3.LeaseID
	err = c.do(ctx, what, func(ctx context.Context, _ int) error {
		c.stats.leaseOps.Add(1)
		g, err := c.c.Grant(ctx, int64(c.ttl))
		if err != nil {
			return fmt.Errorf("grant lease: %w", err)
		}
		lease = g.ID
		return nil
	})
	if err != nil {
		return nil, err
	}
	key := c.memberKey(m.ID)
	err = c.do(ctx, what, func(ctx context.Context, _ int) error {
		c.stats.txns.Add(1)
		c.countPut(key, string(val))
		res, err := c.c.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
			Then(clientv3.OpPut(key, string(val), clientv3.WithLease(lease))).
			Else(clientv3.OpGet(key)).Commit()
		if err != nil {
			return err
		}
		if res.Succeeded {
			m.Revision = res.Header.Revision
			return nil
		}
		kvs := res.Responses[0].GetResponseRange().Kvs
		if len(kvs) == 1 && clientv3.LeaseID(kvs[0].Lease) == lease { // our own, an answer lost
			m.Revision = kvs[0].CreateRevision
			return nil
		}
		rev := int64(0)
		if len(kvs) == 1 {
			rev = kvs[0].CreateRevision
		}
		return fmt.Errorf("cluster: job %q: worker %q cannot join: another live member has the id (joined at revision %d): %w", c.job, m.ID, rev, cluster.ErrMemberExists)
	})
	if err != nil {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.timeout)
		_, _ = c.c.Revoke(rctx, lease) // best effort: the lease expires by itself otherwise
		cancel()
		return nil, err
	}
	s, err := concurrency.NewSession(c.c, concurrency.WithLease(lease), concurrency.WithTTL(c.ttl))
	if err != nil {
		return nil, fmt.Errorf("etcdcluster: keep lease of %q alive: %w", m.ID, err)
	}
	ms := &membership{c: c, m: m, key: key, session: s}
	c.mu.Lock()
	closed := c.closed
	if !closed {
		c.members[ms] = struct{}{}
	}
	c.mu.Unlock()
	if closed {
		s.Orphan()
		return nil, errors.New("etcdcluster: closed")
	}
	return ms, nil
}

// Members implements cluster.Cluster.
func (c *Cluster) Members(ctx context.Context) (cluster.Members, error) {
	var out cluster.Members
	err := c.do(ctx, "list members", func(ctx context.Context, _ int) error {
		c.stats.reads.Add(1)
		res, err := c.c.Get(ctx, c.memberKey(""), clientv3.WithPrefix(), clientv3.WithSort(clientv3.SortByKey, clientv3.SortAscend))
		if err != nil {
			return err
		}
		out = cluster.Members{Revision: res.Header.Revision, List: make([]cluster.Member, 0, len(res.Kvs))}
		for _, kv := range res.Kvs {
			m, err := c.decodeMember(kv)
			if err != nil {
				return err
			}
			out.List = append(out.List, m)
		}
		return nil
	})
	return out, err
}

func (c *Cluster) decodeMember(kv *mvccpb.KeyValue) (cluster.Member, error) {
	var m cluster.Member
	if err := json.Unmarshal(kv.Value, &m); err != nil {
		return m, fmt.Errorf("etcdcluster: %s is not a member: %w", kv.Key, err)
	}
	m.Revision = kv.CreateRevision
	return m, nil
}

// watch follows the keys under key (a prefix if prefix) from revision
// from, resuming after failures from the last revision seen, until ctx
// ends, handle returns an error, or etcd has compacted the revisions
// needed.
func (c *Cluster) watch(ctx context.Context, key string, prefix bool, from int64, handle func(*clientv3.Event, int64) error) error {
	next := from
	failures := 0
	for {
		opts := []clientv3.OpOption{clientv3.WithRev(next), clientv3.WithPrevKV()}
		if prefix {
			opts = append(opts, clientv3.WithPrefix())
		}
		wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
		wch := c.c.Watch(wctx, key, opts...)
		var werr error
		for wr := range wch {
			if err := wr.Err(); err != nil {
				werr = err
				break
			}
			failures = 0
			for _, ev := range wr.Events {
				if err := handle(ev, ev.Kv.ModRevision); err != nil {
					cancel()
					return err
				}
				next = ev.Kv.ModRevision + 1
			}
		}
		cancel()
		if ctx.Err() != nil {
			return nil
		}
		if c.c.Ctx().Err() != nil {
			return fmt.Errorf("etcdcluster: watch of %s: the etcd client is closed", key)
		}
		if errors.Is(werr, rpctypes.ErrCompacted) || werr != nil && strings.Contains(werr.Error(), "compacted") {
			return fmt.Errorf("etcdcluster: watch of %s from revision %d: %w", key, next, werr)
		}
		failures++
		if err := clock.Sleep(ctx, c.clock, c.retry.Wait(failures)); err != nil {
			return nil
		}
	}
}

// WatchMembers implements cluster.Cluster.
func (c *Cluster) WatchMembers(ctx context.Context, since int64) (<-chan cluster.MemberEvent, func() error) {
	ch := make(chan cluster.MemberEvent, 16)
	var werr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(ch)
		werr = c.watch(ctx, c.memberKey(""), true, since+1, func(ev *clientv3.Event, rev int64) error {
			var e cluster.MemberEvent
			switch {
			case ev.Type == clientv3.EventTypePut && ev.IsCreate():
				m, err := c.decodeMember(ev.Kv)
				if err != nil {
					return err
				}
				e = cluster.MemberEvent{Kind: cluster.Joined, Member: m, Revision: rev}
			case ev.Type == clientv3.EventTypeDelete:
				m := cluster.Member{ID: strings.TrimPrefix(string(ev.Kv.Key), c.memberKey(""))}
				if ev.PrevKv != nil {
					if pm, err := c.decodeMember(ev.PrevKv); err == nil {
						m = pm
					}
				}
				e = cluster.MemberEvent{Kind: cluster.Left, Member: m, Revision: rev}
			default:
				return nil
			}
			select {
			case ch <- e:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
		if ctx.Err() != nil {
			werr = nil
		}
	}()
	return ch, func() error { <-done; return werr }
}

// Leader implements cluster.Cluster.
func (c *Cluster) Leader(ctx context.Context) (cluster.Leadership, error) {
	var l cluster.Leadership
	err := c.do(ctx, "find the coordinator", func(ctx context.Context, _ int) error {
		c.stats.reads.Add(1)
		res, err := c.c.Get(ctx, c.electionPrefix(), clientv3.WithFirstCreate()...)
		if err != nil {
			return err
		}
		if len(res.Kvs) == 0 {
			return fmt.Errorf("cluster: job %q: %w", c.job, cluster.ErrNoLeader)
		}
		l = cluster.Leadership{ID: string(res.Kvs[0].Value), Token: res.Kvs[0].CreateRevision}
		return nil
	})
	return l, err
}

// ObserveLeader implements cluster.Cluster.
func (c *Cluster) ObserveLeader(ctx context.Context) <-chan cluster.Leadership {
	ch := make(chan cluster.Leadership, 1)
	go func() {
		defer close(ch)
		var last cluster.Leadership
		failures := 0
		for ctx.Err() == nil {
			gctx, gcancel := context.WithTimeout(ctx, c.timeout)
			res, err := c.c.Get(gctx, c.electionPrefix(), clientv3.WithFirstCreate()...)
			gcancel()
			if err != nil {
				failures++
				if clock.Sleep(ctx, c.clock, c.retry.Wait(failures)) != nil {
					return
				}
				continue
			}
			failures = 0
			if len(res.Kvs) > 0 {
				l := cluster.Leadership{ID: string(res.Kvs[0].Value), Token: res.Kvs[0].CreateRevision}
				if l != last {
					select {
					case ch <- l:
					case <-ctx.Done():
						return
					}
					last = l
				}
			}
			// Wait for any change under the election prefix, then look again.
			wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
			wch := c.c.Watch(wctx, c.electionPrefix(), clientv3.WithPrefix(), clientv3.WithRev(res.Header.Revision+1))
			wr, ok := <-wch
			cancel()
			if ok && wr.Err() != nil {
				failures++
				if clock.Sleep(ctx, c.clock, c.retry.Wait(failures)) != nil {
					return
				}
			}
		}
	}()
	return ch
}

// Assignment implements cluster.Cluster.
func (c *Cluster) Assignment(ctx context.Context) (cluster.Assignment, error) {
	var a cluster.Assignment
	err := c.do(ctx, "read the assignment", func(ctx context.Context, _ int) error {
		c.stats.reads.Add(1)
		res, err := c.c.Get(ctx, c.assignmentKey())
		if err != nil {
			return err
		}
		if len(res.Kvs) == 0 {
			return fmt.Errorf("cluster: job %q: %w", c.job, cluster.ErrNoAssignment)
		}
		return decode(res.Kvs[0], &a)
	})
	return a, err
}

func decode(kv *mvccpb.KeyValue, v any) error {
	if err := json.Unmarshal(kv.Value, v); err != nil {
		return fmt.Errorf("etcdcluster: %s holds no valid value: %w", kv.Key, err)
	}
	return nil
}

// WatchAssignment implements cluster.Cluster.
func (c *Cluster) WatchAssignment(ctx context.Context) (<-chan cluster.Assignment, func() error) {
	ch := make(chan cluster.Assignment, 1)
	var werr error
	done := make(chan struct{})
	send := func(a cluster.Assignment) error {
		select {
		case ch <- a:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	go func() {
		defer close(done)
		defer close(ch)
		var res *clientv3.GetResponse
		werr = c.do(ctx, "read the assignment", func(ctx context.Context, _ int) error {
			c.stats.reads.Add(1)
			var err error
			res, err = c.c.Get(ctx, c.assignmentKey())
			return err
		})
		if werr != nil {
			return
		}
		if len(res.Kvs) == 1 {
			var a cluster.Assignment
			if werr = decode(res.Kvs[0], &a); werr != nil {
				return
			}
			if werr = send(a); werr != nil {
				return
			}
		}
		werr = c.watch(ctx, c.assignmentKey(), false, res.Header.Revision+1, func(ev *clientv3.Event, _ int64) error {
			if ev.Type != clientv3.EventTypePut {
				return nil
			}
			var a cluster.Assignment
			if err := decode(ev.Kv, &a); err != nil {
				return err
			}
			return send(a)
		})
	}()
	return ch, func() error {
		<-done
		if ctx.Err() != nil {
			return nil
		}
		return werr
	}
}

// LatestCheckpoint implements cluster.Cluster.
func (c *Cluster) LatestCheckpoint(ctx context.Context) (cluster.CheckpointPointer, error) {
	var p storedPointer
	err := c.do(ctx, "read the checkpoint pointer", func(ctx context.Context, _ int) error {
		c.stats.reads.Add(1)
		res, err := c.c.Get(ctx, c.pointerKey())
		if err != nil {
			return err
		}
		if len(res.Kvs) == 0 {
			return fmt.Errorf("cluster: job %q: %w", c.job, cluster.ErrNoCheckpoint)
		}
		return decode(res.Kvs[0], &p)
	})
	return p.CheckpointPointer, err
}

// storedPointer is the pointer as stored: with the token of the leader
// that committed it, so that a commit whose answer was lost is recognised
// as its own on retry.
type storedPointer struct {
	cluster.CheckpointPointer
	Token int64 `json:"token"`
}

// CheckDefinition implements cluster.Cluster.
func (c *Cluster) CheckDefinition(ctx context.Context, d cluster.Definition) error {
	key, val := c.definitionKey(), string(d.Canonical())
	var running []byte
	err := c.do(ctx, "check the job definition", func(ctx context.Context, _ int) error {
		c.stats.txns.Add(1)
		c.countPut(key, val)
		res, err := c.c.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
			Then(clientv3.OpPut(key, val)).Else(clientv3.OpGet(key)).Commit()
		if err != nil {
			return err
		}
		running = nil
		if !res.Succeeded {
			running = res.Responses[0].GetResponseRange().Kvs[0].Value
		}
		return nil
	})
	if err != nil || running == nil {
		return err
	}
	rd, err := cluster.ParseDefinition(running)
	if err != nil {
		return err
	}
	if diff := rd.Diff(d); len(diff) > 0 {
		return &cluster.DefinitionMismatchError{Job: c.job, Differences: diff}
	}
	return nil
}

// Close implements cluster.Cluster: it leaves every membership joined
// through it (revoking their leases) and closes the connection if Open
// made it.
func (c *Cluster) Close() error {
	c.mu.Lock()
	c.closed = true
	ms := make([]*membership, 0, len(c.members))
	for m := range c.members {
		ms = append(ms, m)
	}
	c.mu.Unlock()
	var errs []error
	for _, m := range ms {
		ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
		if err := m.Leave(ctx); err != nil {
			errs = append(errs, err)
		}
		cancel()
	}
	if c.owned {
		if err := c.c.Close(); err != nil {
			errs = append(errs, fmt.Errorf("etcdcluster: close connection: %w", err))
		}
	}
	return errors.Join(errs...)
}
