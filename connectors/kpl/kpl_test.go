package kpl

import (
	"bytes"
	"crypto/md5"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/internal/testseed"
	"google.golang.org/protobuf/encoding/protowire"
)

// fourShards splits the hash key space in four equal ranges.
func fourShards(t testing.TB) *ShardMap {
	t.Helper()
	q := uint64(1) << 62
	var rs []ShardRange
	for i := uint64(0); i < 4; i++ {
		end := HashKey{Hi: (i+1)*q - 1, Lo: ^uint64(0)}
		rs = append(rs, ShardRange{ShardID: fmt.Sprintf("shardId-%012d", i), Start: HashKey{Hi: i * q}, End: end})
	}
	m, err := NewShardMap(rs)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func oneShard(t testing.TB) *ShardMap {
	t.Helper()
	m, err := NewShardMap([]ShardRange{{ShardID: "shardId-000000000000", End: HashKey{Hi: ^uint64(0), Lo: ^uint64(0)}}})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestRoundTrip(t *testing.T) {
	a := &AggregatedRecord{
		PartitionKeyTable:    []string{"k1", "k2"},
		ExplicitHashKeyTable: []string{"42"},
		Records: []Record{
			{PartitionKeyIndex: 0, Data: []byte("one")},
			{PartitionKeyIndex: 1, ExplicitHashKeyIndex: 0, HasExplicitHashKeyIndex: true, Data: []byte("two"), Tags: []Tag{{Key: "t", Value: "v", HasValue: true}, {Key: "bare"}}},
			{PartitionKeyIndex: 0, Data: []byte{}},
		},
	}
	b := a.Marshal()
	if !bytes.Equal(b[:4], []byte{0xF3, 0x89, 0x9A, 0xC2}) {
		t.Fatalf("prefix %x", b[:4])
	}
	sum := md5.Sum(b[4 : len(b)-16])
	if !bytes.Equal(sum[:], b[len(b)-16:]) {
		t.Fatal("trailer is not the MD5 of the body")
	}
	got, err := Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(a) {
		t.Fatalf("round trip:\n got %v\nwant %v", got, a)
	}
	us, err := Deaggregate("outer", "", b)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"k1|||one|0", "k2|42|t=v,bare|two|1", "k1||||2"}
	for i, u := range us {
		var tags []string
		for _, tg := range u.Tags {
			if tg.HasValue {
				tags = append(tags, tg.Key+"="+tg.Value)
			} else {
				tags = append(tags, tg.Key)
			}
		}
		s := fmt.Sprintf("%s|%s|%s|%s|%d", u.PartitionKey, u.ExplicitHashKey, strings.Join(tags, ","), u.Data, u.SubSequenceNumber)
		if s != want[i] || !u.Aggregated {
			t.Errorf("user record %d: %s (aggregated %v), want %s", i, s, u.Aggregated, want[i])
		}
	}
	if len(us) != len(want) {
		t.Fatalf("%d user records, want %d", len(us), len(want))
	}
}

// withBody frames a hand-written protobuf body as an aggregate.
func withBody(body []byte) []byte {
	sum := md5.Sum(body)
	return append(append(append([]byte{}, Magic[:]...), body...), sum[:]...)
}

func TestCorruptPassesThroughWhole(t *testing.T) {
	good := (&AggregatedRecord{PartitionKeyTable: []string{"k"}, Records: []Record{{Data: []byte("x")}, {Data: []byte("y")}}}).Marshal()
	badSum := bytes.Clone(good)
	badSum[len(badSum)-1] ^= 1
	var rec []byte
	rec = protowire.AppendTag(rec, fieldData, protowire.BytesType)
	rec = protowire.AppendBytes(rec, []byte("d"))
	missingPK := protowire.AppendTag(nil, fieldRecords, protowire.BytesType)
	missingPK = protowire.AppendBytes(missingPK, rec)
	pkOut := protowire.AppendTag(nil, fieldRecords, protowire.BytesType)
	pkOut = protowire.AppendBytes(pkOut, append(protowire.AppendVarint(protowire.AppendTag(nil, 1, protowire.VarintType), 3), rec...))
	ehkOut := protowire.AppendString(protowire.AppendTag(nil, fieldPartitionKeyTable, protowire.BytesType), "k")
	inner := append(protowire.AppendVarint(protowire.AppendTag(nil, 1, protowire.VarintType), 0), protowire.AppendVarint(protowire.AppendTag(nil, 2, protowire.VarintType), 0)...)
	ehkOut = protowire.AppendTag(ehkOut, fieldRecords, protowire.BytesType)
	ehkOut = protowire.AppendBytes(ehkOut, append(inner, rec...))
	for _, tc := range []struct {
		name, data, reason string
	}{
		{"short", string(Magic[:]) + "abc", "shorter than the magic prefix"},
		{"bad md5", string(badSum), "MD5"},
		{"truncated body", string(withBody(good[4 : len(good)-20])), "records"},
		{"garbage body", string(withBody([]byte{0xff, 0xff, 0xff})), "field tag"},
		{"missing partition_key_index", string(withBody(missingPK)), "required partition_key_index is missing"},
		{"partition key index out of range", string(withBody(pkOut)), "partition_key_index 3 is out of range"},
		{"explicit hash key index out of range", string(withBody(ehkOut)), "explicit_hash_key_index 0 is out of range"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var d Deaggregator
			out, ce := d.Append(nil, "pk", "7", []byte(tc.data))
			if ce == nil {
				t.Fatalf("no error for %x", tc.data)
			}
			if !strings.Contains(ce.Error(), tc.reason) {
				t.Errorf("error %q does not name %q", ce, tc.reason)
			}
			if len(out) != 1 || string(out[0].Data) != tc.data || out[0].PartitionKey != "pk" || out[0].ExplicitHashKey != "7" || out[0].Aggregated || out[0].SubSequenceNumber != 0 {
				t.Fatalf("not passed through whole: %+v", out)
			}
			if d.Corrupt() != 1 {
				t.Fatalf("counted %d", d.Corrupt())
			}
		})
	}
	// Without the prefix a record is plain, not corrupt.
	var d Deaggregator
	out, ce := d.Append(nil, "pk", "", []byte("plain"))
	if ce != nil || len(out) != 1 || string(out[0].Data) != "plain" || d.Corrupt() != 0 {
		t.Fatalf("plain record: %+v %v", out, ce)
	}
	if _, err := Unmarshal([]byte("plain")); !errors.Is(err, ErrNotAggregated) {
		t.Fatalf("Unmarshal of a plain record: %v", err)
	}
}

