package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"
)

const serveConfig = `{
  "streams": [{"name": "events", "shard_count": 2}],
  "delivery_streams": [
    {"DeliveryStreamName": "kill",
     "ExtendedS3DestinationConfiguration": {
       "RoleARN": "arn:aws:iam::000000000000:role/firehose",
       "BucketARN": "arn:aws:s3:::lake",
       "BufferingHints": {"IntervalInSeconds": 1, "SizeInMBs": 1}}}
  ]
}`

// served is a `sluice serve` process.
type served struct {
	cmd    *exec.Cmd
	addr   string
	stdout *bytes.Buffer
	mu     *sync.Mutex
	done   chan error
}

// startServe runs the built binary on dir with serveConfig, on a port of
// its choosing, and waits until it serves.
func startServe(t *testing.T, dir string, extra ...string) *served {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "serve.json")
	if err := os.WriteFile(cfg, []byte(serveConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"serve", "--data", dir, "--addr", "127.0.0.1:0", "--config", cfg, "--checkpoint-interval", "200ms"}, extra...)
	cmd := exec.Command(sluiceBinary(t), args...)
	pr, pw := io.Pipe()
	cmd.Stdout = pw
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &served{cmd: cmd, stdout: &bytes.Buffer{}, mu: &sync.Mutex{}, done: make(chan error, 1)}
	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			line := sc.Text()
			s.mu.Lock()
			s.stdout.WriteString(line + "\n")
			s.mu.Unlock()
			if rest, ok := strings.CutPrefix(line, "serving the Kinesis and Firehose APIs on http://"); ok {
				addrc <- strings.Fields(rest)[0]
			}
		}
	}()
	go func() { err := cmd.Wait(); pw.Close(); s.done <- err }()
	select {
	case s.addr = <-addrc:
	case err := <-s.done:
		t.Fatalf("sluice serve ended: %v\n%s", err, stderr.String())
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("sluice serve did not start\n%s", stderr.String())
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-s.done
		}
	})
	return s
}

func (s *served) output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stdout.String()
}

func firehoseClient(addr string) *firehose.Client {
	return firehose.New(firehose.Options{
		Region: "us-east-1", BaseEndpoint: aws.String("http://" + addr),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
		Retryer: retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = 1
			o.RateLimiter = ratelimit.None
		}),
	})
}

