package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/sluicehq/sluice/internal/testsupport/minio"
)

// TestBenchJSON runs each in-process `sluice bench X --json` in a tiny
// configuration and checks that every line is a JSON object with the core
// fields of internal/bench. (log, nab and the child-process state cases need
// a sluice binary or the NAB data set and are run by hand.)
func TestBenchJSON(t *testing.T) {
	for _, tc := range []struct {
		args  []string
		lines int
	}{
		{[]string{"pipeline", "--runs", "1", "--chained-records", "2000", "--keyed-records", "2000"}, 3},
		{[]string{"windows", "--runs", "1", "--records", "50000", "--checkpoint-interval", "0", "--state-backend", "memory"}, 2},
		{[]string{"shardconn", "--runs", "1", "--records", "1000", "--sync", "none"}, 2},
		{[]string{"rcf", "--runs", "1", "--records", "50", "--hotspots-records", "50"}, 5},
		{[]string{"state", "--runs", "1", "--cases", "updates,snapshot", "--keys", "100", "--records", "1000",
			"--snapshot-bytes", "64KiB", "--update-bytes", "4KiB", "--dir", t.TempDir()}, 6},
		{[]string{"firehose", "--runs", "1", "--records", "100"}, 3},
		{[]string{"sql", "--runs", "1", "--records", "1000"}, 6},
		{[]string{"s3checkpoint", "--state-bytes", "2MiB", "--updates", "10"}, 4},
	} {
		t.Run(tc.args[0], func(t *testing.T) {
			if tc.args[0] == "firehose" || tc.args[0] == "s3checkpoint" {
				// The delivery cases start a MinIO from the CI cache.
				if minio.Find() == "" {
					t.Skip("no MinIO binary (.ci/setup.d/40-minio.sh builds one)")
				}
				t.Setenv("SLUICE_S3_ENDPOINT", "")
			}
			var stdout, stderr bytes.Buffer
			args := append([]string{"bench"}, tc.args...)
			args = append(args, "--json")
			code := run(context.Background(), args, &stdout, &stderr)
			if code != 0 {
				t.Fatalf("exit %d, stderr %s", code, stderr.String())
			}
			sc := bufio.NewScanner(&stdout)
			n := 0
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
				n++
			}
			if n != tc.lines {
				t.Fatalf("%d JSON lines, want %d:\n%s", n, tc.lines, stdout.String())
			}
		})
	}
}

// TestBenchUsage checks that an invalid Config exits with status 2.
func TestBenchUsage(t *testing.T) {
	for _, name := range []string{"pipeline", "windows", "shardconn", "rcf", "state", "firehose", "log", "nab", "sql"} {
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), []string{"bench", name, "--runs", "0"}, &stdout, &stderr); code != 2 {
			t.Errorf("bench %s --runs 0: exit %d, want 2 (%s)", name, code, stderr.String())
		}
	}
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"bench", "s3checkpoint", "--updates", "0"}, &stdout, &stderr); code != 2 {
		t.Errorf("bench s3checkpoint --updates 0: exit %d, want 2 (%s)", code, stderr.String())
	}
}
