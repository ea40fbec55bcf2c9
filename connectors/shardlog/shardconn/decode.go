package shardconn

import (
	"bytes"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice/connectors/shardlog"
	"github.com/sluicehq/sluice/engine"
)

// DecodeError is a record a decoding source could not decode, with its own
// copy of the record and the decoder's error.
type DecodeError struct {
	ShardID        string
	SequenceNumber shardlog.SequenceNumber
	// SubSequenceNumber names the user record of an aggregate (0 for a
	// record that is not aggregated).
	SubSequenceNumber uint64
	ArrivalTime       time.Time
	PartitionKey      string
	Data              []byte
	Err               error
}

// DecodeErrors is the side output of the records a decoding source could
// not decode (see SourceOfDecoded). Read it with
// engine.SideOutput(stream, shardconn.DecodeErrors); when no stream reads it,
// the failures are still counted (engine metrics: the side output's count
// and the operator counter DecodeErrorCounter; DecodingSource.Failures).
var DecodeErrors = engine.NewOutputTag[DecodeError]("shardlog-decode-errors")

// DecodeErrorCounter is the name of the decode operator's counter of
// records that failed to decode.
const DecodeErrorCounter = "decode-errors"

// decoded is what a decoding source's reader emits: a value, or the record
// that failed.
type decoded[T any] struct {
	v   T
	bad *DecodeError
}

// DecodingSource is a Source whose records are decoded into T by a user
// function; SourceOfDecoded adds it to a job.
type DecodingSource[T any] struct {
	src      *Source[decoded[T]]
	failures atomic.Int64
}

// NewDecodingSource returns a source of opts.Stream that decodes each
// record with decode. decode gets the record as it is in the reader's
// buffer (a user record of a KPL aggregate, unless KeepAggregates: its own
// key and data, the aggregate's sequence number): it must copy what it
// keeps of r.PartitionKey and r.Data, and must
// be safe to call from several goroutines at once (one per subtask). Nothing
// else is allocated per record. A record decode refuses goes to the
// DecodeErrors side output, or fails the job with
// SourceOptions.FailOnDecodeError.
func NewDecodingSource[T any](l *shardlog.Log, opts SourceOptions, decode func(r *shardlog.Record) (T, error)) (*DecodingSource[T], error) {
	if decode == nil {
		return nil, fmt.Errorf("shardconn: source: nil decode function")
	}
	ds := &DecodingSource[T]{}
	failFast := opts.FailOnDecodeError
	src, err := newSource(l, opts, func(sp *split, rec *shardlog.Record, u userInfo, _ *arena) (decoded[T], error) {
		v, err := decode(rec)
		if err == nil {
			return decoded[T]{v: v}, nil
		}
		ds.failures.Add(1)
		if failFast {
			if u.aggregated {
				return decoded[T]{}, fmt.Errorf("shardconn: source: decode user record %s/%d of %s: %w", rec.SequenceNumber, u.sub, sp.id, err)
			}
			return decoded[T]{}, fmt.Errorf("shardconn: source: decode record %s of %s: %w", rec.SequenceNumber, sp.id, err)
		}
		return decoded[T]{bad: &DecodeError{
			ShardID: sp.id, SequenceNumber: rec.SequenceNumber, SubSequenceNumber: u.sub, ArrivalTime: rec.ArrivalTime,
			PartitionKey: string(rec.PartitionKey), Data: bytes.Clone(rec.Data), Err: err,
		}}, nil
	})
	if err != nil {
		return nil, err
	}
	ds.src = src
	return ds, nil
}

// Failures returns how many records failed to decode, over every job run
// with this source.
func (s *DecodingSource[T]) Failures() int64 { return s.failures.Load() }

// Options returns the source's options, defaults filled in.
func (s *DecodingSource[T]) Options() SourceOptions { return s.src.opts }

// SourceOfDecoded adds src to j as a stream of T with watermark strategy ws
// (whose Timestamp function sees the decoded value and the arrival time).
// The source is followed by an operator named name+"/decode" that passes on
// the decoded values and sends the failures to its side output
// DecodeErrors, so read those with
//
//	errs := engine.SideOutput(stream, shardconn.DecodeErrors)
//
// on the stream returned. Failures carry no timestamp and never move the
// watermark.
func SourceOfDecoded[T any](j *engine.Job, name string, src *DecodingSource[T], ws engine.WatermarkStrategy[T]) *engine.Stream[T] {
	inner := engine.WatermarkStrategy[decoded[T]]{
		MaxOutOfOrderness: ws.MaxOutOfOrderness,
		IdleTimeout:       ws.IdleTimeout,
		Generator:         ws.Generator,
		None:              ws.None,
	}
	user := ws.Timestamp
	inner.Timestamp = func(d decoded[T], ts int64) int64 {
		if d.bad != nil {
			return engine.NoTimestamp
		}
		if user != nil {
			return user(d.v, ts)
		}
		return ts
	}
	var es engine.Source[decoded[T]]
	if src != nil {
		es = src.src
	}
	raw := engine.SourceOf(j, name, es, inner)
	return engine.Transform(raw, name+"/decode", func() engine.OneInputOperator[decoded[T], T] { return &decodeOp[T]{} })
}

// decodeOp splits decoded values from failures.
type decodeOp[T any] struct {
	out  *engine.Collector[T]
	errs *engine.Collector[DecodeError]
	ctr  *engine.Counter
}

func (o *decodeOp[T]) Open(ctx *engine.OperatorContext[T]) error {
	o.out = ctx.Output()
	o.errs = engine.SideCollector(ctx, DecodeErrors)
	o.ctr = ctx.Counter(DecodeErrorCounter)
	return nil
}

func (o *decodeOp[T]) ProcessBatch(b []engine.Record[decoded[T]]) error {
	out := o.out
	for i := range b {
		r := &b[i]
		if r.Value.bad != nil {
			o.errs.Collect(*r.Value.bad, r.Time)
			o.ctr.Inc()
			continue
		}
		out.Collect(r.Value.v, r.Time)
	}
	return nil
}

func (o *decodeOp[T]) Close() error { return nil }
