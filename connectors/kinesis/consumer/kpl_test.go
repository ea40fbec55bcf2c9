package consumer

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connectors/kpl"
	"github.com/sluicehq/sluice/connectors/shardlog"
)

// TestDeaggregatesByDefault: a KPL aggregate is delivered as its user
// records (sub-sequence numbers, their partition keys), a plain record as
// it is, a corrupt aggregate whole; with KeepAggregates the aggregate is
// delivered as stored.
func TestDeaggregatesByDefault(t *testing.T) {
	env := startServer(t)
	env.createStream(t, "s", 1)
	all, err := kpl.NewShardMap([]kpl.ShardRange{{ShardID: "shardId-000000000000", End: kpl.HashKey{Hi: ^uint64(0), Lo: ^uint64(0)}}})
	if err != nil {
		t.Fatal(err)
	}
	agg, err := kpl.NewAggregator(kpl.AggregatorOptions{}, all)
	if err != nil {
		t.Fatal(err)
	}
	var entries []kpl.Entry
	for i := range 5 {
		if entries, err = agg.Add(entries, kpl.UserRecord{PartitionKey: "u" + strconv.Itoa(i), Data: []byte(fmt.Sprint("user ", i))}); err != nil {
			t.Fatal(err)
		}
	}
	entries = agg.Flush(entries)
	if len(entries) != 1 || entries[0].UserRecords != 5 {
		t.Fatalf("aggregator made %+v, want one aggregate of 5", entries)
	}
	corrupt := append([]byte{0xF3, 0x89, 0x9A, 0xC2}, []byte("not a protobuf body, and no MD5")...)
	put := []shardlog.PutEntry{
		{PartitionKey: "plain", Data: []byte("plain")},
		{PartitionKey: entries[0].PartitionKey, ExplicitHashKey: entries[0].ExplicitHashKey, Data: entries[0].Data},
		{PartitionKey: "bad", Data: corrupt},
	}
	if _, err := env.log.PutRecords(context.Background(), shardlog.StreamRef{Name: "s"}, put, nil); err != nil {
		t.Fatal(err)
	}
	read := func(keep bool, want int) []Record {
		store, err := OpenLocalStore(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		col := &collector{}
		cfg := fastConfig("s", store, "w", col.processor)
		cfg.KeepAggregates = keep
		c, err := New(newClient(env.url), cfg)
		if err != nil {
			t.Fatal(err)
		}
		stop := runConsumer(t, c)
		waitFor(t, time.Minute, "the records", func() (bool, string) { return len(col.got()) >= want, strconv.Itoa(len(col.got())) })
		stop()
		return col.got()
	}
	got := read(false, 7)
	var desc []string
	for _, r := range got {
		desc = append(desc, fmt.Sprintf("%s %d %v %q", r.PartitionKey, r.SubSequenceNumber, r.Aggregated, r.Data))
	}
	want := []string{`plain 0 false "plain"`, `u0 0 true "user 0"`, `u1 1 true "user 1"`, `u2 2 true "user 2"`,
		`u3 3 true "user 3"`, `u4 4 true "user 4"`, fmt.Sprintf("bad 0 false %q", corrupt)}
	if fmt.Sprint(desc) != fmt.Sprint(want) {
		t.Fatalf("delivered:\n%v\nwant:\n%v", desc, want)
	}
	if got[1].SequenceNumber != got[5].SequenceNumber || got[0].SequenceNumber == got[1].SequenceNumber {
		t.Fatalf("user records of one aggregate must share its sequence number: %v", got)
	}
	kept := read(true, 3)
	if len(kept) != 3 || !kpl.IsAggregated(kept[1].Data) || kept[1].Aggregated {
		t.Fatalf("with KeepAggregates: %+v", kept)
	}
}
