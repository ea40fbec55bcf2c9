package kinesis

import (
	"context"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/sluicehq/sluice/engine"
)

// listing is a fake API that answers ListShards only, two shards a page.
type listing struct {
	API
	shards []types.Shard
}

func (l *listing) ListShards(_ context.Context, in *kinesis.ListShardsInput, _ ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error) {
	start := 0
	if in.NextToken != nil {
		if in.StreamName != nil {
			return nil, fmt.Errorf("StreamName with NextToken")
		}
		fmt.Sscan(*in.NextToken, &start)
	}
	end := min(start+2, len(l.shards))
	out := &kinesis.ListShardsOutput{Shards: l.shards[start:end]}
	if end < len(l.shards) {
		out.NextToken = aws.String(fmt.Sprint(end))
	}
	return out, nil
}

// listed describes a listed shard: its number, its hash range as eighths
// of the key space [lo, hi), its parents, and whether it is closed.
func listed(n, lo, hi int, closed bool, parents ...int) types.Shard {
	eighth := new(big.Int).Lsh(big.NewInt(1), 125)
	key := func(i int) string {
		return new(big.Int).Mul(eighth, big.NewInt(int64(i))).String()
	}
	end := new(big.Int).Sub(new(big.Int).Mul(eighth, big.NewInt(int64(hi))), big.NewInt(1))
	s := types.Shard{ShardId: aws.String(fmt.Sprintf("shardId-%012d", n)),
		HashKeyRange:        &types.HashKeyRange{StartingHashKey: aws.String(key(lo)), EndingHashKey: aws.String(end.String())},
		SequenceNumberRange: &types.SequenceNumberRange{StartingSequenceNumber: aws.String("1")}}
	if closed {
		s.SequenceNumberRange.EndingSequenceNumber = aws.String("999")
	}
	if len(parents) > 0 {
		s.ParentShardId = aws.String(fmt.Sprintf("shardId-%012d", parents[0]))
	}
	if len(parents) > 1 {
		s.AdjacentParentShardId = aws.String(fmt.Sprintf("shardId-%012d", parents[1]))
	}
	return s
}

type coordTest struct {
	t *testing.T
	h *engine.SplitCoordinatorHarness[shardSplit]
}

func newCoordTest(t *testing.T, shards []types.Shard, opts SourceOptions, ho engine.SplitHarnessOptions) *coordTest {
	t.Helper()
	opts.Stream = "s"
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		t.Fatal(err)
	}
	api := &listing{shards: shards}
	h, err := engine.NewSplitCoordinatorHarness(func(ctx *engine.SplitContext[shardSplit]) (engine.SplitCoordinator, error) {
		return newCoordinator(api, &opts, ctx)
	}, ho)
	if err != nil {
		t.Fatal(err)
	}
	return &coordTest{t: t, h: h}
}

// take renders what subtask's mailbox received: "3" an assignment of
// shard 3, "3?" announced pending, "3!" finished, with "@pos" unless
// TRIM_HORIZON; "end" no more splits; "cp1" a checkpoint trigger.
func (c *coordTest) take(subtask int) string {
	var out []string
	for _, m := range c.h.Take(subtask) {
		switch {
		case m.NoMoreSplits:
			out = append(out, "end")
		case m.Checkpoint > 0:
			out = append(out, fmt.Sprintf("cp%d", m.Checkpoint))
		}
		for _, s := range m.Splits {
			txt := fmt.Sprint(shardNumber(s.ID))
			switch {
			case s.Pending:
				txt += "?"
			case s.Finished:
				txt += "!"
			}
			if s.Start.Type != TrimHorizon && !s.Finished {
				txt += "@" + strings.ReplaceAll(s.Start.String(), " ", ":")
			}
			out = append(out, txt)
		}
	}
	return strings.Join(out, " ")
}

func (c *coordTest) want(subtask int, want string) {
	c.t.Helper()
	if got := c.take(subtask); got != want {
		c.t.Errorf("subtask %d got %q, want %q", subtask, got, want)
	}
}

func (c *coordTest) ended(subtask int, snap int64, n int, children ...types.ChildShard) {
	c.t.Helper()
	if err := c.h.Event(subtask, snap, shardEnded{ID: fmt.Sprintf("shardId-%012d", n), Children: children}); err != nil {
		c.t.Fatal(err)
	}
}

// TestCoordinatorParentsFirst: a child read by its parent's subtask starts
// as soon as the parent has ended; a child of another subtask's parent
// waits for a completed checkpoint that holds the parent's end.
func TestCoordinatorParentsFirst(t *testing.T) {
	// 0 split into 2 and 3 (closed); 1 open. Owners at parallelism 2:
	// 0, 2 → subtask 0; 1, 3 → subtask 1.
	shards := []types.Shard{listed(0, 0, 4, true), listed(1, 4, 8, false), listed(2, 0, 2, false, 0), listed(3, 2, 4, false, 0)}
	c := newCoordTest(t, shards, SourceOptions{}, engine.SplitHarnessOptions{Parallelism: 2, Checkpointing: true})
	c.want(0, "0 2?")
	c.want(1, "1 3?")
	if _, err := c.h.Checkpoint(1); err != nil {
		t.Fatal(err)
	}
	c.want(0, "cp1")
	c.want(1, "cp1")
	c.ended(0, 1, 0) // after its snapshot of checkpoint 1
	c.want(0, "2")   // same subtask: at once
	c.want(1, "")    // another subtask: not before a checkpoint holding the end
	if _, err := c.h.Checkpoint(2); err != nil {
		t.Fatal(err)
	}
	if err := c.h.Complete(1); err != nil {
		t.Fatal(err)
	}
	c.want(1, "cp2") // checkpoint 1 predates the end
	if err := c.h.Complete(2); err != nil {
		t.Fatal(err)
	}
	c.want(1, "3")
}

