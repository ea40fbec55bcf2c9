package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connectors/shardlog"
)

// TestTriggerCommands: create refuses bad settings with Lambda's words and
// a second trigger of a name; list shows what is stored; run calls the
// function with every record of the stream and checkpoints; delete
// removes the trigger.
func TestTriggerCommands(t *testing.T) {
	dir := t.TempDir()
	l, err := shardlog.Open(shardlog.Options{Dir: dir, RetentionInterval: -1, Sync: shardlog.SyncNone})
	if err != nil {
		t.Fatal(err)
	}
	ref := shardlog.StreamRef{Name: "orders"}
	if err := l.CreateStream(shardlog.CreateStreamInput{Name: "orders", ShardCount: 2}); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"a", "b", "c", "d", "e"} {
		if _, err := l.PutRecord(context.Background(), ref, shardlog.PutEntry{PartitionKey: k, Data: []byte(k)}, ""); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	seen := map[string]bool{}
	all := make(chan struct{})
	var once sync.Once
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var ev struct {
			Records []struct {
				Kinesis struct{ PartitionKey string } `json:"kinesis"`
			}
		}
		if err := json.Unmarshal(body, &ev); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		for _, r := range ev.Records {
			seen[r.Kinesis.PartitionKey] = true
		}
		if len(seen) == 5 {
			once.Do(func() { close(all) })
		}
	}))
	defer srv.Close()

	_, errs, code := runSluice("trigger", "create", "--data", dir, "--name", "t", "--stream", "orders", "--url", srv.URL, "--starting-position", "TRIM_HORIZON", "--batch-size", "0")
	if code != 1 || !strings.Contains(errs, "ValidationException: 1 validation error detected: Value '0' at 'batchSize' failed to satisfy constraint: Member must have value greater than or equal to 1") {
		t.Fatalf("bad batch size: exit %d, %q", code, errs)
	}
	_, errs, code = runSluice("trigger", "create", "--data", dir, "--name", "t", "--stream", "orders", "--url", srv.URL, "--starting-position", "TRIM_HORIZON", "--maximum-record-age-in-seconds", "30")
	if code != 1 || !strings.Contains(errs, "InvalidParameterValueException: MaximumRecordAgeInSeconds must be either -1 (forever) or between 60 and 604800 (inclusive)") {
		t.Fatalf("bad age: exit %d, %q", code, errs)
	}
	dlq := "file://" + filepath.Join(dir, "dlq")
	out, errs, code := runSluice("trigger", "create", "--data", dir, "--name", "t", "--stream", "orders", "--url", srv.URL, "--starting-position", "TRIM_HORIZON",
		"--batch-size", "2", "--bisect-batch-on-function-error", "--maximum-retry-attempts", "3", "--function-response-types", "ReportBatchItemFailures", "--on-failure", dlq)
	if code != 0 || !strings.Contains(out, "trigger t: arn:aws:kinesis:us-east-1:000000000000:stream/orders -> "+srv.URL) {
		t.Fatalf("create: exit %d, %q %q", code, out, errs)
	}
	if _, errs, code = runSluice("trigger", "create", "--data", dir, "--name", "t", "--stream", "orders", "--url", srv.URL, "--starting-position", "LATEST"); code != 1 || !strings.Contains(errs, "ResourceConflictException: a trigger named t already exists") {
		t.Fatalf("second create: exit %d, %q", code, errs)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var runOut, runErr strings.Builder
	go func() { done <- run(ctx, []string{"trigger", "run", "--data", dir}, &runOut, &runErr) }()
	guard := time.NewTimer(time.Minute)
	defer guard.Stop()
	select {
	case <-guard.C:
		t.Fatalf("the function did not get every record within a minute: %s", runErr.String())
	case <-all:
	case c := <-done:
		t.Fatalf("run ended: exit %d, %s %s", c, runOut.String(), runErr.String())
	}
	cancel()
	if c := <-done; c != 0 {
		t.Fatalf("run: exit %d, %s", c, runErr.String())
	}

	out, _, code = runSluice("trigger", "list", "--data", dir, "--json")
	var list []struct {
		Config struct {
			Name      string
			BatchSize int
		}
		Positions map[string]struct {
			SequenceNumber string `json:"sequenceNumber"`
		}
	}
	if err := json.Unmarshal([]byte(out), &list); code != 0 || err != nil || len(list) != 1 || list[0].Config.Name != "t" || list[0].Config.BatchSize != 2 || len(list[0].Positions) != 2 {
		t.Fatalf("list --json: exit %d, %v, %s", code, err, out)
	}
	if out, _, code = runSluice("trigger", "list", "--data", dir); code != 0 || !strings.Contains(out, "t     arn:aws:kinesis:us-east-1:000000000000:stream/orders") || !strings.Contains(out, "t shardId-000000000000: after ") {
		t.Fatalf("list: exit %d, %q", code, out)
	}
	if out, _, code = runSluice("trigger", "delete", "--data", dir, "t"); code != 0 || out != "trigger t deleted\n" {
		t.Fatalf("delete: exit %d, %q", code, out)
	}
	if _, errs, code = runSluice("trigger", "delete", "--data", dir, "t"); code != 1 || !strings.Contains(errs, "ResourceNotFoundException: no trigger named t") {
		t.Fatalf("second delete: exit %d, %q", code, errs)
	}
}

// TestTriggerRunThroughAnEndpoint: a trigger created with --endpoint reads
// its stream through that Kinesis API (here a log served on 127.0.0.1),
// and `trigger run` does not open the data directory's log for it.
func TestTriggerRunThroughAnEndpoint(t *testing.T) {
	endpoint := startLogServer(t)
	if _, errs, code := runSluice("log", "create", endpoint, "orders", "--shards", "2"); code != 0 {
		t.Fatalf("log create: %s", errs)
	}
	for _, k := range []string{"a", "b", "c"} {
		if _, errs, code := runSluice("log", "put", endpoint, "--key", k, "orders", "record-"+k); code != 0 {
			t.Fatalf("log put: %s", errs)
		}
	}
	var mu sync.Mutex
	seen := map[string]bool{}
	all := make(chan struct{})
	var once sync.Once
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var ev struct {
			Records []struct {
				Kinesis struct{ PartitionKey string } `json:"kinesis"`
			}
		}
		if err := json.Unmarshal(body, &ev); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		for _, r := range ev.Records {
			seen[r.Kinesis.PartitionKey] = true
		}
		if len(seen) == 3 {
			once.Do(func() { close(all) })
		}
	}))
	defer srv.Close()
	dir := t.TempDir()
	if out, errs, code := runSluice("trigger", "create", "--data", dir, "--name", "remote", "--stream", "orders", endpoint,
		"--url", srv.URL, "--starting-position", "TRIM_HORIZON"); code != 0 {
		t.Fatalf("create: exit %d, %q %q", code, out, errs)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var runOut, runErr strings.Builder
	go func() { done <- run(ctx, []string{"trigger", "run", "--data", dir}, &runOut, &runErr) }()
	guard := time.NewTimer(time.Minute)
	defer guard.Stop()
	select {
	case <-guard.C:
		t.Fatalf("the function did not get every record within a minute: %s", runErr.String())
	case <-all:
	case c := <-done:
		t.Fatalf("run ended: exit %d, %s", c, runErr.String())
	}
	cancel()
	if c := <-done; c != 0 {
		t.Fatalf("run: exit %d, %s", c, runErr.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "LOCK")); !os.IsNotExist(err) {
		t.Fatalf("run opened the data directory's log (%v)", err)
	}
}
