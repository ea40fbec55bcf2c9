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
	"errors"
	"os"
	"sync"
	"testing"

	"github.com/sluicehq/sluice/connectors/s3"
	"github.com/sluicehq/sluice/internal/testsupport/minio"
)

var (
	mu       sync.Mutex
	server   *minio.Server
	tried    bool
	startErr error
)

// Main runs the tests and stops a server started by Config.
func Main(m *testing.M) {
	code := m.Run()
	mu.Lock()
	if server != nil {
		server.Stop()
	}
	mu.Unlock()
	os.Exit(code)
}

// Config returns the configuration of a new, empty bucket on the test
// server (path-style addressing, static credentials).
func Config(t testing.TB) s3.Config {
	t.Helper()
	endpoint, access, secret := os.Getenv("SLUICE_S3_ENDPOINT"), os.Getenv("SLUICE_S3_ACCESS_KEY"), os.Getenv("SLUICE_S3_SECRET_KEY")
	if endpoint == "" {
		mu.Lock()
		if !tried {
			tried = true
			if bin := minio.Find(); bin == "" {
				startErr = errors.New("no MinIO binary")
			} else {
				server, startErr = minio.Start(context.Background(), bin)
			}
		}
		if server != nil {
			endpoint, access, secret = server.Endpoint, server.AccessKey, server.SecretKey
		}
		err := startErr
		mu.Unlock()
		if err != nil {
			msg := "skipping S3 integration test: " + err.Error() + " (set SLUICE_S3_ENDPOINT or build MinIO with .ci/setup.d/40-minio.sh)"
			if os.Getenv("SLUICE_REQUIRE_INTEGRATION") == "1" {
				t.Fatalf("SLUICE_REQUIRE_INTEGRATION=1: %s", msg)
			}
			t.Skip(msg)
		}
	}
	var rnd [4]byte
	rand.Read(rnd[:])
	cfg := s3.Config{
		Bucket: "sluice-test-" + hex.EncodeToString(rnd[:]), Endpoint: endpoint, Region: "us-east-1",
		UsePathStyle: true, AccessKeyID: access, SecretAccessKey: secret,
	}
	b, err := s3.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.CreateBucket(context.Background()); err != nil {
		t.Fatalf("create bucket on %s: %v", endpoint, err)
	}
	return cfg
}
