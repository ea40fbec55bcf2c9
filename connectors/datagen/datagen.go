// Package datagen is a parallel generator source: record i of a run is
// gen(i), computed on the fly, so generation is deterministic, costs no
// memory, and is never the bottleneck of a benchmark.
//
// Subtask s of p emits indexes s, s+p, s+2p, ... Records may be rate-limited
// (by the job's clock, so tests drive time) or emitted flat out, and the
// source may be bounded (Count) or unbounded. Its position is checkpointed:
// a restored job continues from the index after the last one emitted before
// the checkpoint, at any parallelism — the indexes each old subtask had yet
// to emit are handed out to the new subtasks, so every index is emitted
// exactly once.
package datagen

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"time"

	"github.com/sluicehq/sluice/engine"
)

// Options configure a generator.
type Options struct {
	// Count is the number of records across all subtasks; 0 means
	// unbounded.
	Count int64
	// RatePerSecond limits the total rate across all subtasks; 0 means as
	// fast as possible.
	RatePerSecond float64
}

// Validate reports whether the options are usable.
func (o Options) Validate() error {
	if o.Count < 0 {
		return fmt.Errorf("datagen: Count %d must not be negative", o.Count)
	}
	if o.RatePerSecond < 0 {
		return fmt.Errorf("datagen: RatePerSecond %g must not be negative", o.RatePerSecond)
	}
	return nil
}

// Source returns a source whose record i is gen(i). gen must be safe to call
// from several goroutines at once (one per subtask).
func Source[T any](opts Options, gen func(i int64) T) engine.Source[T] {
	return &source[T]{opts: opts, gen: gen}
}

type source[T any] struct {
	opts Options
	gen  func(int64) T
}

func (s *source[T]) Open(_ context.Context, info engine.SourceInfo) (engine.SourceReader[T], error) {
	if err := s.opts.Validate(); err != nil {
		return nil, err
	}
	if s.gen == nil {
		return nil, errors.New("datagen: nil generator function")
	}
	r := &reader[T]{s: s, info: info}
	if info.Restored == nil {
		r.progs = []progression{{next: int64(info.Subtask), step: int64(info.Parallelism)}}
	} else {
		progs, err := restoredProgressions(info)
		if err != nil {
			return nil, err
		}
		r.progs = progs
	}
	if s.opts.RatePerSecond > 0 {
		r.perSub = s.opts.RatePerSecond / float64(info.Parallelism)
		r.start = info.Clock.Now()
	}
	return r, nil
}

// A progression is the indexes next, next+step, next+2*step, ... that a
// reader has yet to emit (below Count, if bounded). A fresh subtask s of p
// has one, {s, p}; after a restore at another parallelism a subtask may
// have several, or a part of an old one.
type progression struct{ next, step int64 }

// restoredProgressions hands the old subtasks' remaining progressions out
// to the new ones: all of them, each to exactly one new subtask, so that
// every index is emitted exactly once across the restore. When there are
// fewer progressions than new subtasks each is split by striding it finer.
func restoredProgressions(info engine.SourceInfo) ([]progression, error) {
	if pos, ok := info.RestoredFor(); ok {
		return decodePosition(pos, info.Subtask, info.Parallelism)
	}
	var all []progression
	for _, p := range info.Restored {
		ps, err := decodePosition(p.Data, p.Subtask, p.Parallelism)
		if err != nil {
			return nil, err
		}
		all = append(all, ps...)
	}
	slices.SortFunc(all, func(a, b progression) int { return cmp.Compare(a.next, b.next) })
	q := int64(info.Parallelism)
	if int64(len(all)) < q {
		split := make([]progression, 0, len(all)*int(q))
		for _, p := range all {
			for t := range q {
				split = append(split, progression{next: p.next + t*p.step, step: p.step * q})
			}
		}
		all = split
	}
	var mine []progression
	for k, p := range all {
		if int64(k)%q == int64(info.Subtask) {
			mine = append(mine, p)
		}
	}
	return mine, nil
}

// positionV2 begins a position that lists progressions. Format 1 was the
// 8-byte big-endian next index of a subtask's single progression, whose
// step was the parallelism; its first byte is never 0xff (a negative index).
const positionV2 = 0xff

