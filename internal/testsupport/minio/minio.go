// Package minio starts a local MinIO server for tests and benchmarks (the
// S3 integration tests through connectors/s3/s3test, `sluice bench
// firehose`). It is test support: production code never starts servers.
package minio

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"syscall"
	"time"
)

// Server is a local MinIO server started by Start, for tests and
// benchmarks. It listens on 127.0.0.1 only and keeps its data in a
// temporary directory removed by Stop.
type Server struct {
	Endpoint, AccessKey, SecretKey string

	cmd *exec.Cmd
	dir string
}

// Find returns the MinIO binary named by SLUICE_MINIO_BIN, else the
// newest one cached by .ci/setup.d/40-minio.sh under
// $HOME/.cache/sluice-ci/, else "".
func Find() string {
	if b := os.Getenv("SLUICE_MINIO_BIN"); b != "" {
		return b
	}
	home, _ := os.UserHomeDir()
	matches, _ := filepath.Glob(filepath.Join(home, ".cache", "sluice-ci", "minio-*", "minio"))
	sort.Strings(matches)
	if len(matches) > 0 {
		return matches[len(matches)-1]
	}
	return ""
}

// Start starts bin on free loopback ports and waits until it is
// ready. The server is killed if this process dies (Linux).
func Start(ctx context.Context, bin string) (*Server, error) {
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("minio: binary: %w", err)
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	console, err := freeAddr()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "sluice-minio-")
	if err != nil {
		return nil, err
	}
	m := &Server{Endpoint: "http://" + addr, AccessKey: "sluicetest", SecretKey: "sluicetest-secret-key", dir: dir}
	m.cmd = exec.Command(bin, "server", "--quiet", "--address", addr, "--console-address", console, dir)
	m.cmd.Env = append(os.Environ(), "MINIO_ROOT_USER="+m.AccessKey, "MINIO_ROOT_PASSWORD="+m.SecretKey, "MINIO_BROWSER=off")
	m.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := m.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("minio: start: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, m.Endpoint+"/minio/health/live", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return m, nil
			}
		}
		select {
		case <-ctx.Done():
			m.Stop()
			return nil, fmt.Errorf("minio: server at %s did not become ready: %w", m.Endpoint, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Stop kills the server and removes its data.
func (m *Server) Stop() error {
	m.cmd.Process.Kill()
	m.cmd.Wait()
	return os.RemoveAll(m.dir)
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}
