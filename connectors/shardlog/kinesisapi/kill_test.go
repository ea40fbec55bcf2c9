package kinesisapi

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/sluicehq/sluice/connectors/shardlog"
)

// buildSluice builds cmd/sluice once per test binary.
var (
	buildOnce sync.Once
	sluiceBin string
	buildErr  error
	buildOut  []byte
)

// buildSluice builds cmd/sluice. When that fails (the tree is shared and
// another package may be mid-edit), the test falls back to re-executing
// its own binary as the server (see TestMain), which runs the same
// shardlog and server code in a separate process.
func buildSluice(t *testing.T) string {
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "sluice-bin-")
		if err != nil {
			buildErr = err
			return
		}
		sluiceBin = filepath.Join(dir, "sluice")
		gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
		cmd := exec.Command(gobin, "build", "-o", sluiceBin, "github.com/sluicehq/sluice/cmd/sluice")
		buildOut, buildErr = cmd.CombinedOutput()
	})
	if buildErr != nil {
		if os.Getenv("SLUICE_REQUIRE_INTEGRATION") != "" {
			t.Fatalf("go build cmd/sluice: %v\n%s", buildErr, buildOut)
		}
		t.Logf("go build cmd/sluice failed, serving from the test binary instead: %v\n%.2000s", buildErr, buildOut)
		self, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		return self
	}
	return sluiceBin
}

// TestMain lets the test binary act as `sluice log serve` when
// SHARDLOG_TEST_SERVE is set (the fallback of buildSluice).
func TestMain(m *testing.M) {
	if os.Getenv("SHARDLOG_TEST_SERVE") != "" {
		os.Exit(testServe(os.Args[1:]))
	}
	os.Exit(m.Run())
}

// testServe parses the arguments of `sluice log serve` this test passes
// (and runs `sluice log check` and `sluice log repair`, see testOperator).
func testServe(args []string) int {
	if len(args) > 1 && (args[1] == "check" || args[1] == "repair") {
		return testOperator(args)
	}
	var addr, dir string
	for i := 0; i+1 < len(args); i++ {
		switch args[i] {
		case "--addr":
			addr = args[i+1]
		case "--data":
			dir = args[i+1]
		}
	}
	l, err := shardlog.Open(shardlog.Options{Dir: dir})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := New(l, Options{}).Serve(context.Background(), ln, nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// serveProcess runs `sluice log serve` and waits until it answers.
func serveProcess(t *testing.T, bin, dir string) (*exec.Cmd, string) {
	t.Helper()
	addr := freeAddr(t)
	cmd := exec.Command(bin, "log", "serve", "--addr", addr, "--data", dir, "--limits", "off")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if bin != sluiceBin {
		cmd.Env = append(os.Environ(), "SHARDLOG_TEST_SERVE=1")
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 200; i++ {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			return cmd, addr
		}
		time.Sleep(25 * time.Millisecond)
	}
	cmd.Process.Kill()
	cmd.Wait()
	t.Fatal("sluice log serve did not come up")
	return nil, ""
}

type acked struct{ shard, seq string }

// writeUntilKilled starts writers goroutines that put batches of n records
// into stream until a put fails (the server was killed) or stop is called;
// each acknowledged record goes into all, its data (unique per round,
// writer and batch) to the shard and sequence number it was given. stop
// waits for the writers.
func writeUntilKilled(ctx context.Context, c *kinesis.Client, stream string, round, writers, n int, all map[string]acked) (stop func()) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	done := make(chan struct{})
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				recs := make([]types.PutRecordsRequestEntry, n)
				for j := range recs {
					recs[j] = types.PutRecordsRequestEntry{PartitionKey: aws.String(fmt.Sprint(w, "-", j)), Data: []byte(fmt.Sprintf("r%d-w%d-%d-%d", round, w, i, j))}
				}
				out, err := c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(stream), Records: recs})
				if err != nil {
					return // the server was killed
				}
				mu.Lock()
				for j, r := range out.Records {
					if r.ErrorCode == nil {
						all[string(recs[j].Data)] = acked{*r.ShardId, *r.SequenceNumber}
					}
				}
				mu.Unlock()
			}
		}()
	}
	return func() { close(done); wg.Wait() }
}

// TestSIGKILLKeepsAcknowledgedRecords kills `sluice log serve` with SIGKILL
// while four clients write, restarts it on the same directory, and checks
// that every record the server acknowledged is there with the sequence
// number it was given. Twice, so that recovery of a recovered log is
// covered too.
func TestSIGKILLKeepsAcknowledgedRecords(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the sluice binary")
	}
	bin := buildSluice(t)
	dir := t.TempDir()
	ctx := context.Background()
	all := map[string]acked{}
	for round := 0; round < 2; round++ {
		cmd, addr := serveProcess(t, bin, dir)
		c := newClient("http://"+addr, nil)
		if round == 0 {
			if _, err := c.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("k"), ShardCount: aws.Int32(4)}); err != nil {
				cmd.Process.Kill()
				t.Fatal(err)
			}
		}
		stop := writeUntilKilled(ctx, c, "k", round, 4, 50, all)
		time.Sleep(time.Duration(400+300*round) * time.Millisecond)
		if err := cmd.Process.Kill(); err != nil { // SIGKILL
			t.Fatal(err)
		}
		cmd.Wait()
		stop()
	}
	if len(all) == 0 {
		t.Fatal("no record was acknowledged before the kills")
	}
	cmd, addr := serveProcess(t, bin, dir)
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	c := newClient("http://"+addr, nil)
	found := map[string]acked{}
	seqs := map[string]bool{}
	for s := 0; s < 4; s++ {
		shard := fmt.Sprintf("shardId-%012d", s)
		it, err := c.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String("k"), ShardId: aws.String(shard), ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
		if err != nil {
			t.Fatal(err)
		}
		iter := it.ShardIterator
		for {
			out, err := c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range out.Records {
				if seqs[*r.SequenceNumber] {
					t.Fatalf("sequence number %s appears twice", *r.SequenceNumber)
				}
				seqs[*r.SequenceNumber] = true
				found[string(r.Data)] = acked{shard, *r.SequenceNumber}
			}
			if len(out.Records) == 0 {
				break
			}
			iter = out.NextShardIterator
		}
	}
	for data, a := range all {
		f, ok := found[data]
		if !ok {
			t.Fatalf("acknowledged record %s (%s %s) lost; %d acknowledged, %d found", data, a.shard, a.seq, len(all), len(found))
		}
		if f != a {
			t.Fatalf("record %s acknowledged as %v, found as %v", data, a, f)
		}
	}
	t.Logf("%d acknowledged records, %d found after two SIGKILLs", len(all), len(found))
}
