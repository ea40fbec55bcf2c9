// Package crashtest is the scaffolding of the tests that kill a process
// running a checkpointed job with SIGKILL and resume it (the exactly-once
// sinks' kill -9 tests), and of the tests that resume a job from a
// checkpoint an older build left behind (the fixture tests): the child
// process and its kill points, the slowly flowing partitioned input such
// jobs read, the fixture copy and the exactly-once count.
//
// A kill test is one test binary in two roles. The parent runs the child
// test in a subprocess with a kill point; the child builds the job and, at
// the n-th call of that kind, kills itself:
//
//	func TestKillChild(t *testing.T) {
//		dir, at := crashtest.InChild(t, "SLUICE_X_KILL", "TestKilled")
//		... wrap the sink so that it calls at.Fire(kind) at each kill point ...
//	}
//
//	func TestKilled(t *testing.T) {
//		child := crashtest.NewChild(t, "TestKillChild", "SLUICE_X_KILL", time.Minute)
//		child.Kills(t, seed, 5, drawPoint, checkOutput)
//		...
//	}
package crashtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sluicehq/sluice/engine"
)

// Point is where a child process kills itself: at the N-th call of Kind,
// counted over every goroutine of the process. A nil *Point never fires.
type Point struct {
	Kind  string
	N     int64
	calls atomic.Int64
}

// ParsePoint reads a point written as "kind:n"; "" is no point (nil).
func ParsePoint(s string) (*Point, error) {
	if s == "" {
		return nil, nil
	}
	kind, ns, ok := strings.Cut(s, ":")
	if !ok || kind == "" {
		return nil, fmt.Errorf("kill point %q: want kind:n", s)
	}
	n, err := strconv.ParseInt(ns, 10, 64)
	if err != nil || n < 1 {
		return nil, fmt.Errorf("kill point %q: the call number %q is not a positive integer", s, ns)
	}
	return &Point{Kind: kind, N: n}, nil
}

// String writes the point as ParsePoint reads it.
func (p *Point) String() string {
	if p == nil {
		return ""
	}
	return fmt.Sprintf("%s:%d", p.Kind, p.N)
}

// Due counts a call of kind and reports whether it is the one to die at.
// Calls of other kinds are not counted.
func (p *Point) Due(kind string) bool {
	return p != nil && p.Kind == kind && p.calls.Add(1) == p.N
}

// Fire kills the process if this call of kind is due.
func (p *Point) Fire(kind string) {
	if p.Due(kind) {
		Die()
	}
}

// Die sends the process SIGKILL and does not return.
func Die() {
	syscall.Kill(syscall.Getpid(), syscall.SIGKILL)
	select {} // the signal is on its way
}

// Child is the parent's handle on the child test.
type Child struct {
	// Test is the name of the child test function in this test binary.
	Test string
	// Env prefixes the two variables the child reads: Env+"_DIR" (Dir)
	// and Env+"_AT" (the kill point).
	Env string
	// Dir is the directory the child works in, the same in every run.
	Dir string
	// Timeout bounds one run of the child.
	Timeout time.Duration
}

// NewChild is the parent's side: it skips t in -short mode (the test
// starts subprocesses), and returns the child that runs test in a new
// temporary directory, each run bounded by timeout.
func NewChild(t *testing.T, test, env string, timeout time.Duration) Child {
	t.Helper()
	if testing.Short() {
		t.Skip("starts subprocesses")
	}
	return Child{Test: test, Env: env, Dir: t.TempDir(), Timeout: timeout}
}

// Run runs the child with kill point at ("" for none) and reports whether
// it died of SIGKILL (false: it finished). It fails t, naming seed, if the
// child did not end within the timeout or failed otherwise.
func (c Child) Run(t testing.TB, seed uint64, at string) (killed bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), c.Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^"+c.Test+"$", "-test.count=1")
	cmd.Env = append(os.Environ(), c.Env+"_DIR="+c.Dir, c.Env+"_AT="+at)
	var buf strings.Builder
	cmd.Stdout, cmd.Stderr = &buf, &buf
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("seed %d: child (kill at %q) did not finish in time: %s", seed, at, buf.String())
	}
	if err == nil {
		return false
	}
	if Killed(err) {
		return true
	}
	t.Fatalf("seed %d: child (kill at %q): %v\n%s", seed, at, err, buf.String())
	return false
}

// Kills runs the child n times, each time with the kill point next draws,
// and fails t if a run finishes instead of dying there; after each kill it
// calls check (which may be nil) with the kill's number and point. Then it
// runs the child once more, with no kill point, to its end.
func (c Child) Kills(t testing.TB, seed uint64, n int, next func() string, check func(kill int, at string)) {
	t.Helper()
	for kill := 0; kill < n; kill++ {
		at := next()
		if !c.Run(t, seed, at) {
			t.Fatalf("seed %d: the child was to die at %s (kill %d of %d) but finished: the test needs a longer input", seed, at, kill+1, n)
		}
		if check != nil {
			check(kill, at)
		}
	}
	if c.Run(t, seed, "") {
		t.Fatalf("seed %d: the final run, with no kill point, was killed", seed)
	}
}

// Killed reports whether err is that of a process that died of SIGKILL.
func Killed(err error) bool {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}

// InChild is the child's side: the directory and kill point (nil for
// none) its parent passed through env's variables (see Child). When env's
// directory is not set, the test was not started by a parent, and InChild
// skips t, saying that parent runs it.
func InChild(t *testing.T, env, parent string) (dir string, at *Point) {
	t.Helper()
	dir = os.Getenv(env + "_DIR")
	if dir == "" {
		t.Skip("run by " + parent)
	}
	at, err := ParsePoint(os.Getenv(env + "_AT"))
	if err != nil {
		t.Fatal(err)
	}
	return dir, at
}

// CheckpointedJob returns a job with cfg that checkpoints every interval
// into dir/checkpoints and resumes from the latest checkpoint there.
func CheckpointedJob(name, dir string, cfg engine.Config, interval time.Duration) *engine.Job {
	cfg.Checkpoint = engine.CheckpointConfig{Interval: interval, Dir: filepath.Join(dir, "checkpoints"), Resume: true}
	return engine.NewJob(name, cfg)
}

// SlowPartitions reads parts (one partition per split, operator "parts")
// through a map ("slow") that pauses at every every-th record, so that
// many checkpoints are taken while the input flows. The operator names are
// part of the fixtures' checkpoints: keep them.
func SlowPartitions[T any](j *engine.Job, parts [][]T, every int64, pause time.Duration) *engine.Stream[T] {
	var n atomic.Int64
	return engine.Map(engine.FromPartitions(j, "parts", parts, engine.WatermarkStrategy[T]{}), "slow", func(v T) T {
		if n.Add(1)%every == 0 {
			time.Sleep(pause)
		}
		return v
	})
}

// Fixture copies the fixture directory src (under testdata) into a new
// temporary directory and returns that directory, so that the test
// changes a copy.
func Fixture(t *testing.T, src string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	return dir
}

// CheckEachOnce fails t unless got counts each of 0..n-1 exactly once and
// nothing else. verb says what happened to a record ("committed",
// "delivered"); before is how many records the old run had committed.
func CheckEachOnce(t testing.TB, got map[int]int, n int, verb string, before int) {
	t.Helper()
	for i := 0; i < n; i++ {
		if got[i] != 1 {
			t.Fatalf("record %d %s %d times (the old run had committed %d records)", i, verb, got[i], before)
		}
	}
	if len(got) != n {
		t.Fatalf("%d distinct records, want %d", len(got), n)
	}
}
