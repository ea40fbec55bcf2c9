package planner_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"

	"github.com/sluicehq/sluice/connectors/shardlog"
	"github.com/sluicehq/sluice/connectors/shardlog/kinesisapi"
	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/sql/planner"
)

// startKinesis serves a log (on the manual clock at logEpoch) with the
// Kinesis wire server on 127.0.0.1 and returns the log and the endpoint.
func startKinesis(t *testing.T) (*shardlog.Log, string) {
	t.Helper()
	l, err := shardlog.Open(shardlog.Options{Dir: t.TempDir(), RetentionInterval: -1, Sync: shardlog.SyncNone, Clock: shardlog.NewManualClock(logEpoch)})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- kinesisapi.New(l, kinesisapi.Options{}).Serve(ctx, ln, nil) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
		l.Close()
	})
	return l, "http://" + ln.Addr().String()
}

// requestID masks the server's request ids, which differ run to run.
var requestID = regexp.MustCompile(`RequestID: [0-9a-f-]+`)

// TestKinesisScripts runs testdata_kinesis against a Kinesis wire server
// started per file; $ENDPOINT in a script is its URL, $DATA the data
// directory.
//
//	explain                  plan only (errors, EXPLAIN, DESCRIBE)
//	run                      plan, build and run; the printed rows, sorted
//	create stream=s shards=n create a stream
//	put stream=s             append each input line as a record ("key: data", else key k)
//	read stream=s            every record of the stream, "shard key: data", sorted
//	errors table=t           the table's error output
func TestKinesisScripts(t *testing.T) {
	datadriven.Walk(t, "testdata_kinesis", func(t *testing.T, path string) {
		l, endpoint := startKinesis(t)
		dir := t.TempDir()
		expand := func(s string) string {
			return strings.NewReplacer("$ENDPOINT", endpoint, "$DATA", dir).Replace(s)
		}
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			switch d.Cmd {
			case "explain", "run":
				if d.Cmd == "explain" {
					return explainScript(expand(d.Input))
				}
				out, err := runInDir(t, expand(d.Input), dir)
				if err != nil {
					msg := strings.ReplaceAll(err.Error(), endpoint, "$ENDPOINT")
					return "error: " + requestID.ReplaceAllString(msg, "RequestID: <id>") + "\n"
				}
				return out
			case "create":
				var stream string
				var shards int
				d.ScanArgs(t, "stream", &stream)
				d.ScanArgs(t, "shards", &shards)
				if err := l.CreateStream(shardlog.CreateStreamInput{Name: stream, ShardCount: shards}); err != nil {
					t.Fatal(err)
				}
				return ""
			case "put":
				var stream string
				d.ScanArgs(t, "stream", &stream)
				for _, line := range strings.Split(d.Input, "\n") {
					key, data, ok := strings.Cut(line, ": ")
					if !ok {
						key, data = "k", line
					}
					if _, err := l.PutRecord(context.Background(), shardlog.StreamRef{Name: stream}, shardlog.PutEntry{PartitionKey: key, Data: []byte(data)}, ""); err != nil {
						t.Fatal(err)
					}
				}
				return ""
			case "read":
				var stream string
				d.ScanArgs(t, "stream", &stream)
				return readStream(t, l, stream)
			case "errors":
				var table string
				d.ScanArgs(t, "table", &table)
				b, err := os.ReadFile(filepath.Join(dir, "errors", table, "errors.jsonl"))
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

// explainScript plans src: its errors, DESCRIBE output and EXPLAIN.
func explainScript(src string) string {
	p, err := planner.Plan(src)
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
}

// readStream lists every record of a stream of l, sorted. A partition key
// of the random partitioner (it has a '-') shows as "<random>".
func readStream(t *testing.T, l *shardlog.Log, stream string) string {
	t.Helper()
	ref := shardlog.StreamRef{Name: stream}
	shards, err := l.ListShards(ref, "", shardlog.ShardFilter{})
	if err != nil {
		return "error: " + err.Error() + "\n"
	}
	var lines []string
	for _, sh := range shards {
		rd, err := l.NewShardReader(ref, sh.ShardID, shardlog.StartPosition{Type: shardlog.TrimHorizon})
		if err != nil {
			t.Fatal(err)
		}
		for {
			res, err := rd.Read(context.Background(), 1000, 1<<20, false)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range res.Records {
				key := string(r.PartitionKey)
				if strings.Contains(key, "-") {
					key = "<random>"
				}
				lines = append(lines, fmt.Sprintf("%s %s: %s", sh.ShardID, key, r.Data))
			}
			if len(res.Records) == 0 || res.ShardEnded {
				break
			}
		}
	}
	if len(lines) == 0 {
		return "(no records)\n"
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n") + "\n" + strconv.Itoa(len(lines)) + " records\n"
}

// TestKinesisErrorCount: records that do not decode are counted under the
// name `sluice run`'s progress line reads (the source's "<table>/decode"
// operator's "decode-errors" counter), and the job ends with the good
// ones.
func TestKinesisErrorCount(t *testing.T) {
	l, endpoint := startKinesis(t)
	if err := l.CreateStream(shardlog.CreateStreamInput{Name: "in", ShardCount: 1}); err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{`{"id":1}`, `{"id":`, `{"id":2}`, `nope`} {
		if _, err := l.PutRecord(context.Background(), shardlog.StreamRef{Name: "in"}, shardlog.PutEntry{PartitionKey: "k", Data: []byte(line)}, ""); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	p, err := planner.Plan(`CREATE TABLE src (id INT) WITH ('connector' = 'kinesis', 'stream' = 'in', 'aws.endpoint' = '` + endpoint + `',
  'aws.credentials.provider' = 'BASIC', 'aws.credentials.basic.accesskeyid' = 'AKIDEXAMPLE', 'aws.credentials.basic.secretkey' = 'secret',
  'format' = 'json', 'scan.stream.initpos' = 'TRIM_HORIZON', 'scan.bounded' = 'true');
CREATE TABLE snk (id INT) WITH ('connector' = 'blackhole');
INSERT INTO snk SELECT id FROM src;`)
	if err != nil {
		t.Fatal(err)
	}
	j := engine.NewJob("errors", engine.Config{StateBackend: "memory"})
	if err := p.Build(j, planner.RunOptions{DataDir: dir}); err != nil {
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
		case "snk":
			counts["sink in"] = om.RecordsIn
		}
	}
	if counts["decode-errors"] != 2 || counts["sink in"] != 2 {
		t.Fatalf("counts %v", counts)
	}
}
