package server

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
	}
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		t.Fatalf("output %q: %v", stdout.String(), err)
	}
	if out.Status != "ACTIVE" || len(out.Shards) != 2 || !out.Created || out.Failed != 0 || len(out.PutSeq) != 46 {
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
	if len(out.Pushed) != 1 || out.Pushed[0] != "pushed" {
		t.Fatalf("SubscribeToShard over HTTP/2: %+v", out.Pushed)
	}
}

// TestAWSCLI runs the AWS CLI (v1 or v2) against the server: the CLI signs
// requests and speaks HTTP/1.1 JSON.
func TestAWSCLI(t *testing.T) {
	awsBin, err := exec.LookPath("aws")
	if err != nil {
		requireOrSkip(t, "aws CLI not found")
	}
	e := start(t, false, nil, nil)
	endpoint := "http://" + e.addr
	run := func(args ...string) (string, string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, awsBin, append([]string{"--endpoint-url", endpoint, "--output", "json", "kinesis"}, args...)...)
		cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID=AKID", "AWS_SECRET_ACCESS_KEY=secret", "AWS_DEFAULT_REGION=us-east-1",
			"AWS_PAGER=", "AWS_EC2_METADATA_DISABLED=true", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null")
		var o, se bytes.Buffer
		cmd.Stdout, cmd.Stderr = &o, &se
		err := cmd.Run()
		return o.String(), se.String(), err
	}
	if _, se, err := run("create-stream", "--stream-name", "cli", "--shard-count", "2"); err != nil {
		if strings.Contains(se, "No module named") || strings.Contains(se, "ImportError") {
			requireOrSkip(t, "aws CLI is broken here: %s", se)
		}
		t.Fatalf("create-stream: %v %s", err, se)
	}
	if _, se, err := run("wait", "stream-exists", "--stream-name", "cli"); err != nil {
		t.Fatalf("wait: %v %s", err, se)
	}
	// "aGVsbG8=" is base64 for "hello": AWS CLI v2 takes blobs as base64
	// by default, v1 as raw text; --cli-binary-format exists only in v2.
	o, se, err := run("put-record", "--stream-name", "cli", "--partition-key", "k", "--data", "aGVsbG8=")
	if err != nil {
		t.Fatalf("put-record: %v %s", err, se)
	}
	var put struct{ ShardId, SequenceNumber string }
	if err := json.Unmarshal([]byte(o), &put); err != nil || len(put.SequenceNumber) != 46 {
		t.Fatalf("put-record output %q: %v", o, err)
	}
	o, se, err = run("get-shard-iterator", "--stream-name", "cli", "--shard-id", put.ShardId, "--shard-iterator-type", "AT_SEQUENCE_NUMBER", "--starting-sequence-number", put.SequenceNumber)
	if err != nil {
		t.Fatalf("get-shard-iterator: %v %s", err, se)
	}
	var it struct{ ShardIterator string }
	json.Unmarshal([]byte(o), &it)
	o, se, err = run("get-records", "--shard-iterator", it.ShardIterator)
	if err != nil {
		t.Fatalf("get-records: %v %s", err, se)
	}
	var gr struct {
		Records []struct {
			Data, PartitionKey, SequenceNumber string
		}
		MillisBehindLatest *int64
	}
	if err := json.Unmarshal([]byte(o), &gr); err != nil || len(gr.Records) != 1 || gr.Records[0].SequenceNumber != put.SequenceNumber || gr.MillisBehindLatest == nil {
		t.Fatalf("get-records output %q: %v", o, err)
	}
	if d := gr.Records[0].Data; d != "aGVsbG8=" && d != "YUdWc2JHOD0=" {
		t.Fatalf("data %q", d)
	}
	if _, _, err := run("split-shard", "--stream-name", "cli", "--shard-to-split", "shardId-000000000000", "--new-starting-hash-key", "1000"); err != nil {
		t.Fatal(err)
	}
	o, _, err = run("list-shards", "--stream-name", "cli")
	if err != nil || !strings.Contains(o, `"ShardId": "shardId-000000000003"`) || !strings.Contains(o, `"ParentShardId": "shardId-000000000000"`) {
		t.Fatalf("list-shards after split: %v %s", err, o)
	}
	_, se, err = run("describe-stream", "--stream-name", "missing")
	if err == nil || !strings.Contains(se, "ResourceNotFoundException") || !strings.Contains(se, "Stream missing under account 000000000000 not found.") {
		t.Fatalf("missing stream: %v %s", err, se)
	}
}