// gen makes n random user records, some with explicit hash keys.
func gen(rng *rand.Rand, n, maxData int) []UserRecord {
	var out []UserRecord
	for i := 0; i < n; i++ {
		u := UserRecord{PartitionKey: fmt.Sprintf("key-%d", rng.IntN(50)), Data: make([]byte, rng.IntN(maxData+1))}
		for j := range u.Data {
			u.Data[j] = byte(rng.Uint32())
		}
		if rng.IntN(4) == 0 {
			u.ExplicitHashKey = HashKey{Hi: rng.Uint64(), Lo: rng.Uint64()}.String()
		}
		out = append(out, u)
	}
	return out
}

// TestAggregatorKeepsShardsAndLimits aggregates random records over four
// shards and checks: every user record comes back once, in order per
// shard; every aggregate's own hash key and each of its user records' map
// to the shard it was made for; sizes and counts stay in the limits.
func TestAggregatorKeepsShardsAndLimits(t *testing.T) {
	rng := rand.New(rand.NewPCG(testseed.Seed(t), 1))
	m := fourShards(t)
	for _, opts := range []AggregatorOptions{{}, {MaxSize: 1000}, {MaxSize: 300, MaxCount: 3}, {MaxCount: 1}} {
		t.Run(fmt.Sprintf("%d/%d", opts.MaxSize, opts.MaxCount), func(t *testing.T) {
			a, err := NewAggregator(opts, m)
			if err != nil {
				t.Fatal(err)
			}
			lim := a.Options()
			_ = lim
			in := gen(rng, 3000, 600)
			var entries []Entry
			for _, u := range in {
				if entries, err = a.Add(entries, u); err != nil {
					t.Fatal(err)
				}
			}
			// With the default limits the last aggregates are still open;
			// with small ones every shard's may have just been emitted.
			if a.Buffered() == 0 && opts == (AggregatorOptions{}) {
				t.Fatal("nothing buffered before Flush")
			}
			entries = a.Flush(entries)
			if a.Buffered() != 0 {
				t.Fatalf("%d buffered after Flush", a.Buffered())
			}
			perShard := map[string][]string{}
			var d Deaggregator
			total := 0
			for _, e := range entries {
				h, err := EffectiveHashKey(e.PartitionKey, e.ExplicitHashKey)
				if err != nil {
					t.Fatal(err)
				}
				if _, id, _ := m.Shard(h); id != e.ShardID {
					t.Fatalf("entry for %s lands on %s", e.ShardID, id)
				}
				us, ce := d.Append(nil, e.PartitionKey, e.ExplicitHashKey, e.Data)
				if ce != nil {
					t.Fatal(ce)
				}
				if len(us) != e.UserRecords {
					t.Fatalf("entry says %d user records, holds %d", e.UserRecords, len(us))
				}
				if e.UserRecords > 1 && len(e.Data) > lim.MaxSize {
					t.Fatalf("aggregate of %d bytes over MaxSize %d", len(e.Data), lim.MaxSize)
				}
				if uint64(e.UserRecords) > lim.MaxCount {
					t.Fatalf("%d user records over MaxCount %d", e.UserRecords, lim.MaxCount)
				}
				if e.UserRecords == 1 && IsAggregated(e.Data) {
					t.Fatal("a single user record was wrapped in an aggregate")
				}
				for _, u := range us {
					h, _ := EffectiveHashKey(u.PartitionKey, u.ExplicitHashKey)
					if _, id, _ := m.Shard(h); id != e.ShardID {
						t.Fatalf("user record of %s in an aggregate for %s", id, e.ShardID)
					}
					perShard[e.ShardID] = append(perShard[e.ShardID], u.PartitionKey+"/"+u.ExplicitHashKey+"/"+string(u.Data))
				}
				total += len(us)
			}
			if total != len(in) {
				t.Fatalf("%d user records out, %d in", total, len(in))
			}
			want := map[string][]string{}
			for _, u := range in {
				h, _ := EffectiveHashKey(u.PartitionKey, u.ExplicitHashKey)
				_, id, _ := m.Shard(h)
				want[id] = append(want[id], u.PartitionKey+"/"+u.ExplicitHashKey+"/"+string(u.Data))
			}
			for id, w := range want {
				if fmt.Sprint(w) != fmt.Sprint(perShard[id]) {
					t.Fatalf("shard %s: order or content differs", id)
				}
			}
		})
	}
}

