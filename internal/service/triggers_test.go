package service

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/sluicehq/sluice/connectors/trigger"
)

// function is an HTTP function that records the data of the Lambda
// events it gets.
type function struct {
	srv  *httptest.Server
	mu   sync.Mutex
	data []string
}

func newFunction(t *testing.T) *function {
	f := &function{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev struct {
			Records []struct {
				Kinesis struct {
					Data []byte `json:"data"`
				} `json:"kinesis"`
			} `json:"Records"`
		}
		if err := json.NewDecoder(r.Body).Decode(&ev); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		for _, rec := range ev.Records {
			f.data = append(f.data, string(rec.Kinesis.Data))
		}
		f.mu.Unlock()
		w.Write([]byte(`{}`))
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *function) got() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := slices.Clone(f.data)
	slices.Sort(out)
	return out
}

func until(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestTriggers: `sluice serve` runs the triggers stored under its data
// directory over its own streams — one stored before it starts, one
// created while it runs — and stops one deleted while it runs.
func TestTriggers(t *testing.T) {
	dir := t.TempDir()
	st, err := trigger.OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	const arn = "arn:aws:kinesis:us-east-1:000000000000:stream/orders"
	first, second := newFunction(t), newFunction(t)
	if _, err := st.Create(trigger.Config{Name: "first", EventSourceArn: arn, Function: trigger.Function{URL: first.srv.URL}, StartingPosition: "TRIM_HORIZON"}); err != nil {
		t.Fatal(err)
	}
	e := startEnvWith(t, dir, func(o *Options) { o.TriggerSync = 20 * time.Millisecond })
	defer e.stop()
	ctx := context.Background()
	if _, err := e.kin.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("orders"), ShardCount: aws.Int32(2)}); err != nil {
		t.Fatal(err)
	}
	until(t, "the stream to be active", func() bool {
		out, err := e.kin.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("orders")})
		return err == nil && out.StreamDescriptionSummary.StreamStatus == "ACTIVE"
	})
	want := []string{"a", "b", "c"}
	for _, d := range want {
		if _, err := e.kin.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String("orders"), PartitionKey: aws.String(d), Data: []byte(d)}); err != nil {
			t.Fatal(err)
		}
	}
	until(t, "the first trigger's calls", func() bool { return slices.Equal(first.got(), want) })

	if _, err := st.Create(trigger.Config{Name: "second", EventSourceArn: arn, Function: trigger.Function{URL: second.srv.URL}, StartingPosition: "TRIM_HORIZON"}); err != nil {
		t.Fatal(err)
	}
	until(t, "the trigger created while serving", func() bool { return slices.Equal(second.got(), want) })

	if err := st.Delete("first"); err != nil {
		t.Fatal(err)
	}
	until(t, "the deleted trigger to stop", func() bool { return slices.Equal(e.svc.Triggers().Running(), []string{"second"}) })
	if _, err := e.kin.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String("orders"), PartitionKey: aws.String("d"), Data: []byte("d")}); err != nil {
		t.Fatal(err)
	}
	until(t, "the record after the delete", func() bool { return len(second.got()) == 4 })
	if got := first.got(); !slices.Equal(got, want) {
		t.Fatalf("the deleted trigger still called its function: %v", got)
	}
}
