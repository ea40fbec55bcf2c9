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
