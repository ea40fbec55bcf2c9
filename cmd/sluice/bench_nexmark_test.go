package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
)

// TestBenchNexmark runs `sluice bench nexmark --all --json` on a few
// events: one JSON line per query with the core fields and the
// query's own.
func TestBenchNexmark(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"bench", "nexmark", "--all", "--events", "20000", "--rate", "1000",
		"--runs", "1", "--parallelism", "2", "--checkpoint-interval", "50ms", "--json"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d, stderr %s", code, stderr.String())
	}
	sc := bufio.NewScanner(&stdout)
	var names []string
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		for _, k := range []string{"name", "records", "records_per_sec", "records_per_cpu_sec", "rows", "latency_p99_ms", "state_bytes", "checkpoints"} {
			if _, ok := m[k]; !ok {
				t.Errorf("line %q lacks %q", sc.Text(), k)
			}
		}
		names = append(names, m["name"].(string))
	}
	if got := strings.Join(names, " "); !strings.HasPrefix(got, "nexmark/q0/go/p2 nexmark/q1/go/p2") || len(names) != 20 {
		t.Fatalf("cases %q, want the 20 queries", got)
	}
}

// TestBenchNexmarkUsage: bad flags exit with status 2 and say why.
func TestBenchNexmarkUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--runs", "0"}, "--runs must be at least 1"},
		{[]string{"--query", "q6"}, `--query "q6" is not one of q0 q1`},
		{[]string{"--api", "sql"}, "not built yet"},
	} {
		var stdout, stderr bytes.Buffer
		args := append([]string{"bench", "nexmark"}, tc.args...)
		if code := run(context.Background(), args, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), tc.msg) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tc.args, code, stderr.String(), tc.msg)
		}
	}
}
