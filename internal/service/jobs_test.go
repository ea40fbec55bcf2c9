package service

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connectors/shardlog"
	"github.com/sluicehq/sluice/engine"
)

// failRuns counts the runs of the "test-always-fails" Go job.
var failRuns atomic.Int64

func init() {
	RegisterJob("test-always-fails", func(ctx context.Context, env JobEnv, j *engine.Job, args []string) error {
		s := engine.FromSlice(j, "numbers", []int{1, 2, 3}, engine.NoWatermarks[int]())
		engine.ForEach(s, "explode", func(v int) error {
			if v == 2 {
				return fmt.Errorf("boom %d (run %d)", v, failRuns.Add(1))
			}
			return nil
		})
		return nil
	})
	RegisterJob("test-bad-build", func(ctx context.Context, env JobEnv, j *engine.Job, args []string) error {
		return errors.New("no such table")
	})
}

// putNumbers puts {"id": from} .. {"id": to-1} into stream.
func putNumbers(t *testing.T, l *shardlog.Log, stream string, from, to int) {
	t.Helper()
	var entries []shardlog.PutEntry
	for i := from; i < to; i++ {
		entries = append(entries, shardlog.PutEntry{PartitionKey: fmt.Sprint(i), Data: fmt.Appendf(nil, `{"id": %d}`, i)})
	}
	res, err := l.PutRecords(context.Background(), shardlog.StreamRef{Name: stream}, entries, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
	}
}

// committedIDs reads the ids in the committed part files under dir.
func committedIDs(t *testing.T, dir string) map[int]int {
	t.Helper()
	ids := map[int]int{}
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return ids
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.IsDir() || !strings.HasPrefix(e.Name(), "part-") {
			continue
		}
		f, err := os.Open(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			var row struct{ ID int }
			if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
				t.Fatalf("%s: %q: %v", e.Name(), sc.Text(), err)
			}
			ids[row.ID]++
		}
		f.Close()
	}
	return ids
}

// waitFor polls cond until it holds, failing after a minute.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func pipelineSQL(out string) string {
	return `CREATE TABLE src (id BIGINT) WITH (
  'connector' = 'shardlog', 'stream' = 'in', 'format' = 'json',
  'scan.stream.initpos' = 'TRIM_HORIZON');
CREATE TABLE dst (id BIGINT) WITH ('connector' = 'filesystem', 'path' = '` + out + `', 'format' = 'json');
INSERT INTO dst SELECT id FROM src;
`
}

func jobsEnv(t *testing.T, dir string) *env {
	return startEnvWith(t, dir, func(o *Options) { o.JobCheckpointInterval = 50 * time.Millisecond })
}

// checkExactlyOnce fails unless ids holds 0..n-1 once each.
func checkExactlyOnce(t *testing.T, ids map[int]int, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		if ids[i] != 1 {
			t.Errorf("id %d written %d times", i, ids[i])
		}
	}
	if len(ids) != n {
		t.Errorf("%d distinct ids written, want %d", len(ids), n)
	}
}

