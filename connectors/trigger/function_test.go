package trigger

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connectors/shardlog"
)

// TestHTTPFunctionOutcomes: how an HTTP function's answer is read: 2xx is
// the response, X-Amz-Function-Error or another status a function error,
// 429 and a refused connection a throttle, a call past the timeout a
// function error.
func TestHTTPFunctionOutcomes(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			w.Write([]byte(`{"batchItemFailures":[]}`))
		case "/unhandled":
			w.Header().Set("X-Amz-Function-Error", "Unhandled")
			w.Write([]byte(`{"errorMessage":"boom"}`))
		case "/500":
			http.Error(w, "broken", 500)
		case "/429":
			http.Error(w, "slow down", 429)
		case "/slow":
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
	}))
	defer srv.Close()
	defer close(release)
	call := func(path string, timeout time.Duration) ([]byte, error) {
		f := &HTTPFunction{URL: srv.URL + path, Timeout: timeout}
		return f.Invoke(context.Background(), []byte(`{"Records":[]}`))
	}
	if resp, err := call("/ok", time.Minute); err != nil || string(resp) != `{"batchItemFailures":[]}` {
		t.Fatalf("ok: %q %v", resp, err)
	}
	var fe *FunctionError
	if _, err := call("/unhandled", time.Minute); !errors.As(err, &fe) || fe.StatusCode != 200 || !strings.Contains(fe.Message, "Unhandled") || !strings.Contains(fe.Message, "boom") {
		t.Fatalf("unhandled: %v", err)
	}
	if _, err := call("/500", time.Minute); !errors.As(err, &fe) || fe.StatusCode != 500 || !strings.Contains(fe.Message, "broken") {
		t.Fatalf("500: %v", err)
	}
	var te *ThrottledError
	if _, err := call("/429", time.Minute); !errors.As(err, &te) {
		t.Fatalf("429: %v", err)
	}
	if _, err := call("/slow", 50*time.Millisecond); !errors.As(err, &fe) || !strings.Contains(fe.Message, "Task timed out after 0.05 seconds") {
		t.Fatalf("timeout: %v", err)
	}
	f := &HTTPFunction{URL: "http://127.0.0.1:1/", Timeout: time.Minute}
	if _, err := f.Invoke(context.Background(), nil); !errors.As(err, &te) {
		t.Fatalf("refused: %v", err)
	}
}

// TestThrottlesDoNotCount: with MaximumRetryAttempts 0, a function that
// answers 429 twice and then succeeds still gets the batch: throttles are
// retried without counting, as Lambda retries errors before invocation.
func TestThrottlesDoNotCount(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, filepath.Join(dir, "log"), shardlog.Options{})
	defer l.Close()
	if err := l.CreateStream(shardlog.CreateStreamInput{Name: "s", ShardCount: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.PutRecord(context.Background(), shardlog.StreamRef{Name: "s"}, shardlog.PutEntry{PartitionKey: "k", Data: []byte("x")}, ""); err != nil {
		t.Fatal(err)
	}
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) <= 2 {
			http.Error(w, "throttled", 429)
		}
	}))
	defer srv.Close()
	cfg := Config{Name: "th", EventSourceArn: StreamARN("us-east-1", "000000000000", "s"), StartingPosition: TrimHorizon,
		Function: Function{URL: srv.URL}, MaximumRetryAttempts: intp(0)}
	tr, err := New(cfg, Options{Log: l, StateDir: filepath.Join(dir, "state"), Retry: fastRetry})
	if err != nil {
		t.Fatal(err)
	}
	runUntilCaughtUp(t, tr, time.Minute)
	if st := tr.Stats(); st.Throttles != 2 || st.RecordsProcessed != 1 || st.RecordsFailed != 0 || st.Invocations != 3 {
		t.Fatalf("stats %+v", st)
	}
}

// TestHostStartsAndStops: a host runs a stored trigger, stops it, and a
// deleted trigger cannot be started.
func TestHostStartsAndStops(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, filepath.Join(dir, "log"), shardlog.Options{})
	defer l.Close()
	if err := l.CreateStream(shardlog.CreateStreamInput{Name: "s", ShardCount: 1}); err != nil {
		t.Fatal(err)
	}
	got := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case got <- struct{}{}:
		default:
		}
	}))
	defer srv.Close()
	st, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Create(Config{Name: "h", EventSourceArn: StreamARN("us-east-1", "000000000000", "s"), StartingPosition: TrimHorizon, Function: Function{URL: srv.URL}}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.PutRecord(context.Background(), shardlog.StreamRef{Name: "s"}, shardlog.PutEntry{PartitionKey: "k", Data: []byte("x")}, ""); err != nil {
		t.Fatal(err)
	}
	h := NewHost(l, st, HostOptions{Retry: fastRetry})
	if err := h.StartAll(context.Background()); err != nil {
		t.Fatal(err)
	}
	if strings.Join(h.Running(), ",") != "h" {
		t.Fatalf("running %v", h.Running())
	}
	within(t, got, "call of the function")
	if _, ok := h.Trigger("h"); !ok {
		t.Fatal("the trigger that called the function is not running")
	}
	h.Stop("h")
	if len(h.Running()) != 0 {
		t.Fatalf("running %v after Stop", h.Running())
	}
	if err := st.Delete("h"); err != nil {
		t.Fatal(err)
	}
	if err := h.Start(context.Background(), "h"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("start of a deleted trigger: %v", err)
	}
}

