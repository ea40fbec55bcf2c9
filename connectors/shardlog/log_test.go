package shardlog

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func openTest(t *testing.T, mut func(*Options)) (*Log, *ManualClock) {
	t.Helper()
	clk := NewManualClock(t0)
	opts := Options{Dir: t.TempDir(), Clock: clk, RetentionInterval: -1, Sync: SyncNone}
	if mut != nil {
		mut(&opts)
	}
	l, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l, clk
}

func ref(name string) StreamRef { return StreamRef{Name: name} }

func mustCode(t *testing.T, err error, code ErrorCode) {
	t.Helper()
	if err == nil {
		t.Fatalf("want %s, got success", code)
	}
	if CodeOf(err) != code {
		t.Fatalf("want %s, got %v", code, err)
	}
}

func TestUniformRangesMatchKinesis(t *testing.T) {
	two128 := new(big.Int).Lsh(big.NewInt(1), 128)
	for _, n := range []int{1, 2, 3, 4, 7, 10, 100} {
		rs := UniformRanges(n)
		width := new(big.Int).Div(two128, big.NewInt(int64(n)))
		for i, r := range rs {
			wantStart := new(big.Int).Mul(width, big.NewInt(int64(i)))
			if r.Start.Big().Cmp(wantStart) != 0 {
				t.Fatalf("n=%d shard %d start %s want %s", n, i, r.Start, wantStart)
			}
			wantEnd := new(big.Int).Sub(new(big.Int).Add(wantStart, width), big.NewInt(1))
			if i == n-1 {
				wantEnd = new(big.Int).Sub(two128, big.NewInt(1))
			}
			if r.End.Big().Cmp(wantEnd) != 0 {
				t.Fatalf("n=%d shard %d end %s want %s", n, i, r.End, wantEnd)
			}
		}
	}
	// The values Kinesis shows for a 2-shard stream.
	rs := UniformRanges(2)
	if rs[0].End.String() != "170141183460469231731687303715884105727" || rs[1].Start.String() != "170141183460469231731687303715884105728" || rs[1].End.String() != "340282366920938463463374607431768211455" {
		t.Fatalf("2-shard ranges: %+v", rs)
	}
}

func TestPartitionHashAndParse(t *testing.T) {
	// md5("a") = 0cc175b9c0f1b6a831c399e269772661
	h := PartitionHash([]byte("a"))
	want, _ := new(big.Int).SetString("0cc175b9c0f1b6a831c399e269772661", 16)
	if h.Big().Cmp(want) != 0 {
		t.Fatalf("md5 hash %s want %s", h, want)
	}
	for _, s := range []string{"0", "1", "18446744073709551615", "18446744073709551616", "340282366920938463463374607431768211455"} {
		k, ok := ParseHashKey(s)
		if !ok || k.String() != s {
			t.Fatalf("ParseHashKey(%s) = %s %v", s, k, ok)
		}
	}
	for _, s := range []string{"", "-1", "340282366920938463463374607431768211456", "1e5", " 1"} {
		if _, ok := ParseHashKey(s); ok {
			t.Fatalf("ParseHashKey(%q) accepted", s)
		}
	}
}

func TestPutGetRoutingAndIterators(t *testing.T) {
	l, clk := openTest(t, nil)
	ctx := context.Background()
	if err := l.CreateStream(CreateStreamInput{Name: "s", ShardCount: 4}); err != nil {
		t.Fatal(err)
	}
	mustCode(t, l.CreateStream(CreateStreamInput{Name: "s", ShardCount: 1}), CodeResourceInUse)
	d, err := l.DescribeStream(ref("s"))
	if err != nil || len(d.Shards) != 4 || d.Status != StatusActive {
		t.Fatalf("describe: %+v %v", d, err)
	}
	// Each record goes to the shard whose range holds the MD5 of its key.
	for i := 0; i < 50; i++ {
		pk := fmt.Sprintf("key-%d", i)
		r, err := l.PutRecord(ctx, ref("s"), PutEntry{PartitionKey: pk, Data: []byte(pk)}, "")
		if err != nil {
			t.Fatal(err)
		}
		h := PartitionHash([]byte(pk))
		var want string
		for _, sh := range d.Shards {
			if sh.HashKeyRange.Contains(h) {
				want = sh.ShardID
			}
		}
		if r.ShardID != want {
			t.Fatalf("%s went to %s, want %s", pk, r.ShardID, want)
		}
	}
	// ExplicitHashKey overrides.
	r, err := l.PutRecord(ctx, ref("s"), PutEntry{PartitionKey: "x", ExplicitHashKey: MaxHashKey.String(), Data: []byte("last")}, "")
	if err != nil || r.ShardID != "shardId-000000000003" {
		t.Fatalf("explicit hash key: %+v %v", r, err)
	}
	_, err = l.PutRecord(ctx, ref("s"), PutEntry{PartitionKey: "x", ExplicitHashKey: "340282366920938463463374607431768211456", Data: nil}, "")
	mustCode(t, err, CodeInvalidArgument)
	if !strings.Contains(err.Error(), "ExplicitHashKey") {
		t.Fatal(err)
	}
	clk.Advance(time.Second)
	// Read shard 3 from every iterator type.
	var buf RecordBuffer
	read := func(p StartPosition) []string {
		it, err := l.GetShardIterator(ref("s"), "shardId-000000000003", p)
		if err != nil {
			t.Fatal(err)
		}
		out, err := l.GetRecords(ctx, it, 0, &buf)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range out.Records {
			got = append(got, string(r.Data))
		}
		return got
	}
	all := read(StartPosition{Type: TrimHorizon})
	if len(all) == 0 || all[len(all)-1] != "last" {
		t.Fatalf("trim horizon: %v", all)
	}
	if got := read(StartPosition{Type: Latest}); len(got) != 0 {
		t.Fatalf("latest: %v", got)
	}
	if got := read(StartPosition{Type: AtSequenceNumber, SequenceNumber: r.SequenceNumber.String()}); len(got) != 1 || got[0] != "last" {
		t.Fatalf("at seq: %v", got)
	}
	if got := read(StartPosition{Type: AfterSequenceNumber, SequenceNumber: r.SequenceNumber.String()}); len(got) != 0 {
		t.Fatalf("after seq: %v", got)
	}
	if got := read(StartPosition{Type: AtTimestamp, Timestamp: t0}); len(got) != len(all) {
		t.Fatalf("at timestamp: %v", got)
	}
	if got := read(StartPosition{Type: AtTimestamp, Timestamp: t0.Add(time.Millisecond)}); len(got) != 0 {
		t.Fatalf("at later timestamp: %v", got)
	}
	// A sequence number of another shard is refused.
	_, err = l.GetShardIterator(ref("s"), "shardId-000000000000", StartPosition{Type: AtSequenceNumber, SequenceNumber: r.SequenceNumber.String()})
	mustCode(t, err, CodeInvalidArgument)
	_, err = l.GetShardIterator(ref("s"), "shardId-000000000000", StartPosition{Type: AtSequenceNumber, SequenceNumber: "12345"})
	mustCode(t, err, CodeInvalidArgument)
	_, err = l.GetShardIterator(ref("s"), "shardId-000000000009", StartPosition{Type: Latest})
	mustCode(t, err, CodeResourceNotFound)
	_, err = l.GetShardIterator(ref("nope"), "shardId-000000000000", StartPosition{Type: Latest})
	mustCode(t, err, CodeResourceNotFound)
	// As Kinesis does, the refusal names the shard of the stream not found
	// (kinesisapi's wire tests check the service message rendered from it).
	if e := (*Error)(nil); !errors.As(err, &e) || e.Reason != ReasonShardNotFound || e.Stream != "nope" || e.Shard != "shardId-000000000000" {
		t.Fatal(err)
	}
	// Shard ids in any form ending in -N, or a bare number, name shard N.
	for _, id := range []string{"shard-1", "x-y-1", "1", "shardId-1"} {
		it, err := l.GetShardIterator(ref("s"), id, StartPosition{Type: TrimHorizon})
		if err != nil || it.Next.Shard != 1 {
			t.Fatalf("%s: %+v %v", id, it, err)
		}
	}
	for _, id := range []string{"shardId-2147483648", "shard-", "shard-+1", "shardId-x"} {
		_, err = l.GetShardIterator(ref("s"), id, StartPosition{Type: TrimHorizon})
		if e := (*Error)(nil); !errors.As(err, &e) || e.Reason != ReasonShardIDUnreadable || e.Value != id {
			t.Fatalf("%s: %v", id, err)
		}
	}
	// Iterators expire after 5 minutes. (Tokens, and the refusal of
	// tampered ones, are the wire server's: see kinesisapi.)
	it, _ := l.GetShardIterator(ref("s"), "shardId-000000000003", StartPosition{Type: TrimHorizon})
	clk.Advance(5 * time.Minute)
	if _, err := l.GetRecords(ctx, it, 1, &buf); err != nil {
		t.Fatalf("at exactly 5 minutes: %v", err)
	}
	clk.Advance(time.Millisecond)
	_, err = l.GetRecords(ctx, it, 1, &buf)
	mustCode(t, err, CodeExpiredIterator)
	// An iterator of another stream of the same name is refused.
	other := it
	other.StreamCreated, other.Issued = other.StreamCreated.Add(time.Millisecond), clk.Now()
	_, err = l.GetRecords(ctx, other, 1, &buf)
	mustCode(t, err, CodeResourceNotFound)
	_, err = l.GetRecords(ctx, it, 10001, &buf)
	mustCode(t, err, CodeValidation)
}

