package kafka

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/engine"
)

// coordinator is the source's split coordinator: it lists the partitions
// of the topics (or of every topic the pattern matches), turns the start
// mode into an offset for each new one, and assigns each to its owner. It
// runs on the engine's coordinator goroutine.
type coordinator struct {
	opts  *SourceOptions
	ctx   *engine.SplitContext[split]
	cl    *kgo.Client
	adm   *kadm.Client
	known map[tp]bool
	// snaps holds, per subtask, the offsets its snapshots reported (for
	// the group commit), oldest first.
	snaps map[int][]snapOffsets
}

type snapOffsets struct {
	id   int64
	offs map[tp]int64
}

func newCoordinator(opts *SourceOptions, ctx *engine.SplitContext[split]) (_ *coordinator, err error) {
	cl, err := opts.Client.newClient()
	if err != nil {
		return nil, fmt.Errorf("kafka: source: %w", err)
	}
	c := &coordinator{opts: opts, ctx: ctx, cl: cl, adm: kadm.NewClient(cl), known: map[tp]bool{}, snaps: map[int][]snapOffsets{}}
	defer func() {
		if err != nil {
			cl.Close()
		}
	}()
	if err := opts.Client.reachable(ctx.Context(), c.adm); err != nil {
		return nil, fmt.Errorf("kafka: source: %w", err)
	}
	restored := ctx.Restored
	var splits []split
	for _, p := range ctx.RestoredPositions {
		if len(p.Data) == 0 {
			continue
		}
		restored = true
		ss, err := decodePositions(p.Data)
		if err != nil {
			return nil, fmt.Errorf("kafka: source: restored position of subtask %d: %w", p.Subtask, err)
		}
		for _, s := range ss {
			if !c.known[s.tp()] {
				c.known[s.tp()] = true
				splits = append(splits, s)
			}
		}
	}
	listed, err := c.list()
	if err != nil {
		return nil, err
	}
	mode := opts.Start
	if restored {
		mode = StartEarliest // partitions the checkpoint does not know appeared after it
	}
	fresh, err := c.resolve(listed, mode)
	if err != nil {
		return nil, err
	}
	if err := c.assign(append(splits, fresh...)); err != nil {
		return nil, err
	}
	if opts.Bounded {
		for s := range ctx.Parallelism {
			if err := ctx.NoMoreSplits(s); err != nil {
				return nil, err
			}
		}
	} else if opts.DiscoveryInterval > 0 {
		ctx.Every(opts.DiscoveryInterval, c.discover)
	}
	return c, nil
}

// list returns the partitions of the source's topics the coordinator does
// not know yet.
func (c *coordinator) list() ([]tp, error) {
	ctx, cancel := context.WithTimeout(c.ctx.Context(), c.opts.Client.MetadataTimeout)
	defer cancel()
	var topics []string
	if c.opts.TopicPattern == "" {
		topics = c.opts.Topics
	}
	parts, err := topicPartitions(ctx, c.adm, topics)
	if err != nil {
		return nil, fmt.Errorf("kafka: source: %w", err)
	}
	re := c.opts.pattern()
	var out []tp
	for t, ps := range parts {
		if re != nil && !re.MatchString(t) {
			continue
		}
		for _, p := range ps {
			if k := (tp{t, p}); !c.known[k] {
				out = append(out, k)
			}
		}
	}
	slices.SortFunc(out, compareTP)
	return out, nil
}

func topicsOf(ps []tp) []string {
	var ts []string
	for _, p := range ps {
		if !slices.Contains(ts, p.Topic) {
			ts = append(ts, p.Topic)
		}
	}
	return ts
}

