package engine

import (
	"context"
	"io"
	"slices"
	"sync"

	"github.com/sluicehq/sluice/engine/clock"
)

// FromSlice is a bounded source of values. Subtask i of p emits values i,
// i+p, i+2p, ... in order; ws assigns timestamps and watermarks.
func FromSlice[T any](j *Job, name string, values []T, ws WatermarkStrategy[T]) *Stream[T] {
	return SourceOf[T](j, name, &sliceSource[T]{values: values}, ws)
}

// FromRecords is a bounded source of records that keeps their timestamps
// and emits watermarks for up to outOfOrderness milliseconds of disorder.
func FromRecords[T any](j *Job, name string, records []Record[T], outOfOrderness int64) *Stream[Record[T]] {
	ws := WatermarkStrategy[Record[T]]{
		Timestamp: func(r Record[T], _ int64) int64 { return r.Time },
		Generator: func() WatermarkGenerator { return &boundedGenerator{delay: outOfOrderness, max: MinTime} },
	}
	return FromSlice(j, name, records, ws)
}

type sliceSource[T any] struct{ values []T }

func (s *sliceSource[T]) Open(_ context.Context, info SourceInfo) (SourceReader[T], error) {
	return &sliceReader[T]{values: s.values, next: info.Subtask, step: info.Parallelism}, nil
}

type sliceReader[T any] struct {
	values     []T
	next, step int
}

func (r *sliceReader[T]) Read(_ context.Context, out *SourceOutput[T]) error {
	for n := out.Room(); n > 0 && r.next < len(r.values); n-- {
		out.Collect(r.values[r.next])
		r.next += r.step
	}
	if r.next >= len(r.values) {
		return io.EOF
	}
	return nil
}

func (r *sliceReader[T]) Close() error { return nil }

// CollectSink gathers every record of a stream in memory, for tests. It is
// safe for concurrent use.
type CollectSink[T any] struct {
	mu      sync.Mutex
	records []Record[T]
}

// Collect adds a sink that gathers s's records.
func Collect[T any](s *Stream[T], name string) *CollectSink[T] {
	c := &CollectSink[T]{}
	SinkTo[T](s, name, c)
	return c
}

// Open implements Sink.
func (c *CollectSink[T]) Open(context.Context, SinkInfo) (SinkWriter[T], error) {
	return collectWriter[T]{c}, nil
}

type collectWriter[T any] struct{ c *CollectSink[T] }

func (w collectWriter[T]) Write(b []Record[T]) error {
	w.c.mu.Lock()
	w.c.records = append(w.c.records, b...)
	w.c.mu.Unlock()
	return nil
}

func (w collectWriter[T]) Close() error { return nil }

// Records returns a copy of the records gathered so far.
func (c *CollectSink[T]) Records() []Record[T] {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.records)
}

// Values returns the values gathered so far.
func (c *CollectSink[T]) Values() []T {
	c.mu.Lock()
	defer c.mu.Unlock()
	vs := make([]T, len(c.records))
	for i, r := range c.records {
		vs[i] = r.Value
	}
	return vs
}

// NewTestSourceOutput returns a SourceOutput that gathers records in memory,
// for testing a SourceReader without a job, and a function returning the
// values emitted so far. Records carry no watermark strategy.
func NewTestSourceOutput[T any](batchSize int) (*SourceOutput[T], func() []T) {
	var got []T
	sink := inputFunc[T](func(b []Record[T]) error {
		for _, r := range b {
			got = append(got, r.Value)
		}
		return nil
	})
	c := newCollector[T](batchSize, sink)
	out := newSourceOutput(c, WatermarkStrategy[T]{}, clock.Real)
	return out, func() []T {
		c.flush()
		return got
	}
}

// inputFunc adapts a function to Input.
type inputFunc[T any] func([]Record[T]) error

func (f inputFunc[T]) ProcessBatch(b []Record[T]) error { return f(b) }
