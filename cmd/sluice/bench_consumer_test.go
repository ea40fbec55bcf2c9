package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
)

// TestBenchConsumerJSON runs `sluice bench consumer --json` in a tiny
// configuration: three JSON lines (polling, fan-out, the GetRecords loop)
// with the core fields, the library's two against the loop's baseline.
func TestBenchConsumerJSON(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"bench", "consumer", "--runs", "1", "--records", "2000", "--json"}, &stdout, &stderr)
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
		for _, k := range []string{"name", "records", "seconds", "records_per_sec", "records_per_cpu_sec", "runs"} {
			if _, ok := m[k]; !ok {
				t.Errorf("line %q lacks %q", sc.Text(), k)
			}
		}
		if m["records"] != float64(2000) {
			t.Errorf("line %q: records %v, want 2000", sc.Text(), m["records"])
		}
		name, _ := m["name"].(string)
		if strings.HasPrefix(name, "consumer library") || strings.HasPrefix(name, "trigger") {
			if _, ok := m["baseline_ratio"]; !ok {
				t.Errorf("line %q lacks baseline_ratio", sc.Text())
			}
		}
		names = append(names, name)
	}
	if len(names) != 4 {
		t.Fatalf("%d lines, want 4 (polling, fan-out, trigger, the loop): %v", len(names), names)
	}
}

func TestBenchConsumerRefusesBadFlags(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"bench", "consumer", "--records", "0"}, &stdout, &stderr); code != 2 {
		t.Fatalf("exit %d for --records 0, want 2; stderr %s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), "must be positive") {
		t.Errorf("stderr %q", stderr.String())
	}
}
