package service

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"
)

// TestConfigExample applies examples/serve/serve.json (the README's) twice,
// as two starts do: the second creates nothing. The AppendDelimiterToRecord
// processor ends each record with a newline.
func TestConfigExample(t *testing.T) {
	raw, err := os.ReadFile("../../examples/serve/serve.json")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := ParseConfig(raw)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	e := startEnv(t, dir)
	ctx := context.Background()
	created, err := e.svc.Apply(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(created, ",") != "stream clicks,delivery stream orders,delivery stream clicks-archive" {
		t.Fatalf("created %q", created)
	}
	for i := range 3 {
		if _, err := e.fh.PutRecord(ctx, &firehose.PutRecordInput{DeliveryStreamName: aws.String("orders"), Record: &types.Record{Data: []byte(fmt.Sprint("o", i))}}); err != nil {
			t.Fatal(err)
		}
	}
	e.stop() // a clean stop delivers the 60-second buffer
	if got := lines(t, filepath.Join(dir, "buckets", "lake")); strings.Join(got, ",") != "o0,o1,o2" {
		t.Fatalf("delivered %v", got)
	}
	e = startEnv(t, dir)
	created, err = e.svc.Apply(ctx, cfg)
	if err != nil || len(created) != 0 {
		t.Fatalf("second apply: %v %v", created, err)
	}
	l, err := e.fh.ListDeliveryStreams(ctx, &firehose.ListDeliveryStreamsInput{DeliveryStreamType: types.DeliveryStreamTypeKinesisStreamAsSource})
	if err != nil || strings.Join(l.DeliveryStreamNames, ",") != "clicks-archive" {
		t.Fatalf("list by type: %v %v", err, l)
	}

	if _, err := ParseConfig([]byte(`{"streams": [{"name": "s"}]}`)); err == nil || !strings.Contains(err.Error(), "streams[0].shard_count") {
		t.Fatalf("bad stream: %v", err)
	}
	if _, err := ParseConfig([]byte(`{"stream": []}`)); err == nil || !strings.Contains(err.Error(), `unknown field "stream"`) {
		t.Fatalf("unknown key: %v", err)
	}
	bad, _ := ParseConfig([]byte(`{"delivery_streams": [{"DeliveryStreamName": "x y"}]}`))
	if _, err := e.svc.Apply(ctx, bad); err == nil || !strings.Contains(err.Error(), `delivery_streams[0] "x y": ValidationException: 1 validation error detected`) {
		t.Fatalf("bad delivery stream: %v", err)
	}
}

// Jobs in the config file are submitted at start when no job of their name
// exists: applying the same file again, or after a restart, submits nothing.
func TestConfigJobs(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(t.TempDir(), "out")
	if err := os.WriteFile(filepath.Join(dir, "copy.sql"), []byte(pipelineSQL(out)), 0o644); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "serve.json")
	if err := os.WriteFile(cfgPath, []byte(`{"streams": [{"name": "in", "shard_count": 1}],
  "jobs": [{"name": "copy", "sql_file": "copy.sql", "config": {"parallelism.default": "1"}}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := ReadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	data := t.TempDir()
	e := jobsEnv(t, data)
	ctx := context.Background()
	created, err := e.svc.Apply(ctx, cfg)
	if err != nil || strings.Join(created, ",") != "stream in,job copy" {
		t.Fatalf("first apply: %v %v", created, err)
	}
	putNumbers(t, e.svc.Log(), "in", 0, 20)
	waitFor(t, "20 rows", func() bool { return len(committedIDs(t, out)) == 20 })
	if created, err := e.svc.Apply(ctx, cfg); err != nil || len(created) != 0 {
		t.Fatalf("second apply: %v %v", created, err)
	}
	e.stop()
	e2 := jobsEnv(t, data)
	if created, err := e2.svc.Apply(ctx, cfg); err != nil || len(created) != 0 || len(e2.svc.jobsM.list()) != 1 {
		t.Fatalf("apply after a restart: %v %v (%d jobs)", created, err, len(e2.svc.jobsM.list()))
	}
	for _, c := range []struct{ json, want string }{
		{`{"jobs": [{"sql": "x"}]}`, "jobs[0].name is required"},
		{`{"jobs": [{"name": "a", "sql": "x"}, {"name": "a", "sql": "y"}]}`, `jobs[1].name "a" is given twice`},
		{`{"jobs": [{"name": "a", "sql": "x", "sql_file": "f"}]}`, `jobs[0]: "sql" and "sql_file" exclude each other`},
		{`{"jobs": [{"name": "a", "sqll": "x"}]}`, `unknown field "sqll"`},
	} {
		if _, err := ParseConfig([]byte(c.json)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.json, err, c.want)
		}
	}
	if _, err := e2.svc.Apply(ctx, Config{Jobs: []JobConfig{{JobSpec: JobSpec{Name: "g", Go: "no-such-job"}}}}); err == nil || !strings.Contains(err.Error(), `jobs[0].go: no Go job "no-such-job" is registered`) {
		t.Errorf("unknown Go job: %v", err)
	}
}
