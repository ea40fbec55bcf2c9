package planner_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"

	"github.com/sluicehq/sluice/connectors/shardlog"
	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/sql/planner"
)

// logEpoch is the manual log clock of the shardlog scripts: every record
// arrives at this time.
var logEpoch = time.Date(2024, 1, 2, 3, 4, 5, 678e6, time.UTC)

// runInDir plans and runs a script with dataDir as its data directory
// and returns the print sink's lines, sorted.
func runInDir(t testing.TB, src, dataDir string) (string, error) {
	p, err := planner.Plan(src)
	if err != nil {
		return "", err
	}
	cfg, err := p.Config()
	if err != nil {
		return "", err
	}
	cfg.StateBackend = "memory"
	j := engine.NewJob(p.JobName("test"), cfg)
	var out bytes.Buffer
	err = p.Build(j, planner.RunOptions{Stdout: &out, DataDir: dataDir, LogClock: shardlog.NewManualClock(logEpoch)})
	if err == nil {
		err = j.Execute(context.Background())
	}
	if cerr := p.Close(); cerr != nil && err == nil {
		err = cerr
	}
	if err != nil {
		return "", err
	}
	if out.Len() == 0 {
		return "(no rows)\n", nil
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	slices.Sort(lines)
	return strings.Join(lines, "\n") + "\n", nil
}

// TestShardlogScripts runs testdata_shardlog: each file has one data
// directory shared by its commands, so one script writes a stream and the
// next reads it back.
//
//	explain           plan only (errors, EXPLAIN, DESCRIBE)
//	run               plan, build and run; the printed rows, sorted
//	put stream=s      append each input line as a record (partition key k)
//	errors table=t    the table's error output (or dir=d: $DATA/d's)
//
// $DATA in a script is the data directory.
func TestShardlogScripts(t *testing.T) {
	datadriven.Walk(t, "testdata_shardlog", func(t *testing.T, path string) {
		dir := t.TempDir()
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			switch d.Cmd {
			case "explain":
				p, err := planner.Plan(d.Input)
				if err != nil {
					return "error: " + err.Error() + "\n"
				}
				out := strings.Join(p.Output, "\n")
				if out != "" {
					out += "\n"
				}
				if p.HasJob() {
					out += p.Explain()
				}
				return out
			case "run":
				out, err := runInDir(t, strings.ReplaceAll(d.Input, "$DATA", dir), dir)
				if err != nil {
					return "error: " + err.Error() + "\n"
				}
				return out
			case "put":
				var stream string
				d.ScanArgs(t, "stream", &stream)
				putLines(t, filepath.Join(dir, "log"), stream, strings.Split(d.Input, "\n"))
				return ""
			case "errors":
				sub := ""
				if d.HasArg("table") {
					var table string
					d.ScanArgs(t, "table", &table)
					sub = filepath.Join("errors", table)
				} else {
					d.ScanArgs(t, "dir", &sub)
				}
				b, err := os.ReadFile(filepath.Join(dir, sub, "errors.jsonl"))
				if err != nil {
					return "error: " + err.Error() + "\n"
				}
				return string(b)
			}
			t.Fatalf("unknown command %q", d.Cmd)
			return ""
		})
	})
}

// putLines appends records to a stream of the log in dir, creating it
// (one shard) if needed.
func putLines(t testing.TB, dir, stream string, lines []string) {
	t.Helper()
	l, err := shardlog.Open(shardlog.Options{Dir: dir, Clock: shardlog.NewManualClock(logEpoch)})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}()
	ref := shardlog.StreamRef{Name: stream}
	if _, err := l.DescribeStream(ref); err != nil {
		if err := l.CreateStream(shardlog.CreateStreamInput{Name: stream, ShardCount: 1}); err != nil {
			t.Fatal(err)
		}
	}
	for _, line := range lines {
		data := []byte(line)
		if line == "<empty>" {
			data = nil
		}
		if _, err := l.PutRecord(context.Background(), ref, shardlog.PutEntry{PartitionKey: "k", Data: data}, ""); err != nil {
			t.Fatal(err)
		}
	}
}

// TestShardlogErrorCount: the records that do not decode are counted
// under the names `sluice run`'s progress line reads (the source's
// "<table>/decode" operator's "decode-errors" counter, and the error
// output's sink "<table>-errors"), and the job ends with the good ones.
func TestShardlogErrorCount(t *testing.T) {
	dir := t.TempDir()
	putLines(t, filepath.Join(dir, "log"), "in", []string{`{"id":1}`, `{"id":`, `{"id":2}`, `nope`, `{"id":[3]}`})
	p, err := planner.Plan(`CREATE TABLE src (id INT) WITH ('connector' = 'shardlog', 'stream' = 'in', 'format' = 'json',
  'scan.stream.initpos' = 'TRIM_HORIZON', 'scan.bounded' = 'true');
CREATE TABLE snk (id INT) WITH ('connector' = 'blackhole');
INSERT INTO snk SELECT id FROM src;`)
	if err != nil {
		t.Fatal(err)
	}
	j := engine.NewJob("errors", engine.Config{StateBackend: "memory"})
	if err := p.Build(j, planner.RunOptions{DataDir: dir, LogClock: shardlog.NewManualClock(logEpoch)}); err != nil {
		t.Fatal(err)
	}
	r, err := j.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Wait(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	counts := map[string]int64{}
	for _, om := range r.Metrics().Operators {
		switch om.Name {
		case "src/decode":
			counts["decode-errors"] = om.Counters["decode-errors"]
		case "src-errors":
			counts["error sink in"] = om.RecordsIn
		case "snk":
			counts["sink in"] = om.RecordsIn
		}
	}
	want := map[string]int64{"decode-errors": 3, "error sink in": 3, "sink in": 2}
	for k, v := range want {
		if counts[k] != v {
			t.Errorf("%s = %d, want %d (all: %v)", k, counts[k], v, counts)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "errors", "src", "errors.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), "\n"); n != 3 {
		t.Errorf("error output has %d lines, want 3:\n%s", n, b)
	}
}
