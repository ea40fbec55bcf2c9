package trigger

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connectors/shardlog"
	"github.com/sluicehq/sluice/internal/clock"
	"github.com/sluicehq/sluice/internal/testseed"
)

func intp(v int) *int { return &v }

// TestRandomFailures: an HTTP function failing at random and at poison
// records, through bisecting and partial batch responses, over a stream
// resharded midway: every record is processed (at least once) or in the
// on-failure directory, and none is processed before every earlier record
// of its shard (of its shard and key with a ParallelizationFactor of 3)
// and of its parents is processed or given up.
func TestRandomFailures(t *testing.T) {
	for _, tc := range []struct {
		name     string
		partial  bool
		bisect   bool
		parallel int
	}{
		{"bisect", false, true, 1},
		{"partial", true, false, 1},
		{"partial+bisect", true, true, 1},
		{"parallel", true, true, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			seed := testseed.Seed(t)
			dir := t.TempDir()
			l := openLog(t, filepath.Join(dir, "log"), shardlog.Options{})
			defer l.Close()
			const n = 600
			fillStream(t, l, "orders", 2, n, 13)
			w := readWorld(t, l, "orders")
			chk := newChecker(w, tc.parallel > 1)
			fn := &flaky{rng: rand.New(rand.NewPCG(seed, 1)), partial: tc.partial, poison: 41, processed: chk.process}
			srv := httptest.NewServer(fn)
			defer srv.Close()
			dlq := filepath.Join(dir, "dlq")
			cfg := Config{
				Name: "t", EventSourceArn: StreamARN("us-east-1", "000000000000", "orders"), StartingPosition: TrimHorizon,
				Function: Function{URL: srv.URL}, BatchSize: intp(25), ParallelizationFactor: intp(tc.parallel),
				MaximumRetryAttempts: intp(2), BisectBatchOnFunctionError: tc.bisect,
				DestinationConfig: &DestinationConfig{OnFailure: &OnFailure{Destination: "file://" + dlq}},
			}
			if tc.partial {
				cfg.FunctionResponseTypes = []string{ReportBatchItemFailures}
			}
			if err := cfg.Normalize(); err != nil {
				t.Fatal(err)
			}
			dest, err := NewDestination(l, "file://"+dlq)
			if err != nil {
				t.Fatal(err)
			}
			tr, err := New(cfg, Options{Log: l, StateDir: filepath.Join(dir, "state"), Retry: fastRetry,
				Destination: &recordingDestination{next: dest, gaveUp: chk.giveUp}})
			if err != nil {
				t.Fatal(err)
			}
			runUntilCaughtUp(t, tr, 2*time.Minute)
			if fn.bad != nil {
				t.Fatalf("seed %d: %v", seed, fn.bad)
			}
			processed, failed := chk.finish(t, seed)
			st := tr.Stats()
			t.Logf("seed %d: %d processed, %d given up; %+v", seed, processed, failed, st)
			if failed < n/41 {
				t.Fatalf("seed %d: %d records given up, but %d are poison", seed, failed, n/41)
			}
			// The directory holds Lambda's on-failure records, covering
			// every record given up.
			covered := checkDLQ(t, dlq, w, cfg.EventSourceArn, "t")
			for s, k := range chk.failed {
				if k > 0 && !covered[s] {
					t.Fatalf("seed %d: record %d given up but not in %s", seed, w.numOf[s], dlq)
				}
			}
		})
	}
}

