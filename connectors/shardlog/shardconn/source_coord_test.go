package shardconn

import (
	"bufio"
	"context"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connectors/shardlog"
	"github.com/sluicehq/sluice/engine"
)

// harnessRun drives a Source's coordinator in an engine.SplitCoordinatorHarness
// and its readers by hand, as a job does: mailbox messages reach a reader
// between two Reads, a checkpoint trigger makes it snapshot, and its events
// carry the id of its last snapshot.
type harnessRun struct {
	t       *testing.T
	h       *engine.SplitCoordinatorHarness[shardSplit]
	clk     *engine.ManualClock
	readers []*reader[SourceRecord]
	outs    []*engine.SourceOutput[SourceRecord]
	gots    []func() []SourceRecord
	last    []int64 // each reader's last snapshot
	eof     []bool
	nextID  int64
	// positions by checkpoint id, by subtask.
	positions map[int64][]engine.SourcePosition
}

func newHarnessRun(t *testing.T, src *Source[SourceRecord], par int, restored []engine.SourcePosition) *harnessRun {
	t.Helper()
	clk := engine.NewManualClock(time.UnixMilli(0))
	hr := &harnessRun{t: t, clk: clk, last: make([]int64, par), eof: make([]bool, par), nextID: 100, positions: map[int64][]engine.SourcePosition{}}
	for sub := 0; sub < par; sub++ {
		r, err := src.newReader(engine.SourceInfo{Subtask: sub, Parallelism: par, Clock: clk})
		if err != nil {
			t.Fatal(err)
		}
		sub := sub
		r.send = func(ev any) error { return hr.h.Event(sub, hr.last[sub], ev) }
		o, got := engine.NewTestSourceOutput[SourceRecord](8)
		hr.readers, hr.outs, hr.gots = append(hr.readers, r), append(hr.outs, o), append(hr.gots, got)
	}
	h, err := engine.NewSplitCoordinatorHarness(func(ctx *engine.SplitContext[shardSplit]) (engine.SplitCoordinator, error) {
		return newJobCoordinator(src.l, &src.opts, ctx)
	}, engine.SplitHarnessOptions{Parallelism: par, Checkpointing: true, Clock: clk,
		Restored: restored != nil, RestoredPositions: restored})
	if err != nil {
		t.Fatal(err)
	}
	hr.h = h
	return hr
}

// deliver hands every reader what its mailbox holds.
func (hr *harnessRun) deliver() {
	hr.t.Helper()
	for sub, r := range hr.readers {
		for _, m := range hr.h.Take(sub) {
			var err error
			switch {
			case m.Splits != nil:
				err = r.AddSplits(m.Splits)
			case m.NoMoreSplits:
				err = r.NoMoreSplits()
			default:
				var p []byte
				p, err = r.SnapshotPosition()
				hr.last[sub] = m.Checkpoint
				hr.positions[m.Checkpoint] = append(hr.positions[m.Checkpoint], engine.SourcePosition{Subtask: sub, Parallelism: len(hr.readers), Data: p})
			}
			if err != nil {
				hr.t.Fatal(err)
			}
		}
	}
}

// read delivers the mailboxes and reads once with every reader.
func (hr *harnessRun) read() {
	hr.t.Helper()
	hr.deliver()
	for sub, r := range hr.readers {
		if hr.eof[sub] {
			continue
		}
		err := r.Read(context.Background(), hr.outs[sub])
		if err == io.EOF {
			hr.eof[sub] = true
		} else if err != nil {
			hr.t.Fatal(err)
		}
	}
}

// checkpoint takes a checkpoint, lets every reader snapshot, and completes
// it; it returns the checkpoint's positions.
func (hr *harnessRun) checkpoint() []engine.SourcePosition {
	hr.t.Helper()
	hr.nextID++
	id := hr.nextID
	if _, err := hr.h.Checkpoint(id); err != nil {
		hr.t.Fatal(err)
	}
	hr.deliver()
	if err := hr.h.Complete(id); err != nil {
		hr.t.Fatal(err)
	}
	return hr.positions[id]
}

// records returns every record the readers have emitted so far.
func (hr *harnessRun) records() []SourceRecord {
	var all []SourceRecord
	for _, got := range hr.gots {
		all = append(all, got()...)
	}
	return all
}

// started returns the shards assigned to subtask to read (not pending) in
// the messages given.
func started(ms []engine.SplitMessage[shardSplit]) []string {
	var ids []string
	for _, m := range ms {
		for _, sp := range m.Splits {
			if !sp.pending && !sp.finished {
				ids = append(ids, sp.id)
			}
		}
	}
	return ids
}

