package shardlog

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
)

// TestScript runs the model's semantics as readable scripts
// (testdata/*.txt; rewrite with -rewrite). Commands:
//
//	create name=S shards=N [mode=ON_DEMAND]
//	put stream=S key=K [hash=H]        (one record per input line)
//	split stream=S shard=ID [at=KEY]   (default: the middle of its range)
//	merge stream=S shard=ID adjacent=ID
//	scale stream=S target=N
//	shards stream=S [filter=TYPE]
//	read stream=S shard=ID [from=TYPE] [seq=N-th put] [limit=N]
//	advance d=DURATION
//	retention stream=S hours=N
//	trim
func TestScript(t *testing.T) {
	paths, err := filepath.Glob("testdata/*.txt")
	if err != nil || len(paths) == 0 {
		t.Fatal("no scripts", err)
	}
	for _, path := range paths {
		t.Run(filepath.Base(path), func(t *testing.T) { runScript(t, path) })
	}
}

func runScript(t *testing.T, path string) {
	{ // the body of a datadriven.Walk callback, kept as it was
		l, clk := openTest(t, nil)
		ctx := context.Background()
		var seqs []SequenceNumber // every sequence number put, in order
		datadriven.RunTest(t, path, func(t *testing.T, td *datadriven.TestData) string {
			arg := func(k, def string) string {
				for _, a := range td.CmdArgs {
					if a.Key == k && len(a.Vals) > 0 {
						return a.Vals[0]
					}
				}
				return def
			}
			num := func(k string, def int) int {
				n, err := strconv.Atoi(arg(k, strconv.Itoa(def)))
				if err != nil {
					td.Fatalf(t, "%s: %v", k, err)
				}
				return n
			}
			// A refusal prints as its kind and its Go message (the
			// service's message for it is the wire server's: see
			// kinesisapi's testdata/script/model.txt).
			fail := func(err error) string {
				var e *Error
				if ok := asError(err, &e); ok {
					return fmt.Sprintf("error %s: %s\n", e.Code, e)
				}
				return fmt.Sprintf("error: %v\n", err)
			}
			stream := StreamRef{Name: arg("stream", "")}
			switch td.Cmd {
			case "create":
				if err := l.CreateStream(CreateStreamInput{Name: arg("name", ""), ShardCount: num("shards", 0), Mode: StreamMode(arg("mode", ""))}); err != nil {
					return fail(err)
				}
				return "ok\n"
			case "put":
				var b strings.Builder
				for _, line := range strings.Split(strings.TrimSpace(td.Input), "\n") {
					r, err := l.PutRecord(ctx, stream, PutEntry{PartitionKey: arg("key", ""), ExplicitHashKey: arg("hash", ""), Data: []byte(line)}, "")
					if err != nil {
						b.WriteString(fail(err))
						continue
					}
					seqs = append(seqs, r.SequenceNumber)
					fmt.Fprintf(&b, "%s %s #%d\n", r.ShardID, line, len(seqs))
				}
				return b.String()
			case "split":
				at := arg("at", "")
				if at == "" {
					shards, _ := l.ListShards(stream, "", ShardFilter{})
					for _, sh := range shards {
						if sh.ShardID == arg("shard", "") {
							at = sh.HashKeyRange.Midpoint().String()
						}
					}
				}
				if err := l.SplitShard(stream, arg("shard", ""), at); err != nil {
					return fail(err)
				}
				return "ok\n"
			case "merge":
				if err := l.MergeShards(stream, arg("shard", ""), arg("adjacent", "")); err != nil {
					return fail(err)
				}
				return "ok\n"
			case "scale":
				prev, err := l.UpdateShardCount(stream, num("target", 0), UniformScaling)
				if err != nil {
					return fail(err)
				}
				return fmt.Sprintf("was %d\n", prev)
			case "shards":
				shards, err := l.ListShards(stream, "", ShardFilter{Type: ShardFilterType(arg("filter", ""))})
				if err != nil {
					return fail(err)
				}
				var b strings.Builder
				for _, sh := range shards {
					state := "open"
					if sh.Closed {
						state = "closed"
					}
					fmt.Fprintf(&b, "%s %s [%s..%s]", sh.ShardID, state, short(sh.HashKeyRange.Start), short(sh.HashKeyRange.End))
					if len(sh.Parents) > 0 {
						fmt.Fprintf(&b, " parents=%s", strings.Join(sh.Parents, ","))
					}
					if len(sh.Children) > 0 {
						fmt.Fprintf(&b, " children=%s", strings.Join(sh.Children, ","))
					}
					b.WriteString("\n")
				}
				return b.String()
			case "read":
				p := StartPosition{Type: IteratorType(arg("from", "TRIM_HORIZON"))}
				if n := num("seq", 0); n > 0 {
					p.SequenceNumber = seqs[n-1].String()
				}
				if ts := arg("ts", ""); ts != "" {
					d, _ := time.ParseDuration(ts)
					p.Timestamp = t0.Add(d)
				}
				r, err := l.NewShardReader(stream, arg("shard", ""), p)
				if err != nil {
					return fail(err)
				}
				res, err := r.Read(ctx, num("limit", 100), 0, false)
				if err != nil {
					return fail(err)
				}
				var b strings.Builder
				for _, rec := range res.Records {
					n := 0
					for i, s := range seqs {
						if s == rec.SequenceNumber {
							n = i + 1
						}
					}
					fmt.Fprintf(&b, "%s key=%s #%d at=+%s\n", rec.Data, rec.PartitionKey, n, rec.ArrivalTime.Sub(t0))
				}
				if res.ShardEnded {
					var cs []string
					for _, c := range res.ChildShards {
						cs = append(cs, c.ShardID+"<-"+strings.Join(c.ParentShards, "+"))
					}
					fmt.Fprintf(&b, "end of shard; children %s\n", strings.Join(cs, " "))
				}
				fmt.Fprintf(&b, "behind=%dms\n", res.MillisBehindLatest)
				return b.String()
			case "advance":
				d, err := time.ParseDuration(arg("d", ""))
				if err != nil {
					td.Fatalf(t, "%v", err)
				}
				clk.Advance(d)
				return fmt.Sprintf("now +%s\n", clk.Now().Sub(t0))
			case "retention":
				h := num("hours", 0)
				d, _ := l.DescribeStream(stream)
				var err error
				if h > d.RetentionHours {
					err = l.IncreaseRetention(stream, h)
				} else {
					err = l.DecreaseRetention(stream, h)
				}
				if err != nil {
					return fail(err)
				}
				return "ok\n"
			case "trim":
				if err := l.EnforceRetention(); err != nil {
					return fail(err)
				}
				return "ok\n"
			}
			td.Fatalf(t, "unknown command %s", td.Cmd)
			return ""
		})
	}
}

func asError(err error, target **Error) bool {
	e, ok := err.(*Error)
	if ok {
		*target = e
	}
	return ok
}

// short prints a hash key as a fraction of the key space for readability.
func short(k HashKey) string {
	if k == MaxHashKey {
		return "max"
	}
	return fmt.Sprintf("%.4f", float64(k.Hi)/float64(^uint64(0)))
}
