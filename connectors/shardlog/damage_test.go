package shardlog

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/sluicehq/sluice/connectors/shardlog/internal/storage"
)

// logLines is an ErrorLog that keeps what it is told.
type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (g *logLines) logf(format string, args ...any) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.lines = append(g.lines, fmt.Sprintf(format, args...))
}

func (g *logLines) with(sub string) []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []string
	for _, l := range g.lines {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return out
}

// TestClosedShardDamageReportedNotCut: the parent of a split, closed with
// all its records, loses the end of its segment. The log opens; the error
// log names the stream, shard and offset; GetRecords reads the records
// before the damage and then fails (rather than answering empty batches
// forever); Damage lists it. Repair with skip lets a reader reach the
// shard's end and its children, and the next open finds no damage.
func TestClosedShardDamageReportedNotCut(t *testing.T) {
	var lines logLines
	dir := t.TempDir()
	clk := NewManualClock(t0)
	opts := Options{Dir: dir, Clock: clk, RetentionInterval: -1, Sync: SyncNone, ErrorLog: lines.logf}
	l, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := l.CreateStream(CreateStreamInput{Name: "s", ShardCount: 1}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		if _, err := l.PutRecord(ctx, ref("s"), PutEntry{PartitionKey: fmt.Sprint(i), Data: []byte(fmt.Sprint("record ", i))}, ""); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.SplitShard(ref("s"), "shardId-000000000000", "1000"); err != nil {
		t.Fatal(err)
	}
	l.Close()
	seg := filepath.Join(dir, "streams")
	ents, _ := os.ReadDir(seg)
	seg = filepath.Join(seg, ents[0].Name(), "shards", "shardId-000000000000", "00000000000000000000.log")
	b, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(seg, b[:len(b)-3], 0o644); err != nil {
		t.Fatal(err)
	}

	l, err = Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	if got := lines.with(`stream "s" shard shardId-000000000000: found damage`); len(got) != 1 || !strings.Contains(got[0], "offset 4") || !strings.Contains(got[0], "sluice log repair") {
		t.Fatalf("error log: %q", lines.lines)
	}
	if ds := l.Damage(); len(ds) != 1 || ds[0].Stream != "s" || ds[0].Shard != "shardId-000000000000" || ds[0].Offset != 4 || ds[0].End != 5 {
		t.Fatalf("damage: %+v", ds)
	}
	read := func() (int, bool, error) {
		it, err := l.GetShardIterator(ref("s"), "shardId-000000000000", StartPosition{Type: TrimHorizon})
		if err != nil {
			return 0, false, err
		}
		n := 0
		var buf RecordBuffer
		for range 10 {
			out, err := l.GetRecords(ctx, it, 0, &buf)
			if err != nil {
				return n, false, err
			}
			n += len(out.Records)
			if out.ShardEnded {
				return n, len(out.ChildShards) == 2, nil
			}
			it = out.NextShardIterator
		}
		return n, false, errors.New("the closed shard never ends")
	}
	n, _, err := read()
	if n != 4 || !errors.Is(err, storage.ErrCorrupt) {
		t.Fatalf("read %d records, then %v; want 4 and the damage", n, err)
	}
	done, err := l.Repair(RepairSkip)
	if err != nil || len(done) != 1 || !strings.Contains(done[0].String(), "skipped offsets 4 to 4") {
		t.Fatalf("repair: %v %v", done, err)
	}
	if n, ended, err := read(); n != 4 || !ended || err != nil {
		t.Fatalf("after repair: %d records, ended %v, %v", n, ended, err)
	}
	l.Close()
	lines = logLines{}
	l, err = Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if ds, err := l.Verify(); err != nil || len(ds) != 0 || len(lines.lines) != 0 {
		t.Fatalf("after reopen: %v %v %q", ds, err, lines.lines)
	}
}