// deliveredLines counts each record line in the visible objects of a
// bucket directory.
func deliveredLines(t *testing.T, bucket string) map[string]int {
	t.Helper()
	got := map[string]int{}
	err := filepath.WalkDir(bucket, func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if strings.HasPrefix(d.Name(), ".") && p != bucket {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, l := range strings.Split(string(b), "\n") {
			if l != "" {
				got[l]++
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// TestServeKill9 kills `sluice serve` with SIGKILL while producers put
// records with the Go SDK's Firehose client, restarts it on the same data,
// and finds every acknowledged record delivered exactly once (and no
// record, acknowledged or not, twice).
func TestServeKill9(t *testing.T) {
	dir := t.TempDir()
	bucket := filepath.Join(dir, "buckets", "lake")
	acked := map[string]bool{}
	var mu sync.Mutex
	const rounds, writers = 3, 4
	for round := range rounds {
		s := startServe(t, dir)
		c := firehoseClient(s.addr)
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		var count sync.WaitGroup
		count.Add(writers)
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				counted := false
				for i := 0; ctx.Err() == nil; i++ {
					var recs []types.Record
					var keys []string
					for j := range 1 + i%20 {
						k := fmt.Sprintf("r%d-w%d-%d-%d", round, w, i, j)
						keys = append(keys, k)
						recs = append(recs, types.Record{Data: []byte(k + "\n")})
					}
					out, err := c.PutRecordBatch(ctx, &firehose.PutRecordBatchInput{DeliveryStreamName: aws.String("kill"), Records: recs})
					if err != nil {
						break // the server is gone
					}
					mu.Lock()
					for j, r := range out.RequestResponses {
						if r.ErrorCode == nil {
							acked[keys[j]] = true
						}
					}
					mu.Unlock()
					if i == 30 && !counted {
						counted = true
						count.Done()
					}
				}
				if !counted {
					count.Done()
				}
			}()
		}
		// Kill once every writer has had 30 batches acknowledged: records
		// are then in every state (buffered, staged, committed).
		count.Wait()
		if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		err := <-s.done
		cancel()
		wg.Wait()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("round %d: not killed: %v", round, err)
		}
	}
	// The last run delivers what the killed ones left, then stops cleanly.
	s := startServe(t, dir)
	deadline := time.Now().Add(90 * time.Second)
	for {
		got := deliveredLines(t, bucket)
		missing := 0
		for k := range acked {
			if got[k] == 0 {
				missing++
			}
		}
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d acknowledged records not delivered", missing, len(acked))
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	if err := <-s.done; err != nil {
		t.Fatalf("SIGTERM: %v\n%s", err, s.output())
	}
	if !strings.Contains(s.output(), "stopped: delivery checkpointed, logs closed") {
		t.Fatalf("no clean stop:\n%s", s.output())
	}
	got := deliveredLines(t, bucket)
	for k, n := range got {
		if n != 1 {
			t.Errorf("record %s delivered %d times", k, n)
		}
	}
	for k := range acked {
		if got[k] != 1 {
			t.Errorf("acknowledged record %s delivered %d times", k, got[k])
		}
	}
	t.Logf("%d records acknowledged over %d kills, %d delivered (each once)", len(acked), rounds, len(got))
}

// awsCLIs are the AWS CLIs here: the one on PATH (a pyenv shim resolved
// to its script) and Debian's v2 in /usr/bin.
func awsCLIs() []string {
	var out []string
	if p, err := exec.LookPath("aws"); err == nil {
		if strings.Contains(p, "/shims/") {
			if o, err := exec.Command("pyenv", "which", "aws").Output(); err == nil && strings.TrimSpace(string(o)) != "" {
				p = strings.TrimSpace(string(o))
			}
		}
		out = append(out, p)
	}
	if _, err := os.Stat("/usr/bin/aws"); err == nil && (len(out) == 0 || out[0] != "/usr/bin/aws") {
		out = append(out, "/usr/bin/aws")
	}
	return out
}

// TestServeAWSCLI runs `aws firehose put-record`, `put-record-batch` and
// `describe-delivery-stream` (every CLI found: v1 and v2) against the
// built binary, and finds the records delivered.
func TestServeAWSCLI(t *testing.T) {
	clis := awsCLIs()
	if len(clis) == 0 {
		if os.Getenv("SLUICE_REQUIRE_INTEGRATION") != "" {
			t.Fatal("aws CLI not found (SLUICE_REQUIRE_INTEGRATION is set)")
		}
		t.Skip("aws CLI not found")
	}
	dir := t.TempDir()
	s := startServe(t, dir)
	home := t.TempDir()
	want := map[string]int{}
	for n, cli := range clis {
		run := func(args ...string) (string, string, error) {
			cmd := exec.Command(cli, append([]string{"firehose", "--endpoint-url", "http://" + s.addr, "--output", "json"}, args...)...)
			cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID=AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY=secret", "AWS_DEFAULT_REGION=us-east-1",
				"AWS_CONFIG_FILE="+filepath.Join(home, "config"), "AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(home, "credentials"), "AWS_PAGER=")
			var o, e bytes.Buffer
			cmd.Stdout, cmd.Stderr = &o, &e
			err := cmd.Run()
			return o.String(), e.String(), err
		}
		// v2 takes blobs in base64 by default; raw-in-base64-out makes
		// both CLIs send the text as written.
		var blob []string
		if v, err := exec.Command(cli, "--version").CombinedOutput(); err == nil && strings.HasPrefix(string(v), "aws-cli/2") {
			blob = []string{"--cli-binary-format", "raw-in-base64-out"}
		}
		one := fmt.Sprintf("cli%d-one", n)
		out, errOut, err := run(append([]string{"put-record", "--delivery-stream-name", "kill", "--record", `{"Data":"` + one + `\n"}`}, blob...)...)
		if err != nil {
			t.Fatalf("%s put-record: %v\n%s", cli, err, errOut)
		}
		var pr struct{ RecordId string }
		if json.Unmarshal([]byte(out), &pr) != nil || pr.RecordId == "" {
			t.Fatalf("%s put-record: %s", cli, out)
		}
		want[one] = 1
		out, errOut, err = run(append([]string{"put-record-batch", "--delivery-stream-name", "kill", "--records",
			fmt.Sprintf(`[{"Data":"cli%d-a\n"},{"Data":"cli%d-b\n"}]`, n, n)}, blob...)...)
		if err != nil {
			t.Fatalf("%s put-record-batch: %v\n%s", cli, err, errOut)
		}
		var pb struct {
			FailedPutCount   int
			RequestResponses []struct{ RecordId string }
		}
		if json.Unmarshal([]byte(out), &pb) != nil || pb.FailedPutCount != 0 || len(pb.RequestResponses) != 2 {
			t.Fatalf("%s put-record-batch: %s", cli, out)
		}
		want[fmt.Sprintf("cli%d-a", n)], want[fmt.Sprintf("cli%d-b", n)] = 1, 1
		out, errOut, err = run("describe-delivery-stream", "--delivery-stream-name", "kill")
		if err != nil {
			t.Fatalf("%s describe-delivery-stream: %v\n%s", cli, err, errOut)
		}
		var d struct {
			DeliveryStreamDescription struct {
				DeliveryStreamStatus, DeliveryStreamType, VersionId string
			}
		}
		if json.Unmarshal([]byte(out), &d) != nil || d.DeliveryStreamDescription.DeliveryStreamStatus != "ACTIVE" ||
			d.DeliveryStreamDescription.DeliveryStreamType != "DirectPut" || d.DeliveryStreamDescription.VersionId != "1" {
			t.Fatalf("%s describe-delivery-stream: %s", cli, out)
		}
		_, errOut, err = run("describe-delivery-stream", "--delivery-stream-name", "missing")
		if err == nil || !strings.Contains(errOut, "An error occurred (ResourceNotFoundException) when calling the DescribeDeliveryStream operation: Firehose missing under account 000000000000 not found.") {
			t.Fatalf("%s describe of a missing stream: %v %s", cli, err, errOut)
		}
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		got := deliveredLines(t, filepath.Join(dir, "buckets", "lake"))
		ok := len(got) == len(want)
		for k := range want {
			ok = ok && got[k] == 1
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("delivered %v, want %v", got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
