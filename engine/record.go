package engine

import "math"

// Record is one element of a stream with its event timestamp.
type Record[T any] struct {
	Value T
	// Time is the event time in milliseconds since the Unix epoch, or
	// NoTimestamp.
	Time int64
}

const (
	// MinTime is the smallest timestamp and the initial watermark.
	MinTime int64 = math.MinInt64
	// MaxTime is the largest timestamp; a watermark of MaxTime means the
	// input has ended and every event-time timer fires.
	MaxTime int64 = math.MaxInt64
	// NoTimestamp marks a record without an event time.
	NoTimestamp = MinTime
)
