package engine

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// The savepoints in testdata/savepoint-v1 were written by the engine as of
// commit 19569f5, before issue 11's reorganisation, with the job below at
// parallelism 2: savepoints of the Pebble and the memory backend (portable
// snapshot files) and a periodic checkpoint of the Pebble backend (its
// native format, a Pebble checkpoint per subtask). TestOldSavepointsRestore reads them
// with today's code: a change to the checkpoint metadata, the state key
// layout or the snapshot formats that breaks old checkpoints fails here.
//
// To regenerate (only when the format changes on purpose, with a
// migration): copy this file into an old checkout's engine directory and
// run
//
//	SLUICE_WRITE_FIXTURE=$PWD/testdata/savepoint-v1 go test ./engine -run TestWriteSavepointFixture
//
// there.

// fixtureParts is the fixture job's input: 2 partitions of 3000 records over
// 3 keys each, from a fixed seed.
func fixtureParts() [][]rec {
	parts, _ := makePartitions(rand.New(rand.NewPCG(11, 11)), 2, 3000, 3)
	return parts
}

// fixtureJob is the job the savepoints belong to: a source, a stateless
// map, a keyed running sum and a collecting sink.
func fixtureJob(cfg Config, hold func(rec) rec) (*Job, *CollectSink[sumOut]) {
	j := NewJob("fixture", cfg)
	src := FromPartitions(j, "parts", fixtureParts(), WatermarkStrategy[rec]{})
	m := Map(src, "hold", hold)
	c := Collect(KeyedProcess(KeyBy(m, func(v rec) string { return v.Key }), "sum",
		KeyedProcessFunction[string, rec, sumOut](&runningSum{fail: func() error { return nil }})), "sink")
	return j, c
}

func TestWriteSavepointFixture(t *testing.T) {
	out := os.Getenv("SLUICE_WRITE_FIXTURE")
	if out == "" {
		t.Skip("writes the savepoint fixture; set SLUICE_WRITE_FIXTURE to a directory")
	}
	for _, backend := range []string{"pebble", "memory"} {
		j, _ := fixtureJob(Config{Parallelism: 2, BatchSize: 8, StateBackend: backend}, throttled[rec](true, 2500))
		r, err := j.Start(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Savepoint(context.Background(), filepath.Join(out, backend)); err != nil {
			t.Fatal(err)
		}
		r.Cancel()
		r.Wait()
	}
	// A periodic checkpoint: the first one that completes is kept.
	done := make(chan int64, 1)
	chk := filepath.Join(t.TempDir(), "checkpoints")
	j, _ := fixtureJob(Config{Parallelism: 2, BatchSize: 8, StateBackend: "pebble",
		Checkpoint: CheckpointConfig{Interval: 20 * time.Millisecond, Dir: chk},
		Events: func(e Event) {
			if e.Kind == EventCheckpointCompleted {
				select {
				case done <- e.CheckpointID:
				default:
				}
			}
		}}, throttled[rec](true, 2500))
	r, err := j.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	id := <-done
	r.Cancel()
	r.Wait()
	if err := os.CopyFS(filepath.Join(out, "checkpoint-pebble"), os.DirFS(filepath.Join(chk, fmt.Sprintf("chk-%d", id)))); err != nil {
		t.Fatal(err)
	}
}

// TestOldSavepointsRestore restores each old savepoint at parallelism 1, 2
// and 3 and checks that the job continues exactly where the savepoint was
// taken: every key's first sum after the restore extends the sum of the
// records before it, and every key's last sum is its total over the whole
// input.
func TestOldSavepointsRestore(t *testing.T) {
	parts := fixtureParts()
	// prefix[key][seq] is the key's running sum after its seq-th record.
	prefix := map[string][]int64{}
	for _, p := range parts {
		for _, r := range p {
			s := prefix[r.Key]
			if len(s) == 0 {
				s = []int64{0}
			}
			prefix[r.Key] = append(s, s[len(s)-1]+r.Val)
		}
	}
	for _, fx := range []struct{ name, backend string }{{"pebble", "pebble"}, {"memory", "memory"}, {"checkpoint-pebble", "pebble"}} {
		backend := fx.backend
		sp := filepath.Join("testdata", "savepoint-v1", fx.name)
		if _, err := os.Stat(sp); err != nil {
			t.Fatalf("fixture missing: %v", err)
		}
		for _, p := range []int{1, 2, 3} {
			// Restore from a copy: a restore must not write into the
			// savepoint, but if it did the fixture would change under git.
			dir := filepath.Join(t.TempDir(), "sp")
			if err := os.CopyFS(dir, os.DirFS(sp)); err != nil {
				t.Fatal(err)
			}
			j, c := fixtureJob(Config{Parallelism: p, StateBackend: backend, Checkpoint: CheckpointConfig{RestoreFrom: dir}},
				func(v rec) rec { return v })
			if err := j.Execute(context.Background()); err != nil {
				t.Fatalf("%s at parallelism %d: %v", fx.name, p, err)
			}
			first := map[string]sumOut{}
			last := map[string]int64{}
			for _, v := range c.Values() {
				if f, ok := first[v.Key]; !ok || v.Seq < f.Seq {
					first[v.Key] = v
				}
				last[v.Key] = max(last[v.Key], v.Sum)
			}
			if len(first) == 0 {
				t.Fatalf("%s at parallelism %d: the restored job emitted nothing", backend, p)
			}
			restored := 0
			for k, f := range first {
				if want := prefix[k][f.Seq]; f.Sum != want {
					t.Fatalf("%s at parallelism %d: key %s resumed at seq %d with sum %d, want %d (state not restored)", backend, p, k, f.Seq, f.Sum, want)
				}
				if f.Seq > 1 {
					restored++
				}
			}
			if restored == 0 {
				t.Fatalf("%s at parallelism %d: every key started from its first record; the savepoint's positions were not used", backend, p)
			}
			for k, s := range prefix {
				if last[k] != s[len(s)-1] {
					t.Fatalf("%s at parallelism %d: key %s ends at %d, want %d", backend, p, k, last[k], s[len(s)-1])
				}
			}
		}
	}
}
