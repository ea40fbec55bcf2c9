package etcdcluster

import (
	"context"
	"testing"
	"time"
)

// TestKillLeaderAndRestart: a 3-member cluster elects a new leader when its
// leader is killed, keeps what was written, and takes the killed member
// back from its data directory.
func TestKillLeaderAndRestart(t *testing.T) {
	c := Start(t, 3)
	cl := c.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := cl.Put(ctx, "k", "v1"); err != nil {
		t.Fatal(err)
	}
	old, err := c.KillLeader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c.Running(old) {
		t.Fatalf("member %d still running after kill", old)
	}
	now, err := c.Leader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if now == old {
		t.Fatalf("leader %d again after it was killed", now)
	}
	if _, err := cl.Put(ctx, "k", "v2"); err != nil {
		t.Fatalf("put with 2 of 3 members: %v", err)
	}
	if err := c.Restart(old); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitHealthy(ctx); err != nil {
		t.Fatal(err)
	}
	res, err := cl.Get(ctx, "k")
	if err != nil || len(res.Kvs) != 1 || string(res.Kvs[0].Value) != "v2" {
		t.Fatalf("get after restart: %v %v", res, err)
	}
}