// TestCoordinatorOlderOverlappingShardIsAnAncestor: a listing names two
// parents at most; an older shard whose hash range overlaps a child's is
// waited for too.
func TestCoordinatorOlderOverlappingShardIsAnAncestor(t *testing.T) {
	// 4 and 5 and 6 reshaped into 7 (over 0..5 eighths), 8: 7 lists 4
	// and 5 only, but overlaps 6.
	shards := []types.Shard{listed(4, 0, 2, true), listed(5, 2, 4, true), listed(6, 4, 8, true), listed(7, 0, 5, false, 4, 5), listed(8, 5, 8, false, 6)}
	c := newCoordTest(t, shards, SourceOptions{}, engine.SplitHarnessOptions{Parallelism: 1})
	c.want(0, "4 5 6 7? 8?")
	c.ended(0, 0, 4)
	c.ended(0, 0, 5)
	c.want(0, "")
	c.ended(0, 0, 6)
	c.want(0, "7 8")
}

// TestCoordinatorRestoreAtOtherParallelism merges the positions of two
// old subtasks and assigns at three: ended shards as finished, the others
// from their sequence numbers, a shard the checkpoint does not know from
// its first record.
func TestCoordinatorRestoreAtOtherParallelism(t *testing.T) {
	pos := func(ents ...posEntry) []byte {
		b, err := encodePositions("s", ents)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	seq := func(s string) *position { return &position{Type: AfterSequenceNumber, Seq: s} }
	shards := []types.Shard{listed(0, 0, 4, true), listed(1, 4, 8, false), listed(2, 0, 4, false, 0)}
	restored := []engine.SourcePosition{
		{Subtask: 0, Parallelism: 2, Data: pos(posEntry{ID: "shardId-000000000000", Finished: true}, posEntry{ID: "shardId-000000000001", Pos: seq("100")})},
		// A stale duplicate of shard 1 behind the other: the furthest wins.
		{Subtask: 1, Parallelism: 2, Data: pos(posEntry{ID: "shardId-000000000001", Pos: seq("99")})},
	}
	c := newCoordTest(t, shards, SourceOptions{}, engine.SplitHarnessOptions{Parallelism: 3, Restored: true, RestoredPositions: restored})
	c.want(0, "0!")
	c.want(1, "1@AFTER_SEQUENCE_NUMBER:100")
	c.want(2, "2") // its parent's end is committed
}

// TestCoordinatorRefusesAnotherStream: positions of another stream are not
// restored.
func TestCoordinatorRefusesAnotherStream(t *testing.T) {
	b, err := encodePositions("other", []posEntry{{ID: "shardId-000000000000", Finished: true}})
	if err != nil {
		t.Fatal(err)
	}
	opts := SourceOptions{Stream: "s"}
	opts.EnsureDefaults()
	_, err = engine.NewSplitCoordinatorHarness(func(ctx *engine.SplitContext[shardSplit]) (engine.SplitCoordinator, error) {
		return newCoordinator(&listing{shards: []types.Shard{listed(0, 0, 8, false)}}, &opts, ctx)
	}, engine.SplitHarnessOptions{Restored: true, RestoredPositions: []engine.SourcePosition{{Data: b}}})
	if err == nil || !strings.Contains(err.Error(), "the checkpoint holds positions in stream other, the source reads s") {
		t.Fatalf("got %v", err)
	}
}

// TestCoordinatorLatest: LATEST skips closed shards and starts open ones
// AT_TIMESTAMP of the first start, so that a restore reads from there.
func TestCoordinatorLatest(t *testing.T) {
	clk := engine.NewManualClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	shards := []types.Shard{listed(0, 0, 8, true), listed(1, 0, 8, false, 0)}
	c := newCoordTest(t, shards, SourceOptions{Start: Latest}, engine.SplitHarnessOptions{Clock: clk})
	c.want(0, "0! 1@AT_TIMESTAMP:2026-01-02T03:04:05Z")
}

// TestCoordinatorBoundedEnds: a bounded source tells the readers that
// nothing more comes once every shard has ended, children named at a
// closed shard's end included.
func TestCoordinatorBoundedEnds(t *testing.T) {
	c := newCoordTest(t, []types.Shard{listed(0, 0, 8, false), listed(1, 0, 8, false)}[:1], SourceOptions{Bounded: true}, engine.SplitHarnessOptions{Parallelism: 2})
	c.want(0, "0")
	c.want(1, "")
	// Shard 0 was split while read: its end names the children.
	child := func(n int) types.ChildShard {
		s := listed(n, 4*(n-1), 4*n, false, 0)
		return types.ChildShard{ShardId: s.ShardId, ParentShards: []string{"shardId-000000000000"}, HashKeyRange: s.HashKeyRange}
	}
	c.ended(0, 0, 0, child(1), child(2))
	c.want(0, "2")
	c.want(1, "1")
	c.ended(1, 0, 1)
	c.want(0, "")
	c.ended(0, 0, 2)
	c.want(0, "end")
	c.want(1, "end")
}
