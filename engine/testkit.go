package engine

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"sync"

	"github.com/sluicehq/sluice/internal/clock"
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

// FromPartitions is a bounded source of partitions, like the partitions of
// a log: subtask s of p reads the partitions j with j % p == s, each in
// order, one split each (with its own watermark). Its positions are
// checkpointed per partition, so a job restores from them at any
// parallelism.
func FromPartitions[T any](j *Job, name string, partitions [][]T, ws WatermarkStrategy[T]) *Stream[T] {
	return SourceOf[T](j, name, &partitionSource[T]{parts: partitions}, ws)
}

type partitionSource[T any] struct{ parts [][]T }

func (s *partitionSource[T]) Open(_ context.Context, info SourceInfo) (SourceReader[T], error) {
	r := &partitionReader[T]{s: s, offsets: map[int]int{}}
	for j := range s.parts {
		if j%info.Parallelism == info.Subtask {
			r.mine = append(r.mine, j)
			r.offsets[j] = 0
		}
	}
	for _, pos := range info.Restored {
		offs, err := decodeOffsets(pos.Data)
		if err != nil {
			return nil, err
		}
		for j, off := range offs {
			if _, ok := r.offsets[j]; ok {
				r.offsets[j] = off
			}
		}
	}
	return r, nil
}

type partitionReader[T any] struct {
	s       *partitionSource[T]
	mine    []int
	offsets map[int]int
	next    int // round robin over mine
}

func (r *partitionReader[T]) Read(_ context.Context, out *SourceOutput[T]) error {
	done := 0
	for k := 0; k < len(r.mine) && out.Room() > 0; k++ {
		j := r.mine[(r.next+k)%len(r.mine)]
		part, off := r.s.parts[j], r.offsets[j]
		if off == len(part) {
			continue
		}
		split := out.Split(strconv.Itoa(j))
		n := min(len(part)-off, max(1, out.Room()/len(r.mine)), out.Room())
		for i := 0; i < n; i++ {
			split.Collect(part[off+i])
		}
		r.offsets[j] = off + n
		if r.offsets[j] == len(part) {
			out.ReleaseSplit(strconv.Itoa(j))
		}
	}
	r.next++
	for _, j := range r.mine {
		if r.offsets[j] == len(r.s.parts[j]) {
			done++
		}
	}
	if done == len(r.mine) {
		return io.EOF
	}
	return nil
}

// SnapshotPosition implements CheckpointedReader: partition -> offset.
func (r *partitionReader[T]) SnapshotPosition() ([]byte, error) {
	var b []byte
	for _, j := range r.mine {
		b = binary.AppendUvarint(b, uint64(j))
		b = binary.AppendUvarint(b, uint64(r.offsets[j]))
	}
	return b, nil
}

func decodeOffsets(b []byte) (map[int]int, error) {
	m := map[int]int{}
	for len(b) > 0 {
		j, n1 := binary.Uvarint(b)
		if n1 <= 0 {
			return nil, errors.New("engine: corrupt partition position")
		}
		off, n2 := binary.Uvarint(b[n1:])
		if n2 <= 0 {
			return nil, errors.New("engine: corrupt partition position")
		}
		m[int(j)] = int(off)
		b = b[n1+n2:]
	}
	return m, nil
}

func (r *partitionReader[T]) Close() error { return nil }

// TxCollect is a transactional collecting sink for tests of exactly-once
// output: each writer stages its records per checkpoint; staged records
// become visible in Committed only when the engine commits them, and a
// commit repeated after a restore is a no-op. Staged records that are never
// committed (written after the last checkpoint before a failure) are
// discarded. It is safe for concurrent use.
type TxCollect[T any] struct {
	mu        sync.Mutex
	staged    map[string][]Record[T]
	committed map[string]bool
	out       []Record[T]
}

// NewTxCollect returns an empty transactional collecting sink. Jobs that
// share one (a job and its restarted successor) commit into the same
// output, as they would into the same external system.
func NewTxCollect[T any]() *TxCollect[T] {
	return &TxCollect[T]{staged: map[string][]Record[T]{}, committed: map[string]bool{}}
}

// CollectExactlyOnce adds a new TxCollect sink to s.
func CollectExactlyOnce[T any](s *Stream[T], name string) *TxCollect[T] {
	c := NewTxCollect[T]()
	SinkTo[T](s, name, c)
	return c
}

// Open implements Sink.
func (c *TxCollect[T]) Open(_ context.Context, info SinkInfo) (SinkWriter[T], error) {
	return &txWriter[T]{c: c, info: info}, nil
}

// Committed returns the committed records.
func (c *TxCollect[T]) Committed() []Record[T] {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.out)
}

// CommittedValues returns the committed values.
func (c *TxCollect[T]) CommittedValues() []T {
	rs := c.Committed()
	vs := make([]T, len(rs))
	for i, r := range rs {
		vs[i] = r.Value
	}
	return vs
}

type txWriter[T any] struct {
	c    *TxCollect[T]
	info SinkInfo
	buf  []Record[T]
}

func (w *txWriter[T]) Write(b []Record[T]) error {
	w.buf = append(w.buf, b...)
	return nil
}

func (w *txWriter[T]) Prepare(id int64) ([]byte, error) {
	if len(w.buf) == 0 {
		return nil, nil
	}
	txn := fmt.Sprintf("%s/%d/a%d/c%d", w.info.UID, w.info.Subtask, w.info.Attempt, id)
	w.c.mu.Lock()
	w.c.staged[txn] = w.buf
	w.c.mu.Unlock()
	w.buf = nil
	return []byte(txn), nil
}

func (w *txWriter[T]) Commit(cs [][]byte) error {
	w.c.mu.Lock()
	defer w.c.mu.Unlock()
	for _, c := range cs {
		txn := string(c)
		if w.c.committed[txn] {
			continue
		}
		recs, ok := w.c.staged[txn]
		if !ok {
			return fmt.Errorf("engine: TxCollect: commit of unknown transaction %s", txn)
		}
		w.c.out = append(w.c.out, recs...)
		w.c.committed[txn] = true
		delete(w.c.staged, txn)
	}
	return nil
}

func (w *txWriter[T]) Close() error { return nil }
