package operators

import (
	"encoding/binary"
	"fmt"

	"github.com/sluicehq/sluice/engine"
)

// Counter names the operators of this package keep (engine.OperatorMetrics
// .Counters).
const (
	// CounterLate counts records that arrived after their windows (plus
	// the allowed lateness) had closed, or, in joins, behind the
	// watermark. They go to the late-data side output.
	CounterLate = "late_records"
	// CounterErrors counts records without a usable timestamp (missing, or
	// too close to the int64 limits for window arithmetic) or with a
	// non-positive session gap. They go to the error side output.
	CounterErrors = "error_records"
)

// LateDataTag is the side output of records that arrived too late for any
// window (beyond the allowed lateness). Route it to a sink with
// engine.SideOutput(result, operators.LateDataTag[T]()); unconsumed, the
// records are counted (CounterLate and the side output's count) and
// dropped. SideOutputLateData picks another tag.
func LateDataTag[T any]() engine.OutputTag[T] { return engine.NewOutputTag[T]("late-data") }

// ErrorTag is the side output of records that an event-time operator
// cannot place: their timestamp is engine.NoTimestamp (missing, or not
// parseable by the source's timestamp function) or so close to the int64
// limits that window arithmetic would overflow, or their dynamic session
// gap is not positive. They are counted in CounterErrors.
func ErrorTag[T any]() engine.OutputTag[T] { return engine.NewOutputTag[T]("errors") }

// watermarkState keeps an operator's watermark in operator state, so that
// a restored operator judges lateness as the one that took the checkpoint
// did, instead of taking every record for on time until the first
// watermark after the restore arrives.
//
// Format, version 1: one byte 1, then the watermark (8 bytes, big-endian).
// Each subtask writes maxParallelism copies: at another parallelism the
// engine deals entries round robin, and so every new subtask gets at least
// one entry of each old one, and takes the smallest.
type watermarkState struct {
	restored int64
	current  func() int64
	copies   int
}

const watermarkStateVersion = 1

// InitializeState implements engine.OperatorStateHook.
func (s *watermarkState) InitializeState(restored [][]byte) error {
	s.restored = engine.MinTime
	for i, e := range restored {
		if len(e) != 9 || e[0] != watermarkStateVersion {
			return fmt.Errorf("operators: restored watermark entry %d: %d bytes, version %d", i, len(e), firstByte(e))
		}
		wm := int64(binary.BigEndian.Uint64(e[1:]))
		if i == 0 || wm < s.restored {
			s.restored = wm
		}
	}
	return nil
}

func firstByte(b []byte) int {
	if len(b) == 0 {
		return -1
	}
	return int(b[0])
}

// SnapshotState implements engine.OperatorStateHook.
func (s *watermarkState) SnapshotState(int64) ([][]byte, error) {
	e := binary.BigEndian.AppendUint64([]byte{watermarkStateVersion}, uint64(s.effective()))
	out := make([][]byte, max(1, s.copies))
	for i := range out {
		out[i] = e
	}
	return out, nil
}

// open records where the current watermark comes from.
func (s *watermarkState) open(maxPar int, current func() int64) {
	s.copies, s.current = maxPar, current
}

func newWatermarkState() watermarkState { return watermarkState{restored: engine.MinTime} }

// effective returns the watermark to judge lateness by: the operator's,
// or the restored one while the operator has not caught up with it.
func (s *watermarkState) effective() int64 { return max(s.current(), s.restored) }

// addSat returns a+b, saturated at engine.MaxTime.
func addSat(a, b int64) int64 {
	if b > 0 && a > engine.MaxTime-b {
		return engine.MaxTime
	}
	return a + b
}

// windowOutputs is what every window operator emits through: the window
// function's context, and the late-data and error side outputs with their
// counters.
type windowOutputs[T, Out any] struct {
	wctx    WindowContext[Out]
	late    *engine.Counter
	errs    *engine.Counter
	lateOut *engine.Collector[T]
	errOut  *engine.Collector[T]
}

func (w *windowOutputs[T, Out]) open(ctx *engine.OperatorContext[Out], spec *assignSpec, lateTag, errTag engine.OutputTag[T]) {
	w.wctx.op, w.wctx.spec = ctx, spec
	w.late, w.errs = ctx.Counter(CounterLate), ctx.Counter(CounterErrors)
	w.lateOut = engine.SideCollector(ctx, lateTag)
	w.errOut = engine.SideCollector(ctx, errTag)
}