func TestPutRecordsValidation(t *testing.T) {
	l, _ := openTest(t, nil)
	ctx := context.Background()
	l.CreateStream(CreateStreamInput{Name: "s", ShardCount: 1})
	_, err := l.PutRecords(ctx, ref("s"), make([]PutEntry, 501), nil)
	mustCode(t, err, CodeValidation)
	_, err = l.PutRecords(ctx, ref("s"), nil, nil)
	mustCode(t, err, CodeValidation)
	_, err = l.PutRecord(ctx, ref("s"), PutEntry{PartitionKey: "k", Data: make([]byte, MaxRecordBytes+1)}, "")
	mustCode(t, err, CodeValidation)
	_, err = l.PutRecord(ctx, ref("s"), PutEntry{PartitionKey: "", Data: nil}, "")
	mustCode(t, err, CodeValidation)
	_, err = l.PutRecord(ctx, ref("s"), PutEntry{PartitionKey: strings.Repeat("k", 257)}, "")
	mustCode(t, err, CodeValidation)
	_, err = l.PutRecord(ctx, ref("s"), PutEntry{PartitionKey: "k"}, "01")
	mustCode(t, err, CodeValidation)
	// 6 records of 1 MiB: over the 5 MiB request limit.
	es := make([]PutEntry, 6)
	for i := range es {
		es[i] = PutEntry{PartitionKey: "k", Data: make([]byte, MaxRecordBytes-1)}
	}
	_, err = l.PutRecords(ctx, ref("s"), es, nil)
	mustCode(t, err, CodeInvalidArgument)
	// The 1 MiB limit is of key and data together.
	_, err = l.PutRecord(ctx, ref("s"), PutEntry{PartitionKey: "k", Data: make([]byte, MaxRecordBytes)}, "")
	mustCode(t, err, CodeInvalidArgument)
	if _, err := l.PutRecord(ctx, ref("s"), PutEntry{PartitionKey: "k", Data: make([]byte, MaxRecordBytes-1)}, "0"); err != nil {
		t.Fatal(err)
	}
	// A SequenceNumberForOrdering the log did not issue is refused.
	_, err = l.PutRecord(ctx, ref("s"), PutEntry{PartitionKey: "k"}, "1")
	mustCode(t, err, CodeInvalidArgument)
	mustCode(t, l.CreateStream(CreateStreamInput{Name: "bad name"}), CodeValidation)
	mustCode(t, l.CreateStream(CreateStreamInput{Name: "z", ShardCount: 0}), CodeValidation)
	mustCode(t, l.CreateStream(CreateStreamInput{Name: "z", ShardCount: 501}), CodeLimitExceeded)
}

