package consumer

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// etcdBin is the etcd server the tests start: SLUICE_ETCD_BIN (set by
// .ci/setup.d/50-etcd.sh), else etcd on PATH. Without one the etcd tests
// skip, or fail when SLUICE_REQUIRE_INTEGRATION=1.
func etcdBin(t testing.TB) string {
	t.Helper()
	bin := os.Getenv("SLUICE_ETCD_BIN")
	if bin == "" {
		bin, _ = exec.LookPath("etcd")
	}
	if bin == "" {
		if os.Getenv("SLUICE_REQUIRE_INTEGRATION") == "1" {
			t.Fatal("etcd is needed (SLUICE_ETCD_BIN, or etcd on PATH; .ci/setup.d/50-etcd.sh installs it) and SLUICE_REQUIRE_INTEGRATION=1")
		}
		t.Skip("no etcd (set SLUICE_ETCD_BIN or install etcd-server: .ci/setup.d/50-etcd.sh)")
	}
	return bin
}

func freePorts(t testing.TB, n int) []int {
	t.Helper()
	var ls []net.Listener
	var ports []int
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return ports
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

// startEtcd starts a one-member etcd on 127.0.0.1 (random ports, a
// temporary data directory) for the test and returns its client endpoint.
func startEtcd(t testing.TB) string {
	t.Helper()
	bin := etcdBin(t)
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		ep, err := tryStartEtcd(t, bin)
		if err == nil {
			return ep
		}
		lastErr = err
	}
	t.Fatalf("etcd did not start: %v", lastErr)
	return ""
}

func tryStartEtcd(t testing.TB, bin string) (string, error) {
	ports := freePorts(t, 2)
	client, peer := "http://127.0.0.1:"+strconv.Itoa(ports[0]), "http://127.0.0.1:"+strconv.Itoa(ports[1])
	dir := filepath.Join(t.TempDir(), "etcd")
	out := &lockedBuffer{}
	cmd := exec.Command(bin, "--name", "test", "--data-dir", dir,
		"--listen-client-urls", client, "--advertise-client-urls", client,
		"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
		"--initial-cluster", "test="+peer, "--initial-cluster-state", "new",
		"--log-level", "error", "--logger", "zap")
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("start %s: %w", bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		_ = cmd.Process.Kill() // it may have exited already
		<-exited
	}
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{client}, DialTimeout: 5 * time.Second, Logger: nopLogger()})
	if err != nil {
		stop()
		return "", fmt.Errorf("etcd client: %w", err)
	}
	defer c.Close()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err = c.Get(ctx, "probe")
		cancel()
		if err == nil {
			break
		}
		select {
		case werr := <-exited:
			exited <- werr
			stop()
			return "", fmt.Errorf("etcd exited (%v): %s", werr, out.String())
		default:
		}
		if time.Now().After(deadline) {
			stop()
			return "", fmt.Errorf("etcd not answering on %s: %v: %s", client, err, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Cleanup(stop)
	return client, nil
}
