package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// putEvents puts {"id": from} .. {"id": to-1} into the served "events"
// stream with `sluice log put`.
func putEvents(t *testing.T, addr string, from, to int) {
	t.Helper()
	args := []string{"log", "put", "events", "--endpoint=http://" + addr}
	for i := from; i < to; i++ {
		args = append(args, fmt.Sprintf(`{"id":%d}`, i))
	}
	if _, errs, code := runSluice(args...); code != 0 {
		t.Fatalf("log put: %d %s", code, errs)
	}
}

// checkRowsOnce fails unless the part files under dir hold ids 0..n-1
// once each.
func checkRowsOnce(t *testing.T, dir string, n int) {
	t.Helper()
	rows := rowsIn(t, dir)
	for i := 0; i < n; i++ {
		if k := rows[fmt.Sprintf(`{"id":%d}`, i)]; k != 1 {
			t.Errorf("id %d written %d times", i, k)
		}
	}
	if len(rows) != n {
		t.Errorf("%d distinct rows, want %d", len(rows), n)
	}
}

// TestJobCommandsAndKill9 drives a SQL job of `sluice serve` with every
// `sluice job` command, kills the service with SIGKILL while the job
// runs, and starts it again: the job resumes from its latest checkpoint
// and its filesystem sink holds every input row exactly once.
func TestJobCommandsAndKill9(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(t.TempDir(), "out")
	sqlFile := filepath.Join(t.TempDir(), "copy.sql")
	script := `SET 'pipeline.name' = 'copy-events';
CREATE TABLE events (id BIGINT) WITH (
  'connector' = 'shardlog', 'stream' = 'events', 'format' = 'json',
  'scan.stream.initpos' = 'TRIM_HORIZON');
CREATE TABLE copied (id BIGINT) WITH ('connector' = 'filesystem', 'path' = '` + out + `', 'format' = 'json');
INSERT INTO copied SELECT id FROM events;
`
	if err := os.WriteFile(sqlFile, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	s := startServe(t, dir, "--job-checkpoint-interval", "100ms")
	server := "--server=http://" + s.addr
	putEvents(t, s.addr, 0, 100)
	stdout, errs, code := runSluice("job", "submit", sqlFile, server)
	if code != 0 {
		t.Fatalf("submit: %d %s", code, errs)
	}
	id := strings.TrimSpace(stdout)
	if len(id) != 32 || !strings.Contains(errs, `job "copy-events" submitted: RUNNING`) {
		t.Fatalf("submit printed %q, %q", stdout, errs)
	}
	waitUntil(t, "100 rows", func() bool { return len(rowsIn(t, out)) == 100 })
	stdout, _, code = runSluice("job", "list", server)
	if code != 0 || !strings.Contains(stdout, id) || !strings.Contains(stdout, "copy-events") || !strings.Contains(stdout, "RUNNING") {
		t.Fatalf("list: %d %s", code, stdout)
	}
	waitUntil(t, "a checkpoint", func() bool {
		stdout, _, _ = runSluice("job", "show", id, server)
		return strings.Contains(stdout, "latest checkpoint")
	})
	if !strings.Contains(stdout, "OPERATOR") || !strings.Contains(stdout, "RUNNING") {
		t.Fatalf("show: %s", stdout)
	}

	// Killed while it runs, with input it has not all read.
	putEvents(t, s.addr, 100, 200)
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-s.done
	s = startServe(t, dir, "--job-checkpoint-interval", "100ms")
	server = "--server=http://" + s.addr
	putEvents(t, s.addr, 200, 300)
	waitUntil(t, "300 rows after the restart", func() bool { return len(rowsIn(t, out)) == 300 })
	checkRowsOnce(t, out, 300)

	// savepoint, stop with a savepoint, resume from the first savepoint.
	sp, errs, code := runSluice("job", "savepoint", id, server)
	sp = strings.TrimSpace(sp)
	if code != 0 || !strings.Contains(sp, filepath.Join("jobs", id, "savepoints")) {
		t.Fatalf("savepoint: %d %q %s", code, sp, errs)
	}
	stdout, errs, code = runSluice("job", "stop", id, "--savepoint", server)
	if code != 0 || strings.TrimSpace(stdout) == "" || !strings.Contains(errs, "CANCELED") {
		t.Fatalf("stop: %d %q %s", code, stdout, errs)
	}
	putEvents(t, s.addr, 300, 350)
	if _, errs, code = runSluice("job", "resume", id, server); code != 0 || !strings.Contains(errs, "RUNNING") {
		t.Fatalf("resume: %d %s", code, errs)
	}
	waitUntil(t, "350 rows", func() bool { return len(rowsIn(t, out)) == 350 })
	checkRowsOnce(t, out, 350)

	// SIGTERM: a last checkpoint; the job is RUNNING again after a start.
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := <-s.done; err != nil {
		t.Fatalf("serve after SIGTERM: %v", err)
	}
	s = startServe(t, dir, "--job-checkpoint-interval", "100ms")
	stdout, _, _ = runSluice("job", "list", "--server=http://"+s.addr)
	if !strings.Contains(stdout, "RUNNING") {
		t.Fatalf("list after SIGTERM and start: %s", stdout)
	}
	putEvents(t, s.addr, 350, 400)
	waitUntil(t, "400 rows", func() bool { return len(rowsIn(t, out)) == 400 })
	checkRowsOnce(t, out, 400)
}

func TestJobCommandErrors(t *testing.T) {
	s := startServe(t, t.TempDir())
	server := "--server=http://" + s.addr
	bad := filepath.Join(t.TempDir(), "bad.sql")
	os.WriteFile(bad, []byte("INSERT INTO t\nSELEC 1\n"), 0o644)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"job", "show", "nope", server}, 1, `job "nope" not found (NotFound, HTTP 404)`},
		{[]string{"job", "stop", "nope", server}, 1, `job "nope" not found (NotFound, HTTP 404)`},
		{[]string{"job", "submit", bad, server}, 1, "bad.sql:\nline 2, column 1: "},
		{[]string{"job", "submit", "--go", "nope", server}, 1, `go: no Go job "nope" is registered`},
		{[]string{"job", "submit", server}, 2, "want a SQL file or --go NAME"},
		{[]string{"job", "show", server}, 2, "want one job id"},
	} {
		_, errs, code := runSluice(tc.args...)
		if code != tc.code || !strings.Contains(errs, tc.want) {
			t.Errorf("%q: %d %q, want %d %q", tc.args, code, errs, tc.code, tc.want)
		}
	}
}
