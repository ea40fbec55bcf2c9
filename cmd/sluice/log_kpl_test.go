package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestLogKPL: `sluice log put --aggregate` packs records into KPL
// aggregates; `log get` and `log tail` print their user records with
// sub-sequence numbers, `--raw` the aggregates as stored.
func TestLogKPL(t *testing.T) {
	ep := startLogServer(t)
	mustRun := func(args ...string) string {
		t.Helper()
		out, errs, code := runSluice(args...)
		if code != 0 {
			t.Fatalf("sluice %s: exit %d: %s", strings.Join(args, " "), code, errs)
		}
		return out
	}
	mustRun("log", "create", "agg", "--shards", "1", ep)
	out := mustRun("log", "put", "agg", "--aggregate", "--key", "u1", "a", "b", "c", ep)
	if strings.TrimSpace(out) != "3 user records in 1 Kinesis records" {
		t.Fatalf("put --aggregate: %q", out)
	}
	mustRun("log", "put", "agg", "--key", "u2", "plain", ep)
	out = mustRun("log", "get", "agg", ep)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 {
		t.Fatalf("get: %q", out)
	}
	for i, want := range []string{"/0\tu1\ta", "/1\tu1\tb", "/2\tu1\tc", "\tu2\tplain"} {
		if !strings.HasSuffix(lines[i], want) {
			t.Errorf("line %d %q does not end with %q", i, lines[i], want)
		}
	}
	seq := strings.Split(lines[0], "\t")[1]
	seq = seq[:strings.IndexByte(seq, '/')]
	if strings.Contains(lines[3], "/") {
		t.Errorf("a plain record has a sub-sequence number: %q", lines[3])
	}
	out = mustRun("log", "get", "agg", "--json", ep)
	var first struct {
		Sequence    string  `json:"sequence_number"`
		SubSequence *uint64 `json:"sub_sequence_number"`
		Key         string  `json:"partition_key"`
		Data        string  `json:"data"`
	}
	if err := json.Unmarshal([]byte(strings.Split(out, "\n")[1]), &first); err != nil || first.Sequence != seq || first.SubSequence == nil || *first.SubSequence != 1 || first.Data != "b" {
		t.Fatalf("get --json: %q (%v)", out, err)
	}
	out = mustRun("log", "get", "agg", "--raw", ep)
	if raw := strings.Split(strings.TrimSpace(out), "\n"); len(raw) != 2 || !strings.Contains(raw[0], "\ta\t") {
		t.Fatalf("get --raw: %q", out)
	}
	out = mustRun("log", "tail", "agg", "--from", "trim_horizon", "--max", "2", ep)
	if got := strings.Split(strings.TrimSpace(out), "\n"); len(got) != 2 || !strings.HasSuffix(got[1], "/1\tu1\tb") {
		t.Fatalf("tail --max 2: %q", out)
	}
}