// TestOrderingAcrossReshards puts records for a few partition keys while the
// stream is split, merged and rescaled, then reads every shard parents
// first and checks each key's records come out in put order.
func TestOrderingAcrossReshards(t *testing.T) {
	l, clk := openTest(t, nil)
	ctx := context.Background()
	l.CreateStream(CreateStreamInput{Name: "s", ShardCount: 2})
	keys := []string{"alpha", "beta", "gamma", "delta", "epsilon"}
	counter := map[string]int{}
	put := func(rounds int) {
		for r := 0; r < rounds; r++ {
			var es []PutEntry
			for _, k := range keys {
				es = append(es, PutEntry{PartitionKey: k, Data: []byte(fmt.Sprintf("%s:%d", k, counter[k]))})
				counter[k]++
			}
			res, err := l.PutRecords(ctx, ref("s"), es, nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range res {
				if r.ErrorCode != "" {
					t.Fatal(r.Err)
				}
			}
		}
	}
	put(10)
	d, _ := l.DescribeStream(ref("s"))
	mid := d.Shards[0].HashKeyRange.Midpoint()
	if err := l.SplitShard(ref("s"), "shardId-000000000000", mid.String()); err != nil {
		t.Fatal(err)
	}
	mustCode(t, l.SplitShard(ref("s"), "shardId-000000000000", mid.String()), CodeResourceInUse)
	mustCode(t, l.SplitShard(ref("s"), "shardId-000000000001", "0"), CodeInvalidArgument)
	put(10)
	if err := l.MergeShards(ref("s"), "shardId-000000000002", "shardId-000000000003"); err != nil {
		t.Fatal(err)
	}
	mustCode(t, l.MergeShards(ref("s"), "shardId-000000000001", "shardId-000000000001"), CodeInvalidArgument)
	put(10)
	clk.Advance(time.Second)
	if prev, err := l.UpdateShardCount(ref("s"), 3, UniformScaling); err != nil || prev != 2 {
		t.Fatalf("update shard count: %d %v", prev, err)
	}
	_, err := l.UpdateShardCount(ref("s"), 7, UniformScaling)
	mustCode(t, err, CodeLimitExceeded)
	put(10)
	shards, err := l.ListShards(ref("s"), "", ShardFilter{})
	if err != nil {
		t.Fatal(err)
	}
	open, _ := l.ListShards(ref("s"), "", ShardFilter{Type: FilterAtLatest})
	if len(open) != 3 {
		t.Fatalf("open shards: %d", len(open))
	}
	// Read in lineage order: a shard after all its parents.
	done := map[string]bool{}
	next := map[string]int{}
	var buf RecordBuffer
	for len(done) < len(shards) {
		progressed := false
		for _, sh := range shards {
			if done[sh.ShardID] {
				continue
			}
			ready := true
			for _, p := range sh.Parents {
				if !done[p] {
					ready = false
				}
			}
			if !ready {
				continue
			}
			r, err := l.NewShardReader(ref("s"), sh.ShardID, StartPosition{Type: TrimHorizon})
			if err != nil {
				t.Fatal(err)
			}
			for {
				res, err := r.Read(ctx, 3, 0, false)
				if err != nil {
					t.Fatal(err)
				}
				for _, rec := range res.Records {
					k, n, _ := strings.Cut(string(rec.Data), ":")
					if fmt.Sprint(next[k]) != n {
						t.Fatalf("key %s: got %s, want %d (shard %s)", k, n, next[k], sh.ShardID)
					}
					next[k]++
				}
				if len(res.Records) == 0 {
					if sh.Closed != res.ShardEnded {
						t.Fatalf("shard %s closed=%v ended=%v", sh.ShardID, sh.Closed, res.ShardEnded)
					}
					if sh.Closed && len(res.ChildShards) != len(sh.Children) {
						t.Fatalf("shard %s children %v vs %v", sh.ShardID, res.ChildShards, sh.Children)
					}
					break
				}
			}
			_ = buf
			done[sh.ShardID] = true
			progressed = true
		}
		if !progressed {
			t.Fatal("lineage has a cycle or a missing parent")
		}
	}
	for _, k := range keys {
		if next[k] != 40 {
			t.Fatalf("key %s: read %d of 40", k, next[k])
		}
	}
	// GetRecords at the end of a closed shard: no next iterator, children.
	it, _ := l.GetShardIterator(ref("s"), "shardId-000000000000", StartPosition{Type: Latest})
	out, err := l.GetRecords(ctx, it, 10, &buf)
	if err != nil || !out.NextShardIterator.IsZero() || len(out.ChildShards) != 2 {
		t.Fatalf("closed shard end: %+v %v", out, err)
	}
}

func TestRetentionAndTrimHorizon(t *testing.T) {
	l, clk := openTest(t, func(o *Options) { o.SegmentBytes = 4 << 10 })
	ctx := context.Background()
	l.CreateStream(CreateStreamInput{Name: "s", ShardCount: 1})
	for h := 0; h < 30; h++ {
		for i := 0; i < 10; i++ {
			if _, err := l.PutRecord(ctx, ref("s"), PutEntry{PartitionKey: "k", Data: []byte(fmt.Sprintf("h%02d-%d-%s", h, i, strings.Repeat("x", 100)))}, ""); err != nil {
				t.Fatal(err)
			}
		}
		clk.Advance(time.Hour)
	}
	// Now t0+30h; 24 h retention keeps records put at t0+6h and later.
	var buf RecordBuffer
	it, _ := l.GetShardIterator(ref("s"), "shardId-000000000000", StartPosition{Type: TrimHorizon})
	out, err := l.GetRecords(ctx, it, 1, &buf)
	if err != nil || !strings.HasPrefix(string(out.Records[0].Data), "h06-0") {
		t.Fatalf("trim horizon after 30h: %q %v", out.Records[0].Data, err)
	}
	if out.MillisBehindLatest != 24*3600*1000 {
		t.Fatalf("MillisBehindLatest %d", out.MillisBehindLatest)
	}
	// AT_TIMESTAMP before the horizon starts at the horizon.
	it, _ = l.GetShardIterator(ref("s"), "shardId-000000000000", StartPosition{Type: AtTimestamp, Timestamp: t0})
	out, _ = l.GetRecords(ctx, it, 1, &buf)
	if !strings.HasPrefix(string(out.Records[0].Data), "h06-0") {
		t.Fatalf("at timestamp before horizon: %q", out.Records[0].Data)
	}
	if err := l.EnforceRetention(); err != nil {
		t.Fatal(err)
	}
	// Raising retention does not bring deleted segments back, but it
	// keeps what is still stored.
	mustCode(t, l.IncreaseRetention(ref("s"), 12), CodeInvalidArgument)
	mustCode(t, l.IncreaseRetention(ref("s"), 9000), CodeInvalidArgument)
	mustCode(t, l.DecreaseRetention(ref("s"), 48), CodeInvalidArgument)
	if err := l.IncreaseRetention(ref("s"), 48); err != nil {
		t.Fatal(err)
	}
	d, _ := l.DescribeStream(ref("s"))
	if d.RetentionHours != 48 {
		t.Fatal(d.RetentionHours)
	}
	it, _ = l.GetShardIterator(ref("s"), "shardId-000000000000", StartPosition{Type: TrimHorizon})
	out, _ = l.GetRecords(ctx, it, 1, &buf)
	if h := string(out.Records[0].Data[:3]); h > "h06" {
		t.Fatalf("retention increase lost records: first %s", h)
	}
	// A closed shard disappears once its retention has passed.
	if err := l.DecreaseRetention(ref("s"), 24); err != nil {
		t.Fatal(err)
	}
	l.SplitShard(ref("s"), "shardId-000000000000", "1000")
	clk.Advance(24*time.Hour + time.Second)
	l.EnforceRetention()
	shards, _ := l.ListShards(ref("s"), "", ShardFilter{})
	if len(shards) != 2 || shards[0].ShardID != "shardId-000000000001" {
		t.Fatalf("after closed shard retention: %+v", shards)
	}
}

func TestThrottling(t *testing.T) {
	l, clk := openTest(t, func(o *Options) { o.Limits = &KinesisLimits })
	ctx := context.Background()
	l.CreateStream(CreateStreamInput{Name: "s", ShardCount: 1})
	es := make([]PutEntry, 500)
	for i := range es {
		es[i] = PutEntry{PartitionKey: "k", Data: []byte("x")}
	}
	ok, failed := 0, 0
	for i := 0; i < 3; i++ {
		res, err := l.PutRecords(ctx, ref("s"), es, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			if r.ErrorCode == CodeProvisionedThroughput {
				failed++
				// The facts the service message is rendered from
				// (kinesisapi's wire tests check the message).
				if e := r.Err; e == nil || e.Reason != ReasonWriteThrottled || e.Shard != "shardId-000000000000" || e.Stream != "s" {
					t.Fatal(e)
				}
			} else if r.ErrorCode == "" {
				ok++
			}
		}
	}
	if ok != 1000 || failed != 500 {
		t.Fatalf("1,000 records/s: ok %d failed %d", ok, failed)
	}
	_, err := l.PutRecord(ctx, ref("s"), PutEntry{PartitionKey: "k", Data: []byte("x")}, "")
	mustCode(t, err, CodeProvisionedThroughput)
	clk.Advance(time.Second)
	if _, err := l.PutRecord(ctx, ref("s"), PutEntry{PartitionKey: "k", Data: []byte("x")}, ""); err != nil {
		t.Fatal(err)
	}
	// Bytes: a 1 MiB record, then nothing more in the same second.
	clk.Advance(time.Second)
	if _, err := l.PutRecord(ctx, ref("s"), PutEntry{PartitionKey: "k", Data: make([]byte, 1<<20-1)}, ""); err != nil {
		t.Fatal(err)
	}
	_, err = l.PutRecord(ctx, ref("s"), PutEntry{PartitionKey: "k", Data: make([]byte, 10)}, "")
	mustCode(t, err, CodeProvisionedThroughput)
	// GetRecords: 5 calls per second.
	var buf RecordBuffer
	it, _ := l.GetShardIterator(ref("s"), "shardId-000000000000", StartPosition{Type: Latest})
	for i := 0; i < 5; i++ {
		if _, err := l.GetRecords(ctx, it, 1, &buf); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	_, err = l.GetRecords(ctx, it, 1, &buf)
	mustCode(t, err, CodeProvisionedThroughput)
	clk.Advance(time.Second)
	if _, err := l.GetRecords(ctx, it, 1, &buf); err != nil {
		t.Fatal(err)
	}
	// 2 MiB/s out: reading ~1 MiB ... (the big record) twice in a
	// second, then the third call waits for tokens.
	clk.Advance(2 * time.Second)
	it, _ = l.GetShardIterator(ref("s"), "shardId-000000000000", StartPosition{Type: TrimHorizon})
	if _, err := l.GetRecords(ctx, it, 10000, &buf); err != nil {
		t.Fatal(err)
	}
	if _, err := l.GetRecords(ctx, it, 10000, &buf); err != nil {
		t.Fatal(err)
	}
	_, err = l.GetRecords(ctx, it, 10000, &buf)
	mustCode(t, err, CodeProvisionedThroughput)
}

func TestOnDemandScales(t *testing.T) {
	l, clk := openTest(t, nil)
	ctx := context.Background()
	mustCode(t, l.CreateStream(CreateStreamInput{Name: "s", Mode: ModeOnDemand, ShardCount: 2}), CodeInvalidArgument)
	if err := l.CreateStream(CreateStreamInput{Name: "s", Mode: ModeOnDemand}); err != nil {
		t.Fatal(err)
	}
	d, _ := l.DescribeStream(ref("s"))
	if len(d.Shards) != 4 || d.Mode != ModeOnDemand {
		t.Fatalf("on-demand start: %d shards, %s", len(d.Shards), d.Mode)
	}
	es := make([]PutEntry, 500)
	for i := range es {
		es[i] = PutEntry{PartitionKey: "hot", Data: []byte("x")}
	}
	// Two seconds of 1,000 records/s on one shard, then one put in the
	// third second observes the hot second and splits.
	for s := 0; s < 3; s++ {
		for i := 0; i < 2; i++ {
			if _, err := l.PutRecords(ctx, ref("s"), es, nil); err != nil {
				t.Fatal(err)
			}
		}
		clk.Advance(time.Second)
	}
	d, _ = l.DescribeStream(ref("s"))
	if d.OpenShardCount <= 4 {
		t.Fatalf("on-demand stream did not grow: %d open shards", d.OpenShardCount)
	}
	_, err := l.UpdateShardCount(ref("s"), 8, UniformScaling)
	mustCode(t, err, CodeValidation)
}

func TestSubscribeToShard(t *testing.T) {
	l, clk := openTest(t, nil)
	ctx := context.Background()
	l.CreateStream(CreateStreamInput{Name: "s", ShardCount: 1})
	d, _ := l.DescribeStream(ref("s"))
	c, err := l.RegisterStreamConsumer(d.ARN, "app")
	if err != nil || c.Status != ConsumerCreating || !strings.HasPrefix(c.ARN, d.ARN+"/consumer/app:") {
		t.Fatalf("register: %+v %v", c, err)
	}
	_, err = l.RegisterStreamConsumer(d.ARN, "app")
	mustCode(t, err, CodeResourceInUse)
	sub, err := l.SubscribeToShard(c.ARN, "shardId-000000000000", StartPosition{Type: TrimHorizon})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	_, err = l.SubscribeToShard(c.ARN, "shardId-000000000000", StartPosition{Type: TrimHorizon})
	mustCode(t, err, CodeResourceInUse)
	// The first event comes at once, empty.
	ev, err := sub.Next(ctx)
	if err != nil || len(ev.Records) != 0 {
		t.Fatalf("first event: %+v %v", ev, err)
	}
	cont := ev.ContinuationSequenceNumber
	got := make(chan string, 10)
	errc := make(chan error, 1)
	go func() {
		for {
			ev, err := sub.Next(ctx)
			if err != nil {
				errc <- err
				return
			}
			for _, r := range ev.Records {
				got <- string(r.Data)
			}
			if len(ev.Records) == 0 {
				got <- "heartbeat"
			}
		}
	}()
	l.PutRecord(ctx, ref("s"), PutEntry{PartitionKey: "k", Data: []byte("one")}, "")
	if g := <-got; g != "one" {
		t.Fatalf("pushed %q", g)
	}
	waitTimers(clk, 2)
	clk.Advance(5 * time.Second)
	if g := <-got; g != "heartbeat" {
		t.Fatalf("want heartbeat, got %q", g)
	}
	// After 5 minutes the subscription completes.
	waitTimers(clk, 2)
	clk.Advance(5 * time.Minute)
	for {
		select {
		case err := <-errc:
			if !errors.Is(err, ErrSubscriptionCompleted) {
				t.Fatal(err)
			}
			goto done
		case <-got:
		}
	}
done:
	// Resubscribe after the cool-down, from the continuation.
	sub2, err := l.SubscribeToShard(c.ARN, "shardId-000000000000", StartPosition{Type: AfterSequenceNumber, SequenceNumber: cont.String()})
	if err != nil {
		t.Fatal(err)
	}
	ev, err = sub2.Next(ctx)
	if err != nil || len(ev.Records) != 1 || string(ev.Records[0].Data) != "one" {
		t.Fatalf("resubscribe: %+v %v", ev, err)
	}
	// Splitting ends the shard: the last event has the children.
	l.SplitShard(ref("s"), "shardId-000000000000", "12345")
	ev, err = sub2.Next(ctx)
	if err != nil || len(ev.ChildShards) != 2 {
		t.Fatalf("end of shard: %+v %v", ev, err)
	}
	if _, err := sub2.Next(ctx); !errors.Is(err, ErrSubscriptionCompleted) {
		t.Fatal(err)
	}
	// 5 s later, a new subscription takes over: the old one ends with
	// ResourceInUseException.
	clk.Advance(5 * time.Second)
	sub3, err := l.SubscribeToShard(c.ARN, "shardId-000000000001", StartPosition{Type: Latest})
	if err != nil {
		t.Fatal(err)
	}
	sub3.Next(ctx)
	clk.Advance(5 * time.Second)
	if _, err := l.SubscribeToShard(c.ARN, "shardId-000000000001", StartPosition{Type: Latest}); err != nil {
		t.Fatal(err)
	}
	_, err = sub3.Next(ctx)
	mustCode(t, err, CodeResourceInUse)
	cs, _ := l.ListStreamConsumers(d.ARN)
	if len(cs) != 1 {
		t.Fatalf("consumers: %+v", cs)
	}
	mustCode(t, l.DeleteStream(ref("s"), false), CodeResourceInUse)
	if err := l.DeregisterStreamConsumer("", "", c.ARN); err != nil {
		t.Fatal(err)
	}
	_, err = l.DescribeStreamConsumer(d.ARN, "app", "")
	mustCode(t, err, CodeResourceNotFound)
	if err := l.DeleteStream(ref("s"), false); err != nil {
		t.Fatal(err)
	}
}

// waitTimers waits until n timers are pending on the fake clock, so that
// Advance fires the ones a goroutine is about to wait on.
func waitTimers(c *ManualClock, n int) {
	deadline := time.Now().Add(20 * time.Second)
	for c.Pending() < n && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
}

func TestReopenKeepsEverything(t *testing.T) {
	dir := t.TempDir()
	clk := NewManualClock(t0)
	opts := Options{Dir: dir, Clock: clk, RetentionInterval: -1}
	l, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	l.CreateStream(CreateStreamInput{Name: "s", ShardCount: 2, Tags: map[string]string{"team": "data"}})
	var seqs []PutResult
	for i := 0; i < 20; i++ {
		r, err := l.PutRecord(ctx, ref("s"), PutEntry{PartitionKey: fmt.Sprint(i), Data: []byte(fmt.Sprint(i))}, "")
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, r)
	}
	l.SplitShard(ref("s"), "shardId-000000000001", "250000000000000000000000000000000000000")
	d, _ := l.DescribeStream(ref("s"))
	c, _ := l.RegisterStreamConsumer(d.ARN, "app")
	it, _ := l.GetShardIterator(ref("s"), "shardId-000000000000", StartPosition{Type: TrimHorizon})
	l.Close()

	l, err = Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	d2, _ := l.DescribeStream(ref("s"))
	if len(d2.Shards) != 4 || d2.Shards[1].EndingSequenceNumber == nil || d2.Shards[3].ParentShardID != "shardId-000000000001" {
		t.Fatalf("shards after reopen: %+v", d2.Shards)
	}
	tags, _ := l.ListTags(ref("s"))
	if len(tags) != 1 || tags[0] != (Tag{"team", "data"}) {
		t.Fatalf("tags: %+v", tags)
	}
	if c2, err := l.DescribeStreamConsumer("", "", c.ARN); err != nil || c2.Name != "app" {
		t.Fatalf("consumer after reopen: %+v %v", c2, err)
	}
	// An iterator from before the restart still works.
	var buf RecordBuffer
	if _, err := l.GetRecords(ctx, it, 100, &buf); err != nil {
		t.Fatal(err)
	}
	for _, r := range seqs {
		it, err := l.GetShardIterator(ref("s"), r.ShardID, StartPosition{Type: AtSequenceNumber, SequenceNumber: r.SequenceNumber.String()})
		if err != nil {
			t.Fatal(err)
		}
		out, err := l.GetRecords(ctx, it, 1, &buf)
		if err != nil || len(out.Records) != 1 || out.Records[0].SequenceNumber != r.SequenceNumber {
			t.Fatalf("record %v lost: %+v %v", r, out, err)
		}
	}
}

func TestStatusTransitionsAndDelete(t *testing.T) {
	l, clk := openTest(t, func(o *Options) { o.StatusDelay = 500 * time.Millisecond })
	ctx := context.Background()
	l.CreateStream(CreateStreamInput{Name: "s", ShardCount: 1})
	d, _ := l.DescribeStream(ref("s"))
	if d.Status != StatusCreating {
		t.Fatal(d.Status)
	}
	_, err := l.PutRecord(ctx, ref("s"), PutEntry{PartitionKey: "k"}, "")
	mustCode(t, err, CodeResourceNotFound)
	clk.Advance(500 * time.Millisecond)
	if _, err := l.PutRecord(ctx, ref("s"), PutEntry{PartitionKey: "k"}, ""); err != nil {
		t.Fatal(err)
	}
	l.SplitShard(ref("s"), "shardId-000000000000", "1000")
	d, _ = l.DescribeStream(ref("s"))
	if d.Status != StatusUpdating {
		t.Fatal(d.Status)
	}
	mustCode(t, l.SplitShard(ref("s"), "shardId-000000000001", "100"), CodeResourceInUse)
	clk.Advance(time.Second)
	if err := l.DeleteStream(ref("s"), false); err != nil {
		t.Fatal(err)
	}
	d, _ = l.DescribeStream(ref("s"))
	if d.Status != StatusDeleting {
		t.Fatal(d.Status)
	}
	mustCode(t, l.CreateStream(CreateStreamInput{Name: "s", ShardCount: 1}), CodeResourceInUse)
	clk.Advance(time.Second)
	_, err = l.DescribeStream(ref("s"))
	mustCode(t, err, CodeResourceNotFound)
	if err := l.CreateStream(CreateStreamInput{Name: "s", ShardCount: 1}); err != nil {
		t.Fatal(err)
	}
}

func TestShardReaderBlocksAndFollowsClose(t *testing.T) {
	l, _ := openTest(t, nil)
	l.CreateStream(CreateStreamInput{Name: "s", ShardCount: 1})
	r, err := l.NewShardReader(ref("s"), "shardId-000000000000", StartPosition{Type: Latest})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := r.Read(ctx, 10, 0, true); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want deadline, got %v", err)
	}
	done := make(chan *ReadResult, 1)
	go func() {
		res, err := r.Read(context.Background(), 10, 0, true)
		if err != nil {
			t.Error(err)
		}
		done <- res
	}()
	time.Sleep(5 * time.Millisecond)
	l.PutRecord(context.Background(), ref("s"), PutEntry{PartitionKey: "k", Data: []byte("v")}, "")
	if res := <-done; len(res.Records) != 1 || string(res.Records[0].Data) != "v" {
		t.Fatalf("blocked read got %+v", res)
	}
	go func() {
		res, _ := r.Read(context.Background(), 10, 0, true)
		done <- res
	}()
	time.Sleep(5 * time.Millisecond)
	l.SplitShard(ref("s"), "shardId-000000000000", "1000")
	if res := <-done; res == nil || !res.ShardEnded || len(res.ChildShards) != 2 {
		t.Fatalf("read across close: %+v", res)
	}
	pos := r.Position()
	r2, _ := l.NewShardReader(ref("s"), "shardId-000000000000", StartPosition{Type: AfterSequenceNumber, SequenceNumber: pos.String()})
	if res, _ := r2.Read(context.Background(), 10, 0, false); len(res.Records) != 0 || !res.ShardEnded {
		t.Fatalf("resume at end: %+v", res)
	}
}

