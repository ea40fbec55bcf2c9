// Package etcdcluster starts a real multi-member etcd cluster on loopback
// for tests: free ports, a temporary data directory per member, a wait for
// health, and the faults the coordination tests need — kill a member
// (SIGKILL) and restart it from its data, pause (SIGSTOP) and resume it,
// find the Raft leader and kill it. It is test support: production code
// never starts servers.
//
// The etcd binary is SLUICE_ETCD_BIN (set by .ci/setup.d/50-etcd.sh), else
// etcd on PATH; without one Start skips the test, or fails it when
// SLUICE_REQUIRE_INTEGRATION=1.
package etcdcluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// Bin returns the etcd binary to start, or "".
func Bin() string {
	if b := os.Getenv("SLUICE_ETCD_BIN"); b != "" {
		return b
	}
	b, _ := exec.LookPath("etcd")
	return b
}

// Cluster is a running etcd cluster of a test.
type Cluster struct {
	bin     string
	members []*member
	initial string // --initial-cluster
}

type member struct {
	name, client, peer, dir string

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd has exited
	out    *lockedBuffer
}

// Start starts an n-member cluster for the test and waits until every
// member answers and a leader is elected; the test's cleanup kills it.
func Start(t testing.TB, n int) *Cluster {
	t.Helper()
	bin := Bin()
	if bin == "" {
		if os.Getenv("SLUICE_REQUIRE_INTEGRATION") == "1" {
			t.Fatal("etcd is needed (SLUICE_ETCD_BIN, or etcd on PATH; .ci/setup.d/50-etcd.sh installs it) and SLUICE_REQUIRE_INTEGRATION=1")
		}
		t.Skip("no etcd (set SLUICE_ETCD_BIN or install etcd-server: .ci/setup.d/50-etcd.sh)")
	}
	var lastErr error
	for range 3 { // a free port may be taken between probe and bind
		c, err := start(bin, n, t.TempDir())
		if err == nil {
			t.Cleanup(c.Close)
			return c
		}
		lastErr = err
	}
	t.Fatalf("etcd cluster did not start: %v", lastErr)
	return nil
}

