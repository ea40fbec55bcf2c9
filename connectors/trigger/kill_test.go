package trigger

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connectors/shardlog"
	"github.com/sluicehq/sluice/engine/enginetest/crashtest"
	"github.com/sluicehq/sluice/internal/testseed"
)

const killEnv = "SLUICE_TRIGGER_KILL"

// TestKillChild is the process TestKilledMidBatch kills: it runs a
// trigger over the log its parent filled, with a randomly failing HTTP
// function, until every record is done, writing what the function
// processed and what went to the on-failure directory to a timeline file.
func TestKillChild(t *testing.T) {
	dir, at := crashtest.InChild(t, killEnv, "TestKilledMidBatch")
	seed, err := strconv.ParseUint(strings.TrimSpace(readFile(t, filepath.Join(dir, "seed"))), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	// Each run draws other failures, replayably.
	run := 0
	if s, err := os.ReadFile(filepath.Join(dir, "runs")); err == nil {
		run, _ = strconv.Atoi(strings.TrimSpace(string(s)))
	}
	if err := os.WriteFile(filepath.Join(dir, "runs"), []byte(strconv.Itoa(run+1)), 0o644); err != nil {
		t.Fatal(err)
	}
	l := openLog(t, filepath.Join(dir, "log"), shardlog.Options{})
	defer l.Close()
	tl, err := os.OpenFile(filepath.Join(dir, "timeline"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer tl.Close()
	var mu sync.Mutex
	note := func(kind string) func(string) {
		return func(seq string) {
			mu.Lock()
			defer mu.Unlock()
			if _, err := tl.WriteString(kind + " " + seq + "\n"); err != nil {
				panic(err)
			}
		}
	}
	fn := &flaky{rng: rand.New(rand.NewPCG(seed, uint64(run))), partial: true, poison: 41, processed: note("P"),
		before: func() { at.Fire("invoke") }, after: func() { at.Fire("answer") }}
	srv := httptest.NewServer(fn)
	defer srv.Close()
	dlq := filepath.Join(dir, "dlq")
	cfg := Config{Name: "k", EventSourceArn: StreamARN("us-east-1", "000000000000", "orders"), StartingPosition: TrimHorizon,
		Function: Function{URL: srv.URL}, BatchSize: intp(10), MaximumRetryAttempts: intp(3), BisectBatchOnFunctionError: true,
		FunctionResponseTypes: []string{ReportBatchItemFailures}}
	dest, err := NewDestination(l, "file://"+dlq)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := New(cfg, Options{Log: l, StateDir: filepath.Join(dir, "state"), Retry: fastRetry,
		Destination: &recordingDestination{next: dest, gaveUp: note("F"), before: func() { at.Fire("onfailure") }}})
	if err != nil {
		t.Fatal(err)
	}
	runUntilCaughtUp(t, tr, time.Minute)
	if fn.bad != nil {
		t.Fatal(fn.bad)
	}
}

// TestKilledMidBatch: the trigger's process is killed with SIGKILL at a
// random call of the function (before it processes the batch, or after
// it processed it but before it answered) or of the on-failure
// destination, four times, and restarted each time: in the end every
// record was processed at least once or given up, and, over all runs, no
// record was first processed before every earlier record of its shard
// and of its parents was processed or given up.
func TestKilledMidBatch(t *testing.T) {
	seed := testseed.Seed(t)
	child := crashtest.NewChild(t, "TestKillChild", killEnv, 2*time.Minute)
	l := openLog(t, filepath.Join(child.Dir, "log"), shardlog.Options{})
	fillStream(t, l, "orders", 2, 400, 11)
	w := readWorld(t, l, "orders")
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(child.Dir, "seed"), []byte(strconv.FormatUint(seed, 10)), 0o644); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(seed, 2))
	child.Kills(t, seed, 4, func() string {
		switch rng.IntN(3) {
		case 0:
			return fmt.Sprintf("onfailure:%d", 1+rng.IntN(2))
		case 1:
			return fmt.Sprintf("answer:%d", 1+rng.IntN(6))
		}
		return fmt.Sprintf("invoke:%d", 1+rng.IntN(6))
	}, nil)
	chk := newChecker(w, false)
	f, err := os.Open(filepath.Join(child.Dir, "timeline"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	again := 0
	for sc.Scan() {
		kind, seq, _ := strings.Cut(sc.Text(), " ")
		switch kind {
		case "P":
			chk.mu.Lock()
			if chk.processed[seq] > 0 {
				again++
			}
			chk.mu.Unlock()
			chk.process(seq)
		case "F":
			chk.giveUp(seq)
		default:
			t.Fatalf("timeline line %q", sc.Text())
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	processed, failed := chk.finish(t, seed)
	covered := checkDLQ(t, filepath.Join(child.Dir, "dlq"), w, StreamARN("us-east-1", "000000000000", "orders"), "k")
	for s, k := range chk.failed {
		if k > 0 && !covered[s] {
			t.Fatalf("seed %d: record %d given up but not in the on-failure directory", seed, w.numOf[s])
		}
	}
	t.Logf("seed %d: %d processed, %d given up, %d deliveries again after a kill", seed, processed, failed, again)
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
