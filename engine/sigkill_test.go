package engine_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connectors/file"
	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/state"
)

type kRec struct {
	Key string
	Seq int
	Val int64
}

type kSum struct {
	Key string `json:"key"`
	Seq int    `json:"seq"`
	Sum int64  `json:"sum"`
}

// killParts is the input of the SIGKILL test: the same in every process.
func killParts() ([][]kRec, map[kSum]int) {
	rng := rand.New(rand.NewPCG(42, 42))
	parts := make([][]kRec, 3)
	want := map[kSum]int{}
	sums, seqs := map[string]int64{}, map[string]int{}
	for j := range parts {
		for i := 0; i < 3000; i++ {
			k := fmt.Sprintf("p%d-k%d", j, rng.IntN(7))
			v := rng.Int64N(100)
			seqs[k]++
			sums[k] += v
			parts[j] = append(parts[j], kRec{k, seqs[k], v})
			want[kSum{k, seqs[k], sums[k]}]++
		}
	}
	return parts, want
}

type kSummer struct{ sum *state.ValueState[int64] }

func (s *kSummer) Open(rc *engine.RuntimeContext) error {
	var err error
	s.sum, err = engine.GetValueState[int64](rc, "sum")
	return err
}

func (s *kSummer) ProcessElement(r kRec, ctx *engine.KeyedContext[string, kSum]) error {
	v, _, err := s.sum.Value()
	if err != nil {
		return err
	}
	v += r.Val
	ctx.Emit(kSum{r.Key, r.Seq, v})
	return s.sum.Update(v)
}

// TestSIGKILLChild is the job the SIGKILL test runs in a child process; it
// does nothing unless the parent set SLUICE_SIGKILL_DIR.
func TestSIGKILLChild(t *testing.T) {
	dir := os.Getenv("SLUICE_SIGKILL_DIR")
	if dir == "" {
		t.Skip("run by TestSIGKILLRecovery")
	}
	parts, _ := killParts()
	j := engine.NewJob("sigkill", engine.Config{Parallelism: 2,
		Checkpoint: engine.CheckpointConfig{Interval: 30 * time.Millisecond, Dir: filepath.Join(dir, "checkpoints"), Resume: true}})
	src := engine.FromPartitions(j, "parts", parts, engine.WatermarkStrategy[kRec]{})
	var n atomic.Int64
	slow := engine.Map(src, "slow", func(r kRec) kRec {
		if n.Add(1)%5 == 0 {
			time.Sleep(time.Millisecond)
		}
		return r
	})
	sums := engine.KeyedProcess(engine.KeyBy(slow, func(r kRec) string { return r.Key }), "sum",
		engine.KeyedProcessFunction[string, kRec, kSum](&kSummer{}))
	engine.SinkTo(sums, "out", file.JSONLines[kSum](filepath.Join(dir, "out")))
	if err := j.Execute(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestSIGKILLRecovery kills a process running a checkpointed job with
// SIGKILL, twice, restarts it each time from its checkpoint directory, and
// requires the committed output files to hold every result exactly once.
func TestSIGKILLRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("starts subprocesses")
	}
	dir := t.TempDir()
	start := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^TestSIGKILLChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), "SLUICE_SIGKILL_DIR="+dir)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	cps := engine.LocalStorage{Dir: filepath.Join(dir, "checkpoints")}
	for kill := 0; kill < 2; kill++ {
		cmd := start()
		before, _ := cps.List()
		deadline := time.Now().Add(60 * time.Second)
		for {
			ids, _ := cps.List()
			if len(ids) > 0 && (len(before) == 0 || ids[0] >= before[0]+2) {
				break
			}
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				t.Fatal("no checkpoint completed in time")
			}
			time.Sleep(5 * time.Millisecond)
		}
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		cmd.Wait()
	}
	cmd := start()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("final run: %v", err)
	}
	_, want := killParts()
	have := map[kSum]int{}
	total := 0
	files, _ := filepath.Glob(filepath.Join(dir, "out", "part-*.jsonl"))
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			var s kSum
			if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			have[s]++
			total++
		}
		fh.Close()
	}
	for k, n := range want {
		if have[k] != n {
			t.Fatalf("%v committed %d times, want %d (%d records in %d files)", k, have[k], n, total, len(files))
		}
	}
	if total != len(want) {
		t.Fatalf("%d committed records, want %d", total, len(want))
	}
	t.Logf("%d records exactly once in %d files after two SIGKILLs", total, len(files))
}
