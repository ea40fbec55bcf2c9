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
		{[]string{"--api", "sql", "--query", "q12"}, "q12 has no SQL form"},
		{[]string{"--api", "rust"}, "--api must be go, sql or both"},
	} {
		var stdout, stderr bytes.Buffer
		args := append([]string{"bench", "nexmark"}, tc.args...)
		if code := run(context.Background(), args, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), tc.msg) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tc.args, code, stderr.String(), tc.msg)
		}
	}
}

// TestBenchNexmarkBoth runs one query in both forms: a Go line, then a
// SQL line with the ratios.
func TestBenchNexmarkBoth(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"bench", "nexmark", "--query", "q5", "--api", "both", "--events", "20000", "--rate", "1000",
		"--runs", "1", "--checkpoint-interval", "50ms", "--json"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d, stderr %s", code, stderr.String())
	}
	var lines []map[string]any
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		lines = append(lines, m)
	}
	if len(lines) != 2 || lines[0]["name"] != "nexmark/q5/go/p1" || lines[1]["name"] != "nexmark/q5/sql/p1" {
		t.Fatalf("lines %v, want q5 in go then sql", lines)
	}
	if r, ok := lines[1]["sql_go_ratio"].(float64); !ok || r <= 0 {
		t.Fatalf("the SQL line has no sql_go_ratio: %v", lines[1])
	}
	if lines[0]["rows"] != lines[1]["rows"] && lines[1]["rows"].(float64) == 0 {
		t.Fatalf("the SQL form output no rows: %v", lines[1])
	}
}