// TestAggregatorFillsToTheLimit: aggregates of equal records are as full
// as MaxSize allows: one more record would not fit.
func TestAggregatorFillsToTheLimit(t *testing.T) {
	a, err := NewAggregator(AggregatorOptions{}, oneShard(t))
	if err != nil {
		t.Fatal(err)
	}
	var es []Entry
	for i := 0; i < 1000; i++ {
		es, _ = a.Add(es, UserRecord{PartitionKey: "k", Data: bytes.Repeat([]byte{'x'}, 500)})
	}
	es = a.Flush(es)
	first := es[0]
	// The next record adds its records field: tag, length, and the
	// record's own 1+1 (key index) + 1+2+500 (data).
	next := 1 + protowire.SizeBytes(2+3+500)
	if len(first.Data) > DefaultMaxSize || len(first.Data)+next <= DefaultMaxSize {
		t.Fatalf("aggregate of %d bytes with %d user records: not as full as 51200 allows", len(first.Data), first.UserRecords)
	}
	// A record too big to share an aggregate goes alone, in order.
	a2, _ := NewAggregator(AggregatorOptions{MaxSize: 1000}, oneShard(t))
	es, _ = a2.Add(nil, UserRecord{PartitionKey: "k", Data: []byte("small")})
	es, _ = a2.Add(es, UserRecord{PartitionKey: "k", Data: bytes.Repeat([]byte{'y'}, 2000)})
	es = a2.Flush(es)
	if len(es) != 2 || string(es[0].Data) != "small" || len(es[1].Data) != 2000 || IsAggregated(es[1].Data) {
		t.Fatalf("big record: %d entries", len(es))
	}
	if _, err := NewAggregator(AggregatorOptions{MaxSize: 10}, nil); err == nil || !strings.Contains(err.Error(), "MaxSize 10") {
		t.Fatalf("MaxSize 10: %v", err)
	}
	if _, err := a.Add(nil, UserRecord{PartitionKey: "k", ExplicitHashKey: "-1"}); err == nil {
		t.Fatal("bad explicit hash key accepted")
	}
}

func TestWithoutShardMapNothingAggregates(t *testing.T) {
	a, _ := NewAggregator(AggregatorOptions{}, nil)
	es, _ := a.Add(nil, UserRecord{PartitionKey: "k", Data: []byte("1")})
	es, _ = a.Add(es, UserRecord{PartitionKey: "k", Data: []byte("2")})
	if len(es) != 2 || IsAggregated(es[0].Data) {
		t.Fatalf("%+v", es)
	}
}

func TestHashKeys(t *testing.T) {
	for _, s := range []string{"0", "1", "18446744073709551615", "18446744073709551616", "340282366920938463463374607431768211455"} {
		h, err := ParseHashKey(s)
		if err != nil || h.String() != s {
			t.Errorf("%s: %v %v", s, h, err)
		}
	}
	for _, s := range []string{"", "-1", "1x", "340282366920938463463374607431768211456"} {
		if _, err := ParseHashKey(s); err == nil {
			t.Errorf("%q accepted", s)
		}
	}
	// The MD5 of "a" is 0cc175b9c0f1b6a831c399e269772661.
	if h := PartitionHash("a"); h.Hi != 0x0cc175b9c0f1b6a8 || h.Lo != 0x31c399e269772661 {
		t.Errorf("PartitionHash(a) = %x %x", h.Hi, h.Lo)
	}
	if _, err := NewShardMap([]ShardRange{{ShardID: "a", End: HashKey{Lo: 10}}, {ShardID: "b", Start: HashKey{Lo: 10}, End: HashKey{Lo: 20}}}); err == nil {
		t.Error("overlap accepted")
	}
}
