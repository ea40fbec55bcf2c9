package kinesisapi

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// requireOrSkip skips with a message, or fails when
// SLUICE_REQUIRE_INTEGRATION is set (CI), because then the prerequisite
// should have been installed by .ci/setup.d.
func requireOrSkip(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("SLUICE_REQUIRE_INTEGRATION") != "" {
		t.Fatalf(format+" (SLUICE_REQUIRE_INTEGRATION is set)", args...)
	}
	t.Skipf(format, args...)
}

// jsSDKDir finds @aws-sdk/client-kinesis installed by
// .ci/setup.d/40-shardlog.sh.
func jsSDKDir() string {
	if d := os.Getenv("SLUICE_JS_SDK_DIR"); d != "" {
		return d
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".cache", "sluice-ci", "npm-jssdk")
}

func TestJavaScriptSDK(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		requireOrSkip(t, "node not found")
	}
	dir := jsSDKDir()
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@aws-sdk", "client-kinesis")); err != nil {
		requireOrSkip(t, "@aws-sdk/client-kinesis not installed in %s (run .ci/setup.d/40-shardlog.sh)", dir)
	}
	// Signatures are verified: over HTTP/2 the JavaScript SDK signs the
	// :authority pseudo-header instead of host (auth.go checks those with
	// smithy-go's signer; TestAuthJavaScriptHTTP2 replays one such request).
	// TestJavaScriptSDKAuth runs it over HTTP/1.1.
	e := start(t, false, nil, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	script, _ := filepath.Abs("testdata/jssdk.mjs")
	cmd := exec.CommandContext(ctx, node, script, "http://"+e.addr)
	cmd.Env = append(os.Environ(), "SLUICE_JS_SDK_DIR="+filepath.Join(dir, "node_modules"))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node: %v\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())
	}
	var out struct {
		Status         string
		Shards         []string
		Created        bool
		PutShard       string
		PutSeq         string
		Failed         int
		Got            []string
		ArrivalIsDate  bool
		ListShardsPage int
		HasNextToken   bool
		NotFound       struct {
			Name, Message string
			Status        int
			IsClass       bool
		}
		BadHashKey  string
		BadIterator string
		Pushed      []string
		WrongSecret struct {
			Name, Message string
			Status        int
		}
	}
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		t.Fatalf("output %q: %v", stdout.String(), err)
	}
	if out.Status != "ACTIVE" || len(out.Shards) != 2 || !out.Created || out.Failed != 0 || len(out.PutSeq) != 56 {
		t.Fatalf("basics: %+v", out)
	}
	if len(out.Got) != 11 || out.Got[0] != "hello" || out.Got[10] != "r9" || !out.ArrivalIsDate {
		t.Fatalf("records: %+v", out.Got)
	}
	if out.ListShardsPage != 1 || !out.HasNextToken {
		t.Fatalf("paging: %+v", out)
	}
	if out.NotFound.Name != "ResourceNotFoundException" || !out.NotFound.IsClass || out.NotFound.Status != 400 ||
		out.NotFound.Message != "Stream missing under account 000000000000 not found." {
		t.Fatalf("error: %+v", out.NotFound)
	}
	if out.BadHashKey != "InvalidArgumentException" || out.BadIterator != "InvalidArgumentException" {
		t.Fatalf("errors: %s %s", out.BadHashKey, out.BadIterator)
	}
	if w := out.WrongSecret; w.Name != "InvalidSignatureException" || w.Status != 400 || w.Message != errBadSignature.msg {
		t.Errorf("wrong secret over HTTP/2: %+v", w)
	}
	if len(out.Pushed) != 1 || out.Pushed[0] != "pushed" {
		t.Fatalf("SubscribeToShard over HTTP/2: %+v", out.Pushed)
	}
}

// awsCLI finds the aws command; a pyenv shim is resolved to the real
// script, which saves a second per invocation.
func awsCLI() (string, bool) {
	p, err := exec.LookPath("aws")
	if err != nil {
		return "", false
	}
	if strings.Contains(p, "/shims/") {
		if out, err := exec.Command("pyenv", "which", "aws").Output(); err == nil {
			if real := strings.TrimSpace(string(out)); real != "" {
				return real, true
			}
		}
	}
	return p, true
}

