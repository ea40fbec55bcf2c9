// Package datagen is a parallel generator source: record i of a run is
// gen(i), computed on the fly, so generation is deterministic, costs no
// memory, and is never the bottleneck of a benchmark.
//
// Subtask s of p emits indexes s, s+p, s+2p, ... Records may be rate-limited
// (by the job's clock, so tests drive time) or emitted flat out, and the
// source may be bounded (Count) or unbounded. Its position is checkpointed:
// a restored job continues from the index after the last one emitted before
// the checkpoint.
package datagen

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
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
	r := &reader[T]{s: s, next: int64(info.Subtask), step: int64(info.Parallelism), info: info}
	if info.Restored != nil {
		pos, ok := info.RestoredFor()
		if !ok {
			// Subtask s of p emits s, s+p, ...: positions taken at another
			// parallelism do not say which indexes the new subtasks have
			// emitted.
			return nil, fmt.Errorf("datagen: cannot restore at parallelism %d from positions taken at another parallelism", info.Parallelism)
		}
		if len(pos) != 8 {
			return nil, fmt.Errorf("datagen: restored position of %d bytes, want 8", len(pos))
		}
		r.next = int64(binary.BigEndian.Uint64(pos))
	}
	if s.opts.RatePerSecond > 0 {
		r.perSub = s.opts.RatePerSecond / float64(info.Parallelism)
		r.start = info.Clock.Now()
		r.startIdx = r.next
	}
	return r, nil
}

type reader[T any] struct {
	s          *source[T]
	info       engine.SourceInfo
	next, step int64
	// rate limiting: the subtask may have emitted perSub records per second
	// since start.
	perSub   float64
	start    time.Time
	startIdx int64
}

// maxWait bounds how long Read sleeps waiting for the rate limit, so that
// the task stays responsive to timers and checkpoints.
const maxWait = 50 * time.Millisecond

func (r *reader[T]) Read(ctx context.Context, out *engine.SourceOutput[T]) error {
	n := int64(out.Room())
	if c := r.s.opts.Count; c > 0 {
		if r.next >= c {
			return io.EOF
		}
		n = min(n, (c-r.next+r.step-1)/r.step)
	}
	if r.perSub > 0 {
		emitted := (r.next - r.startIdx) / r.step
		elapsed := r.info.Clock.Now().Sub(r.start)
		due := int64(elapsed.Seconds()*r.perSub) - emitted
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
	gen, i, step := r.s.gen, r.next, r.step
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
	r.next = i
	if c := r.s.opts.Count; c > 0 && r.next >= c {
		return io.EOF
	}
	return nil
}

// SnapshotPosition implements engine.CheckpointedReader.
func (r *reader[T]) SnapshotPosition() ([]byte, error) {
	return binary.BigEndian.AppendUint64(nil, uint64(r.next)), nil
}

func (r *reader[T]) Close() error { return nil }