func start(bin string, n int, dir string) (*Cluster, error) {
	ports, err := freePorts(2 * n)
	if err != nil {
		return nil, err
	}
	c := &Cluster{bin: bin}
	var initial []string
	for i := range n {
		m := &member{
			name:   "m" + strconv.Itoa(i),
			client: "http://127.0.0.1:" + strconv.Itoa(ports[2*i]),
			peer:   "http://127.0.0.1:" + strconv.Itoa(ports[2*i+1]),
			dir:    filepath.Join(dir, "m"+strconv.Itoa(i)),
		}
		c.members = append(c.members, m)
		initial = append(initial, m.name+"="+m.peer)
	}
	c.initial = strings.Join(initial, ",")
	for i := range c.members {
		if err := c.run(i, "new"); err != nil {
			c.Close()
			return nil, err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := c.WaitHealthy(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func (c *Cluster) run(i int, state string) error {
	m := c.members[i]
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd != nil {
		select {
		case <-m.exited:
		default:
			return fmt.Errorf("etcd member %d is running", i)
		}
	}
	out := &lockedBuffer{}
	cmd := exec.Command(c.bin, "--name", m.name, "--data-dir", m.dir,
		"--listen-client-urls", m.client, "--advertise-client-urls", m.client,
		"--listen-peer-urls", m.peer, "--initial-advertise-peer-urls", m.peer,
		"--initial-cluster", c.initial, "--initial-cluster-state", state,
		"--initial-cluster-token", "sluice-test",
		"--log-level", "error", "--logger", "zap")
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", c.bin, err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait() // the exit is the point; its status is in the output
		close(exited)
	}()
	m.cmd, m.exited, m.out = cmd, exited, out
	return nil
}

// Size returns the number of members.
func (c *Cluster) Size() int { return len(c.members) }

// Endpoints returns every member's client URL.
func (c *Cluster) Endpoints() []string {
	var out []string
	for _, m := range c.members {
		out = append(out, m.client)
	}
	return out
}

// Endpoint returns member i's client URL.
func (c *Cluster) Endpoint(i int) string { return c.members[i].client }

// Client returns a client of every member, closed by the test's cleanup.
func (c *Cluster) Client(t testing.TB) *clientv3.Client {
	t.Helper()
	cl, err := clientv3.New(clientv3.Config{Endpoints: c.Endpoints(), DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatalf("etcd client: %v", err)
	}
	t.Cleanup(func() { cl.Close() })
	return cl
}

// Running reports whether member i's process is alive (paused counts).
func (c *Cluster) Running(i int) bool {
	m := c.members[i]
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd == nil {
		return false
	}
	select {
	case <-m.exited:
		return false
	default:
		return true
	}
}

// Kill kills member i with SIGKILL and waits for it to exit.
func (c *Cluster) Kill(i int) error {
	m := c.members[i]
	m.mu.Lock()
	cmd, exited := m.cmd, m.exited
	m.mu.Unlock()
	if cmd == nil {
		return fmt.Errorf("etcd member %d never started", i)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("kill etcd member %d: %w", i, err)
	}
	<-exited
	return nil
}

// Restart starts member i again from its data directory, after Kill.
func (c *Cluster) Restart(i int) error { return c.run(i, "existing") }

// Pause stops member i with SIGSTOP; Resume continues it.
func (c *Cluster) Pause(i int) error  { return c.signal(i, syscall.SIGSTOP) }
func (c *Cluster) Resume(i int) error { return c.signal(i, syscall.SIGCONT) }

func (c *Cluster) signal(i int, s syscall.Signal) error {
	m := c.members[i]
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd == nil {
		return fmt.Errorf("etcd member %d never started", i)
	}
	if err := m.cmd.Process.Signal(s); err != nil {
		return fmt.Errorf("signal %v to etcd member %d: %w", s, i, err)
	}
	return nil
}

// Leader returns the index of the Raft leader, as the running members
// report it (they must agree), waiting until there is one or ctx ends.
func (c *Cluster) Leader(ctx context.Context) (int, error) {
	for {
		i, err := c.leaderOnce(ctx)
		if err == nil {
			return i, nil
		}
		select {
		case <-ctx.Done():
			return -1, fmt.Errorf("etcd leader: %w (last: %v)", ctx.Err(), err)
		case <-time.After(50 * time.Millisecond): // polling the members' status; no timing asserted
		}
	}
}

func (c *Cluster) leaderOnce(ctx context.Context) (int, error) {
	ids := make([]uint64, len(c.members))
	var leader uint64
	for i, m := range c.members {
		if !c.Running(i) {
			continue
		}
		id, l, err := status(ctx, m.client)
		if err != nil {
			return -1, err
		}
		ids[i] = id
		if l == 0 {
			return -1, fmt.Errorf("member %d knows no leader", i)
		}
		if leader != 0 && l != leader {
			return -1, fmt.Errorf("members disagree on the leader (%x, %x)", leader, l)
		}
		leader = l
	}
	for i, id := range ids {
		if id != 0 && id == leader {
			return i, nil
		}
	}
	return -1, fmt.Errorf("leader %x is not a running member", leader)
}

func status(ctx context.Context, ep string) (id, leader uint64, err error) {
	cl, err := clientv3.New(clientv3.Config{Endpoints: []string{ep}, DialTimeout: 2 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		return 0, 0, err
	}
	defer cl.Close()
	sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	st, err := cl.Status(sctx, ep)
	if err != nil {
		return 0, 0, fmt.Errorf("status of %s: %w", ep, err)
	}
	return st.Header.MemberId, st.Leader, nil
}

// KillLeader kills the Raft leader and returns its index.
func (c *Cluster) KillLeader(ctx context.Context) (int, error) {
	i, err := c.Leader(ctx)
	if err != nil {
		return -1, err
	}
	return i, c.Kill(i)
}

// WaitHealthy waits until every running member answers a linearizable read
// (so a leader is elected) or ctx ends.
func (c *Cluster) WaitHealthy(ctx context.Context) error {
	for i, m := range c.members {
		if !c.Running(i) {
			continue
		}
		if err := c.waitMember(ctx, i, m); err != nil {
			return err
		}
	}
	return nil
}

func (c *Cluster) waitMember(ctx context.Context, i int, m *member) error {
	cl, err := clientv3.New(clientv3.Config{Endpoints: []string{m.client}, DialTimeout: 2 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		return fmt.Errorf("etcd member %d: client: %w", i, err)
	}
	defer cl.Close()
	for {
		gctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, err = cl.Get(gctx, "health")
		cancel()
		if err == nil {
			return nil
		}
		m.mu.Lock()
		exited, out := m.exited, m.out
		m.mu.Unlock()
		select {
		case <-exited:
			return fmt.Errorf("etcd member %d exited: %s", i, out.String())
		case <-ctx.Done():
			return fmt.Errorf("etcd member %d not healthy on %s: %w (last: %v): %s", i, m.client, ctx.Err(), err, out.String())
		case <-time.After(50 * time.Millisecond): // polling for health; no timing asserted
		}
	}
}

// Output returns what member i wrote (its errors), for a failing test.
func (c *Cluster) Output(i int) string {
	m := c.members[i]
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.out == nil {
		return ""
	}
	return m.out.String()
}

// Close kills every member (resuming paused ones first) and waits for them.
func (c *Cluster) Close() {
	for i, m := range c.members {
		m.mu.Lock()
		cmd, exited := m.cmd, m.exited
		m.mu.Unlock()
		if cmd == nil {
			continue
		}
		_ = c.signal(i, syscall.SIGCONT) // it may have exited already
		_ = cmd.Process.Signal(syscall.SIGKILL)
		<-exited
	}
}

func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