// checkDLQ reads an on-failure directory, checks each record's shape and
// returns the records the sequence ranges cover.
func checkDLQ(t *testing.T, dir string, w *world, arn, function string) map[string]bool {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	covered := map[string]bool{}
	for _, e := range ents {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		var raw map[string]json.RawMessage
		if err := json.Unmarshal(data, &raw); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"requestContext", "responseContext", "version", "timestamp", "KinesisBatchInfo"} {
			if _, ok := raw[k]; !ok {
				t.Fatalf("%s has no %s: %s", e.Name(), k, data)
			}
		}
		if strings.Contains(string(data), `"data"`) {
			t.Fatalf("%s holds record data: %s", e.Name(), data)
		}
		var rec FailureRecord
		if err := json.Unmarshal(data, &rec); err != nil {
			t.Fatal(err)
		}
		b := rec.KinesisBatchInfo
		if rec.Version != "1.0" || rec.RequestContext.Condition != ConditionRetriesExhausted || rec.RequestContext.FunctionArn != "arn:aws:lambda:us-east-1:000000000000:function:"+function ||
			rec.ResponseContext.FunctionError != "Unhandled" || b.StreamArn != arn || b.BatchSize < 1 {
			t.Fatalf("on-failure record %s", data)
		}
		if _, err := time.Parse(isoMillis, b.ApproximateArrivalOfFirstRecord); err != nil {
			t.Fatal(err)
		}
		in := false
		n := 0
		for _, s := range w.order[b.ShardID] {
			if s == b.StartSequenceNumber {
				in = true
			}
			if in {
				covered[s] = true
				n++
			}
			if s == b.EndSequenceNumber {
				break
			}
		}
		if n < b.BatchSize {
			t.Fatalf("on-failure record %s: range %s..%s of %s holds %d records", e.Name(), b.StartSequenceNumber, b.EndSequenceNumber, b.ShardID, n)
		}
	}
	return covered
}

// TestCommandFunction: a shell script reads each event on stdin; exit
// status 1 at a bad record fails the batch, bisecting isolates it and
// the on-failure record names it alone.
func TestCommandFunction(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, filepath.Join(dir, "log"), shardlog.Options{})
	defer l.Close()
	ref := shardlog.StreamRef{Name: "s"}
	if err := l.CreateStream(shardlog.CreateStreamInput{Name: "s", ShardCount: 1}); err != nil {
		t.Fatal(err)
	}
	var bad string
	for i := 0; i < 20; i++ {
		data := "good"
		if i == 13 {
			data = "bad"
		}
		res, err := l.PutRecord(context.Background(), ref, shardlog.PutEntry{PartitionKey: "k", Data: []byte(data)}, "")
		if err != nil {
			t.Fatal(err)
		}
		if i == 13 {
			bad = res.SequenceNumber.String()
		}
	}
	out := filepath.Join(dir, "seen")
	script := filepath.Join(dir, "fn.sh")
	// The event's data fields are base64: "bad" is YmFk.
	if err := os.WriteFile(script, []byte(`#!/bin/sh
ev=$(cat)
if printf '%s' "$ev" | grep -q '"data":"YmFk"'; then echo "bad record" >&2; exit 1; fi
printf '%s\n' "$ev" | grep -o '"sequenceNumber":"[0-9]*"' >> "$1"
echo '{}'
`), 0o755); err != nil {
		t.Fatal(err)
	}
	dlq := filepath.Join(dir, "dlq")
	cfg := Config{Name: "cmd", EventSourceArn: StreamARN("us-east-1", "000000000000", "s"), StartingPosition: TrimHorizon,
		Function: Function{Command: []string{"/bin/sh", script, out}}, BatchSize: intp(8),
		MaximumRetryAttempts: intp(1), BisectBatchOnFunctionError: true,
		DestinationConfig: &DestinationConfig{OnFailure: &OnFailure{Destination: "file://" + dlq}}}
	tr, err := New(cfg, Options{Log: l, StateDir: filepath.Join(dir, "state"), Retry: fastRetry})
	if err != nil {
		t.Fatal(err)
	}
	runUntilCaughtUp(t, tr, time.Minute)
	seen, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(seen), "sequenceNumber"); n != 19 || strings.Contains(string(seen), bad) {
		t.Fatalf("the script saw %d good records (want 19, the bad one never):\n%s", n, seen)
	}
	ents, err := os.ReadDir(dlq)
	if err != nil || len(ents) != 1 {
		t.Fatalf("on-failure directory: %v %v", ents, err)
	}
	data, err := os.ReadFile(filepath.Join(dlq, ents[0].Name()))
	if err != nil {
		t.Fatal(err)
	}
	var rec FailureRecord
	if err := json.Unmarshal(data, &rec); err != nil {
		t.Fatal(err)
	}
	b := rec.KinesisBatchInfo
	if b.BatchSize != 1 || b.StartSequenceNumber != bad || b.EndSequenceNumber != bad || b.ShardID != "shardId-000000000000" ||
		rec.RequestContext.Condition != ConditionRetriesExhausted || rec.RequestContext.ApproximateInvokeCount != 2 || rec.ResponseContext.StatusCode != 200 {
		t.Fatalf("on-failure record:\n%s", data)
	}
	if st := tr.Stats(); st.RecordsProcessed != 19 || st.RecordsFailed != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// TestMaximumRecordAge: records older than MaximumRecordAgeInSeconds go