func TestListShardsFilters(t *testing.T) {
	l, clk := openTest(t, nil)
	l.CreateStream(CreateStreamInput{Name: "s", ShardCount: 2})
	clk.Advance(time.Hour)
	l.SplitShard(ref("s"), "shardId-000000000000", "1000")
	clk.Advance(time.Hour)
	ids := func(f ShardFilter, after string) string {
		s, err := l.ListShards(ref("s"), after, f)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, x := range s {
			out = append(out, strings.TrimPrefix(x.ShardID, "shardId-00000000000"))
		}
		return strings.Join(out, ",")
	}
	for _, c := range []struct {
		f    ShardFilter
		want string
	}{
		{ShardFilter{}, "0,1,2,3"},
		{ShardFilter{Type: FilterAtLatest}, "1,2,3"},
		{ShardFilter{Type: FilterAtTrimHorizon}, "0,1"},
		{ShardFilter{Type: FilterFromTrimHorizon}, "0,1,2,3"},
		{ShardFilter{Type: FilterAfterShardID, ShardID: "shardId-000000000001"}, "2,3"},
		{ShardFilter{Type: FilterAtTimestamp, Timestamp: t0.Add(30 * time.Minute)}, "0,1"},
		{ShardFilter{Type: FilterAtTimestamp, Timestamp: t0.Add(90 * time.Minute)}, "1,2,3"},
		{ShardFilter{Type: FilterFromTimestamp, Timestamp: t0.Add(30 * time.Minute)}, "0,1,2,3"},
		{ShardFilter{Type: FilterFromTimestamp, Timestamp: t0.Add(90 * time.Minute)}, "1,2,3"},
	} {
		if got := ids(c.f, ""); got != c.want {
			t.Errorf("%+v: %s want %s", c.f, got, c.want)
		}
	}
	if got := ids(ShardFilter{}, "shardId-000000000002"); got != "3" {
		t.Errorf("exclusive start: %s", got)
	}
	_, err := l.ListShards(ref("s"), "", ShardFilter{Type: "NOPE"})
	mustCode(t, err, CodeValidation)
	_, err = l.ListShards(ref("s"), "", ShardFilter{Type: FilterAfterShardID})
	mustCode(t, err, CodeInvalidArgument)
}

