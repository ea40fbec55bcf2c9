package main

import (
	"testing"
	"time"

	"github.com/sluicehq/sluice/engine"
)

func TestProgressLine(t *testing.T) {
	now := time.Date(2026, 12, 7, 10, 0, 30, 0, time.UTC)
	wm := now.Add(-5 * time.Second).UnixMilli()
	prev := engine.Metrics{Operators: []engine.OperatorMetrics{
		{Name: "clicks", IsSource: true, RecordsOut: 1000},
		{Name: "clicks-calc", RecordsIn: 1000, RecordsOut: 1000},
		{Name: "per_user", IsSink: true, RecordsIn: 10},
	}}
	cur := engine.Metrics{Operators: []engine.OperatorMetrics{
		{Name: "clicks", IsSource: true, RecordsOut: 3000, Watermark: wm},
		{Name: "clicks-calc", RecordsIn: 3000, RecordsOut: 3000, Watermark: wm},
		{Name: "per_user", IsSink: true, RecordsIn: 30, Watermark: engine.MinTime,
			SideOutputs: map[string]int64{"errors": 2}, Counters: map[string]int64{"late-records": 1, "flushes": 9}},
	}}
	got := progressLine(prev, cur, 2*time.Second, engine.CheckpointStats{ID: 7, Duration: 42 * time.Millisecond}, now)
	want := "clicks: 3000 out (1000/s), watermark 2026-12-07T10:00:25Z (lag 5s); " +
		"per_user: 30 in (10/s), watermark -, 3 errors; checkpoint 7 (took 42ms)"
	if got != want {
		t.Fatalf("progress line\n got: %s\nwant: %s", got, want)
	}
	// A shardlog source's undecodable records are counted by its decode
	// operator (counter and side output: counted once) and shown on the
	// source.
	cur = engine.Metrics{Operators: []engine.OperatorMetrics{
		{Name: "events", IsSource: true, RecordsOut: 10, Watermark: engine.MinTime},
		{Name: "events/decode", RecordsIn: 10, RecordsOut: 7,
			SideOutputs: map[string]int64{"shardlog-decode-errors": 3}, Counters: map[string]int64{"decode-errors": 3}},
		{Name: "events-errors", IsSink: true, RecordsIn: 3, Watermark: engine.MinTime},
	}}
	got = progressLine(engine.Metrics{}, cur, time.Second, engine.CheckpointStats{}, now)
	want = "events: 10 out (10/s), watermark -, 3 errors; events-errors: 3 in (3/s), watermark -; no checkpoint yet"
	if got != want {
		t.Fatalf("progress line\n got: %s\nwant: %s", got, want)
	}
	// Backpressure: the share of the interval the source's subtasks were
	// blocked, over its parallelism.
	prev = engine.Metrics{Operators: []engine.OperatorMetrics{{Name: "in", IsSource: true, Parallelism: 2, Backpressured: time.Second}}}
	cur = engine.Metrics{Operators: []engine.OperatorMetrics{{Name: "in", IsSource: true, Parallelism: 2, RecordsOut: 5,
		Backpressured: 4 * time.Second, Watermark: engine.MinTime}}}
	got = progressLine(prev, cur, 2*time.Second, engine.CheckpointStats{}, now)
	want = "in: 5 out (2/s), watermark -, backpressured 75%; no checkpoint yet"
	if got != want {
		t.Fatalf("progress line\n got: %s\nwant: %s", got, want)
	}
	if got := progressLine(engine.Metrics{}, engine.Metrics{}, 0, engine.CheckpointStats{}, now); got != "no checkpoint yet" {
		t.Fatalf("empty job: %q", got)
	}
}
