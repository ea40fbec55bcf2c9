package planner_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/sql/planner"
)

// TestKafkaScripts runs testdata_kafka against a kfake cluster started per
// file on 127.0.0.1; $BROKERS in a script is its address, $DATA the data
// directory.
//
//	explain                         plan only (errors, EXPLAIN, DESCRIBE)
//	run                             plan, build and run; the printed rows, sorted
//	topic name=t partitions=n       create a topic
//	produce topic=t [headers=k=v]   each input line a record: "<partition> <key>: <value>";
//	                                key "-" is none, value "<tombstone>" none; the i-th
//	                                line's timestamp is 2024-01-02T03:04:05.678Z + i ms
//	read topic=t                    every committed record, "p<partition> <key>: <value>", sorted
//	errors table=t                  the table's error output
func TestKafkaScripts(t *testing.T) {
	datadriven.Walk(t, "testdata_kafka", func(t *testing.T, path string) {
		c, err := kfake.NewCluster(kfake.NumBrokers(1))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		brokers := strings.Join(c.ListenAddrs(), ",")
		cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		adm := kadm.NewClient(cl)
		dir := t.TempDir()
		expand := func(s string) string {
			return strings.NewReplacer("$BROKERS", brokers, "$DATA", dir).Replace(s)
		}
		ctx := context.Background()
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			switch d.Cmd {
			case "explain", "run":
				if d.Cmd == "explain" {
					return strings.ReplaceAll(explainScript(expand(d.Input)), brokers, "$BROKERS")
				}
				out, err := runKafkaScript(t, expand(d.Input), dir)
				if err != nil {
					return "error: " + strings.ReplaceAll(err.Error(), brokers, "$BROKERS") + "\n"
				}
				return out
			case "topic":
				var name string
				var n int
				d.ScanArgs(t, "name", &name)
				d.ScanArgs(t, "partitions", &n)
				res, err := adm.CreateTopic(ctx, int32(n), 1, nil, name)
				if err == nil {
					err = res.Err
				}
				if err != nil {
					t.Fatal(err)
				}
				return ""
			case "produce":
				var topic, headers string
				d.ScanArgs(t, "topic", &topic)
				if d.HasArg("headers") {
					d.ScanArgs(t, "headers", &headers)
				}
				var rs []*kgo.Record
				for i, line := range strings.Split(d.Input, "\n") {
					head, val, ok := strings.Cut(line, ": ")
					p, key, ok2 := strings.Cut(head, " ")
					n, err := strconv.Atoi(p)
					if !ok || !ok2 || err != nil {
						t.Fatalf("produce: line %q is not '<partition> <key>: <value>'", line)
					}
					r := &kgo.Record{Topic: topic, Partition: int32(n), Timestamp: logEpoch.Add(time.Duration(i) * time.Millisecond)}
					if key != "-" {
						r.Key = []byte(key)
					}
					if val != "<tombstone>" {
						r.Value = []byte(val)
					}
					for _, h := range strings.Split(headers, ",") {
						if k, v, ok := strings.Cut(h, "="); ok {
							r.Headers = append(r.Headers, kgo.RecordHeader{Key: k, Value: []byte(v)})
						}
					}
					rs = append(rs, r)
				}
				if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
					t.Fatal(err)
				}
				return ""
			case "read":
				var topic string
				d.ScanArgs(t, "topic", &topic)
				return readTopic(t, c.ListenAddrs(), adm, topic)
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

// runKafkaScript is runInDir with checkpoints under the data directory
// when the script sets an interval.
func runKafkaScript(t *testing.T, src, dataDir string) (string, error) {
	p, err := planner.Plan(src)
	if err != nil {
		return "", err
	}
	cfg, err := p.Config()
	if err != nil {
		return "", err
	}
	cfg.StateBackend = "memory"
	if cfg.Checkpoint.Interval > 0 {
		cfg.Checkpoint.Dir = t.TempDir()
	}
	j := engine.NewJob(p.JobName("test"), cfg)
	var out bytes.Buffer
	err = p.Build(j, planner.RunOptions{Stdout: &out, DataDir: dataDir})
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

// readTopic lists every committed record of topic (read_committed, up to
// the last stable offsets), sorted.
func readTopic(t *testing.T, brokers []string, adm *kadm.Client, topic string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ends, err := adm.ListCommittedOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		t.Fatal(err)
	}
	want := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			want[o.Partition] = o.Offset
		}
	})
	var lines []string
	if len(want) > 0 {
		cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
			kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords())
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		for len(want) > 0 {
			fs := cl.PollFetches(ctx)
			if ctx.Err() != nil {
				t.Fatalf("read %s: %v", topic, ctx.Err())
			}
			fs.EachRecord(func(r *kgo.Record) {
				end, ok := want[r.Partition]
				if !ok || r.Offset >= end {
					return
				}
				if !r.Attrs.IsControl() {
					key, val := "-", "<tombstone>"
					if r.Key != nil {
						key = string(r.Key)
					}
					if r.Value != nil {
						val = string(r.Value)
					}
					lines = append(lines, fmt.Sprintf("p%d %s: %s", r.Partition, key, val))
				}
				if r.Offset == end-1 {
					delete(want, r.Partition)
				}
			})
		}
	}
	if len(lines) == 0 {
		return "(no records)\n"
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n") + "\n" + strconv.Itoa(len(lines)) + " records\n"
}