func TestTagsLimitsAndStreams(t *testing.T) {
	l, _ := openTest(t, nil)
	l.CreateStream(CreateStreamInput{Name: "b", ShardCount: 2})
	l.CreateStream(CreateStreamInput{Name: "a", ShardCount: 3})
	ss := l.ListStreams()
	if len(ss) != 2 || ss[0].Name != "a" {
		t.Fatalf("%+v", ss)
	}
	lim := l.DescribeLimits()
	if lim.OpenShardCount != 5 || lim.ShardLimit != 500 {
		t.Fatalf("%+v", lim)
	}
	l.SplitShard(ref("b"), "shardId-000000000000", "1000")
	if lim := l.DescribeLimits(); lim.OpenShardCount != 6 {
		t.Fatalf("after split: %+v", lim)
	}
	l.CreateStream(CreateStreamInput{Name: "c", ShardCount: 1})
	l.DeleteStream(ref("c"), false)
	if lim := l.DescribeLimits(); lim.OpenShardCount != 6 {
		t.Fatalf("after create+delete: %+v", lim)
	}
	tags := map[string]string{}
	for i := 0; i < 50; i++ {
		tags[fmt.Sprint("k", i)] = "v"
	}
	if err := l.AddTags(ref("a"), tags); err != nil {
		t.Fatal(err)
	}
	mustCode(t, l.AddTags(ref("a"), map[string]string{"one-more": "v"}), CodeLimitExceeded)
	mustCode(t, l.AddTags(ref("a"), map[string]string{"": "v"}), CodeInvalidArgument)
	l.RemoveTags(ref("a"), []string{"k1", "absent"})
	if ts, _ := l.ListTags(ref("a")); len(ts) != 49 {
		t.Fatal(len(ts))
	}
	// Streams by ARN; a mismatched name is refused.
	arn := "arn:aws:kinesis:us-east-1:000000000000:stream/a"
	if d, err := l.DescribeStream(StreamRef{ARN: arn}); err != nil || d.Name != "a" {
		t.Fatal(err)
	}
	_, err := l.DescribeStream(StreamRef{ARN: arn, Name: "b"})
	mustCode(t, err, CodeInvalidArgument)
	_, err = l.DescribeStream(StreamRef{})
	mustCode(t, err, CodeInvalidArgument)
}

