package statebench

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice/connectors/datagen"
	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/state"
)

// KeyEvent is the record of the state workloads: a key and a payload.
type KeyEvent struct {
	Key uint64
	Val int64
}

// GenKeys returns a generator of events over keys distinct keys in a
// pseudo-random order; with keys <= 0, record i has key i (every key once).
func GenKeys(keys int64) func(int64) KeyEvent {
	return func(i int64) KeyEvent {
		x := splitmix(uint64(i))
		k := uint64(i)
		if keys > 0 {
			k = x % uint64(keys)
		}
		return KeyEvent{Key: k, Val: int64(x >> 48)}
	}
}

// counter counts records per key in a ValueState[int64].
type counter struct {
	n    *state.ValueState[int64]
	fail func() error
}

func (c *counter) Open(rc *engine.RuntimeContext) error {
	var err error
	c.n, err = engine.GetValueState[int64](rc, "count")
	return err
}

func (c *counter) ProcessElement(e KeyEvent, ctx *engine.KeyedContext[uint64, int64]) error {
	if c.fail != nil {
		if err := c.fail(); err != nil {
			return err
		}
	}
	n, _, err := c.n.Value()
	if err != nil {
		return err
	}
	return c.n.Update(n + 1)
}

// KeyedCountResult is what a KeyedCount run measured.
type KeyedCountResult struct {
	Checkpoints  int
	MaxSyncPause time.Duration
	Recovery     time.Duration
	Restarts     int
}

// KeyedCount runs datagen(n records over keys keys) → keyBy → count per key
// in keyed state, with the given config (checkpoints, parallelism, state
// backend). failAfter > 0 fails the counter once, after that many records
// and after a checkpoint has completed, so the run measures recovery.
func KeyedCount(ctx context.Context, n, keys int64, cfg engine.Config, failAfter int64) (KeyedCountResult, error) {
	j := engine.NewJob("keyed-count", cfg)
	src := engine.SourceOf(j, "datagen", datagen.Source(datagen.Options{Count: n}, GenKeys(keys)), engine.NoWatermarks[KeyEvent]())
	ks := engine.KeyBy(src, func(e KeyEvent) uint64 { return e.Key })
	var seen atomic.Int64
	var failed atomic.Bool
	// The tasks may process records before Start returns the Running
	// they ask about, so it is published atomically.
	var running atomic.Pointer[engine.Running]
	c := &counter{}
	if failAfter > 0 {
		c.fail = func() error {
			if seen.Add(1) >= failAfter && !failed.Load() {
				r := running.Load()
				if r == nil {
					return nil
				}
				if id, _ := r.LatestCheckpoint(); id > 0 && failed.CompareAndSwap(false, true) {
					return errors.New("injected failure")
				}
			}
			return nil
		}
	}
	engine.KeyedProcess(ks, "count", engine.KeyedProcessFunction[uint64, KeyEvent, int64](c))
	r, err := j.Start(ctx)
	if err != nil {
		return KeyedCountResult{}, err
	}
	running.Store(r)
	err = r.Wait()
	res := KeyedCountResult{Restarts: r.Attempt(), Recovery: r.LastRecovery()}
	for _, e := range r.Events() {
		if e.Kind == engine.EventCheckpointCompleted {
			res.Checkpoints++
		}
	}
	res.MaxSyncPause = r.LastCheckpointStats().MaxSyncPause
	if failAfter > 0 && !failed.Load() && err == nil {
		err = fmt.Errorf("keyed count: the injected failure never happened (no checkpoint before %d records)", failAfter)
	}
	return res, err
}

// FillAndCheckpoint builds keyed state of keys keys with values of
// valueSize bytes, then takes a checkpoint and returns its stats. With
// fixed, values are fixed-size arrays (valueSize is rounded to 100 bytes),
// which checkpoints capture by copy-on-write; otherwise byte slices, which
// the checkpoint's pause encodes.
func FillAndCheckpoint(ctx context.Context, keys int64, valueSize int, fixed bool, cfg engine.Config) (engine.CheckpointStats, error) {
	j := engine.NewJob("fill", cfg)
	src := engine.SourceOf(j, "datagen", datagen.Source(datagen.Options{Count: keys}, GenKeys(0)), engine.NoWatermarks[KeyEvent]())
	ks := engine.KeyBy(src, func(e KeyEvent) uint64 { return e.Key })
	if fixed {
		engine.KeyedProcess(ks, "fill", engine.KeyedProcessFunction[uint64, KeyEvent, int64](&fixedFiller{}))
	} else {
		engine.KeyedProcess(ks, "fill", engine.KeyedProcessFunction[uint64, KeyEvent, int64](&filler{size: valueSize}))
	}
	r, err := j.Start(ctx)
	if err != nil {
		return engine.CheckpointStats{}, err
	}
	// The job ends with its final checkpoint, taken when all input has been
	// processed: the state is complete then.
	if err := r.Wait(); err != nil {
		return engine.CheckpointStats{}, err
	}
	return r.LastCheckpointStats(), nil
}

type filler struct {
	size int
	v    *state.ValueState[[]byte]
	buf  []byte
}

func (f *filler) Open(rc *engine.RuntimeContext) error {
	var err error
	f.v, err = engine.GetValueState[[]byte](rc, "blob")
	f.buf = make([]byte, f.size)
	return err
}

func (f *filler) ProcessElement(e KeyEvent, ctx *engine.KeyedContext[uint64, int64]) error {
	b := make([]byte, f.size)
	copy(b, f.buf)
	b[0] = byte(e.Val)
	return f.v.Update(b)
}

// Blob100 is a fixed-size 100-byte value.
type Blob100 [100]byte

var blobCodec = state.FuncCodec[Blob100]{
	AppendFunc: func(dst []byte, v Blob100) []byte { return append(dst, v[:]...) },
	DecodeFunc: func(src []byte) (Blob100, error) {
		var v Blob100
		if len(src) != len(v) {
			return v, fmt.Errorf("blob of %d bytes, want %d", len(src), len(v))
		}
		copy(v[:], src)
		return v, nil
	},
}

type fixedFiller struct{ v *state.ValueState[Blob100] }

func (f *fixedFiller) Open(rc *engine.RuntimeContext) error {
	b, err := rc.KeyedState()
	if err != nil {
		return err
	}
	f.v, err = state.NewValueState(b, "blob", state.Codec[Blob100](blobCodec))
	return err
}

func (f *fixedFiller) ProcessElement(e KeyEvent, ctx *engine.KeyedContext[uint64, int64]) error {
	var b Blob100
	b[0] = byte(e.Val)
	return f.v.Update(b)
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}