func TestJobsSQLSavepointStopResumeExactlyOnce(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(t.TempDir(), "out")
	e := jobsEnv(t, dir)
	c := newTestClient("http://" + e.addr)
	ctx := context.Background()
	l := e.svc.Log()
	if err := l.CreateStream(shardlog.CreateStreamInput{Name: "in", ShardCount: 2}); err != nil {
		t.Fatal(err)
	}
	putNumbers(t, l, "in", 0, 100)
	v, err := c.Submit(ctx, JobSpec{Name: "copy", SQL: pipelineSQL(out)})
	if err != nil {
		t.Fatal(err)
	}
	if v.State != JobRunning || v.Kind != "sql" || v.Name != "copy" {
		t.Fatalf("submitted: %+v", v.JobSummary)
	}
	waitFor(t, "the first 100 rows", func() bool { return len(committedIDs(t, out)) == 100 })

	// The job page: its graph, counters and checkpoints.
	waitFor(t, "checkpoints in the history", func() bool {
		v, err = c.Job(ctx, v.ID)
		return err == nil && len(v.Checkpoints.History) > 0
	})
	if len(v.Graph.Nodes) < 2 || len(v.Graph.Chains) == 0 || len(v.Operators) != len(v.Graph.Nodes) {
		t.Fatalf("graph: %+v, operators %+v", v.Graph, v.Operators)
	}
	var srcOut, sinkIn int64
	for i, op := range v.Operators {
		if len(op.Subtasks) != op.Parallelism {
			t.Errorf("operator %s: %d subtasks, parallelism %d", op.Name, len(op.Subtasks), op.Parallelism)
		}
		switch v.Graph.Nodes[i].Kind {
		case "source":
			srcOut += op.RecordsOut
		case "sink":
			sinkIn += op.RecordsIn
		}
	}
	if srcOut != 100 || sinkIn != 100 {
		t.Errorf("source emitted %d, sink took %d; want 100 each", srcOut, sinkIn)
	}
	if cp := v.Checkpoints.Latest; cp == nil || cp.SizeBytes <= 0 || cp.ID <= 0 {
		t.Errorf("latest checkpoint: %+v", cp)
	}

	sp, err := c.Savepoint(ctx, v.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(sp.Path, engine.ManifestFile)); err != nil {
		t.Fatalf("savepoint %s: %v", sp.Path, err)
	}
	putNumbers(t, l, "in", 100, 200)
	waitFor(t, "200 rows", func() bool { return len(committedIDs(t, out)) == 200 })
	stopped, err := c.Stop(ctx, v.ID, true)
	if err != nil {
		t.Fatal(err)
	}
	if stopped.State != JobCanceled || stopped.StoppedWith == nil || len(stopped.Savepoints) != 2 {
		t.Fatalf("stopped: %+v savepoints %+v", stopped.JobSummary, stopped.Savepoints)
	}
	// While it is stopped, more input arrives; stopping again is refused.
	putNumbers(t, l, "in", 200, 300)
	if _, err := c.Stop(ctx, v.ID, false); err == nil || !strings.Contains(err.Error(), "is CANCELED, not RUNNING") {
		t.Fatalf("second stop: %v", err)
	}
	resumed, err := c.Resume(ctx, v.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	if resumed.State != JobRunning {
		t.Fatalf("resumed: %+v", resumed.JobSummary)
	}
	waitFor(t, "300 rows", func() bool { return len(committedIDs(t, out)) == 300 })
	// Let a few more checkpoints pass: nothing is written twice.
	first := resumed.Checkpoints.Latest
	waitFor(t, "two more checkpoints", func() bool {
		v, err = c.Job(ctx, v.ID)
		return err == nil && v.Checkpoints.Latest != nil && (first == nil || v.Checkpoints.Latest.ID >= first.ID+2)
	})
	checkExactlyOnce(t, committedIDs(t, out), 300)

	// Resuming from the first savepoint explicitly is refused while it runs.
	if _, err := c.Resume(ctx, v.ID, sp.Path); err == nil || !strings.Contains(err.Error(), "already RUNNING") {
		t.Fatalf("resume while running: %v", err)
	}
	list, err := c.Jobs(ctx)
	if err != nil || len(list) != 1 || list[0].ID != v.ID {
		t.Fatalf("list: %+v %v", list, err)
	}
}

func TestJobsResumeAfterServiceRestart(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(t.TempDir(), "out")
	e := jobsEnv(t, dir)
	ctx := context.Background()
	if err := e.svc.Log().CreateStream(shardlog.CreateStreamInput{Name: "in", ShardCount: 1}); err != nil {
		t.Fatal(err)
	}
	putNumbers(t, e.svc.Log(), "in", 0, 50)
	v, err := newTestClient("http://"+e.addr).Submit(ctx, JobSpec{SQL: pipelineSQL(out)})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "50 rows", func() bool { return len(committedIDs(t, out)) == 50 })
	e.stop() // Close: a last checkpoint, the job stays RUNNING on disk

	e2 := jobsEnv(t, dir)
	putNumbers(t, e2.svc.Log(), "in", 50, 120)
	c := newTestClient("http://" + e2.addr)
	got, err := c.Job(ctx, v.ID)
	if err != nil || got.State != JobRunning {
		t.Fatalf("after restart: %+v %v", got.JobSummary, err)
	}
	waitFor(t, "120 rows", func() bool { return len(committedIDs(t, out)) == 120 })
	checkExactlyOnce(t, committedIDs(t, out), 120)
}