// TestAWSCLI runs the AWS CLI (v1 or v2) against the server: the CLI signs
// requests and speaks HTTP/1.1 JSON. Independent invocations run
// concurrently (each costs a Python start-up).
func TestAWSCLI(t *testing.T) {
	awsBin, ok := awsCLI()
	if !ok {
		requireOrSkip(t, "aws CLI not found")
	}
	e := start(t, false, nil, nil)
	endpoint := "http://" + e.addr
	type result struct {
		out, errOut string
		err         error
	}
	run := func(args ...string) result {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, awsBin, append([]string{"--endpoint-url", endpoint, "--output", "json", "kinesis"}, args...)...)
		cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID=AKID", "AWS_SECRET_ACCESS_KEY=secret", "AWS_DEFAULT_REGION=us-east-1",
			"AWS_PAGER=", "AWS_EC2_METADATA_DISABLED=true", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null")
		var o, se bytes.Buffer
		cmd.Stdout, cmd.Stderr = &o, &se
		err := cmd.Run()
		return result{o.String(), se.String(), err}
	}
	both := func(a, b func() result) (result, result) {
		ch := make(chan result, 1)
		go func() { ch <- b() }()
		ra := a()
		return ra, <-ch
	}
	create, missing := both(
		func() result { return run("create-stream", "--stream-name", "cli", "--shard-count", "2") },
		func() result { return run("describe-stream", "--stream-name", "missing") })
	if create.err != nil {
		if strings.Contains(create.errOut, "No module named") || strings.Contains(create.errOut, "ImportError") {
			requireOrSkip(t, "aws CLI is broken here: %s", create.errOut)
		}
		t.Fatalf("create-stream: %v %s", create.err, create.errOut)
	}
	if missing.err == nil || !strings.Contains(missing.errOut, "ResourceNotFoundException") || !strings.Contains(missing.errOut, "Stream missing under account 000000000000 not found.") {
		t.Fatalf("missing stream: %v %s", missing.err, missing.errOut)
	}
	// "aGVsbG8=" is base64 for "hello": AWS CLI v2 takes blobs as base64
	// by default, v1 as raw text; --cli-binary-format exists only in v2.
	r := run("put-record", "--stream-name", "cli", "--partition-key", "k", "--data", "aGVsbG8=")
	if r.err != nil {
		t.Fatalf("put-record: %v %s", r.err, r.errOut)
	}
	var put struct{ ShardId, SequenceNumber string }
	if err := json.Unmarshal([]byte(r.out), &put); err != nil || len(put.SequenceNumber) != 56 {
		t.Fatalf("put-record output %q: %v", r.out, err)
	}
	r = run("get-shard-iterator", "--stream-name", "cli", "--shard-id", put.ShardId, "--shard-iterator-type", "AT_SEQUENCE_NUMBER", "--starting-sequence-number", put.SequenceNumber)
	if r.err != nil {
		t.Fatalf("get-shard-iterator: %v %s", r.err, r.errOut)
	}
	var it struct{ ShardIterator string }
	json.Unmarshal([]byte(r.out), &it)
	get, split := both(
		func() result { return run("get-records", "--shard-iterator", it.ShardIterator) },
		func() result {
			return run("split-shard", "--stream-name", "cli", "--shard-to-split", "shardId-000000000000", "--new-starting-hash-key", "1000")
		})
	if get.err != nil || split.err != nil {
		t.Fatalf("get-records: %v %s; split-shard: %v %s", get.err, get.errOut, split.err, split.errOut)
	}
	var gr struct {
		Records []struct {
			Data, PartitionKey, SequenceNumber string
		}
		MillisBehindLatest *int64
	}
	if err := json.Unmarshal([]byte(get.out), &gr); err != nil || len(gr.Records) != 1 || gr.Records[0].SequenceNumber != put.SequenceNumber || gr.MillisBehindLatest == nil {
		t.Fatalf("get-records output %q: %v", get.out, err)
	}
	if d := gr.Records[0].Data; d != "aGVsbG8=" && d != "YUdWc2JHOD0=" {
		t.Fatalf("data %q", d)
	}
	r = run("list-shards", "--stream-name", "cli")
	if r.err != nil || !strings.Contains(r.out, `"ShardId": "shardId-000000000003"`) || !strings.Contains(r.out, `"ParentShardId": "shardId-000000000000"`) {
		t.Fatalf("list-shards after split: %v %s", r.err, r.out)
	}
}
