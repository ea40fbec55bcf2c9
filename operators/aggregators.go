package operators

import "github.com/sluicehq/sluice/state"

// Count counts records: an Aggregator for Aggregate.
func Count[T any]() state.Aggregator[T, int64, int64] { return countAgg[T]{} }

type countAgg[T any] struct{}

func (countAgg[T]) CreateAccumulator() int64             { return 0 }
func (countAgg[T]) Add(_ T, acc int64) int64             { return acc + 1 }
func (countAgg[T]) Result(acc int64) int64               { return acc }
func (countAgg[T]) Merge(a, b int64) int64               { return a + b }
func (countAgg[T]) AccumulatorCodec() state.Codec[int64] { return state.MustCodecFor[int64]() }

// Number is the constraint of Sum's values.
type Number interface {
	~int | ~int8 | ~int16 | ~int32 | ~int64 | ~uint | ~uint8 | ~uint16 | ~uint32 | ~uint64 | ~float32 | ~float64
}

// Sum adds up field(v) over records.
func Sum[T any, N Number](field func(v T) N) state.Aggregator[T, N, N] { return sumAgg[T, N]{field} }

type sumAgg[T any, N Number] struct{ field func(T) N }

func (sumAgg[T, N]) CreateAccumulator() N             { return 0 }
func (s sumAgg[T, N]) Add(v T, acc N) N               { return acc + s.field(v) }
func (sumAgg[T, N]) Result(acc N) N                   { return acc }
func (sumAgg[T, N]) Merge(a, b N) N                   { return a + b }
func (sumAgg[T, N]) AccumulatorCodec() state.Codec[N] { return state.MustCodecFor[N]() }
