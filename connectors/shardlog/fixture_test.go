package shardlog

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestReadsV0Log opens a log directory written by the code before the log
// was split into its own packages (commit 19569f5; the program that wrote
// it is testdata/v0log/generate_test.go.txt, which prints the same dump
// with dumpLog below) and checks that every stream, tag, consumer, shard
// map entry, record and sequence number reads back as that code saw them;
// then that the log takes new records where the old one left off.
func TestReadsV0Log(t *testing.T) {
	want, err := os.ReadFile("testdata/v0log/dump.txt")
	if err != nil {
		t.Fatal(err)
	}
	first, rest, _ := strings.Cut(string(want), "\n")
	nowMs, err := strconv.ParseInt(strings.TrimPrefix(first, "now="), 10, 64)
	if err != nil {
		t.Fatalf("dump.txt: first line %q: %v", first, err)
	}
	// Open a copy: opening takes the directory's lock and may add files.
	dir := filepath.Join(t.TempDir(), "log")
	if err := os.CopyFS(dir, os.DirFS("testdata/v0log/log")); err != nil {
		t.Fatal(err)
	}
	clk := NewManualClock(time.UnixMilli(nowMs).UTC())
	l, err := Open(Options{Dir: dir, Clock: clk, RetentionInterval: -1, Sync: SyncNone})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx := context.Background()
	got, err := dumpLog(ctx, l)
	if err != nil {
		t.Fatal(err)
	}
	if got != rest {
		w, g := strings.Split(rest, "\n"), strings.Split(got, "\n")
		for i := 0; i < len(w) || i < len(g); i++ {
			if i >= len(w) || i >= len(g) || w[i] != g[i] {
				t.Fatalf("the old log reads back differently from line %d of the dump:\nwant %q\ngot  %q", i+2, at(w, i), at(g, i))
			}
		}
	}

	// New records follow the old ones in each open shard.
	res, err := l.PutRecords(ctx, StreamRef{Name: "orders"}, []PutEntry{
		{PartitionKey: "new", Data: []byte("after the upgrade"), ExplicitHashKey: "0"},
	}, nil)
	if err != nil || res[0].Err != nil {
		t.Fatal(err, res)
	}
	if s := res[0].SequenceNumber.String(); res[0].ShardID != "shardId-000000000005" || s != "1000000000000000000050000000000000000000000011" {
		t.Fatalf("new record: %s %s, want shardId-000000000005 right after the last old one", res[0].ShardID, s)
	}
}

func at(lines []string, i int) string {
	if i < len(lines) {
		return lines[i]
	}
	return "(end)"
}

// dumpLog writes everything a reader of the log can see: each stream's
// description, tags, consumers and shard map, and every record of every
// shard with its sequence number and arrival time. It uses only the
// embedded API that the log had when the fixture was written, so the same
// text comes from the old code and the new.
func dumpLog(ctx context.Context, l *Log) (string, error) {
	var b strings.Builder
	ms := func(t time.Time) int64 {
		if t.IsZero() {
			return 0
		}
		return t.UnixMilli()
	}
	for _, sum := range l.ListStreams() {
		ref := StreamRef{Name: sum.Name}
		d, err := l.DescribeStream(ref)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "stream %s arn=%s status=%s mode=%s retention=%dh created=%d open=%d consumers=%d encryption=%q key=%q monitoring=%v\n",
			d.Name, d.ARN, d.Status, d.Mode, d.RetentionHours, ms(d.Created), d.OpenShardCount, d.ConsumerCount, d.EncryptionType, d.KeyID, d.Monitoring)
		tags, err := l.ListTags(ref)
		if err != nil {
			return "", err
		}
		for _, t := range tags {
			fmt.Fprintf(&b, "  tag %s=%s\n", t.Key, t.Value)
		}
		cs, err := l.ListStreamConsumers(d.ARN)
		if err != nil {
			return "", err
		}
		for _, c := range cs {
			fmt.Fprintf(&b, "  consumer %s arn=%s status=%s created=%d\n", c.Name, c.ARN, c.Status, ms(c.Created))
		}
		shards, err := l.ListShards(ref, "", ShardFilter{})
		if err != nil {
			return "", err
		}
		for _, sh := range shards {
			end := "-"
			if sh.EndingSequenceNumber != nil {
				end = sh.EndingSequenceNumber.String()
			}
			fmt.Fprintf(&b, "  shard %s parents=%v children=%v range=[%s, %s] seq=[%s, %s] closed=%v created=%d closedAt=%d\n",
				sh.ShardID, sh.Parents, sh.Children, sh.HashKeyRange.Start, sh.HashKeyRange.End,
				sh.StartingSequenceNumber, end, sh.Closed, ms(sh.Created), ms(sh.ClosedAt))
			r, err := l.NewShardReader(ref, sh.ShardID, StartPosition{Type: TrimHorizon})
			if err != nil {
				return "", err
			}
			for {
				res, err := r.Read(ctx, 3, 1<<20, false)
				if err != nil {
					return "", err
				}
				for _, rec := range res.Records {
					fmt.Fprintf(&b, "    %s t=%d key=%q data=%q\n", rec.SequenceNumber, ms(rec.ArrivalTime), rec.PartitionKey, rec.Data)
				}
				if res.ShardEnded {
					fmt.Fprintf(&b, "    end next=%s children=%d\n", res.Next, len(res.ChildShards))
					break
				}
				if len(res.Records) == 0 {
					fmt.Fprintf(&b, "    tip next=%s\n", res.Next)
					break
				}
			}
		}
	}
	return b.String(), nil
}
