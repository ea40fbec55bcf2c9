package main

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/connectors/kpl"
	"github.com/sluicehq/sluice/connectors/shardlog"
	"github.com/sluicehq/sluice/connectors/shardlog/shardconn"
)

// TestFirehoseRunDeaggregates: a stream of KPL aggregates (and a corrupt
// one) delivered by `sluice firehose run`: every user record lands once
// as its own line, as Firehose de-aggregates; the corrupt aggregate is
// delivered whole and reported on stderr.
func TestFirehoseRunDeaggregates(t *testing.T) {
	logDir, out := t.TempDir(), t.TempDir()
	l, err := shardlog.Open(shardlog.Options{Dir: logDir, Sync: shardlog.SyncNone})
	if err != nil {
		t.Fatal(err)
	}
	ref := shardlog.StreamRef{Name: "events"}
	if err := l.CreateStream(shardlog.CreateStreamInput{Name: "events", ShardCount: 2}); err != nil {
		t.Fatal(err)
	}
	m, err := shardconn.ShardMap(l, ref)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := kpl.NewAggregator(kpl.AggregatorOptions{}, m)
	const n = 2000
	var es []kpl.Entry
	for i := 0; i < n; i++ {
		es, _ = a.Add(es, kpl.UserRecord{PartitionKey: fmt.Sprint("k", i%13), Data: []byte(fmt.Sprintf(`{"id":%d}`, i))})
	}
	es = a.Flush(es)
	pe := []shardlog.PutEntry{{PartitionKey: "bad", Data: append(append([]byte{}, kpl.Magic[:]...), "not protobuf, no md5 either"...)}}
	for _, e := range es {
		pe = append(pe, shardlog.PutEntry{PartitionKey: e.PartitionKey, ExplicitHashKey: e.ExplicitHashKey, Data: e.Data})
	}
	if res, err := l.PutRecords(context.Background(), ref, pe, nil); err != nil || res[0].ErrorCode != "" {
		t.Fatalf("put: %v %+v", err, res)
	}
	l.Close()
	if len(es) >= n/10 {
		t.Fatalf("%d aggregates for %d records", len(es), n)
	}
	cfg := writeConfig(t, map[string]any{
		"name": "events", "format": map[string]any{"type": "jsonl"}, "compression": "GZIP",
		"directory": map[string]string{"path": out},
	})
	stdout, stderr, code := sluiceRun(context.Background(), "firehose", "run", "--config", cfg, "--source", "events", "--log-dir", logDir,
		"--checkpoint-dir", t.TempDir(), "--checkpoint-interval", "100ms", "--bounded", "--progress", "0")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stderr, "kpl: corrupt aggregated record") || !strings.Contains(stderr, "delivered whole") {
		t.Errorf("stderr does not report the corrupt aggregate: %q", stderr)
	}
	got := gzipLines(t, visible(t, out), regexp.MustCompile(`^\d{4}/\d\d/\d\d/\d\d/events-1-`))
	for i := 0; i < n; i++ {
		if c := got[fmt.Sprintf(`{"id":%d}`, i)]; c != 1 {
			t.Fatalf("user record %d delivered %d times", i, c)
		}
	}
	if len(got) != n+1 {
		t.Fatalf("%d distinct lines, want %d user records and the corrupt record", len(got), n)
	}
}
