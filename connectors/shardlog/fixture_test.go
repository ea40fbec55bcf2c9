package shardlog

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
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
	// Sequence numbers print in the service's 56-digit shape now (the
	// dump has the 46-digit form the old code printed): compared by the
	// position they name, and each checked to carry its shard's creation
	// and its record's arrival time.
	if err := checkSeqTimes(got); err != nil {
		t.Fatal(err)
	}
	if norm, gnorm := normSeqs(rest), normSeqs(got); norm != gnorm {
		w, g := strings.Split(norm, "\n"), strings.Split(gnorm, "\n")
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
	if s := res[0].SequenceNumber; res[0].ShardID != "shardId-000000000005" || s.Shard != 5 || s.Pos != 11 || len(s.String()) != 56 {
		t.Fatalf("new record: %s %s, want shardId-000000000005 position 11, right after the last old one", res[0].ShardID, s)
	}
}

var seqText = regexp.MustCompile(`\b(\d{56}|1\d{45})\b`)

// normSeqs writes every sequence number of a dump as shard:position.
func normSeqs(dump string) string {
	return seqText.ReplaceAllStringFunc(dump, func(m string) string {
		s, ok := ParseSequenceNumber(m)
		if !ok {
			return "bad(" + m + ")"
		}
		return fmt.Sprintf("seq(%d:%d)", s.Shard, s.Pos)
	})
}

var (
	shardLine  = regexp.MustCompile(`^  shard \S+ .* seq=\[(\d+), (\S+)\] closed=\S+ created=(\d+) closedAt=(\d+)$`)
	recordLine = regexp.MustCompile(`^    (\d+) t=(\d+) `)
)

// checkSeqTimes checks the times a dump's sequence numbers show: a shard's
// starting number its creation, its ending number its closing, a record's
// its arrival, all with the shard's creation.
func checkSeqTimes(dump string) error {
	var created uint64
	n := 0
	check := func(text string, wantTime uint64) error {
		n++
		s, ok := ParseSequenceNumber(text)
		if !ok || len(text) != 56 || s.Created != created || s.Time != wantTime {
			return fmt.Errorf("sequence number %s (%+v): want 56 digits with created %d and time %d", text, s, created, wantTime)
		}
		return nil
	}
	for _, line := range strings.Split(dump, "\n") {
		if m := shardLine.FindStringSubmatch(line); m != nil {
			c, _ := strconv.ParseUint(m[3], 10, 64)
			created = c / 1000
			if err := check(m[1], created); err != nil {
				return err
			}
			if m[2] != "-" {
				c, _ := strconv.ParseUint(m[4], 10, 64)
				if err := check(m[2], c/1000); err != nil {
					return err
				}
			}
		} else if m := recordLine.FindStringSubmatch(line); m != nil {
			ms, _ := strconv.ParseUint(m[2], 10, 64)
			if err := check(m[1], ms/1000); err != nil {
				return err
			}
		}
	}
	if n < 20 {
		return fmt.Errorf("only %d sequence numbers found in the dump", n)
	}
	return nil
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