// to the on-failure stream without a call; younger ones reach the
// function. The clock is the test's.
func TestMaximumRecordAge(t *testing.T) {
	dir := t.TempDir()
	clk := clock.NewManual(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
	l := openLog(t, filepath.Join(dir, "log"), shardlog.Options{Clock: clk})
	defer l.Close()
	for _, s := range []string{"s", "dlq"} {
		if err := l.CreateStream(shardlog.CreateStreamInput{Name: s, ShardCount: 1}); err != nil {
			t.Fatal(err)
		}
	}
	ref := shardlog.StreamRef{Name: "s"}
	for i := 0; i < 5; i++ {
		if _, err := l.PutRecord(context.Background(), ref, shardlog.PutEntry{PartitionKey: "old", Data: []byte("old")}, ""); err != nil {
			t.Fatal(err)
		}
	}
	clk.Advance(2 * time.Minute)
	for i := 0; i < 3; i++ {
		if _, err := l.PutRecord(context.Background(), ref, shardlog.PutEntry{PartitionKey: "new", Data: []byte("new")}, ""); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	inv := invokerFunc(func(_ context.Context, ev []byte) ([]byte, error) {
		var e lambdaEvent
		if err := json.Unmarshal(ev, &e); err != nil {
			return nil, err
		}
		for _, r := range e.Records {
			got = append(got, r.Kinesis.PartitionKey)
		}
		return nil, nil
	})
	cfg := Config{Name: "age", EventSourceArn: StreamARN("us-east-1", "000000000000", "s"), StartingPosition: TrimHorizon,
		Function: Function{URL: "http://127.0.0.1:1/"}, MaximumRecordAgeInSeconds: intp(60),
		DestinationConfig: &DestinationConfig{OnFailure: &OnFailure{Destination: StreamARN("us-east-1", "000000000000", "dlq")}}}
	tr, err := New(cfg, Options{Log: l, StateDir: filepath.Join(dir, "state"), Clock: clk, Invoker: inv})
	if err != nil {
		t.Fatal(err)
	}
	runUntilCaughtUp(t, tr, time.Minute)
	if strings.Join(got, ",") != "new,new,new" {
		t.Fatalf("the function got %v", got)
	}
	r, err := l.NewShardReader(shardlog.StreamRef{Name: "dlq"}, "shardId-000000000000", shardlog.StartPosition{Type: shardlog.TrimHorizon})
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.Read(context.Background(), 0, 0, false)
	if err != nil || len(res.Records) == 0 {
		t.Fatalf("on-failure stream: %v %v", res, err)
	}
	given := 0
	for i, r := range res.Records {
		var rec FailureRecord
		if err := json.Unmarshal(r.Data, &rec); err != nil {
			t.Fatal(err)
		}
		given += rec.KinesisBatchInfo.BatchSize
		if rec.RequestContext.Condition != ConditionRecordAge || rec.RequestContext.ApproximateInvokeCount != 0 || rec.ResponseContext != nil ||
			(i == 0 && rec.KinesisBatchInfo.ApproximateArrivalOfFirstRecord != "2026-12-01T00:00:00.000Z") || string(r.PartitionKey) != "shardId-000000000000" {
			t.Fatalf("on-failure record %s", r.Data)
		}
	}
	if given != 5 {
		t.Fatalf("%d records given up, want the 5 old ones", given)
	}
}

type invokerFunc func(context.Context, []byte) ([]byte, error)

func (f invokerFunc) Invoke(ctx context.Context, ev []byte) ([]byte, error) { return f(ctx, ev) }

// TestLatestResumes: a LATEST trigger skips what the stream held when it
// first started, and a restart resumes from its checkpoint, not from a
// new LATEST: records put while it was stopped are delivered.
func TestLatestResumes(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, filepath.Join(dir, "log"), shardlog.Options{})
	defer l.Close()
	ref := shardlog.StreamRef{Name: "s"}
	if err := l.CreateStream(shardlog.CreateStreamInput{Name: "s", ShardCount: 2}); err != nil {
		t.Fatal(err)
	}
	put := func(data string) {
		for _, k := range []string{"a", "b", "c", "d"} {
			if _, err := l.PutRecord(context.Background(), ref, shardlog.PutEntry{PartitionKey: k, Data: []byte(data)}, ""); err != nil {
				t.Fatal(err)
			}
		}
	}
	put("before")
	// Children that exist when the trigger is created start at LATEST too,
	// not at TRIM_HORIZON as children born later do.
	if _, err := l.UpdateShardCount(ref, 4, "UNIFORM_SCALING"); err != nil {
		t.Fatal(err)
	}
	put("before")
	var mu sync.Mutex
	var got []string
	inv := invokerFunc(func(_ context.Context, ev []byte) ([]byte, error) {
		var e lambdaEvent
		if err := json.Unmarshal(ev, &e); err != nil {
			return nil, err
		}
		mu.Lock()
		defer mu.Unlock()
		for _, r := range e.Records {
			got = append(got, r.Kinesis.Data)
		}
		return nil, nil
	})
	cfg := Config{Name: "latest", EventSourceArn: StreamARN("us-east-1", "000000000000", "s"), StartingPosition: Latest, Function: Function{URL: "http://127.0.0.1:1/"}}
	state := filepath.Join(dir, "state")
	tr, err := New(cfg, Options{Log: l, StateDir: state, Invoker: inv})
	if err != nil {
		t.Fatal(err)
	}
	runUntilCaughtUp(t, tr, time.Minute)
	mu.Lock()
	if len(got) != 0 {
		t.Fatalf("LATEST delivered %v", got)
	}
	mu.Unlock()
	put("while-stopped")
	tr, err = New(cfg, Options{Log: l, StateDir: state, Invoker: inv})
	if err != nil {
		t.Fatal(err)
	}
	runUntilCaughtUp(t, tr, time.Minute)
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 4 || strings.Count(strings.Join(got, ","), "d2hpbGUtc3RvcHBlZA==") != 4 {
		t.Fatalf("after the restart: %v", got)
	}
}

// TestBatchingWindow: with a batching window, records that arrive apart
// go to the function in one batch once it is full, and a batch that is
// not full goes when the window ends (the clock is the test's).
func TestBatchingWindow(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, filepath.Join(dir, "log"), shardlog.Options{})
	defer l.Close()
	ref := shardlog.StreamRef{Name: "s"}
	if err := l.CreateStream(shardlog.CreateStreamInput{Name: "s", ShardCount: 1}); err != nil {
		t.Fatal(err)
	}
	put := func(n int) {
		for i := 0; i < n; i++ {
			if _, err := l.PutRecord(context.Background(), ref, shardlog.PutEntry{PartitionKey: "k", Data: []byte("x")}, ""); err != nil {
				t.Fatal(err)
			}
		}
	}
	batches := make(chan int, 10)
	inv := invokerFunc(func(_ context.Context, ev []byte) ([]byte, error) {
		var e lambdaEvent
		if err := json.Unmarshal(ev, &e); err != nil {
			return nil, err
		}
		batches <- len(e.Records)
		return nil, nil
	})
	clk := clock.NewManual(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
	cfg := Config{Name: "w", EventSourceArn: StreamARN("us-east-1", "000000000000", "s"), StartingPosition: TrimHorizon,
		Function: Function{URL: "http://127.0.0.1:1/"}, BatchSize: intp(5), MaximumBatchingWindowInSeconds: intp(300)}
	tr, err := New(cfg, Options{Log: l, StateDir: filepath.Join(dir, "state"), Clock: clk, Invoker: inv})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tr.Run(ctx) }()
	put(3)
	put(2)
	if n := within(t, batches, "first batch"); n != 5 {
		t.Fatalf("first batch of %d records, want the 5 that arrived within the window", n)
	}
	// From now on every timer ends at once: the window of the next batch,
	// of one record, ends without more records.
	clk.AutoAdvance(true)
	put(1)
	if n := within(t, batches, "second batch"); n != 1 {
		t.Fatalf("second batch of %d records, want 1", n)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