func decodePosition(b []byte, subtask, parallelism int) ([]progression, error) {
	if len(b) == 8 && b[0] != positionV2 {
		return []progression{{next: int64(binary.BigEndian.Uint64(b)), step: int64(parallelism)}}, nil
	}
	if len(b) == 0 || b[0] != positionV2 {
		return nil, fmt.Errorf("datagen: restored position of subtask %d/%d is not a datagen position (%d bytes)", subtask, parallelism, len(b))
	}
	b = b[1:]
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)) {
		return nil, fmt.Errorf("datagen: corrupt restored position of subtask %d/%d", subtask, parallelism)
	}
	b = b[k:]
	ps := make([]progression, 0, n)
	for range n {
		next, k1 := binary.Uvarint(b)
		if k1 <= 0 {
			return nil, fmt.Errorf("datagen: corrupt restored position of subtask %d/%d", subtask, parallelism)
		}
		step, k2 := binary.Uvarint(b[k1:])
		if k2 <= 0 || step == 0 {
			return nil, fmt.Errorf("datagen: corrupt restored position of subtask %d/%d", subtask, parallelism)
		}
		b = b[k1+k2:]
		ps = append(ps, progression{next: int64(next), step: int64(step)})
	}
	return ps, nil
}

type reader[T any] struct {
	s     *source[T]
	info  engine.SourceInfo
	progs []progression // not yet exhausted, in no particular order
	// rate limiting: the subtask may have emitted perSub records per second
	// since start.
	perSub  float64
	start   time.Time
	emitted int64
}

// maxWait bounds how long Read sleeps waiting for the rate limit, so that
// the task stays responsive to timers and checkpoints.
const maxWait = 50 * time.Millisecond

// remaining returns how many indexes p has left below Count (math.MaxInt64
// if unbounded).
func (r *reader[T]) remaining(p progression) int64 {
	c := r.s.opts.Count
	if c == 0 {
		return math.MaxInt64
	}
	if p.next >= c {
		return 0
	}
	return (c - p.next + p.step - 1) / p.step
}

func (r *reader[T]) Read(ctx context.Context, out *engine.SourceOutput[T]) error {
	// Drop exhausted progressions; the current one is the first.
	r.progs = slices.DeleteFunc(r.progs, func(p progression) bool { return r.remaining(p) == 0 })
	if len(r.progs) == 0 {
		return io.EOF
	}
	p := &r.progs[0]
	n := min(int64(out.Room()), r.remaining(*p))
	if r.perSub > 0 {
		elapsed := r.info.Clock.Now().Sub(r.start)
		due := int64(elapsed.Seconds()*r.perSub) - r.emitted
		if due <= 0 {
			wait := time.Duration(float64(time.Second) * float64(1-due) / r.perSub)
			t := r.info.Clock.NewTimer(min(wait, maxWait))
			defer t.Stop()
			select {
			case <-t.C():
			case <-ctx.Done():
				return nil
			}
			return nil
		}
		n = min(n, due)
	}
	gen, i, step := r.s.gen, p.next, p.step
	r.emitted += n
	for n > 0 {
		buf := out.Reserve(int(n))
		for k := range buf {
			rec := &buf[k]
			rec.Value = gen(i)
			rec.Time = engine.NoTimestamp
			i += step
		}
		out.Commit(len(buf))
		n -= int64(len(buf))
	}
	p.next = i
	if r.remaining(*p) == 0 && len(r.progs) == 1 {
		r.progs = r.progs[:0]
		return io.EOF
	}
	return nil
}

// SnapshotPosition implements engine.CheckpointedReader. A subtask with its
// one fresh progression still writes format 1, which every version reads.
func (r *reader[T]) SnapshotPosition() ([]byte, error) {
	if len(r.progs) == 1 && r.progs[0].step == int64(r.info.Parallelism) && r.progs[0].next%r.progs[0].step == int64(r.info.Subtask) {
		return binary.BigEndian.AppendUint64(nil, uint64(r.progs[0].next)), nil
	}
	b := []byte{positionV2}
	b = binary.AppendUvarint(b, uint64(len(r.progs)))
	for _, p := range r.progs {
		b = binary.AppendUvarint(b, uint64(p.next))
		b = binary.AppendUvarint(b, uint64(p.step))
	}
	return b, nil
}

func (r *reader[T]) Close() error { return nil }
