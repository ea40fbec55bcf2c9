package service

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape reads GET /metrics with the Prometheus text-format parser.
func scrape(t *testing.T, addr string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return fams
}

// sample sums the family's samples whose labels include want (a counter's
// value, or a histogram's count).
func sample(fams map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
	sum, found := 0.0, false
	for _, m := range f.Metric {
		labels := map[string]string{}
		for _, l := range m.Label {
			labels[l.GetName()] = l.GetValue()
		}
		ok := true
		for k, v := range want {
			ok = ok && labels[k] == v
		}
		if !ok {
			continue
		}
		found = true
		switch {
		case m.Counter != nil:
			sum += m.Counter.GetValue()
		case m.Gauge != nil:
			sum += m.Gauge.GetValue()
		case m.Histogram != nil:
			sum += float64(m.Histogram.GetSampleCount())
		}
	}
	return sum, found
}

// TestMetrics scrapes /metrics after puts through both APIs and finds the
// figures the APIs and the destination show.
func TestMetrics(t *testing.T) {
	e := startEnv(t, t.TempDir())
	ctx := context.Background()
	create(t, e, "orders", "lake")
	const batches, per = 4, 25
	for b := range batches {
		var recs []types.Record
		for i := range per {
			recs = append(recs, types.Record{Data: []byte(fmt.Sprintf("b%d-%02d\n", b, i))})
		}
		if _, err := e.fh.PutRecordBatch(ctx, &firehose.PutRecordBatchInput{DeliveryStreamName: aws.String("orders"), Records: recs}); err != nil {
			t.Fatal(err)
		}
	}
	_, err := e.fh.PutRecord(ctx, &firehose.PutRecordInput{DeliveryStreamName: aws.String("missing"), Record: &types.Record{Data: []byte("x")}})
	apiErr(t, err, "ResourceNotFoundException", "")
	if _, err := e.kin.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("clicks"), ShardCount: aws.Int32(2)}); err != nil {
		t.Fatal(err)
	}
	kinBytes := 0
	for c := range 3 {
		var recs []ktypes.PutRecordsRequestEntry
		for i := range 10 {
			d := fmt.Sprintf("click-%d-%d", c, i)
			kinBytes += len(d)
			recs = append(recs, ktypes.PutRecordsRequestEntry{PartitionKey: aws.String(d), Data: []byte(d)})
		}
		if _, err := e.kin.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("clicks"), Records: recs}); err != nil {
			t.Fatal(err)
		}
	}
	delivered := waitLines(t, filepath.Join(e.dir, "buckets", "lake"), batches*per)

	// The committed counter follows the objects; wait until the scrape
	// shows what the bucket holds.
	var fams map[string]*dto.MetricFamily
	deadline := time.Now().Add(60 * time.Second)
	for {
		fams = scrape(t, e.addr)
		v, _ := sample(fams, "sluice_firehose_delivered_records_total", map[string]string{"delivery_stream": "orders"})
		if int(v) >= len(delivered) || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	ds := map[string]string{"delivery_stream": "orders"}
	checks := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"sluice_firehose_records_in_total", ds, batches * per},
		{"sluice_firehose_delivered_records_total", ds, float64(len(delivered))},
		{"sluice_firehose_delivery_failed_records_total", ds, 0},
		{"sluice_firehose_put_failed_records_total", ds, 0},
		{"sluice_firehose_delivery_stream_active", map[string]string{"delivery_stream": "orders", "status": "ACTIVE"}, 1},
		{"sluice_stream_records_in_total", map[string]string{"stream": "clicks"}, 30},
		{"sluice_stream_bytes_in_total", map[string]string{"stream": "clicks"}, float64(kinBytes)},
		{"sluice_api_request_duration_seconds", map[string]string{"api": "kinesis", "operation": "PutRecords"}, 3},
		{"sluice_api_request_duration_seconds", map[string]string{"api": "firehose", "operation": "PutRecordBatch"}, batches},
		{"sluice_api_errors_total", map[string]string{"api": "firehose", "operation": "PutRecord", "code": "ResourceNotFoundException"}, 1},
	}
	for _, c := range checks {
		got, ok := sample(fams, c.name, c.labels)
		if !ok || got != c.want {
			t.Errorf("%s%v = %v (present %v), want %v", c.name, c.labels, got, ok, c.want)
		}
	}
	if len(delivered) != batches*per {
		t.Fatalf("delivered %d records, want %d", len(delivered), batches*per)
	}
	if n := len(fams["sluice_stream_records_in_total"].GetMetric()); n != 2 {
		t.Errorf("records in are reported for %d shards, want 2", n)
	}
}