// TestHostRetriesATriggerThatCannotStart: a trigger whose on-failure
// stream does not exist yet is tried again until it does, then runs.
func TestHostRetriesATriggerThatCannotStart(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, filepath.Join(dir, "log"), shardlog.Options{})
	defer l.Close()
	if err := l.CreateStream(shardlog.CreateStreamInput{Name: "s", ShardCount: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.PutRecord(context.Background(), shardlog.StreamRef{Name: "s"}, shardlog.PutEntry{PartitionKey: "k", Data: []byte("x")}, ""); err != nil {
		t.Fatal(err)
	}
	got := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case got <- struct{}{}:
		default:
		}
	}))
	defer srv.Close()
	st, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Create(Config{Name: "h", EventSourceArn: StreamARN("us-east-1", "000000000000", "s"), StartingPosition: TrimHorizon, Function: Function{URL: srv.URL},
		DestinationConfig: &DestinationConfig{OnFailure: &OnFailure{Destination: StreamARN("us-east-1", "000000000000", "dlq")}}}); err != nil {
		t.Fatal(err)
	}
	tried := make(chan string, 1)
	h := NewHost(l, st, HostOptions{Retry: fastRetry, Restart: fastRetry, Logf: func(f string, a ...any) {
		select {
		case tried <- fmt.Sprintf(f, a...):
		default:
		}
	}})
	defer h.StopAll()
	if err := h.Start(context.Background(), "h"); err != nil {
		t.Fatal(err)
	}
	if msg := within(t, tried, "log line"); !strings.Contains(msg, `on-failure destination arn:aws:kinesis:us-east-1:000000000000:stream/dlq`) || !strings.Contains(msg, "(trigger h restarts)") {
		t.Fatalf("log line %q", msg)
	}
	if err := l.CreateStream(shardlog.CreateStreamInput{Name: "dlq", ShardCount: 1}); err != nil {
		t.Fatal(err)
	}
	within(t, got, "call of the function")
}

// failingDestination refuses its first n records, then passes them on.
type failingDestination struct {
	n    atomic.Int32
	sent atomic.Int32
}

func (d *failingDestination) Send(_ context.Context, rec *FailureRecord, recs []Record) error {
	if d.n.Add(-1) >= 0 {
		return errors.New("destination down")
	}
	d.sent.Add(int32(len(recs)))
	return nil
}

// TestInvalidPartialResponseAndFailingDestination: a partial batch
// response naming a record not in the batch fails the whole batch (as
// Lambda treats a bad itemIdentifier); after its retries the batch goes to
// the on-failure destination, which is retried until it takes it, and
// only then does the trigger move past the batch.
func TestInvalidPartialResponseAndFailingDestination(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, filepath.Join(dir, "log"), shardlog.Options{})
	defer l.Close()
	if err := l.CreateStream(shardlog.CreateStreamInput{Name: "s", ShardCount: 1}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if _, err := l.PutRecord(context.Background(), shardlog.StreamRef{Name: "s"}, shardlog.PutEntry{PartitionKey: "k", Data: []byte("x")}, ""); err != nil {
			t.Fatal(err)
		}
	}
	inv := invokerFunc(func(context.Context, []byte) ([]byte, error) {
		return []byte(`{"batchItemFailures":[{"itemIdentifier":"1"}]}`), nil
	})
	dest := &failingDestination{}
	dest.n.Store(3)
	var lines atomic.Int32
	cfg := Config{Name: "ip", EventSourceArn: StreamARN("us-east-1", "000000000000", "s"), StartingPosition: TrimHorizon,
		Function: Function{URL: "http://127.0.0.1:1/"}, MaximumRetryAttempts: intp(1), FunctionResponseTypes: []string{ReportBatchItemFailures}}
	tr, err := New(cfg, Options{Log: l, StateDir: filepath.Join(dir, "state"), Retry: fastRetry, Invoker: inv, Destination: dest,
		Logf: func(string, ...any) { lines.Add(1) }})
	if err != nil {
		t.Fatal(err)
	}
	runUntilCaughtUp(t, tr, time.Minute)
	if st := tr.Stats(); st.Invocations != 2 || st.RecordsProcessed != 0 || st.RecordsFailed != 3 || dest.sent.Load() != 3 {
		t.Fatalf("stats %+v, destination took %d", st, dest.sent.Load())
	}
	// Two refused responses and three refused sends were each logged.
	if n := lines.Load(); n != 5 {
		t.Fatalf("%d log lines, want 5", n)
	}
}