// resolve turns a start mode into a concrete offset (and, bounded, a stop
// offset) for each partition.
func (c *coordinator) resolve(ps []tp, mode string) ([]split, error) {
	if len(ps) == 0 {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(c.ctx.Context(), c.opts.Client.MetadataTimeout)
	defer cancel()
	topics := topicsOf(ps)
	earliest, err := c.adm.ListStartOffsets(ctx, topics...)
	if err == nil {
		err = earliest.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("kafka: source: list earliest offsets: %w", err)
	}
	var start kadm.ListedOffsets
	var group kadm.OffsetResponses
	switch mode {
	case StartLatest:
		start, err = c.adm.ListEndOffsets(ctx, topics...)
	case StartTimestamp:
		start, err = c.adm.ListOffsetsAfterMilli(ctx, c.opts.StartTimestamp.UnixMilli(), topics...)
	case StartGroupOffsets:
		group, err = c.adm.FetchOffsetsForTopics(ctx, c.opts.GroupID, topics...)
		if err == nil {
			err = group.Error()
		}
	}
	if err == nil && start != nil {
		err = start.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("kafka: source: start offsets (%s): %w", mode, err)
	}
	var stop kadm.ListedOffsets
	if c.opts.Bounded {
		if c.opts.ReadUncommitted {
			stop, err = c.adm.ListEndOffsets(ctx, topics...)
		} else {
			stop, err = c.adm.ListCommittedOffsets(ctx, topics...)
		}
		if err == nil {
			err = stop.Error()
		}
		if err != nil {
			return nil, fmt.Errorf("kafka: source: end offsets: %w", err)
		}
	}
	out := make([]split, 0, len(ps))
	for _, p := range ps {
		e, ok := earliest.Lookup(p.Topic, p.Partition)
		if !ok {
			return nil, fmt.Errorf("kafka: source: no earliest offset for %s", p)
		}
		s := split{Topic: p.Topic, Partition: p.Partition, Next: e.Offset, Stop: -1}
		switch mode {
		case StartLatest, StartTimestamp:
			if l, ok := start.Lookup(p.Topic, p.Partition); ok && l.Offset >= 0 {
				s.Next = l.Offset
			}
		case StartGroupOffsets:
			if g, ok := group.Lookup(p.Topic, p.Partition); ok && g.Err == nil && g.At >= 0 {
				s.Next = g.At
			}
		case StartSpecificOffsets:
			if o, ok := c.opts.SpecificOffsets[p.Topic][p.Partition]; ok {
				s.Next = o
			}
		}
		if stop != nil {
			l, ok := stop.Lookup(p.Topic, p.Partition)
			if !ok {
				return nil, fmt.Errorf("kafka: source: no end offset for %s", p)
			}
			s.Stop = l.Offset
		}
		out = append(out, s)
	}
	return out, nil
}

// owner is the subtask that reads p, as Flink's KafkaSourceEnumerator
// spreads partitions: a topic's partitions go round the subtasks from a
// start its name hashes to.
func (c *coordinator) owner(p tp) int {
	h := fnv.New32a()
	h.Write([]byte(p.Topic))
	n := c.ctx.Parallelism
	return (int(h.Sum32()&0x7fffffff)%n + int(p.Partition)) % n
}

func (c *coordinator) assign(ss []split) error {
	slices.SortFunc(ss, func(a, b split) int { return compareTP(a.tp(), b.tp()) })
	by := map[int][]split{}
	for _, s := range ss {
		c.known[s.tp()] = true
		o := c.owner(s.tp())
		by[o] = append(by[o], s)
	}
	for s := range c.ctx.Parallelism {
		if len(by[s]) == 0 {
			continue
		}
		if err := c.ctx.Assign(s, by[s]...); err != nil {
			return err
		}
	}
	return nil
}

// discover assigns the partitions that appeared since the last look, from
// their earliest offsets.
func (c *coordinator) discover() error {
	ps, err := c.list()
	if err != nil {
		return err
	}
	ss, err := c.resolve(ps, StartEarliest)
	if err != nil {
		return err
	}
	return c.assign(ss)
}

// HandleReaderEvent implements engine.SplitCoordinator.
func (c *coordinator) HandleReaderEvent(ev engine.ReaderEvent) error {
	e, ok := ev.Event.(offsetsEvent)
	if !ok {
		return fmt.Errorf("kafka: source: unexpected reader event %T", ev.Event)
	}
	c.snaps[ev.Subtask] = append(c.snaps[ev.Subtask], snapOffsets{id: ev.Snapshot, offs: e.Offsets})
	return nil
}

// SnapshotState implements engine.SplitCoordinator. The coordinator keeps
// no state of its own: the readers' positions name every partition.
func (c *coordinator) SnapshotState(int64) ([]byte, error) { return nil, nil }

// NotifyCheckpointComplete implements engine.SplitCoordinator: commit the
// offsets the readers snapshotted in checkpoint id to the group.
func (c *coordinator) NotifyCheckpointComplete(id int64) error {
	offs := kadm.Offsets{}
	for sub, list := range c.snaps {
		n := 0
		for n < len(list) && list[n].id <= id {
			n++
		}
		if n == 0 {
			continue
		}
		for k, o := range list[n-1].offs {
			offs.Add(kadm.Offset{Topic: k.Topic, Partition: k.Partition, At: o, LeaderEpoch: -1})
		}
		c.snaps[sub] = list[n:]
	}
	if len(offs) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(c.ctx.Context(), c.opts.Client.MetadataTimeout)
	defer cancel()
	res, err := c.adm.CommitOffsets(ctx, c.opts.GroupID, offs)
	if err == nil {
		err = res.Error()
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("kafka: source: commit offsets of checkpoint %d to group %q: %w", id, c.opts.GroupID, err)
	}
	return nil
}

// Close implements engine.SplitCoordinator.
func (c *coordinator) Close() error {
	c.cl.Close()
	return nil
}

var _ engine.SplitCoordinator = (*coordinator)(nil)
