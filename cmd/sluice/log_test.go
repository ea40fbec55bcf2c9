package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"
)

// TestLogCommands drives `sluice log create|put|get|describe|split|merge|
// tail` against a server started in process on 127.0.0.1.
func TestLogCommands(t *testing.T) {
	ep := startLogServer(t)

	sluice := func(args ...string) (string, string, int) {
		var out, errb bytes.Buffer
		code := run(context.Background(), args, &out, &errb)
		return out.String(), errb.String(), code
	}
	mustRun := func(args ...string) string {
		t.Helper()
		out, errs, code := sluice(args...)
		if code != 0 {
			t.Fatalf("sluice %s: exit %d: %s", strings.Join(args, " "), code, errs)
		}
		return out
	}
	mustRun("log", "create", "demo", "--shards", "2", ep)
	out := mustRun("log", "put", "demo", "--key", "user1", "a", "b", ep)
	if len(regexp.MustCompile(`(?m)^shardId-000000000000 \d{56}$`).FindAllString(out, -1)) != 2 {
		t.Fatalf("put output: %q", out)
	}
	out = mustRun("log", "get", "demo", "--shard", "shardId-000000000000", ep)
	if !strings.Contains(out, "\tuser1\ta\n") || !strings.Contains(out, "\tuser1\tb\n") {
		t.Fatalf("get output: %q", out)
	}
	mustRun("log", "split", "demo", "shardId-000000000000", ep)
	out = mustRun("log", "describe", "demo", ep)
	if !strings.Contains(out, "open shards 3") || !strings.Contains(out, "shardId-000000000003 open") || !strings.Contains(out, "parent shardId-000000000000") {
		t.Fatalf("describe output: %q", out)
	}
	mustRun("log", "put", "demo", "--key", "user1", "c", ep)
	mustRun("log", "merge", "demo", "shardId-000000000002", "shardId-000000000003", ep)
	mustRun("log", "put", "demo", "--key", "user1", "d", ep)
	// tail from the trim horizon follows user1's records across the split
	// and the merge, in order.
	out = mustRun("log", "tail", "demo", "--from", "trim_horizon", "--max", "4", ep)
	var user1 []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Split(line, "\t")
		if len(f) == 4 && f[2] == "user1" {
			user1 = append(user1, f[3])
		}
	}
	if strings.Join(user1, "") != "abcd" {
		t.Fatalf("tail order %v in %q", user1, out)
	}
	_, errs, code := sluice("log", "get", "missing", ep)
	if code != 1 || !strings.Contains(errs, "ResourceNotFoundException") {
		t.Fatalf("missing stream: %d %s", code, errs)
	}
	if _, _, code := sluice("log", "create", ep); code != 2 {
		t.Fatalf("usage error exit %d", code)
	}
	if _, _, code := sluice("log", "get", "demo", "--from", "nowhere", ep); code != 2 {
		t.Fatalf("bad --from exit %d", code)
	}
}

// TestLogCheckAndRepairUsage: check and repair work on a directory, not a
// server; repair needs exactly one of --skip and --salvage; an undamaged
// log checks clean and repairs to nothing. (Damaged logs:
// connectors/shardlog/kinesisapi/damage_test.go runs these commands.)
func TestLogCheckAndRepairUsage(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"log", "check"}, 2, "--data DIR is required"},
		{[]string{"log", "repair", "--data", dir}, 2, "--skip or --salvage is required"},
		{[]string{"log", "repair", "--data", dir, "--skip", "--salvage"}, 2, "give one of --skip and --salvage"},
		{[]string{"log", "check", "--data", dir}, 0, "sluice log: no damage"},
		{[]string{"log", "repair", "--data", dir, "--salvage"}, 0, "sluice log: 0 damaged ranges repaired"},
	} {
		var out, errb bytes.Buffer
		code := run(context.Background(), c.args, &out, &errb)
		if code != c.code || !strings.Contains(out.String()+errb.String(), c.out) {
			t.Errorf("sluice %s: exit %d, %q %q; want %d and %q", strings.Join(c.args, " "), code, out.String(), errb.String(), c.code, c.out)
		}
	}
}
