package service

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/sluicehq/sluice/connectors/shardlog"
)

// A stream's read lag (MillisBehindLatest of the last GetRecords answer
// per shard) and its damage count are in GET /v1/streams/NAME and on
// /metrics, the same figures in both.
func TestStreamLagInRESTAndMetrics(t *testing.T) {
	e := startEnvWith(t, t.TempDir(), func(*Options) {})
	ctx := context.Background()
	l := e.svc.Log()
	if err := l.CreateStream(shardlog.CreateStreamInput{Name: "lag", ShardCount: 1}); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := l.PutRecord(ctx, shardlog.StreamRef{Name: "lag"}, shardlog.PutEntry{PartitionKey: "k", Data: []byte{byte(i)}}, ""); err != nil {
			t.Fatal(err)
		}
	}
	get := func() StreamView {
		resp, err := http.Get("http://" + e.addr + "/v1/streams/lag")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var v StreamView
		if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	if v := get(); v.Shards[0].MillisBehindLatest != nil {
		t.Fatalf("a shard never read has a lag: %d", *v.Shards[0].MillisBehindLatest)
	}
	it, err := l.GetShardIterator(shardlog.StreamRef{Name: "lag"}, "shardId-000000000000", shardlog.StartPosition{Type: shardlog.TrimHorizon})
	if err != nil {
		t.Fatal(err)
	}
	var buf shardlog.RecordBuffer
	out, err := l.GetRecords(ctx, it, 1, &buf)
	if err != nil {
		t.Fatal(err)
	}
	v := get()
	if v.Shards[0].MillisBehindLatest == nil || *v.Shards[0].MillisBehindLatest != out.MillisBehindLatest || len(v.Damage) != 0 {
		t.Fatalf("after GetRecords (%d ms behind): %+v, damage %v", out.MillisBehindLatest, v.Shards[0], v.Damage)
	}
	fams := scrape(t, e.addr)
	if got, ok := sample(fams, "sluice_shard_millis_behind_latest", map[string]string{"stream": "lag", "shard": "shardId-000000000000"}); !ok || got != float64(out.MillisBehindLatest) {
		t.Fatalf("sluice_shard_millis_behind_latest = %v (%v), want %d", got, ok, out.MillisBehindLatest)
	}
	if got, ok := sample(fams, "sluice_log_damaged_ranges", map[string]string{"stream": "lag"}); !ok || got != 0 {
		t.Fatalf("sluice_log_damaged_ranges = %v (%v), want 0", got, ok)
	}
}
