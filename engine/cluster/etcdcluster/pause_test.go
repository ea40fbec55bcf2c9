package etcdcluster

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluicehq/sluice/engine/cluster"
	etcdtest "github.com/sluicehq/sluice/internal/testsupport/etcdcluster"
)

const helperEnv = "SLUICE_ETCDCLUSTER_PAUSED_LEADER"

// TestPausedLeaderProcess: the coordinator is another process; it is
// paused (SIGSTOP) past its lease TTL, another worker is elected and
// commits, and when the paused process continues its commit and its fence
// fail — it learns it is fenced only from etcd.
func TestPausedLeaderProcess(t *testing.T) {
	ec := etcdtest.Start(t, 3)
	c := open(t, ec, "paused", 10*time.Second) // the child's lease is 3s; the parent's must outlive the pause
	list, err := c.Members(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	events, werr := c.WatchMembers(ctxT(t), list.Revision)

	cmd := exec.Command(os.Args[0], "-test.run=^TestPausedLeaderHelper$", "-test.v")
	cmd.Env = append(os.Environ(), helperEnv+"="+strings.Join(ec.Endpoints(), ","))
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGCONT)
		_ = cmd.Process.Kill() // it may have exited already
		_ = cmd.Wait()
	})
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	expect := func(prefix string) string {
		t.Helper()
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("helper exited before %q", prefix)
				}
				if strings.HasPrefix(l, prefix) {
					return l
				}
			case <-time.After(wait):
				t.Fatalf("helper: no %q line", prefix)
			}
		}
	}
	expect("LEADER ")
	if err := cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	// Its lease expires: the watch sees it leave.
	for left := false; !left; {
		select {
		case e, ok := <-events:
			if !ok {
				t.Fatalf("watch ended: %v", werr())
			}
			left = e.Kind == cluster.Left && e.Member.ID == "child"
		case <-time.After(wait):
			t.Fatal("the paused leader's lease did not expire")
		}
	}
	l := campaign(t, join(t, c, "parent"))
	publish(t, l, 2, "parent")
	if err := l.CommitCheckpoint(ctxT(t), 1, ptr(2, 2, "parent")); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	if _, err := fmt.Fprintln(stdin, "commit"); err != nil {
		t.Fatal(err)
	}
	if got := expect("COMMIT "); got != "COMMIT not-leader" {
		t.Fatalf("the resumed leader's commit: %s", got)
	}
	if got := expect("FENCE "); got != "FENCE fenced" {
		t.Fatalf("the resumed worker's fence: %s", got)
	}
	p, err := c.LatestCheckpoint(ctxT(t))
	if err != nil || p != ptr(2, 2, "parent") {
		t.Fatalf("latest %+v %v", p, err)
	}
}

// TestPausedLeaderHelper is the paused process of TestPausedLeaderProcess.
func TestPausedLeaderHelper(t *testing.T) {
	eps := os.Getenv(helperEnv)
	if eps == "" {
		t.Skip("the child process of TestPausedLeaderProcess")
	}
	c, err := Open(Config{Endpoints: strings.Split(eps, ","), Job: "paused", LeaseTTL: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*wait)
	defer cancel()
	m, err := c.Join(ctx, cluster.Member{ID: "child", Slots: 1})
	if err != nil {
		t.Fatal(err)
	}
	l, err := m.Campaign(ctx)
	if err != nil {
		t.Fatal(err)
	}
	a, err := cluster.Assign(nil, []cluster.Member{m.Member()}, 1, 128)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.PublishAssignment(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := l.CommitCheckpoint(ctx, 0, ptr(1, 1, "child")); err != nil {
		t.Fatal(err)
	}
	fmt.Printf("LEADER %d\n", l.Leadership().Token)
	in := bufio.NewScanner(os.Stdin)
	if !in.Scan() {
		t.Fatal("no command")
	}
	err = l.CommitCheckpoint(ctx, 1, ptr(2, 1, "child"))
	switch {
	case errors.Is(err, cluster.ErrNotLeader):
		fmt.Println("COMMIT not-leader")
	default:
		fmt.Printf("COMMIT %v\n", err)
	}
	err = m.Fence(ctx, 1)
	switch {
	case errors.Is(err, cluster.ErrFenced):
		fmt.Println("FENCE fenced")
	default:
		fmt.Printf("FENCE %v\n", err)
	}
}