func TestPutRecordsDoesNotAllocatePerRecord(t *testing.T) {
	l, _ := openTest(t, nil)
	ctx := context.Background()
	l.CreateStream(CreateStreamInput{Name: "s", ShardCount: 1})
	es := make([]PutEntry, 500)
	for i := range es {
		es[i] = PutEntry{PartitionKey: fmt.Sprint("k", i), Data: make([]byte, 100)}
	}
	res := make([]PutResult, 0, 500)
	l.PutRecords(ctx, ref("s"), es, res)
	allocs := testing.AllocsPerRun(20, func() {
		if _, err := l.PutRecords(ctx, ref("s"), es, res[:0]); err != nil {
			t.Fatal(err)
		}
	})
	// A few per call (validation message buffers, commit broadcast), none
	// per record: 500 records must cost far fewer than 500 allocations.
	if allocs > 20 {
		t.Fatalf("PutRecords of 500 records allocated %.0f times", allocs)
	}
	r, _ := l.NewShardReader(ref("s"), "shardId-000000000000", StartPosition{Type: TrimHorizon})
	r.Read(ctx, 500, 0, false)
	allocs = testing.AllocsPerRun(20, func() {
		r2 := *r
		if res, err := r2.Read(ctx, 500, 0, false); err != nil || len(res.Records) != 500 {
			t.Fatal(err)
		}
	})
	if allocs > 5 {
		t.Fatalf("reading 500 records allocated %.0f times", allocs)
	}
}