// TestSourceCoordinatorParentsBeforeChildren checks, with the coordinator
// alone, that a child starts only once its parents' ends are reported and
// (when another subtask read a parent) committed by a completed
// checkpoint, for a split and a merge; that a child of a shard its own
// subtask read starts at once; and that stale events are ignored.
func TestSourceCoordinatorParentsBeforeChildren(t *testing.T) {
	l := openTestLog(t, shardlog.Options{})
	ref := shardlog.StreamRef{Name: "s"}
	if err := l.CreateStream(shardlog.CreateStreamInput{Name: "s", ShardCount: 3}); err != nil {
		t.Fatal(err)
	}
	src, err := NewSource(l, SourceOptions{Stream: ref, DiscoveryInterval: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	h, err := engine.NewSplitCoordinatorHarness(func(ctx *engine.SplitContext[shardSplit]) (engine.SplitCoordinator, error) {
		return newJobCoordinator(src.l, &src.opts, ctx)
	}, engine.SplitHarnessOptions{Parallelism: 2, Checkpointing: true})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	want := func(sub int, ids ...string) {
		t.Helper()
		got := started(h.Take(sub))
		if strings.Join(got, ",") != strings.Join(ids, ",") {
			t.Fatalf("subtask %d started %v, want %v", sub, got, ids)
		}
	}
	// Shard i to subtask i mod 2.
	want(0, "shardId-000000000000", "shardId-000000000002")
	want(1, "shardId-000000000001")
	// Split 0 into 3 (subtask 1) and 4 (subtask 0); merge 1 and 2 into 5
	// (subtask 1).
	if err := l.SplitShard(ref, "shardId-000000000000", shardlog.UniformRanges(3)[0].Midpoint().String()); err != nil {
		t.Fatal(err)
	}
	if err := l.MergeShards(ref, "shardId-000000000001", "shardId-000000000002"); err != nil {
		t.Fatal(err)
	}
	if err := h.Advance(time.Second); err != nil { // discovery
		t.Fatal(err)
	}
	want(0) // 4 announced as pending only
	want(1)
	// A stale event: subtask 1 does not own shard 0.
	if err := h.Event(1, 0, shardEnded{idx: 0}); err != nil {
		t.Fatal(err)
	}
	want(0)
	want(1)
	// Subtask 0 ends shard 0: its child 4 (same subtask) starts at once,
	// child 3 (subtask 1) waits for a checkpoint holding the end.
	if err := h.Event(0, 0, shardEnded{idx: 0, children: []uint32{3, 4}}); err != nil {
		t.Fatal(err)
	}
	want(0, "shardId-000000000004")
	want(1)
	if _, err := h.Checkpoint(1); err != nil {
		t.Fatal(err)
	}
	if err := h.Complete(1); err != nil {
		t.Fatal(err)
	}
	want(1, "shardId-000000000003")
	// The merge child 5 needs both parents: 1 (its own subtask) and 2
	// (subtask 0), the latter committed. An end reported after snapshot 2
	// is not in checkpoint 2.
	if err := h.Event(1, 1, shardEnded{idx: 1, children: []uint32{5}}); err != nil {
		t.Fatal(err)
	}
	want(1)
	if _, err := h.Checkpoint(2); err != nil {
		t.Fatal(err)
	}
	if err := h.Event(0, 2, shardEnded{idx: 2, children: []uint32{5}}); err != nil {
		t.Fatal(err)
	}
	if err := h.Complete(2); err != nil {
		t.Fatal(err)
	}
	want(1)
	if _, err := h.Checkpoint(3); err != nil {
		t.Fatal(err)
	}
	if err := h.Complete(3); err != nil {
		t.Fatal(err)
	}
	want(1, "shardId-000000000005")
	want(0)
}

// TestSourceRestoresOldPositions restores the positions that readers of
// the source before the split coordinator (commit 19569f5) wrote, over a
// split and a merge, at several parallelisms, and checks that the run
// continues exactly once and in each key's order.
//
// testdata/old-positions was written by that commit: its log directory
// (log/, without the LOCK file), each old subtask's position as hex
// (positions.txt, subtask 0 first, parallelism 2), the records the old
// readers had read before the snapshot (read.txt) and each key's record
// count (counts.txt), by the test in writer_test.go.txt there: copied into
// an old checkout's connectors/shardlog as a _test.go file, it ran as
// SLUICE_FIXTURE_DIR=<dir> go test -run TestWriteSourcePositionsFixture .
// (then the log's LOCK file was removed).
func TestSourceRestoresOldPositions(t *testing.T) {
	lines := func(name string) []string {
		t.Helper()
		f, err := os.Open(filepath.Join("testdata", "old-positions", name))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		var out []string
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if sc.Text() != "" {
				out = append(out, sc.Text())
			}
		}
		return out
	}
	var old []engine.SourcePosition
	for sub, h := range lines("positions.txt") {
		b, err := hex.DecodeString(h)
		if err != nil {
			t.Fatal(err)
		}
		old = append(old, engine.SourcePosition{Subtask: sub, Parallelism: 2, Data: b})
	}
	counts := map[string]int{}
	total := 0
	for _, c := range lines("counts.txt") {
		k, n, _ := strings.Cut(c, " ")
		v, err := strconv.Atoi(n)
		if err != nil {
			t.Fatal(err)
		}
		counts[k] = v
		total += v
	}
	read := lines("read.txt")
	for _, par := range []int{1, 2, 3} {
		t.Run(strconv.Itoa(par), func(t *testing.T) {
			dir := t.TempDir()
			if err := os.CopyFS(dir, os.DirFS(filepath.Join("testdata", "old-positions", "log"))); err != nil {
				t.Fatal(err)
			}
			// The log's clock at the fixture's time: its records are
			// within retention.
			l := openTestLog(t, shardlog.Options{Dir: dir, Clock: shardlog.NewManualClock(time.Date(2026, 11, 2, 3, 10, 0, 0, time.UTC))})
			src, err := NewSource(l, SourceOptions{Stream: shardlog.StreamRef{Name: "s"}, IdleWait: time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			hr := newHarnessRun(t, src, par, old)
			var got []SourceRecord
			for i := 0; i < 2000 && len(read)+len(got) < total; i++ {
				hr.read()
				if i%7 == 0 {
					hr.checkpoint()
				}
				got = hr.records()
			}
			var all []keySeq
			for _, d := range read {
				v, err := parseKeySeq([]byte(d))
				if err != nil {
					t.Fatal(err)
				}
				all = append(all, v)
			}
			for _, r := range got {
				v, err := parseKeySeq(r.Data)
				if err != nil {
					t.Fatal(err)
				}
				all = append(all, v)
			}
			checkOnceInOrder(t, all, counts)
		})
	}
}
