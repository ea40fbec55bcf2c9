// Package s3test gives integration tests a real S3-compatible server:
// the one named by SLUICE_S3_ENDPOINT (with SLUICE_S3_ACCESS_KEY and
// SLUICE_S3_SECRET_KEY), else a MinIO the test process starts itself from
// SLUICE_MINIO_BIN or the CI cache ($HOME/.cache/sluice-ci/minio-*/minio),
// on 127.0.0.1 with a temporary directory. Without either, tests skip —
// or fail when SLUICE_REQUIRE_INTEGRATION=1.
//
// Packages that use it call Main from TestMain so that a server they
// started is stopped when the tests end.
package s3test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connectors/s3"
)

var (
	mu       sync.Mutex
	started  *exec.Cmd
	tmpDir   string
	endpoint string
	access   = "sluicetest"
	secret   = "sluicetest-secret-key"
	startErr error
	tried    bool
)

// Main runs the tests and stops a server started by Config.
func Main(m *testing.M) {
	code := m.Run()
	mu.Lock()
	if started != nil {
		started.Process.Kill()
		started.Wait()
		os.RemoveAll(tmpDir)
	}
	mu.Unlock()
	os.Exit(code)
}

func binary() string {
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

func skipOrFail(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv("SLUICE_REQUIRE_INTEGRATION") == "1" {
		t.Fatalf("integration prerequisite missing (SLUICE_REQUIRE_INTEGRATION=1): %s", msg)
	}
	t.Skipf("skipping S3 integration test: %s (set SLUICE_S3_ENDPOINT or build MinIO with .ci/setup.d/40-minio.sh)", msg)
}

func start() error {
	bin := binary()
	if bin == "" {
		return fmt.Errorf("no MinIO binary")
	}
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("MinIO binary: %w", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	addr := l.Addr().String()
	l.Close()
	l2, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	console := l2.Addr().String()
	l2.Close()
	tmpDir, err = os.MkdirTemp("", "sluice-minio-")
	if err != nil {
		return err
	}
	cmd := exec.Command(bin, "server", "--quiet", "--address", addr, "--console-address", console, tmpDir)
	cmd.Env = append(os.Environ(), "MINIO_ROOT_USER="+access, "MINIO_ROOT_PASSWORD="+secret, "MINIO_BROWSER=off")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // never outlive the test binary
	if err := cmd.Start(); err != nil {
		return err
	}
	started = cmd
	endpoint = "http://" + addr
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(endpoint + "/minio/health/live")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("MinIO at %s did not become ready", endpoint)
}

// Config returns the configuration of a new, empty bucket on the test
// server (path-style addressing, static credentials).
func Config(t testing.TB) s3.Config {
	t.Helper()
	mu.Lock()
	if os.Getenv("SLUICE_S3_ENDPOINT") != "" {
		endpoint = os.Getenv("SLUICE_S3_ENDPOINT")
		access, secret = os.Getenv("SLUICE_S3_ACCESS_KEY"), os.Getenv("SLUICE_S3_SECRET_KEY")
	} else if !tried {
		tried = true
		startErr = start()
	}
	ep, err := endpoint, startErr
	mu.Unlock()
	if ep == "" || err != nil {
		if err == nil {
			err = fmt.Errorf("no server")
		}
		skipOrFail(t, err.Error())
	}
	var rnd [4]byte
	rand.Read(rnd[:])
	cfg := s3.Config{
		Bucket: "sluice-test-" + hex.EncodeToString(rnd[:]), Endpoint: ep, Region: "us-east-1",
		UsePathStyle: true, AccessKeyID: access, SecretAccessKey: secret,
	}
	b, err := s3.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.CreateBucket(context.Background()); err != nil {
		t.Fatalf("create bucket on %s: %v", ep, err)
	}
	return cfg
}