func TestDirectoryLock(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(Options{Dir: dir, RetentionInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(Options{Dir: dir, RetentionInterval: -1}); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("second open: %v", err)
	}
	l.Close()
	l2, err := Open(Options{Dir: dir, RetentionInterval: -1})
	if err != nil {
		t.Fatalf("open after close: %v", err)
	}
	l2.Close()
}

func benchPut(b *testing.B, sync SyncMode) {
	dir := b.TempDir()
	l, err := Open(Options{Dir: dir, Sync: sync, RetentionInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	l.CreateStream(CreateStreamInput{Name: "b", ShardCount: 1})
	es := make([]PutEntry, 500)
	for i := range es {
		es[i] = PutEntry{PartitionKey: fmt.Sprint("key-", i), Data: make([]byte, 100)}
	}
	res := make([]PutResult, 0, 500)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := l.PutRecords(ctx, ref("b"), es, res[:0]); err != nil {
			b.Fatal(err)
		}
	}
	sec := b.Elapsed().Seconds()
	b.ReportMetric(float64(b.N*500)/sec, "records/s")
	b.ReportMetric(float64(b.N*500*100)/sec, "bytes/s")
}

// BenchmarkPutRecords500 is the embedded append path: 500 x 100 B records
// per call, acknowledged after write.
func BenchmarkPutRecords500(b *testing.B) { benchPut(b, SyncNone) }

// BenchmarkPutRecords500Fsync is the same, acknowledged after fsync.
func BenchmarkPutRecords500Fsync(b *testing.B) { benchPut(b, SyncAlways) }

// BenchmarkShardReader reads 10,000-record batches.
func BenchmarkShardReader(b *testing.B) {
	l, err := Open(Options{Dir: b.TempDir(), Sync: SyncNone, RetentionInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	l.CreateStream(CreateStreamInput{Name: "b", ShardCount: 1})
	es := make([]PutEntry, 500)
	for i := range es {
		es[i] = PutEntry{PartitionKey: fmt.Sprint("key-", i), Data: make([]byte, 100)}
	}
	ctx := context.Background()
	for i := 0; i < 100; i++ {
		l.PutRecords(ctx, ref("b"), es, nil)
	}
	b.ResetTimer()
	n := 0
	for i := 0; i < b.N; i++ {
		r, _ := l.NewShardReader(ref("b"), "shardId-000000000000", StartPosition{Type: TrimHorizon})
		for {
			res, err := r.Read(ctx, 10000, 0, false)
			if err != nil {
				b.Fatal(err)
			}
			if len(res.Records) == 0 {
				break
			}
			n += len(res.Records)
		}
	}
	sec := b.Elapsed().Seconds()
	b.ReportMetric(float64(n)/sec, "records/s")
	b.ReportMetric(float64(n*100)/sec, "bytes/s")
}

// TestConcurrentPutsAndReads runs producers, a resharder and readers at
// once (meant for -race): every acknowledged record is read back once.
func TestConcurrentPutsAndReads(t *testing.T) {
	l, _ := openTest(t, nil)
	ctx := context.Background()
	l.CreateStream(CreateStreamInput{Name: "s", ShardCount: 4})
	var wg sync.WaitGroup
	var mu sync.Mutex
	acked := map[string]bool{}
	for p := 0; p < 4; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 40; i++ {
				es := make([]PutEntry, 25)
				for j := range es {
					es[j] = PutEntry{PartitionKey: fmt.Sprint(p, j), Data: []byte(fmt.Sprintf("%d-%d-%d", p, i, j))}
				}
				res, err := l.PutRecords(ctx, ref("s"), es, nil)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				for k, r := range res {
					if r.ErrorCode != "" {
						t.Errorf("record failed: %s %v", r.ErrorCode, r.Err)
					}
					acked[string(es[k].Data)] = true
				}
				mu.Unlock()
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 3; i++ {
			open, _ := l.ListShards(ref("s"), "", ShardFilter{Type: FilterAtLatest})
			sh := open[0]
			if err := l.SplitShard(ref("s"), sh.ShardID, sh.HashKeyRange.Midpoint().String()); err != nil {
				t.Error(err)
			}
			time.Sleep(time.Millisecond)
		}
	}()
	wg.Wait()
	shards, _ := l.ListShards(ref("s"), "", ShardFilter{})
	seen := map[string]int{}
	for _, sh := range shards {
		r, err := l.NewShardReader(ref("s"), sh.ShardID, StartPosition{Type: TrimHorizon})
		if err != nil {
			t.Fatal(err)
		}
		for {
			res, err := r.Read(ctx, 100, 0, false)
			if err != nil {
				t.Fatal(err)
			}
			for _, rec := range res.Records {
				seen[string(rec.Data)]++
			}
			if len(res.Records) == 0 {
				break
			}
		}
	}
	for k := range acked {
		if seen[k] != 1 {
			t.Fatalf("record %s read %d times", k, seen[k])
		}
	}
	if len(seen) != len(acked) {
		t.Fatalf("read %d records, acknowledged %d", len(seen), len(acked))
	}
}

// TestQuotaAndNoLockInversion splits shards in one stream while streams are
// created and deleted: the shard quota holds, and nothing deadlocks (a
// reshard used to take the log's lock while holding its stream's).
func TestQuotaAndNoLockInversion(t *testing.T) {
	l, _ := openTest(t, func(o *Options) { o.ShardLimit = 40 })
	l.CreateStream(CreateStreamInput{Name: "s", ShardCount: 1})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 30; i++ {
			name := fmt.Sprint("t", i)
			if err := l.CreateStream(CreateStreamInput{Name: name, ShardCount: 2}); err != nil && CodeOf(err) != CodeLimitExceeded {
				t.Error(err)
			}
			l.DeleteStream(ref(name), false)
		}
	}()
	splits := 0
	for i := 0; i < 60; i++ {
		open, _ := l.ListShards(ref("s"), "", ShardFilter{Type: FilterAtLatest})
		err := l.SplitShard(ref("s"), open[0].ShardID, open[0].HashKeyRange.Midpoint().String())
		if err == nil {
			splits++
			continue
		}
		if CodeOf(err) != CodeLimitExceeded {
			t.Fatal(err)
		}
	}
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("deadlock between resharding and CreateStream")
	}
	if lim := l.DescribeLimits(); lim.OpenShardCount > 40 || lim.OpenShardCount != splits+1 {
		t.Fatalf("open shards %d after %d splits (limit 40)", lim.OpenShardCount, splits)
	}
}

// TestMergeShardsOrderedPair checks that a merge takes ShardToMerge as
// the lower range and AdjacentShardToMerge as the one right above it, as
// Kinesis does: the pair reversed is refused as not adjacent, and leaves
// both shards open.
func TestMergeShardsOrderedPair(t *testing.T) {
	l, _ := openTest(t, nil)
	if err := l.CreateStream(CreateStreamInput{Name: "s", ShardCount: 2}); err != nil {
		t.Fatal(err)
	}
	err := l.MergeShards(ref("s"), "shardId-000000000001", "shardId-000000000000")
	if e := (*Error)(nil); !errors.As(err, &e) || e.Reason != ReasonShardsNotAdjacent || e.Shard != "shardId-000000000001" || e.OtherShard != "shardId-000000000000" {
		t.Fatal(err)
	}
	if d, _ := l.DescribeStream(ref("s")); d.OpenShardCount != 2 || len(d.Shards) != 2 {
		t.Fatalf("after a refused merge: %+v", d)
	}
	if err := l.MergeShards(ref("s"), "shardId-000000000000", "shardId-000000000001"); err != nil {
		t.Fatal(err)
	}
}

// TestReshardVisibleWhenActive checks that a split or merge, accepted
// while the stream turns UPDATING, leaves the shard map as it was (the
// parents open and written to, no children) until the stream is ACTIVE
// again, as Kinesis does; and that one pending across a restart is still
// applied.
func TestReshardVisibleWhenActive(t *testing.T) {
	ctx := context.Background()
	clk := NewManualClock(t0)
	opts := Options{Dir: t.TempDir(), Clock: clk, RetentionInterval: -1, Sync: SyncNone, StatusDelay: 10 * time.Second}
	l, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.CreateStream(CreateStreamInput{Name: "s", ShardCount: 2}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(10 * time.Second)
	shape := func(l *Log) (StreamStatus, int, int) {
		t.Helper()
		d, err := l.DescribeStream(ref("s"))
		if err != nil {
			t.Fatal(err)
		}
		return d.Status, len(d.Shards), d.OpenShardCount
	}
	if err := l.SplitShard(ref("s"), "shardId-000000000000", "1000"); err != nil {
		t.Fatal(err)
	}
	if st, n, open := shape(l); st != StatusUpdating || n != 2 || open != 2 {
		t.Fatalf("while UPDATING: %s, %d shards, %d open", st, n, open)
	}
	// Records still go to the parent.
	res, err := l.PutRecord(ctx, ref("s"), PutEntry{PartitionKey: "k", ExplicitHashKey: "5"}, "")
	if err != nil || res.ShardID != "shardId-000000000000" {
		t.Fatalf("put while UPDATING: %+v %v", res, err)
	}
	// A restart while UPDATING keeps the pending split.
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if l, err = Open(opts); err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if st, n, _ := shape(l); st != StatusUpdating || n != 2 {
		t.Fatalf("reopened while UPDATING: %s, %d shards", st, n)
	}
	clk.Advance(10 * time.Second)
	if st, n, open := shape(l); st != StatusActive || n != 4 || open != 3 {
		t.Fatalf("ACTIVE again: %s, %d shards, %d open", st, n, open)
	}
	res, err = l.PutRecord(ctx, ref("s"), PutEntry{PartitionKey: "k", ExplicitHashKey: "5"}, "")
	if err != nil || res.ShardID != "shardId-000000000002" {
		t.Fatalf("put once ACTIVE: %+v %v", res, err)
	}
	// A merge likewise.
	if err := l.MergeShards(ref("s"), "shardId-000000000002", "shardId-000000000003"); err != nil {
		t.Fatal(err)
	}
	if st, n, open := shape(l); st != StatusUpdating || n != 4 || open != 3 {
		t.Fatalf("merge while UPDATING: %s, %d shards, %d open", st, n, open)
	}
	clk.Advance(10 * time.Second)
	if st, n, open := shape(l); st != StatusActive || n != 5 || open != 2 {
		t.Fatalf("merge once ACTIVE: %s, %d shards, %d open", st, n, open)
	}
}

// TestReshardAllOrNothing checks that a split, a merge or an
// UpdateShardCount whose child cannot be made (its directory is taken by
// a file) leaves the stream as it was: the parents open over their
// ranges, no child, writes still routed; and that it succeeds once the
// way is clear.
func TestReshardAllOrNothing(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	l, _ := openTest(t, func(o *Options) { o.Dir = dir })
	if err := l.CreateStream(CreateStreamInput{Name: "s", ShardCount: 2}); err != nil {
		t.Fatal(err)
	}
	dirs, err := filepath.Glob(filepath.Join(dir, "streams", "s.*", "shards"))
	if err != nil || len(dirs) != 1 {
		t.Fatalf("shards dir: %v %v", dirs, err)
	}
	block := func(id string) func() {
		p := filepath.Join(dirs[0], id)
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		return func() { os.Remove(p) }
	}
	same := func(what string) {
		t.Helper()
		d, err := l.DescribeStream(ref("s"))
		if err != nil || len(d.Shards) != 2 || d.OpenShardCount != 2 || d.Shards[0].EndingSequenceNumber != nil || d.Shards[1].EndingSequenceNumber != nil {
			t.Fatalf("after a failed %s: %+v %v", what, d, err)
		}
		if lim := l.DescribeLimits(); lim.OpenShardCount != 2 {
			t.Fatalf("after a failed %s: %d open shards counted", what, lim.OpenShardCount)
		}
		if _, err := l.PutRecord(ctx, ref("s"), PutEntry{PartitionKey: "k", ExplicitHashKey: "5"}, ""); err != nil {
			t.Fatalf("put after a failed %s: %v", what, err)
		}
	}
	unblock := block("shardId-000000000003") // the second child of a split
	if err := l.SplitShard(ref("s"), "shardId-000000000000", "1000"); err == nil {
		t.Fatal("split with a child blocked succeeded")
	}
	same("split")
	if _, err := l.UpdateShardCount(ref("s"), 4, UniformScaling); err == nil {
		t.Fatal("UpdateShardCount with a child blocked succeeded")
	}
	same("UpdateShardCount")
	unblock()
	unblock = block("shardId-000000000002") // the merged child
	if err := l.MergeShards(ref("s"), "shardId-000000000000", "shardId-000000000001"); err == nil {
		t.Fatal("merge with the child blocked succeeded")
	}
	same("merge")
	unblock()
	if err := l.SplitShard(ref("s"), "shardId-000000000000", "1000"); err != nil {
		t.Fatal(err)
	}
	d, _ := l.DescribeStream(ref("s"))
	if len(d.Shards) != 4 || d.Shards[2].ShardID != "shardId-000000000002" || d.Shards[3].ShardID != "shardId-000000000003" {
		t.Fatalf("split once clear: %+v", d.Shards)
	}
}
