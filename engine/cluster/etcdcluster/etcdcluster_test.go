package etcdcluster

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/sluicehq/sluice/engine/cluster"
	"github.com/sluicehq/sluice/internal/testseed"
	etcdtest "github.com/sluicehq/sluice/internal/testsupport/etcdcluster"
)

const wait = time.Minute // the safety bound of every wait on a condition

func open(t testing.TB, ec *etcdtest.Cluster, job string, ttl time.Duration) *Cluster {
	t.Helper()
	c, err := Open(Config{Endpoints: ec.Endpoints(), Job: job, LeaseTTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func join(t testing.TB, c *Cluster, id string) cluster.Membership {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	m, err := c.Join(ctx, cluster.Member{ID: id, Addr: "127.0.0.1:0", Slots: 2})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func campaign(t testing.TB, m cluster.Membership) cluster.Leader {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	l, err := m.Campaign(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	t.Cleanup(cancel)
	return ctx
}

// revoke ends a member's lease from outside, as its expiry would.
func revoke(t testing.TB, admin *clientv3.Client, c *Cluster, id string) {
	t.Helper()
	ctx := ctxT(t)
	res, err := admin.Get(ctx, c.memberKey(id))
	if err != nil || len(res.Kvs) != 1 {
		t.Fatalf("member %s: %v %v", id, res, err)
	}
	if _, err := admin.Revoke(ctx, clientv3.LeaseID(res.Kvs[0].Lease)); err != nil {
		t.Fatal(err)
	}
}

func waitClosed(t testing.TB, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(wait):
		t.Fatalf("%s: not within %v", what, wait)
	}
}

func publish(t testing.TB, l cluster.Leader, attempt int64, members ...string) cluster.Assignment {
	t.Helper()
	var ms []cluster.Member
	for _, id := range members {
		ms = append(ms, cluster.Member{ID: id, Slots: 2})
	}
	a, err := cluster.Assign(nil, ms, len(members), 128)
	if err != nil {
		t.Fatal(err)
	}
	a.Attempt = attempt
	if err := l.PublishAssignment(ctxT(t), a); err != nil {
		t.Fatalf("publish attempt %d: %v", attempt, err)
	}
	return a
}

func ptr(id, attempt int64, tag string) cluster.CheckpointPointer {
	return cluster.CheckpointPointer{ID: id, Attempt: attempt, Manifest: fmt.Sprintf("s3://ckpt/%s/chk-%d/_metadata", tag, id)}
}

// TestElectionLeaderOnce: of three workers campaigning at once exactly one
// is elected; the others wait. When it resigns exactly one more is, with a
// higher token, and observers see both in order.
func TestElectionLeaderOnce(t *testing.T) {
	ec := etcdtest.Start(t, 3)
	obs := open(t, ec, "job", 10*time.Second)
	octx, ocancel := context.WithCancel(context.Background())
	defer ocancel()
	seen := obs.ObserveLeader(octx)

	type won struct {
		l   cluster.Leader
		err error
	}
	wins := make(chan won, 3)
	var ms []cluster.Membership
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	for i := range 3 {
		m := join(t, open(t, ec, "job", 10*time.Second), "w"+strconv.Itoa(i))
		ms = append(ms, m)
		go func() {
			l, err := m.Campaign(ctx)
			wins <- won{l, err}
		}()
	}
	first := <-wins
	if first.err != nil {
		t.Fatal(first.err)
	}
	got, err := obs.Leader(ctxT(t))
	if err != nil || got != first.l.Leadership() {
		t.Fatalf("leader %+v (%v), the winner says %+v", got, err, first.l.Leadership())
	}
	if o := <-seen; o != first.l.Leadership() {
		t.Fatalf("observed %+v, want %+v", o, first.l.Leadership())
	}
	// The leader's election key is the oldest under the prefix (the others'
	// campaigns may still be creating theirs); nobody else is elected.
	res, err := obs.c.Get(ctxT(t), obs.electionPrefix(), clientv3.WithPrefix(), clientv3.WithSort(clientv3.SortByCreateRevision, clientv3.SortAscend))
	if err != nil || len(res.Kvs) == 0 || res.Kvs[0].CreateRevision != first.l.Leadership().Token || !strings.HasPrefix(string(res.Kvs[0].Key), obs.electionPrefix()) || strings.Contains(strings.TrimPrefix(string(res.Kvs[0].Key), obs.electionPrefix()), "/") {
		t.Fatalf("election keys: %v %v", res, err)
	}
	select {
	case w := <-wins:
		t.Fatalf("a second leader while the first holds: %+v %v", w.l, w.err)
	default:
	}
	if err := first.l.Resign(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, first.l.Done(), "resigned leader's Done")
	second := <-wins
	if second.err != nil {
		t.Fatal(second.err)
	}
	if second.l.Leadership().Token <= first.l.Leadership().Token || second.l.Leadership().ID == first.l.Leadership().ID {
		t.Fatalf("second leader %+v after %+v", second.l.Leadership(), first.l.Leadership())
	}
	if o := <-seen; o != second.l.Leadership() {
		t.Fatalf("observed %+v, want %+v", o, second.l.Leadership())
	}
	select {
	case w := <-wins:
		t.Fatalf("a third leader while the second holds: %+v %v", w.l, w.err)
	default:
	}
	cancel() // the third stops campaigning
	if w := <-wins; !errors.Is(w.err, cluster.ErrUnavailable) || !errors.Is(w.err, context.Canceled) {
		t.Fatalf("campaign ended by its context: %v", w.err)
	}
}

// TestLostLeaseFences: the leader's lease is revoked (as if it expired);
// another worker is elected, and everything the old leader and its
// attempt try afterwards fails: its checkpoint commit, its assignment, its
// Fence; the new leader's commits go on from the old one's pointer.
func TestLostLeaseFences(t *testing.T) {
	ec := etcdtest.Start(t, 3)
	admin := ec.Client(t)
	c1, c2 := open(t, ec, "job", 10*time.Second), open(t, ec, "job", 10*time.Second)
	m1, m2 := join(t, c1, "w1"), join(t, c2, "w2")
	l1 := campaign(t, m1)
	octx, ocancel := context.WithCancel(context.Background())
	defer ocancel()
	observed := open(t, ec, "job", 10*time.Second).ObserveLeader(octx)
	observe := func(want cluster.Leadership) {
		t.Helper()
		for {
			select {
			case got, ok := <-observed:
				if !ok {
					t.Fatal("observer ended")
				}
				if got == want {
					return
				}
				if got.Token > want.Token {
					t.Fatalf("observed %+v past %+v", got, want)
				}
			case <-time.After(wait):
				t.Fatalf("never observed %+v", want)
			}
		}
	}
	observe(l1.Leadership())
	publish(t, l1, 1, "w1", "w2")
	if err := l1.CommitCheckpoint(ctxT(t), 0, ptr(1, 1, "a")); err != nil {
		t.Fatal(err)
	}
	if err := m1.Fence(ctxT(t), 1); err != nil {
		t.Fatalf("fence of a live member in the current attempt: %v", err)
	}
	if err := m2.Fence(ctxT(t), 1); err != nil {
		t.Fatal(err)
	}

	won := make(chan cluster.Leader, 1)
	go func() {
		l, err := m2.Campaign(ctxT(t))
		if err != nil {
			t.Error(err)
		}
		won <- l
	}()
	revoke(t, admin, c1, "w1")
	l2 := <-won
	if l2 == nil {
		t.FailNow()
	}
	if l2.Leadership().Token <= l1.Leadership().Token {
		t.Fatalf("token %d after %d", l2.Leadership().Token, l1.Leadership().Token)
	}
	observe(l2.Leadership())
	waitClosed(t, m1.Done(), "old member's Done")
	waitClosed(t, l1.Done(), "old leader's Done")

	if err := l1.CommitCheckpoint(ctxT(t), 1, ptr(2, 1, "a")); !errors.Is(err, cluster.ErrNotLeader) {
		t.Fatalf("old leader's commit: %v, want ErrNotLeader", err)
	}
	a := cluster.Assignment{Attempt: 2, Parallelism: 1, MaxParallelism: 128, Subtasks: []cluster.SubtaskAssignment{{Subtask: 0, Worker: "w1", KeyGroups: cluster.KeyGroupRange{Start: 0, End: 127}}}}
	if err := l1.PublishAssignment(ctxT(t), a); !errors.Is(err, cluster.ErrNotLeader) {
		t.Fatalf("old leader's assignment: %v, want ErrNotLeader", err)
	}
	if err := m1.Fence(ctxT(t), 1); !errors.Is(err, cluster.ErrFenced) || !strings.Contains(err.Error(), "lease lost") {
		t.Fatalf("old member's fence: %v, want lease lost", err)
	}
	// The old membership's fence fails in the store too, not only by its
	// own Done: a membership value with the old revision is checked there.
	stale := &membership{c: c1, m: m1.Member(), key: c1.memberKey("w1"), session: m2.(*membership).session}
	if err := stale.Fence(ctxT(t), 1); !errors.Is(err, cluster.ErrFenced) || !strings.Contains(err.Error(), "member key is gone") {
		t.Fatalf("fence in the store of a lost lease: %v", err)
	}

	publish(t, l2, 2, "w2")
	if err := m2.Fence(ctxT(t), 1); !errors.Is(err, cluster.ErrFenced) || !strings.Contains(err.Error(), "attempt 1 is not the current attempt (now 2)") {
		t.Fatalf("fence of a superseded attempt: %v", err)
	}
	if err := m2.Fence(ctxT(t), 2); err != nil {
		t.Fatal(err)
	}
	if err := l2.CommitCheckpoint(ctxT(t), 1, ptr(2, 1, "b")); !errors.Is(err, cluster.ErrFenced) {
		t.Fatalf("commit for the superseded attempt: %v, want ErrFenced", err)
	}
	if err := l2.CommitCheckpoint(ctxT(t), 1, ptr(2, 2, "b")); err != nil {
		t.Fatal(err)
	}
	if err := l1.CommitCheckpoint(ctxT(t), 2, ptr(3, 2, "a")); !errors.Is(err, cluster.ErrNotLeader) {
		t.Fatalf("old leader's commit at the new attempt: %v", err)
	}
	got, err := c1.LatestCheckpoint(ctxT(t))
	if err != nil || got != ptr(2, 2, "b") {
		t.Fatalf("latest %+v %v", got, err)
	}
	if err := l2.PublishAssignment(ctxT(t), a); !errors.Is(err, cluster.ErrConflict) {
		t.Fatalf("republishing attempt 2: %v, want ErrConflict", err)
	}
}

// TestLeaseExpires: a leader stops renewing its lease (as a paused
// process does) and it expires by its TTL: its member key goes (a Left
// event), another worker is elected, and the paused one's commit fails.
func TestLeaseExpires(t *testing.T) {
	ec := etcdtest.Start(t, 3)
	c1, c2 := open(t, ec, "job", 3*time.Second), open(t, ec, "job", 10*time.Second) // w1 expires; w2 must not
	list, err := c2.Members(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	events, werr := c2.WatchMembers(ctxT(t), list.Revision)
	m1 := join(t, c1, "w1")
	m2 := join(t, c2, "w2")
	l1 := campaign(t, m1)
	publish(t, l1, 1, "w1", "w2")
	won := make(chan cluster.Leader, 1)
	go func() {
		l, err := m2.Campaign(ctxT(t))
		if err != nil {
			t.Error(err)
		}
		won <- l
	}()
	m1.(*membership).session.Orphan() // no more keep-alives from w1
	var got []string
	for len(got) < 3 {
		select {
		case e, ok := <-events:
			if !ok {
				t.Fatalf("watch ended: %v", werr())
			}
			got = append(got, e.Kind.String()+" "+e.Member.ID)
		case <-time.After(wait):
			t.Fatalf("events so far %v", got)
		}
	}
	if strings.Join(got, ", ") != "joined w1, joined w2, left w1" {
		t.Fatalf("events %v", got)
	}
	l2 := <-won
	if l2 == nil {
		t.FailNow()
	}
	if err := l1.CommitCheckpoint(ctxT(t), 0, ptr(1, 1, "a")); !errors.Is(err, cluster.ErrNotLeader) {
		t.Fatalf("expired leader's commit: %v", err)
	}
	if err := l2.CommitCheckpoint(ctxT(t), 0, ptr(1, 1, "b")); err != nil {
		t.Fatal(err)
	}
}

// TestCommitRaces: rounds in which the leader's lease is lost and the next
// worker elected, and then the old leader (not yet aware) and the new one
// commit the same next checkpoint at once, in a random order; and the new
// leader's own goroutines race on one pointer. Exactly one commit wins each
// race: always the current leader's, once.
func TestCommitRaces(t *testing.T) {
	r := rand.New(rand.NewPCG(testseed.Seed(t), 3))
	ec := etcdtest.Start(t, 3)
	admin := ec.Client(t)
	const workers = 4
	var cs []*Cluster
	var ms []cluster.Membership
	for i := range workers {
		c := open(t, ec, "race", 10*time.Second)
		cs = append(cs, c)
		ms = append(ms, join(t, c, "w"+strconv.Itoa(i)))
	}
	cur := campaign(t, ms[0])
	curIdx := 0
	publish(t, cur, 1, "w0")
	attempt, latest := int64(1), int64(0)
	for round := range 6 {
		next := (curIdx + 1) % workers
		won := make(chan cluster.Leader, 1)
		go func() {
			l, err := ms[next].Campaign(ctxT(t))
			if err != nil {
				t.Error(err)
			}
			won <- l
		}()
		revoke(t, admin, cs[curIdx], "w"+strconv.Itoa(curIdx))
		nl := <-won
		if nl == nil {
			t.FailNow()
		}
		attempt++
		publish(t, nl, attempt, "w"+strconv.Itoa(next))

		var wg sync.WaitGroup
		errs := make([]error, 2)
		leaders := []cluster.Leader{cur, nl}
		order := r.Perm(2)
		for _, k := range order {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[k] = leaders[k].CommitCheckpoint(ctxT(t), latest, ptr(latest+1, attempt, "l"+strconv.Itoa(k)))
			}()
		}
		wg.Wait()
		if !errors.Is(errs[0], cluster.ErrNotLeader) || errs[1] != nil {
			t.Fatalf("round %d: old leader %v, new leader %v", round, errs[0], errs[1])
		}
		latest++

		// The new leader's goroutines race on one pointer: one wins.
		const racers = 5
		rerrs := make([]error, racers)
		for k := range racers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rerrs[k] = nl.CommitCheckpoint(ctxT(t), latest, ptr(latest+1, attempt, "r"+strconv.Itoa(k)))
			}()
		}
		wg.Wait()
		winners := 0
		for k, err := range rerrs {
			switch {
			case err == nil:
				winners++
			case !errors.Is(err, cluster.ErrConflict):
				t.Fatalf("round %d racer %d: %v", round, k, err)
			}
		}
		if winners != 1 {
			t.Fatalf("round %d: %d racers won: %v", round, winners, rerrs)
		}
		latest++
		got, err := cs[0].LatestCheckpoint(ctxT(t))
		if err != nil || got.ID != latest || got.Attempt != attempt {
			t.Fatalf("round %d: latest %+v %v", round, got, err)
		}
		// the revoked worker rejoins for a later round
		ms[curIdx] = join(t, cs[curIdx], "w"+strconv.Itoa(curIdx))
		cur, curIdx = nl, next
	}
	assertHistory(t, admin, cs[0], latest)
}

// assertHistory replays every write of the checkpoint id key: the ids
// 1..n, each once, in order — nothing committed twice.
func assertHistory(t *testing.T, admin *clientv3.Client, c *Cluster, n int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	res, err := admin.Get(ctx, c.idKey())
	if err != nil || len(res.Kvs) != 1 {
		t.Fatalf("id key: %v %v", res, err)
	}
	var ids []int64
	wch := admin.Watch(ctx, c.idKey(), clientv3.WithRev(1))
	for len(ids) < int(n) {
		wr, ok := <-wch
		if !ok || wr.Err() != nil {
			t.Fatalf("history watch: %v (ids so far %v)", wr.Err(), ids)
		}
		for _, ev := range wr.Events {
			id, err := strconv.ParseInt(string(ev.Kv.Value), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
			if ev.Kv.ModRevision == res.Kvs[0].ModRevision && len(ids) != int(n) {
				t.Fatalf("history ends at %v; want 1..%d", ids, n)
			}
		}
	}
	for i, id := range ids {
		if id != int64(i+1) {
			t.Fatalf("committed ids %v; want 1..%d once each", ids, n)
		}
	}
	if res.Kvs[0].Version != n {
		t.Fatalf("id key written %d times, want %d", res.Kvs[0].Version, n)
	}
}

// TestEtcdLeaderKilled: while the coordinator commits checkpoint after
// checkpoint and a worker fences before each, the etcd leader is killed
// (at a random checkpoint) and later restarted: every call goes through
// (retried), and the history holds each checkpoint once.
func TestEtcdLeaderKilled(t *testing.T) {
	r := rand.New(rand.NewPCG(testseed.Seed(t), 4))
	ec := etcdtest.Start(t, 3)
	admin := ec.Client(t)
	c := open(t, ec, "kill", 10*time.Second)
	m := join(t, c, "w0")
	w := join(t, open(t, ec, "kill", 10*time.Second), "w1")
	l := campaign(t, m)
	publish(t, l, 1, "w0", "w1")
	// Watches opened before the kill go on after it.
	wctx, wcancel := context.WithCancel(context.Background())
	defer wcancel()
	watcher := open(t, ec, "kill", 10*time.Second)
	list, err := watcher.Members(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	events, werr := watcher.WatchMembers(wctx, list.Revision)
	assignments, aerr := watcher.WatchAssignment(wctx)
	if a := <-assignments; a.Attempt != 1 {
		t.Fatalf("assignment %+v (%v)", a, aerr())
	}
	// The commits run on their own goroutine; the kill and the restart
	// happen while they do, at random checkpoints, so that some calls are
	// cut mid-flight.
	const n = 60
	killAt, restartAt := 1+r.IntN(n/3), n/3+r.IntN(n/3)
	progress := make(chan int64, n)
	failed := make(chan error, 1)
	go func() {
		defer close(progress)
		for id := int64(1); id <= n; id++ {
			if err := w.Fence(ctxT(t), 1); err != nil {
				failed <- fmt.Errorf("fence before checkpoint %d: %w", id, err)
				return
			}
			if err := l.CommitCheckpoint(ctxT(t), id-1, ptr(id, 1, "k")); err != nil {
				failed <- fmt.Errorf("commit %d: %w", id, err)
				return
			}
			progress <- id
		}
	}()
	killed := -1
	for id := range progress {
		switch int(id) {
		case killAt:
			i, err := ec.KillLeader(ctxT(t))
			if err != nil {
				t.Fatal(err)
			}
			killed = i
			t.Logf("killed etcd member %d (the leader) after checkpoint %d", i, id)
		case restartAt:
			if err := ec.Restart(killed); err != nil {
				t.Fatal(err)
			}
			t.Logf("restarted etcd member %d after checkpoint %d", killed, id)
		}
	}
	select {
	case err := <-failed:
		t.Fatal(err)
	default:
	}
	select {
	case <-l.Done():
		t.Fatal("leadership lost across an etcd leader change")
	default:
	}
	assertHistory(t, admin, c, n)
	t.Logf("stats %+v", c.Stats())

	join(t, watcher, "w2")
	publish(t, l, 2, "w0", "w1", "w2")
	for {
		select {
		case e, ok := <-events:
			if !ok {
				t.Fatalf("member watch ended: %v", werr())
			}
			if e.Kind != cluster.Joined || e.Member.ID != "w2" {
				t.Fatalf("member event %v %s", e.Kind, e.Member.ID)
			}
		case <-time.After(wait):
			t.Fatal("the member watch did not see w2 join after the etcd leader was killed")
		}
		break
	}
	select {
	case a, ok := <-assignments:
		if !ok || a.Attempt != 2 {
			t.Fatalf("assignment %+v (%v)", a, aerr())
		}
	case <-time.After(wait):
		t.Fatal("the assignment watch did not see attempt 2 after the etcd leader was killed")
	}
}

// TestMembership: joins and leaves (by Leave and by a lease's end) arrive
// as events in order; a second live member with an id is refused.
func TestMembership(t *testing.T) {
	ec := etcdtest.Start(t, 3)
	admin := ec.Client(t)
	c := open(t, ec, "m", 10*time.Second)
	list, err := c.Members(ctxT(t))
	if err != nil || len(list.List) != 0 {
		t.Fatalf("members %+v %v", list, err)
	}
	events, werr := c.WatchMembers(ctxT(t), list.Revision)
	a := join(t, c, "a")
	b := join(t, open(t, ec, "m", 10*time.Second), "b")
	if _, err := c.Join(ctxT(t), cluster.Member{ID: "a", Slots: 1}); !errors.Is(err, cluster.ErrMemberExists) || !strings.Contains(err.Error(), `worker "a" cannot join: another live member has the id`) {
		t.Fatalf("second a: %v", err)
	}
	list, err = c.Members(ctxT(t))
	if err != nil || len(list.List) != 2 || list.List[0].ID != "a" || list.List[1].ID != "b" || list.List[0].Addr != "127.0.0.1:0" || list.List[0].Revision != a.Member().Revision {
		t.Fatalf("members %+v %v", list, err)
	}
	if err := a.Leave(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, a.Done(), "left member's Done")
	revoke(t, admin, c, "b")
	waitClosed(t, b.Done(), "revoked member's Done")
	a2 := join(t, c, "a") // the id is free again
	var got []string
	for len(got) < 5 {
		select {
		case e, ok := <-events:
			if !ok {
				t.Fatalf("watch ended: %v", werr())
			}
			got = append(got, fmt.Sprintf("%s %s/%d", e.Kind, e.Member.ID, e.Member.Slots))
		case <-time.After(wait):
			t.Fatalf("events so far %v", got)
		}
	}
	if want := "joined a/2, joined b/2, left a/2, left b/2, joined a/2"; strings.Join(got, ", ") != want {
		t.Fatalf("events %v, want %s", got, want)
	}
	if a2.Member().Revision <= a.Member().Revision {
		t.Fatalf("rejoined at revision %d, first at %d", a2.Member().Revision, a.Member().Revision)
	}
	if _, err := c.Join(ctxT(t), cluster.Member{ID: "x/y", Slots: 1}); err == nil {
		t.Fatal("id with a slash joined")
	}
}

// TestAssignmentWatch: workers see each attempt's assignment, the current
// one first.
func TestAssignmentWatch(t *testing.T) {
	ec := etcdtest.Start(t, 3)
	c := open(t, ec, "a", 10*time.Second)
	if _, err := c.Assignment(ctxT(t)); !errors.Is(err, cluster.ErrNoAssignment) {
		t.Fatalf("before any: %v", err)
	}
	l := campaign(t, join(t, c, "w0"))
	a1 := publish(t, l, 1, "w0")
	wctx, wcancel := context.WithCancel(context.Background())
	defer wcancel()
	ch, werr := open(t, ec, "a", 10*time.Second).WatchAssignment(wctx)
	recv := func() cluster.Assignment {
		select {
		case a, ok := <-ch:
			if !ok {
				t.Fatalf("watch ended: %v", werr())
			}
			return a
		case <-time.After(wait):
			t.Fatal("no assignment")
		}
		return cluster.Assignment{}
	}
	if got := recv(); got.Attempt != 1 || got.Token != l.Leadership().Token || got.Subtasks[0] != a1.Subtasks[0] {
		t.Fatalf("first %+v", got)
	}
	publish(t, l, 3, "w0", "w1")
	if got := recv(); got.Attempt != 3 || len(got.Of("w1")) != 1 {
		t.Fatalf("second %+v", got)
	}
	wcancel()
	for range ch {
	}
	if err := werr(); err != nil {
		t.Fatalf("watch ended by its context: %v", err)
	}
	cur, err := c.Assignment(ctxT(t))
	if err != nil || cur.Attempt != 3 {
		t.Fatalf("current %+v %v", cur, err)
	}
}

// TestDefinitionMismatch: the first worker stores the job's definition; a
// worker with the same one joins, one with another is refused with each
// difference named.
func TestDefinitionMismatch(t *testing.T) {
	ec := etcdtest.Start(t, 3)
	d := cluster.Definition{Job: "q5", Parallelism: 3, MaxParallelism: 128, SQLHash: cluster.HashSQL("INSERT INTO out SELECT * FROM bids"),
		Operators: []cluster.Operator{{Name: "bids", Kind: "source", Parallelism: 3}, {Name: "hop", Kind: "window", Parallelism: 3}}}
	if err := open(t, ec, "q5", 10*time.Second).CheckDefinition(ctxT(t), d); err != nil {
		t.Fatal(err)
	}
	c := open(t, ec, "q5", 10*time.Second)
	if err := c.CheckDefinition(ctxT(t), d); err != nil {
		t.Fatalf("same definition: %v", err)
	}
	other := d
	other.Parallelism = 4
	other.Operators = []cluster.Operator{{Name: "bids", Kind: "source", Parallelism: 3}, {Name: "tumble", Kind: "window", Parallelism: 3}}
	err := c.CheckDefinition(ctxT(t), other)
	var mm *cluster.DefinitionMismatchError
	if !errors.As(err, &mm) || !errors.Is(err, cluster.ErrDefinitionMismatch) {
		t.Fatalf("other definition: %v", err)
	}
	want := []string{"parallelism: running 3, this worker 4", `operator 1: running window "hop" (parallelism 3), this worker window "tumble" (parallelism 3)`}
	if strings.Join(mm.Differences, "|") != strings.Join(want, "|") {
		t.Fatalf("differences %q, want %q", mm.Differences, want)
	}
}

// TestUnreachable: with every etcd member down, each call returns an
// error that Is ErrUnavailable once its context ends — nothing hangs, no
// commit is made — and after the members come back the retried commit is
// made once.
func TestUnreachable(t *testing.T) {
	ec := etcdtest.Start(t, 3)
	admin := ec.Client(t)
	c := open(t, ec, "u", 10*time.Second)
	m := join(t, c, "w0")
	l := campaign(t, m)
	publish(t, l, 1, "w0")
	if err := l.CommitCheckpoint(ctxT(t), 0, ptr(1, 1, "u")); err != nil {
		t.Fatal(err)
	}
	for i := range ec.Size() {
		if err := ec.Kill(i); err != nil {
			t.Fatal(err)
		}
	}
	short := func() context.Context {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		t.Cleanup(cancel)
		return ctx
	}
	if err := l.CommitCheckpoint(short(), 1, ptr(2, 1, "u")); !errors.Is(err, cluster.ErrUnavailable) {
		t.Fatalf("commit with etcd down: %v", err)
	} else {
		t.Logf("commit with etcd down: %v", err)
	}
	if err := m.Fence(short(), 1); !errors.Is(err, cluster.ErrUnavailable) {
		t.Fatalf("fence with etcd down: %v", err)
	}
	if _, err := c.Members(short()); !errors.Is(err, cluster.ErrUnavailable) {
		t.Fatalf("members with etcd down: %v", err)
	}
	if _, err := c.Join(short(), cluster.Member{ID: "w9", Slots: 1}); !errors.Is(err, cluster.ErrUnavailable) {
		t.Fatalf("join with etcd down: %v", err)
	}
	if _, err := c.LatestCheckpoint(short()); !errors.Is(err, cluster.ErrUnavailable) {
		t.Fatalf("latest with etcd down: %v", err)
	}
	for i := range ec.Size() {
		if err := ec.Restart(i); err != nil {
			t.Fatal(err)
		}
	}
	if err := ec.WaitHealthy(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	// The lease may have expired while etcd was down (its TTL restarts
	// with the new leader, so usually it has not): either the commit goes
	// through once or the leader knows it is no longer one.
	err := l.CommitCheckpoint(ctxT(t), 1, ptr(2, 1, "u"))
	switch {
	case err == nil:
		assertHistory(t, admin, c, 2)
	case errors.Is(err, cluster.ErrNotLeader):
		assertHistory(t, admin, c, 1)
	default:
		t.Fatalf("commit after etcd came back: %v", err)
	}
}

// TestOpenRefusals: bad configurations are named.
func TestOpenRefusals(t *testing.T) {
	for _, c := range []struct {
		cfg  Config
		want string
	}{
		{Config{Endpoints: []string{"127.0.0.1:1"}}, "no job name given"},
		{Config{Endpoints: []string{"127.0.0.1:1"}, Job: "a/b"}, `job name "a/b" contains '/'`},
		{Config{Job: "j"}, "neither a client nor endpoints given"},
		{Config{Endpoints: []string{"127.0.0.1:1"}, Job: "j", LeaseTTL: 1500 * time.Millisecond}, "lease TTL 1.5s must be whole seconds"},
	} {
		_, err := Open(c.cfg)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Open(%+v) = %v, want %q", c.cfg, err, c.want)
		}
	}
}

// TestLostAnswers: a commit and a publication that etcd applied but whose
// answers were lost are retried, found done, and count once.
func TestLostAnswers(t *testing.T) {
	ec := etcdtest.Start(t, 3)
	admin := ec.Client(t)
	c := open(t, ec, "lost", 10*time.Second)
	var mu sync.Mutex
	dropped := map[string]bool{}
	c.loseAnswer = func(what string) bool {
		mu.Lock()
		defer mu.Unlock()
		if dropped[what] {
			return false
		}
		dropped[what] = true
		return true
	}
	l := campaign(t, join(t, c, "w0"))
	publish(t, l, 1, "w0")
	for id := int64(1); id <= 3; id++ {
		if err := l.CommitCheckpoint(ctxT(t), id-1, ptr(id, 1, "x")); err != nil {
			t.Fatalf("commit %d: %v", id, err)
		}
	}
	if s := c.Stats(); s.Redundant != 4 {
		t.Fatalf("stats %+v: want 4 found done on retry", s)
	}
	assertHistory(t, admin, c, 3)
	// A commit found done is this leader's only: another pointer at the
	// same id is a conflict, not a success.
	if err := l.CommitCheckpoint(ctxT(t), 2, ptr(3, 1, "y")); !errors.Is(err, cluster.ErrConflict) {
		t.Fatalf("other pointer at a committed id: %v", err)
	}
}
