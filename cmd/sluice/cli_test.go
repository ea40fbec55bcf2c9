package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/connectors/shardlog"
	"github.com/sluicehq/sluice/connectors/shardlog/kinesisapi"
)

// startLogServer serves a fresh log over the Kinesis API on 127.0.0.1
// for the test and returns the --endpoint flag that reaches it.
func startLogServer(t *testing.T) string {
	t.Helper()
	l, err := shardlog.Open(shardlog.Options{Dir: t.TempDir(), RetentionInterval: -1, Sync: shardlog.SyncNone})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		l.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- kinesisapi.New(l, kinesisapi.Options{}).Serve(ctx, ln, nil) }()
	t.Cleanup(func() {
		cancel()
		<-done
		l.Close()
	})
	return "--endpoint=http://" + ln.Addr().String()
}

func runSluice(args ...string) (stdout, stderr string, code int) {
	var out, errb bytes.Buffer
	code = run(context.Background(), args, &out, &errb)
	return out.String(), errb.String(), code
}

// TestNoArgumentsIsAUsageError: `sluice` alone prints the commands to
// stderr and exits 2, as every other usage error; `sluice help` exits 0.
func TestNoArgumentsIsAUsageError(t *testing.T) {
	out, errs, code := runSluice()
	if code != 2 || out != "" || !strings.Contains(errs, "Usage: sluice <command>") {
		t.Fatalf("sluice: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	if out, _, code := runSluice("help"); code != 0 || !strings.Contains(out, "Commands:") {
		t.Fatalf("sluice help: exit %d, %q", code, out)
	}
}

// TestUsageSaidOnce: a usage error says "usage:" once, not "usage: usage:".
func TestUsageSaidOnce(t *testing.T) {
	for _, args := range [][]string{{"log", "get"}, {"log", "create"}, {"firehose", "validate"}} {
		_, errs, code := runSluice(args...)
		if code != 2 || strings.Count(errs, "usage:") != 1 {
			t.Errorf("sluice %s: exit %d, stderr %q", strings.Join(args, " "), code, errs)
		}
	}
}

// TestHelpDescribesTheCommand: -h of a command without flags still says
// what it does and how to call it.
func TestHelpDescribesTheCommand(t *testing.T) {
	_, errs, code := runSluice("firehose", "validate", "-h")
	if code != 0 || !strings.Contains(errs, "Usage: sluice firehose validate FILE") || !strings.Contains(errs, "delivery stream configuration") {
		t.Fatalf("firehose validate -h: exit %d, %q", code, errs)
	}
}

// TestLogGetReadsEveryShard: without --shard, log get reads all shards (a
// record put to shard 1 was invisible before); an unreachable endpoint and
// a missing stream are said plainly.
func TestLogGetReadsEveryShard(t *testing.T) {
	ep := startLogServer(t)

	if _, errs, code := runSluice("log", "create", "s", "--shards", "2", ep); code != 0 {
		t.Fatal(errs)
	}
	// "k" hashes to shard 1 and "zz" to shard 0 (MD5 of the partition key).
	for _, kv := range [][2]string{{"k", "hello"}, {"zz", "world"}} {
		if _, errs, code := runSluice("log", "put", "s", "--key", kv[0], kv[1], ep); code != 0 {
			t.Fatal(errs)
		}
	}
	out, errs, code := runSluice("log", "get", "s", ep)
	if code != 0 || !strings.Contains(out, "shardId-000000000001\t") || !strings.Contains(out, "\tk\thello\n") || !strings.Contains(out, "\tzz\tworld\n") {
		t.Fatalf("log get: exit %d, %q, %q", code, out, errs)
	}
	out, _, _ = runSluice("log", "get", "s", "--shard", "shardId-000000000000", ep)
	if strings.Contains(out, "hello") || !strings.Contains(out, "world") {
		t.Fatalf("log get --shard 0: %q", out)
	}

	_, errs, code = runSluice("log", "get", "nope", ep)
	if code != 1 || !strings.Contains(errs, "ListShards: ResourceNotFoundException: Stream nope under account") || strings.Contains(errs, "https response error") {
		t.Fatalf("missing stream: exit %d, %q", code, errs)
	}
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := dead.Addr().String()
	dead.Close()
	_, errs, code = runSluice("log", "get", "s", "--endpoint=http://"+addr)
	if code != 1 || !strings.Contains(errs, "cannot reach http://"+addr) || strings.Contains(errs, "https response error") {
		t.Fatalf("unreachable endpoint: exit %d, %q", code, errs)
	}
}

// TestFirehoseRunLeavesNoDirectoryBehind: a mistyped --log-dir is reported
// and not created.
func TestFirehoseRunLeavesNoDirectoryBehind(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "missing")
	cfg, err := filepath.Abs("../../examples/firehose/delivery.json")
	if err != nil {
		t.Fatal(err)
	}
	_, errs, code := runSluice("firehose", "run", "--log-dir", dir, "--source", "s", "--config", cfg, "--checkpoint-dir", filepath.Join(t.TempDir(), "ck"))
	if code == 0 || !strings.Contains(errs, "log directory "+dir+" does not exist") {
		t.Fatalf("exit %d, %q", code, errs)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("%s was created: %v", dir, err)
	}
}
