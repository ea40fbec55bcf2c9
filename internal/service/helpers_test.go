package service

import (
	"context"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/smithy-go"
)

// env is a service started in process on 127.0.0.1 for one test.
type env struct {
	dir, addr string
	svc       *Service
	fh        *firehose.Client
	kin       *kinesis.Client
	stop      func()
}

func startEnv(t *testing.T, dir string) *env {
	t.Helper()
	return startEnvWith(t, dir, func(*Options) {})
}

func startEnvWith(t *testing.T, dir string, set func(*Options)) *env {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	opts := Options{Dir: dir, CheckpointInterval: 100 * time.Millisecond, ErrorLog: t.Logf}
	set(&opts)
	svc, err := Open(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- svc.Serve(ctx, ln) }()
	e := &env{dir: dir, addr: ln.Addr().String(), svc: svc}
	e.fh, e.kin = clients("http://" + e.addr)
	stopped := false
	e.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		if err := svc.Close(context.Background()); err != nil {
			t.Errorf("close: %v", err)
		}
	}
	t.Cleanup(e.stop)
	return e
}

// retryer retries only connection errors, so that every error a test
// provokes reaches it unretried.
func retryer() aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = 5
		o.MaxBackoff = 50 * time.Millisecond
		o.Retryables = []retry.IsErrorRetryable{retry.RetryableConnectionError{}}
		o.RateLimiter = ratelimit.None
	})
}

func clients(endpoint string) (*firehose.Client, *kinesis.Client) {
	creds := credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", "")
	fh := firehose.New(firehose.Options{Region: "us-east-1", BaseEndpoint: aws.String(endpoint), Credentials: creds, Retryer: retryer()})
	kin := kinesis.New(kinesis.Options{Region: "us-east-1", BaseEndpoint: aws.String(endpoint), Credentials: creds, Retryer: retryer()})
	return fh, kin
}

// apiErr checks that err is the service error code with message msg
// ("" checks only the code).
func apiErr(t *testing.T, err error, code, msg string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("want %s, got %v", code, err)
	}
	if ae.ErrorCode() != code || msg != "" && ae.ErrorMessage() != msg {
		t.Fatalf("want %s %q,\n got %s %q", code, msg, ae.ErrorCode(), ae.ErrorMessage())
	}
}

// objects returns the visible objects of a bucket directory: key → data.
func objects(t *testing.T, bucketDir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(bucketDir, func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(bucketDir, p)
		if d.IsDir() {
			if strings.HasPrefix(d.Name(), ".") && p != bucketDir {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasPrefix(d.Name(), ".") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		out[rel] = string(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// lines are the newline-terminated records of a bucket's objects, sorted.
func lines(t *testing.T, bucketDir string) []string {
	var out []string
	for _, body := range objects(t, bucketDir) {
		for _, l := range strings.Split(body, "\n") {
			if l != "" {
				out = append(out, l)
			}
		}
	}
	sort.Strings(out)
	return out
}

// waitLines waits until a bucket holds at least n records.
func waitLines(t *testing.T, bucketDir string, n int) []string {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		got := lines(t, bucketDir)
		if len(got) >= n || time.Now().After(deadline) {
			return got
		}
		time.Sleep(20 * time.Millisecond)
	}
}
