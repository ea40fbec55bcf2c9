package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
)

// TestBenchExchangeJSON runs `sluice bench exchange --json` small: two JSON
// lines, in-process and over TCP, the second with its ratio to the first
// and both with latencies.
func TestBenchExchangeJSON(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"bench", "exchange", "--runs", "1", "--records", "5000", "--batch", "64", "--json"}, &stdout, &stderr)
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
		for _, k := range []string{"name", "records", "records_per_sec", "records_per_cpu_sec", "bytes_per_sec", "latency_p50_us", "latency_p99_us"} {
			if _, ok := m[k]; !ok {
				t.Errorf("line %q lacks %q", sc.Text(), k)
			}
		}
		name, _ := m["name"].(string)
		if _, ok := m["baseline_ratio"]; ok != strings.HasSuffix(name, "/tcp-loopback") {
			t.Errorf("line %q: baseline_ratio only on the TCP case", sc.Text())
		}
		names = append(names, name)
	}
	if len(names) != 2 {
		t.Fatalf("%d lines, want 2: %v", len(names), names)
	}
	if code := run(context.Background(), []string{"bench", "exchange", "--capacity", "0"}, &stdout, &stderr); code != 2 {
		t.Fatalf("exit %d for --capacity 0, want 2", code)
	}
}