func TestJobsFailureKeptWithRestarts(t *testing.T) {
	e := jobsEnv(t, t.TempDir())
	c := newTestClient("http://" + e.addr)
	ctx := context.Background()
	v, err := c.Submit(ctx, JobSpec{Go: "test-always-fails", Config: map[string]string{
		"restart-strategy.type":                 "fixed-delay",
		"restart-strategy.fixed-delay.attempts": "2",
		"restart-strategy.fixed-delay.delay":    "10 ms",
	}})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the job to fail", func() bool {
		v, err = c.Job(ctx, v.ID)
		return err == nil && v.State == JobFailed
	})
	if v.Restarts != 2 {
		t.Errorf("restarts %d, want 2", v.Restarts)
	}
	if len(v.Exceptions) != 3 || !v.Exceptions[2].Final {
		t.Fatalf("exceptions: %+v", v.Exceptions)
	}
	for i, x := range v.Exceptions {
		if !strings.Contains(x.Message, "boom 2") || x.Restart != i {
			t.Errorf("exception %d: %+v", i, x)
		}
	}
	if !strings.Contains(v.LastException, "boom 2") {
		t.Errorf("last exception %q", v.LastException)
	}
	// It stays listed, with its exception, after a restart of the service.
	e.stop()
	e2 := jobsEnv(t, e.dir)
	list, err := newTestClient("http://" + e2.addr).Jobs(ctx)
	if err != nil || len(list) != 1 || list[0].State != JobFailed || list[0].Restarts != 2 || !strings.Contains(list[0].LastException, "boom 2") {
		t.Fatalf("after restart: %+v %v", list, err)
	}
}

// apiCall sends a raw request and returns the status and error body.
func apiCall(t *testing.T, method, url, body string) (int, APIError) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e struct {
		Error APIError `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, e.Error
}

func TestJobsAPIErrors(t *testing.T) {
	e := jobsEnv(t, t.TempDir())
	base := "http://" + e.addr
	cases := []struct {
		name, method, path, body string
		status                   int
		want                     APIError
	}{
		{"unknown job", "GET", "/v1/jobs/x", "", 404, APIError{Code: "NotFound", Message: `job "x" not found`}},
		{"unknown job stop", "POST", "/v1/jobs/x/stop", "", 404, APIError{Code: "NotFound", Message: `job "x" not found`}},
		{"unknown stream", "GET", "/v1/streams/nope", "", 404, APIError{Code: "NotFound", Message: `stream "nope" not found`}},
		{"unknown delivery stream", "GET", "/v1/delivery-streams/nope", "", 404, APIError{Code: "NotFound", Message: `delivery stream "nope" not found`}},
		{"unknown path", "GET", "/v1/nothing", "", 404, APIError{Code: "NotFound", Message: `path "/v1/nothing" not found`}},
		{"method", "DELETE", "/v1/jobs", "", 405, APIError{Code: "MethodNotAllowed", Message: "DELETE /v1/jobs: allowed: GET, POST"}},
		{"no job", "POST", "/v1/jobs", `{"name": "x"}`, 400, APIError{Code: "ValidationError", Field: "sql", Message: `one of "sql" and "go" is required`}},
		{"unknown field", "POST", "/v1/jobs", `{"sqll": "x"}`, 400, APIError{Code: "ValidationError", Field: "sqll", Message: `unknown field "sqll"`}},
		{"wrong type", "POST", "/v1/jobs", `{"go": "test-always-fails", "args": "a"}`, 400, APIError{Code: "ValidationError", Field: "args", Message: `want a JSON array, not string`}},
		{"config type", "POST", "/v1/jobs", `{"go": "test-always-fails", "config": {"restart-strategy.fixed-delay.attempts": 3}}`, 400,
			APIError{Code: "ValidationError", Field: "config.restart-strategy.fixed-delay.attempts", Message: `want a JSON string, not number`}},
		{"bad attempts", "POST", "/v1/jobs", `{"go": "test-always-fails", "config": {"restart-strategy.type": "fixed-delay", "restart-strategy.fixed-delay.attempts": "many"}}`, 400,
			APIError{Code: "ValidationError", Field: "config.restart-strategy.fixed-delay.attempts", Message: `'restart-strategy.fixed-delay.attempts' = 'many': want a whole number, at least 0`}},
		{"bad delay", "POST", "/v1/jobs", `{"go": "test-always-fails", "config": {"restart-strategy.fixed-delay.delay": "soon"}}`, 400,
			APIError{Code: "ValidationError", Field: "config.restart-strategy.fixed-delay.delay", Message: `'restart-strategy.fixed-delay.delay' = 'soon': not a duration (say 10 s, 500 ms, 1 min)`}},
		{"bad type", "POST", "/v1/jobs", `{"go": "test-always-fails", "config": {"restart-strategy.type": "sometimes"}}`, 400,
			APIError{Code: "ValidationError", Field: "config.restart-strategy.type", Message: `'restart-strategy.type' = 'sometimes': want fixed-delay, exponential-delay or none`}},
		{"unknown go job", "POST", "/v1/jobs", `{"go": "nope"}`, 400, APIError{Code: "ValidationError", Field: "go"}},
		{"go build error", "POST", "/v1/jobs", `{"go": "test-bad-build"}`, 400, APIError{Code: "InvalidJob", Message: `Go job "test-bad-build": no such table`}},
		{"sql error", "POST", "/v1/jobs", `{"sql": "INSERT INTO t\nSELEC 1"}`, 400, APIError{Code: "SQLError", Line: 2, Column: 1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, got := apiCall(t, tc.method, base+tc.path, tc.body)
			if status != tc.status || got.Code != tc.want.Code || got.Field != tc.want.Field ||
				(tc.want.Message != "" && got.Message != tc.want.Message) || got.Line != tc.want.Line || got.Column != tc.want.Column {
				t.Errorf("got %d %+v, want %d %+v", status, got, tc.status, tc.want)
			}
			if tc.name == "sql error" && !strings.Contains(got.Message, "  SELEC 1\n  ^") {
				t.Errorf("SQL error without its line and caret: %q", got.Message)
			}
		})
	}
	// A failed submission leaves nothing behind.
	if list, err := newTestClient(base).Jobs(context.Background()); err != nil || len(list) != 0 {
		t.Fatalf("jobs after refused submissions: %+v %v", list, err)
	}
}

// testClient is the REST API as the tests call it (the client package
// imports this one, so it cannot be used here; cmd/sluice's tests use it).
type testClient struct{ base string }

func newTestClient(base string) *testClient { return &testClient{base} }

func (c *testClient) do(method, path string, body, out any) error {
	var rd *strings.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = strings.NewReader(string(b))
	} else {
		rd = strings.NewReader("")
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 400 {
		var e struct {
			Error APIError `json:"error"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
			return err
		}
		return &e.Error
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

func (c *testClient) Submit(_ context.Context, spec JobSpec) (JobView, error) {
	var v JobView
	return v, c.do("POST", "/v1/jobs", spec, &v)
}

func (c *testClient) Job(_ context.Context, id string) (JobView, error) {
	var v JobView
	return v, c.do("GET", "/v1/jobs/"+id, nil, &v)
}

func (c *testClient) Jobs(_ context.Context) ([]JobSummary, error) {
	var v struct{ Jobs []JobSummary }
	return v.Jobs, c.do("GET", "/v1/jobs", nil, &v)
}

func (c *testClient) Stop(_ context.Context, id string, savepoint bool) (JobView, error) {
	var v JobView
	return v, c.do("POST", "/v1/jobs/"+id+"/stop", map[string]bool{"savepoint": savepoint}, &v)
}

func (c *testClient) Savepoint(_ context.Context, id string) (JobSavepoint, error) {
	var v JobSavepoint
	return v, c.do("POST", "/v1/jobs/"+id+"/savepoint", nil, &v)
}

func (c *testClient) Resume(_ context.Context, id, from string) (JobView, error) {
	var v JobView
	return v, c.do("POST", "/v1/jobs/"+id+"/resume", map[string]string{"from": from}, &v)
}
